"""`ruview provision`: write a node's configuration over USB without losing what it had.

The per-key options are generated from the schema table (ruview_cli/config/schema.py): one
`--<key>` flag per NVS key, the common ones in the main help panel, the rest under "More NVS
keys"; `--set key=value` reaches any key too.
"""

from __future__ import annotations

import inspect
import threading
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe
from ruview_cli.config import schema
from ruview_cli.errors import EXIT_FAILED, EXIT_PARTIAL, RuviewError, UsageError

ORDER = 30

_HELP = """Write a node's configuration (NVS) over USB: validated, merged, verified.

Every value is checked before anything touches the board (exit 2 on a bad one). The node's current configuration is read and kept: flags override the profile, the profile overrides what the node holds, and every other key (WiFi, target, node id, OTA key, keys this tool does not know) is carried over. You see the change (secrets masked) and confirm, the image is built by Espressif's NVS generator, written, read back and compared byte for byte, and the node is reset. Without an OTA key on the node or the command line, a random 256-bit key is generated and stored in the secrets file (mode 0600) beside the fleet file.

Human units: --pres-thresh 0.05 (or auto), --fall-thresh 5.0, --vital-int 1000 (ms), --chan-list 1,6,11, --filter-mac aa:bb:cc:dd:ee:ff. Give `-` as --password/--ota-psk/--seed-token to type it hidden (asked twice), or pipe it: one line per `-`, in the order password, seed_token, ota_psk.

Several --port run in parallel (needs --yes). Without --port the board is found by its USB id.

With --json: {"ok", "results": [{port, mac, chip, revision, changes: [{key, old, new, secret}], config, written, verified, reset, after: "hard-reset"|"run-app", online, psk_generated, psk_source, secrets_path, dry_run_path, diff_only, dropped, warnings} | {port, error, step, fix}]}.

[b]Examples[/b]

  ruview provision --ssid lab --password - --target-ip 192.168.1.10 --node-id 3

  ruview provision --port /dev/ttyACM0 --profile vitals --yes

  ruview provision --vital-int 500 --yes                # everything else stays

  ruview provision --port A --port B --edge-tier 1 --yes --json

  ruview provision --reset --profile raw --dry-run nvs.bin   # image to a file

  ruview provision --port /dev/ttyACM0 --profile vitals --diff   # what would change
"""


def register(app: typer.Typer) -> None:
    app.command("provision", help=_HELP)(_build_command())


def _key_option(k: schema.Key) -> inspect.Parameter:
    metavar = {"milli": "X", "bool": "0|1", "str": "TEXT", "ipv4": "IPV4", "channels": "CH,CH",
               "mac": "MAC", "hex": "HEX"}.get(k.kind, "N")
    if k.auto_zero:
        metavar = "X|auto"
    defaults = [f"firmware default: {k.show(k.default)}"] if k.default is not None else []
    other = k.default_for(schema.FIRMWARE_06)
    if other is not None and other != k.default:   # what a RuView 0.6.x node uses when unset
        defaults.append(f"RuView 0.6.x: {k.show(other)}")
    default = f" \\[{'; '.join(defaults)}]" if defaults else ""
    opt = typer.Option(
        None, k.flag, metavar=metavar, show_default=False,
        help=f"{k.help}. Allowed: {k.describe_range()}.{default}",
        rich_help_panel=schema.PANEL_MAIN if k.prominent else schema.PANEL_MORE,
    )
    return inspect.Parameter(f"key_{k.key}", inspect.Parameter.KEYWORD_ONLY, default=opt,
                             annotation=Optional[str])


def _build_command():
    fixed = [
        ("port", Optional[List[str]], typer.Option(
            None, "--port", "-p", metavar="PORT",
            help="Serial port, socket://HOST:PORT (the emulator) or a pty; repeat for several "
                 "boards in parallel. Default: the one ESP32 board found by USB id.")),
        ("profile", Optional[str], typer.Option(
            None, "--profile", metavar="NAME|PATH", help="Start from a profile (`ruview profiles list`).")),
        ("set_", Optional[List[str]], typer.Option(
            None, "--set", metavar="KEY=VALUE", help="Set any schema key (repeatable).")),
        ("reset_config", bool, typer.Option(
            False, "--reset", help="Start from firmware defaults instead of the node's values.")),
        ("yes", bool, typer.Option(False, "--yes", "-y", help="Do not ask before writing.")),
        ("dry_run", Optional[str], typer.Option(
            None, "--dry-run", metavar="FILE",
            help="Write the NVS image to FILE instead of the board: a new file (or a regular "
                 "file replaced), mode 0600.")),
        ("force", bool, typer.Option(
            False, "--force", help="With --dry-run: write even to an existing non-regular path "
                                   "(device, FIFO, symlink); its mode is left alone.")),
        ("diff", bool, typer.Option(
            False, "--diff", help="Only show what would change: nothing is written anywhere "
                                  "(board, file, secrets, inventory).")),
        ("wait", bool, typer.Option(
            False, "--wait", help="After the reset, wait for the node's telemetry with the new "
                                  "node id / edge tier (listens on target_ip:target_port).")),
        ("wait_timeout", float, typer.Option(30.0, "--wait-timeout", metavar="S", min=1,
                                             help="Seconds --wait waits.")),
        ("no_reset", bool, typer.Option(False, "--no-reset", help="No reset pulse after writing: "
                                        "the serial loader hands the chip straight to its app "
                                        "(esptool's soft reset). The node is never left in the "
                                        "loader either way.")),
        ("baud", Optional[int], typer.Option(None, "--baud", metavar="N", min=9600,
                                             help="Serial speed after connecting \\[default: 460800].")),
        ("no_stub", bool, typer.Option(False, "--no-stub", help="Talk to the ROM loader only "
                                       "(slower; for boards where the flasher stub fails).")),
        ("any_chip", bool, typer.Option(False, "--any-chip", help="Allow a chip other than the ESP32-S3.")),
        ("show_secrets", bool, typer.Option(False, "--show-secrets",
                                            help="Show passwords and keys in the output.")),
        ("as_json", bool, typer.Option(False, "--json", help="Machine-readable result on stdout.")),
    ]
    params = [inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY, default=o, annotation=t)
              for n, t, o in fixed]
    params += [_key_option(k) for k in schema.KEYS]

    @report_errors
    def provision(**kwargs) -> None:
        _run(kwargs)

    provision.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    provision.__annotations__ = {p.name: p.annotation for p in params}
    provision.__annotations__["return"] = None
    return provision


def _collect_changes(kwargs: dict) -> dict:
    changes: dict = {}
    for item in kwargs.get("set_") or []:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set {item!r} is not KEY=VALUE", "e.g. --set hop_count=3")
        changes[schema.key(name).key] = value
    for k in schema.KEYS:
        v = kwargs.get(f"key_{k.key}")
        if v is not None:
            if v == "-" and k.secret:
                from ruview_cli.cli._prompts import read_secret

                v = read_secret(k.key, k.flag)
            changes[k.key] = v
    return changes


def _run(kw: dict) -> None:
    from ruview_cli.provision import validate

    changes = _collect_changes(kw)
    ports = list(dict.fromkeys(kw.get("port") or []))
    # step 1 before any port is opened: a bad value exits 2 with nothing touched
    validate(changes, kw.get("profile"))
    if kw["diff"] and kw.get("dry_run") is not None:
        raise UsageError("--diff writes nothing, --dry-run writes a file: give one of them", None)
    if kw["force"] and kw.get("dry_run") is None:
        raise UsageError("--force only applies to --dry-run FILE", "drop --force")
    if len(ports) > 1 and not kw["yes"] and kw.get("dry_run") is None and not kw["diff"]:
        raise UsageError("provisioning several ports at once needs --yes",
                         "review the change on one board first (or use --dry-run), then add --yes")
    if len(ports) > 1 and kw.get("dry_run") is not None:
        raise UsageError("--dry-run writes one image file: give one --port", None)
    if not ports and kw.get("dry_run") is None:
        from ruview_cli.cli._prompts import choose_port

        ports = [choose_port(interactive=not kw["yes"] and not kw["as_json"])]
    results = _provision_all(ports or [None], changes, kw)
    _render(results, kw)
    failures = [r for r in results if isinstance(r, dict)]
    if failures:
        codes = {f.get("exit_code", EXIT_FAILED) for f in failures}
        if len(failures) < len(results):
            raise typer.Exit(EXIT_PARTIAL)
        raise typer.Exit(max(codes))


class _NoProgress:
    """Stands in for rich's Progress when nothing is drawn (no TTY, --json): no import cost."""

    def add_task(self, *a, **k):
        return 0

    def update(self, *a, **k):
        pass

    def start(self):
        pass

    def stop(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


def _provision_all(ports: list, changes: dict, kw: dict) -> list:
    from ruview_cli.provision import provision_port

    err = console(stderr=True)
    if err.is_terminal and not kw["as_json"]:
        from rich.progress import BarColumn, Progress, TextColumn

        progress = Progress(TextColumn("{task.fields[port]}", style="bold"), BarColumn(),
                            TextColumn("{task.description}"), console=err, transient=True)
    else:
        progress = _NoProgress()
    results: list = [None] * len(ports)
    prompt_lock = threading.Lock()

    def confirm(res) -> bool:
        with prompt_lock:
            progress.stop()
            _print_header(err, res)
            _print_diff(err, res, kw["show_secrets"])
            ok = typer.confirm(f"write this configuration to {res.port}?", default=False, err=True)
            progress.start()
            return ok

    def work(i: int, port) -> None:
        task = progress.add_task("validate", total=1.0, port=port or "(dry run)")

        def on_step(name: str) -> None:
            progress.update(task, description=name, completed=0.0)

        def sink(kind: str, text: str, frac) -> None:
            if kind == "progress" and frac is not None:
                progress.update(task, completed=frac)

        try:
            results[i] = provision_port(
                port, changes, yes=kw["yes"], reset_node=not kw["no_reset"],
                profile=kw.get("profile"), reset_config=kw["reset_config"],
                dry_run=kw.get("dry_run"), force=kw["force"], diff_only=kw["diff"],
                baud=kw.get("baud"), stub=not kw["no_stub"],
                any_chip=kw["any_chip"], wait=kw["wait_timeout"] if kw["wait"] else None,
                confirm=confirm, on_step=on_step, sink=sink)
        except RuviewError as exc:
            results[i] = {"port": port, "error": exc.message, "fix": exc.fix,
                          "step": getattr(exc, "step", None), "exit_code": exc.exit_code}
        progress.update(task, description="done" if not isinstance(results[i], dict) else "failed",
                        completed=1.0)

    with progress:
        if len(ports) == 1:
            work(0, ports[0])
        else:
            threads = [threading.Thread(target=work, args=(i, p), name=f"provision-{p}")
                       for i, p in enumerate(ports)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
    return results


def _print_header(out, res) -> None:
    if res.mac:
        out.print(f"[bold]{safe(res.port)}[/]: {safe(res.chip)} {safe(res.revision)}, MAC {safe(res.mac)}")


def _print_diff(out, res, show_secrets: bool) -> None:
    from rich.table import Table

    if not res.diff:
        out.print("  no change")
        return
    table = Table("key", "now", "new", box=None, padding=(0, 2))
    for c in res.diff:
        key, old, new = c.row(show_secrets)
        table.add_row(key, safe(old), f"[green]{safe(new)}[/]")
    out.print(table)
    if any(c.old is None or c.new is None for c in res.diff):
        out.print("  [dim](x) = not stored on the node: the firmware default x applies[/]")
    if res.dropped:
        out.print(f"  [yellow]cannot be kept:[/] {safe(', '.join(res.dropped))}")


# how the serial session ended (ProvisionResult.after)
_LEFT = {"hard-reset": "; node reset, running its app",
         "run-app": "; node running its app (no reset pulse)"}


def _render(results: list, kw: dict) -> None:
    if kw["as_json"]:
        emit_json({
            "ok": not any(isinstance(r, dict) for r in results),
            "results": [{k: v for k, v in r.items() if k != "exit_code"} if isinstance(r, dict)
                        else r.to_json(kw["show_secrets"]) for r in results],
        })
        return
    out = console()
    err = console(stderr=True)
    for r in results:
        if isinstance(r, dict):
            where = f"{r['port']}: " if r["port"] else ""
            err.print(f"[bold red]error:[/] {safe(where)}{safe(r['error'])}", soft_wrap=True)
            if r.get("fix"):
                err.print(f"[bold]fix:[/] {safe(r['fix'])}", soft_wrap=True)
            continue
        if kw["yes"] or r.dry_run_path or r.diff_only or not r.diff:
            _print_header(out, r)
            _print_diff(out, r, kw["show_secrets"])
        for w in r.warnings:
            out.print(f"  [yellow]warning:[/] {safe(w)}", soft_wrap=True)
        if r.diff_only:
            out.print("  diff only: nothing written" + _LEFT.get(r.after, ""))
            continue
        if r.dry_run_path:
            out.print(f"  image written to {safe(r.dry_run_path)} (nothing sent to a board)")
            if r.psk_generated:
                out.print("  note: the image holds a freshly generated OTA key that is not "
                          "stored anywhere else; pass --ota-psk to choose it", soft_wrap=True)
            continue
        if not r.written:
            out.print("  the node already has this configuration: nothing written"
                      + _LEFT.get(r.after, ""))
            continue
        out.print(f"  [green]written and verified[/] ({len(r.image or b'')} bytes at 0x9000)"
                  + _LEFT.get(r.after, ""))
        if r.psk_generated:
            out.print(f"  generated a new OTA key, stored in {safe(r.secrets_path)}"
                      + (f": {r.config['ota_psk']}" if kw["show_secrets"] else ""), soft_wrap=True)
        elif r.psk_source == "secrets" and any(c.key == "ota_psk" for c in r.diff):
            out.print(f"  OTA key taken from {safe(r.secrets_path)}", soft_wrap=True)
        elif r.secrets_path:
            out.print(f"  OTA key stored in {safe(r.secrets_path)}", soft_wrap=True)
        if r.online:
            out.print("  node is online with the new configuration")
