"""One esptool session with one board, through esptool's Python API (esptool.cmds).

Connect (detect_chip), load the flasher stub, attach the SPI flash, read / write / read back
regions, reset. Reads skip erased 4 KB sectors (an SPI_FLASH_MD5 of a sector is one short
exchange, reading it is 4 KB over the wire), which is most of an NVS partition, so a read-back
costs little more than esptool's own verify.

Reset lines: a real USB port uses esptool's default DTR/RTS reset into the bootloader; a
socket:// URL or a pty (the emulated node) has no lines, so `no-reset` is used there.

Leaving: while the ROM loader talks, the app does not run (the chip was reset into download
mode), so every session ends by handing the chip back to its app, whatever happened: `after`
"hard-reset" (default: esptool's hard reset, the reset line / boot pins) or "run-app" (no reset
pulse: the loader jumps to the app the way esptool's soft reset does; a hard reset if that
fails). Only `after="stay"` leaves the chip in its loader, for a caller that asks for it. The
emulated node understands the flasher stub, which is much faster than the ROM's 64-byte reads,
so the stub is the default everywhere (`stub=False` forces the ROM loader).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Callable

from ruview_cli.device import esplog
from ruview_cli.device.ports import needs_manual_reset
from ruview_cli.device.serial_errors import explain
from ruview_cli.errors import RuviewError

SECTOR = 0x1000
_ERASED_MD5 = hashlib.md5(b"\xff" * SECTOR).hexdigest()
SUPPORTED_CHIPS = ("ESP32-S3",)
DEFAULT_BAUD = 460800
ROM_BAUD = 115200
AFTER_MODES = ("hard-reset", "run-app", "stay")


@dataclass
class ChipInfo:
    chip: str
    revision: str
    mac: str          # "34:85:18:aa:bb:cc"
    features: list[str]


class EspSession:
    """Context manager: `with EspSession(port) as s: s.chip ...`. Every failure is a RuviewError
    naming the port and the step."""

    def __init__(self, port: str, baud: int | None = None, stub: bool = True,
                 sink: esplog.Sink | None = None, after: str = "hard-reset"):
        if after not in AFTER_MODES:
            raise ValueError(f"after must be one of {AFTER_MODES}")
        self.port = port
        self.after = after
        self.left: str | None = None  # how the session ended: "hard-reset" | "run-app" | "stay"
        self._rom = None
        self.baud = baud or DEFAULT_BAUD
        self.use_stub = stub
        self.sink = sink
        self.esp = None
        self.info: ChipInfo | None = None
        self.step = "connect"

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "EspSession":
        try:
            self.connect()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _run(self, step: str, fn: Callable, *args, **kwargs):
        from esptool.util import FatalError

        self.step = step
        with esplog.routed(self.sink):
            try:
                return fn(*args, **kwargs)
            except RuviewError:
                raise
            except (FatalError, OSError, EOFError, ValueError, TypeError, AttributeError,
                    IndexError, KeyError, RuntimeError, struct.error) as exc:
                # serial.SerialException is an OSError; esptool's own failures are FatalError
                raise explain(exc, self.port, step) from exc

    def connect(self) -> ChipInfo:
        import esptool.cmds as cmds

        mode = "no-reset" if needs_manual_reset(self.port) else "default-reset"
        attempts = 2 if needs_manual_reset(self.port) else 7
        self.esp = self._run("connect", cmds.detect_chip, self.port, ROM_BAUD, mode,
                             connect_attempts=attempts)
        esp = self._rom = self.esp
        self.left = None

        def identify():
            mac = ":".join(f"{b:02x}" for b in esp.read_mac())
            rev = esp.get_chip_revision()
            try:
                features = list(esp.get_chip_features())
            except Exception:
                features = []
            return ChipInfo(esp.CHIP_NAME, f"v{rev // 100}.{rev % 100}", mac, features)

        self.info = self._run("connect", identify)
        if self.use_stub:
            self.esp = self._run("connect", cmds.run_stub, esp)
            if self.baud != ROM_BAUD and not self.port.startswith("socket://"):
                self._run("connect", self.esp.change_baud, self.baud)
        self._run("connect", cmds.attach_flash, self.esp)
        return self.info

    def close(self) -> None:
        """Hand the chip back to its app (`after`, best effort) and release the port."""
        if self.esp is not None:
            if self.left is None:
                try:
                    self.leave(self.after)
                except RuviewError:
                    pass  # the link is gone: nothing more can be sent
            self._release()

    def _release(self) -> None:
        try:
            self.esp._port.close()
        except Exception:
            pass
        self.esp = self._rom = None

    # -- flash -----------------------------------------------------------------------------
    def _md5(self, offset: int, size: int) -> str:
        return self.esp.flash_md5sum(offset, size)

    def _read_raw(self, offset: int, size: int) -> bytes:
        import esptool.cmds as cmds

        return cmds.read_flash(self.esp, offset, size, no_progress=True) if size else b""

    def read(self, offset: int, size: int, step: str = "read") -> bytes:
        """Read a sector-aligned region byte for byte; erased sectors are recognised by their
        MD5 and not transferred."""
        def go() -> bytes:
            out = bytearray()
            for pos in range(offset, offset + size, SECTOR):
                if self._md5(pos, SECTOR) == _ERASED_MD5:
                    out += b"\xff" * SECTOR
                else:
                    out += self._read_raw(pos, SECTOR)
            return bytes(out)

        return self._run(step, go)

    def running_app(self):
        """The app the board boots (device.running_app.RunningApp) or None; a few hundred
        bytes read (partition table, otadata entries, the app's description)."""
        from ruview_cli.device.running_app import read_running_app

        return self._run("read", read_running_app, self._read_raw)

    def read_nvs(self, offset: int, size: int) -> bytes:
        """An NVS partition as its reader sees it, transferring only what it can use: erased
        pages are skipped (MD5), and of each page only the header, the entry-state bitmap and
        the entries up to the last one the bitmap marks as used (the rest is returned erased;
        an NVS reader never looks at entries marked empty)."""
        def go() -> bytes:
            out = bytearray()
            for pos in range(offset, offset + size, SECTOR):
                if self._md5(pos, SECTOR) == _ERASED_MD5:
                    out += b"\xff" * SECTOR
                    continue
                head = self._read_raw(pos, 64)
                bitmap = head[32:64]
                used = [i for i in range(126) if (bitmap[i // 4] >> ((i % 4) * 2)) & 3 != 3]
                n = (used[-1] + 1) * 32 if used else 0
                page = head + self._read_raw(pos + 64, n)
                out += page + b"\xff" * (SECTOR - len(page))
            return bytes(out)

        return self._run("read", go)

    def verify(self, offset: int, expected: bytes) -> bytes:
        """Read back what was written and compare it byte for byte; the erased tail of each
        sector (and wholly erased sectors) is checked by the chip's MD5 instead of being
        transferred (adjacent erased areas in one MD5). Returns the read-back image; raises
        RuviewError on the first difference."""
        def go() -> bytes:
            out = bytearray()
            erased: list[list[int]] = []  # [start, length] runs, relative to offset
            for pos in range(0, len(expected), SECTOR):
                want = expected[pos:pos + SECTOR]
                n = len(want.rstrip(b"\xff"))
                got = self._read_raw(offset + pos, n)
                if got != want[:n]:
                    bad = next((i for i in range(n) if got[i] != want[i]), n)
                    raise RuviewError(f"read-back differs from the written image at "
                                      f"{offset + pos + bad:#x}",
                                      "run the command again; if it repeats the flash may be "
                                      "worn or write-protected")
                if n < len(want):
                    if erased and erased[-1][0] + erased[-1][1] == pos + n:
                        erased[-1][1] += len(want) - n
                    else:
                        erased.append([pos + n, len(want) - n])
                out += got + b"\xff" * (len(want) - n)
            for start, length in erased:
                if self._md5(offset + start, length) != hashlib.md5(b"\xff" * length).hexdigest():
                    raise RuviewError(f"read-back: the area at {offset + start:#x} "
                                      f"({length} bytes) should be erased but is not",
                                      "run the command again")
            return bytes(out)

        return self._run("verify", go)

    def write(self, offset: int, data: bytes) -> None:
        import esptool.cmds as cmds

        self._run("write", cmds.write_flash, self.esp, [(offset, data)], compress=True)
        if self.use_stub and not self.esp.IS_STUB:
            # esptool's write retry reconnected and re-ran the stub on an object we do not
            # hold (ours is now marked ROM): start a fresh session for what follows.
            self.reconnect()

    def reconnect(self) -> None:
        """A fresh connection; the chip stays in its loader in between."""
        if self.esp is not None:
            self._release()
        self.connect()

    def reset(self) -> None:
        """Hard reset through the reset line: the app starts again."""
        self.leave("hard-reset")

    def leave(self, mode: str = "hard-reset") -> None:
        """End the session: "hard-reset", "run-app" (no reset pulse; a hard reset if the loader
        does not hand over) or "stay" (the chip stays in its loader). RuviewError on failure."""
        import esptool.cmds as cmds

        if self.esp is None or self.left is not None:
            return
        if mode == "run-app":
            try:
                self._run("reset", self._run_app)
            except RuviewError:
                mode = "hard-reset"
        if mode == "hard-reset":
            self._run("reset", cmds.reset_chip, self.esp, "hard-reset")
        self.left = mode

    def _run_app(self) -> None:
        """The ROM's "run user code" (esptool's soft reset): from the flasher stub, first back
        to the ROM loader (which starts at its own baud rate), then out of it into the app."""
        if self.esp.IS_STUB:
            self.esp.soft_reset(True)
            if not self.port.startswith("socket://") and self._rom._port.baudrate != ROM_BAUD:
                self._rom._port.baudrate = ROM_BAUD
            self._rom.sync()
        self._rom.soft_reset(False)


def check_chip(info: ChipInfo, allow_any: bool = False) -> None:
    if info.chip not in SUPPORTED_CHIPS and not allow_any:
        raise RuviewError(
            f"this board is an {info.chip}; the ruview firmware runs on {', '.join(SUPPORTED_CHIPS)}",
            "use an ESP32-S3 board, or pass --any-chip if you really mean it",
        )


__all__ = ["EspSession", "ChipInfo", "check_chip", "SUPPORTED_CHIPS", "DEFAULT_BAUD", "AFTER_MODES"]
