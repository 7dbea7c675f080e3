"""`ruview tail`: watch decoded telemetry from every node, live or from a recording."""

from __future__ import annotations

import json
import os
import signal
import sys
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, report_errors
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
    port: Optional[int] = typer.Option(
        None, "--port", min=1, max=65535, metavar="N",
        help="UDP port the nodes send to \\[default: 5005]. With --replay: keep only datagrams sent to it.",
    ),
    node: Optional[List[int]] = typer.Option(
        None, "--node", min=0, max=255, metavar="ID", help="Show only this node id (repeatable). Datagrams naming no node (unknown magic) are counted, not shown."
    ),
    duration: Optional[float] = typer.Option(
        None, "--duration", metavar="S", help="Stop after S seconds."
    ),
    count: Optional[int] = typer.Option(
        None, "--count", min=1, metavar="N", help="Stop after N packets (after the --node filter)."
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
        help="With --replay: X times the recorded pace; 0 = as fast as possible \\[default: 1.0].",
    ),
    csv_file: Optional[str] = typer.Option(
        None, "--csv", metavar="FILE", help="Also write one row per vitals packet to FILE (CSV; see `ruview export`)."
    ),
    parquet_file: Optional[str] = typer.Option(
        None, "--parquet", metavar="FILE", help="Also write one row per vitals packet to FILE (Parquet, needs pyarrow)."
    ),
) -> None:
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
    session = TailSession(nodes=node, count=count, sink=sink, recorder=recorder)
    source_text = f"replay {replay}" if replay else f"udp {bind}:{listen_port}"
    if not as_json:
        from ruview_cli.telemetry.table import LiveTable

        state = session.state
        # A replay ages nodes by the recording's clock, a live run by the wall clock.
        clock = (lambda t: state.last_t or t) if replay else None
        live = LiveTable(out, state, f"ruview tail · {plain(source_text)}", clock)
        session.on_tick = live.tick
        console(stderr=True).print(f"[dim]ruview tail: listening on {safe(source_text)} (Ctrl-C to stop)[/]"
                  if replay is None else f"[dim]ruview tail: {safe(source_text)}[/]")
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

    summary = session.summary(reason, now=session.state.last_t if replay else None)
    if as_json:
        _status({"event": "summary", **summary})
    else:
        from ruview_cli.telemetry.table import summary_table

        out.print(summary_table(summary))
        if recorder is not None:
            out.print(f"recorded {recorder.records} datagrams to {safe(recorder.path)}")
        if session.replay_stats is not None and session.replay_stats.skipped:
            skipped = ", ".join(f"{v} {k}" for k, v in session.replay_stats.skipped.items())
            out.print(f"[dim]skipped in the recording: {safe(skipped)}[/]")


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
