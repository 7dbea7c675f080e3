"""The fleet file and the secrets file: what an operator would notice (comments kept, no lost
updates, secrets private), plus `ruview nodes` driven as the installed CLI."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import threading

import pytest

from ruview_cli.errors import UsageError
from ruview_cli.inventory import Inventory, Secrets, Target, inventory_path, secrets_path

COMMENTED = """\
# Our lab fleet — keep this comment
[nodes."34:85:18:aa:bb:01"]  # the kitchen board
name = "kitchen"   # by the fridge
ip = "10.0.0.11"
group = "ground"
custom_key = "the operator's own"

# second board, upstairs
[nodes."34:85:18:aa:bb:02"]
name = "bedroom"
ip = "10.0.0.12"
http_port = 8080
"""


@pytest.fixture
def inv_file(tmp_path, monkeypatch):
    path = tmp_path / "ruview.toml"
    path.write_text(COMMENTED)
    monkeypatch.setenv("RUVIEW_INVENTORY", str(path))
    return path


def test_location_env_then_cwd_then_user_dir(tmp_path, monkeypatch):
    monkeypatch.delenv("RUVIEW_INVENTORY", raising=False)
    monkeypatch.chdir(tmp_path)
    assert inventory_path().parent != tmp_path  # no ./ruview.toml: the user config dir
    (tmp_path / "ruview.toml").write_text("")
    assert inventory_path() == tmp_path / "ruview.toml"
    monkeypatch.setenv("RUVIEW_INVENTORY", str(tmp_path / "other.toml"))
    assert inventory_path() == tmp_path / "other.toml"
    assert secrets_path() == tmp_path / "ruview.secrets.toml"


def test_update_keeps_comments_order_and_unknown_keys(inv_file):
    inv = Inventory.load()
    inv.upsert("34:85:18:AA:BB:01", version="0.7.1", last_seen=1000.0, sources=["mdns"])
    inv.upsert("34-85-18-aa-bb-03", ip="10.0.0.13", name="hall")
    inv.save()
    text = inv_file.read_text()
    for fragment in ("# Our lab fleet — keep this comment", "# the kitchen board",
                     "# by the fridge", "# second board, upstairs",
                     'custom_key = "the operator\'s own"'):
        assert fragment in text
    assert text.index("kitchen") < text.index("bedroom") < text.index("hall")
    again = Inventory.load()
    kitchen = again.find("kitchen")
    assert kitchen.version == "0.7.1" and kitchen.ip == "10.0.0.11" and kitchen.group == "ground"
    assert again.find("hall").mac == "34:85:18:aa:bb:03"


def test_concurrent_saves_lose_nothing(inv_file):
    """Two commands load, change different things and save: both changes survive."""
    a, b = Inventory.load(), Inventory.load()
    a.upsert("34:85:18:aa:bb:01", version="1.0.0")
    b.upsert("34:85:18:aa:bb:02", notes="rebooted", sources=["probe"])
    b.upsert("34:85:18:aa:bb:04", ip="10.0.0.14")
    a.save()
    b.save()
    final = Inventory.load()
    assert final.find("kitchen").version == "1.0.0"
    assert final.find("bedroom").notes == "rebooted"
    assert final.find("10.0.0.14") is not None


def test_many_threads_saving_at_once(inv_file):
    errors = []

    def worker(i):
        try:
            inv = Inventory.load()
            inv.upsert(f"34:85:18:00:00:{i:02x}", ip=f"10.1.0.{i}")
            inv.save()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(Inventory.load().nodes()) == 2 + 12


def test_find_and_resolve(inv_file):
    inv = Inventory.load()
    assert inv.find("10.0.0.12:8080").name == "bedroom"
    assert inv.find("10.0.0.12:8032") is None  # that node's control port is 8080
    got = inv.resolve(["kitchen", "10.9.9.9:9000", "node.local"], group=None)
    assert got == [Target("10.0.0.11", 8032, "kitchen", "34:85:18:aa:bb:01"),
                   Target("10.9.9.9", 9000, None, None), Target("node.local", 8032, None, None)]
    assert [t.name for t in inv.resolve([], all_=True)] == ["kitchen", "bedroom"]
    assert [t.port for t in inv.resolve([], group="ground")] == [8032]
    with pytest.raises(UsageError) as exc:
        inv.resolve(["garage"])
    assert "garage" in exc.value.message and "ruview nodes add" in exc.value.fix
    with pytest.raises(UsageError):
        inv.resolve([], group="attic")
    with pytest.raises(UsageError):
        inv.resolve(["10.0.0.1:99999"])


def test_names_must_be_unique_and_not_addresses(inv_file):
    inv = Inventory.load()
    with pytest.raises(UsageError):
        inv.upsert("34:85:18:aa:bb:02", name="kitchen")
    with pytest.raises(UsageError):
        inv.upsert("34:85:18:aa:bb:02", name="10.0.0.1")
    with pytest.raises(UsageError):
        inv.upsert("not-a-mac", ip="1.2.3.4")


def test_secrets_are_private_and_never_shown(tmp_path):
    path = tmp_path / "ruview.secrets.toml"
    s = Secrets.load(path)
    s.set_ota_psk(None, "fleet-secret-psk-123")
    s.set_ota_psk("34:85:18:AA:BB:01", "node-secret-psk-456")
    s.set_wifi_password("lab-wifi", "wifi-secret-789")
    s.save()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    back = Secrets.load(path)
    assert back.ota_psk("34:85:18:aa:bb:01") == "node-secret-psk-456"
    assert back.ota_psk("34:85:18:aa:bb:09") == "fleet-secret-psk-123"
    assert back.wifi_password("lab-wifi") == "wifi-secret-789"
    for text in (repr(back), str(back)):
        assert "psk-" not in text and "wifi-secret" not in text
    os.chmod(path, 0o644)
    Secrets.load(path)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600  # a loose file is tightened at once


def test_broken_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "ruview.toml"
    bad.write_text("[nodes\nname = ")
    with pytest.raises(UsageError) as exc:
        Inventory.load(bad)
    assert str(bad) in exc.value.message


# -- the CLI ------------------------------------------------------------------------------------
def ruview(*args, env_path=None, cwd=None):
    env = dict(os.environ)
    if env_path is not None:
        env["RUVIEW_INVENTORY"] = str(env_path)
    return subprocess.run(["ruview", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=60)


def test_nodes_cli_add_set_list_remove(inv_file, tmp_path):
    r = ruview("nodes", "add", "34:85:18:aa:bb:05", "--name", "garage", "--ip", "10.0.0.15",
               env_path=inv_file)
    assert r.returncode == 0, r.stderr
    r = ruview("nodes", "set", "garage", "--group", "outside", "--notes", "on the shelf",
               env_path=inv_file)
    assert r.returncode == 0, r.stderr
    r = ruview("nodes", "set", "kitchen", "--group", "", env_path=inv_file)
    assert r.returncode == 0, r.stderr
    listed = json.loads(ruview("nodes", "list", "--json", env_path=inv_file).stdout)
    by_name = {n["name"]: n for n in listed["nodes"]}
    assert by_name["garage"]["group"] == "outside" and by_name["garage"]["notes"] == "on the shelf"
    assert by_name["kitchen"]["group"] is None
    assert "# by the fridge" in inv_file.read_text()
    r = ruview("nodes", "remove", "garage", env_path=inv_file)
    assert r.returncode == 0
    r = ruview("nodes", "remove", "garage", env_path=inv_file)
    assert r.returncode == 2 and "garage" in r.stderr and "Traceback" not in r.stderr
    r = ruview("nodes", "add", "34:85:18:aa:bb:01", env_path=inv_file)
    assert r.returncode == 2 and "already" in r.stderr


def test_cwd_file_wins_over_user_config(tmp_path):
    (tmp_path / "ruview.toml").write_text(COMMENTED)
    env = {k: v for k, v in os.environ.items() if k != "RUVIEW_INVENTORY"}
    env["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    r = subprocess.run(["ruview", "nodes", "list", "--json"], capture_output=True, text=True,
                       env=env, cwd=tmp_path, timeout=60)
    assert r.returncode == 0, r.stderr
    assert [n["name"] for n in json.loads(r.stdout)["nodes"]] == ["kitchen", "bedroom"]


def test_config_is_stored_without_secrets(inv_file):
    inv = Inventory.load()
    inv.upsert("34:85:18:aa:bb:01", config={"edge_tier": 2, "ssid": "lab", "password": "pw-123",
                                            "ota_psk": "psk-456", "pres_thresh": 0.05})
    inv.save()
    text = inv_file.read_text()
    assert "pw-123" not in text and "psk-456" not in text
    assert Inventory.load().find("kitchen").config == {"edge_tier": 2, "ssid": "lab",
                                                      "pres_thresh": 0.05}
