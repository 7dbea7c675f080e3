"""Rows (ruview_cli.export.rows) grouped into one time series per node, ready to draw."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

_LABEL_UNSAFE = re.compile(r"[^0-9A-Za-z.:_\-\[\]]")  # a source is ip:port; anything else is dropped


@dataclass
class NodeSeries:
    """One node's vitals over time. Lists are aligned; NaN where the node made no estimate."""

    node_id: int
    source: Optional[str]
    label: str = ""
    t: list[float] = field(default_factory=list)              # unix seconds
    breathing: list[float] = field(default_factory=list)      # BPM or NaN
    heart: list[float] = field(default_factory=list)          # BPM or NaN
    presence: list[bool] = field(default_factory=list)
    motion: list[bool] = field(default_factory=list)
    persons: list[int] = field(default_factory=list)
    falls: list[float] = field(default_factory=list)          # times of fall onsets
    _last_fall: bool = field(default=False, repr=False)

    def spans(self, flags: list[bool]) -> list[tuple[float, float]]:
        """(start, end) time intervals where flags is true; each sample holds until the next."""
        out: list[tuple[float, float]] = []
        start = None
        for i, on in enumerate(flags):
            if on and start is None:
                start = self.t[i]
            elif not on and start is not None:
                out.append((start, self.t[i]))
                start = None
        if start is not None:
            out.append((start, self.t[-1]))
        return out

    @property
    def presence_share(self) -> float:
        return sum(self.presence) / len(self.presence) if self.presence else 0.0


def _nan(v: Optional[float]) -> float:
    return math.nan if v is None else float(v)


def node_series(rows: Iterable[dict], nodes: Optional[Iterable[int]] = None) -> list[NodeSeries]:
    """Group rows by (source, node_id), in time order, sorted by node id. A fall is counted
    once per run of packets carrying the fall flag (a node repeats it while it holds)."""
    wanted = frozenset(nodes) if nodes else None
    by_key: dict[tuple, NodeSeries] = {}
    for row in sorted(rows, key=lambda r: r["time"]):
        nid = row["node_id"]
        if wanted is not None and nid not in wanted:
            continue
        key = (row.get("source"), nid)
        s = by_key.get(key)
        if s is None:
            s = by_key[key] = NodeSeries(nid, row.get("source"))
        fall = bool(row.get("fall"))
        if fall and not (s.t and s._last_fall):
            s.falls.append(row["time"])
        s._last_fall = fall
        s.t.append(row["time"])
        s.breathing.append(_nan(row.get("breathing_bpm")))
        s.heart.append(_nan(row.get("heart_bpm")))
        s.presence.append(bool(row.get("presence")))
        s.motion.append(bool(row.get("motion")))
        s.persons.append(row.get("n_persons") or 0)
    out = sorted(by_key.values(), key=lambda s: (s.node_id, s.source or ""))
    shared = {s.node_id for s in out if sum(o.node_id == s.node_id for o in out) > 1}
    for s in out:
        s.label = f"node {s.node_id}"
        if s.node_id in shared and s.source:
            s.label += f" @ {_LABEL_UNSAFE.sub('', s.source)[:40]}"
    return out
