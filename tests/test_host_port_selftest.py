"""The real firmware's post-OTA self-test runs against the emulated radio: a node booted in
PENDING_VERIFY (as the bootloader leaves a new app) that associates, receives CSI reports on the
board link and sends UDP telemetry from its own address marks itself valid in otadata."""

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


def test_self_test_passes_on_csi_and_telemetry_and_marks_valid(tmp_path, loopback):
    collector_ip, node_ip = loopback.addr(), loopback.addr()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    udp.bind((collector_ip, 5005))
    udp.settimeout(0.05)
    path, flash = make_flash(tmp_path, nvs=default_nvs(target_ip=NvsValue("str", collector_ip)))
    flash.write(OTADATA, _entry(1, PENDING_VERIFY))
    flash.save(path)
    node = Node(firmware_binary(), path, node_ip)
    rng = random.Random(7)
    sources, packets = set(), 0
    try:
        node.associate(channel=6)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and "self_test: passed" not in node.output:
            iq = bytes(rng.randrange(256) for _ in range(128)).hex()
            node.proc.send({"t": "csi", "ts_us": 0, "rssi": -50, "noise_floor": -95,
                            "channel": 6, "sig_mode": 1, "cwb": 0,
                            "first_word_invalid": False, "iq": iq})
            try:
                while True:
                    _, src = udp.recvfrom(4096)
                    sources.add(src[0])
                    packets += 1
            except socket.timeout:
                pass
        time.sleep(0.2)
    finally:
        node.close()
        udp.close()
    assert "self_test: passed" in node.output, node.output
    assert packets > 0 and sources == {node_ip}   # telemetry sent from the node's own address
    assert _state(path) == VALID
