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


class Trend:
    """The last `window_s` seconds of one value per key, as a sparkline of `width` columns.

    Fed by a display at each redraw with the latest packet it knows of: a sample is added only
    when the packet object changed, so how often the display redraws does not matter. Keys not
    fed for a whole window are forgotten (bounded by what is on screen).
    """

    def __init__(self, window_s: float = 60.0, width: int = 12, min_span: float = 4.0):
        self.window_s = window_s
        self.width = width
        self.min_span = min_span  # a flat-ish series is not stretched to the full height
        self._samples: dict = {}  # key -> list[(t, value)]
        self._last: dict = {}     # key -> (packet seen last, t)

    def observe(self, key, packet, value: Optional[float], now: float) -> None:
        last = self._last.get(key)
        if last is not None and last[0] is packet:
            return
        self._last[key] = (packet, now)
        samples = self._samples.setdefault(key, [])
        samples.append((now, value))
        cut = now - self.window_s
        while samples and samples[0][0] < cut:
            samples.pop(0)

    def render(self, key, now: float) -> str:
        samples = self._samples.get(key, ())
        start = now - self.window_s
        bins: list[list[float]] = [[] for _ in range(self.width)]
        for t, v in samples:
            i = min(self.width - 1, int((t - start) / self.window_s * self.width))  # t == now: last
            if 0 <= i and v is not None and v == v:
                bins[i].append(v)
        means = [sum(b) / len(b) if b else None for b in bins]
        nums = [m for m in means if m is not None]
        if not nums:
            return " " * self.width
        lo, hi = min(nums), max(nums)
        if hi - lo < self.min_span:
            mid = (hi + lo) / 2
            lo, hi = mid - self.min_span / 2, mid + self.min_span / 2
        return sparkline(means, lo=lo, hi=hi)

    def forget_older(self, now: float) -> None:
        """Drop keys with no new packet for a whole window (nodes gone or off screen)."""
        for key in [k for k, (_, t) in self._last.items() if now - t > self.window_s]:
            self._last.pop(key, None)
            self._samples.pop(key, None)
