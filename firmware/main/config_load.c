/*
 * NVS -> node_config_t. The key list, NVS types, ranges and defaults are the core's
 * (rv_nvs_keys / rv_nvs_find / rv_nvs_int_valid / rv_nvs_len_valid / rv_ipv4_parse), so the
 * provisioning tool, the host tests and the node apply one set of rules. This file only maps
 * each key onto a field and reads it with the typed getter of its NVS type.
 */
#include "config_load.h"
#include "config_fields.h"

#include <string.h>

#include "esp_log.h"
#include "nvs.h"
#include "sdkconfig.h"

static const char *TAG = "config";

static size_t int_width(rv_nvs_type_t t)
{
    switch (t) {
    case RV_NVS_U8:  return 1;
    case RV_NVS_U16: return 2;
    case RV_NVS_U32: return 4;
    default:         return 0;
    }
}

static nvs_type_t nvs_type_of(rv_nvs_type_t t)
{
    switch (t) {
    case RV_NVS_U8:  return NVS_TYPE_U8;
    case RV_NVS_U16: return NVS_TYPE_U16;
    case RV_NVS_U32: return NVS_TYPE_U32;
    case RV_NVS_STR: return NVS_TYPE_STR;
    default:         return NVS_TYPE_BLOB;
    }
}

static void store_int(void *dst, size_t width, uint32_t v)
{
    if (width == 1) { uint8_t x = (uint8_t)v; memcpy(dst, &x, 1); }
    else if (width == 2) { uint16_t x = (uint16_t)v; memcpy(dst, &x, 2); }
    else { memcpy(dst, &v, 4); }
}

/* Compiled defaults: the core's table for the integers, Kconfig for what a build may bake in. */
static void set_defaults(node_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    rv_edge_cfg_defaults(&cfg->edge);
    for (size_t i = 0; i < config_fields_count; i++) {
        const config_field_t *f = &config_fields[i];
        const rv_nvs_key_t *k = rv_nvs_find(f->ns, f->key);
        if (k != NULL && !f->is_str && f->len_off < 0 && int_width(k->type) == f->size) {
            store_int((uint8_t *)cfg + f->off, f->size, k->def);
        }
    }
    cfg->edge.node_id = (uint8_t)CONFIG_RUVIEW_NODE_ID;
    cfg->edge.edge_tier = (uint8_t)CONFIG_RUVIEW_EDGE_TIER;
    cfg->target_port = (uint16_t)CONFIG_RUVIEW_TARGET_PORT;
    strlcpy(cfg->ssid, CONFIG_RUVIEW_WIFI_SSID, sizeof(cfg->ssid));
    strlcpy(cfg->password, CONFIG_RUVIEW_WIFI_PASSWORD, sizeof(cfg->password));
    strlcpy(cfg->target_ip, CONFIG_RUVIEW_TARGET_IP, sizeof(cfg->target_ip));
}

/* Explain a missing key: absent (silent, default) or stored with another NVS type (warn). */
static void note_absent(nvs_handle_t h, const config_field_t *f, const rv_nvs_key_t *k)
{
    nvs_type_t found;
    if (nvs_find_key(h, f->key, &found) == ESP_OK && found != nvs_type_of(k->type)) {
        ESP_LOGW(TAG, "%s/%s stored with NVS type 0x%02x, expected 0x%02x: ignored, default kept",
                 f->ns, f->key, (unsigned)found, (unsigned)nvs_type_of(k->type));
    }
}

static void load_int(nvs_handle_t h, node_config_t *cfg, const config_field_t *f,
                     const rv_nvs_key_t *k)
{
    uint32_t v = 0;
    esp_err_t err;
    switch (k->type) {
    case RV_NVS_U8:  { uint8_t x;  err = nvs_get_u8(h, f->key, &x);  v = x; break; }
    case RV_NVS_U16: { uint16_t x; err = nvs_get_u16(h, f->key, &x); v = x; break; }
    default:         { uint32_t x; err = nvs_get_u32(h, f->key, &x); v = x; break; }
    }
    if (err != ESP_OK) {
        note_absent(h, f, k);
        return;
    }
    if (!rv_nvs_int_valid(k, v)) {
        ESP_LOGW(TAG, "%s/%s = %lu outside %lu..%lu: ignored, default kept", f->ns, f->key,
                 (unsigned long)v, (unsigned long)k->min, (unsigned long)k->max);
        return;
    }
    store_int((uint8_t *)cfg + f->off, f->size, v);
    ESP_LOGI(TAG, "%s/%s = %lu", f->ns, f->key, (unsigned long)v);
}

static void load_str(nvs_handle_t h, node_config_t *cfg, const config_field_t *f,
                     const rv_nvs_key_t *k)
{
    size_t need = 0;   /* with the NUL */
    if (nvs_get_str(h, f->key, NULL, &need) != ESP_OK || need == 0) {
        note_absent(h, f, k);
        return;
    }
    size_t len = need - 1;
    if (!rv_nvs_len_valid(k, len) || need > f->size) {
        ESP_LOGW(TAG, "%s/%s has %u characters, allowed %lu..%lu: ignored, default kept",
                 f->ns, f->key, (unsigned)len, (unsigned long)k->min, (unsigned long)k->max);
        return;
    }
    char *dst = (char *)cfg + f->off;
    char tmp[72];
    size_t got = sizeof(tmp);
    if (nvs_get_str(h, f->key, tmp, &got) != ESP_OK) {
        ESP_LOGW(TAG, "%s/%s unreadable: default kept", f->ns, f->key);
        memset(tmp, 0, sizeof(tmp));
        return;
    }
    memcpy(dst, tmp, need);
    memset(tmp, 0, sizeof(tmp));   /* no stray copy of a secret on the stack */
    if (f->secret) {
        ESP_LOGI(TAG, "%s/%s set", f->ns, f->key);
    } else {
        ESP_LOGI(TAG, "%s/%s set (%u characters)", f->ns, f->key, (unsigned)len);
    }
}

static void load_blob(nvs_handle_t h, node_config_t *cfg, const config_field_t *f,
                      const rv_nvs_key_t *k)
{
    size_t len = 0;
    if (nvs_get_blob(h, f->key, NULL, &len) != ESP_OK) {
        note_absent(h, f, k);
        return;
    }
    if (!rv_nvs_len_valid(k, len) || len > f->size || len > 255) {
        ESP_LOGW(TAG, "%s/%s is %u bytes, allowed %lu..%lu: ignored, default kept",
                 f->ns, f->key, (unsigned)len, (unsigned long)k->min, (unsigned long)k->max);
        return;
    }
    size_t got = len;
    if (nvs_get_blob(h, f->key, (uint8_t *)cfg + f->off, &got) != ESP_OK || got != len) {
        ESP_LOGW(TAG, "%s/%s unreadable: default kept", f->ns, f->key);
        memset((uint8_t *)cfg + f->off, 0, f->size);
        return;
    }
    *((uint8_t *)cfg + f->len_off) = (uint8_t)len;
    ESP_LOGI(TAG, "%s/%s set (%u bytes)", f->ns, f->key, (unsigned)len);
}

static void load_namespace(node_config_t *cfg, const char *ns)
{
    nvs_handle_t h;
    esp_err_t err = nvs_open(ns, NVS_READONLY, &h);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        ESP_LOGI(TAG, "namespace %s not provisioned: compiled defaults", ns);
        return;
    }
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "cannot open namespace %s (%s): compiled defaults", ns, esp_err_to_name(err));
        return;
    }
    for (size_t i = 0; i < config_fields_count; i++) {
        const config_field_t *f = &config_fields[i];
        if (strcmp(f->ns, ns) != 0) {
            continue;
        }
        const rv_nvs_key_t *k = rv_nvs_find(f->ns, f->key);
        if (k == NULL) {
            ESP_LOGE(TAG, "%s/%s unknown to the core's key table: not read", f->ns, f->key);
            continue;
        }
        bool fits = k->type == RV_NVS_STR ? f->is_str
                  : k->type == RV_NVS_BLOB ? f->len_off >= 0
                  : (!f->is_str && f->len_off < 0 && int_width(k->type) == f->size);
        if (!fits) {
            ESP_LOGE(TAG, "%s/%s: core type does not fit the field: not read", f->ns, f->key);
        } else if (k->type == RV_NVS_STR) {
            load_str(h, cfg, f, k);
        } else if (k->type == RV_NVS_BLOB) {
            load_blob(h, cfg, f, k);
        } else {
            load_int(h, cfg, f, k);
        }
    }
    nvs_close(h);
}

void config_load(node_config_t *cfg)
{
    set_defaults(cfg);
    load_namespace(cfg, "csi_cfg");
    load_namespace(cfg, "security");

    /* An invalid collector address disables telemetry only (RuView 0.6.x stopped everything,
     * leaving USB as the only way back); HTTP/OTA and mDNS start regardless. */
    cfg->target_ip_valid = rv_ipv4_parse(cfg->target_ip, cfg->target_addr);
    if (!cfg->target_ip_valid) {
        ESP_LOGE(TAG, "target_ip \"%s\" is not a dotted IPv4 address: telemetry disabled, "
                 "OTA stays reachable; fix with `ruview provision --target-ip`", cfg->target_ip);
    }
    if (cfg->ssid[0] == '\0') {
        ESP_LOGW(TAG, "no WiFi SSID provisioned: the node cannot join a network");
    }
    if (cfg->ota_psk[0] == '\0') {
        ESP_LOGW(TAG, "no security/ota_psk provisioned: OTA uploads will be refused");
    }
    ESP_LOGI(TAG, "node_id=%u edge_tier=%u target_port=%u power_duty=%u hop_count=%u",
             cfg->edge.node_id, cfg->edge.edge_tier, cfg->target_port, cfg->power_duty,
             cfg->hop_count);
}
