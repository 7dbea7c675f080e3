"""The `ruview` entry point. Each command lives in its own module under ruview_cli/cli/.

Start-up is paid on every scripted call, so `ruview` imports a command's module only when that
command runs (or its help is asked for): the table below gives the names and one-line help the
top-level `--help` needs. Help is plain text (click's formatter): typer's rich help pulls in
markdown-it and pygments, about twice the cost of importing typer itself.
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import Any, Optional

import typer
from typer.core import TyperGroup

from ruview_cli import __version__

# (command, module under ruview_cli/cli/, the line shown by `ruview --help`), in the order an
# operator meets them. tests/test_cli_app.py checks it against what each module registers.
COMMANDS = (
    ("demo", "demo", "Try everything on this machine, no hardware needed (about 30 seconds)."),
    ("discover", "discover", "Find nodes by mDNS, by their UDP telemetry and by probing GET :8032/ota/status."),
    ("nodes", "nodes", "The fleet inventory: list, add, remove, set."),
    ("status", "status", "Ask each node which firmware it runs: version, slot, OTA state, uptime."),
    ("provision", "provision", "Write a node's configuration (NVS) over USB: validated, merged, verified."),
    ("config", "config", "Read a node's configuration."),
    ("profiles", "profiles", "Configuration presets for `ruview provision --profile`."),
    ("tail", "tail", "Watch live decoded telemetry (vitals, CSI frame rate, loss) from every node."),
    ("bridge", "bridge", "Publish every node's vitals to an MQTT broker, with Home Assistant discovery."),
    ("logs", "logs", "Show a node's serial log: the firmware's log lines, coloured by level."),
    ("export", "export", "Write one row per vitals packet of a recording to a CSV or Parquet file."),
    ("plot", "plot", "Plot breathing, heart rate, presence, motion and falls over time, one panel per node."),
    ("tune", "tune", "Propose presence/fall thresholds, vitals window and subcarrier count for one room."),
    ("ota", "ota", "Update node firmware over the network (HTTP OTA), safely, one canary first."),
    ("image", "image", "Inspect firmware images."),
    ("flash", "flash", "Flash a complete ESP-IDF build over USB serial."),
    ("doctor", "doctor", "Check this machine for what breaks discovery and flashing, with the fix for each."),
    ("wireshark", "wireshark", "Decode node telemetry in Wireshark and tshark: install the bundled Lua dissector."),
    ("sim", "sim", "Run emulated ESP32-S3 nodes on this machine, until Ctrl-C."),
)
_MODULE = {name: module for name, module, _ in COMMANDS}

VERBOSE_FLAGS = ("-v", "--verbose")
_ROOT_HELP = "Provision, discover, update and watch fleets of ESP32-S3 WiFi-sensing (CSI) nodes."

# Rich markup in help strings (typer's "rich" mode): shown as plain text here.
_MARKUP = re.compile(r"(?<!\\)\[/?(?:b|bold|i|italic|dim|u|underline|red|green|yellow|cyan)\]")


def plain_help(text: Optional[str]) -> Optional[str]:
    """Help text for click's formatter: markup tags dropped, indented paragraphs (examples) kept
    verbatim (`\\b`), every other paragraph left for click to wrap to the terminal."""
    if not text:
        return text
    text = _MARKUP.sub("", text).replace("\\[", "[")
    paragraphs = text.strip("\n").split("\n\n")
    return "\n\n".join("\b\n" + p if p.startswith(" ") else p for p in paragraphs)


def _plain_tree(cmd: Any) -> None:
    """Switch a loaded command (and its subcommands) to plain help."""
    cmd.rich_markup_mode = None
    cmd.help = plain_help(cmd.help)
    for param in cmd.params:
        if getattr(param, "help", None):
            param.help = plain_help(param.help)
    for sub in getattr(cmd, "commands", {}).values():
        _plain_tree(sub)


def load_command(name: str) -> Any:
    """Import one command module and return its click command (a group for nodes, config, ...)."""
    module = importlib.import_module(f"ruview_cli.cli.{_MODULE[name]}")
    if _debug:  # logging itself is not imported unless -v asked for it
        _log().debug("command %s: loaded %s", name, module.__name__)
    holder = typer.Typer(rich_markup_mode=None)
    holder.callback()(lambda: None)  # a group even when the module registers one command
    module.register(holder)
    group = typer.main.get_command(holder)
    cmd = group.commands[name]
    _plain_tree(cmd)
    return cmd


_debug = False


def _log() -> Any:
    import logging

    return logging.getLogger("ruview_cli.cli")


class LazyGroup(TyperGroup):
    """The root group: lists commands from COMMANDS, imports a module only when it is used."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [name for name, _, _ in COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        cmd = self.commands.get(cmd_name)
        if cmd is None and cmd_name in _MODULE:
            cmd = self.commands[cmd_name] = load_command(cmd_name)
        return cmd

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        args = hoist_verbose(args)
        if args[:1] and args[0] in VERBOSE_FLAGS:
            enable_debug_logging()  # now: loading the command may already log
        return super().parse_args(ctx, args)

    def format_commands(self, ctx: Any, formatter: Any) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, short) for name, _, short in COMMANDS])


app = typer.Typer(
    name="ruview",
    cls=LazyGroup,
    help=_ROOT_HELP,
    invoke_without_command=True,
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 120},
)


@app.callback()
def _root(
    ctx: typer.Context,
    version: bool = typer.Option(False, "--version", help="Print ruview's version (with --json: and the firmware it bundles) and exit."),
    as_json: bool = typer.Option(False, "--json", help="With --version: machine-readable output."),
    verbose: bool = typer.Option(False, *VERBOSE_FLAGS, help="Debug output on stderr (also accepted after the command)."),
) -> None:
    # --verbose was acted on while parsing (LazyGroup.parse_args); it is declared for --help.
    if version:
        _print_version(as_json)
        raise typer.Exit(0)
    if as_json:
        raise typer.BadParameter("before the command, --json only goes with --version; "
                                 "give it after the command (`ruview nodes list --json`)")
    if ctx.invoked_subcommand is None:
        typer.echo(ctx.get_help())


def _print_version(as_json: bool) -> None:
    from ruview_cli.versions import firmware_version

    if as_json:
        from ruview_cli.cli.common import emit_json

        emit_json({"ruview": __version__, "firmware": firmware_version()})
    else:
        typer.echo(f"ruview {__version__}")


def enable_debug_logging() -> None:
    """-v: the library's debug messages (logger "ruview_cli") on stderr."""
    import logging  # not at the top: ~6 ms of start-up most runs do not need

    global _debug
    _debug = True

    class StderrHandler(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            try:  # whatever sys.stderr is now (a test runner swaps it)
                sys.stderr.write(self.format(record) + "\n")
            except (OSError, ValueError):
                self.handleError(record)

    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("ruview: debug: %(name)s: %(message)s"))
    logger = logging.getLogger("ruview_cli")
    if any(getattr(h, "ruview_verbose", False) for h in logger.handlers):
        return
    handler.ruview_verbose = True  # type: ignore[attr-defined]
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)


def hoist_verbose(argv: list[str]) -> list[str]:
    """`ruview tail -v` means `ruview -v tail`: -v is a root option, accepted anywhere before `--`."""
    end = argv.index("--") if "--" in argv else len(argv)
    flags = [a for a in argv[:end] if a in VERBOSE_FLAGS]
    if not flags:
        return argv
    return flags[:1] + [a for a in argv[:end] if a not in VERBOSE_FLAGS] + argv[end:]


def main() -> None:
    app(prog_name="ruview")


if __name__ == "__main__":
    main()
