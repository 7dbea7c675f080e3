"""What the user says happened in a recording: empty / occupied spans and fall moments.

Times are seconds from the recording's first datagram (`--empty 0-60 --occupied 60-180
--fall 200`). The first `settle_s` of every span is not scored: the core needs a few seconds
of history after a change (and ~12 s after its start) before its flags mean anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ruview_cli.errors import UsageError

FALL_BEFORE_S = 2.0    # a fall flag this early counts (clock offsets, labelling by hand)
FALL_AFTER_S = 12.0    # the core reports a fall once the person has lain still a few seconds


def parse_span(text: str, option: str) -> tuple[float, float]:
    """'60-180' -> (60.0, 180.0)."""
    a, sep, b = text.partition("-")
    try:
        start, end = float(a), float(b)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a span of seconds", f"write it START-END, e.g. {option} 0-60") from None
    if not sep or not 0 <= start < end or end != end:
        raise UsageError(f"{option} {text!r}: the start must be >= 0 and before the end",
                         f"e.g. {option} 0-60")
    return start, end


def parse_moment(text: str, option: str) -> float:
    try:
        t = float(text)
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a time in seconds", f"e.g. {option} 200") from None
    if not t >= 0:
        raise UsageError(f"{option} {text!r} must be >= 0 seconds", f"e.g. {option} 200")
    return t


@dataclass
class Labels:
    empty: list[tuple[float, float]] = field(default_factory=list)
    occupied: list[tuple[float, float]] = field(default_factory=list)
    falls: list[float] = field(default_factory=list)
    settle_s: float = 15.0

    @classmethod
    def parse(cls, empty: list[str], occupied: list[str], falls: list[str], settle_s: float = 15.0) -> "Labels":
        labels = cls([parse_span(s, "--empty") for s in empty or ()],
                     [parse_span(s, "--occupied") for s in occupied or ()],
                     sorted(parse_moment(s, "--fall") for s in falls or ()), settle_s)
        if not (labels.empty or labels.occupied or labels.falls):
            raise UsageError("nothing to tune against: no labelled part of the recording",
                             "mark what happened, e.g. --empty 0-60 --occupied 60-180 --fall 200")
        for a in labels.empty:
            for b in labels.occupied:
                if a[0] < b[1] and b[0] < a[1]:
                    raise UsageError(f"--empty {a[0]:g}-{a[1]:g} overlaps --occupied {b[0]:g}-{b[1]:g}",
                                     "a moment is either empty or occupied")
        return labels

    def check_within(self, duration_s: float) -> None:
        for opt, (a, b) in [("--empty", s) for s in self.empty] + [("--occupied", s) for s in self.occupied]:
            if b > duration_s + 1.0:
                raise UsageError(f"{opt} {a:g}-{b:g} ends after the recording ({duration_s:.1f} s long)",
                                 "times are seconds from the recording's first packet")
        for f in self.falls:
            if f > duration_s:
                raise UsageError(f"--fall {f:g} is after the end of the recording ({duration_s:.1f} s long)",
                                 "times are seconds from the recording's first packet")

    def scored(self, span: tuple[float, float]) -> tuple[float, float]:
        return span[0] + self.settle_s, span[1]

    def falls_near(self, t: float) -> list[float]:
        """The marked falls a fall reported at t can stand for."""
        return [f for f in self.falls if f - FALL_BEFORE_S <= t <= f + FALL_AFTER_S]

    def to_json(self) -> dict:
        return {"empty": [list(s) for s in self.empty], "occupied": [list(s) for s in self.occupied],
                "falls": list(self.falls), "settle_s": self.settle_s,
                "fall_window_s": [-FALL_BEFORE_S, FALL_AFTER_S]}
