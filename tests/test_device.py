"""The serial side: port recognition, serial failures mapped to fixes, the esptool session against
an emulated node (sparse reads are exact), and per-thread routing of esptool's global logger."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import threading

import pytest
import serial

from ruview_cli.device import esplog
from ruview_cli.device.ports import bridge_name, candidate_ports, is_pty, is_url, needs_manual_reset
from ruview_cli.device.serial_errors import explain
from ruview_cli.device.session import EspSession
from ruview_cli.errors import RuviewError
from ruview_cli.sim.flash import FlashImage
from ruview_cli.sim.serial_link import SerialEndpoint
from ruview_cli.sim.serial_rom import RomLoader

MACS = [bytes.fromhex("3485180a0b01"), bytes.fromhex("3485180a0b02")]


class Board:
    def __init__(self, mac: bytes):
        self.flash = FlashImage()
        self.loader = RomLoader(self.flash, mac, on_reset=lambda: None)
        self.ep = SerialEndpoint(self.loader).start()


@pytest.fixture(scope="module")
def boards():
    bs = [Board(m) for m in MACS]
    yield bs
    for b in bs:
        b.ep.stop()


# -- ports -------------------------------------------------------------------------------------
def test_usb_ids_of_esp32_boards_are_recognised():
    assert "Espressif" in bridge_name(0x303A, 0x1001)
    assert "CP210x" in bridge_name(0x10C4, 0xEA60)
    assert "CH340" in bridge_name(0x1A86, 0x7523)
    assert "CH9102" in bridge_name(0x1A86, 0x55D4)
    for pid in (0x6001, 0x6010, 0x6015):
        assert "FTDI" in bridge_name(0x0403, pid)
    assert bridge_name(0x046D, 0xC52B) is None          # a mouse receiver is not a board
    assert bridge_name(None, None) is None


def test_emulator_wires_need_no_reset_lines():
    master, slave = os.openpty()
    try:
        path = os.ttyname(slave)
        assert is_pty(path) and needs_manual_reset(path)
    finally:
        os.close(master)
        os.close(slave)
    assert is_url("socket://127.0.0.1:4000") and needs_manual_reset("socket://127.0.0.1:4000")
    assert not needs_manual_reset("/dev/ttyUSB0")


def test_no_board_found_is_a_usage_error_with_a_fix(tmp_path):
    if candidate_ports():
        pytest.skip("a real ESP32 board is attached to this machine")
    env = dict(os.environ, RUVIEW_INVENTORY=str(tmp_path / "r.toml"))
    r = subprocess.run([shutil.which("ruview"), "provision", "--yes", "--node-id", "3"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2
    assert "no ESP32 board found" in r.stderr and "--port" in r.stderr


# -- serial failures → fixes --------------------------------------------------------------------
def test_missing_port_says_so():
    with pytest.raises(RuviewError) as exc:
        EspSession("/dev/ttyRUVIEW-none").connect()
    assert "does not exist" in exc.value.message and "ttyUSB" in exc.value.fix


def test_busy_port_points_at_modemmanager_and_brltty():
    master, slave = os.openpty()
    path = os.ttyname(slave)
    first = serial.Serial(path, exclusive=True)
    try:
        with pytest.raises(serial.SerialException) as exc:
            serial.Serial(path, exclusive=True)
        err = explain(exc.value, path)
        assert "busy" in err.message
        assert "ModemManager" in err.fix and "brltty" in err.fix
    finally:
        first.close()
        os.close(master)
        os.close(slave)


def test_permission_denied_points_at_dialout():
    # what pyserial raises when open() fails with EACCES
    exc = serial.SerialException(errno.EACCES, "could not open port /dev/ttyACM0: [Errno 13] "
                                 "Permission denied: '/dev/ttyACM0'")
    err = explain(exc, "/dev/ttyACM0")
    assert "permission denied" in err.message and "dialout" in err.fix


def test_nothing_listening_on_socket_url():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(RuviewError) as exc:
        EspSession(f"socket://127.0.0.1:{port}").connect()
    assert "nothing is listening" in exc.value.message and "ruview sim" in exc.value.fix


def test_silent_port_suggests_boot_button_and_slower_baud():
    master, slave = os.openpty()  # a port where no bootloader answers
    try:
        with pytest.raises(RuviewError) as exc:
            EspSession(os.ttyname(slave)).connect()
        assert "no answer from the bootloader" in exc.value.message
        assert "BOOT" in exc.value.fix and "--baud 115200" in exc.value.fix
    finally:
        os.close(master)
        os.close(slave)


def test_other_chips_are_refused_unless_allowed():
    from ruview_cli.device.session import ChipInfo, check_chip

    c6 = ChipInfo("ESP32-C6", "v0.1", "40:4c:ca:00:00:01", [])
    with pytest.raises(RuviewError) as exc:
        check_chip(c6)
    assert "ESP32-C6" in exc.value.message and "--any-chip" in exc.value.fix
    check_chip(c6, allow_any=True)
    check_chip(ChipInfo("ESP32-S3", "v0.2", "34:85:18:00:00:01", []))


# -- the session against an emulated board --------------------------------------------------------
@pytest.mark.parametrize("wire", ["socket", "pty"])
def test_session_identifies_chip_and_reads_sparse_regions_exactly(boards, wire):
    b = boards[0]
    region = 0x40000
    # data in sectors 1 and 3 of a 6-sector region; 0, 2, 4, 5 erased
    b.flash.erase(region, 0x6000)
    b.flash.write(region + 0x1000, os.urandom(0x1000))
    b.flash.write(region + 0x3000, os.urandom(0x800) + b"\xff" * 0x7FF + b"\x00")
    port = b.ep.url if wire == "socket" else b.ep.pty_path
    with EspSession(port) as s:
        assert s.info.chip == "ESP32-S3"
        assert s.info.mac == MACS[0].hex(":")
        assert s.read(region, 0x6000) == b.flash.read(region, 0x6000)


def test_session_write_then_read_back(boards):
    b = boards[1]
    data = os.urandom(0x1800) + b"\xff" * 0x800
    with EspSession(b.ep.url) as s:
        s.write(0x50000, data)
        assert s.read(0x50000, len(data)) == data
    assert b.flash.read(0x50000, len(data)) == data


def test_verify_catches_a_changed_byte_and_a_stray_byte_in_erased_flash(boards):
    b = boards[1]
    image = os.urandom(0x300) + b"\xff" * (0x3000 - 0x300)
    b.flash.erase(0x60000, 0x3000)
    b.flash.write(0x60000, image)
    with EspSession(b.ep.url) as s:
        assert s.verify(0x60000, image) == image
        b.flash.write(0x60100, bytes([image[0x100] ^ 0x01]))
        with pytest.raises(RuviewError, match="0x60100"):
            s.verify(0x60000, image)
        b.flash.write(0x60100, image[0x100:0x101])
        b.flash.write(0x62abc, b"\x00")                  # in an erased sector
        with pytest.raises(RuviewError, match="should be erased"):
            s.verify(0x60000, image)


def test_esptool_output_is_routed_per_thread(boards):
    from esptool.logger import log

    seen: dict[int, list[str]] = {0: [], 1: []}
    errors = []
    barrier = threading.Barrier(2)

    def work(i):
        def sink(kind, text, frac):
            seen[i].append(text)

        try:
            with esplog.routed(sink):
                barrier.wait(timeout=10)
                log.print(f"marker-{i}")
            with EspSession(boards[i].ep.url, sink=sink) as s:
                barrier.wait(timeout=30)
                s.read(0x9000, 0x2000)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    for i, other in ((0, 1), (1, 0)):
        assert f"marker-{i}" in seen[i] and f"marker-{other}" not in seen[i]
        assert any("ESP32-S3" in m for m in seen[i])          # esptool's own messages arrived
        assert not any(boards[other].ep.url in m for m in seen[i])
