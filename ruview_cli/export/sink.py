"""`ruview tail --csv/--parquet`: a TailSession sink that writes one row per vitals packet.

It has the JSON sink's interface (make_writer, flush) and can wrap it (`also`), so `--json`
and `--csv` work together without a second path through the session.
"""

from __future__ import annotations

import os
from typing import Any, Callable, Optional

from ruview_cli.export.rows import VITALS_KINDS, vitals_row


class RowsSink:
    def __init__(self, writers: list, also: Optional[Any] = None):
        self.writers = writers
        self.also = also

    def make_writer(self) -> Callable[[Any, tuple, float], None]:
        inner = self.also.make_writer() if self.also is not None else None
        writes = [w.write for w in self.writers]
        kinds = VITALS_KINDS

        def write(pkt: Any, addr: tuple, t: float) -> None:
            if inner is not None:
                inner(pkt, addr, t)
            if pkt.kind in kinds:
                row = vitals_row(pkt, addr, t)
                for w in writes:
                    w(row)

        return write

    def flush(self) -> None:
        if self.also is not None:
            self.also.flush()
        for w in self.writers:
            w.flush()

    def close(self) -> None:
        for w in self.writers:
            w.close()

    @property
    def lines(self) -> int:
        return self.also.lines if self.also is not None else 0


def open_rows_sink(csv_path: Optional[str], parquet_path: Optional[str], also: Optional[Any] = None) -> RowsSink:
    """A RowsSink writing the given files (CSV and/or Parquet, whatever their extension says)."""
    from ruview_cli.export.files import CsvRowWriter, ParquetRowWriter
    from ruview_cli.errors import UsageError

    writers: list = []
    try:
        for path, cls in ((csv_path, CsvRowWriter), (parquet_path, ParquetRowWriter)):
            if path is None:
                continue
            if os.path.isdir(path):
                raise UsageError(f"{path} is a directory", "give a file name, e.g. vitals.csv")
            writers.append(cls(path))
    except BaseException:
        for w in writers:
            w.close()
        raise
    return RowsSink(writers, also)
