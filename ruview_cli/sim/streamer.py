"""The radio of an emulated fleet: scenario CSI frames, paced in real time, delivered to nodes.

One thread serves every node of a fleet (a thread per node would cost 50 stacks and 50 wake-ups
per frame period). Frames are paced from the scenario's own timestamps, so the jitter, drift and
gaps of the scenario are what a node receives. Each attached node has its own scenario, kept
across reboots (the room goes on while the node restarts).

Where a frame goes is the node's business:
* a node running the host-built firmware gets it through its CSI callback (`attach(node,
  deliver=...)`), and its own code decides what to send;
* a node whose firmware is emulated in Python (RuView 0.6.x) feeds the firmware core (`_edge`)
  here and sends the datagrams from a socket bound to its own loopback address, so
  `(source ip, node_id)` is what it would be on a LAN. The pipeline is rebuilt from the node's
  NVS configuration every time the node boots.
"""

from __future__ import annotations

import heapq
import ipaddress
import random
import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from ruview_cli.sim.scenarios import Scenario, make_scenario


@dataclass
class StreamStats:
    frames: int = 0
    datagrams: int = 0
    dropped_by_fault: int = 0
    send_errors: int = 0


@dataclass(order=True)
class _Slot:
    due: float
    seq: int
    node_key: str = field(compare=False)


class _NodeStream:
    """What one node is streaming now: its scenario, its core pipeline, its socket."""

    def __init__(self, node: Any, scenario: Scenario, loss: float, rng: random.Random):
        from ruview_cli import _edge

        cfg = node.config
        self.node = node
        self.scenario = scenario
        self.loss = loss
        self.rng = rng
        self.target = (str(cfg.target_ip), int(cfg.target_port))
        self.pipeline = _edge.EdgePipeline(
            node_id=int(cfg.node_id),
            edge_tier=int(cfg.edge_tier),
            pres_thresh=int(cfg.pres_thresh),
            fall_thresh=int(cfg.fall_thresh),
            vital_win=int(cfg.vital_win),
            vital_int=int(cfg.vital_int),
            subk_count=int(cfg.subk_count),
        )
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((node.ip, 0))
        self.sock.setblocking(False)
        self.stats = StreamStats()
        self.origin = 0.0  # monotonic time of scenario time 0

    def close(self) -> None:
        self.sock.close()

    def emit(self, frame) -> None:
        self.stats.frames += 1
        for datagram in self.pipeline.process(
            frame.iq, frame.rssi, frame.channel, frame.timestamp_us, frame.noise_floor
        ):
            if self.loss and self.rng.random() < self.loss:
                self.stats.dropped_by_fault += 1
                continue
            try:
                self.sock.sendto(datagram, self.target)
                self.stats.datagrams += 1
            except OSError:  # no route / buffer full: a node counts it and carries on
                self.stats.send_errors += 1
                self.pipeline.note_loss(1)


def streamable(config: Any) -> bool:
    """A node streams only with a usable target (the firmware's rule: a dotted IPv4 address)."""
    if config is None:
        return False
    try:
        ipaddress.IPv4Address(str(config.target_ip))
    except ValueError:
        return False
    return 0 < int(config.target_port) < 65536


class _RadioStream:
    """Frames for a node whose own firmware handles them (`deliver(frame)`)."""

    def __init__(self, node: Any, scenario: Scenario, deliver):
        self.node = node
        self.scenario = scenario
        self.deliver = deliver
        self.stats = StreamStats()
        self.origin = 0.0

    def close(self) -> None:
        pass

    def emit(self, frame) -> None:
        self.stats.frames += 1
        try:
            self.deliver(frame)
        except OSError:  # the node is going down; its detach follows
            self.stats.send_errors += 1


class FleetStreamer:
    """Streams telemetry for every attached node from one thread until stopped."""

    def __init__(self, scenario: str = "breathing", scenario_params: dict | None = None,
                 seed: int = 0):
        make_scenario(scenario, seed=seed, **dict(scenario_params or {}))  # validate up front
        self.scenario_name = scenario
        self.scenario_params = dict(scenario_params or {})
        self.seed = seed
        self._streams: dict[str, _NodeStream] = {}
        self._scenarios: dict[str, Scenario] = {}
        self._paused: dict[str, float] = {}  # scenario time at which a detached node left off
        self._heap: list[_Slot] = []
        self._counter = 0
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sim-streamer", daemon=True)
        self.totals = StreamStats()

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        with self._lock:
            for stream in self._streams.values():
                stream.close()
            self._streams.clear()

    # -- nodes -----------------------------------------------------------------------------
    def attach(self, node: Any, deliver=None) -> bool:
        """(Re)start frames for a node: to `deliver(frame)` when given, else through the core
        and UDP (False when the node has no telemetry target)."""
        self.detach(node)
        if deliver is None and not streamable(node.config):
            return False
        key = node.ip
        with self._lock:
            # The room keeps going while the node reboots: one scenario per node, kept.
            scenario = self._scenarios.get(key)
            if scenario is None:
                scenario = make_scenario(self.scenario_name, seed=self.room_seed(node.index),
                                         **dict(self.scenario_params))
                self._scenarios[key] = scenario
            if deliver is not None:
                stream = _RadioStream(node, scenario, deliver)
            else:
                stream = _NodeStream(node, scenario, node.faults.udp_loss,
                                     random.Random(self.seed * 7919 + node.index))
            first = scenario.next_frame()
            stream.origin = time.monotonic() - first.t
            stream.pending = first  # type: ignore[attr-defined]
            self._streams[key] = stream
            self._push(stream.origin + first.t, key)
        self._wake.set()
        return True

    def detach(self, node: Any, reason: str = "") -> None:
        with self._lock:
            stream = self._streams.pop(node.ip, None)
            if stream is not None:
                self._paused[node.ip] = time.monotonic() - stream.origin
        if stream is not None:
            stream.close()

    def room_seed(self, index: int) -> int:
        """The scenario seed of node `index`'s room: every node has a room of its own."""
        return self.seed * 1000 + index

    def room_truth(self, node: Any):
        """What is happening in the node's room now (the scenario's ground truth), or None if
        the node's radio never started."""
        with self._lock:
            scenario = self._scenarios.get(node.ip)
            stream = self._streams.get(node.ip)
            paused = self._paused.get(node.ip, 0.0)
        if scenario is None:
            return None
        # while the node reboots its room stands where the radio left it
        t = time.monotonic() - stream.origin if stream is not None else paused
        return scenario.truth(max(t, 0.0))

    def stats(self, node: Any) -> StreamStats | None:
        stream = self._streams.get(node.ip)
        return stream.stats if stream else None

    # -- the loop --------------------------------------------------------------------------
    def _push(self, due: float, key: str) -> None:
        self._counter += 1
        heapq.heappush(self._heap, _Slot(due, self._counter, key))

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                slot = self._heap[0] if self._heap else None
                now = time.monotonic()
                if slot is not None and slot.due <= now:
                    heapq.heappop(self._heap)
                    stream = self._streams.get(slot.node_key)
                else:
                    stream = None
            if slot is None or (stream is None and slot.due > now):
                self._wake.clear()
                self._wake.wait(None if slot is None else max(0.0, slot.due - now))
                continue
            if stream is None:  # detached while queued
                continue
            frame = stream.pending  # type: ignore[attr-defined]
            stream.emit(frame)
            self.totals.frames += 1
            nxt = stream.scenario.next_frame()
            stream.pending = nxt  # type: ignore[attr-defined]
            with self._lock:
                if self._streams.get(slot.node_key) is stream:
                    due = stream.origin + nxt.t
                    # A node that fell behind (a slow machine) skips ahead instead of bursting.
                    if due < time.monotonic() - 0.5:
                        stream.origin = time.monotonic() - nxt.t
                        due = stream.origin + nxt.t
                    self._push(due, slot.node_key)
