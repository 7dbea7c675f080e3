"""The live table of `ruview tail` and its closing summary, as rich renderables (or, for a
pipe or file, plain rows that are never cut).

Built from FleetState on demand (at most 4 times a second), never per packet. With thousands of
nodes only as many rows as fit the terminal are drawn; the caption says how many are hidden.
"""

from __future__ import annotations

import time
from typing import Any, Optional

from rich.text import Text

from ruview_cli.telemetry.state import FleetState, NodeState

_HEADER_ROWS = 4  # title, header, caption, cursor line


def _ago(seconds: float) -> str:
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{seconds:.0f}s ago"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _bpm(value: Optional[float]) -> str:
    return "—" if not value else f"{value:.1f}"


# (header, width, right-aligned): fixed widths, so a redraw is string formatting, not layout.
_COLUMNS = (
    ("node", 4, True), ("address", 15, False), ("breathing", 9, True), ("heart", 6, True),
    ("presence", 9, False), ("motion", 9, False), ("persons", 7, True), ("fall", 4, False),
    ("RSSI", 8, True), ("frames", 8, True), ("loss", 6, True), ("last seen", 14, False),
)
_TREND = ("breathing, last min", 19, False)  # live table only: a sparkline needs a history
_GAP = "  "
_FALL_COL = 7


def _cell(text: str, width: int, right: bool) -> str:
    text = text if len(text) <= width else text[: width - 1] + "…"
    return text.rjust(width) if right else text.ljust(width)


def _row_cells(node: NodeState, now: float) -> list[str]:
    v = node.vitals
    if v is not None:
        breathing, heart = _bpm(v.breathing_bpm), _bpm(v.heart_bpm)
        presence = f"{'yes' if v.presence else 'no'} {v.presence_score:.2f}"
        motion = f"{'yes' if v.motion else 'no'} {v.motion_energy:.2f}"
        persons = str(v.n_persons)
    else:
        breathing = heart = presence = motion = persons = "—"
    fall = "FALL" if node.fall_shown(now) else "—"
    rssi = "—" if node.rssi_dbm is None else f"{node.rssi_dbm} dBm"
    loss = node.seq.loss_pct
    seen = _ago(now - node.last_seen)
    if node.stale(now):
        seen = f"STALE {seen}"
    return [str(node.node_id), node.ip, breathing, heart, presence, motion, persons, fall, rssi,
            f"{node.frame_rate(now):.1f}/s", "—" if loss is None else f"{loss:.1f}%", seen]


def live_table(state: FleetState, now: float, *, title: str = "", max_rows: Optional[int] = None,
               trend: Optional[Any] = None) -> Text:
    """One row per node: vitals, fall (red, held), RSSI, frame rate, loss, last seen; stale dimmed.
    `trend` (ruview_cli.plot.sparkline.Trend): the last minute of breathing per node shown.

    Rendered as fixed-width text rather than a rich Table: with thousands of nodes the display
    is redrawn 4 times a second next to a receive loop, and a Table's layout pass costs ~10x more.
    """
    out = Text(no_wrap=True, overflow="crop")
    if title:
        out.append(title + "\n", style="bold")
    columns = _COLUMNS + ((_TREND,) if trend is not None else ())
    out.append(_GAP.join(_cell(h, w, r) for h, w, r in columns), style="bold")
    # Falls first: with more nodes than rows, a fall must never be below the fold.
    nodes = sorted(state.nodes.values(), key=lambda n: (not n.fall_shown(now), n.node_id, n.ip))
    shown = nodes if max_rows is None else nodes[: max(1, max_rows)]
    for node in shown:
        row = _row_cells(node, now)
        if trend is not None:
            key = (node.ip, node.node_id)
            v = node.vitals
            trend.observe(key, v, (v.breathing_bpm or None) if v is not None else None, now)
            row.append(trend.render(key, now))
        cells = [_cell(c, w, r) for c, (_, w, r) in zip(row, columns)]
        stale = node.stale(now)
        out.append("\n")
        if cells[_FALL_COL].strip() == "FALL":
            out.append(_GAP.join(cells[:_FALL_COL]) + _GAP, style="dim" if stale else None)
            out.append(cells[_FALL_COL], style="bold white on red")
            out.append(_GAP + _GAP.join(cells[_FALL_COL + 1:]), style="dim" if stale else None)
        else:
            out.append(_GAP.join(cells), style="dim" if stale else None)
    parts = [f"{len(nodes)} node{'s' if len(nodes) != 1 else ''}"]
    if len(shown) < len(nodes):
        parts.append(f"{len(nodes) - len(shown)} not shown (terminal too small)")
    parts.append(f"{state.datagrams} datagrams, {state.malformed} malformed, {state.unknown} unknown")
    if trend is not None:
        trend.forget_older(now)
    caption = " · ".join(parts)
    if not nodes:
        caption = "waiting for telemetry… · " + caption
    out.append("\n" + caption, style="dim")
    return out


def full_table(state: FleetState, now: float) -> str:
    """Every node, every column, as wide as its widest cell: for a pipe or file, nothing cut."""
    nodes = sorted(state.nodes.values(), key=lambda n: (n.node_id, n.ip))
    rows = [[h for h, _, _ in _COLUMNS]] + [_row_cells(n, now) for n in nodes]
    widths = [max(len(r[i]) for r in rows) for i in range(len(_COLUMNS))]
    return "\n".join(
        _GAP.join(c.rjust(w) if right else c.ljust(w) for c, w, (_, _, right) in zip(r, widths, _COLUMNS)).rstrip()
        for r in rows)


def rows_that_fit(height: int) -> int:
    return max(1, height - _HEADER_ROWS)


_SUMMARY_COLUMNS = (
    ("node", 4, True), ("address", 15, False), ("lost frames", 11, True), ("loss", 7, True),
    ("compressed ok/bad", 17, True), ("malformed", 9, True), ("packets by kind", 0, False),
)


def summary_table(summary: dict[str, Any]) -> Text:
    """The closing summary: per node packets per kind, loss, malformed; then the totals.

    Plain fixed-width text like the live table: a fleet of thousands prints in milliseconds.
    """
    out = Text()
    out.append("ruview tail summary\n", style="bold")
    out.append(_GAP.join(_cell(h, w, r) if w else h for h, w, r in _SUMMARY_COLUMNS), style="bold")
    for n in summary["nodes"]:
        kinds = ", ".join(f"{k} {v}" for k, v in n["packets"].items()) or "—"
        loss = "—" if n["loss_pct"] is None else f"{n['loss_pct']:.2f}%"
        cells = (str(n["node_id"]), n["address"], str(n["raw_frames_lost"]), loss,
                 f"{n['compressed_decoded']}/{n['compressed_undecodable']}", str(n["malformed"]), kinds)
        out.append("\n" + _GAP.join(_cell(c, w, r) if w else c for c, (_, w, r) in zip(cells, _SUMMARY_COLUMNS)))
    if summary.get("nodes_not_listed") or summary.get("evicted_nodes"):
        out.append(f"\n{summary.get('nodes_not_listed', 0)} quieter nodes not listed · "
                   f"{summary.get('evicted_nodes', 0)} nodes forgotten (least recently heard, "
                   "over the limit of nodes kept)", style="dim")
    out.append(
        f"\n{summary['datagrams']} datagrams in {summary['elapsed_s']:.2f}s (CPU {summary['cpu_s']:.2f}s) · "
        f"{summary['malformed']} malformed · {summary['unknown']} unknown · stopped: {summary['reason']}",
        style="dim",
    )
    return out


class LiveTable:
    """The table on screen: redrawn from the tick (≤ 4/s), less often if drawing gets slow.

    Drawing is kept under ~5% of the time (a redraw that took 10 ms waits 200 ms), so on a huge
    fleet the display yields to the receive loop instead of costing datagrams.
    """

    def __init__(self, console: Any, state: FleetState, title: str, clock: Any = None):
        from rich.live import Live

        self._console = console
        self._state = state
        self._title = title
        self._clock = clock  # None: wall clock; else f(t) -> the "now" to age nodes by
        self._next_draw = 0.0
        from ruview_cli.plot.sparkline import Trend

        self._trend = Trend()  # the last minute of breathing per node, sampled at each redraw
        self._live = Live(self._render(time.time()), console=console, auto_refresh=False,
                          transient=False, redirect_stdout=False, redirect_stderr=False)

    def _render(self, t: float) -> Text:
        now = self._clock(t) if self._clock is not None else time.time()
        return live_table(self._state, now, title=self._title,
                          max_rows=rows_that_fit(self._console.size.height), trend=self._trend)

    def start(self) -> None:
        self._live.start(refresh=True)

    def tick(self, t: float) -> None:
        start = time.monotonic()
        if start < self._next_draw:
            return
        self._live.update(self._render(t), refresh=True)
        self._next_draw = start + 20 * (time.monotonic() - start)

    def stop(self, final: bool = True) -> None:
        """Draw the last state (unless `final` is False, e.g. on an error) and release the screen."""
        if final:
            self._live.update(self._render(time.time()), refresh=True)
        self._live.stop()
        if not self._console.is_terminal:
            self._console.line()  # a file or pipe got the table once: end its last line
