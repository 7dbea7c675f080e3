"""The ESP32-S3 ROM serial bootloader, as esptool >= 5 sees it, on one FlashImage.

Protocol facts (checked against esptool 5.x loader.py / targets/esp32s3.py):

* SLIP frames (0xC0 delimiters, 0xDB 0xDC / 0xDB 0xDD escapes). Request: `<BBHI` direction 0,
  opcode, data length, checksum; then data. Response: `<BBHI` direction 1, the same opcode, data
  length, a 32-bit `val`; then data, which ends with 4 status bytes on every ROM but the ESP8266:
  status (0 ok / 1 failed), error code, 2 reserved bytes.
* SYNC (0x08): the ROM answers 8 times with a non-zero val (esptool reads one reply plus 7 more;
  a 0 val would make it believe a flasher stub is running).
* GET_SECURITY_INFO (0x14): 20 bytes `<IBBBBBBBBII` flags, flash_crypt_cnt, 7 key purposes,
  chip id (9 = ESP32-S3), api version. This is how esptool (with or without --chip) identifies
  the chip.
* READ_REG (0x0A) returns the word in `val`; WRITE_REG (0x09) carries one or more 16-byte
  `<IIII` (address, value, mask, delay_us) groups. eFuse words read: MAC at 0x60007044/48, chip
  revision, package, flash/PSRAM caps in BLOCK1 words 3..5 and BLOCK2 word 4.
* flash-id goes through the SPI1 user-command registers (base 0x60002000: CMD +0, ADDR +4,
  USR +0x18, USR1 +0x1C, USR2 +0x20, MOSI/MISO_DLEN +0x24/+0x28, W0 +0x58): writing CMD bit 18
  runs the opcode in USR2's low byte; the bit reads back clear at once. RDID (0x9F) answers an
  XMC-style id 0x20 0x40 <log2(size)> (0x17 = 8 MB), SFDP (0x5A) the "SFDP" signature, the
  status/reset/write-enable opcodes are accepted.
* SPI_ATTACH (0x0D), SPI_SET_PARAMS (0x0B), CHANGE_BAUDRATE (0x0F): accepted.
* FLASH_BEGIN (0x02) `<IIIII` erase size, blocks, block size, offset, encrypted: erases up front
  (whole 4 KB sectors, like the ROM). FLASH_DATA (0x03) `<IIII` length, seq, 0, 0 + data with the
  0xEF-seeded XOR checksum in the header (mismatch -> error 0x07). FLASH_DEFL_BEGIN/DATA (0x10,
  0x11): the same with a zlib stream decompressed as it arrives.
* READ_FLASH_SLOW (0x0E) `<II` offset, length <= 64: always 64 data bytes. SPI_FLASH_MD5 (0x13)
  `<IIII` offset, size: 32 lowercase hex characters (the stub sends 16 raw bytes, the ROM hex).

The flasher stub (esptool without --no-stub): MEM_BEGIN/MEM_DATA/MEM_END upload it to RAM; at
MEM_END with an entry point the emulator answers, sends the stub's bare "OHAI" frame and from then
on speaks the stub dialect: 2 status bytes instead of 4, SYNC val 0, FLASH_BEGIN erases as it
writes (sector by sector, so an interrupted write leaves the old contents after the cut), MD5 as 16
raw bytes, and the stub-only ERASE_FLASH (0xD0), ERASE_REGION (0xD1) and READ_FLASH (0xD2: data
frames of `packet` bytes, at most `in_flight` unacknowledged, the host acks with the byte count so
far, then a 16-byte MD5 frame). The uploaded code is not kept or run; any RAM upload with an entry
point is taken for the stub. FLASH_END with "reboot" in the stub goes back to the ROM (esptool
`--after no-reset`), with "stay" it is only acknowledged (end of write-flash).

How a session ends, i.e. when `on_reset()` is called (esptool 5.x, ESP32-S3, ROM or stub):

* `--after hard-reset` (default): esptool first writes 0 to RTC_CNTL_OPTION1_REG (0x6000812C,
  mask 1, "clear force-download-boot") and then pulses RTS. Over socket:// pyserial ignores
  RTS; over a pty the modem-line ioctl fails with ENOTTY and esptool warns "Chip was NOT reset"
  and carries on. Since the line pulse is invisible on both, that register write — the last thing
  esptool sends before the pulse — is taken as the hard reset.
* `--after watchdog-reset`: unlocks the RTC watchdog, sets a short timeout, enables it (bit 31 of
  RTC_CNTL_WDTCONFIG0_REG 0x60008098) and re-locks it (RTC_CNTL_WDTWPROTECT_REG 0x600080B0);
  the chip resets after the re-lock is answered (or when the TCP client leaves while armed).
* `--after soft-reset` (ROM only; esptool refuses it with the stub on an ESP32-S3):
  FLASH_BEGIN(0, 0) then FLASH_END — leaving the loader runs the app. In the ROM, FLASH_END /
  FLASH_DEFL_END with either flag leave the loader (esptool never sends them to the ROM except
  to exit it).
* `--after no-reset`: nothing; the node keeps running whatever it ran.

After a reset the "chip" runs its app: frames other than SYNC get no answer; a SYNC (the next
esptool run on a pty) or a new TCP client starts a fresh ROM session. Simplification: the
emulated node keeps running while its ROM answers, so esptool never needs to reset it into the
bootloader first. `--before default-reset` also works: over socket:// esptool itself switches to
no-reset, over a pty the DTR/RTS ioctl fails with ENOTTY and esptool only warns.
"""

from __future__ import annotations

import hashlib
import struct
import zlib
from typing import Callable

from ruview_cli.sim.flash import SECTOR, FlashImage

# Opcodes (esptool ESP_CMDS).
FLASH_BEGIN, FLASH_DATA, FLASH_END = 0x02, 0x03, 0x04
MEM_BEGIN, MEM_END, MEM_DATA = 0x05, 0x06, 0x07
SYNC, WRITE_REG, READ_REG = 0x08, 0x09, 0x0A
SPI_SET_PARAMS, SPI_ATTACH, READ_FLASH_SLOW, CHANGE_BAUDRATE = 0x0B, 0x0D, 0x0E, 0x0F
FLASH_DEFL_BEGIN, FLASH_DEFL_DATA, FLASH_DEFL_END = 0x10, 0x11, 0x12
SPI_FLASH_MD5, GET_SECURITY_INFO = 0x13, 0x14
# flasher-stub-only commands
ERASE_FLASH, ERASE_REGION, READ_FLASH = 0xD0, 0xD1, 0xD2

# ROM error codes (second status byte).
ERR_INVALID_MESSAGE = 0x05
ERR_FAILED_TO_ACT = 0x06
ERR_INVALID_CRC = 0x07
ERR_FLASH_WRITE = 0x08
ERR_FLASH_READ = 0x09
ERR_READ_LENGTH = 0x0A
ERR_DEFLATE = 0x0B

CHIP_ID_ESP32S3 = 9
CHECKSUM_SEED = 0xEF
SYNC_REPLIES = 8
SYNC_VAL = 0x20120707  # any non-zero value says "ROM, not stub"

# Registers (ESP32-S3).
SPI_BASE = 0x60002000
SPI_CMD, SPI_ADDR = SPI_BASE + 0x00, SPI_BASE + 0x04
SPI_USR2, SPI_W0 = SPI_BASE + 0x20, SPI_BASE + 0x58
SPI_CMD_USR = 1 << 18
EFUSE_BASE = 0x60007000
MAC_EFUSE_REG = EFUSE_BASE + 0x044
EFUSE_BLOCK1 = EFUSE_BASE + 0x044
EFUSE_BLOCK2 = EFUSE_BASE + 0x05C
CHIP_DETECT_MAGIC_REG = 0x40001000
RTC_CNTL_OPTION1_REG = 0x6000812C
RTC_CNTL_WDTCONFIG0_REG = 0x60008098
RTC_CNTL_WDTWPROTECT_REG = 0x600080B0
UART_CLKDIV_REG = 0x60000014

# RDID answers, by flash size: XMC (0x20) memory type 0x40, capacity code log2(size).
XMC_VENDOR_ID = 0x20
# SFDP header: signature, rev 1.6, 1 parameter header; then the JEDEC basic table header.
SFDP_TABLE = bytes.fromhex("53464450 060100ff 00060110 300000ff")


def rom_checksum(data: bytes, state: int = CHECKSUM_SEED) -> int:
    for b in data:
        state ^= b
    return state


def slip_encode(packet: bytes) -> bytes:
    return b"\xc0" + packet.replace(b"\xdb", b"\xdb\xdd").replace(b"\xc0", b"\xdb\xdc") + b"\xc0"


class SlipDecoder:
    """Incremental SLIP decoder: feed bytes, get whole frames. A frame with a bad escape or an
    absurd length is dropped (and counted). Works on whole chunks, not byte by byte."""

    MAX_FRAME = 0x10000  # the largest legitimate frame is a 16 KB stub FLASH_DATA block

    def __init__(self) -> None:
        self._buf = bytearray()
        self._in_frame = False
        self._bad = False
        self.dropped = 0  # frames thrown away: bad escape or oversized

    def _close(self, frames: list[bytes]) -> None:
        raw = bytes(self._buf)
        self._buf.clear()
        if self._bad:
            self.dropped += 1
        elif raw:
            esc = raw.count(b"\xdb")
            if esc and esc != raw.count(b"\xdb\xdc") + raw.count(b"\xdb\xdd"):
                self.dropped += 1
            else:
                frames.append(raw.replace(b"\xdb\xdc", b"\xc0").replace(b"\xdb\xdd", b"\xdb")
                              if esc else raw)
        self._bad = False

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        for i, part in enumerate(bytes(data).split(b"\xc0")):
            if i:  # a 0xC0 ends the current frame and starts the next (esptool sends c0..c0)
                if self._in_frame:
                    self._close(frames)
                self._in_frame = True
            if self._in_frame and part and not self._bad:
                self._buf += part
                if len(self._buf) > 2 * self.MAX_FRAME:  # escaped length can double
                    self._bad = True
                    self._buf.clear()
        return frames


def _efuse_words(mac: bytes) -> dict[int, int]:
    """eFuse words of an ESP32-S3 (QFN56) v0.2 with external flash, no PSRAM, this MAC."""
    if len(mac) != 6:
        raise ValueError(f"MAC must be 6 bytes, got {len(mac)}")
    words = {
        MAC_EFUSE_REG: struct.unpack(">I", mac[2:])[0],
        MAC_EFUSE_REG + 4: struct.unpack(">H", mac[:2])[0],
        # BLOCK1 word 3: pkg 0 (bits 21-23), minor rev low 2 (18-20), blk minor 2 (24-26),
        # flash cap 0 (27-29: external flash).
        EFUSE_BLOCK1 + 12: (2 << 18) | (2 << 24),
        EFUSE_BLOCK1 + 16: 0,  # flash vendor, PSRAM cap/vendor: none embedded
        EFUSE_BLOCK1 + 20: 0,  # major rev 0, minor rev high bit 0, PSRAM cap high bit 0
        EFUSE_BLOCK2 + 16: 1,  # blk version major 1
        CHIP_DETECT_MAGIC_REG: 0x00000009,
        UART_CLKDIV_REG: 0x2B6,  # 80 MHz APB / 115200
    }
    return words


class RomSession:
    """One ROM download-mode session: bytes from the host in, SLIP-framed replies out.

    Pure protocol, no I/O: the link (serial_link.SerialEndpoint) moves the bytes, applies the
    wire-time and drop faults, and calls `loader.on_reset()` when `reset_requested` turns true.
    """

    def __init__(self, loader: "RomLoader"):
        self.loader = loader
        self.flash = loader.flash
        self._slip = SlipDecoder()
        self.regs: dict[int, int] = dict(loader.efuse)
        self.running_app = False  # after a reset: only SYNC gets an answer
        self.reset_requested = False
        self.wdt_armed = False
        self.stub = False  # the flasher stub was "uploaded" and runs (see _mem_end)
        self._mem = None
        self._reading = None
        self.baud = 115200
        self.frames = 0
        self._malformed = 0
        self._write = None  # active flash write: dict(offset, size, block, seq, defl, ...)

    @property
    def bad_frames(self) -> int:
        """Malformed frames received (counted, never answered with a crash)."""
        return self._malformed + self._slip.dropped

    # -- framing ---------------------------------------------------------------------------
    def feed(self, data: bytes) -> bytes:
        out = bytearray()
        for frame in self._slip.feed(data):
            self.frames += 1
            out += self._handle_frame(frame)
        return bytes(out)

    def _reply(self, op: int, val: int = 0, data: bytes = b"", error: int = 0) -> bytes:
        # the ROM ends every reply with 4 status bytes, the flasher stub with 2
        status = bytes([1 if error else 0, error]) + (b"" if self.stub else b"\0\0")
        body = data + status
        return slip_encode(struct.pack("<BBHI", 1, op, len(body), val & 0xFFFFFFFF) + body)

    def _handle_frame(self, frame: bytes) -> bytes:
        if self._reading is not None and len(frame) == 4:
            return self._read_ack(frame)
        if len(frame) < 8 or frame[0] != 0:
            self._malformed += 1
            return b""
        _, op, size, chk = struct.unpack("<BBHI", frame[:8])
        data = frame[8:]
        if len(data) != size:
            self._malformed += 1
            return self._reply(op, error=ERR_INVALID_MESSAGE) if not self.running_app else b""
        if self.running_app:
            if op != SYNC:
                return b""
            self._fresh()
        handler = self._HANDLERS.get(op)
        if handler is None or (op in self._STUB_ONLY and not self.stub):
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        try:
            return handler(self, op, data, chk)
        except (struct.error, ValueError):
            self._malformed += 1
            return self._reply(op, error=ERR_INVALID_MESSAGE)

    def _fresh(self) -> None:
        self.running_app = False
        self.reset_requested = False
        self.wdt_armed = False
        self.regs = dict(self.loader.efuse)
        self._write = None
        self._reading = None
        self._mem = None
        self.stub = False

    def _request_reset(self) -> None:
        self.running_app = True
        self.reset_requested = True
        self.wdt_armed = False
        self._write = None

    # -- commands --------------------------------------------------------------------------
    def _sync(self, op, data, chk):
        if data[:4] != b"\x07\x07\x12\x20" or data[4:] != b"\x55" * 32:
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        if self.loader.on_sync is not None and not self.stub:
            self.loader.on_sync()  # the chip is in download mode: the app is not running
        return self._reply(op, 0 if self.stub else SYNC_VAL) * SYNC_REPLIES

    def _security_info(self, op, data, chk):
        info = struct.pack("<IBBBBBBBBII", 0, 0, 0, 0, 0, 0, 0, 0, 0, CHIP_ID_ESP32S3, 0)
        return self._reply(op, data=info)

    def _read_reg(self, op, data, chk):
        (addr,) = struct.unpack("<I", data[:4])
        return self._reply(op, val=self.regs.get(addr, 0))

    def _write_reg(self, op, data, chk):
        if len(data) % 16:
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        reset = False
        for i in range(0, len(data), 16):
            addr, value, mask, _delay = struct.unpack("<IIII", data[i:i + 16])
            old = self.regs.get(addr, 0)
            self.regs[addr] = (old & ~mask) | (value & mask)
            if addr == SPI_CMD and value & mask & SPI_CMD_USR:
                self._spi_user_command()
                self.regs[SPI_CMD] &= ~SPI_CMD_USR
            elif addr == RTC_CNTL_OPTION1_REG and mask & 1 and not value & 1:
                reset = True  # esptool's hard reset on the ESP32-S3 (see module docstring)
            elif addr == RTC_CNTL_WDTCONFIG0_REG and value & mask & (1 << 31):
                self.wdt_armed = True  # fires ~immediately, after esptool re-locks the WDT
            elif addr == RTC_CNTL_WDTWPROTECT_REG and self.wdt_armed:
                reset = True
        reply = self._reply(op)
        if reset:
            self._request_reset()
        return reply

    def _spi_user_command(self) -> None:
        cmd = self.regs.get(SPI_USR2, 0) & 0xFF
        if cmd == 0x9F:  # RDID
            cap = self.flash.size.bit_length() - 1
            result = XMC_VENDOR_ID | (0x40 << 8) | (cap << 16)
        elif cmd == 0x5A:  # RDSFDP
            addr = self.regs.get(SPI_ADDR, 0) & 0xFFFFFF
            chunk = (SFDP_TABLE + b"\xff" * 4)[addr:addr + 4] if addr < len(SFDP_TABLE) else b""
            result = struct.unpack("<I", chunk.ljust(4, b"\xff"))[0]
        elif cmd in (0x05, 0x35, 0x15):  # RDSR/RDSR2/RDSR3: idle, unprotected
            result = 0
        else:  # write-enable, status writes, resets, power-down: accepted, no data
            result = self.regs.get(SPI_W0, 0)
        self.regs[SPI_W0] = result

    def _accept(self, op, data, chk):
        return self._reply(op)

    def _change_baud(self, op, data, chk):
        new_baud, _old = struct.unpack("<II", data[:8])
        reply = self._reply(op)
        self.baud = new_baud
        return reply

    def _flash_begin(self, op, data, chk):
        erase_size, blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        defl = op == FLASH_DEFL_BEGIN
        if offset % SECTOR or offset + erase_size > self.flash.size or block_size == 0:
            return self._reply(op, error=ERR_FAILED_TO_ACT)
        if erase_size and not self.stub:  # the ROM erases up front, the stub as it writes
            end = min(self.flash.size, -(-(offset + erase_size) // SECTOR) * SECTOR)
            self.flash.erase(offset, end - offset)
        self._write = {
            "erased_to": offset,
            "offset": offset, "size": erase_size, "blocks": blocks, "block": block_size,
            "seq": 0, "defl": defl, "pos": offset,
            "z": zlib.decompressobj() if defl else None,
        }
        return self._reply(op)

    def _flash_data(self, op, data, chk):
        w = self._write
        if w is None or w["defl"] != (op == FLASH_DEFL_DATA):
            return self._reply(op, error=ERR_FAILED_TO_ACT)
        length, seq, _, _ = struct.unpack("<IIII", data[:16])
        payload = data[16:]
        if length != len(payload):
            return self._reply(op, error=ERR_INVALID_MESSAGE)
        if rom_checksum(payload) != chk & 0xFF:
            return self._reply(op, error=ERR_INVALID_CRC)
        if seq != w["seq"]:
            # A retried block (esptool resends after a lost reply): already written, just ack.
            return self._reply(op) if seq < w["seq"] else self._reply(op, error=ERR_FAILED_TO_ACT)
        if w["defl"]:
            try:
                out = w["z"].decompress(payload)
            except zlib.error:
                return self._reply(op, error=ERR_DEFLATE)
            start = w["pos"]
        else:
            out = payload
            start = w["offset"] + seq * w["block"]
        if start + len(out) > self.flash.size:
            return self._reply(op, error=ERR_FLASH_WRITE)
        if self.stub and start + len(out) > w["erased_to"]:
            end = min(self.flash.size, -(-(start + len(out)) // SECTOR) * SECTOR)
            self.flash.erase(w["erased_to"], end - w["erased_to"])
            w["erased_to"] = end
        self.flash.write(start, out)
        w["pos"] = start + len(out)
        w["seq"] += 1
        return self._reply(op)

    def _flash_end(self, op, data, chk):
        (stay,) = struct.unpack("<I", data[:4]) if len(data) >= 4 else (0,)
        reply = self._reply(op)
        if self.stub:
            # The stub acks "stay" (end of write-flash); "reboot" soft-resets back into the ROM
            # download mode (esptool --after no-reset), the app does not run.
            if not stay:
                self.stub = False
                self._write = None
            return reply
        self._request_reset()  # the ROM leaving the loader runs the app (reboot or user code)
        return reply

    def _read_flash_slow(self, op, data, chk):
        offset, length = struct.unpack("<II", data[:8])
        if length > 64:
            return self._reply(op, error=ERR_READ_LENGTH)
        if offset + length > self.flash.size:
            return self._reply(op, error=ERR_FLASH_READ)
        return self._reply(op, data=self.flash.read(offset, length).ljust(64, b"\xff"))

    def _md5(self, op, data, chk):
        offset, size = struct.unpack("<II", data[:8])
        if offset + size > self.flash.size:
            return self._reply(op, error=ERR_FLASH_READ)
        digest = self.flash.md5(offset, size)
        return self._reply(op, data=digest if self.stub else digest.hex().encode())

    # -- RAM download: only the flasher stub is "run" ---------------------------------------
    def _mem_begin(self, op, data, chk):
        size, blocks, block_size, offset = struct.unpack("<IIII", data[:16])
        self._mem = {"size": size, "got": 0}
        return self._reply(op)

    def _mem_data(self, op, data, chk):
        length, _seq, _, _ = struct.unpack("<IIII", data[:16])
        payload = data[16:]
        if self._mem is None or length != len(payload):
            return self._reply(op, error=ERR_FAILED_TO_ACT)
        if rom_checksum(payload) != chk & 0xFF:
            return self._reply(op, error=ERR_INVALID_CRC)
        self._mem["got"] += length  # the code itself is not kept: nothing executes it
        return self._reply(op)

    def _mem_end(self, op, data, chk):
        no_entry, entry = struct.unpack("<II", data[:8])
        reply = self._reply(op)
        self._mem = None
        if no_entry or not entry:
            return reply
        # Jumping to the uploaded code: the emulator assumes it is esptool's flasher stub, which
        # greets with a bare "OHAI" frame and then speaks the stub protocol.
        self.stub = True
        self._write = None
        return reply + slip_encode(b"OHAI")

    # -- stub-only commands ----------------------------------------------------------------
    def _erase_flash(self, op, data, chk):
        self.flash.erase(0, self.flash.size)
        return self._reply(op)

    def _erase_region(self, op, data, chk):
        offset, size = struct.unpack("<II", data[:8])
        if offset % SECTOR or size % SECTOR or offset + size > self.flash.size:
            return self._reply(op, error=ERR_FAILED_TO_ACT)
        self.flash.erase(offset, size)
        return self._reply(op)

    def _read_flash(self, op, data, chk):
        offset, length, packet, in_flight = struct.unpack("<IIII", data[:16])
        if offset + length > self.flash.size or packet == 0 or packet > 0x4000 or in_flight == 0:
            return self._reply(op, error=ERR_FAILED_TO_ACT)
        self._reading = {"offset": offset, "length": length, "packet": packet,
                         "window": packet * in_flight, "sent": 0, "acked": 0,
                         "md5": hashlib.md5()}
        if length == 0:
            self._reading = None
            return self._reply(op) + slip_encode(hashlib.md5().digest())
        return self._reply(op) + self._read_send()

    def _read_send(self) -> bytes:
        r = self._reading
        out = bytearray()
        while r["sent"] < r["length"] and r["sent"] - r["acked"] < r["window"]:
            n = min(r["packet"], r["length"] - r["sent"])
            chunk = self.flash.read(r["offset"] + r["sent"], n)
            r["md5"].update(chunk)
            out += slip_encode(chunk)
            r["sent"] += n
        return bytes(out)

    def _read_ack(self, frame: bytes) -> bytes:
        r = self._reading
        (acked,) = struct.unpack("<I", frame)
        r["acked"] = min(max(r["acked"], acked), r["sent"])
        out = self._read_send()
        if r["acked"] >= r["length"]:
            self._reading = None
            out += slip_encode(r["md5"].digest())
        return out

    _HANDLERS: dict[int, Callable] = {
        SYNC: _sync,
        GET_SECURITY_INFO: _security_info,
        READ_REG: _read_reg,
        WRITE_REG: _write_reg,
        SPI_ATTACH: _accept,
        SPI_SET_PARAMS: _accept,
        CHANGE_BAUDRATE: _change_baud,
        FLASH_BEGIN: _flash_begin,
        FLASH_DATA: _flash_data,
        FLASH_END: _flash_end,
        FLASH_DEFL_BEGIN: _flash_begin,
        FLASH_DEFL_DATA: _flash_data,
        FLASH_DEFL_END: _flash_end,
        READ_FLASH_SLOW: _read_flash_slow,
        SPI_FLASH_MD5: _md5,
        MEM_BEGIN: _mem_begin,
        MEM_DATA: _mem_data,
        MEM_END: _mem_end,
        ERASE_FLASH: _erase_flash,
        ERASE_REGION: _erase_region,
        READ_FLASH: _read_flash,
    }
    _STUB_ONLY = frozenset({ERASE_FLASH, ERASE_REGION, READ_FLASH})


class RomLoader:
    """The ESP32-S3 ROM serial protocol on one FlashImage (one chip; sessions come and go).

    Faults (attributes, may be changed while running):
      baud_limit: int | None — the wire runs at this many baud (10 bit times per byte, both
        directions); None = no delay.
      drop_after_bytes: int | None — every connection dies after the host has sent this many
        bytes on it. Flash keeps what the ROM had done by then: the FLASH_BEGIN erase, and the
        blocks received before the cut.
      drop_times: int | None — how many more connections to cut (None = all). esptool's
        write-flash reconnects once after a lost link, so drop_times=1 shows the recovery and
        None makes it fail.
    """

    def __init__(
        self,
        flash: FlashImage,
        mac: bytes,
        on_reset: Callable[[], None],
        baud_limit: int | None = None,
        drop_after_bytes: int | None = None,
        drop_times: int | None = None,
    ):
        self.flash = flash
        self.mac = bytes(mac)
        self.on_reset = on_reset
        self.baud_limit = baud_limit
        self.drop_after_bytes = drop_after_bytes
        self.drop_times = drop_times
        self.efuse = _efuse_words(self.mac)
        self.resets = 0
        self.sessions = 0
        # Called on every SYNC the ROM answers: the owner stops the app (download mode).
        self.on_sync: Callable[[], None] | None = None

    def new_session(self) -> RomSession:
        self.sessions += 1
        return RomSession(self)

    def fire_reset(self) -> None:
        """Called by the link once the reply that caused a reset has left the wire."""
        self.resets += 1
        self.on_reset()

