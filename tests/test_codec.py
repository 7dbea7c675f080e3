"""XOR+RLE codec of compressed CSI frames (PROTOCOL.md §1.5)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruview_cli.protocol import CodecError, rle_expand, rle_xor_decode, rle_xor_encode
from ruview_cli.protocol.codec import rle_encode


@st.composite
def similar_frames(draw):
    """A reference I/Q and a current one that differs from it in a few places (as real CSI)."""
    ref = draw(st.binary(min_size=0, max_size=600))
    cur = bytearray(ref)
    for _ in range(draw(st.integers(0, 12))):
        if cur:
            cur[draw(st.integers(0, len(cur) - 1))] = draw(st.integers(0, 255))
    return bytes(cur), ref


@settings(max_examples=300, deadline=None)
@given(similar_frames())
def test_round_trip(pair):
    cur, ref = pair
    payload = rle_xor_encode(cur, ref)
    if payload is None:
        assert len(rle_encode(bytes(a ^ b for a, b in zip(cur, ref)))) >= len(cur)
        return
    assert len(payload) < len(cur) and len(payload) % 2 == 0
    assert all(1 <= r <= 255 for r in payload[1::2])
    assert rle_xor_decode(payload, ref, len(cur)) == cur


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=700))
def test_rle_expand_inverts_rle_encode(data):
    assert rle_expand(rle_encode(data), len(data)) == data


def test_long_runs_are_split_at_255():
    ref = bytes(600)
    cur = bytes(600)
    assert rle_xor_encode(cur, ref) == bytes([0, 255, 0, 255, 0, 90])


def test_not_strictly_shorter_or_length_change_gives_none():
    ref = bytes(4)
    assert rle_xor_encode(b"\x01\x02\x03\x04", ref) is None   # 8 bytes of pairs > 4
    assert rle_xor_encode(b"\x01\x01", b"\x00\x00") is None    # 2 bytes of pairs == 2: not shorter
    assert rle_xor_encode(b"\x01\x01\x01", b"\x00\x00\x00") == b"\x01\x03"
    assert rle_xor_encode(bytes(10), bytes(11)) is None


@pytest.mark.parametrize("payload, orig_len, words", [
    (b"\x00\x05\x01", 5, "odd"),
    (b"\x00\x05\x01\x00", 5, "run of 0"),
    (b"\x00\x05", 6, "expands to 5"),
    (b"\x00\xff\x00\xff", 100, "expands to 510"),
])
def test_expand_rejects_bad_payloads_with_a_reason(payload, orig_len, words):
    with pytest.raises(CodecError) as err:
        rle_expand(payload, orig_len)
    assert words in err.value.reason


def test_decode_rejects_a_reference_of_the_wrong_length():
    with pytest.raises(CodecError) as err:
        rle_xor_decode(b"\x00\x04", bytes(3), 4)
    assert "reference is 3 bytes" in err.value.reason


def test_codec_error_is_a_value_error():
    assert issubclass(CodecError, ValueError)
