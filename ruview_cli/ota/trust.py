"""Where each node last proved who it is, so an OTA key is never sent to a moved address unasked.

An mDNS advert (or anything else) can move a node's inventory address; the inventory alone
cannot tell a node that got a new DHCP lease from an impostor claiming its MAC. This record
holds, per MAC, the address at which the node last took an update that proved it: our
firmware by answering the HMAC challenge and then running the exact image sent; a node with
only Bearer authentication when the operator confirmed the address (first use, an address
given on the command line, or --accept-new-address).

File: ruview.ota-trust.json beside the inventory (no secret in it), rewritten atomically under
the inventory's lock (read-merge-write), so concurrent runs keep each other's records.
Format (version 1): {"version": 1, "nodes": {"<mac>": {"host", "port", "verified", "auth"}}}.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

TRUST_VERSION = 1


def trust_path(inventory: Path | None = None) -> Path:
    from ruview_cli.inventory import inventory_path

    return (inventory or inventory_path()).parent / "ruview.ota-trust.json"


def _parse(text: str | None) -> dict:
    try:
        data = json.loads(text) if text else None
    except ValueError:
        data = None  # unreadable: no address is known yet (first use)
    nodes = data.get("nodes") if isinstance(data, dict) else None
    return nodes if isinstance(nodes, dict) else {}


def _read(path: Path) -> dict:
    try:
        return _parse(path.read_text())
    except OSError:
        return {}


class TrustRecord:
    def __init__(self, path: Path | None = None):
        self.path = path or trust_path()
        self._nodes = _read(self.path)

    def address(self, mac: str) -> tuple[str, int] | None:
        """The address at which the node with this MAC last proved its identity."""
        entry = self._nodes.get(mac.lower())
        if not isinstance(entry, dict) or not isinstance(entry.get("host"), str):
            return None
        port = entry.get("port")
        return entry["host"], port if isinstance(port, int) else 8032

    def auth(self, mac: str) -> str | None:
        """How the node proved itself last time ("hmac-sha256", "bearer", ...)."""
        entry = self._nodes.get(mac.lower())
        return entry.get("auth") if isinstance(entry, dict) else None

    def verified(self, mac: str, host: str, port: int, auth: str) -> None:
        """Record (merged into the file) that the node with `mac` proved itself at host:port."""
        from ruview_cli.inventory import update_locked

        entry = {"host": host, "port": port, "verified": round(time.time(), 3), "auth": auth}

        def merge(text: str | None) -> str:
            nodes = _parse(text)
            nodes[mac.lower()] = entry
            self._nodes = nodes
            return json.dumps({"version": TRUST_VERSION, "nodes": nodes}, indent=1,
                              sort_keys=True)

        update_locked(self.path, merge, 0o644)


__all__ = ["TrustRecord", "trust_path"]
