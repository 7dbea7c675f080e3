"""One `ruview tail` run: datagrams in (live socket or a recording), decoded, counted, emitted.

The CLI builds a TailSession with its options and calls run_live() or run_replay(); both use
the same per-datagram path (record → decode → node filter → state → sink), so a replay of a
recording produces the same lines as the live run did.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Optional

from ruview_cli.telemetry.pcap import PcapWriter, ReadStats, read_capture
from ruview_cli.telemetry.receiver import StopFlag, receive
from ruview_cli.telemetry.sinks import JsonLinesSink
from ruview_cli.telemetry.state import FleetState

TICK_S = 0.25  # table refresh and window expiry: at most 4 times a second


class TailSession:
    """Wires decoder, node filter, fleet state, JSON sink and recorder for one run."""

    def __init__(
        self,
        *,
        nodes: Optional[Iterable[int]] = None,
        kinds: Optional[Iterable[str]] = None,
        count: Optional[int] = None,
        sink: Optional[JsonLinesSink] = None,
        recorder: Optional[PcapWriter] = None,
        on_tick: Optional[Callable[[float], None]] = None,
    ):
        from ruview_cli.protocol import decode

        self.state = FleetState()
        self.sink = sink
        self.recorder = recorder
        self.nodes = frozenset(nodes) if nodes else None
        self.kinds = frozenset(kinds) if kinds else None
        self.count = count
        self.on_tick = on_tick
        self.stop = StopFlag()
        self.started = time.time()
        self._cpu_started = time.process_time()
        self.replay_stats: Optional[ReadStats] = None
        self._decode = decode
        self.consume = self._make_consumer()

    def _make_consumer(self) -> Callable[[bytes, tuple, float], bool]:
        """The per-datagram hot path, as a closure over locals (fewest lookups per packet)."""
        decode = self._decode
        update = self.state.update
        nodes = self.nodes
        kinds = self.kinds
        write = self.sink.make_writer() if self.sink is not None else None
        record = self.recorder.write if self.recorder is not None else None
        limit = self.count or 0
        emitted = 0

        if record is None and nodes is None and kinds is None and write is not None:
            def consume(data: bytes, addr: tuple, t: float) -> bool:  # --json, the common case
                nonlocal emitted
                pkt = decode(data)
                update(pkt, addr, t)
                write(pkt, addr, t)
                emitted += 1
                return emitted == limit

            self._emitted = lambda: emitted
            return consume

        def consume(data: bytes, addr: tuple, t: float) -> bool:  # noqa: F811 - the general path
            nonlocal emitted
            if record is not None:
                record(data, addr, t)
            pkt = decode(data)
            if nodes is not None and pkt.node_id not in nodes:
                if pkt.node_id is None:  # unknown / unreadable: counted, not shown
                    update(pkt, addr, t)
                return False
            update(pkt, addr, t)
            if kinds is not None and pkt.kind not in kinds:
                return False  # counted in the table and summary, not shown
            if write is not None:
                write(pkt, addr, t)
            emitted += 1
            return emitted == limit

        self._emitted = lambda: emitted
        return consume

    @property
    def emitted(self) -> int:
        """Packets that passed the node filter (= JSON lines written in --json mode)."""
        return self._emitted()

    # -- the loop's callbacks ------------------------------------------------------------------
    def idle(self) -> None:
        if self.sink is not None:
            self.sink.flush()
        if self.recorder is not None:
            self.recorder.flush()

    def tick(self, now: float) -> None:
        self.state.tick(now)
        if self.on_tick is not None:
            self.on_tick(now)

    # -- the two sources -----------------------------------------------------------------------
    def run_live(self, sock: Any, duration: Optional[float] = None) -> str:
        try:
            return receive(
                sock, self.consume, idle=self.idle, tick=self.tick, tick_every=TICK_S,
                duration=duration, stop=self.stop,
            )
        finally:
            self.idle()

    def run_replay(
        self,
        path: str,
        *,
        speed: float = 1.0,
        duration: Optional[float] = None,
        port: Optional[int] = None,
        clock: Callable[[], float] = time.monotonic,
        through_dsp: bool = False,
    ) -> str:
        """Feed a recording through the same path: at `speed` × recorded pace, 0 = flat out.

        `port` keeps only datagrams sent to that UDP port (a tcpdump capture may hold others).
        The recorded arrival times are the packets' `t`, so the table ages nodes by the
        recording's clock, not the wall clock. `through_dsp`: raw frames go through the
        firmware core on the host instead of showing the recorded node's own estimates.
        """
        self.replay_stats = stats = ReadStats()
        consume = self.consume
        wall0 = clock()
        deadline = wall0 + duration if duration is not None else float("inf")
        next_tick = wall0 + TICK_S
        first_t: Optional[float] = None
        last_t = 0.0
        reason = "end of recording"
        try:
            source = read_capture(path, stats)
            if through_dsp:
                from ruview_cli.telemetry.replay_dsp import through_dsp as run_core

                source = run_core(source, stats)
            for n, dg in enumerate(source):
                if port is not None and dg.dest[1] != port:
                    continue
                if first_t is None:
                    first_t = dg.t
                if speed > 0:
                    target = wall0 + (dg.t - first_t) / speed
                    stopped = self._wait_until(target, deadline, clock, dg.t if last_t == 0 else last_t)
                    if stopped:
                        reason = stopped
                        break
                elif n & 0xFF == 0:
                    now = clock()
                    if now >= deadline:
                        reason = "duration"
                        break
                    if now >= next_tick:
                        self.tick(last_t or dg.t)
                        next_tick = now + TICK_S
                if self.stop.stopped:
                    reason = self.stop.reason
                    break
                last_t = self.state.last_t = dg.t
                if consume(dg.data, dg.source, dg.t):
                    reason = "count"
                    break
        finally:
            self.idle()
        return reason

    def _wait_until(self, target: float, deadline: float, clock: Callable[[], float], t_rec: float) -> str:
        """Sleep until the recorded pace says the next packet is due; ticks and stops still work."""
        now = clock()
        if target - now > 0.002:
            self.idle()
        while True:
            if self.stop.stopped:
                return self.stop.reason
            if now >= deadline:
                return "duration"
            if now >= target:
                return ""
            time.sleep(min(target - now, deadline - now, TICK_S))
            now = clock()
            self.tick(t_rec)

    # -- the end -------------------------------------------------------------------------------
    def summary(self, reason: str, now: Optional[float] = None) -> dict[str, Any]:
        """What was received, per node and per source. Stable keys (`ruview tail --json` prints
        this on stderr as {"event": "summary", ...}):

        reason      why the run ended: "duration", "count", "interrupted" (Ctrl-C),
                    "terminated" (SIGTERM), "output closed", "end of recording"
        started, ended, elapsed_s   unix seconds; cpu_s: CPU seconds of the process
        emitted     packets that passed --node and --kind (= JSON lines in --json mode)
        datagrams, malformed, unknown, malformed_by_kind {packet_kind: n}
        nodes       one object per (address, node_id), the busiest 256: node_id, address,
                    packets {kind: n}, frame_rate_hz, raw_frames_lost, loss_pct (null before
                    any raw frame), late_frames, reboots, compressed_decoded,
                    compressed_undecodable, malformed, first_seen, last_seen
        nodes_not_listed, evicted_nodes   nodes kept but not listed; nodes forgotten (the
                    least recently heard, once 1024 were kept)
        sources     {ip: {datagrams, malformed, unknown}}, the busiest 32 ("other": addresses
                    past 1024); sources_not_listed
        recorded, record_file       with --record
        replay      with --replay: {records, udp, skipped {why: n}}
        """
        end = time.time()
        now = now if now is not None else end
        self.state.finish(now)
        out: dict[str, Any] = {"reason": reason, "started": self.started, "ended": end,
                               "elapsed_s": round(end - self.started, 3),
                               "cpu_s": round(time.process_time() - self._cpu_started, 3),
                               "emitted": self.emitted}
        out.update(self.state.summary(now))
        if self.recorder is not None:
            out["recorded"] = self.recorder.records
            out["record_file"] = self.recorder.path
        if self.replay_stats is not None:
            out["replay"] = {"records": self.replay_stats.records, "udp": self.replay_stats.udp,
                             "skipped": dict(self.replay_stats.skipped)}
        return out
