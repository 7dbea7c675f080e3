"""Rich tables shared by `ruview discover`, `ruview nodes list` and `ruview status`."""

from __future__ import annotations

import time
from typing import Any


def ago(t: float | None, now: float | None = None) -> str:
    if t is None:
        return "never"
    d = max(0.0, (time.time() if now is None else now) - t)
    if d < 1:
        return "now"
    if d < 120:
        return f"{d:.0f} s ago"
    if d < 7200:
        return f"{d / 60:.0f} min ago"
    if d < 172800:
        return f"{d / 3600:.0f} h ago"
    return f"{d / 86400:.0f} d ago"


def dash(v: Any) -> str:
    """A table cell from untrusted data: "—" when empty, else escaped (cli/_text.py)."""
    from ruview_cli.cli._text import safe

    return "—" if v is None or v == "" else safe(v)


def discover_table(rows: list, title: str):
    from rich.table import Table

    from ruview_cli.cli._text import safe

    t = Table(title=safe(title), title_justify="left", header_style="bold")
    for col in ("node", "name", "address", "MAC", "version", "tier", "OTA", "found by",
                "last seen", "state"):
        t.add_column(col, no_wrap=col in ("MAC", "address"))
    now = time.time()
    for r in rows:
        node = dash(r.node_id)
        if r.duplicate_node_id:
            node = f"[bold red]{node} dup[/]"
        ota = dash(r.ota_state) if r.flavor != "ruview-0.6" else "no rollback"
        if r.rollback:
            ota = f"[yellow]rolled back from {dash(r.rollback)}[/]"
        addr = dash(r.ip) if r.http_port == 8032 or not r.ip else dash(f"{r.ip}:{r.http_port}")
        state = "[dim]stale[/]" if r.stale else "[green]live[/]"
        if r.fleet == "new":
            state += " · [yellow]new, not adopted[/]"
        elif r.fleet == "moved":
            state += f" · [yellow]moved from {dash(r.stored_address)}, not saved[/]"
        t.add_row(node, dash(r.name), addr, dash(r.mac), dash(r.version), dash(r.edge_tier),
                  ota, ",".join(r.sources), ago(r.last_seen, now), state)
    return t


def table_console():
    """The stdout console; when piped (no terminal width to honour) wide enough that a fleet
    table is not squeezed into 80 columns."""
    from ruview_cli.cli.common import console

    out = console()
    if not out.is_terminal:
        out.width = max(out.width, 150)
    return out
