"""The MQTT side of the bridge: one paho-mqtt client, reconnecting, with a bounded queue.

paho's network thread reconnects with exponential back-off (1 s to 15 s). While the broker is
away, messages wait in a bounded queue: state and availability are coalesced per topic (only
the newest matters, so a long outage costs one entry per topic), events and raw frames are kept
in order up to `queue_max` and the oldest are dropped beyond that, counted, never silently.
On (re)connect the bridge's own availability, the discovery configs and the queue go out.
"""

from __future__ import annotations

import collections
import ssl
import threading
import urllib.parse
from dataclasses import dataclass
from typing import Callable, Optional

from ruview_cli.bridge.tracker import Message
from ruview_cli.errors import UsageError

DEFAULT_PORTS = {"mqtt": 1883, "mqtts": 8883}
RECONNECT_MIN_S = 1
RECONNECT_MAX_S = 15
KEEPALIVE_S = 30


@dataclass(frozen=True)
class MqttTarget:
    scheme: str
    host: str
    port: int
    username: Optional[str] = None

    @property
    def tls(self) -> bool:
        return self.scheme == "mqtts"

    def display(self) -> str:
        """The broker without credentials, for output."""
        user = f"{self.username}@" if self.username else ""
        return f"{self.scheme}://{user}{self.host}:{self.port}"


def parse_broker_url(url: str) -> tuple[MqttTarget, Optional[str]]:
    """`mqtt[s]://[user[:password]@]host[:port]` -> (target, password in the URL or None)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS:
        raise UsageError(f"broker URL {url!r} must start with mqtt:// or mqtts://",
                         "e.g. ruview bridge mqtt://127.0.0.1:1883")
    try:
        port = parts.port or DEFAULT_PORTS[parts.scheme]
    except ValueError:
        raise UsageError("the broker URL has an invalid port", "e.g. mqtt://HOST:1883") from None
    if not parts.hostname:
        raise UsageError("the broker URL names no host", "e.g. mqtt://127.0.0.1:1883")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise UsageError("the broker URL has a path or query; only host and port are used",
                         "drop everything after host:port")
    user = urllib.parse.unquote(parts.username) if parts.username else None
    password = urllib.parse.unquote(parts.password) if parts.password else None
    return MqttTarget(parts.scheme, parts.hostname, port, user), password


class Publisher:
    """Publishes Messages; queues them while disconnected. Thread-safe."""

    def __init__(
        self,
        target: MqttTarget,
        *,
        password: Optional[str] = None,
        client_id: str = "",
        will: Optional[Message] = None,
        on_connected: Optional[Callable[[], list[Message]]] = None,
        on_status: Optional[Callable[[str, dict], None]] = None,
        queue_max: int = 10_000,
        cafile: Optional[str] = None,
        insecure: bool = False,
    ):
        import paho.mqtt.client as mqtt

        self.target = target
        self.queue_max = queue_max
        self._on_connected = on_connected
        self._on_status = on_status or (lambda event, info: None)
        self._lock = threading.Lock()
        self._latest: dict[str, Message] = {}              # coalesced while disconnected
        self._ordered: collections.deque[Message] = collections.deque()
        self.connected = False
        self._up = threading.Event()
        self.published = 0
        self.dropped = 0        # queue overflow while the broker was away (oldest first)
        self.coalesced = 0      # superseded state/availability while the broker was away
        self.connects = 0
        self.errors = 0

        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id,
                             protocol=mqtt.MQTTv311, clean_session=True)
        if target.username is not None:
            client.username_pw_set(target.username, password)
        if target.tls:
            client.tls_set(ca_certs=cafile, cert_reqs=ssl.CERT_NONE if insecure else ssl.CERT_REQUIRED)
            if insecure:
                client.tls_insecure_set(True)
        if will is not None:
            client.will_set(will.topic, will.payload, qos=will.qos, retain=will.retain)
        client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        client.on_connect = self._handle_connect
        client.on_disconnect = self._handle_disconnect
        self._client = client
        self._ok = mqtt.MQTT_ERR_SUCCESS

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        self._client.connect_async(self.target.host, self.target.port, KEEPALIVE_S)
        self._client.loop_start()

    def wait_connected(self, timeout: float) -> bool:
        """Block until the first connection is up (True) or `timeout` passes (False)."""
        return self._up.wait(timeout)

    def stop(self, final: list[Message] = (), timeout: float = 3.0) -> None:
        """Send `final` (e.g. offline states) if connected, then disconnect cleanly.

        A clean DISCONNECT means the broker does not send the last will; `final` says it.
        """
        infos = []
        if self.connected:
            for m in final:
                info = self._client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
                if info.rc == self._ok:
                    infos.append(info)
                    self.published += 1
        for info in infos:
            if info.mid and not info.is_published():
                try:
                    info.wait_for_publish(timeout)
                except (RuntimeError, ValueError):
                    break
        self._client.disconnect()
        self._client.loop_stop()

    # -- publishing ----------------------------------------------------------------------------
    def publish(self, m: Message) -> None:
        if self.connected:
            info = self._client.publish(m.topic, m.payload, qos=m.qos, retain=m.retain)
            if info.rc == self._ok:
                self.published += 1
                return
        self._enqueue(m)

    def _enqueue(self, m: Message) -> None:
        with self._lock:
            if m.kind in ("state", "availability", "discovery"):
                if m.topic in self._latest:
                    self.coalesced += 1
                self._latest[m.topic] = m
                return
            if len(self._ordered) >= self.queue_max:
                self._ordered.popleft()
                self.dropped += 1
            self._ordered.append(m)

    @property
    def queued(self) -> int:
        with self._lock:
            return len(self._latest) + len(self._ordered)

    def _flush(self) -> None:
        with self._lock:
            pending = list(self._latest.values()) + list(self._ordered)
            self._latest.clear()
            self._ordered.clear()
        for m in pending:
            self.publish(m)

    # -- paho callbacks (its network thread) ----------------------------------------------------
    def _handle_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.errors += 1
            self._on_status("connect_failed", {"broker": self.target.display(), "reason": str(reason_code)})
            return
        self.connected = True
        self.connects += 1
        self._up.set()
        self._on_status("connected", {"broker": self.target.display(), "connects": self.connects})
        if self._on_connected is not None:
            for m in self._on_connected():
                self.publish(m)
        self._flush()

    def _handle_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        was = self.connected
        self.connected = False
        if was:
            self._on_status("disconnected", {"broker": self.target.display(), "reason": str(reason_code)})
