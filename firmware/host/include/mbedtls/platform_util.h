#pragma once
#include <stddef.h>
void mbedtls_platform_zeroize(void *buf, size_t len);
