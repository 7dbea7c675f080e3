"""`ruview profiles list|show`: the configuration presets that ship with ruview."""

from __future__ import annotations

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe

ORDER = 34


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="Configuration presets for `ruview provision --profile`. "
                             "`ruview profiles` alone lists them.")
    group.callback(invoke_without_command=True)(_bare)
    group.command("list", help="List the built-in profiles.\n\nWith --json: [{name, description, "
                  "config}] (config in human units).\n\n[b]Example[/b]\n\n  ruview profiles list")(list_cmd)
    group.command("show", help="Show one profile: its values and what they mean.\n\nNAME is a "
                  "built-in profile or a path to a .toml file (validated the same way).\n\nWith --json: "
                  "{name, description, path, config}.\n\n[b]Example[/b]\n\n  ruview profiles show vitals")(show_cmd)
    app.add_typer(group, name="profiles")


def _bare(ctx: typer.Context) -> None:
    if ctx.invoked_subcommand is None:
        list_cmd(as_json=False)


@report_errors
def list_cmd(as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    from ruview_cli.config.profiles import list_profiles

    profiles = list_profiles()
    if as_json:
        emit_json([{"name": p.name, "description": p.description, "config": p.values} for p in profiles])
        return
    from rich.table import Table

    from ruview_cli.config import schema

    table = Table("profile", "description", "values", box=None, padding=(0, 2))
    for p in profiles:
        vals = ", ".join(f"{k}={schema.BY_NAME[k].show(v)}" for k, v in p.stored.items())
        table.add_row(safe(p.name), safe(p.description), safe(vals))
    console().print(table)


@report_errors
def show_cmd(name: str = typer.Argument(..., metavar="NAME|PATH"),
             as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")) -> None:
    from ruview_cli.config import schema
    from ruview_cli.config.profiles import load_profile

    p = load_profile(name)
    if as_json:
        emit_json({"name": p.name, "description": p.description, "path": p.path, "config": p.values})
        return
    from rich.table import Table

    out = console()
    out.print(f"[bold]{safe(p.name)}[/]: {safe(p.description)}")
    table = Table("key", "value", "firmware default", "meaning", box=None, padding=(0, 2))
    for k, v in p.stored.items():
        spec = schema.BY_NAME[k]
        table.add_row(safe(k), safe(spec.show(v)), spec.show(spec.default), spec.help)
    out.print(table)
    out.print(f"[dim]{safe(p.path)}[/]")
