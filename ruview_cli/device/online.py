"""`provision --wait`: the node is back, with the configuration just written.

The proof is its own telemetry: a UDP datagram at target_ip:target_port whose node_id byte is
the new node_id, of a kind its edge tier sends (tier >= 1: vitals / feature vector; tier 0:
raw CSI). Nothing else on the network can fake that by accident.
"""

from __future__ import annotations

import ipaddress
import socket
import time

from ruview_cli.errors import RuviewError

# What each tier sends that proves the DSP runs with the new config (packet kinds of protocol/).
_TIER_KINDS = {0: ("csi_raw",), 1: ("vitals", "features", "fused_vitals")}


def _bind(target_ip: str, port: int) -> socket.socket:
    from ruview_cli.telemetry.receiver import open_socket

    addr = target_ip if ipaddress.IPv4Address(target_ip).is_loopback else "0.0.0.0"
    try:
        return open_socket(addr, port)
    except RuviewError as exc:
        raise RuviewError(
            f"cannot listen for the node's telemetry on UDP {addr}:{port}: {exc.message}",
            "the node is provisioned; watch it with `ruview tail`, or drop --wait") from None


def wait_online(target_ip: str | None, target_port: int, node_id: int, edge_tier: int,
                timeout: float = 30.0) -> bool:
    """True once telemetry from `node_id` matching `edge_tier` arrives; False on timeout."""
    if not target_ip:
        raise RuviewError("the node has no target_ip: it sends no telemetry to wait for",
                          "pass --target-ip (this machine's address) or drop --wait")
    from ruview_cli.protocol import decode

    want = _TIER_KINDS[1 if edge_tier >= 1 else 0]
    sock = _bind(target_ip, target_port)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(min(left, 1.0))
            try:
                data, _src = sock.recvfrom(65535)
            except (socket.timeout, BlockingIOError):
                continue
            pkt = decode(data)
            if pkt.kind in want and pkt.node_id == node_id:
                return True
    finally:
        sock.close()


__all__ = ["wait_online"]
