"""Provisioning one board over USB: the library behind `ruview provision` (and the demo).

The steps are the ones of issue 5, in order, each named so a failure says where it stopped:

  validate  every value (flags and profile) against the schema — nothing touches the device
  connect   esptool session: chip, revision, MAC; refuse a chip the firmware does not run on
  read      the current NVS partition, parsed; merge flags > profile > device values
  confirm   the diff (old → new, secrets masked), asked unless yes=True
  write     the image built by Espressif's generator, written at 0x9000
  verify    read back: byte for byte, and parsed to the same values
  reset     the node restarts with the new configuration (hard reset; `reset_node=False`: the
            loader hands over to the app without a reset pulse). Whatever happens — no change,
            a failure, a dry run with a port — the board is never left in its serial loader
  wait      (optional) the node's telemetry shows the new node_id / edge tier
  inventory the node (MAC, node_id, port, chip, config without secrets) in the fleet file

Writing NVS replaces the whole partition, so every key the node holds and the command does not
mention is carried over — including keys this tool does not know.
"""

from __future__ import annotations

import errno
import os
import secrets as _secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ruview_cli.config import schema
from ruview_cli.errors import EXIT_FAILED, RuviewError, UsageError

NVS_OFFSET = 0x9000
NVS_SIZE = 0x6000
STEPS = ("validate", "connect", "read", "confirm", "write", "verify", "reset", "wait", "inventory")

_STEP_FIX = {
    "connect": "nothing was written; check the cable and the port, then run the command again",
    "read": "nothing was written; run the command again",
    "write": ("the node keeps a readable configuration (the previous one, or the new one if the "
              "write got far enough): check with `ruview config show --port PORT`, then run the "
              "same command again"),
    "verify": ("the new image was written but could not be confirmed: run `ruview config show "
               "--port PORT` to see what the node holds, and provision again if it differs"),
    "reset": "the configuration is written; press the board's RESET button to apply it",
    "wait": ("the configuration is written and verified; check the node's WiFi (ssid/password) "
             "and that the collector address (target_ip/target_port) is reachable"),
}


class ProvisionError(RuviewError):
    """A failure at a named step, with what to do next."""

    def __init__(self, step: str, message: str, fix: str | None = None, exit_code: int = EXIT_FAILED):
        super().__init__(f"{step} failed: {message}", fix or _STEP_FIX.get(step), exit_code)
        self.step = step


@dataclass
class Change:
    key: str
    old: Any   # stored value (None = not set on the node)
    new: Any
    firmware: str = schema.FIRMWARE_OURS

    def row(self, show_secrets: bool = False) -> tuple[str, str, str]:
        """(key, now, new) cells; "(x)" = not stored, the node's firmware default x applies."""
        k = schema.BY_NAME[self.key]
        default = k.default_for(self.firmware)

        def cell(v) -> str:
            if v is not None:
                return k.show(v, show_secrets)
            return f"({k.show(default)})" if default is not None else "-"

        new = cell(self.new)
        if k.secret and not show_secrets and self.old is not None and self.new is not None:
            new = "<changed>"
        return self.key, cell(self.old), new

    def to_json(self, show_secrets: bool = False) -> dict:
        k = schema.BY_NAME[self.key]
        if k.secret and not show_secrets:
            return {"key": self.key, "old": None if self.old is None else "<set>",
                    "new": None if self.new is None else "<set>", "secret": True}
        return {"key": self.key, "old": k.human(self.old), "new": k.human(self.new), "secret": k.secret}


@dataclass
class ProvisionResult:
    port: str | None
    mac: str | None = None
    chip: str | None = None
    revision: str | None = None
    app: Any = None                  # device.running_app.RunningApp the board boots, if read
    firmware: str = schema.FIRMWARE_OURS   # whose rules the values were read with
    diff: list[Change] = field(default_factory=list)
    config: dict = field(default_factory=dict)       # merged stored values (includes secrets!)
    psk_generated: bool = False
    psk_source: str | None = None    # "command" | "node" | "secrets" | "generated"
    secrets_path: str | None = None
    written: bool = False
    verified: bool = False
    reset: bool = False
    after: str | None = None      # how the serial session ended: "hard-reset" | "run-app"
    online: bool | None = None                      # --wait outcome (None = not asked)
    dry_run_path: str | None = None
    diff_only: bool = False
    dropped: list[str] = field(default_factory=list)   # device entries that could not be kept
    warnings: list[str] = field(default_factory=list)
    image: bytes | None = None

    def public_config(self, show_secrets: bool = False) -> dict:
        return schema.redact(self.config, show_secrets)

    def to_json(self, show_secrets: bool = False) -> dict:
        """The stable --json record of one provisioned port."""
        return {
            "port": self.port, "mac": self.mac, "chip": self.chip, "revision": self.revision,
            "app": self.app.to_json() if self.app else None, "firmware": self.firmware,
            "changes": [c.to_json(show_secrets) for c in self.diff],
            "config": self.public_config(show_secrets),
            "written": self.written, "verified": self.verified, "reset": self.reset,
            "after": self.after,
            "online": self.online, "psk_generated": self.psk_generated,
            "psk_source": self.psk_source,
            "secrets_path": self.secrets_path, "dry_run_path": self.dry_run_path,
            "diff_only": self.diff_only,
            "dropped": self.dropped, "warnings": self.warnings,
        }

    def __repr__(self) -> str:  # config holds secrets
        return (f"ProvisionResult(port={self.port!r}, mac={self.mac!r}, written={self.written}, "
                f"changes={[c.key for c in self.diff]})")


def validate(changes: dict[str, Any], profile: str | None = None) -> dict[str, Any]:
    """Step 1: flags (human units) over profile → stored values. UsageError on anything bad."""
    stored: dict[str, Any] = {}
    if profile:
        from ruview_cli.config.profiles import load_profile

        stored.update(load_profile(profile).stored)
    flags = schema.parse_changes(changes)
    stored.update(flags)
    problems = schema.check_consistency(stored)
    if problems:
        raise UsageError("; ".join(problems), "fix the values; nothing was written")
    return stored


def _writable_extra(extra: dict, result: ProvisionResult) -> dict:
    """Device entries the schema does not know, minus those the generator cannot write."""
    from ruview_cli.config.nvs import _check

    keep: dict[str, dict] = {}
    for ns, entries in extra.items():
        for key, v in entries.items():
            try:
                _check(ns, key, v)
            except UsageError:
                result.dropped.append(f"{ns}.{key}")
                continue
            keep.setdefault(ns, {})[key] = v
    return keep


def diff(old: dict[str, Any], new: dict[str, Any],
         firmware: str = schema.FIRMWARE_OURS) -> list[Change]:
    return [Change(k.key, old.get(k.key), new.get(k.key), firmware) for k in schema.KEYS
            if old.get(k.key) != new.get(k.key)]


def _store_psk(mac: str | None, psk: str, inventory_path: Path | None) -> str:
    """Keep the node's OTA key as its own (per-MAC) entry of the secrets store (contract A)."""
    from ruview_cli.inventory import Secrets, secrets_path

    path = secrets_path(inventory_path)
    sec = Secrets.load(path)   # save() merges under the store's lock: parallel ports keep theirs
    if sec.ota_key_for(mac) != psk:
        sec.set_ota_key(mac, psk)
        sec.save()
    return str(path)


def _stored_keys(mac: str, inventory_path: Path | None) -> tuple[str | None, str | None]:
    """(this node's own key, the key `ota` would use for it) from the secrets store. The fleet
    key is never a node's own: a node without a key gets a fresh one, so one leaked key opens
    one node."""
    try:
        from ruview_cli.inventory import Secrets, secrets_path

        sec = Secrets.load(secrets_path(inventory_path))
    except RuviewError:
        return None, None
    used = sec.ota_key_for(mac)
    return (used if used is not None and used != sec.ota_key_for(None) else None), used


def provision_port(
    port: str | None,
    changes: dict[str, object],
    *,
    yes: bool = True,
    reset_node: bool = True,
    profile: str | None = None,
    reset_config: bool = False,
    dry_run: str | os.PathLike | None = None,
    force: bool = False,
    diff_only: bool = False,
    baud: int | None = None,
    stub: bool = True,
    any_chip: bool = False,
    wait: float | None = None,
    record: bool = True,
    inventory_path: Path | None = None,
    confirm: Callable[[ProvisionResult], bool] | None = None,
    on_step: Callable[[str], None] | None = None,
    sink=None,
) -> ProvisionResult:
    """Provision the board on `port` with `changes` ({schema key: human value}).

    yes=False asks `confirm(result)` (result.diff filled in) before writing; a refusal writes
    nothing. dry_run=PATH writes the image to PATH instead of the device (see
    write_private_file; force=True allows a non-regular PATH); with port=None it builds from
    defaults + profile + changes without a board. diff_only=True stops after the diff: nothing
    is written anywhere (device, file, secrets store, inventory).
    Raises UsageError (exit 2) for bad values, ProvisionError (names the step) otherwise.
    """
    from ruview_cli.config.nvs import NvsReadStats, build_nvs, read_nvs

    def step(name: str) -> None:
        if on_step:
            on_step(name)

    step("validate")
    wanted = validate(changes, profile)
    result = ProvisionResult(port=port)

    session = None
    device = schema.DecodedConfig({}, {}, {})
    try:
        if port is not None:
            from ruview_cli.device.session import EspSession, check_chip

            step("connect")
            session = EspSession(port, baud=baud, stub=stub, sink=sink,
                                 after="hard-reset" if reset_node else "run-app")
            try:
                info = session.connect()
            except RuviewError as exc:
                raise ProvisionError("connect", exc.message, exc.fix) from exc
            result.mac, result.chip, result.revision = info.mac, info.chip, info.revision
            check_chip(info, any_chip)

            step("read")
            try:
                result.app = session.running_app()
                current = session.read_nvs(NVS_OFFSET, NVS_SIZE)
            except RuviewError as exc:
                raise ProvisionError("read", exc.message) from exc
            result.firmware = firmware_rules(result.app, result.warnings)
            stats = NvsReadStats()
            device = schema.from_nvs(read_nvs(current, stats), result.firmware)
            if stats.entries_skipped or stats.pages_skipped:
                result.warnings.append(
                    f"the node's NVS had {stats.entries_skipped} unreadable entries and "
                    f"{stats.pages_skipped} unreadable pages; they are not carried over")
            for name, why in device.ignored.items():
                result.warnings.append(f"{name} on the node is ignored by the firmware ({why}); "
                                       "it is replaced")

        base = {} if reset_config else dict(device.stored)
        merged = {**base, **wanted}
        extra = {} if reset_config else _writable_extra(device.extra, result)
        problems = schema.check_consistency(merged)
        if problems:
            raise UsageError("; ".join(problems), "fix the values; nothing was written")

        own, used = _stored_keys(result.mac, inventory_path) if result.mac else (None, None)
        if "ota_psk" in wanted:
            result.psk_source = "command"
        elif merged.get("ota_psk"):
            result.psk_source = "node"
        elif own and schema.BY_NAME["ota_psk"].valid_stored(own):
            merged["ota_psk"] = own      # the node lost its NVS (e.g. flash --erase-config)
            result.psk_source = "secrets"
            from ruview_cli.inventory import secrets_path

            result.secrets_path = str(secrets_path(inventory_path))
        else:
            merged["ota_psk"] = _secrets.token_hex(32)
            result.psk_generated = True
            result.psk_source = "generated"
        # the key `ota` will use for this node must be the one it holds
        store_key = bool(result.mac) and used != merged["ota_psk"]
        result.config = merged
        result.diff = diff(device.stored, merged, result.firmware)

        image = build_nvs(schema.to_nvs(merged, extra), NVS_SIZE)
        # the generator's output must parse back to exactly what we mean to write
        if schema.from_nvs(read_nvs(image), result.firmware).stored != merged:
            raise ProvisionError("validate", "the generated NVS image does not decode to the "
                                 "requested values", "report this as a bug; nothing was written")
        result.image = image

        if diff_only:
            result.diff_only = True
            return result    # --diff: shown, nothing written anywhere

        if dry_run is not None:
            write_private_file(Path(dry_run), image, force)
            result.dry_run_path = str(dry_run)
            return result

        if port is None:
            raise UsageError("no port to provision", "pass --port PORT, or --dry-run FILE")

        if not result.diff and not device.ignored and not result.dropped and not reset_config:
            # nothing would change: leave the flash alone (but learn the key the node holds)
            if store_key:
                result.secrets_path = _store_psk(result.mac, merged["ota_psk"], inventory_path)
            return result

        step("confirm")
        if not yes:
            if confirm is None or not confirm(result):
                raise RuviewError("cancelled: nothing was written", None, EXIT_FAILED)

        if store_key:
            # before writing: a node whose key we lost would refuse every OTA
            result.secrets_path = _store_psk(result.mac, merged["ota_psk"], inventory_path)

        step("write")
        try:
            session.write(NVS_OFFSET, image)
        except RuviewError as exc:
            raise ProvisionError("write", exc.message) from exc
        result.written = True

        step("verify")
        try:
            back = session.verify(NVS_OFFSET, image)
        except RuviewError as exc:
            raise ProvisionError("verify", exc.message, exc.fix if "differs" in exc.message
                                 or "erased" in exc.message else None) from exc
        if back != image or schema.from_nvs(read_nvs(back), result.firmware).stored != merged:
            raise ProvisionError("verify", "the read-back image does not decode to the written values")
        result.verified = True

        step("reset")
        try:
            session.leave(session.after)
        except RuviewError as exc:
            raise ProvisionError("reset", exc.message) from exc
        result.reset = session.left == "hard-reset"
    finally:
        if session is not None:
            session.close()   # no change, a failure: the chip still leaves its loader
            result.after = session.left

    if wait and result.after in ("hard-reset", "run-app"):
        step("wait")
        from ruview_cli.device.online import wait_online

        eff = schema.effective(merged, result.firmware)
        result.online = wait_online(eff["target_ip"], eff["target_port"], eff["node_id"],
                                    eff["edge_tier"], timeout=wait)
        if not result.online:
            raise ProvisionError(
                "wait", f"no telemetry from node_id {eff['node_id']} reached "
                f"{eff['target_ip']}:{eff['target_port']} within {wait:g} s")

    if record and result.mac:
        step("inventory")
        try:
            _record(result, port, inventory_path)
        except RuviewError as exc:
            result.warnings.append(f"the inventory was not updated: {exc}")
    return result


def write_private_file(path: Path, data: bytes, force: bool = False) -> None:
    """Write `data` (it holds secrets) to `path` as a regular file of mode 0600.

    A new file is created 0600. An existing regular file is overwritten and made 0600 (through
    the open descriptor, so what is changed is what was opened). Anything else (device, FIFO,
    directory, symlink) is refused unless force=True, and then written without touching its
    mode: a chmod on /dev/null as root would break the system.
    """
    def refuse(why: str) -> UsageError:
        return UsageError(f"--dry-run {path}: {why}",
                          "give a new file name (or a regular file to replace); add --force to "
                          "write to it anyway")

    try:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        except FileExistsError:
            flags = os.O_WRONLY | os.O_NONBLOCK | (0 if force else os.O_NOFOLLOW)
            try:
                fd = os.open(path, flags)
            except OSError as exc:
                if exc.errno == errno.EISDIR:
                    raise UsageError(f"--dry-run {path}: is a directory",
                                     "give a file name inside it") from None
                if exc.errno == errno.ENXIO and force:
                    raise UsageError(f"--dry-run {path}: a FIFO nobody reads",
                                     "start its reader first") from None
                if exc.errno in (errno.ELOOP, errno.ENXIO):
                    raise refuse("exists and is not a regular file") from None
                raise
        try:
            st = os.fstat(fd)
            if stat.S_ISREG(st.st_mode):
                os.fchmod(fd, 0o600)
                os.ftruncate(fd, 0)
            elif not force:
                raise refuse("exists and is not a regular file")
            os.set_blocking(fd, True)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
        finally:
            os.close(fd)
    except OSError as exc:
        raise UsageError(f"cannot write the image to {path}: {exc.strerror}",
                         "give a writable file path to --dry-run") from None


def _record(result: ProvisionResult, port: str | None, inventory_path: Path | None) -> None:
    from ruview_cli.inventory import Inventory

    inv = Inventory.load(inventory_path)
    public = {k: v for k, v in schema.redact(result.config).items()
              if not schema.BY_NAME[k].secret}
    eff = schema.effective(result.config, result.firmware)
    inv.upsert(result.mac, node_id=eff["node_id"], serial_port=port, chip=result.chip,
               edge_tier=eff["edge_tier"], config=public, sources=["provision"])
    inv.save()


def firmware_rules(app, warnings: list[str] | None = None) -> str:
    """Whose rules (schema.FIRMWARES) apply to a board running `app` (None: nothing bootable
    found). A firmware the schema does not know is read with ours, and a warning says so."""
    if app is not None and app.flavor is not None:
        return app.flavor
    if warnings is not None:
        what = (f"{app.project} {app.version}" if app is not None
                else "no bootable app found in flash")
        warnings.append(f"firmware: {what}; values are read with the rules of ours")
    return schema.FIRMWARE_OURS


@dataclass
class NodeConfig:
    """`ruview config show`: what a board holds and which firmware will read it."""

    info: Any                 # device.session.ChipInfo
    app: Any                  # device.running_app.RunningApp | None
    firmware: str
    decoded: schema.DecodedConfig
    stats: Any                # config.nvs.NvsReadStats
    warnings: list[str] = field(default_factory=list)


def read_config(port: str, *, baud: int | None = None, stub: bool = True, sink=None,
                firmware: str | None = None) -> NodeConfig:
    """Read the board on `port`: chip, running app, NVS decoded with that firmware's rules
    (`firmware` forces them)."""
    from ruview_cli.config.nvs import NvsReadStats, read_nvs
    from ruview_cli.device.session import EspSession

    with EspSession(port, baud=baud, stub=stub, sink=sink) as s:
        app = s.running_app()
        image = s.read_nvs(NVS_OFFSET, NVS_SIZE)
        info = s.info
    warnings: list[str] = []
    rules = firmware or firmware_rules(app, warnings)
    stats = NvsReadStats()
    return NodeConfig(info, app, rules, schema.from_nvs(read_nvs(image, stats), rules), stats,
                      warnings)


__all__ = ["provision_port", "write_private_file", "ProvisionResult", "ProvisionError", "Change", "validate",
           "read_config", "NodeConfig", "firmware_rules", "diff", "STEPS", "NVS_OFFSET", "NVS_SIZE"]
