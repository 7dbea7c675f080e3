"""The fleet rollout planner: pure functions, no I/O, so the order of a rollout can be tested.

A rollout is a list of waves: a canary wave first (default 1 node), then waves of a fixed size
(default 25 % of the nodes left after the canary, at least 1). A percentage is rounded up to a
multiple of `max_parallel` so no upload slot idles inside a wave (a wave finishes before the
next starts); an explicit count is kept as given. Within a wave at most
`max_parallel` uploads run at once. The executor stops starting nodes as soon as the number of
failed nodes reaches `halt_after` (0 = never halt); nodes never started stay untouched.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ruview_cli.errors import UsageError

# Outcomes of one node (the `outcome` key of `ruview ota --json`).
UPDATED = "updated"
SKIPPED = "skipped"
ROLLED_BACK = "rolled_back"
FAILED = "failed"
UNREACHABLE = "unreachable"
UNKNOWN = "unknown"         # took the image, then not seen running it in time
UNTOUCHED = "untouched"     # planned, never started (halted rollout or still to do)
OUTCOMES = (UPDATED, SKIPPED, ROLLED_BACK, FAILED, UNREACHABLE, UNKNOWN, UNTOUCHED)
DONE = (UPDATED, SKIPPED)   # a --resume leaves these alone
FAILURES = (ROLLED_BACK, FAILED, UNREACHABLE, UNKNOWN)


@dataclass(frozen=True)
class Wave:
    index: int           # 0 = the canary wave when there is one
    kind: str            # "canary" | "wave"
    nodes: tuple[str, ...]

    def to_json(self) -> dict:
        return {"index": self.index, "kind": self.kind, "nodes": list(self.nodes)}


def parse_wave_size(spec: str | int, remaining: int) -> int:
    """`"25%"` → ceil(25 % of remaining), `"5"` → 5; always at least 1."""
    text = str(spec).strip()
    try:
        if text.endswith("%"):
            pct = float(text[:-1])
            if not 0 < pct <= 100:
                raise ValueError
            return max(1, math.ceil(remaining * pct / 100.0 - 1e-9))
        count = int(text)
        if count < 1:
            raise ValueError
        return count
    except ValueError:
        raise UsageError(f"--wave {text!r} is not a node count or a percentage",
                         "give e.g. --wave 25% or --wave 5") from None


def plan_rollout(nodes: list[str], canary: int = 1, wave: str | int = "25%",
                 max_parallel: int = 1) -> list[Wave]:
    """Split `nodes` (in rollout order, unique keys) into the canary wave and the later waves."""
    if canary < 0:
        raise UsageError(f"--canary {canary} is negative", "give --canary 0 or more")
    if len(set(nodes)) != len(nodes):
        dup = next(n for n in nodes if nodes.count(n) > 1)
        raise UsageError(f"node {dup} is listed twice", "name every target once")
    waves: list[Wave] = []
    head, rest = nodes[:canary], nodes[canary:]
    if head:
        waves.append(Wave(0, "canary", tuple(head)))
    if rest:
        size = parse_wave_size(wave, len(rest))
        if str(wave).strip().endswith("%") and max_parallel > 1:
            size = min(len(rest), -(-size // max_parallel) * max_parallel)
        for start in range(0, len(rest), size):
            waves.append(Wave(len(waves), "wave", tuple(rest[start:start + size])))
    return waves


def should_halt(failures: int, halt_after: int) -> bool:
    """True once `failures` reached `halt_after` (0 never halts)."""
    return halt_after > 0 and failures >= halt_after


def remaining_nodes(nodes: list[str], outcomes: dict[str, str]) -> list[str]:
    """What a --resume still has to do: every node not updated or skipped, order kept."""
    return [n for n in nodes if outcomes.get(n, UNTOUCHED) not in DONE]


def exit_code(outcomes: dict[str, str]) -> int:
    """0 all updated/skipped, 1 no node ended updated/skipped, 3 partial (some did, some not)."""
    from ruview_cli.errors import fleet_exit_code

    return fleet_exit_code(sum(1 for v in outcomes.values() if v in DONE), len(outcomes))


__all__ = ["Wave", "plan_rollout", "parse_wave_size", "should_halt", "remaining_nodes",
           "exit_code", "UPDATED", "SKIPPED", "ROLLED_BACK", "FAILED", "UNREACHABLE",
           "UNKNOWN", "UNTOUCHED", "OUTCOMES", "DONE", "FAILURES"]
