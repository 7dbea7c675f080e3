"""`ruview logs`: the serial console of a node, like `idf.py monitor` / `esphome logs`."""

from __future__ import annotations

import sys
from typing import Optional

import typer

from ruview_cli.cli._text import safe
from ruview_cli.cli.common import console, emit_json, report_errors

ORDER = 42

_HELP = """Show a node's serial log: the firmware's log lines, coloured by level.

Opens the port without resetting the node (DTR and RTS stay low), unless --reset. Lines in ESP-IDF's format (`I (1234) tag: text`) are coloured by level on a terminal (plain when piped); other lines (boot ROM, panic dumps) are shown as they come. When the board re-enumerates (reset, re-plug) the command waits for the port and goes on. With --elf, the addresses of a panic backtrace are decoded to function, file and line. Ctrl-C to leave.

With --json: one object per line on stdout: ts (this machine's time), level (error, warning, info, debug, verbose or null), tag, time (as the node printed it), text.

[b]Examples[/b]

  ruview logs --port /dev/ttyACM0

  ruview logs --port /dev/ttyACM0 --reset --elf build/ruview_node.elf

  ruview logs --port socket://127.0.0.1:40001 --json | jq -r 'select(.level=="error") | .text'
"""

_STYLE = {"error": "red", "warning": "yellow", "info": "green", "debug": "dim", "verbose": "dim"}
_LETTER = {"error": "E", "warning": "W", "info": "I", "debug": "D", "verbose": "V"}


def register(app: typer.Typer) -> None:
    app.command("logs", help=_HELP)(logs)


@report_errors
def logs(
    port: Optional[str] = typer.Option(None, "--port", "-p", metavar="PORT", help="Serial port (default: the one board found)."),
    baud: int = typer.Option(115200, "--baud", "-b", metavar="N", help="Console baud rate (CONFIG_ESP_CONSOLE_UART_BAUDRATE)."),
    reset: bool = typer.Option(False, "--reset", help="Reset the node after opening the port, to see it boot."),
    elf: Optional[str] = typer.Option(None, "--elf", metavar="FILE", help="The firmware's ELF: decode panic backtraces."),
    toolchain_prefix: str = typer.Option("xtensa-esp32s3-elf-", "--toolchain-prefix", metavar="PREFIX", help="Prefix of the toolchain's addr2line."),
    duration: Optional[float] = typer.Option(None, "--duration", metavar="S", help="Stop after S seconds."),
    no_reconnect: bool = typer.Option(False, "--no-reconnect", help="End when the port goes away instead of waiting for it."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per log line."),
) -> None:
    import time

    from ruview_cli.cli._prompts import choose_port
    from ruview_cli.device.ports import needs_manual_reset
    from ruview_cli.device.serial_log import BacktraceDecoder, read_lines, reset_board, \
        reset_through_loader
    from ruview_cli.errors import UsageError

    if duration is not None and not duration > 0:
        raise UsageError(f"--duration must be more than 0 seconds, got {duration:g}", "e.g. --duration 10")
    port = port or choose_port(interactive=sys.stdin.isatty())
    decoder = BacktraceDecoder(elf, toolchain_prefix) if elf else None
    out = console()
    err = console(stderr=True)
    deadline = time.monotonic() + duration if duration is not None else None

    def stop() -> bool:
        return deadline is not None and time.monotonic() >= deadline

    def on_state(state: str) -> None:
        msg = f"port {port} went away: waiting for it (Ctrl-C to leave)" if state == "lost" else f"port {port} is back"
        if as_json:
            emit_json({"event": state, "port": port})
        else:
            err.print(f"[dim]{safe(msg)}[/]")

    def opened(ser) -> None:
        if not reset:
            return
        if needs_manual_reset(port):
            reset_through_loader(ser)  # no RTS line: reset through the ROM loader, same port
        else:
            reset_board(ser)  # EN through RTS with the port open: the whole boot log is seen

    if not as_json:
        err.print(f"[dim]ruview logs: {safe(port)} at {baud} baud (Ctrl-C to leave)[/]")
    try:
        for line in read_lines(port, baud, reconnect=not no_reconnect, on_state=on_state, stop=stop,
                               opened=opened):
            if as_json:
                emit_json(line.to_json())
            else:
                _show(out, line)
            if decoder is not None:
                for loc in decoder.decode(line):
                    if as_json:
                        emit_json({"event": "backtrace", "location": loc})
                    else:
                        out.print(f"[yellow]{safe(loc)}[/]", soft_wrap=True)
    except KeyboardInterrupt:
        pass


def _show(out, line) -> None:
    """Node output is untrusted: safe() escapes markup and makes control characters visible."""
    if line.level is None:
        out.print(safe(line.text), soft_wrap=True, highlight=False)
        return
    head = f"{_LETTER[line.level]} ({line.time}) {line.tag}:"
    out.print(f"[{_STYLE[line.level]}]{safe(head)}[/] {safe(line.text)}", soft_wrap=True, highlight=False)
