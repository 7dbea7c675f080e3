"""Full serial flash of an ESP-IDF build directory (flasher_args.json) with esptool's API.

Writes what `idf.py flash` writes — bootloader, partition table, otadata, app — and verifies
every file (esptool's MD5 check after each write, then a verify pass over all of them), but
never the NVS partition (0x9000..0xF000 by default, or wherever the build's partition table
puts it) unless erase_config: the node keeps its WiFi settings, node id and OTA key. A file in
flasher_args.json that would overlap NVS is skipped with a warning.

socket:// URLs (the emulated node) are driven with no reset before and the ROM loader (no
stub), since the emulator has no stub to run; a real port gets the normal reset into the
bootloader and esptool's flasher stub.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ruview_cli.errors import RuviewError, UsageError

NVS_OFFSET = 0x9000
NVS_SIZE = 0x6000
FLASH_BAUD = 460800
_ROLE_KEYS = ("bootloader", "partition-table", "otadata", "app")


@dataclass
class FlashFile:
    offset: int
    path: Path
    role: str
    data: bytes = b""

    def to_json(self) -> dict:
        return {"offset": self.offset, "file": str(self.path), "role": self.role,
                "size": len(self.data)}


@dataclass
class BuildFlash:
    build_dir: Path
    files: list[FlashFile]
    flash_mode: str = "keep"
    flash_size: str = "keep"
    flash_freq: str = "keep"
    chip: str = "esp32s3"
    nvs: tuple[int, int] = (NVS_OFFSET, NVS_SIZE)
    skipped: list[FlashFile] = field(default_factory=list)
    app_version: str | None = None
    app_project: str | None = None


def _hex(value, what: str) -> int:
    try:
        return int(str(value), 0)
    except ValueError:
        raise UsageError(f"flasher_args.json: {what} {value!r} is not an offset",
                         "rebuild with `idf.py build`") from None


def load_build_dir(build_dir: str | Path, erase_config: bool = False) -> BuildFlash:
    """Read and check a build directory; nothing is sent to a device here."""
    root = Path(build_dir)
    args_file = root / "flasher_args.json"
    if not root.is_dir():
        raise UsageError(f"no such build directory: {root}", "pass the ESP-IDF build/ directory")
    if not args_file.is_file():
        raise UsageError(f"{root} has no flasher_args.json: not an ESP-IDF build directory",
                         "run `idf.py build` in firmware/ and pass firmware/build")
    try:
        spec = json.loads(args_file.read_text())
        flash_files = spec["flash_files"]
        if not isinstance(flash_files, dict) or not flash_files:
            raise KeyError("flash_files")
    except (ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"{args_file} is malformed ({exc})", "rebuild with `idf.py build`") \
            from None
    chip = str((spec.get("extra_esptool_args") or {}).get("chip") or "esp32s3").lower()
    if chip != "esp32s3":
        raise UsageError(f"the build is for {chip}, not esp32s3",
                         "`idf.py set-target esp32s3`, then build again")
    roles = {}
    for key in _ROLE_KEYS:
        sect = spec.get(key)
        if isinstance(sect, dict) and "offset" in sect:
            roles[_hex(sect["offset"], key + " offset")] = key
    files = []
    for off_text, rel in flash_files.items():
        off = _hex(off_text, "flash_files offset")
        path = root / rel
        if not path.is_file():
            raise UsageError(f"{path} (listed in flasher_args.json at 0x{off:x}) is missing",
                             "rebuild with `idf.py build`")
        files.append(FlashFile(off, path, roles.get(off, "data"), path.read_bytes()))
    files.sort(key=lambda f: f.offset)
    settings = spec.get("flash_settings") or {}
    out = BuildFlash(root, files, settings.get("flash_mode", "keep"),
                     settings.get("flash_size", "keep"), settings.get("flash_freq", "keep"), chip)
    out.nvs = _nvs_range(files)
    app = next((f for f in files if f.role == "app"), None)
    if app is None:
        raise UsageError("flasher_args.json names no app", "rebuild with `idf.py build`")
    from ruview_cli.ota.image import inspect_image

    info = inspect_image(app.data)
    out.app_version, out.app_project = info.version, info.project_name
    lo, hi = out.nvs[0], out.nvs[0] + out.nvs[1]
    keep = []
    for f in files:
        overlaps = f.offset < hi and f.offset + len(f.data) > lo
        if overlaps and not erase_config:
            out.skipped.append(f)
        else:
            keep.append(f)
    out.files = keep
    return out


def _nvs_range(files: list[FlashFile]) -> tuple[int, int]:
    table = next((f for f in files if f.role == "partition-table"), None)
    if table is not None:
        try:
            from ruview_cli.partitions import parse_table

            for part in parse_table(table.data):
                if part.name == "nvs":
                    return part.offset, part.size
        except Exception:  # an unparsable table: fall back to the documented layout
            pass
    return NVS_OFFSET, NVS_SIZE


def _make_logger(on_progress, on_text):
    """An esptool (esp-pylib) logger forwarding progress and text to callbacks."""
    from esp_pylib.logger import EspLogBase

    class Logger(EspLogBase):
        def print(self, *args, **kwargs):
            text = " ".join(str(a) for a in args).strip()
            if text:
                on_text(text)

        def note(self, *args):
            on_text("note: " + " ".join(str(a) for a in args))

        def hint(self, *args):
            pass

        def warn(self, *args, suggestion=None):
            on_text("warning: " + " ".join(str(a) for a in args))

        def err(self, *args, suggestion=None):
            on_text("error: " + " ".join(str(a) for a in args))

        def debug(self, *args):
            pass

        def stage(self, *args, **kwargs):
            pass

        def set_verbosity(self, mode):
            pass

        def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30):
            on_progress(cur_iter, total_iters)

    return Logger()


def flash_build(port: str, build: BuildFlash, erase_config: bool = False,
                on_file: Callable[[FlashFile], None] | None = None,
                on_progress: Callable[[int, int], None] | None = None,
                on_text: Callable[[str], None] | None = None, baud: int | None = None,
                stub: bool = True) -> dict:
    """Write and verify the build over `port`; reset the chip into the new firmware.

    `stub=False` talks to the ROM loader only; `baud` is the rate to switch to after connecting
    (default FLASH_BAUD). An emulated node (socket://) has neither a stub nor a baud rate."""
    from esptool.cmds import attach_flash, detect_chip, reset_chip, run_stub, verify_flash, \
        write_flash
    from esptool.util import FatalError

    sim = port.startswith("socket://")
    from esp_pylib.logger import EspLog

    previous = EspLog.instance
    EspLog.instance = _make_logger(on_progress or (lambda c, t: None), on_text or (lambda t: None))
    esp = None
    esp_reset = False
    try:
        try:
            esp = detect_chip(port, connect_mode="no-reset" if sim else "default-reset",
                              connect_attempts=3)
        except (FatalError, OSError) as exc:
            raise RuviewError(f"cannot talk to the chip on {port}: {exc}",
                              "check the cable and port (`ruview flash --port ...`); hold BOOT "
                              "while pressing RESET if the board does not enter the bootloader"
                              ) from None
        if esp.CHIP_NAME != "ESP32-S3":
            raise RuviewError(f"the chip on {port} is an {esp.CHIP_NAME}, the build is for "
                              "ESP32-S3", "connect the ESP32-S3 node, or build for this chip")
        if not sim:
            if stub:
                esp = run_stub(esp)
            try:
                esp.change_baud(baud or FLASH_BAUD)
            except Exception:  # keep the initial baud rate
                pass
        attach_flash(esp)
        pairs = [(f.offset, f.data) for f in build.files]
        if erase_config:
            pairs.append((build.nvs[0], b"\xff" * build.nvs[1]))
            pairs.sort()
        params = dict(flash_mode=build.flash_mode, flash_size=build.flash_size,
                      flash_freq=build.flash_freq)
        written = []
        for off, data in pairs:
            f = next((x for x in build.files if x.offset == off), None)
            if on_file:
                on_file(f or FlashFile(off, Path("<erase NVS>"), "nvs-erase", data))
            write_flash(esp, [(off, data)], **params)
            written.append(off)
        if on_text:
            on_text("verifying")
        verify_flash(esp, pairs, **params)
        reset_chip(esp, "hard-reset")
        esp_reset = True
        return {"port": port, "written": [f.to_json() for f in build.files],
                "skipped": [f.to_json() for f in build.skipped], "nvs_erased": erase_config,
                "nvs": {"offset": build.nvs[0], "size": build.nvs[1]},
                "app_version": build.app_version, "verified": True}
    except FatalError as exc:
        raise RuviewError(f"flashing over {port} failed: {exc}",
                          "retry; if it keeps failing, try a lower baud rate or another cable"
                          ) from None
    finally:
        EspLog.instance = previous
        if esp is not None and not esp_reset:
            # A failed flash must not leave the chip in its ROM loader (issue 11.6): the
            # bootloader then runs whichever app still verifies, or says why on the console.
            try:
                reset_chip(esp, "hard-reset")
            except Exception:
                pass
        if esp is not None:
            try:
                esp._port.close()
            except Exception:
                pass


__all__ = ["load_build_dir", "flash_build", "BuildFlash", "FlashFile", "NVS_OFFSET", "NVS_SIZE"]
