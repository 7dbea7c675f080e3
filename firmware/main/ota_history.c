#include "ota_history.h"

#include <string.h>

#include "esp_log.h"
#include "esp_ota_ops.h"
#include "nvs.h"

static const char *TAG = "ota_hist";
static const char *NS = "ruview_ota";

static char s_rollback[32];
static bool s_have_rollback;

static bool get_str(nvs_handle_t h, const char *key, char *out, size_t cap)
{
    size_t len = cap;
    return nvs_get_str(h, key, out, &len) == ESP_OK;
}

void ota_history_boot(void)
{
    nvs_handle_t h;
    if (nvs_open(NS, NVS_READWRITE, &h) != ESP_OK) {
        return;
    }
    char slot[17] = {0};
    char ver[32] = {0};
    const esp_partition_t *running = esp_ota_get_running_partition();
    if (running != NULL && get_str(h, "to_slot", slot, sizeof(slot))) {
        get_str(h, "to_ver", ver, sizeof(ver));
        if (strcmp(slot, running->label) != 0) {
            /* We were told to boot `slot` and are not running it: the bootloader went back. */
            ESP_LOGW(TAG, "update to %s in %s was rolled back; running %s", ver, slot,
                     running->label);
            nvs_set_str(h, "rb_ver", ver);
            nvs_erase_key(h, "to_slot");
            nvs_erase_key(h, "to_ver");
            nvs_commit(h);
        }
    }
    s_have_rollback = get_str(h, "rb_ver", s_rollback, sizeof(s_rollback));
    nvs_close(h);
}

const char *ota_history_rollback(void)
{
    return s_have_rollback ? s_rollback : NULL;
}

void ota_history_record_update(const char *slot_label, const char *version)
{
    nvs_handle_t h;
    if (nvs_open(NS, NVS_READWRITE, &h) != ESP_OK) {
        ESP_LOGW(TAG, "cannot record the update: rollback will not be reported");
        return;
    }
    nvs_set_str(h, "to_slot", slot_label);
    nvs_set_str(h, "to_ver", version);
    nvs_erase_key(h, "rb_ver");   /* a new attempt supersedes the old rollback */
    nvs_commit(h);
    nvs_close(h);
}

void ota_history_confirm(void)
{
    nvs_handle_t h;
    if (nvs_open(NS, NVS_READWRITE, &h) != ESP_OK) {
        return;
    }
    nvs_erase_key(h, "to_slot");
    nvs_erase_key(h, "to_ver");
    nvs_commit(h);
    nvs_close(h);
}
