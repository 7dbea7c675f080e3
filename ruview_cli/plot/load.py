"""What `ruview plot` draws from: a recording (pcap/pcapng/.csi.jsonl) or a rows file (CSV/Parquet)."""

from __future__ import annotations

import os
from typing import Iterable, Optional

from ruview_cli.export.files import FORMATS as ROW_FORMATS
from ruview_cli.plot.series import NodeSeries, node_series


def load_series(path: str, nodes: Optional[Iterable[int]] = None) -> list[NodeSeries]:
    if os.path.splitext(path)[1].lower() in ROW_FORMATS:
        from ruview_cli.export.files import read_row_file

        rows = read_row_file(path)
    else:
        from ruview_cli.export.rows import recording_rows

        rows = recording_rows(path)
    return node_series(rows, nodes)


def series_json(s: NodeSeries) -> dict:
    import math
    import statistics

    br = [v for v in s.breathing if not math.isnan(v)]
    hr = [v for v in s.heart if not math.isnan(v)]
    return {"node_id": s.node_id, "source": s.source, "label": s.label, "rows": len(s.t),
            "first_time": s.t[0], "last_time": s.t[-1],
            "presence_share": round(s.presence_share, 4),
            "breathing_median_bpm": statistics.median(br) if br else None,
            "breathing_estimates": len(br),
            "heart_median_bpm": statistics.median(hr) if hr else None, "heart_estimates": len(hr),
            "falls": list(s.falls)}
