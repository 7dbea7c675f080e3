"""ESP-IDF binary partition tables: the RuView layouts, and build/parse of the 0x8000 sector.

Used by `ruview flash` (ota/buildflash.py) and by the emulator's flash (sim/).

Format (ESP-IDF gen_esp32part.py): 32-byte entries `<2sBBLL16sL` — magic bytes AA 50, type,
subtype, offset, size, NUL-padded 16-byte label, flags (bit 0 encrypted, bit 1 readonly); then
an MD5 entry EB EB + 14 x FF + MD5 of all entries before it; then 0xFF up to 0xC00 bytes.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from ruview_cli.errors import RuviewError

TABLE_OFFSET = 0x8000
TABLE_LENGTH = 0xC00
ENTRY = struct.Struct("<2sBBLL16sL")
MAGIC = b"\xaa\x50"
MD5_MAGIC = b"\xeb\xeb" + b"\xff" * 14

APP, DATA = 0x00, 0x01
SUB_OTA_0, SUB_OTA_1 = 0x10, 0x11
SUB_OTADATA, SUB_PHY, SUB_NVS, SUB_SPIFFS = 0x00, 0x01, 0x02, 0x82


@dataclass(frozen=True)
class Partition:
    name: str
    type: int
    subtype: int
    offset: int
    size: int
    flags: int = 0

    @property
    def end(self) -> int:
        return self.offset + self.size


# PROTOCOL.md §3 (RuView's tables, kept).
LAYOUT_8MB: tuple[Partition, ...] = (
    Partition("nvs", DATA, SUB_NVS, 0x9000, 0x6000),
    Partition("otadata", DATA, SUB_OTADATA, 0xF000, 0x2000),
    Partition("phy_init", DATA, SUB_PHY, 0x11000, 0x1000),
    Partition("ota_0", APP, SUB_OTA_0, 0x20000, 0x200000),
    Partition("ota_1", APP, SUB_OTA_1, 0x220000, 0x200000),
    Partition("spiffs", DATA, SUB_SPIFFS, 0x420000, 0x1E0000),
)
LAYOUT_4MB: tuple[Partition, ...] = (
    Partition("nvs", DATA, SUB_NVS, 0x9000, 0x6000),
    Partition("otadata", DATA, SUB_OTADATA, 0xF000, 0x2000),
    Partition("phy_init", DATA, SUB_PHY, 0x11000, 0x1000),
    Partition("ota_0", APP, SUB_OTA_0, 0x20000, 0x1D0000),
    Partition("ota_1", APP, SUB_OTA_1, 0x1F0000, 0x1D0000),
)


class PartitionTableError(RuviewError):
    def __init__(self, message: str):
        super().__init__(
            message,
            "re-flash the partition table (the bootloader, table and app from one build)",
        )


def build_table(parts) -> bytes:
    """The 0xC00-byte binary table, identical to what gen_esp32part.py makes from the CSV."""
    body = bytearray()
    for p in parts:
        label = p.name.encode()
        if len(label) > 16:
            raise ValueError(f"partition label {p.name!r} longer than 16 bytes")
        body += ENTRY.pack(MAGIC, p.type, p.subtype, p.offset, p.size, label, p.flags)
    body += MD5_MAGIC + hashlib.md5(bytes(body)).digest()
    if len(body) >= TABLE_LENGTH:
        raise ValueError("too many partitions for one table")
    return bytes(body) + b"\xff" * (TABLE_LENGTH - len(body))


def parse_table(data: bytes) -> list[Partition]:
    """Entries up to the MD5 entry (checked) or the first erased entry.

    Raises PartitionTableError naming the problem: no table (erased sector), bad magic, or an
    MD5 mismatch (the bootloader refuses such a table too).
    """
    data = bytes(data[:TABLE_LENGTH])
    parts: list[Partition] = []
    for pos in range(0, len(data) - ENTRY.size + 1, ENTRY.size):
        raw = data[pos:pos + ENTRY.size]
        if raw[:2] == MD5_MAGIC[:2]:
            if raw[:16] != MD5_MAGIC:
                raise PartitionTableError(f"partition table MD5 entry at +{pos:#x} is malformed")
            if hashlib.md5(data[:pos]).digest() != raw[16:]:
                raise PartitionTableError("partition table MD5 does not match its entries")
            break
        if raw == b"\xff" * ENTRY.size:
            break
        magic, ptype, subtype, offset, size, label, flags = ENTRY.unpack(raw)
        if magic != MAGIC:
            raise PartitionTableError(
                f"no valid partition table entry at +{pos:#x} (magic {magic.hex()}, want aa50)"
            )
        name = label.split(b"\x00", 1)[0].decode("utf-8", "replace")
        parts.append(Partition(name, ptype, subtype, offset, size, flags))
    if not parts:
        raise PartitionTableError("no partition table found (the sector is empty)")
    return parts


def by_name(parts, name: str) -> Partition:
    for p in parts:
        if p.name == name:
            return p
    raise PartitionTableError(f"no partition named {name!r} in the table")


def app_slots(parts) -> list[Partition]:
    """OTA app partitions in slot order (ota_0, ota_1, ...)."""
    return sorted((p for p in parts if p.type == APP and 0x10 <= p.subtype < 0x20),
                  key=lambda p: p.subtype)
