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
PROVISION_FIX = ("provision an OTA key over USB: `ruview provision --ota-psk KEY` (then pass "
                 "the same key with --psk, RUVIEW_OTA_PSK or the secrets file)")
WRONG_KEY_FIX = ("pass the key provisioned on this node: --psk, RUVIEW_OTA_PSK or "
                 "ruview.secrets.toml (or re-provision it: `ruview provision --ota-psk`)")


@dataclass
class NodeTarget:
    key: str                   # stable id in plan and journal: name, else host:port
    host: str
    port: int = 8032
    name: str | None = None
    mac: str | None = None

    def to_json(self) -> dict:
        return {"key": self.key, "host": self.host, "port": self.port, "name": self.name,
                "mac": self.mac}


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
    warning = None if ours else NO_ROLLBACK_WARNING
    verdict = check_image_for_node(info, before, options.allow_downgrade, options.reinstall)
    if verdict.action == "skip":
        return NodeResult(key, P.SKIPPED, verdict.reason, verdict.fix, version_before=old,
                          version_after=old)
    if verdict.action == "refuse":
        return NodeResult(key, P.FAILED, f"refused before upload: {verdict.reason}", verdict.fix,
                          version_before=old, version_after=old)
    if ours and before.get("ota_state") == "pending_verify":
        return NodeResult(key, P.FAILED, f"the node still verifies {old} (ota_state "
                          "pending_verify); it accepts no update until that self-test passes",
                          "wait until `ruview discover` shows it valid, then retry (--resume)",
                          version_before=old, version_after=old)
    psk = options.psk_for(target, before)
    if not psk:
        return NodeResult(key, P.FAILED, "no OTA key for this node", "pass --psk, set "
                          "RUVIEW_OTA_PSK, or store it in the secrets file (`ruview provision "
                          "--ota-psk` does both)", version_before=old, version_after=old)

    events.upload_start(key, len(image))
    events.phase(key, "uploading")
    up = upload_image(target.host, target.port, image, psk, sha256, timeout=options.timeout,
                      progress=lambda n: events.progress(key, n))
    common = dict(version_before=old, bytes_sent=up.sent, upload_seconds=round(up.seconds, 3))
    if not up.ok:
        return _upload_failure(target, up, old, ours, options, common)
    common["warning"] = warning  # the node took the image: now the missing rollback matters

    events.phase(key, "rebooting")
    watch = await_new_version(target.host, target.port, info.version, before,
                              timeout=options.timeout, phase=lambda t: events.phase(key, t))
    after = str(watch.status.get("version") or "") if watch.status else None
    if watch.outcome == P.UPDATED:
        return NodeResult(key, P.UPDATED, f"{old} → {info.version}: {watch.message}",
                          version_after=after, **common)
    if watch.outcome == P.ROLLED_BACK:
        return NodeResult(key, P.ROLLED_BACK, watch.message,
                          "look at the node's log (serial) for why the new firmware failed its "
                          "self-test; the node runs the previous firmware",
                          version_after=after, rolled_back_from=watch.rolled_back_from, **common)
    if watch.outcome == P.UNREACHABLE:
        fix = ("re-flash it over USB (`ruview flash`): RuView 0.6.x cannot roll back"
               if not ours else "power-cycle the node and check `ruview discover`")
        return NodeResult(key, P.UNREACHABLE, watch.message, fix, version_after=after, **common)
    return NodeResult(key, P.FAILED, watch.message, "check the node's serial log",
                      version_after=after, **common)


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
    if status == 409:
        return NodeResult(key, P.FAILED, f"the node is still verifying its previous update "
                          f"(409 pending_verify){detail}", "retry when ota_state is valid "
                          "(`ruview ota --resume`)", version_after=old, **common)
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
           "RolloutState", "NoEvents", "NO_ROLLBACK_WARNING"]
