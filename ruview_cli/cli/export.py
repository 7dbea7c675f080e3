"""`ruview export`: vitals over time from a recording, as CSV or Parquet."""

from __future__ import annotations

import os
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.errors import UsageError

ORDER = 42

_HELP = """Write one row per vitals packet of a recording to a CSV or Parquet file.

RECORDING is a pcap/pcapng capture (`ruview tail --record`, tcpdump, tshark) or a RuView .csi.jsonl file. Columns: time (unix s), source, node_id, breathing_bpm, heart_bpm, breathing_conf, heart_conf, presence, presence_score, motion, motion_energy, fall, n_persons, rssi_dbm. An estimate the node did not make (BPM 0 on the wire) is an empty cell (Parquet: null), never 0. Parquet needs pyarrow (pip install 'ruview\\[parquet]').

[b]Examples[/b]

  ruview export today.pcap -o today.csv

  ruview export night.csi.jsonl -o night.parquet --node 2
"""


def register(app: typer.Typer) -> None:
    app.command("export", help=_HELP)(export)


@report_errors
def export(
    recording: str = typer.Argument(..., metavar="RECORDING", help="pcap/pcapng or RuView .csi.jsonl file."),
    output: str = typer.Option(..., "-o", "--output", metavar="FILE", help="FILE.csv or FILE.parquet."),
    node: Optional[List[int]] = typer.Option(None, "--node", min=0, max=255, metavar="ID",
                                             help="Only this node id (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as one JSON object."),
) -> None:
    if not os.path.isfile(recording):
        raise UsageError(f"no such recording: {recording}",
                         "pass a file written by `ruview tail --record`, tcpdump -w or RuView's recorder")
    from ruview_cli.cli._text import safe
    from ruview_cli.export.convert import export_recording

    result = export_recording(recording, output, node)
    if as_json:
        emit_json(result.to_json())
        return
    out = console()
    nodes = len(result.nodes)
    out.print(f"wrote {result.rows} rows ({nodes} node{'s' if nodes != 1 else ''}) to {safe(output)}")
    if result.rows == 0:
        console(stderr=True).print("[yellow]warning:[/] the recording holds no vitals packets "
                                   "(was it recorded with the nodes at edge_tier 0, raw frames only?)")
