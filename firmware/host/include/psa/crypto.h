/* Host port of the PSA Crypto API subset main/ may use: SHA-256 hashing and HMAC-SHA-256. */
#pragma once
#include <stddef.h>
#include <stdint.h>
typedef int32_t psa_status_t;
typedef uint32_t psa_algorithm_t;
typedef uint32_t psa_key_id_t;
typedef uint16_t psa_key_type_t;
typedef uint32_t psa_key_usage_t;
#define PSA_SUCCESS ((psa_status_t)0)
#define PSA_ERROR_NOT_SUPPORTED ((psa_status_t)-134)
#define PSA_ERROR_INVALID_ARGUMENT ((psa_status_t)-135)
#define PSA_ERROR_INVALID_HANDLE ((psa_status_t)-136)
#define PSA_ERROR_BAD_STATE ((psa_status_t)-137)
#define PSA_ERROR_BUFFER_TOO_SMALL ((psa_status_t)-138)
#define PSA_ERROR_INSUFFICIENT_MEMORY ((psa_status_t)-141)
#define PSA_ERROR_INVALID_SIGNATURE ((psa_status_t)-149)
#define PSA_ALG_SHA_256 ((psa_algorithm_t)0x02000009)
#define PSA_ALG_HMAC(h) ((psa_algorithm_t)(0x03800000 | ((h) & 0x000000ff)))
#define PSA_KEY_TYPE_HMAC ((psa_key_type_t)0x1100)
#define PSA_KEY_USAGE_SIGN_MESSAGE ((psa_key_usage_t)0x00000400)
#define PSA_KEY_USAGE_VERIFY_MESSAGE ((psa_key_usage_t)0x00000800)
#define PSA_HASH_LENGTH(alg) 32
#define PSA_MAC_LENGTH(t, b, alg) 32
typedef struct { int active; uint64_t opaque[16]; } psa_hash_operation_t;
#define PSA_HASH_OPERATION_INIT { 0, { 0 } }
static inline psa_hash_operation_t psa_hash_operation_init(void)
{
    psa_hash_operation_t o = PSA_HASH_OPERATION_INIT;
    return o;
}
typedef struct { psa_key_type_t type; psa_key_usage_t usage; psa_algorithm_t alg; size_t bits; }
    psa_key_attributes_t;
#define PSA_KEY_ATTRIBUTES_INIT { 0, 0, 0, 0 }
static inline psa_key_attributes_t psa_key_attributes_init(void)
{
    psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
    return a;
}
static inline void psa_set_key_type(psa_key_attributes_t *a, psa_key_type_t t) { a->type = t; }
static inline void psa_set_key_usage_flags(psa_key_attributes_t *a, psa_key_usage_t u) { a->usage = u; }
static inline void psa_set_key_algorithm(psa_key_attributes_t *a, psa_algorithm_t alg) { a->alg = alg; }
static inline void psa_set_key_bits(psa_key_attributes_t *a, size_t b) { a->bits = b; }
static inline void psa_reset_key_attributes(psa_key_attributes_t *a) { *a = psa_key_attributes_init(); }
psa_status_t psa_crypto_init(void);
psa_status_t psa_hash_setup(psa_hash_operation_t *op, psa_algorithm_t alg);
psa_status_t psa_hash_update(psa_hash_operation_t *op, const uint8_t *input, size_t n);
psa_status_t psa_hash_finish(psa_hash_operation_t *op, uint8_t *hash, size_t size, size_t *len);
psa_status_t psa_hash_abort(psa_hash_operation_t *op);
psa_status_t psa_hash_compute(psa_algorithm_t alg, const uint8_t *input, size_t n, uint8_t *hash,
                              size_t size, size_t *len);
psa_status_t psa_import_key(const psa_key_attributes_t *attr, const uint8_t *data, size_t n,
                            psa_key_id_t *key);
psa_status_t psa_destroy_key(psa_key_id_t key);
psa_status_t psa_mac_compute(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *input, size_t n,
                             uint8_t *mac, size_t size, size_t *len);
psa_status_t psa_mac_verify(psa_key_id_t key, psa_algorithm_t alg, const uint8_t *input, size_t n,
                            const uint8_t *mac, size_t mac_len);
