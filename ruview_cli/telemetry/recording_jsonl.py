"""RuView's own recordings (`*.csi.jsonl`) as datagrams, so `ruview tail --replay` reads them.

RuView's recorder writes one JSON object per line: `timestamp` (host receive time, Unix s),
`node_id`, `type` ("raw_csi" with `iq_hex` and `subcarriers`; "vitals" with the node's
estimates; "feature" with 8 floats) — see /work/shared/data/README.md for a real one. It keeps
neither the frame header's sequence number, channel or noise floor, nor RSSI (always 1), so the
converter supplies them and says so:

* sequence: counted per node from 0 in file order (a gap in the recording is not visible);
* RSSI: the last RSSI the same node reported in a vitals record (-127 = unknown before one);
* channel/frequency 0 (unknown), noise floor -127 (unknown), one antenna;
* the invalid first word: where a record carries ESP-IDF's `first_word_invalid` mark (the
  chip's flag that the first four I/Q bytes are garbage) those bytes are zeroed; RuView's
  recorder does not keep the mark, so the DSP never relies on them either.

Lines without a `type` (compressed frames stored without payload) and anything malformed are
skipped and counted in ReadStats, never raised: a recording is untrusted input.
"""

from __future__ import annotations

import json
from typing import BinaryIO, Iterator

from ruview_cli.protocol.packets import FeatureVector, RawFrame, Vitals
from ruview_cli.telemetry.pcap import Datagram, ReadStats

SOURCE = ("0.0.0.0", 0)  # a recording has no sender address: nodes are told apart by node_id
DEST = ("0.0.0.0", 5005)  # the default telemetry port, so `--port 5005` keeps them
RSSI_UNKNOWN = -127
MAX_IQ_BYTES = 2 * 256 * 4


def read_jsonl(fh: BinaryIO, stats: ReadStats | None = None) -> Iterator[Datagram]:
    """Yield the datagrams a RuView recording (an open binary file) stands for, in file order."""
    stats = stats if stats is not None else ReadStats()
    seq: dict[int, int] = {}
    rssi: dict[int, int] = {}
    t0: float | None = None
    for line in fh:
        if not line.strip():
            continue
        stats.records += 1
        try:
            rec = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            stats.skip("line that is not JSON")
            continue
        if not isinstance(rec, dict):
            stats.skip("line that is not a JSON object")
            continue
        t = rec.get("timestamp")
        node = rec.get("node_id")
        if not _number(t) or not isinstance(node, int) or not 0 <= node <= 255:
            stats.skip("record without a valid timestamp/node_id")
            continue
        if t0 is None:
            t0 = float(t)
        kind = rec.get("type")
        try:
            data = _convert(kind, rec, node, float(t) - t0, seq, rssi)
        except (KeyError, ValueError, TypeError, OverflowError):
            data = None
        if data is None:
            stats.skip(f"{kind} record that does not convert" if isinstance(kind, str)
                       else "record without a type (e.g. a compressed frame without payload)")
            continue
        stats.udp += 1
        yield Datagram(data, SOURCE, DEST, float(t))


def _number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and x == x and abs(x) < 1e12


def _convert(kind, rec: dict, node: int, rel_s: float, seq: dict, rssi: dict) -> bytes | None:
    if kind == "raw_csi":
        iq = bytearray.fromhex(rec["iq_hex"])
        if not iq or len(iq) % 2 or len(iq) > MAX_IQ_BYTES:
            return None
        n_sc = rec.get("subcarriers", len(iq) // 2)
        if n_sc != len(iq) // 2:
            return None
        if rec.get("first_word_invalid") is True:
            iq[0:4] = bytes(min(4, len(iq)))
        n = seq.get(node, 0)
        seq[node] = (n + 1) & 0xFFFFFFFF
        return RawFrame(node, 1, n_sc, 0, n, rssi.get(node, RSSI_UNKNOWN), RSSI_UNKNOWN, 0, bytes(iq)).encode()
    if kind == "vitals":
        r = rec.get("rssi")
        if isinstance(r, int) and -128 <= r <= 0:
            rssi[node] = r
        br, hr = float(rec.get("breathing_bpm", 0.0)), float(rec.get("heartrate_bpm", 0.0))
        if not (0 <= br <= 655 and 0 <= hr <= 429_000):
            return None
        return Vitals(node, int(rec.get("flags", 0)) & 0x7F, br, hr, rssi.get(node, RSSI_UNKNOWN),
                      int(rec.get("n_persons", 0)) & 0xFF, float(rec.get("motion_energy", 0.0)),
                      float(rec.get("presence_score", 0.0)), int(rel_s * 1000) & 0xFFFFFFFF).encode()
    if kind == "feature":
        f = [float(x) for x in rec["features"]]
        if len(f) != 8:
            return None
        return FeatureVector(node, int(rec.get("seq", 0)) & 0xFFFF, int(rel_s * 1e6), *f).encode()
    return None
