"""What to publish for each node, decided from its packets: pure logic, no MQTT.

State: one JSON object per node, published when a vitals packet changes it (at most once per
vitals packet). Availability: online from the first packet, offline once the node is silent
for `stale_after` seconds. Falls: one event per latched fall (the rising edge of the fall flag;
the firmware holds the flag until a vitals packet has carried it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Optional

from ruview_cli.bridge.naming import NodeIdentity
from ruview_cli.bridge.topics import Topics

VITALS_KINDS = ("vitals", "fused_vitals")


@dataclass(frozen=True)
class Message:
    topic: str
    payload: bytes
    qos: int = 0
    retain: bool = False
    kind: str = "state"     # state | availability | event | csi | discovery


def _estimate(value: Optional[float]) -> Optional[float]:
    """BPM 0.0 on the wire means "no estimate": null, never a number."""
    if value is None or not value > 0:
        return None
    return round(float(value), 2)


def state_of(pkt: Any, node: NodeIdentity, frame_rate_hz: float, t: float) -> dict[str, Any]:
    confidence = getattr(pkt, "heart_confidence", None)
    heart = _estimate(pkt.heart_bpm)
    if confidence is not None and confidence <= 0:
        heart = None  # a node that says how sure it is, and is not, made no estimate
    return {
        "breathing_bpm": _estimate(pkt.breathing_bpm),
        "heart_bpm": heart,
        "presence": pkt.presence,
        "motion": pkt.motion,
        "n_persons": pkt.n_persons,
        "rssi": pkt.rssi_dbm,
        "frame_rate_hz": round(frame_rate_hz, 1),
        "firmware": node.firmware,
        "ts": round(t, 3),
    }


class NodeTracker:
    """Per-node publishing state: last state sent, fall edge, online/offline."""

    __slots__ = ("node", "topics", "last_state", "fall_active", "online", "last_seen", "falls")

    def __init__(self, node: NodeIdentity, topics: Topics):
        self.node = node
        self.topics = topics
        self.last_state: Optional[dict[str, Any]] = None
        self.fall_active = False
        self.online = False
        self.last_seen = 0.0
        self.falls = 0

    def on_packet(self, pkt: Any, frame_rate_hz: float, t: float, raw: Optional[bytes] = None) -> list[Message]:
        out: list[Message] = []
        self.last_seen = t
        if not self.online:
            self.online = True
            out.append(self.availability_message())
        kind = pkt.kind
        if kind in VITALS_KINDS:
            state = state_of(pkt, self.node, frame_rate_hz, t)
            comparable = {k: v for k, v in state.items() if k != "ts"}
            if self.last_state != comparable:
                self.last_state = comparable
                out.append(Message(self.topics.state(self.node.name), _json(state)))
            if pkt.fall and not self.fall_active:
                self.falls += 1
                out.append(Message(self.topics.event(self.node.name), _json({
                    "event_type": "fall", "node": self.node.name, "node_id": self.node.node_id,
                    "address": self.node.ip, "ts": round(t, 3)}), qos=1, kind="event"))
            self.fall_active = pkt.fall
        elif raw is not None and kind == "csi_raw":
            out.append(Message(self.topics.csi(self.node.name), raw, kind="csi"))
        return out

    def check_stale(self, now: float, stale_after: float) -> Optional[Message]:
        if self.online and now - self.last_seen >= stale_after:
            self.online = False
            self.last_state = None  # publish the next state in full when it comes back
            return self.availability_message()
        return None

    def availability_message(self) -> Message:
        return Message(self.topics.availability(self.node.name),
                       b"online" if self.online else b"offline", qos=1, retain=True,
                       kind="availability")


def _json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
