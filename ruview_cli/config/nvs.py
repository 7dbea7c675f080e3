"""ESP-IDF NVS partitions: a tolerant reader, and a writer that goes through Espressif's generator.

Reader — NVS format version 2 (what esp_idf_nvs_partition_gen and the IDF 4+/5 runtime write):
* 4096-byte pages. Header (32 B): state u32 (FFFFFFFE active, FFFFFFFC full, FFFFFFF8 freeing,
  FFFFFFFF empty, 0 corrupt), sequence u32, version u8 (FE = v2, FF = v1), reserved, CRC32 of
  bytes 4..27. A page with a bad header CRC or an unusable state is skipped.
* Entry-state bitmap (32 B): 2 bits per entry, 11 empty, 10 written, 00 erased. Then 126 entries
  of 32 B: namespace index u8, type u8, span u8, chunk index u8, CRC32 u32 (over bytes 0..3 and
  8..31), key 16 B, 8 data bytes. Primitive values sit in the data bytes; strings and blob
  chunks carry size u16, reserved u16, data CRC32 u32 and their bytes in the next span-1 entries.
* Namespace names are u8 entries in namespace 0 whose value is the namespace's index.
* v2 blobs: BLOB_IDX (0x48: total size u32, chunk count u8, chunk start u8) + BLOB_DATA chunks
  (0x42) with chunk index start..start+count-1, possibly on several pages. Legacy BLOB (0x41)
  is a single entry.
* A later write of a key wins (pages in sequence order, entries in index order), like the IDF.
CRC32 here is zlib.crc32(data, 0xFFFFFFFF), the same convention the generator uses.
Anything inconsistent (entry or data CRC, span past the page, missing chunk, size mismatch) drops
that one entry and reading goes on; the count is in `NvsReadStats`.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

from ruview_cli.errors import RuviewError, UsageError

PAGE_SIZE = 4096
ENTRY_SIZE = 32
ENTRIES_PER_PAGE = 126
FIRST_ENTRY = 64

STATE_ACTIVE = 0xFFFFFFFE
STATE_FULL = 0xFFFFFFFC
STATE_FREEING = 0xFFFFFFF8
READABLE_STATES = (STATE_ACTIVE, STATE_FULL, STATE_FREEING)
VERSION2, VERSION1 = 0xFE, 0xFF

T_U8, T_I8, T_U16, T_I16 = 0x01, 0x11, 0x02, 0x12
T_U32, T_I32, T_U64, T_I64 = 0x04, 0x14, 0x08, 0x18
T_STR, T_BLOB, T_BLOB_DATA, T_BLOB_IDX = 0x21, 0x41, 0x42, 0x48
CHUNK_ANY = 0xFF

_PRIMITIVES = {
    T_U8: ("u8", "<B"), T_I8: ("i8", "<b"), T_U16: ("u16", "<H"), T_I16: ("i16", "<h"),
    T_U32: ("u32", "<I"), T_I32: ("i32", "<i"), T_U64: ("u64", "<Q"), T_I64: ("i64", "<q"),
}
INT_RANGES = {
    "u8": (0, 0xFF), "i8": (-0x80, 0x7F), "u16": (0, 0xFFFF), "i16": (-0x8000, 0x7FFF),
    "u32": (0, 0xFFFFFFFF), "i32": (-0x80000000, 0x7FFFFFFF),
    "u64": (0, 2**64 - 1), "i64": (-(2**63), 2**63 - 1),
}
TYPES = tuple(INT_RANGES) + ("str", "blob")
MAX_KEY_LEN = 15
MAX_STR_LEN = 4000 - 1  # v2 generator limit (bytes, with the NUL)


@dataclass(frozen=True)
class NvsValue:
    type: str  # "u8","i8","u16","i16","u32","i32","u64","i64","str","blob"
    value: int | str | bytes


@dataclass
class NvsReadStats:
    pages_read: int = 0
    pages_skipped: int = 0
    entries_skipped: int = 0
    problems: list[str] = field(default_factory=list)


def _crc(data: bytes) -> int:
    return zlib.crc32(data, 0xFFFFFFFF) & 0xFFFFFFFF


def _entry_crc_ok(e: bytes) -> bool:
    return struct.unpack_from("<I", e, 4)[0] == _crc(e[0:4] + e[8:32])


def _key(e: bytes) -> str | None:
    raw = e[8:24].split(b"\x00", 1)[0]
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return None


def read_nvs(image: bytes, stats: NvsReadStats | None = None) -> dict[str, dict[str, NvsValue]]:
    """{namespace: {key: NvsValue}} from an NVS partition image (tolerant; see module doc)."""
    st = stats if stats is not None else NvsReadStats()
    pages = []
    for pno in range(len(image) // PAGE_SIZE):
        page = image[pno * PAGE_SIZE:(pno + 1) * PAGE_SIZE]
        state, seq = struct.unpack_from("<II", page, 0)
        if state == 0xFFFFFFFF:
            continue  # empty
        if state not in READABLE_STATES:
            st.pages_skipped += 1
            st.problems.append(f"page {pno}: state {state:#010x} (corrupt or unknown)")
            continue
        if struct.unpack_from("<I", page, 28)[0] != _crc(page[4:28]):
            st.pages_skipped += 1
            st.problems.append(f"page {pno}: header CRC mismatch")
            continue
        if page[8] not in (VERSION2, VERSION1):
            st.pages_skipped += 1
            st.problems.append(f"page {pno}: unknown NVS format version {page[8]:#04x}")
            continue
        pages.append((seq, pno, page))
    pages.sort()

    # (ns_index, key) -> NvsValue, in write order; blob chunks collected separately.
    items: dict[tuple[int, str], NvsValue] = {}
    blob_idx: dict[tuple[int, str], tuple[int, int, int]] = {}
    chunks: dict[tuple[int, str, int], bytes] = {}
    names: dict[int, str] = {}

    for _seq, pno, page in pages:
        st.pages_read += 1
        bitmap = page[32:64]
        i = 0
        while i < ENTRIES_PER_PAGE:
            state = (bitmap[i // 4] >> ((i % 4) * 2)) & 0x3
            if state != 0b10:
                i += 1
                continue
            off = FIRST_ENTRY + i * ENTRY_SIZE
            e = page[off:off + ENTRY_SIZE]
            if not _entry_crc_ok(e):
                st.entries_skipped += 1
                st.problems.append(f"page {pno} entry {i}: CRC mismatch")
                i += 1
                continue
            ns, etype, span, chunk = e[0], e[1], e[2], e[3]
            key = _key(e)
            if span == 0 or i + span > ENTRIES_PER_PAGE or key is None or not key:
                st.entries_skipped += 1
                st.problems.append(f"page {pno} entry {i}: bad span/key")
                i += 1
                continue
            if etype in _PRIMITIVES:
                name, fmt = _PRIMITIVES[etype]
                (val,) = struct.unpack_from(fmt, e, 24)
                if ns == 0:
                    if etype == T_U8 and val != 0:
                        names[val] = key
                else:
                    items.pop((ns, key), None)
                    items[(ns, key)] = NvsValue(name, val)
            elif etype in (T_STR, T_BLOB, T_BLOB_DATA):
                size, _rsv, dcrc = struct.unpack_from("<HHI", e, 24)
                data = page[off + ENTRY_SIZE:off + ENTRY_SIZE * span][:size]
                if size > (span - 1) * ENTRY_SIZE or len(data) != size or _crc(data) != dcrc:
                    st.entries_skipped += 1
                    st.problems.append(f"page {pno} entry {i}: {key!r} data CRC/size mismatch")
                elif etype == T_STR:
                    items.pop((ns, key), None)
                    text = data.split(b"\x00", 1)[0].decode("utf-8", "replace")
                    items[(ns, key)] = NvsValue("str", text)
                elif etype == T_BLOB:
                    items.pop((ns, key), None)
                    items[(ns, key)] = NvsValue("blob", bytes(data))
                else:
                    chunks[(ns, key, chunk)] = bytes(data)
            elif etype == T_BLOB_IDX:
                size, count, start = struct.unpack_from("<IBB", e, 24)
                blob_idx.pop((ns, key), None)
                blob_idx[(ns, key)] = (size, count, start)
                items.pop((ns, key), None)
                items[(ns, key)] = None  # placeholder keeps write order; filled below
            else:
                st.entries_skipped += 1
                st.problems.append(f"page {pno} entry {i}: unknown type {etype:#04x}")
            i += span

    out: dict[str, dict[str, NvsValue]] = {}
    for (ns, key), val in items.items():
        if val is None:
            size, count, start = blob_idx[(ns, key)]
            parts = [chunks.get((ns, key, start + n)) for n in range(count)]
            if any(p is None for p in parts) or sum(len(p) for p in parts) != size:
                st.entries_skipped += 1
                st.problems.append(f"blob {key!r}: missing or inconsistent chunks")
                continue
            val = NvsValue("blob", b"".join(parts))
        nsname = names.get(ns)
        if nsname is None:
            st.entries_skipped += 1
            st.problems.append(f"key {key!r}: namespace index {ns} has no name entry")
            continue
        out.setdefault(nsname, {})[key] = val
    return out


def _check(ns: str, key: str, v: NvsValue) -> None:
    for what, name in (("namespace", ns), ("key", key)):
        if not name or len(name.encode()) > MAX_KEY_LEN:
            raise UsageError(f"NVS {what} {name!r} must be 1..{MAX_KEY_LEN} characters",
                             "use a shorter name")
    if key.startswith(("sta.", "ap.")):
        raise UsageError(f"NVS key {key!r}: the generator special-cases sta.*/ap.* keys",
                         "use another key name")
    if v.type in INT_RANGES:
        lo, hi = INT_RANGES[v.type]
        if isinstance(v.value, bool) or not isinstance(v.value, int) or not lo <= v.value <= hi:
            raise UsageError(f"NVS {ns}.{key}: {v.value!r} is not a {v.type} ({lo}..{hi})",
                             "give an integer in range")
    elif v.type == "str":
        if not isinstance(v.value, str) or "\x00" in v.value:
            raise UsageError(f"NVS {ns}.{key}: a str value must be text without NUL", None)
        if len(v.value.encode()) > MAX_STR_LEN:
            raise UsageError(f"NVS {ns}.{key}: string longer than {MAX_STR_LEN} bytes", None)
    elif v.type == "blob":
        if not isinstance(v.value, (bytes, bytearray)):
            raise UsageError(f"NVS {ns}.{key}: a blob value must be bytes", None)
    else:
        raise UsageError(f"NVS {ns}.{key}: unknown type {v.type!r}", f"one of {', '.join(TYPES)}")


def build_nvs(values: dict[str, dict[str, NvsValue]], size: int = 0x6000) -> bytes:
    """The whole NVS partition image for `values`, made by Espressif's esp_idf_nvs_partition_gen.

    Uses the generator's Python API into memory (nothing touches the disk, so a WiFi password or
    OTA PSK never lands in a temp file). Raises UsageError on bad names/values or when the data
    does not fit `size`.
    """
    from esp_idf_nvs_partition_gen import nvs_partition_gen as gen

    if size % PAGE_SIZE or size < 3 * PAGE_SIZE:
        raise UsageError(f"NVS partition size {size:#x} must be a multiple of 0x1000, >= 0x3000")
    for ns, keys in values.items():
        for key, v in keys.items():
            _check(ns, key, v)

    buf = io.BytesIO()
    # The CLI reserves one page for the runtime's page rotation; so do we (size - 4096).
    nvs = gen.nvs_open(buf, size - PAGE_SIZE, gen.Page.VERSION2)
    try:
        for ns, keys in values.items():
            if not keys:
                continue
            nvs.write_namespace(ns)
            for key, v in keys.items():
                if v.type == "str":
                    nvs.write_entry(key, v.value, "string")
                elif v.type == "blob":
                    nvs.write_entry(key, bytes(v.value), "binary")
                else:
                    nvs.write_entry(key, str(v.value), v.type)
        gen.nvs_close(nvs)
    except (gen.InsufficientSizeError, gen.PageFullError) as exc:
        raise UsageError(
            f"the NVS values do not fit a {size:#x}-byte partition", "store fewer or smaller values"
        ) from exc
    except gen.InputError as exc:
        raise UsageError(f"NVS generator refused the values: {exc}") from exc
    data = buf.getvalue()
    if len(data) != size:
        raise RuviewError(f"NVS generator produced {len(data)} bytes, expected {size}")
    return data
