"""What a sighting may claim. Adverts and status replies come from anyone on the network: a
sighting whose identity fields make no sense is skipped and reported, never allowed to stop
discovery or reach the inventory."""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass

from ruview_cli.discovery.model import Sighting
from ruview_cli.inventory.values import is_mac, normalize_mac

NODE_ID_MAX = 255   # a u8 in every packet header (PROTOCOL.md §1)


@dataclass(frozen=True)
class Rejected:
    """A sighting that was skipped, and why (what `discover` reports)."""

    source: str
    ip: str | None
    name: str | None      # the mDNS service name, when it came from an advert
    reason: str

    def to_json(self) -> dict:
        return asdict(self)


def problem(s: Sighting) -> str | None:
    """Why this sighting cannot be used (None when it can); normalizes its MAC in place."""
    if s.mac is not None:
        if not is_mac(s.mac):
            return f"mac {s.mac!r} is not a MAC address"
        s.mac = normalize_mac(s.mac)
    if s.ip is not None:
        try:
            ipaddress.IPv4Address(s.ip)
        except ValueError:
            return f"address {s.ip!r} is not an IPv4 address"
    if s.http_port is not None and not 1 <= s.http_port <= 65535:
        return f"port {s.http_port} is not a TCP port"
    if s.node_id is not None and not 0 <= s.node_id <= NODE_ID_MAX:
        return f"node_id {s.node_id} is outside 0..{NODE_ID_MAX}"
    return None


def screen(sightings: list[Sighting]) -> tuple[list[Sighting], list[Rejected]]:
    """The usable sightings, and the rejected ones (each reported once)."""
    good: list[Sighting] = []
    bad: dict[tuple, Rejected] = {}
    for s in sightings:
        why = problem(s)
        if why is None:
            good.append(s)
        else:
            r = Rejected(s.source, s.ip, s.mdns_name, why)
            bad.setdefault((r.source, r.ip, r.name, r.reason), r)
    return good, list(bad.values())


__all__ = ["Rejected", "problem", "screen", "NODE_ID_MAX"]
