"""`ruview status` (installed CLI) and the nodeapi client against sim nodes of both flavours."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from ruview_cli.errors import RuviewError
from ruview_cli.nodeapi import get_status
from ruview_cli.sim.fleet import FleetOptions, SimFleet

SEED = 7000 + os.getpid() % 1000


@pytest.fixture(scope="module")
def nodes(loopback):
    ours = SimFleet(FleetOptions(nodes=2, flavor="ours", first_host=loopback.hosts(2), seed=SEED,
                                 pty=False, stream=False, mdns_interface="127.0.0.1"))
    old = SimFleet(FleetOptions(nodes=1, flavor="ruview-0.6", first_host=loopback.hosts(1),
                                seed=SEED + 1, pty=False, stream=False))
    try:
        a, b = ours.start(), old.start()
        assert ours.wait_ready() and old.wait_ready()
        yield {"ours": a, "old": b}
    finally:
        ours.stop()
        old.stop()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(*args, tmp_path):
    env = dict(os.environ, RUVIEW_INVENTORY=str(tmp_path / "ruview.toml"))
    return subprocess.run(["ruview", *args], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=60)


def test_get_status_normalises_both_flavours(nodes):
    ours = get_status(nodes["ours"][0]["ip"])
    assert ours.flavor == "ours" and ours.mac == nodes["ours"][0]["mac"]
    assert ours.ota_state == "valid" and ours.running_partition == "ota_0"
    assert ours.node_id == nodes["ours"][0]["node_id"] and ours.has_rollback
    old = get_status(nodes["old"][0]["ip"])
    assert old.flavor == "ruview-0.6" and old.version == nodes["old"][0]["version"]
    assert old.mac is None and old.ota_state is None and not old.has_rollback


def test_get_status_errors_are_clear():
    with pytest.raises(RuviewError) as exc:
        get_status("127.0.0.1", closed_port(), timeout=1.0)
    assert "refused" in exc.value.message and exc.value.fix

    class NotJson(BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"<html>router login</html>"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    srv = HTTPServer(("127.0.0.1", 0), NotJson)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        with pytest.raises(RuviewError) as exc:
            get_status("127.0.0.1", srv.server_address[1])
        assert "not JSON" in exc.value.message
    finally:
        srv.shutdown()
        srv.server_close()

    # a listener that never answers: the timeout is reported as such
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        with pytest.raises(RuviewError) as exc:
            get_status("127.0.0.1", silent.getsockname()[1], timeout=0.5)
        assert "did not answer" in exc.value.message


def test_status_table_json_and_exit_codes(nodes, tmp_path):
    a, b = nodes["ours"]
    old = nodes["old"][0]
    r = cli("nodes", "add", a["ip"], "--name", "kitchen", "--group", "lab", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    r = cli("nodes", "add", old["ip"], "--mac", "00:11:22:33:44:66", "--group", "lab",
            tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr

    r = cli("status", "--group", "lab", b["ip"], "--json", tmp_path=tmp_path)
    assert r.returncode == 0, r.stderr
    rows = {row["host"]: row for row in json.loads(r.stdout)["nodes"]}
    assert rows[a["ip"]]["name"] == "kitchen" and rows[a["ip"]]["ota_state"] == "valid"
    assert rows[b["ip"]]["running_partition"] == "ota_0" and rows[b["ip"]]["uptime_s"] >= 0
    assert rows[old["ip"]]["flavor"] == "ruview-0.6" and rows[old["ip"]]["rollback"] is None
    assert all(row["ok"] for row in rows.values())

    dead = f"127.0.0.1:{closed_port()}"
    r = cli("status", "kitchen", dead, tmp_path=tmp_path)
    assert r.returncode == 3  # partial failure
    assert "unreachable" in r.stdout and "kitchen" in r.stdout and "refused" in r.stdout

    r = cli("status", dead, "--json", tmp_path=tmp_path)
    assert r.returncode == 1
    assert json.loads(r.stdout)["nodes"][0]["ok"] is False

    r = cli("status", "garage", tmp_path=tmp_path)
    assert r.returncode == 2 and "garage" in r.stderr and "ruview nodes add" in r.stderr
    r = cli("status", "--json", tmp_path=tmp_path)  # bare: the whole inventory, as --all
    assert r.returncode == 0, r.stderr
    assert {row["host"] for row in json.loads(r.stdout)["nodes"]} == {a["ip"], old["ip"]}
