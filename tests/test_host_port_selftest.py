"""The real firmware against the emulated radio: a node booted in PENDING_VERIFY (as the
bootloader leaves a new app) that associates, receives CSI reports on the board link and sends
UDP telemetry from its own address passes its self-test and marks itself valid in otadata; the
udp-loss fault drops its datagrams in the air."""

from __future__ import annotations

import random
import socket
import struct
import time
import zlib

from ruview_cli.config.nvs import NvsValue
from test_host_port_support import Node, default_nvs, firmware_binary, make_flash

OTADATA, PENDING_VERIFY, VALID = 0xF000, 1, 2


def _entry(seq: int, state: int) -> bytes:
    crc = zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF
    return struct.pack("<I20sII", seq, b"\xff" * 20, state, crc)


def _state(path) -> int:
    with open(path, "rb") as f:
        f.seek(OTADATA)
        return struct.unpack("<I20sII", f.read(32))[2]


def _collector(tmp_path, loopback):
    """(UDP socket of a telemetry collector, flash of a node sending to it, the node's IP)."""
    collector_ip = loopback.addr()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((collector_ip, 5005))
    udp.settimeout(0.05)
    path, flash = make_flash(tmp_path, nvs=default_nvs(target_ip=NvsValue("str", collector_ip)))
    return udp, path, flash, loopback.addr()


def test_self_test_passes_on_csi_and_telemetry_and_marks_valid(tmp_path, loopback):
    udp, path, flash, node_ip = _collector(tmp_path, loopback)
    flash.write(OTADATA, _entry(1, PENDING_VERIFY))
    flash.save(path)
    node = Node(firmware_binary(), path, node_ip)
    try:
        node.associate(channel=6)
        sources = _stream_csi(node, udp, 30, until=lambda: "self_test: passed" in node.output)
        time.sleep(0.2)
    finally:
        node.close()
        udp.close()
    assert "self_test: passed" in node.output, node.output
    assert sources and set(sources) == {node_ip}   # telemetry sent from the node's own address
    assert _state(path) == VALID


def _stream_csi(node: Node, udp: socket.socket, seconds: float, until=lambda: False) -> list:
    """Send CSI reports as the radio would, collect the source address of every datagram the
    collector receives meanwhile."""
    rng = random.Random(7)
    sources = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not until():
        iq = bytes(rng.randrange(256) for _ in range(128)).hex()
        node.proc.send({"t": "csi", "ts_us": 0, "rssi": -50, "noise_floor": -95, "channel": 6,
                        "sig_mode": 1, "cwb": 0, "first_word_invalid": False, "iq": iq})
        try:
            while True:
                sources.append(udp.recvfrom(4096)[1][0])
        except socket.timeout:
            pass
    return sources


def test_udp_loss_fault_drops_telemetry_in_the_air(tmp_path, loopback):
    udp, path, _, node_ip = _collector(tmp_path, loopback)
    node = Node(firmware_binary(), path, node_ip)
    try:
        node.associate(channel=6)
        before = _stream_csi(node, udp, 1.5)
        node.proc.send({"t": "fault", "name": "udp-loss", "percent": 100})
        time.sleep(0.2)
        _stream_csi(node, udp, 0.2)          # drain what was in flight
        during = _stream_csi(node, udp, 1.5)
        alive = node.proc.wait(0) is None
    finally:
        node.close()
        udp.close()
    assert before, node.output
    assert during == [] and alive
