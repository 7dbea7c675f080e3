"""An emulated fleet: many SimNodes in one process, each on its own loopback address.

Node i (0-based) lives on host number first_host + i of 127.0.0.0/8, i.e. 127.(h>>16).(h>>8).h
(first_host 2 = 127.0.0.2) — any 127/8 address works on Linux without
setup — with its HTTP control/OTA server on port 8032 of that address, its ROM serial loader on a
TCP port (`socket://`) and a pty, its mDNS advert through one shared Zeroconf, and its telemetry
sent from that address by the shared FleetStreamer.

Like real boards, nodes come up provisioned (distinct node_ids, WiFi, telemetry target) but with
no OTA key, so OTA is refused until one is provisioned; `psk` provisions one on every node and
`factory=True` leaves NVS blank, as boards arrive out of the box.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ruview_cli.errors import UsageError
from ruview_cli.sim.faults import NodeFaults
from ruview_cli.versions import firmware_version

FACTORY_VERSION = firmware_version()  # the emulated nodes run the firmware this tree builds
FACTORY_VERSION_06 = "0.6.5"
SIM_SSID = "ruview-sim"
# Espressif's OUI: the sim's MACs look like the boards' (and never collide with each other).
_OUI = bytes.fromhex("3485 18".replace(" ", ""))


@dataclass
class FleetOptions:
    nodes: int = 3
    flavor: str = "ours"
    scenario: str = "breathing"
    scenario_params: dict = field(default_factory=dict)
    faults: NodeFaults = field(default_factory=NodeFaults)
    target: tuple[str, int] = ("127.0.0.1", 5005)
    psk: str | None = None
    factory: bool = False
    mdns_interface: str | None = None
    first_host: int = 2
    http_port: int = 8032
    pty: bool = True
    seed: int = 0
    stream: bool = True
    edge_tier: int = 2
    selftest_delay_s: float | None = None


def node_mac(index: int, seed: int = 0) -> bytes:
    tail = hashlib.sha256(f"ruview-sim/{seed}/{index}".encode()).digest()[:3]
    return _OUI + tail


def node_ip(options: FleetOptions, index: int) -> str:
    host = options.first_host + index
    return f"127.{host // 65536 % 256}.{host // 256 % 256}.{host % 256}"


def factory_nvs(options: FleetOptions, index: int) -> bytes:
    """The NVS a node of this fleet starts with (erased flash for `factory`)."""
    from ruview_cli.config.nvs import NvsValue, build_nvs

    if options.factory:
        return b"\xff" * 0x6000
    csi = {
        "ssid": NvsValue("str", SIM_SSID),
        "password": NvsValue("str", "sim-" + hashlib.sha256(b"%d" % options.seed).hexdigest()[:12]),
        "target_ip": NvsValue("str", options.target[0]),
        "target_port": NvsValue("u16", int(options.target[1])),
        "node_id": NvsValue("u8", index + 1),
        "edge_tier": NvsValue("u8", options.edge_tier),
    }
    values = {"csi_cfg": csi}
    if options.psk:
        values["security"] = {"ota_psk": NvsValue("str", options.psk)}
    return build_nvs(values)


def validate_options(options: FleetOptions) -> None:
    if not 1 <= options.nodes <= 250:
        raise UsageError(f"--nodes {options.nodes} out of range", "run 1 to 250 nodes")
    if options.flavor not in ("ours", "ruview-0.6"):
        raise UsageError(f"unknown flavor {options.flavor!r}", "use --flavor ours or ruview-0.6")
    if options.psk is not None:
        psk = options.psk
        if not 8 <= len(psk) <= 64 or not psk.isprintable():
            raise UsageError("the OTA PSK must be 8 to 64 printable characters",
                             "give e.g. 64 hex characters: --psk $(openssl rand -hex 32)")
    if options.first_host < 1 or options.first_host + options.nodes > 0xFFFFFE:
        raise UsageError("too many nodes for the 127.0.0.0/8 range from --first-host",
                         "lower --first-host or --nodes")


class SimFleet:
    """Starts, holds and stops the emulated nodes and their shared services."""

    def __init__(self, options: FleetOptions):
        validate_options(options)
        self.options = options
        self.nodes: list[Any] = []
        self.endpoints: list[Any] = []
        self.advertiser = None
        self.streamer = None
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, on_ready: Callable[[dict], None] | None = None) -> list[dict]:
        """Bring every node up; call on_ready(info) for each as soon as it is ready."""
        from ruview_cli.sim.appimage import build_app_image
        from ruview_cli.sim.flash import FlashImage
        from ruview_cli.sim.node import SimNode
        from ruview_cli.sim.partitions import LAYOUT_8MB, TABLE_OFFSET, build_table, by_name
        from ruview_cli.sim.serial_link import SerialEndpoint
        from ruview_cli.sim.serial_rom import RomLoader
        from ruview_cli.sim.streamer import FleetStreamer

        opts = self.options
        if opts.stream:
            self.streamer = FleetStreamer(opts.scenario, opts.scenario_params, seed=opts.seed)
            self.streamer.start()
        if opts.flavor == "ours":
            from ruview_cli.sim.mdns import MdnsAdvertiser

            self.advertiser = MdnsAdvertiser(opts.mdns_interface)
        version = FACTORY_VERSION if opts.flavor == "ours" else FACTORY_VERSION_06
        project = "ruview" if opts.flavor == "ours" else "esp32-csi-node"
        app = build_app_image(version, project_name=project)
        table = build_table(LAYOUT_8MB)
        ota0 = by_name(LAYOUT_8MB, "ota_0")
        nvs = by_name(LAYOUT_8MB, "nvs")

        infos = []
        try:
            for i in range(opts.nodes):
                flash = FlashImage()
                flash.write(0x0, _BOOTLOADER_STUB)
                flash.write(TABLE_OFFSET, table)
                flash.write(nvs.offset, factory_nvs(opts, i))
                flash.write(ota0.offset, app)
                kwargs = {}
                if opts.selftest_delay_s is not None:
                    kwargs["selftest_delay_s"] = opts.selftest_delay_s
                node = SimNode(i, node_ip(opts, i), flash, node_mac(i, opts.seed),
                               flavor=opts.flavor, http_port=opts.http_port,
                               faults=_copy_faults(opts.faults), advertiser=self.advertiser,
                               on_boot=self._on_boot, on_down=self._on_down, **kwargs)
                loader = RomLoader(flash, node.mac, on_reset=lambda n=node: n.reboot("ext"),
                                   baud_limit=opts.faults.serial_baud,
                                   drop_after_bytes=opts.faults.drop_after_bytes)
                loader.on_sync = node.enter_download_mode  # esptool took the chip over
                endpoint = SerialEndpoint(loader, pty=opts.pty).start()
                self.nodes.append(node)
                self.endpoints.append(endpoint)
                node.boot()
                info = self.describe(i)
                infos.append(info)
                if on_ready:
                    on_ready(info)
        except BaseException:
            self.stop()
            raise
        return infos

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.streamer:
            self.streamer.stop()
        for node in self.nodes:
            try:
                node.shutdown()
            except Exception:  # one broken node must not keep the others running
                pass
        for endpoint in self.endpoints:
            endpoint.stop()
        if self.advertiser:
            self.advertiser.close()

    def __enter__(self) -> "SimFleet":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- what the CLI shows ----------------------------------------------------------------
    def describe(self, index: int) -> dict:
        """The stable --json record of one node (documented in `ruview sim --help`)."""
        from ruview_cli.sim.mdns import instance_name

        node = self.nodes[index]
        endpoint = self.endpoints[index]
        mac = node.mac.hex(":")
        node_id = node.config.node_id if node.config else None
        return {
            "index": index,
            "node_id": node_id,
            "mac": mac,
            "ip": node.ip,
            "http_port": node.http_port,
            "serial_url": endpoint.url,
            "pty": endpoint.pty_path,
            "mdns_name": (f"{instance_name(node_id or 0, node.mac)}._ruview._tcp.local."
                          if node.flavor == "ours" and not node.faults.mdns_silent else None),
            "flavor": node.flavor,
            "version": node.version,
            "state": node.state,
            "ota_psk": bool(node.config and node.config.ota_psk),
            "target": (f"{node.config.target_ip}:{node.config.target_port}"
                       if node.config and node.config.target_ip else None),
        }

    def wait_ready(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            if not node.wait_for(lambda n: n.state == "running", max(0.0, deadline - time.monotonic())):
                return False
        return True

    # -- node callbacks --------------------------------------------------------------------
    def _on_boot(self, node: Any) -> None:
        if self.streamer is not None and not self._stopped:
            self.streamer.attach(node)

    def _on_down(self, node: Any, reason: str) -> None:
        if self.streamer is not None:
            self.streamer.detach(node, reason)


def _copy_faults(faults: NodeFaults) -> NodeFaults:
    import dataclasses

    return dataclasses.replace(faults)


# The second-stage bootloader image at 0x0 is not executed by the sim; a recognisable ESP image
# header keeps `esptool image-info` and read-backs of a whole flash meaningful.
_BOOTLOADER_STUB = bytes([0xE9, 0x00, 0x02, 0x3F]) + b"\x00" * 12 + b"\xff" * 16


def wait_forever(stop: threading.Event) -> None:
    while not stop.wait(0.5):
        pass
