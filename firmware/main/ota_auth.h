/*
 * OTA authentication, contract A (docs/protocol.md section 5): HMAC-SHA256 challenge-response.
 * The PSK never crosses the network: the client fetches a nonce (GET /ota/nonce) and sends
 *   Authorization: RV-HMAC-SHA256 nonce=<32 hex>, mac=<64 hex>
 *   mac = HMAC-SHA256(key = ota_psk, msg = "ruview-ota-v1\n" nonce "\n" sha256_hex "\n" length)
 * where sha256_hex is the X-Image-SHA256 header (the body must then hash to it, which binds
 * the MAC to the exact bytes). Pure C: parsing, message construction, nonce state, constant-
 * time compare. The HMAC itself is computed by ota_crypto.c.
 */
#ifndef RV_OTA_AUTH_H
#define RV_OTA_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RV_NONCE_BYTES   16
#define RV_NONCE_HEX     (2 * RV_NONCE_BYTES)
#define RV_NONCE_TTL_S   60
#define RV_MAC_BYTES     32
#define RV_SHA256_HEX    64
#define RV_AUTH_SCHEME   "RV-HMAC-SHA256"
#define RV_MAC_CONTEXT   "ruview-ota-v1"
/* "ruview-ota-v1\n" + 32 + "\n" + 64 + "\n" + up to 20 digits */
#define RV_MAC_MSG_MAX   (sizeof(RV_MAC_CONTEXT) + RV_NONCE_HEX + 1 + RV_SHA256_HEX + 1 + 20 + 1)

typedef enum {
    RV_AUTH_NONE = 0,     /* no Authorization header */
    RV_AUTH_BEARER,       /* "Bearer ...": RuView 0.6.x scheme, refused by our firmware */
    RV_AUTH_MALFORMED,    /* anything else, or RV-HMAC-SHA256 with bad parameters */
    RV_AUTH_HMAC,         /* parsed: nonce and mac filled */
} rv_auth_scheme_t;

typedef struct {
    char    nonce[RV_NONCE_HEX + 1];   /* lowercase hex */
    uint8_t mac[RV_MAC_BYTES];
} rv_hmac_auth_t;

/* Classify and parse an Authorization header value (NULL = header absent). Parameters are
 * `nonce=` then `mac=`, separated by a comma and optional spaces; hex digits lowercase. */
rv_auth_scheme_t rv_auth_parse(const char *header, rv_hmac_auth_t *out);

/* true when `s` is exactly `n` lowercase hex digits. */
bool rv_is_lower_hex(const char *s, size_t n);
/* Decode exactly 2*n lowercase hex digits into n bytes; false on any other input. */
bool rv_hex_decode(const char *hex, uint8_t *out, size_t n);
void rv_hex_encode(const uint8_t *in, size_t n, char *out /* 2n+1 */);

/* Build the MAC message; returns its length (no NUL counted) or 0 if `cap` is too small or an
 * argument is malformed. */
size_t rv_ota_mac_message(char *out, size_t cap, const char *nonce_hex, const char *sha256_hex,
                          uint64_t content_length);

/* Constant-time equality (time depends on n only). */
bool rv_ct_equal(const uint8_t *a, const uint8_t *b, size_t n);

/* One outstanding nonce. Owned by the single httpd task (GET /ota/nonce and POST /ota never
 * run at once), so it needs no lock. */
typedef struct {
    char     hex[RV_NONCE_HEX + 1];
    uint64_t expires_us;
    bool     armed;
} rv_nonce_store_t;

/* A new nonce from 16 random bytes replaces any outstanding one. */
void rv_nonce_issue(rv_nonce_store_t *s, const uint8_t raw[RV_NONCE_BYTES], uint64_t now_us);
/* Every POST /ota consumes the outstanding nonce, whatever its outcome; true only when `given`
 * equals it and it has not expired. */
bool rv_nonce_take(rv_nonce_store_t *s, const char *given, uint64_t now_us);

#endif
