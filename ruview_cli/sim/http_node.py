"""The emulated node's HTTP control/OTA server (PROTOCOL.md §4), on the node's own ip:port.

A real HTTP/1.1 server (http.server) shaped like esp_http_server: no Server/Date headers,
keep-alive, error bodies as the firmware sends them. Two flavours:

* "ruview-0.6": text error bodies (httpd_resp_send_err), and on every error the handler returns
  ESP_FAIL so esp_http_server closes the socket at once — the unread request body makes the
  kernel send a RST, so a client may see a reset instead of the status. Size limit 921600 B.
  No PSK → 403, wrong PSK → 403, Content-Length missing/0/too big → 400, bad image → 500.
* "ours": answers exactly as firmware/main/http_ota.c + ota_admission.c do, per the table in
  docs/protocol.md §5 (tests/test_http_contract.py checks both against it): JSON error bodies
  `{"error": ..., "code": ...}`; HMAC-SHA256 challenge-response (GET /ota/nonce, one
  outstanding single-use nonce, 60 s), Bearer refused (403 `auth_scheme`); every refusal is
  decided from the headers before the body is read; a refused body is discarded only up to
  16 KiB (RV_OTA_DRAIN_MAX), anything longer closes the connection; one upload at a time
  (409 `busy`); after a 200 every upload gets 503 `rebooting`.
Success (both): 200 JSON with "status":"ok", then the node reboots about 1 s later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
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
AUTH_MESSAGE = "Authentication required. Use: Authorization: Bearer <psk>"  # RuView 0.6.x
HMAC_AUTH_MESSAGE = ("Authentication required: Authorization: RV-HMAC-SHA256 nonce=<32 hex>, "
                     "mac=<64 hex> (HMAC-SHA256 of the request with the OTA key)")
MAX_DRAIN = 16 * 1024 * 1024    # RuView 0.6.x: the server purges what it can
DRAIN_MAX_OURS = 16 * 1024      # firmware/main/ota_admission.h RV_OTA_DRAIN_MAX
NONCE_TTL_S = 60                # firmware/main/ota_auth.h RV_NONCE_TTL_S
MAC_CONTEXT = "ruview-ota-v1"
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}$")
_LOWER_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_HMAC_AUTH = re.compile(r"^RV-HMAC-SHA256 +nonce=([0-9a-f]{32}), *mac=([0-9a-f]{64}) *$")

# Human text of each refusal (the "code" and status are the contract; the text is advice).
_OURS_TEXT = {
    "ota_disabled": NO_PSK_MESSAGE,
    "auth_scheme": ("Bearer is refused: the key must not cross the network. Use GET /ota/nonce "
                    "and Authorization: RV-HMAC-SHA256 nonce=<hex>, mac=<hex> (ruview >= 0.8)"),
    "auth": HMAC_AUTH_MESSAGE,
    "length_required": "Content-Length required (chunked uploads are not supported)",
    "bad_digest_header": "X-Image-SHA256 must be 64 lowercase hex digits (it is part of the MAC)",
    "nonce": "nonce unknown, used or expired: fetch a new one from GET /ota/nonce",
    "rebooting": ("an update was just accepted and the node is restarting; retry after it is "
                  "back"),
    "busy": "another upload is in progress",
    "pending_verify": ("the running app has not passed its self-test yet; retry when "
                       "/ota/status shows ota_state valid"),
    "empty": "empty upload: Content-Length is 0",
    "write_failed": "no OTA slot to write to",
    "too_large": "image exceeds the OTA slot (max_size in /ota/status)",
}


class _Dropped(Exception):
    """The drop-after fault fired: the link dies mid-body."""


class _FlashError(Exception):
    """esp_ota_write failed: the firmware answers 500 write_failed and closes."""


class _Refuse(Exception):
    def __init__(self, status: int, code: str, message: str | None = None):
        message = message if message is not None else _OURS_TEXT.get(code, code)
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.received = 0   # body bytes read before the refusal


class NonceStore:
    """firmware/main/ota_auth.c: one outstanding nonce, single use, expires after 60 s."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._nonce: str | None = None
        self._expires = 0.0

    def issue(self) -> str:
        nonce = secrets.token_hex(16)
        with self._lock:
            self._nonce, self._expires = nonce, time.monotonic() + NONCE_TTL_S
        return nonce

    def take(self, given: str | None) -> bool:
        """Every POST /ota consumes the outstanding nonce, whatever its outcome."""
        with self._lock:
            nonce, self._nonce = self._nonce, None
            fresh = time.monotonic() < self._expires
        return (nonce is not None and given is not None and fresh
                and hmac.compare_digest(nonce, given))


def ota_mac(key: str, nonce: str, sha256_hex: str, length: int) -> str:
    """Contract A's MAC (docs/protocol.md §5)."""
    msg = f"{MAC_CONTEXT}\n{nonce}\n{sha256_hex}\n{length}".encode()
    return hmac.new(key.encode(), msg, hashlib.sha256).hexdigest()


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
            self._json(200, self._status())
        elif self.path.split("?", 1)[0] == "/ota/nonce" and self.ours:
            self._json(200, {"nonce": self.server.nonces.issue(), "ttl_s": NONCE_TTL_S})
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

    def _status(self) -> dict:
        status = self.node.status()
        if self.ours:
            # firmware/main/http_ota.c status_get: contract A and issue 10's fields. The
            # emulated radio feeds no CSI callback here, so the rate gate dropped nothing.
            status.update({"auth": "hmac-sha256", "chip_revision": self.node.chip_rev,
                           "rollback_capable": self.node.rollback_enabled, "csi_dropped": 0})
        return status

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

    def _check_bearer(self) -> None:
        """RuView 0.6.x: the PSK in clear."""
        psk = self.node.ota_psk
        if not psk:
            raise _Refuse(403, "ota_disabled", NO_PSK_MESSAGE)
        header = self.headers.get("Authorization") or ""
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        if token is None or not hmac.compare_digest(token.encode(), psk.encode()):
            raise _Refuse(403, "auth", AUTH_MESSAGE)

    def _admit_ours(self, length: int | None, chunked: bool) -> str:
        """firmware/main/ota_admission.c rv_ota_admit, same order; returns the digest hex."""
        node, server = self.node, self.server
        psk = node.ota_psk
        header = self.headers.get("Authorization")
        m = _HMAC_AUTH.match(header or "")
        # every POST consumes the outstanding nonce, whatever happens next
        nonce_ok = server.nonces.take(m.group(1) if m else None)
        want = self.headers.get("X-Image-SHA256") or ""
        if not psk:
            raise _Refuse(403, "ota_disabled")
        if header is not None and header.startswith("Bearer "):
            raise _Refuse(403, "auth_scheme")
        if m is None:
            raise _Refuse(403, "auth")
        if length is None or length < 0 or chunked:
            raise _Refuse(411, "length_required")
        if not _LOWER_HEX64.match(want):
            raise _Refuse(400, "bad_digest_header")
        if not nonce_ok:
            raise _Refuse(403, "nonce")
        if not hmac.compare_digest(ota_mac(psk, m.group(1), want, length), m.group(2)):
            raise _Refuse(403, "auth")
        if server.rebooting:
            raise _Refuse(503, "rebooting")
        if server.upload_lock.locked():
            raise _Refuse(409, "busy")
        if node.ota_state == "pending_verify":
            # esp_ota_begin refuses (ESP_ERR_OTA_ROLLBACK_INVALID_STATE) until the running
            # app has confirmed itself; the firmware asks before reading the body.
            raise _Refuse(409, "pending_verify")
        if length == 0:
            raise _Refuse(400, "empty")
        if node.max_size <= 0:
            raise _Refuse(500, "write_failed")
        if length > node.max_size:
            raise _Refuse(413, "too_large")
        return want

    def _admit_06(self, length: int | None, chunked: bool) -> None:
        self._check_bearer()
        if length is None or chunked or length <= 0 or length > self.node.max_size:
            raise _Refuse(400, "size", "Invalid firmware size (must be 1B - 900KB)")

    def _refuse_ours(self, refuse: _Refuse, unread: int | None, chunked: bool) -> None:
        """http_ota.c refuse(): answer, then discard at most DRAIN_MAX_OURS or close."""
        close = chunked or unread is None or unread < 0 or unread > DRAIN_MAX_OURS
        self._json(refuse.status, {"error": refuse.message, "code": refuse.code})
        if close:
            self.close_connection = True
        elif unread:
            self._drain(unread)

    def _ota(self) -> None:
        node = self.node
        length = self._content_length()
        chunked = "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()
        try:
            if self.ours:
                want = self._admit_ours(length, chunked)
            else:
                want = ""
                self._admit_06(length, chunked)
        except _Refuse as refuse:
            if self.ours:
                self._refuse_ours(refuse, length, chunked)
            else:
                self._error(refuse.status, refuse.code, refuse.message)
            return
        if self.ours:
            if not self.server.upload_lock.acquire(blocking=False):
                self._refuse_ours(_Refuse(409, "busy"), length, chunked)
                return
            try:
                self._receive_and_install(length, want)
            finally:
                self.server.upload_lock.release()
        else:
            self._receive_and_install(length, want)

    def _receive_and_install(self, length: int, want: str) -> None:
        node = self.node
        digest = hashlib.sha256()
        sessions: list = []   # esp_ota_begin happens on the first chunk (http_ota.c)
        try:
            received = self._receive(sessions, length, digest)
        except _Refuse as refuse:   # first byte not 0xE9: flash untouched
            self._refuse_ours(refuse, length - refuse.received, False)
            return
        except _FlashError as exc:
            sessions[0].abort()
            self._error(500, "write_failed", f"OTA write failed: {exc}")
            self.close_connection = True
            return
        except (_Dropped, OSError) as exc:
            for session in sessions:
                session.abort()
            if isinstance(exc, _Dropped):
                self._reset_connection()
            self.close_connection = True
            return
        session = sessions[0] if sessions else None
        if received < length or session is None:
            # client closed early: esp_ota_abort; ours closes without an answer (ESP_FAIL)
            if session is not None:
                session.abort()
            if not self.ours:
                self._error(500, "receive_error", "Receive error")
            self.close_connection = True
            return
        got = digest.hexdigest()
        if want and got != want:
            session.abort()
            self._error(422, "digest_mismatch",
                        f"X-Image-SHA256 mismatch: received image hashes to {got}")
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
            self.server.rebooting = True   # from here on every upload is refused
            self._json(200, {"status": "ok", "version": info.version,
                             "next_partition": session.partition.name, "size": length,
                             "sha256": got, "message": "OTA update successful. Rebooting..."})
        else:
            self._json(200, {"status": "ok", "message": "OTA update successful. Rebooting..."})
        node.schedule_reboot("sw", node.ota_reboot_delay_s)

    def _receive(self, sessions: list, length: int, digest: Any) -> int:
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
            if not sessions:
                if self.ours and chunk[0] != 0xE9:
                    refuse = _Refuse(422, "invalid_image",
                                     "not an ESP application image: first byte is not 0xE9")
                    refuse.received = len(chunk)
                    raise refuse
                sessions.append(node.ota_begin())
            try:
                sessions[0].write(chunk)
            except OSError as exc:
                raise _FlashError(str(exc)) from None
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
        # RAM state of one boot of the firmware (a reboot starts a new server)
        self.nonces = NonceStore()
        self.upload_lock = threading.Lock()
        self.rebooting = False
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
           "AUTH_MESSAGE", "ota_mac", "NONCE_TTL_S", "DRAIN_MAX_OURS"]
