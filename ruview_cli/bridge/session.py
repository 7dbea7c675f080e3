"""One `ruview bridge` run: datagrams in (the `tail` receiver), messages out (MQTT).

Per datagram: decode -> node filter -> the same FleetState `tail` keeps -> NodeTracker -> the
publisher. Every tick checks for stale nodes (offline). Stopping publishes `offline` for every
node and the bridge, then disconnects cleanly.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from ruview_cli.bridge import homeassistant
from ruview_cli.bridge.naming import NodeIdentity, NodeNamer
from ruview_cli.bridge.publisher import Publisher
from ruview_cli.bridge.topics import Topics
from ruview_cli.bridge.tracker import Message, NodeTracker, json_bytes
from ruview_cli.telemetry.receiver import StopFlag, receive

TICK_S = 0.25
DEFAULT_STALE_S = 10.0


@dataclass
class BridgeOptions:
    topics: Topics = field(default_factory=Topics)
    nodes: Optional[frozenset[int]] = None       # --node filter (node ids)
    discovery: bool = True                        # publish Home Assistant discovery
    raw: bool = False                             # publish raw CSI frames
    stale_after: float = DEFAULT_STALE_S


class BridgeSession:
    def __init__(self, options: BridgeOptions, namer: NodeNamer,
                 publisher_factory: Callable[..., Publisher],
                 on_event: Optional[Callable[[str, dict], None]] = None):
        from ruview_cli.protocol import decode
        from ruview_cli.telemetry.state import FleetState

        self.options = options
        self.topics = options.topics
        self.namer = namer
        self.state = FleetState()
        self.trackers: dict[tuple[str, int], NodeTracker] = {}
        self.stop = StopFlag()
        self.started = time.time()
        self.datagrams = 0
        self.filtered = 0
        self.falls = 0
        self._decode = decode
        self._on_event = on_event or (lambda event, info: None)
        self._discovered: set[tuple[str, int]] = set()
        self.publisher = publisher_factory(
            will=Message(self.topics.bridge_availability, b"offline", qos=1, retain=True, kind="availability"),
            on_connected=self._on_connected,
            on_status=self._on_event,
        )

    # -- what goes out on every (re)connect -----------------------------------------------------
    def _on_connected(self) -> list[Message]:
        out = [Message(self.topics.bridge_availability, b"online", qos=1, retain=True, kind="availability")]
        for key, tracker in list(self.trackers.items()):
            if self.options.discovery:
                out.extend(self._discovery(tracker.node))
            out.append(tracker.availability_message())
        return out

    def _discovery(self, node: NodeIdentity) -> list[Message]:
        return [Message(topic, json_bytes(payload), qos=1, retain=True, kind="discovery")
                for topic, payload in homeassistant.configs(node, self.topics)]

    # -- per datagram --------------------------------------------------------------------------
    def consume(self, data: bytes, addr: tuple, t: float) -> bool:
        self.datagrams += 1
        pkt = self._decode(data)
        node_id = pkt.node_id
        nodes = self.options.nodes
        if node_id is None or (nodes is not None and node_id not in nodes):
            self.filtered += 1
            self.state.update(pkt, addr, t)
            return False
        ns = self.state.update(pkt, addr, t)
        key = (addr[0], node_id)
        tracker = self.trackers.get(key)
        publish = self.publisher.publish
        if tracker is None:
            ident = self.namer.identify(addr[0], node_id)
            tracker = self.trackers[key] = NodeTracker(ident, self.topics)
            self._on_event("node", {"node": ident.name, "address": ident.ip, "node_id": node_id})
            if self.options.discovery:
                for m in self._discovery(ident):
                    publish(m)
        def rate() -> float:
            return ns.frame_rate(t) if ns is not None else 0.0

        for m in tracker.on_packet(pkt, rate, t, data if self.options.raw else None):
            if m.kind == "event":
                self.falls += 1
                self._on_event("fall", {"node": tracker.node.name, "ts": t})
            publish(m)
        return False

    def tick(self, now: float) -> None:
        self.state.tick(now)
        for tracker in self.trackers.values():
            m = tracker.check_stale(now, self.options.stale_after)
            if m is not None:
                self._on_event("offline", {"node": tracker.node.name})
                self.publisher.publish(m)

    # -- run -----------------------------------------------------------------------------------
    def run(self, sock: Any, duration: Optional[float] = None) -> str:
        self.publisher.start()
        reason = "interrupted"
        try:
            reason = receive(sock, self.consume, tick=self.tick, tick_every=TICK_S,
                             duration=duration, stop=self.stop)
            return reason
        finally:
            self.close()

    def close(self) -> None:
        final = []
        for tracker in self.trackers.values():
            tracker.online = False
            final.append(tracker.availability_message())
        final.append(Message(self.topics.bridge_availability, b"offline", qos=1, retain=True,
                             kind="availability"))
        self.publisher.stop(final)

    def summary(self, reason: str) -> dict[str, Any]:
        p = self.publisher
        return {"reason": reason, "elapsed_s": round(time.time() - self.started, 3),
                "datagrams": self.datagrams, "filtered": self.filtered,
                "nodes": sorted(t.node.name for t in self.trackers.values()),
                "falls": self.falls, "published": p.published, "queued": p.queued,
                "dropped": p.dropped, "coalesced": p.coalesced, "connects": p.connects,
                "broker": p.target.display()}

    def status_line(self) -> str:
        p = self.publisher
        online = sum(1 for t in self.trackers.values() if t.online)
        state = "connected" if p.connected else "waiting for broker"
        return (f"{p.target.display()} {state} · nodes {online}/{len(self.trackers)} online · "
                f"datagrams {self.datagrams} · published {p.published} · queued {p.queued} · "
                f"dropped {p.dropped} · falls {self.falls}")


def remove_discovery(publisher: Publisher, topics: Topics, timeout: float = 10.0) -> list[str]:
    """Clear every retained ruview config under the discovery prefix (empty retained payloads).

    The broker hands retained configs to a new subscriber when it handles the SUBSCRIBE. We then
    publish to a private marker topic we also subscribed to: messages to one client arrive in
    order, so once the marker is back every retained config has arrived. Those whose object path
    is ours (ruview_<ident>) get an empty retained message, which is how Home Assistant removes
    an MQTT-discovered entity.
    """
    import threading
    import uuid

    found: set[str] = set()
    done = threading.Event()
    client = publisher._client
    marker = f"{topics.prefix}/bridge/marker/{uuid.uuid4().hex}"

    def on_message(_c, _u, msg):
        if msg.topic == marker:
            done.set()
            return
        parts = msg.topic.split("/")
        if len(parts) >= 4 and parts[-3].startswith("ruview_") and msg.payload:
            found.add(msg.topic)

    def on_subscribe(*_a):
        client.publish(marker, b"1", qos=1)

    client.on_message = on_message
    client.on_subscribe = on_subscribe
    client.subscribe([(topics.discovery_filter, 1), (marker, 1)])
    if not done.wait(timeout):
        from ruview_cli.errors import RuviewError

        raise RuviewError("the broker did not answer while listing discovery configs",
                          "check that the broker is up and this user may subscribe to the discovery prefix")
    client.unsubscribe([topics.discovery_filter, marker])
    infos = [client.publish(topic, b"", qos=1, retain=True) for topic in sorted(found)]
    for info in infos:
        info.wait_for_publish(timeout)  # acknowledged by the broker before we disconnect
    return sorted(found)
