/* Host port of the mbedtls 3.x SHA-256 API (ESP-IDF 5.x). */
#pragma once
#include <stddef.h>
#include <stdint.h>
typedef struct { uint64_t opaque[16]; } mbedtls_sha256_context;
void mbedtls_sha256_init(mbedtls_sha256_context *ctx);
void mbedtls_sha256_free(mbedtls_sha256_context *ctx);
void mbedtls_sha256_clone(mbedtls_sha256_context *dst, const mbedtls_sha256_context *src);
int mbedtls_sha256_starts(mbedtls_sha256_context *ctx, int is224);
int mbedtls_sha256_update(mbedtls_sha256_context *ctx, const unsigned char *input, size_t ilen);
int mbedtls_sha256_finish(mbedtls_sha256_context *ctx, unsigned char output[32]);
int mbedtls_sha256(const unsigned char *input, size_t ilen, unsigned char output[32], int is224);
