"""What `ruview tail` knows about each node, updated in O(1) per packet.

A node is keyed by (source IP, node_id): every unprovisioned board says node_id 1, so the
address is what tells two of them apart. Per node we keep the latest vitals, per-kind counters
and rates over a short sliding window, raw-frame sequence accounting (gaps, loss, 32-bit wrap,
reboots), the compressed-frame stream, and when it was last heard from.

Anyone on the network can send datagrams with any source address and node id, so the state is
bounded: at most MAX_NODES nodes (the least recently heard are dropped, in batches, and
counted) and MAX_SOURCES per-address counters; the closing summary lists at most
SUMMARY_NODES nodes (the busiest) and SUMMARY_SOURCES addresses.
"""

from __future__ import annotations

import heapq
from collections import deque
from typing import Any, Optional

STALE_AFTER_S = 5.0  # a node silent this long is shown as stale
FALL_HOLD_S = 6.0  # a fall stays on screen at least this long after the last packet saying so
RATE_WINDOW_S = 5  # rates are averaged over this many whole seconds
REORDER_WINDOW = 256  # a sequence number at most this far behind the newest is a late frame
RESYNC_GAP = 100_000  # a forward jump larger than this is a restart, not 100k lost frames
_U32 = 0xFFFFFFFF
MAX_NODES = 1024  # ≈ 2.4 KB each: a few MB at most, whatever is sent
EVICT_FRACTION = 8  # when full, drop the least recently heard 1/8 at once (O(1) per new node)
MAX_SOURCES = 1024
OTHER_SOURCES = "other"  # per-address counters past MAX_SOURCES are added up under this key
SUMMARY_NODES = 256
SUMMARY_SOURCES = 32

CSI_KINDS = ("csi_raw", "csi_compressed")
VITALS_KINDS = ("vitals", "fused_vitals")


class SeqTracker:
    """Loss from raw-frame sequence numbers: expected = span of numbers seen, per boot epoch.

    Our firmware numbers only frames it sends, so a missing number is a frame lost in the network.
    A number up to REORDER_WINDOW behind the newest is a late (reordered) frame and fills its gap;
    one further behind means the node restarted (its counter began again), which opens a new
    epoch instead of counting four billion lost frames. Wrap at 2**32 is ordinary arithmetic.
    """

    __slots__ = ("highest", "expected", "received", "pending", "late", "duplicates", "reboots", "resyncs",
                 "_base_expected", "_base_received")

    def __init__(self) -> None:
        self.highest: Optional[int] = None
        self.expected = 0  # numbers spanned in the current epoch
        self.received = 0
        self.pending = 0  # compressed frames since the last keyframe (numbered, but not on the wire)
        self.late = 0
        self.duplicates = 0
        self.reboots = 0
        self.resyncs = 0
        self._base_expected = 0  # totals of closed epochs
        self._base_received = 0

    def add(self, seq: int) -> None:
        hi = self.highest
        if hi is None:
            self.highest = seq
            self.expected = self.received = 1
            return
        diff = (seq - hi) & _U32
        if diff == 1:
            self.highest = seq
            self.expected += 1
            self.received += 1
        elif diff == 0:
            self.duplicates += 1
        elif diff < 0x80000000:
            if diff > RESYNC_GAP:
                self._new_epoch(seq)
                self.resyncs += 1
            else:
                self.highest = seq
                self.expected += diff
                self.received += 1
        else:
            back = 0x100000000 - diff
            if back <= REORDER_WINDOW and back < self.expected:
                self.late += 1
                self.received += 1
            else:
                self._new_epoch(seq)
                self.reboots += 1

    def _new_epoch(self, seq: int) -> None:
        self._base_expected += self.expected
        self._base_received += min(self.received, self.expected)
        self.highest = seq
        self.expected = self.received = 1

    @property
    def lost(self) -> int:
        total_exp = self._base_expected + self.expected
        total_rcv = self._base_received + min(self.received, self.expected)
        return max(0, total_exp - total_rcv)

    @property
    def loss_pct(self) -> Optional[float]:
        total_exp = self._base_expected + self.expected
        if total_exp == 0:
            return None
        return 100.0 * self.lost / total_exp


class RateWindow:
    """Packets per second per kind over about the last RATE_WINDOW_S seconds.

    Per packet nothing happens here: once a second (on the first packet after `next_at`) the
    node's cumulative per-kind counts are snapshotted, and a rate is the difference between now
    and the oldest snapshot inside the window.
    """

    __slots__ = ("next_at", "snaps")

    def __init__(self, t: float) -> None:
        self.next_at = t + 1.0
        self.snaps: deque[tuple[float, dict[str, int]]] = deque([(t, {})], maxlen=RATE_WINDOW_S + 2)

    def snapshot(self, t: float, counts: dict[str, int]) -> None:
        self.snaps.append((t, dict(counts)))
        self.next_at = t + 1.0

    def rate(self, kinds: tuple[str, ...], counts: dict[str, int], last_seen: float, now: float) -> float:
        if now - last_seen > RATE_WINDOW_S:
            return 0.0
        since = now - RATE_WINDOW_S
        for t0, c0 in self.snaps:
            if t0 >= since:
                break
        else:
            t0, c0 = self.snaps[-1]
        n = sum(counts.get(k, 0) - c0.get(k, 0) for k in kinds)
        return n / max(now - t0, 1.0)


class NodeState:
    """Everything shown about one (source IP, node_id)."""

    __slots__ = (
        "ip", "node_id", "port", "first_seen", "last_seen", "counts", "window", "vitals",
        "vitals_t", "fall_until", "rssi_dbm", "seq", "stream", "last_raw", "malformed",
        "feature_state",
    )

    def __init__(self, ip: str, node_id: int, port: int, t: float) -> None:
        self.ip = ip
        self.node_id = node_id
        self.port = port
        self.first_seen = t
        self.last_seen = t
        self.counts: dict[str, int] = {}
        self.window = RateWindow(t)
        self.vitals: Any = None  # latest Vitals or FusedVitals
        self.vitals_t = 0.0
        self.fall_until = 0.0
        self.rssi_dbm: Optional[int] = None
        self.seq = SeqTracker()
        self.stream: Any = None  # CompressedStream, created when compression is first seen
        self.last_raw: Any = None  # the latest raw frame (keyframe flag; 0.6.x chain start)
        self.malformed = 0
        self.feature_state: Any = None

    @property
    def address(self) -> str:
        return self.ip

    def stale(self, now: float) -> bool:
        return now - self.last_seen >= STALE_AFTER_S

    def fall_shown(self, now: float) -> bool:
        return now < self.fall_until

    def frame_rate(self, now: float) -> float:
        return self.window.rate(CSI_KINDS, self.counts, self.last_seen, now)

    def rate(self, kind: str, now: float) -> float:
        return self.window.rate((kind,), self.counts, self.last_seen, now)

    @property
    def compressed_decoded(self) -> int:
        return self.stream.decoded if self.stream is not None else 0

    @property
    def compressed_undecodable(self) -> int:
        return self.stream.undecodable if self.stream is not None else 0

    def summary(self, now: float) -> dict[str, Any]:
        loss = self.seq.loss_pct
        return {
            "node_id": self.node_id,
            "address": self.ip,
            "packets": dict(sorted(self.counts.items())),
            "frame_rate_hz": round(self.frame_rate(now), 2),
            "raw_frames_lost": self.seq.lost,
            "loss_pct": None if loss is None else round(loss, 3),
            "late_frames": self.seq.late,
            "reboots": self.seq.reboots,
            "compressed_decoded": self.compressed_decoded,
            "compressed_undecodable": self.compressed_undecodable,
            "malformed": self.malformed,
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
        }


class SourceCounters:
    """Datagrams from one address that belong to no node row."""

    __slots__ = ("malformed", "unknown", "other")

    def __init__(self) -> None:
        self.malformed = 0
        self.unknown = 0
        self.other = 0


class FleetState:
    """All nodes, plus the counters that belong to no node (unknown magic, unreadable packets)."""

    def __init__(self, max_nodes: int = MAX_NODES) -> None:
        self.max_nodes = max_nodes
        self.evicted_nodes = 0
        self._evicted_datagrams = 0  # so totals still count what evicted nodes had received
        self.nodes: dict[tuple[str, int], NodeState] = {}
        self.sources: dict[str, SourceCounters] = {}
        self.malformed = 0
        self.unknown = 0
        self.malformed_by_kind: dict[str, int] = {}
        self.first_t: Optional[float] = None
        self.last_t: Optional[float] = None  # set by a replay: the recording's clock
        self._streams: dict[tuple[str, int], NodeState] = {}

    def update(self, pkt: Any, addr: tuple[str, int], t: float) -> Optional[NodeState]:
        """Account one decoded packet from `addr` received at `t`; return its node, if any.

        The hot path of `ruview tail` (tens of thousands of calls a second): the common case,
        a raw frame of a known node, touches a handful of attributes and no extra calls.
        """
        kind = pkt.kind
        node_id = pkt.node_id
        node = self.nodes.get((addr[0], node_id))
        if node is None:
            if kind == "unknown" or kind == "malformed" or node_id is None:
                return self._unattributed(pkt, kind, addr, t)
            node = self._new_node(addr, node_id, t)
        elif kind == "malformed":
            return self._unattributed(pkt, kind, addr, t)
        node.last_seen = t
        counts = node.counts
        counts[kind] = counts.get(kind, 0) + 1
        if t >= node.window.next_at:
            node.window.snapshot(t, counts)
        if kind == "csi_raw":
            node.rssi_dbm = pkt.rssi_dbm
            node.last_raw = pkt
            if node.stream is not None or pkt.flags & 1:
                self._raw_with_stream(node, pkt, t)
            seq = node.seq
            hi = seq.highest
            if hi is not None and ((pkt.seq - hi) & _U32) == 1:  # in order: the usual case
                seq.highest = pkt.seq
                seq.expected += 1
                seq.received += 1
            else:
                seq.add(pkt.seq)
        elif kind == "vitals" or kind == "fused_vitals":
            node.vitals = pkt
            node.vitals_t = t
            node.rssi_dbm = pkt.rssi_dbm
            if pkt.fall:
                node.fall_until = t + FALL_HOLD_S
        elif kind == "csi_compressed":
            if node.stream is None:
                self._start_stream(node, t)
            node.stream.on_compressed(pkt, t)
            if node.last_raw is not None and node.last_raw.flags & 1:
                # Our firmware numbers compressed frames too (KEYFRAME_RULE.md): each one fills a
                # number the next keyframe skips, so it must not read as a lost raw frame. It
                # is credited when that keyframe arrives (it has no number of its own).
                node.seq.pending += 1
        elif kind == "feature_state":
            node.feature_state = pkt
        return node

    def _new_node(self, addr: tuple[str, int], node_id: int, t: float) -> NodeState:
        if self.first_t is None:
            self.first_t = t
        if len(self.nodes) >= self.max_nodes:
            self._evict()
        node = self.nodes[(addr[0], node_id)] = NodeState(addr[0], node_id, addr[1], t)
        return node

    def _evict(self) -> None:
        """Forget the least recently heard nodes (a flood of spoofed ids goes first)."""
        n = max(1, self.max_nodes // EVICT_FRACTION)
        for node in heapq.nsmallest(n, self.nodes.values(), key=lambda nd: nd.last_seen):
            key = (node.ip, node.node_id)
            del self.nodes[key]
            self._streams.pop(key, None)
            self.evicted_nodes += 1
            self._evicted_datagrams += sum(node.counts.values())

    def _unattributed(self, pkt: Any, kind: str, addr: tuple[str, int], t: float) -> Optional[NodeState]:
        """Malformed and unknown datagrams: counted globally, per source and (if known) per node."""
        if self.first_t is None:
            self.first_t = t
        ip = addr[0]
        src = self.sources.get(ip)
        if src is None:
            if len(self.sources) >= MAX_SOURCES:
                ip = OTHER_SOURCES
            src = self.sources.setdefault(ip, SourceCounters())
        if kind == "unknown":
            self.unknown += 1
            src.unknown += 1
            return None
        if kind == "malformed":
            self.malformed += 1
            src.malformed += 1
            pk = pkt.packet_kind
            self.malformed_by_kind[pk] = self.malformed_by_kind.get(pk, 0) + 1
            node = self.nodes.get((ip, pkt.node_id)) if pkt.node_id is not None else None
            if node is not None:
                node.malformed += 1
            return node
        src.other += 1  # a valid packet that names no node (e.g. a mesh message of another type)
        return None

    def _raw_with_stream(self, node: NodeState, pkt: Any, t: float) -> None:
        """A raw frame of a node that compresses: credit its compressed frames, feed the stream."""
        seq = node.seq
        if seq.pending:  # before this frame's own number: a reboot closes their epoch
            seq.received += seq.pending
            seq.pending = 0
        if node.stream is None:  # the first keyframe: our firmware compresses against it
            self._start_stream(node, t)
        node.stream.on_raw(pkt, t)

    def _start_stream(self, node: NodeState, t: float) -> None:
        from ruview_cli.protocol import CompressedStream

        node.stream = CompressedStream()
        # RuView 0.6.x compresses against the frame before: hand over the one we hold (its
        # very first compressed frame may still be undecodable: the pair is not complete).
        if node.last_raw is not None and not node.last_raw.flags & 1:
            node.stream.on_raw(node.last_raw, t)
        self._streams[(node.ip, node.node_id)] = node

    def tick(self, now: float) -> None:
        """Expire compressed-frame windows that can no longer be confirmed."""
        for node in self._streams.values():
            node.stream.flush(now)

    def finish(self, now: float) -> None:
        """End of stream: every window still open is undecodable."""
        for node in self._streams.values():
            node.stream.flush(float("inf"))

    @property
    def datagrams(self) -> int:
        """Every datagram accounted (derived, so the per-packet path keeps no extra counter)."""
        unattributed = self.malformed + self.unknown + sum(s.other for s in self.sources.values())
        return (unattributed + self._evicted_datagrams
                + sum(sum(n.counts.values()) for n in self.nodes.values()))

    def _sources_summary(self) -> dict[str, dict[str, int]]:
        """Per source IP: all datagrams (node rows + the rest), malformed, unknown."""
        out: dict[str, dict[str, int]] = {}
        for node in self.nodes.values():
            entry = out.setdefault(node.ip, {"datagrams": 0, "malformed": 0, "unknown": 0})
            entry["datagrams"] += sum(node.counts.values())
        for ip, src in self.sources.items():
            entry = out.setdefault(ip, {"datagrams": 0, "malformed": 0, "unknown": 0})
            entry["datagrams"] += src.malformed + src.unknown + src.other
            entry["malformed"] += src.malformed
            entry["unknown"] += src.unknown
        busiest = heapq.nlargest(SUMMARY_SOURCES, out.items(), key=lambda kv: kv[1]["datagrams"])
        return dict(sorted(busiest))

    def sorted_nodes(self) -> list[NodeState]:
        return sorted(self.nodes.values(), key=lambda n: (n.node_id, n.ip))

    def summary(self, now: float) -> dict[str, Any]:
        """Totals, and the busiest SUMMARY_NODES nodes and SUMMARY_SOURCES addresses: short
        whatever was sent (the counts of what is not listed say how much more there was)."""
        listed = heapq.nlargest(SUMMARY_NODES, self.nodes.values(),
                                key=lambda n: sum(n.counts.values()))
        listed.sort(key=lambda n: (n.node_id, n.ip))
        sources = self._sources_summary()
        return {
            "datagrams": self.datagrams,
            "malformed": self.malformed,
            "unknown": self.unknown,
            "malformed_by_kind": dict(sorted(self.malformed_by_kind.items())),
            "nodes": [n.summary(now) for n in listed],
            "nodes_not_listed": len(self.nodes) - len(listed),
            "evicted_nodes": self.evicted_nodes,
            "sources": sources,
            "sources_not_listed": max(0, len({n.ip for n in self.nodes.values()}
                                             | set(self.sources)) - len(sources)),
        }
