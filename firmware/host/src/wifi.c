/*
 * esp_wifi station + CSI over the board link. The emulated radio answers a connect with
 * {"t":"wifi","ev":"connected"|"disconnected"} and {"ev":"got_ip"}; CSI reports arrive as
 * {"t":"csi",...} and are handed to the CSI callback on the "wifi" task, as the driver does.
 * Enforced: esp_wifi.h says esp_wifi_set_channel "should not be called when STA is scanning or
 * connecting to an external AP" - doing so aborts the node with that sentence.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "esp_log.h"
#include "esp_wifi.h"
#include "port.h"

ESP_EVENT_DEFINE_BASE(WIFI_EVENT);

static const char *TAG = "wifi";

void netif_set_up(bool up);

typedef enum { W_IDLE, W_CONNECTING, W_CONNECTED } sta_state_t;

static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static bool s_inited, s_started, s_promisc, s_csi_on;
static wifi_mode_t s_mode = WIFI_MODE_NULL;
static wifi_config_t s_cfg;
static sta_state_t s_state = W_IDLE;
static uint8_t s_channel = 1;
static int8_t s_rssi;
static uint8_t s_bssid[6];
static wifi_ps_type_t s_ps = WIFI_PS_MIN_MODEM;
static wifi_csi_cb_t s_csi_cb;
static void *s_csi_ctx;
static bool s_csi_configured;

esp_err_t esp_wifi_init(const wifi_init_config_t *config)
{
    if (config == NULL || config->magic != WIFI_INIT_CONFIG_MAGIC) return ESP_ERR_INVALID_ARG;
    s_inited = true;
    return ESP_OK;
}

esp_err_t esp_wifi_deinit(void)
{
    if (s_started) return ESP_ERR_WIFI_NOT_STOPPED;
    s_inited = false;
    return ESP_OK;
}

#define NEED_INIT() do { if (!s_inited) return ESP_ERR_WIFI_NOT_INIT; } while (0)

esp_err_t esp_wifi_set_mode(wifi_mode_t mode)
{
    NEED_INIT();
    if (mode >= WIFI_MODE_MAX) return ESP_ERR_INVALID_ARG;
    s_mode = mode;
    return ESP_OK;
}

esp_err_t esp_wifi_get_mode(wifi_mode_t *mode)
{
    NEED_INIT();
    *mode = s_mode;
    return ESP_OK;
}

esp_err_t esp_wifi_set_config(wifi_interface_t ifx, wifi_config_t *conf)
{
    NEED_INIT();
    if (ifx != WIFI_IF_STA || conf == NULL) return ESP_ERR_INVALID_ARG;
    if (s_mode != WIFI_MODE_STA && s_mode != WIFI_MODE_APSTA) return ESP_ERR_WIFI_MODE;
    s_cfg = *conf;
    return ESP_OK;
}

esp_err_t esp_wifi_get_config(wifi_interface_t ifx, wifi_config_t *conf)
{
    NEED_INIT();
    if (ifx != WIFI_IF_STA || conf == NULL) return ESP_ERR_INVALID_ARG;
    *conf = s_cfg;
    return ESP_OK;
}

esp_err_t esp_wifi_set_storage(wifi_storage_t storage)
{
    (void)storage;
    NEED_INIT();
    return ESP_OK;
}

static void ssid_str(char out[33])
{
    memcpy(out, s_cfg.sta.ssid, 32);
    out[32] = '\0';
}

esp_err_t esp_wifi_start(void)
{
    NEED_INIT();
    if (s_started) return ESP_OK;
    s_started = true;
    link_sendf("wifi", "s", "op", "start");
    return esp_event_post(WIFI_EVENT, WIFI_EVENT_STA_START, NULL, 0, portMAX_DELAY);
}

esp_err_t esp_wifi_stop(void)
{
    NEED_INIT();
    s_started = false;
    esp_wifi_disconnect();
    return esp_event_post(WIFI_EVENT, WIFI_EVENT_STA_STOP, NULL, 0, portMAX_DELAY);
}

esp_err_t esp_wifi_connect(void)
{
    NEED_INIT();
    if (!s_started) return ESP_ERR_WIFI_NOT_STARTED;
    if (s_mode != WIFI_MODE_STA && s_mode != WIFI_MODE_APSTA) return ESP_ERR_WIFI_MODE;
    char ssid[33];
    ssid_str(ssid);
    if (ssid[0] == '\0') return ESP_ERR_WIFI_SSID;
    pthread_mutex_lock(&s_lock);
    if (s_state == W_CONNECTING) {
        pthread_mutex_unlock(&s_lock);
        return ESP_ERR_WIFI_CONN;   /* a connect is already in progress */
    }
    s_state = W_CONNECTING;
    pthread_mutex_unlock(&s_lock);
    /* never the password: the emulated AP only needs the SSID and the scan hint */
    link_sendf("wifi", "ssd", "op", "connect", "ssid", ssid, "channel", (int)s_cfg.sta.channel);
    return ESP_OK;
}

static void post_disconnected(uint8_t reason)
{
    wifi_event_sta_disconnected_t d;
    memset(&d, 0, sizeof(d));
    memcpy(d.ssid, s_cfg.sta.ssid, 32);
    d.ssid_len = (uint8_t)strnlen((const char *)s_cfg.sta.ssid, 32);
    memcpy(d.bssid, s_bssid, 6);
    d.reason = reason;
    esp_event_post(WIFI_EVENT, WIFI_EVENT_STA_DISCONNECTED, &d, sizeof(d), portMAX_DELAY);
}

esp_err_t esp_wifi_disconnect(void)
{
    NEED_INIT();
    if (!s_started) return ESP_ERR_WIFI_NOT_STARTED;
    pthread_mutex_lock(&s_lock);
    bool was = s_state != W_IDLE;
    s_state = W_IDLE;
    pthread_mutex_unlock(&s_lock);
    netif_set_up(false);
    link_sendf("wifi", "s", "op", "disconnect");
    if (was) post_disconnected(WIFI_REASON_ASSOC_LEAVE);
    return ESP_OK;
}

esp_err_t esp_wifi_set_channel(uint8_t primary, wifi_second_chan_t second)
{
    (void)second;
    NEED_INIT();
    if (!s_started) return ESP_ERR_WIFI_NOT_STARTED;
    if (primary < 1 || primary > 14) return ESP_ERR_INVALID_ARG;   /* 2.4 GHz only on the S3 */
    pthread_mutex_lock(&s_lock);
    sta_state_t st = s_state;
    pthread_mutex_unlock(&s_lock);
    if (st == W_CONNECTING) {
        port_panic("panic", "E (%lu) wifi: esp_wifi_set_channel(%u) while the station is "
                   "scanning/connecting: esp_wifi.h (esp_wifi_set_channel): \"When device is in "
                   "STA mode, this API should not be called when STA is scanning or connecting "
                   "to an external AP\"", (unsigned long)(port_now_us() / 1000), primary);
    }
    s_channel = primary;
    link_sendf("wifi", "sd", "op", "set_channel", "channel", (int)primary);
    return ESP_OK;
}

esp_err_t esp_wifi_get_channel(uint8_t *primary, wifi_second_chan_t *second)
{
    NEED_INIT();
    if (primary) *primary = s_channel;
    if (second) *second = WIFI_SECOND_CHAN_NONE;
    return ESP_OK;
}

esp_err_t esp_wifi_set_ps(wifi_ps_type_t type) { NEED_INIT(); s_ps = type; return ESP_OK; }
esp_err_t esp_wifi_get_ps(wifi_ps_type_t *type) { NEED_INIT(); *type = s_ps; return ESP_OK; }
esp_err_t esp_wifi_set_bandwidth(wifi_interface_t ifx, wifi_bandwidth_t bw)
{
    (void)ifx; (void)bw;
    NEED_INIT();
    return ESP_OK;
}
esp_err_t esp_wifi_set_protocol(wifi_interface_t ifx, uint8_t bitmap)
{
    (void)ifx; (void)bitmap;
    NEED_INIT();
    return ESP_OK;
}
esp_err_t esp_wifi_set_max_tx_power(int8_t power) { (void)power; NEED_INIT(); return ESP_OK; }
esp_err_t esp_wifi_get_mac(wifi_interface_t ifx, uint8_t mac[6])
{
    return esp_read_mac(mac, ifx == WIFI_IF_AP ? ESP_MAC_WIFI_SOFTAP : ESP_MAC_WIFI_STA);
}

esp_err_t esp_wifi_sta_get_ap_info(wifi_ap_record_t *ap)
{
    NEED_INIT();
    if (ap == NULL) return ESP_ERR_INVALID_ARG;
    if (s_state != W_CONNECTED) return ESP_ERR_WIFI_NOT_CONNECT;
    memset(ap, 0, sizeof(*ap));
    memcpy(ap->bssid, s_bssid, 6);
    memcpy(ap->ssid, s_cfg.sta.ssid, 32);
    ap->primary = s_channel;
    ap->rssi = s_rssi;
    return ESP_OK;
}

esp_err_t esp_wifi_sta_get_rssi(int *rssi)
{
    NEED_INIT();
    if (s_state != W_CONNECTED) return ESP_ERR_WIFI_NOT_CONNECT;
    *rssi = s_rssi;
    return ESP_OK;
}

esp_err_t esp_wifi_set_promiscuous(bool en) { NEED_INIT(); s_promisc = en; return ESP_OK; }
esp_err_t esp_wifi_get_promiscuous(bool *en) { NEED_INIT(); *en = s_promisc; return ESP_OK; }
esp_err_t esp_wifi_set_promiscuous_filter(const wifi_promiscuous_filter_t *f)
{
    NEED_INIT();
    return f == NULL ? ESP_ERR_INVALID_ARG : ESP_OK;
}
esp_err_t esp_wifi_set_promiscuous_rx_cb(wifi_promiscuous_cb_t cb) { (void)cb; NEED_INIT(); return ESP_OK; }

esp_err_t esp_wifi_set_csi_config(const wifi_csi_config_t *config)
{
    NEED_INIT();
    if (config == NULL) return ESP_ERR_INVALID_ARG;
    s_csi_configured = true;
    return ESP_OK;
}

esp_err_t esp_wifi_set_csi_rx_cb(wifi_csi_cb_t cb, void *ctx)
{
    NEED_INIT();
    pthread_mutex_lock(&s_lock);
    s_csi_cb = cb;
    s_csi_ctx = ctx;
    pthread_mutex_unlock(&s_lock);
    return ESP_OK;
}

esp_err_t esp_wifi_set_csi(bool en)
{
    NEED_INIT();
    pthread_mutex_lock(&s_lock);
    bool changed = s_csi_on != en;
    s_csi_on = en;
    pthread_mutex_unlock(&s_lock);
    if (changed) link_sendf("csi", "s", "op", en ? "enable" : "disable");
    return ESP_OK;
}

/* ---- the radio's side ----------------------------------------------------------------- */

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void parse_mac(const char *s, uint8_t out[6])
{
    unsigned v[6];
    if (s != NULL && sscanf(s, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) == 6) {
        for (int i = 0; i < 6; i++) out[i] = (uint8_t)v[i];
    }
}

static void on_csi(const json_msg_t *m)
{
    pthread_mutex_lock(&s_lock);
    wifi_csi_cb_t cb = s_csi_on && s_csi_configured ? s_csi_cb : NULL;
    void *ctx = s_csi_ctx;
    pthread_mutex_unlock(&s_lock);
    const char *hex = json_get(m, "iq");
    if (cb == NULL || hex == NULL) return;
    static int8_t buf[612];   /* the driver's buffer; largest S3 report is 612 bytes */
    size_t n = strlen(hex) / 2;
    if (n > sizeof(buf)) n = sizeof(buf);
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return;
        buf[i] = (int8_t)(uint8_t)(hi << 4 | lo);
    }
    wifi_csi_info_t info;
    memset(&info, 0, sizeof(info));
    info.rx_ctrl.rssi = (int)json_get_int(m, "rssi", -60);
    info.rx_ctrl.noise_floor = (int)json_get_int(m, "noise_floor", -95);
    info.rx_ctrl.channel = (unsigned)json_get_int(m, "channel", s_channel) & 0xF;
    info.rx_ctrl.sig_mode = (unsigned)json_get_int(m, "sig_mode", 1) & 3;
    info.rx_ctrl.cwb = (unsigned)json_get_int(m, "cwb", 0) & 1;
    info.rx_ctrl.timestamp = (unsigned)json_get_int(m, "ts_us", 0);
    parse_mac(json_get(m, "mac"), info.mac);
    if (json_get(m, "mac") == NULL) memcpy(info.mac, s_bssid, 6);
    info.first_word_invalid = json_get_int(m, "first_word_invalid", 0) != 0;
    info.buf = buf;
    info.len = (uint16_t)n;
    cb(ctx, &info);
}

void wifi_on_link(const json_msg_t *m)
{
    const char *t = json_get(m, "t");
    if (strcmp(t, "csi") == 0) {
        on_csi(m);
        return;
    }
    const char *ev = json_get(m, "ev");
    if (ev == NULL) return;
    if (strcmp(ev, "connected") == 0) {
        pthread_mutex_lock(&s_lock);
        bool expected = s_state == W_CONNECTING;
        if (expected) s_state = W_CONNECTED;
        pthread_mutex_unlock(&s_lock);
        if (!expected) return;   /* stale answer to a connect given up on */
        s_channel = (uint8_t)json_get_int(m, "channel", s_channel);
        s_rssi = (int8_t)json_get_int(m, "rssi", -50);
        parse_mac(json_get(m, "bssid"), s_bssid);
        wifi_event_sta_connected_t c;
        memset(&c, 0, sizeof(c));
        memcpy(c.ssid, s_cfg.sta.ssid, 32);
        c.ssid_len = (uint8_t)strnlen((const char *)s_cfg.sta.ssid, 32);
        memcpy(c.bssid, s_bssid, 6);
        c.channel = s_channel;
        c.authmode = s_cfg.sta.threshold.authmode;
        c.aid = 1;
        ESP_LOGI(TAG, "connected with %.32s, aid = 1, channel %u, BW20, bssid = %02x:%02x:%02x:%02x:%02x:%02x",
                 (const char *)s_cfg.sta.ssid, s_channel, s_bssid[0], s_bssid[1], s_bssid[2],
                 s_bssid[3], s_bssid[4], s_bssid[5]);
        esp_event_post(WIFI_EVENT, WIFI_EVENT_STA_CONNECTED, &c, sizeof(c), portMAX_DELAY);
    } else if (strcmp(ev, "got_ip") == 0) {
        if (s_state != W_CONNECTED) return;
        netif_set_up(true);
        ip_event_got_ip_t ip;
        memset(&ip, 0, sizeof(ip));
        esp_netif_get_ip_info(esp_netif_get_handle_from_ifkey("WIFI_STA_DEF"), &ip.ip_info);
        ip.esp_netif = esp_netif_get_handle_from_ifkey("WIFI_STA_DEF");
        ip.ip_changed = true;
        ESP_LOGI("esp_netif_handlers", "sta ip: %s, mask: 255.0.0.0, gw: 0.0.0.0", g_port.ip);
        esp_event_post(IP_EVENT, IP_EVENT_STA_GOT_IP, &ip, sizeof(ip), portMAX_DELAY);
    } else if (strcmp(ev, "disconnected") == 0) {
        pthread_mutex_lock(&s_lock);
        bool was = s_state != W_IDLE;
        s_state = W_IDLE;
        pthread_mutex_unlock(&s_lock);
        netif_set_up(false);
        if (was) post_disconnected((uint8_t)json_get_int(m, "reason", WIFI_REASON_NO_AP_FOUND));
    }
}
