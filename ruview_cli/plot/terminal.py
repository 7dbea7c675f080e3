"""Vitals over time in the terminal (uniplot): one chart per node, plus presence/motion strips.

x is minutes since the first packet; breathing and heart rate share the y axis (beats or
breaths per minute); a vertical line marks each fall. Returns plain text, no colour codes
unless asked: the caller decides what reaches the terminal.
"""

from __future__ import annotations

import math
from datetime import datetime

from ruview_cli.errors import RuviewError
from ruview_cli.plot.figure import PLOT_FIX, _summary
from ruview_cli.plot.series import NodeSeries


def _strip(s: NodeSeries, flags: list[bool], t0: float, t1: float, width: int) -> str:
    """One character per column: █ where flags held at any time in that column's interval."""
    cols = [False] * width
    span = max(t1 - t0, 1e-9)
    for a, b in s.spans(flags):
        i0 = int((a - t0) / span * (width - 1))
        i1 = int((b - t0) / span * (width - 1))
        for i in range(max(0, i0), min(width - 1, i1) + 1):
            cols[i] = True
    return "".join("█" if c else "·" for c in cols)


def terminal_plot(series: list[NodeSeries], width: int = 80, color: bool = False) -> str:
    try:
        from uniplot import plot_to_string
    except ImportError:
        raise RuviewError("the terminal plot needs uniplot, which is not installed", PLOT_FIX) from None
    if not series:
        raise RuviewError("nothing to plot: no vitals packets", "check the recording or the --node filter")
    t0 = min(s.t[0] for s in series)
    t1 = max(s.t[-1] for s in series)
    width = max(30, width - 8)  # uniplot's frame and y labels take ~8 columns
    out = [f"Vitals over time from {datetime.fromtimestamp(t0):%Y-%m-%d %H:%M:%S} "
           f"({(t1 - t0) / 60:.1f} min)"]
    for s in series:
        xs = [(t - t0) / 60.0 for t in s.t]
        has_heart = any(not math.isnan(v) for v in s.heart)
        top = max([100.0 if has_heart else 40.0] + [v for v in s.breathing + s.heart if not math.isnan(v)])
        falls = [(t - t0) / 60.0 for t in s.falls]
        # uniplot cannot draw a series without a single number: leave those out
        lines = [(ys, name) for ys, name in ((s.breathing, "breathing"), (s.heart, "heart rate"))
                 if any(not math.isnan(v) for v in ys)]
        title = f"{s.label}: {_summary(s)}"
        if lines:
            out.append(plot_to_string(
                [ys for ys, _ in lines], [xs] * len(lines), title=title,
                legend_labels=[name for _, name in lines], lines=True, width=width, height=10,
                x_min=0.0, x_max=max((t1 - t0) / 60.0, 1e-3), y_min=0.0, y_max=top * 1.05,
                x_gridlines=falls, y_gridlines=[], x_unit=" min", color=color,
            ))
        else:
            out.append(f"{title}\n  (no rate estimated)")
        # aligned under the chart's plot area (inside its frame)
        out.append(f" {_strip(s, s.presence, t0, t1, width)}  present")
        out.append(f" {_strip(s, s.motion, t0, t1, width)}  motion")
        if falls:
            out.append("  falls at " + ", ".join(f"{datetime.fromtimestamp(t):%H:%M:%S}" for t in s.falls)
                       + " (vertical lines)")
    return "\n".join(out) + "\n"
