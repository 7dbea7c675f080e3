"""Home Assistant MQTT discovery: the retained config messages that make each node a device.

One device per node; its entities read the node's JSON state topic through value templates.
Topics: <discovery_prefix>/<component>/ruview_<ident>/<object>/config (HA's documented
<prefix>/<component>/[<node_id>/]<object_id>/config). Every entity is available only while both
the node (its availability topic) and the bridge (its last-will topic) are online.
"""

from __future__ import annotations

from typing import Any

from ruview_cli.bridge.naming import NodeIdentity
from ruview_cli.bridge.topics import Topics

MANUFACTURER = "ruview"
MODEL = "ESP32-S3"

# (component, object id, entity name, extra config). HA renders a null JSON value as "None",
# which an MQTT sensor shows as unknown: "no estimate" never becomes a number.
_ENTITIES: tuple[tuple[str, str, str, dict[str, Any]], ...] = (
    ("sensor", "breathing", "Breathing rate", {
        "value_template": "{{ value_json.breathing_bpm }}", "unit_of_measurement": "bpm",
        "state_class": "measurement", "icon": "mdi:lungs", "suggested_display_precision": 1}),
    ("sensor", "heart_rate", "Heart rate", {
        "value_template": "{{ value_json.heart_bpm }}", "unit_of_measurement": "bpm",
        "state_class": "measurement", "icon": "mdi:heart-pulse", "suggested_display_precision": 0}),
    ("sensor", "persons", "Persons", {
        "value_template": "{{ value_json.n_persons }}", "state_class": "measurement",
        "icon": "mdi:account-multiple"}),
    ("binary_sensor", "presence", "Presence", {
        "value_template": "{{ 'ON' if value_json.presence else 'OFF' }}",
        "payload_on": "ON", "payload_off": "OFF", "device_class": "occupancy"}),
    ("binary_sensor", "motion", "Motion", {
        "value_template": "{{ 'ON' if value_json.motion else 'OFF' }}",
        "payload_on": "ON", "payload_off": "OFF", "device_class": "motion"}),
    ("sensor", "rssi", "RSSI", {
        "value_template": "{{ value_json.rssi }}", "unit_of_measurement": "dBm",
        "device_class": "signal_strength", "state_class": "measurement",
        "entity_category": "diagnostic"}),
    ("sensor", "frame_rate", "CSI frame rate", {
        "value_template": "{{ value_json.frame_rate_hz }}", "unit_of_measurement": "Hz",
        "state_class": "measurement", "entity_category": "diagnostic", "icon": "mdi:wifi"}),
)
# A fall is an event, not a state: HA's MQTT event entity, fed by the node's event topic.
_FALL = ("event", "fall", "Fall", {"event_types": ["fall"], "icon": "mdi:human-handsdown"})


def device(node: NodeIdentity) -> dict[str, Any]:
    dev: dict[str, Any] = {
        "identifiers": [f"ruview_{node.ident}"],
        "name": node.display_name or node.name,
        "manufacturer": MANUFACTURER,
        "model": MODEL,
    }
    if node.mac:
        dev["connections"] = [["mac", node.mac.lower()]]
    if node.firmware:
        dev["sw_version"] = node.firmware
    return dev


def configs(node: NodeIdentity, topics: Topics) -> list[tuple[str, dict[str, Any]]]:
    """(config topic, payload) for every entity of this node."""
    dev = device(node)
    availability = [{"topic": topics.availability(node.name)}, {"topic": topics.bridge_availability}]
    out = []
    for component, obj, name, extra in (*_ENTITIES, _FALL):
        payload: dict[str, Any] = {
            "name": name,
            "unique_id": f"ruview_{node.ident}_{obj}",
            "object_id": f"{node.name}_{obj}",
            "state_topic": topics.event(node.name) if component == "event" else topics.state(node.name),
            "availability": availability,
            "availability_mode": "all",
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": dev,
            "origin": {"name": "ruview"},
        }
        payload.update(extra)
        out.append((topics.discovery_config(component, node.ident, obj), payload))
    return out
