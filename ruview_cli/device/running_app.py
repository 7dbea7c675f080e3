"""Which firmware a board will run, read from its flash over serial (a few hundred bytes).

The configuration a node uses depends on its firmware (config/schema.py: ours or RuView 0.6.x),
so `config show` and `provision` look at the app the bootloader would start:

* partition table at 0x8000: 32-byte entries `<2sBBII16sI` (magic AA 50, type, subtype,
  offset, size, label, flags) up to the first erased entry; app = type 0 (factory subtype 0,
  ota_N 0x10 + N), otadata = type 1 subtype 0.
* otadata: two 32-byte entries, one per sector, `<I20sII` (ota_seq, label, state, crc); an
  entry counts when seq != 0xFFFFFFFF, crc = CRC-32 of the seq bytes with 0xFFFFFFFF as the
  running value, and its state is neither INVALID (3) nor ABORTED (4). The highest seq wins and
  names slot (seq - 1) % number of ota slots; none: factory, else ota_0 (ESP-IDF bootloader).
* the image's esp_app_desc_t right after the 24-byte image header and the first 8-byte segment
  header: its project_name tells the firmware apart ("ruview" = ours, "esp32-csi-node" =
  RuView).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Callable

from ruview_cli.ota.image import APP_DESC_FMT, APP_DESC_MAGIC, APP_DESC_SIZE, HEADER_SIZE, IMAGE_MAGIC

PARTITION_TABLE = 0x8000
_ENTRY = struct.Struct("<2sBBII16sI")
_OTA_ENTRY = struct.Struct("<I20sII")
_MAX_ENTRIES = 95            # the 0xC00-byte table holds at most this many 32-byte entries
_CHUNK = 8 * _ENTRY.size     # read this much at a time (a usual table has 6..8 entries)
_OTA_INVALID, _OTA_ABORTED = 3, 4
_DESC_AT = HEADER_SIZE + 8   # image header, then the first segment's header

FLAVOR_OURS = "ours"
FLAVOR_06 = "ruview-0.6"
PROJECTS = {"ruview": FLAVOR_OURS, "esp32-csi-node": FLAVOR_06}


@dataclass(frozen=True)
class RunningApp:
    slot: str             # partition label, e.g. "ota_0"
    project: str
    version: str
    flavor: str | None    # FLAVOR_OURS | FLAVOR_06 | None (a firmware the schema does not know)

    def to_json(self) -> dict:
        return {"slot": self.slot, "project": self.project, "version": self.version,
                "flavor": self.flavor}


def flavor_of(project: str, version: str) -> str | None:
    flavor = PROJECTS.get(project)
    if flavor == FLAVOR_06 and not version.lstrip("v").startswith("0.6"):
        return None          # a newer RuView: its rules are not in the schema
    return flavor


def _partitions(table: bytes) -> list[tuple[int, int, int, str]]:
    """(type, subtype, offset, label) of each entry."""
    out = []
    for i in range(_MAX_ENTRIES):
        raw = table[i * _ENTRY.size:(i + 1) * _ENTRY.size]
        if len(raw) < _ENTRY.size or raw[:2] != b"\xaa\x50":
            break
        _magic, ptype, subtype, offset, _size, label, _flags = _ENTRY.unpack(raw)
        out.append((ptype, subtype, offset, label.split(b"\0", 1)[0].decode("ascii", "replace")))
    return out


def _boot_slot(apps: list[tuple[int, int, str]], entries: list[bytes]) -> tuple[int, str] | None:
    """(offset, label) of the app the bootloader starts. apps: (subtype, offset, label);
    entries: the raw otadata entries."""
    ota = sorted((s, o, lab) for s, o, lab in apps if 0x10 <= s <= 0x1F)
    best = None
    if ota:
        for raw in entries:
            if len(raw) < _OTA_ENTRY.size:
                continue
            seq, _label, state, crc = _OTA_ENTRY.unpack(raw)
            ok = seq != 0xFFFFFFFF and crc == zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF)
            if ok and state not in (_OTA_INVALID, _OTA_ABORTED) and (best is None or seq > best):
                best = seq
    if best is not None:
        _s, off, label = ota[(best - 1) % len(ota)]
        return off, label
    factory = [(o, lab) for s, o, lab in apps if s == 0x00]
    if factory:
        return factory[0]
    return (ota[0][1], ota[0][2]) if ota else None


def read_running_app(read: Callable[[int, int], bytes]) -> RunningApp | None:
    """The app the board boots, via `read(offset, size)`; None when the flash holds none."""
    table = b""
    while len(table) < _MAX_ENTRIES * _ENTRY.size:   # in small reads: tables end early
        chunk = read(PARTITION_TABLE + len(table), min(_CHUNK, _MAX_ENTRIES * _ENTRY.size - len(table)))
        table += chunk
        if len(chunk) < _CHUNK or any(chunk[i:i + 2] != b"\xaa\x50" for i in range(0, len(chunk), _ENTRY.size)):
            break
    parts = _partitions(table)
    apps = [(sub, off, label) for ptype, sub, off, label in parts if ptype == 0]
    otadata = next((off for ptype, sub, off, _l in parts if ptype == 1 and sub == 0), None)
    entries = [read(otadata + i * 0x1000, _OTA_ENTRY.size) for i in (0, 1)] if otadata else []
    chosen = _boot_slot(apps, entries)
    if chosen is None:
        return None
    offset, label = chosen
    head = read(offset, _DESC_AT + APP_DESC_SIZE)
    if len(head) < _DESC_AT + APP_DESC_SIZE or head[0] != IMAGE_MAGIC:
        return None
    desc = struct.unpack(APP_DESC_FMT, head[_DESC_AT:_DESC_AT + APP_DESC_SIZE])
    if desc[0] != APP_DESC_MAGIC:
        return None

    def text(raw: bytes) -> str:
        return raw.split(b"\0", 1)[0].decode("utf-8", "replace")

    version, project = text(desc[3]), text(desc[4])
    return RunningApp(label, project, version, flavor_of(project, version))


__all__ = ["RunningApp", "read_running_app", "flavor_of", "FLAVOR_OURS", "FLAVOR_06", "PROJECTS"]
