#!/usr/bin/env python3
"""Start-up time of `ruview` commands against `python -c "import typer, rich"`, as ratios.

Each pair runs the baseline and the command back to back in fresh processes (order alternating,
so a slow moment of the shared machine hits both sides alike); the ratio is the median of the
per-pair ratios. Measured commands (what a script calls most, and the help a newcomer reads):

  * ruview --help
  * ruview nodes list --json   (a temporary, empty inventory via RUVIEW_INVENTORY)
  * ruview tail --help

Goal (issue 14): every ratio <= 1.5. Not part of the test suite.
Run: python benchmarks/startup.py [--pairs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

GOAL = 1.5
COMMANDS = (["--help"], ["nodes", "list", "--json"], ["tail", "--help"])


def _run(argv: list[str], env: dict) -> float:
    start = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=15, help="pairs per command (default 15, at least 10)")
    args = ap.parse_args()
    pairs = max(10, args.pairs)
    ruview = shutil.which("ruview")
    if ruview is None:
        sys.exit("ruview is not on PATH: activate the venv that installed it (make install)")
    baseline = [sys.executable, "-c", "import typer, rich"]
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, "RUVIEW_INVENTORY": os.path.join(tmp, "ruview.toml")}
        _run(baseline, env)  # warm the file cache once for both sides
        print(f"{'command':28} {'baseline s':>10} {'ruview s':>9} {'ratio':>6}  goal <= {GOAL}")
        for cmd in COMMANDS:
            argv = [ruview, *cmd]
            _run(argv, env)
            base, ours, ratios = [], [], []
            for i in range(pairs):
                if i % 2:
                    t_ours, t_base = _run(argv, env), _run(baseline, env)
                else:
                    t_base, t_ours = _run(baseline, env), _run(argv, env)
                base.append(t_base)
                ours.append(t_ours)
                ratios.append(t_ours / t_base)
            ratio = statistics.median(ratios)
            failed |= ratio > GOAL
            print(f"{'ruview ' + ' '.join(cmd):28} {statistics.median(base):10.3f} "
                  f"{statistics.median(ours):9.3f} {ratio:6.2f}  {'ok' if ratio <= GOAL else 'MISSED'}")
    print(f"median of {pairs} pairs per command; baseline: {' '.join(baseline[1:])!s}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
