"""`ruview demo`: the main job on an emulated fleet — start, discover, provision, update, watch."""

from __future__ import annotations

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe

TAIL_SECONDS = 22.0  # ruview_cli.demo.TAIL_SECONDS, repeated so --help imports nothing heavy

ORDER = 1

HELP = """Try everything on this machine, no hardware needed (about 30 seconds).

Starts three emulated ESP32-S3 nodes on loopback addresses, finds them over mDNS, provisions one over its serial port with esptool (only the keys named change; the rest is kept and read back) while it pushes a firmware update to another over the air and proves the new version booted, then shows the live vitals of all three (and, with Mosquitto installed, bridges them to MQTT) until each has reported a breathing rate or --seconds pass, and prints what each node measured next to what its emulated room holds. A node's first estimate needs about 20 s of CSI after a boot; one that has not spoken yet is named, not counted wrong. It writes nothing outside a temporary directory.

[b]Examples[/b]

  ruview demo
  ruview demo --seconds 5 --json
"""


def register(app: typer.Typer) -> None:
    app.command("demo", help=HELP)(demo)


@report_errors
def demo(
    seconds: float = typer.Option(TAIL_SECONDS, "--seconds", min=1.0, max=600.0, help="Longest time to watch the vitals (it ends as soon as every node has reported a breathing rate)."),
    interface: str = typer.Option("127.0.0.1", "--interface", envvar="RUVIEW_MDNS_INTERFACE",
                                  help="Interface address for the nodes' mDNS."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per step, then the summary."),
) -> None:
    import time

    from ruview_cli.demo import Demo
    from ruview_cli.errors import EXIT_FAILED

    out = console()
    live = None

    def on_step(result) -> None:
        if json_out:
            emit_json({"step": result.name, "ok": result.ok, "detail": result.detail})
            return
        mark = "[green]✓[/]" if result.ok else "[red]✗[/]"
        out.print(f"{mark} [b]{result.name:<9}[/] {safe(result.detail)}", soft_wrap=True)

    def on_tail_tick(session, t: float) -> None:
        nonlocal live
        if json_out:
            return
        from rich.live import Live

        from ruview_cli.cli._tail_table import live_table

        table = live_table(session.state, time.time(), title="ruview demo · live vitals")
        if live is None:
            live = Live(table, console=out, auto_refresh=False, transient=True)
            live.start(refresh=True)
        else:
            live.update(table, refresh=True)

    if not json_out:
        out.print("[b]ruview demo[/]: three emulated nodes, the real esptool, zeroconf, HTTP and UDP code\n")
    runner = Demo(tail_seconds=seconds, on_step=on_step, on_tail_tick=on_tail_tick, interface=interface)
    try:
        report = runner.run()
    finally:
        if live is not None:
            live.stop()
    if json_out:
        emit_json({"summary": report.summary, "ok": report.ok})
    else:
        if report.summary.get("vitals"):
            out.print(_vitals_table(report.summary["vitals"]))
        verdict = "[green]all steps passed[/]" if report.ok else "[red]some steps failed[/] (see above)"
        out.print(f"\nruview demo: {verdict}")
    if not report.ok:
        raise typer.Exit(EXIT_FAILED)


def _vitals_table(rows: list[dict]):
    from rich import box
    from rich.table import Table

    def num(v, fmt):
        return "-" if v in (None, 0, 0.0) else format(v, fmt)

    # SIMPLE_HEAD: the columns fit 80 without cutting a value
    table = Table(title="what each node measured (in brackets: what its room holds)", box=box.SIMPLE_HEAD,
                  pad_edge=False, collapse_padding=True)
    for col in ("node", "address", "fw", "breath/min", "heart", "present", "people", "CSI/s", "loss"):
        table.add_column(col, justify="right" if col not in ("address", "fw") else "left",
                         no_wrap=True)
    for r in rows:
        room = r.get("room") or {}
        truth_rate = room.get("breathing_bpm")
        table.add_row(str(r["node_id"]), safe(r["address"]), safe(r["version"] or "?"),
                      f"{num(r['breathing_bpm'], '.1f')} ({num(truth_rate, '.1f')})",
                      num(r["heart_bpm"], ".0f"),
                      "yes" if r["presence"] else "no",
                      f"{r['n_persons'] or 0} ({room.get('persons', '?')})",
                      f"{r['frame_rate_hz']:.1f}",
                      "-" if r["loss_pct"] is None else f"{r['loss_pct']:.1f}%")
    return table
