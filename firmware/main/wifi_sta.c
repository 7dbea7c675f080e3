#include "wifi_sta.h"

#include <stdatomic.h>
#include <string.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "sdkconfig.h"

#include "chan_policy.h"
#include "csi_rx.h"
#include "reconnect_policy.h"

#ifndef CONFIG_ESP_WIFI_CSI_ENABLED
#error "CONFIG_ESP_WIFI_CSI_ENABLED must be y (see sdkconfig.defaults)"
#endif

static const char *TAG = "wifi";

static volatile bool s_up;
static volatile uint8_t s_channel;
static bool s_have_ssid;
/* Last delay used; 0 = none since the last success. Event task and esp_timer task. */
static atomic_uint s_backoff_ms;
static esp_timer_handle_t s_reconnect_timer;
/* Written by the event task and the reconnect timer, read by the hop timer. */
static atomic_int s_link = RV_LINK_IDLE;

/* Channel hopping (csi_cfg hop_count / chan_list / dwell_ms) */
static esp_timer_handle_t s_hop_timer;
static uint8_t s_hop_channels[sizeof(((node_config_t *)0)->chan_list)];
static uint8_t s_hop_n;
static uint8_t s_hop_i;
static uint32_t s_hop_dwell_ms;

static void schedule_reconnect(void)
{
    /* Already pending: keep the earlier deadline. */
    if (esp_timer_is_active(s_reconnect_timer)) {
        return;
    }
    uint32_t delay_ms = rv_backoff_next(atomic_load(&s_backoff_ms));
    atomic_store(&s_backoff_ms, delay_ms);
    ESP_LOGI(TAG, "reconnecting in %lu ms", (unsigned long)delay_ms);
    esp_err_t err = esp_timer_start_once(s_reconnect_timer, (uint64_t)delay_ms * 1000u);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "reconnect timer: %s", esp_err_to_name(err));
    }
}

/* Every attempt either connects or schedules the next one: a failing esp_wifi_connect() is
 * followed by no DISCONNECTED event, so it must retry by itself. */
static void connect_now(void)
{
    atomic_store(&s_link, RV_LINK_CONNECTING);
    esp_err_t err = esp_wifi_connect();
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "esp_wifi_connect: %s", esp_err_to_name(err));
        atomic_store(&s_link, RV_LINK_IDLE);
        schedule_reconnect();
    }
}

static void reconnect_cb(void *arg)
{
    (void)arg;
    connect_now();
}

static void hop_start(void)
{
    if (s_hop_timer != NULL && !esp_timer_is_active(s_hop_timer) &&
        esp_timer_start_periodic(s_hop_timer, (uint64_t)s_hop_dwell_ms * 1000u) != ESP_OK) {
        ESP_LOGE(TAG, "channel hopping timer failed: staying on one channel");
    }
}

static void hop_stop(void)
{
    if (s_hop_timer != NULL && esp_timer_is_active(s_hop_timer)) {
        esp_timer_stop(s_hop_timer);
    }
}

static void hop_cb(void *arg)
{
    (void)arg;
    /* esp_wifi.h: not while the station scans or connects. */
    if (!rv_hop_allowed((rv_link_state_t)atomic_load(&s_link))) {
        return;
    }
    s_hop_i = (uint8_t)((s_hop_i + 1u) % s_hop_n);
    if (esp_wifi_set_channel(s_hop_channels[s_hop_i], WIFI_SECOND_CHAN_NONE) == ESP_OK) {
        s_channel = s_hop_channels[s_hop_i];
    }
}

static void on_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    if (base == WIFI_EVENT && id == WIFI_EVENT_STA_START) {
        if (s_have_ssid) {
            connect_now();
        }
    } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
        const wifi_event_sta_disconnected_t *d = data;
        atomic_store(&s_link, RV_LINK_IDLE);
        hop_stop();
        s_up = false;
        ESP_LOGW(TAG, "disconnected (reason %u)", d != NULL ? (unsigned)d->reason : 0u);
        if (s_have_ssid) {
            schedule_reconnect();
        }
    } else if (base == WIFI_EVENT && id == WIFI_EVENT_STA_CONNECTED) {
        const wifi_event_sta_connected_t *c = data;
        if (c != NULL) {
            s_channel = c->channel;
        }
        atomic_store(&s_link, RV_LINK_CONNECTED);
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        const ip_event_got_ip_t *ip = data;
        s_up = true;
        atomic_store(&s_backoff_ms, 0u);
        hop_start();   /* associated and addressed: DHCP is not disturbed by a hop */
        ESP_LOGI(TAG, "got IP " IPSTR " on channel %u", IP2STR(&ip->ip_info.ip), s_channel);
    } else if (base == IP_EVENT && id == IP_EVENT_STA_LOST_IP) {
        s_up = false;
    }
}

/* Failures here are logged, not fatal: a node without CSI must still serve HTTP/OTA. */
static void warn_if(esp_err_t err, const char *what)
{
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "%s: %s: no CSI", what, esp_err_to_name(err));
    }
}

static void enable_csi(void)
{
    /* Beacons and probe responses of every AP in range trigger CSI; DATA frames are left out
     * because their interrupt rate destabilises the S3 (RuView#396). */
    wifi_promiscuous_filter_t filt = { .filter_mask = WIFI_PROMIS_FILTER_MASK_MGMT };
    warn_if(esp_wifi_set_promiscuous_filter(&filt), "esp_wifi_set_promiscuous_filter");
    warn_if(esp_wifi_set_promiscuous(true), "esp_wifi_set_promiscuous");

    wifi_csi_config_t csi = {
        .lltf_en = true,
        .htltf_en = true,
        .stbc_htltf2_en = true,
        .ltf_merge_en = true,
        .channel_filter_en = false,   /* keep adjacent subcarriers independent */
        .manu_scale = false,
        .shift = 0,
        .dump_ack_en = false,
    };
    warn_if(esp_wifi_set_csi_config(&csi), "esp_wifi_set_csi_config");
    warn_if(esp_wifi_set_csi_rx_cb(csi_rx_callback, NULL), "esp_wifi_set_csi_rx_cb");
    warn_if(esp_wifi_set_csi(true), "esp_wifi_set_csi");
}

/* Prepare hopping over the valid channels of chan_list; it runs only while associated
 * (hop_start on GOT_IP, hop_stop on DISCONNECTED; hop_cb also checks the link state). */
static void setup_hopping(const node_config_t *cfg)
{
    size_t ignored = 0;
    size_t valid = rv_chan_list_filter(cfg->chan_list, cfg->chan_list_len, s_hop_channels,
                                       sizeof(s_hop_channels), &ignored);
    if (ignored > 0) {
        ESP_LOGW(TAG, "chan_list: %u entr%s outside 1..14 ignored (the ESP32-S3 is 2.4 GHz only)",
                 (unsigned)ignored, ignored == 1 ? "y" : "ies");
    }
    size_t n = rv_hop_channels(cfg->hop_count, valid, cfg->dwell_ms);
    if (n == 0) {
        return;
    }
    s_hop_n = (uint8_t)n;
    s_hop_i = 0;
    s_hop_dwell_ms = cfg->dwell_ms;
    const esp_timer_create_args_t args = { .callback = hop_cb, .name = "chan_hop" };
    if (esp_timer_create(&args, &s_hop_timer) != ESP_OK) {
        s_hop_timer = NULL;
        ESP_LOGE(TAG, "channel hopping timer failed: staying on one channel");
        return;
    }
    ESP_LOGW(TAG, "channel hopping over %u channels, %lu ms dwell, while associated: the AP "
             "link is only usable while on its channel", (unsigned)n,
             (unsigned long)cfg->dwell_ms);
}

void wifi_sta_start(const node_config_t *cfg)
{
    /* net_stack_start() (app_main) brought up esp_netif and the default event loop. */
    esp_netif_create_default_wifi_sta();

    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    ESP_ERROR_CHECK(esp_wifi_init(&init));

    const esp_timer_create_args_t rc = { .callback = reconnect_cb, .name = "wifi_reconnect" };
    ESP_ERROR_CHECK(esp_timer_create(&rc, &s_reconnect_timer));
    ESP_ERROR_CHECK(esp_event_handler_instance_register(WIFI_EVENT, ESP_EVENT_ANY_ID, on_event,
                                                        NULL, NULL));
    ESP_ERROR_CHECK(esp_event_handler_instance_register(IP_EVENT, ESP_EVENT_ANY_ID, on_event,
                                                        NULL, NULL));

    wifi_config_t wc;
    memset(&wc, 0, sizeof(wc));
    size_t ssid_len = strnlen(cfg->ssid, sizeof(wc.sta.ssid));
    size_t pass_len = strnlen(cfg->password, sizeof(wc.sta.password));
    memcpy(wc.sta.ssid, cfg->ssid, ssid_len);
    memcpy(wc.sta.password, cfg->password, pass_len);
    wc.sta.threshold.authmode = pass_len == 0 ? WIFI_AUTH_OPEN : WIFI_AUTH_WPA2_PSK;
    wc.sta.scan_method = WIFI_ALL_CHANNEL_SCAN;
    wc.sta.sort_method = WIFI_CONNECT_AP_BY_SIGNAL;
    if (cfg->csi_channel >= 1 && cfg->csi_channel <= 14) {
        wc.sta.channel = cfg->csi_channel;   /* hint: scan this channel first */
    }
    s_have_ssid = ssid_len > 0;

    setup_hopping(cfg);   /* before esp_wifi_start: CONNECTED may follow at once */
    ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
    ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
    memset(&wc, 0, sizeof(wc));   /* no second copy of the password */
    ESP_ERROR_CHECK(esp_wifi_start());

    enable_csi();
    ESP_LOGI(TAG, "station started%s", s_have_ssid ? "" : " (no SSID: not connecting)");
}

bool wifi_sta_is_up(void)
{
    return s_up;
}

uint8_t wifi_sta_channel(void)
{
    return s_channel;
}

void wifi_sta_set_csi(bool on)
{
    esp_wifi_set_csi(on);
}
