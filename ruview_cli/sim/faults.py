"""Faults an emulated node can be told to suffer (`ruview sim --fault name[=value]`).

One dataclass per node, read live. They act on what is not the firmware — the radio, the
process, the links, the board's timing — so the firmware's own code meets them as on a board
(sim/firmware_app.py says how each one acts on our flavour; RuView 0.6.x is emulated in
Python and reads them directly).
"""

from __future__ import annotations

from dataclasses import dataclass

from ruview_cli.errors import UsageError


@dataclass
class NodeFaults:
    selftest_fail: bool = False          # no CSI reaches an image pending verification → its
                                         # self-test fails → rollback
    crash_loop: bool = False             # an updated image aborts at every boot → bootloader
                                         # rollback (or a crash loop without one)
    drop_after_bytes: int | None = None  # OTA upload / serial link dies after N body bytes
    throttle_kbps: float | None = None   # OTA body read at most this many KB/s (1 KB = 1024 B)
    serial_baud: int | None = None       # serial link speed (time per byte)
    udp_loss: float = 0.0                # fraction 0..1 of telemetry datagrams dropped
    mdns_silent: bool = False            # the node never answers mDNS
    slow_reboot_s: float = 0.0           # extra seconds a reboot takes before the app is up


# name -> (field, kind); kind says how the value is parsed.
_FAULTS: dict[str, tuple[str, str]] = {
    "selftest-fail": ("selftest_fail", "flag"),
    "crash-loop": ("crash_loop", "flag"),
    "drop-after": ("drop_after_bytes", "int"),
    "throttle": ("throttle_kbps", "float"),
    "serial-baud": ("serial_baud", "int"),
    "udp-loss": ("udp_loss", "percent"),
    "mdns-silent": ("mdns_silent", "flag"),
    "slow-reboot": ("slow_reboot_s", "float"),
}

FAULT_NAMES = tuple(_FAULTS)

_FIX = (
    "use one of: selftest-fail, crash-loop, drop-after=BYTES, throttle=KBPS, serial-baud=BAUD, "
    "udp-loss=PERCENT, mdns-silent, slow-reboot=SECONDS"
)


def parse_fault(spec: str, faults: NodeFaults | None = None) -> NodeFaults:
    """Apply one `name[=value]` fault to `faults` in place (a new NodeFaults when None); return it.

    `udp-loss` takes a percentage (`udp-loss=5` = 5 %, `udp-loss=0.05` is read as 0.05 %).
    """
    faults = faults if faults is not None else NodeFaults()
    name, sep, raw = spec.strip().partition("=")
    name = name.strip().lower().replace("_", "-")
    if name not in _FAULTS:
        raise UsageError(f"unknown fault {name!r}", _FIX)
    field, kind = _FAULTS[name]
    raw = raw.strip()
    if kind == "flag":
        if sep and raw.lower() not in ("1", "true", "yes", "on", "0", "false", "no", "off"):
            raise UsageError(f"fault {name} takes no value (got {raw!r})", f"write --fault {name}")
        value: object = not (sep and raw.lower() in ("0", "false", "no", "off"))
    else:
        if not raw:
            raise UsageError(f"fault {name} needs a value", f"write --fault {name}=VALUE")
        try:
            number = float(raw) if kind != "int" else int(raw, 0)
        except ValueError:
            raise UsageError(f"fault {name}: {raw!r} is not a number", _FIX) from None
        if number < 0 or (kind in ("int",) and number == 0 and name != "drop-after"):
            raise UsageError(f"fault {name}: value must be positive (got {raw})", _FIX)
        if kind == "percent":
            if number > 100:
                raise UsageError(f"fault {name}: {raw} % is over 100", "give a percentage 0..100")
            value = number / 100.0
        elif kind == "float" and name == "throttle" and number == 0:
            raise UsageError("fault throttle: 0 KB/s would never finish", "give a rate > 0 KB/s")
        else:
            value = number
    setattr(faults, field, value)
    return faults


__all__ = ["NodeFaults", "parse_fault", "FAULT_NAMES"]
