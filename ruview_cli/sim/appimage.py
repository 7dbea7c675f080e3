"""Build real ESP32-S3 application images (no ELF, no toolchain) with esptool's image module.

The layout follows an ESP-IDF app: a DROM segment at 0x3C000020 starting with esp_app_desc_t,
DRAM and IRAM segments, an IROM (code) segment at 0x42000020 aligned to a 64 KB flash page.
The contents are deterministic pseudo-random bytes seeded by the version, so two builds of the
same version are byte-identical and different versions differ.
"""

from __future__ import annotations

import hashlib
import random
import struct

from ruview_cli.ota.image import APP_DESC_FMT, APP_DESC_MAGIC

DROM_ADDR = 0x3C000020
DRAM_ADDR = 0x3FC88000
IRAM_ADDR = 0x40374000
IROM_ADDR = 0x42000020
ENTRY = 0x403754A8
_BASE_CODE = 0x2000  # minimum IROM bytes


def _fill(seed: str, n: int) -> bytes:
    n -= n % 4
    return random.Random(seed).randbytes(n)


def app_desc(version: str, project_name: str = "ruview", idf_ver: str = "v5.2",
             date: str = "Nov 26 2026", time: str = "12:00:00", secure_version: int = 0) -> bytes:
    """The 256-byte esp_app_desc_t an ESP-IDF build puts first in the DROM segment."""
    for name, value, cap in (("version", version, 32), ("project_name", project_name, 32),
                             ("idf_ver", idf_ver, 32), ("date", date, 16), ("time", time, 16)):
        if len(value.encode()) >= cap:
            raise ValueError(f"{name} {value!r} does not fit esp_app_desc_t ({cap - 1} bytes max)")
    elf_sha = hashlib.sha256(f"{project_name}/{version}/elf".encode()).digest()
    return struct.pack(APP_DESC_FMT, APP_DESC_MAGIC, secure_version, b"", version.encode(),
                       project_name.encode(), time.encode(), date.encode(), idf_ver.encode(),
                       elf_sha, 0, 0, 16, b"", b"")


def build_app_image(version: str, project_name: str = "ruview", chip_id: int = 9,
                    min_rev: int = 0, max_rev: int = 99, size: int = 0, idf_ver: str = "v5.2",
                    append_sha: bool = True, date: str = "Nov 26 2026",
                    time: str = "12:00:00") -> bytes:
    """A bootable-looking ESP32-S3 app image of about `size` bytes (at least ~70 KB).

    `chip_id` other than 9 yields an image for another chip (the header byte is patched and
    the appended digest recomputed, as esptool would have written it for that chip).
    """
    from esptool.bin_image import ELFSection, ESP32S3FirmwareImage

    def make(code_len: int) -> bytes:
        img = ESP32S3FirmwareImage()
        img.flash_mode = 2          # DIO
        img.flash_size_freq = 0x3F  # 8 MB, 80 MHz
        img.entrypoint = ENTRY
        img.min_rev = min_rev // 100
        img.min_rev_full = min_rev
        img.max_rev_full = max_rev
        img.append_digest = append_sha
        desc = app_desc(version, project_name, idf_ver, date, time)
        img.segments = [
            # ELFSection (a named ImageSegment): esptool's save() names padding after them.
            ELFSection(b".flash.appdesc", DROM_ADDR, desc + _fill(version + "/rodata", 0x1000), 0),
            ELFSection(b".dram0.data", DRAM_ADDR, _fill(version + "/dram", 0x800), 0),
            ELFSection(b".iram0.text", IRAM_ADDR, _fill(version + "/iram", 0x4000), 0),
            ELFSection(b".flash.text", IROM_ADDR, _fill(version + "/text", code_len), 0),
        ]
        return img.save(None)

    data = make(_BASE_CODE)
    if size > len(data):
        data = make(_BASE_CODE + size - len(data) + 4)
    if chip_id != 9:
        raw = bytearray(data)
        struct.pack_into("<H", raw, 12, chip_id)
        if append_sha:
            raw[-32:] = hashlib.sha256(bytes(raw[:-32])).digest()
        data = bytes(raw)
    return data


# esp_bootloader_desc_t (ESP-IDF >= 5.2, esp_bootloader_desc.h): magic byte 80, 3 reserved,
# u32 version (CONFIG_BOOTLOADER_PROJECT_VER), idf_ver[32], date_time[24], reserved2[16]; it
# opens the bootloader image's first (DRAM) segment, where esp_ota_get_bootloader_description()
# reads it.
BOOTLOADER_DESC_FMT = "<B3sI32s24s16s"
BOOTLOADER_DESC_MAGIC = 80
BOOTLOADER_LOAD_ADDR = 0x3FCE3818
BOOTLOADER_ENTRY = 0x403C9908
# Ours: CONFIG_BOOTLOADER_PROJECT_VER in firmware/sdkconfig.defaults (RV_BOOTLOADER_ROLLBACK_MARK,
# "RV" 0x0001, with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE); ESP-IDF's default is 1.
BOOTLOADER_VERSION_OURS = 0x52560001
BOOTLOADER_VERSION_DEFAULT = 1


def build_bootloader_image(version: int = BOOTLOADER_VERSION_OURS, idf_ver: str = "v5.2") -> bytes:
    """A 2nd-stage bootloader image as `idf.py build` leaves at 0x0: its description first.

    The sim never executes it (sim/bootloader.py is the bootloader); the firmware reads its
    description to tell whether this bootloader can roll back, and esptool shows it.
    """
    import struct

    from esptool.bin_image import ELFSection, ESP32S3FirmwareImage

    desc = struct.pack(BOOTLOADER_DESC_FMT, BOOTLOADER_DESC_MAGIC, b"", version,
                       idf_ver.encode(), b"Nov 26 2026 12:00:00", b"")
    img = ESP32S3FirmwareImage()
    img.flash_mode = 2
    img.flash_size_freq = 0x3F
    img.entrypoint = BOOTLOADER_ENTRY
    img.max_rev_full = 99
    img.append_digest = True
    img.segments = [
        ELFSection(b".dram0.bootdesc", BOOTLOADER_LOAD_ADDR, desc + _fill("boot/dram", 0x400), 0),
        ELFSection(b".iram_loader.text", 0x403C9700, _fill("boot/iram", 0x2000), 0),
    ]
    return img.save(None)


__all__ = ["build_app_image", "app_desc", "build_bootloader_image", "BOOTLOADER_VERSION_OURS",
           "BOOTLOADER_VERSION_DEFAULT"]
