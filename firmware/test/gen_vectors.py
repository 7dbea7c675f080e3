#!/usr/bin/env python3
"""Turn tests/vectors/*.json into a C header for the byte-compatibility test (test_packets.c).

Field values are decoded from each vector's bytes with struct at the offsets PROTOCOL.md §1
documents (independently of the C encoders), and cross-checked against the vector's "fields"
where the JSON carries them. A vector whose bytes disagree with its fields is emitted with a
`problem` string, which the C test reports as a failure. Vectors that expect a decoder to
reject them ("expect": "malformed"/"unknown") and kinds the node never sends (fused vitals, WASM
events) are skipped.

usage: gen_vectors.py VECTOR_DIR OUT_HEADER
"""
import json
import math
import struct
import sys
from pathlib import Path


def c_bytes(b: bytes) -> str:
    return "{" + ",".join(str(x) for x in b) + "}" if b else "{0}"


def c_float(x: float) -> str:
    if math.isnan(x) or math.isinf(x):
        raise ValueError("non-finite float")
    # exact: hex float literal of the binary32 value
    return float.hex(struct.unpack("<f", struct.pack("<f", x))[0]) + "f"


def check(problems, fields, key, value, scale=1.0, tol=1e-6):
    if key not in fields or isinstance(fields[key], (dict, list)) or fields[key] is None:
        return
    want = fields[key]
    if isinstance(want, bool):
        want = int(want)
    if abs(float(want) - value / scale) > tol * max(1.0, abs(float(want))):
        problems.append(f"{key}: fields say {want}, bytes say {value / scale}")


def raw(b, f, p):
    magic, node, nant, nsc, freq, seq, rssi, noise, flags = struct.unpack_from("<IBBHIIbbH", b)
    for k, v in (("node_id", node), ("n_antennas", nant), ("n_subcarriers", nsc),
                 ("freq_mhz", freq), ("seq", seq), ("rssi_dbm", rssi),
                 ("noise_floor_dbm", noise), ("flags", flags), ("iq_len", len(b) - 20)):
        check(p, f, k, v)
    return (f".u.raw = {{ {node}, {nant}, {freq}u, {seq}u, {rssi}, {noise}, {flags} }}")


def comp(b, f, p):
    magic, node, ch, orig, clen = struct.unpack_from("<IBBHH", b)
    for k, v in (("node_id", node), ("channel", ch), ("orig_len", orig), ("comp_len", clen)):
        check(p, f, k, v)
    if clen != len(b) - 10:
        p.append(f"comp_len {clen} != payload bytes {len(b) - 10}")
    return f".u.comp = {{ {node}, {ch}, {orig} }}"


def vitals(b, f, p):
    (magic, node, flags, br, hr, rssi, npers, me, ps, ts) = struct.unpack_from("<IBBHIbB2xffI", b)
    for k, v, s in (("node_id", node, 1), ("flags", flags, 1), ("breathing_bpm", br, 100.0),
                    ("heart_bpm", hr, 10000.0), ("rssi_dbm", rssi, 1), ("n_persons", npers, 1),
                    ("motion_energy", me, 1), ("presence_score", ps, 1),
                    ("timestamp_ms", ts, 1)):
        check(p, f, k, v, s)
    return (f".u.vitals = {{ {node}, {flags}, {br}, {hr}u, {rssi}, {npers}, {c_float(me)}, "
            f"{c_float(ps)}, {ts}u }}")


FEATURE_NAMES = ("presence", "motion", "breathing", "heart", "phase_variance", "persons",
                 "fall", "rssi")


def features(b, f, p):
    magic, node, _res, seq, ts, *vals = struct.unpack_from("<IBBHq8f", b)
    check(p, f, "node_id", node)
    check(p, f, "seq", seq)
    check(p, f, "timestamp_us", ts)
    for name, v in zip(FEATURE_NAMES, vals):
        check(p, f, name, v)
    fl = ", ".join(c_float(v) for v in vals)
    return f".u.features = {{ {node}, {seq}, {ts}ll, {{ {fl} }} }}"


STATE_NAMES = ("motion", "presence", "respiration_bpm", "respiration_conf", "heartbeat_bpm",
               "heartbeat_conf", "anomaly", "env_shift", "node_coherence")


def feature_state(b, f, p):
    magic, node, mode, seq, ts, *rest = struct.unpack_from("<IBBHQ9fHHI", b)
    vals, qf = rest[:9], rest[9]
    check(p, f, "node_id", node)
    check(p, f, "mode", mode)
    check(p, f, "seq", seq)
    check(p, f, "timestamp_us", ts)
    check(p, f, "quality_flags", qf)
    for name, v in zip(STATE_NAMES, vals):
        check(p, f, name, v)
    fl = ", ".join(c_float(v) for v in vals)
    return f".u.state = {{ {node}, {mode}, {seq}, {ts}ull, {fl}, {qf} }}"


def mesh(b, f, p):
    magic, ver, mtype, role, auth, epoch, plen, _r = struct.unpack_from("<IBBBBIHH", b)
    for k, v in (("version", ver), ("msg_type", mtype), ("sender_role", role),
                 ("auth_class", auth), ("epoch", epoch)):
        check(p, f, k, v)
    if plen != len(b) - 20:
        p.append(f"payload_len {plen} != {len(b) - 20}")
    return f".u.mesh = {{ {mtype}, {role}, {auth}, {epoch}u, {plen} }}"


KINDS = {
    "csi_raw": ("RV_VEC_RAW", raw),
    "csi_compressed": ("RV_VEC_COMPRESSED", comp),
    "vitals": ("RV_VEC_VITALS", vitals),
    "features": ("RV_VEC_FEATURES", features),
    "feature_state": ("RV_VEC_FEATURE_STATE", feature_state),
    "mesh_health": ("RV_VEC_MESH", mesh),
    "mesh_anomaly": ("RV_VEC_MESH", mesh),
    "mesh": ("RV_VEC_MESH", mesh),
}


def main() -> int:
    vdir, out = Path(sys.argv[1]), Path(sys.argv[2])
    entries, skipped = [], []
    for path in sorted(vdir.glob("*.json")) if vdir.is_dir() else []:
        v = json.loads(path.read_text())
        kind = v.get("kind")
        if v.get("expect") or kind not in KINDS:
            skipped.append(path.name)
            continue
        b = bytes.fromhex(v["hex"])
        ref = bytes.fromhex(v["reference_hex"]) if v.get("reference_hex") else b""
        problems: list = []
        try:
            init = KINDS[kind][1](b, v.get("fields", {}), problems)
        except (struct.error, ValueError) as exc:
            init, problems = "", [f"cannot decode: {exc}"]
        i = len(entries)
        entries.append((path.name, KINDS[kind][0], b, ref, init, "; ".join(problems), i))
    lines = ["/* generated by gen_vectors.py from tests/vectors -- do not edit */",
             "#include \"rv_vectors_types.h\""]
    for name, _k, b, ref, _init, _p, i in entries:
        lines.append(f"static const uint8_t vec_bytes_{i}[] = {c_bytes(b)};")
        lines.append(f"static const uint8_t vec_ref_{i}[] = {c_bytes(ref)};")
    lines.append("static const rv_vec_t rv_vectors[] = {")
    for name, k, b, ref, init, prob, i in entries:
        lines.append(f"  {{ \"{name}\", {k}, vec_bytes_{i}, {len(b)}, vec_ref_{i}, {len(ref)}, "
                     f"{json.dumps(prob)}, {init + ',' if init else ''} }},")
    lines.append("  { 0 }")
    lines.append("};")
    lines.append(f"#define RV_N_VECTORS {len(entries)}")
    lines.append(f"#define RV_N_SKIPPED {len(skipped)}")
    lines.append(f"#define RV_VECTOR_DIR {json.dumps(str(vdir))}")
    out.write_text("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
