"""One emulated node: the chip, its flash and its boot, the way an ESP32-S3 with ESP-IDF boots.

Every boot: the ROM prints its reset line on UART0, the second-stage bootloader (sim/bootloader.py:
partition table at 0x8000 -> otadata -> slot, image verification with fallback to the other
slots, rollback of an image that was pending verification) picks the app, then the app runs:

* our flavour: the firmware itself, firmware/main built for the host, as a child process for
  this boot (sim/firmware_app.py). Its HTTP/OTA server, NVS reading, self-test, rollback
  decisions, mDNS and UDP telemetry are the C code's. When the process ends (esp_restart, a
  panic, a watchdog) the node reboots through the bootloader with that reset reason.
* RuView 0.6.x: emulated in Python (config from NVS, http_node.py, telemetry by the fleet's
  streamer), as that firmware's source is not ours to build.

Decisions (where a real board leaves a choice or cannot be copied exactly):
* No bootable image (blank or corrupt slots, or no partition table): a real board resets in a
  loop inside the bootloader. The sim stays in state "no_app" with no HTTP and no mDNS until
  the next reboot (e.g. after esptool writes an app over serial and resets the chip).
* Crash-loop fault: an image that boots for the first time after an update while the fault is
  set crashes every time it boots (a property of that image, keyed by its SHA-256). Ours: the
  firmware process is aborted shortly after it starts; the bootloader then finds the image
  PENDING_VERIFY, marks it ABORTED and boots the previous slot. RuView 0.6.x has no rollback:
  the node crash-loops; the sim gives up after 3 boots and stays in state "crash_loop" (down)
  until it is re-flashed over serial.
* RuView 0.6.x with an invalid `target_ip` in NVS starts nothing (no HTTP), like the real
  firmware; state "halted". Our firmware's process exiting with a status that is neither a
  restart nor a crash (an emulator problem) also leaves the node "halted", with the reason in
  `boot_error` and the process's own words on the serial console.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from typing import Any, Callable

from ruview_cli.sim.bootloader import rom_banner
from ruview_cli.sim.faults import NodeFaults
from ruview_cli.sim.flash import FlashImage
from ruview_cli.sim.otadata import OtaData, PENDING_VERIFY, STATE_NAMES

FLAVORS = ("ours", "ruview-0.6")
RUVIEW06_MAX_SIZE = 921600
CHIP_REV = 2                 # ESP32-S3 v0.2
BASE_REBOOT_S = 0.05         # time the board is down for a plain reboot
CRASH_LOOP_GIVE_UP = 3
WAIT_POLL_S = 0.1
BOOT_TIMEOUT_S = 20.0        # a firmware process that is not up by then is reported as such
CONSOLE_TAIL = 64 * 1024     # serial output kept for `console_tail` (diagnostics, tests)

# esp_reset_reason_t names as our firmware reports them.
RESET_REASONS = ("poweron", "sw", "panic", "int_wdt", "task_wdt", "wdt", "brownout", "deepsleep",
                 "ext", "unknown")


class OtaSession:
    """esp_ota_begin/write/end on the inactive slot of one node."""

    def __init__(self, node: "SimNode", partition: Any):
        self.node = node
        self.partition = partition
        self.written = 0
        # OTA_SIZE_UNKNOWN: the whole slot is erased up front (RuView issue #556).
        node.flash.erase(partition.offset, partition.size)

    def write(self, data: bytes) -> None:
        if self.written + len(data) > self.partition.size:
            raise OSError("image larger than the OTA partition")
        self.node.flash.write(self.partition.offset + self.written, data)
        self.written += len(data)

    def abort(self) -> None:
        """esp_ota_abort: the half-written slot stays as it is; otadata is not touched."""

    def finish(self):
        """esp_ota_end (verify the image) + esp_ota_set_boot_partition; returns ImageInfo."""
        from ruview_cli.ota.image import inspect_image

        data = self.node.flash.read(self.partition.offset, self.written)
        info = inspect_image(data, chip_rev=self.node.chip_rev)
        node = self.node
        if node.faults.crash_loop:
            node.crashing_images.add(info.sha256)
        slot = node._slot_index(self.partition)
        node._otadata().set_boot_slot(slot, len(node._apps), rollback=node.rollback_enabled)
        return info


class SimNode:
    """One emulated ESP32-S3 node (see module docstring for the boot decisions)."""

    def __init__(self, index: int, ip: str, flash: FlashImage, mac: bytes,
                 flavor: str = "ours", http_port: int = 8032,
                 faults: NodeFaults | None = None, advertiser: Any = None,
                 on_boot: Callable[["SimNode"], None] | None = None,
                 on_down: Callable[["SimNode", str], None] | None = None,
                 chip_rev: int = CHIP_REV, ota_reboot_delay_s: float | None = None,
                 firmware: Any = None, radio: Any = None):
        if flavor not in FLAVORS:
            from ruview_cli.errors import UsageError

            raise UsageError(f"unknown node flavor {flavor!r}", "use ours or ruview-0.6")
        if len(mac) != 6:
            raise ValueError("mac must be 6 bytes")
        self.index = index
        self.ip = ip
        self.flash = flash
        self.mac = bytes(mac)
        self.flavor = flavor
        self.http_port = http_port
        self.faults = faults or NodeFaults()
        self.advertiser = advertiser
        self.on_boot = on_boot
        self.on_down = on_down
        self.chip_rev = chip_rev
        from ruview_cli.sim.http_node import OTA_REBOOT_DELAY_S

        if flavor == "ours" and firmware is None:
            from ruview_cli.sim.firmware_build import firmware_binary

            firmware = firmware_binary()
        # RuView 0.6.x waits 1 s after answering 200 before esp_restart(); tests may shorten it
        self.ota_reboot_delay_s = OTA_REBOOT_DELAY_S if ota_reboot_delay_s is None \
            else ota_reboot_delay_s

        self.state = "off"   # off | booting | running | no_app | crash_loop | halted | download
        self.boot_error: str | None = None
        self.config: Any = None
        self.config_warnings: list[str] = []
        self.version = ""
        self.app: Any = None          # ImageInfo of the running image
        self.running_slot: int | None = None
        self.running_partition: Any = None
        self.reset_reason = "poweron"
        self.boot_count = 0
        self.crash_count = 0
        self.crashing_images: set[str] = set()
        self.booted_at = 0.0
        self._parts: list = []
        self._apps: list = []
        self._http = None
        self._lock = threading.RLock()
        self.changed = threading.Condition(self._lock)
        self._drop_spent = False
        self._reboot_timer: threading.Timer | None = None
        self._closed = False
        self.on_console: Callable[[bytes], None] | None = None
        self.console_tail = b""       # UART0 output, last CONSOLE_TAIL bytes
        self.boot_log = b""           # UART0 output since the last reset
        self.firmware = firmware      # host-built firmware binary (ours); None: RuView 0.6.x
        self.radio = radio            # the fleet's FleetStreamer: delivers CSI to the firmware
        self._fw: Any = None          # FirmwareApp of the current boot
        self._own_radio: Any = None   # the radio of a node started without a fleet
        self._link: Any = None        # FaultyLink in front of the firmware's HTTP server
        self._link_port = 0
        self.app_status: dict = {}    # /ota/status as the firmware answered it once up
        self.mdns_name: str | None = None

    # --- properties the HTTP server and the fleet read ------------------------------------

    @property
    def rollback_enabled(self) -> bool:
        """Whether this node's bootloader rolls back: ours does (its description at 0x0 says
        so); RuView 0.6.x's does not, nor does ours after a 0.6 bootloader was flashed."""
        from ruview_cli.sim.bootloader import bootloader_rolls_back

        return self.flavor == "ours" and bootloader_rolls_back(self.flash)

    def install_bootloader(self, rollback: bool = True) -> None:
        """Write a 2nd-stage bootloader at 0x0, as a USB flash does (OTA never replaces it):
        ours (with rollback) or IDF's default, which RuView 0.6.x ships. Takes effect at the
        next reset."""
        from ruview_cli.sim.appimage import BOOTLOADER_VERSION_DEFAULT, \
            BOOTLOADER_VERSION_OURS, build_bootloader_image

        image = build_bootloader_image(BOOTLOADER_VERSION_OURS if rollback
                                       else BOOTLOADER_VERSION_DEFAULT)
        self.flash.erase(0, 0x8000)
        self.flash.write(0, image)

    @property
    def node_id(self) -> int | None:
        """As the app reports it: our firmware's /ota/status, RuView 0.6.x's config."""
        if self.firmware is not None:
            return self.app_status.get("node_id")
        value = getattr(self.config, "node_id", None) if self.config is not None else None
        return int(value) if value is not None else self.index

    @property
    def ota_psk(self) -> str:
        return (getattr(self.config, "ota_psk", "") or "") if self.config else ""

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def max_size(self) -> int:
        return RUVIEW06_MAX_SIZE

    def wait_for(self, predicate: Callable[["SimNode"], bool], timeout: float = 10.0) -> bool:
        """Block until predicate(node) holds (checked on every state change)."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not predicate(self):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                # The firmware process changes flash (otadata) without telling us: look again
                # every so often, not only on the state changes we see.
                self.changed.wait(min(left, WAIT_POLL_S))
            return True

    def _notify(self) -> None:
        with self.changed:
            self.changed.notify_all()

    # --- flash layout ---------------------------------------------------------------------

    def _otadata(self) -> OtaData:
        from ruview_cli.sim.bootloader import otadata_of

        return otadata_of(self.flash, self._parts)

    def _slot_index(self, part: Any) -> int:
        return self._apps.index(part) if part in self._apps else -1

    def _next_partition(self):
        """esp_ota_get_next_update_partition(NULL): the OTA slot after the running one."""
        if not self._apps:
            return None
        if self.running_slot is None or self.running_slot < 0:
            return self._apps[0]
        return self._apps[(self.running_slot + 1) % len(self._apps)]

    def _load_image(self, part: Any):
        from ruview_cli.sim.bootloader import load_image

        return load_image(self.flash, part, self.chip_rev)

    def _bootloader(self):
        """Second-stage bootloader: the BootChoice, or None (boot_error says why)."""
        from ruview_cli.sim.bootloader import BootFailure, select_app

        try:
            choice = select_app(self.flash, self.rollback_enabled, self.chip_rev,
                                log=self._console_line)
        except BootFailure as exc:
            self._parts, self._apps = [], []
            self.boot_error = str(exc)
            self._console_line(f"E boot: {exc}")
            return None
        self._parts, self._apps = choice.parts, choice.apps
        return choice

    def _console(self, data: bytes) -> None:
        """Bytes on UART0 (what a serial terminal on the node's port shows)."""
        self.console_tail = (self.console_tail + data)[-CONSOLE_TAIL:]
        self.boot_log = (self.boot_log + data)[-CONSOLE_TAIL:]
        if self.on_console is not None:
            self.on_console(data)

    def _console_line(self, text: str) -> None:
        self._console(text.encode() + b"\r\n")

    # --- life cycle -----------------------------------------------------------------------

    def boot(self, wait: bool = True) -> None:
        """Power on / come out of reset: bootloader, then the app. Our firmware starts as a
        process; with `wait` this returns once it is up (HTTP answering) or has failed."""
        if self.firmware is not None:
            self._boot_firmware()
            if wait:
                self.wait_for(lambda n: n.state != "booting", BOOT_TIMEOUT_S)
            return
        with self._lock:
            if self._closed or self.state == "running":
                return
            self.boot_count += 1
            self.boot_error = None
            crashes = 0
            while True:
                self.boot_log = b""
                self._console(rom_banner(self.reset_reason))
                chosen = self._bootloader()
                if chosen is None:
                    self._set_state("no_app")
                    return
                slot, part, info = chosen.slot, chosen.partition, chosen.info
                self.running_slot, self.running_partition, self.app = slot, part, info
                self.version = info.version
                if info.sha256 not in self.crashing_images:
                    break
                # The app panics during start-up: panic reset, the bootloader runs again.
                crashes += 1
                self.crash_count += 1
                self.reset_reason = "panic"
                if crashes >= CRASH_LOOP_GIVE_UP:
                    self.boot_error = (f"app {info.version} crashes at every boot and RuView "
                                       "0.6.x has no rollback; re-flash over serial")
                    self._set_state("crash_loop")
                    return
            self._load_config()
            if not self._target_ip_ok():
                self.boot_error = "invalid target_ip in NVS: RuView 0.6.x starts nothing"
                self._set_state("halted")
                return
            from ruview_cli.sim.http_node import start_http

            self._http = start_http(self, self.ip, self.http_port)
            self.http_port = self._http.server_address[1]  # port 0: keep the one picked
            self.booted_at = time.monotonic()
            self.state = "running"
            self._notify()
        if self.on_boot is not None:
            self.on_boot(self)

    # --- our firmware, built for the host, as a child process ---------------------------------

    def _boot_firmware(self) -> None:
        """ROM, bootloader, then the firmware process; `_app_up` marks it running once its
        HTTP server listens, `_app_exited` reboots it as the board would."""
        from ruview_cli.sim.firmware_app import FirmwareApp

        with self._lock:
            if self._closed or self.state in ("running", "booting"):
                return
            self.boot_count += 1
            self.boot_error = None
            self.boot_log = b""
            self._console(rom_banner(self.reset_reason))
            choice = self._bootloader()
            if choice is None:
                self._set_state("no_app")
                return
            self.running_slot, self.running_partition, self.app = \
                choice.slot, choice.partition, choice.info
            self.version = choice.info.version
            if choice.first_boot and self.faults.crash_loop:
                self.crashing_images.add(choice.info.sha256)
            self.state = "booting"
            if self.radio is None:  # a node on its own (no fleet) still needs a radio
                from ruview_cli.sim.streamer import FleetStreamer

                self.radio = self._own_radio = FleetStreamer(seed=self.index)
                self.radio.start()
            self._fw = FirmwareApp(self, choice, self.firmware, self._firmware_port())
            self._fw.start()
            self._notify()

    def _firmware_port(self) -> int:
        """The port the firmware listens on: the node's own, unless a link fault needs the
        emulator in between (sim/http_link.py); the link outlives reboots, as a network does."""
        from ruview_cli.sim.http_link import FaultyLink, free_port, needs_link

        if not needs_link(self.faults):
            return self.http_port
        if self._link is None:
            port = free_port(self.ip)
            self._link = FaultyLink(self, self.http_port, port)
            self._link_port = port
        return self._link_port

    def _app_up(self, app: Any) -> None:
        with self._lock:
            if app is not self._fw or self.state != "booting":
                return
            self.app_status = app.status
            self.booted_at = time.monotonic()
            self.state = "running"
            self._notify()
        if self.on_boot is not None:
            self.on_boot(self)

    def _app_exited(self, app: Any, status: int, reason: str | None) -> None:
        """The firmware process ended on its own: esp_restart, a panic or a watchdog."""
        with self._lock:
            if app is not self._fw or self._closed:
                return
            if reason is None:
                self.boot_error = (f"the firmware process exited with status {status} "
                                   "(not a restart, panic or watchdog): see the serial log")
                self._stop_app("halted", "halted")
                return
            if reason != "sw":
                self.crash_count += 1
        # ESP-IDF's panic handler prints, then resets; the ROM and bootloader run again.
        self._console(b"Rebooting...\r\n")
        self.reboot(reason)

    def abort_app(self) -> None:
        """The running firmware dies by SIGABRT, as abort() in any of its tasks does."""
        import signal

        with self._lock:
            if self._fw is not None:
                self._fw.proc.stop(signal.SIGABRT)

    def hang_app(self) -> None:
        """A task of the running firmware stops feeding the task watchdog."""
        with self._lock:
            if self._fw is not None:
                self._fw.send({"t": "fault", "name": "hang"})

    @property
    def app_slots(self) -> list:
        """The OTA app partitions of the table the bootloader read last, in slot order."""
        return list(self._apps)

    @property
    def ota_state(self) -> str:
        """The running image's otadata state, as the bootloader left it or the app set it
        (RuView 0.6.x has no rollback: always valid)."""
        if self.firmware is None or self.running_slot is None or self.running_slot < 0:
            return "valid"
        state = self._otadata().running_state(self.running_slot, len(self._apps))
        return "pending_verify" if state == PENDING_VERIFY else "valid"

    def _load_config(self) -> None:
        from ruview_cli.config.nvs import read_nvs
        from ruview_cli.sim.ruview06_config import load_node_config

        nvs_part = next((p for p in self._parts if p.name == "nvs"), None)
        raw: dict = {}
        if nvs_part is not None:
            try:
                raw = read_nvs(self.flash.read(nvs_part.offset, nvs_part.size))
            except Exception as exc:  # an unreadable NVS boots with defaults, like the firmware
                self.config_warnings = [f"NVS unreadable ({exc}): defaults used"]
                raw = {}
        self._raw_nvs = raw
        self.config, self.config_warnings = load_node_config(raw)

    def _target_ip_ok(self) -> bool:
        value = getattr(self, "_raw_nvs", {}).get("csi_cfg", {}).get("target_ip")
        if value is None:
            return True
        text = value.value if hasattr(value, "value") else value
        if not isinstance(text, str):
            return True  # wrong type: the typed getter ignores it
        try:
            ipaddress.IPv4Address(text)
            return len(text) <= 15
        except ValueError:
            return False

    def _stop_app(self, new_state: str, reason: str) -> None:
        with self._lock:
            if self._reboot_timer is not None:
                self._reboot_timer.cancel()
                self._reboot_timer = None
            was_running = self.state in ("running", "booting")
            if self._fw is not None:
                self._fw.stop()
                self._fw = None
            if self._http is not None:
                self._http.stop()
                self._http = None
            # A rebooting board sends no mDNS goodbye; its records are refreshed after boot
            # (or withdrawn if it does not come back). Power-off / download mode withdraw them.
            if self.advertiser is not None and was_running and new_state != "off_reboot":
                self.advertiser.withdraw(id(self))
            if new_state == "off_reboot":
                new_state = "off"
            self.state = new_state
            self._notify()
        if was_running and self.on_down is not None:
            self.on_down(self, reason)

    def reboot(self, reason: str = "sw") -> None:
        """esp_restart / reset: the app stops, the board is down a moment, then boots again."""
        if self._closed:
            return
        self._stop_app("off_reboot", reason)
        self.reset_reason = reason
        delay = BASE_REBOOT_S + max(0.0, self.faults.slow_reboot_s)
        if delay > 0:
            time.sleep(delay)  # the board is down; emulating that duration is the point
        self.boot()

    def schedule_reboot(self, reason: str, delay_s: float) -> None:
        """Reboot from another thread after `delay_s` (the firmware's vTaskDelay + restart)."""
        with self._lock:
            if self._reboot_timer is not None:
                self._reboot_timer.cancel()
            timer = threading.Timer(delay_s, self.reboot, args=(reason,))
            timer.daemon = True
            self._reboot_timer = timer
            timer.start()

    def enter_download_mode(self) -> None:
        """The chip was reset into the ROM serial loader (esptool): the app is not running."""
        self._stop_app("download", "download")

    def shutdown(self) -> None:
        """Power off: HTTP and mDNS go away; the flash keeps its contents."""
        self._stop_app("off", "shutdown")
        self._closed = True
        if self._link is not None:
            self._link.close()
            self._link = None
        if self._own_radio is not None:
            self._own_radio.stop()
            self._own_radio = None

    def take_drop_fault(self) -> int | None:
        """The drop-after fault fires on the first OTA upload only, so a retry can succeed."""
        with self._lock:
            if self.faults.drop_after_bytes is None or self._drop_spent:
                return None
            self._drop_spent = True
            return self.faults.drop_after_bytes

    def _set_state(self, state: str) -> None:
        """A boot that ended without a running app (no_app, crash_loop, halted)."""
        if self.advertiser is not None:
            self.advertiser.withdraw(id(self))
        self.state = state
        self.version = ""
        self.app = self.running_slot = self.running_partition = None
        self._notify()

    def ota_begin(self) -> OtaSession:
        part = self._next_partition()
        if part is None:
            raise OSError("no OTA partition available")
        return OtaSession(self, part)

    # --- /ota/status ----------------------------------------------------------------------

    def status(self) -> dict:
        """RuView 0.6.x's /ota/status (ours answers from the firmware)."""
        app = self.app
        nxt = self._next_partition()
        running = self.running_partition.name if self.running_partition is not None \
            else "unknown"
        base = {
            "version": app.version if app else "",
            "date": app.date if app else "",
            "time": app.time if app else "",
            "running_partition": running,
            "next_partition": nxt.name if nxt is not None else "none",
            "max_size": self.max_size,
        }
        return base

    def otadata_states(self) -> list[str]:
        """Both otadata entries as `seq:state` (diagnostics for the fleet table and tests)."""
        return [f"{e.seq}:{STATE_NAMES.get(e.state, hex(e.state))}" if e.crc_ok else "empty"
                for e in self._otadata().read()]


def build_node_flash(app_version: str = "1.0.0", nvs: dict | None = None,
                     flash_size: int = 8 * 1024 * 1024, app: bytes | None = None,
                     bootloader_version: int | None = None) -> FlashImage:
    """A flash image as `idf.py flash` leaves it: bootloader at 0x0 (ours, with rollback, unless
    `bootloader_version` says otherwise), partition table, app in ota_0, otadata erased, plus
    an NVS partition built from `nvs` ({namespace: {key: NvsValue}}) when given."""
    from ruview_cli.sim.appimage import BOOTLOADER_VERSION_OURS, build_app_image, \
        build_bootloader_image
    from ruview_cli.sim.partitions import LAYOUT_4MB, LAYOUT_8MB, TABLE_OFFSET, build_table, \
        by_name

    layout = LAYOUT_8MB if flash_size >= 8 * 1024 * 1024 else LAYOUT_4MB
    flash = FlashImage(flash_size)
    flash.write(0x0, build_bootloader_image(bootloader_version or BOOTLOADER_VERSION_OURS))
    flash.write(TABLE_OFFSET, build_table(layout))
    flash.write(by_name(layout, "ota_0").offset, app if app is not None
                else build_app_image(app_version))
    if nvs:
        from ruview_cli.config.nvs import build_nvs

        part = by_name(layout, "nvs")
        flash.write(part.offset, build_nvs(nvs, part.size))
    return flash


__all__ = ["SimNode", "build_node_flash", "OtaSession", "FLAVORS", "RUVIEW06_MAX_SIZE", "RESET_REASONS"]
