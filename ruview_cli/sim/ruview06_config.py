"""What an emulated RuView 0.6.x node takes from its NVS at boot (our table's rules).

Only the RuView 0.6.x flavour uses this: nodes of ours run the firmware, whose config_load.c
reads NVS itself (tests/test_firmware_config_load.py asks it what it read). RuView 0.6.x stays
emulated in Python and reads its keys through this module, with the
rules of our firmware's table (ruview_cli._edge.nvs_keys() and nvs_value_valid()); RuView 0.6.5's
own rules differ (see issue 11 item 11). Each key is read with a typed getter, so a value stored
with another NVS type is not seen; an out-of-range value (or a bad length, or an unparsable
target_ip) is ignored and the compiled default kept. Every ignored value yields one warning;
secret values (WiFi password, OTA PSK, seed token) are described by length only, never shown.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from ruview_cli.config.nvs import NvsValue

SECRET_KEYS = frozenset({"password", "ota_psk", "seed_token"})
NAMESPACES = ("csi_cfg", "security")


@dataclass
class NodeConfig:
    """Effective configuration. Integers hold the compiled default when NVS has no usable value;
    strings/blobs are None when unset."""

    # edge intelligence (ADR-039)
    edge_tier: int | None = None
    pres_thresh: int | None = None
    fall_thresh: int | None = None
    vital_win: int | None = None
    vital_int: int | None = None
    subk_count: int | None = None
    # network
    ssid: str | None = None
    password: str | None = None
    target_ip: str | None = None
    target_port: int | None = None
    node_id: int | None = None
    # TDM, channel hopping
    tdm_slot: int | None = None
    tdm_nodes: int | None = None
    hop_count: int | None = None
    chan_list: bytes | None = None
    dwell_ms: int | None = None
    # power, radio
    power_duty: int | None = None
    csi_channel: int | None = None
    filter_mac: bytes | None = None
    # WASM
    wasm_max: int | None = None
    wasm_verify: int | None = None
    wasm_pubkey: bytes | None = None
    # swarm bridge
    seed_url: str | None = None
    seed_token: str | None = None
    zone_name: str | None = None
    swarm_hb: int | None = None
    swarm_ingest: int | None = None
    # security namespace
    ota_psk: str | None = None

    @property
    def provisioned_psk(self) -> bool:
        return self.ota_psk is not None

    def edge_kwargs(self) -> dict[str, int]:
        """The six edge keys plus node_id, as _edge.EdgePipeline(**kwargs) takes them."""
        names = ("node_id", "edge_tier", "pres_thresh", "fall_thresh", "vital_win", "vital_int",
                 "subk_count")
        return {n: getattr(self, n) for n in names if getattr(self, n) is not None}

    def redacted(self) -> dict:
        """A dict safe to print or log: secrets replaced by '<set>' / None."""
        out = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in SECRET_KEYS and v is not None:
                v = "<set>"
            elif isinstance(v, bytes):
                v = v.hex()
            out[f.name] = v
        return out

    def __repr__(self) -> str:  # never leak a secret through a log line or traceback
        inner = ", ".join(f"{k}={v!r}" for k, v in self.redacted().items())
        return f"NodeConfig({inner})"


def _describe(key: str, v: NvsValue) -> str:
    if isinstance(v.value, int):
        return f"{key}={v.value}"
    if key in SECRET_KEYS:
        return f"{key} ({v.type}, {len(v.value)} bytes)"
    if isinstance(v.value, bytes):
        return f"{key}={v.value.hex()} ({len(v.value)} bytes)"
    return f"{key}={v.value!r} ({len(v.value.encode())} bytes)"


def _table():
    try:
        from ruview_cli import _edge
    except ImportError as exc:  # pragma: no cover - depends on the build
        from ruview_cli.errors import RuviewError

        raise RuviewError(
            "the firmware core binding ruview_cli._edge is not built",
            "run `pip install -e .` (needs a C compiler) to build it",
        ) from exc
    return _edge, {(k["ns"], k["key"]): k for k in _edge.nvs_keys()}


def load_node_config(nvs: dict[str, dict[str, NvsValue]]) -> tuple[NodeConfig, list[str]]:
    """Apply the firmware's rules to `nvs` (read_nvs() output): (effective config, warnings)."""
    edge, table = _table()
    cfg = NodeConfig()
    known = {f.name for f in fields(NodeConfig)}
    for (ns, key), spec in table.items():
        if key in known and spec["default"] is not None:
            setattr(cfg, key, spec["default"])
    warnings: list[str] = []
    for ns in sorted(nvs):
        for key, v in nvs[ns].items():
            spec = table.get((ns, key))
            if spec is None or key not in known:
                if ns in NAMESPACES:
                    warnings.append(f"{ns}.{key}: the firmware does not read this key; ignored")
                continue
            if v.type != spec["type"]:
                warnings.append(
                    f"{_describe(key, v)} stored as {v.type}, the firmware reads {spec['type']}: "
                    f"ignored{' (default kept)' if spec['default'] is not None else ''}"
                )
                continue
            if not edge.nvs_value_valid(ns, key, v.value):
                if isinstance(v.value, int):
                    warnings.append(
                        f"{_describe(key, v)} out of range {spec['min']}..{spec['max']}: "
                        f"default kept"
                    )
                else:
                    what = "length" if spec["type"] == "blob" else "length/format"
                    warnings.append(
                        f"{_describe(key, v)} invalid {what} (valid {spec['min']}..{spec['max']} "
                        f"bytes): ignored"
                    )
                continue
            value = bytes(v.value) if isinstance(v.value, (bytes, bytearray)) else v.value
            setattr(cfg, key, value)
    return cfg, warnings
