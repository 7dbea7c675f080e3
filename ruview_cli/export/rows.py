"""One row per vitals packet: what a node estimated, when, as plain values (None = no estimate).

The row is the unit of `ruview export`, `ruview tail --csv/--parquet` and `ruview plot`. A BPM
of 0.0 on the wire means the node made no estimate (docs/protocol.md), so it becomes None
(an empty CSV cell, a Parquet null), never 0. Confidences exist only where the node sent them
(our firmware's flags bit 7); RuView 0.6.x nodes leave them None.
"""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator, Optional

from ruview_cli.telemetry.pcap import Datagram, ReadStats

# (name, type) in file order. Types: "time" (unix s), "str", "int", "float", "bool".
COLUMNS: tuple[tuple[str, str], ...] = (
    ("time", "time"),              # arrival time at the collector, unix seconds
    ("source", "str"),             # sender address "ip:port" (tells apart nodes sharing an id)
    ("node_id", "int"),
    ("breathing_bpm", "float"),
    ("heart_bpm", "float"),
    ("breathing_conf", "float"),   # 0..1, only where the node sent one
    ("heart_conf", "float"),
    ("presence", "bool"),
    ("presence_score", "float"),
    ("motion", "bool"),
    ("motion_energy", "float"),
    ("fall", "bool"),
    ("n_persons", "int"),
    ("rssi_dbm", "int"),
)
NAMES = tuple(name for name, _ in COLUMNS)
VITALS_KINDS = ("vitals", "fused_vitals")


def _finite(x: Any) -> Optional[float]:
    return float(x) if isinstance(x, (int, float)) and x - x == 0 else None


def _estimate(bpm: float) -> Optional[float]:
    """A BPM the node estimated, or None: 0.0 (and NaN/inf, which a node cannot mean) = none."""
    v = _finite(bpm)
    return v if v else None


def _source(addr: tuple) -> Optional[str]:
    """ "ip:port", or None where the recording kept no sender (RuView .csi.jsonl)."""
    return None if addr[1] == 0 and addr[0] == "0.0.0.0" else f"{addr[0]}:{addr[1]}"


def vitals_row(pkt: Any, source: tuple, t: float) -> Optional[dict]:
    """The row of a decoded packet, or None when it is not a vitals packet."""
    if pkt.kind not in VITALS_KINDS:
        return None
    return {
        "time": t,
        "source": _source(source),
        "node_id": pkt.node_id,
        "breathing_bpm": _estimate(pkt.breathing_bpm),
        "heart_bpm": _estimate(pkt.heart_bpm),
        "breathing_conf": getattr(pkt, "breathing_conf", None),
        "heart_conf": getattr(pkt, "heart_conf", None),
        "presence": pkt.presence,
        "presence_score": _finite(pkt.presence_score),
        "motion": pkt.motion,
        "motion_energy": _finite(pkt.motion_energy),
        "fall": pkt.fall,
        "n_persons": pkt.n_persons,
        "rssi_dbm": pkt.rssi_dbm,
    }


def rows_from_datagrams(datagrams: Iterable[Datagram]) -> Iterator[dict]:
    """Rows of the vitals packets among datagrams (anything else is skipped)."""
    from ruview_cli.protocol import decode
    from ruview_cli.protocol import magics as M

    wanted = (M.MAGIC_VITALS.to_bytes(4, "little"), M.MAGIC_FUSED_OR_WASM.to_bytes(4, "little"))
    for dg in datagrams:
        if dg.data[:4] not in wanted:  # most datagrams are CSI frames: skip without decoding
            continue
        row = vitals_row(decode(dg.data), dg.source, dg.t)
        if row is not None:
            yield row


def recording_rows(path: str | os.PathLike, stats: Optional[ReadStats] = None) -> Iterator[dict]:
    """Rows of a recording: a pcap/pcapng capture or a RuView .csi.jsonl file."""
    from ruview_cli.telemetry.pcap import read_capture

    return rows_from_datagrams(read_capture(path, stats))


__all__ = ["COLUMNS", "NAMES", "vitals_row", "rows_from_datagrams", "recording_rows"]
