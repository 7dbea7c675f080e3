"""`ruview tail` under a flood of spoofed node ids (issue 11 item 19), over real UDP on loopback.

Datagrams come from several loopback source addresses with every node id 0..255, more nodes
than tail keeps; one steady node keeps sending in between. The state must stay bounded (the
least recently heard nodes are dropped and counted), the steady node must survive with every
packet counted, and the closing summary must stay short. Sending is paced on what tail prints
(one JSON line per packet), never on time."""

from __future__ import annotations

import socket

from ruview_cli.protocol import Vitals
from ruview_cli.telemetry.state import MAX_NODES, SUMMARY_NODES, SUMMARY_SOURCES
from test_tail_e2e import run_tail  # noqa: F401 (the fixture: a `ruview tail` it stops)

SPOOF_SOURCES = MAX_NODES // 256 + 2      # enough addresses for more ids than tail keeps
STEADY_ID = 42
BATCH = 64


def vitals(node_id: int) -> bytes:
    return Vitals(node_id, 0x03, 15.0, 72.0, -42, 1, 0.5, 0.75, 123456).encode()


def test_spoofed_node_ids_are_bounded_and_the_summary_stays_short(run_tail, loopback):
    listen = loopback.addr()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((listen, 0))
        port = probe.getsockname()[1]
    steady_ip = loopback.addr()
    steady = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    steady.bind((steady_ip, 0))
    spoofers = []
    for _ in range(SPOOF_SOURCES):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((loopback.addr(), 0))
        spoofers.append(s)
    plan = []   # (socket, datagram): every spoofed id once, the steady node every 8th packet
    for s in spoofers:
        for node_id in range(256):
            plan.append((s, vitals(node_id)))
            if node_id % 8 == 0:
                plan.append((steady, vitals(STEADY_ID)))
    steady_sent = sum(1 for s, _ in plan if s is steady)
    tail = run_tail("--json", "--bind", listen, "--port", str(port), "--count", str(len(plan)))
    try:
        tail.wait_listening()
        for start in range(0, len(plan), BATCH):
            batch = plan[start:start + BATCH]
            for s, datagram in batch:
                s.sendto(datagram, (listen, port))
            tail.json_lines(len(batch))     # wait until tail has taken them all
        rc, _, summary = tail.finish()
    finally:
        for s in spoofers + [steady]:
            s.close()
    assert rc == 0 and summary is not None
    spoofed = SPOOF_SOURCES * 256
    assert summary["datagrams"] == len(plan)                  # evicted nodes' packets still count
    kept = len(summary["nodes"]) + summary["nodes_not_listed"]
    assert kept <= MAX_NODES < spoofed + 1
    assert summary["evicted_nodes"] == spoofed + 1 - kept
    assert len(summary["nodes"]) <= SUMMARY_NODES and len(summary["sources"]) <= SUMMARY_SOURCES
    mine = [n for n in summary["nodes"] if (n["address"], n["node_id"]) == (steady_ip, STEADY_ID)
            and n["packets"].get("vitals") == steady_sent]
    assert mine, "the node that kept sending was evicted or lost packets"
