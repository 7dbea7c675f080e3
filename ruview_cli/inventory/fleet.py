"""The fleet file (ruview.toml): the operator's list of nodes, keyed by MAC.

The operator comments it, orders it and edits it by hand, so it is kept as a tomlkit document
and only the values that changed are touched. Each node is a table keyed by its MAC (the one
identity a board keeps across re-flashing and DHCP):

    [nodes."34:85:18:aa:bb:cc"]
    name = "kitchen"
    ip = "192.168.1.40"

Saving replays this object's changes onto the file as it is on disk, under the lock, and
replaces it atomically, so two commands updating the inventory at once (e.g. `discover` while
`ota` records versions) do not lose each other's work.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ruview_cli.errors import UsageError
from ruview_cli.inventory.files import existing_mode, read_toml, update_toml
from ruview_cli.inventory.model import FIELDS, INT_FIELDS, NodeEntry, Target
from ruview_cli.inventory.paths import inventory_path
from ruview_cli.inventory.values import check_name, is_mac, is_secret_key, looks_like_host, \
    normalize_mac, split_host_port

_HEADER = ("# ruview fleet inventory: one [nodes.\"<mac>\"] table per node.\n"
           "# Edit freely; `ruview discover` and `ruview nodes` keep your comments and order.\n"
           "# Secrets (OTA key, WiFi passwords) are kept in ruview.secrets.toml, never here.\n")


class Inventory:
    """The fleet file as a tomlkit document, plus the changes made since it was loaded."""

    def __init__(self, path: Path, doc: Any):
        self.path = path
        self._doc = doc
        self._ops: list[Callable[[Any], None]] = []

    @classmethod
    def load(cls, path: Path | None = None) -> "Inventory":
        """Read the fleet file; a missing file is an empty inventory."""
        import tomlkit

        path = Path(path) if path is not None else inventory_path()
        doc = read_toml(path)
        if doc is None:
            doc = tomlkit.parse(_HEADER)
        inv = cls(path, doc)
        inv.nodes()  # validate early: a broken table is reported at load, not mid-command
        return inv

    # -- reading ---------------------------------------------------------------------------
    def _table(self, doc: Any | None = None):
        doc = self._doc if doc is None else doc
        nodes = doc.get("nodes")
        return nodes if hasattr(nodes, "items") else None

    def nodes(self) -> list[NodeEntry]:
        table = self._table()
        if table is None:
            return []
        return [self._entry(mac, tbl) for mac, tbl in table.items()]

    def _entry(self, mac: str, tbl: Any) -> NodeEntry:
        if not hasattr(tbl, "items"):
            raise UsageError(f"{self.path}: nodes.{mac} is not a table",
                             f'write it as [nodes."{mac}"] with keys such as name and ip')
        values = tbl.unwrap() if hasattr(tbl, "unwrap") else dict(tbl)
        kwargs: dict[str, Any] = {}
        for key, value in values.items():
            if key not in FIELDS:
                continue  # keys the operator added for themselves are kept, just not used
            if key in INT_FIELDS:
                kwargs[key] = int(value) if isinstance(value, (int, float)) else None
            elif key == "last_seen":
                kwargs[key] = float(value) if isinstance(value, (int, float)) else None
            elif key == "sources":
                kwargs[key] = [str(v) for v in value] if isinstance(value, list) else []
            elif key == "config":
                kwargs[key] = dict(value) if isinstance(value, dict) else {}
            else:
                kwargs[key] = str(value)
        if kwargs.get("http_port") is None:
            kwargs.pop("http_port", None)
        try:
            mac_norm = normalize_mac(mac)
        except UsageError:
            raise UsageError(f"{self.path}: node key {mac!r} is not a MAC address",
                             'key each node by its MAC: [nodes."34:85:18:aa:bb:cc"]') from None
        return NodeEntry(mac=mac_norm, **kwargs)

    def get(self, mac: str) -> NodeEntry | None:
        mac = normalize_mac(mac)
        return next((n for n in self.nodes() if n.mac == mac), None)

    def find(self, ref: str) -> NodeEntry | None:
        """The node called `ref`: by name, MAC, IP or 'ip:port'."""
        ref = ref.strip()
        nodes = self.nodes()
        for n in nodes:
            if n.name is not None and n.name == ref:
                return n
        if is_mac(ref):
            mac = normalize_mac(ref)
            return next((n for n in nodes if n.mac == mac), None)
        try:
            host, port = split_host_port(ref)
        except UsageError:
            return None
        explicit_port = host != ref.strip("[]")
        for n in nodes:
            if n.ip == host and (not explicit_port or n.http_port == port):
                return n
        return None

    def by_group(self, group: str) -> list[NodeEntry]:
        return [n for n in self.nodes() if n.group == group]

    # -- changing --------------------------------------------------------------------------
    def upsert(self, mac: str, **fields: Any) -> NodeEntry:
        """Create or update the node with this MAC; None values leave a field as it is.

        `sources` is merged (a node once found by mDNS and now by probing has both);
        `config` replaces the stored one (it is the last provisioned configuration)."""
        mac = normalize_mac(mac)
        unknown = set(fields) - FIELDS
        if unknown:
            raise TypeError(f"unknown inventory field(s): {', '.join(sorted(unknown))}")
        values = {k: v for k, v in fields.items() if v is not None}
        if "name" in values:
            values["name"] = check_name(values["name"])
            other = self.find(values["name"])
            if other is not None and other.mac != mac and other.name == values["name"]:
                raise UsageError(f"the name {values['name']!r} is already used by {other.mac}",
                                 "pick another name, or rename that node first with "
                                 "`ruview nodes set`")
        if "config" in values:  # secrets never reach the fleet file, whatever the caller sent
            values["config"] = {k: v for k, v in dict(values["config"]).items()
                                if not is_secret_key(k) and v is not None}
        op = _Upsert(mac, values)
        op(self._doc)
        self._ops.append(op)
        entry = self.get(mac)
        assert entry is not None
        return entry

    def unset(self, ref: str, *names: str) -> bool:
        """Remove optional fields (e.g. a group) from a node; False when it is unknown."""
        entry = self.find(ref)
        if entry is None:
            return False
        bad = set(names) - (FIELDS - {"http_port", "sources"})
        if bad:
            raise TypeError(f"cannot unset {', '.join(sorted(bad))}")
        op = _Unset(entry.mac, names)
        op(self._doc)
        self._ops.append(op)
        return True

    def remove(self, ref: str) -> bool:
        entry = self.find(ref)
        if entry is None:
            return False
        op = _Remove(entry.mac)
        op(self._doc)
        self._ops.append(op)
        return True

    def save(self) -> None:
        """Replay this object's changes onto the file as it is now, atomically, under the lock."""
        import tomlkit

        def replay(current: Any) -> Any:
            current = tomlkit.parse(_HEADER) if current is None else current
            for op in self._ops:
                op(current)
            return current

        self._doc = update_toml(self.path, replay, existing_mode(self.path, 0o644))
        self._ops.clear()

    # -- targets for HTTP commands ---------------------------------------------------------
    def resolve(self, targets: list[str], group: str | None = None,
                all_: bool = False) -> list[Target]:
        """TARGET = inventory name | MAC | host | host:port; plus --group G / --all."""
        out: list[Target] = []
        seen: set[tuple[str, int]] = set()

        def add(t: Target) -> None:
            if (t.host, t.port) not in seen:
                seen.add((t.host, t.port))
                out.append(t)

        def from_entry(n: NodeEntry, asked: str) -> Target:
            if not n.ip:
                raise UsageError(f"node {asked!r} ({n.mac}) has no known address",
                                 "run `ruview discover` to find it, or set one with "
                                 f"`ruview nodes set {n.name or n.mac} --ip ADDR`")
            return Target(n.ip, n.http_port, n.name, n.mac)

        if all_:
            nodes = self.nodes()
            if not nodes:
                raise UsageError(f"--all: the inventory {self.path} has no nodes",
                                 "run `ruview discover` or `ruview nodes add` first")
            for n in nodes:
                add(from_entry(n, n.name or n.mac))
        if group is not None:
            members = self.by_group(group)
            if not members:
                groups = sorted({n.group for n in self.nodes() if n.group})
                raise UsageError(f"no node in group {group!r}",
                                 (f"known groups: {', '.join(groups)}" if groups else
                                  "put nodes in a group with `ruview nodes set NODE --group G`"))
            for n in members:
                add(from_entry(n, n.name or n.mac))
        for ref in targets:
            entry = self.find(ref)
            if entry is not None:
                if looks_like_host(ref) and not is_mac(ref):
                    host, port = split_host_port(ref)  # asked by address: use it as given
                    add(Target(host, port, entry.name, entry.mac))
                else:
                    add(from_entry(entry, ref))
                continue
            if is_mac(ref):
                raise UsageError(f"no node with MAC {normalize_mac(ref)} in {self.path}",
                                 "run `ruview discover` to find it, or add it with "
                                 "`ruview nodes add MAC --ip ADDR`")
            if not looks_like_host(ref):
                raise UsageError(f"unknown node {ref!r}: no such name in {self.path}",
                                 "add it with `ruview nodes add MAC --name "
                                 f"{ref} --ip ADDR`, find nodes with `ruview discover`, "
                                 "or give an address (host or host:port)")
            host, port = split_host_port(ref)
            add(Target(host, port, None, None))
        return out

    def __repr__(self) -> str:
        return f"Inventory({str(self.path)!r}, {len(self.nodes())} nodes)"


def _node_table(doc: Any, mac: str, create: bool):
    import tomlkit

    nodes = doc.get("nodes")
    if nodes is None:
        if not create:
            return None
        nodes = tomlkit.table(is_super_table=True)
        doc["nodes"] = nodes
    for key in list(nodes.keys()):
        if is_mac(key) and normalize_mac(key) == mac:
            return nodes[key]
    if not create:
        return None
    tbl = tomlkit.table()
    nodes[mac] = tbl
    return nodes[mac]


class _Upsert:
    def __init__(self, mac: str, values: dict):
        self.mac, self.values = mac, values

    def __call__(self, doc: Any) -> None:
        import tomlkit

        tbl = _node_table(doc, self.mac, create=True)
        for key, value in self.values.items():
            if key == "sources":
                have = [str(s) for s in tbl.get("sources", [])]
                merged = have + [s for s in value if s not in have]
                if merged != have or "sources" not in tbl:
                    tbl["sources"] = merged
            elif key == "config":
                sub = tomlkit.table()
                for k, v in value.items():
                    sub[k] = v
                tbl["config"] = sub
            else:
                if key in INT_FIELDS:
                    value = int(value)
                elif key == "last_seen":
                    value = round(float(value), 3)
                else:
                    value = str(value)
                old = tbl.get(key)
                if old is None or (old.unwrap() if hasattr(old, "unwrap") else old) != value:
                    tbl[key] = value


class _Unset:
    def __init__(self, mac: str, names: tuple[str, ...]):
        self.mac, self.names = mac, names

    def __call__(self, doc: Any) -> None:
        tbl = _node_table(doc, self.mac, create=False)
        if tbl is not None:
            for name in self.names:
                if name in tbl:
                    del tbl[name]


class _Remove:
    def __init__(self, mac: str):
        self.mac = mac

    def __call__(self, doc: Any) -> None:
        nodes = doc.get("nodes")
        if nodes is None:
            return
        for key in list(nodes.keys()):
            if is_mac(key) and normalize_mac(key) == self.mac:
                del nodes[key]


__all__ = ["Inventory"]
