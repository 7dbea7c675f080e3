"""`ruview demo` is the README's first command: it must pass on a machine with no hardware, and
what its nodes report must be what the emulated room holds."""

from __future__ import annotations

import json
import os
import subprocess

from ruview_cli.demo import (BREATHING_TOLERANCE_BPM, DEMO_SCENARIO_PARAMS, DEMO_SEED, TAIL_SECONDS,
                             vitals_against_scenario)
from ruview_cli.sim.scenarios import make_scenario
from ruview_cli.sim.streamer import FleetStreamer


def demo(tmp_path, seconds: float, env: dict | None = None):
    r = subprocess.run(["ruview", "demo", "--seconds", f"{seconds:g}", "--json"], capture_output=True,
                       text=True, timeout=180, cwd=tmp_path, env=env)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    return r, {line["step"]: line for line in lines if "step" in line}, lines[-1]


def test_demo_runs_every_step_and_reports_the_scenario(tmp_path):
    from ruview_cli.demo import mosquitto_binary

    r, steps, summary = demo(tmp_path, TAIL_SECONDS)
    # With a Mosquitto on the machine (CI installs it) the demo also bridges to MQTT.
    bridge = ["bridge"] if mosquitto_binary() else []
    assert list(steps) == ["start", "discover", "provision", "ota", "tail", *bridge], r.stderr
    failed = {name: s["detail"] for name, s in steps.items() if not s["ok"]}
    assert not failed, failed
    assert "0.7.0 → 0.7.1" in steps["ota"]["detail"]
    assert "vital_int=500 ms" in steps["provision"]["detail"]
    if bridge:
        assert "discovery for 3 devices, state messages from 3 nodes" in steps["bridge"]["detail"]
    assert summary["ok"] is True and r.returncode == 0
    nodes = summary["summary"]["nodes"]
    assert len(nodes) == 3 and all(n["packets"].get("vitals") for n in nodes)
    # Each node's room: one person, still, breathing at its scenario's rate. The truth the demo
    # printed is the scenario's own (seeded per node), not something the node said.
    vitals = summary["summary"]["vitals"]
    assert len(vitals) == 3
    streamer = FleetStreamer("breathing", DEMO_SCENARIO_PARAMS, seed=DEMO_SEED)
    for i, v in enumerate(sorted(vitals, key=lambda v: v["node_id"])):  # node i + 1 is fleet index i
        room = make_scenario("breathing", seed=streamer.room_seed(i), **DEMO_SCENARIO_PARAMS)
        rates = [room.truth(float(t)).breathing_bpm[0] for t in range(180)]  # varies breath to breath
        assert v["room"]["persons"] == room.truth(30.0).persons == 1
        assert min(rates) - 0.01 <= v["room"]["breathing_bpm"] <= max(rates) + 0.01, (v, min(rates), max(rates))
    spoke = [v for v in vitals if v["breathing_bpm"] is not None]
    assert spoke  # the firmware may still abstain on a node, not on all
    for v in spoke:
        assert v["presence"] is True, v
        assert abs(v["breathing_bpm"] - v["room"]["breathing_bpm"]) <= BREATHING_TOLERANCE_BPM, v
    silent = [str(v["node_id"]) for v in vitals if v["breathing_bpm"] is None]
    if silent:  # the step names them rather than claiming all three
        assert f"node {', '.join(silent)} had not yet" in steps["tail"]["detail"]
    else:
        assert "3 of 3 estimated" in steps["tail"]["detail"]
    # Nothing was left behind in the working directory (the demo uses its own temp dir).
    assert list(tmp_path.iterdir()) == []


def test_failed_steps_say_why_and_the_demo_still_finishes(tmp_path):
    # A watch too short for an estimate, and a Mosquitto that dies at start (a stand-in that
    # exits 1 first on PATH): each is its step's failure, named; the others still run.
    bin_dir, work = tmp_path / "bin", tmp_path / "work"
    bin_dir.mkdir()
    work.mkdir()
    fake = bin_dir / "mosquitto"
    fake.write_text("#!/bin/sh\nexit 1\n")
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    r, steps, summary = demo(work, 2, env=env)
    assert r.returncode == 1 and summary["ok"] is False
    assert [name for name, s in steps.items() if s["ok"]] == ["start", "discover", "provision", "ota"]
    assert steps["tail"]["ok"] is False and "no node estimated a breathing rate yet" in steps["tail"]["detail"]
    assert f"--seconds {2 * TAIL_SECONDS:.0f}" in steps["tail"]["detail"]
    assert "the local Mosquitto exited at once (status 1)" in steps["bridge"]["detail"]
    assert len(summary["summary"]["vitals"]) == 3  # what the nodes said is still reported
    assert list(work.iterdir()) == []


def test_the_help_states_the_demos_own_default():
    from ruview_cli.cli import demo as cli_demo

    assert cli_demo.TAIL_SECONDS == TAIL_SECONDS  # repeated there so --help imports nothing heavy


def test_the_room_check_names_what_disagrees():
    room = {"persons": 1, "breathing_bpm": 15.0}
    good = {"node_id": 1, "presence": True, "n_persons": 1, "breathing_bpm": 15.4, "room": room}
    silent = {"node_id": 3, "presence": False, "n_persons": 0, "breathing_bpm": None, "room": room}
    assert vitals_against_scenario([good, silent]) == []  # abstaining is not wrong
    wrong = vitals_against_scenario([{**good, "breathing_bpm": 18.0},
                                     {**good, "node_id": 2, "presence": False},
                                     {**good, "node_id": 4, "room": {"persons": 0, "breathing_bpm": None}}])
    assert len(wrong) == 3
    assert "breathing 18.0 (room: 15.0 BPM)" in wrong[0]
    assert "node 2: breathing 15.4 without presence" in wrong[1]
    assert "node 4: breathing 15.4 in an empty room" in wrong[2]
    (nothing,) = vitals_against_scenario([silent])
    assert nothing.startswith("no node estimated a breathing rate")
