"""The emulated node's ROM serial loader, driven by the real esptool CLI (subprocesses).

Both wires are exercised: socket:// (TCP) and the pty. Runs are kept to a few KB so the file
takes seconds.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time

import pytest
import serial
from hypothesis import given, settings
from hypothesis import strategies as st

from ruview_cli.config.nvs import NvsValue, build_nvs, read_nvs
from ruview_cli.sim.flash import FlashImage
from ruview_cli.sim.serial_link import SerialEndpoint, _Wire
from ruview_cli.sim.serial_rom import RomLoader, SlipDecoder, slip_encode
from ruview_cli.sim import serial_link

MAC = bytes.fromhex("24ec4a0102c3")
MAC_TEXT = "24:ec:4a:01:02:c3"
SYNC_FRAME = slip_encode(b"\x00\x08\x24\x00\x00\x00\x00\x00" + b"\x07\x07\x12\x20" + b"\x55" * 32)


class Node:
    """A flash + ROM loader + endpoint, counting resets the way the sim node would see them."""

    def __init__(self, **faults):
        self.flash = FlashImage()
        self.resets = 0
        self._cond = threading.Condition()
        self.loader = RomLoader(self.flash, MAC, self._on_reset, **faults)
        self.ep = SerialEndpoint(self.loader).start()

    def _on_reset(self):
        with self._cond:
            self.resets += 1
            self._cond.notify_all()

    def wait_resets(self, n: int, timeout: float = 10.0) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self.resets >= n, timeout)

    def wire(self, kind: str) -> str:
        return self.ep.url if kind == "socket" else self.ep.pty_path


@pytest.fixture
def node():
    n = Node()
    yield n
    n.ep.stop()


def esptool(port: str, *args: str, chip: str | None = "esp32s3", after: str | None = None,
            stub: bool = False):
    cmd = [sys.executable, "-m", "esptool", "--port", port, "--before", "no-reset"]
    if not stub:
        cmd.append("--no-stub")
    if chip:
        cmd += ["--chip", chip]
    if after:
        cmd += ["--after", after]
    r = subprocess.run(cmd + list(args), capture_output=True, text=True, timeout=90)
    r.output = r.stdout + r.stderr
    return r


@pytest.mark.parametrize("kind", ["socket", "pty"])
def test_flash_id_reports_s3_8mb_and_mac(node, kind):
    r = esptool(node.wire(kind), "flash-id")
    assert r.returncode == 0, r.output
    assert "ESP32-S3" in r.output
    assert MAC_TEXT in r.output
    assert "Detected flash size: 8MB" in r.output


def test_chip_autodetected_without_chip_argument(node):
    r = esptool(node.wire("pty"), "read-mac", chip=None)
    assert r.returncode == 0, r.output
    assert "Detecting chip type... ESP32-S3" in r.output
    assert MAC_TEXT in r.output


@pytest.mark.parametrize(
    "write_kind,read_kind,compress",
    [("socket", "pty", "--compress"), ("pty", "socket", "--no-compress")],
)
def test_write_then_read_back_identical(node, tmp_path, write_kind, read_kind, compress):
    data = os.urandom(5000) + bytes(3000) + b"\xc0\xdb" * 600  # incompressible + SLIP specials
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    r = esptool(node.wire(write_kind), "write-flash", compress, "0x30000", str(src))
    assert r.returncode == 0, r.output
    assert "Hash of data verified" in r.output
    out = tmp_path / "out.bin"
    r = esptool(node.wire(read_kind), "read-flash", "0x30000", str(len(data)), str(out))
    assert r.returncode == 0, r.output
    assert out.read_bytes() == data
    # the ROM erased whole sectors: the tail of the last sector is erased flash
    end = 0x30000 + len(data)
    assert node.flash.read(end, 0x1000 - end % 0x1000) == b"\xff" * (0x1000 - end % 0x1000)


def test_verify_flash_matches_and_detects_difference(node, tmp_path):
    data = os.urandom(4096)
    node.flash.write(0x50000, data)
    good, bad = tmp_path / "good.bin", tmp_path / "bad.bin"
    good.write_bytes(data)
    bad.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))
    r = esptool(node.wire("socket"), "verify-flash", "0x50000", str(good))
    assert r.returncode == 0, r.output
    assert "digest matched" in r.output
    r = esptool(node.wire("pty"), "verify-flash", "0x50000", str(bad))
    assert r.returncode != 0
    assert "Verify failed" in r.output or "verification failed" in r.output.lower()


@pytest.mark.parametrize("after", ["soft-reset", "watchdog-reset"])  # hard-reset: below
def test_reset_at_end_of_session_reboots_node(node, after):
    r = esptool(node.wire("socket"), "chip-id", after=after)
    assert r.returncode == 0, r.output
    assert node.wait_resets(1), f"--after {after} did not reset the node"


def test_no_reset_leaves_node_alone(node):
    r = esptool(node.wire("pty"), "read-mac", after="no-reset")
    assert r.returncode == 0, r.output
    r = esptool(node.wire("pty"), "read-mac")  # default hard reset, on the same pty session
    assert r.returncode == 0, r.output
    assert node.wait_resets(1)
    assert node.resets == 1  # only the second run reset the node


def test_nvs_image_written_over_serial_reads_back(node, tmp_path):
    values = {
        "csi_cfg": {
            "edge_tier": NvsValue("u8", 1),
            "fall_thresh": NvsValue("u16", 4000),
            "ssid": NvsValue("str", "lab-net"),
            "chan_list": NvsValue("blob", bytes([1, 6, 11])),
        },
        "security": {"ota_psk": NvsValue("str", "a" * 64)},
    }
    img = tmp_path / "nvs.bin"
    img.write_bytes(build_nvs(values))
    r = esptool(node.wire("socket"), "write-flash", "0x9000", str(img))
    assert r.returncode == 0, r.output
    assert "a" * 64 not in r.output  # the secret never shows in esptool's output either
    back = tmp_path / "back.bin"
    r = esptool(node.wire("pty"), "read-flash", "0x9000", "0x6000", str(back))
    assert r.returncode == 0, r.output
    assert read_nvs(back.read_bytes()) == values
    assert read_nvs(node.flash.read(0x9000, 0x6000)) == values


def _first_mismatch_block(got: bytes, data: bytes, block: int = 0x400) -> int:
    k = 0
    def same(i):
        return got[i * block:(i + 1) * block] == data[i * block:(i + 1) * block]

    while k * block < len(data) and same(k):
        k += 1
    return k


def test_dropped_link_fails_esptool_and_leaves_partial_write(tmp_path):
    n = Node(drop_after_bytes=9000)
    try:
        n.flash.write(0x60000, b"\xa5" * 0x9000)  # old contents, one sector past the write
        data = os.urandom(0x8000)
        src = tmp_path / "img.bin"
        src.write_bytes(data)
        r = esptool(n.wire("socket"), "write-flash", "--no-compress", "0x60000", str(src))
        assert r.returncode != 0
        assert "Lost connection" in r.output  # esptool retried once, and was cut again
        assert "error" in r.output.lower()
        got = n.flash.read(0x60000, 0x8000)
        k = _first_mismatch_block(got, data)
        assert 0 < k < 0x20, "some blocks, not all, were written before the cut"
        assert got[k * 0x400:] == b"\xff" * (0x8000 - k * 0x400)  # erased, never written
        assert n.flash.read(0x68000, 0x1000) == b"\xa5" * 0x1000  # outside the erase: untouched
        assert n.ep.drops == 2
    finally:
        n.ep.stop()


def test_single_drop_is_recovered_by_esptool_retry(tmp_path):
    n = Node(drop_after_bytes=6000, drop_times=1)
    try:
        data = os.urandom(0x4000)
        src = tmp_path / "img.bin"
        src.write_bytes(data)
        r = esptool(n.wire("socket"), "write-flash", "0x70000", str(src))
        assert r.returncode == 0, r.output
        assert "Lost connection" in r.output
        assert n.flash.read(0x70000, len(data)) == data
    finally:
        n.ep.stop()


def test_pty_drop_hangs_up_and_offers_a_new_pty():
    n = Node(drop_after_bytes=10)
    try:
        old = n.ep.pty_path
        with serial.Serial(old, timeout=5) as port:
            port.write(b"\xc0" + b"\x00" * 40)
            with pytest.raises(serial.SerialException):
                while True:  # the hang-up shows as a read error, never as data
                    assert port.read(1) == b""
        deadline = time.monotonic() + 5
        while n.ep.drops == 0 and time.monotonic() < deadline:  # the endpoint re-plugs on its own thread
            time.sleep(0.01)
        assert n.ep.drops == 1
        # A new pty is offered (the kernel may give it the old number, like a re-plugged adapter).
        assert os.path.exists(n.ep.pty_path)
        with serial.Serial(n.ep.pty_path, timeout=5):
            pass
    finally:
        n.ep.stop()


def test_second_tcp_client_is_refused_like_a_busy_port(node):
    import socket

    host, port = node.ep.url[len("socket://"):].split(":")
    with socket.create_connection((host, int(port)), timeout=5) as first:
        first.sendall(SYNC_FRAME)
        assert first.recv(1) == b"\xc0"  # the first client is being served
        with socket.create_connection((host, int(port)), timeout=5) as second:
            assert second.recv(16) == b""  # closed at once
    assert node.ep.refused == 1


def test_garbage_is_counted_and_session_keeps_working():
    flash = FlashImage()
    session = RomLoader(flash, MAC, lambda: None).new_session()
    junk = b"\x01" + random.Random(4).randbytes(3000).replace(b"\xc0", b"")
    assert session.feed(b"\xc0" + junk + b"\xc0") == b""
    assert session.feed(b"\xc0\x01\x02\xc0\xc0\xdb\x01\xc0") == b""  # short frame, bad escape
    assert session.bad_frames >= 2
    reply = session.feed(SYNC_FRAME)
    assert reply.count(b"\xc0\x01\x08") == 8  # the ROM answers SYNC eight times


@settings(max_examples=80, deadline=None)
@given(st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=6), st.data())
def test_slip_frames_survive_any_chunking(frames, data):
    stream = b"".join(slip_encode(f) for f in frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
    dec, out, last = SlipDecoder(), [], 0
    for c in cuts + [len(stream)]:
        out += dec.feed(stream[last:c])
        last = c
    assert out == frames and dec.dropped == 0


def test_baud_fault_costs_ten_bit_times_per_byte(monkeypatch):
    slept = []
    monkeypatch.setattr(serial_link.time, "sleep", slept.append)
    loader = RomLoader(FlashImage(), MAC, lambda: None, baud_limit=115200)
    wire = _Wire(loader, "tcp")
    wire.wire_time(11520)
    wire.wire_time(11520)
    wire.pay()
    assert slept == [pytest.approx(2.0)]  # 23040 bytes x 10 bits at 115200 baud
    loader.baud_limit = None
    wire.wire_time(10**6)
    wire.pay()
    assert len(slept) == 1  # no fault, no wire time


# ---- esptool's default mode: the flasher stub -----------------------------------------------


def test_stub_write_read_erase(node, tmp_path):
    data = os.urandom(20000)
    src = tmp_path / "in.bin"
    src.write_bytes(data)
    r = esptool(node.wire("pty"), "write-flash", "0x80000", str(src), chip=None, stub=True)
    assert r.returncode == 0, r.output
    assert "Stub flasher running" in r.output and "Hash of data verified" in r.output
    out = tmp_path / "out.bin"
    r = esptool(node.wire("socket"), "read-flash", "0x80000", str(len(data)), str(out),
                after="no-reset", stub=True)
    assert r.returncode == 0, r.output
    assert out.read_bytes() == data
    r = esptool(node.wire("socket"), "erase-region", "0x81000", "0x1000", stub=True)
    assert r.returncode == 0, r.output
    assert node.flash.read(0x81000, 0x1000) == b"\xff" * 0x1000
    assert node.flash.read(0x80000, 0x1000) == data[:0x1000]
    assert node.wait_resets(2)  # write-flash and erase-region hard-reset; no-reset did not
    assert node.resets == 2


def test_stub_drop_leaves_old_contents_after_the_cut(tmp_path):
    # The stub erases sector by sector as it writes: after the cut, the old contents remain.
    n = Node(drop_after_bytes=40000)
    try:
        old = os.urandom(0x10000)
        n.flash.write(0x90000, old)
        data = os.urandom(0x10000)
        src = tmp_path / "img.bin"
        src.write_bytes(data)
        r = esptool(n.wire("socket"), "write-flash", "--no-compress", "0x90000", str(src),
                    chip=None, stub=True)
        assert r.returncode != 0 and "Lost connection" in r.output
        got = n.flash.read(0x90000, 0x10000)
        k = _first_mismatch_block(got, data, 0x1000)
        assert 0 < k < 16
        assert got[k * 0x1000:] == old[k * 0x1000:]
    finally:
        n.ep.stop()
