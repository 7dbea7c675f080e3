"""What discovery may write into the inventory (the fleet that `ota --all` targets).

Hearing a node is not owning it: on a shared network adverts come from other people's nodes,
and an advert can claim any MAC. So by default discovery only refreshes nodes already in the
inventory at the address stored for them. A new node is listed as "new", and a known MAC
heard at another address as "moved"; either is written only when the operator adopts it
(`discover --save`, a confirmation, or `ruview nodes add`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ruview_cli.discovery.model import DiscoveredNode

MEMBER, NEW, MOVED = "member", "new", "moved"


@dataclass
class SaveReport:
    saved: int = 0                                  # rows written to the inventory
    new: list[DiscoveredNode] = field(default_factory=list)    # heard, not adopted
    moved: list[DiscoveredNode] = field(default_factory=list)  # known MAC, other address


def classify(inventory: Any, rows: list[DiscoveredNode]) -> None:
    """Set each row's `fleet`: member (in the inventory, at its address), new, moved, or
    None (no MAC, so nothing to key it by)."""
    for r in rows:
        entry = inventory.get(r.mac) if r.mac else None
        if r.mac is None:
            r.fleet = None
        elif entry is None:
            r.fleet = NEW
        elif entry.ip and r.ip and (entry.ip, entry.http_port) != (r.ip, r.http_port):
            r.fleet, r.stored_address = MOVED, f"{entry.ip}:{entry.http_port}"
        else:
            r.fleet = MEMBER


def save_to_inventory(inventory: Any, rows: list[DiscoveredNode], adopt: bool = False
                      ) -> SaveReport:
    """Record live nodes with a MAC. Members are refreshed; new and moved nodes are written
    only with `adopt` (and then become members). Stale rows are left as they are, so their
    last_seen shows when they went away."""
    classify(inventory, rows)
    report = SaveReport()
    for r in rows:
        if not r.mac or r.stale:
            continue
        if r.fleet != MEMBER and not adopt:
            (report.new if r.fleet == NEW else report.moved).append(r)
            continue
        inventory.upsert(r.mac, node_id=r.node_id, ip=r.ip, http_port=r.http_port,
                         version=r.version, edge_tier=r.edge_tier, chip=r.chip,
                         last_seen=r.last_seen,
                         sources=[s for s in r.sources if s != "inventory"])
        r.fleet, r.stored_address = MEMBER, None
        report.saved += 1
    if report.saved:
        inventory.save()
    return report


__all__ = ["save_to_inventory", "classify", "SaveReport", "MEMBER", "NEW", "MOVED"]
