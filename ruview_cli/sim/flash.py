"""The emulated node's NOR flash: sparse, erased = 0xFF, shared by the serial loader and the node.

Only 4 KB sectors that were ever written are held in memory, so an 8 MB image of a typical node
(partition table, NVS, one app) costs a few hundred KB and 50 nodes fit in one process.
Writes are plain overwrites (not NOR AND-semantics): esptool and the OTA path always erase first,
and the loader erases in FLASH_BEGIN exactly like the ROM, so the visible result is the same.
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

SECTOR = 0x1000
_ERASED_SECTOR = b"\xff" * SECTOR


class FlashImage:
    """Sparse NOR flash of `size` bytes, erased = 0xFF, thread-safe (one RLock)."""

    def __init__(self, size: int = 8 * 1024 * 1024):
        if size <= 0 or size % SECTOR:
            raise ValueError(f"flash size must be a positive multiple of {SECTOR:#x}, got {size}")
        self.size = size
        self.lock = threading.RLock()
        self._sectors: dict[int, bytearray] = {}

    def _check(self, offset: int, length: int) -> None:
        if offset < 0 or length < 0 or offset + length > self.size:
            raise ValueError(
                f"flash access {offset:#x}+{length:#x} outside the {self.size:#x}-byte flash"
            )

    def read(self, offset: int, length: int) -> bytes:
        self._check(offset, length)
        out = bytearray()
        with self.lock:
            pos, end = offset, offset + length
            while pos < end:
                idx, inner = divmod(pos, SECTOR)
                take = min(SECTOR - inner, end - pos)
                sec = self._sectors.get(idx)
                out += sec[inner:inner + take] if sec is not None else _ERASED_SECTOR[:take]
                pos += take
        return bytes(out)

    def write(self, offset: int, data: bytes) -> None:
        data = memoryview(bytes(data))
        self._check(offset, len(data))
        with self.lock:
            pos, end, src = offset, offset + len(data), 0
            while pos < end:
                idx, inner = divmod(pos, SECTOR)
                take = min(SECTOR - inner, end - pos)
                sec = self._sectors.get(idx)
                if sec is None:
                    sec = self._sectors[idx] = bytearray(_ERASED_SECTOR)
                sec[inner:inner + take] = data[src:src + take]
                pos += take
                src += take

    def erase(self, offset: int, length: int) -> None:
        self._check(offset, length)
        with self.lock:
            pos, end = offset, offset + length
            while pos < end:
                idx, inner = divmod(pos, SECTOR)
                take = min(SECTOR - inner, end - pos)
                if take == SECTOR:
                    self._sectors.pop(idx, None)
                else:
                    sec = self._sectors.get(idx)
                    if sec is not None:
                        sec[inner:inner + take] = _ERASED_SECTOR[:take]
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

    def used_bytes(self) -> int:
        """Bytes of memory held (written sectors), for the scale benchmark."""
        with self.lock:
            return len(self._sectors) * SECTOR

    def save(self, path) -> None:
        """Write the full image (erased sectors as 0xFF, as a real dump would read)."""
        path = Path(path)
        tmp = path.with_name(path.name + ".tmp")
        with self.lock, open(tmp, "wb") as f:
            for idx in range(self.size // SECTOR):
                sec = self._sectors.get(idx)
                f.write(sec if sec is not None else _ERASED_SECTOR)
        os.replace(tmp, path)

    @classmethod
    def load(cls, path) -> "FlashImage":
        data = Path(path).read_bytes()
        img = cls(len(data))
        for idx in range(len(data) // SECTOR):
            chunk = data[idx * SECTOR:(idx + 1) * SECTOR]
            if chunk != _ERASED_SECTOR:
                img._sectors[idx] = bytearray(chunk)
        return img
