#include "mdns_adv.h"

#include <stdio.h>

#include "esp_log.h"
#include "mdns.h"
#include "sdkconfig.h"

static const char *TAG = "mdns";

void mdns_adv_start(const node_config_t *cfg, const node_info_t *info)
{
    esp_err_t err = mdns_init();
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "mdns_init: %s: node not discoverable by name", esp_err_to_name(err));
        return;
    }
    mdns_hostname_set(info->hostname);
    mdns_instance_name_set(info->instance);

    /* mdns copies the TXT strings when the service is added, so stack buffers are fine. */
    char node_id[4], tier[4];
    snprintf(node_id, sizeof(node_id), "%u", (unsigned)cfg->edge.node_id);
    snprintf(tier, sizeof(tier), "%u", (unsigned)cfg->edge.edge_tier);
    mdns_txt_item_t txt[8] = {
        { "node_id", node_id },
        { "mac", info->mac_str },
        { "chip", info->chip },
        { "version", info->version },
        { "edge_tier", tier },
        { "ota", "1" },
        { "api", "1" },
        { "name", cfg->zone_name },
    };
    size_t n_txt = cfg->zone_name[0] != '\0' ? 8 : 7;

    /* _tcp for ruview (HTTP control); _udp is what RuView's desktop app browses. */
    err = mdns_service_add(info->instance, "_ruview", "_tcp", CONFIG_RUVIEW_HTTP_PORT, txt, n_txt);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "adding _ruview._tcp: %s", esp_err_to_name(err));
    }
    err = mdns_service_add(info->instance, "_ruview", "_udp", CONFIG_RUVIEW_HTTP_PORT, txt, n_txt);
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "adding _ruview._udp: %s", esp_err_to_name(err));
    }
    ESP_LOGI(TAG, "advertising %s on %s.local:%d", info->instance, info->hostname,
             CONFIG_RUVIEW_HTTP_PORT);
}
