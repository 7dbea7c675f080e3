"""`ruview doctor`: what on this machine breaks discovery and flashing, and how to fix it."""

from __future__ import annotations

from typing import Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe

ORDER = 60

_HELP = """Check this machine for what breaks discovery and flashing, and print the fix for each.

Checks: mdns_port (UDP 5353 held by another responder without port sharing), multicast_interface (an up, multicast-capable, non-loopback interface), docker (container / bridge networking), udp_5005 (a datagram to this machine's own address (--address) on 5005 (--listen) arrives — a firewall would drop node telemetry), serial (read/write access to /dev/ttyACM*, /dev/ttyUSB*), serial_hijackers (brltty, ModemManager), libraries (esptool >= 5, zeroconf, tomlkit, pyserial).

Exit 0 when nothing failed (warnings allowed), 1 otherwise. With --json: {"ok": bool, "checks": [{"name", "status" (ok|warn|fail|skip), "detail", "fix"}]}.

[b]Example[/b]

  ruview doctor
"""


def register(app: typer.Typer) -> None:
    app.command("doctor", help=_HELP)(doctor_cmd)


@report_errors
def doctor_cmd(
    address: Optional[str] = typer.Option(
        None, "--address", metavar="ADDR",
        help="Address the nodes send telemetry to, for the udp_5005 check [default: this machine's first non-loopback address]."),
    listen: int = typer.Option(5005, "--listen", min=1, max=65535, metavar="PORT",
                               help="UDP port the nodes send to (their target_port)."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    from ruview_cli.discovery.doctor import FAIL, run_checks

    checks = run_checks(udp_addr=address, udp_port=listen)
    ok = not any(c.status == FAIL for c in checks)
    if as_json:
        emit_json({"ok": ok, "checks": [c.to_json() for c in checks]})
    else:
        out = console()
        marks = {"ok": "[green]✓[/]", "warn": "[yellow]![/]", "fail": "[red]✗[/]",
                 "skip": "[dim]-[/]"}
        for c in checks:
            # details quote interface names, process names and error texts of this machine
            out.print(f"{marks[c.status]} [bold]{c.name}[/]: {safe(c.detail)}", soft_wrap=True)
            if c.fix and c.status != "ok":
                out.print(f"    fix: {safe(c.fix)}", soft_wrap=True)
        out.print("[green]all good[/]" if ok else "[red]something is broken: see the fixes above[/]")
    if not ok:
        raise typer.Exit(1)
