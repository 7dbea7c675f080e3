"""What to publish for each node, decided from its packets: pure logic, no MQTT.

State: one JSON object per node, published when a vitals packet changes it (at most once per
vitals packet). Availability: online from the first packet, offline once the node is silent
for `stale_after` seconds. Falls: one event per latched fall (the rising edge of the fall flag;
the firmware holds the flag until a vitals packet has carried it).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Optional

from ruview_cli.bridge.naming import NodeIdentity
from ruview_cli.bridge.topics import Topics

VITALS_KINDS = ("vitals", "fused_vitals")
_NOTHING: list = []


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


STATE_KEYS = ("breathing_bpm", "heart_bpm", "presence", "motion", "n_persons", "rssi", "frame_rate_hz",
              "firmware")


def _state_values(pkt: Any, frame_rate_hz: float) -> tuple:
    """Everything of the state that can change between packets, in STATE_KEYS order."""
    heart = _estimate(pkt.heart_bpm)
    confidence = getattr(pkt, "heart_conf", None)  # our firmware: 0..1; None from RuView 0.6.x
    if confidence is not None and confidence <= 0:
        heart = None  # a node that says how sure it is, and is not, made no estimate
    flags = pkt.flags
    return (_estimate(pkt.breathing_bpm), heart, bool(flags & 1), bool(flags & 4), pkt.n_persons,
            pkt.rssi_dbm, round(frame_rate_hz, 1))


def _encode_state(values: tuple, firmware_json: str, t: float) -> bytes:
    # Hand-built JSON: this runs once per vitals packet for thousands of nodes, and json.dumps
    # of a dict costs several times more. Every value is a number, bool or null by construction.
    b, h, pres, mot, n, rssi, rate = values
    return (f'{{"breathing_bpm":{_num(b)},"heart_bpm":{_num(h)},"presence":{"true" if pres else "false"},'
            f'"motion":{"true" if mot else "false"},"n_persons":{int(n)},"rssi":{int(rssi)},'
            f'"frame_rate_hz":{_num(rate)},"firmware":{firmware_json},"ts":{t:.3f}}}').encode()


def _num(x: Optional[float]) -> str:
    return "null" if x is None else repr(float(x))


class NodeTracker:
    """Per-node publishing state: last state sent, fall edge, online/offline."""

    __slots__ = ("node", "topics", "last_state", "fall_active", "online", "last_seen", "falls",
                 "_state_topic", "_firmware_json")

    def __init__(self, node: NodeIdentity, topics: Topics):
        self.node = node
        self.topics = topics
        self._state_topic = topics.state(node.name)
        self._firmware_json = json.dumps(node.firmware)
        self.last_state: Optional[tuple] = None
        self.fall_active = False
        self.online = False
        self.last_seen = 0.0
        self.falls = 0

    def on_packet(self, pkt: Any, frame_rate: Callable[[], float], t: float,
                  raw: Optional[bytes] = None) -> list[Message]:
        """Messages for this packet; `frame_rate()` is asked only when a state is built."""
        self.last_seen = t
        kind = pkt.kind
        if self.online and kind not in VITALS_KINDS and raw is None:
            return _NOTHING  # the common case for feature packets: nothing to say
        out: list[Message] = []
        if not self.online:
            self.online = True
            out.append(self.availability_message())
        if kind in VITALS_KINDS:
            values = _state_values(pkt, frame_rate())
            if self.last_state != values:
                self.last_state = values
                out.append(Message(self._state_topic, _encode_state(values, self._firmware_json, t)))
            if pkt.fall and not self.fall_active:
                self.falls += 1
                out.append(Message(self.topics.event(self.node.name), json_bytes({
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


def json_bytes(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()
