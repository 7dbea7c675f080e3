/*
 * ruview_edge — the portable C11 core of the RuView node firmware.
 *
 * No ESP-IDF header and no allocation in the frame path: every state is a fixed-size struct
 * the caller owns (a static on the node, a Python object in ruview_cli._edge, a stack/heap
 * object in the host tests). The same sources are built by ESP-IDF, by the host CMake project
 * under firmware/test, and by setuptools as the Python extension.
 *
 * PINNED API: the signatures in this file are used by firmware/main (ESP-IDF glue) and by the
 * Python binding. Add to it freely; change a pinned signature only together with its callers.
 */
#ifndef RUVIEW_EDGE_H
#define RUVIEW_EDGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Configuration: the six csi_cfg edge keys, stored integer units (PROTOCOL.md §2) ---- */
typedef struct {
    uint8_t  node_id;      /* csi_cfg/node_id */
    uint8_t  edge_tier;    /* 0 raw passthrough, 1 basic DSP + vitals, 2 full edge intelligence */
    uint16_t pres_thresh;  /* presence threshold x1000; 0 = adaptive calibration */
    uint16_t fall_thresh;  /* fall threshold x1000 */
    uint16_t vital_win;    /* phase history window, frames (32..256) */
    uint16_t vital_int;    /* vitals packet interval, ms (100..10000) */
    uint8_t  subk_count;   /* top-K subcarrier count (1..32) */
} rv_edge_cfg_t;

/* Fill with the firmware's compiled defaults. */
void rv_edge_cfg_defaults(rv_edge_cfg_t *cfg);

/* ---- Validation of every NVS key the node reads (PROTOCOL.md §2) ----
 * The node reads each key with a typed getter; a value outside the range below is ignored and
 * the compiled default kept. firmware/main applies exactly these rules when loading NVS.       */
typedef enum {
    RV_NVS_U8, RV_NVS_U16, RV_NVS_U32, RV_NVS_STR, RV_NVS_BLOB
} rv_nvs_type_t;

typedef struct {
    const char    *ns;        /* "csi_cfg" or "security" */
    const char    *key;       /* <= 15 chars */
    rv_nvs_type_t  type;
    uint32_t       min;       /* integers: inclusive range; str/blob: min length */
    uint32_t       max;       /* integers: inclusive range; str/blob: max length */
    uint32_t       def;       /* integers: compiled default */
} rv_nvs_key_t;

/* The table of every key; terminated by an entry with key == NULL. */
extern const rv_nvs_key_t rv_nvs_keys[];
/* Look a key up by namespace and name; NULL when the firmware does not read such a key. */
const rv_nvs_key_t *rv_nvs_find(const char *ns, const char *key);
/* true when an integer value read with the key's typed getter is inside its valid range. */
bool rv_nvs_int_valid(const rv_nvs_key_t *k, uint32_t value);
/* true when a string/blob of `len` bytes (strings: without the NUL) is acceptable. */
bool rv_nvs_len_valid(const rv_nvs_key_t *k, size_t len);
/* true for a dotted-quad IPv4 address of <= 15 characters ("192.168.1.20"). */
bool rv_ipv4_parse(const char *text, uint8_t out[4]);

/* ---- The frame path ---- */
#define RV_MAX_ANTENNAS      4
#define RV_MAX_SUBCARRIERS   256
/* Largest I/Q payload accepted. The host build takes anything the protocol allows; the ESP-IDF
 * build sets 640 (CMakeLists.txt: an ESP32-S3 reports at most L-LTF + HT-LTF + STBC-HT-LTF of a
 * 40 MHz channel, 64 + 128 + 128 subcarriers), which keeps every frame-sized buffer (ring slots,
 * keyframe, rv_out_t, firmware/main's scratch) inside the 24 KB static RAM budget. */
#ifndef RV_MAX_IQ_BYTES
#define RV_MAX_IQ_BYTES      (2 * RV_MAX_SUBCARRIERS * RV_MAX_ANTENNAS)
#endif
#define RV_OUT_MAX_PACKETS   4
#define RV_OUT_MAX_BYTES     (20 + RV_MAX_IQ_BYTES)

/* One CSI callback's worth of data, as the WiFi driver hands it over. */
typedef struct {
    const int8_t *iq;          /* I/Q bytes, antenna-major, byte 0 of a pair = I */
    uint16_t      iq_len;      /* bytes */
    uint8_t       n_antennas;  /* 1 on ESP32-S3 */
    int8_t        rssi;        /* dBm */
    int8_t        noise_floor; /* dBm */
    uint8_t       channel;     /* primary WiFi channel */
    uint64_t      timestamp_us;/* monotonic, microseconds */
} rv_frame_t;

/* The datagrams the node sends because of one frame, in send order. */
typedef struct {
    uint8_t  n;
    uint16_t len[RV_OUT_MAX_PACKETS];
    uint8_t  data[RV_OUT_MAX_PACKETS][RV_OUT_MAX_BYTES];
} rv_out_t;

typedef struct rv_edge rv_edge_t;   /* defined in ruview_edge_state.h; fixed size, no pointers
                                       into caller memory after a call returns */

size_t rv_edge_state_size(void);
/* Initialise (or re-initialise) a pipeline; cfg is validated and clamped to the valid ranges. */
void rv_edge_init(rv_edge_t *e, const rv_edge_cfg_t *cfg);
/* Process one frame; fills `out` with the datagrams to send now. Returns out->n. */
int  rv_edge_process(rv_edge_t *e, const rv_frame_t *f, rv_out_t *out);
/* Frames lost before the DSP (ring overflow) or datagrams that could not be sent (ENOMEM):
 * the next CSI frame goes out as a raw keyframe. */
void rv_edge_note_loss(rv_edge_t *e, uint32_t frames);

#ifdef __cplusplus
}
#endif

#include "ruview_edge_state.h"

#endif /* RUVIEW_EDGE_H */
