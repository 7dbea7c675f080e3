/* Host port of bootloader_support/include/esp_image_format.h (verify / metadata). */
#pragma once
#include <stdbool.h>
#include "esp_err.h"
#include "esp_app_format.h"
#include "esp_flash_partitions.h"

#define ESP_ERR_IMAGE_BASE 0x2000
#define ESP_ERR_IMAGE_FLASH_FAIL (ESP_ERR_IMAGE_BASE + 1)
#define ESP_ERR_IMAGE_INVALID (ESP_ERR_IMAGE_BASE + 2)
#define ESP_IMAGE_HASH_LEN 32

typedef struct {
    uint32_t start_addr;
    esp_image_header_t image;
    esp_image_segment_header_t segments[ESP_IMAGE_MAX_SEGMENTS];
    uint32_t segment_data[ESP_IMAGE_MAX_SEGMENTS];
    uint32_t image_len;
    uint8_t image_digest[32];
} esp_image_metadata_t;

typedef enum { ESP_IMAGE_VERIFY, ESP_IMAGE_VERIFY_SILENT, ESP_IMAGE_LOAD,
               ESP_IMAGE_LOAD_NO_VALIDATE } esp_image_load_mode_t;

esp_err_t esp_image_verify(esp_image_load_mode_t mode, const esp_partition_pos_t *part,
                           esp_image_metadata_t *data);
esp_err_t esp_image_get_metadata(const esp_partition_pos_t *part, esp_image_metadata_t *metadata);
int esp_image_get_flash_size(uint8_t app_flash_size);
