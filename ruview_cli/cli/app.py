"""The `ruview` entry point. Each command lives in its own module under ruview_cli/cli/.

Command modules import only typer at import time; esptool, zeroconf, requests and the NVS
generator are imported inside the command that needs them so `ruview --help` stays fast.
"""

from __future__ import annotations

import importlib
import pkgutil

import typer

app = typer.Typer(
    name="ruview",
    help="Provision, discover, update and watch fleets of ESP32-S3 WiFi-sensing (CSI) nodes.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode="rich",
    context_settings={"help_option_names": ["-h", "--help"]},
)

@app.callback()
def _root() -> None:
    """Provision, discover, update and watch fleets of ESP32-S3 WiFi-sensing (CSI) nodes."""
    # An explicit callback keeps `ruview COMMAND` a group even if only one command registers.


# Every module in this package except these defines `register(app)` and an integer `ORDER`
# (the position of its commands in --help, in the order an operator meets them).
_NOT_COMMANDS = {"app", "common"}


def _register_all() -> None:
    modules = []
    for info in pkgutil.iter_modules(_package_path()):
        if info.name in _NOT_COMMANDS or info.name.startswith("_"):
            continue
        modules.append(importlib.import_module(f"ruview_cli.cli.{info.name}"))
    for module in sorted(modules, key=lambda m: getattr(m, "ORDER", 100)):
        module.register(app)


def _package_path() -> list[str]:
    import ruview_cli.cli as pkg

    return list(pkg.__path__)


_register_all()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
