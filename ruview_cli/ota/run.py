"""One `ruview ota` run: image, targets or the journal's rollout, plan, keys, journal, results.

The CLI parses options into an `OtaRequest`, calls `prepare` (everything checked before any
network I/O: the image, the targets, the plan), shows the plan, then calls `execute`, and renders
the `RunResult`. No UI here.

Plan settings (canary, wave, max_parallel, halt_after) come from the command line, else — on
--resume — from the journal, else the defaults; `Prepared.plan_sources` says which for each, so
the plan shown can say so. A resume retries the nodes that failed first, as the canary.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruview_cli.errors import RuviewError, UsageError
from ruview_cli.ota import plan as P

MAX_IMAGE_BYTES = 16 * 1024 * 1024
PLAN_DEFAULTS = {"canary": 1, "wave": "25%", "max_parallel": 4, "halt_after": 1}


@dataclass
class OtaRequest:
    image: str | None = None
    targets: list[str] = field(default_factory=list)
    group: str | None = None
    all_: bool = False
    resume: bool = False
    psk: str | None = None
    allow_downgrade: bool = False
    reinstall: bool = False
    timeout: float = 60.0
    journal_file: str | None = None
    accept_new_address: bool = False
    # Plan settings: None = not given (the journal's on --resume, else the default).
    canary: int | None = None
    wave: str | None = None
    max_parallel: int | None = None
    halt_after: int | None = None


@dataclass
class LoadedImage:
    path: Path
    data: bytes
    info: Any          # ImageInfo
    sha256: str        # of the whole file: the upload body (X-Image-SHA256)

    def to_json(self) -> dict:
        return dict(self.info.to_json(), path=str(self.path))


@dataclass
class Prepared:
    request: OtaRequest
    image: LoadedImage
    targets: dict[str, Any]          # key -> NodeTarget
    waves: list[P.Wave]
    done_before: dict[str, dict]     # --resume: journal records of nodes already done
    plan: dict[str, Any]             # canary, wave, max_parallel, halt_after
    plan_sources: dict[str, str]     # setting -> "flag" | "journal" | "default"
    journal_path: Path

    @property
    def todo(self) -> list[str]:
        return [k for w in self.waves for k in w.nodes]


@dataclass
class RunResult:
    prepared: Prepared
    nodes: list[dict]                # journal records, in rollout order
    halted: bool
    exit_code: int

    @property
    def summary(self) -> dict[str, int]:
        return {o: sum(1 for n in self.nodes if n.get("outcome") == o) for o in P.OUTCOMES}


def read_image(path: str) -> LoadedImage:
    """Read and inspect an application image; UsageError/ImageError naming the cause."""
    from ruview_cli.ota.image import inspect_image

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"no such image file: {path}", "pass build/<project>.bin from `idf.py build`")
    size = p.stat().st_size
    if size > MAX_IMAGE_BYTES:
        raise UsageError(f"{path} is {size} bytes: no ESP32-S3 app slot is that large",
                         "pass the application image (build/<project>.bin), not a merged flash image")
    try:
        data = p.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}", "check the path and permissions") from None
    info = inspect_image(data)
    return LoadedImage(p.resolve(), data, info, hashlib.sha256(data).hexdigest())


def _plan_settings(req: OtaRequest, stored: dict | None) -> tuple[dict, dict]:
    settings, sources = {}, {}
    for name, default in PLAN_DEFAULTS.items():
        given = getattr(req, name)
        if given is not None:
            settings[name], sources[name] = given, "flag"
        elif stored is not None and stored.get(name) is not None:
            settings[name], sources[name] = stored[name], "journal"
        else:
            settings[name], sources[name] = default, "default"
    return settings, sources


def _targets_from_inventory(req: OtaRequest) -> list:
    """NodeTargets for TARGETs / --group / --all. The inventory holds adopted nodes only:
    discovery lists new nodes and moved addresses without writing them (issue 11.18)."""
    from ruview_cli.inventory import Inventory
    from ruview_cli.ota.rollout import NodeTarget

    resolved = Inventory.load().resolve(req.targets, group=req.group, all_=req.all_)
    given = set(req.targets)
    return [NodeTarget(t.label, t.host, t.port, t.name, t.mac,
                       address_given=t.host in given or f"{t.host}:{t.port}" in given)
            for t in resolved]


# Ranges of the numeric options, checked here (not by the option parser) so that a bad value
# is a UsageError like every other failure, and `--json` reports it as JSON.
_RANGES = {"max_parallel": (1, 64), "canary": (0, None), "halt_after": (0, None),
           "timeout": (1.0, None)}


def _check_ranges(req: OtaRequest) -> None:
    for name, (lo, hi) in _RANGES.items():
        value = getattr(req, name)
        if value is not None and (value < lo or (hi is not None and value > hi)):
            flag = "--" + name.replace("_", "-")
            want = f"{lo} to {hi}" if hi is not None else f"{lo} or more"
            raise UsageError(f"{flag} {value} is out of range", f"give {flag} {want}")
    if req.wave is not None:
        P.parse_wave_size(req.wave, 1)  # a bad spec is an error even when no wave needs it


def prepare(req: OtaRequest) -> Prepared:
    """Check everything that needs no network: image, targets or journal, plan."""
    _check_ranges(req)
    from ruview_cli.ota.journal import Journal, journal_path
    from ruview_cli.ota.rollout import NodeTarget

    jpath = journal_path(req.journal_file)
    done_before: dict[str, dict] = {}
    if req.resume:
        if req.targets or req.group or req.all_:
            raise UsageError("--resume takes the nodes from the journal",
                             "drop the TARGET/--group/--all arguments, or start a new rollout")
        old = Journal.load(jpath)
        image = read_image(req.image or old.data["image"]["path"])
        if image.sha256 != old.data["image"]["sha256"]:
            raise UsageError(f"{image.path} is not the image of the journal's rollout "
                             f"({old.data['image']['version']}, sha256 "
                             f"{old.data['image']['sha256'][:12]}…)",
                             "pass the same IMAGE, or start a new rollout without --resume")
        nodes = [NodeTarget(n["key"], n["host"], n["port"], n.get("name"), n.get("mac"),
                            address_given=bool(n.get("address_given"))) for n in old.nodes]
        outcomes = {n["key"]: n.get("outcome", P.UNTOUCHED) for n in old.nodes}
        done_before = {n["key"]: n for n in old.nodes if outcomes[n["key"]] in P.DONE}
        remaining = P.remaining_nodes([n.key for n in nodes], outcomes)
        failed = [k for k in remaining if outcomes[k] != P.UNTOUCHED]  # incl. in_progress
        # The nodes that failed go first, as the canary: they halt the resume again if the
        # cause is still there, before any untouched node is sent anything.
        todo = failed + [k for k in remaining if k not in failed]
        plan, sources = _plan_settings(req, old.data.get("options"))
        if failed and req.canary is None:
            plan["canary"] = max(int(plan["canary"]), len(failed))
            sources["canary"] = "resume: failed nodes first"
    else:
        if req.image is None:
            raise UsageError("no IMAGE given", "ruview ota build/ruview.bin TARGET... (or --resume)")
        if not req.targets and not req.group and not req.all_:
            raise UsageError("no nodes given", "name TARGETs, or use --group G or --all")
        image = read_image(req.image)
        nodes = _targets_from_inventory(req)
        todo = [n.key for n in nodes]
        plan, sources = _plan_settings(req, None)
    waves = P.plan_rollout(todo, canary=int(plan["canary"]), wave=plan["wave"],
                           max_parallel=int(plan["max_parallel"]))
    return Prepared(req, image, {n.key: n for n in nodes}, waves, done_before, plan, sources,
                    jpath)


class KeySource:
    """The OTA key for a node: --psk, else $RUVIEW_OTA_PSK, else the secrets store (the
    node's own key by MAC, else the fleet key). Loaded once, never printed."""

    def __init__(self, psk: str | None):
        self.explicit = psk or os.environ.get("RUVIEW_OTA_PSK") or None
        self._secrets: Any = None
        self._loaded = False

    def __call__(self, target, status: dict) -> str | None:
        if self.explicit:
            return self.explicit
        if not self._loaded:
            self._loaded = True
            from ruview_cli.inventory import Secrets

            try:
                self._secrets = Secrets.load()
            except RuviewError:
                self._secrets = None
        if self._secrets is None:
            return None
        return self._secrets.ota_key_for(target.mac or status.get("mac"))


class AddressGuard:
    """Refuses to send anything keyed to a node whose address is not confirmed (issue 11.17)."""

    def __init__(self, accept_new_address: bool):
        from ruview_cli.ota.trust import TrustRecord

        self.accept = accept_new_address
        self.trust = TrustRecord()

    def check(self, target, status: dict) -> tuple[str, str] | None:
        from ruview_cli.ota.client import AUTH_HMAC

        if not target.mac:
            return None  # an address the operator typed: nothing to compare with
        name = target.name or target.mac
        where = f"{target.host}:{target.port}"
        reported = str(status.get("mac") or "").lower().replace("-", ":")
        if reported and reported != target.mac.lower():
            return (f"the node at {where} reports MAC {reported}, but {name} is "
                    f"{target.mac} in the inventory: it is another device",
                    "find the node's current address with `ruview discover` and fix it with "
                    f"`ruview nodes set {name} --ip ADDR`")
        if self.accept:
            return None
        known = self.trust.address(target.mac)
        if known is not None and known != (target.host, target.port) \
                and not target.address_given:
            if status.get("auth") == AUTH_HMAC and reported:
                return None  # the key never leaves this machine; a proven update confirms it
            return (f"{name} last proved its identity at {known[0]}:{known[1]}, its inventory "
                    f"address is now {where}, and the node there would be sent the OTA key "
                    "in clear (Bearer) — it may be an impostor",
                    f"check that {target.host} is your node (its serial log or your DHCP "
                    "server), then run again with --accept-new-address")
        if self.trust.auth(target.mac) == AUTH_HMAC and status.get("auth") != AUTH_HMAC:
            return (f"{name} answered the HMAC challenge last time, but the node at {where} "
                    "now asks for the OTA key in clear (Bearer) — an impostor, or older "
                    "firmware flashed since",
                    f"check that {target.host} is your node and what it runs (`ruview status "
                    f"{name}`), then run again with --accept-new-address")
        return None

    def verified(self, target, status: dict, auth: str) -> None:
        if not target.mac:
            return
        reported = str(status.get("mac") or "").lower().replace("-", ":")
        if reported and reported != target.mac.lower():
            return
        try:
            self.trust.verified(target.mac, target.host, target.port, auth or "unknown")
        except (RuviewError, OSError):
            pass  # best effort: next time the address must be confirmed again


def execute(prep: Prepared, events=None) -> RunResult:
    """Run the planned rollout, journal every node, write proven versions to the inventory."""
    from ruview_cli.ota.journal import Journal
    from ruview_cli.ota.rollout import UpdateOptions, run_rollout

    req = prep.request
    image = prep.image
    guard = AddressGuard(req.accept_new_address)
    options_json = dict(prep.plan, allow_downgrade=req.allow_downgrade,
                        reinstall=req.reinstall, timeout=req.timeout)
    records = [prep.done_before.get(k) or dict(t.to_json(), outcome=P.UNTOUCHED)
               for k, t in prep.targets.items()]
    journal = Journal.create(prep.journal_path,
                             {"path": str(image.path), "sha256": image.sha256,
                              "version": image.info.version, "size": len(image.data)},
                             options_json, records)
    options = UpdateOptions(allow_downgrade=req.allow_downgrade, reinstall=req.reinstall,
                            timeout=req.timeout, psk_for=KeySource(req.psk),
                            confirm_address=guard.check, on_verified=guard.verified)
    state = run_rollout(prep.targets, prep.waves, image.data, image.info, image.sha256, options,
                        max_parallel=int(prep.plan["max_parallel"]),
                        halt_after=int(prep.plan["halt_after"]), journal=journal, events=events)
    remember_versions([(prep.targets[k], r.version_after) for k, r in state.results.items()
                       if r.outcome in (P.UPDATED, P.ROLLED_BACK) and r.version_after])
    outcomes = {n["key"]: n["outcome"] for n in journal.nodes}
    return RunResult(prep, journal.nodes, state.halted, P.exit_code(outcomes))


def remember_versions(proven: list[tuple[Any, str]]) -> None:
    """Write versions a node proved it runs into the inventory (best effort, by MAC)."""
    proven = [(t, v) for t, v in proven if getattr(t, "mac", None)]
    if not proven:
        return
    try:
        from ruview_cli.inventory import Inventory

        inv = Inventory.load()
        changed = False
        for target, version in proven:
            entry = inv.get(target.mac)
            if entry is not None and entry.version != version:
                inv.upsert(target.mac, version=version)
                changed = True
        if changed:
            inv.save()
    except RuviewError:
        pass


__all__ = ["OtaRequest", "Prepared", "RunResult", "LoadedImage", "read_image", "prepare",
           "execute", "remember_versions", "KeySource", "AddressGuard", "PLAN_DEFAULTS"]
