"""The candidates table of `ruview tune` as plain fixed-width text (numbers only: nothing from
the recording reaches the terminal)."""

from __future__ import annotations

from typing import Optional

from ruview_cli.tune.search import Outcome

_HEAD = ("", "pres_thresh", "fall_thresh", "vital_win", "subk_count", "empty: presence",
         "occupied: presence", "falls found", "false falls", "score")


def _share(n: int, of: int) -> str:
    return "—" if not of else f"{100 * n / of:.0f}% of {of}"


def candidates_table(outcomes: list[Outcome], best: Outcome, default: Optional[Outcome]) -> str:
    from ruview_cli.tune.profile import human_values

    rows = [_HEAD]
    for o in outcomes:
        h = human_values(o.settings)
        mark = "best" if o is best else "default" if o is default else ""
        rows.append((mark, str(h["pres_thresh"]), f"{h['fall_thresh']:g}", str(h["vital_win"]),
                     str(h["subk_count"]), _share(o.empty_present, o.empty_packets),
                     _share(o.occupied_present, o.occupied_packets),
                     f"{o.falls_found}/{o.falls_marked}", str(o.false_falls), f"{o.score:.3f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(_HEAD))]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths))).rstrip()
                     for r in rows)
