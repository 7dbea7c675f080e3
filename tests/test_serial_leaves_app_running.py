"""Every serial command leaves the node running its app (issue 11 item 6).

esptool puts the chip into its ROM loader, where the app does not run (HTTP refused, telemetry
stopped). After `config show`, a `provision` that finds nothing to change, `provision --no-reset`,
`provision --dry-run` with a port, a failed provision and `flash`, the emulated node must answer
GET /ota/status again: the real CLI and the real esptool against emulated nodes.
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ruview_cli.sim.fleet import FleetOptions, SimFleet
from tests.test_provision_e2e import answers_status, env, ruview  # noqa: F401  (env: fixture)

RUVIEW = shutil.which("ruview")


@pytest.fixture(scope="module")
def fleet(loopback):
    fl = SimFleet(FleetOptions(nodes=3, first_host=loopback.hosts(3),
                               mdns_interface="127.0.0.1", stream=False, seed=11))
    fl.start()
    yield fl
    fl.stop()


@pytest.mark.parametrize("wire", ["serial_url", "pty"])
def test_config_show_leaves_the_node_running(fleet, env, wire):
    before = fleet.endpoints[0].loader.resets
    r = ruview(env, "config", "show", "--port", fleet.describe(0)[wire], "--json")
    assert r.returncode == 0, r.output
    assert answers_status(fleet, 0) is not None, f"node left in state {fleet.nodes[0].state}"
    assert fleet.endpoints[0].loader.resets == before + 1


def test_provision_without_change_leaves_the_node_running(fleet, env):
    url = fleet.describe(1)["serial_url"]
    first = ruview(env, "provision", "--port", url, "--yes", "--node-id", "41", "--ota-psk", "z" * 40)
    assert first.returncode == 0, first.output
    again = ruview(env, "provision", "--port", url, "--yes", "--json", "--node-id", "41")
    assert again.returncode == 0, again.output
    res = json.loads(again.stdout)["results"][0]
    assert res["written"] is False and res["after"] == "hard-reset"
    st = answers_status(fleet, 1)
    assert st is not None and st["node_id"] == 41


@pytest.mark.parametrize("node_id,loader_args", [(42, ()), (43, ("--no-stub",))])
def test_provision_no_reset_writes_and_leaves_the_node_running(fleet, env, node_id, loader_args):
    loader = fleet.endpoints[2].loader
    resets = loader.resets
    r = ruview(env, "provision", "--port", fleet.describe(2)["pty"], "--yes", "--json",
               "--no-reset", "--node-id", str(node_id), "--ota-psk", "y" * 40, *loader_args)
    assert r.returncode == 0, r.output
    res = json.loads(r.stdout)["results"][0]
    assert res["written"] and res["verified"]
    assert res["reset"] is False and res["after"] == "run-app"   # no reset pulse was asked for
    st = answers_status(fleet, 2)
    assert st is not None, f"node left in state {fleet.nodes[2].state}"
    assert st["node_id"] == node_id                              # the app read what was written
    assert loader.resets == resets + 1


def test_dry_run_from_a_port_and_a_refused_write_leave_the_node_running(fleet, env, tmp_path):
    url = fleet.describe(0)["serial_url"]
    r = ruview(env, "provision", "--port", url, "--dry-run", str(tmp_path / "img.bin"),
               "--vital-int", "700")
    assert r.returncode == 0, r.output
    assert answers_status(fleet, 0) is not None, f"node left in state {fleet.nodes[0].state}"
    # the operator declines at the prompt: nothing written, the node still runs
    d = subprocess.run([RUVIEW, "provision", "--port", url, "--vital-int", "800"], input="n\n",
                       capture_output=True, text=True, env=env, timeout=120)
    assert d.returncode == 1, d.stdout + d.stderr
    assert answers_status(fleet, 0) is not None, f"node left in state {fleet.nodes[0].state}"


def test_flash_leaves_the_node_running(loopback, tmp_path):
    from tests.test_flash_e2e import make_build

    build = make_build(tmp_path, version="0.8.1")
    with SimFleet(FleetOptions(nodes=1, first_host=loopback.hosts(1), stream=False, pty=False,
                               mdns_interface="127.0.0.1")) as fl:
        fl.start()
        r = subprocess.run([RUVIEW, "flash", str(build), "--port", fl.describe(0)["serial_url"]],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        st = answers_status(fl, 0)
        assert st is not None and st["version"] == "0.8.1"
