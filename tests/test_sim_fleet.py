"""The emulated fleet end to end: the real esptool, the real CLI, real UDP telemetry.

What a user of `ruview sim` relies on: nodes come up with distinct identities and stream what
their NVS says; writing new NVS with esptool and resetting changes what a node streams; the CLI
prints one JSON object per ready node and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import read_json_line
from ruview_cli.config.nvs import NvsValue, build_nvs, read_nvs
from ruview_cli.protocol import decode
from ruview_cli.sim.fleet import FleetOptions, SimFleet


def _udp_listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    return sock


def _collect(sock, until, timeout=30.0):
    """Decode datagrams until `until(packets)` is true or the timeout passes."""
    packets = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data, addr = sock.recvfrom(65535)
        except socket.timeout:
            continue
        packets.append((addr[0], decode(data)))
        if until(packets):
            break
    return packets


def _esptool(*args, timeout=60):
    cmd = [sys.executable, "-m", "esptool", "--chip", "esp32s3", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


@pytest.fixture()
def listener():
    sock = _udp_listener()
    yield sock
    sock.close()


def test_fleet_nodes_stream_with_their_own_identity(listener, loopback):
    port = listener.getsockname()[1]
    first = loopback.hosts(3)
    ips = [loopback.ip(first + i) for i in range(3)]
    with SimFleet(FleetOptions(nodes=3, target=("127.0.0.1", port), mdns_interface="127.0.0.1",
                               first_host=first, pty=False)) as fleet:
        infos = fleet.start()
        assert [i["node_id"] for i in infos] == [1, 2, 3]
        assert len({i["mac"] for i in infos}) == 3
        assert [i["ip"] for i in infos] == ips

        def all_sent_vitals(packets):
            return {(ip, p.node_id) for ip, p in packets if p.kind == "vitals"} >= {
                (ips[0], 1), (ips[1], 2), (ips[2], 3)}

        packets = _collect(listener, all_sent_vitals)
        assert all_sent_vitals(packets), "every node streams vitals from its own address"
        kinds = {p.kind for _, p in packets}
        assert {"csi_raw", "vitals", "features"} <= kinds
        assert "malformed" not in kinds and "unknown" not in kinds


@pytest.mark.parametrize("wire", ["socket", "pty"])
def test_esptool_writes_nvs_and_the_reset_applies_it(listener, wire, loopback):
    """esptool write-flash of a new NVS image, then its reset: the node streams per the new
    values (node_id 42, tier 0 = raw frames only)."""
    port = listener.getsockname()[1]
    host = loopback.hosts(1)
    with SimFleet(FleetOptions(nodes=1, target=("127.0.0.1", port), mdns_interface="127.0.0.1",
                               first_host=host, pty=(wire == "pty"))) as fleet:
        info = fleet.start()[0]
        url = info["serial_url"] if wire == "socket" else info["pty"]
        node = fleet.nodes[0]
        # Before: tier 2, node 1 (vitals flowing).
        before = _collect(listener, lambda ps: any(p.kind == "vitals" for _, p in ps))
        assert any(p.kind == "vitals" and p.node_id == 1 for _, p in before), [(ip, p.kind, p.node_id) for ip, p in before][:20]

        # Read the current NVS over serial, change two keys, write it back.
        nvs_file = os.path.join(os.environ.get("TMPDIR", "/tmp"), f"ruview-test-nvs-{os.getpid()}-{wire}.bin")
        r = _esptool("--port", url, "--before", "no-reset", "--after", "no-reset", "--no-stub",
                     "read-flash", "0x9000", "0x6000", nvs_file)
        assert r.returncode == 0, r.stdout + r.stderr
        with open(nvs_file, "rb") as fh:
            values = read_nvs(fh.read())
        assert values["csi_cfg"]["node_id"].value == 1
        values["csi_cfg"]["node_id"] = NvsValue("u8", 42)
        values["csi_cfg"]["edge_tier"] = NvsValue("u8", 0)
        with open(nvs_file, "wb") as fh:
            fh.write(build_nvs(values))
        boots = node.boot_count
        r = _esptool("--port", url, "--before", "no-reset", "--after", "hard-reset", "--no-stub",
                     "write-flash", "0x9000", nvs_file)
        os.unlink(nvs_file)
        assert r.returncode == 0, r.stdout + r.stderr
        assert node.wait_for(lambda n: n.boot_count > boots and n.state == "running", 15)

        # Drain what was in flight, then look at what the rebooted node sends.
        after = _collect(listener, lambda ps: sum(1 for _, p in ps if p.node_id == 42) >= 60)
        mine = [p for _, p in after if p.node_id == 42]
        assert len(mine) >= 60, "the node streams with its new node_id after the reset"
        assert {p.kind for p in mine} <= {"csi_raw", "feature_state"}, \
            "tier 0 sends raw frames (and feature state) only"
        assert all(not p.keyframe for p in mine if p.kind == "csi_raw"), "tier 0: no keyframe flag"


def test_sim_cli_prints_ready_nodes_and_stops_on_sigterm(listener, loopback):
    port = listener.getsockname()[1]
    first = loopback.hosts(2)
    proc = subprocess.Popen(
        ["ruview", "sim", "--nodes", "2", "--json", "--first-host", str(first),
         "--target", f"127.0.0.1:{port}", "--interface", "127.0.0.1", "--seed", "7"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lines = [read_json_line(proc) for _ in range(2)]
        for rec in lines:
            for key in ("node_id", "mac", "ip", "http_port", "serial_url", "pty", "mdns_name", "flavor"):
                assert key in rec
        assert [r["ip"] for r in lines] == [loopback.ip(first), loopback.ip(first + 1)]
        assert lines[0]["serial_url"].startswith("socket://")
        assert os.path.exists(lines[0]["pty"])
        assert lines[0]["mdns_name"].endswith("._ruview._tcp.local.")
        assert lines[0]["ota_psk"] is False, "like real boards, no OTA key unless --psk"
        # The nodes really are up: their HTTP status answers.
        import requests

        status = requests.get(f"http://{loopback.ip(first)}:8032/ota/status", timeout=5).json()
        assert status["node_id"] == 1 and status["version"] == "0.7.0"
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_sim_cli_rejects_bad_options_before_starting():
    r = subprocess.run(["ruview", "sim", "--nodes", "1", "--target", "nowhere:5005"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2
    assert "--target" in r.stderr and "IPV4:PORT" in r.stderr
    r = subprocess.run(["ruview", "sim", "--nodes", "1", "--fault", "gremlins"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 2 and "unknown fault" in r.stderr
