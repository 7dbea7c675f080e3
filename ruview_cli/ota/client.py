"""The node's HTTP OTA API from the client side (PROTOCOL.md §4): status, upload, reboot watch.

Plain http.client over real sockets (fast to import, no copies of the image): the body is sent
as memoryview slices of one bytes object in 64 KB writes, with Content-Length set, so nothing
is chunked and N parallel uploads share the same image buffer.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import re
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


AUTH_HMAC = "hmac-sha256"
HMAC_CONTEXT = "ruview-ota-v1"


def fetch_nonce(host: str, port: int = DEFAULT_PORT, timeout: float = 5.0) -> str:
    """GET /ota/nonce → the node's single-use challenge (32 lowercase hex digits)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/ota/nonce", headers={"Accept": "application/json"})
        resp = conn.getresponse()
        raw = resp.read(4096)
    except (OSError, http.client.HTTPException) as exc:
        raise NodeUnreachable(_net_reason(exc)) from None
    finally:
        conn.close()
    if resp.status != 200:
        raise NodeUnreachable(f"GET /ota/nonce answered HTTP {resp.status}")
    try:
        nonce = json.loads(raw.decode("utf-8", "replace")).get("nonce")
    except (ValueError, AttributeError):
        nonce = None
    if not isinstance(nonce, str) or not _NONCE.match(nonce):
        raise NodeUnreachable("GET /ota/nonce did not return a nonce of 32 hex digits")
    return nonce


_NONCE = re.compile(r"^[0-9a-f]{32}$")


def hmac_authorization(key: str, nonce: str, sha256_hex: str, length: int) -> str:
    """The RV-HMAC-SHA256 header of docs/protocol.md: proves the key without sending it,
    bound to this nonce, these exact bytes (digest) and this length."""
    msg = f"{HMAC_CONTEXT}\n{nonce}\n{sha256_hex}\n{length}".encode("ascii")
    mac = hmac.new(key.encode("utf-8"), msg, hashlib.sha256).hexdigest()
    return f"RV-HMAC-SHA256 nonce={nonce}, mac={mac}"


def bearer_authorization(key: str) -> str:
    """RuView 0.6.x (and our 0.7.0): the key itself, in clear."""
    return f"Bearer {key}"


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


def upload_image(host: str, port: int, image: bytes, authorization: str | None, sha256: str,
                 timeout: float = 30.0,
                 progress: Callable[[int], None] | None = None) -> UploadResult:
    """POST /ota with the whole image; never raises for network trouble (see .reset).

    `authorization` is the whole Authorization header value (hmac_authorization() or
    bearer_authorization()); `sha256` the body's digest (X-Image-SHA256)."""
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
            if authorization:
                conn.putheader("Authorization", authorization)
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
    outcome: str                   # updated | rolled_back | failed | unknown
    status: dict | None = None
    message: str = ""
    rolled_back_from: str | None = None
    verified: str | None = None    # "digest" (our firmware) | "version" (RuView 0.6.x)


def await_new_version(host: str, port: int, new_version: str, new_digest: str, before: dict,
                      timeout: float = 60.0, poll_s: float = 0.2,
                      phase: Callable[[str], None] | None = None) -> RebootWatch:
    """Poll /ota/status until the node proves which firmware runs after the update.

    Our firmware: success means the node runs exactly the bytes sent — app_sha256 equals
    `new_digest` (the image's SHA-256) and ota_state is valid. RuView 0.6.x reports no digest:
    the version string is all there is ("version only").
    Reboot evidence: the keep-alive connection or a poll failed (a rebooting board drops every
    socket) or uptime_s went down. Only after that does another image running mean the update
    did not stay; before it the node simply has not restarted yet. When the deadline passes
    without a verdict the outcome is unknown: the node may still come up on either image.
    """
    deadline = time.monotonic() + timeout
    conn = http.client.HTTPConnection(host, port, timeout=min(5.0, max(1.0, timeout / 4)))
    old_uptime = before.get("uptime_s")
    # Reinstalling the exact image that runs: its digest proves nothing until a restart.
    old_digest = str(before.get("app_sha256") or "").lower()
    same_image = old_digest == new_digest.lower()
    restarted = False
    last: dict | None = None        # the last status seen after the restart
    last_error = ""
    try:
        while True:
            try:
                st = fetch_status(host, port, conn=conn)
            except NodeUnreachable as exc:
                restarted = True  # a rebooting board drops every connection
                last_error = str(exc)
                conn.close()
                if phase:
                    phase("rebooting")
                st = None
            if st is not None:
                uptime = st.get("uptime_s")
                if isinstance(uptime, int) and isinstance(old_uptime, int) and uptime < old_uptime:
                    restarted = True
                if st.get("ota_state") == "pending_verify":
                    restarted = True  # only a freshly booted new image verifies itself
                if restarted:
                    last = st
                verdict = _judge(st, new_version, new_digest.lower(), old_digest,
                                 restarted) if restarted or not same_image else None
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
    if last is None and restarted:
        return RebootWatch("unknown", None, f"unknown: not seen after {timeout:g} s (it went "
                           f"down to restart and did not come back: {last_error})")
    if last is None:
        return RebootWatch("unknown", None, f"unknown: the node took the image but did not "
                           f"restart within {timeout:g} s; it may still restart into it")
    if is_ours(last) and str(last.get("app_sha256") or "").lower() == new_digest.lower():
        return RebootWatch("unknown", last, f"unknown: the new image still verifies itself "
                           f"(ota_state {last.get('ota_state')}) after {timeout:g} s; it may "
                           "still pass its self-test or roll back")
    return RebootWatch("unknown", last, f"unknown: after {timeout:g} s the node runs "
                       f"{last.get('version') or 'nothing'}, not the image sent")


def _short(digest: str) -> str:
    return (digest[:12] + "…") if digest else "none"


def _judge(st: dict, new_version: str, new_digest: str, old_digest: str,
           restarted: bool) -> RebootWatch | None:
    """A verdict from one status seen after the upload, or None to keep polling."""
    version = str(st.get("version") or "")
    if not is_ours(st):
        if version == new_version:
            return RebootWatch("updated", st, f"running {version} (version only: RuView 0.6.x "
                               "reports no image digest)", verified="version")
        return None
    digest = str(st.get("app_sha256") or "").lower()
    if digest == new_digest:
        if st.get("ota_state") == "valid":
            return RebootWatch("updated", st, f"running {version}, the exact image sent "
                               "(SHA-256 matches), self-test passed", verified="digest")
        return None  # pending_verify: wait for the self-test
    if not restarted:
        return None  # the old app answers until the node restarts
    if old_digest and digest != old_digest:
        return RebootWatch("failed", st, f"after the reboot the node runs {version or 'nothing'} "
                           f"(sha256 {_short(digest)}): neither the image sent "
                           f"({_short(new_digest)}) nor the one before ({_short(old_digest)})")
    rollback = st.get("rollback")
    return RebootWatch("rolled_back", st,
                       f"the image sent ({new_version}, sha256 {_short(new_digest)}) did not "
                       f"stay (a self-test failure or a crash at boot): the node rolled back to "
                       f"{version or 'nothing'} (sha256 {_short(digest)})"
                       + (f", rollback: {rollback}" if rollback else ""),
                       rolled_back_from=new_version)


__all__ = ["fetch_status", "fetch_nonce", "hmac_authorization", "bearer_authorization",
           "AUTH_HMAC", "upload_image", "await_new_version", "UploadResult", "RebootWatch",
           "NodeUnreachable", "is_ours", "CHUNK", "DEFAULT_PORT"]
