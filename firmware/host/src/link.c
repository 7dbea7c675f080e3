/*
 * The board link (contract B): fd 3, newline-delimited flat JSON objects with key "t".
 * Outgoing lines are written whole under one lock; incoming lines are read by the "wifi" task,
 * which is where the real driver calls the CSI callback and posts WiFi events from.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "port.h"

#define LINK_FD 3

static pthread_mutex_t s_tx = PTHREAD_MUTEX_INITIALIZER;

void link_send_line(const char *json)
{
    pthread_mutex_lock(&s_tx);
    size_t n = strlen(json);
    const char *p = json;
    bool ok = true;
    while (ok && n > 0) {
        ssize_t w = write(LINK_FD, p, n);
        if (w < 0 && errno == EINTR) continue;
        ok = w > 0;
        if (ok) { p += w; n -= (size_t)w; }
    }
    while (ok && write(LINK_FD, "\n", 1) < 0 && errno == EINTR) {}
    pthread_mutex_unlock(&s_tx);
}

/* JSON string body (no quotes). Bytes outside printable ASCII become \u00XX so the line stays
 * valid UTF-8 whatever the firmware hands us. */
void json_escape(char *out, size_t cap, const char *s)
{
    size_t o = 0;
    for (; s != NULL && *s != '\0' && o + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20 || c >= 0x7f) {
            o += (size_t)snprintf(out + o, cap - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o < cap ? o : cap - 1] = '\0';
}

void link_sendf(const char *t, const char *fmt, ...)
{
    char line[4096];
    char esc[1024];
    size_t o = (size_t)snprintf(line, sizeof(line), "{\"t\":\"%s\"", t);
    va_list ap;
    va_start(ap, fmt);
    for (const char *f = fmt; *f != '\0' && o < sizeof(line) - 8; f++) {
        const char *key = va_arg(ap, const char *);
        o += (size_t)snprintf(line + o, sizeof(line) - o, ",\"%s\":", key);
        if (o >= sizeof(line)) break;
        switch (*f) {
        case 's':
            json_escape(esc, sizeof(esc), va_arg(ap, const char *));
            o += (size_t)snprintf(line + o, sizeof(line) - o, "\"%s\"", esc);
            break;
        case 'd':
            o += (size_t)snprintf(line + o, sizeof(line) - o, "%d", va_arg(ap, int));
            break;
        case 'b':
            o += (size_t)snprintf(line + o, sizeof(line) - o, "%s", va_arg(ap, int) ? "true" : "false");
            break;
        default:   /* 'r': raw JSON */
            o += (size_t)snprintf(line + o, sizeof(line) - o, "%s", va_arg(ap, const char *));
            break;
        }
    }
    va_end(ap);
    if (o >= sizeof(line) - 2) o = sizeof(line) - 2;
    line[o++] = '}';
    line[o] = '\0';
    link_send_line(line);
}

/* ---- a parser for the flat objects the emulator sends ---------------------------------- */

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

static const char *parse_string(const char *p, char *out, size_t cap)
{
    size_t o = 0;
    if (*p != '"') return NULL;
    for (p++; *p != '"'; p++) {
        if (*p == '\0') return NULL;
        char c = *p;
        if (c == '\\') {
            p++;
            switch (*p) {
            case 'n': c = '\n'; break;
            case 't': c = '\t'; break;
            case 'r': c = '\r'; break;
            case 'b': c = '\b'; break;
            case 'f': c = '\f'; break;
            case 'u': {
                unsigned v = 0;
                if (sscanf(p + 1, "%4x", &v) != 1) return NULL;
                c = v < 0x80 ? (char)v : '?';
                p += 4;
                break;
            }
            case '\0': return NULL;
            default: c = *p; break;
            }
        }
        if (o + 1 < cap) out[o++] = c;
    }
    out[o] = '\0';
    return p + 1;
}

bool json_parse_flat(const char *line, json_msg_t *m)
{
    m->n = 0;
    const char *p = skip_ws(line);
    if (*p++ != '{') return false;
    p = skip_ws(p);
    if (*p == '}') return true;
    for (;;) {
        json_kv_t *kv = &m->kv[m->n < 20 ? m->n : 19];
        p = parse_string(skip_ws(p), kv->key, sizeof(kv->key));
        if (p == NULL) return false;
        p = skip_ws(p);
        if (*p++ != ':') return false;
        p = skip_ws(p);
        if (*p == '"') {
            kv->is_str = true;
            p = parse_string(p, kv->val, sizeof(kv->val));
            if (p == NULL) return false;
        } else {
            /* number, true/false/null: kept as text; nested values are not part of the link */
            size_t o = 0;
            kv->is_str = false;
            while (*p != ',' && *p != '}' && *p != '\0') {
                if (*p == '{' || *p == '[') return false;
                if (o + 1 < sizeof(kv->val) && *p != ' ') kv->val[o++] = *p;
                p++;
            }
            kv->val[o] = '\0';
        }
        if (m->n < 20) m->n++;
        p = skip_ws(p);
        if (*p == '}') return true;
        if (*p++ != ',') return false;
    }
}

const char *json_get(const json_msg_t *m, const char *key)
{
    for (int i = 0; i < m->n; i++) {
        if (strcmp(m->kv[i].key, key) == 0) return m->kv[i].val;
    }
    return NULL;
}

long json_get_int(const json_msg_t *m, const char *key, long def)
{
    const char *v = json_get(m, key);
    if (v == NULL || *v == '\0') return def;
    if (strcmp(v, "true") == 0) return 1;
    if (strcmp(v, "false") == 0) return 0;
    char *end;
    long r = strtol(v, &end, 10);
    return end == v ? def : r;
}

/* ---- the reader ("wifi" task) -------------------------------------------------------- */

static void dispatch(const char *line)
{
    json_msg_t *m = malloc(sizeof(*m));
    if (m == NULL) return;
    if (json_parse_flat(line, m)) {
        const char *t = json_get(m, "t");
        if (t != NULL && (strcmp(t, "wifi") == 0 || strcmp(t, "csi") == 0)) {
            wifi_on_link(m);
        } else if (t != NULL && strcmp(t, "fault") == 0) {
            const char *name = json_get(m, "name");
            if (name != NULL && strcmp(name, "udp-loss") == 0) {
                const char *pct = json_get(m, "percent");
                sockets_set_udp_loss(pct != NULL ? strtod(pct, NULL) : 0.0);
            } else {
                wdt_on_fault(name != NULL ? name : "");
            }
        }
    }
    free(m);
}

static void *reader(void *arg)
{
    (void)arg;
    static char buf[8192];
    size_t fill = 0;
    for (;;) {
        ssize_t n = read(LINK_FD, buf + fill, sizeof(buf) - 1 - fill);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            /* The emulator (the board) is gone: a powered-off chip stops. */
            _exit(0);
        }
        fill += (size_t)n;
        buf[fill] = '\0';
        char *start = buf;
        char *nl;
        while ((nl = memchr(start, '\n', fill - (size_t)(start - buf))) != NULL) {
            *nl = '\0';
            dispatch(start);
            start = nl + 1;
        }
        fill -= (size_t)(start - buf);
        memmove(buf, start, fill);
        if (fill == sizeof(buf) - 1) fill = 0;   /* an over-long line is noise: drop it */
    }
    return NULL;
}

void link_start(void)
{
    port_thread("wifi", reader, NULL);
}
