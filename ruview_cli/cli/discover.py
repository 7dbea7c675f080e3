"""`ruview discover`: which nodes are out there, and are they alive?"""

from __future__ import annotations

import signal
import threading
import time
from typing import Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe
from ruview_cli.errors import UsageError

ORDER = 10

_HELP = """Find nodes by mDNS, by their UDP telemetry and by probing GET :8032/ota/status.

mDNS browses _ruview._tcp and _ruview._udp (our firmware advertises them) on --interface, else RUVIEW_MDNS_INTERFACE, else every IPv4 interface. RuView 0.6.x nodes advertise nothing: find them with --listen (the telemetry port they send to) or --probe (a subnet sweep, 64 requests at a time). Nodes already in the inventory are checked too. A node that does not report its MAC (RuView 0.6.x) gets it from this machine's ARP table when it is on the local link. One row per node (by MAC, else address + node id); a node id used by two nodes is flagged "dup". An advert or reply that makes no sense (e.g. a bad MAC) is skipped and reported; the rest are kept.

What discovery adopts: nodes already in the inventory (the fleet that `ota --all` updates) are refreshed when heard at their stored address. A node not in the inventory is listed as "new", and a known MAC heard at another address as "moved"; neither is written unless you adopt it: --save, answering yes when asked (on a terminal), or `ruview nodes add`. --no-save writes nothing at all.

--watch keeps looking and redraws; a node not seen (advert, packet or status answer) for --stale-after seconds is shown stale.

With --json: one object {"nodes": [...], "inventory": PATH|null, "saved": N, "new": N, "moved": N, "rejected": [{"source", "ip", "name", "reason"}]} (with --watch, one per refresh plus "t"). Node keys: mac, node_id, name, ip, http_port, version, edge_tier, ota_state, rollback, flavor ("ours" | "ruview-0.6" | null), chip, running_partition, mdns_name, sources (of mdns, telemetry, probe, inventory), last_seen (epoch s), stale, duplicate_node_id, fleet ("member" | "new" | "moved" | null without a MAC), stored_address (moved: the inventory's address).

[b]Examples[/b]

  ruview discover

  ruview discover --listen 5005 --probe 192.168.1.0/24 --save

  ruview discover --watch --interface 192.168.1.10

  ruview discover --json --no-save | jq '.nodes[].ip'
"""


def register(app: typer.Typer) -> None:
    app.command("discover", help=_HELP)(discover_cmd)


@report_errors
def discover_cmd(
    timeout: float = typer.Option(2.0, "--timeout", metavar="S",
                                  help="Browse window in seconds."),
    interface: Optional[str] = typer.Option(None, "--interface", metavar="ADDR",
                                            help="IPv4 address (or name) of the interface for "
                                                 "mDNS [default: RUVIEW_MDNS_INTERFACE, else all]."),
    listen: Optional[int] = typer.Option(None, "--listen", metavar="PORT", min=1, max=65535,
                                         help="Also list nodes whose UDP telemetry arrives on PORT."),
    probe: Optional[str] = typer.Option(None, "--probe", metavar="CIDR",
                                        help="Also probe every address of CIDR (at most a /22)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output (see above)."),
    watch: bool = typer.Option(False, "--watch", help="Keep discovering and redraw."),
    stale_after: float = typer.Option(6.0, "--stale-after", metavar="S",
                                      help="With --watch: unseen this long = stale."),
    duration: Optional[float] = typer.Option(None, "--duration", metavar="S",
                                             help="With --watch: stop after S seconds."),
    save: bool = typer.Option(False, "--save", help="Adopt new nodes and accept moved "
                                                     "addresses into the inventory."),
    no_save: bool = typer.Option(False, "--no-save", help="Do not update the inventory."),
) -> None:
    from ruview_cli.discovery import discover
    from ruview_cli.inventory import Inventory

    if not 0 < timeout <= 60:
        raise UsageError(f"--timeout {timeout:g} out of range", "give 0.1 to 60 seconds")
    if stale_after <= 0:
        raise UsageError("--stale-after must be more than 0", "e.g. --stale-after 6")
    if save and no_save:
        raise UsageError("--save and --no-save contradict each other", "give one of them")
    if duration is not None and not watch:
        raise UsageError("--duration only applies to --watch", "add --watch or drop --duration")
    from ruview_cli.discovery.interfaces import resolve_interface
    from ruview_cli.discovery.probe import probe_hosts

    if probe:
        probe_hosts(probe)  # refuse a bad CIDR before anything is opened or printed
    resolve_interface(interface)
    inventory = Inventory.load()
    from ruview_cli.cli._render_nodes import table_console

    out = table_console()
    if watch:
        _watch(inventory, timeout, interface, listen, probe, as_json, stale_after, duration,
               no_save, save, out)
        return
    err = console(stderr=True)
    if not as_json:
        err.print(f"[dim]discovering for {timeout:g} s…[/]")
    rejected: list = []
    rows = discover(timeout=timeout, interface=interface, listen_port=listen, probe=probe,
                    inventory=inventory, rejected=rejected)
    report = _save(inventory, rows, save, no_save)
    if as_json:
        emit_json(_json(rows, inventory, no_save, report, rejected))
        return
    from ruview_cli.cli._render_nodes import discover_table

    live = sum(1 for r in rows if not r.stale)
    out.print(discover_table(rows, f"ruview discover · {live} live, {len(rows) - live} stale"))
    if not rows:
        out.print("no nodes found — try --listen 5005 or --probe <subnet>/24, and `ruview doctor`")
    _print_rejected(err, rejected)
    if report.saved:
        out.print(f"[dim]inventory updated: {safe(inventory.path)}[/]")
    if (report.new or report.moved) and not no_save and _ask(err, report):
        wanted = report.new + report.moved
        _save(inventory, wanted, True, False)
        out.print(f"adopted into {safe(inventory.path)}: "
                  f"{safe(', '.join(r.mac for r in wanted))}", soft_wrap=True)
    elif report.new or report.moved:
        out.print(f"{len(report.new)} new node(s) and {len(report.moved)} moved address(es) "
                  "not saved: adopt them with --save or `ruview nodes add`", soft_wrap=True)


def _save(inventory, rows, save: bool, no_save: bool):
    from ruview_cli.discovery import SaveReport, save_to_inventory
    from ruview_cli.discovery.adopt import classify

    if no_save:
        classify(inventory, rows)
        return SaveReport()
    return save_to_inventory(inventory, rows, adopt=save)


def _ask(err, report) -> bool:
    """On a terminal: offer to adopt what was heard (a script must pass --save)."""
    import sys

    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        return False
    return typer.confirm(f"Adopt {len(report.new)} new node(s) and {len(report.moved)} moved "
                         "address(es) into the fleet (`ota --all` updates it)?",
                         default=False, err=True)


def _json(rows, inventory, no_save: bool, report, rejected) -> dict:
    return {"nodes": [r.to_json() for r in rows],
            "inventory": None if no_save else str(inventory.path), "saved": report.saved,
            "new": len(report.new), "moved": len(report.moved),
            "rejected": [r.to_json() for r in rejected]}


def _print_rejected(err, rejected) -> None:
    for r in rejected:
        where = r.name or r.ip or "?"
        err.print(f"[yellow]skipped[/] a {safe(r.source)} answer from {safe(where)}: "
                  f"{safe(r.reason)}", soft_wrap=True)


def _watch(inventory, timeout, interface, listen, probe, as_json, stale_after, duration,
           no_save, save, out) -> None:
    from ruview_cli.cli._render_nodes import discover_table
    from ruview_cli.discovery import DiscoverySession

    stop = threading.Event()
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
        except (ValueError, OSError):
            pass
    end = time.monotonic() + duration if duration is not None else None
    live = None
    try:
        with DiscoverySession(interface=interface, listen_port=listen, probe=probe,
                              inventory=inventory, probe_timeout=min(0.8, timeout)) as session:
            if not as_json:
                from rich.live import Live

                live = Live(console=out, auto_refresh=False, transient=False)
                live.start()
            stop.wait(min(timeout, 1.0))  # let the first adverts arrive before the first draw
            while not stop.is_set():
                cycle = time.monotonic()
                rows = session.snapshot(session.probe_round(), stale_after=stale_after)
                report = _save(inventory, rows, save, no_save)
                if as_json:
                    emit_json({"t": round(time.time(), 3),
                               **_json(rows, inventory, no_save, report,
                                       list(session.rejected.values()))})
                else:
                    n_live = sum(1 for r in rows if not r.stale)
                    live.update(discover_table(
                        rows, f"ruview discover --watch · {n_live} live, "
                              f"{len(rows) - n_live} stale · Ctrl-C to stop"), refresh=True)
                if end is not None and time.monotonic() >= end:
                    break
                wait = max(0.2, timeout - (time.monotonic() - cycle))
                if end is not None:
                    wait = min(wait, max(0.0, end - time.monotonic()))
                stop.wait(wait)
    finally:
        if live is not None:
            live.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
