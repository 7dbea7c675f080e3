"""`ruview tail`: watch decoded telemetry from every node, live or from a recording."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, deprecated_alias, report_errors
from ruview_cli.cli._text import plain, safe
from ruview_cli.errors import UsageError

ORDER = 40

_HELP = """Watch live decoded telemetry (vitals, CSI frame rate, loss) from every node.

One row per node, keyed by source address and node id: breathing and heart rate, presence, motion, persons, falls (red, held for several seconds), RSSI, frame rate, raw-frame loss and last seen; a node silent for 5 s is marked stale. Ctrl-C, --duration or --count end the run with a per-node summary.

With --json: one JSON object per received packet per line on stdout (keys t, source, kind, node_id, then the packet's fields; malformed and unknown datagrams as kind "malformed" / "unknown" with a reason). Status and the closing summary go to stderr as JSON objects with an "event" key.

[b]Examples[/b]

  ruview tail

  ruview tail --json --node 3 --count 100 | jq .breathing_bpm

  ruview tail --record today.pcap --duration 600

  ruview tail --replay today.pcap --speed 0 --json
"""


def register(app: typer.Typer) -> None:
    app.command("tail", help=_HELP)(tail)


@report_errors
def tail(
    bind: str = typer.Option("0.0.0.0", "--bind", metavar="ADDR", help="Local address to listen on."),
    listen: Optional[int] = typer.Option(
        None, "--listen", min=1, max=65535, metavar="PORT",
        help="UDP port the nodes send to (their target_port) [default: 5005]. With --replay: keep only datagrams sent to it.",
    ),
    old_port: Optional[int] = typer.Option(None, "--port", min=1, max=65535, hidden=True,
                                           help="Deprecated spelling of --listen."),
    node: Optional[List[str]] = typer.Option(
        None, "--node", metavar="NODE", help="Show only this node: its id (0-255), or an inventory name or MAC (repeatable). Datagrams naming no node (unknown magic) are counted, not shown."
    ),
    kind: Optional[List[str]] = typer.Option(
        None, "--kind", metavar="KIND", help="Show only packets of this kind (repeatable): vitals, csi_raw, features, ... (docs/protocol.md §3)."
    ),
    duration: Optional[float] = typer.Option(
        None, "--duration", metavar="S", help="Stop after S seconds."
    ),
    count: Optional[int] = typer.Option(
        None, "--count", min=1, metavar="N", help="Stop after N packets (after the --node and --kind filters)."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per packet per line."),
    record: Optional[str] = typer.Option(
        None, "--record", metavar="FILE", help="Also write every received datagram to FILE (pcap)."
    ),
    replay: Optional[str] = typer.Option(
        None, "--replay", metavar="FILE",
        help="Read datagrams from a pcap/pcapng FILE or a RuView .csi.jsonl recording instead of the network.",
    ),
    through_dsp: bool = typer.Option(
        False, "--through-dsp",
        help="With --replay: run the raw CSI frames through our firmware's DSP core and show what it reports.",
    ),
    speed: Optional[float] = typer.Option(
        None, "--speed", min=0.0, metavar="X",
        help="With --replay: X times the recorded pace; 0 = as fast as possible [default: 1.0].",
    ),
    csv_file: Optional[str] = typer.Option(
        None, "--csv", metavar="FILE", help="Also write one row per vitals packet to FILE (CSV; see `ruview export`)."
    ),
    parquet_file: Optional[str] = typer.Option(
        None, "--parquet", metavar="FILE", help="Also write one row per vitals packet to FILE (Parquet, needs pyarrow)."
    ),
) -> None:
    port = deprecated_alias("--port", old_port, "--listen", listen)
    if duration is not None and not duration > 0:
        raise UsageError(f"--duration must be more than 0 seconds, got {duration:g}", "e.g. --duration 10")
    if through_dsp and replay is None:
        raise UsageError("--through-dsp only applies to --replay", "add --replay FILE")
    if speed is not None and replay is None:
        raise UsageError("--speed only applies to --replay", "add --replay FILE or drop --speed")
    if record is not None and replay is not None:
        raise UsageError("--record and --replay cannot be combined", "record a live run, replay it later")
    if replay is not None and not os.path.isfile(replay):
        raise UsageError(f"no such recording: {replay}", "pass the file written by --record (or a tcpdump capture)")
    if record is not None and os.path.isdir(record):
        raise UsageError(f"--record {record} is a directory", "give a file name, e.g. --record run.pcap")
    kinds = _kinds(kind)
    node_ids = _node_ids(node)

    from ruview_cli.telemetry.pcap import PcapWriter
    from ruview_cli.telemetry.receiver import DEFAULT_PORT, open_socket
    from ruview_cli.telemetry.session import TailSession
    from ruview_cli.telemetry.sinks import JsonLinesSink, OutputClosed

    listen_port = port if port is not None else DEFAULT_PORT
    sock = None
    if replay is None:
        sock = open_socket(bind, listen_port)
    out = console()
    recorder = PcapWriter(record, (bind, listen_port)) if record is not None else None
    sink = JsonLinesSink() if as_json else None
    if csv_file or parquet_file:
        from ruview_cli.export.sink import open_rows_sink

        sink = open_rows_sink(csv_file, parquet_file, also=sink)

    live = None
    session = TailSession(nodes=node_ids, kinds=kinds, count=count, sink=sink, recorder=recorder)
    source_text = f"replay {replay}" if replay else f"udp {bind}:{listen_port}"
    piped = not as_json and not out.is_terminal
    if not as_json:
        note = (f"ruview tail: listening on {source_text} (Ctrl-C to stop)" if replay is None
                else f"ruview tail: {source_text}")
        if piped:
            note += ("; stdout is not a terminal: the table is written once at the end, every "
                     "column; --json gives one line per packet")
        else:
            from ruview_cli.cli._tail_table import LiveTable

            state = session.state
            # A replay ages nodes by the recording's clock, a live run by the wall clock.
            clock = (lambda t: state.last_t or t) if replay else None
            live = LiveTable(out, state, f"ruview tail · {plain(source_text)}", clock)
            session.on_tick = live.tick
        console(stderr=True).print(plain(note), style="dim", soft_wrap=True, markup=False)
    elif replay is None:
        from ruview_cli.telemetry.receiver import rcvbuf_size

        _status({"event": "listening", "source": source_text, "bind": bind, "port": listen_port,
                 "rcvbuf_bytes": rcvbuf_size(sock)})
    else:
        _status({"event": "replaying", "source": source_text, "file": replay, "port": port})

    restore = _install_stop_handlers(session.stop)
    reason = "interrupted"
    completed = False
    try:
        if live is not None:
            live.start()
        try:
            if replay is not None:
                reason = session.run_replay(replay, speed=1.0 if speed is None else speed,
                                            duration=duration, port=port, through_dsp=through_dsp)
            else:
                reason = session.run_live(sock, duration=duration)
        except OutputClosed:
            reason = "output closed"
        except KeyboardInterrupt:
            reason = "interrupted"
        completed = True
    finally:
        if live is not None:
            live.stop(final=completed)  # on an error too: give the terminal its cursor back
        restore()
        if sock is not None:
            sock.close()
        if recorder is not None:
            recorder.close()
        if sink is not None and hasattr(sink, "close"):
            sink.close()

    now = session.state.last_t if replay else None
    summary = session.summary(reason, now=now)
    if as_json:
        _status({"event": "summary", **summary})
    else:
        from ruview_cli.cli._tail_table import full_table, summary_table

        if piped:
            out.print(full_table(session.state, now or time.time()), soft_wrap=True, markup=False,
                      highlight=False)
        out.print(summary_table(summary), soft_wrap=piped)
        if recorder is not None:
            out.print(f"recorded {recorder.records} datagrams to {safe(recorder.path)}")
        if session.replay_stats is not None and session.replay_stats.skipped:
            skipped = ", ".join(f"{v} {k}" for k, v in session.replay_stats.skipped.items())
            out.print(f"[dim]skipped in the recording: {safe(skipped)}[/]")
    if summary["datagrams"] == 0:
        _nothing_arrived(source_text, as_json, listen_port if replay is None else None)


def _nothing_arrived(source_text: str, as_json: bool, port: Optional[int]) -> None:
    """Zero datagrams is rarely what the user wanted: say so, and what to check (on stderr)."""
    message = f"nothing arrived ({source_text})"
    if port is None:
        fix = "the recording holds no UDP datagrams for this port: drop --listen, or check the capture filter"
    else:
        fix = (f"check that the nodes send to this machine's address and port {port} (`ruview "
               f"config show` lists target_ip / target_port; change them with `ruview provision "
               f"--target-ip ADDR --target-port {port}`), that --bind is an address of this machine, "
               f"and that no firewall drops UDP {port} (`ruview doctor`)")
    if as_json:
        _status({"event": "warning", "message": message, "fix": fix})
    else:
        err = console(stderr=True)
        err.print(f"[bold yellow]warning:[/] {safe(message)}", soft_wrap=True)
        err.print(f"[bold]fix:[/] {safe(fix)}", soft_wrap=True)


def _kinds(kinds: Optional[List[str]]) -> Optional[frozenset]:
    if not kinds:
        return None
    from ruview_cli.protocol import KINDS

    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise UsageError(f"--kind {unknown[0]}: no such packet kind", f"use one of: {', '.join(KINDS)}")
    return frozenset(kinds)


def _node_ids(refs: Optional[List[str]]) -> Optional[list[int]]:
    """--node values: ids as given, names and MACs through the inventory (as status and ota)."""
    if not refs:
        return None
    ids, inv = [], None
    for ref in refs:
        if ref.isdigit():
            if int(ref) > 255:
                raise UsageError(f"--node {ref}: a node id is 0-255", "give the node's id or its inventory name")
            ids.append(int(ref))
            continue
        if inv is None:
            from ruview_cli.inventory import Inventory

            inv = Inventory.load()
        entry = inv.find(ref)
        if entry is None:
            raise UsageError(f"--node {ref}: no such node in {inv.path}",
                             "`ruview nodes list` shows the names it knows; or give the node id (0-255)")
        if entry.node_id is None:
            raise UsageError(f"--node {ref}: the inventory has no node id for it",
                             "give its id (--node 3), or let `ruview discover` record it")
        ids.append(int(entry.node_id))
    return ids


def _status(obj: dict) -> None:
    """One JSON object on stderr (status and summary in --json mode)."""
    try:
        sys.stderr.write(json.dumps(obj, separators=(",", ":")) + "\n")
        sys.stderr.flush()
    except (BrokenPipeError, ValueError):
        pass


def _install_stop_handlers(stop):
    """SIGINT/SIGTERM ask the loop to stop (it finishes the datagram at hand and sums up).

    A second Ctrl-C while stopping raises KeyboardInterrupt as usual.
    """
    previous = {}

    def handler(signum, _frame):
        if stop.stopped and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set("interrupted" if signum == signal.SIGINT else "terminated")

    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            previous[sig] = signal.signal(sig, handler)
        except (ValueError, OSError):  # not the main thread
            pass

    def restore() -> None:
        for sig, old in previous.items():
            signal.signal(sig, old)

    return restore
