"""Which IPv4 interfaces mDNS uses: --interface, else RUVIEW_MDNS_INTERFACE, else all usable."""

from __future__ import annotations

import ipaddress
import os

from ruview_cli.errors import UsageError

ENV_INTERFACE = "RUVIEW_MDNS_INTERFACE"


def ipv4_interfaces() -> list[tuple[str, str]]:
    """(adapter name, IPv4 address) of every interface that has one (ifaddr, a zeroconf dep)."""
    import ifaddr

    out = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                out.append((adapter.nice_name, ip.ip))
    return out


def resolve_interface(interface: str | None) -> list[str] | None:
    """The IPv4 addresses to browse on; None = all usable ones (zeroconf's InterfaceChoice.All).

    Accepts an address or an interface name (eth0, wlan0)."""
    choice = (interface or "").strip() or os.environ.get(ENV_INTERFACE, "").strip()
    if not choice:
        return None
    addrs = []
    for part in choice.split(","):
        part = part.strip()
        try:
            addr = ipaddress.ip_address(part)
        except ValueError:
            named = [ip for name, ip in ipv4_interfaces() if name == part]
            if not named:
                known = ", ".join(f"{n} ({ip})" for n, ip in ipv4_interfaces()) or "none"
                raise UsageError(f"no IPv4 interface {part!r} on this machine",
                                 f"give an address or name of one of: {known}") from None
            addrs.extend(named)
            continue
        if addr.version != 4:
            raise UsageError(f"{part} is not an IPv4 address",
                             "mDNS discovery uses IPv4: give an IPv4 address of this machine")
        addrs.append(part)
    return addrs


__all__ = ["resolve_interface", "ipv4_interfaces", "ENV_INTERFACE"]
