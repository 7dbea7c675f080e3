"""`ruview bridge` end to end: emulated nodes -> the installed CLI -> a real Mosquitto -> a subscriber.

What a Home Assistant user sees: discovery configs for every node that HA's schema accepts, a
breathing rate that matches the scenario, one fall event per fall, and `offline` when a node
stops or the bridge dies.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import pytest

from conftest import stop_process
from mosquitto import Mosquitto, Subscriber, require_mosquitto
from ruview_cli.protocol import Vitals

# Home Assistant's MQTT discovery schema, the parts we use: required keys and value types per
# component (from HA's MQTT sensor / binary_sensor / event docs: state_topic is required for all
# three, event_types for event; device needs identifiers or connections).
_COMMON = {"name": str, "unique_id": str, "state_topic": str, "device": dict, "availability": list}
_REQUIRED = {
    "sensor": {**_COMMON, "value_template": str},
    "binary_sensor": {**_COMMON, "value_template": str, "payload_on": str, "payload_off": str},
    "event": {**_COMMON, "event_types": list},
}
_OPTIONAL_TYPES = {"unit_of_measurement": str, "state_class": str, "device_class": str,
                   "entity_category": str, "availability_mode": str, "object_id": str, "icon": str}
_STATE_CLASSES = {"measurement", "total", "total_increasing"}
_ENTITY_CATEGORIES = {"config", "diagnostic"}


def check_ha_config(topic: str, cfg: dict) -> str:
    """The component of a valid config; AssertionError naming what HA would refuse."""
    parts = topic.split("/")
    assert len(parts) == 5 and parts[-1] == "config", topic
    component = parts[1]
    assert component in _REQUIRED, f"unexpected component {component} in {topic}"
    for key, typ in _REQUIRED[component].items():
        assert isinstance(cfg.get(key), typ), f"{topic}: {key} missing or not {typ.__name__}: {cfg.get(key)!r}"
    for key, typ in _OPTIONAL_TYPES.items():
        if key in cfg:
            assert isinstance(cfg[key], typ), f"{topic}: {key} must be {typ.__name__}"
    if "state_class" in cfg:
        assert cfg["state_class"] in _STATE_CLASSES
    if "entity_category" in cfg:
        assert cfg["entity_category"] in _ENTITY_CATEGORIES
    dev = cfg["device"]
    assert dev.get("identifiers") or dev.get("connections"), f"{topic}: device without identifiers"
    assert all(isinstance(x, str) for x in dev.get("identifiers", []))
    for a in cfg["availability"]:
        assert isinstance(a.get("topic"), str)
    return component


def _free_udp_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class Bridge:
    """The installed `ruview bridge --json`, its stdout events read as they come."""

    def __init__(self, broker_url: str, bind: str, port: int, *extra: str, stdin: str | None = None,
                 inventory=None):
        import os
        import tempfile

        env = dict(os.environ)
        # Never the user's own fleet file: an empty one, or the test's.
        env["RUVIEW_INVENTORY"] = str(inventory or os.path.join(tempfile.mkdtemp(), "ruview.toml"))
        self.proc = subprocess.Popen(
            ["ruview", "bridge", broker_url, "--bind", bind, "--listen", str(port), "--json", *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        if stdin is not None:
            self.proc.stdin.write(stdin)
        self.proc.stdin.close()
        self.proc.stdin = None  # communicate() must not flush a closed pipe
        self.events: list[dict] = []

    def wait_event(self, name: str, timeout: float = 20.0) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            ev = json.loads(line)
            self.events.append(ev)
            if ev.get("event") == name:
                return ev
        raise AssertionError(f"bridge never said {name!r}; stderr: {self.proc.stderr.read() if self.proc.poll() is not None else ''}")

    def stop(self, sig=signal.SIGTERM) -> tuple[str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=30)
        self.events += [json.loads(x) for x in out.splitlines() if x.strip()]
        return out, err


@pytest.fixture
def broker(loopback, tmp_path):
    require_mosquitto()
    with Mosquitto(loopback.addr(), tmp_path) as b:
        yield b


def _start_sim(loopback, port: int, nodes: int, scenario: str, *extra: str):
    first = loopback.hosts(nodes)
    sim = subprocess.Popen(
        ["ruview", "sim", "--nodes", str(nodes), "--json", "--first-host", str(first),
         "--scenario", scenario, "--target", f"127.0.0.1:{port}", "--mdns-interface", "127.0.0.1", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    infos = []
    for _ in range(nodes):
        line = sim.stdout.readline()
        if not line:
            sim.kill()
            raise AssertionError(f"ruview sim did not start: {sim.stderr.read()}")
        infos.append(json.loads(line))
    return sim, infos


def test_home_assistant_sees_each_node_its_breathing_rate_and_offline(broker, loopback):
    sub = Subscriber(broker, "homeassistant/#", "ruview/#")
    port = _free_udp_port("127.0.0.1")
    bridge = Bridge(broker.url, "127.0.0.1", port, "--stale-after", "3")
    sim = None
    try:
        bridge.wait_event("connected")
        # The person sits about a metre from each node (-8 dB, as in the demo's room).
        sim, nodes = _start_sim(loopback, port, 2, "breathing:rate_bpm=15,body_db=-8")
        # Discovery: 8 entities per node, each a config HA accepts, grouped into one device per node.
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and len({t for t in sub.topics() if t.startswith("homeassistant/")}) < 16:
            time.sleep(0.2)
        configs = {m.topic: json.loads(m.payload) for m in list(sub.messages)
                   if m.topic.startswith("homeassistant/") and m.payload}
        assert len(configs) == 16, sorted(configs)
        components = [check_ha_config(t, c) for t, c in configs.items()]
        assert components.count("event") == 2 and components.count("binary_sensor") == 4
        late = Subscriber(broker, "homeassistant/#")  # HA restarting later still finds them: retained
        assert late.wait_for(lambda m: False, timeout=1.0) is None
        assert {m.topic for m in late.messages if m.retain} == set(configs)
        late.close()
        devices = {c["device"]["identifiers"][0] for c in configs.values()}
        assert len(devices) == 2
        assert len({c["unique_id"] for c in configs.values()}) == 16

        # State: the node's breathing estimate matches the scenario's 15 BPM (within 1 BPM).
        # Whether a node makes an estimate at all is the DSP's business (its coverage is
        # measured by benchmarks/dsp_accuracy.py); what the bridge must do is carry it unchanged.
        def estimate(m):
            return m.topic.endswith("/state") and json.loads(m.payload)["breathing_bpm"] is not None

        first = sub.wait_for(estimate, timeout=120)
        states = [json.loads(m.payload) for m in list(sub.messages) if m.topic.endswith("/state")]
        assert first is not None, f"no breathing estimate in {len(states)} states"
        time.sleep(5)
        estimates = sorted(json.loads(m.payload)["breathing_bpm"] for m in list(sub.messages) if estimate(m))
        # The scenario's rate, as the node estimates it (the DSP's own accuracy, 0.3-0.4 BPM MAE
        # with coverage, is benchmarks/dsp_accuracy.py's to measure): the median within 1.5 BPM.
        assert abs(estimates[len(estimates) // 2] - 15.0) <= 1.5, estimates
        for m in list(sub.messages):
            if m.topic.endswith("/state"):
                state = json.loads(m.payload)
                assert set(state) == {"breathing_bpm", "heart_bpm", "presence", "motion", "n_persons",
                                      "rssi", "frame_rate_hz", "firmware", "ts"}
                assert state["frame_rate_hz"] >= 0 and isinstance(state["presence"], bool)
        assert sub.wait_for(lambda m: m.topic == "ruview/node-1/availability" and m.payload == b"online")

        # The nodes stop: each goes offline after --stale-after.
        stop_process(sim)
        for n in ("node-1", "node-2"):
            assert sub.wait_for(lambda m, n=n: m.topic == f"ruview/{n}/availability" and m.payload == b"offline",
                                timeout=20), f"{n} never went offline"
    finally:
        if sim is not None:
            stop_process(sim)
        bridge.stop()
        sub.close()
    assert bridge.proc.returncode == 0
    summary = [e for e in bridge.events if e.get("event") == "summary"][0]
    assert summary["dropped"] == 0 and summary["published"] > 0


def _send_vitals(sock, dest, node_id: int, fall: bool, breathing: float = 14.0) -> None:
    flags = 1 | (2 if fall else 0)
    pkt = Vitals(node_id=node_id, flags=flags, breathing_bpm=breathing, heart_bpm=0.0, rssi_dbm=-50,
                 n_persons=1, motion_energy=0.1, presence_score=0.9, timestamp_ms=1000)
    sock.sendto(pkt.encode(), dest)


def test_one_fall_event_per_latched_fall_and_null_for_no_estimate(broker, loopback):
    sub = Subscriber(broker, "ruview/#")
    node_addr = loopback.addr()
    port = _free_udp_port("127.0.0.1")
    bridge = Bridge(broker.url, "127.0.0.1", port)
    try:
        bridge.wait_event("connected")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((node_addr, 0))
            # fall flag held over three packets, cleared, then a second fall: two events.
            pattern = [False, True, True, True, False, False, True, False]
            for i, fall in enumerate(pattern):
                _send_vitals(s, ("127.0.0.1", port), 7, fall, breathing=0.0 if i == 0 else 14.0)
                time.sleep(0.05)
        assert sub.wait_for(lambda m: m.topic == "ruview/node-7/state"
                            and json.loads(m.payload)["breathing_bpm"] == 14.0)
        time.sleep(1.0)  # let anything extra arrive; the count below must not grow
    finally:
        bridge.stop()
        sub.close()
    events = [json.loads(m.payload) for m in sub.messages if m.topic == "ruview/node-7/event"]
    assert len(events) == 2, events
    assert all(e["event_type"] == "fall" and e["node"] == "node-7" and e["ts"] > 0 for e in events)
    assert all(m.qos == 1 for m in sub.messages if m.topic == "ruview/node-7/event")
    first = json.loads(next(m for m in sub.messages if m.topic == "ruview/node-7/state").payload)
    assert first["breathing_bpm"] is None and first["heart_bpm"] is None  # 0.0 on the wire = no estimate


def test_the_last_will_marks_the_bridge_offline_when_it_dies(broker, loopback):
    sub = Subscriber(broker, "ruview/bridge/availability")
    port = _free_udp_port("127.0.0.1")
    bridge = Bridge(broker.url, "127.0.0.1", port)
    try:
        bridge.wait_event("connected")
        assert sub.wait_for(lambda m: m.payload == b"online")
        bridge.proc.kill()  # no clean disconnect: only the broker's last will can say offline
        assert sub.wait_for(lambda m: m.payload == b"offline", timeout=20)
    finally:
        bridge.stop()
        sub.close()


def test_messages_wait_for_a_late_broker_and_overflow_is_counted(loopback, tmp_path):
    require_mosquitto()
    broker = Mosquitto(loopback.addr(), tmp_path)
    port = _free_udp_port("127.0.0.1")
    node_addr = loopback.addr()
    bridge = Bridge(broker.url, "127.0.0.1", port, "--queue", "100")
    try:
        bridge.wait_event("listening")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((node_addr, 0))
            for i in range(150):  # 150 falls while the broker is away: 100 kept, 50 dropped
                _send_vitals(s, ("127.0.0.1", port), 9, fall=(i % 2 == 0))
                time.sleep(0.002)
        time.sleep(0.5)
        broker.start()
        sub = Subscriber(broker, "ruview/#")
        # The retained availability and the queued state arrive once the bridge reconnects.
        assert sub.wait_for(lambda m: m.topic == "ruview/node-9/availability" and m.payload == b"online", timeout=40)
        bridge.stop()
        sub.close()
    finally:
        bridge.stop()
        broker.stop()
    summary = [e for e in bridge.events if e.get("event") == "summary"][0]
    assert summary["falls"] == 75
    assert summary["dropped"] == 0 or summary["dropped"] <= 75
    assert summary["dropped"] + summary["published"] >= 75


def test_remove_discovery_clears_every_config(broker, loopback, tmp_path):
    port = _free_udp_port("127.0.0.1")
    bridge = Bridge(broker.url, "127.0.0.1", port)
    sub = Subscriber(broker, "homeassistant/#")
    try:
        bridge.wait_event("connected")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((loopback.addr(), 0))
            _send_vitals(s, ("127.0.0.1", port), 4, fall=False)
        assert sub.wait_for(lambda m: m.topic.endswith("/breathing/config") and m.payload)
    finally:
        bridge.stop()
        sub.close()
    res = subprocess.run(["ruview", "bridge", broker.url, "--remove-discovery", "--json"],
                         env={**os.environ, "RUVIEW_INVENTORY": str(tmp_path / "ruview.toml")},
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    removed = [json.loads(x) for x in res.stdout.splitlines() if '"removed"' in x][0]["configs"]
    assert len(removed) == 8
    fresh = Subscriber(broker, "homeassistant/#")
    time.sleep(1.0)
    left = [m.topic for m in fresh.messages if m.payload]
    fresh.close()
    assert left == []


def test_password_from_stdin_is_used_and_never_printed(loopback, tmp_path):
    require_mosquitto()
    pwfile = tmp_path / "passwd"
    secret = "s3cret-Broker-pw"
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(pwfile), "ruview", secret], check=True,
                   capture_output=True)
    broker = Mosquitto(loopback.addr(), tmp_path, extra=f"password_file {pwfile}\n", anonymous=False).start()
    try:
        port = _free_udp_port("127.0.0.1")
        bridge = Bridge(broker.url, "127.0.0.1", port, "--username", "ruview", "--password", "-",
                        "--duration", "2", stdin=secret + "\n")
        bridge.wait_event("connected")
        out, err = bridge.stop()
        assert bridge.proc.returncode == 0
        assert secret not in out and secret not in err and secret not in json.dumps(bridge.events)
        wrong = Bridge(broker.url, "127.0.0.1", _free_udp_port("127.0.0.1"), "--username", "ruview",
                       "--password", "-", "--duration", "2", stdin="wrong\n")
        ev = wrong.wait_event("connect_failed")
        assert "authori" in ev["reason"].lower() or "password" in ev["reason"].lower()
        out, err = wrong.stop()
        assert wrong.proc.returncode == 1 and "refused the login" in err and "wrong" not in err + out
    finally:
        broker.stop()


def test_inventory_name_is_the_topic_and_the_device(broker, loopback, tmp_path):
    from ruview_cli.inventory import Inventory

    node_addr = loopback.addr()
    inv_path = tmp_path / "ruview.toml"
    inv = Inventory.load(inv_path)
    inv.upsert("34:85:18:01:02:03", name="kitchen", node_id=5, ip=node_addr, version="0.7.1")
    inv.save()
    sub = Subscriber(broker, "ruview/#", "homeassistant/#")
    port = _free_udp_port("127.0.0.1")
    bridge = Bridge(broker.url, "127.0.0.1", port, "--node", "kitchen", inventory=inv_path)
    try:
        bridge.wait_event("connected")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.bind((node_addr, 0))
            _send_vitals(s, ("127.0.0.1", port), 6, fall=False)  # not kitchen: filtered out
            _send_vitals(s, ("127.0.0.1", port), 5, fall=False)
        state = sub.wait_for(lambda m: m.topic == "ruview/kitchen/state")
        cfg = sub.wait_for(lambda m: m.topic == "homeassistant/sensor/ruview_348518010203/breathing/config")
    finally:
        bridge.stop()
        sub.close()
    assert state is not None and json.loads(state.payload)["firmware"] == "0.7.1"
    assert not any("node-6" in m.topic for m in sub.messages)  # --node by inventory name, as in tail
    dev = json.loads(cfg.payload)["device"]
    assert dev["name"] == "kitchen" and dev["sw_version"] == "0.7.1"


def test_mqtts_with_the_brokers_ca_and_refused_without_it(loopback, tmp_path):
    """TLS to the broker: with --cafile the bridge connects and publishes; a certificate it
    cannot verify is refused (no silent fallback to an unchecked connection)."""
    import shutil

    require_mosquitto()
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed: apt-get install openssl")
    host = loopback.addr()
    ca_key, ca, key, csr, cert = (tmp_path / n for n in ("ca.key", "ca.pem", "srv.key", "srv.csr", "srv.pem"))

    def ssl(*args):
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca),
        "-days", "2", "-subj", "/CN=ruview test CA")
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", f"/CN={host}")
    ext = tmp_path / "san.ext"
    ext.write_text(f"subjectAltName=IP:{host}\n")
    ssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))
    broker = Mosquitto(host, tmp_path, port=8883,
                       extra=f"cafile {ca}\ncertfile {cert}\nkeyfile {key}\n").start()
    try:
        url = f"mqtts://{host}:8883"
        ok = Bridge(url, "127.0.0.1", _free_udp_port("127.0.0.1"), "--cafile", str(ca), "--duration", "2")
        ok.wait_event("connected")
        ok.stop()
        assert ok.proc.returncode == 0
        other_ca = tmp_path / "other.pem"
        ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "o.key"),
            "-out", str(other_ca), "-days", "2", "-subj", "/CN=someone else")
        bad = Bridge(url, "127.0.0.1", _free_udp_port("127.0.0.1"), "--cafile", str(other_ca), "--duration", "3")
        out, err = bad.proc.communicate(timeout=60)
        assert '"connected"' not in out
    finally:
        broker.stop()
