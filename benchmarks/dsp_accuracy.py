#!/usr/bin/env python3
"""How well does the firmware's edge DSP measure what happened? (issue 13)

Runs seeded scenarios of the realistic channel model (ruview_cli.sim.scenarios / channel / body:
static TGn-style multipath, multi-point body, CFO/STO, AGC steps, noise, int8, ESP32 layout,
drops and jitter) through the firmware core itself (ruview_cli._edge.EdgePipeline, tier 2,
firmware defaults), decodes the vitals packets with ruview_cli.protocol and compares them with
the ground truth. Per frame rate (default 10, 20, 28.5 and 100 Hz), per seed, five runs:

  still   one person standing, sitting or lying still (rotating), breathing 8-24 BPM, heart
          55-100 BPM, body reflection -16..-8 dB, SNR 20-30 dB, AGC steps on; 90 s, scored
          after 30 s: breathing MAE + coverage (share of vitals packets with an estimate),
          presence detected, the person count when present (one person: right if 1),
          heart-rate MAE on what is reported + share reported
  two     two people still, breathing 8-14 and 17-24 BPM, radio as `still`; 90 s scored after
          30 s: counted as two when present
  empty   empty room, SNR 10-30 dB, AGC steps on; 150 s scored after 30 s: false presence
  fall    a fall at 40-46 s, alternately from standing and at the end of 8 s of walking
          (-16..-8 dB, SNR 20-30 dB): recall = fall flag within 8 s of the onset
  daily   4 min of standing, walking, sitting down, standing up and bending over, no fall
          (-16..-8 dB, SNR 20-30 dB): false falls per hour

Every MAE is printed with its coverage. Seeds are the same for every rate.

    python benchmarks/dsp_accuracy.py                  # 100 seeds per rate, all cores (~8 min on 2)
    python benchmarks/dsp_accuracy.py --seeds 20       # quicker look
    python benchmarks/dsp_accuracy.py --json
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time
from multiprocessing import Pool

from ruview_cli.protocol import decode
from ruview_cli.protocol.magics import MAGIC_VITALS
from ruview_cli.sim.scenarios import make_scenario

try:
    from ruview_cli import _edge
except ImportError as exc:  # pragma: no cover - build problem, say how to fix it
    sys.exit(f"ruview_cli._edge is not built ({exc}); run: pip install -e . --no-build-isolation")

VITALS_MAGIC = MAGIC_VITALS.to_bytes(4, "little")
WARMUP_S = 30.0
FALL_WINDOW_S = 8.0  # onset to flag: the fall (1-1.5 s), 4 s lying still, the next vitals packet
POSTURES = ("stand", "sit", "lie")


def run(sc, duration_s: float) -> list:
    """Every frame through a fresh tier-2 pipeline: [(scenario time, Vitals)]."""
    pipe = _edge.EdgePipeline(edge_tier=2)
    process = pipe.process
    out = []
    for f in sc.frames(duration_s):
        for d in process(f.iq, f.rssi, f.channel, f.timestamp_us, f.noise_floor):
            if d[:4] == VITALS_MAGIC:
                out.append((f.t, decode(d)))
    return out


def _radio(r: random.Random, rate: float, snr=(20.0, 30.0), body=(-16.0, -8.0)) -> dict:
    return {"rate_hz": rate, "snr_db": r.uniform(*snr), "body_db": r.uniform(*body), "agc": 1}


def task_still(rate: float, seed: int) -> dict:
    r = random.Random(seed)
    sc = make_scenario("breathing", seed=seed, rate_bpm=r.uniform(8.0, 24.0), heart_bpm=r.uniform(55.0, 100.0),
                       posture=POSTURES[seed % 3], **_radio(r, rate))
    res = {"n": 0, "present": 0, "br_n": 0, "br_err": 0.0, "hr_n": 0, "hr_err": 0.0, "hr_bad": 0,
           "one": 0}
    for t, v in run(sc, 90.0):
        if t < WARMUP_S:
            continue
        truth = sc.truth(t)
        res["n"] += 1
        res["present"] += v.presence
        res["one"] += v.presence and v.n_persons == truth.persons  # counted right, when present
        if v.breathing_bpm:
            res["br_n"] += 1
            res["br_err"] += abs(v.breathing_bpm - truth.breathing_bpm[0])
        if v.heart_bpm:
            e = abs(v.heart_bpm - truth.heart_bpm[0])
            res["hr_n"] += 1
            res["hr_err"] += e
            res["hr_bad"] += e > 10.0
    return res


def task_two(rate: float, seed: int) -> dict:
    """Two people standing still, breathing at rates at least 3 BPM apart: counted as two?"""
    r = random.Random(seed + 20_000)
    sc = make_scenario("two-people", seed=seed, rate_bpm=r.uniform(8.0, 14.0),
                       rate2_bpm=r.uniform(17.0, 24.0), **_radio(r, rate))
    vit = [v for t, v in run(sc, 90.0) if t >= WARMUP_S]
    return {"two_present": sum(v.presence for v in vit),
            "two_right": sum(v.presence and v.n_persons == 2 for v in vit)}


def task_empty(rate: float, seed: int) -> dict:
    r = random.Random(seed + 10_000)
    sc = make_scenario("empty", seed=seed, **_radio(r, rate, snr=(10.0, 30.0)))
    vit = [v for t, v in run(sc, 150.0) if t >= WARMUP_S]
    return {"empty_n": len(vit), "empty_present": sum(v.presence for v in vit)}


def _fall_events(vitals) -> list[float]:
    """Rising edges of the fall flag (a latched fall may span more than one packet)."""
    events, prev = [], False
    for t, v in vitals:
        if v.fall and not prev:
            events.append(t)
        prev = v.fall
    return events


def task_fall(rate: float, seed: int) -> dict:
    r = random.Random(seed + 20_000)
    before = ("stand", "walk")[seed % 2]
    sc = make_scenario("fall", seed=seed, t=40.0 + seed % 7, before=before, **_radio(r, rate))
    tf = sc.fall_times(1e9)[0]
    vit = run(sc, tf + FALL_WINDOW_S + 2.0)
    hit = any(tf <= t <= tf + FALL_WINDOW_S for t in _fall_events(vit))
    return {f"fall_{before}_n": 1, f"fall_{before}_hit": int(hit)}


def task_daily(rate: float, seed: int) -> dict:
    r = random.Random(seed + 30_000)
    sc = make_scenario("mixed", seed=seed, **_radio(r, rate))
    dur = 240.0
    ev = [t for t in _fall_events(run(sc, dur)) if t >= WARMUP_S]
    return {"daily_s": dur - WARMUP_S, "daily_falls": len(ev)}


TASKS = {"still": task_still, "two": task_two, "empty": task_empty, "fall": task_fall, "daily": task_daily}


def _do(job):
    kind, rate, seed = job
    return rate, TASKS[kind](rate, seed)


def summarise(acc: dict) -> dict:
    def div(a, b):
        return a / b if b else math.nan

    falls_n = acc.get("fall_stand_n", 0) + acc.get("fall_walk_n", 0)
    falls_hit = acc.get("fall_stand_hit", 0) + acc.get("fall_walk_hit", 0)
    return {
        "breathing_mae_bpm": div(acc.get("br_err", 0.0), acc.get("br_n", 0)),
        "breathing_coverage": div(acc.get("br_n", 0), acc.get("n", 0)),
        "presence_still": div(acc.get("present", 0), acc.get("n", 0)),
        "persons_right": div(acc.get("one", 0), acc.get("present", 0)),
        "two_right": div(acc.get("two_right", 0), acc.get("two_present", 0)),
        "false_presence_empty": div(acc.get("empty_present", 0), acc.get("empty_n", 0)),
        "heart_mae_bpm": div(acc.get("hr_err", 0.0), acc.get("hr_n", 0)),
        "heart_reported": div(acc.get("hr_n", 0), acc.get("n", 0)),
        "heart_off_by_10": div(acc.get("hr_bad", 0), acc.get("hr_n", 0)),
        "fall_recall": div(falls_hit, falls_n),
        "fall_recall_standing": div(acc.get("fall_stand_hit", 0), acc.get("fall_stand_n", 0)),
        "fall_recall_walking": div(acc.get("fall_walk_hit", 0), acc.get("fall_walk_n", 0)),
        "false_falls_per_h": div(acc.get("daily_falls", 0), acc.get("daily_s", 0.0) / 3600.0),
        "daily_hours": acc.get("daily_s", 0.0) / 3600.0,
        "still_packets": acc.get("n", 0),
        "empty_packets": acc.get("empty_n", 0),
        "falls": falls_n,
    }


def _pct(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{100 * x:.1f} %"


def _num(x: float, spec: str = ".2f") -> str:
    return "none" if math.isnan(x) else format(x, spec)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="10,20,28.5,100", help="frame rates, Hz (comma separated)")
    ap.add_argument("--seeds", type=int, default=100, help="seeded runs per kind and rate (default 100)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes (default: all cores)")
    ap.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    args = ap.parse_args(argv)
    rates = [float(x) for x in args.rates.split(",")]
    jobs = [(k, rate, seed) for seed in range(args.seeds) for rate in rates for k in TASKS]
    t0 = time.perf_counter()
    acc: dict[float, dict] = {rate: {} for rate in rates}
    with Pool(args.jobs) as pool:
        for rate, res in pool.imap_unordered(_do, jobs, chunksize=2):
            a = acc[rate]
            for k, v in res.items():
                a[k] = a.get(k, 0) + v
    elapsed = time.perf_counter() - t0
    results = {f"{rate:g}": summarise(acc[rate]) for rate in rates}
    if args.json:
        print(json.dumps({"seeds": args.seeds, "jobs": args.jobs, "elapsed_s": elapsed, "rates": results},
                         default=lambda x: None))
        return 0
    cols = list(results)
    rows = [
        ("breathing MAE, BPM [estimate in % of packets]", "<= 1.0 [>= 80 %]",
         lambda r: f"{_num(r['breathing_mae_bpm'])} [{_pct(r['breathing_coverage'])}]"),
        ("still person: presence detected", ">= 95 %", lambda r: _pct(r["presence_still"])),
        ("still person: counted as one (of presence)", "-", lambda r: _pct(r["persons_right"])),
        ("two still people: counted as two (of presence)", "-", lambda r: _pct(r["two_right"])),
        ("empty room: false presence", "<= 1 %", lambda r: _pct(r["false_presence_empty"])),
        ("heart-rate MAE, BPM [reported in % of packets]", "<= 5 [stated]",
         lambda r: f"{_num(r['heart_mae_bpm'])} [{_pct(r['heart_reported'])}]"),
        ("heart rate off by > 10 BPM (of reported)", "-", lambda r: _pct(r["heart_off_by_10"])),
        ("fall recall (standing / after walking)", ">= 90 %",
         lambda r: f"{_pct(r['fall_recall'])} ({_pct(r['fall_recall_standing'])} / {_pct(r['fall_recall_walking'])})"),
        ("false falls / h (walk, sit down, bend)", "<= 1", lambda r: _num(r["false_falls_per_h"])),
    ]
    w0 = max(len(r[0]) for r in rows)
    widths = [max(len(f"{c} Hz"), *(len(fn(results[c])) for _, _, fn in rows)) for c in cols]
    print(f"ruview edge DSP on the realistic channel model: {args.seeds} seeds x {len(TASKS)} runs per rate, tier 2, defaults")
    print(f"{'metric':<{w0}}  {'goal':<16}  " + "  ".join(f"{c + ' Hz':>{w}}" for c, w in zip(cols, widths)))
    for label, goal, fn in rows:
        print(f"{label:<{w0}}  {goal:<16}  " + "  ".join(f"{fn(results[c]):>{w}}" for c, w in zip(cols, widths)))
    r0 = results[cols[0]]
    print(f"per rate: {r0['still_packets']} still-person and {r0['empty_packets']} empty-room vitals packets "
          f"(after {WARMUP_S:g} s), {r0['falls']} falls, {r0['daily_hours']:.1f} h of daily activity")
    print(f"elapsed {elapsed:.0f} s on {args.jobs} processes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
