#pragma once
#include "esp_err.h"
#include "esp_app_format.h"
/* The running app's descriptor, read from the image in --slot (first DROM segment). */
const esp_app_desc_t *esp_app_get_description(void);
int esp_app_get_elf_sha256(char *dst, size_t size);
