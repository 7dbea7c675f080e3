"""mDNS adverts of emulated nodes through python-zeroconf: what each node's firmware asks for.

One Zeroconf instance per process and interface serves every node: 50 nodes must come up in
seconds, so registration uses zeroconf's async API with `cooperating_responders=True` (no
3 × 250 ms uniqueness probe — the fleet owns all its names) and does not wait for the
announcement broadcasts, which zeroconf sends in the background.

Multicast on 127.0.0.1 works on Linux without `ip link set lo multicast on`: zeroconf sets
IP_MULTICAST_IF/IP_MULTICAST_LOOP on its sockets, so responders and browsers pinned to
127.0.0.1 in one or several processes see each other.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
from typing import Any

SERVICE_TCP = "_ruview._tcp.local."
SERVICE_UDP = "_ruview._udp.local."
ENV_INTERFACE = "RUVIEW_MDNS_INTERFACE"

_shared: dict[str, list[Any]] = {}  # interface -> [Zeroconf, refcount]
_shared_lock = threading.Lock()


def default_interface() -> str:
    """`RUVIEW_MDNS_INTERFACE` or 127.0.0.1 (the sim's nodes live on loopback)."""
    return os.environ.get(ENV_INTERFACE, "").strip() or "127.0.0.1"


def _acquire(interface: str):
    from zeroconf import IPVersion, Zeroconf

    with _shared_lock:
        slot = _shared.get(interface)
        if slot is None:
            try:
                zc = Zeroconf(interfaces=[interface], ip_version=IPVersion.V4Only)
            except OSError as exc:
                from ruview_cli.errors import RuviewError

                raise RuviewError(
                    f"cannot open mDNS sockets on {interface}: {exc}",
                    f"pick an address of this machine with --interface or {ENV_INTERFACE}",
                ) from None
            slot = _shared[interface] = [zc, 0]
        slot[1] += 1
        return slot[0]


def _release(interface: str) -> None:
    with _shared_lock:
        slot = _shared.get(interface)
        if slot is None:
            return
        slot[1] -= 1
        if slot[1] <= 0:
            del _shared[interface]
            slot[0].close()


class MdnsAdvertiser:
    """Publishes node services on one interface; one Zeroconf per process and interface.

    `publish`/`withdraw` take what a node's firmware asks for (its instance name, host name,
    service type, port and TXT: mdns_* calls forwarded over the board link), keyed by the node.
    """

    def __init__(self, interface_ip: str | None = None):
        self.interface = interface_ip or default_interface()
        self._zc = _acquire(self.interface)
        self._infos: dict[Any, dict[str, Any]] = {}  # key -> {service type: ServiceInfo}
        self._goodbyes: dict[Any, Any] = {}          # key -> future of its goodbye broadcasts
        self._lock = threading.Lock()
        self._closed = False

    @property
    def zeroconf(self):
        return self._zc

    def _run(self, coro_factory, wait: bool = True):
        """Run a zeroconf coroutine on its loop (optionally waiting for it to finish)."""
        fut = asyncio.run_coroutine_threadsafe(coro_factory(), self._zc.loop)
        if wait:
            fut.result(timeout=10)
        return fut

    def _settle(self, key: Any) -> None:
        """Wait for this node's pending goodbyes, so a re-register is not overtaken by them."""
        with self._lock:
            fut = self._goodbyes.pop(key, None)
        if fut is not None:
            try:
                fut.result(timeout=5)
            except Exception:  # a goodbye that failed to send must not block the node
                pass

    def publish(self, key: Any, service_type: str, instance: str, host: str, ip: str, port: int,
                txt: dict[str, str]) -> None:
        """Announce (or re-announce with new TXT) one service of the node `key`.

        `service_type` like "_ruview._tcp.local.", `host` like "ruview-a1b2c3.local.".
        """
        from zeroconf import ServiceInfo

        if self._closed:
            return
        info = ServiceInfo(service_type, f"{instance}.{service_type}",
                           addresses=[socket.inet_aton(ip)], port=port, properties=txt,
                           server=host)
        with self._lock:
            old = self._infos.get(key, {}).get(service_type)
        zc = self._zc
        if old is not None and old.name == info.name and old.server == info.server:
            with self._lock:
                self._infos[key][service_type] = info

            async def upd():
                await zc.async_update_service(info)

            self._run(upd)
            return
        if old is not None:  # a different instance or host name: a different record set
            self._withdraw_one(key, service_type, old)
        self._settle(key)
        with self._lock:
            self._infos.setdefault(key, {})[service_type] = info

        async def reg():
            await zc.async_register_service(info, cooperating_responders=True)

        self._run(reg)

    def _withdraw_one(self, key: Any, service_type: str, info: Any) -> None:
        with self._lock:
            self._infos.get(key, {}).pop(service_type, None)
        zc = self._zc

        async def unreg():
            await (await zc.async_unregister_service(info))

        self._run(unreg)

    def withdraw(self, key: Any) -> None:
        """Send goodbyes for every service of `key` (without waiting for them)."""
        with self._lock:
            infos = list(self._infos.pop(key, {}).values())
        if not infos or self._closed:
            return
        zc = self._zc

        async def unreg():
            sent = [await zc.async_unregister_service(info) for info in infos]
            await asyncio.gather(*sent)

        # Do not wait for the goodbyes (≈ 0.4 s); publish() of the same node waits for them.
        fut = self._run(unreg, wait=False)
        with self._lock:
            self._goodbyes[key] = fut

    def close(self) -> None:
        if self._closed:
            return
        with self._lock:
            nodes = [info for infos in self._infos.values() for info in infos.values()]
            self._infos.clear()
            pending = list(self._goodbyes.values())
            self._goodbyes.clear()
        for fut in pending:
            try:
                fut.result(timeout=5)
            except Exception:
                pass
        zc = self._zc

        async def unreg_all():
            sent = [await zc.async_unregister_service(info) for info in nodes]
            await asyncio.gather(*sent)

        try:
            self._run(unreg_all)
        except Exception:  # closing must not fail on a dying loop
            pass
        self._closed = True
        _release(self.interface)


__all__ = ["MdnsAdvertiser", "SERVICE_TCP", "SERVICE_UDP", "ENV_INTERFACE", "default_interface"]
