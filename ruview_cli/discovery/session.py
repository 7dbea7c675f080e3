"""One discovery run or a long-lived watch: mDNS browse, telemetry listener, status probes and
inventory liveness, merged into one row per node."""

from __future__ import annotations

import threading
import time
from typing import Any, Callable, Iterable

from ruview_cli.discovery.interfaces import resolve_interface
from ruview_cli.discovery.model import SOURCES, DiscoveredNode, Sighting, merge
from ruview_cli.discovery.probe import PROBE_TIMEOUT, probe_hosts, sweep
from ruview_cli.discovery.validate import Rejected, screen

STALE_AFTER = 6.0   # watch: a node not seen (advert, packet or status answer) for this long


class DiscoverySession:
    """Open the sources once; `snapshot()` as often as needed; `close()` at the end.

    Every argument is checked (CIDR, interface, port) before any socket is opened."""

    def __init__(self, *, interface: str | None = None, listen_port: int | None = None,
                 probe: str | None = None, inventory: Any = None, mdns: bool = True,
                 on_sighting: Callable[[Sighting], None] | None = None,
                 probe_timeout: float = PROBE_TIMEOUT):
        self.rejected: dict[tuple, Rejected] = {}   # skipped sightings, each reported once
        self.hosts = probe_hosts(probe) if probe else []
        self.interfaces = resolve_interface(interface)
        self.inventory = inventory
        self.probe_timeout = probe_timeout
        self._on_sighting = on_sighting
        # nodes found by mDNS get their /ota/status fetched at once (OTA state, rollback,
        # running slot), during the browse window, a few at a time
        from concurrent.futures import ThreadPoolExecutor

        self._enrich_pool: Any = ThreadPoolExecutor(max_workers=16, thread_name_prefix="ruview-st")
        self._enriched: dict[tuple[str, int], Sighting] = {}
        self._asked: set[tuple[str, int]] = set()
        self._history: dict[str, DiscoveredNode] = {}
        self._lock = threading.Lock()
        self._answered = threading.Condition(self._lock)
        self.browser = None
        self.listener = None
        try:
            if mdns:
                from ruview_cli.discovery.mdns_browse import MdnsBrowser

                self.browser = MdnsBrowser(self.interfaces, self._mdns_sighting)
            if listen_port is not None:
                from ruview_cli.discovery.listen import TelemetryListener

                self.listener = TelemetryListener(listen_port)
        except BaseException:
            self.close()
            raise

    # -- the probing half ------------------------------------------------------------------
    def _mdns_sighting(self, s: Sighting) -> None:
        if self._on_sighting is not None:
            self._on_sighting(s)
        key = (s.ip, s.http_port or 8032)
        with self._lock:
            if key in self._asked or self._enrich_pool is None:
                return
            self._asked.add(key)
        try:
            self._enrich_pool.submit(self._enrich, key)
        except RuntimeError:  # closing
            pass

    def _enrich(self, key: tuple[str, int]) -> None:
        from ruview_cli.discovery.probe import status_sighting

        # counted as mDNS: that is how the node was found; the status only adds detail
        found = status_sighting("mdns", key[0], key[1], self.probe_timeout)
        if found is not None:
            with self._lock:
                self._enriched[key] = found
                self._answered.notify_all()

    def wait_answered(self, macs: set[str], timeout: float) -> bool:
        """Wait until every MAC in `macs` was found by mDNS and answered its status."""
        end = time.monotonic() + timeout
        with self._answered:
            while not macs <= {(s.mac or "").lower() for s in self._enriched.values()}:
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self._answered.wait(left)
            return True

    def _inventory_sightings(self) -> list[Sighting]:
        if self.inventory is None:
            return []
        return [Sighting(source="inventory", ip=n.ip, t=None, mac=n.mac, node_id=n.node_id,
                         http_port=n.http_port if n.ip else None, version=n.version,
                         edge_tier=n.edge_tier, name=n.name, chip=n.chip)
                for n in self.inventory.nodes()]

    def probe_round(self) -> list[Sighting]:
        """Probe the CIDR, check inventory addresses (source "inventory") and re-check the
        addresses of nodes seen earlier in a watch (no source added: only proof of life)."""
        targets: list[tuple[str, str, int]] = [("probe", h, 8032) for h in self.hosts]
        seen = {(h, p) for _s, h, p in targets}
        for s in self._inventory_sightings():
            if s.ip and (s.ip, s.http_port) not in seen:
                targets.append(("inventory", s.ip, s.http_port or 8032))
                seen.add((s.ip, s.http_port or 8032))
        with self._lock:
            earlier = list(self._history.values())
        for r in earlier:
            if r.ip and (r.ip, r.http_port) not in seen and ("probe" in r.sources or
                                                            "mdns" in r.sources):
                targets.append(("recheck", r.ip, r.http_port))
                seen.add((r.ip, r.http_port))
        found = sweep(targets, timeout=self.probe_timeout)
        if self._on_sighting:
            for s in found:
                self._on_sighting(s)
        return found

    # -- one view of the fleet -------------------------------------------------------------
    def snapshot(self, probed: list[Sighting], *, since: float | None = None,
                 stale_after: float | None = None) -> list[DiscoveredNode]:
        with self._lock:
            enriched = list(self._enriched.values())
        sightings = list(probed) + self._inventory_sightings()
        if self.browser is not None:
            sightings += self.browser.sightings()
        sightings += enriched  # after the adverts: a live status beats a TXT record
        if self.listener is not None:
            sightings += self.listener.sightings()
        from ruview_cli.discovery.arp import arp_table

        sightings, bad = screen(sightings)  # one bad advert never stops the rest
        with self._lock:
            for r in bad:
                self.rejected.setdefault((r.source, r.ip, r.name, r.reason), r)
        neighbours = arp_table()
        for sg in sightings:  # MAC-less nodes on this link: the kernel knows their MAC
            if sg.mac is None and sg.ip in neighbours:
                sg.mac = neighbours[sg.ip]
        with self._lock:
            memory = {k: r.last_seen for k, r in self._history.items() if r.last_seen}
        rows = merge(sightings, since=since, stale_after=stale_after, last_seen=memory)
        with self._lock:
            keys = {r.key for r in rows}
            for key, old in self._history.items():
                if key not in keys and not any(old.mac and old.mac == r.mac for r in rows):
                    if stale_after is not None and old.last_seen is not None:
                        old.stale = time.time() - old.last_seen > stale_after
                    else:
                        old.stale = True
                    rows.append(old)
            for r in rows:
                old = self._history.get(r.key)
                if old is not None:  # a re-check alone proves life; how it was found stays
                    r.sources = sorted(set(r.sources) | set(old.sources),
                                       key=SOURCES.index)
                self._history[r.key] = r
        return rows

    def close(self) -> None:
        pool, self._enrich_pool = self._enrich_pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        if self.listener is not None:
            self.listener.close()
            self.listener = None
        if self.browser is not None:
            self.browser.close()
            self.browser = None

    def __enter__(self) -> "DiscoverySession":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def discover(*, timeout: float = 2.0, interface: str | None = None,
             listen_port: int | None = None, probe: str | None = None, inventory: Any = None,
             on_sighting: Callable[[Sighting], None] | None = None,
             rejected: list[Rejected] | None = None,
             expect: Iterable[str] | None = None) -> list[DiscoveredNode]:
    """Find nodes for `timeout` seconds (the browse window) and return one row per node.

    With `expect` (MAC addresses), the window closes early once each of those nodes was found by
    mDNS and answered its status (and the probe round finished): a caller that knows its fleet
    waits no longer than it takes. A node is stale when it was not seen during this run (known
    only from the inventory).
    Sightings that make no sense (a bad MAC in an advert...) are skipped and, when `rejected`
    is given, appended to it."""
    from ruview_cli.errors import UsageError

    if not 0 < timeout <= 60:
        raise UsageError(f"--timeout {timeout:g} out of range", "give 0.1 to 60 seconds")
    started = time.time()
    with DiscoverySession(interface=interface, listen_port=listen_port, probe=probe,
                          inventory=inventory, on_sighting=on_sighting,
                          probe_timeout=min(PROBE_TIMEOUT, timeout)) as session:
        box: dict[str, list[Sighting]] = {}
        worker = threading.Thread(target=lambda: box.setdefault("r", session.probe_round()),
                                  name="ruview-probe-round", daemon=True)
        worker.start()
        deadline = time.monotonic() + timeout
        if expect is None:
            worker.join(timeout)
            remaining = deadline - time.monotonic()
            if remaining > 0:
                threading.Event().wait(remaining)  # the rest of the browse window
        else:
            session.wait_answered({m.lower() for m in expect}, timeout)
            worker.join(max(0.0, deadline - time.monotonic()))
        worker.join()  # a large sweep may outlast the window; its results still count
        rows = session.snapshot(box.get("r", []), since=started)
        if rejected is not None:
            rejected.extend(session.rejected.values())
        return rows


__all__ = ["DiscoverySession", "discover", "STALE_AFTER"]
