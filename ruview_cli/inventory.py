"""The fleet file (ruview.toml) and the secrets file beside it (ruview.secrets.toml).

The fleet file is the operator's: they comment it, order it and edit it by hand, so it is kept
as a tomlkit document and only the values that changed are touched. Each node is a table keyed
by its MAC (the one identity a board keeps across re-flashing and DHCP):

    [nodes."34:85:18:aa:bb:cc"]
    name = "kitchen"
    ip = "192.168.1.40"

Writes are atomic (temporary file + rename) under an exclusive lock file, and replay this
object's changes onto the file as it is on disk at save time, so two commands updating the
inventory at once (e.g. `discover` while `ota` records versions) do not lose each other's work.

Secrets (OTA PSK, WiFi passwords) never go into the fleet file: they live in
ruview.secrets.toml, created with mode 0600, and no repr() or error message shows them.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import re
import tempfile
import time
from dataclasses import dataclass, field, fields as dc_fields
from pathlib import Path
from typing import Any, Callable, Iterator

from ruview_cli.errors import RuviewError, UsageError

ENV_INVENTORY = "RUVIEW_INVENTORY"
FILE_NAME = "ruview.toml"
SECRETS_NAME = "ruview.secrets.toml"
DEFAULT_HTTP_PORT = 8032

_HEADER = ("# ruview fleet inventory: one [nodes.\"<mac>\"] table per node.\n"
           "# Edit freely; `ruview discover` and `ruview nodes` keep your comments and order.\n"
           "# Secrets (OTA key, WiFi passwords) are kept in ruview.secrets.toml, never here.\n")


# -- locations ---------------------------------------------------------------------------------
def inventory_path() -> Path:
    """$RUVIEW_INVENTORY, else ./ruview.toml when it exists, else the user config directory."""
    env = os.environ.get(ENV_INVENTORY, "").strip()
    if env:
        return Path(env).expanduser()
    local = Path.cwd() / FILE_NAME
    if local.exists():
        return local
    import platformdirs

    return Path(platformdirs.user_config_dir("ruview")) / FILE_NAME


def secrets_path(inventory: Path | None = None) -> Path:
    """ruview.secrets.toml beside the fleet file."""
    inv = Path(inventory) if inventory is not None else inventory_path()
    return inv.parent / SECRETS_NAME


# -- values ------------------------------------------------------------------------------------
_MAC_RE = re.compile(r"^(?:[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{12})$")


def normalize_mac(text: str) -> str:
    """'34-85-18-AA-BB-CC' / '348518aabbcc' / '34:85:...' → '34:85:18:aa:bb:cc'."""
    text = str(text).strip()
    if not _MAC_RE.match(text.lower()):
        raise UsageError(f"{text!r} is not a MAC address",
                         "write it as six hex bytes, e.g. 34:85:18:aa:bb:cc")
    raw = re.sub(r"[:-]", "", text).lower()
    return ":".join(raw[i:i + 2] for i in range(0, 12, 2))


def _is_mac(text: str) -> bool:
    try:
        normalize_mac(text)
    except UsageError:
        return False
    return True


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def split_host_port(text: str, default_port: int = DEFAULT_HTTP_PORT) -> tuple[str, int]:
    """'host', 'host:port' or '[v6]:port' → (host, port); a bad port is a UsageError."""
    text = text.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    elif text.count(":") == 1:
        host, port_text = text.split(":")
    else:
        host, port_text = text, ""
    if not port_text:
        return host, default_port
    try:
        port = int(port_text)
    except ValueError:
        port = -1
    if not 1 <= port <= 65535:
        raise UsageError(f"bad port in {text!r}", "write host:port with a port from 1 to 65535")
    return host, port


def _looks_like_host(text: str) -> bool:
    host = text.strip("[]")
    return _is_ip(host) or "." in host or host == "localhost"


def _is_secret_key(key: str) -> bool:
    k = str(key).lower()
    return any(w in k for w in ("password", "passwd", "psk", "secret", "token"))


def check_name(name: str) -> str:
    """A node name must not be mistaken for an address or a MAC on the command line."""
    name = name.strip()
    if not name or any(c.isspace() for c in name) or ":" in name or not name.isprintable():
        raise UsageError(f"bad node name {name!r}",
                         "use letters, digits, '-', '_' or '.', without spaces or ':'")
    if _is_ip(name) or _is_mac(name):
        raise UsageError(f"node name {name!r} looks like an address",
                         "pick a name that is not an IP or MAC address, e.g. kitchen-1")
    return name


@dataclass
class NodeEntry:
    """One node of the fleet file (never holds a secret)."""

    mac: str
    name: str | None = None
    node_id: int | None = None
    ip: str | None = None
    http_port: int = DEFAULT_HTTP_PORT
    serial_port: str | None = None
    chip: str | None = None
    version: str | None = None
    edge_tier: int | None = None
    group: str | None = None
    notes: str | None = None
    last_seen: float | None = None
    sources: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}


_FIELDS = {f.name for f in dc_fields(NodeEntry)} - {"mac"}
_INT_FIELDS = {"node_id", "http_port", "edge_tier"}
_STR_FIELDS = {"name", "ip", "serial_port", "chip", "version", "group", "notes"}


@dataclass(frozen=True)
class Target:
    """A node a command talks to over HTTP."""

    host: str
    port: int = DEFAULT_HTTP_PORT
    name: str | None = None
    mac: str | None = None

    @property
    def label(self) -> str:
        return self.name or (self.host if self.port == DEFAULT_HTTP_PORT
                             else f"{self.host}:{self.port}")


# -- locking and atomic writes -----------------------------------------------------------------
@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 10.0) -> Iterator[None]:
    """An exclusive lock on `<path>.lock` shared by every ruview process."""
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks a byte range instead
            fcntl = None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:
                    import msvcrt

                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuviewError(f"{path} is locked by another ruview process",
                                      f"wait for it to finish, or delete {lock_path} "
                                      "if no ruview is running") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to a temporary file beside `path`, then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def _read_toml(path: Path):
    import tomlkit
    from tomlkit.exceptions import ParseError

    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RuviewError(f"cannot read {path}: {exc.strerror or exc}",
                          "check the file's permissions") from None
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        raise UsageError(f"{path} is not valid TOML: {exc}",
                         "fix the line it names (or move the file away to start afresh)") from None


# -- the fleet file ----------------------------------------------------------------------------
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
        doc = _read_toml(path)
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
            if key not in _FIELDS:
                continue  # keys the operator added for themselves are kept, just not used
            if key in _INT_FIELDS:
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
        if _is_mac(ref):
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
        unknown = set(fields) - _FIELDS
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
                                if not _is_secret_key(k) and v is not None}
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
        bad = set(names) - (_FIELDS - {"http_port", "sources"})
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

        with file_lock(self.path):
            current = _read_toml(self.path)
            if current is None:
                current = tomlkit.parse(_HEADER)
            for op in self._ops:
                op(current)
            atomic_write(self.path, tomlkit.dumps(current), _existing_mode(self.path, 0o644))
            self._doc = current
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
                if _looks_like_host(ref) and not _is_mac(ref):
                    host, port = split_host_port(ref)  # asked by address: use it as given
                    add(Target(host, port, entry.name, entry.mac))
                else:
                    add(from_entry(entry, ref))
                continue
            if _is_mac(ref):
                raise UsageError(f"no node with MAC {normalize_mac(ref)} in {self.path}",
                                 "run `ruview discover` to find it, or add it with "
                                 "`ruview nodes add MAC --ip ADDR`")
            if not _looks_like_host(ref):
                raise UsageError(f"unknown node {ref!r}: no such name in {self.path}",
                                 "add it with `ruview nodes add MAC --name "
                                 f"{ref} --ip ADDR`, find nodes with `ruview discover`, "
                                 "or give an address (host or host:port)")
            host, port = split_host_port(ref)
            add(Target(host, port, None, None))
        return out

    def __repr__(self) -> str:
        return f"Inventory({str(self.path)!r}, {len(self.nodes())} nodes)"


def _existing_mode(path: Path, default: int) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return default


def _node_table(doc: Any, mac: str, create: bool):
    import tomlkit

    nodes = doc.get("nodes")
    if nodes is None:
        if not create:
            return None
        nodes = tomlkit.table(is_super_table=True)
        doc["nodes"] = nodes
    for key in list(nodes.keys()):
        if _is_mac(key) and normalize_mac(key) == mac:
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
                if key in _INT_FIELDS:
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
            if _is_mac(key) and normalize_mac(key) == self.mac:
                del nodes[key]


# -- the secrets file --------------------------------------------------------------------------
class Secrets:
    """ruview.secrets.toml (mode 0600): OTA PSKs (fleet default + per node) and WiFi passwords.

        [ota]
        default = "..."                # fleet-wide PSK
        [ota.nodes]
        "34:85:18:aa:bb:cc" = "..."    # per-node PSK
        [wifi]
        "my-ssid" = "..."
    """

    def __init__(self, path: Path, doc: Any):
        self.path = path
        self._doc = doc

    @classmethod
    def load(cls, path: Path | None = None) -> "Secrets":
        import tomlkit

        path = Path(path) if path is not None else secrets_path()
        doc = _read_toml(path)
        if doc is not None and os.name == "posix":
            with contextlib.suppress(OSError):
                if path.stat().st_mode & 0o077:
                    os.chmod(path, 0o600)  # readable by others: tighten it at once
        return cls(path, doc if doc is not None else tomlkit.document())

    def _section(self, name: str, create: bool = False):
        import tomlkit

        sec = self._doc.get(name)
        if sec is None and create:
            sec = tomlkit.table()
            self._doc[name] = sec
            sec = self._doc[name]
        return sec

    def ota_psk(self, mac: str | None) -> str | None:
        ota = self._section("ota")
        if ota is None:
            return None
        if mac:
            per = ota.get("nodes") or {}
            mac = normalize_mac(mac)
            for key, value in per.items():
                if _is_mac(key) and normalize_mac(key) == mac:
                    return str(value)
        value = ota.get("default")
        return str(value) if value is not None else None

    def set_ota_psk(self, mac: str | None, psk: str) -> None:
        import tomlkit

        ota = self._section("ota", create=True)
        if mac is None:
            ota["default"] = psk
            return
        per = ota.get("nodes")
        if per is None:
            ota["nodes"] = tomlkit.table()
            per = ota["nodes"]
        per[normalize_mac(mac)] = psk

    def wifi_password(self, ssid: str) -> str | None:
        wifi = self._section("wifi")
        value = wifi.get(ssid) if wifi is not None else None
        return str(value) if value is not None else None

    def set_wifi_password(self, ssid: str, password: str) -> None:
        self._section("wifi", create=True)[ssid] = password

    def save(self) -> None:
        """Atomic, locked, and 0600 from the first byte (the temp file is created 0600)."""
        import tomlkit

        with file_lock(self.path):
            atomic_write(self.path, tomlkit.dumps(self._doc), 0o600)

    def __repr__(self) -> str:
        return f"Secrets({str(self.path)!r}, <redacted>)"

    __str__ = __repr__


__all__ = ["Inventory", "Secrets", "NodeEntry", "Target", "inventory_path", "secrets_path",
           "normalize_mac", "split_host_port", "check_name", "ENV_INVENTORY", "file_lock",
           "atomic_write"]
