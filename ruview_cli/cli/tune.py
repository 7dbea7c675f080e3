"""`ruview tune`: thresholds for one room, from a recording the user labels."""

from __future__ import annotations

import os
from typing import List, Optional

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.errors import RuviewError, UsageError

ORDER = 44

_HELP = """Propose presence/fall thresholds, vitals window and subcarrier count for one room.

Replays the raw CSI frames of a recording (pcap from `ruview tail --record` with the nodes' raw frames on, or a RuView .csi.jsonl) through the firmware's own core on this computer with candidate settings, scores how well each separates the parts you mark (no presence while empty, presence while occupied, a fall reported within a few seconds of each --fall and nowhere else), prints what each candidate would have reported, and writes the best as a profile for `ruview provision --profile FILE`. Times are seconds from the recording's first packet; the first --settle seconds of each part are not scored.

[b]Example[/b]

  ruview tune room.pcap --empty 0-60 --occupied 60-180 --fall 200 -o room.toml

  ruview provision --port /dev/ttyUSB0 --profile room.toml
"""


def register(app: typer.Typer) -> None:
    app.command("tune", help=_HELP)(tune)


@report_errors
def tune(
    recording: str = typer.Argument(..., metavar="RECORDING", help="pcap/pcapng or RuView .csi.jsonl with raw CSI frames."),
    empty: Optional[List[str]] = typer.Option(None, "--empty", metavar="START-END", help="Seconds when the room was empty (repeatable)."),
    occupied: Optional[List[str]] = typer.Option(None, "--occupied", metavar="START-END", help="Seconds when someone was in the room (repeatable)."),
    fall: Optional[List[str]] = typer.Option(None, "--fall", metavar="T", help="Second at which someone fell (repeatable)."),
    output: str = typer.Option("tuned.toml", "-o", "--output", metavar="FILE.toml", help="Profile to write."),
    force: bool = typer.Option(False, "--force", help="Replace FILE.toml if it exists."),
    node: Optional[List[int]] = typer.Option(None, "--node", min=0, max=255, metavar="ID", help="Only this node's frames (repeatable)."),
    settle: float = typer.Option(15.0, "--settle", min=0.0, max=600.0, metavar="S", help="Seconds at the start of each part not scored."),
    as_json: bool = typer.Option(False, "--json", help="Print every candidate and the proposal as one JSON object."),
) -> None:
    from ruview_cli.tune.labels import Labels

    labels = Labels.parse(empty, occupied, fall, settle)
    if not os.path.isfile(recording):
        raise UsageError(f"no such recording: {recording}", "pass a file written by `ruview tail --record` or RuView's recorder")
    if os.path.exists(output) and not force:
        raise UsageError(f"{output} exists", "choose another -o file, or add --force to replace it")

    from ruview_cli.tune.frames import load_frames
    from ruview_cli.tune.profile import human_values, write_profile
    from ruview_cli.tune.search import defaults, search, separates

    rec = load_frames(recording, node)
    labels.check_within(rec.duration_s)
    err = console(stderr=True)
    if not as_json:
        err.print(f"[dim]replaying {rec.frames} raw frames from {len(rec.nodes)} node(s), "
                  f"{rec.duration_s:.0f} s, through the firmware core with candidate settings…[/]",
                  soft_wrap=True)
    base = defaults()
    best, outcomes = search(rec, labels, base)
    default = next((o for o in outcomes if o.settings == base), None)
    ok = separates(best)
    parts = []
    if labels.empty:
        parts.append("empty " + ", ".join(f"{a:g}-{b:g}" for a, b in labels.empty) + " s")
    if labels.occupied:
        parts.append("occupied " + ", ".join(f"{a:g}-{b:g}" for a, b in labels.occupied) + " s")
    if labels.falls:
        parts.append("falls at " + ", ".join(f"{f:g}" for f in labels.falls) + " s")
    description = f"Tuned by ruview tune on {os.path.basename(recording)}: " + "; ".join(parts)
    profile = write_profile(output, best.settings, description, force=force)

    if as_json:
        emit_json({"recording": recording, "frames": rec.frames, "nodes": [n.node_id for n in rec.nodes],
                   "duration_s": round(rec.duration_s, 3), "compressed_frames_skipped": rec.compressed,
                   "labels": labels.to_json(), "defaults": base, "proposal": human_values(best.settings),
                   "separates": ok, "profile": profile.path,
                   "candidates": [o.to_json() for o in outcomes]})
    else:
        from ruview_cli.cli._text import safe
        from ruview_cli.tune.report import candidates_table

        out = console()
        out.print(candidates_table(outcomes, best, default), markup=False, highlight=False, soft_wrap=True)
        values = ", ".join(f"{k} = {v}" for k, v in human_values(best.settings).items())
        out.print(f"\nproposal: {values}", soft_wrap=True)
        out.print(f"wrote {safe(profile.path)}; apply it with: ruview provision --profile {safe(profile.path)}",
                  soft_wrap=True)
        if rec.compressed:
            err.print(f"[dim]{rec.compressed} compressed frames were not replayed (they decode only against their keyframe)[/]")
    if not ok:
        raise RuviewError("no candidate separates the labelled parts cleanly (see the table); the best one was written",
                          "check the labels against the recording (`ruview plot`), or record longer parts")
