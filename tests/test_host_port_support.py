"""Helpers for the host-port tests (no tests here): a flash file, a running firmware process
with its UART and link captured, and plain HTTP against it."""

from __future__ import annotations

import hashlib
import http.client
import json
import threading
import time
from pathlib import Path

from ruview_cli.config.nvs import NvsValue
from ruview_cli.sim.firmware_build import MAIN, firmware_binary
from ruview_cli.sim.firmware_proc import FirmwareProcess
from ruview_cli.sim.node import build_node_flash

HTTP_PORT = 8032


def default_nvs(**csi) -> dict:
    values = {"node_id": NvsValue("u8", 7), "ssid": NvsValue("str", "lab-ap"),
              "target_ip": NvsValue("str", "127.0.0.1")}
    values.update(csi)
    return {"csi_cfg": values, "security": {"ota_psk": NvsValue("str", "psk-for-tests")}}


def make_flash(tmp_path: Path, version: str = "1.2.3", nvs: dict | None = None,
               name: str = "flash.bin"):
    """(path, FlashImage) of an 8 MB flash as `idf.py flash` leaves it, saved to a file."""
    flash = build_node_flash(version, nvs=default_nvs() if nvs is None else nvs)
    path = tmp_path / name
    flash.save(path)
    return path, flash


def build_app(body: str, includes: str = "") -> Path:
    """A firmware whose app_main.c is `body` (the rest of main/ and the port unchanged)."""
    src = ('#include "esp_log.h"\n#include "esp_err.h"\n' + includes +
           "\nvoid app_main(void)\n{\n" + body + "\n}\n")
    return firmware_binary(replace={"app_main.c": src})


def app_main_source() -> str:
    return (MAIN / "app_main.c").read_text()


class Node:
    """One boot of a firmware binary on a flash file, UART and link captured."""

    def __init__(self, binary: Path, flash: Path, ip: str, slot: str = "ota_0",
                 reset_reason: str = "poweron", mac: str = "aa:bb:cc:dd:ee:01"):
        self.ip = ip
        self._out = bytearray()
        self._msgs: list[dict] = []
        self._cv = threading.Condition()
        self.proc = FirmwareProcess(binary, flash, slot, ip, mac, reset_reason, HTTP_PORT,
                                    self._on_output, self._on_message)
        self.proc.start()

    def _on_output(self, data: bytes) -> None:
        with self._cv:
            self._out += data
            self._cv.notify_all()

    def _on_message(self, msg: dict) -> None:
        with self._cv:
            self._msgs.append(msg)
            self._cv.notify_all()

    @property
    def output(self) -> str:
        with self._cv:
            return self._out.decode(errors="replace")

    @property
    def messages(self) -> list[dict]:
        with self._cv:
            return list(self._msgs)

    def wait_output(self, text: str, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        with self._cv:
            while text.encode() not in self._out:
                left = end - time.monotonic()
                if left <= 0 or not self.proc.running and self.proc.wait(0) is not None:
                    return text.encode() in self._out
                self._cv.wait(min(left, 0.1))
            return True

    def wait_message(self, pred, timeout: float = 10.0) -> dict | None:
        end = time.monotonic() + timeout
        with self._cv:
            while True:
                for m in self._msgs:
                    if pred(m):
                        return m
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self._cv.wait(min(left, 0.1))

    def associate(self, channel: int = 6) -> None:
        """Answer the firmware's connect as the emulated AP does."""
        assert self.wait_message(lambda m: m.get("op") == "connect"), self.output
        self.proc.send({"t": "wifi", "ev": "connected", "channel": channel, "rssi": -48,
                        "bssid": "11:22:33:44:55:66"})
        self.proc.send({"t": "wifi", "ev": "got_ip"})

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict | None = None, timeout: float = 10.0):
        conn = http.client.HTTPConnection(self.ip, HTTP_PORT, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, resp.read()
        finally:
            conn.close()

    def get_json(self, path: str) -> dict:
        status, body = self.request("GET", path)
        assert status == 200, (status, body)
        return json.loads(body)

    def wait_http(self, timeout: float = 10.0) -> None:
        end = time.monotonic() + timeout
        while True:
            try:
                self.request("GET", "/ota/status", timeout=2)
                return
            except OSError:
                if time.monotonic() > end or not self.proc.running:
                    raise AssertionError(f"HTTP server never came up:\n{self.output}")
                time.sleep(0.05)

    def close(self) -> int | None:
        self.proc.stop()
        return self.proc.wait(10)


def image_sha256(image: bytes) -> str:
    return hashlib.sha256(image).hexdigest()


def run_until(binary: Path, flash: Path, ip: str, text: str, **kwargs):
    """Boot, wait for `text` on the UART, stop. Returns (node, it was still running)."""
    node = Node(binary, flash, ip, **kwargs)
    try:
        assert node.wait_output(text), node.output
        alive = node.proc.wait(0) is None
    finally:
        node.close()
    return node, alive


def run_to_exit(binary: Path, flash: Path, ip: str, timeout: float = 10.0, **kwargs):
    """Boot and wait for the process to end by itself. Returns (node, exit status or None)."""
    node = Node(binary, flash, ip, **kwargs)
    try:
        code = node.proc.wait(timeout)
    finally:
        node.close()
    return node, code
