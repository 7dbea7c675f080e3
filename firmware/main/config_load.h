/*
 * The node's configuration: every key of PROTOCOL.md section 2, loaded once at boot.
 * Values outside the core's validation rules (rv_nvs_keys) are ignored: the compiled default
 * stays, and a warning names the key (never the value of a secret).
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "ruview_edge.h"

typedef struct {
    rv_edge_cfg_t edge;          /* node_id, edge_tier, pres_thresh, fall_thresh, vital_win,
                                    vital_int, subk_count */
    char     ssid[33];
    char     password[65];
    char     target_ip[16];
    bool     target_ip_valid;    /* false: telemetry disabled, HTTP/OTA still served */
    uint8_t  target_addr[4];
    uint16_t target_port;
    uint8_t  tdm_slot;
    uint8_t  tdm_nodes;
    uint8_t  hop_count;
    uint8_t  chan_list[6];
    uint8_t  chan_list_len;
    uint32_t dwell_ms;
    uint8_t  power_duty;         /* percent of time CSI is captured, 10..100 */
    uint8_t  csi_channel;        /* 0 = the AP's channel */
    uint8_t  filter_mac[6];
    uint8_t  filter_mac_len;     /* 6 when a filter is set, else 0 */
    uint8_t  wasm_max;
    uint8_t  wasm_verify;
    uint8_t  wasm_pubkey[32];
    uint8_t  wasm_pubkey_len;
    char     seed_url[64];
    char     seed_token[64];
    char     zone_name[16];
    uint16_t swarm_hb;
    uint16_t swarm_ingest;
    char     ota_psk[65];        /* namespace "security"; empty = OTA refused (fail-closed) */
} node_config_t;

/* Fill `cfg` with compiled defaults, then every valid key found in NVS. Never fails: an
 * unreadable NVS leaves the defaults. nvs_flash_init() must have succeeded before. */
void config_load(node_config_t *cfg);
