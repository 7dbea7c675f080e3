"""Emulated nodes of our flavour run the real firmware (firmware/main built for the host).

What the board around the firmware must do, seen from outside as a user would: the serial port
carries the firmware's own log after the ROM and bootloader lines; a crash or a hung task
reboots the node through the bootloader with the matching reset reason; an image that crashes
after an update is rolled back by the bootloader; what the firmware asks mDNS to publish is
what discovery sees; its telemetry arrives from the node's own address.
"""

from __future__ import annotations

import hashlib
import socket
import time

import pytest
import requests

from ota_upload import signed_upload
from ruview_cli.protocol import decode
from ruview_cli.sim.appimage import build_app_image
from ruview_cli.sim.fleet import FACTORY_VERSION, FleetOptions, SimFleet

PSK = "firmware-sim-key-0123456789"


@pytest.fixture
def fleet(loopback):
    fleets = []

    def make(nodes=1, **opts):
        opts.setdefault("mdns_interface", "127.0.0.1")
        opts.setdefault("pty", False)
        fl = SimFleet(FleetOptions(nodes=nodes, first_host=loopback.hosts(nodes), psk=PSK,
                                   **opts))
        fleets.append(fl)
        fl.start()
        return fl

    yield make
    for fl in fleets:
        fl.stop()


def status(node) -> dict:
    r = requests.get(f"http://{node.ip}:{node.http_port}/ota/status", timeout=10)
    assert r.status_code == 200, r.text
    return r.json()


def terminal(fleet, i=0) -> socket.socket:
    host, port = fleet.describe(i)["serial_url"][len("socket://"):].rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    time.sleep(0.2)  # the endpoint has taken the client before anything is printed
    return sock


def read_until(sock, needle: bytes, timeout: float = 20.0) -> bytes:
    sock.settimeout(0.5)
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen and time.monotonic() < deadline:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            continue
        if not chunk:
            break
        seen += chunk
    return seen


def rebooted(node, boots: int, timeout: float = 30.0) -> bool:
    return node.wait_for(lambda n: n.boot_count > boots and n.state == "running", timeout)


def test_status_is_the_firmwares_answer(fleet):
    fl = fleet(1)
    node = fl.nodes[0]
    st = status(node)
    image = build_app_image(FACTORY_VERSION)
    assert st["version"] == FACTORY_VERSION
    assert st["app_sha256"] == hashlib.sha256(image).hexdigest(), \
        "the firmware hashes the image it runs from the flash file"
    assert st["mac"] == node.mac.hex(":") and st["reset_reason"] == "poweron"
    assert st["running_partition"] == "ota_0" and st["ota_state"] == "valid"


def test_serial_port_carries_the_firmware_log(fleet):
    fl = fleet(1)
    with terminal(fl) as term:
        fl.nodes[0].reboot("sw")
        seen = read_until(term, b"ruview: started")
    assert b"rst:0xc (RTC_SW_CPU_RST)" in seen
    assert b"Loaded app from partition at offset 0x20000" in seen
    assert b"ruview: started" in seen, seen[-2000:]


def test_a_crash_reboots_with_reset_reason_panic(fleet):
    fl = fleet(1)
    node = fl.nodes[0]
    boots = node.boot_count
    node.abort_app()
    assert rebooted(node, boots)
    assert status(node)["reset_reason"] == "panic"


def test_a_hung_task_trips_the_task_watchdog(fleet):
    fl = fleet(1)
    node = fl.nodes[0]
    boots = node.boot_count
    node.hang_app()
    assert rebooted(node, boots, timeout=60)
    assert status(node)["reset_reason"] == "task_wdt"
    assert b"task_wdt" in node.console_tail or b"Task watchdog" in node.console_tail


def upload(node, image: bytes) -> requests.Response:
    return signed_upload(f"http://{node.ip}:{node.http_port}", image, PSK, timeout=60)


@pytest.mark.parametrize("fault", ["crash_loop", "none"])
def test_an_update_that_crashes_is_rolled_back_by_the_bootloader(fleet, fault):
    """crash-loop: the new image panics at boot while pending verification; the bootloader
    marks it aborted and boots the previous slot, whose firmware reports the rollback.
    Without the fault the same update boots, passes the firmware's self-test and stays."""
    fl = fleet(1)
    node = fl.nodes[0]
    node.faults.crash_loop = fault == "crash_loop"
    boots = node.boot_count
    r = upload(node, build_app_image("0.7.9"))
    assert r.status_code == 200, r.text
    if fault == "none":
        assert node.wait_for(lambda n: n.running and n.version == "0.7.9", 30)
        assert node.wait_for(lambda n: n.ota_state == "valid", 30), "the self-test confirmed it"
        st = status(node)
        assert st["version"] == "0.7.9" and st["ota_state"] == "valid" and st["rollback"] is None
        return
    assert node.wait_for(lambda n: n.boot_count >= boots + 2 and n.running
                         and n.version == FACTORY_VERSION, 30)
    st = status(node)
    assert st["version"] == FACTORY_VERSION and st["reset_reason"] == "panic"
    assert st["rollback"] == "0.7.9"
    assert node.otadata_states()[1].endswith(":aborted")
    assert b"Guru Meditation Error" in node.console_tail


def test_without_a_rollback_bootloader_a_crashing_update_loops(fleet):
    """A node whose bootloader lacks rollback (moved from RuView 0.6.x by OTA): the firmware
    says so, and an update that crashes at boot crash-loops instead of going back."""
    fl = fleet(1)
    node = fl.nodes[0]
    node.install_bootloader(rollback=False)
    node.reboot("poweron")
    assert status(node)["rollback_capable"] is False
    node.faults.crash_loop = True
    assert upload(node, build_app_image("0.7.9")).status_code == 200
    assert node.wait_for(lambda n: n.crash_count >= 3, 30), "it keeps crashing"
    assert node.version == "0.7.9", "and never goes back to the previous slot"
    node.faults.crash_loop = False   # a good build of the same version is flashed, say
    assert node.wait_for(lambda n: n.running and n.version == "0.7.9", 30)
    assert status(node)["ota_state"] == "valid" and status(node)["rollback_capable"] is False


def test_mdns_and_telemetry_come_from_the_firmware(fleet):
    from zeroconf import Zeroconf

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.5)
    try:
        fl = fleet(1, target=("127.0.0.1", rx.getsockname()[1]))
        node = fl.nodes[0]
        name = fl.describe(0)["mdns_name"]
        assert name and name.endswith("._ruview._tcp.local.")
        zc = Zeroconf(interfaces=["127.0.0.1"])
        try:
            info = zc.get_service_info("_ruview._tcp.local.", name, timeout=5000)
        finally:
            zc.close()
        assert info is not None
        txt = {k.decode(): v.decode() for k, v in info.properties.items()}
        assert txt["version"] == FACTORY_VERSION and txt["mac"] == node.mac.hex(":")
        assert info.port == node.http_port

        kinds = set()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not {"csi_raw", "vitals"} <= kinds:
            try:
                data, addr = rx.recvfrom(65535)
            except socket.timeout:
                continue
            assert addr[0] == node.ip, "telemetry leaves from the node's own address"
            kinds.add(decode(data).kind)
        assert {"csi_raw", "vitals"} <= kinds, kinds
    finally:
        rx.close()
