"""`ruview bridge`: node telemetry into an MQTT broker, with Home Assistant discovery.

The bridge receives UDP telemetry exactly as `ruview tail` does (same receiver, decoder and
per-node state) and publishes per node: a JSON state, availability, fall events, and retained
Home Assistant discovery configs. The broker (Mosquitto, EMQX, ...) does the fan-out.
"""

from ruview_cli.bridge.naming import NodeIdentity, NodeNamer
from ruview_cli.bridge.publisher import MqttTarget, Publisher, parse_broker_url
from ruview_cli.bridge.session import BridgeOptions, BridgeSession

__all__ = ["BridgeOptions", "BridgeSession", "MqttTarget", "NodeIdentity", "NodeNamer",
           "Publisher", "parse_broker_url"]
