/* Host port of esp_hw_support/include/esp_random.h (getrandom(2) stands in for the RNG). */
#pragma once
#include <stddef.h>
#include <stdint.h>
uint32_t esp_random(void);
void esp_fill_random(void *buf, size_t len);
