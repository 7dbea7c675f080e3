"""`ruview sim`: run an emulated fleet in the foreground until Ctrl-C / SIGTERM."""

from __future__ import annotations

from typing import List, Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors

ORDER = 80

HELP = """Run emulated ESP32-S3 nodes on this machine, until Ctrl-C.

Each node gets its own loopback address (127.0.0.2, .3, ...) with the HTTP control/OTA server on port 8032, a ROM serial loader that the real esptool talks to (socket:// URL and a pty), an mDNS advert (_ruview._tcp; not for --flavor ruview-0.6) and UDP telemetry computed by the firmware's own DSP core from a synthetic CSI scenario.

[b]Examples[/b]

  ruview sim --nodes 3
  ruview sim --nodes 10 --scenario fall:t=30 --target 127.0.0.1:5005
  ruview sim --nodes 2 --flavor ruview-0.6 --psk $(openssl rand -hex 32)
  ruview sim --nodes 1 --fault selftest-fail --fault udp-loss=5 --json

[b]--json[/b] prints one object per node as soon as it is ready, with the keys index, node_id, mac, ip, http_port, serial_url, pty, mdns_name, flavor, version, state, ota_psk (bool), target.
"""


def register(app: typer.Typer) -> None:
    app.command("sim", help=HELP)(sim)


def parse_target(text: str) -> tuple[str, int]:
    import ipaddress

    from ruview_cli.errors import UsageError

    host, sep, port = text.rpartition(":")
    if not sep:
        host, port = text, "5005"
    try:
        ipaddress.IPv4Address(host)
        number = int(port)
        if not 0 < number < 65536:
            raise ValueError
    except ValueError:
        raise UsageError(f"--target {text!r} is not IPV4:PORT",
                         "write it as e.g. 127.0.0.1:5005 (the nodes' firmware needs a dotted IPv4 address)") from None
    return host, number


@report_errors
def sim(
    nodes: int = typer.Option(3, "--nodes", "-n", help="How many nodes to run (1-250)."),
    flavor: str = typer.Option("ours", help="Firmware to emulate: ours, or ruview-0.6 (no mDNS, no rollback)."),
    scenario: str = typer.Option(
        "breathing",
        help="CSI scenario: empty, breathing, walking, mixed, fall, two-people, enter-leave; "
        "parameters as NAME:key=value,... e.g. breathing:rate_bpm=12",
    ),
    fault: Optional[List[str]] = typer.Option(
        None, "--fault",
        help="Fault for every node, repeatable: selftest-fail, crash-loop, drop-after=BYTES, "
        "throttle=KBPS, serial-baud=BAUD, udp-loss=PERCENT, mdns-silent, slow-reboot=SECONDS.",
    ),
    target: str = typer.Option("127.0.0.1:5005", help="Where the nodes send telemetry (IPV4:PORT)."),
    psk: Optional[str] = typer.Option(
        None, envvar="RUVIEW_SIM_PSK", help="Provision this OTA key on every node (default: none, like real boards)."
    ),
    factory: bool = typer.Option(False, help="Start with blank NVS, like boards fresh out of the box."),
    interface: Optional[str] = typer.Option(
        None, "--interface", envvar="RUVIEW_MDNS_INTERFACE", metavar="ADDR",
        help="Interface address for mDNS (e.g. 127.0.0.1).",
    ),
    old_interface: Optional[str] = typer.Option(None, "--mdns-interface", hidden=True,
                                                help="Deprecated spelling of --interface."),
    first_host: int = typer.Option(2, help="Host number of the first node in 127.0.0.0/8: 2 is 127.0.0.2, 65538 is 127.1.0.2."),
    seed: int = typer.Option(0, help="Seed for MACs and scenarios (reproducible fleets)."),
    json_out: bool = typer.Option(False, "--json", help="One JSON object per node per line."),
) -> None:
    import signal
    import threading

    from ruview_cli.cli.common import deprecated_alias
    from ruview_cli.errors import UsageError
    from ruview_cli.sim.faults import NodeFaults, parse_fault
    from ruview_cli.sim.fleet import FleetOptions, SimFleet
    from ruview_cli.sim.scenarios import parse_scenario

    mdns_interface = deprecated_alias("--mdns-interface", old_interface, "--interface", interface)
    faults = NodeFaults()
    for spec in fault or []:
        parse_fault(spec, faults)
    try:
        scenario_name, scenario_params = parse_scenario(scenario)
    except ValueError as exc:
        raise UsageError(f"--scenario: {exc}", "see `ruview sim --help` for the scenarios") from None
    options = FleetOptions(
        nodes=nodes, flavor=flavor, scenario=scenario_name, scenario_params=scenario_params,
        faults=faults, target=parse_target(target), psk=psk, factory=factory,
        mdns_interface=mdns_interface, first_host=first_host, seed=seed,
    )
    out = console()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    fleet = SimFleet(options)
    rows: list[dict] = []

    def ready(info: dict) -> None:
        rows.append(info)
        if json_out:
            emit_json(info)

    try:
        fleet.start(on_ready=ready)
        if not json_out:
            out.print(_table(rows))
            out.print(f"[dim]{len(rows)} node(s) running; telemetry to {target}. Ctrl-C to stop.[/]")
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        fleet.stop()


def _table(rows: list[dict]):
    from rich.table import Table

    table = Table(title="emulated nodes", show_lines=False)
    for col in ("node", "ip", "http", "serial", "pty", "mac", "version", "flavor", "ota key"):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r["node_id"]), r["ip"], str(r["http_port"]), r["serial_url"],
                      r["pty"] or "-", r["mac"], r["version"], r["flavor"],
                      "yes" if r["ota_psk"] else "no")
    return table
