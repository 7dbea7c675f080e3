"""The node's HTTP OTA API from the client side (PROTOCOL.md §4): status, upload, reboot watch.

Plain http.client over real sockets (fast to import, no copies of the image): the body is sent
as memoryview slices of one bytes object in 64 KB writes, with Content-Length set, so nothing
is chunked and N parallel uploads share the same image buffer.
"""

from __future__ import annotations

import http.client
import json
import select
import socket
import time
from dataclasses import dataclass, field
from typing import Callable

CHUNK = 64 * 1024
DEFAULT_PORT = 8032


class NodeUnreachable(Exception):
    """No HTTP answer from the node (refused, timed out, reset)."""


def _parse_body(resp: http.client.HTTPResponse, raw: bytes) -> dict | str:
    ctype = resp.getheader("Content-Type") or ""
    text = raw.decode("utf-8", "replace")
    if "json" in ctype:
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def fetch_status(host: str, port: int = DEFAULT_PORT, timeout: float = 5.0,
                 conn: http.client.HTTPConnection | None = None) -> dict:
    """GET /ota/status → the JSON dict; NodeUnreachable when there is no usable answer."""
    own = conn is None
    conn = conn or http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/ota/status", headers={"Accept": "application/json"})
        resp = conn.getresponse()
        raw = resp.read()
    except (OSError, http.client.HTTPException) as exc:
        conn.close()
        raise NodeUnreachable(_net_reason(exc)) from None
    finally:
        if own:
            conn.close()
    if resp.status != 200:
        raise NodeUnreachable(f"GET /ota/status answered HTTP {resp.status}")
    try:
        body = json.loads(raw.decode("utf-8", "replace"))
    except ValueError:
        raise NodeUnreachable("GET /ota/status did not return JSON (not a RuView node?)") from None
    if not isinstance(body, dict):
        raise NodeUnreachable("GET /ota/status did not return a JSON object")
    return body


def _net_reason(exc: BaseException) -> str:
    if isinstance(exc, socket.timeout):
        return "timed out"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, ConnectionResetError):
        return "connection reset"
    if isinstance(exc, (BrokenPipeError, http.client.RemoteDisconnected)):
        return "connection closed by the node"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    return str(exc) or type(exc).__name__


def is_ours(status: dict) -> bool:
    """Our firmware reports ota_state; RuView 0.6.x does not (and has no rollback)."""
    return "ota_state" in status


@dataclass
class UploadResult:
    status: int | None             # HTTP status, None when no response was read
    body: dict | str = ""
    sent: int = 0                  # body bytes handed to the kernel
    seconds: float = 0.0
    reset: str | None = None       # network error text when the connection broke

    @property
    def ok(self) -> bool:
        return self.status == 200

    @property
    def code(self) -> str:
        return str(self.body.get("code", "")) if isinstance(self.body, dict) else ""

    @property
    def text(self) -> str:
        if isinstance(self.body, dict):
            return str(self.body.get("error") or self.body.get("message") or "")
        return self.body.strip()


def upload_image(host: str, port: int, image: bytes, psk: str | None, sha256: str,
                 timeout: float = 30.0,
                 progress: Callable[[int], None] | None = None) -> UploadResult:
    """POST /ota with the whole image; never raises for network trouble (see .reset)."""
    view = memoryview(image)
    total = len(view)
    start = time.monotonic()
    result = UploadResult(status=None)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.putrequest("POST", "/ota", skip_accept_encoding=True)
            conn.putheader("Content-Type", "application/octet-stream")
            conn.putheader("Content-Length", str(total))
            if psk:
                conn.putheader("Authorization", f"Bearer {psk}")
            conn.putheader("X-Image-SHA256", sha256)
            conn.endheaders()
            sock = conn.sock
            sent = 0
            while sent < total:
                # The node may answer (an early refusal) before it read the body: stop sending.
                if sent and select.select([sock], [], [], 0)[0]:
                    break
                n = min(CHUNK, total - sent)
                sock.sendall(view[sent:sent + n])
                sent += n
                result.sent = sent
                if progress:
                    progress(n)
        except (OSError, http.client.HTTPException) as exc:
            result.reset = _net_reason(exc)
        # Whatever happened while sending, a response may be waiting.
        try:
            resp = conn.getresponse()
            raw = resp.read()
            result.status = resp.status
            result.body = _parse_body(resp, raw)
            result.reset = None if result.status else result.reset
        except (OSError, http.client.HTTPException) as exc:
            result.reset = result.reset or _net_reason(exc)
    finally:
        conn.close()
        result.seconds = time.monotonic() - start
    return result


@dataclass
class RebootWatch:
    """What was seen after the 200: evidence of the reboot and the last status."""
    outcome: str                   # updated | rolled_back | failed | unreachable
    status: dict | None = None
    message: str = ""
    rolled_back_from: str | None = None
    seen: list[str] = field(default_factory=list)


def await_new_version(host: str, port: int, new_version: str, before: dict,
                      timeout: float = 60.0, poll_s: float = 0.2,
                      phase: Callable[[str], None] | None = None) -> RebootWatch:
    """Poll /ota/status until the node proves which firmware runs after the update.

    Reboot evidence: the keep-alive connection or a poll failed (a rebooting board drops every
    socket), uptime_s went down, or the version changed. Only after that is an old version a
    rollback; before it the node simply has not restarted yet.
    """
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection(host, port, timeout=min(5.0, max(1.0, timeout / 4)))
    old_version = str(before.get("version") or "")
    old_uptime = before.get("uptime_s")
    stale_rollback = before.get("rollback")
    rebooted = restarted = False
    last: dict | None = None
    last_error = ""
    try:
        while True:
            try:
                st = fetch_status(host, port, conn=conn)
            except NodeUnreachable as exc:
                rebooted = restarted = True  # a rebooting board drops every connection
                last_error = str(exc)
                conn.close()
                if phase:
                    phase("rebooting")
                st = None
            if st is not None:
                last = st
                version = str(st.get("version") or "")
                uptime = st.get("uptime_s")
                uptime_reset = (isinstance(uptime, int) and isinstance(old_uptime, int)
                                and uptime < old_uptime)
                restarted = restarted or uptime_reset
                if uptime_reset or version != old_version:
                    rebooted = True
                if rebooted:
                    verdict = _judge(st, new_version, stale_rollback, restarted)
                    if verdict is not None:
                        return verdict
                    if phase:
                        phase("verifying" if st.get("ota_state") == "pending_verify"
                              else "waiting for reboot")
            if time.monotonic() >= deadline:
                break
            time.sleep(poll_s)  # polling interval of a remote device, not synchronisation
    finally:
        conn.close()
    if last is None or st is None:
        return RebootWatch("unreachable", last,
                           f"the node did not come back within {timeout:g} s after accepting "
                           f"the image ({last_error or 'no answer'})")
    if str(last.get("version")) == new_version and last.get("ota_state") == "pending_verify":
        return RebootWatch("failed", last, f"{new_version} still pending_verify after "
                           f"{timeout:g} s: its self-test has not passed")
    return RebootWatch("failed", last, f"the node did not come up running {new_version} within "
                       f"{timeout:g} s (it runs {last.get('version') or 'nothing'}"
                       + (f", ota_state {last.get('ota_state')}" if is_ours(last) else "") + ")")


def _judge(st: dict, new_version: str, stale_rollback, uptime_reset: bool) -> RebootWatch | None:
    """A verdict from one post-reboot status, or None to keep polling."""
    version = str(st.get("version") or "")
    if not is_ours(st):
        return RebootWatch("updated", st, f"running {version}") if version == new_version else None
    if version == new_version:
        if st.get("ota_state") == "valid":
            return RebootWatch("updated", st, f"running {version}, self-test passed")
        return None  # pending_verify: wait for the self-test
    rollback = st.get("rollback")
    # A rollback record left by an earlier failed attempt of the same version proves nothing
    # until the node has visibly restarted.
    if rollback == new_version and (stale_rollback != new_version or uptime_reset):
        return RebootWatch("rolled_back", st,
                           f"{rollback} failed after the reboot (self-test failure or crash at "
                           f"boot); the node rolled back to {version}",
                           rolled_back_from=str(rollback))
    return None


__all__ = ["fetch_status", "upload_image", "await_new_version", "UploadResult", "RebootWatch",
           "NodeUnreachable", "is_ours", "CHUNK", "DEFAULT_PORT"]
