"""mDNS browsing of _ruview._tcp / _ruview._udp (PROTOCOL.md §5) with python-zeroconf.

Multicast (QM) questions, so every node's answer reaches every listener and is cached; the
answers carry SRV, TXT and A as additional records, so a service is resolved from the cache the
moment it is announced. Only services still incomplete when asked for get a direct request, and
those are few and bounded — per-service requests for 50 nodes on one host time out.
"""

from __future__ import annotations

import threading
import time
from typing import Callable

from ruview_cli.discovery.model import Sighting
from ruview_cli.errors import RuviewError

SERVICE_TCP = "_ruview._tcp.local."
SERVICE_UDP = "_ruview._udp.local."
TYPES = (SERVICE_TCP, SERVICE_UDP)


def _txt(props: dict) -> dict[str, str]:
    out = {}
    for k, v in (props or {}).items():
        key = k.decode("utf-8", "replace") if isinstance(k, bytes) else str(k)
        if v is None:
            continue
        out[key] = v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
    return out


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


def sighting_from_info(info, seen_at: float) -> Sighting | None:
    """A Sighting from a resolved ServiceInfo (None when it has no IPv4 address yet)."""
    addrs = info.parsed_addresses()
    v4 = [a for a in addrs if ":" not in a]
    if not v4:
        return None
    txt = _txt(info.properties)
    mac = txt.get("mac")
    if mac:
        mac = mac.lower().replace("-", ":")
    return Sighting(source="mdns", ip=v4[0], t=seen_at, mac=mac,
                    node_id=_int(txt.get("node_id")), http_port=info.port,
                    version=txt.get("version") or None, edge_tier=_int(txt.get("edge_tier")),
                    name=txt.get("name") or None, chip=txt.get("chip") or None,
                    flavor="ours", mdns_name=info.name)


class MdnsBrowser:
    """Browses both service types until closed; `sightings()` reads resolved services from the
    cache. `on_sighting` is called (from zeroconf's thread) when a service resolves."""

    def __init__(self, interfaces: list[str] | None,
                 on_sighting: Callable[[Sighting], None] | None = None):
        from zeroconf import DNSQuestionType, InterfaceChoice, IPVersion, ServiceBrowser, \
            Zeroconf

        try:
            self.zc = Zeroconf(interfaces=interfaces if interfaces else InterfaceChoice.All,
                               ip_version=IPVersion.V4Only)
        except OSError as exc:
            where = ", ".join(interfaces) if interfaces else "all interfaces"
            raise RuviewError(f"cannot open mDNS sockets on {where}: {exc.strerror or exc}",
                              "pick an address of this machine with --interface or "
                              "RUVIEW_MDNS_INTERFACE; `ruview doctor` checks port 5353") from None
        self._on_sighting = on_sighting
        self._lock = threading.Lock()
        self._present: dict[str, str] = {}       # service name -> type, while advertised
        self._seen: dict[str, float] = {}        # service name -> last add/update time
        self._resolved: dict[str, Sighting] = {}
        self.browser = ServiceBrowser(self.zc, list(TYPES), handlers=[self._handler],
                                      question_type=DNSQuestionType.QM)

    def _handler(self, zeroconf, service_type, name, state_change) -> None:
        from zeroconf import ServiceStateChange

        now = time.time()
        with self._lock:
            if state_change is ServiceStateChange.Removed:
                self._present.pop(name, None)
                self._resolved.pop(name, None)
                return
            self._present[name] = service_type
            self._seen[name] = now
        s = self._from_cache(service_type, name, now)
        if s is not None and self._on_sighting is not None:
            self._on_sighting(s)

    def _from_cache(self, service_type: str, name: str, now: float) -> Sighting | None:
        from zeroconf import ServiceInfo

        info = ServiceInfo(service_type, name)
        if not info.load_from_cache(self.zc):
            return None
        s = sighting_from_info(info, now)
        if s is not None:
            with self._lock:
                self._resolved[name] = s
        return s

    def sightings(self, request_timeout: float = 0.5) -> list[Sighting]:
        """Every advertised service, resolved from the cache; the incomplete ones (rare) get
        one bounded round of direct requests."""
        # t = when the advert was last received, not "now": a node that lost power sends no
        # goodbye and its records stay cached for a long time; liveness comes from status checks
        with self._lock:
            present = dict(self._present)
            seen = dict(self._seen)
        now = time.time()
        out, missing = [], []
        for name, type_ in present.items():
            s = self._from_cache(type_, name, seen.get(name, now))
            if s is not None:
                out.append(s)
            else:
                missing.append((name, type_))
        if missing and request_timeout > 0:
            out.extend(self._request(missing[:32], request_timeout, now))
        # _udp before _tcp: the merge keeps the last name, and _tcp is the one to show
        out.sort(key=lambda s: (s.mdns_name or "").endswith(SERVICE_TCP))
        return out

    def _request(self, missing, timeout: float, now: float) -> list[Sighting]:
        import asyncio

        from zeroconf import DNSQuestionType
        from zeroconf.asyncio import AsyncServiceInfo

        async def one(name, type_):
            info = AsyncServiceInfo(type_, name)
            ok = await info.async_request(self.zc, int(timeout * 1000),
                                          question_type=DNSQuestionType.QM)
            return sighting_from_info(info, now) if ok else None

        async def all_():
            return await asyncio.gather(*(one(n, t) for n, t in missing),
                                        return_exceptions=True)

        try:
            fut = asyncio.run_coroutine_threadsafe(all_(), self.zc.loop)
            results = fut.result(timeout + 1.0)
        except Exception:
            return []
        return [r for r in results if isinstance(r, Sighting)]

    def close(self) -> None:
        try:
            self.browser.cancel()
        finally:
            self.zc.close()


__all__ = ["MdnsBrowser", "sighting_from_info", "TYPES", "SERVICE_TCP", "SERVICE_UDP"]
