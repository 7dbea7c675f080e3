#include "config_fields.h"

#include "config_load.h"

#define MEMBER_SIZE(m) sizeof(((node_config_t *)0)->m)
#define F_INT(ns, key, m)           { ns, key, offsetof(node_config_t, m), MEMBER_SIZE(m), -1, \
                                      false, false }
#define F_STR(ns, key, m, secret)   { ns, key, offsetof(node_config_t, m), MEMBER_SIZE(m), -1, \
                                      true, secret }
#define F_BLOB(ns, key, m, len_m)   { ns, key, offsetof(node_config_t, m), MEMBER_SIZE(m), \
                                      (int)offsetof(node_config_t, len_m), false, false }

const config_field_t config_fields[] = {
    F_INT("csi_cfg", "edge_tier",    edge.edge_tier),
    F_INT("csi_cfg", "pres_thresh",  edge.pres_thresh),
    F_INT("csi_cfg", "fall_thresh",  edge.fall_thresh),
    F_INT("csi_cfg", "vital_win",    edge.vital_win),
    F_INT("csi_cfg", "vital_int",    edge.vital_int),
    F_INT("csi_cfg", "subk_count",   edge.subk_count),
    F_INT("csi_cfg", "node_id",      edge.node_id),
    F_STR("csi_cfg", "ssid",         ssid, false),
    F_STR("csi_cfg", "password",     password, true),
    F_STR("csi_cfg", "target_ip",    target_ip, false),
    F_INT("csi_cfg", "target_port",  target_port),
    F_INT("csi_cfg", "tdm_slot",     tdm_slot),
    F_INT("csi_cfg", "tdm_nodes",    tdm_nodes),
    F_INT("csi_cfg", "hop_count",    hop_count),
    F_BLOB("csi_cfg", "chan_list",   chan_list, chan_list_len),
    F_INT("csi_cfg", "dwell_ms",     dwell_ms),
    F_INT("csi_cfg", "power_duty",   power_duty),
    F_INT("csi_cfg", "csi_channel",  csi_channel),
    F_BLOB("csi_cfg", "filter_mac",  filter_mac, filter_mac_len),
    F_INT("csi_cfg", "wasm_max",     wasm_max),
    F_INT("csi_cfg", "wasm_verify",  wasm_verify),
    F_BLOB("csi_cfg", "wasm_pubkey", wasm_pubkey, wasm_pubkey_len),
    F_STR("csi_cfg", "seed_url",     seed_url, false),
    F_STR("csi_cfg", "seed_token",   seed_token, true),
    F_STR("csi_cfg", "zone_name",    zone_name, false),
    F_INT("csi_cfg", "swarm_hb",     swarm_hb),
    F_INT("csi_cfg", "swarm_ingest", swarm_ingest),
    F_STR("security", "ota_psk",     ota_psk, true),
};

const size_t config_fields_count = sizeof(config_fields) / sizeof(config_fields[0]);
