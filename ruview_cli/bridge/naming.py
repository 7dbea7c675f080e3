"""Which node a datagram came from, and the names it gets on MQTT and in Home Assistant.

A node is (source address, node_id), as in `ruview tail`. Its topic name is the inventory name
when the fleet file knows the node, else `node-<id>`; a second node claiming the same name (every
unprovisioned board says node_id 1) gets its address appended, so two nodes never share topics.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Iterable, Optional

# MQTT forbids + and # in topic names; / would add levels. Keep names to a safe, readable set.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def topic_safe(text: str) -> str:
    """A name usable as one MQTT topic level (and in an HA object id)."""
    return _UNSAFE.sub("-", text).strip("-.") or "node"


@dataclass(frozen=True)
class NodeIdentity:
    """What the bridge says about one node: its topic name and the HA device facts."""

    ip: str
    node_id: int
    name: str                      # topic level: inventory name or node-<id>[-<ip>]
    mac: Optional[str] = None      # from the inventory; the HA device identifier when known
    display_name: Optional[str] = None
    firmware: Optional[str] = None

    @property
    def ident(self) -> str:
        """Stable id for unique_id / identifiers: the MAC, else node id + address."""
        if self.mac:
            return self.mac.replace(":", "").lower()
        return f"{self.node_id}_{self.ip.replace('.', '_')}"


class NodeNamer:
    """Maps (ip, node_id) to a NodeIdentity, from the fleet inventory when it has the node."""

    def __init__(self, entries: Iterable = ()):  # inventory NodeEntry objects
        self._by_addr: dict[tuple[str, int], object] = {}
        self._by_id: dict[int, list] = {}
        for e in entries:
            if getattr(e, "node_id", None) is None:
                continue
            if getattr(e, "ip", None):
                self._by_addr[(e.ip, e.node_id)] = e
            self._by_id.setdefault(e.node_id, []).append(e)
        self._known: dict[tuple[str, int], NodeIdentity] = {}
        self._taken: set[str] = set()

    def _entry(self, ip: str, node_id: int):
        e = self._by_addr.get((ip, node_id))
        if e is not None:
            return e
        same_id = self._by_id.get(node_id, [])
        # Only an unambiguous id match without a recorded address stands for this node.
        no_ip = [x for x in same_id if not getattr(x, "ip", None)]
        return no_ip[0] if len(same_id) == 1 and no_ip else None

    def identify(self, ip: str, node_id: int) -> NodeIdentity:
        key = (ip, node_id)
        ident = self._known.get(key)
        if ident is not None:
            return ident
        e = self._entry(ip, node_id)
        base = topic_safe(e.name) if e is not None and getattr(e, "name", None) else f"node-{node_id}"
        name = base if base not in self._taken else f"{base}-{topic_safe(ip)}"
        self._taken.add(name)
        ident = NodeIdentity(ip=ip, node_id=node_id, name=name,
                             mac=getattr(e, "mac", None) if e is not None else None,
                             display_name=getattr(e, "name", None) if e is not None else None,
                             firmware=getattr(e, "version", None) if e is not None else None)
        self._known[key] = ident
        return ident

    def known(self) -> list[NodeIdentity]:
        return list(self._known.values())
