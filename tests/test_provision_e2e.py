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
import time
import urllib.error
import urllib.request

import pytest

from ruview_cli.config.nvs import read_nvs
from ruview_cli.sim.fleet import FleetOptions, SimFleet

RUVIEW = shutil.which("ruview")
NVS = (0x9000, 0x6000)


@pytest.fixture(scope="module")
def fleet(loopback):
    fl = SimFleet(FleetOptions(nodes=6, first_host=loopback.hosts(6), mdns_interface="127.0.0.1",
                               target=(loopback.addr(), 5005), seed=8, stream=False))
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
    """(what the node's NVS holds, by schema name; what of it the firmware would ignore), read
    from its flash as the chip reads it (the firmware's own verdict: test_firmware_config_load)."""
    from ruview_cli.config import schema

    dec = schema.from_nvs(read_nvs(fleet.nodes[i].flash.read(*NVS)))
    return Held({name: dec.stored.get(name) for name in schema.BY_NAME}), \
        [f"{name}: {why}" for name, why in dec.ignored.items()]


class Held:
    """NVS values by schema name (None: not stored, the firmware's default applies); its repr
    (what a failing assertion on the whole object prints) shows no secret."""

    def __init__(self, values: dict):
        self.__dict__.update(values)

    def __repr__(self) -> str:
        from ruview_cli.config import schema

        return f"Held({schema.redact(self.__dict__)})"


def http_status(fleet, i) -> dict:
    node = fleet.nodes[i]
    with urllib.request.urlopen(f"http://{node.ip}:{node.http_port}/ota/status", timeout=10) as r:
        return json.loads(r.read())


def answers_status(fleet, i, timeout=15.0) -> dict | None:
    """The node's /ota/status once it answers (it may still be booting), else None."""
    node = fleet.nodes[i]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            url = f"http://{node.ip}:{node.http_port}/ota/status"
            with urllib.request.urlopen(url, timeout=2) as r:
                return json.loads(r.read())
        except (urllib.error.URLError, OSError):
            time.sleep(0.2)
    return None


def test_second_provision_keeps_every_earlier_key_and_node_runs_new_values(fleet, env, tmp_path,
                                                                        loopback):
    d = fleet.describe(0)
    first = ruview(env, "provision", "--port", d["serial_url"], "--yes", "--json",
                   "--ssid", "lab-net", "--password", "pw-123456", "--target-ip", loopback.addr(),
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
    assert fleet.nodes[0].wait_for(lambda n: n.state == "running" and n.node_id == 21, 15)
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
    assert cfg2.vital_int == 2500 and cfg1.vital_int is None  # first run: the default, not stored
    # the firmware read it at boot (its config log on the serial port says so)
    assert fleet.nodes[0].wait_for(lambda n: n.state == "running" and
                                   b"config: csi_cfg/vital_int = 2500" in n.boot_log, 15)

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
    log = fleet.nodes[2].boot_log
    assert (b"config: csi_cfg/vital_int = 3000" in log or
            b"config: csi_cfg/vital_int = 4000" in log), log[-2000:]


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


def write_generated_nvs(port: str, rows: list[str], tmp_path) -> None:
    """Make an NVS image from CSV rows with Espressif's generator CLI (as RuView's provision.py
    does) and write it at 0x9000 with esptool's CLI."""
    csv = tmp_path / "nvs.csv"
    csv.write_text("\n".join(rows) + "\n")
    img = tmp_path / "nvs.bin"
    gen = subprocess.run([sys.executable, "-m", "esp_idf_nvs_partition_gen", "generate",
                          str(csv), str(img), "0x6000"], capture_output=True, text=True, timeout=60)
    assert gen.returncode == 0, gen.stdout + gen.stderr
    w = subprocess.run([sys.executable, "-m", "esptool", "--port", port, "--before",
                        "no-reset", "--after", "hard-reset", "write-flash", "0x9000", str(img)],
                       capture_output=True, text=True, timeout=90)
    assert w.returncode == 0, w.stdout + w.stderr


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
    d = fleet.describe(4)
    write_generated_nvs(d["serial_url"], rows, tmp_path)

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


def test_several_ports_in_parallel_and_partial_failure(fleet, env, loopback):
    a, b = fleet.describe(5), fleet.describe(1)
    with socket.socket() as s:
        s.bind((loopback.addr(), 0))
        dead = "socket://%s:%d" % s.getsockname()
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
    with SimFleet(FleetOptions(nodes=1, first_host=loopback.hosts(1), mdns_interface="127.0.0.1",
                               target=(loopback.addr(), 5005), seed=9, stream=True)) as fl:
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


def test_dry_run_never_touches_a_non_regular_path(env, tmp_path):
    import stat

    args = ("provision", "--dry-run")
    flags = ("--ota-psk", "p" * 64, "--node-id", "5")
    # an existing regular file (world-readable) is replaced and made 0600: it holds the key
    old = tmp_path / "old.bin"
    old.write_bytes(b"x" * 10)
    old.chmod(0o644)
    r = ruview(env, *args, str(old), *flags)
    assert r.returncode == 0, r.output
    assert oct(old.stat().st_mode & 0o777) == "0o600" and len(old.read_bytes()) == NVS[1]

    # a device node (what /dev/null is), a FIFO, a symlink: refused, mode and target untouched
    targets = []
    dev = tmp_path / "null"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        targets.append(dev)
    except PermissionError:
        pass
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo, 0o644)
    link = tmp_path / "link"
    link.symlink_to(old)
    old.chmod(0o644)
    targets += [fifo, link]
    for path in targets:
        mode = os.lstat(path).st_mode
        r = ruview(env, *args, str(path), *flags)
        assert r.returncode == 2, (path, r.output)
        assert "not a regular file" in r.stderr and "--force" in r.stderr
        assert os.lstat(path).st_mode == mode, path
    assert oct(old.stat().st_mode & 0o777) == "0o644"
    assert old.read_bytes() != b"" and len(old.read_bytes()) == NVS[1]
    if dev in targets:  # --force writes to the device and still leaves its mode alone
        mode = os.lstat(dev).st_mode
        r = ruview(env, *args, str(dev), "--force", *flags)
        assert r.returncode == 0, r.output
        assert os.lstat(dev).st_mode == mode
    r = ruview(env, *args, str(tmp_path), *flags)
    assert r.returncode == 2 and "directory" in r.stderr


def test_diff_shows_the_change_and_writes_nothing_anywhere(fleet, env, tmp_path):
    d = fleet.describe(4)
    before = fleet.nodes[4].flash.read(*NVS)
    r = ruview(env, "provision", "--port", d["serial_url"], "--diff", "--json",
               "--node-id", "77", "--vital-int", "1500")
    assert r.returncode == 0, r.output
    res = json.loads(r.stdout)["results"][0]
    changed = {c["key"]: c["new"] for c in res["changes"]}
    assert changed["node_id"] == 77 and changed["vital_int"] == 1500
    assert res["written"] is False and res["diff_only"] is True
    assert fleet.nodes[4].flash.read(*NVS) == before
    assert not (tmp_path / "ruview.secrets.toml").exists()     # no key generated and stored
    assert not (tmp_path / "ruview.toml").exists()             # no inventory entry
    human = ruview(env, "provision", "--port", d["pty"], "--diff", "--node-id", "77")
    assert human.returncode == 0 and "node_id" in human.stdout and "nothing written" in human.stdout
    assert fleet.nodes[4].flash.read(*NVS) == before
    assert answers_status(fleet, 4) is not None           # the node is not left in its loader
    r = ruview(env, "provision", "--diff", "--dry-run", str(tmp_path / "x.bin"), "--node-id", "3")
    assert r.returncode == 2


@pytest.mark.parametrize("args,fragment", [
    (("--chan-list", "1,,6"), "empty item"),
    (("--chan-list", "15"), "1..14"),
    (("--set", "chan_list=1,99"), "1..14"),
    (("--set", "sta.ssid=x"), "csi_cfg.ssid"),
])
def test_bad_channel_lists_and_foreign_namespaces_are_refused(env, tmp_path, args, fragment):
    out = tmp_path / "nvs.bin"
    r = ruview(env, "provision", "--dry-run", str(out), "--ota-psk", "p" * 64, *args)
    assert r.returncode == 2, r.output
    assert fragment in r.stderr and "fix:" in r.stderr
    assert not out.exists()


def _secrets_in(env, image) -> dict:
    r = ruview(env, "config", "show", "--file", str(image), "--json", "--show-secrets")
    assert r.returncode == 0, r.output
    return {k["key"]: k["value"] for k in json.loads(r.stdout)["keys"] if k["secret"]}


def test_piped_secrets_are_read_silently_one_line_each(env, tmp_path):
    out = tmp_path / "nvs.bin"
    r = subprocess.run([RUVIEW, "provision", "--dry-run", str(out), "--password", "-",
                        "--ota-psk", "-", "--ssid", "lab"], input="pw from pipe\nkey-from-pipe-123\n",
                       capture_output=True, text=True, env=env, timeout=90)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Warning" not in r.stderr and "pw from pipe" not in r.stdout + r.stderr
    got = _secrets_in(env, out)
    assert got["password"] == "pw from pipe" and got["ota_psk"] == "key-from-pipe-123"
    # stdin ends before the second secret: a usage error, nothing written
    r = subprocess.run([RUVIEW, "provision", "--dry-run", str(tmp_path / "b.bin"), "--password",
                        "-", "--ota-psk", "-"], input="only-one\n", capture_output=True,
                       text=True, env=env, timeout=90)
    assert r.returncode == 2 and "--ota-psk" in r.stderr and not (tmp_path / "b.bin").exists()


def test_a_secret_typed_on_a_terminal_is_asked_twice(env, tmp_path):
    import fcntl
    import pty
    import select
    import termios
    import time

    out = tmp_path / "nvs.bin"
    master, slave = pty.openpty()
    def own_terminal():  # the pty becomes the child's controlling terminal, as in a shell
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen([RUVIEW, "provision", "--dry-run", str(out), "--password", "-",
                             "--ota-psk", "k" * 20], stdin=slave, stdout=slave, stderr=slave,
                            env=env, close_fds=True, preexec_fn=own_terminal)
    os.close(slave)
    seen, everything = b"", b""

    def until(text: bytes) -> None:
        nonlocal seen, everything
        while text not in seen:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, everything
            chunk = os.read(master, 4096)
            seen += chunk
            everything += chunk
        seen = seen[seen.index(text) + len(text):]

    def type_hidden(text: bytes) -> None:  # once the child has switched echo off, like a user
        deadline = time.monotonic() + 30
        while termios.tcgetattr(master)[3] & termios.ECHO:
            assert time.monotonic() < deadline, "the secret prompt keeps echo on"
            time.sleep(0.01)
        os.write(master, text)

    try:
        until(b"password:")
        type_hidden(b"first-try\n")
        until(b"confirmation:")                  # asked a second time
        type_hidden(b"typo-try\n")          # mismatch: asked again from the start
        until(b"do not match")
        until(b"password:")
        type_hidden(b"second-try\n")
        until(b"confirmation:")
        type_hidden(b"second-try\n")
        assert proc.wait(60) == 0
        until(b"image written")
    finally:
        proc.kill()
        os.close(master)
    assert b"try" not in everything                # never echoed
    assert _secrets_in(env, out)["password"] == "second-try"


def test_a_node_without_a_key_gets_its_own_not_the_fleet_key(loopback, env, tmp_path):
    import tomllib

    from ruview_cli.sim.fleet import FleetOptions, SimFleet

    fleet_key = "fleet-wide-key-0123456789"
    secrets_file = tmp_path / "ruview.secrets.toml"
    secrets_file.write_text(f'[ota]\ndefault = "{fleet_key}"\n')
    secrets_file.chmod(0o600)
    with SimFleet(FleetOptions(nodes=2, first_host=loopback.hosts(2), stream=False,
                               mdns_interface="127.0.0.1", factory=True)) as fl:
        fl.start()
        a, b = fl.describe(0), fl.describe(1)
        r = ruview(env, "provision", "--port", a["serial_url"], "--yes", "--json", "--node-id", "2")
        assert r.returncode == 0, r.output
        res = json.loads(r.stdout)["results"][0]
        assert res["psk_generated"] is True and res["psk_source"] == "generated"
        doc = tomllib.loads(secrets_file.read_text())
        own = doc["ota"]["nodes"][a["mac"]]
        assert own != fleet_key and len(own) == 64 and doc["ota"]["default"] == fleet_key
        cfg, _ = flash_config(fl, 0)
        assert cfg.ota_psk == own                                  # the node holds its own key
        assert own not in r.output

        # the node loses its NVS: provisioning gives it back the key it had, not a new one
        fl.nodes[0].flash.erase(*NVS)
        r = ruview(env, "provision", "--port", a["pty"], "--yes", "--json", "--node-id", "2")
        assert r.returncode == 0, r.output
        assert json.loads(r.stdout)["results"][0]["psk_source"] == "secrets"
        assert flash_config(fl, 0)[0].ota_psk == own

        # a node provisioned elsewhere has a key we do not know: provision learns it
        w = subprocess.run([RUVIEW, "provision", "--port", b["serial_url"], "--yes",
                            "--ota-psk", "elsewhere-key-42"], capture_output=True, text=True,
                           env={**env, "RUVIEW_INVENTORY": str(tmp_path / "other" / "r.toml")},
                           timeout=90)
        assert w.returncode == 0, w.stdout + w.stderr
        r = ruview(env, "provision", "--port", b["serial_url"], "--yes", "--json", "--node-id", "1")
        assert r.returncode == 0, r.output
        assert json.loads(r.stdout)["results"][0]["psk_source"] == "node"
        assert tomllib.loads(secrets_file.read_text())["ota"]["nodes"][b["mac"]] == "elsewhere-key-42"


def test_config_show_says_what_a_ruview_06_node_uses(loopback, env, tmp_path):
    from ruview_cli.sim.appimage import build_app_image
    from ruview_cli.sim.otadata import OtaData

    rows = ["key,type,encoding,value", "csi_cfg,namespace,,", "ssid,data,string,lab",
            f"target_ip,data,string,{loopback.addr()}", "node_id,data,u8,6",
            "fall_thresh,data,u16,0", "vital_int,data,u16,20000", "swarm_hb,data,u16,0",
            "vital_win,data,u16,300"]
    with SimFleet(FleetOptions(nodes=2, first_host=loopback.hosts(2), stream=False,
                               mdns_interface="127.0.0.1", flavor="ruview-0.6")) as fl:
        fl.start()
        d = fl.describe(0)
        write_generated_nvs(d["serial_url"], rows, tmp_path)
        r = ruview(env, "config", "show", "--port", d["pty"], "--json")
        assert r.returncode == 0, r.output
        doc = json.loads(r.stdout)
        assert doc["firmware"] == "ruview-0.6"
        assert doc["app"]["project"] == "esp32-csi-node" and doc["app"]["version"].startswith("0.6")
        keys = {k["key"]: (k["value"], k["source"]) for k in doc["keys"]}
        # RuView 0.6.5 uses these as stored; they are not "ignored"
        assert keys["fall_thresh"] == (0.0, "node")
        assert keys["vital_int"] == (20000, "node")
        assert keys["swarm_hb"] == (0, "node")
        assert set(doc["ignored"]) == {"vital_win"}            # 0.6.5 checks 32..256 too
        assert keys["vital_win"] == (256, "default")
        assert keys["zone_name"] == ("default", "default")     # unset: "default"
        # the human view says so too
        r = ruview(env, "config", "show", "--port", d["serial_url"])
        assert "RuView 0.6.x" in r.stdout and "esp32-csi-node" in r.stdout
        assert "ignored by the firmware: vital_win" in r.stdout
        assert "fall_thresh" not in " ".join(l for l in r.stdout.splitlines() if "ignored" in l)

        # provisioning another key keeps what the 0.6 node uses
        r = ruview(env, "provision", "--port", d["serial_url"], "--yes", "--json", "--node-id", "8")
        assert r.returncode == 0, r.output
        res = json.loads(r.stdout)["results"][0]
        assert res["firmware"] == "ruview-0.6"
        assert not any("fall_thresh" in w or "vital_int" in w for w in res["warnings"])
        nvs = read_nvs(fl.nodes[0].flash.read(*NVS))["csi_cfg"]
        assert (nvs["fall_thresh"].value, nvs["vital_int"].value, nvs["swarm_hb"].value) == (0, 20000, 0)
        assert nvs["node_id"].value == 8

        # a fresh 0.6 node: the compiled fall_thresh is 15.0, not ours (3.0)
        r = ruview(env, "config", "show", "--port", fl.describe(1)["serial_url"], "--json")
        keys = {k["key"]: (k["value"], k["source"]) for k in json.loads(r.stdout)["keys"]}
        assert keys["fall_thresh"] == (15.0, "default")

        # the same node after an update to our firmware in ota_1: read with our rules
        node = fl.nodes[0]
        ours = build_app_image("0.8.0")
        node.flash.write(0x220000, ours)
        OtaData(node.flash).set_boot_slot(1, 2, rollback=False)
        r = ruview(env, "config", "show", "--port", d["serial_url"], "--json")
        doc = json.loads(r.stdout)
        assert doc["firmware"] == "ours" and doc["app"]["slot"] == "ota_1"
        assert {"fall_thresh", "vital_int", "swarm_hb"} <= set(doc["ignored"])

    # an image file: ours unless told
    img = tmp_path / "nvs.bin"
    r = ruview(env, "config", "show", "--file", str(img), "--json", "--firmware", "ruview-0.6")
    keys = {k["key"]: (k["value"], k["source"]) for k in json.loads(r.stdout)["keys"]}
    assert keys["fall_thresh"] == (0.0, "node")
    r = ruview(env, "config", "show", "--file", str(img), "--json")
    assert "fall_thresh" in json.loads(r.stdout)["ignored"]
