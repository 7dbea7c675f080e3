"""Vitals over time as a matplotlib figure: one panel per node, saved as PNG, SVG or HTML.

Per panel: breathing (left axis) and heart rate (right axis) as lines with gaps where the node
made no estimate; a green band while someone is present, an orange strip along the bottom
while there is motion, and a red line labelled FALL at each fall. matplotlib is imported here
only (Agg backend: no display needed).
"""

from __future__ import annotations

import html
import io
import math
import os
import statistics
from datetime import datetime
from typing import Optional

from ruview_cli.errors import RuviewError, UsageError
from ruview_cli.plot.series import NodeSeries

FORMATS = (".png", ".svg", ".html")
PLOT_FIX = "install it: pip install 'ruview[plot]' (or pip install matplotlib uniplot)"
BREATHING = "#1f5fbf"
HEART = "#c8102e"
PRESENCE = "#2ca02c"
MOTION = "#ff8c00"
FALL = "#d00000"


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise RuviewError("plotting to a file needs matplotlib, which is not installed", PLOT_FIX) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return matplotlib, plt


def output_format(path: str) -> str:
    ext = os.path.splitext(path)[1].lower()
    if ext not in FORMATS:
        raise UsageError(f"-o {path}: unknown file type {ext or '(no extension)'}",
                         "name the file .png, .svg or .html")
    return ext[1:]


def _summary(s: NodeSeries) -> str:
    parts = [f"present {100 * s.presence_share:.0f}% of the time"]
    br = [v for v in s.breathing if not math.isnan(v)]
    hr = [v for v in s.heart if not math.isnan(v)]
    parts.append(f"breathing {statistics.median(br):.1f} BPM (median)" if br else "no breathing estimate")
    parts.append(f"heart {statistics.median(hr):.0f} BPM (median)" if hr else "no heart-rate estimate")
    n = len(s.falls)
    parts.append(f"{n} fall{'s' if n != 1 else ''}" if n else "no falls")
    return " · ".join(parts)


def vitals_figure(series: list[NodeSeries], title: str = ""):
    """The figure (matplotlib Figure): one panel per node, in the order given. Each panel's main
    axes has gid "panel-<n>"; its lines have gids "breathing-<n>" / "heart-<n>" (n = position)."""
    matplotlib, plt = _matplotlib()
    import matplotlib.dates as mdates
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    if not series:
        raise RuviewError("nothing to plot: no vitals packets", "check the recording or the --node filter")
    with matplotlib.rc_context({"text.parse_math": False, "font.size": 10}):
        fig, axes = plt.subplots(len(series), 1, figsize=(11, 1.0 + 2.7 * len(series)), sharex=True,
                                 squeeze=False)
        for i, (s, ax) in enumerate(zip(series, axes[:, 0])):
            ax.set_gid(f"panel-{i}")
            when = [datetime.fromtimestamp(t) for t in s.t]
            for a, b in s.spans(s.presence):
                ax.axvspan(datetime.fromtimestamp(a), datetime.fromtimestamp(b), color=PRESENCE, alpha=0.13, lw=0)
            for a, b in s.spans(s.motion):
                ax.axvspan(datetime.fromtimestamp(a), datetime.fromtimestamp(b), ymin=0, ymax=0.07,
                           color=MOTION, alpha=0.9, lw=0)
            (line,) = ax.plot(when, s.breathing, color=BREATHING, lw=1.8)
            line.set_gid(f"breathing-{i}")
            top = max([40.0] + [v + 5 for v in s.breathing if not math.isnan(v)])
            ax.set_ylim(0, top)
            ax.set_ylabel("breathing\n(breaths/min)", color=BREATHING)
            ax.tick_params(axis="y", colors=BREATHING)
            hax = ax.twinx()
            # dots too: heart-rate estimates come and go, and a lone one draws no line
            (hline,) = hax.plot(when, s.heart, color=HEART, lw=1.2, alpha=0.85, marker="o", markersize=2.5)
            hline.set_gid(f"heart-{i}")
            hax.set_ylim(30, max([160.0] + [v + 10 for v in s.heart if not math.isnan(v)]))
            hax.set_ylabel("heart rate\n(beats/min)", color=HEART)
            hax.tick_params(axis="y", colors=HEART)
            for t in s.falls:
                x = datetime.fromtimestamp(t)
                ax.axvline(x, color=FALL, lw=2.5)
                ax.annotate("FALL", (x, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -12),
                            textcoords="offset points", color=FALL, fontweight="bold")
            ax.set_title(f"{s.label} — {_summary(s)}", loc="left", fontsize=10.5)
            ax.grid(axis="y", alpha=0.3)
        last = axes[-1, 0]
        t0 = datetime.fromtimestamp(min(s.t[0] for s in series))
        t1 = datetime.fromtimestamp(max(s.t[-1] for s in series))
        locator = mdates.AutoDateLocator(minticks=4, maxticks=10)
        last.xaxis.set_major_locator(locator)
        if (t1 - t0).days < 1:
            last.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M:%S"))
            last.set_xlabel(f"time of day, {t0:%Y-%m-%d} (this computer's time zone)")
        else:
            last.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
            last.set_xlabel("time (this computer's time zone)")
        legend = [Line2D([], [], color=BREATHING, lw=1.8, label="breathing"),
                  Line2D([], [], color=HEART, lw=1.2, marker="o", markersize=2.5, label="heart rate"),
                  Patch(color=PRESENCE, alpha=0.25, label="someone present"),
                  Patch(color=MOTION, alpha=0.9, label="motion"),
                  Line2D([], [], color=FALL, lw=2.5, label="fall")]
        fig.suptitle(title or "Vitals over time", x=0.01, ha="left", fontsize=12, fontweight="bold")
        # the key along the bottom: a long file name in the title never runs into it
        fig.legend(handles=legend, loc="lower center", ncol=5, frameon=False, bbox_to_anchor=(0.5, 0.0))
        margin = 0.45 / fig.get_figheight()  # inches -> figure fraction
        fig.tight_layout(rect=(0, margin, 1, 1 - 0.5 * margin))
    return fig


def save_figure(fig, path: str, title: str = "") -> None:
    """Write fig as .png, .svg or .html (a self-contained page with the SVG inline)."""
    fmt = output_format(path)
    _, plt = _matplotlib()
    try:
        if fmt == "html":
            buf = io.StringIO()
            fig.savefig(buf, format="svg")
            svg = buf.getvalue()
            svg = svg[svg.index("<svg"):]  # drop the XML prolog and DOCTYPE inside HTML
            page = ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    f"<title>{html.escape(title or 'Vitals over time')}</title>"
                    "<style>body{font-family:sans-serif;margin:1em}svg{max-width:100%;height:auto}</style>"
                    f"</head><body>\n{svg}\n</body></html>\n")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(page)
        else:
            fig.savefig(path, format=fmt, dpi=110)
    except OSError as exc:
        raise RuviewError(f"cannot write {path}: {exc.strerror or exc}", "choose a writable path") from None
    finally:
        plt.close(fig)


__all__ = ["vitals_figure", "save_figure", "output_format", "PLOT_FIX"]
