"""`ruview doctor`: each check's outcome matches the machine's facts, broken things exit 1 with a
fix. The UDP check is pointed at loopback addresses: nothing is sent outside 127.0.0.0/8."""

from __future__ import annotations

import errno
import glob
import json
import os
import socket
import subprocess
from importlib.metadata import version

import pytest

from ruview_cli.discovery.doctor import FAIL, MDNS_PORT, OK, SKIP, check_mdns_port, check_udp_5005

NAMES = {"mdns_port", "multicast_interface", "docker", "udp_5005", "serial",
         "serial_hijackers", "libraries"}


def free_udp_port(addr: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((addr, 0))
        return s.getsockname()[1]


def doctor(loopback, *extra, env=None):
    addr = loopback.addr()
    args = ["ruview", "doctor", "--address", addr, "--listen", str(free_udp_port(addr)), *extra]
    return addr, subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


def test_every_check_reports_what_the_machine_has(loopback):
    addr, r = doctor(loopback, "--json")
    doc = json.loads(r.stdout)
    checks = {c["name"]: c for c in doc["checks"]}
    assert set(checks) == NAMES
    failed = [c for c in checks.values() if c["status"] == FAIL]
    assert doc["ok"] is (not failed) and r.returncode == (1 if failed else 0)
    for c in checks.values():
        if c["status"] in ("warn", "fail"):
            assert c["fix"], c
    # The datagram to the given address arrived.
    assert checks["udp_5005"]["status"] == OK and addr in checks["udp_5005"]["detail"]
    # The installed esptool, by its real version.
    assert checks["libraries"]["status"] == OK
    assert f"esptool {version('esptool')}" in checks["libraries"]["detail"]
    # Serial: what /dev holds.
    devices = sorted(glob.glob("/dev/ttyACM*") + glob.glob("/dev/ttyUSB*"))
    if devices:
        assert all(d in checks["serial"]["detail"] for d in devices)
    else:
        assert checks["serial"] == {"name": "serial", "status": OK, "fix": None,
                                    "detail": "no USB serial device plugged in (nothing to check)"}
    # Multicast: OK names a real non-loopback interface; FAIL says how to do without.
    mc = checks["multicast_interface"]
    if mc["status"] == OK:
        names = [n for n in os.listdir("/sys/class/net") if n != "lo"]
        assert any(n in mc["detail"] for n in names)
    else:
        assert mc["status"] == FAIL and "--probe" in mc["fix"]


def test_too_old_esptool_is_broken_with_the_fix(tmp_path, loopback):
    """A stale esptool 4.x distribution first on the path makes doctor fail and say why."""
    dist = tmp_path / "esptool-4.7.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: esptool\nVersion: 4.7.0\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    _, r = doctor(loopback, "--json", env=env)
    assert r.returncode == 1
    lib = next(c for c in json.loads(r.stdout)["checks"] if c["name"] == "libraries")
    assert lib["status"] == FAIL and "esptool 4.7.0" in lib["detail"]
    assert "pip install -U esptool" in lib["fix"]
    _, human = doctor(loopback, env=env)
    assert human.returncode == 1 and "fix: pip install -U esptool" in human.stdout


def test_udp_datagram_arrives_on_loopback(loopback):
    addr = loopback.addr()
    port = free_udp_port(addr)
    result = check_udp_5005(port, addr)
    assert (result.status, result.detail) == (OK, f"UDP {port} to {addr} arrives")


def test_udp_datagram_that_never_arrives_is_a_failure_with_the_firewall_fix(loopback):
    """The receiver listens on one address, the datagram goes to another: it is lost, as
    behind a firewall."""
    listen_on, send_to = loopback.addr(), loopback.addr()
    port = free_udp_port(listen_on)
    result = check_udp_5005(port, send_to, bind=listen_on)
    assert result.status == FAIL and f"{send_to}:{port} never arrived" in result.detail
    assert f"ufw allow {port}/udp" in result.fix


def test_udp_port_in_use_is_skipped_not_failed(loopback):
    addr = loopback.addr()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("", 0))
        held = check_udp_5005(busy.getsockname()[1], addr)
    assert held.status == SKIP and "in use" in held.detail


def test_mdns_port_held_exclusively_fails_with_the_fix():
    hog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        hog.bind(("", MDNS_PORT))  # no SO_REUSEPORT: nobody can share it
    except OSError as exc:
        hog.close()
        if exc.errno != errno.EADDRINUSE:
            raise
        pytest.skip(f"UDP {MDNS_PORT} is already held on this machine (run under netns-run)")
    try:
        result = check_mdns_port()
    finally:
        hog.close()
    assert result.status == FAIL and "held exclusively" in result.detail
    assert "avahi" in result.fix and "--probe" in result.fix
    assert check_mdns_port().status == OK  # released: free again
