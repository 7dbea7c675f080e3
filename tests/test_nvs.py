"""NVS: Espressif's generator writes (build_nvs), our reader parses; damage is skipped, not fatal.
What the firmware then takes from it is the firmware's to say: test_firmware_config_load.py."""

from __future__ import annotations

import struct
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruview_cli.config.nvs import (
    FIRST_ENTRY,
    PAGE_SIZE,
    NvsReadStats,
    NvsValue,
    build_nvs,
    read_nvs,
)
from ruview_cli.errors import UsageError

ALL_TYPES = {
    "app": {
        "u8": NvsValue("u8", 255),
        "i8": NvsValue("i8", -128),
        "u16": NvsValue("u16", 65535),
        "i16": NvsValue("i16", -32768),
        "u32": NvsValue("u32", 0xFFFFFFFF),
        "i32": NvsValue("i32", -(2**31)),
        "u64": NvsValue("u64", 2**64 - 1),
        "i64": NvsValue("i64", -(2**63)),
        "text": NvsValue("str", "Grüße, node"),
        "empty": NvsValue("str", ""),
        "small": NvsValue("blob", b"\x00\x01\xc0\xdb"),
    },
    "other": {"u8": NvsValue("u8", 7)},  # same key, another namespace
}


def _entries(img: bytes):
    """(page, index, offset) of every 32-byte slot, for tests that damage an image."""
    for p in range(len(img) // PAGE_SIZE):
        for i in range(126):
            yield p, i, p * PAGE_SIZE + FIRST_ENTRY + 32 * i


def _find(img: bytes, key: str, etype: int | None = None) -> int:
    want = key.encode().ljust(16, b"\x00")
    for _p, _i, off in _entries(img):
        if img[off + 8:off + 24] == want and (etype is None or img[off + 1] == etype):
            return off
    raise AssertionError(f"{key} not in image")


def test_every_type_round_trips():
    img = build_nvs(ALL_TYPES)
    assert len(img) == 0x6000
    assert read_nvs(img) == ALL_TYPES


def test_multi_page_blob_and_many_keys():
    big = bytes(range(256)) * 24  # 6144 B: chunks on more than one page
    values = {"csi_cfg": {f"k{i}": NvsValue("u16", i) for i in range(150)}}
    values["csi_cfg"]["big"] = NvsValue("blob", big)
    stats = NvsReadStats()
    back = read_nvs(build_nvs(values, size=0x8000), stats)
    assert back == values
    assert stats.pages_read >= 3 and stats.entries_skipped == 0


def test_erased_image_is_empty():
    assert read_nvs(b"\xff" * 0x6000) == {}


def test_entry_with_bad_crc_is_skipped_others_kept():
    values = {"csi_cfg": {"edge_tier": NvsValue("u8", 1), "vital_int": NvsValue("u16", 500)}}
    img = bytearray(build_nvs(values))
    off = _find(img, "edge_tier")
    img[off + 24] = 2  # value changed without fixing the entry CRC
    stats = NvsReadStats()
    back = read_nvs(bytes(img), stats)
    assert back == {"csi_cfg": {"vital_int": NvsValue("u16", 500)}}
    assert stats.entries_skipped == 1


def test_string_with_bad_data_crc_is_skipped():
    values = {"csi_cfg": {"ssid": NvsValue("str", "lab"), "node_id": NvsValue("u8", 3)}}
    img = bytearray(build_nvs(values))
    off = _find(img, "ssid")
    img[off + 32] ^= 0x20  # first character of the string data
    back = read_nvs(bytes(img))
    assert back == {"csi_cfg": {"node_id": NvsValue("u8", 3)}}


def test_erased_entry_is_ignored():
    values = {"csi_cfg": {"a": NvsValue("u8", 1), "b": NvsValue("u8", 2)}}
    img = bytearray(build_nvs(values))
    off = _find(img, "a")
    idx = (off % PAGE_SIZE - FIRST_ENTRY) // 32
    page = off - off % PAGE_SIZE
    img[page + 32 + idx // 4] &= ~(0b11 << ((idx % 4) * 2)) & 0xFF  # bitmap 00 = erased
    assert read_nvs(bytes(img)) == {"csi_cfg": {"b": NvsValue("u8", 2)}}


def test_page_with_bad_header_crc_is_skipped():
    img = bytearray(build_nvs({"csi_cfg": {"a": NvsValue("u8", 1)}}))
    img[4] ^= 1  # sequence number, header CRC now wrong
    stats = NvsReadStats()
    assert read_nvs(bytes(img), stats) == {}
    assert stats.pages_skipped == 1 and "CRC" in stats.problems[0]


def test_blob_with_missing_chunk_is_skipped():
    values = {"csi_cfg": {"big": NvsValue("blob", bytes(5000)), "x": NvsValue("u8", 9)}}
    img = bytearray(build_nvs(values))
    off = _find(img, "big", 0x42)  # first BLOB_DATA chunk: break its entry CRC
    img[off + 4] ^= 0xFF
    assert read_nvs(bytes(img)) == {"csi_cfg": {"x": NvsValue("u8", 9)}}


def test_later_write_of_a_key_wins():
    # The runtime appends a new entry and erases the old one; if power fails between the two,
    # both are "written": the later one (higher page sequence / entry index) is the value.
    img = bytearray(build_nvs({"csi_cfg": {"tier": NvsValue("u8", 1), "pad": NvsValue("u8", 0)}}))
    old = _find(img, "tier")
    new = _find(img, "pad") + 32  # first free slot on the page
    entry = bytearray(img[old:old + 32])
    entry[24] = 2
    struct.pack_into("<I", entry, 4, zlib.crc32(bytes(entry[0:4] + entry[8:32]), 0xFFFFFFFF))
    img[new:new + 32] = entry
    idx = (new % PAGE_SIZE - FIRST_ENTRY) // 32
    img[32 + idx // 4] &= ~(0b01 << ((idx % 4) * 2)) & 0xFF  # 11 -> 10: written
    assert read_nvs(bytes(img))["csi_cfg"]["tier"] == NvsValue("u8", 2)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=3 * PAGE_SIZE), st.integers(0, 3 * PAGE_SIZE - 1))
def test_damaged_images_never_raise(noise, where):
    img = bytearray(build_nvs(ALL_TYPES))
    img[where:where + len(noise)] = noise[: len(img) - where]
    out = read_nvs(bytes(img))
    assert isinstance(out, dict)


@pytest.mark.parametrize(
    "values,match",
    [
        ({"csi_cfg": {"a_key_that_is_too_long": NvsValue("u8", 1)}}, "1..15"),
        ({"csi_cfg": {"edge_tier": NvsValue("u8", 300)}}, "not a u8"),
        ({"csi_cfg": {"edge_tier": NvsValue("u8", True)}}, "not a u8"),
        ({"csi_cfg": {"sta.ssid": NvsValue("str", "x")}}, "sta"),
        ({"csi_cfg": {"k": NvsValue("float", 1.0)}}, "unknown type"),
        ({"csi_cfg": {"b": NvsValue("blob", "text")}}, "bytes"),
    ],
)
def test_bad_values_refused_with_reason(values, match):
    with pytest.raises(UsageError, match=match):
        build_nvs(values)


def test_too_much_data_for_the_partition():
    values = {"csi_cfg": {f"k{i}": NvsValue("str", "x" * 200) for i in range(200)}}
    with pytest.raises(UsageError, match="do not fit"):
        build_nvs(values)
