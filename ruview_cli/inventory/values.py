"""Parsing what an operator types: MACs, host[:port], node names."""

from __future__ import annotations

import ipaddress
import re

from ruview_cli.errors import UsageError

DEFAULT_HTTP_PORT = 8032

_MAC_RE = re.compile(r"^(?:[0-9a-f]{2}([:-])(?:[0-9a-f]{2}\1){4}[0-9a-f]{2}|[0-9a-f]{12})$")


def normalize_mac(text: str) -> str:
    """'34-85-18-AA-BB-CC' / '348518aabbcc' / '34:85:...' → '34:85:18:aa:bb:cc'."""
    text = str(text).strip()
    if not _MAC_RE.match(text.lower()):
        raise UsageError(f"{text!r} is not a MAC address",
                         "write it as six hex bytes, e.g. 34:85:18:aa:bb:cc")
    raw = re.sub(r"[:-]", "", text).lower()
    return ":".join(raw[i:i + 2] for i in range(0, 12, 2))


def is_mac(text: str) -> bool:
    return bool(_MAC_RE.match(str(text).strip().lower()))


def is_ip(text: str) -> bool:
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


def looks_like_host(text: str) -> bool:
    host = text.strip("[]")
    return is_ip(host) or "." in host or host == "localhost"


def is_secret_key(key: str) -> bool:
    k = str(key).lower()
    return any(w in k for w in ("password", "passwd", "psk", "secret", "token"))


def check_name(name: str) -> str:
    """A node name must not be mistaken for an address or a MAC on the command line."""
    name = name.strip()
    if not name or any(c.isspace() for c in name) or ":" in name or not name.isprintable():
        raise UsageError(f"bad node name {name!r}",
                         "use letters, digits, '-', '_' or '.', without spaces or ':'")
    if is_ip(name) or is_mac(name):
        raise UsageError(f"node name {name!r} looks like an address",
                         "pick a name that is not an IP or MAC address, e.g. kitchen-1")
    return name


__all__ = ["normalize_mac", "is_mac", "is_ip", "split_host_port", "looks_like_host",
           "is_secret_key", "check_name", "DEFAULT_HTTP_PORT"]
