"""`ruview provision` / `ruview config show` end to end: the installed CLI (a subprocess) talks
through esptool to emulated nodes started here, over socket:// and over a pty.

What a user would notice: a second provision keeps every earlier key; after the reset the node
runs with the new values; a bad value writes nothing; a link cut mid-write is reported and the
node still boots with a readable configuration (old or new); an NVS image made the way RuView's
provision.py makes it is decoded by `config show`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request

import pytest

from ruview_cli.config.nvs import read_nvs
from ruview_cli.sim.fleet import FleetOptions, SimFleet
from ruview_cli.sim.node_config import load_node_config

RUVIEW = shutil.which("ruview")
NVS = (0x9000, 0x6000)


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def fleet(loopback):
    fl = SimFleet(FleetOptions(nodes=6, first_host=loopback.hosts(6), mdns_interface="127.0.0.1",
                               target=("127.0.0.1", _free_udp_port()), seed=8, stream=False))
    fl.start()
    yield fl
    fl.stop()


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e["RUVIEW_INVENTORY"] = str(tmp_path / "ruview.toml")
    e["NO_COLOR"] = "1"
    e["COLUMNS"] = "200"
    return e


def ruview(env, *args, timeout=90):
    r = subprocess.run([RUVIEW, *args], capture_output=True, text=True, env=env, timeout=timeout)
    r.output = r.stdout + r.stderr
    return r


def flash_config(fleet, i):
    cfg, warnings = load_node_config(read_nvs(fleet.nodes[i].flash.read(*NVS)))
    return cfg, warnings


def http_status(fleet, i) -> dict:
    node = fleet.nodes[i]
    with urllib.request.urlopen(f"http://{node.ip}:{node.http_port}/ota/status", timeout=10) as r:
        return json.loads(r.read())


def test_second_provision_keeps_every_earlier_key_and_node_runs_new_values(fleet, env, tmp_path):
    d = fleet.describe(0)
    first = ruview(env, "provision", "--port", d["serial_url"], "--yes", "--json",
                   "--ssid", "lab-net", "--password", "pw-123456", "--target-ip", "127.0.0.1",
                   "--target-port", "5999", "--node-id", "21", "--edge-tier", "1",
                   "--fall-thresh", "6.5", "--pres-thresh", "0.05")
    assert first.returncode == 0, first.output
    out = json.loads(first.stdout)["results"][0]
    assert out["written"] and out["verified"] and out["reset"]
    assert out["psk_generated"] is True and out["psk_source"] == "generated"
    assert "pw-123456" not in first.output                    # secrets never printed
    secrets_file = tmp_path / "ruview.secrets.toml"
    assert oct(secrets_file.stat().st_mode & 0o777) == "0o600"
    cfg1, warnings = flash_config(fleet, 0)
    assert warnings == []
    assert cfg1.ota_psk and len(cfg1.ota_psk) == 64
    assert cfg1.ota_psk not in first.output
    assert cfg1.ota_psk in secrets_file.read_text()
    # the node rebooted with the new node id and tier
    assert fleet.nodes[0].wait_for(lambda n: n.state == "running" and n.config.node_id == 21, 15)
    st = http_status(fleet, 0)
    assert st["node_id"] == 21 and st["edge_tier"] == 1

    # second run, over the pty, changes only the vitals interval
    second = ruview(env, "provision", "--port", d["pty"], "--yes", "--vital-int", "2500")
    assert second.returncode == 0, second.output
    assert "vital_int" in second.stdout and "ssid" not in second.stdout  # diff shows only the change
    cfg2, warnings = flash_config(fleet, 0)
    assert warnings == []
    for name in ("ssid", "password", "target_ip", "target_port", "node_id", "edge_tier",
                 "fall_thresh", "pres_thresh", "ota_psk"):
        assert getattr(cfg2, name) == getattr(cfg1, name), name
    assert cfg2.vital_int == 2500 and cfg1.vital_int == 1000
    assert fleet.nodes[0].wait_for(lambda n: n.state == "running" and n.config.vital_int == 2500, 15)

    # config show reads it back, marks defaults, masks secrets
    shown = ruview(env, "config", "show", "--port", d["serial_url"], "--json")
    assert shown.returncode == 0, shown.output
    doc = json.loads(shown.stdout)
    keys = {k["key"]: k for k in doc["keys"]}
    assert keys["vital_int"] == {"key": "vital_int", "ns": "csi_cfg", "value": 2500,
                                 "source": "node", "secret": False}
    assert keys["fall_thresh"]["value"] == 6.5 and keys["pres_thresh"]["value"] == 0.05
    assert keys["subk_count"]["source"] == "default"
    assert keys["password"]["value"] == "<set>" and keys["ota_psk"]["value"] == "<set>"
    assert "pw-123456" not in shown.output and cfg2.ota_psk not in shown.output
    assert doc["mac"] == d["mac"]

    # and the inventory knows the node, without secrets
    inv = (tmp_path / "ruview.toml").read_text()
    assert d["mac"] in inv and "node_id = 21" in inv and "pw-123456" not in inv


def test_invalid_value_writes_nothing(fleet, env):
    d = fleet.describe(1)
    loader = fleet.endpoints[1].loader
    before, sessions = fleet.nodes[1].flash.read(*NVS), loader.sessions
    r = ruview(env, "provision", "--port", d["serial_url"], "--yes", "--vital-int", "50",
               "--edge-tier", "1")
    assert r.returncode == 2
    assert "--vital-int" in r.stderr and "50" in r.stderr and "100..10000" in r.stderr
    assert "Traceback" not in r.output
    r = ruview(env, "provision", "--port", d["pty"], "--yes", "--target-ip", "10.0.0.300")
    assert r.returncode == 2 and "IPv4" in r.stderr
    assert fleet.nodes[1].flash.read(*NVS) == before
    assert loader.sessions == sessions                         # the port was never opened

    # a valid change the operator declines at the prompt: shown, not written
    r = subprocess.run([RUVIEW, "provision", "--port", d["serial_url"], "--edge-tier", "0"],
                       input="n\n", capture_output=True, text=True, env=env, timeout=90)
    assert r.returncode == 1, r.stdout + r.stderr
    assert "edge_tier" in r.stderr and "nothing was written" in r.stderr
    assert fleet.nodes[1].flash.read(*NVS) == before


def _cut_after_write_begins(loader, session, count, extra=20):
    """Instrument one ROM session: once a flash write has begun, cut the link `extra` host
    bytes later (in the middle of the image data). `count()` gives the host bytes so far."""
    real_feed = session.feed

    def feed(data):
        was_writing = session._write is not None
        out = real_feed(data)
        if session._write is not None and not was_writing and loader.drop_after_bytes is None:
            loader.drop_after_bytes = count() + extra
            loader.drop_times = 1
        return out

    session.feed = feed


def _arm(loader, session):
    """Count the host bytes of one session and cut its link once a flash write has begun."""
    seen = {"n": 0}
    real_feed = session.feed

    def counting(data):
        seen["n"] += len(data)
        return real_feed(data)

    session.feed = counting
    _cut_after_write_begins(loader, session, lambda: seen["n"])
    return session


def _cut_every_write(loader):
    """Arm every session the loader creates from now on."""
    real_new = loader.new_session
    loader.new_session = lambda: _arm(loader, real_new())


def test_link_cut_mid_write_is_reported_and_node_boots_readable(fleet, env):
    d = fleet.describe(2)
    ep = fleet.endpoints[2]
    ok = ruview(env, "provision", "--port", d["pty"], "--yes", "--vital-int", "3000",
                "--ota-psk", "k" * 64)
    assert ok.returncode == 0, ok.output
    old, _ = flash_config(fleet, 2)
    assert old.vital_int == 3000

    # every connection dies mid-write, including esptool's own retry
    _cut_every_write(ep.loader)
    try:
        r = ruview(env, "provision", "--port", d["serial_url"], "--yes", "--vital-int", "4000")
    finally:
        del ep.loader.new_session
        ep.loader.drop_after_bytes = ep.loader.drop_times = None
    assert ep.drops == 2                                        # esptool retried once
    assert r.returncode == 1, r.output
    assert "write failed" in r.stderr
    assert "config show" in r.stderr                            # what to do next
    assert "Traceback" not in r.output

    cfg, warnings = flash_config(fleet, 2)
    assert warnings == []                                       # never garbage
    assert cfg.vital_int in (3000, 4000)                        # old or new
    assert cfg.ota_psk == "k" * 64 and cfg.ssid == old.ssid and cfg.node_id == old.node_id
    fleet.nodes[2].reboot("ext")
    assert fleet.nodes[2].wait_for(lambda n: n.state == "running", 15)
    assert fleet.nodes[2].config.vital_int in (3000, 4000)


def test_link_drop_recovered_by_esptool_retry_still_verifies(fleet, env):
    d = fleet.describe(3)
    loader = fleet.endpoints[3].loader
    real_new = loader.new_session
    state = {"first": True}

    def new_session():  # only the first connection is cut; esptool's retry gets a clean link
        session = real_new()
        if state["first"]:
            state["first"] = False
            _arm(loader, session)
        return session

    loader.new_session = new_session
    try:
        r = ruview(env, "provision", "--port", d["serial_url"], "--yes", "--json",
                   "--node-id", "33", "--ota-psk", "q" * 64)
    finally:
        del loader.new_session
    assert fleet.endpoints[3].drops == 1
    assert r.returncode == 0, r.output
    assert json.loads(r.stdout)["results"][0]["verified"]
    cfg, warnings = flash_config(fleet, 3)
    assert warnings == [] and cfg.node_id == 33 and cfg.ota_psk == "q" * 64


def test_ruview_provision_py_image_is_decoded(fleet, env, tmp_path):
    # The CSV RuView's provision.py feeds to the generator (namespace csi_cfg, u8/u16/u32,
    # strings, hex2bin blobs), made into an image by the generator's CLI, written with esptool.
    rows = [
        "key,type,encoding,value", "csi_cfg,namespace,,",
        "ssid,data,string,ruview-lab", "password,data,string,hunter2hunter2",
        "target_ip,data,string,192.168.1.20", "target_port,data,u16,5005",
        "node_id,data,u8,7", "tdm_slot,data,u8,1", "tdm_nodes,data,u8,3",
        "edge_tier,data,u8,2", "pres_thresh,data,u16,50", "fall_thresh,data,u16,15000",
        "vital_win,data,u16,300", "vital_int,data,u16,1000", "subk_count,data,u8,8",
        "csi_channel,data,u8,6", "filter_mac,data,hex2bin,aabbccddeeff",
        "hop_count,data,u8,3", "chan_list,data,hex2bin,01060b", "dwell_ms,data,u32,200",
        "zone_name,data,string,lobby", "swarm_hb,data,u16,30",
    ]
    csv = tmp_path / "nvs.csv"
    csv.write_text("\n".join(rows) + "\n")
    img = tmp_path / "nvs.bin"
    gen = subprocess.run([sys.executable, "-m", "esp_idf_nvs_partition_gen", "generate",
                          str(csv), str(img), "0x6000"], capture_output=True, text=True, timeout=60)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    d = fleet.describe(4)
    w = subprocess.run([sys.executable, "-m", "esptool", "--port", d["serial_url"], "--before",
                        "no-reset", "--after", "no-reset", "write-flash", "0x9000", str(img)],
                       capture_output=True, text=True, timeout=90)
    assert w.returncode == 0, w.stdout + w.stderr

    r = ruview(env, "config", "show", "--port", d["pty"], "--json")
    assert r.returncode == 0, r.output
    doc = json.loads(r.stdout)
    vals = {k["key"]: k["value"] for k in doc["keys"] if k["source"] == "node"}
    assert vals == {
        "ssid": "ruview-lab", "password": "<set>", "target_ip": "192.168.1.20",
        "target_port": 5005, "node_id": 7, "tdm_slot": 1, "tdm_nodes": 3, "edge_tier": 2,
        "pres_thresh": 0.05, "fall_thresh": 15.0, "vital_int": 1000, "subk_count": 8,
        "csi_channel": 6, "filter_mac": "aa:bb:cc:dd:ee:ff", "hop_count": 3,
        "chan_list": "1,6,11", "dwell_ms": 200, "zone_name": "lobby", "swarm_hb": 30,
    }
    # vital_win=300 is out of the firmware's range: shown as ignored (the node keeps 256)
    assert "vital_win" in doc["ignored"]
    assert "hunter2" not in r.output

    # human view: defaults marked, the ignored value explained
    r = ruview(env, "config", "show", "--port", d["serial_url"])
    assert r.returncode == 0, r.output
    assert "ignored by the firmware: vital_win" in r.stdout
    line = next(l for l in r.stdout.splitlines() if l.strip().startswith("subk_count"))
    assert "node" in line
    line = next(l for l in r.stdout.splitlines() if l.strip().startswith("wasm_max"))
    assert "default" in line


def test_several_ports_in_parallel_and_partial_failure(fleet, env):
    a, b = fleet.describe(5), fleet.describe(1)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"socket://127.0.0.1:{s.getsockname()[1]}"
    r = ruview(env, "provision", "--port", a["serial_url"], "--port", b["pty"], "--port", dead,
               "--yes", "--json", "--edge-tier", "1")
    assert r.returncode == 3, r.output                          # partial fleet failure
    results = json.loads(r.stdout)["results"]
    ok = {x["mac"]: x for x in results if "error" not in x}
    assert set(ok) == {a["mac"], b["mac"]}
    assert all(x["verified"] for x in ok.values())
    failed = [x for x in results if "error" in x]
    assert failed[0]["port"] == dead and failed[0]["step"] == "connect"
    assert "ruview sim" in failed[0]["fix"]
    for i in (5, 1):
        assert flash_config(fleet, i)[0].edge_tier == 1


def test_wait_sees_the_node_come_up_with_its_new_node_id(env, loopback):
    port = _free_udp_port()
    with SimFleet(FleetOptions(nodes=1, first_host=loopback.hosts(1), mdns_interface="127.0.0.1",
                               target=("127.0.0.1", port), seed=9, stream=True)) as fl:
        fl.start()
        r = ruview(env, "provision", "--port", fl.describe(0)["serial_url"], "--yes", "--json",
                   "--node-id", "55", "--wait", "--wait-timeout", "30")
        assert r.returncode == 0, r.output
        assert json.loads(r.stdout)["results"][0]["online"] is True


def test_dry_run_writes_an_image_file_only(env, tmp_path):
    out = tmp_path / "nvs.bin"
    r = ruview(env, "provision", "--dry-run", str(out), "--profile", "quiet-room",
               "--node-id", "4", "--ota-psk", "p" * 64, "--yes", "--fall-thresh", "9.5",
               "--set", "hop_count=3", "--set", "chan-list=1,6,11")
    assert r.returncode == 0, r.output
    assert oct(out.stat().st_mode & 0o777) == "0o600"
    r = ruview(env, "config", "show", "--file", str(out), "--json")
    vals = {k["key"]: k["value"] for k in json.loads(r.stdout)["keys"] if k["source"] == "node"}
    # flags override the profile; --set reaches any key
    assert vals == {"edge_tier": 2, "fall_thresh": 9.5, "pres_thresh": 0.0, "vital_int": 1000,
                    "node_id": 4, "ota_psk": "<set>", "hop_count": 3, "chan_list": "1,6,11"}
    r = ruview(env, "provision", "--dry-run", str(out), "--set", "hop_count")
    assert r.returncode == 2 and "KEY=VALUE" in r.stderr
