/* The mbedtls / PSA Crypto hashing and HMAC entry points main/ calls, over the port's SHA-256
 * (mbedtls 3 API as in ESP-IDF 5.x; PSA as in IDF 6's TF-PSA-Crypto). */
#include <string.h>

#include "mbedtls/md.h"
#include "mbedtls/sha256.h"
#include "psa/crypto.h"
#include "port.h"

_Static_assert(sizeof(((mbedtls_sha256_context *)0)->opaque) >= sizeof(sha256_ctx_t),
               "mbedtls_sha256_context too small");

void mbedtls_sha256_init(mbedtls_sha256_context *ctx) { memset(ctx, 0, sizeof(*ctx)); }
void mbedtls_sha256_free(mbedtls_sha256_context *ctx) { memset(ctx, 0, sizeof(*ctx)); }
void mbedtls_sha256_clone(mbedtls_sha256_context *dst, const mbedtls_sha256_context *src)
{
    *dst = *src;
}

int mbedtls_sha256_starts(mbedtls_sha256_context *ctx, int is224)
{
    if (is224) return -0x0074;   /* MBEDTLS_ERR_SHA256_BAD_INPUT_DATA: no SHA-224 here */
    sha256_init((sha256_ctx_t *)ctx->opaque);
    return 0;
}

int mbedtls_sha256_update(mbedtls_sha256_context *ctx, const unsigned char *in, size_t n)
{
    sha256_update((sha256_ctx_t *)ctx->opaque, in, n);
    return 0;
}

int mbedtls_sha256_finish(mbedtls_sha256_context *ctx, unsigned char out[32])
{
    sha256_final((sha256_ctx_t *)ctx->opaque, out);
    return 0;
}

int mbedtls_sha256(const unsigned char *in, size_t n, unsigned char out[32], int is224)
{
    mbedtls_sha256_context c;
    mbedtls_sha256_init(&c);
    int r = mbedtls_sha256_starts(&c, is224);
    if (r == 0) {
        mbedtls_sha256_update(&c, in, n);
        mbedtls_sha256_finish(&c, out);
    }
    return r;
}

/* ---- HMAC-SHA-256 (RFC 2104) ---------------------------------------------------------- */

typedef struct { sha256_ctx_t inner; uint8_t okey[64]; } hmac_t;

static void hmac_start(hmac_t *h, const uint8_t *key, size_t keylen)
{
    uint8_t k[64] = {0};
    if (keylen > 64) {
        sha256_ctx_t c;
        sha256_init(&c);
        sha256_update(&c, key, keylen);
        sha256_final(&c, k);
    } else {
        memcpy(k, key, keylen);
    }
    uint8_t ipad[64];
    for (int i = 0; i < 64; i++) {
        ipad[i] = k[i] ^ 0x36;
        h->okey[i] = k[i] ^ 0x5c;
    }
    sha256_init(&h->inner);
    sha256_update(&h->inner, ipad, 64);
    memset(k, 0, sizeof(k));
    memset(ipad, 0, sizeof(ipad));
}

static void hmac_finish(hmac_t *h, uint8_t out[32])
{
    uint8_t ih[32];
    sha256_final(&h->inner, ih);
    sha256_ctx_t o;
    sha256_init(&o);
    sha256_update(&o, h->okey, 64);
    sha256_update(&o, ih, 32);
    sha256_final(&o, out);
    memset(h, 0, sizeof(*h));
}

_Static_assert(sizeof(((mbedtls_md_context_t *)0)->opaque) >= sizeof(hmac_t),
               "mbedtls_md_context_t too small");

static const mbedtls_md_info_t k_sha256_info = { MBEDTLS_MD_SHA256, 32 };

const mbedtls_md_info_t *mbedtls_md_info_from_type(mbedtls_md_type_t t)
{
    return t == MBEDTLS_MD_SHA256 ? &k_sha256_info : NULL;
}
unsigned char mbedtls_md_get_size(const mbedtls_md_info_t *info) { return info ? info->size : 0; }
void mbedtls_md_init(mbedtls_md_context_t *ctx) { memset(ctx, 0, sizeof(*ctx)); }
void mbedtls_md_free(mbedtls_md_context_t *ctx) { memset(ctx, 0, sizeof(*ctx)); }

int mbedtls_md_setup(mbedtls_md_context_t *ctx, const mbedtls_md_info_t *info, int hmac)
{
    if (info == NULL) return MBEDTLS_ERR_MD_BAD_INPUT_DATA;
    ctx->info = info;
    ctx->hmac = hmac;
    return 0;
}

int mbedtls_md_starts(mbedtls_md_context_t *ctx)
{
    sha256_init(&((hmac_t *)ctx->opaque)->inner);
    return 0;
}

int mbedtls_md_update(mbedtls_md_context_t *ctx, const unsigned char *in, size_t n)
{
    sha256_update(&((hmac_t *)ctx->opaque)->inner, in, n);
    return 0;
}

int mbedtls_md_finish(mbedtls_md_context_t *ctx, unsigned char *out)
{
    sha256_final(&((hmac_t *)ctx->opaque)->inner, out);
    return 0;
}

int mbedtls_md_hmac_starts(mbedtls_md_context_t *ctx, const unsigned char *key, size_t keylen)
{
    if (!ctx->hmac) return MBEDTLS_ERR_MD_BAD_INPUT_DATA;
    hmac_start((hmac_t *)ctx->opaque, key, keylen);
    return 0;
}

int mbedtls_md_hmac_update(mbedtls_md_context_t *ctx, const unsigned char *in, size_t n)
{
    return mbedtls_md_update(ctx, in, n);
}

int mbedtls_md_hmac_finish(mbedtls_md_context_t *ctx, unsigned char *out)
{
    hmac_finish((hmac_t *)ctx->opaque, out);
    return 0;
}

int mbedtls_md(const mbedtls_md_info_t *info, const unsigned char *in, size_t n, unsigned char *out)
{
    if (info == NULL) return MBEDTLS_ERR_MD_BAD_INPUT_DATA;
    return mbedtls_sha256(in, n, out, 0);
}

int mbedtls_md_hmac(const mbedtls_md_info_t *info, const unsigned char *key, size_t keylen,
                    const unsigned char *in, size_t n, unsigned char *out)
{
    if (info == NULL) return MBEDTLS_ERR_MD_BAD_INPUT_DATA;
    hmac_t h;
    hmac_start(&h, key, keylen);
    sha256_update(&h.inner, in, n);
    hmac_finish(&h, out);
    return 0;
}

void mbedtls_platform_zeroize(void *buf, size_t len)
{
    volatile unsigned char *p = buf;
    while (len--) *p++ = 0;
}

int mbedtls_ct_memcmp(const void *a, const void *b, size_t n)
{
    const volatile unsigned char *x = a, *y = b;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++) d |= (unsigned char)(x[i] ^ y[i]);
    return d;
}

/* ---- PSA Crypto: hash and HMAC with imported keys ------------------------------------- */

static struct { bool used; uint8_t key[64 + 1]; size_t len; } s_keys[8];

psa_status_t psa_crypto_init(void) { return PSA_SUCCESS; }

psa_status_t psa_hash_setup(psa_hash_operation_t *op, psa_algorithm_t alg)
{
    if (alg != PSA_ALG_SHA_256) return PSA_ERROR_NOT_SUPPORTED;
    sha256_init((sha256_ctx_t *)op->opaque);
    op->active = 1;
    return PSA_SUCCESS;
}

psa_status_t psa_hash_update(psa_hash_operation_t *op, const uint8_t *in, size_t n)
{
    if (!op->active) return PSA_ERROR_BAD_STATE;
    sha256_update((sha256_ctx_t *)op->opaque, in, n);
    return PSA_SUCCESS;
}

psa_status_t psa_hash_finish(psa_hash_operation_t *op, uint8_t *out, size_t size, size_t *len)
{
    if (!op->active) return PSA_ERROR_BAD_STATE;
    if (size < 32) return PSA_ERROR_BUFFER_TOO_SMALL;
    sha256_final((sha256_ctx_t *)op->opaque, out);
    *len = 32;
    op->active = 0;
    return PSA_SUCCESS;
}

psa_status_t psa_hash_abort(psa_hash_operation_t *op)
{
    memset(op, 0, sizeof(*op));
    return PSA_SUCCESS;
}

psa_status_t psa_hash_compute(psa_algorithm_t alg, const uint8_t *in, size_t n, uint8_t *out,
                              size_t size, size_t *len)
{
    psa_hash_operation_t op = PSA_HASH_OPERATION_INIT;
    psa_status_t s = psa_hash_setup(&op, alg);
    if (s == PSA_SUCCESS) s = psa_hash_update(&op, in, n);
    if (s == PSA_SUCCESS) s = psa_hash_finish(&op, out, size, len);
    return s;
}

psa_status_t psa_import_key(const psa_key_attributes_t *attr, const uint8_t *data, size_t n,
                            psa_key_id_t *key)
{
    (void)attr;
    if (n > 64) return PSA_ERROR_NOT_SUPPORTED;
    for (size_t i = 0; i < sizeof(s_keys) / sizeof(s_keys[0]); i++) {
        if (!s_keys[i].used) {
            s_keys[i].used = true;
            memcpy(s_keys[i].key, data, n);
            s_keys[i].len = n;
            *key = (psa_key_id_t)(i + 1);
            return PSA_SUCCESS;
        }
    }
    return PSA_ERROR_INSUFFICIENT_MEMORY;
}

psa_status_t psa_destroy_key(psa_key_id_t key)
{
    if (key == 0 || key > sizeof(s_keys) / sizeof(s_keys[0])) return PSA_ERROR_INVALID_HANDLE;
    mbedtls_platform_zeroize(&s_keys[key - 1], sizeof(s_keys[0]));
    return PSA_SUCCESS;
}

psa_status_t psa_mac_compute(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *in, size_t n,
                             uint8_t *mac, size_t size, size_t *len)
{
    if (alg != PSA_ALG_HMAC(PSA_ALG_SHA_256)) return PSA_ERROR_NOT_SUPPORTED;
    if (key == 0 || key > sizeof(s_keys) / sizeof(s_keys[0]) || !s_keys[key - 1].used) {
        return PSA_ERROR_INVALID_HANDLE;
    }
    if (size < 32) return PSA_ERROR_BUFFER_TOO_SMALL;
    hmac_t h;
    hmac_start(&h, s_keys[key - 1].key, s_keys[key - 1].len);
    sha256_update(&h.inner, in, n);
    hmac_finish(&h, mac);
    *len = 32;
    return PSA_SUCCESS;
}

psa_status_t psa_mac_verify(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *in, size_t n,
                            const uint8_t *mac, size_t mac_len)
{
    uint8_t want[32];
    size_t len = 0;
    psa_status_t s = psa_mac_compute(key, alg, in, n, want, sizeof(want), &len);
    if (s != PSA_SUCCESS) return s;
    bool ok = mac_len == 32 && mbedtls_ct_memcmp(want, mac, 32) == 0;
    mbedtls_platform_zeroize(want, sizeof(want));
    return ok ? PSA_SUCCESS : PSA_ERROR_INVALID_SIGNATURE;
}
