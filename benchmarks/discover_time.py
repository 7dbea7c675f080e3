"""How fast `ruview discover` lists an emulated fleet: 10 and 50 sim nodes on 127.0.0.N.

For each fleet size, in one run: the time from the start of discovery until every node has been
listed (resolved from mDNS, with address and MAC), and the fraction of the fleet in the result
of a default 2 s discovery. Goal: 50 of 50 within 2 s.

    python benchmarks/discover_time.py [--sizes 10,50] [--window 2.0] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time


def measure(n: int, window: float, first_host: int, seed: int, settle: float) -> dict:
    from ruview_cli.discovery import discover
    from ruview_cli.sim.fleet import FleetOptions, SimFleet

    fleet = SimFleet(FleetOptions(nodes=n, flavor="ours", mdns_interface="127.0.0.1",
                                  first_host=first_host, seed=seed, pty=False, stream=False))
    try:
        t_up = time.monotonic()
        infos = fleet.start()
        fleet.wait_ready()
        startup_s = time.monotonic() - t_up
        # let the fleet's own announcements die down, so what is measured is a browse that
        # asks (QM) and resolves the answers from the cache, as for a fleet already running
        threading.Event().wait(settle)
        wanted = {i["mac"] for i in infos}
        first_seen: dict[str, float] = {}
        lock = threading.Lock()
        t0 = time.monotonic()

        def on_sighting(s):
            if s.mac in wanted:
                with lock:
                    first_seen.setdefault(s.mac, time.monotonic() - t0)

        rows = discover(timeout=window, interface="127.0.0.1", on_sighting=on_sighting)
        total_s = time.monotonic() - t0
        listed = {r.mac for r in rows if r.mac in wanted and not r.stale and r.ip}
        all_seen = max(first_seen.values()) if len(first_seen) == n else None
        return {"nodes": n, "found": len(listed), "fraction": len(listed) / n,
                "time_to_all_s": round(all_seen, 3) if all_seen is not None else None,
                "first_s": round(min(first_seen.values()), 3) if first_seen else None,
                "discover_call_s": round(total_s, 3), "window_s": window,
                "fleet_startup_s": round(startup_s, 2)}
    finally:
        fleet.stop()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="10,50")
    ap.add_argument("--window", type=float, default=2.0)
    ap.add_argument("--settle", type=float, default=4.0,
                    help="seconds between fleet start-up and discovery")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    seed = 5000 + os.getpid() % 1000
    results = []
    for i, n in enumerate(int(x) for x in args.sizes.split(",")):
        results.append(measure(n, args.window, first_host=(212 + i) * 256 + 2, seed=seed + i,
                               settle=args.settle))
    if args.json:
        print(json.dumps({"results": results}))
    else:
        print(f"{'nodes':>5} {'found':>6} {'fraction':>8} {'all listed after':>17} "
              f"{'first':>7} {'discover()':>10}")
        for r in results:
            t_all = f"{r['time_to_all_s']:.3f} s" if r["time_to_all_s"] is not None else "never"
            first = f"{r['first_s']:.3f} s" if r["first_s"] is not None else "—"
            print(f"{r['nodes']:>5} {r['found']:>6} {r['fraction']:>8.2f} {t_all:>17} "
                  f"{first:>7} {r['discover_call_s']:>8.3f} s")
        goal = next((r for r in results if r["nodes"] == 50), None)
        if goal is not None:
            ok = goal["found"] == 50 and goal["time_to_all_s"] is not None \
                and goal["time_to_all_s"] <= 2.0
            print(f"goal 50/50 within 2 s: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
