"""mDNS adverts of sim nodes, found by a real zeroconf ServiceBrowser on 127.0.0.1."""

from __future__ import annotations

import socket
import threading

import pytest

from ruview_cli.config.nvs import NvsValue
from ruview_cli.sim.appimage import build_app_image
from ruview_cli.sim.faults import NodeFaults
from ruview_cli.sim.mdns import SERVICE_TCP, SERVICE_UDP, MdnsAdvertiser
from ruview_cli.sim.node import SimNode, build_node_flash

PSK = "abcdefabcdefabcdefabcdefabcdef00"


class Seen:
    """ServiceListener collecting names per service type, with a condition to wait on."""

    def __init__(self):
        self.names: dict[str, set[str]] = {SERVICE_TCP: set(), SERVICE_UDP: set()}
        self.updates: list[str] = []
        self.cond = threading.Condition()

    def add_service(self, zc, type_, name):
        with self.cond:
            self.names[type_].add(name)
            self.cond.notify_all()

    def update_service(self, zc, type_, name):
        with self.cond:
            self.updates.append(name)
            self.cond.notify_all()

    def remove_service(self, zc, type_, name):
        with self.cond:
            self.names[type_].discard(name)
            self.cond.notify_all()

    def wait(self, pred, timeout=15.0) -> bool:
        with self.cond:
            return self.cond.wait_for(pred, timeout)


def nvs(node_id: int, zone: str | None = None) -> dict:
    csi = {"node_id": NvsValue("u8", node_id), "edge_tier": NvsValue("u8", 1 + node_id % 2),
           "target_ip": NvsValue("str", "127.0.0.1"), "target_port": NvsValue("u16", 5005)}
    if zone:
        csi["zone_name"] = NvsValue("str", zone)
    return {"csi_cfg": csi, "security": {"ota_psk": NvsValue("str", PSK)}}


@pytest.fixture
def fleet(loopback):
    from zeroconf import ServiceBrowser, Zeroconf

    adv = MdnsAdvertiser("127.0.0.1")
    browser_zc = Zeroconf(interfaces=["127.0.0.1"])  # a separate responder/browser, like a client
    seen = Seen()
    browsers = [ServiceBrowser(browser_zc, t, seen) for t in (SERVICE_TCP, SERVICE_UDP)]
    nodes: list[SimNode] = []

    def add(i: int, flavor="ours", faults=None, zone=None, version="1.0.0") -> SimNode:
        mac = bytes([0x24, 0x6F, 0x28, 0x10, 0x20 + i, 0x30 + i])
        node = SimNode(i, loopback.addr(), build_node_flash(version, nvs(i, zone)), mac,
                       flavor=flavor, faults=faults or NodeFaults(), advertiser=adv,
                       selftest_delay_s=0.0, ota_reboot_delay_s=0.1)
        node.boot()
        nodes.append(node)
        return node

    yield add, seen, browser_zc
    for node in nodes:
        node.shutdown()
    for b in browsers:
        b.cancel()
    browser_zc.close()
    adv.close()


def test_browser_finds_every_node_with_txt(fleet):
    add, seen, zc = fleet
    # registered first, so a silent/0.6 advert would have arrived before the others
    silent = add(1, faults=NodeFaults(mdns_silent=True))
    old = add(2, flavor="ruview-0.6")
    nodes = [add(i, zone="kitchen" if i == 3 else None) for i in (3, 4, 5)]
    want = {f"ruview-{n.node_id}-{n.mac[-2:].hex()}.{SERVICE_TCP}" for n in nodes}
    assert seen.wait(lambda: want <= seen.names[SERVICE_TCP])
    want_udp = {name.replace(SERVICE_TCP, SERVICE_UDP) for name in want}
    assert seen.wait(lambda: want_udp <= seen.names[SERVICE_UDP])
    # the silent node and the 0.6.x node are not there (other processes' adverts may be)
    assert not any(f"-{silent.mac[-2:].hex()}." in n or f"-{old.mac[-2:].hex()}." in n
                   for n in seen.names[SERVICE_TCP])

    for node in nodes:
        name = f"ruview-{node.node_id}-{node.mac[-2:].hex()}.{SERVICE_TCP}"
        info = zc.get_service_info(SERVICE_TCP, name, timeout=5000)
        assert info is not None, name
        assert info.port == node.http_port == 8032
        assert socket.inet_ntoa(info.addresses[0]) == node.ip
        assert info.server == f"ruview-{node.mac[-3:].hex()}.local."
        txt = {k.decode(): v.decode() for k, v in info.properties.items()}
        assert txt["node_id"] == str(node.node_id)
        assert txt["mac"] == ":".join(f"{b:02x}" for b in node.mac)
        assert txt["chip"] == "esp32s3" and txt["version"] == "1.0.0"
        assert txt["edge_tier"] == str(node.edge_tier)
        assert txt["ota"] == "1" and txt["api"] == "1"
        assert txt.get("name") == ("kitchen" if node.index == 3 else None)


def test_txt_version_follows_an_ota_update(fleet):
    import requests

    add, seen, zc = fleet
    node = add(7)
    name = f"ruview-7-{node.mac[-2:].hex()}.{SERVICE_TCP}"
    assert seen.wait(lambda: name in seen.names[SERVICE_TCP])
    r = requests.post(f"http://{node.ip}:{node.http_port}/ota", data=build_app_image("2.0.0"),
                      headers={"Authorization": f"Bearer {PSK}"}, timeout=30)
    assert r.status_code == 200
    assert node.wait_for(lambda n: n.running and n.version == "2.0.0" and n.ota_state == "valid")

    # the re-announcement after the reboot changes the TXT record in the browser's cache
    assert seen.wait(lambda: name in seen.updates)
    info = zc.get_service_info(SERVICE_TCP, name, timeout=3000)
    assert info is not None and info.properties[b"version"] == b"2.0.0"
