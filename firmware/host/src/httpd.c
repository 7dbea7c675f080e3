/*
 * esp_http_server on a host TCP socket bound to --ip. As in ESP-IDF (httpd_main.c,
 * httpd_sess.c, httpd_parse.c, httpd_txrx.c, httpd_uri.c): one server task multiplexes every
 * session with select() and runs one request at a time; bytes read past the header block are
 * "pending" and returned first by httpd_req_recv, which otherwise returns what one recv()
 * gives, HTTPD_SOCK_ERR_TIMEOUT after recv_wait_timeout s; after a handler returns ESP_OK the
 * unread body is purged, on failure the session is closed; request headers are gone once a
 * response has been sent; a full session table evicts the least recently used session when
 * lru_purge_enable is set.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "esp_http_server.h"
#include "esp_log.h"
#include "freertos/task.h"
#include "port.h"

static const char *TAG = "httpd";

#define MAX_HDRS 32
#define PURGE_BUF 32   /* CONFIG_HTTPD_PURGE_BUF_LEN default */

typedef struct {
    int fd;
    uint64_t lru;
    char pending[CONFIG_HTTPD_MAX_REQ_HDR_LEN];
    size_t pending_len;
} sess_t;

typedef struct {
    sess_t *sd;
    char scratch[CONFIG_HTTPD_MAX_REQ_HDR_LEN + 1];
    const char *hdr_name[MAX_HDRS];
    const char *hdr_val[MAX_HDRS];
    int nhdrs;
    size_t remaining;
    const char *status;
    const char *type;
    const char *resp_field[16];
    const char *resp_value[16];
    int nresp;
    bool chunked_started;
    char uri_query[CONFIG_HTTPD_MAX_URI_LEN + 1];
} req_aux_t;

typedef struct {
    httpd_config_t cfg;
    int listen_fd;
    sess_t *sess;
    httpd_uri_t *uris;
    int nuris;
    httpd_req_t req;
    req_aux_t aux;
    atomic_int in_handler;
    TaskHandle_t task;
    uint64_t lru_counter;
    httpd_err_handler_func_t err_handlers[HTTPD_ERR_CODE_MAX];
} server_t;

static const struct { const char *name; httpd_method_t m; } k_methods[] = {
    { "DELETE", HTTP_DELETE }, { "GET", HTTP_GET }, { "HEAD", HTTP_HEAD }, { "POST", HTTP_POST },
    { "PUT", HTTP_PUT }, { "CONNECT", HTTP_CONNECT }, { "OPTIONS", HTTP_OPTIONS },
    { "TRACE", HTTP_TRACE }, { "PATCH", HTTP_PATCH },
};

/* ---- socket I/O ----------------------------------------------------------------------- */

static int sock_recv(int fd, char *buf, size_t len)
{
    for (;;) {
        ssize_t n = recv(fd, buf, len, 0);
        if (n >= 0) return (int)n;
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return HTTPD_SOCK_ERR_TIMEOUT;
        return HTTPD_SOCK_ERR_FAIL;
    }
}

static bool sock_send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* httpd_valid_req: the request of the handler now running on this server. */
static bool valid_req(httpd_req_t *r)
{
    if (r == NULL || r->handle == NULL) return false;
    server_t *s = r->handle;
    return r == &s->req && r->aux == &s->aux && s->aux.sd != NULL;
}

static int recv_opt(httpd_req_t *r, char *buf, size_t len)
{
    req_aux_t *ra = r->aux;
    size_t got = 0;
    if (ra->sd->pending_len > 0) {
        got = len < ra->sd->pending_len ? len : ra->sd->pending_len;
        memcpy(buf, ra->sd->pending, got);
        memmove(ra->sd->pending, ra->sd->pending + got, ra->sd->pending_len - got);
        ra->sd->pending_len -= got;
        if (got == len) return (int)got;
    }
    int n = sock_recv(ra->sd->fd, buf + got, len - got);
    if (n <= 0) {
        return (n == HTTPD_SOCK_ERR_TIMEOUT && got > 0) ? (int)got : n;
    }
    return (int)got + n;
}

int httpd_req_recv(httpd_req_t *r, char *buf, size_t buf_len)
{
    if (r == NULL || buf == NULL) return HTTPD_SOCK_ERR_INVALID;
    if (!valid_req(r)) return HTTPD_SOCK_ERR_INVALID;
    req_aux_t *ra = r->aux;
    if (buf_len > ra->remaining) buf_len = ra->remaining;
    if (buf_len == 0) return (int)buf_len;
    int n = recv_opt(r, buf, buf_len);
    if (n < 0) return n;
    ra->remaining -= (size_t)n;
    return n;
}

int httpd_req_to_sockfd(httpd_req_t *r)
{
    return valid_req(r) ? ((req_aux_t *)r->aux)->sd->fd : -1;
}

/* ---- request headers ------------------------------------------------------------------ */

static int find_hdr(req_aux_t *ra, const char *field)
{
    for (int i = 0; i < ra->nhdrs; i++) {
        if (strcasecmp(ra->hdr_name[i], field) == 0) return i;
    }
    return -1;
}

size_t httpd_req_get_hdr_value_len(httpd_req_t *r, const char *field)
{
    if (r == NULL || field == NULL || !valid_req(r)) return 0;
    int i = find_hdr(r->aux, field);
    return i < 0 ? 0 : strlen(((req_aux_t *)r->aux)->hdr_val[i]);
}

esp_err_t httpd_req_get_hdr_value_str(httpd_req_t *r, const char *field, char *val, size_t size)
{
    if (r == NULL || field == NULL) return ESP_ERR_INVALID_ARG;
    if (!valid_req(r)) return ESP_ERR_HTTPD_INVALID_REQ;
    int i = find_hdr(r->aux, field);
    if (i < 0) return ESP_ERR_NOT_FOUND;
    if (val == NULL || size == 0) return ESP_ERR_INVALID_ARG;
    const char *v = ((req_aux_t *)r->aux)->hdr_val[i];
    snprintf(val, size, "%s", v);
    return strlen(v) >= size ? ESP_ERR_HTTPD_RESULT_TRUNC : ESP_OK;
}

size_t httpd_req_get_url_query_len(httpd_req_t *r)
{
    if (!valid_req(r)) return 0;
    return strlen(((req_aux_t *)r->aux)->uri_query);
}

esp_err_t httpd_req_get_url_query_str(httpd_req_t *r, char *buf, size_t len)
{
    if (r == NULL || buf == NULL) return ESP_ERR_INVALID_ARG;
    if (!valid_req(r)) return ESP_ERR_HTTPD_INVALID_REQ;
    const char *q = ((req_aux_t *)r->aux)->uri_query;
    if (q[0] == '\0') return ESP_ERR_NOT_FOUND;
    snprintf(buf, len, "%s", q);
    return strlen(q) >= len ? ESP_ERR_HTTPD_RESULT_TRUNC : ESP_OK;
}

esp_err_t httpd_query_key_value(const char *qry, const char *key, char *val, size_t size)
{
    if (qry == NULL || key == NULL || val == NULL) return ESP_ERR_INVALID_ARG;
    size_t klen = strlen(key);
    for (const char *p = qry; p != NULL && *p != '\0';) {
        const char *end = strchr(p, '&');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t vlen = len - klen - 1;
            snprintf(val, size, "%.*s", (int)vlen, p + klen + 1);
            return vlen >= size ? ESP_ERR_HTTPD_RESULT_TRUNC : ESP_OK;
        }
        p = end ? end + 1 : NULL;
    }
    return ESP_ERR_NOT_FOUND;
}

/* ---- responses ------------------------------------------------------------------------ */

esp_err_t httpd_resp_set_status(httpd_req_t *r, const char *status)
{
    if (r == NULL || status == NULL) return ESP_ERR_INVALID_ARG;
    if (!valid_req(r)) return ESP_ERR_HTTPD_INVALID_REQ;
    ((req_aux_t *)r->aux)->status = status;
    return ESP_OK;
}

esp_err_t httpd_resp_set_type(httpd_req_t *r, const char *type)
{
    if (r == NULL || type == NULL) return ESP_ERR_INVALID_ARG;
    if (!valid_req(r)) return ESP_ERR_HTTPD_INVALID_REQ;
    ((req_aux_t *)r->aux)->type = type;
    return ESP_OK;
}

esp_err_t httpd_resp_set_hdr(httpd_req_t *r, const char *field, const char *value)
{
    if (r == NULL || field == NULL || value == NULL) return ESP_ERR_INVALID_ARG;
    if (!valid_req(r)) return ESP_ERR_HTTPD_INVALID_REQ;
    req_aux_t *ra = r->aux;
    server_t *s = r->handle;
    if (ra->nresp >= s->cfg.max_resp_headers || ra->nresp >= 16) return ESP_ERR_HTTPD_RESP_HDR;
    ra->resp_field[ra->nresp] = field;
    ra->resp_value[ra->nresp++] = value;
    return ESP_OK;
}

static esp_err_t send_head(httpd_req_t *r, const char *length_line)
{
    req_aux_t *ra = r->aux;
    server_t *s = r->handle;
    char head[1024];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %s\r\nContent-Type: %s\r\n%s", ra->status,
                     ra->type, length_line);
    if (n < 0 || (size_t)n >= s->cfg.max_req_hdr_len || (size_t)n >= sizeof(head)) {
        return ESP_ERR_HTTPD_RESP_HDR;
    }
    for (int i = 0; i < ra->nresp; i++) {
        int m = snprintf(head + n, sizeof(head) - (size_t)n, "%s: %s\r\n", ra->resp_field[i],
                         ra->resp_value[i]);
        if (m < 0 || (size_t)(n + m) >= sizeof(head)) return ESP_ERR_HTTPD_RESP_HDR;
        n += m;
    }
    if ((size_t)n + 2 >= sizeof(head)) return ESP_ERR_HTTPD_RESP_HDR;
    memcpy(head + n, "\r\n", 2);
    n += 2;
    ra->nhdrs = 0;   /* "Request headers are no longer available" (httpd_txrx.c) */
    return sock_send_all(ra->sd->fd, head, (size_t)n) ? ESP_OK : ESP_ERR_HTTPD_RESP_SEND;
}

esp_err_t httpd_resp_send(httpd_req_t *r, const char *buf, ssize_t buf_len)
{
    if (r == NULL) return ESP_ERR_INVALID_ARG;
    if (!valid_req(r)) return ESP_ERR_HTTPD_INVALID_REQ;
    if (buf_len == HTTPD_RESP_USE_STRLEN) buf_len = buf ? (ssize_t)strlen(buf) : 0;
    char len_line[48];
    snprintf(len_line, sizeof(len_line), "Content-Length: %d\r\n", (int)buf_len);
    esp_err_t err = send_head(r, len_line);
    if (err != ESP_OK) return err;
    req_aux_t *ra = r->aux;
    if (buf != NULL && buf_len > 0 && !sock_send_all(ra->sd->fd, buf, (size_t)buf_len)) {
        return ESP_ERR_HTTPD_RESP_SEND;
    }
    return ESP_OK;
}

esp_err_t httpd_resp_send_chunk(httpd_req_t *r, const char *buf, ssize_t buf_len)
{
    if (r == NULL) return ESP_ERR_INVALID_ARG;
    if (!valid_req(r)) return ESP_ERR_HTTPD_INVALID_REQ;
    req_aux_t *ra = r->aux;
    if (buf_len == HTTPD_RESP_USE_STRLEN) buf_len = buf ? (ssize_t)strlen(buf) : 0;
    if (!ra->chunked_started) {
        esp_err_t err = send_head(r, "Transfer-Encoding: chunked\r\n");
        if (err != ESP_OK) return err;
        ra->chunked_started = true;
    }
    char sz[16];
    int n = snprintf(sz, sizeof(sz), "%x\r\n", (unsigned)buf_len);
    bool ok = sock_send_all(ra->sd->fd, sz, (size_t)n) &&
              (buf_len == 0 || sock_send_all(ra->sd->fd, buf, (size_t)buf_len)) &&
              sock_send_all(ra->sd->fd, "\r\n", 2);
    return ok ? ESP_OK : ESP_ERR_HTTPD_RESP_SEND;
}

static const struct { const char *status; const char *msg; } k_errs[HTTPD_ERR_CODE_MAX] = {
    [HTTPD_500_INTERNAL_SERVER_ERROR] = { "500 Internal Server Error", "Server has encountered an unexpected error" },
    [HTTPD_501_METHOD_NOT_IMPLEMENTED] = { "501 Method Not Implemented", "Server does not support this method" },
    [HTTPD_505_VERSION_NOT_SUPPORTED] = { "505 Version Not Supported", "HTTP version not supported by server" },
    [HTTPD_400_BAD_REQUEST] = { "400 Bad Request", "Bad request syntax" },
    [HTTPD_401_UNAUTHORIZED] = { "401 Unauthorized", "No permission -- see authorization schemes" },
    [HTTPD_403_FORBIDDEN] = { "403 Forbidden", "Request forbidden -- authorization will not help" },
    [HTTPD_404_NOT_FOUND] = { "404 Not Found", "Nothing matches the given URI" },
    [HTTPD_405_METHOD_NOT_ALLOWED] = { "405 Method Not Allowed", "Specified method is invalid for this resource" },
    [HTTPD_408_REQ_TIMEOUT] = { "408 Request Timeout", "Server closed this connection" },
    [HTTPD_411_LENGTH_REQUIRED] = { "411 Length Required", "Client must specify Content-Length" },
    [HTTPD_413_CONTENT_TOO_LARGE] = { "413 Content Too Large", "Content is too large" },
    [HTTPD_414_URI_TOO_LONG] = { "414 URI Too Long", "URI is too long" },
    [HTTPD_431_REQ_HDR_FIELDS_TOO_LARGE] = { "431 Request Header Fields Too Large", "Header fields are too long" },
};

esp_err_t httpd_resp_send_err(httpd_req_t *req, httpd_err_code_t error, const char *usr_msg)
{
    if (error >= HTTPD_ERR_CODE_MAX) error = HTTPD_500_INTERNAL_SERVER_ERROR;
    const char *msg = usr_msg ? usr_msg : k_errs[error].msg;
    ESP_LOGW(TAG, "httpd_resp_send_err: %s - %s", k_errs[error].status, msg);
    httpd_resp_set_status(req, k_errs[error].status);
    httpd_resp_set_type(req, HTTPD_TYPE_TEXT);
    return httpd_resp_send(req, msg, HTTPD_RESP_USE_STRLEN);
}

esp_err_t httpd_resp_send_custom_err(httpd_req_t *req, const char *status, const char *msg)
{
    ESP_LOGW(TAG, "httpd_resp_send_custom_err: %s - %s", status, msg);
    httpd_resp_set_status(req, status);
    httpd_resp_set_type(req, HTTPD_TYPE_TEXT);
    return httpd_resp_send(req, msg, HTTPD_RESP_USE_STRLEN);
}

/* ---- URI handlers --------------------------------------------------------------------- */

static bool uri_matches(server_t *s, const httpd_uri_t *h, const char *path, size_t len)
{
    if (s->cfg.uri_match_fn != NULL) return s->cfg.uri_match_fn(h->uri, path, len);
    return strlen(h->uri) == len && strncmp(h->uri, path, len) == 0;
}

esp_err_t httpd_register_uri_handler(httpd_handle_t handle, const httpd_uri_t *u)
{
    server_t *s = handle;
    if (s == NULL || u == NULL || u->uri == NULL || u->handler == NULL) return ESP_ERR_INVALID_ARG;
    for (int i = 0; i < s->nuris; i++) {
        if (s->uris[i].method == u->method && strcmp(s->uris[i].uri, u->uri) == 0) {
            return ESP_ERR_HTTPD_HANDLER_EXISTS;
        }
    }
    if (s->nuris >= s->cfg.max_uri_handlers) {
        ESP_LOGW(TAG, "no slots left for registering handler");
        return ESP_ERR_HTTPD_HANDLERS_FULL;
    }
    s->uris[s->nuris++] = *u;
    return ESP_OK;
}

esp_err_t httpd_unregister_uri_handler(httpd_handle_t handle, const char *uri, httpd_method_t m)
{
    server_t *s = handle;
    if (s == NULL || uri == NULL) return ESP_ERR_INVALID_ARG;
    for (int i = 0; i < s->nuris; i++) {
        if (s->uris[i].method == m && strcmp(s->uris[i].uri, uri) == 0) {
            s->uris[i] = s->uris[--s->nuris];
            return ESP_OK;
        }
    }
    return ESP_ERR_NOT_FOUND;
}

esp_err_t httpd_register_err_handler(httpd_handle_t handle, httpd_err_code_t error,
                                     httpd_err_handler_func_t fn)
{
    server_t *s = handle;
    if (s == NULL || error >= HTTPD_ERR_CODE_MAX) return ESP_ERR_INVALID_ARG;
    s->err_handlers[error] = fn;
    return ESP_OK;
}

/* httpd_req_handle_err: a registered error handler decides; the default answers and the
 * session is closed (return ESP_FAIL). */
static esp_err_t handle_err(server_t *s, httpd_err_code_t e)
{
    if (s->err_handlers[e] != NULL) return s->err_handlers[e](&s->req, e);
    httpd_resp_send_err(&s->req, e, NULL);
    return ESP_FAIL;
}

/* ---- the server task ------------------------------------------------------------------ */

static void close_sess(sess_t *sd)
{
    if (sd->fd >= 0) close(sd->fd);
    sd->fd = -1;
    sd->pending_len = 0;
}

static bool parse_head(server_t *s, char *head, size_t head_len, httpd_err_code_t *err)
{
    req_aux_t *ra = &s->aux;
    httpd_req_t *r = &s->req;
    head[head_len] = '\0';
    char *line_end = strstr(head, "\r\n");
    if (line_end == NULL) { *err = HTTPD_400_BAD_REQUEST; return false; }
    *line_end = '\0';
    char *sp1 = strchr(head, ' ');
    char *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
    if (sp1 == NULL || sp2 == NULL) { *err = HTTPD_400_BAD_REQUEST; return false; }
    *sp1 = *sp2 = '\0';
    if (strncmp(sp2 + 1, "HTTP/1.", 7) != 0) { *err = HTTPD_505_VERSION_NOT_SUPPORTED; return false; }
    r->method = -1;
    for (size_t i = 0; i < sizeof(k_methods) / sizeof(k_methods[0]); i++) {
        if (strcmp(head, k_methods[i].name) == 0) r->method = k_methods[i].m;
    }
    if (r->method < 0) { *err = HTTPD_501_METHOD_NOT_IMPLEMENTED; return false; }
    const char *uri = sp1 + 1;
    if (strlen(uri) > s->cfg.max_uri_len || strlen(uri) > CONFIG_HTTPD_MAX_URI_LEN) {
        *err = HTTPD_414_URI_TOO_LONG;
        return false;
    }
    strcpy((char *)r->uri, uri);
    const char *q = strchr(uri, '?');
    snprintf(ra->uri_query, sizeof(ra->uri_query), "%s", q ? q + 1 : "");
    ra->nhdrs = 0;
    r->content_len = 0;
    bool chunked = false;
    for (char *p = line_end + 2; *p != '\0';) {
        char *e = strstr(p, "\r\n");
        if (e == NULL) break;
        *e = '\0';
        char *colon = strchr(p, ':');
        if (colon != NULL && ra->nhdrs < MAX_HDRS) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t') v++;
            char *t = v + strlen(v);
            while (t > v && (t[-1] == ' ' || t[-1] == '\t')) *--t = '\0';
            ra->hdr_name[ra->nhdrs] = p;
            ra->hdr_val[ra->nhdrs++] = v;
            if (strcasecmp(p, "Content-Length") == 0) {
                char *end;
                unsigned long long cl = strtoull(v, &end, 10);
                if (end == v || *end != '\0') { *err = HTTPD_400_BAD_REQUEST; return false; }
                r->content_len = (size_t)cl;
            } else if (strcasecmp(p, "Transfer-Encoding") == 0 && strcasestr(v, "chunked")) {
                chunked = true;
            }
        }
        p = e + 2;
    }
    if (chunked) r->content_len = 0;
    ra->remaining = r->content_len;
    return true;
}

/* Read one request's header block into the scratch buffer; false: session to be closed. */
static bool read_head(server_t *s, sess_t *sd, size_t *head_len, httpd_err_code_t *err,
                      bool *answer)
{
    req_aux_t *ra = &s->aux;
    size_t fill = sd->pending_len;
    memcpy(ra->scratch, sd->pending, fill);
    sd->pending_len = 0;
    *answer = false;
    for (;;) {
        ra->scratch[fill] = '\0';
        char *end = strstr(ra->scratch, "\r\n\r\n");
        if (end != NULL) {
            size_t hl = (size_t)(end - ra->scratch) + 2;   /* keep the last header's CRLF */
            size_t rest = fill - (hl + 2);
            memcpy(sd->pending, end + 4, rest);
            sd->pending_len = rest;
            *head_len = hl;
            return true;
        }
        if (fill >= s->cfg.max_req_hdr_len || fill >= CONFIG_HTTPD_MAX_REQ_HDR_LEN) {
            *err = HTTPD_431_REQ_HDR_FIELDS_TOO_LARGE;
            *answer = true;
            return false;
        }
        int n = sock_recv(sd->fd, ra->scratch + fill, CONFIG_HTTPD_MAX_REQ_HDR_LEN - fill);
        if (n == HTTPD_SOCK_ERR_TIMEOUT && fill > 0) {
            *err = HTTPD_408_REQ_TIMEOUT;
            *answer = true;
            return false;
        }
        if (n <= 0) return false;
        fill += (size_t)n;
    }
}

static void begin_req(server_t *s, sess_t *sd)
{
    memset(&s->aux.resp_field, 0, sizeof(s->aux.resp_field));
    s->aux.sd = sd;
    s->aux.status = HTTPD_200;
    s->aux.type = HTTPD_TYPE_TEXT;
    s->aux.nresp = 0;
    s->aux.nhdrs = 0;
    s->aux.chunked_started = false;
    s->aux.remaining = 0;
    s->req.handle = s;
    s->req.aux = &s->aux;
    s->req.user_ctx = NULL;
}

/* One request on a readable session; false: close the session. */
static bool process(server_t *s, sess_t *sd)
{
    begin_req(s, sd);
    size_t head_len = 0;
    httpd_err_code_t e = HTTPD_500_INTERNAL_SERVER_ERROR;
    bool answer = false;
    bool keep;
    if (!read_head(s, sd, &head_len, &e, &answer)) {
        if (answer) handle_err(s, e);
        keep = false;
    } else if (!parse_head(s, s->aux.scratch, head_len, &e)) {
        handle_err(s, e);
        keep = false;
    } else {
        const char *path = s->req.uri;
        size_t plen = strcspn(path, "?#");
        const httpd_uri_t *h = NULL;
        bool path_known = false;
        for (int i = 0; i < s->nuris && h == NULL; i++) {
            if (uri_matches(s, &s->uris[i], path, plen)) {
                path_known = true;
                if (s->uris[i].method == (httpd_method_t)s->req.method || s->uris[i].method == HTTP_ANY) {
                    h = &s->uris[i];
                }
            }
        }
        if (h == NULL) {
            if (path_known) {
                ESP_LOGW(TAG, "Method '%d' not allowed for URI '%s'", s->req.method, s->req.uri);
            } else {
                ESP_LOGW(TAG, "URI '%s' not found", s->req.uri);
            }
            keep = handle_err(s, path_known ? HTTPD_405_METHOD_NOT_ALLOWED : HTTPD_404_NOT_FOUND) == ESP_OK;
        } else {
            s->req.user_ctx = h->user_ctx;
            /* One request at a time on the server task: a second handler entry while one runs
             * means the server's state (one httpd_req_t, one scratch buffer) is shared. */
            if (atomic_exchange(&s->in_handler, 1) != 0) {
                port_panic("panic", "httpd: handler for %s entered while another handler runs "
                           "(esp_http_server runs one handler at a time on its task: "
                           "httpd_main.c httpd_server -> httpd_sess_process)", s->req.uri);
            }
            esp_err_t ret = h->handler(&s->req);
            atomic_store(&s->in_handler, 0);
            if (ret != ESP_OK) {
                ESP_LOGW(TAG, "uri handler execution failed");
                keep = false;
            } else {
                keep = true;
            }
        }
        /* httpd_req_delete: purge what the handler left unread */
        while (keep && s->aux.remaining > 0) {
            char dummy[PURGE_BUF];
            int n = httpd_req_recv(&s->req, dummy, sizeof(dummy));
            if (n <= 0) keep = false;
        }
    }
    s->aux.sd = NULL;
    s->req.aux = NULL;
    return keep;
}

static void accept_one(server_t *s)
{
    int fd = accept(s->listen_fd, NULL, NULL);
    if (fd < 0) return;
    sess_t *slot = NULL, *lru = NULL;
    for (int i = 0; i < s->cfg.max_open_sockets; i++) {
        if (s->sess[i].fd < 0 && slot == NULL) slot = &s->sess[i];
        if (s->sess[i].fd >= 0 && (lru == NULL || s->sess[i].lru < lru->lru)) lru = &s->sess[i];
    }
    if (slot == NULL && s->cfg.lru_purge_enable && lru != NULL) {
        ESP_LOGD(TAG, "session table full: closing the least recently used (fd %d)", lru->fd);
        close_sess(lru);
        slot = lru;
    }
    if (slot == NULL) {
        close(fd);
        return;
    }
    struct timeval rt = { s->cfg.recv_wait_timeout, 0 }, st = { s->cfg.send_wait_timeout, 0 };
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &rt, sizeof(rt));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &st, sizeof(st));
    slot->fd = fd;
    slot->pending_len = 0;
    slot->lru = ++s->lru_counter;
}

static void server_task(void *arg)
{
    server_t *s = arg;
    for (;;) {
        fd_set rd;
        FD_ZERO(&rd);
        int maxfd = s->listen_fd;
        int n_open = 0;
        for (int i = 0; i < s->cfg.max_open_sockets; i++) {
            if (s->sess[i].fd >= 0) {
                n_open++;
                FD_SET(s->sess[i].fd, &rd);
                if (s->sess[i].fd > maxfd) maxfd = s->sess[i].fd;
            }
        }
        /* a full table without LRU purge leaves new connections in the listen backlog */
        if (n_open < s->cfg.max_open_sockets || s->cfg.lru_purge_enable) FD_SET(s->listen_fd, &rd);
        if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
            if (errno == EINTR) continue;
            ESP_LOGE(TAG, "error in select (%d)", errno);
            continue;
        }
        for (int i = 0; i < s->cfg.max_open_sockets; i++) {
            sess_t *sd = &s->sess[i];
            if (sd->fd >= 0 && FD_ISSET(sd->fd, &rd)) {
                sd->lru = ++s->lru_counter;
                if (!process(s, sd)) close_sess(sd);
            }
        }
        if (FD_ISSET(s->listen_fd, &rd)) accept_one(s);
    }
}

esp_err_t httpd_start(httpd_handle_t *handle, const httpd_config_t *config)
{
    if (handle == NULL || config == NULL) return ESP_ERR_INVALID_ARG;
    /* httpd_server_init opens its sockets through lwIP: same precondition as any socket */
    if (!netif_is_initialized()) LWIP_ASSERT_NO_TCPIP();
    server_t *s = calloc(1, sizeof(*s));
    if (s == NULL) return ESP_ERR_HTTPD_ALLOC_MEM;
    s->cfg = *config;
    /* The node's HTTP port is CONFIG_RUVIEW_HTTP_PORT on the board and --http-port here. */
#ifdef CONFIG_RUVIEW_HTTP_PORT
    if (s->cfg.server_port == CONFIG_RUVIEW_HTTP_PORT) s->cfg.server_port = (uint16_t)g_port.http_port;
#endif
    s->sess = calloc(s->cfg.max_open_sockets, sizeof(*s->sess));
    s->uris = calloc(s->cfg.max_uri_handlers, sizeof(*s->uris));
    if (s->sess == NULL || s->uris == NULL) return ESP_ERR_HTTPD_ALLOC_MEM;
    for (int i = 0; i < s->cfg.max_open_sockets; i++) s->sess[i].fd = -1;
    s->listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(s->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(s->cfg.server_port) };
    inet_pton(AF_INET, g_port.ip, &a.sin_addr);
    if (s->listen_fd < 0 || bind(s->listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        listen(s->listen_fd, s->cfg.backlog_conn) != 0) {
        ESP_LOGE(TAG, "error in bind/listen on %s:%u (%d)", g_port.ip, s->cfg.server_port, errno);
        if (s->listen_fd >= 0) close(s->listen_fd);
        free(s->sess);
        free(s->uris);
        free(s);
        return ESP_ERR_HTTPD_TASK;
    }
    if (xTaskCreatePinnedToCore(server_task, "httpd", (uint32_t)s->cfg.stack_size, s,
                                s->cfg.task_priority, &s->task, s->cfg.core_id) != pdPASS) {
        return ESP_ERR_HTTPD_TASK;
    }
    *handle = s;
    return ESP_OK;
}

esp_err_t httpd_stop(httpd_handle_t handle)
{
    server_t *s = handle;
    if (s == NULL) return ESP_ERR_INVALID_ARG;
    vTaskDelete(s->task);
    close(s->listen_fd);
    for (int i = 0; i < s->cfg.max_open_sockets; i++) close_sess(&s->sess[i]);
    return ESP_OK;
}

esp_err_t httpd_sess_trigger_close(httpd_handle_t handle, int sockfd)
{
    server_t *s = handle;
    if (s == NULL) return ESP_ERR_INVALID_ARG;
    for (int i = 0; i < s->cfg.max_open_sockets; i++) {
        if (s->sess[i].fd == sockfd) {
            shutdown(sockfd, SHUT_RDWR);
            return ESP_OK;
        }
    }
    return ESP_ERR_NOT_FOUND;
}
