"""`ruview ota`: check an image, push it to nodes in canary + waves, prove what runs after."""

from __future__ import annotations

import sys
from typing import List, Optional

import typer

from ruview_cli.cli._text import safe
from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.errors import EXIT_OK, RuviewError, UsageError

ORDER = 50

_HELP = """Update node firmware over the network (HTTP OTA), safely, one canary first.

Before any network I/O the image is inspected (ESP32-S3 chip id, segments, checksum, appended SHA-256, app description). Per node: GET /ota/status, refuse an image the node's chip revision is outside of (image header min/max_rev_full against chip_revision), an image larger than the node's OTA slot, a downgrade unless --allow-downgrade (versions compare semver-style; an unparsable version counts as a downgrade); skip the same version unless --reinstall. Then upload with Content-Length and X-Image-SHA256, authenticated by HMAC challenge-response (GET /ota/nonce; the key never leaves this machine) or, for nodes that do not announce it (RuView 0.6.x, ruview 0.7.0), Authorization: Bearer with a warning that the key crossed the network in clear. Then wait for the reboot: an update counts only when the node runs the exact image sent (app_sha256 equals its SHA-256, ota_state valid); RuView 0.6.x reports no digest, so there it is "version only". Nodes whose bootloader cannot roll back are flagged rollback_capable: false.

TARGET is an inventory name, a MAC, a host or host:port (port 8032 by default); --all takes the adopted inventory nodes and always shows them before asking. A node whose inventory address changed since it last proved its identity is sent nothing keyed unless it answers the HMAC challenge with its own MAC, or you pass --accept-new-address; a node that once answered the challenge is never sent the key in clear without that flag either (where each node last proved itself: ruview.ota-trust.json beside the inventory). The OTA key comes from --psk, else $RUVIEW_OTA_PSK, else ruview.secrets.toml (per node, else the fleet default); it is never printed.

Rollout: the canary (--canary nodes) first, then waves (--wave, default 25 % of the rest, rounded up to a multiple of --max-parallel), at most --max-parallel uploads at once; it halts once --halt-after nodes failed, leaving the others untouched. The journal (--journal, $RUVIEW_OTA_JOURNAL, else ruview.ota-journal.json beside the inventory) records the plan and every node; --resume keeps the journal's plan (flags given with --resume override it), retries the failed nodes first as the canary, then the untouched ones.

Outcomes per node: updated, skipped, rolled_back, failed, unreachable, unknown (took the image, then not seen running it in time: `ruview status` settles it), untouched. Exit code: 0 all updated or skipped, 1 none did, 3 partial, 2 usage error.

--json prints one object: ok, error (null when ok), image (chip, version, size, sha256, ...), plan (waves: index, kind, nodes), plan_settings (value and source of canary, wave, max_parallel, halt_after), dry_run, halted, journal, nodes (key, host, port, name, mac, outcome, message, fix, warning, version_before, version_after, rolled_back_from, verified, auth, rollback_capable, bytes_sent, upload_seconds, seconds), summary (count per outcome), exit_code. On an error before the rollout: {"ok": false, "error", "fix", "exit_code"}.

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
    all_: bool = typer.Option(False, "--all", help="Every adopted node in the inventory."),
    psk: Optional[str] = typer.Option(None, "--psk", metavar="KEY",
                                      help="OTA key (else $RUVIEW_OTA_PSK, else the secrets file)."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Do not ask for confirmation."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object with the results."),
    max_parallel: Optional[int] = typer.Option(None, "--max-parallel", metavar="N",
                                               help="Uploads at once, 1-64 [default: 4]."),
    canary: Optional[int] = typer.Option(None, "--canary", metavar="N",
                                         help="Nodes updated first, alone [default: 1]."),
    wave: Optional[str] = typer.Option(None, "--wave", metavar="N|P%",
                                       help="Wave size after the canary: a count or a % of the "
                                            "rest [default: 25%]."),
    halt_after: Optional[int] = typer.Option(None, "--halt-after", metavar="N",
                                             help="Stop after N failed nodes (0 = never) "
                                                  "[default: 1]."),
    resume: bool = typer.Option(False, "--resume", help="Continue the journal's rollout."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print the plan, touch nothing."),
    allow_downgrade: bool = typer.Option(False, "--allow-downgrade",
                                         help="Allow an older (or unordered) version."),
    reinstall: bool = typer.Option(False, "--reinstall", help="Send even if the node runs this version."),
    timeout: float = typer.Option(60.0, "--timeout", metavar="S",
                                  help="Per-node network timeout and post-reboot wait, seconds "
                                       "(at least 1)."),
    journal_file: Optional[str] = typer.Option(None, "--journal", metavar="FILE",
                                               help="Rollout journal file."),
    accept_new_address: bool = typer.Option(
        False, "--accept-new-address",
        help="Update nodes whose address (or authentication) changed since they last "
             "proved their identity."),
) -> None:
    from ruview_cli.ota.run import OtaRequest

    req = OtaRequest(image=image, targets=list(targets or []), group=group, all_=all_,
                     resume=resume, psk=psk, allow_downgrade=allow_downgrade,
                     reinstall=reinstall, timeout=timeout, journal_file=journal_file,
                     accept_new_address=accept_new_address, canary=canary, wave=wave,
                     max_parallel=max_parallel, halt_after=halt_after)
    try:
        code = _run(req, yes=yes, as_json=as_json, dry_run=dry_run)
    except RuviewError as exc:
        if as_json:
            emit_json({"ok": False, "error": exc.message, "fix": exc.fix,
                       "exit_code": exc.exit_code})
        raise
    except KeyboardInterrupt:
        if as_json:
            emit_json({"ok": False, "error": "interrupted (Ctrl-C): nodes already started "
                       "were finished, no other node was touched", "fix": "ruview ota --resume",
                       "exit_code": 130})
        raise
    raise typer.Exit(code)


def _run(req, yes: bool, as_json: bool, dry_run: bool) -> int:
    from ruview_cli.ota.run import execute, prepare

    prep = prepare(req)
    out = console()
    err = console(stderr=True)
    if dry_run:
        if as_json:
            emit_json(_result_json(prep, None))
        else:
            _print_plan(out, prep)
            out.print("Nothing was sent (--dry-run).")
        return EXIT_OK
    if not yes and not sys.stdin.isatty():
        raise UsageError("not asking for confirmation without a terminal",
                         "pass --yes to update the nodes")
    if not as_json or not yes:
        _print_plan(err, prep)  # what will happen, and where each plan setting came from
    if not yes:
        if not typer.confirm(f"Update these {len(prep.todo)} node(s)", default=False, err=True):
            raise RuviewError("cancelled: no node was touched", None)
    view = RolloutView(err, enabled=not as_json)
    with view:
        result = execute(prep, events=view)
    if as_json:
        emit_json(_result_json(prep, result))
    else:
        _print_results(out, result)
    return result.exit_code


_NODE_KEYS = ("key", "host", "port", "name", "mac", "outcome", "message", "fix", "warning",
              "version_before", "version_after", "rolled_back_from", "verified", "auth",
              "rollback_capable", "bytes_sent", "upload_seconds", "seconds")


def _result_json(prep, result) -> dict:
    nodes = ([{k: n.get(k) for k in _NODE_KEYS} for n in result.nodes] if result else
             [dict(prep.targets[k].to_json(), outcome="untouched") for k in prep.todo])
    code = result.exit_code if result else EXIT_OK
    error = None
    if result and code:
        bad = len(result.nodes) - sum(result.summary[o] for o in ("updated", "skipped"))
        error = f"{bad} of {len(result.nodes)} node(s) not updated" + \
            (" (rollout halted)" if result.halted else "")
    return {"ok": code == EXIT_OK, "error": error, "image": prep.image.to_json(),
            "plan": [w.to_json() for w in prep.waves],
            "plan_settings": {k: {"value": v, "source": prep.plan_sources[k]}
                              for k, v in prep.plan.items()},
            "dry_run": result is None,
            "halted": bool(result and result.halted), "journal": str(prep.journal_path),
            "nodes": nodes, "summary": result.summary if result else {}, "exit_code": code}


_STYLE = {"updated": "green", "skipped": "cyan", "rolled_back": "yellow", "failed": "red",
          "unreachable": "red", "unknown": "yellow", "untouched": "dim"}


def _print_plan(out, prep) -> None:
    info = prep.image.info
    out.print(safe(f"Image: {info.project_name} {info.version} ({info.size} bytes, "
                     f"{info.chip}, IDF {info.idf_ver})"))
    if prep.done_before:
        out.print(safe(f"Already done: {', '.join(prep.done_before)}"))
    for w in prep.waves:
        label = "canary" if w.kind == "canary" else f"wave {w.index}"
        hosts = ", ".join(k if k in (t.host, f"{t.host}:{t.port}") else f"{k} ({t.host}:{t.port})"
                          for k in w.nodes for t in (prep.targets[k],))
        out.print(f"  {label}: {safe(hosts)}")
    p, src = prep.plan, prep.plan_sources
    settings = ", ".join(f"{label} {p[k] if k != 'halt_after' or p[k] else 'never'} ({src[k]})"
                         for k, label in (("canary", "canary"), ("wave", "wave"),
                                          ("max_parallel", "max-parallel"),
                                          ("halt_after", "halt after")))
    out.print(safe(f"Plan: {settings}"))


def _print_results(out, result) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for col in ("node", "outcome", "version", "detail"):
        table.add_column(col, overflow="fold")
    for n in result.nodes:
        outcome = n.get("outcome", "untouched")
        ver = n.get("version_after") or ("" if outcome == "unknown" else n.get("version_before")) or ""
        detail = safe(n.get("message") or "")
        if n.get("fix") and outcome not in ("updated", "skipped"):
            detail += f"\nfix: {safe(n['fix'])}"
        if n.get("warning"):
            detail += f"\n[yellow]warning:[/] {safe(n['warning'])}"
        table.add_row(safe(n["key"]), f"[{_STYLE.get(outcome, '')}]{outcome}[/]", safe(ver),
                      detail)
    out.print(table)
    out.print(", ".join(f"{v} {k}" for k, v in result.summary.items() if v))
    if result.halted and result.summary.get("untouched"):
        out.print(f"[bold red]Rollout halted[/]: the remaining nodes were not touched. Fix the "
                  f"cause, then `ruview ota --resume` (journal: "
                  f"{safe(str(result.prepared.journal_path))}).")


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
            self.tasks[key] = self.bars.add_task(key, total=total, phase="")
        return self.tasks[key]

    def phase(self, key: str, text: str) -> None:
        task = self._task(key)
        if task is not None:
            self.bars.update(task, phase=text)

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
