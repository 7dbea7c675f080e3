"""`ruview demo` is the README's first command: it must pass on a machine with no hardware, and
what its nodes report must be what the emulated room holds."""

from __future__ import annotations

import json
import subprocess

from ruview_cli.demo import (BREATHING_TOLERANCE_BPM, DEMO_SCENARIO_PARAMS, DEMO_SEED, TAIL_SECONDS,
                             vitals_against_scenario)
from ruview_cli.sim.scenarios import make_scenario


def demo(tmp_path, seconds: float):
    r = subprocess.run(["ruview", "demo", "--seconds", f"{seconds:g}", "--json"], capture_output=True,
                       text=True, timeout=180, cwd=tmp_path)
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
    # The room: one person, standing still, breathing at the scenario's rate (its own truth,
    # from the scenario, not from the node).
    truth = make_scenario("breathing", seed=DEMO_SEED, **DEMO_SCENARIO_PARAMS).truth(60.0)
    vitals = summary["summary"]["vitals"]
    assert len(vitals) == 3
    spoke = [v for v in vitals if v["breathing_bpm"] is not None]
    assert spoke and truth.persons == 1  # the firmware may still abstain on a node, not on all
    for v in spoke:
        assert v["presence"] is True and abs(v["breathing_bpm"] - truth.breathing_bpm[0]) <= BREATHING_TOLERANCE_BPM, v
    # Nothing was left behind in the working directory (the demo uses its own temp dir).
    assert list(tmp_path.iterdir()) == []


def test_demo_too_short_for_an_estimate_fails_its_tail_step_and_says_why(tmp_path):
    r, steps, summary = demo(tmp_path, 2)
    assert r.returncode == 1 and summary["ok"] is False
    assert steps["tail"]["ok"] is False and "not what the scenario shows" in steps["tail"]["detail"]
    assert f"--seconds {TAIL_SECONDS:.0f}" in steps["tail"]["detail"]


def test_the_scenario_check_names_what_disagrees():
    good = {"node_id": 1, "presence": True, "n_persons": 1, "breathing_bpm": 15.4}
    silent = {"node_id": 3, "presence": False, "n_persons": 0, "breathing_bpm": None}
    assert vitals_against_scenario([good, silent]) == []  # abstaining is not wrong
    wrong = vitals_against_scenario([{**good, "breathing_bpm": 18.0},
                                     {**good, "node_id": 2, "presence": False}])
    assert len(wrong) == 2 and "breathing 18.0" in wrong[0] and "node 2: breathing 15.4 without presence" in wrong[1]
    (nothing,) = vitals_against_scenario([silent])
    assert nothing.startswith("no node estimated a breathing rate")
