"""Emulated recordings with a known answer: an empty room, then a person, then a fall.

The frames come from the scenario generator (ruview_cli.sim.scenarios) and go through the
firmware core exactly as an emulated node streams them (raw frames on, tier 2); every datagram
is written to a pcap as `ruview tail --record` would. Used by the tests of `ruview tune`,
`export` and `plot`, and to render docs/plot-example.png.

The two parts are two scenarios built from the same seed, so the room (static multipath) is the
same; the person appears at `empty_s` (as if through a door off the line of sight).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Iterator, Optional

from ruview_cli.sim.scenarios import Frame, make_scenario

COLLECTOR = ("127.0.0.1", 5005)


def room_frames(seed: int, empty_s: float, fall_s: Optional[float], end_s: float,
                **radio) -> Iterator[Frame]:
    """Frames of an empty room until empty_s, then a person standing still who falls at fall_s
    (None: never) and lies there, until end_s (scenario seconds)."""
    yield from make_scenario("empty", seed=seed, **radio).frames(empty_s)
    if fall_s is None:
        person = make_scenario("breathing", seed=seed, **radio)
    else:
        person = make_scenario("fall", seed=seed, t=fall_s - empty_s, before="stand", **radio)
    shift_us = int(round(empty_s * 1e6))
    for f in person.frames(end_s - empty_s):
        yield dataclasses.replace(f, t=f.t + empty_s, timestamp_us=f.timestamp_us + shift_us)


def write_recording(path: str | os.PathLike, nodes: dict[int, Iterator[Frame]],
                    source_ip: str = "127.0.0.1", t0: float = 1_800_000_000.0, **cfg) -> int:
    """Run each node's frames through its own core (keyword settings: EdgePipeline's) and write
    what the nodes send, interleaved in time, to a pcap. Returns the number of datagrams."""
    import heapq

    from ruview_cli import _edge
    from ruview_cli.telemetry.pcap import PcapWriter

    pipes = {nid: _edge.EdgePipeline(node_id=nid, **{"edge_tier": 2, **cfg}) for nid in nodes}
    streams = [_tagged(nid, frames) for nid, frames in nodes.items()]
    with PcapWriter(path, COLLECTOR) as out:
        for t, nid, f in heapq.merge(*streams, key=lambda x: (x[0], x[1])):
            for data in pipes[nid].process(f.iq, f.rssi, f.channel, f.timestamp_us, f.noise_floor):
                out.write(data, (source_ip, 40000 + nid), t0 + t)
        return out.records


def _tagged(nid: int, frames: Iterator[Frame]) -> Iterator[tuple]:
    for f in frames:
        yield f.t, nid, f
