"""Receiver side of compressed CSI (KEYFRAME_RULE.md): which I/Q a 0xC5110005 frame decodes to.

One CompressedStream per (source IP, node_id). It never raises on bad input: a compressed frame
that cannot be tied to its reference with certainty is counted in `undecodable`.

Two node behaviours, told apart by the raw frames' reserved u16 @18:

* keyframe (our firmware, tier >= 1; raw frames carry flag bit 0): every compressed frame is
  RLE(cur XOR last keyframe's I/Q). The compressed header has no sequence number, so a frame is
  released only when the next keyframe at seq S proves the window [S1, S) loss-free: exactly
  S - S1 - 1 compressed frames arrived in it, and the windows before and after it were exact
  too. Otherwise the whole window is undecodable (one of its frames might belong to a lost
  keyframe, or have been carried across a keyframe by a reordering while another anomaly
  balanced the count). Output is therefore up to ~2 s late.
* chain (RuView 0.6.x; reserved = 0): each compressed frame is RLE(cur XOR the I/Q of the CSI
  callback processed just before). 0.6.x sends the raw frame from the CSI callback (rate-gated;
  a gated frame still takes a seq) and the compressed frame later from its DSP task, which lags
  by a batch, so the receiver cannot know which raw frame is the reference. It looks for a
  pair of raw frames it holds, ref older than cur, with ref XOR expansion == cur (normally
  ref = cur's predecessor): found, the frame is decoded and verified; else undecodable.
"""

from __future__ import annotations

import itertools
from collections import deque
from dataclasses import dataclass, field
from typing import Optional

from .codec import CodecError, rle_expand
from .packets import CompressedFrame, RawFrame

WINDOW_TIMEOUT_S = 2.0      # receiver time after which an open keyframe window is abandoned
MAX_PENDING = 255           # compressed frames held per window
# Raw frames kept to find a 0.6.x chain reference: 2 s at the 50 Hz send gate, so a compressed
# frame that trails its reference by up to 100 raw frames (DSP lag, batching) still decodes.
# Bounded: at most 100 x 2,048 I/Q bytes per node.
CHAIN_HISTORY = 100
_SEQ_MASK = 0xFFFFFFFF


@dataclass(frozen=True, slots=True)
class Reconstructed:
    """One compressed frame turned back into I/Q. keyframe_seq: seq of the reference raw frame."""

    node_id: int
    iq: bytes = field(repr=False)
    channel: int
    keyframe_seq: Optional[int]
    mode: str                   # "keyframe" | "chain"


class CompressedStream:
    """Pairs one node's compressed frames with the raw frames they were encoded against."""

    def __init__(self) -> None:
        self.decoded = 0
        self.undecodable = 0
        # keyframe mode: the open window
        self._key_seq: Optional[int] = None
        self._key_iq: bytes = b""
        self._key_int: Optional[int] = None
        self._opened_at = 0.0
        self._received = 0                       # compressed frames seen in the window
        self._pending: list[Reconstructed] = []  # decoded, waiting for confirmation
        # Was the previous window exact? A frame that leaves a window late (reordered across the
        # keyframe) makes that window short; if another loss/reorder makes the next window's count
        # exact again, only the short predecessor betrays it.
        # The window before the first keyframe seen was never counted; it is trusted (joining a
        # stream mid-window is the one place a single straggler plus a loss could go unseen).
        self._prev_exact = True
        self._held: Optional[list[Reconstructed]] = None  # exact window awaiting its successor
        # chain mode: recent raw frames, oldest first, numbered by arrival; and the arrival
        # numbers of each I/Q content, so a reference is a lookup, not a scan of the history
        self._chain: deque[tuple[int, RawFrame]] = deque()
        self._by_iq: dict[bytes, deque[int]] = {}
        self._arrivals = 0
        self._cursor = -1        # arrival number of the last raw frame a compressed one decoded to

    # -- raw frames ---------------------------------------------------------------------------

    def on_raw(self, frame: RawFrame, now: float) -> list[Reconstructed]:
        """Feed a raw frame of this node. Returns the frames a closing window confirms."""
        self._expire(now)
        if frame.flags & 1:
            released = self._close_window(frame.seq)
            self._chain.clear()
            self._by_iq.clear()
            self._key_seq = frame.seq
            self._key_iq = frame.iq
            self._key_int = None          # computed when the first compressed frame needs it
            self._opened_at = now
            return released
        # A raw frame without the keyframe flag: 0.6.x (or tier 0) behaviour, chain mode.
        if self._key_seq is not None:
            self._abandon()
        n = self._arrivals
        self._arrivals += 1
        self._chain.append((n, frame))
        self._by_iq.setdefault(frame.iq, deque()).append(n)
        if len(self._chain) > CHAIN_HISTORY:
            _old_n, old = self._chain.popleft()
            same = self._by_iq[old.iq]
            same.popleft()
            if not same:
                del self._by_iq[old.iq]
        return []

    # -- compressed frames --------------------------------------------------------------------

    def on_compressed(self, frame: CompressedFrame, now: float) -> list[Reconstructed]:
        """Feed a compressed frame of this node. Returns frames decoded now (chain mode only)."""
        self._expire(now)
        if self._key_seq is not None:
            self._received += 1
            if (frame.orig_len != len(self._key_iq) or len(self._pending) >= MAX_PENDING):
                self.undecodable += 1
                return []
            try:
                x = rle_expand(frame.payload, frame.orig_len)
            except CodecError:
                self.undecodable += 1
                return []
            key = self._key_int
            if key is None:
                key = self._key_int = int.from_bytes(self._key_iq, "little")
            iq = (int.from_bytes(x, "little") ^ key).to_bytes(frame.orig_len, "little")
            self._pending.append(Reconstructed(frame.node_id, iq, frame.channel, self._key_seq,
                                               "keyframe"))
            return []
        if self._chain:
            return self._chain_decode(frame)
        self.undecodable += 1          # nothing to decode against (no keyframe, no raw frame)
        return []

    def flush(self, now: float) -> list[Reconstructed]:
        """Expire a keyframe window open longer than WINDOW_TIMEOUT_S (pass math.inf at the end
        of a stream: an open window can never be confirmed then)."""
        self._expire(now)
        return []

    # -- internals ----------------------------------------------------------------------------

    def _expire(self, now: float) -> None:
        if self._key_seq is not None and now - self._opened_at > WINDOW_TIMEOUT_S:
            self._abandon()

    def _abandon(self) -> None:
        """Drop the open window: its frames can never be confirmed."""
        self.undecodable += len(self._pending)
        if self._held is not None:
            self.undecodable += len(self._held)
            self._held = None
        self._pending = []
        self._received = 0
        self._prev_exact = False
        self._key_seq = None
        self._key_iq = b""
        self._key_int = None

    def _close_window(self, seq: int) -> list[Reconstructed]:
        """A keyframe at `seq` closes the open window. A window is released only when it, the
        window before it and the window after it all came out exact: a frame reordered across a
        keyframe leaves one of two neighbouring windows short and the other over, in either
        direction, so the short neighbour betrays a window whose own count was balanced again."""
        pending = self._pending
        self._pending = []
        received = self._received
        self._received = 0
        if self._key_seq is None:
            return []
        exact = received == ((seq - self._key_seq - 1) & _SEQ_MASK)
        released: list[Reconstructed] = []
        if self._held is not None:          # the previous window waited for this verdict
            if exact:
                released = self._held
                self.decoded += len(released)
            else:
                self.undecodable += len(self._held)
            self._held = None
        if exact and self._prev_exact:
            self._held = pending
        else:
            self.undecodable += len(pending)
        self._prev_exact = exact
        return released

    def _chain_decode(self, frame: CompressedFrame) -> list[Reconstructed]:
        n = frame.orig_len
        try:
            x = int.from_bytes(rle_expand(frame.payload, n), "little")
        except CodecError:
            self.undecodable += 1
            return []
        # 0.6.x sends compressed frames in callback order, so cur is searched oldest first from
        # just after the last decoded one: when two pairs have the same XOR (a still scene gives
        # many zero differences) the pair in sequence is the one meant, not a newer look-alike.
        # Its reference is normally the frame just before, but 0.6.x skips DSP frames (ring full,
        # early return) without telling, so any older held frame may be it. A match reproduces
        # a raw frame we hold byte for byte.
        first = self._chain[0][0]
        for cur_n, cur in itertools.islice(self._chain, max(0, self._cursor + 1 - first), None):
            if len(cur.iq) != n:
                continue
            want = (int.from_bytes(cur.iq, "little") ^ x).to_bytes(n, "little")
            older = [m for m in self._by_iq.get(want, ()) if m < cur_n]
            if older:
                ref = self._chain[older[-1] - first][1]
                self._cursor = cur_n
                self.decoded += 1
                return [Reconstructed(frame.node_id, cur.iq, frame.channel, ref.seq, "chain")]
        self.undecodable += 1
        return []
