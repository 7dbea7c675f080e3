"""Sightings (one source saw one node once) and their merge into one row per node.

Merge rule (issue 6): by MAC when a sighting carries one; a sighting without a MAC (telemetry
gives source address + node_id, a RuView 0.6.x status gives only an address) joins the row with
the same address whose node_id agrees or is unknown; otherwise it starts its own row keyed by
(address, node_id). Rows sharing a node_id are flagged: two boards with one id mix their data
in every collector.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

SOURCES = ("mdns", "telemetry", "probe", "inventory")


@dataclass
class Sighting:
    source: str                     # one of SOURCES
    ip: str | None = None
    t: float | None = None          # when seen (epoch s); None = known but not seen (inventory)
    mac: str | None = None
    node_id: int | None = None
    http_port: int | None = None
    version: str | None = None
    edge_tier: int | None = None
    ota_state: str | None = None
    rollback: str | None = None
    name: str | None = None
    flavor: str | None = None
    chip: str | None = None
    running_partition: str | None = None
    mdns_name: str | None = None


@dataclass
class DiscoveredNode:
    """One node as discovery sees it (the rows of `ruview discover`)."""

    mac: str | None = None
    node_id: int | None = None
    ip: str | None = None
    http_port: int = 8032
    version: str | None = None
    edge_tier: int | None = None
    ota_state: str | None = None
    rollback: str | None = None
    sources: list[str] = field(default_factory=list)
    last_seen: float | None = None
    stale: bool = False
    name: str | None = None
    flavor: str | None = None
    chip: str | None = None
    running_partition: str | None = None
    mdns_name: str | None = None
    duplicate_node_id: bool = False
    fleet: str | None = None           # member | new | moved (discovery/adopt.py); None: no MAC
    stored_address: str | None = None  # moved: the inventory's address for this MAC

    @property
    def key(self) -> str:
        return self.mac or f"{self.ip}#{self.node_id if self.node_id is not None else '-'}"

    def to_json(self) -> dict:
        """Stable keys of `ruview discover --json` (documented in the command's help)."""
        return {
            "mac": self.mac, "node_id": self.node_id, "name": self.name, "ip": self.ip,
            "http_port": self.http_port, "version": self.version, "edge_tier": self.edge_tier,
            "ota_state": self.ota_state, "rollback": self.rollback, "flavor": self.flavor,
            "chip": self.chip, "running_partition": self.running_partition,
            "mdns_name": self.mdns_name, "sources": list(self.sources),
            "last_seen": round(self.last_seen, 3) if self.last_seen is not None else None,
            "stale": self.stale, "duplicate_node_id": self.duplicate_node_id,
            "fleet": self.fleet, "stored_address": self.stored_address,
        }


# Later, more specific sources win for a field: a live status beats an mDNS TXT beats the
# inventory's memory; telemetry only knows address and node_id.
_PRIORITY = {"inventory": 0, "telemetry": 1, "mdns": 2, "probe": 3, "recheck": 3}
_FIELDS = ("mac", "node_id", "ip", "http_port", "version", "edge_tier", "ota_state", "rollback",
           "name", "flavor", "chip", "running_partition", "mdns_name")


def _absorb(row: DiscoveredNode, s: Sighting, prio: dict[str, int]) -> None:
    if s.source in SOURCES and s.source not in row.sources:
        row.sources.append(s.source)
        row.sources.sort(key=SOURCES.index)
    p = _PRIORITY.get(s.source, 0)
    for name in _FIELDS:
        value = getattr(s, name)
        if value is None:
            continue
        # the operator's name for a node beats the one in its advert
        p_eff = 10 if (name == "name" and s.source == "inventory") else p
        if name not in prio or p_eff >= prio[name]:
            setattr(row, name, value)
            prio[name] = p_eff
    if s.t is not None and (row.last_seen is None or s.t > row.last_seen):
        row.last_seen = s.t


def merge(sightings: list[Sighting], *, stale_after: float | None = None,
          since: float | None = None, now: float | None = None,
          last_seen: dict[str, float] | None = None) -> list[DiscoveredNode]:
    """Rows, one per node. A row is stale when not seen since `since` (one-shot discover) or
    not seen for `stale_after` seconds (watch). `last_seen` carries earlier sightings times."""
    now = time.time() if now is None else now
    rows: list[DiscoveredNode] = []
    prios: list[dict[str, int]] = []
    by_mac: dict[str, int] = {}

    def new_row() -> int:
        rows.append(DiscoveredNode())
        prios.append({})
        return len(rows) - 1

    ordered = sorted(sightings, key=lambda s: (s.mac is None, _PRIORITY.get(s.source, 0)))
    for s in ordered:
        idx = None
        if s.mac:
            idx = by_mac.get(s.mac)
            if idx is None:
                idx = by_mac[s.mac] = new_row()
        else:
            for i, r in enumerate(rows):
                if r.ip and r.ip == s.ip and (r.node_id is None or s.node_id is None
                                               or r.node_id == s.node_id):
                    idx = i
                    break
            if idx is None:
                idx = new_row()
        _absorb(rows[idx], s, prios[idx])

    counts: dict[int, int] = {}
    for r in rows:
        if r.node_id is not None:
            counts[r.node_id] = counts.get(r.node_id, 0) + 1
    for r in rows:
        r.duplicate_node_id = r.node_id is not None and counts[r.node_id] > 1
        if last_seen and r.key in last_seen:
            if r.last_seen is None or last_seen[r.key] > r.last_seen:
                r.last_seen = last_seen[r.key]
        if r.last_seen is None:
            r.stale = True
        elif since is not None:
            r.stale = r.last_seen < since
        elif stale_after is not None:
            r.stale = now - r.last_seen > stale_after
    rows.sort(key=lambda r: (r.node_id if r.node_id is not None else 1 << 30, r.ip or "",
                             r.mac or ""))
    return rows


__all__ = ["Sighting", "DiscoveredNode", "merge", "SOURCES"]
