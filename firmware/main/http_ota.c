#include "http_ota.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "esp_app_desc.h"
#include "esp_http_server.h"
#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_random.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "sdkconfig.h"

#include "csi_rx.h"
#include "ota_admission.h"
#include "ota_auth.h"
#include "ota_crypto.h"
#include "ota_history.h"

static const char *TAG = "http_ota";

#define RX_CHUNK     4096
#define RX_TIMEOUTS  3          /* consecutive receive timeouts before giving up */
#define REBOOT_DELAY_US (1000 * 1000)
#define AUTH_HDR_MAX 160        /* "RV-HMAC-SHA256 nonce=<32>, mac=<64>" is 122 */

static const node_config_t *s_cfg;
static const node_info_t   *s_info;
static char s_rx[RX_CHUNK];     /* the server runs one handler at a time */
static esp_timer_handle_t s_reboot_timer;
static rv_nonce_store_t s_nonce;   /* httpd task only */
static atomic_bool s_rebooting;    /* an accepted update restarts the node shortly */
static atomic_bool s_busy;         /* an upload is being received */
static atomic_bool s_running;      /* the server started: the self-test checks it */

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

/* Read and discard `n` body bytes; false if the connection failed first. */
static bool discard(httpd_req_t *r, uint64_t n)
{
    while (n > 0) {
        int got = httpd_req_recv(r, s_rx, n < sizeof(s_rx) ? (size_t)n : sizeof(s_rx));
        if (got <= 0) {   /* closed, error, or HTTPD_SOCK_ERR_TIMEOUT: give up, close */
            return false;
        }
        n -= (uint64_t)got;
    }
    return true;
}

/* Every refusal: JSON {"error": <reason>, "code": <code>} with the status of the answer table
 * (ota_admission.c). `unread` body bytes are discarded only up to RV_OTA_DRAIN_MAX; beyond
 * that (or chunked / no length) the handler returns ESP_FAIL, so esp_http_server closes the
 * socket instead of purging the whole body on its single task. */
static esp_err_t refuse(httpd_req_t *r, rv_ota_outcome_t o, const char *msg, bool chunked,
                        bool has_length, uint64_t unread)
{
    const rv_http_answer_t *a = rv_ota_answer(o);
    bool close_after = false;
    uint64_t drain = rv_ota_drain_bytes(chunked, has_length, unread, &close_after);
    char reason[200];
    json_str(reason, sizeof(reason), msg);
    char body[280];
    int n = snprintf(body, sizeof(body), "{\"error\":%s,\"code\":\"%s\"}", reason, a->code);
    httpd_resp_set_status(r, a->status_line);
    httpd_resp_set_type(r, "application/json");
    if (close_after) {
        httpd_resp_set_hdr(r, "Connection", "close");
    }
    httpd_resp_send(r, body, n > 0 && (size_t)n < sizeof(body) ? n : 0);
    ESP_LOGW(TAG, "POST /ota -> %u (%s)%s", a->status, a->code, close_after ? ", closing" : "");
    if (close_after || !discard(r, drain)) {
        return ESP_FAIL;
    }
    return ESP_OK;
}

static const char *refusal_text(rv_ota_outcome_t o)
{
    switch (o) {
    case RV_OTA_DISABLED:
        return "OTA disabled: no ota_psk provisioned (write security/ota_psk over USB, "
               "e.g. ruview provision --ota-psk)";
    case RV_OTA_AUTH_SCHEME:
        return "Bearer is refused: the key must not cross the network. Use GET /ota/nonce and "
               "Authorization: " RV_AUTH_SCHEME " nonce=<hex>, mac=<hex> (ruview >= 0.8)";
    case RV_OTA_AUTH:
        return "Authentication required: Authorization: " RV_AUTH_SCHEME
               " nonce=<32 hex>, mac=<64 hex> (HMAC-SHA256 of the request with the OTA key)";
    case RV_OTA_LENGTH_REQUIRED:
        return "Content-Length required (chunked uploads are not supported)";
    case RV_OTA_BAD_DIGEST_HEADER:
        return "X-Image-SHA256 must be 64 lowercase hex digits (it is part of the MAC)";
    case RV_OTA_NONCE:
        return "nonce unknown, used or expired: fetch a new one from GET /ota/nonce";
    case RV_OTA_REBOOTING:
        return "an update was just accepted and the node is restarting; retry after it is back";
    case RV_OTA_BUSY:
        return "another upload is in progress";
    case RV_OTA_PENDING_VERIFY:
        return "the running app has not passed its self-test yet; retry when /ota/status shows "
               "ota_state valid";
    case RV_OTA_EMPTY:
        return "empty upload: Content-Length is 0";
    case RV_OTA_NO_SLOT:
        return "no OTA slot to write to";
    case RV_OTA_TOO_LARGE:
        return "image exceeds the OTA slot (max_size in /ota/status)";
    default:
        return "refused";
    }
}

static size_t hdr_str(httpd_req_t *r, const char *name, char *buf, size_t cap)
{
    size_t len = httpd_req_get_hdr_value_len(r, name);
    if (len == 0 || len >= cap || httpd_req_get_hdr_value_str(r, name, buf, cap) != ESP_OK) {
        buf[0] = '\0';
        return len;   /* too long: reported, left empty */
    }
    return len;
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

    char body[1024];
    int n = snprintf(body, sizeof(body),
        "{\"version\":%s,\"date\":%s,\"time\":%s,"
        "\"running_partition\":\"%s\",\"next_partition\":\"%s\",\"max_size\":%lu,"
        "\"node_id\":%u,\"mac\":\"%s\",\"chip\":\"%s\",\"chip_revision\":%u,"
        "\"project_name\":%s,\"app_sha256\":\"%s\",\"ota_state\":\"%s\",\"rollback\":%s,"
        "\"rollback_capable\":%s,\"auth\":\"hmac-sha256\",\"uptime_s\":%llu,\"edge_tier\":%u,"
        "\"reset_reason\":\"%s\",\"csi_dropped\":%lu}",
        version, date, time_s,
        running != NULL ? running->label : "", next != NULL ? next->label : "",
        (unsigned long)(next != NULL ? next->size : 0),
        (unsigned)s_cfg->edge.node_id, s_info->mac_str, s_info->chip,
        (unsigned)s_info->chip_revision, project,
        s_info->app_sha256, pending ? "pending_verify" : "valid", rollback,
        s_info->rollback_capable ? "true" : "false",
        (unsigned long long)(esp_timer_get_time() / 1000000),
        (unsigned)s_cfg->edge.edge_tier, reset_reason_name(esp_reset_reason()),
        (unsigned long)csi_rx_gate_dropped());
    if (n < 0 || (size_t)n >= sizeof(body)) {
        httpd_resp_send_500(r);
        return ESP_FAIL;
    }
    httpd_resp_set_type(r, "application/json");
    return httpd_resp_send(r, body, n);
}

/* ---- GET /ota/nonce --------------------------------------------------------------------- */

static esp_err_t nonce_get(httpd_req_t *r)
{
    uint8_t raw[RV_NONCE_BYTES];
    esp_fill_random(raw, sizeof(raw));   /* hardware RNG (RF on: WiFi is up) */
    rv_nonce_issue(&s_nonce, raw, (uint64_t)esp_timer_get_time());
    char body[80];
    int n = snprintf(body, sizeof(body), "{\"nonce\":\"%s\",\"ttl_s\":%d}", s_nonce.hex,
                     RV_NONCE_TTL_S);
    httpd_resp_set_type(r, "application/json");
    httpd_resp_set_hdr(r, "Cache-Control", "no-store");
    return httpd_resp_send(r, body, n);
}

/* ---- POST /ota -------------------------------------------------------------------------- */

static void reboot_cb(void *arg)
{
    (void)arg;
    esp_restart();
}

static bool running_pending_verify(void)
{
    const esp_partition_t *running = esp_ota_get_running_partition();
    esp_ota_img_states_t st;
    return running != NULL && esp_ota_get_state_partition(running, &st) == ESP_OK &&
           st == ESP_OTA_IMG_PENDING_VERIFY;
}

/* HMAC-SHA256(ota_psk, message) equals the request's mac, compared in constant time. */
static bool mac_verifies(const rv_hmac_auth_t *a, const char *sha256_hex, uint64_t length)
{
    char msg[RV_MAC_MSG_MAX];
    size_t n = rv_ota_mac_message(msg, sizeof(msg), a->nonce, sha256_hex, length);
    uint8_t want[RV_MAC_BYTES];
    bool ok = n > 0 &&
              rv_hmac_sha256((const uint8_t *)s_cfg->ota_psk, strlen(s_cfg->ota_psk),
                             (const uint8_t *)msg, n, want) &&
              rv_ct_equal(want, a->mac, RV_MAC_BYTES);
    memset(want, 0, sizeof(want));
    return ok;
}

/* Everything decided from the headers (ota_admission.c), before a byte of the body is read. */
static rv_ota_outcome_t admit(httpd_req_t *r, const esp_partition_t *update,
                              rv_ota_request_t *q, char digest_hex[RV_SHA256_HEX + 1])
{
    char auth[AUTH_HDR_MAX];
    size_t auth_len = hdr_str(r, "Authorization", auth, sizeof(auth));
    rv_hmac_auth_t a;
    memset(&a, 0, sizeof(a));
    q->psk_set = s_cfg->ota_psk[0] != '\0';
    q->scheme = auth_len == 0 ? RV_AUTH_NONE : rv_auth_parse(auth, &a);
    memset(auth, 0, sizeof(auth));
    q->chunked = httpd_req_get_hdr_value_len(r, "Transfer-Encoding") > 0;
    q->has_length = httpd_req_get_hdr_value_len(r, "Content-Length") > 0;
    q->length = r->content_len;
    char hex[RV_SHA256_HEX + 8];
    hdr_str(r, "X-Image-SHA256", hex, sizeof(hex));
    q->digest_ok = rv_is_lower_hex(hex, RV_SHA256_HEX);
    strlcpy(digest_hex, q->digest_ok ? hex : "", RV_SHA256_HEX + 1);
    /* Consumed by every POST, whatever happens next (single use). */
    q->nonce_ok = rv_nonce_take(&s_nonce, q->scheme == RV_AUTH_HMAC ? a.nonce : NULL,
                                (uint64_t)esp_timer_get_time());
    q->mac_ok = q->psk_set && q->scheme == RV_AUTH_HMAC && q->nonce_ok && q->digest_ok &&
                q->has_length && !q->chunked && mac_verifies(&a, digest_hex, q->length);
    q->rebooting = atomic_load(&s_rebooting);
    q->busy = atomic_load(&s_busy);
    q->pending_verify = running_pending_verify();
    q->have_slot = update != NULL;
    q->slot_size = update != NULL ? update->size : 0;
    return rv_ota_admit(q);
}

/* Stream the body into `update`, hashing it; on success `ota` is open and `digest` filled. */
static bool receive_image(httpd_req_t *r, const esp_partition_t *update,
                          esp_ota_handle_t *ota, uint8_t digest[32], esp_err_t *ret)
{
    const size_t total = r->content_len;
    rv_sha256_t sha;
    rv_sha256_begin(&sha);
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
                *ret = refuse(r, RV_OTA_INVALID_IMAGE,
                              "not an ESP application image: first byte is not 0xE9", false, true,
                              total - done - (size_t)n);
                ok = false;
                break;
            }
            esp_err_t err = esp_ota_begin(update, total, ota);
            if (err != ESP_OK) {
                /* ESP_ERR_OTA_ROLLBACK_INVALID_STATE cannot happen here: admit() refused
                 * pending_verify before the body. Anything else is a flash problem. */
                ESP_LOGE(TAG, "esp_ota_begin: %s", esp_err_to_name(err));
                *ret = refuse(r, RV_OTA_WRITE_FAILED, "esp_ota_begin failed", false, false, 0);
                ok = false;
                break;
            }
            begun = true;
            ESP_LOGI(TAG, "receiving %u bytes into %s", (unsigned)total, update->label);
        }
        rv_sha256_update(&sha, s_rx, (size_t)n);
        if (esp_ota_write(*ota, s_rx, (size_t)n) != ESP_OK) {
            *ret = refuse(r, RV_OTA_WRITE_FAILED, "OTA write failed", false, false, 0);
            ok = false;
            break;
        }
        done += (size_t)n;
    }
    if (ok) {
        ok = rv_sha256_finish(&sha, digest);
        if (!ok) {
            *ret = refuse(r, RV_OTA_WRITE_FAILED, "SHA-256 of the upload failed", false, true, 0);
        }
    } else {
        rv_sha256_discard(&sha);
    }
    if (!ok && begun) {
        esp_ota_abort(*ota);
    }
    return ok;
}

/* Body received and hashed: verify, activate, answer 200 and schedule the restart. */
static esp_err_t install(httpd_req_t *r, const esp_partition_t *update, esp_ota_handle_t ota,
                         const uint8_t got[32], const char *want_hex)
{
    char got_hex[RV_SHA256_HEX + 1];
    rv_hex_encode(got, 32, got_hex);
    if (strcmp(got_hex, want_hex) != 0) {
        esp_ota_abort(ota);
        char msg[128];
        snprintf(msg, sizeof(msg), "X-Image-SHA256 mismatch: received image hashes to %s",
                 got_hex);
        return refuse(r, RV_OTA_DIGEST_MISMATCH, msg, false, true, 0);
    }
    esp_err_t err = esp_ota_end(ota);   /* verifies the image: chip, segments, checksum, hash */
    if (err == ESP_ERR_OTA_VALIDATE_FAILED) {
        return refuse(r, RV_OTA_INVALID_IMAGE,
                      "image rejected by esp_ota_end (wrong chip or revision, or corrupt image)",
                      false, true, 0);
    }
    if (err != ESP_OK) {
        return refuse(r, RV_OTA_WRITE_FAILED, "esp_ota_end failed", false, true, 0);
    }
    esp_app_desc_t desc;
    memset(&desc, 0, sizeof(desc));
    esp_ota_get_partition_description(update, &desc);
    if (esp_ota_set_boot_partition(update) != ESP_OK) {
        return refuse(r, RV_OTA_WRITE_FAILED, "esp_ota_set_boot_partition failed", false, true,
                      0);
    }
    atomic_store(&s_rebooting, true);   /* from here on every upload is refused */
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
    if (esp_timer_start_once(s_reboot_timer, REBOOT_DELAY_US) != ESP_OK) {
        esp_restart();
    }
    return ESP_OK;
}

static esp_err_t ota_post(httpd_req_t *r)
{
    const esp_partition_t *update = esp_ota_get_next_update_partition(NULL);
    rv_ota_request_t q;
    memset(&q, 0, sizeof(q));
    char want_hex[RV_SHA256_HEX + 1];
    rv_ota_outcome_t o = admit(r, update, &q, want_hex);
    if (o == RV_OTA_ADMIT && atomic_exchange(&s_busy, true)) {
        o = RV_OTA_BUSY;
    } else if (o == RV_OTA_ADMIT) {
        esp_ota_handle_t ota = 0;
        uint8_t got[32];
        esp_err_t ret = ESP_OK;
        if (receive_image(r, update, &ota, got, &ret)) {
            ret = install(r, update, ota, got, want_hex);
        }
        atomic_store(&s_busy, false);
        return ret;
    }
    return refuse(r, o, refusal_text(o), q.chunked, q.has_length, q.length);
}

bool http_ota_running(void)
{
    return atomic_load(&s_running);
}

bool http_ota_start(const node_config_t *cfg, const node_info_t *info)
{
    s_cfg = cfg;
    s_info = info;
    const esp_timer_create_args_t t = { .callback = reboot_cb, .name = "ota_reboot" };
    if (esp_timer_create(&t, &s_reboot_timer) != ESP_OK) {
        ESP_LOGE(TAG, "esp_timer_create failed: no HTTP/OTA server");
        return false;
    }

    httpd_config_t hc = HTTPD_DEFAULT_CONFIG();
    hc.server_port = CONFIG_RUVIEW_HTTP_PORT;
    hc.stack_size = 8192;
    hc.recv_wait_timeout = 10;
    hc.lru_purge_enable = true;
    httpd_handle_t server = NULL;
    esp_err_t err = httpd_start(&server, &hc);
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "httpd_start on port %d: %s", hc.server_port, esp_err_to_name(err));
        return false;
    }
    static const httpd_uri_t status = { .uri = "/ota/status", .method = HTTP_GET,
                                        .handler = status_get };
    static const httpd_uri_t nonce = { .uri = "/ota/nonce", .method = HTTP_GET,
                                       .handler = nonce_get };
    static const httpd_uri_t upload = { .uri = "/ota", .method = HTTP_POST,
                                        .handler = ota_post };
    if (httpd_register_uri_handler(server, &status) != ESP_OK ||
        httpd_register_uri_handler(server, &nonce) != ESP_OK ||
        httpd_register_uri_handler(server, &upload) != ESP_OK) {
        ESP_LOGE(TAG, "registering the HTTP handlers failed");
        httpd_stop(server);
        return false;
    }
    atomic_store(&s_running, true);
    ESP_LOGI(TAG, "HTTP/OTA server started on port %d", hc.server_port);
    return true;
}
