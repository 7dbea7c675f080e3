#!/usr/bin/env python3
"""How fast an emulated fleet comes up, and what each node costs in memory.

Starts N nodes (default 50) in this process — serial endpoint (TCP + pty), HTTP server, mDNS
advert, UDP telemetry through the firmware core — and reports:

* start-up time until every node is ready (serial endpoint listening, HTTP answering, mDNS
  registered, first telemetry datagram received by a collector in this process);
* resident memory per node: RSS of this process after start minus its RSS before (the
  baseline, measured in the same run), plus the RSS of every child process (the firmware
  processes of nodes that run the host build), divided by N;
* ratios against the goals (≤ 5 s for 50 nodes, ≤ 10 MB per node).

    python benchmarks/sim_scale.py [--nodes 50] [--seconds 5]
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import time


def rss_bytes(pid: int | None = None) -> int:
    with open(f"/proc/{pid or os.getpid()}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0  # a kernel thread or a zombie holds no memory


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc/PID/task/*/children)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as fh:
                kids = [int(x) for x in fh.read().split()]
        except OSError:
            continue
        for kid in kids:
            out.append(kid)
            out.extend(children(kid))
    return out


def children_rss() -> tuple[int, int]:
    """(number of child processes, their summed RSS)."""
    kids = children(os.getpid())
    total = 0
    for kid in kids:
        try:
            total += rss_bytes(kid)
        except OSError:
            pass
    return len(kids), total


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=5.0, help="how long to keep streaming after start")
    ap.add_argument("--first-host", type=int, default=60)
    args = ap.parse_args()

    import requests  # noqa: F401  (imported before the baseline so it is not counted per node)

    from ruview_cli import _edge  # noqa: F401
    from ruview_cli.protocol import decode
    from ruview_cli.sim.fleet import FleetOptions, SimFleet

    rx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    rx.bind(("127.0.0.1", 0))
    rx.settimeout(0.2)
    baseline = rss_bytes()

    opts = FleetOptions(nodes=args.nodes, target=("127.0.0.1", rx.getsockname()[1]),
                        mdns_interface="127.0.0.1", first_host=args.first_host)
    fleet = SimFleet(opts)
    t0 = time.monotonic()
    infos = fleet.start()
    t_started = time.monotonic() - t0
    # Ready = HTTP answers and telemetry arrives from every node.
    import requests as rq

    session = rq.Session()
    for info in infos:
        session.get(f"http://{info['ip']}:{info['http_port']}/ota/status", timeout=5).raise_for_status()
    t_http = time.monotonic() - t0
    streaming = set()
    deadline = time.monotonic() + 30
    while len(streaming) < args.nodes and time.monotonic() < deadline:
        try:
            data, addr = rx.recvfrom(4096)
        except socket.timeout:
            continue
        if decode(data).kind != "malformed":
            streaming.add(addr[0])
    t_ready = time.monotonic() - t0

    time.sleep(args.seconds)  # let buffers, scenarios and threads reach steady state
    rss = rss_bytes()
    n_children, child_rss = children_rss()
    per_node = (rss - baseline + child_rss) / args.nodes
    fleet.stop()

    mb = 1024 * 1024
    print(f"nodes                         {args.nodes}")
    print(f"nodes started (serial, HTTP, mDNS)  {t_started:6.2f} s")
    print(f"HTTP answering on every node  {t_http:6.2f} s")
    print(f"telemetry from every node     {t_ready:6.2f} s   ({len(streaming)}/{args.nodes} streaming)")
    print(f"RSS baseline (same process)   {baseline / mb:6.1f} MB")
    print(f"RSS with the fleet running    {rss / mb:6.1f} MB")
    print(f"firmware processes            {n_children:6d}   ({child_rss / mb:.1f} MB resident)")
    print(f"resident memory per node      {per_node / mb:6.2f} MB")
    print(f"ratio start-up / goal 5 s     {t_ready / 5.0:6.2f}  (≤ 1 meets the goal)")
    print(f"ratio per-node / goal 10 MB   {per_node / (10 * mb):6.2f}  (≤ 1 meets the goal)")
    return 0 if len(streaming) == args.nodes else 1


if __name__ == "__main__":
    sys.exit(main())
