"""Partition tables: byte-identical to gen_esp32part.py output; a parser that says what is wrong."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from ruview_cli.errors import RuviewError
from ruview_cli.partitions import (
    APP,
    LAYOUT_4MB,
    LAYOUT_8MB,
    TABLE_LENGTH,
    Partition,
    app_slots,
    build_table,
    by_name,
    parse_table,
)

CSV_8MB = """\
# Name,     Type, SubType, Offset,   Size,   Flags
nvs,        data, nvs,     0x9000,   0x6000,
otadata,    data, ota,     0xf000,   0x2000,
phy_init,   data, phy,     0x11000,  0x1000,
ota_0,      app,  ota_0,   0x20000,  0x200000,
ota_1,      app,  ota_1,   0x220000, 0x200000,
spiffs,     data, spiffs,  0x420000, 0x1E0000,
"""
CSV_4MB = """\
nvs,        data, nvs,     0x9000,   0x6000,
otadata,    data, ota,     0xf000,   0x2000,
phy_init,   data, phy,     0x11000,  0x1000,
ota_0,      app,  ota_0,   0x20000,  0x1D0000,
ota_1,      app,  ota_1,   0x1F0000, 0x1D0000,
"""
# SHA-256 of gen_esp32part.py 1.5's binary output for the CSVs above (run once with the
# generator as packaged in esp-idf-defs 0.1.7: PartitionTable.from_csv(csv).to_binary()).
GEN_SHA256_8MB = "67222c257c0477501fd4002275638dc4262b34eb68235b8289fb1337054d322b"
GEN_SHA256_4MB = "4c2cc4ffd52641e23b779bd57b3908014083ac3c1aab395756478c89e70d81f0"
# ... and its MD5 entry for the 8 MB table (offset 0xC0).
GEN_MD5_ENTRY_8MB = "ebebffffffffffffffffffffffffffffc5dc26bdbe2b374395ec0787d0b69a08"


@pytest.mark.parametrize("layout,sha", [(LAYOUT_8MB, GEN_SHA256_8MB), (LAYOUT_4MB, GEN_SHA256_4MB)])
def test_table_is_what_gen_esp32part_makes(layout, sha):
    table = build_table(layout)
    assert len(table) == TABLE_LENGTH
    assert hashlib.sha256(table).hexdigest() == sha


def test_8mb_table_layout_bytes():
    table = build_table(LAYOUT_8MB)
    assert table[:2] == b"\xaa\x50"  # magic 0x50AA little-endian
    assert table[2:4] == b"\x01\x02"  # data / nvs
    assert table[0x60:0x64] == b"\xaa\x50\x00\x10"  # 4th entry: app / ota_0
    assert table[0xC0:0xE0].hex() == GEN_MD5_ENTRY_8MB
    assert table[0xE0:] == b"\xff" * (TABLE_LENGTH - 0xE0)


def _parse_csv(text: str) -> list[Partition]:
    types = {"app": 0, "data": 1}
    subtypes = {"nvs": 2, "ota": 0, "phy": 1, "spiffs": 0x82, "ota_0": 0x10, "ota_1": 0x11,
                "factory": 0}
    out = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, ptype, sub, off, size = [f.strip() for f in line.split(",")][:5]
        out.append(Partition(name, types[ptype], subtypes[sub], int(off, 0), int(size, 0)))
    return out


@pytest.mark.parametrize("name,layout", [("partitions_8mb.csv", LAYOUT_8MB),
                                         ("partitions_4mb.csv", LAYOUT_4MB)])
def test_firmware_csv_matches_layout(name, layout):
    csv = Path(__file__).resolve().parents[1] / "firmware" / name
    if not csv.exists():
        pytest.skip(f"firmware/{name} not in the tree yet")
    assert tuple(_parse_csv(csv.read_text())) == layout


def test_parse_round_trip_and_lookup():
    parts = parse_table(build_table(LAYOUT_8MB) + b"\xff" * 0x400)
    assert tuple(parts) == LAYOUT_8MB
    assert by_name(parts, "nvs").offset == 0x9000
    assert [p.name for p in app_slots(parts)] == ["ota_0", "ota_1"]
    assert all(p.type == APP for p in app_slots(parts))


def test_erased_sector_is_no_table():
    with pytest.raises(RuviewError, match="no partition table"):
        parse_table(b"\xff" * 0x1000)


def test_md5_mismatch_is_reported():
    table = bytearray(build_table(LAYOUT_8MB))
    table[0x08] ^= 0x01  # nvs size changes, MD5 no longer matches
    with pytest.raises(RuviewError, match="MD5"):
        parse_table(bytes(table))


def test_garbage_entry_is_reported():
    with pytest.raises(RuviewError, match="magic"):
        parse_table(b"\x12\x34" + b"\x00" * 0xBFE)


def test_missing_partition_named():
    with pytest.raises(RuviewError, match="spiffs"):
        by_name(LAYOUT_4MB, "spiffs")
