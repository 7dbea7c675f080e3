/* Boot-order test only: the NVS calls app_main.c makes (names and values of ESP-IDF's
 * esp_err.h / nvs.h). */
#pragma once
#include <stdlib.h>
typedef int esp_err_t;
#define ESP_OK 0
#define ESP_ERR_NVS_NO_FREE_PAGES     0x110d
#define ESP_ERR_NVS_NEW_VERSION_FOUND 0x1110
#define ESP_ERROR_CHECK(x) do { if ((x) != ESP_OK) abort(); } while (0)
esp_err_t nvs_flash_init(void);
esp_err_t nvs_flash_erase(void);
const char *esp_err_to_name(esp_err_t e);
