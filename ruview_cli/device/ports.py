"""Finding the serial port of a board: pyserial's list_ports filtered by the USB ids of
Espressif's native USB and the common USB-UART bridges on ESP32 boards."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ruview_cli.errors import UsageError

# (VID, PID or None for any) → what it is
KNOWN_USB: dict[tuple[int, int | None], str] = {
    (0x303A, None): "Espressif USB (ESP32-S3 native)",
    (0x10C4, 0xEA60): "Silicon Labs CP210x",
    (0x1A86, 0x7523): "WCH CH340",
    (0x1A86, 0x55D4): "WCH CH9102",
    (0x0403, 0x6001): "FTDI FT232R",
    (0x0403, 0x6010): "FTDI FT2232",
    (0x0403, 0x6015): "FTDI FT-X",
}


@dataclass(frozen=True)
class PortInfo:
    device: str
    description: str
    vid: int | None
    pid: int | None
    serial_number: str | None

    def label(self) -> str:
        ids = f"{self.vid:04x}:{self.pid:04x}" if self.vid is not None else "?"
        return f"{self.device}  {self.description} [{ids}]"


def bridge_name(vid: int | None, pid: int | None) -> str | None:
    if vid is None:
        return None
    return KNOWN_USB.get((vid, pid)) or KNOWN_USB.get((vid, None))


def candidate_ports() -> list[PortInfo]:
    """Serial ports that look like an ESP32 board, by USB VID/PID."""
    from serial.tools import list_ports

    found = []
    for p in list_ports.comports():
        name = bridge_name(p.vid, p.pid)
        if name:
            found.append(PortInfo(p.device, name, p.vid, p.pid, p.serial_number))
    return sorted(found, key=lambda p: p.device)


def is_url(port: str) -> bool:
    return "://" in port


def is_pty(port: str) -> bool:
    """A pseudo-terminal (the emulated node's serial side): no DTR/RTS reset lines."""
    real = os.path.realpath(port)
    return real.startswith("/dev/pts/") or os.path.basename(real).startswith(("pty", "ttyp"))


def needs_manual_reset(port: str) -> bool:
    """True where esptool must not try the DTR/RTS reset into the bootloader (socket://, pty)."""
    return is_url(port) or is_pty(port)


def the_port() -> str | list[PortInfo]:
    """The one board's port, or the candidates when there are several (the caller asks or
    refuses); UsageError when there is none."""
    cands = candidate_ports()
    if not cands:
        raise UsageError(
            "no ESP32 board found on any serial port",
            "plug the board in with a data-capable USB cable, or pass --port PORT "
            "(e.g. /dev/ttyACM0, COM5, socket://127.0.0.1:PORT for `ruview sim`)",
        )
    return cands[0].device if len(cands) == 1 else cands


def several_boards(cands: list[PortInfo]) -> UsageError:
    listing = "; ".join(c.label() for c in cands)
    return UsageError(f"several boards found: {listing}",
                      "pass --port PORT for each one (several --port run in parallel)")


__all__ = ["PortInfo", "KNOWN_USB", "candidate_ports", "the_port", "several_boards", "is_url", "is_pty",
           "needs_manual_reset", "bridge_name"]
