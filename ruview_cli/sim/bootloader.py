"""What an ESP32-S3 runs before the app: the ROM's first lines and the 2nd-stage bootloader.

Both are chip-side and stay emulated in Python (the firmware under test starts at app_main):

* `rom_banner(reset_reason)`: the lines the mask ROM prints on UART0 after every reset
  ("ESP-ROM:esp32s3-20210327", the reset cause, the boot mode), so a serial terminal sees a
  board come up. Reset causes are the ROM's RESET_REASON_* names for the ESP32-S3
  (soc/esp32s3/include/soc/reset_reasons.h): a power-on or EN-pin reset prints POWERON (0x1),
  esp_restart()/panic/task-watchdog all end in a software CPU reset (RTC_SW_CPU_RST, 0xc) and
  the app learns the finer reason from what the previous app stored (esp_reset_reason()).
* `select_app(flash, rollback, chip_rev)`: ESP-IDF's bootloader_utility: read the partition
  table at 0x8000, pick the OTA slot from otadata (with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE a
  PENDING_VERIFY entry becomes ABORTED before choosing, a NEW one becomes PENDING_VERIFY when it
  boots), verify the image, fall back to the other slots (the chosen index downwards, then
  upwards) when it does not verify.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any, Callable

from ruview_cli.sim.flash import FlashImage
from ruview_cli.sim.otadata import NEW, PENDING_VERIFY, UNDEFINED, OtaData

# esp_reset_reason names (as passed to the firmware) -> the ROM's "rst:" cause.
_ROM_CAUSE = {
    "poweron": (0x1, "POWERON"),
    "brownout": (0xF, "RTC_BROWN_OUT_RST"),
}
_SW_CPU_RESET = (0xC, "RTC_SW_CPU_RST")


def rom_banner(reset_reason: str) -> bytes:
    code, name = _ROM_CAUSE.get(reset_reason, _SW_CPU_RESET)
    lines = [
        "ESP-ROM:esp32s3-20210327",
        "Build:Mar 27 2021",
        f"rst:{code:#x} ({name}),boot:0x8 (SPI_FAST_FLASH_BOOT)",
        "SPIWP:0xee",
        "mode:DIO, clock div:1",
    ]
    return ("\r\n".join(lines) + "\r\n").encode()


@dataclass
class BootChoice:
    slot: int            # OTA slot index, -1 for a factory app
    partition: Any       # partitions.Partition
    info: Any            # ota.image.ImageInfo of the verified image
    state: int           # otadata state of that slot as the app will see it
    first_boot: bool     # the entry was NEW: booting an update (every boot, without rollback)
    apps: list           # every OTA app partition, in slot order
    parts: list          # the whole partition table


class BootFailure(Exception):
    """No app can start; the message says why (the real bootloader resets in a loop)."""


def image_length(flash: FlashImage, part: Any) -> int | None:
    """Walk the segment headers in flash (cheap) to know how much to verify."""
    head = flash.read(part.offset, 24)
    if head[0] != 0xE9 or not 0 < head[1] <= 16:
        return None
    pos = 24
    for _ in range(head[1]):
        if pos + 8 > part.size:
            return None
        _addr, length = struct.unpack("<II", flash.read(part.offset + pos, 8))
        pos += 8 + length
        if pos > part.size:
            return None
    pos += 16 - (pos % 16)
    if head[23] == 1:
        pos += 32
    return pos if pos <= part.size else None


def load_image(flash: FlashImage, part: Any, chip_rev: int):
    """The bootloader's image verification of one partition; ImageInfo or None."""
    from ruview_cli.ota.image import ImageError, inspect_image

    length = image_length(flash, part)
    if length is None:
        return None
    try:
        return inspect_image(flash.read(part.offset, length), chip_rev=chip_rev)
    except ImageError:
        return None


def bootloader_rolls_back(flash: FlashImage) -> bool:
    """Whether the 2nd-stage bootloader at 0x0 was built with CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE.

    Ours says so in its esp_bootloader_desc_t (first bytes of its first segment, at 0x0 + 24 + 8):
    magic byte 80 and version RV_BOOTLOADER_ROLLBACK_MARK (firmware/sdkconfig.defaults). Any other
    bootloader (RuView 0.6.x's, IDF's default) boots an OTA slot without the rollback states.
    """
    from ruview_cli.sim.appimage import BOOTLOADER_DESC_MAGIC, BOOTLOADER_VERSION_OURS

    head = flash.read(0, 40)
    if head[0] != 0xE9:
        return False
    magic, version = head[32], struct.unpack_from("<I", head, 36)[0]
    return magic == BOOTLOADER_DESC_MAGIC and version == BOOTLOADER_VERSION_OURS


def otadata_of(flash: FlashImage, parts: list) -> OtaData:
    from ruview_cli.sim.partitions import DATA, SUB_OTADATA

    for p in parts:
        if p.type == DATA and p.subtype == SUB_OTADATA:
            return OtaData(flash, p.offset)
    return OtaData(flash, 0xF000)


def select_app(flash: FlashImage, rollback: bool, chip_rev: int,
               log: Callable[[str], None] = lambda line: None) -> BootChoice:
    """Second-stage bootloader; raises BootFailure when nothing can boot."""
    from ruview_cli.sim.partitions import APP, TABLE_LENGTH, TABLE_OFFSET, app_slots, \
        parse_table

    try:
        parts = parse_table(flash.read(TABLE_OFFSET, TABLE_LENGTH))
    except Exception as exc:
        raise BootFailure(f"no valid partition table at 0x8000: {exc}") from None
    apps = app_slots(parts)
    factory = next((p for p in parts if p.type == APP and p.subtype == 0x00), None)
    otadata = otadata_of(flash, parts)
    before = {e.seq: e.state for e in otadata.read() if e.crc_ok}
    start = otadata.bootloader_select(len(apps), rollback) if apps else None
    no_otadata = start is None
    if start is None:
        start = -1 if factory is not None else 0
    order = list(range(start, -2, -1)) + list(range(start + 1, len(apps)))
    for idx in order:
        part = factory if idx == -1 else (apps[idx] if idx < len(apps) else None)
        if part is None:
            continue
        info = load_image(flash, part, chip_rev)
        if info is None:
            log(f"E boot: image in {part.name} at {part.offset:#x} does not verify: skipped")
            continue
        if no_otadata and idx >= 0:
            otadata.set_actual_slot(idx, len(apps))
        state = otadata.running_state(idx, len(apps)) if idx >= 0 else UNDEFINED
        entry_seq = next((e.seq for e in otadata.read()
                          if e.crc_ok and idx >= 0 and e.slot(len(apps)) == idx), None)
        first = before.get(entry_seq) == NEW   # set by esp_ota_set_boot_partition
        log(f"I boot: Loaded app from partition at offset {part.offset:#x} ({part.name})")
        return BootChoice(idx, part, info, state, first, apps, parts)
    raise BootFailure("no bootable app partition (every slot is empty or corrupt)")


__all__ = ["rom_banner", "select_app", "BootChoice", "BootFailure", "load_image",
           "otadata_of", "image_length", "bootloader_rolls_back"]
