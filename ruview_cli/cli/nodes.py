"""`ruview nodes`: the fleet inventory — list, add, remove, and name/group/annotate nodes."""

from __future__ import annotations

from typing import Optional

import typer

from ruview_cli.cli.common import console, deprecated_alias, emit_json, report_errors
from ruview_cli.cli._text import safe
from ruview_cli.errors import RuviewError, UsageError

ORDER = 12

_HELP = """The fleet inventory (ruview.toml): nodes by MAC with a name, group and notes. `ruview nodes` alone lists them.

The file is RUVIEW_INVENTORY when that is set, else ./ruview.toml when it exists, else ruview.toml in the user config directory (`ruview nodes path` prints it). `ruview discover` fills it; names and groups set here are what later commands accept: `ruview status kitchen`, `ruview ota fw.bin --group lab`.

[b]Examples[/b]

  ruview nodes list

  ruview nodes add 192.168.1.40 --name kitchen --group ground-floor

  ruview nodes set kitchen --notes "behind the fridge"

  ruview nodes remove 34:85:18:aa:bb:cc
"""


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help=_HELP, rich_markup_mode="rich")
    sub.callback(invoke_without_command=True)(_bare)
    sub.command("list", help="List the inventory. --json: {\"inventory\": PATH, \"nodes\": [...]} "
                             "with the keys of the file (mac, name, node_id, ip, http_port, "
                             "serial_port, chip, version, edge_tier, group, notes, last_seen, "
                             "sources, config).")(nodes_list)
    sub.command("add", help="Add a node by MAC, or by address (its MAC is read from "
                            "GET /ota/status; RuView 0.6.x nodes need --mac).")(nodes_add)
    sub.command("set", help="Change a node's name, group, notes or address. An empty value "
                            "(--group \"\") removes the field.")(nodes_set)
    sub.command("remove", help="Forget a node (by name, MAC or address).")(nodes_remove)
    sub.command("path", help="Print where the inventory and secrets files are.")(nodes_path)
    app.add_typer(sub, name="nodes", help="The fleet inventory: list, add, remove, set.")


def _bare(ctx: typer.Context) -> None:
    """`ruview nodes` alone lists the inventory."""
    if ctx.invoked_subcommand is None:
        nodes_list(group=None, as_json=False)


def _load():
    from ruview_cli.inventory import Inventory

    return Inventory.load()


@report_errors
def nodes_list(group: Optional[str] = typer.Option(None, "--group", metavar="G",
                                                   help="Only nodes of group G."),
               as_json: bool = typer.Option(False, "--json", help="Machine-readable output.")
               ) -> None:
    inv = _load()
    nodes = inv.by_group(group) if group is not None else inv.nodes()
    if as_json:
        emit_json({"inventory": str(inv.path), "nodes": [n.to_json() for n in nodes]})
        return
    from rich.table import Table

    from ruview_cli.cli._render_nodes import ago, dash

    t = Table(title=f"{safe(inv.path)} · {len(nodes)} nodes", title_justify="left",
              header_style="bold")
    for col in ("name", "MAC", "node", "address", "version", "tier", "group", "last seen",
                "notes"):
        t.add_column(col, no_wrap=col in ("MAC", "address"))
    for n in nodes:
        addr = dash(n.ip) if n.http_port == 8032 or not n.ip else dash(f"{n.ip}:{n.http_port}")
        t.add_row(dash(n.name), dash(n.mac), dash(n.node_id), addr, dash(n.version),
                  dash(n.edge_tier), dash(n.group), ago(n.last_seen), dash(n.notes))
    from ruview_cli.cli._render_nodes import table_console

    table_console().print(t)
    if not nodes:
        console().print("the inventory is empty: run `ruview discover`, or "
                        "`ruview nodes add ADDRESS --name NAME`")


@report_errors
def nodes_add(
    ref: str = typer.Argument(..., metavar="MAC|ADDRESS", help="The node's MAC, or host[:port]."),
    name: Optional[str] = typer.Option(None, "--name", help="A short name (kitchen, bed-2)."),
    group: Optional[str] = typer.Option(None, "--group", metavar="G"),
    notes: Optional[str] = typer.Option(None, "--notes"),
    ip: Optional[str] = typer.Option(None, "--ip", metavar="ADDR", help="Its address (with a MAC)."),
    mac: Optional[str] = typer.Option(None, "--mac", help="Its MAC (with an address)."),
    http_port: Optional[int] = typer.Option(None, "--http-port", min=1, max=65535, metavar="PORT",
                                            help="HTTP control port [default: 8032]."),
    old_port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, hidden=True,
                                           help="Deprecated spelling of --http-port."),
    as_json: bool = typer.Option(False, "--json", help="Print the stored entry as JSON."),
) -> None:
    from ruview_cli.inventory import _is_mac, normalize_mac, split_host_port

    port = deprecated_alias("--port", old_port, "--http-port", http_port)

    inv = _load()
    fields = {"name": name, "group": group, "notes": notes}
    if _is_mac(ref):
        fields.update(ip=ip, http_port=port)
        entry_mac = normalize_mac(ref)
    else:
        from ruview_cli.nodeapi import get_status

        host, hport = split_host_port(ref)
        hport = port or hport
        try:
            st = get_status(host, hport, timeout=3.0)
        except RuviewError as exc:
            if not mac:
                raise RuviewError(exc.message + "; cannot read its MAC",
                                  f"give it: `ruview nodes add {ref} --mac MAC`") from None
            st = None
        entry_mac = normalize_mac(mac) if mac else (st.mac if st else None)
        if not entry_mac:
            raise UsageError(f"{ref} runs RuView 0.6.x firmware, which does not report its MAC",
                             f"give it: `ruview nodes add {ref} --mac MAC` (printed on the "
                             "board's serial console at boot, or `ruview provision` shows it)")
        fields.update(ip=host, http_port=hport)
        if st is not None:
            fields.update(node_id=st.node_id, version=st.version, edge_tier=st.edge_tier,
                          chip=st.chip)
    if inv.get(entry_mac) is not None:
        raise UsageError(f"{entry_mac} is already in the inventory",
                         "change it with `ruview nodes set`")
    entry = inv.upsert(entry_mac, **fields)
    inv.save()
    if as_json:
        emit_json(entry.to_json())
    else:
        console().print(f"added {safe(entry.name or entry.mac)} ({entry.mac}) to "
                        f"{safe(inv.path)}")


@report_errors
def nodes_set(
    ref: str = typer.Argument(..., metavar="NODE", help="Name, MAC or address."),
    name: Optional[str] = typer.Option(None, "--name"),
    group: Optional[str] = typer.Option(None, "--group", metavar="G"),
    notes: Optional[str] = typer.Option(None, "--notes"),
    ip: Optional[str] = typer.Option(None, "--ip", metavar="ADDR"),
    http_port: Optional[int] = typer.Option(None, "--http-port", min=1, max=65535, metavar="PORT",
                                            help="HTTP control port."),
    old_port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, hidden=True,
                                           help="Deprecated spelling of --http-port."),
) -> None:
    port = deprecated_alias("--port", old_port, "--http-port", http_port)
    inv = _load()
    entry = inv.find(ref)
    if entry is None:
        raise UsageError(f"no node {ref!r} in {inv.path}",
                         "`ruview nodes list` shows the names, MACs and addresses it knows")
    values = {"name": name, "group": group, "notes": notes, "ip": ip}
    if all(v is None for v in values.values()) and port is None:
        raise UsageError("nothing to set", "give --name, --group, --notes, --ip or --http-port")
    cleared = [k for k, v in values.items() if v == ""]
    if cleared:
        inv.unset(entry.mac, *cleared)
    inv.upsert(entry.mac, http_port=port,
               **{k: v for k, v in values.items() if v not in (None, "")})
    inv.save()
    console().print(f"updated {safe(inv.get(entry.mac).name or entry.mac)}")


@report_errors
def nodes_remove(ref: str = typer.Argument(..., metavar="NODE", help="Name, MAC or address.")
                 ) -> None:
    inv = _load()
    entry = inv.find(ref)
    if entry is None or not inv.remove(ref):
        raise UsageError(f"no node {ref!r} in {inv.path}",
                         "`ruview nodes list` shows the names, MACs and addresses it knows")
    inv.save()
    console().print(f"removed {safe(entry.name or entry.mac)}")


@report_errors
def nodes_path(as_json: bool = typer.Option(False, "--json")) -> None:
    from ruview_cli.inventory import inventory_path, secrets_path

    inv = inventory_path()
    if as_json:
        emit_json({"inventory": str(inv), "secrets": str(secrets_path(inv))})
    else:
        console().print(f"inventory: {safe(inv)}\nsecrets:   {safe(secrets_path(inv))}")
