/* Host port of esp_bootloader_format/include/esp_bootloader_desc.h (80 bytes, in the
 * bootloader image's first segment, after the image and segment headers). */
#pragma once
#include <stdint.h>

#define ESP_BOOTLOADER_DESC_MAGIC_BYTE (80)

typedef struct {
    uint8_t magic_byte;
    uint8_t reserved[2];
    uint8_t secure_version;
    uint32_t version;
    char idf_ver[32];
    char date_time[24];
    uint8_t reserved2[16];
} esp_bootloader_desc_t;
_Static_assert(sizeof(esp_bootloader_desc_t) == 80, "esp_bootloader_desc_t should be 80 bytes");
