"""Vitals over time: `ruview export` and `ruview tail --csv/--parquet` write one row per vitals
packet, with no estimate as an empty cell / null (never 0), from pcap and RuView .csi.jsonl."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ruview_cli.cli.app import app
from ruview_cli.errors import RuviewError
from ruview_cli.protocol import FusedVitals, RawFrame, Vitals
from ruview_cli.telemetry.pcap import PcapWriter

REAL = Path("/work/shared/data/ruview-esp32s3-2node-120s.csi.jsonl")
T0 = 1_800_000_000.0


def _vitals(node, flags, br, hr, persons=1, **kw):
    return Vitals(node, flags, br, hr, -50 - node, persons, 0.25, 0.5, 1000, **kw)


@pytest.fixture()
def capture(tmp_path, loopback):
    """A capture with raw frames, vitals with and without estimates, a fused vitals packet."""
    src = loopback.addr()
    packets = [
        RawFrame(3, 1, 4, 2432, 1, -40, -95, 0, bytes(8)),
        _vitals(3, 0x00, 0.0, 0.0, persons=0),                    # nothing estimated yet
        RawFrame(3, 1, 4, 2432, 2, -40, -95, 0, bytes(8)),
        _vitals(3, 0x81, 14.5, 0.0, breathing_conf_pct=80),       # breathing only, with confidence
        _vitals(4, 0x07, 12.25, 61.5),                            # presence, fall, motion
        FusedVitals(5, 0x01, 17.0, 70.0, -60, 1, 0.1, 0.9, 5, 1, 90, 0.0, 0.0, 0.0, 0, 0),
    ]
    path = tmp_path / "run.pcap"
    with PcapWriter(path, (loopback.addr(), 5005)) as w:
        for i, p in enumerate(packets):
            w.write(p.encode(), (src, 40000), T0 + i)
    return path, src


def _csv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_export_csv_one_row_per_vitals_packet_no_estimate_is_empty(capture, tmp_path):
    pcap, src = capture
    out = tmp_path / "v.csv"
    result = CliRunner().invoke(app, ["export", str(pcap), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["rows"] == 4
    rows = _csv(out)
    assert [r["node_id"] for r in rows] == ["3", "3", "4", "5"]
    first, second, third, fused = rows
    assert first["breathing_bpm"] == "" and first["heart_bpm"] == "" and first["n_persons"] == "0"
    assert second["breathing_bpm"] == "14.5" and second["heart_bpm"] == ""
    assert second["breathing_conf"] == "0.8" and second["heart_conf"] == ""
    assert (third["presence"], third["fall"], third["motion"]) == ("true", "true", "true")
    assert third["heart_bpm"] == "61.5" and third["rssi_dbm"] == "-54"
    assert float(third["time"]) == pytest.approx(T0 + 4)
    assert fused["breathing_bpm"] == "17" and fused["source"] == f"{src}:40000"


def test_export_parquet_has_nulls_and_types(capture, tmp_path):
    pa_parquet = pytest.importorskip("pyarrow.parquet")
    pcap, _ = capture
    out = tmp_path / "v.parquet"
    result = CliRunner().invoke(app, ["export", str(pcap), "-o", str(out), "--node", "3"])
    assert result.exit_code == 0, result.output
    table = pa_parquet.read_table(out)
    assert str(table.schema.field("time").type) == "timestamp[us, tz=UTC]"
    rows = table.to_pylist()
    assert [r["breathing_bpm"] for r in rows] == [None, 14.5]
    assert [r["heart_bpm"] for r in rows] == [None, None]
    assert rows[1]["time"].timestamp() == pytest.approx(T0 + 3)


def test_parquet_without_pyarrow_names_the_pip_command(tmp_path, monkeypatch):
    from ruview_cli.export.files import open_row_writer

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # import pyarrow -> ImportError
    with pytest.raises(RuviewError) as err:
        open_row_writer(str(tmp_path / "v.parquet"))
    assert "pyarrow" in err.value.message and "pip install" in err.value.fix
    assert not (tmp_path / "v.parquet").exists()


def test_export_refuses_unknown_output_type_and_missing_recording(capture, tmp_path):
    pcap, _ = capture
    bad = CliRunner().invoke(app, ["export", str(pcap), "-o", str(tmp_path / "v.xlsx")])
    assert bad.exit_code == 2 and ".csv or .parquet" in bad.output
    missing = CliRunner().invoke(app, ["export", str(tmp_path / "none.pcap"), "-o", str(tmp_path / "v.csv")])
    assert missing.exit_code == 2 and "no such recording" in missing.output


def test_tail_replay_csv_and_parquet_equal_export(capture, tmp_path):
    pytest.importorskip("pyarrow")
    from ruview_cli.export.files import read_row_file

    pcap, _ = capture
    result = CliRunner().invoke(app, ["tail", "--replay", str(pcap), "--speed", "0", "--json",
                                      "--csv", str(tmp_path / "t.csv"), "--parquet", str(tmp_path / "t.parquet")])
    assert result.exit_code == 0, result.output
    assert len(result.stdout.splitlines()) == 6  # --json still prints every packet
    CliRunner().invoke(app, ["export", str(pcap), "-o", str(tmp_path / "e.csv")])
    exported = list(read_row_file(str(tmp_path / "e.csv")))
    assert len(exported) == 4
    assert list(read_row_file(str(tmp_path / "t.csv"))) == exported
    from_parquet = list(read_row_file(str(tmp_path / "t.parquet")))
    assert len(from_parquet) == len(exported)
    for a, b in zip(from_parquet, exported):
        assert a.keys() == b.keys()
        for k in a:  # CSV keeps the wire's f32 to 7 significant digits, Parquet all of it
            assert a[k] == (pytest.approx(b[k], rel=1e-6) if isinstance(b[k], float) else b[k]), k


@pytest.mark.skipif(not REAL.is_file(), reason="real capture not present")
def test_export_of_a_real_ruview_recording(tmp_path):
    vitals = []
    for line in REAL.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("type") == "vitals":
            vitals.append(rec)
    out = tmp_path / "real.csv"
    result = CliRunner().invoke(app, ["export", str(REAL), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = _csv(out)
    assert len(rows) == len(vitals) == 236
    for row, rec in zip(rows, vitals):
        assert int(row["node_id"]) == rec["node_id"]
        assert float(row["time"]) == pytest.approx(rec["timestamp"])
        want = rec["breathing_bpm"]
        assert row["breathing_bpm"] == ("" if want == 0 else row["breathing_bpm"])
        if want:
            assert float(row["breathing_bpm"]) == pytest.approx(want, abs=0.005)
        assert row["source"] == ""  # the recorder kept no sender address
