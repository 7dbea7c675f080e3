/* Host port of esp_hw_support/include/esp_chip_info.h (chip revision from --chip-revision). */
#pragma once
#include <stdint.h>

typedef enum { CHIP_ESP32 = 1, CHIP_ESP32S2 = 2, CHIP_ESP32S3 = 9 } esp_chip_model_t;

#define CHIP_FEATURE_EMB_FLASH (1u << 0)
#define CHIP_FEATURE_WIFI_BGN  (1u << 1)
#define CHIP_FEATURE_BLE       (1u << 4)

typedef struct {
    esp_chip_model_t model;
    uint32_t features;
    uint16_t revision;   /* major * 100 + minor */
    uint8_t cores;
} esp_chip_info_t;

void esp_chip_info(esp_chip_info_t *out_info);
