"""`provision --wait`: the node is back, with the configuration just written.

The proof is its own telemetry: a UDP datagram at target_ip:target_port whose node_id byte is
the new node_id, of a kind its edge tier sends (tier >= 1: vitals / feature vector; tier 0:
raw CSI). Nothing else on the network can fake that by accident.
"""

from __future__ import annotations

import errno
import ipaddress
import socket
import struct
import time

from ruview_cli.errors import RuviewError

RAW, VITALS, FEATURES, FUSED = 0xC5110001, 0xC5110002, 0xC5110003, 0xC5110004


def _bind(target_ip: str, port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    addr = target_ip if ipaddress.IPv4Address(target_ip).is_loopback else ""
    try:
        sock.bind((addr, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise RuviewError(
                f"cannot listen on UDP port {port} to confirm the node: another program uses it",
                "the node is provisioned; watch it with that program (e.g. `ruview tail`) or "
                "drop --wait") from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise RuviewError(
                f"target_ip {target_ip} is not an address of this machine: cannot see the "
                "node's telemetry here", "run with --wait on the collector, or drop --wait") from None
        raise
    return sock


def wait_online(target_ip: str | None, target_port: int, node_id: int, edge_tier: int,
                timeout: float = 30.0) -> bool:
    """True once telemetry from `node_id` matching `edge_tier` arrives; False on timeout."""
    if not target_ip:
        raise RuviewError("the node has no target_ip: it sends no telemetry to wait for",
                          "pass --target-ip (this machine's address) or drop --wait")
    want = (VITALS, FEATURES, FUSED) if edge_tier >= 1 else (RAW,)
    sock = _bind(target_ip, target_port)
    deadline = time.monotonic() + timeout
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(min(left, 1.0))
            try:
                data, _src = sock.recvfrom(2048)
            except socket.timeout:
                continue
            if len(data) < 5:
                continue
            (magic,) = struct.unpack_from("<I", data, 0)
            if magic in want and data[4] == node_id:
                return True
    finally:
        sock.close()


__all__ = ["wait_online"]
