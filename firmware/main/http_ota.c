#include "http_ota.h"

#include <stdio.h>
#include <string.h>

#include "esp_app_desc.h"
#include "esp_http_server.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "mbedtls/sha256.h"
#include "sdkconfig.h"

#include "ota_history.h"

static const char *TAG = "http_ota";

#define PSK_MAX      64
#define BEARER       "Bearer "
#define BEARER_LEN   7
#define RX_CHUNK     4096
#define RX_TIMEOUTS  3          /* consecutive receive timeouts before giving up */
#define REBOOT_DELAY_US (1000 * 1000)

static const node_config_t *s_cfg;
static const node_info_t   *s_info;
static char s_rx[RX_CHUNK];     /* the server runs one handler at a time */
static esp_timer_handle_t s_reboot_timer;

/* ---- helpers ---------------------------------------------------------------------------- */

/* JSON string value (quotes included); anything outside printable ASCII becomes '?'. */
static void json_str(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    if (cap < 3) {
        return;
    }
    out[o++] = '"';
    for (; *s != '\0' && o + 3 < cap; s++) {
        char c = *s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = c;
        } else {
            out[o++] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* Every refusal: JSON {"error": <reason>, "code": <machine-readable code>}. With `drain`
 * the handler returns ESP_OK and esp_http_server purges the unread body, so the client reads the
 * status; without it (chunked, absurd lengths, broken uploads) the connection is closed and a
 * client may see a reset instead. */
static esp_err_t refuse(httpd_req_t *r, const char *status, const char *code, const char *msg,
                        bool drain)
{
    char reason[200];
    json_str(reason, sizeof(reason), msg);
    char body[280];
    int n = snprintf(body, sizeof(body), "{\"error\":%s,\"code\":\"%s\"}", reason, code);
    httpd_resp_set_status(r, status);
    httpd_resp_set_type(r, "application/json");
    if (!drain) {
        httpd_resp_set_hdr(r, "Connection", "close");
    }
    httpd_resp_send(r, body, n > 0 && (size_t)n < sizeof(body) ? n : 0);
    ESP_LOGW(TAG, "POST /ota -> %s (%s)", status, code);
    return drain ? ESP_OK : ESP_FAIL;
}

/* Constant-time in the token's content: both sides are compared over a fixed 64 bytes. */
static bool psk_matches(const char *given, size_t given_len, const char *psk)
{
    size_t psk_len = strnlen(psk, PSK_MAX + 1);
    uint8_t a[PSK_MAX] = {0};
    uint8_t b[PSK_MAX] = {0};
    memcpy(a, given, given_len < PSK_MAX ? given_len : PSK_MAX);
    memcpy(b, psk, psk_len < PSK_MAX ? psk_len : PSK_MAX);
    volatile uint32_t diff = (uint32_t)(given_len ^ psk_len);
    for (size_t i = 0; i < PSK_MAX; i++) {
        diff |= (uint32_t)(a[i] ^ b[i]);
    }
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    return diff == 0;
}

static int hex_nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static bool parse_sha256_hex(const char *hex, uint8_t out[32])
{
    if (strlen(hex) != 64) {
        return false;
    }
    for (int i = 0; i < 32; i++) {
        int hi = hex_nibble(hex[2 * i]);
        int lo = hex_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)((hi << 4) | lo);
    }
    return true;
}

static void to_hex(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 0xF];
    }
    out[2 * n] = '\0';
}

static const char *reset_reason_name(esp_reset_reason_t r)
{
    switch (r) {
    case ESP_RST_POWERON:   return "poweron";
    case ESP_RST_EXT:       return "ext";
    case ESP_RST_SW:        return "sw";
    case ESP_RST_PANIC:     return "panic";
    case ESP_RST_INT_WDT:   return "int_wdt";
    case ESP_RST_TASK_WDT:  return "task_wdt";
    case ESP_RST_WDT:       return "wdt";
    case ESP_RST_DEEPSLEEP: return "deepsleep";
    case ESP_RST_BROWNOUT:  return "brownout";
    default:                return "unknown";
    }
}

/* ---- GET /ota/status -------------------------------------------------------------------- */

static esp_err_t status_get(httpd_req_t *r)
{
    const esp_app_desc_t *app = esp_app_get_description();
    const esp_partition_t *running = esp_ota_get_running_partition();
    const esp_partition_t *next = esp_ota_get_next_update_partition(NULL);
    esp_ota_img_states_t st = ESP_OTA_IMG_UNDEFINED;
    bool pending = running != NULL && esp_ota_get_state_partition(running, &st) == ESP_OK &&
                   st == ESP_OTA_IMG_PENDING_VERIFY;
    const char *rb = ota_history_rollback();

    char version[80], date[40], time_s[40], project[80], rollback[80];
    json_str(version, sizeof(version), app->version);
    json_str(date, sizeof(date), app->date);
    json_str(time_s, sizeof(time_s), app->time);
    json_str(project, sizeof(project), app->project_name);
    if (rb != NULL) {
        json_str(rollback, sizeof(rollback), rb);
    } else {
        strlcpy(rollback, "null", sizeof(rollback));
    }

    char body[768];
    int n = snprintf(body, sizeof(body),
        "{\"version\":%s,\"date\":%s,\"time\":%s,"
        "\"running_partition\":\"%s\",\"next_partition\":\"%s\",\"max_size\":%lu,"
        "\"node_id\":%u,\"mac\":\"%s\",\"chip\":\"%s\",\"project_name\":%s,"
        "\"app_sha256\":\"%s\",\"ota_state\":\"%s\",\"rollback\":%s,"
        "\"uptime_s\":%llu,\"edge_tier\":%u,\"reset_reason\":\"%s\"}",
        version, date, time_s,
        running != NULL ? running->label : "", next != NULL ? next->label : "",
        (unsigned long)(next != NULL ? next->size : 0),
        (unsigned)s_cfg->edge.node_id, s_info->mac_str, s_info->chip, project,
        s_info->app_sha256, pending ? "pending_verify" : "valid", rollback,
        (unsigned long long)(esp_timer_get_time() / 1000000),
        (unsigned)s_cfg->edge.edge_tier, reset_reason_name(esp_reset_reason()));
    if (n < 0 || (size_t)n >= sizeof(body)) {
        httpd_resp_send_500(r);
        return ESP_FAIL;
    }
    httpd_resp_set_type(r, "application/json");
    return httpd_resp_send(r, body, n);
}

/* ---- POST /ota -------------------------------------------------------------------------- */

static void reboot_cb(void *arg)
{
    (void)arg;
    esp_restart();
}

/* Bodies up to one OTA slot are drained after a refusal; anything longer closes instead. */
static bool drainable(httpd_req_t *r, const esp_partition_t *slot)
{
    return httpd_req_get_hdr_value_len(r, "Transfer-Encoding") == 0 &&
           slot != NULL && r->content_len <= slot->size;
}

/* The check_* and receive steps return true to go on; false means the request has been
 * answered (or the connection is gone) and the handler returns *ret. */

static bool check_psk(httpd_req_t *r, bool drain, esp_err_t *ret)
{
    if (s_cfg->ota_psk[0] == '\0') {
        *ret = refuse(r, "403 Forbidden", "ota_disabled",
                      "OTA disabled: no ota_psk provisioned (write security/ota_psk over USB, "
                      "e.g. ruview provision --ota-psk)", drain);
        return false;
    }
    char auth[BEARER_LEN + PSK_MAX + 2];
    size_t len = httpd_req_get_hdr_value_len(r, "Authorization");
    bool ok = len > BEARER_LEN && len < sizeof(auth) &&
              httpd_req_get_hdr_value_str(r, "Authorization", auth, sizeof(auth)) == ESP_OK &&
              strncmp(auth, BEARER, BEARER_LEN) == 0 &&
              psk_matches(auth + BEARER_LEN, len - BEARER_LEN, s_cfg->ota_psk);
    memset(auth, 0, sizeof(auth));
    if (!ok) {
        *ret = refuse(r, "403 Forbidden", "auth",
                      "Authentication required. Use: Authorization: Bearer <psk>", drain);
    }
    return ok;
}

/* Validate the request before touching flash. */
static bool check_request(httpd_req_t *r, const esp_partition_t *update, uint8_t want[32],
                          bool *check_digest, esp_err_t *ret)
{
    bool drain = drainable(r, update);
    if (!check_psk(r, drain, ret)) {
        return false;
    }
    if (update == NULL) {
        *ret = refuse(r, "500 Internal Server Error", "write_failed", "no OTA slot to write to",
                      false);
        return false;
    }
    if (httpd_req_get_hdr_value_len(r, "Transfer-Encoding") > 0 ||
        httpd_req_get_hdr_value_len(r, "Content-Length") == 0) {
        *ret = refuse(r, "411 Length Required", "length_required",
                      "Content-Length required (chunked uploads are not supported)", false);
        return false;
    }
    if (r->content_len == 0) {
        *ret = refuse(r, "400 Bad Request", "empty", "empty upload: Content-Length is 0", true);
        return false;
    }
    if (r->content_len > update->size) {
        char msg[96];
        snprintf(msg, sizeof(msg), "image of %u bytes exceeds the OTA slot (%lu bytes)",
                 (unsigned)r->content_len, (unsigned long)update->size);
        *ret = refuse(r, "413 Payload Too Large", "too_large", msg, false);
        return false;
    }
    *check_digest = false;
    size_t hlen = httpd_req_get_hdr_value_len(r, "X-Image-SHA256");
    if (hlen > 0) {
        char hex[72];
        if (hlen >= sizeof(hex) ||
            httpd_req_get_hdr_value_str(r, "X-Image-SHA256", hex, sizeof(hex)) != ESP_OK ||
            !parse_sha256_hex(hex, want)) {
            *ret = refuse(r, "400 Bad Request", "bad_digest_header",
                          "X-Image-SHA256 must be 64 hex digits", true);
            return false;
        }
        *check_digest = true;
    }
    return true;
}

/* Stream the body into `update`, hashing it; on success `ota` is open and `digest` filled. */
static bool receive_image(httpd_req_t *r, const esp_partition_t *update,
                          esp_ota_handle_t *ota, uint8_t digest[32], esp_err_t *ret)
{
    const size_t total = r->content_len;
    mbedtls_sha256_context sha;
    mbedtls_sha256_init(&sha);
    mbedtls_sha256_starts(&sha, 0);
    bool begun = false;
    bool ok = true;
    size_t done = 0;
    int timeouts = 0;

    while (done < total) {
        size_t want_n = total - done < sizeof(s_rx) ? total - done : sizeof(s_rx);
        int n = httpd_req_recv(r, s_rx, want_n);
        if (n == HTTPD_SOCK_ERR_TIMEOUT && ++timeouts <= RX_TIMEOUTS) {
            continue;
        }
        if (n <= 0) {
            /* Connection gone mid-upload: nothing was activated, the old app keeps running. */
            ESP_LOGW(TAG, "upload aborted after %u of %u bytes", (unsigned)done, (unsigned)total);
            *ret = ESP_FAIL;
            ok = false;
            break;
        }
        timeouts = 0;
        if (!begun) {
            if ((uint8_t)s_rx[0] != 0xE9) {
                char msg[96];
                snprintf(msg, sizeof(msg), "not an ESP application image: first byte 0x%02x, "
                         "expected 0xE9", (uint8_t)s_rx[0]);
                *ret = refuse(r, "422 Unprocessable Entity", "invalid_image", msg, true);
                ok = false;
                break;
            }
            if (esp_ota_begin(update, total, ota) != ESP_OK) {
                *ret = refuse(r, "500 Internal Server Error", "write_failed",
                              "esp_ota_begin failed", false);
                ok = false;
                break;
            }
            begun = true;
            ESP_LOGI(TAG, "receiving %u bytes into %s", (unsigned)total, update->label);
        }
        mbedtls_sha256_update(&sha, (const unsigned char *)s_rx, (size_t)n);
        if (esp_ota_write(*ota, s_rx, (size_t)n) != ESP_OK) {
            *ret = refuse(r, "500 Internal Server Error", "write_failed", "OTA write failed",
                          false);
            ok = false;
            break;
        }
        done += (size_t)n;
    }
    if (ok) {
        mbedtls_sha256_finish(&sha, digest);
    } else if (begun) {
        esp_ota_abort(*ota);
    }
    mbedtls_sha256_free(&sha);
    return ok;
}

static esp_err_t ota_post(httpd_req_t *r)
{
    const esp_partition_t *update = esp_ota_get_next_update_partition(NULL);
    uint8_t want[32];
    bool check_digest = false;
    esp_err_t ret = ESP_OK;
    if (!check_request(r, update, want, &check_digest, &ret)) {
        return ret;
    }
    esp_ota_handle_t ota = 0;
    uint8_t got[32];
    if (!receive_image(r, update, &ota, got, &ret)) {
        return ret;
    }
    char got_hex[65];
    to_hex(got, sizeof(got), got_hex);
    if (check_digest && memcmp(got, want, sizeof(got)) != 0) {
        esp_ota_abort(ota);
        char msg[128];
        snprintf(msg, sizeof(msg), "X-Image-SHA256 mismatch: received image hashes to %s",
                 got_hex);
        return refuse(r, "422 Unprocessable Entity", "digest_mismatch", msg, true);
    }
    esp_err_t err = esp_ota_end(ota);   /* verifies the image: chip, segments, checksum, hash */
    if (err == ESP_ERR_OTA_VALIDATE_FAILED) {
        return refuse(r, "422 Unprocessable Entity", "invalid_image",
                      "image rejected by esp_ota_end (wrong chip, or corrupt image)", true);
    }
    if (err != ESP_OK) {
        return refuse(r, "500 Internal Server Error", "write_failed", "esp_ota_end failed", true);
    }

    esp_app_desc_t desc;
    memset(&desc, 0, sizeof(desc));
    esp_ota_get_partition_description(update, &desc);
    if (esp_ota_set_boot_partition(update) != ESP_OK) {
        return refuse(r, "500 Internal Server Error", "write_failed",
                      "esp_ota_set_boot_partition failed", true);
    }
    ota_history_record_update(update->label, desc.version);

    char version[80];
    json_str(version, sizeof(version), desc.version);
    char body[320];
    int n = snprintf(body, sizeof(body),
                     "{\"status\":\"ok\",\"version\":%s,\"next_partition\":\"%s\",\"size\":%u,"
                     "\"sha256\":\"%s\",\"message\":\"OTA update successful. Rebooting...\"}",
                     version, update->label, (unsigned)r->content_len, got_hex);
    httpd_resp_set_type(r, "application/json");
    httpd_resp_send(r, body, n > 0 && (size_t)n < sizeof(body) ? n : 0);
    ESP_LOGI(TAG, "update %s written to %s; rebooting in 1 s", desc.version, update->label);
    esp_timer_start_once(s_reboot_timer, REBOOT_DELAY_US);
    return ESP_OK;
}

void http_ota_start(const node_config_t *cfg, const node_info_t *info)
{
    s_cfg = cfg;
    s_info = info;
    const esp_timer_create_args_t t = { .callback = reboot_cb, .name = "ota_reboot" };
    ESP_ERROR_CHECK(esp_timer_create(&t, &s_reboot_timer));

    httpd_config_t hc = HTTPD_DEFAULT_CONFIG();
    hc.server_port = CONFIG_RUVIEW_HTTP_PORT;
    hc.stack_size = 8192;
    hc.recv_wait_timeout = 10;
    hc.lru_purge_enable = true;
    httpd_handle_t server = NULL;
    esp_err_t err = httpd_start(&server, &hc);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "httpd_start on port %d: %s", hc.server_port, esp_err_to_name(err));
        return;
    }
    static const httpd_uri_t status = { .uri = "/ota/status", .method = HTTP_GET,
                                        .handler = status_get };
    static const httpd_uri_t upload = { .uri = "/ota", .method = HTTP_POST,
                                        .handler = ota_post };
    httpd_register_uri_handler(server, &status);
    httpd_register_uri_handler(server, &upload);
    ESP_LOGI(TAG, "HTTP control/OTA on port %d", hc.server_port);
}
