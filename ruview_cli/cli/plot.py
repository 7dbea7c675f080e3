"""`ruview plot`: vitals over time, per node, as a picture (file) or in the terminal."""

from __future__ import annotations

import os
import sys
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.errors import UsageError

ORDER = 43

_HELP = """Plot breathing, heart rate, presence, motion and falls over time, one panel per node.

INPUT is a recording (pcap/pcapng from `ruview tail --record`, a RuView .csi.jsonl) or a file from `ruview export` / `tail --csv` (.csv, .parquet). With -o: a PNG, SVG or HTML file (matplotlib; HTML is one self-contained page). Without -o: a plot in the terminal (uniplot). Needs pip install 'ruview\\[plot]'.

[b]Examples[/b]

  ruview plot today.pcap

  ruview plot night.csv -o night.png

  ruview plot night.csi.jsonl --node 2 -o night.html
"""


def register(app: typer.Typer) -> None:
    app.command("plot", help=_HELP)(plot)


@report_errors
def plot(
    source: str = typer.Argument(..., metavar="INPUT", help="Recording (.pcap, .pcapng, .csi.jsonl) or rows (.csv, .parquet)."),
    output: Optional[str] = typer.Option(None, "-o", "--output", metavar="FILE",
                                         help="Write FILE.png, FILE.svg or FILE.html instead of plotting in the terminal."),
    node: Optional[List[int]] = typer.Option(None, "--node", min=0, max=255, metavar="ID",
                                             help="Only this node id (repeatable)."),
    width: Optional[int] = typer.Option(None, "--width", min=40, max=1000, metavar="COLS",
                                        help="Terminal plot width [default: the terminal's]."),
    as_json: bool = typer.Option(False, "--json", help="Print what was plotted per node as JSON."),
) -> None:
    if not os.path.isfile(source):
        raise UsageError(f"no such file: {source}", "pass a recording or a file from `ruview export`")
    if output is not None:
        from ruview_cli.plot.figure import output_format

        output_format(output)  # a bad extension is refused before any work
    from ruview_cli.plot.load import load_series, series_json

    series = load_series(source, node)
    if output is not None:
        from ruview_cli.plot.figure import save_figure, vitals_figure

        title = f"Vitals over time — {os.path.basename(source)}"
        save_figure(vitals_figure(series, title), output, title)
    if as_json:
        emit_json({"file": output, "nodes": [series_json(s) for s in series]})
        return
    if output is not None:
        from ruview_cli.cli._text import safe

        console().print(f"wrote {safe(output)} ({len(series)} node{'s' if len(series) != 1 else ''})")
        return
    from ruview_cli.plot.terminal import terminal_plot

    cols = width or console().size.width
    colour = sys.stdout.isatty() and "NO_COLOR" not in os.environ
    sys.stdout.write(terminal_plot(series, cols, color=colour))
