"""ESP-IDF otadata: which OTA slot boots, and the rollback state machine, as the real code does it.

Format (esp_flash_partitions.h): the otadata partition (0xF000, 0x2000) holds two 4 KB sectors,
each starting with an `esp_ota_select_entry_t` of 32 bytes:
    u32 ota_seq, u8 seq_label[20], u32 ota_state, u32 crc
crc = esp_rom_crc32_le(UINT32_MAX, &ota_seq, 4), which is zlib's crc32 of the 4 little-endian
seq bytes with 0xFFFFFFFF as the running value (bootloader_common_ota_select_crc).
An entry is valid if seq != 0xFFFFFFFF, its state is neither INVALID nor ABORTED and the crc
matches (bootloader_common_ota_select_valid); the valid entry with the highest seq wins and boots
slot (seq - 1) % app_count.

With CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE the bootloader, before choosing, rewrites every
PENDING_VERIFY entry to ABORTED (the app was started once and never confirmed), then marks a
chosen NEW entry PENDING_VERIFY. The app confirms with esp_ota_mark_app_valid_cancel_rollback
(state VALID) or gives up with esp_ota_mark_app_invalid_rollback_and_reboot (state INVALID):
for our flavour that is the firmware's own code (firmware/host's esp_ota_* on the flash file).
Without rollback (RuView 0.6.x, emulated here) new entries are written UNDEFINED and never
touched again.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

from ruview_cli.sim.flash import FlashImage

SECTOR = 0x1000
ENTRY_FMT = "<I20sII"
ENTRY_SIZE = struct.calcsize(ENTRY_FMT)  # 32

# esp_ota_img_states_t
NEW = 0x0
PENDING_VERIFY = 0x1
VALID = 0x2
INVALID = 0x3
ABORTED = 0x4
UNDEFINED = 0xFFFFFFFF

STATE_NAMES = {NEW: "new", PENDING_VERIFY: "pending_verify", VALID: "valid", INVALID: "invalid",
               ABORTED: "aborted", UNDEFINED: "undefined"}


def seq_crc(seq: int) -> int:
    """bootloader_common_ota_select_crc."""
    return zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF


@dataclass
class OtaEntry:
    seq: int = 0xFFFFFFFF
    label: bytes = b"\xff" * 20
    state: int = UNDEFINED
    crc: int = 0xFFFFFFFF

    @classmethod
    def unpack(cls, raw: bytes) -> "OtaEntry":
        seq, label, state, crc = struct.unpack(ENTRY_FMT, raw[:ENTRY_SIZE])
        return cls(seq, label, state, crc)

    @classmethod
    def make(cls, seq: int, state: int) -> "OtaEntry":
        return cls(seq, b"\xff" * 20, state, seq_crc(seq))

    def pack(self) -> bytes:
        return struct.pack(ENTRY_FMT, self.seq, self.label, self.state, self.crc)

    @property
    def crc_ok(self) -> bool:
        return self.seq != 0xFFFFFFFF and self.crc == seq_crc(self.seq)

    @property
    def valid(self) -> bool:
        """bootloader_common_ota_select_valid."""
        return self.crc_ok and self.state not in (INVALID, ABORTED)

    def slot(self, app_count: int) -> int:
        return (self.seq - 1) % app_count


class OtaData:
    """The otadata partition of one FlashImage at `offset` (two sectors)."""

    def __init__(self, flash: FlashImage, offset: int = 0xF000):
        self.flash = flash
        self.offset = offset

    def read(self) -> list[OtaEntry]:
        with self.flash.lock:
            return [OtaEntry.unpack(self.flash.read(self.offset + i * SECTOR, ENTRY_SIZE))
                    for i in (0, 1)]

    def write_entry(self, index: int, entry: OtaEntry) -> None:
        """Erase the entry's sector and write it, as rewrite_ota_seq/write_otadata do."""
        with self.flash.lock:
            self.flash.erase(self.offset + index * SECTOR, SECTOR)
            self.flash.write(self.offset + index * SECTOR, entry.pack())

    def erase(self) -> None:
        with self.flash.lock:
            self.flash.erase(self.offset, 2 * SECTOR)

    @staticmethod
    def active_index(entries: list[OtaEntry]) -> int:
        """bootloader_common_get_active_otadata: highest seq among valid entries, or -1."""
        valid = [e.valid for e in entries]
        if valid[0] and valid[1]:
            return 0 if entries[0].seq >= entries[1].seq else 1
        return 0 if valid[0] else 1 if valid[1] else -1

    # --- bootloader side -------------------------------------------------------------------

    def bootloader_select(self, app_count: int, rollback: bool) -> int | None:
        """bootloader_utility_get_selected_boot_partition: the OTA slot to try first.

        None means "no usable otadata" — the real bootloader then boots the factory app or,
        without one, ota_0 (and writes initial otadata for it when it boots).
        """
        with self.flash.lock:
            entries = self.read()
            if not entries[0].crc_ok and not entries[1].crc_ok:
                return None
            if rollback:
                for i, e in enumerate(entries):
                    if e.state == PENDING_VERIFY:
                        e.state = ABORTED
                        self.write_entry(i, e)
            active = self.active_index(entries)
            if active == -1:
                return None
            if rollback and entries[active].state == NEW:
                entries[active].state = PENDING_VERIFY
                self.write_entry(active, entries[active])
            return entries[active].slot(app_count)

    def set_actual_slot(self, slot: int, app_count: int) -> None:
        """set_actual_ota_seq: when otadata was empty and the bootloader booted an OTA slot."""
        with self.flash.lock:
            entries = self.read()
            if entries[0].crc_ok or entries[1].crc_ok:
                return
            self.write_entry(0, OtaEntry.make(slot + 1, VALID))

    # --- app side (esp_ota_ops.c), for RuView 0.6.x (ours runs the firmware's own) ----------

    def set_boot_slot(self, slot: int, app_count: int, rollback: bool) -> int:
        """esp_ota_set_boot_partition: the next seq that maps to `slot`; returns it."""
        new_state = NEW if rollback else UNDEFINED
        with self.flash.lock:
            entries = self.read()
            active = self.active_index(entries)
            base = (slot + 1) % app_count
            if active == -1:
                seq = slot + 1
                self.write_entry(0, OtaEntry.make(seq, new_state))
                return seq
            cur = entries[active].seq
            i = 0
            while cur > base + i * app_count:
                i += 1
            seq = base + i * app_count
            nxt = (~active) & 1
            self.write_entry(nxt, OtaEntry.make(seq, new_state))
            return seq

    def running_state(self, slot: int, app_count: int) -> int:
        """esp_ota_get_state_partition for the running slot (UNDEFINED if no entry)."""
        entries = self.read()
        active = self.active_index(entries)
        if active != -1 and entries[active].slot(app_count) == slot:
            return entries[active].state
        for e in entries:
            if e.crc_ok and e.slot(app_count) == slot:
                return e.state
        return UNDEFINED


__all__ = ["OtaData", "OtaEntry", "seq_crc", "STATE_NAMES", "NEW", "PENDING_VERIFY", "VALID",
           "INVALID", "ABORTED", "UNDEFINED"]
