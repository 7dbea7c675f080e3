"""Active discovery: a bounded-concurrency sweep of `GET :8032/ota/status` over a CIDR, and the
same check for addresses already known (inventory liveness)."""

from __future__ import annotations

import ipaddress
import time
from concurrent.futures import ThreadPoolExecutor

from ruview_cli.discovery.model import Sighting
from ruview_cli.errors import UsageError

MAX_PROBE_HOSTS = 1024      # a /22; a bigger sweep takes minutes and looks like a port scan
CONCURRENCY = 64
PROBE_TIMEOUT = 0.8


def probe_hosts(cidr: str) -> list[str]:
    """The host addresses of `cidr`; refuses IPv6 and absurd sizes with the fix."""
    try:
        net = ipaddress.ip_network(cidr.strip(), strict=False)
    except ValueError:
        raise UsageError(f"--probe {cidr!r} is not a network",
                         "write it as ADDRESS/PREFIX, e.g. 192.168.1.0/24") from None
    if net.version != 4:
        raise UsageError(f"--probe {cidr}: only IPv4 networks can be swept",
                         "give an IPv4 network such as 192.168.1.0/24")
    if net.num_addresses > MAX_PROBE_HOSTS + 2:
        raise UsageError(f"--probe {cidr} has {net.num_addresses} addresses; the limit is "
                         f"{MAX_PROBE_HOSTS}",
                         "probe the subnet your nodes are on, e.g. 192.168.1.0/24 (/22 at most)")
    return [str(h) for h in net.hosts()] if net.num_addresses > 2 else \
        [str(a) for a in net]


def status_sighting(source: str, host: str, port: int, timeout: float) -> Sighting | None:
    """One GET /ota/status → a Sighting (None if nothing answered like a node)."""
    from ruview_cli.errors import RuviewError
    from ruview_cli.nodeapi import get_status

    try:
        st = get_status(host, port, timeout=timeout)
    except RuviewError:
        return None
    return Sighting(source=source, ip=host, t=time.time(), mac=st.mac, node_id=st.node_id,
                    http_port=port, version=st.version, edge_tier=st.edge_tier,
                    ota_state=st.ota_state, rollback=st.rollback, flavor=st.flavor,
                    chip=st.chip, running_partition=st.running_partition)


def sweep(targets: list[tuple[str, str, int]], timeout: float = PROBE_TIMEOUT,
          concurrency: int = CONCURRENCY) -> list[Sighting]:
    """Check (source, host, port) triples, `concurrency` at a time."""
    if not targets:
        return []
    with ThreadPoolExecutor(max_workers=min(concurrency, len(targets)),
                            thread_name_prefix="ruview-probe") as pool:
        results = list(pool.map(lambda t: status_sighting(t[0], t[1], t[2], timeout), targets))
    return [r for r in results if r is not None]


__all__ = ["probe_hosts", "sweep", "status_sighting", "MAX_PROBE_HOSTS", "CONCURRENCY"]
