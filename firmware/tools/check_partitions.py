#!/usr/bin/env python3
"""Check the firmware's partition tables against the offsets the rest of the system relies on.

PROTOCOL.md section 3 fixes where things live in flash: `ruview provision` writes the NVS image
at 0x9000, flashing writes the app at 0x20000 and otadata at 0xF000, and the OTA slot sizes
bound what `ruview ota` may upload. A table that drifts from these bricks provisioning or OTA,
so this script fails loudly, naming the partition and the expected value.

    python firmware/tools/check_partitions.py [FIRMWARE_DIR]

Exit status 0 when both tables match, 1 otherwise (one line per problem on stderr).
Standard library only, so CI and the test suite can run it anywhere.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

MB = 1024 * 1024
PARTITION_TABLE_OFFSET = 0x8000
PARTITION_TABLE_SIZE = 0x1000
APP_ALIGN = 0x10000          # app partitions must start on a 64 KB boundary
DATA_ALIGN = 0x1000          # data partitions on a 4 KB flash sector


@dataclass(frozen=True)
class Partition:
    name: str
    type: str
    subtype: str
    offset: int
    size: int
    line: int


# (name, type, subtype, offset, size) per table — PROTOCOL.md section 3.
_COMMON = [
    ("nvs", "data", "nvs", 0x9000, 0x6000),
    ("otadata", "data", "ota", 0xF000, 0x2000),
    ("phy_init", "data", "phy", 0x11000, 0x1000),
]
EXPECTED = {
    "partitions_8mb.csv": (8 * MB, _COMMON + [
        ("ota_0", "app", "ota_0", 0x20000, 0x200000),
        ("ota_1", "app", "ota_1", 0x220000, 0x200000),
        ("spiffs", "data", "spiffs", 0x420000, 0x1E0000),
    ]),
    "partitions_4mb.csv": (4 * MB, _COMMON + [
        ("ota_0", "app", "ota_0", 0x20000, 0x1D0000),
        ("ota_1", "app", "ota_1", 0x1F0000, 0x1D0000),
    ]),
}


def _number(text: str) -> int:
    t = text.strip().upper()
    scale = 1
    if t.endswith("K"):
        scale, t = 1024, t[:-1]
    elif t.endswith("M"):
        scale, t = MB, t[:-1]
    return int(t, 0) * scale


def parse_partition_csv(path: Path) -> list[Partition]:
    """Parse an ESP-IDF partition CSV. Every partition must give an explicit offset: the
    protocol fixes them, so none may be left to the generator's auto-placement."""
    parts: list[Partition] = []
    for lineno, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 5:
            raise ValueError(f"{path.name}:{lineno}: expected name,type,subtype,offset,size")
        name, ptype, subtype, offset, size = cols[:5]
        if not offset:
            raise ValueError(f"{path.name}:{lineno}: partition {name!r} has no explicit offset")
        try:
            parts.append(Partition(name, ptype, subtype, _number(offset), _number(size), lineno))
        except ValueError:
            raise ValueError(f"{path.name}:{lineno}: offset/size of {name!r} is not a number") \
                from None
    return parts


def check_table(path: Path, flash_size: int, expected: list[tuple]) -> list[str]:
    """Problems found in one table (empty list = fine)."""
    try:
        parts = parse_partition_csv(path)
    except FileNotFoundError:
        return [f"{path}: missing"]
    except ValueError as e:
        return [str(e)]
    problems: list[str] = []
    by_name = {p.name: p for p in parts}
    for name, ptype, subtype, offset, size in expected:
        p = by_name.get(name)
        if p is None:
            problems.append(f"{path.name}: partition {name!r} missing "
                            f"(expected {ptype}/{subtype} at {offset:#x}, size {size:#x})")
            continue
        if (p.type, p.subtype) != (ptype, subtype):
            problems.append(f"{path.name}:{p.line}: {name} is {p.type}/{p.subtype}, "
                            f"expected {ptype}/{subtype}")
        if p.offset != offset:
            problems.append(f"{path.name}:{p.line}: {name} at {p.offset:#x}, expected {offset:#x}")
        if p.size != size:
            problems.append(f"{path.name}:{p.line}: {name} size {p.size:#x}, expected {size:#x}")
    end_of_table = PARTITION_TABLE_OFFSET + PARTITION_TABLE_SIZE
    ordered = sorted(parts, key=lambda p: p.offset)
    for p in ordered:
        align = APP_ALIGN if p.type == "app" else DATA_ALIGN
        if p.offset % align:
            problems.append(f"{path.name}:{p.line}: {p.name} at {p.offset:#x} is not "
                            f"{align:#x}-aligned")
        if p.offset < end_of_table:
            problems.append(f"{path.name}:{p.line}: {p.name} at {p.offset:#x} overlaps the "
                            f"partition table ({PARTITION_TABLE_OFFSET:#x}..{end_of_table:#x})")
        if p.offset + p.size > flash_size:
            problems.append(f"{path.name}:{p.line}: {p.name} ends at {p.offset + p.size:#x}, "
                            f"beyond the {flash_size // MB} MB flash")
    for a, b in zip(ordered, ordered[1:]):
        if a.offset + a.size > b.offset:
            problems.append(f"{path.name}: {a.name} ({a.offset:#x}+{a.size:#x}) overlaps {b.name} "
                            f"at {b.offset:#x}")
    names = [p.name for p in parts]
    for n in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{path.name}: partition name {n!r} used twice")
    return problems


def check_firmware_dir(firmware_dir: Path) -> list[str]:
    problems: list[str] = []
    for filename, (flash_size, expected) in EXPECTED.items():
        problems += check_table(firmware_dir / filename, flash_size, expected)
    return problems


def main(argv: list[str]) -> int:
    firmware_dir = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parent.parent
    problems = check_firmware_dir(firmware_dir)
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print(f"partition tables in {firmware_dir}: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print(f"partition tables in {firmware_dir}: OK ({', '.join(EXPECTED)})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
