"""`ruview flash`: full serial flash of an ESP-IDF build, keeping the node's configuration."""

from __future__ import annotations

from typing import Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe

ORDER = 55

_HELP = """Flash a complete ESP-IDF build (bootloader, partition table, otadata, app) over USB serial.

Reads BUILD_DIR/flasher_args.json, checks the app image, writes every file with esptool and verifies it, then resets the node into the new firmware. The NVS partition (0x9000..0xF000: WiFi, node id, OTA key, csi_cfg) is never written, so the node keeps its configuration; --erase-config erases it (factory state). socket:// ports (emulated nodes) are used without reset and without the flasher stub.

--json keys: port, written (offset, file, role, size), skipped (files overlapping NVS), nvs_erased, nvs (offset, size), app_version, verified.

[b]Examples[/b]

  ruview flash firmware/build --port /dev/ttyACM0

  ruview flash firmware/build --port socket://127.0.0.1:4000 --erase-config
"""


def register(app: typer.Typer) -> None:
    app.command("flash", help=_HELP)(flash)


@report_errors
def flash(
    build_dir: str = typer.Argument(..., metavar="BUILD_DIR", help="ESP-IDF build directory."),
    port: Optional[str] = typer.Option(None, "--port", "-p", metavar="PORT",
                                       help="Serial port or socket://host:port."),
    baud: Optional[int] = typer.Option(None, "--baud", metavar="N", min=9600,
                                       help="Baud rate after connecting [default: 460800]."),
    no_stub: bool = typer.Option(False, "--no-stub", help="Talk to the ROM loader only "
                                 "(slower; for boards where the flasher stub fails)."),
    erase_config: bool = typer.Option(False, "--erase-config",
                                      help="Also erase NVS (WiFi, node id, OTA key)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object with the result."),
) -> None:
    from ruview_cli.ota.buildflash import flash_build, load_build_dir

    build = load_build_dir(build_dir, erase_config=erase_config)
    if port is None:
        from ruview_cli.cli._prompts import choose_port

        port = choose_port(interactive=not as_json)
    err = console(stderr=True)
    for f in build.skipped:
        err.print(f"[yellow]warning:[/] not writing {safe(f.path.name)} at 0x{f.offset:x}: it overlaps "
                  f"the NVS partition (the node keeps its configuration; --erase-config to "
                  f"replace it)", soft_wrap=True)
    live = err.is_terminal and not as_json
    bars = None
    current: dict = {}
    if live:
        from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

        bars = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                        console=err)
        bars.start()

    def on_file(f) -> None:
        label = f"0x{f.offset:06x} {f.role} ({len(f.data)} B)"
        if bars is not None:
            current["task"] = bars.add_task(safe(label), total=100)
        elif not as_json:
            err.print(f"writing {safe(label)}")

    def on_progress(cur: int, total: int) -> None:
        if bars is not None and "task" in current and total:
            bars.update(current["task"], completed=100 * cur / total)

    try:
        result = flash_build(port, build, erase_config=erase_config, on_file=on_file,
                             on_progress=on_progress, baud=baud, stub=not no_stub)
    finally:
        if bars is not None:
            bars.stop()
    if as_json:
        emit_json(result)
        return
    out = console()
    out.print(f"Flashed {safe(build.app_project)} {safe(build.app_version)} over {safe(port)}: "
              f"{len(result['written'])} file(s) written and verified; NVS "
              + ("erased." if erase_config else "kept (configuration preserved)."))
