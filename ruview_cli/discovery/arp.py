"""The kernel's neighbour (ARP) table: the MAC of a node that does not report its own.

RuView 0.6.x answers neither mDNS nor a MAC in /ota/status, but any node on the local link
that has sent us telemetry or answered a probe is in the ARP table, and the inventory is keyed
by MAC. Linux only (/proc/net/arp); elsewhere the table is simply empty.
"""

from __future__ import annotations

_INCOMPLETE = "00:00:00:00:00:00"


def arp_table(path: str = "/proc/net/arp") -> dict[str, str]:
    """IPv4 address → lower-case MAC of complete entries."""
    out: dict[str, str] = {}
    try:
        with open(path) as fh:
            next(fh, None)
            for line in fh:
                parts = line.split()
                if len(parts) >= 4 and parts[2] != "0x0" and parts[3] != _INCOMPLETE:
                    out[parts[0]] = parts[3].lower()
    except OSError:
        pass
    return out


__all__ = ["arp_table"]
