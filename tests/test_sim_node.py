"""The emulated node's boot from its own flash and its /ota/status, over real HTTP."""

from __future__ import annotations

import hashlib
import itertools
import json

import pytest
import requests

from ruview_cli.config.nvs import NvsValue
from ruview_cli.errors import UsageError
from ruview_cli.sim.appimage import build_app_image
from ruview_cli.sim.faults import NodeFaults, parse_fault
from ruview_cli.sim.flash import FlashImage
from ruview_cli.sim.node import SimNode, build_node_flash
from ruview_cli.sim.partitions import LAYOUT_8MB, TABLE_OFFSET, build_table, by_name

PSK = "fedcba9876543210fedcba9876543210"
MAC = bytes([0x24, 0x6F, 0x28, 0x7A, 0xB1, 0xC2])
_ips = itertools.count(60)


def provisioned(node_id=4, edge_tier=1, psk=PSK, **extra) -> dict:
    csi = {"node_id": NvsValue("u8", node_id), "edge_tier": NvsValue("u8", edge_tier),
           "target_ip": NvsValue("str", "127.0.0.1"), "target_port": NvsValue("u16", 5005)}
    csi.update(extra)
    out = {"csi_cfg": csi}
    if psk:
        out["security"] = {"ota_psk": NvsValue("str", psk)}
    return out


@pytest.fixture
def boot(loopback):
    nodes: list[SimNode] = []

    def make(flash: FlashImage, flavor="ours", mac=MAC, **kw) -> SimNode:
        n = next(_ips)
        node = SimNode(n, loopback.addr(), flash, mac, flavor=flavor, **kw)
        node.boot()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.shutdown()


def get_status(node) -> dict:
    r = requests.get(f"http://{node.ip}:{node.http_port}/ota/status", timeout=10)
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    assert "Server" not in r.headers  # esp_http_server sends no Server header
    return r.json()


def test_status_of_our_firmware(boot):
    app = build_app_image("1.4.2")
    node = boot(build_node_flash(app=app, nvs=provisioned()))
    st = get_status(node)
    assert st == {
        "version": "1.4.2", "date": "Nov 26 2026", "time": "12:00:00",
        "running_partition": "ota_0", "next_partition": "ota_1", "max_size": 0x200000,
        "node_id": 4, "mac": "24:6f:28:7a:b1:c2", "chip": "esp32s3", "project_name": "ruview",
        "app_sha256": hashlib.sha256(app).hexdigest(), "ota_state": "valid", "rollback": None,
        "uptime_s": st["uptime_s"], "edge_tier": 1, "reset_reason": "poweron",
    }
    assert isinstance(st["uptime_s"], int) and st["uptime_s"] >= 0
    assert node.node_id == 4 and node.config.target_port == 5005


def test_status_of_ruview06(boot):
    node = boot(build_node_flash("0.6.3", nvs=provisioned()), flavor="ruview-0.6")
    st = get_status(node)
    assert set(st) == {"version", "date", "time", "running_partition", "next_partition",
                       "max_size"}
    assert st["version"] == "0.6.3" and st["max_size"] == 921600


def test_secrets_never_appear_in_status(boot):
    node = boot(build_node_flash(nvs=provisioned(password=NvsValue("str", "wifi-pass-123"),
                                                 ssid=NvsValue("str", "lab"))))
    text = json.dumps(get_status(node))
    assert PSK not in text and "wifi-pass-123" not in text
    assert PSK not in repr(node.config) and node.ota_psk == PSK


def test_out_of_range_nvs_value_keeps_default(boot):
    node = boot(build_node_flash(nvs=provisioned(edge_tier=7)))
    assert get_status(node)["edge_tier"] == 2
    assert any("edge_tier" in w for w in node.config_warnings)


def test_blank_flash_does_not_boot(boot):
    node = boot(FlashImage())
    assert node.state == "no_app" and "partition table" in node.boot_error
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{node.ip}:{node.http_port}/ota/status", timeout=5)


def test_empty_slots_do_not_boot(boot):
    flash = FlashImage()
    flash.write(TABLE_OFFSET, build_table(LAYOUT_8MB))
    node = boot(flash)
    assert node.state == "no_app" and "no bootable app" in node.boot_error


def test_bootloader_falls_back_to_the_slot_with_a_valid_image(boot):
    flash = FlashImage()
    flash.write(TABLE_OFFSET, build_table(LAYOUT_8MB))
    flash.write(by_name(LAYOUT_8MB, "ota_1").offset, build_app_image("1.1.0"))
    bad = bytearray(build_app_image("1.0.0"))
    bad[4000] ^= 0x55
    flash.write(by_name(LAYOUT_8MB, "ota_0").offset, bytes(bad))
    node = boot(flash)
    st = get_status(node)
    assert st["version"] == "1.1.0" and st["running_partition"] == "ota_1"


def test_reflash_over_serial_then_reset_boots_the_new_app(boot):
    flash = build_node_flash("1.0.0", nvs=provisioned())
    node = boot(flash)
    assert get_status(node)["version"] == "1.0.0"
    # what `esptool write-flash 0x20000 app.bin` + erase otadata + hard reset amount to
    node.enter_download_mode()
    assert node.state == "download"
    ota0 = by_name(LAYOUT_8MB, "ota_0")
    flash.erase(ota0.offset, ota0.size)
    flash.write(ota0.offset, build_app_image("1.9.0"))
    flash.erase(0xF000, 0x2000)
    flash.erase(0x9000, 0x6000)  # and a blank NVS: defaults, and OTA refused (no PSK)
    node.reboot("poweron")
    st = get_status(node)
    assert st["version"] == "1.9.0" and st["edge_tier"] == 2
    r = requests.post(f"http://{node.ip}:{node.http_port}/ota", data=b"\xe9" * 64,
                      headers={"Authorization": f"Bearer {PSK}"}, timeout=10)
    assert r.status_code == 403 and r.json()["code"] == "ota_disabled"


def test_ruview06_with_invalid_target_ip_starts_nothing(boot):
    node = boot(build_node_flash(nvs=provisioned(target_ip=NvsValue("str", "192.168.1"))),
                flavor="ruview-0.6")
    assert node.state == "halted"
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://{node.ip}:{node.http_port}/ota/status", timeout=5)


def test_unknown_uri_and_method(boot):
    node = boot(build_node_flash(nvs=provisioned()))
    base = f"http://{node.ip}:{node.http_port}"
    assert requests.get(base + "/nope", timeout=5).status_code == 404
    assert requests.get(base + "/ota", timeout=5).status_code == 405


def test_slow_reboot_fault_keeps_node_down_until_it_is_back(boot):
    node = boot(build_node_flash(nvs=provisioned()), faults=NodeFaults(slow_reboot_s=0.3))
    node.reboot("sw")
    assert node.running and get_status(node)["reset_reason"] == "sw"


def test_parse_fault():
    f = parse_fault("selftest-fail")
    assert f.selftest_fail and not f.crash_loop
    parse_fault("drop-after=4096", f)  # in place, as `ruview sim --fault` accumulates them
    assert f.selftest_fail and f.drop_after_bytes == 4096
    assert parse_fault("throttle=12.5").throttle_kbps == 12.5
    assert parse_fault("udp-loss=5").udp_loss == pytest.approx(0.05)
    assert parse_fault("serial-baud=115200").serial_baud == 115200
    assert parse_fault("slow-reboot=2").slow_reboot_s == 2.0
    assert parse_fault("mdns_silent").mdns_silent
    for bad in ("nope", "throttle", "udp-loss=150", "drop-after=x", "throttle=0",
                "crash-loop=maybe"):
        with pytest.raises(UsageError):
            parse_fault(bad)
