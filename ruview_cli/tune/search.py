"""Replay a recording's raw frames through the firmware core (ruview_cli._edge) with candidate
settings, score how well each separates the labelled parts, and rank them.

The settings are the NVS keys the core takes (config/schema.py): pres_thresh, fall_thresh,
vital_win, subk_count, in their stored units. Search is staged, because fall detection and
presence are separate stages of the core: first presence threshold x history window x top-K
subcarriers (fall threshold at the firmware default), then the fall threshold on the best of
those. Every candidate is a real run of the core; its outcome is what the node would have sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

from ruview_cli.tune.frames import RecordingFrames
from ruview_cli.tune.labels import Labels

KEYS = ("pres_thresh", "fall_thresh", "vital_win", "subk_count")
# stored values (pres_thresh, fall_thresh: thousandths; 0 = "auto", the core's own default)
PRES_GRID = (0, 50, 80, 120, 160, 250, 400)
FALL_GRID = (1500, 2000, 3000, 4000, 6000, 8000, 12000)
WIN_GRID = (128, 256)
SUBK_GRID = (4, 8, 16)
FALL_MERGE_S = 3.0   # fall flags of one node closer than this are one event
FALSE_FALL_COST = 0.5  # score lost per fall reported where none was marked


@dataclass
class Outcome:
    """What one candidate's core reported over the labelled parts."""

    settings: dict
    empty_packets: int = 0
    empty_present: int = 0
    occupied_packets: int = 0
    occupied_present: int = 0
    falls_found: int = 0
    falls_marked: int = 0
    false_falls: int = 0
    fall_times: list = field(default_factory=list)   # (node_id, t) of each fall event
    score: float = 0.0

    @property
    def empty_present_share(self) -> Optional[float]:
        return self.empty_present / self.empty_packets if self.empty_packets else None

    @property
    def occupied_present_share(self) -> Optional[float]:
        return self.occupied_present / self.occupied_packets if self.occupied_packets else None

    def to_json(self) -> dict:
        return {"settings": dict(self.settings), "score": round(self.score, 4),
                "empty": {"vitals_packets": self.empty_packets, "presence": self.empty_present},
                "occupied": {"vitals_packets": self.occupied_packets, "presence": self.occupied_present},
                "falls_marked": self.falls_marked, "falls_found": self.falls_found,
                "false_falls": self.false_falls,
                "fall_times": [{"node_id": n, "t": round(t, 2)} for n, t in self.fall_times]}


def run_candidate(rec: RecordingFrames, settings: dict) -> list[tuple[int, float, bool, bool]]:
    """(node_id, t, presence, fall) of every vitals packet the core sends with these settings."""
    from ruview_cli import _edge
    from ruview_cli.protocol import decode
    from ruview_cli.protocol import magics as M
    from ruview_cli.telemetry.replay_dsp import BOOT_US

    vitals = M.MAGIC_VITALS.to_bytes(4, "little")
    out: list[tuple[int, float, bool, bool]] = []
    for nf in rec.nodes:
        pipe = _edge.EdgePipeline(node_id=nf.node_id, edge_tier=2, **settings)
        process = pipe.process
        last = 0
        for t, (iq, rssi, channel, noise) in zip(nf.t, nf.args):
            ts = BOOT_US + int(t * 1e6)
            ts = ts if ts > last else last + 1  # receive times can repeat: keep the clock moving
            last = ts
            for data in process(iq, rssi, channel, ts, noise):
                if data[:4] == vitals:
                    v = decode(data)
                    out.append((nf.node_id, t, v.presence, v.fall))
    return out


def score(settings: dict, reports: list[tuple[int, float, bool, bool]], labels: Labels) -> Outcome:
    o = Outcome(dict(settings), falls_marked=len(labels.falls))
    empty = [labels.scored(s) for s in labels.empty]
    occupied = [labels.scored(s) for s in labels.occupied]
    last_fall: dict[int, float] = {}
    for node, t, presence, fall in reports:
        if any(a <= t <= b for a, b in empty):
            o.empty_packets += 1
            o.empty_present += presence
        elif any(a <= t <= b for a, b in occupied):
            o.occupied_packets += 1
            o.occupied_present += presence
        if fall:
            if t - last_fall.get(node, -1e9) > FALL_MERGE_S:
                o.fall_times.append((node, t))
            last_fall[node] = t
    found = set()
    for _, t in o.fall_times:
        marks = labels.falls_near(t)
        if marks:
            found.add(min(marks, key=lambda f: abs(f - t)))
        else:
            o.false_falls += 1
    o.falls_found = len(found)
    parts = []
    if o.empty_packets:
        parts.append(1.0 - o.empty_present / o.empty_packets)
    if o.occupied_packets:
        parts.append(o.occupied_present / o.occupied_packets)
    presence_score = sum(parts) / len(parts) if parts else 0.0
    fall_score = o.falls_found / o.falls_marked if o.falls_marked else 0.0
    o.score = presence_score + fall_score - FALSE_FALL_COST * o.false_falls
    return o


def _rank_key(o: Outcome):
    s = o.settings
    # ties: the more conservative fall threshold (fewer alarms outside this recording), the
    # longer history (steadier rates), then the firmware's own presence default (auto)
    return (round(o.score, 6), s["fall_thresh"], s["vital_win"], s["pres_thresh"] == 0, -abs(s["subk_count"] - 8))


def search(rec: RecordingFrames, labels: Labels, base: dict,
           progress: Optional[Callable[[int, int], None]] = None) -> tuple[Outcome, list[Outcome]]:
    """(the proposal, every candidate tried best first). `base`: the firmware defaults."""
    stage1 = [dict(base, pres_thresh=p, vital_win=w, subk_count=k)
              for w in WIN_GRID for k in SUBK_GRID for p in PRES_GRID]
    total = len(stage1) + len(FALL_GRID)
    done: dict[tuple, Outcome] = {}

    def run(settings: dict) -> Outcome:
        key = tuple(settings[k] for k in KEYS)
        if key not in done:
            done[key] = score(settings, run_candidate(rec, settings), labels)
            if progress is not None:
                progress(len(done), total)
        return done[key]

    first = [run(s) for s in stage1]
    best = max(first, key=_rank_key)
    best = _middle_threshold(best, first)
    best = max((run(dict(best.settings, fall_thresh=f)) for f in FALL_GRID), key=_rank_key)
    run(dict(base))  # the defaults are always in the table, for comparison
    return best, sorted(done.values(), key=_rank_key, reverse=True)


def _middle_threshold(best: Outcome, tried: list[Outcome]) -> Outcome:
    """Of the explicit presence thresholds that score as well as the best (same window and
    top-K), the middle one: the widest margin to either kind of error in this room."""
    same = [o for o in tried if o.settings["pres_thresh"] and round(o.score, 6) == round(best.score, 6)
            and all(o.settings[k] == best.settings[k] for k in ("vital_win", "subk_count"))]
    if len(same) < 2:
        return best
    same.sort(key=lambda o: o.settings["pres_thresh"])
    return same[(len(same) - 1) // 2]


def defaults() -> dict:
    from ruview_cli import _edge

    cfg = _edge.cfg_defaults()
    return {k: int(cfg[k]) for k in KEYS}


def separates(o: Outcome) -> bool:
    """The candidate tells the labelled parts apart: most scored empty packets say nobody, most
    occupied ones say someone, every marked fall is found and none is reported elsewhere."""
    ok = o.false_falls == 0 and o.falls_found == o.falls_marked
    if o.empty_packets:
        ok = ok and o.empty_present / o.empty_packets <= 0.1
    if o.occupied_packets:
        ok = ok and o.occupied_present / o.occupied_packets >= 0.9
    return ok


__all__ = ["Outcome", "run_candidate", "score", "search", "defaults", "separates", "KEYS"]
