"""mDNS adverts of emulated nodes (PROTOCOL.md §5) through python-zeroconf.

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


def mac_text(mac: bytes) -> str:
    return ":".join(f"{b:02x}" for b in mac)


def instance_name(node_id: int, mac: bytes) -> str:
    return f"ruview-{node_id}-{mac[-2:].hex()}"


def host_name(mac: bytes) -> str:
    return f"ruview-{mac[-3:].hex()}.local."


def txt_record(node: Any) -> dict[str, str]:
    """TXT keys of PROTOCOL.md §5 for a SimNode."""
    cfg = node.config
    txt = {
        "node_id": str(node.node_id),
        "mac": mac_text(node.mac),
        "chip": "esp32s3",
        "version": node.version,
        "edge_tier": str(node.edge_tier),
        "ota": "1",
        "api": "1",
    }
    name = getattr(cfg, "zone_name", "") or ""
    if name:
        txt["name"] = name
    return txt


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
    """Advertises SimNodes on one interface; one Zeroconf per process and interface."""

    def __init__(self, interface_ip: str | None = None, udp_too: bool = True):
        self.interface = interface_ip or default_interface()
        self.udp_too = udp_too
        self._zc = _acquire(self.interface)
        self._infos: dict[int, list[Any]] = {}  # id(node) -> [ServiceInfo, ...]
        self._goodbyes: dict[int, Any] = {}     # id(node) -> future of its goodbye broadcasts
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

    def _settle(self, node: Any) -> None:
        """Wait for this node's pending goodbyes, so a re-register is not overtaken by them."""
        with self._lock:
            fut = self._goodbyes.pop(id(node), None)
        if fut is not None:
            try:
                fut.result(timeout=5)
            except Exception:  # a goodbye that failed to send must not block the node
                pass

    def _make_infos(self, node: Any) -> list[Any]:
        from zeroconf import ServiceInfo

        txt = txt_record(node)
        name = instance_name(node.node_id, node.mac)
        types = [SERVICE_TCP] + ([SERVICE_UDP] if self.udp_too else [])
        return [ServiceInfo(t, f"{name}.{t}", addresses=[socket.inet_aton(node.ip)],
                            port=node.http_port, properties=txt, server=host_name(node.mac))
                for t in types]

    def register(self, node: Any) -> None:
        """Advertise `node` (no-op for RuView 0.6.x nodes and the mdns-silent fault)."""
        if self._closed or getattr(node, "flavor", "ours") != "ours":
            return
        if node.faults.mdns_silent:
            self.unregister(node)
            return
        with self._lock:
            known = id(node) in self._infos
        if known:
            self.update(node)
            return
        self._settle(node)
        infos = self._make_infos(node)
        with self._lock:
            self._infos[id(node)] = infos
        zc = self._zc

        async def reg():
            for info in infos:
                await zc.async_register_service(info, cooperating_responders=True)

        self._run(reg)

    def update(self, node: Any) -> None:
        """Re-announce with fresh TXT (version, edge_tier) after a reboot or self-test."""
        if self._closed:
            return
        with self._lock:
            old = self._infos.get(id(node))
        if old is None or node.faults.mdns_silent:
            self.register(node)
            return
        new = self._make_infos(node)
        if [i.name for i in new] != [i.name for i in old] or new[0].server != old[0].server:
            self.unregister(node)  # node_id changed: a different instance name
            self.register(node)
            return
        with self._lock:
            self._infos[id(node)] = new
        zc = self._zc

        async def upd():
            for info in new:
                await zc.async_update_service(info)

        self._run(upd)

    def unregister(self, node: Any) -> None:
        with self._lock:
            infos = self._infos.pop(id(node), None)
        if not infos or self._closed:
            return
        zc = self._zc

        async def unreg():
            sent = [await zc.async_unregister_service(info) for info in infos]
            await asyncio.gather(*sent)

        # Do not wait for the goodbyes (≈ 0.4 s); register() of the same node waits for them.
        fut = self._run(unreg, wait=False)
        with self._lock:
            self._goodbyes[id(node)] = fut

    def close(self) -> None:
        if self._closed:
            return
        with self._lock:
            nodes = list(self._infos.values())
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
            sent = [await zc.async_unregister_service(info) for infos in nodes for info in infos]
            await asyncio.gather(*sent)

        try:
            self._run(unreg_all)
        except Exception:  # closing must not fail on a dying loop
            pass
        self._closed = True
        _release(self.interface)


__all__ = ["MdnsAdvertiser", "SERVICE_TCP", "SERVICE_UDP", "ENV_INTERFACE", "default_interface",
           "instance_name", "host_name", "txt_record", "mac_text"]
