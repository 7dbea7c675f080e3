"""`ruview status`: each node's GET /ota/status in one table."""

from __future__ import annotations

from typing import List, Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe
from ruview_cli.errors import EXIT_FAILED, EXIT_PARTIAL, UsageError

ORDER = 20

_HELP = """Ask each node which firmware it runs: version, running slot, OTA state, rollback, uptime, edge tier.

TARGETS are inventory names, MACs, hosts or host:port (port 8032 by default); --group G and --all take nodes from the inventory; no TARGETS means --all. Unreachable nodes are listed as such. Exit 0 when every node answered, 3 when some did not, 1 when none did.

With --json: {"nodes": [...]} where each entry has target, host, port, name, mac, ok, error (null when ok), and when ok: flavor, version, running_partition, next_partition, ota_state, rollback, uptime_s, edge_tier, node_id, chip, max_size, reset_reason.

[b]Examples[/b]

  ruview status --all

  ruview status kitchen 192.168.1.41 --json
"""


def register(app: typer.Typer) -> None:
    app.command("status", help=_HELP)(status_cmd)


@report_errors
def status_cmd(
    targets: Optional[List[str]] = typer.Argument(None, metavar="[TARGETS]..."),
    group: Optional[str] = typer.Option(None, "--group", metavar="G", help="Nodes of group G."),
    all_: bool = typer.Option(False, "--all", help="Every node in the inventory."),
    timeout: float = typer.Option(3.0, "--timeout", metavar="S", help="Per-node timeout."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (see above)."),
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from ruview_cli.errors import RuviewError
    from ruview_cli.inventory import Inventory
    from ruview_cli.nodeapi import get_status

    if not 0 < timeout <= 60:
        raise UsageError(f"--timeout {timeout:g} out of range", "give 0.1 to 60 seconds")
    inv = Inventory.load()
    if not targets and group is None and not all_:
        if not inv.nodes():  # bare `ruview status` means the whole fleet
            raise UsageError(f"no nodes given, and the inventory {inv.path} is empty",
                             "name nodes (`ruview status 192.168.1.40`), or fill the inventory "
                             "with `ruview discover` first")
        all_ = True
    resolved = inv.resolve(list(targets or []), group=group, all_=all_)

    def one(t):
        try:
            return t, get_status(t.host, t.port, timeout=timeout), None
        except RuviewError as exc:
            return t, None, exc

    with ThreadPoolExecutor(max_workers=min(32, len(resolved))) as pool:
        results = list(pool.map(one, resolved))
    failed = sum(1 for _t, st, _e in results if st is None)

    if as_json:
        nodes = []
        for t, st, err in results:
            row = {"target": t.label, "host": t.host, "port": t.port, "name": t.name,
                   "mac": t.mac, "ok": st is not None, "error": err.message if err else None}
            if st is not None:
                d = st.to_json()
                for k in ("flavor", "version", "running_partition", "next_partition",
                          "ota_state", "rollback", "uptime_s", "edge_tier", "node_id", "chip",
                          "max_size", "reset_reason"):
                    row[k] = d[k]
                row["mac"] = st.mac or t.mac
            nodes.append(row)
        emit_json({"nodes": nodes})
    else:
        from rich.table import Table

        from ruview_cli.cli._render_nodes import dash

        tbl = Table(title=f"ruview status · {len(results) - failed} of {len(results)} answered",
                    title_justify="left", header_style="bold")
        for col in ("node", "address", "version", "slot", "OTA", "uptime", "tier", "id"):
            tbl.add_column(col, no_wrap=col == "address")
        for t, st, err in results:
            addr = t.host if t.port == 8032 else f"{t.host}:{t.port}"
            if st is None:
                tbl.add_row(dash(t.name), safe(addr), "[red]unreachable[/]", "", "", "", "", "")
                continue
            if st.flavor != "ours":
                ota = "[yellow]no rollback (RuView 0.6)[/]"
            elif st.rollback:
                ota = f"[yellow]{safe(st.ota_state)} · rolled back from {safe(st.rollback)}[/]"
            else:
                ota = dash(st.ota_state)
            up = "—" if st.uptime_s is None else _uptime(st.uptime_s)
            tbl.add_row(dash(t.name), safe(addr), dash(st.version), dash(st.running_partition), ota,
                        up, dash(st.edge_tier), dash(st.node_id))
        from ruview_cli.cli._render_nodes import table_console

        out = table_console()
        out.print(tbl)
        for t, st, err in results:
            if err is not None:
                out.print(f"[red]{safe(t.label)}[/]: {safe(err.message)}", soft_wrap=True)
    if failed == len(results):
        raise typer.Exit(EXIT_FAILED)
    if failed:
        raise typer.Exit(EXIT_PARTIAL)


def _uptime(s: int) -> str:
    if s < 120:
        return f"{s} s"
    if s < 7200:
        return f"{s // 60} min"
    return f"{s // 3600} h {s % 3600 // 60} min"
