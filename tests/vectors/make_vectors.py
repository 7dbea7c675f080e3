#!/usr/bin/env python3
"""Write the shared wire test vectors tests/vectors/*.json (deterministic; re-run to refresh).

    python tests/vectors/make_vectors.py          # rewrite every vector file
    python tests/vectors/make_vectors.py --check  # exit 1 if a file differs from what is built

One file per vector:
  name, description, hex (the datagram), kind (decode(hex).kind),
  fields: to_json() keys the decoder must produce, plus the integer wire values a C encoder
          needs (names ending in _raw, crc, ...; tests/test_protocol_vectors.py reads those at
          the PROTOCOL.md offsets with plain struct.unpack),
  optional reference_hex (the raw frame a compressed frame decodes against),
  optional twin_hex (0.6.x chain: the raw frame the compressed one describes),
  optional expect ("malformed" | "unknown") with reason.
Field values are chosen exactly representable (f32 0.5, 0.25, ...) so the C side can compare
bytes. I/Q bytes follow a fixed formula, written out in `iq_pattern`.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

from ruview_cli.protocol.codec import rle_xor_encode  # noqa: E402
from ruview_cli.protocol.packets import (AnomalyAlert, CompressedFrame, FeatureState,  # noqa: E402
                                         FeatureVector, FusedVitals, MeshEnvelope, MeshHealth,
                                         RawFrame, Vitals, WasmEvents)


def iq_pattern(n: int, salt: int) -> bytes:
    """n I/Q bytes: byte i = (37*i + 11*salt) mod 256, as i8 pairs (I, Q)."""
    return bytes((37 * i + 11 * salt) % 256 for i in range(n))


def perturb(iq: bytes, positions: dict[int, int]) -> bytes:
    """A copy of iq with a few bytes replaced (a frame that changed a little)."""
    b = bytearray(iq)
    for pos, val in positions.items():
        b[pos] = val
    return bytes(b)


def build() -> dict[str, dict]:
    v: dict[str, dict] = {}

    def add(name, description, data, kind, fields, **extra):
        v[name] = {"name": name, "description": description, "hex": data.hex(), "kind": kind,
                   "fields": fields, **extra}

    # -- raw frames ----------------------------------------------------------------------------
    raw148 = RawFrame(node_id=1, n_antennas=1, n_subcarriers=64, freq_mhz=2432, seq=1000,
                      rssi_dbm=-45, noise_floor_dbm=-92, flags=1, iq=iq_pattern(128, 1))
    add("raw_148", "148-byte raw CSI frame: 64 subcarriers, channel 5, keyframe flag set "
        "(our firmware, tier >= 1)", raw148.encode(), "csi_raw",
        {"node_id": 1, "n_antennas": 1, "n_subcarriers": 64, "freq_mhz": 2432, "channel": 5,
         "seq": 1000, "rssi_dbm": -45, "noise_floor_dbm": -92, "flags": 1, "keyframe": True,
         "iq_len": 128, "size": 148}, iq_pattern={"n": 128, "salt": 1})

    raw276 = RawFrame(node_id=2, n_antennas=1, n_subcarriers=128, freq_mhz=2462,
                      seq=0xFFFFFFFE, rssi_dbm=-83, noise_floor_dbm=-96, flags=0,
                      iq=iq_pattern(256, 2))
    add("raw_276", "276-byte raw CSI frame: 128 subcarriers, channel 11, reserved = 0 (RuView "
        "0.6.x / tier 0), sequence near the u32 wrap", raw276.encode(), "csi_raw",
        {"node_id": 2, "n_antennas": 1, "n_subcarriers": 128, "freq_mhz": 2462, "channel": 11,
         "seq": 4294967294, "rssi_dbm": -83, "noise_floor_dbm": -96, "flags": 0,
         "keyframe": False, "iq_len": 256, "size": 276}, iq_pattern={"n": 256, "salt": 2})

    # -- vitals, features ----------------------------------------------------------------------
    vit = Vitals(node_id=3, flags=0x03, breathing_bpm=15.0, heart_bpm=72.0, rssi_dbm=-52,
                 n_persons=1, motion_energy=0.5, presence_score=0.25, timestamp_ms=123456789)
    add("vitals_15_72_presence_fall", "vitals: breathing 15.00 BPM, heart 72.0 BPM, presence and "
        "fall flags", vit.encode(), "vitals",
        {"node_id": 3, "flags": 3, "presence": True, "fall": True, "motion": False,
         "breathing_bpm": 15.0, "breathing_raw": 1500, "heart_bpm": 72.0, "heart_raw": 720000,
         "rssi_dbm": -52, "n_persons": 1, "motion_energy": 0.5, "presence_score": 0.25,
         "timestamp_ms": 123456789, "size": 32})

    fv = FeatureVector(node_id=4, seq=42, timestamp_us=1_700_000_000_123, presence=1.0,
                       motion=0.25, breathing=0.5, heart=0.75, phase_variance=0.125,
                       persons=0.25, fall=0.0, rssi=0.5)
    add("features", "feature vector: presence 1, motion 0.25, breathing 15/30, heart 90/120, "
        "phase variance 0.125, 1 person, no fall, RSSI -50 dBm", fv.encode(), "features",
        {"node_id": 4, "seq": 42, "timestamp_us": 1700000000123, "presence": 1.0,
         "motion": 0.25, "breathing": 0.5, "heart": 0.75, "phase_variance": 0.125,
         "persons": 0.25, "fall": 0.0, "rssi": 0.5, "size": 48})

    # -- compressed: keyframe pair (our firmware) ----------------------------------------------
    key = RawFrame(node_id=1, n_antennas=1, n_subcarriers=64, freq_mhz=2437, seq=2000,
                   rssi_dbm=-50, noise_floor_dbm=-90, flags=1, iq=iq_pattern(128, 3))
    cur = perturb(key.iq, {0: 0x05, 1: 0xFB, 40: 0x7F, 127: 0x80})
    payload = rle_xor_encode(cur, key.iq)
    comp = CompressedFrame(node_id=1, channel=6, orig_len=128, payload=payload)
    add("compressed_keyframe", "compressed frame (seq 2001 by position) = RLE(cur XOR keyframe "
        "I/Q); reference_hex is the raw keyframe (seq 2000, flag bit 0)", comp.encode(),
        "csi_compressed",
        {"node_id": 1, "channel": 6, "orig_len": 128, "comp_len": len(payload),
         "size": 10 + len(payload), "reference_seq": 2000, "expected_iq_hex": cur.hex()},
        reference_hex=key.encode().hex())

    # -- compressed: 0.6.x chain pair -----------------------------------------------------------
    prev = RawFrame(node_id=9, n_antennas=1, n_subcarriers=64, freq_mhz=2432, seq=10,
                    rssi_dbm=-60, noise_floor_dbm=-95, flags=0, iq=iq_pattern(128, 4))
    twin = RawFrame(node_id=9, n_antennas=1, n_subcarriers=64, freq_mhz=2432, seq=11,
                    rssi_dbm=-61, noise_floor_dbm=-95, flags=0,
                    iq=perturb(prev.iq, {10: 0x11, 11: 0x22, 12: 0x33}))
    payload = rle_xor_encode(twin.iq, prev.iq)
    comp = CompressedFrame(node_id=9, channel=5, orig_len=128, payload=payload)
    add("compressed_chain_06x", "RuView 0.6.x chain: compressed frame = RLE(raw(11) XOR raw(10)); "
        "reference_hex is raw seq 10, twin_hex the raw seq 11 it describes (and verifies "
        "against)", comp.encode(), "csi_compressed",
        {"node_id": 9, "channel": 5, "orig_len": 128, "comp_len": len(payload),
         "size": 10 + len(payload), "reference_seq": 10, "expected_iq_hex": twin.iq.hex()},
        reference_hex=prev.encode().hex(), twin_hex=twin.encode().hex())

    # -- feature state -------------------------------------------------------------------------
    fs = FeatureState(node_id=5, mode=1, seq=300, timestamp_us=987654321, motion=0.25,
                      presence=0.75, respiration_bpm=15.5, respiration_conf=0.5,
                      heartbeat_bpm=72.25, heartbeat_conf=0.5, anomaly=0.125, env_shift=0.0625,
                      node_coherence=1.0, quality_flags=0x0003)
    good = fs.encode()
    crc = int.from_bytes(good[56:60], "little")
    fs_fields = {"node_id": 5, "mode": 1, "seq": 300, "timestamp_us": 987654321,
                 "motion": 0.25, "presence": 0.75, "respiration_bpm": 15.5,
                 "respiration_conf": 0.5, "heartbeat_bpm": 72.25, "heartbeat_conf": 0.5,
                 "anomaly": 0.125, "env_shift": 0.0625, "node_coherence": 1.0,
                 "quality_flags": 3, "crc": crc, "size": 60}
    add("feature_state_good_crc", "feature state with a correct CRC-32 (zlib) over bytes 0..55",
        good, "feature_state", fs_fields)
    bad = good[:56] + (crc ^ 0x00000001).to_bytes(4, "little")
    add("feature_state_bad_crc", "the same feature state with the CRC's low bit flipped: dropped "
        "as malformed", bad, "malformed",
        {"packet_kind": "feature_state", "node_id": 5, "reason": "bad CRC", "size": 60,
         "crc": crc ^ 1, "crc_expected": crc}, expect="malformed", reason="bad CRC")

    # -- 0xC5110004 both ways ------------------------------------------------------------------
    fused = FusedVitals(node_id=6, flags=0x09, breathing_bpm=15.0, heart_bpm=72.0, rssi_dbm=-60,
                        n_persons=1, motion_energy=0.5, presence_score=0.75, timestamp_ms=5000,
                        mmwave_type=2, fusion_confidence=80, mmwave_hr_bpm=72.5,
                        mmwave_br_bpm=15.25, distance_cm=150.5, targets=1,
                        mmwave_confidence=90)
    add("fused_vitals_48", "48-byte fused vitals: presence + mmWave presence (flags 0x09); u16@6 "
        "= 1500 so 8 + 5*1500 != 48, hence fused", fused.encode(), "fused_vitals",
        {"node_id": 6, "flags": 9, "presence": True, "fall": False, "motion": False,
         "mmwave_presence": True, "breathing_bpm": 15.0, "breathing_raw": 1500,
         "heart_bpm": 72.0, "heart_raw": 720000, "rssi_dbm": -60, "n_persons": 1,
         "mmwave_type": 2, "fusion_confidence": 80, "motion_energy": 0.5,
         "presence_score": 0.75, "timestamp_ms": 5000, "mmwave_hr_bpm": 72.5,
         "mmwave_br_bpm": 15.25, "distance_cm": 150.5, "targets": 1,
         "mmwave_confidence": 90, "size": 48})

    events = tuple((t, v) for t, v in [(1, 0.5), (2, 1.25), (3, -2.0), (4, 100.0), (5, 0.0),
                                       (6, 0.125), (7, 3.5), (255, -0.25)])
    wasm = WasmEvents(node_id=7, module_id=3, events=events)
    add("wasm_8_events_48", "48-byte WASM events packet with 8 events: u16@6 = 8 and "
        "8 + 5*8 = 48, so WASM wins over fused vitals", wasm.encode(), "wasm_events",
        {"node_id": 7, "module_id": 3, "event_count": 8,
         "events": [[t, v] for t, v in events], "size": 48})

    # -- mesh ----------------------------------------------------------------------------------
    health = MeshHealth(ident=bytes([7, 0xA1, 0xB2, 0xC3, 0xD4, 0xE5, 0xF6, 0x01]),
                        local_time_us=123456789012, role=2, channel=5, bandwidth_mhz=20,
                        noise_floor_dbm=-92, pkt_yield=28, sync_error_us=150, health_flags=1)
    env = MeshEnvelope.of(health, sender_role=2, auth_class=0, epoch=42)
    data = env.encode()
    add("mesh_health", "mesh envelope v1, type 6 HEALTH (28-byte payload), node id = ident "
        "byte 0 = 7, CRC-32 over header + payload", data, "mesh_health",
        {"node_id": 7, "version": 1, "msg_type": 6, "sender_role": 2, "auth_class": 0,
         "epoch": 42, "payload_len": 28,
         "health": {"ident": "07a1b2c3d4e5f601", "local_time_us": 123456789012, "role": 2,
                    "channel": 5, "bandwidth_mhz": 20, "noise_floor_dbm": -92,
                    "pkt_yield": 28, "sync_error_us": 150, "health_flags": 1},
         "crc": int.from_bytes(data[-4:], "little"), "size": 48})

    alert = AnomalyAlert(ident=bytes([8, 0, 0, 0, 0, 0, 0, 0]), timestamp_us=5_000_000,
                         severity=200, reason=4, anomaly_score=0.75, motion_score=2.5)
    data = MeshEnvelope.of(alert, sender_role=2, epoch=43).encode()
    add("mesh_anomaly_alert", "mesh envelope type 7 ANOMALY_ALERT (RuView rv_anomaly_alert_t: "
        "ident[8], u64 ts_us, u8 severity, u8 reason, u16 reserved, f32 anomaly, f32 motion)",
        data, "mesh_anomaly",
        {"node_id": 8, "version": 1, "msg_type": 7, "sender_role": 2, "auth_class": 0,
         "epoch": 43, "payload_len": 28,
         "alert": {"ident": "0800000000000000", "timestamp_us": 5000000, "severity": 200,
                   "reason": 4, "anomaly_score": 0.75, "motion_score": 2.5},
         "crc": int.from_bytes(data[-4:], "little"), "size": 48})

    # -- what a decoder must reject ------------------------------------------------------------
    cut = raw148.encode()[:100]
    add("raw_truncated", "a 148-byte raw frame cut to 100 bytes: size != 20 + 2*64*1",
        cut, "malformed", {"packet_kind": "csi_raw", "node_id": 1, "size": 100},
        expect="malformed", reason="size 100 != 20 + 2*64*1 = 148")
    odd = bytes.fromhex("09001185") + b"\x00" * 12
    add("unknown_magic", "an unknown magic 0x85110009 (16 bytes)", odd, "unknown",
        {"magic": "0x85110009", "size": 16}, expect="unknown", reason="unknown magic")
    return v


def render(vector: dict) -> str:
    return json.dumps(vector, indent=2, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    vectors = build()
    extra = sorted(p.name for p in HERE.glob("*.json") if p.stem not in vectors)
    if extra:
        print("vector files no script builds (delete them):", ", ".join(extra))
        return 1
    for name, vector in vectors.items():
        path = HERE / f"{name}.json"
        text = render(vector)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print("stale vectors (run python tests/vectors/make_vectors.py):", ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
