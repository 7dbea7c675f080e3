"""`ruview bridge`: publish node telemetry to an MQTT broker, with Home Assistant discovery."""

from __future__ import annotations

import json
import sys
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, report_errors
from ruview_cli.errors import UsageError

ORDER = 45

_HELP = """Publish every node's vitals to an MQTT broker, with Home Assistant discovery.

Receives telemetry exactly like `ruview tail` (same --bind/--listen and --node) and publishes per node: ruview/<node>/state (JSON: breathing_bpm, heart_bpm, presence, motion, n_persons, rssi, frame_rate_hz, firmware, ts; null where the node made no estimate), ruview/<node>/availability (online/offline, retained), ruview/<node>/event (one message per fall, QoS 1), and retained Home Assistant discovery configs. <node> is the inventory name, else node-<id>. The bridge's last will marks every node offline if it dies.

The password comes from --password - (read from stdin), the URL, or the \\[mqtt] table of the secrets file (key "HOST:PORT" or "HOST"); it is never printed. While the broker is away messages wait in a bounded queue (drops are counted). Ctrl-C or SIGTERM publishes offline and disconnects cleanly.

[b]Examples[/b]

  ruview bridge mqtt://127.0.0.1

  ruview bridge mqtts://ha.local:8883 --username ruview --password - --cafile ca.pem

  ruview bridge mqtt://127.0.0.1 --remove-discovery
"""


def register(app: typer.Typer) -> None:
    app.command("bridge", help=_HELP)(bridge)


@report_errors
def bridge(
    broker: str = typer.Argument(..., metavar="mqtt[s]://HOST[:PORT]", help="The MQTT broker."),
    bind: str = typer.Option("0.0.0.0", "--bind", metavar="ADDR", help="Local address to receive telemetry on."),
    listen: int = typer.Option(5005, "--listen", min=1, max=65535, metavar="PORT", help="UDP port the nodes send to."),
    node: Optional[List[str]] = typer.Option(None, "--node", metavar="NODE", help="Bridge only this node: its id (0-255), or an inventory name or MAC (repeatable), as in `ruview tail`."),
    username: Optional[str] = typer.Option(None, "--username", metavar="USER", help="Broker user name (also accepted in the URL)."),
    password: Optional[str] = typer.Option(None, "--password", metavar="-", help="'-' reads the broker password from stdin."),
    prefix: str = typer.Option("ruview", "--topic-prefix", metavar="PREFIX", help="First level of every node topic."),
    discovery_prefix: str = typer.Option("homeassistant", "--discovery-prefix", metavar="PREFIX", help="Home Assistant's discovery prefix."),
    no_discovery: bool = typer.Option(False, "--no-discovery", help="Do not publish Home Assistant discovery configs."),
    remove_discovery: bool = typer.Option(False, "--remove-discovery", help="Remove every ruview discovery config from the broker, then exit."),
    raw: bool = typer.Option(False, "--raw", help="Also publish raw CSI frames (binary) to <prefix>/<node>/csi."),
    stale_after: float = typer.Option(10.0, "--stale-after", min=1.0, metavar="S", help="Mark a node offline after S silent seconds."),
    queue: int = typer.Option(10_000, "--queue", min=100, metavar="N", help="Messages kept while the broker is away (beyond: oldest dropped, counted)."),
    client_id: str = typer.Option("", "--client-id", metavar="ID", help="MQTT client id \\[default: random]."),
    cafile: Optional[str] = typer.Option(None, "--cafile", metavar="FILE", help="CA certificate for mqtts:// (default: the system's)."),
    insecure: bool = typer.Option(False, "--insecure", help="mqtts:// without checking the broker's certificate."),
    duration: Optional[float] = typer.Option(None, "--duration", metavar="S", help="Stop after S seconds."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per line on stdout for what the bridge does."),
) -> None:
    from ruview_cli.bridge import BridgeOptions, BridgeSession, NodeNamer, Publisher, parse_broker_url
    from ruview_cli.bridge.credentials import broker_password
    from ruview_cli.bridge.session import remove_discovery as clear_discovery
    from ruview_cli.bridge.topics import Topics, check_prefix

    if duration is not None and not duration > 0:
        raise UsageError(f"--duration must be more than 0 seconds, got {duration:g}", "e.g. --duration 10")
    if insecure and not broker.startswith("mqtts://"):
        raise UsageError("--insecure only applies to mqtts://", "drop --insecure or use mqtts://")
    target, url_password = parse_broker_url(broker)
    if username is not None:
        target = type(target)(target.scheme, target.host, target.port, username)
    secret = broker_password(target, password, url_password)
    topics = Topics(check_prefix(prefix, "--topic-prefix"), check_prefix(discovery_prefix, "--discovery-prefix"))

    err = console(stderr=True)
    live_status = not as_json and sys.stderr.isatty()

    refused: list[str] = []
    session_ref: list = []

    def emit(event: str, info: dict) -> None:
        if event == "connect_failed" and _is_auth_refusal(info.get("reason", "")):
            refused.append(info.get("reason", ""))
            if session_ref:
                session_ref[0].stop.set("refused")
        if as_json:
            sys.stdout.write(json.dumps({"event": event, **info}, separators=(",", ":")) + "\n")
            sys.stdout.flush()
        elif event in ("connected", "disconnected", "connect_failed"):
            from ruview_cli.cli._text import safe

            err.print(safe(f"ruview bridge: {event} {info.get('broker', '')} {info.get('reason', '')}".rstrip()))

    def factory(**kw):
        return Publisher(target, password=secret, client_id=client_id, queue_max=queue,
                         cafile=cafile, insecure=insecure, **kw)

    if remove_discovery:
        pub = factory(on_status=emit)
        pub.start()
        try:
            if not pub.wait_connected(10.0):
                from ruview_cli.errors import RuviewError

                raise RuviewError(f"cannot connect to {target.display()}",
                                  "check the broker address, port and credentials")
            removed = clear_discovery(pub, topics)
        finally:
            pub.stop()
        if as_json:
            emit("removed", {"configs": removed})
        else:
            console().print(f"removed {len(removed)} discovery configs from {target.display()}")
        return

    from ruview_cli.cli.tail import _install_stop_handlers
    from ruview_cli.inventory import Inventory
    from ruview_cli.telemetry.receiver import open_socket

    sock = open_socket(bind, listen)
    namer = NodeNamer(Inventory.load().nodes())
    from ruview_cli.cli.tail import _node_ids

    node_ids = _node_ids(node)  # the same filter as `ruview tail --node`
    options = BridgeOptions(topics=topics, nodes=frozenset(node_ids) if node_ids else None,
                            discovery=not no_discovery, raw=raw, stale_after=stale_after)
    session = BridgeSession(options, namer, factory, on_event=emit)
    session_ref.append(session)
    if live_status:
        from ruview_cli.cli._bridge_status import StatusLine

        status = StatusLine(err, session)
        session_tick = session.tick

        def tick(now: float) -> None:
            session_tick(now)
            status.refresh(now)

        session.tick = tick  # type: ignore[method-assign]
    emit("listening", {"bind": bind, "port": listen, "broker": target.display()})
    restore = _install_stop_handlers(session.stop)
    reason = "interrupted"
    try:
        reason = session.run(sock, duration=duration)
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        restore()
        sock.close()
        if live_status:
            status.close()
    summary = session.summary(reason)
    if refused:
        from ruview_cli.errors import RuviewError

        if as_json:
            emit("summary", summary)
        raise RuviewError(f"the broker {target.display()} refused the login: {refused[0]}",
                          "check --username and the password (--password -, or the [mqtt] table of the secrets file)")
    if as_json:
        emit("summary", summary)
    else:
        console().print(
            f"ruview bridge: {reason}: {summary['datagrams']} datagrams from {len(summary['nodes'])} nodes, "
            f"{summary['published']} messages published, {summary['dropped']} dropped, {summary['falls']} falls")


def _is_auth_refusal(reason: str) -> bool:
    """A refused login does not heal by retrying: stop and say so."""
    r = reason.lower()
    return "not authorized" in r or "bad user name or password" in r or "bad username or password" in r
