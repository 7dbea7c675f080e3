/* Configuration: compiled defaults and the validation table of every NVS key the node reads
 * (PROTOCOL.md §2). firmware/main and the Python binding apply exactly these rules. */
#include "ruview_edge.h"

#include <string.h>

#include "rv_config_defaults.h"

void rv_edge_cfg_defaults(rv_edge_cfg_t *cfg)
{
    cfg->node_id = RV_DEF_NODE_ID;
    cfg->edge_tier = RV_DEF_EDGE_TIER;
    cfg->pres_thresh = RV_DEF_PRES_THRESH;
    cfg->fall_thresh = RV_DEF_FALL_THRESH;
    cfg->vital_win = RV_DEF_VITAL_WIN;
    cfg->vital_int = RV_DEF_VITAL_INT;
    cfg->subk_count = RV_DEF_SUBK_COUNT;
}

#define INT_KEY(ns, k, t, lo, hi, d) { ns, k, t, lo, hi, d }
#define LEN_KEY(ns, k, t, lo, hi)    { ns, k, t, lo, hi, 0 }

const rv_nvs_key_t rv_nvs_keys[] = {
    /* the six edge-intelligence keys (ADR-039) */
    INT_KEY("csi_cfg", "edge_tier",    RV_NVS_U8,  0, 2,      RV_DEF_EDGE_TIER),
    INT_KEY("csi_cfg", "pres_thresh",  RV_NVS_U16, 0, 65535,  RV_DEF_PRES_THRESH),
    INT_KEY("csi_cfg", "fall_thresh",  RV_NVS_U16, 1, 65535,  RV_DEF_FALL_THRESH),
    INT_KEY("csi_cfg", "vital_win",    RV_NVS_U16, 32, 256,   RV_DEF_VITAL_WIN),
    INT_KEY("csi_cfg", "vital_int",    RV_NVS_U16, 100, 10000, RV_DEF_VITAL_INT),
    INT_KEY("csi_cfg", "subk_count",   RV_NVS_U8,  1, 32,     RV_DEF_SUBK_COUNT),
    /* network */
    LEN_KEY("csi_cfg", "ssid",         RV_NVS_STR, 1, 32),
    LEN_KEY("csi_cfg", "password",     RV_NVS_STR, 0, 64),
    LEN_KEY("csi_cfg", "target_ip",    RV_NVS_STR, 7, 15),
    INT_KEY("csi_cfg", "target_port",  RV_NVS_U16, 1, 65535,  RV_DEF_TARGET_PORT),
    INT_KEY("csi_cfg", "node_id",      RV_NVS_U8,  0, 255,    RV_DEF_NODE_ID),
    /* TDM and channel hopping (ADR-029/031) */
    INT_KEY("csi_cfg", "tdm_slot",     RV_NVS_U8,  0, 255,    0),
    INT_KEY("csi_cfg", "tdm_nodes",    RV_NVS_U8,  1, 255,    1),
    INT_KEY("csi_cfg", "hop_count",    RV_NVS_U8,  1, 6,      1),
    LEN_KEY("csi_cfg", "chan_list",    RV_NVS_BLOB, 1, 6),
    INT_KEY("csi_cfg", "dwell_ms",     RV_NVS_U32, 10, 0xFFFFFFFFu, 50),
    /* power, radio */
    INT_KEY("csi_cfg", "power_duty",   RV_NVS_U8,  10, 100,   100),
    INT_KEY("csi_cfg", "csi_channel",  RV_NVS_U8,  0, 177,    0),  /* 0 auto, 1-14, 36-177 */
    LEN_KEY("csi_cfg", "filter_mac",   RV_NVS_BLOB, 6, 6),
    /* WASM modules (ADR-040) */
    INT_KEY("csi_cfg", "wasm_max",     RV_NVS_U8,  1, 8,      4),
    INT_KEY("csi_cfg", "wasm_verify",  RV_NVS_U8,  0, 1,      1),
    LEN_KEY("csi_cfg", "wasm_pubkey",  RV_NVS_BLOB, 32, 32),
    /* swarm bridge (ADR-066) */
    LEN_KEY("csi_cfg", "seed_url",     RV_NVS_STR, 0, 63),
    LEN_KEY("csi_cfg", "seed_token",   RV_NVS_STR, 0, 63),
    LEN_KEY("csi_cfg", "zone_name",    RV_NVS_STR, 0, 15),
    INT_KEY("csi_cfg", "swarm_hb",     RV_NVS_U16, 1, 65535,  30),
    INT_KEY("csi_cfg", "swarm_ingest", RV_NVS_U16, 1, 65535,  5),
    /* OTA upload pre-shared key: absent = every upload refused (fail-closed) */
    LEN_KEY("security", "ota_psk",     RV_NVS_STR, 1, 64),
    { NULL, NULL, RV_NVS_U8, 0, 0, 0 }
};

const rv_nvs_key_t *rv_nvs_find(const char *ns, const char *key)
{
    if (!ns || !key)
        return NULL;
    for (const rv_nvs_key_t *k = rv_nvs_keys; k->key; k++)
        if (strcmp(k->ns, ns) == 0 && strcmp(k->key, key) == 0)
            return k;
    return NULL;
}

bool rv_nvs_int_valid(const rv_nvs_key_t *k, uint32_t value)
{
    if (!k || k->type == RV_NVS_STR || k->type == RV_NVS_BLOB)
        return false;
    uint32_t type_max = k->type == RV_NVS_U8 ? 0xFFu : k->type == RV_NVS_U16 ? 0xFFFFu
                                                                               : 0xFFFFFFFFu;
    if (value > type_max || value < k->min || value > k->max)
        return false;
    if (strcmp(k->key, "csi_channel") == 0)   /* 0 = follow the AP; otherwise a real channel */
        return value == 0 || value <= 14 || value >= 36;
    return true;
}

bool rv_nvs_len_valid(const rv_nvs_key_t *k, size_t len)
{
    if (!k || (k->type != RV_NVS_STR && k->type != RV_NVS_BLOB))
        return false;
    return len >= k->min && len <= k->max;
}

bool rv_ipv4_parse(const char *text, uint8_t out[4])
{
    uint8_t tmp[4];
    size_t i = 0;
    if (!text)
        return false;
    for (int octet = 0; octet < 4; octet++) {
        unsigned v = 0;
        size_t start = i;
        while (text[i] >= '0' && text[i] <= '9') {
            if (i - start == 3)
                return false;               /* more than three digits */
            v = v * 10u + (unsigned)(text[i] - '0');
            i++;
        }
        size_t ndig = i - start;
        if (ndig == 0 || v > 255u || (ndig > 1 && text[start] == '0'))
            return false;                   /* empty, too big, or a leading zero (octal?) */
        tmp[octet] = (uint8_t)v;
        if (octet < 3) {
            if (text[i] != '.')
                return false;
            i++;
        }
    }
    if (text[i] != '\0' || i > 15)
        return false;
    if (out)
        memcpy(out, tmp, 4);
    return true;
}
