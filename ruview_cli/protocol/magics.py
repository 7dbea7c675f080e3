"""Every datagram magic of PROTOCOL.md §1, defined once. Import from here, never re-type them."""

from __future__ import annotations

MAGIC_RAW = 0xC5110001            # raw CSI frame (ADR-018), 20 + I/Q bytes
MAGIC_VITALS = 0xC5110002         # vitals, 32 bytes
MAGIC_FEATURES = 0xC5110003       # feature vector, 48 bytes
MAGIC_FUSED_OR_WASM = 0xC5110004  # fused vitals (48 B) or WASM events (8 + 5*N B)
MAGIC_COMPRESSED = 0xC5110005     # XOR+RLE compressed CSI frame, 10 + comp_len
MAGIC_FEATURE_STATE = 0xC5110006  # feature state, 60 bytes, CRC-32 protected
MAGIC_MESH = 0xC5118100           # mesh envelope, 16 + payload + 4 (CRC-32)

# Mesh envelope message types (byte 5 of the envelope).
MESH_TIME_SYNC = 1
MESH_ROLE_ASSIGN = 2
MESH_CHANNEL_PLAN = 3
MESH_CALIBRATION_START = 4
MESH_FEATURE_DELTA = 5
MESH_HEALTH = 6
MESH_ANOMALY_ALERT = 7
MESH_VERSION = 1
MESH_MAX_PAYLOAD = 256

# Bit 0 of the raw frame's reserved u16 @18: this raw frame is a keyframe (KEYFRAME_RULE.md).
RAW_FLAG_KEYFRAME = 0x0001

# Vitals flags byte @5.
VITALS_PRESENCE = 0x01
VITALS_FALL = 0x02
VITALS_MOTION = 0x04
VITALS_CONFIDENCE = 0x80  # ours: bytes 14/15 = breathing/heart confidence 0..100 (docs/protocol.md)
VITALS_MMWAVE_PRESENCE = 0x08  # fused vitals only

WASM_MAX_EVENTS = 16
RAW_MAX_ANTENNAS = 4
# RuView 0.6.5's frame buffer (csi_collector.h CSI_MAX_FRAME_SIZE = 20 + 4*256*2) holds 2,048
# I/Q bytes whatever the split: with n_antennas = 1 that is up to 1,024 subcarriers.
RAW_MAX_IQ_BYTES = 2048

NAMES = {
    MAGIC_RAW: "csi_raw",
    MAGIC_VITALS: "vitals",
    MAGIC_FEATURES: "features",
    MAGIC_FUSED_OR_WASM: "fused_or_wasm",
    MAGIC_COMPRESSED: "csi_compressed",
    MAGIC_FEATURE_STATE: "feature_state",
    MAGIC_MESH: "mesh",
}
