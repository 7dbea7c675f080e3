"""Row files: CSV (stdlib) and Parquet (pyarrow, optional), written as rows arrive, read back.

Writers stream: CSV is flushed with every batch, Parquet is written one row group per batch,
so `ruview tail --csv` keeps what it has if the process is killed (CSV) and a long run never
holds more than one batch in memory. pyarrow is imported only by the Parquet writer/reader.
"""

from __future__ import annotations

import csv
import math
import os
from typing import Any, Iterator, Optional

from ruview_cli.errors import RuviewError, UsageError
from ruview_cli.export.rows import COLUMNS, NAMES

BATCH = 1024  # rows per CSV flush / Parquet row group
FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
PYARROW_FIX = "install it: pip install 'ruview[parquet]' (or pip install pyarrow), or write .csv"


def file_format(path: str, what: str = "output") -> str:
    """'csv' or 'parquet' from the file name's extension."""
    ext = os.path.splitext(path)[1].lower()
    fmt = FORMATS.get(ext)
    if fmt is None:
        raise UsageError(f"{what} {path}: unknown file type {ext or '(no extension)'}",
                         "name the file .csv or .parquet")
    return fmt


def _cell(value: Any, typ: str) -> str:
    if value is None:
        return ""
    if typ == "bool":
        return "true" if value else "false"
    if typ == "time":
        return f"{value:.6f}"
    if typ == "float":
        return f"{value:.7g}"  # f32 on the wire: 7 significant digits
    return str(value)


def _open_for_writing(path: str, mode: str):
    try:
        return open(path, mode, newline="" if "b" not in mode else None)
    except OSError as exc:
        raise RuviewError(f"cannot write {path}: {exc.strerror}", "choose a writable path") from None


class CsvRowWriter:
    """Rows as CSV with a header line; None is an empty cell, booleans are true/false."""

    def __init__(self, path: str):
        self.path = path
        self.rows = 0
        self._fh = _open_for_writing(path, "w")
        self._csv = csv.writer(self._fh, lineterminator="\n")
        self._csv.writerow(NAMES)
        self._pending = 0

    def write(self, row: dict) -> None:
        self._csv.writerow([_cell(row.get(name), typ) for name, typ in COLUMNS])
        self.rows += 1
        self._pending += 1
        if self._pending >= BATCH:
            self.flush()

    def flush(self) -> None:
        self._pending = 0
        try:
            self._fh.flush()
        except OSError as exc:
            raise RuviewError(f"writing {self.path} failed: {exc.strerror}", "free disk space") from None

    def close(self) -> None:
        if not self._fh.closed:
            self.flush()
            self._fh.close()


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet  # noqa: F401 - the submodule must be loaded explicitly
    except ImportError:
        raise RuviewError("Parquet needs the pyarrow package, which is not installed", PYARROW_FIX) from None
    return pyarrow


def _arrow_schema(pa):
    types = {"time": pa.timestamp("us", tz="UTC"), "str": pa.string(), "int": pa.int16(),
             "float": pa.float64(), "bool": pa.bool_()}
    return pa.schema([(name, types[typ]) for name, typ in COLUMNS])


class ParquetRowWriter:
    """Rows as Parquet: `time` a UTC timestamp (µs), nulls where the node made no estimate."""

    def __init__(self, path: str):
        self._pa = pa = _pyarrow()
        self.path = path
        self.rows = 0
        self._schema = _arrow_schema(pa)
        self._batch: list[dict] = []
        try:
            self._writer = pa.parquet.ParquetWriter(path, self._schema)
        except OSError as exc:
            raise RuviewError(f"cannot write {path}: {exc}", "choose a writable path") from None

    def write(self, row: dict) -> None:
        self._batch.append(row)
        self.rows += 1
        if len(self._batch) >= BATCH:
            self._write_batch()

    def flush(self) -> None:
        """Nothing: a Parquet file is readable only once closed (footer), and a row group per
        idle moment of `tail` would make thousands of tiny groups; batches go out when full."""

    def _write_batch(self) -> None:
        if not self._batch:
            return
        cols = {name: [r.get(name) for r in self._batch] for name in NAMES}
        cols["time"] = [None if t is None else int(round(t * 1e6)) for t in cols["time"]]
        self._batch = []
        table = self._pa.table({name: self._pa.array(cols[name], type=self._schema.field(name).type)
                                for name in NAMES}, schema=self._schema)
        try:
            self._writer.write_table(table)
        except OSError as exc:
            raise RuviewError(f"writing {self.path} failed: {exc}", "free disk space") from None

    def close(self) -> None:
        if self._writer is not None:
            self._write_batch()
            self._writer.close()
            self._writer = None


def open_row_writer(path: str):
    """A CSV or Parquet writer chosen by the file name (.csv, .parquet)."""
    if os.path.isdir(path):
        raise UsageError(f"{path} is a directory", "give a file name, e.g. vitals.csv")
    return ParquetRowWriter(path) if file_format(path) == "parquet" else CsvRowWriter(path)


# ------------------------------------------------------------------------------- reading ---


def _parse(text: str, typ: str) -> Any:
    if text == "":
        return None
    if typ == "bool":
        low = text.strip().lower()
        if low in ("true", "1", "yes"):
            return True
        if low in ("false", "0", "no"):
            return False
        raise ValueError(f"not a boolean: {text!r}")
    if typ == "str":
        return text
    if typ == "int":
        return int(text)
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"not a finite number: {text!r}")
    return v


def read_row_file(path: str) -> Iterator[dict]:
    """Rows of a CSV or Parquet file written by `ruview export` / `tail --csv` (or by hand:
    `time` and `node_id` are required, other columns optional, unknown ones ignored)."""
    if file_format(path, "input") == "parquet":
        yield from _read_parquet(path)
        return
    try:
        fh = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise RuviewError(f"cannot read {path}: {exc.strerror}", "check the path") from None
    with fh:
        reader = csv.DictReader(fh)
        _check_header(path, reader.fieldnames or [])
        present = [(n, t) for n, t in COLUMNS if n in reader.fieldnames]
        for line_no, rec in enumerate(reader, start=2):
            try:
                row = {n: _parse(rec.get(n) or "", t) for n, t in present}
            except ValueError as exc:
                raise RuviewError(f"{path} line {line_no}: {exc}",
                                  "fix the cell, or re-export the recording with `ruview export`") from None
            if row.get("time") is None or row.get("node_id") is None:
                raise RuviewError(f"{path} line {line_no}: empty time or node_id", "every row needs both")
            yield row


def _check_header(path: str, names: list) -> None:
    missing = [n for n in ("time", "node_id") if n not in names]
    if missing:
        raise RuviewError(f"{path} has no {' or '.join(missing)} column",
                          "pass a file written by `ruview export` or `ruview tail --csv`")


def _read_parquet(path: str) -> Iterator[dict]:
    pa = _pyarrow()
    try:
        table = pa.parquet.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise RuviewError(f"cannot read {path}: {exc}", "pass a Parquet file written by ruview") from None
    _check_header(path, table.column_names)
    for rec in table.to_pylist():
        t = rec.get("time")
        if hasattr(t, "timestamp"):
            rec["time"] = t.timestamp()
        yield {n: rec.get(n) for n in NAMES if n in rec}


__all__ = ["CsvRowWriter", "ParquetRowWriter", "open_row_writer", "read_row_file", "file_format",
           "PYARROW_FIX"]
