"""`ruview discover` (the installed CLI) against emulated fleets of both firmware flavours.

Each test takes its addresses from the `loopback` allocator and a per-run MAC seed, so fleets of
other test files running at the same time (same node ids, same default MACs) cannot be mistaken
for ours.
"""

from __future__ import annotations

import json
import os
import queue
import socket
import subprocess
import threading
import time

import pytest

from ruview_cli.sim.fleet import FleetOptions, SimFleet

SEED = 9000 + os.getpid() % 1000


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(*args, cwd, timeout=60):
    env = {k: v for k, v in os.environ.items() if k != "RUVIEW_INVENTORY"}
    env.pop("RUVIEW_MDNS_INTERFACE", None)
    env["XDG_CONFIG_HOME"] = str(cwd / "xdg")  # never the user's own config
    return subprocess.run(["ruview", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


INVENTORY = """\
# lab fleet: do not lose this comment
[nodes."00:11:22:33:44:55"]  # a board that is switched off today
name = "attic"
ip = "{attic}"
"""


@pytest.fixture(scope="module")
def fleets(loopback):
    port = free_udp_port()
    # The 0.6 fleet sits inside a /28 of our own, which --probe sweeps.
    block = loopback.hosts(32)
    sweep = (block + 15) & ~15
    ours = SimFleet(FleetOptions(nodes=3, flavor="ours", target=("127.0.0.1", port),
                                 mdns_interface="127.0.0.1", first_host=loopback.hosts(3),
                                 seed=SEED, pty=False))
    old = SimFleet(FleetOptions(nodes=2, flavor="ruview-0.6", target=("127.0.0.1", port),
                                mdns_interface="127.0.0.1", first_host=sweep + 2,
                                seed=SEED + 1, pty=False))
    try:
        a = ours.start()
        b = old.start()
        assert ours.wait_ready() and old.wait_ready()
        yield {"ours": a, "old": b, "port": port, "probe": f"{loopback.ip(sweep)}/28",
               "attic": loopback.addr()}
    finally:
        ours.stop()
        old.stop()


def test_discover_lists_both_flavours_with_sources(fleets, tmp_path):
    (tmp_path / "ruview.toml").write_text(INVENTORY.format(attic=fleets["attic"]))
    r = run_cli("discover", "--json", "--save", "--interface", "127.0.0.1", "--listen",
                str(fleets["port"]), "--probe", fleets["probe"], cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rows = doc["nodes"]
    by_ip = {row["ip"]: row for row in rows}

    for node in fleets["ours"]:
        row = next((x for x in rows if x["mac"] == node["mac"]), None)
        assert row is not None, f"our node {node['ip']} not found by mDNS: {rows}"
        assert row["ip"] == node["ip"] and row["node_id"] == node["node_id"]
        assert "mdns" in row["sources"] and "telemetry" in row["sources"]
        assert "probe" not in row["sources"]  # outside the probed /28
        assert row["version"] == node["version"] and row["flavor"] == "ours"
        assert row["ota_state"] == "valid" and row["stale"] is False
    for node in fleets["old"]:
        row = by_ip.get(node["ip"])
        assert row is not None, f"RuView 0.6 node {node['ip']} missing: {rows}"
        assert row["sources"] == ["telemetry", "probe"]
        assert row["node_id"] == node["node_id"] and row["version"] == node["version"]
        assert row["flavor"] == "ruview-0.6" and row["mac"] is None
    # both fleets number their nodes from 1: ids 1 and 2 are used twice (fleets of other test
    # files may be visible on 127.0.0.1 too, so the flag is checked against the whole listing)
    dup = {row["node_id"] for row in rows if row["duplicate_node_id"]}
    assert {1, 2} <= dup
    for row in rows:
        same = sum(1 for x in rows if x["node_id"] is not None and x["node_id"] == row["node_id"])
        assert row["duplicate_node_id"] is (same > 1), row
    attic = next(x for x in rows if x["mac"] == "00:11:22:33:44:55")
    assert attic["sources"] == ["inventory"] and attic["stale"] is True
    assert attic["name"] == "attic"

    # adopted with --save: the inventory now holds our nodes (they have MACs), and the
    # operator's comments
    text = (tmp_path / "ruview.toml").read_text()
    assert "# lab fleet: do not lose this comment" in text
    assert "# a board that is switched off today" in text
    listed = json.loads(run_cli("nodes", "list", "--json", cwd=tmp_path).stdout)["nodes"]
    macs = {n["mac"]: n for n in listed}
    for node in fleets["ours"]:
        assert macs[node["mac"]]["ip"] == node["ip"]
        assert macs[node["mac"]]["last_seen"] is not None
    assert macs["00:11:22:33:44:55"]["last_seen"] is None  # never seen: not touched
    assert doc["saved"] == sum(1 for x in rows if x["mac"] and not x["stale"]) >= 3


def test_a_caller_that_knows_its_fleet_gets_every_node_with_its_status(fleets):
    """discover(expect=MACs) may close the window early, but never before those nodes, found
    by mDNS, have answered their status (what `ruview demo` relies on)."""
    from ruview_cli.discovery import discover

    ours = {n["mac"] for n in fleets["ours"]}  # RuView 0.6.x advertises nothing over mDNS
    rows = [r for r in discover(timeout=30.0, interface="127.0.0.1", expect=ours)
            if r.mac in ours]
    assert {r.mac for r in rows} == ours
    assert all(r.running_partition and r.version for r in rows), [r.to_json() for r in rows]


def test_no_save_leaves_the_inventory_alone(fleets, tmp_path):
    inventory = INVENTORY.format(attic=fleets["attic"])
    (tmp_path / "ruview.toml").write_text(inventory)
    r = run_cli("discover", "--json", "--no-save", "--interface", "127.0.0.1", "--timeout",
                "1", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "ruview.toml").read_text() == inventory


def test_bad_arguments_are_refused_clearly(tmp_path):
    for args, word in ((["--probe", "10.0.0.0/8"], "limit"),
                       (["--probe", "banana"], "not a network"),
                       (["--interface", "no-such-if0"], "no-such-if0"),
                       (["--timeout", "0"], "timeout"),
                       (["--save", "--no-save"], "contradict")):
        r = run_cli("discover", *args, cwd=tmp_path)
        assert r.returncode == 2, (args, r.stderr)
        assert word in r.stderr and "fix:" in r.stderr and "Traceback" not in r.stderr


def test_stopped_node_turns_stale_in_watch_and_inventory(tmp_path, loopback):
    fleet = SimFleet(FleetOptions(nodes=2, flavor="ours", mdns_interface="127.0.0.1",
                                  first_host=loopback.hosts(2), seed=SEED + 2, pty=False,
                                  stream=False))
    lines: queue.Queue = queue.Queue()
    proc = None
    try:
        infos = fleet.start()
        assert fleet.wait_ready()
        keep, stop = infos[0]["mac"], infos[1]["mac"]
        env = {k: v for k, v in os.environ.items() if k != "RUVIEW_MDNS_INTERFACE"}
        env["RUVIEW_INVENTORY"] = str(tmp_path / "ruview.toml")
        proc = subprocess.Popen(["ruview", "discover", "--watch", "--json", "--save", "--interface",
                                 "127.0.0.1", "--timeout", "1", "--stale-after", "2",
                                 "--duration", "90"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=tmp_path, env=env)
        threading.Thread(target=lambda: [lines.put(json.loads(x)) for x in proc.stdout],
                         daemon=True).start()

        def wait_for(pred, timeout=45.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                try:
                    doc = lines.get(timeout=1.0)
                except queue.Empty:
                    continue
                state = {n["mac"]: n["stale"] for n in doc["nodes"] if n["mac"]}
                if pred(state):
                    return state
            raise AssertionError("watch never showed the expected state")

        wait_for(lambda s: s.get(keep) is False and s.get(stop) is False)
        fleet.nodes[1].shutdown()
        wait_for(lambda s: s.get(stop) is True and s.get(keep) is False)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        fleet.stop()
    assert proc.returncode == 0, proc.stderr.read()
    inv = {n["mac"]: n for n in json.loads(subprocess.run(
        ["ruview", "nodes", "list", "--json"], capture_output=True, text=True,
        env=env, cwd=tmp_path, timeout=60).stdout)["nodes"]}
    # the stopped node's last_seen froze while the other one's kept advancing
    assert inv[stop]["last_seen"] < inv[keep]["last_seen"] - 1.0


def test_merge_rules():
    """One row per node: MAC first; address + node_id joins telemetry and probes to it."""
    from ruview_cli.discovery import Sighting, merge

    t = time.time()
    rows = merge([
        Sighting("telemetry", ip="10.0.0.5", node_id=4, t=t),
        Sighting("mdns", ip="10.0.0.5", mac="34:85:18:00:00:05", node_id=4, version="0.7.0", t=t),
        Sighting("probe", ip="10.0.0.6", version="0.6.5", flavor="ruview-0.6", t=t),
        Sighting("telemetry", ip="10.0.0.6", node_id=7, t=t),
        Sighting("telemetry", ip="10.0.0.9", node_id=1, t=t),   # a relay sending for two ids
        Sighting("telemetry", ip="10.0.0.9", node_id=2, t=t),
        Sighting("inventory", ip="10.0.0.99", mac="34:85:18:00:00:99", name="attic", t=None),
    ], since=t - 1)
    assert len(rows) == 5
    by = {(r.ip, r.node_id): r for r in rows}
    ours = by[("10.0.0.5", 4)]
    assert ours.sources == ["mdns", "telemetry"] and ours.mac == "34:85:18:00:00:05"
    old = by[("10.0.0.6", 7)]
    assert old.sources == ["telemetry", "probe"] and old.version == "0.6.5"
    assert {by[("10.0.0.9", 1)].key, by[("10.0.0.9", 2)].key} == {"10.0.0.9#1", "10.0.0.9#2"}
    attic = by[("10.0.0.99", None)]
    assert attic.stale and attic.name == "attic" and not ours.stale


def test_arp_table_parsing(tmp_path):
    from ruview_cli.discovery.arp import arp_table

    f = tmp_path / "arp"
    f.write_text("IP address       HW type     Flags       HW address            Mask     Device\n"
                 "192.168.1.40     0x1         0x2         34:85:18:AA:BB:CC     *        wlan0\n"
                 "192.168.1.41     0x1         0x0         00:00:00:00:00:00     *        wlan0\n")
    assert arp_table(str(f)) == {"192.168.1.40": "34:85:18:aa:bb:cc"}
    assert arp_table(str(tmp_path / "missing")) == {}
