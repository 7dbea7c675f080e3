"""A real Mosquitto broker for tests: own config, own loopback address, stopped afterwards."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

from conftest import need_system

MOSQUITTO = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if os.path.exists("/usr/sbin/mosquitto") else None)


def require_mosquitto() -> str:
    """The broker binary; without it the test is skipped, and under CI it fails."""
    need_system("mosquitto", MOSQUITTO is not None, "mosquitto")
    return MOSQUITTO


class Mosquitto:
    def __init__(self, host: str, workdir: Path, port: int = 1883, extra: str = "",
                 anonymous: bool = True):
        self.host, self.port = host, port
        self.conf = workdir / f"mosquitto-{host}-{port}.conf"
        # Started as root, mosquitto drops to user "mosquitto", who cannot read pytest's 0700
        # temp dirs: keep the current user.
        user = "user root\n" if os.geteuid() == 0 else ""
        self.conf.write_text(
            f"listener {port} {host}\nallow_anonymous {'true' if anonymous else 'false'}\n"
            f"persistence false\n{user}log_dest stderr\nlog_type error\nlog_type warning\n{extra}")
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> "Mosquitto":
        self.proc = subprocess.Popen([require_mosquitto(), "-c", str(self.conf)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"mosquitto exited: {self.proc.stderr.read()}")
            try:
                socket.create_connection((self.host, self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __enter__(self) -> "Mosquitto":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Subscriber:
    """A paho client collecting every message under some filters, in arrival order."""

    def __init__(self, broker: Mosquitto, *filters: str):
        import threading

        import paho.mqtt.client as mqtt

        self.messages: list = []
        self._cond = threading.Condition()
        self._subscribed = threading.Event()
        c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        c.on_message = self._on_message
        c.on_connect = lambda cl, u, f, rc, p: cl.subscribe([(t, 1) for t in filters])
        c.on_subscribe = lambda *a: self._subscribed.set()
        c.connect(broker.host, broker.port, 30)
        c.loop_start()
        assert self._subscribed.wait(10), "test subscriber could not subscribe"
        self.client = c

    def _on_message(self, _c, _u, msg) -> None:
        with self._cond:
            self.messages.append(msg)
            self._cond.notify_all()

    def wait_for(self, pred, timeout: float = 30.0):
        """The first message matching pred, waiting up to timeout; None if none came."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for m in self.messages:
                    if pred(m):
                        return m
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def topics(self) -> set[str]:
        with self._cond:
            return {m.topic for m in self.messages}

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()
