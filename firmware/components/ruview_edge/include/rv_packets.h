/*
 * Encoders for every datagram the node sends (PROTOCOL.md §1), byte-exact, little-endian.
 * Each returns the number of bytes written, or 0 when `cap` is too small / arguments invalid.
 * Used by the pipeline (rv_edge_process), by firmware/main (mesh HEALTH) and by the
 * byte-compatibility tests against tests/vectors/.
 */
#ifndef RV_PACKETS_H
#define RV_PACKETS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RV_MAGIC_RAW            0xC5110001u
#define RV_MAGIC_VITALS         0xC5110002u
#define RV_MAGIC_FEATURES       0xC5110003u
#define RV_MAGIC_FUSED_OR_WASM  0xC5110004u
#define RV_MAGIC_COMPRESSED     0xC5110005u
#define RV_MAGIC_FEATURE_STATE  0xC5110006u
#define RV_MAGIC_MESH           0xC5118100u

#define RV_RAW_HDR_LEN          20
#define RV_COMP_HDR_LEN         10
#define RV_VITALS_LEN           32
#define RV_FEATURES_LEN         48
#define RV_FEATURE_STATE_LEN    60
#define RV_MESH_HDR_LEN         16
#define RV_MESH_HEALTH_PAYLOAD  28
#define RV_MESH_HEALTH_LEN      (RV_MESH_HDR_LEN + RV_MESH_HEALTH_PAYLOAD + 4)
#define RV_MESH_MAX_PAYLOAD     256

/* raw frame reserved u16 @18, bit 0: keyframe of our firmware (KEYFRAME_RULE.md) */
#define RV_RAW_FLAG_KEYFRAME    0x0001u

/* vitals flags @5 */
#define RV_VFLAG_PRESENCE       0x01u
#define RV_VFLAG_FALL           0x02u
#define RV_VFLAG_MOTION         0x04u
/* bytes 14/15 carry the breathing/heart confidence (0..100) and a rate of 0 means "no estimate
 * now" (docs/protocol.md, vitals confidence); never set by RuView 0.6.x */
#define RV_VFLAG_CONFIDENCE     0x80u

/* feature state quality_flags (bit meanings as RuView's rv_feature_state.h) */
#define RV_QFLAG_PRESENCE_VALID     (1u << 0)
#define RV_QFLAG_RESPIRATION_VALID  (1u << 1)
#define RV_QFLAG_HEARTBEAT_VALID    (1u << 2)
#define RV_QFLAG_ANOMALY_TRIGGERED  (1u << 3)
#define RV_QFLAG_CALIBRATING        (1u << 6)

/* mesh message types */
#define RV_MESH_TYPE_HEALTH         6
#define RV_MESH_TYPE_ANOMALY_ALERT  7

/* zlib-compatible CRC-32 (IEEE, reflected, init/xorout 0xFFFFFFFF); crc = 0 to start. */
uint32_t rv_crc32(uint32_t crc, const uint8_t *data, size_t len);

/* Centre frequency in MHz of a WiFi channel: 1-13 -> 2407+5ch, 14 -> 2484,
 * 36-177 -> 5000+5ch, anything else -> 0 (unknown). */
uint32_t rv_channel_freq_mhz(uint8_t channel);

/* 0xC5110001: 20 + iq_len bytes. n_subcarriers = iq_len / (2 * n_antennas). */
size_t rv_pkt_raw(uint8_t *buf, size_t cap, uint8_t node_id, uint8_t n_antennas,
                  uint32_t freq_mhz, uint32_t seq, int8_t rssi, int8_t noise_floor,
                  uint16_t flags, const int8_t *iq, uint16_t iq_len);

/* 0xC5110005: 10 + comp_len bytes (comp_len even). */
size_t rv_pkt_compressed(uint8_t *buf, size_t cap, uint8_t node_id, uint8_t channel,
                         uint16_t orig_len, const uint8_t *payload, uint16_t comp_len);

typedef struct {
    uint8_t  node_id;
    uint8_t  flags;          /* RV_VFLAG_* */
    uint16_t breath_x100;    /* BPM x 100, 0 = not estimated */
    uint32_t heart_x10000;   /* BPM x 10000, 0 = not estimated */
    int8_t   rssi;
    uint8_t  n_persons;
    float    motion_energy;
    float    presence_score;
    uint32_t timestamp_ms;
    uint8_t  breath_conf;    /* @14, 0..100 (RV_VFLAG_CONFIDENCE), 0 = no estimate */
    uint8_t  heart_conf;     /* @15, 0..100 (RV_VFLAG_CONFIDENCE), 0 = no estimate */
} rv_vitals_pkt_t;
/* 0xC5110002: 32 bytes. */
size_t rv_pkt_vitals(uint8_t *buf, size_t cap, const rv_vitals_pkt_t *v);

typedef struct {
    uint8_t  node_id;
    uint16_t seq;
    int64_t  timestamp_us;
    float    f[8];   /* presence, motion, breathing/30, heart/120, top-K variance, persons/4,
                        fall, (rssi+100)/100 */
} rv_features_pkt_t;
/* 0xC5110003: 48 bytes. */
size_t rv_pkt_features(uint8_t *buf, size_t cap, const rv_features_pkt_t *v);

typedef struct {
    uint8_t  node_id;
    uint8_t  mode;
    uint16_t seq;
    uint64_t ts_us;
    float    motion, presence, respiration_bpm, respiration_conf, heartbeat_bpm,
             heartbeat_conf, anomaly, env_shift, node_coherence;
    uint16_t quality_flags;
} rv_state_pkt_t;
/* 0xC5110006: 60 bytes, CRC-32 over bytes 0..55 at @56. */
size_t rv_pkt_feature_state(uint8_t *buf, size_t cap, const rv_state_pkt_t *v);

/* 0xC5118100 envelope around any payload (<= 256 B): 16 + len + 4 bytes. */
size_t rv_pkt_mesh(uint8_t *buf, size_t cap, uint8_t msg_type, uint8_t sender_role,
                   uint8_t auth_class, uint32_t epoch, const uint8_t *payload, uint16_t len);

typedef struct {
    uint8_t  node_id[8];     /* byte 0 = node id */
    uint64_t local_time_us;
    uint8_t  role;
    uint8_t  channel;
    uint8_t  bandwidth;
    int8_t   noise_floor;
    uint16_t pkt_yield;
    uint16_t sync_error_us;
    uint16_t health_flags;
} rv_mesh_health_t;
/* HEALTH (type 6) in a mesh envelope: 48 bytes. */
size_t rv_pkt_mesh_health(uint8_t *buf, size_t cap, uint8_t sender_role, uint8_t auth_class,
                          uint32_t epoch, const rv_mesh_health_t *h);

#ifdef __cplusplus
}
#endif

#endif /* RV_PACKETS_H */
