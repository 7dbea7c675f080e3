"""`ruview config show`: what configuration a node (or an NVS image file) holds."""

from __future__ import annotations

from typing import Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe
from ruview_cli.config import schema
from ruview_cli.errors import UsageError

ORDER = 32

_SHOW_HELP = """Read and decode a node's configuration (NVS) over USB, as its firmware will use it.

The firmware decides what a stored value means: ours and RuView 0.6.x differ in defaults and ranges (0.6.5 uses fall_thresh 0 and swarm_hb 0, takes any vital_int from 100 ms, and has a compiled fall_thresh of 15.0). So the app the board boots is read too, and each key shows the value the node uses and where it comes from: `node` (stored) or `default` (not stored, or stored but ignored by that firmware: the reason is listed). Entries this tool does not know are listed by name. Secrets are masked unless --show-secrets. The board is reset into its app afterwards.

With --json: {"port", "mac", "chip", "revision", "app": {slot, project, version, flavor} | null, "firmware": "ours"|"ruview-0.6", "keys": [{key, ns, value, source: "node"|"default", secret}], "ignored": {key: reason}, "unknown": ["ns.key"], "problems": [...], "warnings": [...]}.

[b]Examples[/b]

  ruview config show --port /dev/ttyACM0

  ruview config show --file nvs.bin --firmware ruview-0.6 --json
"""


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Read a node's configuration.", no_args_is_help=True)
    group.command("show", help=_SHOW_HELP)(show)
    app.add_typer(group, name="config")


_FIRMWARE_NAMES = {schema.FIRMWARE_OURS: "the ruview firmware", schema.FIRMWARE_06: "RuView 0.6.x"}


@report_errors
def show(
    port: Optional[str] = typer.Option(None, "--port", "-p", metavar="PORT",
                                       help="Serial port, socket://HOST:PORT or pty. Default: auto-detect."),
    file: Optional[str] = typer.Option(None, "--file", metavar="IMAGE",
                                       help="Decode an NVS partition image file instead of a board."),
    baud: Optional[int] = typer.Option(None, "--baud", metavar="N", min=9600,
                                       help="Serial speed after connecting \\[default: 460800]."),
    no_stub: bool = typer.Option(False, "--no-stub", help="Talk to the ROM loader only."),
    firmware: Optional[str] = typer.Option(
        None, "--firmware", metavar="ours|ruview-0.6",
        help="Read the values with this firmware's rules \\[default: the app the board boots; "
             "ours for --file]."),
    show_secrets: bool = typer.Option(False, "--show-secrets", help="Show passwords and keys."),
    as_json: bool = typer.Option(False, "--json", help="Machine-readable output."),
) -> None:
    from ruview_cli.config.nvs import NvsReadStats, read_nvs

    if firmware is not None and firmware not in schema.FIRMWARES:
        raise UsageError(f"--firmware {firmware!r} is not one this tool knows",
                         f"use one of: {', '.join(schema.FIRMWARES)}")
    info = app = None
    warnings: list[str] = []
    if file is not None:
        if port is not None:
            raise UsageError("give --port or --file, not both", None)
        try:
            with open(file, "rb") as fh:
                image = fh.read()
        except OSError as exc:
            raise UsageError(f"cannot read {file}: {exc.strerror}", "check the path") from None
        rules = firmware or schema.FIRMWARE_OURS
        stats = NvsReadStats()
        decoded = schema.from_nvs(read_nvs(image, stats), rules)
    else:
        from ruview_cli.provision import read_config

        if port is None:
            from ruview_cli.cli._prompts import choose_port

            port = choose_port(interactive=not as_json)
        node = read_config(port, baud=baud, stub=not no_stub, firmware=firmware)
        info, app, rules, decoded, stats = node.info, node.app, node.firmware, node.decoded, node.stats
        warnings = node.warnings

    rows = []
    for k in schema.KEYS:   # the value the node uses: stored and taken, else its default
        stored = k.key in decoded.stored
        value = decoded.stored.get(k.key, k.default_for(rules))
        rows.append((k, value, "node" if stored else "default"))
    unknown = [f"{ns}.{key}" for ns, keys in decoded.extra.items() for key in keys]

    if as_json:
        emit_json({
            "port": port, "mac": info.mac if info else None, "chip": info.chip if info else None,
            "revision": info.revision if info else None,
            "app": app.to_json() if app else None, "firmware": rules,
            "keys": [{"key": k.key, "ns": k.ns,
                      "value": ("<set>" if k.secret and not show_secrets and v is not None else k.human(v)),
                      "source": src, "secret": k.secret} for k, v, src in rows],
            "ignored": decoded.ignored, "unknown": unknown, "problems": stats.problems,
            "warnings": warnings,
        })
        return

    from rich.table import Table

    out = console()
    if info:
        out.print(f"[bold]{safe(port)}[/]: {safe(info.chip)} {safe(info.revision)}, MAC {safe(info.mac)}")
    booted = f"{app.project} {app.version} in {app.slot}, " if app else ""
    out.print(f"firmware: {safe(booted)}values as {_FIRMWARE_NAMES[rules]} uses them")
    table = Table("key", "value", "source", box=None, padding=(0, 2))
    for k, v, src in rows:
        if v is None and src == "default":
            table.add_row(f"[dim]{k.key}[/]", "[dim]-[/]", "[dim]unset[/]")
            continue
        style = "" if src == "node" else "dim"
        cell = safe(k.show(v, show_secrets))
        table.add_row(f"[{style}]{k.key}[/]" if style else k.key,
                      f"[{style}]{cell}[/]" if style else cell,
                      "node" if src == "node" else "[dim]default[/]")
    out.print(table)
    for key, why in decoded.ignored.items():
        out.print(f"[yellow]ignored by the firmware:[/] {safe(key)}: {safe(why)}; the node uses "
                  f"its default", soft_wrap=True)
    for w in warnings:
        out.print(f"[yellow]warning:[/] {safe(w)}", soft_wrap=True)
    if unknown:
        out.print(f"other entries (kept by provision): {safe(', '.join(unknown))}", soft_wrap=True)
    for p in stats.problems:
        out.print(f"[yellow]unreadable:[/] {safe(p)}", soft_wrap=True)
