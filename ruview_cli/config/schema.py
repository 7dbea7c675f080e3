"""The node configuration schema: ONE table describing every NVS key the firmware reads.

Per key: namespace, NVS key and type, the compiled default, the valid range of the *stored*
value, the human unit and how a human value maps to the stored one (pres_thresh 0.05 → 50),
the CLI flag, a help line, and whether it is a secret. The `provision` options, profile
validation, NVS image building, read-back, diffs and `config show` are all derived from here;
tests/test_schema.py checks the table against the firmware's own (`_edge.nvs_keys()`).

Stored values are what NVS holds (int, str, bytes). Human values are what a user types or a
profile holds (0.05, "auto", "1,6,11", "aa:bb:cc:dd:ee:ff").
"""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from typing import Any

from ruview_cli.errors import UsageError

# how a human value is written and converted; see Key.parse
KIND_INT = "int"          # plain integer in the stored unit
KIND_MILLI = "milli"      # decimal number, stored ×1000 (thresholds)
KIND_BOOL = "bool"        # 0/1, also yes/no/true/false/on/off
KIND_STR = "str"          # text, length limits in bytes
KIND_IPV4 = "ipv4"        # dotted IPv4 text
KIND_CHANNELS = "channels"  # "1,6,11" → blob of u8 channel numbers
KIND_MAC = "mac"          # "aa:bb:cc:dd:ee:ff" → 6-byte blob
KIND_HEX = "hex"          # hex text → blob
KIND_CHANNEL = "channel"  # one WiFi channel: 0 (follow the AP), 1..14 or 36..177


def wifi_24ghz_channel(value: int) -> bool:
    """A channel the ESP32-S3 radio can hop to: 2.4 GHz, 1..14."""
    return 1 <= value <= 14


def wifi_channel_ok(value: int) -> bool:
    """The firmware's rule for a fixed channel (rv_nvs_int_valid): 0, 2.4 GHz or 5 GHz."""
    return value == 0 or 1 <= value <= 14 or 36 <= value <= 177

# The firmware a node runs decides what it does with each stored value (Key.use).
FIRMWARE_OURS = "ours"
FIRMWARE_06 = "ruview-0.6"      # RuView 0.6.x, checked against 0.6.5 (nvs_config.c, Kconfig)
FIRMWARES = (FIRMWARE_OURS, FIRMWARE_06)


@dataclass(frozen=True)
class Use:
    """What one firmware does with a key: the value it uses when none is stored (its compiled
    default), and the stored values it takes (ints: min..max; str/blob: length in bytes).
    A stored value outside is ignored: the node keeps the default."""

    default: int | str | None
    min: int
    max: int


PANEL_MAIN = "Node configuration"
PANEL_MORE = "More NVS keys"


@dataclass(frozen=True)
class Key:
    ns: str
    key: str
    type: str                 # NVS type: u8/u16/u32/str/blob
    default: int | None       # the firmware's compiled default (None: unset = feature off)
    min: int                  # stored value range; for str/blob: length range in bytes
    max: int
    kind: str
    unit: str
    help: str
    secret: bool = False
    prominent: bool = False   # shown in the main --help panel
    auto_zero: bool = False   # "auto" means stored 0 (pres_thresh: adaptive calibration)
    ruview06: Use | None = None  # where RuView 0.6.x differs from ours (None: it does the same)

    def use(self, firmware: str = FIRMWARE_OURS) -> Use:
        """What `firmware` does with this key. The ranges above (min, max) are ours, and every
        value they allow is one RuView 0.6.x takes too, so what provision writes is portable."""
        if firmware == FIRMWARE_06 and self.ruview06 is not None:
            return self.ruview06
        return Use(self.default, self.min, self.max)

    def default_for(self, firmware: str = FIRMWARE_OURS) -> int | str | None:
        return self.use(firmware).default

    @property
    def name(self) -> str:
        """The schema key name (what profiles, `--set` and the library use)."""
        return self.key

    @property
    def flag(self) -> str:
        return "--" + self.key.replace("_", "-")

    @property
    def is_int(self) -> bool:
        return self.type not in ("str", "blob")

    # -- human → stored ------------------------------------------------------------------------
    def parse(self, value: Any, source: str | None = None) -> int | str | bytes:
        """Convert a human value (CLI text, TOML value, Python value) to the stored value.

        Raises UsageError naming the flag (or `source`), the value and the allowed range.
        """
        where = source or self.flag
        shown = "<secret>" if self.secret else repr(value)

        def bad(why: str) -> UsageError:
            return UsageError(f"{where}: {shown} {why}", f"allowed: {self.describe_range()}")

        if self.kind in (KIND_INT, KIND_BOOL, KIND_MILLI, KIND_CHANNEL):
            if self.kind == KIND_BOOL and isinstance(value, str):
                low = value.strip().lower()
                if low in ("yes", "true", "on"):
                    value = 1
                elif low in ("no", "false", "off"):
                    value = 0
            if self.auto_zero and isinstance(value, str) and value.strip().lower() == "auto":
                return 0
            if isinstance(value, bool):
                value = int(value)
            if self.kind == KIND_MILLI:
                try:
                    num = float(value)
                except (TypeError, ValueError):
                    raise bad("is not a number") from None
                if not math.isfinite(num):
                    raise bad("is not a finite number")
                stored = round(num * 1000)
                if abs(stored - num * 1000) > 1e-6 * max(1.0, abs(num * 1000)):
                    raise bad("has more than 3 decimals")
            else:
                if isinstance(value, float):
                    if not value.is_integer():
                        raise bad("is not a whole number")
                    value = int(value)
                if isinstance(value, str):
                    try:
                        value = int(value.strip(), 0)
                    except ValueError:
                        raise bad("is not a whole number") from None
                if not isinstance(value, int):
                    raise bad("is not a whole number")
                stored = value
            if not self.min <= stored <= self.max:
                raise bad("is out of range")
            if self.kind == KIND_CHANNEL and not wifi_channel_ok(stored):
                raise bad("is not a WiFi channel")
            return stored

        if self.kind in (KIND_STR, KIND_IPV4):
            if not isinstance(value, str):
                raise bad("is not text")
            if "\x00" in value or not value.isprintable():
                raise bad("contains control characters")
            n = len(value.encode("utf-8"))
            if not self.min <= n <= self.max:
                raise bad(f"is {n} bytes long")
            if self.kind == KIND_IPV4:
                try:
                    ipaddress.IPv4Address(value)
                except ValueError:
                    raise bad("is not a dotted IPv4 address") from None
            return value

        if self.kind == KIND_CHANNELS:
            items = value if isinstance(value, (list, tuple)) else str(value).split(",")
            texts = [str(c).strip() for c in items]
            if "" in texts:
                raise bad("has an empty item")
            try:
                chans = [int(c) for c in texts]
            except ValueError:
                raise bad("is not a comma-separated channel list") from None
            if any(not wifi_24ghz_channel(c) for c in chans):
                raise bad("has a channel outside 1..14 (the ESP32-S3 radio is 2.4 GHz only)")
            data = bytes(chans)
        elif self.kind == KIND_MAC:
            text = str(value).strip().lower().replace("-", ":")
            try:
                data = bytes(int(p, 16) for p in text.split(":")) if ":" in text else bytes.fromhex(text)
            except ValueError:
                raise bad("is not a MAC address (aa:bb:cc:dd:ee:ff)") from None
        else:  # KIND_HEX
            if isinstance(value, (bytes, bytearray)):
                data = bytes(value)
            else:
                try:
                    data = bytes.fromhex(str(value).strip())
                except ValueError:
                    raise bad("is not hex") from None
        if not self.min <= len(data) <= self.max:
            raise bad(f"is {len(data)} bytes long")
        return data

    # -- stored → human ------------------------------------------------------------------------
    def human(self, stored: int | str | bytes | None) -> Any:
        """The value in the unit a user types (for profiles, JSON and diffs)."""
        if stored is None:
            return None
        if self.kind == KIND_MILLI:
            return stored / 1000
        if self.kind == KIND_CHANNELS:
            return ",".join(str(b) for b in stored)
        if self.kind == KIND_MAC:
            return bytes(stored).hex(":")
        if self.kind == KIND_HEX:
            return bytes(stored).hex()
        return stored

    def show(self, stored: int | str | bytes | None, show_secrets: bool = False) -> str:
        """One-cell text for tables and diffs; secrets masked."""
        if stored is None:
            return "-"
        if self.secret and not show_secrets:
            return "<set>" if stored != "" else "<empty>"
        if self.auto_zero and stored == 0:
            return "auto"
        h = self.human(stored)
        if self.kind == KIND_MILLI:
            text = f"{h:.3f}".rstrip("0")
            text += "0" if text.endswith(".") else ""
        elif isinstance(h, str) and self.kind in (KIND_STR, KIND_IPV4):
            text = h
        else:
            text = str(h)
        return f"{text} {self.unit}".rstrip() if self.unit and self.is_int else text

    def describe_range(self, firmware: str = FIRMWARE_OURS) -> str:
        """The values `firmware` takes, in the unit a user types."""
        low, high = self.use(firmware).min, self.use(firmware).max
        if self.kind == KIND_MILLI:
            lo = "auto (0), " if self.auto_zero else ""
            return f"{lo}{max(low, 1 if self.auto_zero else low) / 1000:g}..{high / 1000:g}"
        if self.kind == KIND_BOOL:
            return "0 or 1 (yes/no)"
        if self.kind == KIND_CHANNEL:
            return "0 (follow the AP), 1..14 or 36..177"
        if self.kind == KIND_IPV4:
            return "a dotted IPv4 address, e.g. 192.168.1.20"
        if self.kind == KIND_CHANNELS:
            return (f"{low}..{high} WiFi channels 1..14 (2.4 GHz), comma-separated, "
                    "no empty items, e.g. 1,6,11")
        if self.kind == KIND_MAC:
            return "a MAC address aa:bb:cc:dd:ee:ff"
        if self.kind == KIND_HEX:
            return f"{low * 2} hex characters" if low == high else f"{low}..{high} bytes as hex"
        if self.kind == KIND_STR:
            return f"text of {low}..{high} bytes"
        return f"{low}..{high}" + (f" {self.unit}" if self.unit else "")

    def valid_stored(self, stored: Any, firmware: str = FIRMWARE_OURS) -> bool:
        """Would `firmware` use this stored value (type and range)?"""
        use = self.use(firmware)
        if self.is_int:
            ok = isinstance(stored, int) and not isinstance(stored, bool) and use.min <= stored <= use.max
            return ok and (self.kind != KIND_CHANNEL or wifi_channel_ok(stored))
        if self.type == "str":
            if not isinstance(stored, str) or not use.min <= len(stored.encode()) <= use.max:
                return False
            if self.kind == KIND_IPV4:
                try:
                    ipaddress.IPv4Address(stored)
                except ValueError:
                    return False
            return True
        return isinstance(stored, (bytes, bytearray)) and use.min <= len(stored) <= use.max


def _k(ns, key, typ, default, lo, hi, kind, unit, help, **kw) -> Key:
    return Key(ns, key, typ, default, lo, hi, kind, unit, help, **kw)


C, S = "csi_cfg", "security"
U32_MAX = 0xFFFFFFFF
U16_MAX = 0xFFFF

# The table. Order = order in --help, `config show` and diffs.
KEYS: tuple[Key, ...] = (
    # the six edge-intelligence keys (ADR-039)
    _k(C, "edge_tier", "u8", 2, 0, 2, KIND_INT, "",
       "0 raw CSI passthrough, 1 basic DSP + vitals, 2 full edge intelligence", prominent=True),
    _k(C, "pres_thresh", "u16", 0, 0, 65535, KIND_MILLI, "",
       "presence threshold (e.g. 0.05), or 'auto' for adaptive calibration", prominent=True,
       auto_zero=True),
    _k(C, "fall_thresh", "u16", 3000, 1, 65535, KIND_MILLI, "",
       "fall threshold: change energy over the quiet-room floor (e.g. 3.0; higher = fewer false alarms)", prominent=True,
       ruview06=Use(15000, 0, U16_MAX)),  # 0.6.5: no range check (0 is used); Kconfig 15000
    _k(C, "vital_win", "u16", 256, 32, 256, KIND_INT, "frames",
       "phase history window in frames (32..256)", prominent=True),
    _k(C, "vital_int", "u16", 1000, 100, 10000, KIND_INT, "ms",
       "vitals packet interval in ms (100..10000)", prominent=True,
       ruview06=Use(1000, 100, U16_MAX)),  # 0.6.5: only >= 100 is checked
    _k(C, "subk_count", "u8", 8, 1, 32, KIND_INT, "",
       "top-K subcarriers used for vitals (1..32)", prominent=True),
    # network
    _k(C, "ssid", "str", None, 1, 32, KIND_STR, "", "WiFi network name (1..32 bytes)", prominent=True,
       ruview06=Use("wifi-densepose", 1, 32)),  # 0.6.5 Kconfig CSI_WIFI_SSID
    _k(C, "password", "str", None, 0, 64, KIND_STR, "",
       "WiFi password (0..64 bytes; empty = open network)", secret=True, prominent=True),
    _k(C, "target_ip", "str", None, 7, 15, KIND_IPV4, "",
       "IPv4 address of the collector that receives the UDP telemetry", prominent=True,
       ruview06=Use("192.168.1.100", 7, 15)),  # 0.6.5 Kconfig CSI_TARGET_IP
    _k(C, "target_port", "u16", 5005, 1, 65535, KIND_INT, "", "UDP port of the collector",
       prominent=True),
    _k(C, "node_id", "u8", 1, 0, 255, KIND_INT, "", "node id carried in every packet (0..255)",
       prominent=True),
    # TDM and channel hopping
    _k(C, "tdm_slot", "u8", 0, 0, 255, KIND_INT, "", "TDM slot of this node"),
    _k(C, "tdm_nodes", "u8", 1, 1, 255, KIND_INT, "", "number of TDM slots in the mesh"),
    _k(C, "hop_count", "u8", 1, 1, 6, KIND_INT, "", "channels to hop across (1 = no hopping)"),
    _k(C, "chan_list", "blob", None, 1, 6, KIND_CHANNELS, "", "hop channel list, e.g. 1,6,11"),
    _k(C, "dwell_ms", "u32", 50, 10, U32_MAX, KIND_INT, "ms", "dwell time per hop channel"),
    # power and radio
    _k(C, "power_duty", "u8", 100, 10, 100, KIND_INT, "%", "radio power duty cycle (10..100 %)"),
    _k(C, "csi_channel", "u8", 0, 0, 177, KIND_CHANNEL, "", "fixed CSI channel (0 = follow the AP)"),
    _k(C, "filter_mac", "blob", None, 6, 6, KIND_MAC, "", "only use CSI from this transmitter MAC"),
    # WASM modules
    _k(C, "wasm_max", "u8", 4, 1, 8, KIND_INT, "", "maximum loaded WASM modules"),
    _k(C, "wasm_verify", "u8", 1, 0, 1, KIND_BOOL, "", "require signed WASM modules (1) or not (0)"),
    _k(C, "wasm_pubkey", "blob", None, 32, 32, KIND_HEX, "", "Ed25519 key for WASM signatures (64 hex)"),
    # swarm bridge
    _k(C, "seed_url", "str", None, 0, 63, KIND_STR, "", "swarm seed URL"),
    _k(C, "seed_token", "str", None, 0, 63, KIND_STR, "", "swarm seed token", secret=True),
    _k(C, "zone_name", "str", None, 0, 15, KIND_STR, "", "zone name (0..15 bytes)",
       ruview06=Use("default", 0, 15)),
    _k(C, "swarm_hb", "u16", 30, 1, 65535, KIND_INT, "s", "swarm heartbeat interval",
       ruview06=Use(30, 0, U16_MAX)),  # 0.6.5 uses the stored value as is, 0 included
    _k(C, "swarm_ingest", "u16", 5, 1, 65535, KIND_INT, "s", "swarm ingest interval",
       ruview06=Use(5, 0, U16_MAX)),
    # security namespace
    _k(S, "ota_psk", "str", None, 1, 64, KIND_STR, "",
       "OTA upload key (1..64 chars); generated when neither node nor command has one",
       secret=True, prominent=True),
)

BY_NAME: dict[str, Key] = {k.key: k for k in KEYS}
BY_NVS: dict[tuple[str, str], Key] = {(k.ns, k.key): k for k in KEYS}
NAMESPACES: tuple[str, ...] = tuple(dict.fromkeys(k.ns for k in KEYS))
SECRET_NAMES = frozenset(k.key for k in KEYS if k.secret)


def key(name: str) -> Key:
    """The Key for a schema name; accepts flag spelling (edge-tier, --edge-tier) too."""
    norm = name.strip().lstrip("-").replace("-", "_").lower()
    ns = None
    if "." in norm:  # "csi_cfg.edge_tier": the namespace must be the key's own
        ns, norm = norm.split(".", 1)
    k = BY_NAME.get(norm)
    if k is not None and ns is not None and ns != k.ns:
        raise UsageError(f"configuration key {name!r}: {k.key} lives in namespace {k.ns}, "
                         f"not {ns}", f"write {k.ns}.{k.key} or just {k.key}")
    if k is None:
        import difflib

        close = difflib.get_close_matches(norm, list(BY_NAME), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise UsageError(f"unknown configuration key {name!r}",
                         f"{hint}known keys: {', '.join(BY_NAME)}")
    return k


def parse_changes(changes: dict[str, Any], source: str | None = None) -> dict[str, Any]:
    """Validate {name: human value} → {name: stored value}. Raises on the first bad entry.

    `source` names where the values came from ("profile vitals") for error messages.
    None values are skipped (an option that was not given).
    """
    out: dict[str, Any] = {}
    for name, value in changes.items():
        if value is None:
            continue
        k = key(name)
        where = f"{source}: {k.key}" if source else k.flag
        out[k.key] = k.parse(value, where)
    return out


def check_consistency(stored: dict[str, Any]) -> list[str]:
    """Cross-key problems in a merged configuration that would stop the node working."""
    problems = []
    if stored.get("tdm_nodes") is not None and stored.get("tdm_slot") is not None:
        if stored["tdm_slot"] >= stored["tdm_nodes"]:
            problems.append(f"tdm_slot {stored['tdm_slot']} must be below tdm_nodes {stored['tdm_nodes']}")
    return problems


def effective(stored: dict[str, Any], firmware: str = FIRMWARE_OURS) -> dict[str, Any]:
    """Stored values with `firmware`'s defaults filled in for keys that are not set."""
    return {k.key: stored.get(k.key, k.default_for(firmware)) for k in KEYS}


def to_nvs(stored: dict[str, Any], extra: dict | None = None) -> dict:
    """{namespace: {key: NvsValue}} for build_nvs: schema keys with their exact NVS types, plus
    `extra` entries (keys the schema does not know, carried over from the device verbatim)."""
    from ruview_cli.config.nvs import NvsValue

    out: dict[str, dict] = {}
    for ns, keys in (extra or {}).items():
        out.setdefault(ns, {}).update(keys)
    for k in KEYS:
        if k.key in stored and stored[k.key] is not None:
            out.setdefault(k.ns, {})[k.key] = NvsValue(k.type, stored[k.key])
    return {ns: v for ns, v in out.items() if v}


@dataclass
class DecodedConfig:
    """What a node's NVS holds, read through the schema."""

    stored: dict[str, Any]          # schema keys with a usable value: name → stored value
    ignored: dict[str, str]         # schema keys present but ignored by the firmware: name → why
    extra: dict[str, dict]          # {ns: {key: NvsValue}} for keys the schema does not know


def from_nvs(nvs: dict[str, dict], firmware: str = FIRMWARE_OURS) -> DecodedConfig:
    """Split read_nvs() output into values `firmware` uses, values it ignores (wrong type or
    out of its range: it keeps its default) and entries the schema does not know."""
    stored: dict[str, Any] = {}
    ignored: dict[str, str] = {}
    extra: dict[str, dict] = {}
    for ns, entries in nvs.items():
        for name, v in entries.items():
            k = BY_NVS.get((ns, name))
            if k is None:
                extra.setdefault(ns, {})[name] = v
                continue
            if v.type != k.type:
                ignored[k.key] = f"stored as {v.type}, the firmware reads {k.type}"
            elif not k.valid_stored(v.value, firmware):
                ignored[k.key] = f"value out of range ({k.describe_range(firmware)})"
            else:
                stored[k.key] = bytes(v.value) if isinstance(v.value, (bytes, bytearray)) else v.value
    return DecodedConfig(stored, ignored, extra)


def redact(stored: dict[str, Any], show_secrets: bool = False) -> dict[str, Any]:
    """Human values for JSON output: secrets become "<set>" unless show_secrets."""
    out = {}
    for name, v in stored.items():
        k = BY_NAME.get(name)
        if k is None:
            continue
        if k.secret and not show_secrets and v is not None:
            out[name] = "<set>"
        else:
            out[name] = k.human(v)
    return out


__all__ = [
    "Key", "Use", "FIRMWARE_OURS", "FIRMWARE_06", "FIRMWARES", "KEYS", "BY_NAME", "BY_NVS", "NAMESPACES", "SECRET_NAMES", "key", "parse_changes",
    "check_consistency", "effective", "to_nvs", "from_nvs", "DecodedConfig", "redact",
    "PANEL_MAIN", "PANEL_MORE",
]
