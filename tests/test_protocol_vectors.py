"""The shared wire vectors (tests/vectors/*.json): the bytes match PROTOCOL.md §1 read by hand
with struct.unpack at the documented offsets, and decode() yields the documented fields.

The firmware's C encoders are checked against the same files, so a vector must not merely be
"what our Python encoder wrote": the by-hand readers below are independent of packets.py.
"""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from ruview_cli.protocol import CompressedStream, decode, rle_xor_decode
from ruview_cli.protocol.decode import _decode

VECTORS = Path(__file__).parent / "vectors"
FILES = sorted(VECTORS.glob("*.json"))


def load(name: str) -> dict:
    return json.loads((VECTORS / f"{name}.json").read_text())


def u8(b, o): return b[o]
def i8(b, o): return struct.unpack_from("<b", b, o)[0]
def u16(b, o): return struct.unpack_from("<H", b, o)[0]
def u32(b, o): return struct.unpack_from("<I", b, o)[0]
def u64(b, o): return struct.unpack_from("<Q", b, o)[0]
def i64(b, o): return struct.unpack_from("<q", b, o)[0]
def f32(b, o): return struct.unpack_from("<f", b, o)[0]


def by_hand_raw(b: bytes) -> dict:
    n_ant, n_sc = u8(b, 5), u16(b, 6)
    assert u32(b, 0) == 0xC5110001
    assert len(b) == 20 + 2 * n_sc * n_ant
    return {"node_id": u8(b, 4), "n_antennas": n_ant, "n_subcarriers": n_sc,
            "freq_mhz": u32(b, 8), "seq": u32(b, 12), "rssi_dbm": i8(b, 16),
            "noise_floor_dbm": i8(b, 17), "flags": u16(b, 18), "keyframe": bool(u16(b, 18) & 1),
            "iq_len": len(b) - 20, "size": len(b),
            "channel": 14 if u32(b, 8) == 2484 else (u32(b, 8) - 2407) // 5}


def by_hand_vitals(b: bytes, fused: bool = False) -> dict:
    out = {"node_id": u8(b, 4), "flags": u8(b, 5), "presence": bool(b[5] & 1),
           "fall": bool(b[5] & 2), "motion": bool(b[5] & 4),
           "breathing_raw": u16(b, 6), "breathing_bpm": u16(b, 6) / 100,
           "heart_raw": u32(b, 8), "heart_bpm": u32(b, 8) / 10000, "rssi_dbm": i8(b, 12),
           "n_persons": u8(b, 13), "motion_energy": f32(b, 16), "presence_score": f32(b, 20),
           "timestamp_ms": u32(b, 24), "size": len(b)}
    if fused:
        out.update({"mmwave_presence": bool(b[5] & 8), "mmwave_type": u8(b, 14),
                    "fusion_confidence": u8(b, 15), "mmwave_hr_bpm": f32(b, 28),
                    "mmwave_br_bpm": f32(b, 32), "distance_cm": f32(b, 36),
                    "targets": u8(b, 40), "mmwave_confidence": u8(b, 41)})
        assert b[42:48] == bytes(6)
    else:
        assert b[14:16] == bytes(2) and u32(b, 28) == 0
    return out


def by_hand_features(b: bytes) -> dict:
    names = ["presence", "motion", "breathing", "heart", "phase_variance", "persons", "fall",
             "rssi"]
    out = {"node_id": u8(b, 4), "seq": u16(b, 6), "timestamp_us": i64(b, 8), "size": len(b)}
    out.update({n: f32(b, 16 + 4 * i) for i, n in enumerate(names)})
    return out


def by_hand_feature_state(b: bytes) -> dict:
    names = ["motion", "presence", "respiration_bpm", "respiration_conf", "heartbeat_bpm",
             "heartbeat_conf", "anomaly", "env_shift", "node_coherence"]
    out = {"node_id": u8(b, 4), "mode": u8(b, 5), "seq": u16(b, 6), "timestamp_us": u64(b, 8),
           "quality_flags": u16(b, 52), "crc": u32(b, 56), "size": len(b)}
    out.update({n: f32(b, 16 + 4 * i) for i, n in enumerate(names)})
    return out


def by_hand_wasm(b: bytes) -> dict:
    n = u16(b, 6)
    assert len(b) == 8 + 5 * n
    return {"node_id": u8(b, 4), "module_id": u8(b, 5), "event_count": n, "size": len(b),
            "events": [[u8(b, 8 + 5 * i), f32(b, 9 + 5 * i)] for i in range(n)]}


def by_hand_compressed(b: bytes) -> dict:
    assert len(b) == 10 + u16(b, 8) and u16(b, 8) % 2 == 0
    return {"node_id": u8(b, 4), "channel": u8(b, 5), "orig_len": u16(b, 6),
            "comp_len": u16(b, 8), "size": len(b)}


def by_hand_mesh(b: bytes) -> dict:
    plen = u16(b, 12)
    assert len(b) == 16 + plen + 4 and u32(b, 0) == 0xC5118100
    assert zlib.crc32(b[:16 + plen]) == u32(b, 16 + plen)
    p = 16
    out = {"version": u8(b, 4), "msg_type": u8(b, 5), "sender_role": u8(b, 6),
           "auth_class": u8(b, 7), "epoch": u32(b, 8), "payload_len": plen,
           "node_id": u8(b, p), "crc": u32(b, 16 + plen), "size": len(b)}
    if out["msg_type"] == 6:
        out["health"] = {"ident": b[p:p + 8].hex(), "local_time_us": u64(b, p + 8),
                         "role": u8(b, p + 16), "channel": u8(b, p + 17),
                         "bandwidth_mhz": u8(b, p + 18), "noise_floor_dbm": i8(b, p + 19),
                         "pkt_yield": u16(b, p + 20), "sync_error_us": u16(b, p + 22),
                         "health_flags": u16(b, p + 24)}
    if out["msg_type"] == 7:
        out["alert"] = {"ident": b[p:p + 8].hex(), "timestamp_us": u64(b, p + 8),
                        "severity": u8(b, p + 16), "reason": u8(b, p + 17),
                        "anomaly_score": f32(b, p + 20), "motion_score": f32(b, p + 24)}
    return out


BY_HAND = {
    "csi_raw": by_hand_raw,
    "vitals": by_hand_vitals,
    "fused_vitals": lambda b: by_hand_vitals(b, fused=True),
    "features": by_hand_features,
    "feature_state": by_hand_feature_state,
    "wasm_events": by_hand_wasm,
    "csi_compressed": by_hand_compressed,
    "mesh_health": by_hand_mesh,
    "mesh_anomaly": by_hand_mesh,
}


def test_the_required_vectors_exist():
    names = {p.stem for p in FILES}
    assert {"raw_148", "raw_276", "vitals_15_72_presence_fall", "compressed_keyframe",
            "compressed_chain_06x", "feature_state_good_crc", "feature_state_bad_crc",
            "fused_vitals_48", "wasm_8_events_48", "mesh_health", "features"} <= names
    assert len(bytes.fromhex(load("raw_148")["hex"])) == 148
    assert len(bytes.fromhex(load("raw_276")["hex"])) == 276
    assert len(bytes.fromhex(load("fused_vitals_48")["hex"])) == 48
    assert len(bytes.fromhex(load("wasm_8_events_48")["hex"])) == 48


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_vector_bytes_match_the_protocol_tables(path):
    v = json.loads(path.read_text())
    data = bytes.fromhex(v["hex"])
    if v.get("expect"):
        return  # rejected vectors are checked by test_rejected_vectors
    hand = BY_HAND[v["kind"]](data)
    # every documented field is read by hand here, except the compressed pairs' expected I/Q
    # (test_compressed_vectors_decode_against_their_reference)
    assert set(v["fields"]) - set(hand) <= {"reference_seq", "expected_iq_hex"}
    for key, want in v["fields"].items():
        if key in hand:
            assert hand[key] == want, f"{v['name']}: {key} read by hand {hand[key]!r}"


# Wire field (PROTOCOL.md name, as in the vectors) -> its JSON name and unit (docs/protocol.md §3).
_JSON_NAME = {
    ("feature_state", "respiration_bpm"): ("breathing_bpm", None),
    ("feature_state", "respiration_conf"): ("breathing_conf", None),
    ("feature_state", "heartbeat_bpm"): ("heart_bpm", None),
    ("feature_state", "heartbeat_conf"): ("heart_conf", None),
    ("feature_state", "presence"): ("presence_score", None),
    ("feature_state", "motion"): ("motion_score", None),
    ("features", "presence"): ("presence_score", None),
    ("features", "motion"): ("motion_score", None),
    ("features", "breathing"): ("breathing_bpm", lambda x: x * 30),
    ("features", "heart"): ("heart_bpm", lambda x: x * 120),
    ("features", "persons"): ("n_persons", lambda x: round(x * 4)),
    ("features", "fall"): ("fall", lambda x: x >= 0.5),
    ("features", "rssi"): ("rssi_dbm", lambda x: x * 100 - 100),
    ("fused_vitals", "mmwave_hr_bpm"): ("mmwave_heart_bpm", None),
    ("fused_vitals", "mmwave_br_bpm"): ("mmwave_breathing_bpm", None),
}


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_decode_gives_the_documented_fields(path):
    v = json.loads(path.read_text())
    data = bytes.fromhex(v["hex"])
    pkt = _decode(data)
    assert pkt.kind == v["kind"]
    js = pkt.to_json()
    assert json.loads(json.dumps(js, allow_nan=False)) == js
    checked = 0
    for key, want in v["fields"].items():
        name, convert = _JSON_NAME.get((v["kind"], key), (key, None))
        if name in js:
            assert js[name] == (convert(want) if convert else want), f"{v['name']}: {key}"
            checked += 1
    assert checked >= 2
    if v.get("expect") is None:
        assert pkt.encode() == data  # the encoder writes exactly the vector's bytes


def test_rejected_vectors():
    bad = decode(bytes.fromhex(load("feature_state_bad_crc")["hex"]))
    assert (bad.kind, bad.packet_kind, bad.reason, bad.node_id) == \
        ("malformed", "feature_state", "bad CRC", 5)
    good = bytes.fromhex(load("feature_state_good_crc")["hex"])
    assert zlib.crc32(good[:56]) == u32(good, 56)
    cut = decode(bytes.fromhex(load("raw_truncated")["hex"]))
    assert (cut.kind, cut.packet_kind, cut.size) == ("malformed", "csi_raw", 100)
    assert "148" in cut.reason
    unk = decode(bytes.fromhex(load("unknown_magic")["hex"]))
    assert (unk.kind, unk.magic, unk.size) == ("unknown", 0x85110009, 16)


def test_compressed_vectors_decode_against_their_reference():
    for name in ("compressed_keyframe", "compressed_chain_06x"):
        v = load(name)
        comp = bytes.fromhex(v["hex"])
        ref = bytes.fromhex(v["reference_hex"])
        ref_iq = ref[20:]
        assert u32(ref, 12) == v["fields"]["reference_seq"]
        got = rle_xor_decode(comp[10:], ref_iq, u16(comp, 6))
        assert got.hex() == v["fields"]["expected_iq_hex"]
    # The keyframe pair is a keyframe per our rule; the chain pair is 0.6.x (reserved = 0).
    assert u16(bytes.fromhex(load("compressed_keyframe")["reference_hex"]), 18) & 1 == 1
    chain = load("compressed_chain_06x")
    assert u16(bytes.fromhex(chain["reference_hex"]), 18) == 0
    assert bytes.fromhex(chain["twin_hex"])[20:].hex() == chain["fields"]["expected_iq_hex"]


def test_compressed_vectors_through_the_stream():
    v = load("compressed_keyframe")
    s = CompressedStream()
    key = decode(bytes.fromhex(v["reference_hex"]))
    assert s.on_raw(key, 0.0) == []
    assert s.on_compressed(decode(bytes.fromhex(v["hex"])), 0.05) == []
    def keyframe(seq):
        return decode(key.encode()[:12] + struct.pack("<I", seq) + key.encode()[16:])

    assert s.on_raw(keyframe(key.seq + 2), 0.1) == []   # window exact; waits for the next one
    out = s.on_raw(keyframe(key.seq + 3), 0.15)           # the (empty) next window is exact too
    assert [r.iq.hex() for r in out] == [v["fields"]["expected_iq_hex"]]
    assert (s.decoded, s.undecodable) == (1, 0)

    c = load("compressed_chain_06x")
    s = CompressedStream()
    s.on_raw(decode(bytes.fromhex(c["reference_hex"])), 0.0)
    s.on_raw(decode(bytes.fromhex(c["twin_hex"])), 0.0)
    out = s.on_compressed(decode(bytes.fromhex(c["hex"])), 0.01)
    assert [(r.iq.hex(), r.mode, r.keyframe_seq) for r in out] == \
        [(c["fields"]["expected_iq_hex"], "chain", 10)]


def test_vector_files_are_what_make_vectors_builds():
    script = VECTORS / "make_vectors.py"
    r = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def documented_keys() -> dict[str, set[str]]:
    """kind -> every `name` in its row of the key table in docs/protocol.md."""
    import re
    doc = (Path(__file__).parents[1] / "docs" / "protocol.md").read_text()
    rows = {}
    for line in doc.splitlines():
        m = re.match(r"\| `(\w+)` \| (.*) \|$", line)
        if m:
            rows[m.group(1)] = set(re.findall(r"`(\w+)`", m.group(2))) | {"kind", "node_id"}
    rows["fused_vitals"] |= rows["vitals"]
    return rows


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.stem)
def test_every_json_key_is_documented(path):
    v = json.loads(path.read_text())
    js = decode(bytes.fromhex(v["hex"])).to_json()
    rows = documented_keys()
    keys = set(js)
    for nested in ("health", "alert"):
        keys |= set(js.get(nested, {}))
    assert keys <= rows[js["kind"]], keys - rows[js["kind"]]


def test_every_key_has_exactly_one_meaning_in_the_docs():
    """docs/protocol.md §3: each key of a kind's row is explained once in the key table."""
    import re
    doc = (Path(__file__).parents[1] / "docs" / "protocol.md").read_text()
    section = doc[doc.index("## 3."):doc.index("## 4.")]
    kinds_table, keys_table = section.split("| key | meaning |")
    used = set(re.findall(r"`(\w+)`", "".join(re.findall(r"^\| `\w+` \| (.*) \|$", kinds_table, re.M))))
    explained: list[str] = []
    for line in keys_table.splitlines():
        if line.startswith("| `"):
            explained += re.findall(r"`(\w+)`", line.split(" | ")[0])
    dupes = {k for k in explained if explained.count(k) > 1}
    assert not dupes, dupes
    assert used - {"vitals"} <= set(explained), used - set(explained)
