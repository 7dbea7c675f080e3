"""CompressedStream: the receiver side of compressed CSI (KEYFRAME_RULE.md).

A small model of the node side (keyframe rule, or RuView 0.6.x chain + send gate) produces
datagrams with known true I/Q; the tests lose, reorder and corrupt them and check what a user
of the decoded stream would see: confirmed frames are exactly right, nothing wrong is released.
"""

from __future__ import annotations

import math
import random
from collections import Counter

from hypothesis import given, settings
from hypothesis import strategies as st

from ruview_cli.protocol import (CompressedFrame, CompressedStream, RawFrame, decode,
                                 rle_xor_encode)

FRAME_DT = 0.05   # 20 Hz CSI


def frames(seed: int, n: int, length: int = 128) -> list[bytes]:
    """n I/Q buffers that drift a little from frame to frame, like CSI in a quiet room."""
    rng = random.Random(seed)
    cur = bytearray(rng.randbytes(length))
    out = []
    for _ in range(n):
        for _ in range(rng.randint(0, 6)):
            cur[rng.randrange(length)] = rng.randrange(256)
        out.append(bytes(cur))
    return out


def keyframe_node(iqs, node=1, channel=6):
    """Our firmware (tier >= 1): list of (datagram packet, true I/Q, keyframe seq it uses)."""
    out, key, key_t = [], None, 0.0
    for seq, iq in enumerate(iqs):
        t = seq * FRAME_DT
        payload = None
        if key is not None and len(iq) == len(key.iq) and t - key_t < 1.0 - 1e-9:
            payload = rle_xor_encode(iq, key.iq)
        if payload is None:
            key = RawFrame(node, 1, len(iq) // 2, 2437, seq, -50, -90, 1, iq)
            key_t = t
            out.append((key, iq, seq))
        else:
            out.append((CompressedFrame(node, channel, len(iq), payload), iq, key.seq))
    return out


def feed(stream, packets, dt=FRAME_DT):
    """Deliver packets in order; return every Reconstructed released, after an end flush."""
    released = []
    for i, pkt in enumerate(packets):
        pkt = decode(pkt.encode())               # through the real wire format
        if pkt.kind == "csi_raw":
            released += stream.on_raw(pkt, i * dt)
        else:
            released += stream.on_compressed(pkt, i * dt)
    released += stream.flush(math.inf)
    return released


def truth_by_window(sent):
    """keyframe seq -> Counter of the true I/Q of the compressed frames encoded against it."""
    w: dict[int, Counter] = {}
    for pkt, iq, key_seq in sent:
        if pkt.kind == "csi_compressed":
            w.setdefault(key_seq, Counter())[iq] += 1
    return w


def test_loss_free_stream_releases_every_frame_exactly():
    sent = keyframe_node(frames(1, 95))
    comp = [(p, iq) for p, iq, _ in sent if p.kind == "csi_compressed"]
    keys = [p for p, _, _ in sent if p.kind == "csi_raw"]
    assert len(keys) >= 4 and len(comp) > 60
    s = CompressedStream()
    out = feed(s, [p for p, _, _ in sent])
    unconfirmed = {keys[-1].seq, keys[-2].seq}
    confirmed = [iq for p, iq, k in sent if p.kind == "csi_compressed" and k not in unconfirmed]
    assert [r.iq for r in out] == confirmed                 # right I/Q, in order
    assert all(r.mode == "keyframe" and r.channel == 6 and r.node_id == 1 for r in out)
    # the last window has no closing keyframe, so it and the window waiting for its verdict
    # can never be confirmed
    assert s.decoded == len(confirmed)
    assert s.undecodable == len(comp) - len(confirmed)


def test_frames_are_released_only_when_the_window_after_them_is_confirmed_too():
    sent = keyframe_node(frames(2, 90))
    keys = [i for i, (p, _, _) in enumerate(sent) if p.kind == "csi_raw"]
    assert len(keys) >= 3 and keys[1] > 3
    s = CompressedStream()
    for i, (p, _, _) in enumerate(sent[:keys[2]]):
        fed = s.on_raw(p, i * FRAME_DT) if p.kind == "csi_raw" else s.on_compressed(p, i * FRAME_DT)
        assert fed == []                     # nothing yet: window 0 waits for window 1's verdict
    out = s.on_raw(sent[keys[2]][0], keys[2] * FRAME_DT)
    assert [r.iq for r in out] == [iq for _, iq, _ in sent[1:keys[1]]]
    assert {r.keyframe_seq for r in out} == {0}
    assert (s.decoded, s.undecodable) == (keys[1] - 1, 0)


def test_losing_one_compressed_frame_makes_its_window_and_its_neighbours_undecodable():
    sent = keyframe_node(frames(3, 150))
    lost = 25                                            # inside the second window
    assert sent[lost][0].kind == "csi_compressed"
    s = CompressedStream()
    out = feed(s, [p for i, (p, _, _) in enumerate(sent) if i != lost])
    bad_key = sent[lost][2]
    assert all(r.keyframe_seq != bad_key for r in out)
    good = truth_by_window(sent)
    assert out and all(good[r.keyframe_seq][r.iq] for r in out)
    sizes = {k: sum(c.values()) for k, c in good.items()}
    keys = sorted(sizes)
    at = keys.index(bad_key)
    assert 0 < at < len(keys) - 2
    # the damaged window's neighbours cannot be confirmed either: a frame may have crossed
    neighbours = {keys[at - 1], keys[at + 1]}
    assert not neighbours & {r.keyframe_seq for r in out}
    assert s.decoded == len(out) and s.decoded + s.undecodable == sum(sizes.values()) - 1


def test_losing_a_keyframe_makes_both_windows_undecodable():
    sent = keyframe_node(frames(4, 80))
    keys = [i for i, (p, _, _) in enumerate(sent) if p.kind == "csi_raw"]
    lost = keys[1]
    s = CompressedStream()
    out = feed(s, [p for i, (p, _, _) in enumerate(sent) if i != lost])
    assert all(r.keyframe_seq not in (sent[keys[0]][2], sent[keys[1]][2]) for r in out)
    truth = truth_by_window(sent)
    assert all(truth[r.keyframe_seq][r.iq] for r in out)
    assert s.decoded == len(out)


@settings(max_examples=120, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 90),
       damage=st.one_of(
           st.tuples(st.just("loss"), st.lists(st.integers(0, 89), max_size=6)),
           st.tuples(st.just("reorder"), st.lists(st.integers(0, 88), max_size=2)),
           st.tuples(st.just("both"), st.tuples(st.lists(st.integers(0, 89), max_size=6),
                                                st.integers(0, 88)))))
def test_loss_or_reordering_never_releases_wrong_iq(seed, n, damage):
    """Any loss plus at most one reordering, or up to two reorderings (docs/protocol.md)."""
    sent = keyframe_node(frames(seed, n))
    packets = [p for p, _, _ in sent]
    kind, where = damage
    lost, swaps = ((where, []) if kind == "loss" else ([], where) if kind == "reorder"
                   else (where[0], [where[1]]))
    packets = [p for i, p in enumerate(packets) if i not in set(lost)]
    for i in swaps:                          # swap neighbours: reordering in the network
        if i + 1 < len(packets):
            packets[i], packets[i + 1] = packets[i + 1], packets[i]
    s = CompressedStream()
    out = feed(s, packets)
    truth = truth_by_window(sent)
    for r in out:
        assert truth.get(r.keyframe_seq, Counter())[r.iq] > 0, "released wrong I/Q"
    delivered = sum(p.kind == "csi_compressed" for p in packets)
    assert s.decoded + s.undecodable == delivered == s.decoded + s.undecodable
    assert s.decoded == len(out)


def test_reorder_across_a_keyframe_is_undecodable_not_wrong():
    sent = keyframe_node(frames(5, 60))
    packets = [p for p, _, _ in sent]
    k = next(i for i in range(1, len(packets)) if packets[i].kind == "csi_raw")
    packets[k - 1], packets[k] = packets[k], packets[k - 1]   # last delta arrives after keyframe
    s = CompressedStream()
    out = feed(s, packets)
    truth = truth_by_window(sent)
    assert all(truth[r.keyframe_seq][r.iq] for r in out)
    released_windows = {r.keyframe_seq for r in out}
    assert sent[0][2] not in released_windows and packets[k - 1].seq not in released_windows


def test_bad_compressed_frames_are_undecodable_at_once():
    key = RawFrame(1, 1, 4, 2412, 10, -40, -90, 1, bytes(8))
    s = CompressedStream()
    orphan = CompressedFrame(1, 1, 8, b"\x00\x08")
    assert s.on_compressed(orphan, 0.0) == [] and s.undecodable == 1   # no keyframe yet
    s.on_raw(key, 0.0)
    for bad in (CompressedFrame(1, 1, 6, b"\x00\x06"),       # length != keyframe's
                CompressedFrame(1, 1, 8, b"\x00\x07\x01"),   # odd
                CompressedFrame(1, 1, 8, b"\x00\x08\x01\x00"),  # run 0
                CompressedFrame(1, 1, 8, b"\x00\x07")):      # expands to 7
        s.on_compressed(bad, 0.01)
    assert s.undecodable == 5
    good = CompressedFrame(1, 1, 8, b"\x01\x08")
    s.on_compressed(good, 0.02)
    # window 10..16 held 5 received frames; S - S1 - 1 = 5: exact; released once the next
    # window (16..17, empty) closes exact too
    assert s.on_raw(RawFrame(1, 1, 4, 2412, 16, -40, -90, 1, bytes(8)), 0.1) == []
    out = s.on_raw(RawFrame(1, 1, 4, 2412, 17, -40, -90, 1, bytes(8)), 0.2)
    assert [r.iq for r in out] == [b"\x01" * 8] and s.decoded == 1


def test_a_window_open_too_long_expires():
    key = RawFrame(1, 1, 4, 2412, 0, -40, -90, 1, bytes(8))
    s = CompressedStream()
    s.on_raw(key, 100.0)
    s.on_compressed(CompressedFrame(1, 1, 8, b"\x01\x08"), 100.1)
    assert s.flush(101.5) == [] and s.undecodable == 0
    s.flush(102.2)
    assert s.undecodable == 1
    s.on_compressed(CompressedFrame(1, 1, 8, b"\x01\x08"), 102.3)     # window gone
    assert s.undecodable == 2
    assert s.on_raw(RawFrame(1, 1, 4, 2412, 3, -40, -90, 1, bytes(8)), 103.0) == []


def test_more_than_255_pending_frames():
    s = CompressedStream()
    s.on_raw(RawFrame(1, 1, 4, 2412, 0, -40, -90, 1, bytes(8)), 0.0)
    for _ in range(256):
        s.on_compressed(CompressedFrame(1, 1, 8, b"\x01\x08"), 0.0)
    assert s.undecodable == 1
    # 256 frames received for 256 sequence numbers: the window is loss-free, so the 255 held
    # ones are confirmed; only the one over the limit is lost
    assert s.on_raw(RawFrame(1, 1, 4, 2412, 257, -40, -90, 1, bytes(8)), 0.5) == []
    out = s.on_raw(RawFrame(1, 1, 4, 2412, 258, -40, -90, 1, bytes(8)), 0.6)
    assert len(out) == 255 and all(r.iq == b"\x01" * 8 for r in out)
    assert (s.decoded, s.undecodable) == (255, 1)


# -- RuView 0.6.x chain mode --------------------------------------------------------------------

def chain_node(iqs, gate, lag, node=9, channel=5):
    """0.6.x: every CSI callback takes a seq; its raw frame is sent unless the 50 Hz gate drops
    it (`gate(i)` True = dropped); the DSP task compresses every callback against the previous
    callback's I/Q and sends it `lag` raw frames later. Returns (datagrams, truth by I/Q)."""
    raw = []
    comp = []
    for i, iq in enumerate(iqs):
        if not gate(i):
            raw.append((i, RawFrame(node, 1, len(iq) // 2, 2432, i, -60, -95, 0, iq)))
        if i > 0:
            payload = rle_xor_encode(iq, iqs[i - 1])
            if payload is not None:
                comp.append((i + lag, CompressedFrame(node, channel, len(iq), payload), iq))
    out = []
    for i in range(len(iqs) + lag + 1):
        out += [p for j, p in raw if j == i]
        out += [p for j, p, _ in comp if j == i]
    return out, {iq for _, _, iq in comp}


def test_chain_mode_decodes_and_verifies():
    iqs = frames(7, 40)
    packets, truth = chain_node(iqs, gate=lambda i: False, lag=0)
    s = CompressedStream()
    out = feed(s, packets)
    n_comp = sum(p.kind == "csi_compressed" for p in packets)
    assert len(out) == n_comp and s.decoded == n_comp and s.undecodable == 0
    assert [r.iq for r in out] == [iq for iq in iqs[1:]][:n_comp]
    assert all(r.mode == "chain" and r.keyframe_seq is not None for r in out)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), lag=st.integers(0, 3),
       gated=st.sets(st.integers(0, 39), max_size=12),
       lost=st.sets(st.integers(0, 80), max_size=6))
def test_chain_mode_never_releases_wrong_iq(seed, lag, gated, lost):
    iqs = frames(seed, 40)
    packets, truth = chain_node(iqs, gate=lambda i: i in gated, lag=lag)
    packets = [p for i, p in enumerate(packets) if i not in lost]
    s = CompressedStream()
    out = feed(s, packets)
    assert all(r.iq in truth for r in out)
    # a verified frame equals a raw frame sent after its reference
    assert all(r.iq in iqs[r.keyframe_seq + 1:] for r in out)
    assert s.decoded + s.undecodable == sum(p.kind == "csi_compressed" for p in packets)


def test_chain_reference_skipped_by_the_dsp_still_verifies():
    iqs = frames(9, 3)
    s = CompressedStream()
    s.on_raw(RawFrame(9, 1, 64, 2432, 0, -60, -95, 0, iqs[0]), 0.0)
    s.on_raw(RawFrame(9, 1, 64, 2432, 1, -60, -95, 0, iqs[1]), 0.0)
    s.on_raw(RawFrame(9, 1, 64, 2432, 2, -60, -95, 0, iqs[2]), 0.0)
    # the DSP never processed frame 1 (ring full): frame 2 was compressed against frame 0
    out = s.on_compressed(CompressedFrame(9, 5, 128, rle_xor_encode(iqs[2], iqs[0])), 0.1)
    assert [(r.iq, r.keyframe_seq) for r in out] == [(iqs[2], 0)]


def test_chain_frame_with_a_wrong_reference_is_undecodable():
    iqs = frames(8, 3)
    s = CompressedStream()
    s.on_raw(RawFrame(9, 1, 64, 2432, 0, -60, -95, 0, iqs[0]), 0.0)
    s.on_raw(RawFrame(9, 1, 64, 2432, 1, -60, -95, 0, iqs[1]), 0.0)
    wrong = CompressedFrame(9, 5, 128, rle_xor_encode(iqs[2], iqs[1]))   # describes seq 2
    assert s.on_compressed(wrong, 0.1) == [] and s.undecodable == 1


def test_switching_from_keyframes_to_06x_abandons_the_open_window():
    s = CompressedStream()
    s.on_raw(RawFrame(1, 1, 4, 2412, 0, -40, -90, 1, bytes(8)), 0.0)
    s.on_compressed(CompressedFrame(1, 1, 8, b"\x01\x08"), 0.0)
    s.on_raw(RawFrame(1, 1, 4, 2412, 2, -40, -90, 0, bytes(8)), 0.1)   # reflashed with 0.6.x
    assert s.undecodable == 1 and s.decoded == 0


def test_two_reorders_that_balance_a_windows_count_release_nothing_wrong():
    """A straggler of window A carried into B, and one of B carried into C: B's count comes out
    exact, but A's was short, so B is not released (found by the property test above)."""
    sent = keyframe_node(frames(394, 37))
    packets = [p for p, _, _ in sent]
    for i in (19, 35):
        packets[i], packets[i + 1] = packets[i + 1], packets[i]
    s = CompressedStream()
    out = feed(s, packets)
    truth = truth_by_window(sent)
    assert all(truth[r.keyframe_seq][r.iq] for r in out)


def test_chain_frames_trailing_their_reference_by_up_to_2_s_at_50_hz_decode():
    # the 0.6.x DSP task can lag the CSI callback: compressed frames arrive 7..100 raw frames late
    for lag in (7, 30, 98):          # 98: arrives 99 raw frames after its reference
        iqs = frames(lag, 160)
        packets, truth = chain_node(iqs, gate=lambda i: False, lag=lag)
        s = CompressedStream()
        out = feed(s, packets, dt=0.02)                            # 50 Hz
        n_comp = sum(p.kind == "csi_compressed" for p in packets)
        assert s.undecodable == 0 and s.decoded == n_comp, lag
        assert [r.iq for r in out] == [r for r in iqs[1:] if r in truth]


def test_chain_history_stays_bounded():
    from ruview_cli.protocol.stream import CHAIN_HISTORY

    assert CHAIN_HISTORY >= 100                                   # 2 s at 50 Hz
    iqs = frames(3, CHAIN_HISTORY + 400, length=2048)
    s = CompressedStream()
    for i, iq in enumerate(iqs):
        s.on_raw(RawFrame(9, 1, 1024, 2432, i, -60, -95, 0, iq), i * 0.02)
    assert len(s._chain) == CHAIN_HISTORY
    assert sum(len(v) for v in s._by_iq.values()) == CHAIN_HISTORY
    # a frame whose reference has left the history cannot be decoded (and is counted)
    old = CompressedFrame(9, 5, 2048, rle_xor_encode(iqs[1], iqs[0]))
    assert s.on_compressed(old, 99.0) == [] and s.undecodable == 1
    # the newest pair still decodes
    new = CompressedFrame(9, 5, 2048, rle_xor_encode(iqs[-1], iqs[-2]))
    assert [r.iq for r in s.on_compressed(new, 99.0)] == [iqs[-1]]


def test_still_scene_chain_frames_decode_to_their_own_frame_not_a_newer_look_alike():
    a, b = frames(1, 1)[0], frames(2, 1)[0]
    iqs = [a, a, b, b, b]          # zero differences at 1, 3 and 4 (a -> b does not compress)
    packets, _ = chain_node(iqs, gate=lambda i: False, lag=3)
    s = CompressedStream()
    out = feed(s, packets)
    assert [(r.iq, r.keyframe_seq) for r in out] == [(a, 0), (b, 2), (b, 3)]
