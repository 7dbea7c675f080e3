"""decode(datagram) -> a typed packet, a Malformed or an Unknown. Never raises (PROTOCOL.md §1.8).

Hot path of `ruview tail`: one dict lookup on the magic, one precompiled Struct per layout, no
exceptions or regexes for valid packets. Length fields are checked against the datagram before
anything is sliced, so nothing is allocated beyond what the datagram holds.
"""

from __future__ import annotations

import zlib

from . import magics as M
from .packets import (ANOMALY_ALERT, COMPRESSED_HEADER, FEATURE_STATE, FEATURES, FUSED, HEALTH,
                      MESH_CRC, MESH_HEADER, RAW_HEADER, VITALS, WASM_EVENT, WASM_HEADER,
                      AnomalyAlert, CompressedFrame, FeatureState, FeatureVector, FusedVitals,
                      Malformed, MeshEnvelope, MeshHealth, Packet, RawFrame, Unknown, Vitals,
                      WasmEvents, fast_builder)

_raw_unpack = RAW_HEADER.unpack_from
_vitals_unpack = VITALS.unpack_from
_features_unpack = FEATURES.unpack_from
_fused_unpack = FUSED.unpack_from
_wasm_unpack = WASM_HEADER.unpack_from
_comp_unpack = COMPRESSED_HEADER.unpack_from
_fstate_unpack = FEATURE_STATE.unpack_from
_mesh_unpack = MESH_HEADER.unpack_from
_crc_unpack = MESH_CRC.unpack_from
_crc32 = zlib.crc32

# Direct-slot constructors (same objects as the dataclass __init__, ~3x faster).
_RawFrame = fast_builder(RawFrame)
_Vitals = fast_builder(Vitals)
_FeatureVector = fast_builder(FeatureVector)
_FusedVitals = fast_builder(FusedVitals)
_WasmEvents = fast_builder(WasmEvents)
_CompressedFrame = fast_builder(CompressedFrame)
_FeatureState = fast_builder(FeatureState)
_Malformed = fast_builder(Malformed)
_Unknown = fast_builder(Unknown)


def _bad(kind: str, reason: str, data: bytes, node_id=None) -> Malformed:
    return _Malformed(kind, reason, len(data), node_id, data)


def _node(data: bytes):
    """node_id at byte 4 when the datagram is long enough to hold it."""
    return data[4] if len(data) > 4 else None


def _raw(data: bytes) -> Packet:
    n = len(data)
    if n < 20:
        return _bad("csi_raw", f"truncated: {n} bytes, header needs 20", data, _node(data))
    _, node, n_ant, n_sc, freq, seq, rssi, noise, flags = _raw_unpack(data)
    if not 1 <= n_ant <= M.RAW_MAX_ANTENNAS:
        return _bad("csi_raw", f"n_antennas {n_ant} outside 1..4", data, node)
    want = 20 + 2 * n_sc * n_ant
    if n_sc == 0 or want - 20 > M.RAW_MAX_IQ_BYTES:
        return _bad("csi_raw", f"n_subcarriers {n_sc} x {n_ant} antennas: 2*n_sc*n_ant must be "
                    f"1..{M.RAW_MAX_IQ_BYTES} I/Q bytes", data, node)
    if n != want:
        return _bad("csi_raw", f"size {n} != 20 + 2*{n_sc}*{n_ant} = {want}", data, node)
    return _RawFrame(node, n_ant, n_sc, freq, seq, rssi, noise, flags, data[20:])


def _vitals(data: bytes) -> Packet:
    if len(data) != 32:
        return _bad("vitals", f"size {len(data)}, expected 32", data, _node(data))
    _, node, flags, br, hr, rssi, persons, bconf, hconf, energy, score, ts, _r = _vitals_unpack(data)
    return _Vitals(node, flags, br / 100, hr / 10000, rssi, persons, energy, score, ts, bconf, hconf)


def _features(data: bytes) -> Packet:
    if len(data) != 48:
        return _bad("features", f"size {len(data)}, expected 48", data, _node(data))
    _, node, _r, seq, ts, *f = _features_unpack(data)
    return _FeatureVector(node, seq, ts, *f)


def _fused_or_wasm(data: bytes) -> Packet:
    n = len(data)
    if n >= 8:
        _, node, module, count = _wasm_unpack(data)
        if n == 8 + 5 * count:
            if count > M.WASM_MAX_EVENTS:
                return _bad("wasm_events", f"{count} events, at most 16", data, node)
            return _WasmEvents(node, module, tuple(WASM_EVENT.iter_unpack(data[8:])))
        if n == 48:
            (_, node, flags, br, hr, rssi, persons, mtype, fconf, energy, score, ts,
             mhr, mbr, dist, targets, mconf) = _fused_unpack(data)
            return _FusedVitals(node, flags, br / 100, hr / 10000, rssi, persons, energy, score,
                               ts, mtype, fconf, mhr, mbr, dist, targets, mconf)
        return _bad("fused_or_wasm", f"size {n} is neither 48 (fused vitals) nor "
                    f"8 + 5*{count} (WASM events)", data, node)
    return _bad("fused_or_wasm", f"truncated: {n} bytes", data, _node(data))


def _compressed(data: bytes) -> Packet:
    n = len(data)
    if n < 10:
        return _bad("csi_compressed", f"truncated: {n} bytes, header needs 10", data,
                    _node(data))
    _, node, channel, orig_len, comp_len = _comp_unpack(data)
    if n != 10 + comp_len:
        return _bad("csi_compressed", f"size {n} != 10 + comp_len {comp_len}", data, node)
    return _CompressedFrame(node, channel, orig_len, data[10:])


def _feature_state(data: bytes) -> Packet:
    if len(data) != 60:
        return _bad("feature_state", f"size {len(data)}, expected 60", data, _node(data))
    (_, node, mode, seq, ts, motion, presence, rbpm, rconf, hbpm, hconf, anomaly, shift,
     coherence, quality, _r, crc) = _fstate_unpack(data)
    if _crc32(data[:56]) != crc:
        return _bad("feature_state", "bad CRC", data, node)
    return _FeatureState(node, mode, seq, ts, motion, presence, rbpm, rconf, hbpm, hconf,
                        anomaly, shift, coherence, quality)


def _mesh(data: bytes) -> Packet:
    n = len(data)
    if n < 20:
        return _bad("mesh", f"truncated: {n} bytes, header + CRC need 20", data)
    _, version, mtype, role, auth, epoch, plen, _r = _mesh_unpack(data)
    if plen > M.MESH_MAX_PAYLOAD:
        return _bad("mesh", f"payload_len {plen} > 256", data)
    if n != 20 + plen:
        return _bad("mesh", f"size {n} != 16 + payload_len {plen} + 4", data)
    if _crc32(data[:16 + plen]) != _crc_unpack(data, 16 + plen)[0]:
        return _bad("mesh", "bad CRC", data)
    if version != M.MESH_VERSION:
        return _bad("mesh", f"envelope version {version}, this decoder reads 1", data)
    payload = data[16:16 + plen]
    if mtype == M.MESH_HEALTH:
        if plen != 28:
            return _bad("mesh", f"HEALTH payload {plen} bytes, expected 28", data)
        h = MeshHealth(*HEALTH.unpack(payload)[:9])
        return MeshEnvelope(version, mtype, role, auth, epoch, payload, h.ident[0], health=h)
    if mtype == M.MESH_ANOMALY_ALERT:
        if plen != 28:
            return _bad("mesh", f"ANOMALY_ALERT payload {plen} bytes, expected 28", data)
        ident, ts, severity, reason, _r2, score, motion = ANOMALY_ALERT.unpack(payload)
        a = AnomalyAlert(ident, ts, severity, reason, score, motion)
        return MeshEnvelope(version, mtype, role, auth, epoch, payload, ident[0], alert=a)
    return MeshEnvelope(version, mtype, role, auth, epoch, payload)


_DISPATCH = {
    M.MAGIC_RAW: _raw,
    M.MAGIC_VITALS: _vitals,
    M.MAGIC_FEATURES: _features,
    M.MAGIC_FUSED_OR_WASM: _fused_or_wasm,
    M.MAGIC_COMPRESSED: _compressed,
    M.MAGIC_FEATURE_STATE: _feature_state,
    M.MAGIC_MESH: _mesh,
}
_MAGIC_KEY = {m.to_bytes(4, "little"): f for m, f in _DISPATCH.items()}


def _decode(data: bytes) -> Packet:
    """decode() without the safety net; tests call this so a decoder bug is not hidden."""
    handler = _MAGIC_KEY.get(data[:4])
    if handler is not None:
        return handler(data)
    if len(data) < 4:
        return _Unknown(None, len(data), data)
    return _Unknown(int.from_bytes(data[:4], "little"), len(data), data)


def decode(data) -> Packet:
    """Classify and decode one datagram (bytes, bytearray or memoryview). Never raises."""
    try:
        if type(data) is not bytes:
            data = bytes(data)
        return _decode(data)
    except Exception as exc:  # a decoder bug must cost one packet, never the receiver
        try:
            size = len(data)
        except Exception:
            size = 0
        return Malformed("unknown", f"decoder error: {type(exc).__name__}: {exc}", size)
