"""The emulated node's HTTP control/OTA server (PROTOCOL.md §4), on the node's own ip:port.

A real HTTP/1.1 server (http.server) shaped like esp_http_server: no Server/Date headers,
keep-alive, error bodies as the firmware sends them. Two flavours:

* "ruview-0.6": text error bodies (httpd_resp_send_err), and on every error the handler returns
  ESP_FAIL so esp_http_server closes the socket at once — the unread request body makes the
  kernel send a RST, so a client may see a reset instead of the status. Size limit 921600 B.
  No PSK → 403, wrong PSK → 403, Content-Length missing/0/too big → 400, bad image → 500.
* "ours": JSON error bodies `{"error": ..., "code": ...}`; after an early refusal the handler
  returns ESP_OK, so esp_http_server drains the rest of the body and the client always reads
  the status. No PSK → 403 (`ota_disabled`), wrong PSK → 403 (`auth`), no Content-Length or
  chunked → 411 (`length_required`), Content-Length 0 → 400 (`empty`), larger than the OTA slot
  → 413 (`too_large`), malformed X-Image-SHA256 → 400 (`bad_digest_header`), digest differs →
  422 (`digest_mismatch`), image refused by inspect_image → 422 (`invalid_image`, reason in
  `error`), flash failure → 500 (`write_failed`), running app still pending_verify → 409
  (`pending_verify`, as esp_ota_begin refuses then).
Success (both): 200 JSON with "status":"ok", then the node reboots about 1 s later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import selectors
import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from ruview_cli.sim.node import SimNode

CHUNK = 1024                # esp_http_server handlers read in 1 KB pieces
RECV_TIMEOUT_S = 30         # config.recv_wait_timeout in the firmware
OTA_REBOOT_DELAY_S = 1.0    # vTaskDelay(1000) before esp_restart()
NO_PSK_MESSAGE = ("OTA disabled: no ota_psk provisioned (write security/ota_psk over USB, "
                  "e.g. ruview provision --ota-psk)")
AUTH_MESSAGE = "Authentication required. Use: Authorization: Bearer <psk>"
MAX_DRAIN = 16 * 1024 * 1024
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")


class _Dropped(Exception):
    """The drop-after fault fired: the link dies mid-body."""


class _Refuse(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class NodeRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "NodeHttpServer"
    timeout = RECV_TIMEOUT_S

    # esp_http_server sends neither Server nor Date.
    def send_response(self, code: int, message: str | None = None) -> None:
        self.send_response_only(code, message)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - no access log
        return

    @property
    def node(self) -> "SimNode":
        return self.server.node

    @property
    def ours(self) -> bool:
        return self.node.flavor == "ours"

    # --- responses -------------------------------------------------------------------------

    def _send(self, status: int, body: bytes, ctype: str, close: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()  # esp_http_server announces no "Connection: close"; it just closes
        self.wfile.write(body)
        self.wfile.flush()
        if close:
            self.close_connection = True

    def _json(self, status: int, obj: Any) -> None:
        self._send(status, json.dumps(obj, separators=(",", ":")).encode(), "application/json")

    def _error(self, status: int, code: str, message: str, body_left: int = 0) -> None:
        if self.ours:
            self._json(status, {"error": message, "code": code})
            if body_left:
                self._drain(body_left)
        else:
            # httpd_resp_send_err + ESP_FAIL: text body, then the socket is closed at once.
            self._send(status, message.encode(), "text/html", close=True)

    def _drain(self, n: int) -> None:
        try:
            while n > 0:
                got = self.rfile.read(min(n, 64 * 1024))
                if not got:
                    break
                n -= len(got)
        except OSError:
            self.close_connection = True

    # --- routes ----------------------------------------------------------------------------

    def do_GET(self) -> None:  # noqa: N802
        if self.path.split("?", 1)[0] == "/ota/status":
            self._json(200, self.node.status())
        elif self.path.split("?", 1)[0] == "/ota":
            self._not_allowed()
        else:
            self._not_found()

    def do_POST(self) -> None:  # noqa: N802
        path = self.path.split("?", 1)[0]
        if path == "/ota":
            self._ota()
        elif path == "/ota/status":
            self._not_allowed()
        else:
            self._not_found()

    def _not_found(self) -> None:
        length = self._content_length() or 0
        self._send(404, b"This URI does not exist", "text/html")
        self._drain(length)

    def _not_allowed(self) -> None:
        length = self._content_length() or 0
        self._send(405, b"Request method for this URI is not handled by server", "text/html")
        self._drain(length)

    def _content_length(self) -> int | None:
        raw = self.headers.get("Content-Length")
        if raw is None:
            return None
        try:
            value = int(raw.strip())
        except ValueError:
            return -1
        return value

    # --- OTA -------------------------------------------------------------------------------

    def _check_auth(self) -> None:
        psk = self.node.ota_psk
        if not psk:
            raise _Refuse(403, "ota_disabled", NO_PSK_MESSAGE)
        header = self.headers.get("Authorization") or ""
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        if token is None or not hmac.compare_digest(token.encode(), psk.encode()):
            raise _Refuse(403, "auth", AUTH_MESSAGE)

    def _ota(self) -> None:
        node = self.node
        length = self._content_length()
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        try:
            self._check_auth()
            limit = node.max_size
            if self.ours and node.ota_state == "pending_verify":
                # esp_ota_begin refuses (ESP_ERR_OTA_ROLLBACK_INVALID_STATE) until the running
                # app has confirmed itself.
                raise _Refuse(409, "pending_verify",
                              "the running app has not passed its self-test yet; retry when "
                              "/ota/status shows ota_state valid")
            if self.ours:
                if length is None or chunked:
                    raise _Refuse(411, "length_required",
                                  "Content-Length required (chunked uploads are not supported)")
                if length <= 0:
                    raise _Refuse(400, "empty", "empty upload: Content-Length is 0")
                if length > limit:
                    raise _Refuse(413, "too_large",
                                  f"image of {length} bytes exceeds the OTA slot ({limit} bytes)")
                want = (self.headers.get("X-Image-SHA256") or "").strip()
                if want and not _HEX64.match(want):
                    raise _Refuse(400, "bad_digest_header",
                                  "X-Image-SHA256 must be 64 hex digits")
            else:
                want = ""
                if length is None or chunked or length <= 0 or length > limit:
                    raise _Refuse(400, "size", "Invalid firmware size (must be 1B - 900KB)")
        except _Refuse as refuse:
            # ours drains what the client sends (bounded) so it reads the status; a chunked or
            # absurdly long body is not drained — the connection is closed instead.
            drain = length if length and 0 < length <= MAX_DRAIN and not chunked else 0
            self._error(refuse.status, refuse.code, refuse.message, body_left=drain)
            if self.ours and (chunked or (length and length > MAX_DRAIN)):
                self.close_connection = True
            return

        session = node.ota_begin()
        digest = hashlib.sha256()
        received = 0
        try:
            received = self._receive(session, length, digest)
        except _Dropped:
            session.abort()
            self._reset_connection()
            return
        except OSError:
            session.abort()
            self.close_connection = True
            return
        if received < length:  # client closed early: esp_ota_abort, "Receive error"
            session.abort()
            if self.ours:
                self._error(500, "receive_error", f"Receive error at byte {received}")
            else:
                self._error(500, "receive_error", "Receive error")
            self.close_connection = True
            return
        if want and digest.hexdigest().lower() != want.lower():
            session.abort()
            self._error(422, "digest_mismatch",
                        f"X-Image-SHA256 mismatch: received image hashes to {digest.hexdigest()}")
            return
        from ruview_cli.ota.image import ImageError

        try:
            info = session.finish()
        except ImageError as exc:
            if self.ours:
                self._error(422, "invalid_image", exc.message)
            else:
                self._error(500, "invalid_image", "OTA validation failed")
            return
        except Exception as exc:  # flash trouble: the firmware answers 500
            session.abort()
            self._error(500, "write_failed", f"OTA write failed: {exc}")
            return
        if self.ours:
            self._json(200, {"status": "ok", "version": info.version,
                             "next_partition": session.partition.name,
                             "message": "OTA update successful. Rebooting..."})
        else:
            self._json(200, {"status": "ok", "message": "OTA update successful. Rebooting..."})
        node.schedule_reboot("sw", node.ota_reboot_delay_s)

    def _receive(self, session: Any, length: int, digest: Any) -> int:
        node = self.node
        drop_at = node.take_drop_fault()
        rate = node.faults.throttle_kbps
        start = time.monotonic()
        total = 0
        while total < length:
            want = min(CHUNK, length - total)
            if drop_at is not None and total + want > drop_at:
                want = drop_at - total
                if want <= 0:
                    raise _Dropped()
            chunk = self.rfile.read(want)
            if not chunk:
                break
            session.write(chunk)
            digest.update(chunk)
            total += len(chunk)
            if rate:
                ahead = total / (rate * 1024.0) - (time.monotonic() - start)
                if ahead > 0:
                    time.sleep(ahead)  # the throttled link itself, not synchronisation
            if drop_at is not None and total >= drop_at:
                raise _Dropped()
        return total

    def _reset_connection(self) -> None:
        """Kill the TCP connection with a RST, like a link that dies mid-upload."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
        except OSError:
            pass


class NodeHttpServer(ThreadingHTTPServer):
    """One node's server; remembers open connections so a reboot can cut them."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 16

    def __init__(self, node: "SimNode", ip: str, port: int):
        self.node = node
        self._conns: set[socket.socket] = set()
        self._conns_lock = threading.Lock()
        super().__init__((ip, port), NodeRequestHandler)
        self._thread: threading.Thread | None = None

    def process_request(self, request, client_address):  # type: ignore[override]
        with self._conns_lock:
            self._conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):  # type: ignore[override]
        with self._conns_lock:
            self._conns.discard(request)
        super().shutdown_request(request)

    def start(self) -> None:
        # A wake-up socketpair instead of serve_forever's 0.5 s polling: no idle wake-ups for
        # 50 nodes, and stop() returns at once.
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(target=self._serve, name=f"http-{self.server_address[0]}",
                                        daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        with selectors.DefaultSelector() as sel:
            sel.register(self.socket, selectors.EVENT_READ)
            sel.register(self._wake_r, selectors.EVENT_READ)
            while True:
                for key, _ in sel.select():
                    if key.fileobj is self._wake_r:
                        return
                    self._handle_request_noblock()

    def stop(self) -> None:
        """Stop accepting, cut open connections (a rebooting board drops them all)."""
        if self._thread is not None:
            self._wake_w.send(b"x")
            self._thread.join(timeout=5)
            self._thread = None
            self._wake_r.close()
            self._wake_w.close()
        self.server_close()
        with self._conns_lock:
            conns = list(self._conns)
            self._conns.clear()
        for conn in conns:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def start_http(node: "SimNode", ip: str, port: int) -> NodeHttpServer:
    from ruview_cli.errors import RuviewError

    try:
        server = NodeHttpServer(node, ip, port)
    except OSError as exc:
        raise RuviewError(f"node {node.index}: cannot listen on {ip}:{port}: {exc.strerror}",
                          "another process (or sim) uses this address; stop it, or give this "
                          "fleet other addresses with `ruview sim --first-host N`") from None
    server.start()
    return server


__all__ = ["NodeHttpServer", "start_http", "OTA_REBOOT_DELAY_S", "NO_PSK_MESSAGE",
           "AUTH_MESSAGE"]
