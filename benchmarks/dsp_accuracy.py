#!/usr/bin/env python3
"""How well does the firmware's edge DSP measure what happened? (issue 3)

Runs synthetic CSI scenarios (ruview_cli.sim.scenarios) through the firmware core itself
(ruview_cli._edge.EdgePipeline, tier 2, firmware defaults) at 10, 20 and 28.5 Hz, decodes the
vitals packets with ruview_cli.protocol, compares them with the scenarios' ground truth and
prints one table with the goals and a ratio per goal (ratio <= 1 meets the goal):

  breathing MAE        |reported - true| BPM over vitals packets after warm-up   goal <= 0.5
  heart-rate MAE       same for heart rate                                       goal <= 2
  presence latency     worst delay from a person entering to the presence flag   goal <= 2 s
  false presence       vitals packets flagging presence in an empty room, after
                       the adaptive calibration (fraction of intervals)          goal <= 1 %
  fall recall          seeded falls after the warm-up (half after 8 s of walking,
                       half from standing) flagged within 3 s + one vitals
                       interval                                                  goal >= 95 %
  false alarms / h     fall events in an hour of alternating breathing/walking   goal 0
  n_persons accuracy   vitals packets whose n_persons equals the truth (0/1/2), in
                       still periods after warm-up, people arriving after the
                       calibration (and the walking scenario)                    (reported)

Also measures the scenario generator's own speed (how many 28.5 Hz nodes it can feed in real
time). Simulated time runs as fast as possible; the whole run takes ~1-3 minutes.

    python benchmarks/dsp_accuracy.py            # full run
    python benchmarks/dsp_accuracy.py --quick    # fewer seeds, 10 min instead of an hour
    python benchmarks/dsp_accuracy.py --json     # machine-readable numbers
    python benchmarks/dsp_accuracy.py --jobs 3   # one process per frame rate
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from dataclasses import dataclass, field

from ruview_cli.protocol import decode
from ruview_cli.protocol.magics import MAGIC_VITALS
from ruview_cli.sim.scenarios import make_scenario

try:
    from ruview_cli import _edge
except ImportError as exc:  # pragma: no cover - build problem, say how to fix it
    sys.exit(f"ruview_cli._edge is not built ({exc}); run: pip install -e . --no-build-isolation")

CALIBRATION_FRAMES = 1200  # PROTOCOL.md §6: adaptive presence calibration length
GOALS = {
    "breathing_mae_bpm": ("<=", 0.5),
    "heart_mae_bpm": ("<=", 2.0),
    "presence_latency_s": ("<=", 2.0),
    "false_presence": ("<=", 0.01),
    "fall_recall": (">=", 0.95),
    "false_alarms_per_h": ("<=", 0.0),
}


@dataclass
class Run:
    """The vitals a pipeline emitted for one scenario: (scenario time, Vitals)."""

    vitals: list = field(default_factory=list)
    frames: int = 0
    packets: dict = field(default_factory=dict)


VITALS_MAGIC = MAGIC_VITALS.to_bytes(4, "little")
REORDER = False  # --reorder-centred (diagnostic)


def _centred(iq: bytes) -> bytes:
    """ESP32 order (0..31, -32..-1 per 64-bin field) -> centred (-32..31): a diagnostic showing
    what the core measures when it sees subcarriers in frequency order."""
    return b"".join(iq[b + 64 : b + 128] + iq[b : b + 64] for b in range(0, len(iq), 128))


def run(scenario, duration_s: float, **cfg) -> Run:
    """Every frame through a fresh tier-2 pipeline; vitals decoded by ruview_cli.protocol (the
    other datagrams are only counted by magic, to keep the run short)."""
    pipe = _edge.EdgePipeline(edge_tier=2, **cfg)
    out = Run()
    process = pipe.process
    counts = out.packets
    for f in scenario.frames(duration_s):
        out.frames += 1
        iq = _centred(f.iq) if REORDER else f.iq
        for dgram in process(iq, f.rssi, f.channel, f.timestamp_us, f.noise_floor):
            head = dgram[:4]
            counts[head] = counts.get(head, 0) + 1
            if head == VITALS_MAGIC:
                out.vitals.append((f.t, decode(dgram)))
    _PERSONS.add(scenario, out.vitals)
    return out


class _PersonsTally:
    """n_persons against the truth, over every vitals packet after warm-up of every run."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.ok = self.total = 0
        self.by_truth: dict[int, dict[int, int]] = {}
        self.warmup_s = 60.0

    def add(self, scenario, vitals):
        if scenario.name != "walking" and scenario.truth(0.0).persons:
            return  # someone still in the room through the calibration: it learns them as empty
        for t, v in vitals:
            if t < self.warmup_s:
                continue
            truth = scenario.truth(t)
            if truth.motion and scenario.name != "walking":
                continue  # someone mid-walk: count only still periods (and the walking scenario)
            n = truth.persons
            self.total += 1
            self.ok += v.n_persons == n
            h = self.by_truth.setdefault(n, {})
            h[v.n_persons] = h.get(v.n_persons, 0) + 1


_PERSONS = _PersonsTally()


def calib_s(rate: float) -> float:
    """Scenario time by which the adaptive presence calibration is over: the warm-up (one
    vital_win of frames, excluded from calibration) + 1200 frames, + 5 s of margin."""
    frames = CALIBRATION_FRAMES + _CFG.get("vital_win", _edge.cfg_defaults()["vital_win"])
    return frames / rate + 5.0


_CFG: dict = {}  # the csi_cfg overrides of this run


# ------------------------------------------------------------------------------- metrics ---


def vitals_mae(rate: float, seeds: int, cfg: dict) -> dict:
    """Breathing and heart-rate error of one still person, after warm-up."""
    warmup, dur = 60.0, 150.0
    br_err, hr_err, br_n, hr_n, total = [], [], 0, 0, 0
    cases = [(12.0, 62.0), (15.0, 72.0), (20.0, 90.0)]
    for seed in range(seeds):
        for bpm, hr in cases:
            sc = make_scenario("breathing", seed=100 + seed, rate_hz=rate, rate_bpm=bpm, heart_bpm=hr)
            r = run(sc, dur, **cfg)
            for t, v in r.vitals:
                if t < warmup:
                    continue
                truth = sc.truth(t)
                total += 1
                if v.breathing_bpm > 0:
                    br_n += 1
                    br_err.append(abs(v.breathing_bpm - truth.breathing_bpm[0]))
                if v.heart_bpm > 0:
                    hr_n += 1
                    hr_err.append(abs(v.heart_bpm - truth.heart_bpm[0]))
    return {
        "breathing_mae_bpm": statistics.fmean(br_err) if br_err else math.inf,
        "breathing_coverage": br_n / total if total else 0.0,
        "breathing_p90_bpm": _pct(br_err, 0.9),
        "heart_mae_bpm": statistics.fmean(hr_err) if hr_err else math.inf,
        "heart_coverage": hr_n / total if total else 0.0,
        "heart_p90_bpm": _pct(hr_err, 0.9),
    }


def _pct(xs: list, q: float) -> float:
    if not xs:
        return math.inf
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def presence(rate: float, seeds: int, cfg: dict) -> dict:
    """Latency from a person entering to the presence flag; false presence when empty."""
    latencies, missed = [], 0
    empty_flagged = empty_total = 0
    first = calib_s(rate) + 10.0
    stay, away, cycles = 30.0, 30.0, 2
    for seed in range(seeds):
        sc = make_scenario("enter-leave", seed=200 + seed, rate_hz=rate, enter_s=first, stay_s=stay, away_s=away)
        dur = first + cycles * (stay + away + 15.0)
        r = run(sc, dur, **cfg)
        # entries: rising edges of the ground truth
        entries, prev = [], False
        for t, v in r.vitals:
            now = sc.truth(t).presence
            if now and not prev:
                entries.append(_entry_time(sc, t))
            prev = now
        for te in entries:
            hit = next((t for t, v in r.vitals if t >= te and v.presence), None)
            leave = next((t for t, v in r.vitals if t > te and not sc.truth(t).presence), math.inf)
            if hit is None or hit > leave:
                missed += 1
            else:
                latencies.append(hit - te)
        for t, v in r.vitals:  # empty periods after calibration, 5 s grace after a leave
            if t > calib_s(rate) and not sc.truth(t).presence and not sc.truth(t - 5.0).presence:
                empty_total += 1
                empty_flagged += v.presence
    rooms = []
    for seed in range(3 * seeds):  # rooms differ a lot (flat vs deeply notched channels)
        sc = make_scenario("empty", seed=300 + seed, rate_hz=rate)
        r = run(sc, calib_s(rate) + 60.0, **cfg)
        flagged = total = 0
        for t, v in r.vitals:
            if t > calib_s(rate):
                total += 1
                flagged += v.presence
        empty_total += total
        empty_flagged += flagged
        rooms.append((round(sc.static_ripple_db(), 1), round(flagged / max(1, total), 3)))
    return {
        "presence_latency_s": (max(latencies) if latencies else math.inf) if not missed else math.inf,
        "presence_latency_mean_s": statistics.fmean(latencies) if latencies else math.inf,
        "presence_entries": len(latencies) + missed,
        "presence_missed": missed,
        "false_presence": empty_flagged / empty_total if empty_total else math.nan,
        "empty_intervals": empty_total,
        "empty_rooms_ripple_db_and_false_presence": rooms,
    }


def _entry_time(sc, t: float) -> float:
    """The exact time presence became true, by bisection before t."""
    lo, hi = t - 5.0, t
    for _ in range(30):
        mid = (lo + hi) / 2
        if sc.truth(mid).presence:
            hi = mid
        else:
            lo = mid
    return hi


def _fall_events(vitals) -> list[float]:
    """Rising edges of the fall flag (a latched fall may span more than one packet)."""
    events, prev = [], False
    for t, v in vitals:
        if v.fall and not prev:
            events.append(t)
        prev = v.fall
    return events


def falls(rate: float, n: int, cfg: dict) -> dict:
    """Recall over n seeded falls; false flags outside the detection windows counted too."""
    vital_int_s = cfg.get("vital_int", _edge.cfg_defaults()["vital_int"]) / 1000.0
    window = 3.0 + vital_int_s
    hits = other = 0
    for i in range(n):
        # after the pipeline's warm-up (one vital_win of frames), like a node that has run a while
        t_fall = _CFG.get("vital_win", _edge.cfg_defaults()["vital_win"]) / rate + 15.0 + (i % 7)
        sc = make_scenario("fall", seed=400 + i, rate_hz=rate, t=t_fall, before=("walk", "stand")[i % 2])
        tf = sc.fall_times(1e9)[0]
        r = run(sc, tf + window + 5.0, **cfg)
        ev = _fall_events(r.vitals)
        hit = [t for t in ev if tf <= t <= tf + window]
        hits += bool(hit)
        other += len(ev) - len(hit)
    return {"fall_recall": hits / n, "falls": n, "fall_false_flags_in_fall_runs": other}


def false_alarms(rate: float, hours: float, cfg: dict) -> dict:
    sc = make_scenario("mixed", seed=500, rate_hz=rate)
    r = run(sc, hours * 3600.0, **cfg)
    ev = _fall_events(r.vitals)
    walking = sum(1 for t, _ in r.vitals if sc.truth(t).motion) / max(1, len(r.vitals))
    return {"false_alarms_per_h": len(ev) / hours, "mixed_hours": hours, "mixed_walking_share": walking}


def persons(rate: float, seeds: int, cfg: dict) -> dict:
    """n_persons accuracy over all runs of this rate (tallied in run()), plus two-people runs."""
    for seed in range(seeds):
        # people arrive after the adaptive presence calibration, which assumes an empty room
        enter = calib_s(rate)
        run(make_scenario("breathing", seed=620 + seed, rate_hz=rate, enter_s=enter), enter + 60.0, **cfg)
        run(make_scenario("two-people", seed=600 + seed, rate_hz=rate, enter_s=enter), enter + 80.0, **cfg)
        run(make_scenario("walking", seed=650 + seed, rate_hz=rate), 120.0, **cfg)
    t = _PERSONS
    return {
        "n_persons_accuracy": t.ok / t.total if t.total else math.nan,
        "n_persons_reported": {str(k): dict(sorted(v.items())) for k, v in sorted(t.by_truth.items())},
    }


def gen_speed() -> dict:
    """Scenario generation cost: how many 28.5 Hz nodes one core can feed in real time."""
    out = {}
    for n_sc in (64, 192):
        sc = make_scenario("breathing", seed=1, n_subcarriers=n_sc)
        t0 = time.perf_counter()
        k = sum(1 for _ in sc.frames(30.0))
        per = (time.perf_counter() - t0) / k
        pipe = _edge.EdgePipeline(edge_tier=2)
        frames = list(make_scenario("breathing", seed=1, n_subcarriers=n_sc).frames(10.0))
        t0 = time.perf_counter()
        for f in frames:
            pipe.process(f.iq, f.rssi, f.channel, f.timestamp_us, f.noise_floor)
        per_dsp = (time.perf_counter() - t0) / len(frames)
        out[f"gen_us_per_frame_{n_sc}"] = per * 1e6
        out[f"dsp_us_per_frame_{n_sc}"] = per_dsp * 1e6
        out[f"realtime_nodes_28_5hz_{n_sc}"] = 1.0 / (per * 28.5)
    return out


# --------------------------------------------------------------------------------- report ---


def ratio(key: str, value: float) -> str:
    op, goal = GOALS[key]
    if isinstance(value, float) and math.isnan(value):
        return "n/a"
    if goal == 0:
        return "met" if value == 0 else f"{value:g} > 0"
    if op == "<=":
        r = value / goal
    else:
        r = goal / value if value > 0 else math.inf
    return f"{r:.2f}x" if math.isfinite(r) else "inf"


def fmt(key: str, v) -> str:
    if isinstance(v, float):
        if math.isinf(v):
            return "none"
        if key in ("false_presence", "fall_recall", "n_persons_accuracy"):
            return f"{100 * v:.1f} %"
        return f"{v:.2f}"
    return str(v)


def evaluate_rate(job) -> dict:
    """Every metric at one frame rate (a process-pool task with --jobs)."""
    global REORDER
    rate, seeds, n_falls, hours, cfg, REORDER = job
    _CFG.clear()
    _CFG.update(cfg)
    _PERSONS.reset()
    _PERSONS.warmup_s = max(60.0, calib_s(rate))
    res: dict = {}
    res.update(vitals_mae(rate, seeds, cfg))
    res.update(presence(rate, seeds, cfg))
    res.update(falls(rate, n_falls, cfg))
    res.update(false_alarms(rate, hours, cfg))
    res.update(persons(rate, seeds, cfg))
    return res


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rates", default="10,20,28.5", help="frame rates, Hz (comma separated)")
    ap.add_argument("--quick", action="store_true", help="fewer seeds and 10 simulated minutes for false alarms")
    ap.add_argument("--falls", type=int, default=None, help="seeded falls per rate (default 30, quick 10)")
    ap.add_argument("--hours", type=float, default=None, help="simulated hours of breathing+walking (default 1)")
    ap.add_argument("--json", action="store_true", help="print the numbers as one JSON object")
    ap.add_argument("--jobs", type=int, default=1, help="evaluate the rates in this many processes")
    ap.add_argument("--reorder-centred", action="store_true",
                    help="diagnostic: hand the core subcarriers in frequency order instead of ESP32's FFT order")
    ap.add_argument("--vital-int", type=int, default=None, help="csi_cfg vital_int (ms) for the pipelines")
    args = ap.parse_args(argv)
    rates = [float(r) for r in args.rates.split(",")]
    seeds = 1 if args.quick else 2
    n_falls = args.falls or (10 if args.quick else 30)
    hours = args.hours or (1 / 6 if args.quick else 1.0)
    cfg = {} if args.vital_int is None else {"vital_int": args.vital_int}
    global REORDER
    REORDER = args.reorder_centred
    _CFG.update(cfg)

    t_start = time.perf_counter()
    results: dict[str, dict] = {}
    jobs = [(rate, seeds, n_falls, hours, cfg, REORDER) for rate in rates]
    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(max_workers=args.jobs) as pool:
            for rate, res in zip(rates, pool.map(evaluate_rate, jobs)):
                results[f"{rate:g}"] = res
    else:
        for job in jobs:
            results[f"{job[0]:g}"] = evaluate_rate(job)
            if not args.json:
                print(f"  {job[0]:g} Hz done ({time.perf_counter() - t_start:.0f} s)", file=sys.stderr)
    speed = gen_speed()
    elapsed = time.perf_counter() - t_start

    if args.json:
        print(json.dumps({"config": {**_edge.cfg_defaults(), "edge_tier": 2, **cfg}, "rates": results,
                          "generator": speed, "elapsed_s": elapsed, "goals": GOALS},
                         default=lambda x: None if isinstance(x, float) and not math.isfinite(x) else x))
        return 0

    from rich.console import Console
    from rich.table import Table

    cols = list(results)
    title = "ruview edge DSP accuracy (firmware core via _edge, tier 2, defaults)"
    if REORDER:
        title += " — DIAGNOSTIC: I/Q re-ordered to frequency order"
    table = Table(title=title)
    table.add_column("metric")
    table.add_column("goal")
    for c in cols:
        table.add_column(f"{c} Hz", justify="right")
    rows = [
        ("breathing MAE (BPM)", "breathing_mae_bpm"),
        ("heart-rate MAE (BPM)", "heart_mae_bpm"),
        ("presence latency, worst (s)", "presence_latency_s"),
        ("false presence (of intervals)", "false_presence"),
        ("fall recall", "fall_recall"),
        ("fall false alarms / h", "false_alarms_per_h"),
    ]
    for label, key in rows:
        op, goal = GOALS[key]
        g = f"{op} {100 * goal:g} %" if key in ("false_presence", "fall_recall") else f"{op} {goal:g}"
        table.add_row(label, g, *(f"{fmt(key, results[c][key])} ({ratio(key, results[c][key])})" for c in cols))
    table.add_row("n_persons accuracy", "-", *(fmt("n_persons_accuracy", results[c]["n_persons_accuracy"]) for c in cols))
    table.add_row("breathing estimated (of packets)", "-", *(f"{100 * results[c]['breathing_coverage']:.0f} %" for c in cols))
    table.add_row("heart rate estimated (of packets)", "-", *(f"{100 * results[c]['heart_coverage']:.0f} %" for c in cols))
    table.add_row("presence latency, mean (s)", "-", *(fmt("x", results[c]["presence_latency_mean_s"]) for c in cols))
    con = Console(width=max(100, Console().width))
    con.print(table)
    con.print("ratio = measured / goal (for recall: goal / measured); <= 1.00x meets the goal")
    for c in cols:
        r = results[c]
        con.print(f"{c} Hz: breathing p90 {fmt('x', r['breathing_p90_bpm'])} BPM, heart p90 "
                  f"{fmt('x', r['heart_p90_bpm'])} BPM, {r['presence_entries']} entries "
                  f"({r['presence_missed']} missed), {r['empty_intervals']} empty intervals, "
                  f"{r['falls']} falls, {r['fall_false_flags_in_fall_runs']} stray fall flags in fall runs, "
                  f"empty rooms (band ripple dB, false presence) {r['empty_rooms_ripple_db_and_false_presence']}, "
                  f"n_persons reported per truth {r['n_persons_reported']}")
    con.print(f"generator: {speed['gen_us_per_frame_64']:.0f} us/frame at 64 subcarriers "
              f"({speed['realtime_nodes_28_5hz_64']:.0f} nodes at 28.5 Hz per core), "
              f"{speed['gen_us_per_frame_192']:.0f} us/frame at 192 "
              f"({speed['realtime_nodes_28_5hz_192']:.0f} nodes); DSP via _edge "
              f"{speed['dsp_us_per_frame_64']:.0f}/{speed['dsp_us_per_frame_192']:.0f} us/frame")
    con.print(f"total {elapsed:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
