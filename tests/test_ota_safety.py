"""`ruview ota` field safety (issues 11.1-4, 11.17-18, 10.10-11): the installed CLI against
emulated nodes, checked through the nodes' HTTP API."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import time

import pytest

from ruview_cli.inventory import Inventory
from ruview_cli.nodeapi import get_status
from ruview_cli.ota.image import inspect_image
from test_ota_e2e import PSK, RUVIEW, addr, by_key, env, fleet, image, ota  # noqa: F401


def add_nodes(tmp_path, **named) -> None:
    """Adopt nodes into the test's inventory: name=(mac, ip)."""
    inv = Inventory.load(tmp_path / "ruview.toml")
    for name, (mac, ip) in named.items():
        inv.upsert(mac, name=name, ip=ip)
    inv.save()


def mac_of(node) -> str:
    return node.mac.hex(":")


def wait_version(ip: str, version: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            st = get_status(ip, timeout=1.0)
            if st.version == version and st.ota_state in (None, "valid"):
                return st
        except Exception:  # noqa: BLE001 - still rebooting
            pass
        time.sleep(0.2)  # polling a remote node, not synchronisation
    pytest.fail(f"{ip} never ran {version}")


# --- 11.1: success is judged by the digest ------------------------------------------------------

def test_rolled_back_reinstall_of_the_same_version_is_not_reported_updated(fleet, env, image):
    fl = fleet(1)
    a = image("0.7.1", name="a.bin")
    b = image("0.7.1", name="b.bin", time="13:00:00")  # other bytes, same version
    r, doc = ota(env, a, addr(fl))
    assert r.returncode == 0 and doc["nodes"][0]["verified"] == "digest"
    fl.nodes[0].faults.crash_loop = True
    r, doc = ota(env, b, addr(fl), "--reinstall")
    node = doc["nodes"][0]
    assert r.returncode == 1, node
    assert node["outcome"] == "rolled_back" and node["verified"] is None
    assert "rolled back to 0.7.1" in node["message"]
    st = get_status(addr(fl))
    a_digest = inspect_image(open(a, "rb").read()).sha256
    assert st.app_sha256 == a_digest and st.rollback == "0.7.1"  # the node runs A again


# --- 11.2: --resume keeps the stored plan ------------------------------------------------------

def test_resume_keeps_the_plan_and_retries_the_failed_node_first(fleet, env, image):
    fl = fleet(5)
    ips = [n.ip for n in fl.nodes]
    fl.nodes[2].faults.crash_loop = True
    img = image("0.7.1")
    r, doc = ota(env, img, *ips, "--canary", "1", "--wave", "1", "--max-parallel", "1")
    assert r.returncode == 3
    assert [n["outcome"] for n in doc["nodes"]] == ["updated", "updated", "rolled_back",
                                                    "untouched", "untouched"]
    # The cause is still there: the resume retries that node alone, first, and halts again.
    r, doc = ota(env, "--resume")
    assert r.returncode == 3, r.stderr
    assert doc["plan"][0] == {"index": 0, "kind": "canary", "nodes": [ips[2]]}
    assert doc["plan_settings"]["wave"] == {"value": "1", "source": "journal"}
    assert doc["plan_settings"]["max_parallel"] == {"value": 1, "source": "journal"}
    nodes = by_key(doc)
    assert nodes[ips[2]]["outcome"] == "rolled_back" and doc["halted"] is True
    assert nodes[ips[3]]["outcome"] == nodes[ips[4]]["outcome"] == "untouched"
    assert get_status(ips[3]).version == get_status(ips[4]).version == "0.7.0"
    # Fixed: a flag given with --resume overrides the stored plan, and the plan says so.
    fl.nodes[2].faults.crash_loop = False
    r, doc = ota(env, "--resume", "--max-parallel", "2")
    assert r.returncode == 0, r.stderr
    assert doc["plan_settings"]["max_parallel"] == {"value": 2, "source": "flag"}
    assert doc["plan_settings"]["wave"]["source"] == "journal"
    assert [w["nodes"] for w in doc["plan"]] == [[ips[2]], [ips[3]], [ips[4]]]
    assert {get_status(ip).version for ip in ips} == {"0.7.1"}


# --- 11.3: a slow reboot is "unknown", and `ruview status` settles it --------------------------

def test_slow_reboot_is_unknown_and_status_settles_the_version(fleet, env, image, tmp_path):
    fl = fleet(1)
    node = fl.nodes[0]
    add_nodes(tmp_path, slow=(mac_of(node), node.ip))
    node.faults.slow_reboot_s = 6.0
    r, doc = ota(env, image("0.7.1"), "slow", node_timeout=2)
    res = doc["nodes"][0]
    assert r.returncode == 1
    assert res["outcome"] == "unknown" and "not seen after 2 s" in res["message"]
    assert "ruview status slow" in res["fix"] and res["version_after"] is None
    assert Inventory.load(tmp_path / "ruview.toml").get(mac_of(node)).version is None
    wait_version(node.ip, "0.7.1")  # it came up on the new image after all
    r = subprocess.run([RUVIEW, "status", "slow", "--json"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert Inventory.load(tmp_path / "ruview.toml").get(mac_of(node)).version == "0.7.1"


# --- 11.17: the key goes only where the node proved itself --------------------------------------

def test_moved_address_is_sent_no_key_until_confirmed(fleet, env, image, tmp_path):
    home = fleet(1)
    impostor = fleet(1, "ruview-0.6")  # knows the key too: anything keyed it gets, it uses
    add_nodes(tmp_path, kitchen=(mac_of(home.nodes[0]), addr(home)))
    r, doc = ota(env, image("0.7.1"), "kitchen")
    assert r.returncode == 0 and doc["nodes"][0]["outcome"] == "updated"
    # An advert claiming kitchen's MAC moved its inventory address to another device.
    add_nodes(tmp_path, kitchen=(mac_of(home.nodes[0]), addr(impostor)))
    r, doc = ota(env, image("0.7.2"), "kitchen")
    res = doc["nodes"][0]
    assert r.returncode == 1 and res["outcome"] == "failed" and res["bytes_sent"] == 0
    assert "nothing sent" in res["message"] and addr(home) in res["message"]
    assert "--accept-new-address" in res["fix"]
    assert get_status(addr(impostor)).version == "0.6.5"
    # The operator confirms the new address: updated, and the address is trusted from now on.
    r, doc = ota(env, image("0.7.2"), "kitchen", "--accept-new-address")
    assert r.returncode == 0 and get_status(addr(impostor)).version == "0.7.2"
    r, doc = ota(env, image("0.7.3"), "kitchen")
    assert r.returncode == 0 and doc["nodes"][0]["outcome"] == "updated"


def test_node_reporting_another_mac_is_sent_nothing(fleet, env, image, tmp_path):
    ours = fleet(1)
    other = fleet(1, seed=99)  # another device, other MAC
    add_nodes(tmp_path, kitchen=(mac_of(ours.nodes[0]), addr(other)))
    r, doc = ota(env, image("0.7.1"), "kitchen", "--accept-new-address")
    res = doc["nodes"][0]
    assert r.returncode == 1 and res["bytes_sent"] == 0
    assert "another device" in res["message"] and mac_of(other.nodes[0]) in res["message"]
    assert get_status(addr(other)).version == "0.7.0"


def test_same_node_at_a_new_address_is_confirmed_by_the_hmac_challenge(fleet, env, image,
                                                                       tmp_path, loopback):
    """Our firmware answers the challenge: the key never leaves this machine, so a node that
    reports the inventory's MAC at a new address is updated, and the update confirms it."""
    from ruview_cli.ota.trust import TrustRecord

    fl = fleet(1)
    mac = mac_of(fl.nodes[0])
    # it last proved itself at another address (say, before a new DHCP lease)
    TrustRecord(tmp_path / "ruview.ota-trust.json").verified(mac, loopback.addr(), 8032,
                                                              "hmac-sha256")
    add_nodes(tmp_path, kitchen=(mac, addr(fl)))
    r, doc = ota(env, image("0.7.1"), "kitchen")
    res = doc["nodes"][0]
    assert r.returncode == 0, res
    assert res["auth"] == "hmac-sha256" and res["verified"] == "digest"
    assert get_status(addr(fl)).version == "0.7.1"
    assert TrustRecord(tmp_path / "ruview.ota-trust.json").address(mac) == (addr(fl), 8032)


def test_a_node_that_answered_the_challenge_is_never_sent_the_key_in_clear(fleet, env, image,
                                                                          tmp_path):
    """Downgrade: the node once proved itself by HMAC; a device now at that address (with no
    MAC to show, like RuView 0.6.x) that asks for Bearer gets nothing keyed."""
    from ruview_cli.ota.trust import TrustRecord

    bearer_only = fleet(1, "ruview-0.6")
    mac = "34:85:18:00:00:01"
    TrustRecord(tmp_path / "ruview.ota-trust.json").verified(mac, addr(bearer_only), 8032,
                                                              "hmac-sha256")
    add_nodes(tmp_path, kitchen=(mac, addr(bearer_only)))
    r, doc = ota(env, image("0.7.1"), "kitchen")
    res = doc["nodes"][0]
    assert r.returncode == 1 and res["bytes_sent"] == 0 and res["auth"] is None
    assert "answered the HMAC challenge last time" in res["message"]
    assert "--accept-new-address" in res["fix"]
    assert get_status(addr(bearer_only)).version == "0.6.5"


def test_the_nodes_own_key_is_preferred_to_the_fleet_key(fleet, env, image, tmp_path):
    """Per-node keys (contract A): a stolen fleet key does not open a node with its own key."""
    from ruview_cli.inventory import Secrets

    fl = fleet(1)
    add_nodes(tmp_path, kitchen=(mac_of(fl.nodes[0]), addr(fl)))
    secrets = Secrets.load(tmp_path / "ruview.secrets.toml")
    secrets.set_ota_key(None, "fleet-key-that-is-not-this-nodes")
    secrets.set_ota_key(mac_of(fl.nodes[0]), PSK)
    secrets.save()
    r, doc = ota(env, image("0.7.1"), "kitchen", psk=None)
    assert r.returncode == 0, doc
    assert doc["nodes"][0]["auth"] == "hmac-sha256" and get_status(addr(fl)).version == "0.7.1"
    assert "fleet-key-that-is-not-this-nodes" not in r.stdout + r.stderr


def test_an_upload_in_progress_is_never_overwritten_by_a_second_one(fleet, env, image):
    """Another client's upload is in progress (held open here). The firmware's one HTTP server
    task serves one request at a time (ESP-IDF httpd), so `ruview ota` cannot get in: it must
    report a failure, never "updated", and write nothing over the other upload; once that
    client goes away the node answers again, still on its own image."""
    import hashlib
    import socket

    from ota_upload import hmac_authorization as contract_authorization

    fl = fleet(1)
    other = open(image("0.7.2", name="other.bin"), "rb").read()
    digest = hashlib.sha256(other).hexdigest()
    auth = contract_authorization(f"http://{addr(fl)}:8032", PSK, digest, len(other))
    head = (f"POST /ota HTTP/1.1\r\nHost: {addr(fl)}\r\nContent-Length: {len(other)}\r\n"
            f"X-Image-SHA256: {digest}\r\nAuthorization: {auth}\r\n\r\n").encode()
    with socket.create_connection((addr(fl), 8032), timeout=10) as held:
        held.sendall(head + other[:8192])
        r, doc = ota(env, image("0.7.1"), addr(fl), node_timeout=5, timeout=60)
    res = doc["nodes"][0]
    assert r.returncode == 1 and res["outcome"] != "updated", res
    assert get_status(addr(fl)).version == "0.7.0"


# --- 11.18: --all lists the nodes and asks ------------------------------------------------------

def run_in_terminal(cmd: list[str], env: dict, answer: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run cmd on a pseudo-terminal, answer the first [y/N] prompt, return (exit code, output)."""
    master, slave = pty.openpty()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, env=env,
                            close_fds=True)
    os.close(slave)
    out = b""
    answered = False
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
            if not answered and b"[y/N]" in out:
                os.write(master, answer)
                answered = True
        code = proc.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    return code, out.decode("utf-8", "replace")


def test_ota_all_shows_the_nodes_and_needs_confirmation(fleet, env, image, tmp_path):
    fl = fleet(2)
    add_nodes(tmp_path, attic=(mac_of(fl.nodes[0]), fl.nodes[0].ip),
              cellar=(mac_of(fl.nodes[1]), fl.nodes[1].ip))
    code, out = run_in_terminal([RUVIEW, "ota", image("0.7.1"), "--all", "--psk", PSK],
                                dict(env, COLUMNS="200"), b"n\n")
    prompt = out.index("[y/N]")
    assert "attic" in out[:prompt] and "cellar" in out[:prompt]
    assert fl.nodes[1].ip in out[:prompt]
    assert code == 1 and "cancelled" in out
    assert get_status(fl.nodes[0].ip).version == get_status(fl.nodes[1].ip).version == "0.7.0"
    # Without a terminal, --all without --yes is refused before anything is sent.
    r = subprocess.run([RUVIEW, "ota", image("0.7.1"), "--all", "--psk", PSK, "--json"],
                       env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL,
                       timeout=60)
    assert r.returncode == 2 and "--yes" in json.loads(r.stdout)["fix"]


# --- 10.11: the image's chip revision range is checked before sending --------------------------

def test_image_for_another_chip_revision_is_refused_unsent(fleet, env, image):
    fl = fleet(1)
    rev = get_status(addr(fl)).raw["chip_revision"]
    r, doc = ota(env, image("0.7.1", min_rev=rev + 1, max_rev=rev + 90), addr(fl))
    res = doc["nodes"][0]
    assert r.returncode == 1 and res["bytes_sent"] == 0
    assert f"v{rev // 100}.{rev % 100}" in res["message"] and "refused before upload" in res["message"]
    assert get_status(addr(fl)).version == "0.7.0"


# --- 10.10: a node whose bootloader cannot roll back says so, and ota/status show it ------------

def without_bootloader_rollback(node) -> None:
    """A node moved from RuView 0.6.x by OTA: its bootloader lacks rollback."""
    node.install_bootloader(rollback=False)
    node.reboot("poweron")


def test_node_without_rollback_is_flagged_by_ota_and_status(fleet, env, image, tmp_path):
    fl = fleet(1)
    node = fl.nodes[0]
    without_bootloader_rollback(node)
    wait_version(node.ip, "0.7.0")
    assert get_status(node.ip).raw["rollback_capable"] is False
    add_nodes(tmp_path, attic=(mac_of(node), node.ip))
    r = subprocess.run([RUVIEW, "status", "attic", "--json"], env=env, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0 and json.loads(r.stdout)["nodes"][0]["rollback_capable"] is False
    r = subprocess.run([RUVIEW, "status", "attic"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert "rollback_capable: false" in r.stdout
    r, doc = ota(env, image("0.7.1"), "attic")
    res = doc["nodes"][0]
    assert r.returncode == 0 and res["outcome"] == "updated" and res["verified"] == "digest"
    assert res["rollback_capable"] is False
    assert "rollback_capable: false" in res["warning"] and "ruview flash" in res["warning"]
