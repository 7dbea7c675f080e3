#include "ota_crypto.h"

void rv_sha256_begin(rv_sha256_t *h)
{
    mbedtls_md_init(&h->md);
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    h->ok = info != NULL && mbedtls_md_setup(&h->md, info, 0) == 0 &&
            mbedtls_md_starts(&h->md) == 0;
}

void rv_sha256_update(rv_sha256_t *h, const void *data, size_t n)
{
    if (h->ok) {
        h->ok = mbedtls_md_update(&h->md, (const unsigned char *)data, n) == 0;
    }
}

bool rv_sha256_finish(rv_sha256_t *h, uint8_t out[32])
{
    bool ok = h->ok && mbedtls_md_finish(&h->md, out) == 0;
    mbedtls_md_free(&h->md);
    return ok;
}

void rv_sha256_discard(rv_sha256_t *h)
{
    mbedtls_md_free(&h->md);
}

bool rv_hmac_sha256(const uint8_t *key, size_t key_len, const uint8_t *msg, size_t msg_len,
                    uint8_t out[32])
{
    const mbedtls_md_info_t *info = mbedtls_md_info_from_type(MBEDTLS_MD_SHA256);
    return info != NULL && mbedtls_md_hmac(info, key, key_len, msg, msg_len, out) == 0;
}
