/* Types of the generated rv_vectors.h (one decoded test vector of tests/vectors). */
#ifndef RV_VECTORS_TYPES_H
#define RV_VECTORS_TYPES_H
#include <stddef.h>
#include <stdint.h>

typedef enum {
    RV_VEC_NONE, RV_VEC_RAW, RV_VEC_COMPRESSED, RV_VEC_VITALS, RV_VEC_FEATURES,
    RV_VEC_FEATURE_STATE, RV_VEC_MESH
} rv_vec_kind_t;

typedef struct {
    const char *name;
    rv_vec_kind_t kind;
    const uint8_t *bytes;
    size_t len;
    const uint8_t *ref;
    size_t ref_len;
    const char *problem;   /* non-empty: bytes disagree with the vector's fields */
    union {
        struct { uint8_t node_id, n_antennas; uint32_t freq_mhz, seq; int8_t rssi, noise;
                 uint16_t flags; } raw;
        struct { uint8_t node_id, channel; uint16_t orig_len; } comp;
        struct { uint8_t node_id, flags; uint16_t br; uint32_t hr; int8_t rssi;
                 uint8_t persons; float motion, presence; uint32_t ts_ms; } vitals;
        struct { uint8_t node_id; uint16_t seq; int64_t ts_us; float f[8]; } features;
        struct { uint8_t node_id, mode; uint16_t seq; uint64_t ts_us;
                 float v0, v1, v2, v3, v4, v5, v6, v7, v8; uint16_t qflags; } state;
        struct { uint8_t type, role, auth; uint32_t epoch; uint16_t plen; } mesh;
    } u;
} rv_vec_t;
#endif
