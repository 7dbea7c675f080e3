"""Type stub for ruview_cli._edge — the firmware's portable C core as a CPython extension."""

from typing import TypedDict

MAX_IQ_BYTES: int
MAX_SUBCARRIERS: int
OUT_MAX_PACKETS: int

class NvsKey(TypedDict):
    ns: str
    key: str
    type: str  # "u8" | "u16" | "u32" | "str" | "blob"
    min: int  # integers: inclusive range; str/blob: min length
    max: int  # integers: inclusive range; str/blob: max length
    default: int | None  # integers: compiled default; None for str/blob

class EdgeConfig(TypedDict):
    node_id: int
    edge_tier: int
    pres_thresh: int
    fall_thresh: int
    vital_win: int
    vital_int: int
    subk_count: int

class EdgePipeline:
    """One node's edge DSP pipeline (rv_edge_t), configured with stored csi_cfg integer values.

    Unknown keyword -> TypeError; out-of-range value -> ValueError naming the key and range.
    """

    def __init__(
        self,
        node_id: int = ...,
        edge_tier: int = ...,
        *,
        pres_thresh: int = ...,
        fall_thresh: int = ...,
        vital_win: int = ...,
        vital_int: int = ...,
        subk_count: int = ...,
    ) -> None: ...
    def process(
        self,
        iq: bytes | bytearray | memoryview,
        rssi: int,
        channel: int,
        timestamp_us: int,
        noise_floor: int = -95,
    ) -> list[bytes]:
        """The datagrams the node sends because of this frame, in send order."""
    def note_loss(self, frames: int) -> None:
        """Frames dropped before the DSP / failed sends: next frame goes out as a raw keyframe."""
    def reset(self) -> None:
        """Re-initialise with the same configuration (a reboot)."""
    @property
    def config(self) -> EdgeConfig: ...
    @property
    def internals(self) -> dict[str, float]:
        """Internal measurements for tests: input_rate_hz, dsp_rate_hz, decimation,
        presence_metric, presence_threshold, motion_ratio, fall_metric, heart_last_bpm,
        heart_last_conf."""

def nvs_keys() -> list[NvsKey]: ...
def nvs_value_valid(ns: str, key: str, value: int | str | bytes | bytearray | memoryview) -> bool: ...
def state_size() -> int: ...
def cfg_defaults() -> EdgeConfig: ...
