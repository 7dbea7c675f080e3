"""The emulated node's NOR flash: one file per node, erased = 0xFF, shared by everything on the chip.

The file is the node's whole flash (8 MB or 4 MB) byte for byte, so the firmware built for the
host (a child process, ruview_cli/sim/firmware_proc.py) reads and writes the same partitions with
pread/pwrite that the ROM serial loader (esptool) and the second-stage bootloader use here.
It lives in a private temporary directory and is removed when the image is closed (or garbage
collected); `save`/`load` copy it to and from a named file (a real dump reads the same).

Writes are plain overwrites (not NOR AND-semantics): esptool and the OTA path always erase first,
and the loader erases in FLASH_BEGIN exactly like the ROM, so the visible result is the same.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import threading
import weakref
from pathlib import Path

SECTOR = 0x1000
_ERASED_CHUNK = b"\xff" * 0x100000


def _fill_erased(fd: int, size: int) -> None:
    pos = 0
    while pos < size:
        pos += os.pwrite(fd, _ERASED_CHUNK[:min(len(_ERASED_CHUNK), size - pos)], pos)


class FlashImage:
    """NOR flash of `size` bytes in a private file, erased = 0xFF, thread-safe (one RLock)."""

    def __init__(self, size: int = 8 * 1024 * 1024):
        if size <= 0 or size % SECTOR:
            raise ValueError(f"flash size must be a positive multiple of {SECTOR:#x}, got {size}")
        self.size = size
        self.lock = threading.RLock()
        fd, path = tempfile.mkstemp(prefix="ruview-flash-", suffix=".bin")
        os.fchmod(fd, 0o600)  # NVS holds the WiFi password and the OTA key
        self._fd = fd
        self.path = Path(path)
        self._cleanup = weakref.finalize(self, _close_and_remove, fd, path)
        _fill_erased(fd, size)

    def close(self) -> None:
        """Remove the file (the chip is gone for good)."""
        self._cleanup()

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(
                f"flash access {offset:#x}+{length:#x} outside the {self.size:#x}-byte flash"
            )

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        with self.lock:
            return os.pread(self._fd, length, offset)

    def write(self, offset: int, data: bytes) -> None:
        data = bytes(data)
        self._check(offset, len(data))
        with self.lock:
            done = 0
            while done < len(data):
                done += os.pwrite(self._fd, data[done:], offset + done)

    def erase(self, offset: int, length: int) -> None:
        self._check(offset, length)
        with self.lock:
            pos, end = offset, offset + length
            while pos < end:
                take = min(len(_ERASED_CHUNK), end - pos)
                os.pwrite(self._fd, _ERASED_CHUNK[:take], pos)
                pos += take

    def md5(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        h = hashlib.md5()
        with self.lock:
            pos, end = offset, offset + length
            while pos < end:
                take = min(0x10000, end - pos)
                h.update(self.read(pos, take))
                pos += take
        return h.digest()

    def save(self, path) -> None:
        """Copy the full image to `path` (erased sectors as 0xFF, as a real dump would read)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with self.lock:
            shutil.copyfile(self.path, tmp)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "FlashImage":
        data = Path(path).read_bytes()
        img = cls(len(data))
        img.write(0, data)
        return img


def _close_and_remove(fd: int, path: str) -> None:
    try:
        os.close(fd)
    except OSError:
        pass
    try:
        os.unlink(path)
    except OSError:
        pass
