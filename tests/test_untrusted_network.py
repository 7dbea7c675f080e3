"""A hostile node on the same LAN (issue 11 items 14, 15, 16, 18): adverts published with
python-zeroconf on loopback and a node answering GET /ota/status over real HTTP, seen through
the installed CLI. Markup, control characters and emoji codes in what nodes say must show
literally; a bad advert is skipped without stopping discovery; what discovery hears is not
adopted into the fleet unless the operator says so."""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import threading
import tomllib
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

MARKUP_NAME = "[bold white on red]FALL DETECTED[/]"
BOGUS_VERSION = "[/bogus]"
NASTY = "\x1b[2J\r\nEVIL"   # clear the screen, then a line of the attacker's choosing
_rng = random.Random(os.getpid())
# ":ab:" is an emoji code in rich (🆎); a random tail keeps other runs' nodes apart
HOSTILE_MAC = "34:85:18:ab:%02x:%02x" % (_rng.randrange(256), _rng.randrange(256))
GOOD_MAC = "34:85:18:cd:%02x:%02x" % (_rng.randrange(256), _rng.randrange(256))


class _Hostile(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps({"version": BOGUS_VERSION, "mac": HOSTILE_MAC, "node_id": 7,
                           "ota_state": "valid", "chip": "esp32s3" + NASTY, "edge_tier": 1,
                           "running_partition": "ota_0[/x]" + NASTY, "uptime_s": 5}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def lan(loopback):
    from zeroconf import IPVersion, ServiceInfo, Zeroconf

    hostile_ip, bad_ip, good_ip = loopback.addr(), loopback.addr(), loopback.addr()
    server = HTTPServer((hostile_ip, 8032), _Hostile)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    zc = Zeroconf(interfaces=["127.0.0.1"], ip_version=IPVersion.V4Only)
    tag = f"{os.getpid()}-{_rng.randrange(1 << 16)}"
    adverts = [
        (f"hostile-{tag}", hostile_ip, {"mac": HOSTILE_MAC, "node_id": "7", "version": BOGUS_VERSION,
                                        "name": MARKUP_NAME + NASTY}),
        (f"badmac-{tag}", bad_ip, {"mac": "zz:zz:zz", "node_id": "8", "version": "0.7.1"}),
        (f"good-{tag}", good_ip, {"mac": GOOD_MAC, "node_id": "9", "version": "0.7.1",
                                  "name": "good"}),
    ]
    infos = [ServiceInfo("_ruview._tcp.local.", f"{name}._ruview._tcp.local.",
                         addresses=[socket.inet_aton(ip)], port=8032, properties=txt,
                         server=f"{name}.local.") for name, ip, txt in adverts]
    for info in infos:
        zc.register_service(info)
    try:
        yield {"hostile_ip": hostile_ip, "bad_ip": bad_ip, "good_ip": good_ip,
               "bad_name": infos[1].name}
    finally:
        for info in infos:
            zc.unregister_service(info)
        zc.close()
        server.shutdown()
        server.server_close()


def ruview(*args, cwd, timeout=60):
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUVIEW_INVENTORY", "RUVIEW_MDNS_INTERFACE")}
    env["XDG_CONFIG_HOME"] = str(cwd / "xdg")   # never the user's own inventory
    env["COLUMNS"] = "400"                      # no cell wrapped: the assertions read whole values
    return subprocess.run(["ruview", *args], capture_output=True, text=True, cwd=cwd, env=env,
                          timeout=timeout)


def assert_inert(r):
    """Nothing a node said became markup, an emoji, a terminal control or a crash."""
    text = r.stdout + r.stderr
    assert "MarkupError" not in text and "Traceback" not in text, r.stderr
    assert "\x1b" not in text and "\r" not in text
    assert "🆎" not in text
    assert not any(line.startswith("EVIL") for line in text.splitlines())


def inventory(tmp_path) -> dict:
    path = tmp_path / "ruview.toml"
    return tomllib.loads(path.read_text()).get("nodes", {}) if path.exists() else {}


def test_hostile_adverts_show_literally_and_are_not_adopted(lan, tmp_path):
    (tmp_path / "ruview.toml").write_text("")
    r = ruview("discover", "--interface", "127.0.0.1", "--timeout", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr        # one bad advert is no usage error
    assert_inert(r)
    assert MARKUP_NAME + "\\x1b[2J\\x0d\\x0aEVIL" in r.stdout and BOGUS_VERSION in r.stdout
    assert HOSTILE_MAC in r.stdout and GOOD_MAC in r.stdout
    assert "skipped" in r.stderr and "zz:zz:zz" in r.stderr
    assert "new, not adopted" in r.stdout
    assert inventory(tmp_path) == {}, "discovery adopted nodes nobody asked for"


def test_json_reports_the_bad_advert_and_the_new_nodes(lan, tmp_path):
    (tmp_path / "ruview.toml").write_text("")
    r = ruview("discover", "--json", "--interface", "127.0.0.1", "--timeout", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    rows = {n["mac"]: n for n in doc["nodes"] if n["mac"]}
    assert rows[HOSTILE_MAC]["fleet"] == "new" and rows[GOOD_MAC]["fleet"] == "new"
    assert rows[HOSTILE_MAC]["name"] == MARKUP_NAME + NASTY   # JSON keeps the exact value
    bad = [x for x in doc["rejected"] if x["name"] == lan["bad_name"]]
    assert bad and "zz:zz:zz" in bad[0]["reason"] and bad[0]["ip"] == lan["bad_ip"]
    assert doc["saved"] == 0 and doc["new"] >= 2 and inventory(tmp_path) == {}


def test_save_adopts_the_rest_and_later_commands_show_values_literally(lan, tmp_path):
    (tmp_path / "ruview.toml").write_text("")
    r = ruview("discover", "--save", "--interface", "127.0.0.1", "--timeout", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert_inert(r)
    nodes = inventory(tmp_path)
    assert nodes[HOSTILE_MAC]["version"] == BOGUS_VERSION and GOOD_MAC in nodes
    assert not any("zz" in mac for mac in nodes)

    listed = ruview("nodes", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert_inert(listed)
    assert BOGUS_VERSION in listed.stdout and HOSTILE_MAC in listed.stdout

    status = ruview("status", lan["hostile_ip"], cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    assert_inert(status)
    assert BOGUS_VERSION in status.stdout and "ota_0[/x]\\x1b" in status.stdout


def test_hostile_values_in_the_inventory_and_a_status_reply(lan, tmp_path):
    (tmp_path / "ruview.toml").write_text(
        f'[nodes."{HOSTILE_MAC}"]\nname = "attic"\nversion = "{BOGUS_VERSION}"\n'
        f'notes = "[red]x[/] \\u001b[2J\\nEVIL"\nip = "{lan["hostile_ip"]}"\n')
    listed = ruview("nodes", "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert_inert(listed)
    assert BOGUS_VERSION in listed.stdout and HOSTILE_MAC in listed.stdout
    assert "[red]x[/] \\x1b[2J\\x0aEVIL" in listed.stdout
    status = ruview("status", "attic", cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    assert_inert(status)
    assert BOGUS_VERSION in status.stdout


def test_a_known_mac_at_a_new_address_is_not_moved_silently(lan, tmp_path):
    elsewhere = "127.0.0.1"   # where the inventory says the good node lives
    (tmp_path / "ruview.toml").write_text(f'[nodes."{GOOD_MAC}"]\nname = "kitchen"\n'
                                          f'ip = "{elsewhere}"\n')
    r = ruview("discover", "--json", "--interface", "127.0.0.1", "--timeout", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    row = next(n for n in json.loads(r.stdout)["nodes"] if n["mac"] == GOOD_MAC)
    assert row["fleet"] == "moved" and row["stored_address"] == f"{elsewhere}:8032"
    assert inventory(tmp_path)[GOOD_MAC]["ip"] == elsewhere
    assert "version" not in inventory(tmp_path)[GOOD_MAC]   # nothing the claim said is stored

    r = ruview("discover", "--save", "--json", "--interface", "127.0.0.1", "--timeout", "2",
               cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert inventory(tmp_path)[GOOD_MAC]["ip"] == lan["good_ip"]   # the operator accepted it
    assert HOSTILE_MAC in inventory(tmp_path)


def test_members_at_their_address_are_refreshed_without_save(lan, tmp_path):
    (tmp_path / "ruview.toml").write_text(f'[nodes."{GOOD_MAC}"]\nname = "kitchen"\n'
                                          f'ip = "{lan["good_ip"]}"\n')
    r = ruview("discover", "--json", "--interface", "127.0.0.1", "--timeout", "2", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    entry = inventory(tmp_path)[GOOD_MAC]
    assert entry["version"] == "0.7.1" and entry["last_seen"] > 0
    assert set(inventory(tmp_path)) == {GOOD_MAC}


def test_file_names_with_markup_are_shown_not_parsed(loopback, tmp_path):
    r = ruview("ota", "nofile[/x].bin", loopback.addr(), "--yes", cwd=tmp_path)
    assert r.returncode == 2, r.stdout + r.stderr
    assert_inert(r)
    assert "nofile[/x].bin" in r.stderr and "fix:" in r.stderr


def test_macs_are_never_drawn_as_emoji(tmp_path):
    macs = ["34:85:18:ab:03:d9", "24:6f:28:ab:cd:ef"]
    (tmp_path / "ruview.toml").write_text("".join(f'[nodes."{m}"]\n' for m in macs))
    for args in (("nodes", "list"), ("nodes", "add", "a0:b1:c2:ab:cd:ef", "--name", "x")):
        r = ruview(*args, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert_inert(r)
    listed = ruview("nodes", "list", cwd=tmp_path).stdout
    for mac in macs + ["a0:b1:c2:ab:cd:ef"]:
        assert mac in listed


def _discover_on_a_terminal(tmp_path, answer: bytes) -> tuple[int, str]:
    """`ruview discover` with a terminal for stdin/stdout/stderr; `answer` to the question."""
    import pty
    import select

    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items()
           if k not in ("RUVIEW_INVENTORY", "RUVIEW_MDNS_INTERFACE")}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "xdg"), COLUMNS="400", TERM="dumb")
    proc = subprocess.Popen(["ruview", "discover", "--interface", "127.0.0.1", "--timeout", "2"],
                            stdin=slave, stdout=slave, stderr=slave, cwd=tmp_path, env=env)
    os.close(slave)
    seen, answered = b"", False
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 60)
            assert ready, f"no output for 60 s: {seen!r}"
            try:
                chunk = os.read(master, 65536)
            except OSError:    # EIO: the command ended and closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not answered and b"Adopt" in seen and b"?" in seen.split(b"Adopt", 1)[1]:
                os.write(master, answer)
                answered = True
    finally:
        os.close(master)
    return proc.wait(timeout=60), seen.decode("utf-8", "replace")


def test_on_a_terminal_new_nodes_are_adopted_only_when_confirmed(lan, tmp_path):
    (tmp_path / "ruview.toml").write_text("")
    rc, text = _discover_on_a_terminal(tmp_path, b"n\n")
    assert rc == 0, text
    assert "Adopt" in text and inventory(tmp_path) == {}
    rc, text = _discover_on_a_terminal(tmp_path, b"y\n")
    assert rc == 0, text
    assert {HOSTILE_MAC, GOOD_MAC} <= set(inventory(tmp_path)) and "adopted into" in text
