"""Property tests of the packet decoder/encoder: arbitrary or damaged datagrams never raise, and
every kind survives encode -> decode unchanged."""

from __future__ import annotations

import json
import random
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ruview_cli.protocol import (KINDS, AnomalyAlert, CompressedFrame, FeatureState,
                                 FeatureVector, FusedVitals, MeshEnvelope, MeshHealth, RawFrame,
                                 Vitals, WasmEvents, decode)
from ruview_cli.protocol import magics as M
from ruview_cli.protocol.decode import _decode

SETTINGS = settings(max_examples=200, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])

u8 = st.integers(0, 0xFF)
i8 = st.integers(-128, 127)
u16 = st.integers(0, 0xFFFF)
u32 = st.integers(0, 0xFFFFFFFF)
u64 = st.integers(0, 2**64 - 1)
i64 = st.integers(-2**63, 2**63 - 1)
f32 = st.floats(width=32, allow_nan=False)


@st.composite
def raw_frames(draw):
    n_ant = draw(st.integers(1, 4))
    n_sc = draw(st.one_of(st.integers(1, 8), st.sampled_from([64, 128, 192, 256])))
    iq = random.Random(draw(u32)).randbytes(2 * n_sc * n_ant)   # fast for 2 KiB frames
    return RawFrame(draw(u8), n_ant, n_sc, draw(u32), draw(u32), draw(i8), draw(i8), draw(u16),
                    iq)


vitals = st.builds(Vitals, node_id=u8, flags=u8, breathing_bpm=u16.map(lambda r: r / 100),
                   heart_bpm=u32.map(lambda r: r / 10000), rssi_dbm=i8, n_persons=u8,
                   motion_energy=f32, presence_score=f32, timestamp_ms=u32)
features = st.builds(FeatureVector, u8, u16, i64, f32, f32, f32, f32, f32, f32, f32, f32)
# breathing u16 = 8 would read as an 8-event WASM packet (8 + 5*8 = 48): PROTOCOL.md §1.4.
fused = st.builds(FusedVitals, node_id=u8, flags=u8,
                  breathing_bpm=u16.filter(lambda r: r != 8).map(lambda r: r / 100),
                  heart_bpm=u32.map(lambda r: r / 10000), rssi_dbm=i8, n_persons=u8,
                  motion_energy=f32, presence_score=f32, timestamp_ms=u32, mmwave_type=u8,
                  fusion_confidence=u8, mmwave_hr_bpm=f32, mmwave_br_bpm=f32, distance_cm=f32,
                  targets=u8, mmwave_confidence=u8)
wasm = st.builds(WasmEvents, u8, u8,
                 st.lists(st.tuples(u8, f32), max_size=16).map(tuple))
compressed = st.builds(CompressedFrame, u8, u8, u16, st.binary(max_size=600))
feature_state = st.builds(FeatureState, u8, u8, u16, u64, f32, f32, f32, f32, f32, f32, f32,
                          f32, f32, u16)
idents = st.binary(min_size=8, max_size=8)
health = st.builds(MeshHealth, idents, u64, u8, u8, u8, i8, u16, u16, u16)
alert = st.builds(AnomalyAlert, idents, u64, u8, u8, f32, f32)
mesh = st.one_of(
    st.builds(lambda b, r, a, e: MeshEnvelope.of(b, sender_role=r, auth_class=a, epoch=e),
              st.one_of(health, alert), u8, u8, u32),
    st.builds(lambda t, p, r, a, e: MeshEnvelope.of(p, msg_type=t, sender_role=r, auth_class=a,
                                                    epoch=e),
              u8.filter(lambda t: t not in (6, 7)), st.binary(max_size=256), u8, u8, u32))
packets = st.one_of(raw_frames(), vitals, features, fused, wasm, compressed, feature_state,
                    mesh)


def check_safe(pkt, data: bytes) -> None:
    """What every decode result must satisfy, whatever the input."""
    assert pkt.kind in KINDS
    js = pkt.to_json()
    assert js["kind"] == pkt.kind
    assert "node_id" in js
    json.dumps(js, allow_nan=False)      # JSON-safe: no NaN/inf, no bytes
    if pkt.kind in ("malformed", "unknown"):
        assert pkt.size == len(data)
        assert pkt.encode() == data


@SETTINGS
@given(packets)
def test_encode_decode_round_trips_every_kind(pkt):
    data = pkt.encode()
    back = _decode(data)
    assert back == pkt
    assert back.kind == pkt.kind
    assert back.encode() == data
    check_safe(back, data)


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_never_raise(data):
    check_safe(_decode(data), data)


@SETTINGS
@given(st.sampled_from(sorted(M.NAMES)), st.binary(max_size=400))
def test_random_bodies_behind_every_known_magic_never_raise(magic, body):
    data = struct.pack("<I", magic) + body
    check_safe(_decode(data), data)


@st.composite
def mutated(draw):
    data = bytearray(draw(packets).encode())
    op = draw(st.sampled_from(["flip", "truncate", "extend", "swap_magic", "len_field"]))
    if op == "flip" and data:
        for _ in range(draw(st.integers(1, 4))):
            i = draw(st.integers(0, len(data) - 1))
            data[i] ^= 1 << draw(st.integers(0, 7))
    elif op == "truncate":
        del data[draw(st.integers(0, len(data))):]
    elif op == "extend":
        data += draw(st.binary(min_size=1, max_size=40))
    elif op == "swap_magic":
        data[0:4] = struct.pack("<I", draw(st.sampled_from(sorted(M.NAMES))))
    elif op == "len_field" and len(data) >= 10:
        # the length-ish fields of each layout sit at 6..9 (n_sc, orig/comp len, count)
        data[draw(st.integers(5, 9))] = draw(u8)
    return bytes(data)


@SETTINGS
@given(mutated())
def test_mutated_packets_never_raise(data):
    check_safe(_decode(data), data)


@SETTINGS
@given(mutated())
def test_decode_accepts_bytearray_and_memoryview(data):
    want = decode(data)
    for view in (bytearray(data), memoryview(data)):
        got = decode(view)    # (compare kind + bytes: a flipped bit may make a float NaN)
        assert (got.kind, got.encode(), got.to_json()["node_id"]) == \
            (want.kind, want.encode(), want.to_json()["node_id"])


def test_non_bytes_input_is_malformed_not_an_exception():
    for junk in (None, 12, "C5110001", [1, 2, 3]):
        pkt = decode(junk)
        assert pkt.kind in ("malformed", "unknown")
        json.dumps(pkt.to_json())


def test_nan_and_inf_floats_become_null_in_json():
    v = Vitals(1, 0, 0.0, 0.0, -40, 0, float("nan"), float("inf"), 0)
    js = _decode(v.encode()).to_json()
    assert js["motion_energy"] is None and js["presence_score"] is None
    json.dumps(js, allow_nan=False)


def test_datagrams_shorter_than_a_magic_are_unknown():
    for data in (b"", b"\x01", b"\x01\x00\x11"):
        pkt = _decode(data)
        assert (pkt.kind, pkt.magic, pkt.size) == ("unknown", None, len(data))


def test_raw_frame_size_rules():
    good = RawFrame(1, 2, 64, 2412, 5, -40, -90, 0, bytes(256)).encode()
    assert _decode(good).kind == "csi_raw"
    assert "size" in _decode(good + b"\x00").reason
    for n_ant, n_sc in ((0, 64), (5, 64), (1, 0), (1, 257)):
        data = good[:5] + struct.pack("<BH", n_ant, n_sc) + good[8:]
        pkt = _decode(data)
        assert (pkt.kind, pkt.packet_kind, pkt.node_id) == ("malformed", "csi_raw", 1)


def test_raw_frames_up_to_the_firmware_buffer_are_valid():
    # RuView 0.6.5 serializes up to 2,048 I/Q bytes with n_antennas = 1 (1,024 subcarriers)
    for n_ant, n_sc in ((1, 257), (1, 512), (1, 1024), (2, 512), (4, 256)):
        iq = random.Random(n_sc).randbytes(2 * n_sc * n_ant)
        frame = RawFrame(3, n_ant, n_sc, 2437, 9, -41, -92, 0, iq)
        pkt = _decode(frame.encode())
        assert pkt.kind == "csi_raw", (n_ant, n_sc, getattr(pkt, "reason", ""))
        assert pkt.iq == frame.iq and pkt.n_subcarriers == n_sc
    for n_ant, n_sc in ((1, 1025), (2, 513), (4, 257)):   # beyond 2,048 I/Q bytes
        data = RawFrame(3, n_ant, n_sc, 2437, 9, -41, -92, 0, bytes(2 * n_sc * n_ant)).encode()
        pkt = _decode(data)
        assert (pkt.kind, pkt.packet_kind) == ("malformed", "csi_raw")
        assert "2048" in pkt.reason


def test_0xc5110004_disambiguation():
    eight = WasmEvents(1, 2, tuple((i, 0.5) for i in range(8))).encode()
    assert len(eight) == 48 and _decode(eight).kind == "wasm_events"
    f = FusedVitals(1, 1, 15.0, 72.0, -50, 1, 0.5, 0.5, 0, 0, 0, 0.0, 0.0, 0.0, 0, 0).encode()
    assert _decode(f).kind == "fused_vitals"
    neither = _decode(f[:47])
    assert (neither.kind, neither.packet_kind) == ("malformed", "fused_or_wasm")
    too_many = WasmEvents(1, 2, tuple((i, 0.5) for i in range(17))).encode()
    assert _decode(too_many).reason == "17 events, at most 16"


def test_mesh_crc_and_lengths():
    env = MeshEnvelope.of(MeshHealth(b"\x07" + bytes(7), 1, 2, 5, 20, -90, 28, 0, 0), epoch=3)
    data = env.encode()
    assert _decode(data).kind == "mesh_health" and _decode(data).node_id == 7
    flipped = data[:-1] + bytes([data[-1] ^ 0x80])
    assert _decode(flipped).reason == "bad CRC"
    body = bytearray(data)
    body[20] ^= 1                                   # payload byte, CRC now wrong
    assert _decode(bytes(body)).reason == "bad CRC"
    big = bytearray(data)
    big[12:14] = struct.pack("<H", 300)
    assert "payload_len 300" in _decode(bytes(big)).reason
    other = MeshEnvelope.of(b"\x01\x02", msg_type=1).encode()
    pkt = _decode(other)
    assert (pkt.kind, pkt.node_id, pkt.to_json()["payload_len"]) == ("mesh", None, 2)


@settings(max_examples=60, deadline=None)
@given(packets, st.binary(min_size=1, max_size=8))
def test_every_truncation_and_extension_is_classified(pkt, tail):
    data = pkt.encode()
    for cut in range(len(data)):
        check_safe(_decode(data[:cut]), data[:cut])
    for extra in range(1, len(tail) + 1):
        longer = data + tail[:extra]
        got = _decode(longer)
        check_safe(got, longer)
        # a longer datagram is never silently taken as the original packet
        assert got != pkt or got.kind == "wasm_events"


def test_channel_and_frequency_are_inverse():
    from ruview_cli.protocol import channel_from_freq, freq_from_channel
    for ch in list(range(1, 15)) + list(range(36, 178)):
        assert channel_from_freq(freq_from_channel(ch)) == ch
    assert freq_from_channel(14) == 2484 and freq_from_channel(5) == 2432
    assert freq_from_channel(36) == 5180
    assert channel_from_freq(2433) is None and channel_from_freq(0) is None


def test_vitals_bpm_wire_scaling_is_exact():
    # every breathing u16 survives BPM = raw/100 -> round(BPM*100)
    assert all(round((r / 100) * 100) == r for r in range(0, 65536, 7))
    v = _decode(Vitals(1, 0, 15.0, 72.0, -50, 0, 0.0, 0.0, 0).encode())
    assert (v.breathing_bpm, v.heart_bpm) == (15.0, 72.0)
