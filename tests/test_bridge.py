"""The bridge's pure parts: node names, topics, Home Assistant configs, broker URLs, queueing."""

from __future__ import annotations

import json

import pytest

from ruview_cli.bridge import NodeNamer, parse_broker_url
from ruview_cli.bridge.homeassistant import configs
from ruview_cli.bridge.topics import Topics, check_prefix
from ruview_cli.bridge.tracker import NodeTracker
from ruview_cli.errors import UsageError
from ruview_cli.inventory import NodeEntry
from ruview_cli.protocol import Vitals
from test_bridge_e2e import check_ha_config


def test_inventory_names_nodes_and_unknown_nodes_get_node_id_names():
    namer = NodeNamer([NodeEntry(mac="34:85:18:aa:bb:cc", name="Bedroom 1", node_id=3, ip="127.0.0.9",
                                 version="0.7.1")])
    bedroom = namer.identify("127.0.0.9", 3)
    assert bedroom.name == "Bedroom-1" and bedroom.mac == "34:85:18:aa:bb:cc" and bedroom.firmware == "0.7.1"
    first = namer.identify("127.0.0.10", 1)
    second = namer.identify("127.0.0.11", 1)  # two unprovisioned boards both say node_id 1
    assert first.name == "node-1" and second.name != first.name and second.name.startswith("node-1-")
    assert namer.identify("127.0.0.10", 1) is first  # stable for the run


def test_discovery_ids_are_stable_and_valid_with_and_without_a_mac():
    topics = Topics()
    with_mac = NodeNamer([NodeEntry(mac="34:85:18:aa:bb:cc", name="lab", node_id=2, ip="127.0.0.5")]).identify("127.0.0.5", 2)
    without = NodeNamer([]).identify("127.0.0.6", 4)
    for node in (with_mac, without):
        first = configs(node, topics)
        again = configs(NodeNamer([]).identify(node.ip, node.node_id), topics) if node is without else first
        assert [c["unique_id"] for _, c in first] == [c["unique_id"] for _, c in again]
        for topic, cfg in first:
            check_ha_config(topic, cfg)
            json.dumps(cfg)
    dev = configs(with_mac, topics)[0][1]["device"]
    assert dev["connections"] == [["mac", "34:85:18:aa:bb:cc"]] and dev["name"] == "lab"
    assert dev["identifiers"] == ["ruview_348518aabbcc"] and dev["model"] == "ESP32-S3"
    assert configs(without, topics)[0][1]["unique_id"] == "ruview_4_127_0_0_6_breathing"


def test_broker_urls():
    t, pw = parse_broker_url("mqtts://user:p%40ss@broker.lan")
    assert (t.scheme, t.host, t.port, t.username, pw) == ("mqtts", "broker.lan", 8883, "user", "p@ss")
    assert "p@ss" not in t.display() and t.display() == "mqtts://user@broker.lan:8883"
    assert parse_broker_url("mqtt://127.0.0.1")[0].port == 1883
    for bad in ("http://x", "mqtt://", "mqtt://h:99999", "mqtt://h/path"):
        with pytest.raises(UsageError):
            parse_broker_url(bad)
    with pytest.raises(UsageError):
        check_prefix("ruview/#", "--topic-prefix")


def _vitals(breathing: float, fall: bool = False) -> Vitals:
    return Vitals(node_id=1, flags=1 | (2 if fall else 0), breathing_bpm=breathing, heart_bpm=0.0,
                  rssi_dbm=-60, n_persons=1, motion_energy=0.0, presence_score=1.0, timestamp_ms=0)


def test_state_is_sent_on_change_and_availability_on_edges():
    node = NodeNamer([]).identify("127.0.0.2", 1)
    tr = NodeTracker(node, Topics())
    first = tr.on_packet(_vitals(12.0), lambda: 20.0, 1.0)
    assert [m.kind for m in first] == ["availability", "state"] and first[0].retain
    assert tr.on_packet(_vitals(12.0), lambda: 20.0, 2.0) == []  # unchanged: nothing new
    assert [m.kind for m in tr.on_packet(_vitals(12.5), lambda: 20.0, 3.0)] == ["state"]
    assert tr.check_stale(5.0, 10.0) is None
    off = tr.check_stale(13.0, 10.0)
    assert off is not None and off.payload == b"offline"
    assert tr.check_stale(20.0, 10.0) is None  # said once
    back = tr.on_packet(_vitals(12.5), lambda: 20.0, 21.0)
    assert [m.kind for m in back] == ["availability", "state"]  # full state again after a gap


def test_queue_while_disconnected_is_bounded_and_counts_drops():
    from ruview_cli.bridge.publisher import MqttTarget, Publisher
    from ruview_cli.bridge.tracker import Message

    pub = Publisher(MqttTarget("mqtt", "127.0.0.1", 1), queue_max=100)  # never started
    for i in range(1000):
        pub.publish(Message("ruview/n/state", b"%d" % i))
        pub.publish(Message("ruview/n/event", b"%d" % i, qos=1, kind="event"))
    assert pub.queued == 101  # one coalesced state + the 100 newest events
    assert pub.dropped == 900 and pub.coalesced == 999


def test_broker_password_comes_from_the_secrets_file_by_host(tmp_path, monkeypatch):
    from ruview_cli.bridge.credentials import broker_password
    from ruview_cli.bridge.publisher import MqttTarget

    inv = tmp_path / "ruview.toml"
    (tmp_path / "ruview.secrets.toml").write_text('[mqtt]\n"broker.lan:8883" = "tls-pw"\n"broker.lan" = "pw"\n')
    monkeypatch.setenv("RUVIEW_INVENTORY", str(inv))
    assert broker_password(MqttTarget("mqtts", "broker.lan", 8883, "u"), None, None) == "tls-pw"
    assert broker_password(MqttTarget("mqtt", "broker.lan", 1883, "u"), None, None) == "pw"
    assert broker_password(MqttTarget("mqtt", "broker.lan", 1883, None), None, None) is None  # anonymous
    assert broker_password(MqttTarget("mqtt", "other", 1883, "u"), None, "in-url") == "in-url"
