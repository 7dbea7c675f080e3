"""`ruview ota` end to end: the installed CLI against emulated nodes of both flavours.

Images are real ESP32-S3 app images built by esptool's image module; nodes are SimFleets in
this process on their own 127.0.x.y addresses with real HTTP servers, A/B slots and rollback.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from ruview_cli.sim.appimage import build_app_image
from ruview_cli.sim.faults import NodeFaults
from ruview_cli.sim.fleet import SimFleet, FleetOptions

PSK = "e2e-ota-key-0123456789"
RUVIEW = shutil.which("ruview")


@pytest.fixture
def fleet(loopback):
    fleets = []

    def make(nodes=1, flavor="ours", psk=PSK, seed=0, **faults):
        # Faults from power-on: a link fault puts the emulator between client and firmware.
        fl = SimFleet(FleetOptions(nodes=nodes, flavor=flavor, psk=psk,
                                   first_host=loopback.hosts(nodes), seed=seed,
                                   mdns_interface="127.0.0.1", stream=False, pty=False,
                                   faults=NodeFaults(**faults)))
        fleets.append(fl)
        fl.start()
        for node in fl.nodes:
            node.ota_reboot_delay_s = 0.1
        return fl

    yield make
    for fl in fleets:
        fl.stop()


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e.pop("RUVIEW_OTA_PSK", None)
    e["RUVIEW_INVENTORY"] = str(tmp_path / "ruview.toml")
    e["RUVIEW_OTA_JOURNAL"] = str(tmp_path / "journal.json")
    e["COLUMNS"] = "200"
    return e


@pytest.fixture
def image(tmp_path):
    def make(version="0.7.1", name=None, **kw) -> str:
        path = tmp_path / (name or f"ruview-{version}.bin")
        path.write_bytes(build_app_image(version, **kw))
        return str(path)

    return make


def ota(env, *args, psk=PSK, timeout=60, node_timeout=8):
    cmd = [RUVIEW, "ota", *args, "--yes", "--json", "--timeout", str(node_timeout)]
    if psk:
        cmd += ["--psk", psk]
    r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if PSK in r.stdout + r.stderr or (psk and psk in r.stdout + r.stderr):
        pytest.fail("the OTA key was printed")
    doc = json.loads(r.stdout) if r.stdout.strip() else None
    return r, doc


def addr(fl, i=0) -> str:
    return fl.nodes[i].ip


def by_key(doc) -> dict:
    return {n["key"]: n for n in doc["nodes"]}


# --- single node ------------------------------------------------------------------------------

@pytest.mark.parametrize("flavor", ["ours", "ruview-0.6"])
def test_update_succeeds_and_new_version_runs(fleet, env, image, flavor):
    fl = fleet(1, flavor)
    r, doc = ota(env, image("0.7.1"), addr(fl))
    assert r.returncode == 0, r.stderr
    node = doc["nodes"][0]
    assert node["outcome"] == "updated"
    assert node["version_after"] == "0.7.1" and fl.nodes[0].version == "0.7.1"
    if flavor == "ours":
        # proven by the digest, authenticated without sending the key
        assert node["verified"] == "digest" and node["auth"] == "hmac-sha256"
        assert fl.nodes[0].ota_state == "valid" and node["warning"] is None
        assert node["rollback_capable"] is True
    else:
        assert node["verified"] == "version" and "version only" in node["message"]
        assert "no rollback" in node["warning"] and "in clear" in node["warning"]
        assert node["auth"] == "bearer" and node["rollback_capable"] is False
    # The same version again is skipped, not re-sent.
    r, doc = ota(env, image("0.7.1"), addr(fl))
    assert r.returncode == 0 and doc["nodes"][0]["outcome"] == "skipped"
    assert doc["nodes"][0]["bytes_sent"] == 0


@pytest.mark.parametrize("flavor", ["ours", "ruview-0.6"])
def test_wrong_psk_is_named_and_nothing_changes(fleet, env, image, flavor):
    fl = fleet(1, flavor)
    before = fl.nodes[0].version
    r, doc = ota(env, image("0.7.1"), addr(fl), psk="not-the-right-key")
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert node["outcome"] == "failed"
    assert "PSK is wrong" in node["message"] or "wrong or missing OTA key" in node["message"]
    assert "--psk" in node["fix"]
    assert fl.nodes[0].version == before


def test_wrong_psk_with_large_image_on_06_is_told_apart_from_network(fleet, env, image):
    """RuView 0.6.x closes the socket before reading the body: the client may only see a
    reset; a follow-up GET /ota/status shows the node is alive, so it is a refusal."""
    fl = fleet(1, "ruview-0.6")
    r, doc = ota(env, image("0.7.1", size=900_000), addr(fl), psk="not-the-right-key")
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert node["outcome"] == "failed"
    assert "PSK is wrong" in node["message"] or "wrong or missing OTA key" in node["message"]
    assert node["version_after"] == "0.6.5"


def test_node_without_key_says_how_to_provision_one(fleet, env, image):
    fl = fleet(1, "ours", psk=None)
    r, doc = ota(env, image("0.7.1"), addr(fl))
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert "no OTA key is provisioned" in node["message"]
    assert "ruview provision --ota-psk" in node["fix"]


def test_missing_key_on_our_side_fails_before_upload(fleet, env, image):
    fl = fleet(1)
    r, doc = ota(env, image("0.7.1"), addr(fl), psk=None)
    assert r.returncode == 1
    assert doc["nodes"][0]["message"] == "no OTA key for this node"
    assert doc["nodes"][0]["bytes_sent"] == 0


@pytest.mark.parametrize("kind", ["other_chip", "corrupt", "truncated"])
def test_bad_image_refused_before_any_network_io(env, image, tmp_path, kind, loopback):
    if kind == "other_chip":
        path = image("0.7.1", chip_id=5)
        expect = "ESP32-C3"
    else:
        data = bytearray(open(image("0.7.1"), "rb").read())
        if kind == "corrupt":
            data[5000] ^= 0xFF
            expect = "corrupt"
        else:
            data = data[: len(data) // 2]
            expect = "truncated"
        path = str(tmp_path / f"{kind}.bin")
        open(path, "wb").write(bytes(data))
    # A fresh address has no listener: any network attempt would say "unreachable".
    r, doc = ota(env, path, f"{loopback.addr()}:9")
    assert r.returncode == 1 and expect in r.stderr and "unreachable" not in r.stderr
    # --json: the error as a JSON object on stdout too (issue 11.4)
    assert doc["ok"] is False and expect in doc["error"] and doc["fix"]
    assert doc["exit_code"] == 1


def test_every_failure_path_gives_a_json_error(env, image, tmp_path, loopback):
    """--json failures before any node is touched: usage errors and file errors alike."""
    for args, code in (([str(tmp_path / "missing.bin"), f"{loopback.addr()}:9"], 2),
                       ([image("0.7.1")], 2),
                       (["--resume"], 2),
                       ([image("0.7.1"), f"{loopback.addr()}:9", "--max-parallel", "0"], 2),
                       ([image("0.7.1"), f"{loopback.addr()}:9", "--wave", "0%"], 2),
                       ([image("0.7.1"), "no-such-node"], 2)):
        r, doc = ota(env, *args)
        assert r.returncode == code, (args, r.stderr)
        assert doc is not None and doc["ok"] is False and doc["error"], args
        assert doc["exit_code"] == code


def test_image_larger_than_node_limit_is_refused_unsent(fleet, env, image):
    fl = fleet(1, "ruview-0.6")  # 921600-byte limit
    r, doc = ota(env, image("0.7.1", size=950_000), addr(fl))
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert "larger than the node's OTA limit of 921600 bytes" in node["message"]
    assert node["bytes_sent"] == 0 and fl.nodes[0].version == "0.6.5"


def test_downgrade_needs_allow_downgrade(fleet, env, image):
    fl = fleet(1)
    r, doc = ota(env, image("0.6.9"), addr(fl))
    assert r.returncode == 1 and "downgrade" in doc["nodes"][0]["message"]
    assert fl.nodes[0].version == "0.7.0"
    r, doc = ota(env, image("0.6.9"), addr(fl), "--allow-downgrade")
    assert r.returncode == 0 and fl.nodes[0].version == "0.6.9"


def test_dropped_upload_keeps_old_version_and_resume_succeeds(fleet, env, image):
    fl = fleet(1, drop_after_bytes=30_000)
    img = image("0.7.1")
    r, doc = ota(env, img, addr(fl))
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert node["outcome"] == "failed" and "cut" in node["message"]
    assert node["version_after"] == "0.7.0" and fl.nodes[0].version == "0.7.0"
    r, doc = ota(env, "--resume")
    assert r.returncode == 0, r.stderr
    assert doc["nodes"][0]["outcome"] == "updated" and fl.nodes[0].version == "0.7.1"


def test_dropped_upload_on_06_is_a_closed_connection_and_retry_succeeds(fleet, env, image):
    """0.6.x closes without a status on refusals too, so the message names both causes."""
    fl = fleet(1, "ruview-0.6", drop_after_bytes=30_000)
    r, doc = ota(env, image("0.7.1"), addr(fl))
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert "closed the connection during the upload" in node["message"]
    assert "still runs 0.6.5" in node["message"] and fl.nodes[0].version == "0.6.5"
    r, doc = ota(env, image("0.7.1"), addr(fl))
    assert r.returncode == 0 and fl.nodes[0].version == "0.7.1"


@pytest.mark.parametrize("fault", ["selftest_fail", "crash_loop"])
def test_failed_new_firmware_is_reported_as_rolled_back(fleet, env, image, fault):
    fl = fleet(1, **{fault: True})
    # A failing self-test gives up after the firmware's timeout (10 s in the host build's
    # sdkconfig); a crash rolls back at once.
    wait = 50 if fault == "selftest_fail" else 8
    r, doc = ota(env, image("0.7.1"), addr(fl), node_timeout=wait, timeout=wait + 60)
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert node["outcome"] == "rolled_back"
    assert node["rolled_back_from"] == "0.7.1"
    assert node["version_after"] == "0.7.0"
    assert "rolled back to 0.7.0" in node["message"]
    if fault == "selftest_fail":
        return   # the second attempt below is about the client, whatever failed: once is enough
    # A second attempt of the same image fails the same way; the rollback record left by the
    # first one must not be mistaken for the second's result before the node restarted.
    r, doc = ota(env, image("0.7.1"), addr(fl))
    assert r.returncode == 1 and doc["nodes"][0]["outcome"] == "rolled_back"
    assert doc["nodes"][0]["bytes_sent"] > 0 and fl.nodes[0].version == "0.7.0"


def test_crash_loop_on_06_reports_unknown_and_reflash(fleet, env, image):
    fl = fleet(1, "ruview-0.6", crash_loop=True)
    r, doc = ota(env, image("0.7.1"), addr(fl), node_timeout=3)
    assert r.returncode == 1
    node = doc["nodes"][0]
    assert node["outcome"] == "unknown" and "not seen after 3 s" in node["message"]
    assert node["version_after"] is None
    assert "ruview status" in node["fix"] and "ruview flash" in node["fix"]
    assert "no rollback" in node["warning"]


# --- fleets -----------------------------------------------------------------------------------

def test_canary_failure_halts_ten_node_rollout_then_resume(fleet, env, image, tmp_path):
    from ruview_cli.inventory import Inventory, Secrets

    fl = fleet(10)
    inv = Inventory.load(tmp_path / "ruview.toml")
    for i, node in enumerate(fl.nodes):
        inv.upsert(node.mac.hex(":"), name=f"n{i:02d}", ip=node.ip, group="lab")
    inv.save()
    secrets = Secrets.load(tmp_path / "ruview.secrets.toml")
    secrets.set_ota_psk(None, PSK)   # the key comes from the secrets file this time
    secrets.save()
    fl.nodes[0].faults.crash_loop = True   # the canary's update fails (and rolls back)

    img = image("0.7.1")
    r, doc = ota(env, img, "--group", "lab", "--max-parallel", "4", psk=None)
    assert r.returncode == 1, r.stderr
    nodes = by_key(doc)
    assert doc["plan"][0] == {"index": 0, "kind": "canary", "nodes": ["n00"]}
    assert nodes["n00"]["outcome"] == "rolled_back" and doc["halted"] is True
    assert [nodes[f"n{i:02d}"]["outcome"] for i in range(1, 10)] == ["untouched"] * 9
    assert [n.version for n in fl.nodes] == ["0.7.0"] * 10
    assert all(n.boot_count == 1 for n in fl.nodes[1:])  # the other nine never rebooted

    fl.nodes[0].faults.crash_loop = False
    r, doc = ota(env, "--resume", psk=None)
    assert r.returncode == 0, r.stderr
    assert {n["outcome"] for n in doc["nodes"]} == {"updated"}
    assert [n.version for n in fl.nodes] == ["0.7.1"] * 10
    # the inventory learnt the new versions
    assert {n.version for n in Inventory.load(tmp_path / "ruview.toml").nodes()} == {"0.7.1"}


def test_failure_in_a_later_wave_gives_partial_exit_code(fleet, env, image):
    fl = fleet(3)
    fl.nodes[2].faults.crash_loop = True
    r, doc = ota(env, image("0.7.1"), *[n.ip for n in fl.nodes], "--wave", "1")
    assert r.returncode == 3
    outcomes = [n["outcome"] for n in doc["nodes"]]
    assert outcomes == ["updated", "updated", "rolled_back"]


def test_dry_run_prints_the_plan_and_touches_nothing(fleet, env, image):
    fl = fleet(5)
    r, doc = ota(env, image("0.7.1"), *[n.ip for n in fl.nodes], "--dry-run", "--wave", "50%",
                 "--max-parallel", "2")
    assert r.returncode == 0
    assert [w["nodes"] for w in doc["plan"]] == [[fl.nodes[0].ip],
                                                 [n.ip for n in fl.nodes[1:3]],
                                                 [n.ip for n in fl.nodes[3:5]]]
    assert all(n.version == "0.7.0" and n.boot_count == 1 for n in fl.nodes)


def test_unknown_target_and_no_targets_are_usage_errors(env, image):
    r, _ = ota(env, image("0.7.1"), "no-such-node")
    assert r.returncode == 2 and "unknown node 'no-such-node'" in r.stderr
    r, _ = ota(env, image("0.7.1"))
    assert r.returncode == 2 and "no nodes given" in r.stderr


def test_unreachable_node(env, image, loopback):
    r, doc = ota(env, image("0.7.1"), f"{loopback.addr()}:9")
    assert r.returncode == 1 and doc["nodes"][0]["outcome"] == "unreachable"
