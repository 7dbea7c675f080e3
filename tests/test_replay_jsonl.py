"""`ruview tail --replay` of RuView's own .csi.jsonl recordings, and `--through-dsp`.

Runs the installed `ruview` on the real two-node ESP32-S3 capture in /work/shared/data (RuView
0.6.x firmware, 120 s) and on small recordings written here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from ruview_cli.protocol import decode
from ruview_cli.telemetry.pcap import ReadStats, read_capture

RUVIEW = shutil.which("ruview")
REAL = Path(os.environ.get("RUVIEW_REAL_CAPTURE", "/work/shared/data/ruview-esp32s3-2node-120s.csi.jsonl"))
needs_real = pytest.mark.skipif(not REAL.exists(), reason=f"real capture not found: {REAL}")
needs_cli = pytest.mark.skipif(RUVIEW is None, reason="`ruview` is not installed: pip install -e .")


def _tail(*args: str, timeout: float = 120.0) -> tuple[list[dict], list[dict], int]:
    res = subprocess.run([RUVIEW, "tail", "--speed", "0", "--json", *args], capture_output=True, text=True,
                         timeout=timeout)
    lines = [json.loads(x) for x in res.stdout.splitlines() if x.strip()]
    status = [json.loads(x) for x in res.stderr.splitlines() if x.startswith("{")]
    return lines, status, res.returncode


def _record(**kw) -> str:
    base = {"timestamp": 1775182186.5, "node_id": 3}
    return json.dumps({**base, **kw})


def test_a_small_recording_converts_with_supplied_sequence_rssi_and_nulls(tmp_path):
    iq = bytes([9, 9, 9, 9] + [5, 250] * 62).hex()  # 64 subcarriers, a garbage first word
    rec = tmp_path / "r.csi.jsonl"
    rec.write_text("\n".join([
        _record(type="raw_csi", iq_hex=iq, subcarriers=64, rssi=1, first_word_invalid=True),
        _record(timestamp=1775182186.6, type="vitals", flags=5, breathing_bpm=0.0, heartrate_bpm=72.0,
                n_persons=1, motion_energy=0.5, presence_score=0.5, rssi=-47),
        _record(timestamp=1775182186.7, type="raw_csi", iq_hex=iq, subcarriers=64, rssi=1),
        _record(timestamp=1775182186.8, type="feature", seq=7, features=[0.1] * 8, rssi=-47),
        '{"timestamp": 1775182186.9, "node_id": 3, "magic": "0xC5110005", "size": 104, "rssi": 0}',
        "not json at all",
        _record(type="raw_csi", iq_hex="zz", subcarriers=1),
    ]) + "\n")
    stats = ReadStats()
    pkts = [decode(d.data) for d in read_capture(rec, stats)]
    assert [p.kind for p in pkts] == ["csi_raw", "vitals", "csi_raw", "features"]
    first, vit, second = pkts[0], pkts[1], pkts[2]
    assert (first.seq, second.seq) == (0, 1)  # supplied per node, in file order
    assert first.iq[:4] == bytes(4) and second.iq[:4] == bytes([9, 9, 9, 9])  # only where marked
    assert first.rssi_dbm == -127 and second.rssi_dbm == -47  # from the node's last vitals
    assert vit.breathing_bpm == 0.0 and vit.to_json()["breathing_bpm"] is None
    assert vit.breathing_conf is None and vit.heart_conf is None  # RuView 0.6.x: no confidence
    assert stats.records == 7 and sum(stats.skipped.values()) == 3


@needs_cli
@needs_real
def test_tail_replays_the_real_ruview_recording():
    lines, status, rc = _tail("--replay", str(REAL))
    assert rc == 0
    kinds = {}
    for x in lines:
        kinds[x["kind"]] = kinds.get(x["kind"], 0) + 1
    assert kinds == {"csi_raw": 5309, "vitals": 236, "features": 236}
    summary = status[-1]
    assert summary["replay"]["skipped"] == {"record without a type (e.g. a compressed frame without payload)": 2}
    assert {n["node_id"] for n in summary["nodes"]} == {1, 2}
    assert all(n["raw_frames_lost"] == 0 for n in summary["nodes"])  # supplied sequence numbers


@needs_cli
@needs_real
def test_through_dsp_shows_what_our_firmware_reports_on_real_frames():
    """Regression/plausibility on the real capture (no ground truth): our core's own vitals
    replace the recorded ones, carry the confidence flag, and every estimate is in range."""
    lines, status, rc = _tail("--replay", str(REAL), "--through-dsp")
    assert rc == 0
    vit = [x for x in lines if x["kind"] == "vitals"]
    assert len(vit) >= 2 * 110  # one a second per node for ~2 minutes
    assert all(x["flags"] & 0x80 for x in vit)  # ours, not the recorded RuView vitals
    br = [x["breathing_bpm"] for x in vit if x["breathing_bpm"] is not None]
    assert br and all(5.0 <= b <= 40.0 for b in br)
    assert all(x["breathing_conf"] is not None for x in vit if x["breathing_bpm"] is not None)
    assert all(x["heart_bpm"] is None or 40.0 <= x["heart_bpm"] <= 180.0 for x in vit)
    assert all(0.0 <= x["presence_score"] <= 1.0 for x in vit)
    skipped = status[-1]["replay"]["skipped"]
    assert skipped["recorded node estimate (replaced by --through-dsp)"] == 2 * 236


@needs_cli
def test_through_dsp_needs_replay():
    _, _, rc = _tail("--through-dsp", "--duration", "1")
    assert rc == 2
