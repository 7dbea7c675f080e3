"""Update one node, and run a planned fleet rollout (canary, waves, halt, journal).

`update_node` is the whole life of one node's update: GET /ota/status, the image checks,
the upload, then watching the reboot until the node proves which firmware runs. Every outcome
carries a message naming the cause and, for failures, the fix.
"""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Callable, Protocol

from ruview_cli.ota import plan as P
from ruview_cli.ota.checks import check_image_for_node
from ruview_cli.ota.client import (NodeUnreachable, UploadResult, await_new_version, fetch_status,
                                   is_ours, upload_image)

NO_ROLLBACK_WARNING = ("RuView 0.6.x firmware has no rollback protection: if this image fails "
                       "at boot the node stays down until re-flashed over USB (`ruview flash`)")
NO_ROLLBACK_BOOTLOADER_WARNING = (
    "rollback_capable: false — this node's bootloader was built without app rollback (a node "
    "moved from RuView 0.6.x by OTA keeps its old bootloader): if this image fails at boot the "
    "node stays down until re-flashed over USB; one USB flash (`ruview flash`) enables rollback")
BEARER_WARNING = ("this node only knows Bearer authentication (RuView 0.6.x or ruview 0.7.0): "
                  "the OTA key crossed the network in clear; update it to firmware with "
                  "challenge-response (auth hmac-sha256)")
PROVISION_FIX = ("provision an OTA key over USB: `ruview provision --ota-psk KEY` (then pass "
                 "the same key with --psk, RUVIEW_OTA_PSK or the secrets file)")
WRONG_KEY_FIX = ("pass the key provisioned on this node: --psk, RUVIEW_OTA_PSK or "
                 "ruview.secrets.toml (or re-provision it: `ruview provision --ota-psk`)")
STATUS_FIX = "run `ruview status {node}` to see what the node runs now; it settles the version"


@dataclass
class NodeTarget:
    key: str                   # stable id in plan and journal: name, else host:port
    host: str
    port: int = 8032
    name: str | None = None
    mac: str | None = None
    address_given: bool = False  # the operator typed this address (not from the inventory)

    def to_json(self) -> dict:
        return {"key": self.key, "host": self.host, "port": self.port, "name": self.name,
                "mac": self.mac, "address_given": self.address_given}


@dataclass
class NodeResult:
    key: str
    outcome: str
    message: str = ""
    fix: str | None = None
    warning: str | None = None
    version_before: str | None = None
    version_after: str | None = None
    rolled_back_from: str | None = None
    verified: str | None = None        # how success was proven: "digest" | "version" (0.6.x)
    auth: str | None = None            # "hmac-sha256" | "bearer" (key sent in clear)
    rollback_capable: bool | None = None
    bytes_sent: int = 0
    upload_seconds: float = 0.0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass
class UpdateOptions:
    allow_downgrade: bool = False
    reinstall: bool = False
    timeout: float = 60.0          # per network step and for the post-reboot verification
    psk_for: Callable[[NodeTarget, dict], str | None] = lambda target, status: None
    # Before anything keyed is sent: None to go on, else (reason, fix) to refuse the node.
    confirm_address: Callable[[NodeTarget, dict], tuple[str, str] | None] = \
        lambda target, status: None
    # After a proven update: the node at this address is the one the inventory means.
    on_verified: Callable[[NodeTarget, dict, str], None] = lambda target, status, auth: None


class Events(Protocol):
    def phase(self, key: str, text: str) -> None: ...
    def upload_start(self, key: str, total: int) -> None: ...
    def progress(self, key: str, n: int) -> None: ...
    def done(self, result: NodeResult) -> None: ...


class NoEvents:
    def phase(self, key: str, text: str) -> None: pass
    def upload_start(self, key: str, total: int) -> None: pass
    def progress(self, key: str, n: int) -> None: pass
    def done(self, result: NodeResult) -> None: pass


def update_node(target: NodeTarget, image: bytes, info, sha256: str, options: UpdateOptions,
                events: Events | None = None) -> NodeResult:
    events = events or NoEvents()
    start = time.monotonic()
    res = _update(target, image, info, sha256, options, events)
    res.seconds = round(time.monotonic() - start, 3)
    return res


def _rollback_capable(status: dict) -> bool:
    """RuView 0.6.x has no rollback; ours says so when its bootloader lacks it (contract A)."""
    return is_ours(status) and status.get("rollback_capable") is not False


def _authorize(target: NodeTarget, status: dict, psk: str, image: bytes, sha256: str,
               timeout: float) -> tuple[str | None, str | None, NodeResult | None]:
    """(Authorization header, scheme) for this upload, or a refusal as a NodeResult."""
    from ruview_cli.ota.client import (AUTH_HMAC, bearer_authorization, fetch_nonce,
                                       hmac_authorization)

    scheme = status.get("auth")
    if scheme is None:
        return bearer_authorization(psk), "bearer", None
    if scheme != AUTH_HMAC:
        return None, None, NodeResult(
            target.key, P.FAILED, f"the node asks for OTA authentication {str(scheme)!r}, "
            "which this ruview does not know; nothing was sent",
            "update ruview (pip install -U ruview)")
    try:
        nonce = fetch_nonce(target.host, target.port, timeout=min(timeout, 10.0))
    except NodeUnreachable as exc:
        return None, None, NodeResult(target.key, P.FAILED, f"no challenge from the node "
                                      f"(GET /ota/nonce: {exc}); nothing was sent",
                                      "retry (`ruview ota --resume`)")
    return hmac_authorization(psk, nonce, sha256, len(image)), AUTH_HMAC, None


def _update(target: NodeTarget, image: bytes, info, sha256: str, options: UpdateOptions,
            events: Events) -> NodeResult:
    key = target.key
    events.phase(key, "checking")
    try:
        before = fetch_status(target.host, target.port, timeout=min(options.timeout, 10.0))
    except NodeUnreachable as exc:
        return NodeResult(key, P.UNREACHABLE, f"no answer from {target.host}:{target.port} "
                          f"(GET /ota/status: {exc})",
                          "check the node is powered and on the network (`ruview discover`)")
    old = str(before.get("version") or "")
    ours = is_ours(before)
    capable = _rollback_capable(before)
    warning = None if capable else (NO_ROLLBACK_BOOTLOADER_WARNING if ours else NO_ROLLBACK_WARNING)
    base = dict(version_before=old, version_after=old, rollback_capable=capable)
    verdict = check_image_for_node(info, before, options.allow_downgrade, options.reinstall)
    if verdict.action == "skip":
        return NodeResult(key, P.SKIPPED, verdict.reason, verdict.fix, **base)
    if verdict.action == "refuse":
        return NodeResult(key, P.FAILED, f"refused before upload: {verdict.reason}", verdict.fix,
                          **base)
    if ours and before.get("ota_state") == "pending_verify":
        return NodeResult(key, P.FAILED, f"the node still verifies {old} (ota_state "
                          "pending_verify); it accepts no update until that self-test passes",
                          "wait until `ruview status` shows it valid, then retry (--resume)",
                          **base)
    refusal = options.confirm_address(target, before)
    if refusal is not None:
        return NodeResult(key, P.FAILED, f"nothing sent: {refusal[0]}", refusal[1], **base)
    psk = options.psk_for(target, before)
    if not psk:
        return NodeResult(key, P.FAILED, "no OTA key for this node", "pass --psk, set "
                          "RUVIEW_OTA_PSK, or store it in the secrets file (`ruview provision "
                          "--ota-psk` does both)", **base)
    authorization, scheme, refused = _authorize(target, before, psk, image, sha256,
                                                options.timeout)
    if refused is not None:
        refused.version_before = refused.version_after = old
        return refused
    if scheme == "bearer":
        warning = "; ".join(w for w in (BEARER_WARNING, warning) if w)

    events.upload_start(key, len(image))
    events.phase(key, "uploading")
    up = upload_image(target.host, target.port, image, authorization, sha256,
                      timeout=options.timeout, progress=lambda n: events.progress(key, n))
    if up.status == 403 and up.code == "nonce" and scheme != "bearer":
        # The challenge expired or another client took a new one: one fresh try.
        authorization, scheme, refused = _authorize(target, before, psk, image, sha256,
                                                    options.timeout)
        if refused is not None:
            refused.version_before = refused.version_after = old
            return refused
        events.upload_start(key, len(image))
        up = upload_image(target.host, target.port, image, authorization, sha256,
                          timeout=options.timeout, progress=lambda n: events.progress(key, n))
    common = dict(version_before=old, bytes_sent=up.sent, upload_seconds=round(up.seconds, 3),
                  auth=scheme, rollback_capable=capable)
    if not up.ok:
        res = _upload_failure(target, up, old, ours, options, common)
        if scheme == "bearer":
            res.warning = BEARER_WARNING
        return res
    common["warning"] = warning  # the node took the image: now the missing rollback matters

    events.phase(key, "rebooting")
    watch = await_new_version(target.host, target.port, info.version, info.sha256, before,
                              timeout=options.timeout, phase=lambda t: events.phase(key, t))
    after = str(watch.status.get("version") or "") if watch.status else None
    if watch.outcome == P.UPDATED:
        options.on_verified(target, watch.status or {}, scheme or "")
        return NodeResult(key, P.UPDATED, f"{old} → {info.version}: {watch.message}",
                          version_after=after, verified=watch.verified, **common)
    if watch.outcome == P.ROLLED_BACK:
        return NodeResult(key, P.ROLLED_BACK, watch.message,
                          "see why the new firmware failed its self-test in the node's serial log: "
                          "`ruview logs --port PORT --reset` with the node on USB; it runs the "
                          "previous firmware meanwhile",
                          version_after=after, rolled_back_from=watch.rolled_back_from, **common)
    if watch.outcome == P.FAILED:
        return NodeResult(key, P.FAILED, watch.message, "check what the node runs with `ruview "
                          "status` and its serial log (`ruview logs --port PORT`); another client "
                          "may have updated it",
                          version_after=after, **common)
    fix = STATUS_FIX.format(node=target.name or target.host)
    if not capable:
        fix += ("; if it stays down, it cannot roll back: re-flash it over USB (`ruview flash`)")
    # unknown: no version is claimed, not even the old one
    return NodeResult(key, P.UNKNOWN, watch.message, fix, version_after=None, **common)


def _upload_failure(target: NodeTarget, up: UploadResult, old: str, ours: bool,
                    options: UpdateOptions, common: dict) -> NodeResult:
    key = target.key
    if up.status is None:
        # Connection broke. Ask the node: did it refuse (RuView 0.6.x closes before reading the
        # body) or did the network fail? Either way the old firmware still runs.
        try:
            st = fetch_status(target.host, target.port, timeout=min(options.timeout, 10.0))
        except NodeUnreachable as exc:
            return NodeResult(key, P.UNREACHABLE, f"the upload broke after {up.sent} bytes "
                              f"({up.reset}) and the node no longer answers ({exc})",
                              "check power and network, then retry with `ruview ota --resume`",
                              **common)
        now = str(st.get("version") or "")
        if ours:
            return NodeResult(key, P.FAILED, f"the upload was cut ({up.reset}) after "
                              f"{up.sent} bytes were sent; the node still runs {now}", "a network problem: retry "
                              "(`ruview ota --resume`)", version_after=now, **common)
        return NodeResult(key, P.FAILED, f"the node closed the connection during the upload "
                          f"({up.reset}) and still runs {now}: RuView 0.6.x does this when it "
                          "refuses an upload — most often a wrong or missing OTA key (403), "
                          "else a size or image error",
                          "check the OTA key (" + WRONG_KEY_FIX + "); if it is right, retry "
                          "(`ruview ota --resume`)", version_after=now, **common)
    status, code, text = up.status, up.code, up.text
    detail = f" — node says: {text}" if text else ""
    if status == 403:
        if code == "ota_disabled" or "disabled" in text.lower():
            msg, fix = "OTA is disabled on the node: no OTA key is provisioned (403)", PROVISION_FIX
        elif code == "nonce":
            msg, fix = ("the node refused the challenge twice (403 nonce: unknown, used or "
                        "expired) — another client may be updating it at the same time",
                        "make sure one `ruview ota` at a time updates this node, then retry "
                        "(`ruview ota --resume`)")
        elif code == "auth_scheme":
            msg, fix = ("the node refused Bearer authentication (403 auth_scheme): it wants "
                        "challenge-response but did not announce it in /ota/status",
                        "check the node's firmware version with `ruview status`")
        else:
            msg, fix = "the node refused the OTA key (403): the PSK is wrong", WRONG_KEY_FIX
        return NodeResult(key, P.FAILED, msg, fix, version_after=old, **common)
    if status in (400, 411, 413):
        return NodeResult(key, P.FAILED, f"the node refused the image size (HTTP {status}{', ' + code if code else ''}){detail}",
                          "build a smaller image or use a partition table with larger OTA slots",
                          version_after=old, **common)
    if status == 422:
        if code == "digest_mismatch":
            return NodeResult(key, P.FAILED, f"the image arrived corrupted (422 digest mismatch)"
                              f"{detail}", "retry; if it repeats, check the link", version_after=old,
                              **common)
        return NodeResult(key, P.FAILED, f"the node refused the image (422){detail}",
                          "check the file with `ruview image info`", version_after=old, **common)
    if status == 409 and code == "busy":
        return NodeResult(key, P.FAILED, f"the node is receiving another upload (409 busy)"
                          f"{detail}", "make sure one `ruview ota` at a time updates this "
                          "node, then retry (`ruview ota --resume`)", version_after=old, **common)
    if status == 409:
        return NodeResult(key, P.FAILED, f"the node is still verifying its previous update "
                          f"(409 pending_verify){detail}", "retry when ota_state is valid "
                          "(`ruview ota --resume`)", version_after=old, **common)
    if status == 503 and code == "rebooting":
        return NodeResult(key, P.FAILED, f"the node accepted an update a moment ago and is "
                          f"restarting (503 rebooting){detail}; nothing was written",
                          "another `ruview ota` may be updating it: check with `ruview status`, "
                          "then retry (`ruview ota --resume`)", version_after=old, **common)
    if status >= 500:
        return NodeResult(key, P.FAILED, f"the node failed to store the image (HTTP {status}){detail}",
                          "retry; if it repeats, re-flash over USB (`ruview flash`)",
                          version_after=old, **common)
    return NodeResult(key, P.FAILED, f"unexpected HTTP {status} from POST /ota{detail}",
                      "is this a RuView node? check `ruview discover`", version_after=old, **common)


@dataclass
class RolloutState:
    outcomes: dict[str, str] = field(default_factory=dict)
    results: dict[str, NodeResult] = field(default_factory=dict)
    halted: bool = False


def run_rollout(targets: dict[str, NodeTarget], waves: list[P.Wave], image: bytes, info,
                sha256: str, options: UpdateOptions, max_parallel: int = 4, halt_after: int = 1,
                journal=None, events: Events | None = None,
                failures_before: int = 0) -> RolloutState:
    """Run the waves in order; stop starting nodes once failures reach halt_after."""
    events = events or NoEvents()
    state = RolloutState(outcomes={k: P.UNTOUCHED for w in waves for k in w.nodes})
    lock = threading.Lock()
    failures = [failures_before]

    def one(key: str) -> None:
        with lock:
            if state.halted:
                return
        if journal is not None:
            journal.record(key, outcome="in_progress")
        res = update_node(targets[key], image, info, sha256, options, events)
        with lock:
            state.outcomes[key] = res.outcome
            state.results[key] = res
            if res.outcome in P.FAILURES:
                failures[0] += 1
                if P.should_halt(failures[0], halt_after):
                    state.halted = True
        if journal is not None:
            record = res.to_json()
            record.pop("key")
            journal.record(key, **record)
        events.done(res)

    pool = ThreadPoolExecutor(max_workers=max(1, max_parallel))
    try:
        for wave in waves:
            if state.halted:
                break
            list(pool.map(one, wave.nodes))
    except BaseException:
        # Ctrl-C: start no further node; uploads already running finish (a half-sent image
        # is harmless, but a node told to reboot should be watched to the end).
        with lock:
            state.halted = True
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    if journal is not None:
        for key, outcome in state.outcomes.items():
            if outcome == P.UNTOUCHED:
                journal.record(key, outcome=P.UNTOUCHED)
        journal.set(halted=state.halted)
    return state


__all__ = ["NodeTarget", "NodeResult", "UpdateOptions", "update_node", "run_rollout",
           "RolloutState", "NoEvents", "NO_ROLLBACK_WARNING", "BEARER_WARNING",
           "NO_ROLLBACK_BOOTLOADER_WARNING"]
