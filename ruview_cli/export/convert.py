"""`ruview export`: a recording's vitals rows into a CSV or Parquet file, with a tally."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Iterable, Optional

from ruview_cli.errors import RuviewError
from ruview_cli.export.files import open_row_writer
from ruview_cli.export.rows import recording_rows
from ruview_cli.telemetry.pcap import ReadStats


@dataclass
class ExportResult:
    path: str
    rows: int = 0
    nodes: dict[str, int] = field(default_factory=dict)  # "ip:port/node_id" (or "node_id" without a sender) -> rows
    first_t: Optional[float] = None
    last_t: Optional[float] = None
    stats: ReadStats = field(default_factory=ReadStats)

    def to_json(self) -> dict:
        return {"file": self.path, "rows": self.rows, "nodes": dict(self.nodes),
                "first_time": self.first_t, "last_time": self.last_t,
                "recording": {"records": self.stats.records, "udp": self.stats.udp,
                              "skipped": dict(self.stats.skipped)}}


def export_recording(recording: str, output: str, nodes: Optional[Iterable[int]] = None) -> ExportResult:
    """Write one row per vitals packet of `recording` (pcap/pcapng/.csi.jsonl) to `output`."""
    if os.path.abspath(recording) == os.path.abspath(output):
        raise RuviewError(f"the output {output} is the recording itself", "choose another -o file")
    wanted = frozenset(nodes) if nodes else None
    result = ExportResult(output)
    rows = recording_rows(recording, result.stats)
    first = next(rows, None)  # read errors surface before the output file is created
    writer = open_row_writer(output)
    try:
        for row in ([first] if first is not None else []):
            _add(result, writer, row, wanted)
        for row in rows:
            _add(result, writer, row, wanted)
    finally:
        writer.close()
    return result


def _add(result: ExportResult, writer, row: dict, wanted) -> None:
    if wanted is not None and row["node_id"] not in wanted:
        return
    writer.write(row)
    result.rows += 1
    key = f"{row['source']}/{row['node_id']}" if row["source"] else str(row["node_id"])
    result.nodes[key] = result.nodes.get(key, 0) + 1
    if result.first_t is None:
        result.first_t = row["time"]
    result.last_t = row["time"]
