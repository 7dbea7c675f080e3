"""`ruview demo` is the README's first command: it must pass on a machine with no hardware."""

from __future__ import annotations

import json
import subprocess


def test_demo_runs_every_step_against_the_emulated_fleet(tmp_path):
    r = subprocess.run(["ruview", "demo", "--seconds", "4", "--json"], capture_output=True,
                       text=True, timeout=180, cwd=tmp_path)
    lines = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    steps = {line["step"]: line for line in lines if "step" in line}
    assert list(steps) == ["start", "discover", "provision", "ota", "tail"], r.stderr
    failed = {name: s["detail"] for name, s in steps.items() if not s["ok"]}
    assert not failed, failed
    assert "0.7.0 → 0.7.1" in steps["ota"]["detail"]
    assert "vital_int=500 ms" in steps["provision"]["detail"]
    summary = lines[-1]
    assert summary["ok"] is True
    nodes = summary["summary"]["nodes"]
    assert len(nodes) == 3 and all(n["packets"].get("vitals") for n in nodes)
    assert r.returncode == 0
    # Nothing was left behind in the working directory (the demo uses its own temp dir).
    assert list(tmp_path.iterdir()) == []
