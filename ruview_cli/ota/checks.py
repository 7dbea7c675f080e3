"""Checks of an image against one node, made before a byte of the image is sent.

Version order is "semver-ish": an optional leading "v", dot-separated numbers, then an optional
pre-release after "-" (which sorts before the release, as in semver) and build metadata after
"+" (ignored). A `git describe` version ("v0.7.0-3-gabc1234", what ESP-IDF embeds when
PROJECT_VER is unset) sorts after its tag, by commit count; a "-dirty" tree has no order.
Decision for versions that do not parse (e.g. a git describe string on either
side): their order is unknown, so an update between two different unparsable versions is
treated like a downgrade and needs --allow-downgrade; equal strings are "the same version".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DESCRIBE = re.compile(r"^(.+)-(\d+)-g[0-9a-f]{4,40}$")
_VERSION = re.compile(r"^v?(\d+(?:\.\d+)*)(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$")


def parse_version(text: str) -> tuple | None:
    """A sortable key for a semver-ish version string, None if it does not parse."""
    text = text.strip()
    if text.endswith("-dirty"):
        return None
    d = _DESCRIBE.match(text)
    if d:
        base = parse_version(d.group(1))
        if base is None:
            return None
        return (base[0], (2, int(d.group(2))) if base[1] == (1,) else base[1] + (int(d.group(2)),))
    m = _VERSION.match(text)
    if not m:
        return None
    nums = [int(x) for x in m.group(1).split(".")]
    while len(nums) < 3:
        nums.append(0)
    while len(nums) > 3 and nums[-1] == 0:
        nums.pop()
    pre = m.group(2)
    if pre is None:
        pre_key: tuple = (1,)   # a release sorts after any of its pre-releases
    else:
        parts = []
        for piece in pre.split("."):
            parts.append((0, int(piece), "") if piece.isdigit() else (1, 0, piece))
        pre_key = (0, tuple(parts))
    return (tuple(nums), pre_key)


def compare_versions(a: str, b: str) -> int | None:
    """-1, 0, 1 like cmp(a, b); None when the order is unknown (either side unparsable)."""
    if a.strip() == b.strip():
        return 0
    ka, kb = parse_version(a), parse_version(b)
    if ka is None or kb is None:
        return None
    return (ka > kb) - (ka < kb)


def _rev(full: int) -> str:
    return f"v{full // 100}.{full % 100}"


@dataclass(frozen=True)
class Verdict:
    action: str            # "update" | "skip" | "refuse"
    reason: str = ""
    fix: str | None = None
    downgrade: bool = False


def check_image_for_node(info, status: dict, allow_downgrade: bool = False,
                         reinstall: bool = False) -> Verdict:
    """Decide what to do with image `info` (ImageInfo) on a node whose /ota/status is `status`."""
    chip = str(status.get("chip") or "").lower().replace("-", "")
    if chip and chip != info.chip.lower().replace("-", ""):
        return Verdict("refuse", f"the image is for {info.chip} but the node is {status['chip']}",
                       "build the firmware for the node's chip")
    rev = status.get("chip_revision")  # major*100+minor, as efuse_hal_chip_revision()
    if isinstance(rev, int) and not isinstance(rev, bool):
        if rev < info.min_rev or (info.max_rev not in (0, 0xFFFF) and rev > info.max_rev):
            hi = "any" if info.max_rev in (0, 0xFFFF) else _rev(info.max_rev)
            return Verdict("refuse", f"the image supports chip revisions {_rev(info.min_rev)} "
                           f"to {hi} (image header min_rev_full/max_rev_full), but the node's "
                           f"chip is {_rev(rev)}: the bootloader would refuse to boot it",
                           "rebuild with `idf.py menuconfig` → Minimum Supported ESP32-S3 "
                           f"Revision at or below {_rev(rev)} (CONFIG_ESP32S3_REV_MIN_*), "
                           f"using an ESP-IDF version that supports {_rev(rev)}")
    max_size = status.get("max_size")
    if isinstance(max_size, int) and max_size > 0 and info.size > max_size:
        return Verdict("refuse", f"image of {info.size} bytes is larger than the node's OTA "
                       f"limit of {max_size} bytes",
                       "build a smaller image (disable features / use -Os), or re-flash a "
                       "partition table with larger OTA slots over serial (`ruview flash`)")
    running = str(status.get("version") or "")
    digest = str(status.get("app_sha256") or "").lower()
    if digest and digest == info.sha256.lower() and not reinstall:
        return Verdict("skip", f"already runs this exact image ({running}, same SHA-256)",
                       "pass --reinstall to send it anyway")
    cmp = compare_versions(info.version, running) if running else 1
    if cmp == 0:
        if reinstall:
            return Verdict("update", f"reinstalling {info.version}")
        return Verdict("skip", f"already runs {running}", "pass --reinstall to send it anyway")
    if cmp is None or cmp < 0:
        what = ("a downgrade" if cmp is not None else
                "of unknown order (a version string is not semver-like)")
        if not allow_downgrade:
            return Verdict("refuse", f"{running} → {info.version} is {what}",
                           "pass --allow-downgrade if you mean it", downgrade=True)
        return Verdict("update", f"{running} → {info.version} ({what}, allowed)", downgrade=True)
    return Verdict("update", f"{running} → {info.version}")


__all__ = ["parse_version", "compare_versions", "Verdict", "check_image_for_node"]
