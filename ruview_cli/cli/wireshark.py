"""`ruview wireshark`: the Wireshark/tshark dissector for node telemetry."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ruview_cli.cli._text import safe
from ruview_cli.cli.common import console, emit_json, report_errors

ORDER = 48

_HELP = """Decode node telemetry in Wireshark and tshark: install the bundled Lua dissector.

Without --install, print where the dissector is and how to use it once. With --install, copy it into your personal Lua plugin folder (what `tshark -G folders` calls "Personal Lua Plugins"), so Wireshark and tshark show every packet kind of docs/protocol.md with fields named like the keys of `ruview tail --json` (filter e.g. `ruview.kind == "vitals" && ruview.fall`). Datagrams on UDP port 5005 are decoded, and on any port when their magic is ours.

[b]Examples[/b]

  ruview wireshark --install

  tshark -r today.pcap -Y ruview.fall -T fields -e ruview.node_id

  tshark -X lua_script:$(ruview wireshark --path) -r today.pcap
"""


def register(app: typer.Typer) -> None:
    app.command("wireshark", help=_HELP)(wireshark)


@report_errors
def wireshark(
    do_install: bool = typer.Option(False, "--install", help="Copy the dissector into your Wireshark plugin folder."),
    directory: Optional[Path] = typer.Option(None, "--dir", metavar="DIR", help="Install into DIR instead."),
    path_only: bool = typer.Option(False, "--path", help="Print only the bundled dissector's path."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object: the paths."),
) -> None:
    from ruview_cli import wireshark as ws

    bundled = ws.dissector_path()
    if path_only:
        print(bundled)
        return
    installed = ws.install(directory) if (do_install or directory is not None) else None
    if as_json:
        emit_json({"dissector": str(bundled), "installed": str(installed) if installed else None})
        return
    out = console()
    if installed is not None:
        out.print(f"installed the dissector: {safe(str(installed))}")
        out.print("restart Wireshark to load it; tshark loads it on its next run")
    else:
        out.print(f"dissector: {safe(str(bundled))}", soft_wrap=True)
        out.print(f"use once:  tshark -X lua_script:{safe(str(bundled))} -r FILE.pcap", soft_wrap=True)
        out.print("install:   ruview wireshark --install")
