"""Per-node telemetry state: what the `ruview tail` table and summary show an operator."""

from __future__ import annotations

import pytest

from ruview_cli.protocol import (CompressedFrame, Malformed, RawFrame, Unknown, Vitals, decode,
                                 rle_xor_encode)
from ruview_cli.telemetry.state import FALL_HOLD_S, STALE_AFTER_S, FleetState, SeqTracker

A = ("192.168.4.21", 40001)
B = ("192.168.4.22", 40001)


def raw(node=1, seq=0, iq=bytes(128), flags=0, rssi=-50):
    return RawFrame(node, 1, len(iq) // 2, 2437, seq, rssi, -92, flags, iq)


def vitals(node=1, fall=False, br=15.0, hr=72.0):
    return Vitals(node, 0x01 | (0x02 if fall else 0), br, hr, -48, 1, 0.25, 0.5, 1000)


def feed(tracker, seqs):
    for s in seqs:
        tracker.add(s)
    return tracker


def test_contiguous_frames_have_no_loss():
    t = feed(SeqTracker(), range(1000, 1100))
    assert t.lost == 0 and t.loss_pct == 0.0


def test_a_gap_is_counted_as_lost_frames():
    t = feed(SeqTracker(), [*range(0, 10), *range(15, 20)])  # 10..14 missing
    assert t.lost == 5
    assert t.loss_pct == pytest.approx(100 * 5 / 20)


def test_32_bit_wrap_is_not_loss():
    t = feed(SeqTracker(), [0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFF, 0, 1, 2])
    assert t.lost == 0 and t.reboots == 0


def test_wrap_with_a_gap_counts_only_the_gap():
    t = feed(SeqTracker(), [0xFFFFFFFE, 0xFFFFFFFF, 2, 3])  # 0 and 1 missing
    assert t.lost == 2


def test_node_reboot_restarts_the_count_without_billions_lost():
    t = feed(SeqTracker(), [*range(5000, 5100), *range(0, 50)])
    assert t.reboots == 1
    assert t.lost == 0


def test_late_frame_fills_its_gap():
    t = feed(SeqTracker(), [1, 2, 4, 5, 3, 6])
    assert t.lost == 0 and t.late == 1


def test_duplicate_is_not_a_received_frame_twice():
    t = feed(SeqTracker(), [1, 2, 2, 3, 5])
    assert t.duplicates == 1 and t.lost == 1


def test_vitals_fall_stays_visible_then_clears():
    fs = FleetState()
    fs.update(vitals(fall=True), A, 100.0)
    fs.update(vitals(fall=False), A, 101.0)
    node = fs.nodes[(A[0], 1)]
    assert node.vitals.fall is False
    assert node.fall_shown(100.0 + FALL_HOLD_S - 0.1)
    assert FALL_HOLD_S >= 5
    assert not node.fall_shown(100.0 + FALL_HOLD_S + 0.1)


def test_node_goes_stale_after_five_silent_seconds():
    fs = FleetState()
    fs.update(vitals(), A, 10.0)
    node = fs.nodes[(A[0], 1)]
    assert not node.stale(10.0 + STALE_AFTER_S - 0.5)
    assert node.stale(10.0 + STALE_AFTER_S)
    fs.update(vitals(), A, 20.0)
    assert not node.stale(20.5)


def test_same_node_id_from_two_addresses_is_two_nodes():
    fs = FleetState()
    fs.update(raw(node=1, seq=5), A, 1.0)
    fs.update(raw(node=1, seq=900), B, 1.0)
    fs.update(raw(node=1, seq=6), A, 1.1)
    assert len(fs.nodes) == 2
    assert fs.nodes[(A[0], 1)].seq.lost == 0  # B's numbers do not look like A's gap


def test_frame_rate_over_the_window():
    fs = FleetState()
    period = 1 / 28.5
    t = 1000.0
    for i in range(int(28.5 * 8)):
        fs.update(raw(seq=i), A, t + i * period)
    node = fs.nodes[(A[0], 1)]
    assert node.frame_rate(t + 8.0) == pytest.approx(28.5, abs=1.0)
    # silence: the rate falls to 0 once the window has passed
    assert node.frame_rate(t + 20.0) == 0.0


def test_malformed_and_unknown_are_counted_per_source():
    fs = FleetState()
    fs.update(raw(seq=1), A, 1.0)
    fs.update(decode(b"\x02\x00\x11\xc5\x01abc"), A, 1.1)  # truncated vitals from node 1
    fs.update(decode(b"\xde\xad\xbe\xef"), B, 1.2)
    fs.update(decode(b"\x01"), B, 1.3)
    assert isinstance(decode(b"\xde\xad\xbe\xef"), Unknown)
    assert fs.malformed == 1 and fs.unknown == 2
    assert fs.malformed_by_kind == {"vitals": 1}
    summary = fs.summary(2.0)
    assert summary["sources"][A[0]] == {"datagrams": 2, "malformed": 1, "unknown": 0}
    assert summary["sources"][B[0]] == {"datagrams": 2, "malformed": 0, "unknown": 2}
    assert summary["nodes"][0]["malformed"] == 1  # attributed to node 1 of A


def test_malformed_packet_from_an_unseen_node_creates_no_row():
    fs = FleetState()
    fs.update(Malformed("csi_raw", "size 21 != 148", 21, 7), A, 1.0)
    assert fs.nodes == {} and fs.malformed == 1


def _keyframe_window(node, seq, n_compressed, rng_byte):
    key = bytes((i * 7 + rng_byte) & 0xFF for i in range(128))
    frames = [raw(node=node, seq=seq, iq=key, flags=1)]
    for k in range(1, n_compressed + 1):
        cur = bytearray(key)
        cur[k] ^= 0x55  # a small change: compresses well
        payload = rle_xor_encode(bytes(cur), key)
        assert payload is not None
        frames.append(CompressedFrame(node, 6, 128, payload))
    return frames


def test_compressed_frames_confirmed_by_the_keyframes_after_them():
    fs = FleetState()
    t = 0.0
    windows = _keyframe_window(2, 100, 3, 1) + _keyframe_window(2, 104, 2, 9) + \
        _keyframe_window(2, 107, 1, 5)
    for pkt in windows:
        t += 0.03
        fs.update(pkt, A, t)
    node = fs.nodes[(A[0], 2)]
    assert node.compressed_decoded == 3  # the first window: it and the next came out exact
    fs.finish(t)
    assert node.compressed_undecodable == 3  # the last two: no verdict on the last one


def test_lost_compressed_frame_makes_its_window_undecodable():
    fs = FleetState()
    window = _keyframe_window(2, 100, 3, 1)
    del window[2]  # one compressed frame lost in the network
    t = 0.0
    for pkt in window + [raw(node=2, seq=104, flags=1)]:
        t += 0.03
        fs.update(pkt, A, t)
    node = fs.nodes[(A[0], 2)]
    assert node.compressed_decoded == 0 and node.compressed_undecodable == 2


def test_compressed_frames_of_our_firmware_are_not_counted_as_lost_raw_frames():
    # keyframe 100, three compressed frames (numbers 101-103), keyframe 104: nothing lost
    fs = FleetState()
    t = 0.0
    for pkt in _keyframe_window(2, 100, 3, 1) + [raw(node=2, seq=104, flags=1)]:
        t += 0.03
        fs.update(pkt, A, t)
    assert fs.nodes[(A[0], 2)].seq.lost == 0


def test_a_lost_compressed_frame_of_our_firmware_is_a_lost_frame():
    fs = FleetState()
    window = _keyframe_window(2, 100, 3, 1)
    del window[3]
    t = 0.0
    for pkt in window + [raw(node=2, seq=104, flags=1)]:
        t += 0.03
        fs.update(pkt, A, t)
    assert fs.nodes[(A[0], 2)].seq.lost == 1


def test_ruview_06_compressed_frames_do_not_hide_raw_frame_loss():
    # 0.6.x sends every frame raw (flags 0) and compressed frames on top, without numbers
    fs = FleetState()
    t = 0.0
    for seq in (1, 2, 4, 5):  # 3 lost
        t += 0.03
        fs.update(raw(node=4, seq=seq), A, t)
        fs.update(CompressedFrame(4, 6, 128, b"\x00\x80"), A, t)
    assert fs.nodes[(A[0], 4)].seq.lost == 1
