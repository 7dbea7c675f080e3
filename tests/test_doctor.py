"""`ruview doctor` (installed CLI): every check reports, broken things exit 1 with a fix."""

from __future__ import annotations

import json
import os
import socket
import subprocess

from ruview_cli.discovery.doctor import FAIL, OK, SKIP, check_udp_5005

NAMES = {"mdns_port", "multicast_interface", "docker", "udp_5005", "serial",
         "serial_hijackers", "libraries"}


def doctor(env=None):
    return subprocess.run(["ruview", "doctor", "--json"], capture_output=True, text=True,
                          env=env, timeout=60)


def test_every_check_reports_and_exit_code_follows_failures():
    r = doctor()
    doc = json.loads(r.stdout)
    checks = {c["name"]: c for c in doc["checks"]}
    assert set(checks) == NAMES
    failed = [c for c in checks.values() if c["status"] == FAIL]
    assert doc["ok"] is (not failed)
    assert r.returncode == (1 if failed else 0)
    for c in checks.values():
        assert c["status"] in ("ok", "warn", "fail", "skip") and c["detail"]
        if c["status"] in ("warn", "fail"):
            assert c["fix"], c
    assert "esptool" in checks["libraries"]["detail"]


def test_too_old_esptool_is_broken_with_the_fix(tmp_path):
    """A stale esptool 4.x distribution first on the path makes doctor fail and say why."""
    dist = tmp_path / "esptool-4.7.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: esptool\nVersion: 4.7.0\n")
    env = dict(os.environ, PYTHONPATH=str(tmp_path) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    r = doctor(env)
    assert r.returncode == 1
    lib = next(c for c in json.loads(r.stdout)["checks"] if c["name"] == "libraries")
    assert lib["status"] == FAIL and "esptool 4.7.0" in lib["detail"]
    assert "pip install -U esptool" in lib["fix"]
    human = subprocess.run(["ruview", "doctor"], capture_output=True, text=True, env=env,
                           timeout=60)
    assert human.returncode == 1 and "fix: pip install -U esptool" in human.stdout


def test_udp_self_send_through_a_real_address():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("", 0))
        port = s.getsockname()[1]
    result = check_udp_5005(port)
    # OK when a non-loopback address exists and nothing drops the datagram; SKIP without one
    assert result.status in (OK, SKIP), result
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as busy:
        busy.bind(("", 0))
        held = check_udp_5005(busy.getsockname()[1])
    assert held.status == SKIP and ("in use" in held.detail or "no non-loopback" in held.detail)
