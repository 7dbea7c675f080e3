/*
 * SHA-256 and HMAC-SHA256 for the OTA path and the running-image digest, through Mbed TLS's
 * generic message-digest API (mbedtls/md.h). That API is the same in Mbed TLS 2.28 (the host
 * tests link Debian's libmbedtls) and 3.x (ESP-IDF 5.x), so the code compiled on the host is
 * the code the node runs. ESP-IDF 6 replaces it with TF-PSA-Crypto (psa_hash_* / psa_mac_*);
 * porting means changing this one file (see firmware/README.md, supported versions).
 */
#ifndef RV_OTA_CRYPTO_H
#define RV_OTA_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mbedtls/md.h"

typedef struct {
    mbedtls_md_context_t md;
    bool ok;                 /* every step so far succeeded */
} rv_sha256_t;

void rv_sha256_begin(rv_sha256_t *h);
void rv_sha256_update(rv_sha256_t *h, const void *data, size_t n);
/* Writes the digest and frees the context; false if any step failed (out undefined). */
bool rv_sha256_finish(rv_sha256_t *h, uint8_t out[32]);
/* Frees the context without a result (aborted upload). */
void rv_sha256_discard(rv_sha256_t *h);

bool rv_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                    uint8_t out[32]);

#endif
