"""`ruview tail --replay FILE --through-dsp`: what our firmware would have reported.

Raw CSI frames of a recording (pcap or RuView .csi.jsonl) go through the firmware's own C core
on the host (ruview_cli._edge.EdgePipeline, one per node, tier 2, compiled defaults), with the
recording's receive times as frame timestamps. What the core emits (frames, vitals with
confidences, feature vectors, feature state) replaces what the recorded node sent: its own
vitals, feature vectors and feature state are dropped (counted in ReadStats). Compressed frames
cannot be run (they only decode against their keyframe) and are skipped, counted; other
datagrams (mesh HEALTH, ...) pass through unchanged.
"""

from __future__ import annotations

from typing import Iterable, Iterator

from ruview_cli.protocol import decode
from ruview_cli.protocol import magics as M
from ruview_cli.protocol.packets import RawFrame
from ruview_cli.telemetry.pcap import Datagram, ReadStats

_REPLACED = {M.MAGIC_VITALS, M.MAGIC_FEATURES, M.MAGIC_FEATURE_STATE, M.MAGIC_FUSED_OR_WASM}
UNKNOWN_CHANNEL = 255  # the core encodes it as frequency 0 = unknown
BOOT_US = 1_000_000  # timestamps start 1 s after a notional boot (the core's clock is relative)


def through_dsp(datagrams: Iterable[Datagram], stats: ReadStats) -> Iterator[Datagram]:
    from ruview_cli import _edge

    pipes: dict[tuple, _edge.EdgePipeline] = {}
    t0: float | None = None
    last_us: dict[tuple, int] = {}
    for dg in datagrams:
        magic = int.from_bytes(dg.data[:4], "little") if len(dg.data) >= 4 else None
        if magic in _REPLACED:
            stats.skip("recorded node estimate (replaced by --through-dsp)")
            continue
        if magic == M.MAGIC_COMPRESSED:
            stats.skip("compressed frame (not run through the DSP)")
            continue
        if magic != M.MAGIC_RAW:
            yield dg
            continue
        pkt = decode(dg.data)
        if not isinstance(pkt, RawFrame):
            stats.skip("malformed raw frame")
            continue
        if t0 is None:
            t0 = dg.t
        key = (dg.source, pkt.node_id)
        pipe = pipes.get(key)
        if pipe is None:
            pipe = pipes[key] = _edge.EdgePipeline(node_id=pkt.node_id, edge_tier=2)
        # receive times can repeat or step back a little (host scheduling): keep them increasing
        ts = max(BOOT_US + int(round((dg.t - t0) * 1e6)), last_us.get(key, 0) + 1)
        last_us[key] = ts
        iq = pkt.iq[: 2 * pkt.n_subcarriers]  # antenna 0: the core analyses one antenna
        for out in pipe.process(iq, pkt.rssi_dbm, pkt.channel or UNKNOWN_CHANNEL, ts, pkt.noise_floor_dbm):
            yield Datagram(out, dg.source, dg.dest, dg.t)
