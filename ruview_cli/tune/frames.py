"""The raw CSI frames of a recording, per node, decoded once so each candidate replays them fast."""

from __future__ import annotations

from dataclasses import dataclass, field

from ruview_cli.errors import RuviewError
from ruview_cli.telemetry.pcap import ReadStats

MAX_FRAMES = 2_000_000  # ~18 h of one node at 30 Hz; more is refused rather than exhausting memory


@dataclass
class NodeFrames:
    node_id: int
    source: tuple
    t: list[float] = field(default_factory=list)  # seconds from the recording's first datagram
    args: list[tuple] = field(default_factory=list)  # (iq, rssi, channel, noise_floor)


@dataclass
class RecordingFrames:
    nodes: list[NodeFrames]
    duration_s: float
    stats: ReadStats
    compressed: int = 0

    @property
    def frames(self) -> int:
        return sum(len(n.t) for n in self.nodes)


def load_frames(path: str, nodes=None) -> RecordingFrames:
    """Every raw CSI frame of a pcap/pcapng/.csi.jsonl recording, grouped by (source, node_id)."""
    from ruview_cli.protocol import decode
    from ruview_cli.protocol import magics as M
    from ruview_cli.protocol.packets import RawFrame
    from ruview_cli.telemetry.pcap import read_capture
    from ruview_cli.telemetry.replay_dsp import UNKNOWN_CHANNEL

    raw = M.MAGIC_RAW.to_bytes(4, "little")
    comp = M.MAGIC_COMPRESSED.to_bytes(4, "little")
    wanted = frozenset(nodes) if nodes else None
    stats = ReadStats()
    by_key: dict[tuple, NodeFrames] = {}
    t0 = t_last = None
    compressed = total = 0
    for dg in read_capture(path, stats):
        if t0 is None:
            t0 = dg.t
        t_last = dg.t
        magic = dg.data[:4]
        if magic == comp:
            compressed += 1
            continue
        if magic != raw:
            continue
        pkt = decode(dg.data)
        if not isinstance(pkt, RawFrame) or (wanted is not None and pkt.node_id not in wanted):
            continue
        key = (dg.source, pkt.node_id)
        nf = by_key.get(key)
        if nf is None:
            nf = by_key[key] = NodeFrames(pkt.node_id, dg.source)
        nf.t.append(dg.t - t0)
        # antenna 0 only: the core analyses one antenna
        nf.args.append((pkt.iq[: 2 * pkt.n_subcarriers], pkt.rssi_dbm, pkt.channel or UNKNOWN_CHANNEL,
                        pkt.noise_floor_dbm))
        total += 1
        if total > MAX_FRAMES:
            raise RuviewError(f"{path} holds more than {MAX_FRAMES} raw frames",
                              "cut the recording to the labelled part (e.g. editcap -A/-B) and tune on that")
    if not by_key:
        hint = (f" ({compressed} compressed frames, which only decode against their keyframe)" if compressed else "")
        raise RuviewError(f"{path} holds no raw CSI frames{hint}",
                          "record with raw frames on: `ruview provision --profile raw`, then "
                          "`ruview tail --record FILE` while the room goes through the labelled parts")
    nodes_out = sorted(by_key.values(), key=lambda n: (n.node_id, n.source))
    return RecordingFrames(nodes_out, (t_last - t0) if t0 is not None else 0.0, stats, compressed)
