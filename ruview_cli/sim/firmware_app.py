"""One boot of the host-built firmware (firmware/main) on an emulated node: the board around it.

The bootloader (sim/bootloader.py) has picked a slot; this runs that boot's firmware process
(FirmwareProcess, contract B) and plays every part of the board that is not the firmware:

* UART0: the process's stdout/stderr go to the node's serial console as they come.
* The WiFi radio, answering the link: `connect` is answered with `connected` + `got_ip` (the
  emulated AP accepts any SSID: the password never crosses the link), `disconnect` with a
  `disconnected` event (reason 8, WIFI_REASON_ASSOC_LEAVE, as esp_wifi_disconnect() gives),
  `set_channel` moves the radio. CSI frames of the node's scenario are delivered while the
  firmware has CSI enabled and the station is connected, on the current channel.
* mDNS: the firmware's hostname/service/stop requests are published through the emulator's
  zeroconf advertiser (nothing published under the mdns-silent fault).
* The end of the boot: `{"t":"restart"}` then exit 0 is esp_restart(); death by a signal is a
  panic, or what the port's `{"t":"panic","reason":...}` right before it named (task_wdt). Either way the
  node reboots through the bootloader with the matching reset reason, so a pending-verify image
  that dies is rolled back by the bootloader exactly as on a board, and an image that dies on
  every boot with nothing to roll back to crash-loops as a board does.

Faults act on the board, never on a second copy of the firmware's logic:
* selftest-fail: while the booted image is pending verification the radio delivers no CSI, so
  the firmware's own self-test fails and its own rollback runs.
* crash-loop: an image that boots for the first time after an OTA while the fault is set
  panics (SIGABRT) shortly after every start: what a bad build does.
* slow-reboot, drop-after, throttle: the board is down longer, the link to the HTTP server is
  cut or slowed (sim/http_link.py); the firmware sees what it would see.
* udp-loss: told to the host port's lwIP ({"t":"fault","name":"udp-loss","percent":P}), which
  drops that share of outgoing datagrams.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from typing import Any

from ruview_cli.sim.otadata import PENDING_VERIFY

AP_CHANNEL = 6
AP_RSSI = -48
AP_BSSID = "34:85:18:00:00:01"
WIFI_REASON_ASSOC_LEAVE = 8
CRASH_AFTER_S = 0.3          # crash-loop fault: the bad image dies this long after it starts
READY_POLL_S = 0.02
MDNS_WAIT_S = 2.0
# esp_reset_reason names the firmware takes; an EN-pin reset (esptool's hard reset) reads as a
# power-on reset on the ESP32-S3.
_FIRMWARE_REASONS = {"poweron", "sw", "panic", "int_wdt", "task_wdt", "brownout", "unknown"}


def firmware_reason(reason: str) -> str:
    if reason == "ext":
        return "poweron"
    return reason if reason in _FIRMWARE_REASONS else "unknown"


def _listening(ip: str, port: int) -> bool:
    try:
        with socket.create_connection((ip, port), timeout=0.2):
            return True
    except OSError:
        return False


class FirmwareApp:
    """The firmware process of one boot of `node`, and the board's answers to it."""

    def __init__(self, node: Any, choice: Any, binary: Any, app_port: int):
        self.node = node
        self.choice = choice
        self.binary = binary
        self.app_port = app_port
        self.pending = choice.state == PENDING_VERIFY
        # a bad image crashes at every boot, until the fault is lifted
        self.crashing = node.faults.crash_loop and choice.info.sha256 in node.crashing_images
        self.restart_reason: str | None = None
        self.panic_reason = "panic"
        self.channel = AP_CHANNEL
        self.wifi_up = False
        self.csi_on = False
        self.ready = False
        self.status: dict = {}
        self._radio_on = False
        self._radio_lock = threading.Lock()
        self._mdns_seen = threading.Event()
        self._mdns_host = ""
        self._stopping = False
        self._lock = threading.Lock()
        self.proc: Any = None

    # -- life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        from ruview_cli.sim.firmware_proc import FirmwareProcess

        node = self.node
        self.proc = FirmwareProcess(
            self.binary, str(node.flash.path), self.choice.partition.name, node.ip,
            node.mac.hex(":"), firmware_reason(node.reset_reason), self.app_port,
            on_output=self._on_output, on_message=self._on_message)
        self.proc.start()
        if node.faults.udp_loss:
            # Telemetry loss happens in the network: the host port's lwIP drops that share of
            # the datagrams it is asked to send.
            self.send({"t": "fault", "name": "udp-loss",
                       "percent": round(node.faults.udp_loss * 100.0, 3)})
        threading.Thread(target=self._watch, name=f"fw-{node.index}", daemon=True).start()

    def stop(self) -> None:
        """Power is cut (reboot, download mode, shutdown): the process dies where it is."""
        with self._lock:
            self._stopping = True
        self._radio(False)
        if self.proc is not None:
            try:
                self.proc.stop(signal.SIGKILL)
            except ProcessLookupError:
                pass

    def _watch(self) -> None:
        proc, node = self.proc, self.node
        crash_at = time.monotonic() + CRASH_AFTER_S if self.crashing else None
        status = None
        while status is None:
            status = proc.wait(READY_POLL_S if not self.ready or crash_at else None)
            if status is not None:
                break
            if crash_at is not None and time.monotonic() >= crash_at:
                crash_at = None
                node._console(b"Guru Meditation Error: Core  1 panic'ed (LoadProhibited). "
                              b"Exception was unhandled.\r\n")
                proc.stop(signal.SIGABRT)
            elif not self.ready and _listening(node.ip, self.app_port):
                self.ready = True
                self._first_status()
                node._app_up(self)
        with self._lock:
            if self._stopping:
                return
        self._radio(False)
        node._app_exited(self, status, self._exit_reason(status))

    def _first_status(self) -> None:
        """Once HTTP answers: wait briefly for the firmware's mDNS request (it registers right
        after starting HTTP), and read /ota/status once, as a client would, for the fleet's
        description of the node."""
        import http.client
        import json

        node = self.node
        if node.advertiser is not None and not node.faults.mdns_silent:
            self._mdns_seen.wait(MDNS_WAIT_S)
        conn = http.client.HTTPConnection(node.ip, self.app_port, timeout=2)
        try:
            conn.request("GET", "/ota/status")
            reply = conn.getresponse()
            if reply.status == 200:
                self.status = json.loads(reply.read())
        except (OSError, ValueError, http.client.HTTPException):
            self.status = {}
        finally:
            conn.close()

    def _exit_reason(self, status: int) -> str | None:
        """The reset reason of the next boot, or None when the process did not end as a board
        does (an emulator problem: the node halts instead of looping)."""
        if status == 0:
            return self.restart_reason or "sw"
        if status < 0:   # the port names the cause on the link right before SIGABRT
            return self.panic_reason if self.panic_reason in _FIRMWARE_REASONS else "panic"
        return None

    # -- UART0 -----------------------------------------------------------------------------
    def _on_output(self, data: bytes) -> None:
        self.node._console(data)

    # -- the link --------------------------------------------------------------------------
    def send(self, msg: dict) -> None:
        with self._lock:
            if self._stopping:
                return
        try:
            self.proc.send(msg)
        except OSError:  # the process is gone; its exit is handled by _watch
            pass

    def _on_message(self, msg: dict) -> None:
        kind, op = msg.get("t"), msg.get("op")
        if kind == "wifi":
            self._wifi(op, msg)
        elif kind == "csi":
            self.csi_on = op == "enable"
            self._radio(self.csi_on and self.wifi_up)
        elif kind == "mdns":
            self._mdns(op, msg)
        elif kind == "restart":
            self.restart_reason = str(msg.get("reason") or "sw")
        elif kind == "panic":
            self.panic_reason = str(msg.get("reason") or "panic")

    def _wifi(self, op: Any, msg: dict) -> None:
        if op == "connect":
            self.send({"t": "wifi", "ev": "connected", "channel": self.channel,
                       "rssi": AP_RSSI, "bssid": AP_BSSID})
            self.send({"t": "wifi", "ev": "got_ip"})
            self.wifi_up = True
        elif op == "disconnect":
            self.wifi_up = False
            self.send({"t": "wifi", "ev": "disconnected", "reason": WIFI_REASON_ASSOC_LEAVE})
        elif op == "set_channel":
            try:
                self.channel = int(msg.get("channel"))
            except (TypeError, ValueError):
                pass
            return
        self._radio(self.csi_on and self.wifi_up)

    def _mdns(self, op: Any, msg: dict) -> None:
        node = self.node
        adv = node.advertiser
        if adv is None or node.faults.mdns_silent:
            return
        if op == "hostname":
            self._mdns_host = str(msg.get("value") or "")
        elif op == "service":
            instance = str(msg.get("instance") or "")
            stype = f"{msg.get('type')}.{msg.get('proto')}.local."
            txt = {str(k): str(v) for k, v in dict(msg.get("txt") or {}).items()}
            node.mdns_name = f"{instance}.{stype}" if stype.endswith("_tcp.local.") \
                else node.mdns_name
            adv.publish(id(node), stype, instance, f"{self._mdns_host}.local.", node.ip,
                        node.http_port, txt)
            self._mdns_seen.set()
        elif op == "stop":
            adv.withdraw(id(node))

    # -- the radio -------------------------------------------------------------------------
    def _radio(self, on: bool) -> None:
        node = self.node
        radio = node.radio
        with self._radio_lock:
            if radio is None or on == self._radio_on:
                return
            self._radio_on = on
            if on:
                radio.attach(node, deliver=self._deliver_csi)
            else:
                radio.detach(node)

    def _deliver_csi(self, frame: Any) -> None:
        node = self.node
        # selftest-fail: no CSI reaches an image that still awaits its verdict (checked live,
        # so clearing the fault lets the self-test pass).
        if self.pending and node.faults.selftest_fail and node.ota_state == "pending_verify":
            return
        self.send({"t": "csi", "ts_us": frame.timestamp_us, "rssi": frame.rssi,
                   "noise_floor": frame.noise_floor, "channel": self.channel, "sig_mode": 1,
                   "cwb": 0, "first_word_invalid": False, "iq": frame.iq.hex()})


__all__ = ["FirmwareApp", "firmware_reason"]
