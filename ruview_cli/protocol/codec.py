"""The XOR+RLE codec of compressed CSI frames (PROTOCOL.md §1.5).

payload = RLE(cur XOR ref) as (value, run) byte pairs, run 1..255; longer runs are split.
"""

from __future__ import annotations

from typing import Optional


class CodecError(ValueError):
    """A compressed payload that cannot be expanded; `reason` says why (counted, not shown)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _xor(a: bytes, b: bytes) -> bytes:
    n = len(a)
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(n, "little")


def rle_encode(data: bytes) -> bytes:
    """(value, run) pairs of `data`, runs of at most 255."""
    out = bytearray()
    n = len(data)
    i = 0
    while i < n:
        v = data[i]
        j = i + 1
        limit = min(n, i + 255)
        while j < limit and data[j] == v:
            j += 1
        out.append(v)
        out.append(j - i)
        i = j
    return bytes(out)


def rle_xor_encode(cur: bytes, ref: bytes) -> Optional[bytes]:
    """RLE(cur XOR ref), or None when lengths differ or the pairs are not strictly shorter."""
    if len(cur) != len(ref):
        return None
    payload = rle_encode(_xor(cur, ref))
    return payload if len(payload) < len(cur) else None


def rle_expand(payload: bytes, orig_len: int) -> bytes:
    """Expand (value, run) pairs to exactly orig_len bytes, or raise CodecError."""
    n = len(payload)
    if n % 2:
        raise CodecError(f"odd RLE length {n}")
    runs = payload[1::2]
    if 0 in runs:
        raise CodecError("RLE run of 0")
    total = sum(runs)
    if total != orig_len:
        raise CodecError(f"RLE expands to {total} bytes, header says {orig_len}")
    # `total` is bounded by 255 * n / 2, so this never allocates beyond what the datagram implies.
    return b"".join(bytes((payload[i],)) * payload[i + 1] for i in range(0, n, 2))


def rle_xor_decode(payload: bytes, ref: bytes, orig_len: int) -> bytes:
    """cur = expand(payload) XOR ref; CodecError if the reference length is not orig_len."""
    if len(ref) != orig_len:
        raise CodecError(f"reference is {len(ref)} bytes, frame is {orig_len}")
    return _xor(rle_expand(payload, orig_len), ref)
