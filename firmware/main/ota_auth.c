#include "ota_auth.h"

#include <stdio.h>
#include <string.h>

static int lower_nibble(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

bool rv_is_lower_hex(const char *s, size_t n)
{
    if (s == NULL || strnlen(s, n + 1) != n) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (lower_nibble(s[i]) < 0) {
            return false;
        }
    }
    return true;
}

bool rv_hex_decode(const char *hex, uint8_t *out, size_t n)
{
    if (!rv_is_lower_hex(hex, 2 * n)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        out[i] = (uint8_t)((lower_nibble(hex[2 * i]) << 4) | lower_nibble(hex[2 * i + 1]));
    }
    return true;
}

void rv_hex_encode(const uint8_t *in, size_t n, char *out)
{
    static const char d[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = d[in[i] >> 4];
        out[2 * i + 1] = d[in[i] & 0xF];
    }
    out[2 * n] = '\0';
}

static const char *skip_spaces(const char *p)
{
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    return p;
}

/* `p` points at "name=<n hex>"; copies the hex to out (n+1) and returns the end, or NULL. */
static const char *take_param(const char *p, const char *name, size_t n, char *out)
{
    size_t len = strlen(name);
    if (strncmp(p, name, len) != 0 || p[len] != '=') {
        return NULL;
    }
    p += len + 1;
    for (size_t i = 0; i < n; i++) {
        if (lower_nibble(p[i]) < 0) {
            return NULL;
        }
        out[i] = p[i];
    }
    out[n] = '\0';
    return p + n;
}

rv_auth_scheme_t rv_auth_parse(const char *header, rv_hmac_auth_t *out)
{
    if (header == NULL) {
        return RV_AUTH_NONE;
    }
    if (strncmp(header, "Bearer ", 7) == 0) {
        return RV_AUTH_BEARER;
    }
    const size_t scheme_len = sizeof(RV_AUTH_SCHEME) - 1;
    if (strncmp(header, RV_AUTH_SCHEME, scheme_len) != 0 || header[scheme_len] != ' ') {
        return RV_AUTH_MALFORMED;
    }
    const char *p = skip_spaces(header + scheme_len);
    char mac_hex[2 * RV_MAC_BYTES + 1];
    p = take_param(p, "nonce", RV_NONCE_HEX, out->nonce);
    if (p == NULL || *p != ',') {
        return RV_AUTH_MALFORMED;
    }
    p = take_param(skip_spaces(p + 1), "mac", 2 * RV_MAC_BYTES, mac_hex);
    if (p == NULL || *skip_spaces(p) != '\0' || !rv_hex_decode(mac_hex, out->mac, RV_MAC_BYTES)) {
        return RV_AUTH_MALFORMED;
    }
    return RV_AUTH_HMAC;
}

size_t rv_ota_mac_message(char *out, size_t cap, const char *nonce_hex, const char *sha256_hex,
                          uint64_t content_length)
{
    if (!rv_is_lower_hex(nonce_hex, RV_NONCE_HEX) || !rv_is_lower_hex(sha256_hex, RV_SHA256_HEX)) {
        return 0;
    }
    int n = snprintf(out, cap, RV_MAC_CONTEXT "\n%s\n%s\n%llu", nonce_hex, sha256_hex,
                     (unsigned long long)content_length);
    return (n > 0 && (size_t)n < cap) ? (size_t)n : 0;
}

bool rv_ct_equal(const uint8_t *a, const uint8_t *b, size_t n)
{
    volatile uint8_t diff = 0;
    for (size_t i = 0; i < n; i++) {
        diff |= (uint8_t)(a[i] ^ b[i]);
    }
    return diff == 0;
}

void rv_nonce_issue(rv_nonce_store_t *s, const uint8_t raw[RV_NONCE_BYTES], uint64_t now_us)
{
    rv_hex_encode(raw, RV_NONCE_BYTES, s->hex);
    s->expires_us = now_us + (uint64_t)RV_NONCE_TTL_S * 1000000u;
    s->armed = true;
}

bool rv_nonce_take(rv_nonce_store_t *s, const char *given, uint64_t now_us)
{
    bool armed = s->armed;
    s->armed = false;   /* single use, whatever the outcome */
    if (!armed || now_us >= s->expires_us || !rv_is_lower_hex(given, RV_NONCE_HEX)) {
        return false;
    }
    return rv_ct_equal((const uint8_t *)given, (const uint8_t *)s->hex, RV_NONCE_HEX);
}
