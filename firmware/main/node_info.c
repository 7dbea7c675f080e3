#include "node_info.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "esp_app_desc.h"
#include "esp_chip_info.h"
#include "esp_image_format.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_ota_ops.h"
#include "esp_partition.h"
#include "sdkconfig.h"

#include "ota_crypto.h"
#include "rollback_policy.h"

static const char *TAG = "node_info";

/* SHA-256 of the running image exactly as uploaded (header .. appended digest), i.e. what
 * `sha256sum build/ruview_node.bin` and X-Image-SHA256 give: proof of which file booted. */
static bool running_image_sha256(uint8_t out[32])
{
    const esp_partition_t *p = esp_ota_get_running_partition();
    if (p == NULL) {
        return false;
    }
    const esp_partition_pos_t pos = { .offset = p->address, .size = p->size };
    esp_image_metadata_t md;
    if (esp_image_get_metadata(&pos, &md) != ESP_OK || md.image_len == 0 ||
        md.image_len > p->size) {
        return false;
    }
    rv_sha256_t sha;
    rv_sha256_begin(&sha);
    uint8_t buf[1024];
    bool ok = true;
    for (uint32_t off = 0; off < md.image_len && ok; off += sizeof(buf)) {
        size_t n = md.image_len - off < sizeof(buf) ? md.image_len - off : sizeof(buf);
        ok = esp_partition_read(p, off, buf, n) == ESP_OK;
        if (ok) {
            rv_sha256_update(&sha, buf, n);
        }
    }
    if (ok) {
        return rv_sha256_finish(&sha, out);
    }
    rv_sha256_discard(&sha);
    return false;
}

/* See rollback_policy.h for why these facts decide it. */
static bool rollback_capable(void)
{
    rv_rollback_facts_t f = { 0 };
#ifdef CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE
    f.app_rollback_enabled = true;
#endif
    const esp_partition_t *running = esp_ota_get_running_partition();
    esp_ota_img_states_t st;
    if (running != NULL && esp_ota_get_state_partition(running, &st) == ESP_OK) {
        f.running_new = st == ESP_OTA_IMG_NEW;
        f.running_pending = st == ESP_OTA_IMG_PENDING_VERIFY;
    }
    esp_bootloader_desc_t bd;
    if (esp_ota_get_bootloader_description(NULL, &bd) == ESP_OK) {
        f.bootloader_desc_found = true;
        f.bootloader_version = bd.version;
    }
    bool capable = rv_rollback_capable(&f);
    if (!capable) {
        ESP_LOGW(TAG, "this bootloader cannot roll back a failed update (bootloader version "
                 "%lu%s): flash once over USB (ruview flash) to install one that can",
                 (unsigned long)f.bootloader_version, f.running_new ? ", OTA state NEW" : "");
    }
    return capable;
}

void node_info_init(node_info_t *info, uint8_t node_id)
{
    memset(info, 0, sizeof(*info));
    esp_read_mac(info->mac, ESP_MAC_WIFI_STA);
    const uint8_t *m = info->mac;
    snprintf(info->mac_str, sizeof(info->mac_str), "%02x:%02x:%02x:%02x:%02x:%02x",
             m[0], m[1], m[2], m[3], m[4], m[5]);
    strlcpy(info->chip, CONFIG_IDF_TARGET, sizeof(info->chip));
    esp_chip_info_t ci;
    esp_chip_info(&ci);
    info->chip_revision = ci.revision;
    info->rollback_capable = rollback_capable();

    const esp_app_desc_t *app = esp_app_get_description();
    strlcpy(info->version, app->version, sizeof(info->version));
    strlcpy(info->project_name, app->project_name, sizeof(info->project_name));
    uint8_t digest[32];
    if (running_image_sha256(digest)) {
        for (int i = 0; i < 32; i++) {
            snprintf(&info->app_sha256[2 * i], 3, "%02x", digest[i]);
        }
    } else {
        ESP_LOGW(TAG, "cannot hash the running image: app_sha256 left empty");
    }

    /* Host: 6 hex of the MAC (the NIC-specific half); instance: node id + last 4 hex, so
     * two unprovisioned boards (both node_id 1) still get distinct names. */
    snprintf(info->hostname, sizeof(info->hostname), "ruview-%02x%02x%02x", m[3], m[4], m[5]);
    snprintf(info->instance, sizeof(info->instance), "ruview-%u-%02x%02x",
             (unsigned)node_id, m[4], m[5]);
}
