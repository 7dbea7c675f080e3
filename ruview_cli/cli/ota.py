"""`ruview ota`: check an image, push it to nodes in canary + waves, prove what runs after."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe
from ruview_cli.errors import RuviewError, UsageError

ORDER = 50
MAX_IMAGE_BYTES = 16 * 1024 * 1024

_HELP = """Update node firmware over the network (HTTP OTA), safely, one canary first.

Before any network I/O the image is inspected (ESP32-S3 chip id, segments, checksum, appended SHA-256, app description). Per node: GET /ota/status, refuse an image larger than the node's OTA slot, refuse a downgrade unless --allow-downgrade (versions compare semver-style; an unparsable version counts as a downgrade), skip the same version unless --reinstall; upload with Content-Length, Authorization: Bearer PSK and X-Image-SHA256; then wait for the reboot until the new version runs and (our firmware) its self-test marked it valid. A node that rolls back is reported with the version it returned to. RuView 0.6.x nodes are updated too, with a warning: they have no rollback protection.

TARGET is an inventory name, a MAC, a host or host:port (port 8032 by default). The OTA key comes from --psk, else $RUVIEW_OTA_PSK, else ruview.secrets.toml (per node, else the fleet default); it is never printed.

Rollout: the canary (--canary nodes) first, then waves (--wave, default 25 % of the rest, rounded up to a multiple of --max-parallel), at most --max-parallel uploads at once; it halts once --halt-after nodes failed, leaving the others untouched. The journal (--journal, $RUVIEW_OTA_JOURNAL, else ruview.ota-journal.json beside the inventory) records every node so --resume continues with the nodes not yet updated.

Outcomes per node: updated, skipped, rolled_back, failed, unreachable, untouched. Exit code: 0 all updated or skipped, 1 none did, 3 partial, 2 usage error.

--json prints one object: image (chip, version, size, sha256, ...), plan (waves: index, kind, nodes), dry_run, halted, journal, nodes (key, host, port, name, mac, outcome, message, fix, warning, version_before, version_after, rolled_back_from, bytes_sent, upload_seconds, seconds), summary (count per outcome), exit_code.

[b]Examples[/b]

  ruview ota build/ruview.bin kitchen bedroom --yes

  ruview ota build/ruview.bin --all --dry-run

  ruview ota build/ruview.bin --group lab --canary 2 --wave 50% --max-parallel 8 --yes

  ruview ota --resume --yes
"""


def register(app: typer.Typer) -> None:
    app.command("ota", help=_HELP)(ota)


@report_errors
def ota(
    image: Optional[str] = typer.Argument(None, metavar="IMAGE", show_default=False,
                                          help="Application image (build/<project>.bin)."),
    targets: Optional[List[str]] = typer.Argument(None, metavar="TARGET", show_default=False,
                                                  help="Nodes: name, MAC, host or host:port."),
    group: Optional[str] = typer.Option(None, "--group", "-g", metavar="G",
                                        help="Every node of inventory group G."),
    all_: bool = typer.Option(False, "--all", help="Every node in the inventory."),
    psk: Optional[str] = typer.Option(None, "--psk", metavar="KEY",
                                      help="OTA key (else $RUVIEW_OTA_PSK, else the secrets file)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object with the results."),
    max_parallel: int = typer.Option(4, "--max-parallel", min=1, max=64, metavar="N",
                                     help="Uploads at once."),
    canary: int = typer.Option(1, "--canary", min=0, metavar="N", help="Nodes updated first, alone."),
    wave: str = typer.Option("25%", "--wave", metavar="N|P%",
                             help="Wave size after the canary: a count or a % of the rest."),
    halt_after: int = typer.Option(1, "--halt-after", min=0, metavar="N",
                                   help="Stop after N failed nodes (0 = never)."),
    resume: bool = typer.Option(False, "--resume", help="Continue the journal's rollout."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan, touch nothing."),
    allow_downgrade: bool = typer.Option(False, "--allow-downgrade",
                                         help="Allow an older (or unordered) version."),
    reinstall: bool = typer.Option(False, "--reinstall", help="Send even if the node runs this version."),
    timeout: float = typer.Option(60.0, "--timeout", min=1.0, metavar="S",
                                  help="Per-node network timeout and post-reboot wait, seconds."),
    journal_file: Optional[str] = typer.Option(None, "--journal", metavar="FILE",
                                               help="Rollout journal file."),
) -> None:
    from ruview_cli.ota import plan as P
    from ruview_cli.ota.journal import Journal, journal_path
    from ruview_cli.ota.rollout import NodeTarget, UpdateOptions, run_rollout

    targets = list(targets or [])
    jpath = journal_path(journal_file)
    done_before: dict[str, dict] = {}
    if resume:
        if targets or group or all_:
            raise UsageError("--resume takes the nodes from the journal",
                             "drop the TARGET/--group/--all arguments, or start a new rollout")
        old = Journal.load(jpath)
        image = image or old.data["image"]["path"]
        data, info, sha = _read_image(image)
        if sha != old.data["image"]["sha256"]:
            raise UsageError(f"{image} is not the image of the journal's rollout "
                             f"({old.data['image']['version']}, sha256 {old.data['image']['sha256'][:12]}…)",
                             "pass the same IMAGE, or start a new rollout without --resume")
        nodes = [NodeTarget(n["key"], n["host"], n["port"], n.get("name"), n.get("mac"))
                 for n in old.nodes]
        outcomes = {n["key"]: n.get("outcome", P.UNTOUCHED) for n in old.nodes}
        done_before = {n["key"]: n for n in old.nodes if outcomes[n["key"]] in P.DONE}
        todo = P.remaining_nodes([n.key for n in nodes], outcomes)
        # Once any node took the image, the canary has done its job.
        if any(o == P.UPDATED for o in outcomes.values()):
            canary = 0
    else:
        if image is None:
            raise UsageError("no IMAGE given", "ruview ota build/ruview.bin TARGET... (or --resume)")
        if not targets and not group and not all_:
            raise UsageError("no nodes given", "name TARGETs, or use --group G or --all")
        data, info, sha = _read_image(image)
        from ruview_cli.inventory import Inventory

        inv = Inventory.load()
        resolved = inv.resolve(targets, group=group, all_=all_)
        nodes = [NodeTarget(t.label, t.host, t.port, t.name, t.mac) for t in resolved]
        todo = [n.key for n in nodes]
    waves = P.plan_rollout(todo, canary=canary, wave=wave, max_parallel=max_parallel)
    by_key = {n.key: n for n in nodes}

    out = console()
    err = console(stderr=True)
    image_json = dict(info.to_json(), path=str(Path(image).resolve()))
    if dry_run:
        _print_plan(out, err, image_json, waves, by_key, done_before, as_json, max_parallel,
                    halt_after, jpath)
        return
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("not asking for confirmation without a terminal",
                             "pass --yes to update the nodes")
        err.print(f"Update {len(todo)} node(s) to {safe(info.project_name)} {safe(info.version)} "
                  f"in {len(waves)} wave(s)?")
        if not typer.confirm("Continue", default=False, err=True):
            raise typer.Exit(1)

    env_psk = os.environ.get("RUVIEW_OTA_PSK") or None
    secrets = None

    def psk_for(target: NodeTarget, status: dict) -> str | None:
        nonlocal secrets
        if psk:
            return psk
        if env_psk:
            return env_psk
        if secrets is None:
            from ruview_cli.inventory import Secrets

            try:
                secrets = Secrets.load()
            except RuviewError:
                return None
        return secrets.ota_psk(target.mac or status.get("mac"))

    options_json = {"canary": canary, "wave": wave, "max_parallel": max_parallel,
                    "halt_after": halt_after, "allow_downgrade": allow_downgrade,
                    "reinstall": reinstall, "timeout": timeout}
    records = []
    for n in nodes:
        rec = done_before.get(n.key) or dict(n.to_json(), outcome=P.UNTOUCHED)
        records.append(rec)
    journal = Journal.create(jpath, {"path": image_json["path"], "sha256": sha,
                                     "version": info.version, "size": len(data)},
                             options_json, records)
    options = UpdateOptions(allow_downgrade=allow_downgrade, reinstall=reinstall,
                            timeout=timeout, psk_for=psk_for)
    view = RolloutView(err, enabled=not as_json)
    with view:
        state = run_rollout(by_key, waves, data, info, sha, options, max_parallel=max_parallel,
                            halt_after=halt_after, journal=journal, events=view)
    _remember_versions(state, by_key)
    outcomes = {n["key"]: n["outcome"] for n in journal.nodes}
    code = P.exit_code(outcomes)
    if as_json:
        summary = {o: sum(1 for v in outcomes.values() if v == o) for o in P.OUTCOMES}
        emit_json({"image": image_json, "plan": [w.to_json() for w in waves], "dry_run": False,
                   "halted": state.halted, "journal": str(jpath),
                   "nodes": [_node_json(n) for n in journal.nodes], "summary": summary,
                   "exit_code": code})
    else:
        _print_results(out, journal.nodes, state.halted, jpath, info.version)
    raise typer.Exit(code)


def _read_image(path: str):
    from ruview_cli.ota.image import inspect_image
    import hashlib

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
    return data, info, hashlib.sha256(data).hexdigest()


_NODE_KEYS = ("key", "host", "port", "name", "mac", "outcome", "message", "fix", "warning",
              "version_before", "version_after", "rolled_back_from", "bytes_sent",
              "upload_seconds", "seconds")


def _node_json(rec: dict) -> dict:
    return {k: rec.get(k) for k in _NODE_KEYS}


def _remember_versions(state, by_key) -> None:
    """Record the version each updated node now runs in the inventory (best effort)."""
    updated = [(by_key[k], r.version_after) for k, r in state.results.items()
               if r.outcome in ("updated", "rolled_back") and r.version_after]
    if not any(t.mac for t, _ in updated):
        return
    try:
        from ruview_cli.inventory import Inventory

        inv = Inventory.load()
        changed = False
        for target, version in updated:
            if target.mac and inv.find(target.mac) is not None:
                inv.upsert(target.mac, version=version)
                changed = True
        if changed:
            inv.save()
    except RuviewError:
        pass


_STYLE = {"updated": "green", "skipped": "cyan", "rolled_back": "yellow", "failed": "red",
          "unreachable": "red", "untouched": "dim"}


def _print_plan(out, err, image_json, waves, by_key, done_before, as_json, max_parallel,
                halt_after, jpath) -> None:
    if as_json:
        emit_json({"image": image_json, "plan": [w.to_json() for w in waves], "dry_run": True,
                   "halted": False, "journal": str(jpath),
                   "nodes": [dict(by_key[k].to_json(), outcome="untouched")
                             for w in waves for k in w.nodes],
                   "summary": {}, "exit_code": 0})
        return
    out.print(f"Image: {safe(image_json['project_name'])} {safe(image_json['version'])} "
              f"({image_json['size']} bytes, {safe(image_json['chip'])}, "
              f"IDF {safe(image_json['idf_ver'])})")
    if done_before:
        out.print(f"Already done: {safe(', '.join(done_before))}")
    for w in waves:
        label = "canary" if w.kind == "canary" else f"wave {w.index}"
        hosts = ", ".join(f"{k}" + ("" if by_key[k].key == f"{by_key[k].host}" else
                                    f" ({by_key[k].host}:{by_key[k].port})") for k in w.nodes)
        out.print(f"  {label}: {safe(hosts)}")
    out.print(f"At most {max_parallel} uploads at once; halt after {halt_after or 'no'} "
              f"failure(s). Nothing was sent (--dry-run).")


def _print_results(out, nodes, halted, jpath, version) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("node", "outcome", "version", "detail"):
        table.add_column(col, overflow="fold")
    for n in nodes:
        outcome = n.get("outcome", "untouched")
        ver = n.get("version_after") or n.get("version_before") or ""
        detail = safe(n.get("message") or "")
        if n.get("fix") and outcome not in ("updated", "skipped"):
            detail += f"\nfix: {safe(n['fix'])}"
        if n.get("warning"):
            detail += f"\n[yellow]warning:[/] {safe(n['warning'])}"
        table.add_row(safe(n["key"]), f"[{_STYLE.get(outcome, '')}]{outcome}[/]", safe(ver), detail)
    out.print(table)
    counts: dict[str, int] = {}
    for n in nodes:
        counts[n.get("outcome", "untouched")] = counts.get(n.get("outcome", "untouched"), 0) + 1
    out.print(", ".join(f"{v} {k}" for k, v in counts.items()))
    if halted and counts.get("untouched"):
        out.print(f"[bold red]Rollout halted[/]: the remaining nodes were not touched. Fix the "
                  f"cause, then `ruview ota --resume` (journal: {safe(jpath)}).")


class RolloutView:
    """Per-node progress bars (bytes, speed, ETA, phase) on stderr; plain lines when not a TTY."""

    def __init__(self, err, enabled: bool = True):
        self.err = err
        self.enabled = enabled
        self.live = enabled and err.is_terminal
        self.bars = None
        self.tasks: dict[str, int] = {}

    def __enter__(self) -> "RolloutView":
        if self.live:
            from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn,
                                       TimeRemainingColumn, TransferSpeedColumn)

            self.bars = Progress(
                TextColumn("{task.description}"), BarColumn(), DownloadColumn(),
                TransferSpeedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[phase]}"),
                console=self.err)
            self.bars.start()
        return self

    def __exit__(self, *exc) -> None:
        if self.bars is not None:
            self.bars.stop()

    def _task(self, key: str, total: int | None = None) -> int | None:
        if self.bars is None:
            return None
        if key not in self.tasks:
            self.tasks[key] = self.bars.add_task(safe(key), total=total, phase="")
        return self.tasks[key]

    def phase(self, key: str, text: str) -> None:
        task = self._task(key)
        if task is not None:
            self.bars.update(task, phase=safe(text))

    def upload_start(self, key: str, total: int) -> None:
        task = self._task(key, total)
        if task is not None:
            self.bars.update(task, total=total, completed=0)

    def progress(self, key: str, n: int) -> None:
        task = self.tasks.get(key)
        if task is not None and self.bars is not None:
            self.bars.advance(task, n)

    def done(self, result) -> None:
        if not self.enabled:
            return
        style = _STYLE.get(result.outcome, "")
        line = f"{safe(result.key)}: [{style}]{result.outcome}[/] {safe(result.message)}"
        task = self.tasks.get(result.key)
        if task is not None and self.bars is not None:
            self.bars.update(task, phase=f"[{style}]{result.outcome}[/]")
            self.bars.console.print(line, soft_wrap=True)
        else:
            self.err.print(line, soft_wrap=True)
