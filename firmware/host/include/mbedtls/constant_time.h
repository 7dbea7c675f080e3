#pragma once
#include <stddef.h>
int mbedtls_ct_memcmp(const void *a, const void *b, size_t n);
