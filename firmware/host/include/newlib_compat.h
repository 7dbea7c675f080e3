/* What ESP-IDF's newlib declares in <string.h> and glibc (before 2.38) does not. Force-included
 * into every translation unit of the host build. */
#pragma once
#include <stddef.h>
#include <string.h>
#if !defined(__GLIBC__) || __GLIBC__ < 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ < 38)
size_t strlcpy(char *dst, const char *src, size_t size);
size_t strlcat(char *dst, const char *src, size_t size);
#endif
