"""A sparkline: numbers as a row of block characters (▁▂▃▄▅▆▇█), one per value.

Pure and tiny: the live `ruview tail` table draws one per node (last minute of breathing) four
times a second. None/NaN (no estimate) is a space, so a gap in the estimates stays visible.
"""

from __future__ import annotations

from typing import Iterable, Optional

BLOCKS = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[Optional[float]], width: Optional[int] = None,
              lo: Optional[float] = None, hi: Optional[float] = None) -> str:
    """One character per value (the last `width` values if given), scaled to [lo, hi] (default:
    the values' own range; a flat series is drawn at mid height)."""
    vals = list(values)
    if width is not None:
        vals = vals[-width:] if width > 0 else []
    nums = [v for v in vals if v is not None and v == v and abs(v) != float("inf")]
    if not nums:
        return " " * len(vals)
    lo = min(nums) if lo is None else lo
    hi = max(nums) if hi is None else hi
    top = len(BLOCKS) - 1
    out = []
    for v in vals:
        if v is None or v != v or abs(v) == float("inf"):
            out.append(" ")
        elif hi <= lo:
            out.append(BLOCKS[top // 2])
        else:
            out.append(BLOCKS[max(0, min(top, int((v - lo) / (hi - lo) * top + 0.5)))])
    return "".join(out)
