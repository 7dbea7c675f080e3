"""Inspect an ESP application image before it is sent or booted.

`inspect_image` parses the image with esptool's image module (header, extended header,
segments, checksum byte, appended SHA-256) and the `esp_app_desc_t` at the start of the first
segment, and refuses anything an ESP32-S3 bootloader would refuse, naming the exact reason.
"""

from __future__ import annotations

import hashlib
import io
import struct
from dataclasses import dataclass, field

from ruview_cli.errors import RuviewError

IMAGE_MAGIC = 0xE9
ESP32S3_CHIP_ID = 9
APP_DESC_MAGIC = 0xABCD5432
# esp_app_desc_t (ESP-IDF v5): magic, secure_version, reserv1[2], version[32], project_name[32],
# time[16], date[16], idf_ver[32], app_elf_sha256[32], min/max_efuse_blk_rev_full,
# mmu_page_size, reserv3[3], reserv2[18] — 256 bytes.
APP_DESC_FMT = "<II8s32s32s16s16s32s32sHHB3s72s"
APP_DESC_SIZE = struct.calcsize(APP_DESC_FMT)
HEADER_SIZE = 24  # common header (8) + extended header (16)
MAX_SEGMENTS = 16


class ImageError(RuviewError):
    """The image is not one this node can boot; `message` names the exact reason."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message, fix or "build the firmware for ESP32-S3 with ESP-IDF "
                         "(idf.py build) and use build/<project>.bin")


@dataclass(frozen=True)
class ImageInfo:
    magic: int
    chip_id: int
    chip: str
    min_rev: int          # min_rev_full: major*100 + minor
    max_rev: int          # max_rev_full; 0 or 0xFFFF = no upper bound
    segments: tuple[tuple[int, int], ...] = field(default=())  # (load address, length)
    checksum_ok: bool = True
    sha256_ok: bool | None = None  # None: no digest appended
    project_name: str = ""
    version: str = ""
    idf_ver: str = ""
    date: str = ""
    time: str = ""
    app_elf_sha256: str = ""
    secure_version: int = 0
    size: int = 0          # bytes of the image proper (header .. checksum [+ digest])
    sha256: str = ""       # SHA-256 of those bytes (what X-Image-SHA256 carries)

    def to_json(self) -> dict:
        return {
            "chip": self.chip, "chip_id": self.chip_id, "min_rev": self.min_rev,
            "max_rev": self.max_rev, "segments": len(self.segments),
            "checksum_ok": self.checksum_ok, "sha256_ok": self.sha256_ok,
            "project_name": self.project_name, "version": self.version,
            "idf_ver": self.idf_ver, "date": self.date, "time": self.time,
            "app_elf_sha256": self.app_elf_sha256, "secure_version": self.secure_version,
            "size": self.size, "sha256": self.sha256,
        }


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("utf-8", "replace")


def chip_name(chip_id: int) -> str:
    """Chip name for an image-header chip id, from esptool's own target table."""
    from esptool.targets import CHIP_DEFS

    for rom in CHIP_DEFS.values():
        if getattr(rom, "IMAGE_CHIP_ID", None) == chip_id and rom.CHIP_NAME != "ESP8266":
            return rom.CHIP_NAME
    return f"unknown chip id {chip_id}"


def image_length(data: bytes) -> int | None:
    """Length of the image proper by walking the segment headers; None if it does not parse.

    Cheap (reads only headers), used to know how much of a flash slot to verify.
    """
    if len(data) < HEADER_SIZE or data[0] != IMAGE_MAGIC:
        return None
    count = data[1]
    pos = HEADER_SIZE
    for _ in range(count):
        if pos + 8 > len(data):
            return None
        _addr, length = struct.unpack_from("<II", data, pos)
        pos += 8 + length
        if pos > len(data):
            return None
    pos += 16 - (pos % 16)  # checksum byte is the last byte of the 16-aligned block
    if data[23] == 1:
        pos += 32
    return pos if pos <= len(data) else None


def inspect_image(data: bytes, chip_rev: int | None = None) -> ImageInfo:
    """Parse and verify an ESP32-S3 application image; raise ImageError naming the reason.

    `chip_rev` (major*100+minor) additionally checks the image's revision range against a chip.
    """
    if not data:
        raise ImageError("the image is empty (0 bytes)")
    if data[0] != IMAGE_MAGIC:
        raise ImageError(
            f"not an ESP application image: first byte is 0x{data[0]:02X}, expected 0xE9")
    if len(data) < HEADER_SIZE:
        raise ImageError(f"image truncated: {len(data)} bytes is shorter than the 24-byte header")
    count = data[1]
    if count == 0 or count > MAX_SEGMENTS:
        raise ImageError(f"invalid segment count {count} (an app image has 1..16 segments)")
    chip_id = struct.unpack_from("<H", data, 12)[0]
    if chip_id != ESP32S3_CHIP_ID:
        raise ImageError(
            f"image is built for {chip_name(chip_id)} (chip id {chip_id}), not ESP32-S3 (chip id 9)",
            "build with `idf.py set-target esp32s3` and flash that image")
    if data[23] not in (0, 1):
        raise ImageError(f"invalid hash_appended byte 0x{data[23]:02X} in the extended header")

    from esptool.bin_image import ESP32S3FirmwareImage
    from esptool.loader import ESPLoader
    from esptool.util import FatalError

    try:
        image = ESP32S3FirmwareImage(io.BytesIO(data))
    except (FatalError, struct.error, RuntimeError, TypeError) as exc:
        text = str(exc)
        if "End of file" in text or isinstance(exc, (struct.error, TypeError)):
            raise ImageError(f"image truncated: {text or 'a segment header is cut off'} "
                             f"({len(data)} bytes received)") from None
        raise ImageError(f"image does not parse: {text}") from None

    length = image_length(data)
    if length is None:
        raise ImageError(f"image truncated: segments run past the end ({len(data)} bytes)")

    min_rev, max_rev = image.min_rev_full, image.max_rev_full
    if chip_rev is not None:
        if chip_rev < min_rev:
            raise ImageError(
                f"image needs chip revision >= v{min_rev // 100}.{min_rev % 100}, "
                f"this chip is v{chip_rev // 100}.{chip_rev % 100}")
        if max_rev not in (0, 0xFFFF) and chip_rev > max_rev:
            raise ImageError(
                f"image supports chip revision <= v{max_rev // 100}.{max_rev % 100}, "
                f"this chip is v{chip_rev // 100}.{chip_rev % 100}")

    checksum = ESPLoader.ESP_CHECKSUM_MAGIC
    for seg in image.segments:
        checksum = ESPLoader.checksum(seg.data, checksum)
    if checksum != image.checksum:
        raise ImageError(
            f"image checksum byte is 0x{image.checksum:02X} but the segments sum to "
            f"0x{checksum:02X}: the file is corrupt")
    sha_ok: bool | None = None
    if image.append_digest:
        if len(image.stored_digest) < 32:
            raise ImageError("image truncated: the appended SHA-256 digest is cut off")
        sha_ok = image.stored_digest == image.calc_digest
        if not sha_ok:
            raise ImageError("appended SHA-256 digest does not match the image: the file is corrupt")

    first = image.segments[0].data
    if len(first) < APP_DESC_SIZE or struct.unpack_from("<I", first)[0] != APP_DESC_MAGIC:
        raise ImageError(
            "no esp_app_desc_t (magic 0xABCD5432) at the start of the first segment: "
            "this is not an ESP-IDF application image (a bootloader or partition table?)")
    (_m, secure_version, _r1, version, project, tm, date, idf_ver, elf_sha,
     _minb, _maxb, _mmu, _r3, _r2) = struct.unpack_from(APP_DESC_FMT, first)
    proper = data[:length]
    return ImageInfo(
        magic=data[0], chip_id=chip_id, chip=chip_name(chip_id), min_rev=min_rev,
        max_rev=max_rev, segments=tuple((s.addr, len(s.data)) for s in image.segments),
        checksum_ok=True, sha256_ok=sha_ok, project_name=_cstr(project), version=_cstr(version),
        idf_ver=_cstr(idf_ver), date=_cstr(date), time=_cstr(tm), app_elf_sha256=elf_sha.hex(),
        secure_version=secure_version, size=length, sha256=hashlib.sha256(proper).hexdigest(),
    )


__all__ = ["ImageError", "ImageInfo", "inspect_image", "image_length", "chip_name",
           "APP_DESC_MAGIC", "APP_DESC_FMT", "APP_DESC_SIZE", "ESP32S3_CHIP_ID"]
