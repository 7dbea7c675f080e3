/*
 * RuView node: boot sequence. Everything here is ordering; each step lives in its own file.
 *
 * Nothing that depends on the collector address (telemetry) can stop the steps that keep the
 * node manageable (WiFi, HTTP/OTA, mDNS): an invalid target_ip disables telemetry only.
 */
#include "esp_log.h"
#include "nvs_flash.h"

#include "config_load.h"
#include "csi_rx.h"
#include "http_ota.h"
#include "mdns_adv.h"
#include "net_stack.h"
#include "node_info.h"
#include "ota_history.h"
#include "power.h"
#include "self_test.h"
#include "udp_sender.h"
#include "wifi_sta.h"

static const char *TAG = "ruview";

static node_config_t s_cfg;    /* read-only after config_load; shared by the modules */
static node_info_t   s_info;

static void nvs_start(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* Only these two mean the partition is unusable as it is; anything else keeps the
         * provisioned keys (erasing would wipe the WiFi settings and the OTA PSK). */
        ESP_LOGW(TAG, "NVS unusable (%s): erasing; the node falls back to compiled defaults",
                 esp_err_to_name(err));
        ESP_ERROR_CHECK(nvs_flash_erase());
        err = nvs_flash_init();
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_flash_init: %s: running on compiled defaults", esp_err_to_name(err));
    }
}

void app_main(void)
{
    nvs_start();
    config_load(&s_cfg);
    node_info_init(&s_info, s_cfg.edge.node_id);
    ESP_LOGI(TAG, "%s %s on %s, MAC %s", s_info.project_name, s_info.version, s_info.chip,
             s_info.mac_str);
    ota_history_boot();

    net_stack_start();               /* lwIP + event loop: before any socket (net_stack.h) */
    udp_sender_start(&s_cfg);        /* disabled, not fatal, when target_ip is invalid */
    csi_rx_start(&s_cfg);            /* DSP task on core 1, before CSI can arrive */
    wifi_sta_start(&s_cfg);          /* WiFi netif + driver + CSI callback */
    http_ota_start(&s_cfg, &s_info); /* the self-test checks that it runs */
    mdns_adv_start(&s_cfg, &s_info);
    power_start(&s_cfg);
    self_test_start();               /* only after an OTA boot (pending verify) */
    ESP_LOGI(TAG, "started");
}
