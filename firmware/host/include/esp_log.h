/* Host port of ESP-IDF log/include/esp_log.h: "L (ms) tag: text" lines on the node's UART
 * (stdout), colours off (CONFIG_LOG_COLORS=n), default level INFO (sdkconfig.defaults). */
#pragma once
#include <stdint.h>
#include <stdarg.h>
#include "esp_err.h"

typedef enum {
    ESP_LOG_NONE, ESP_LOG_ERROR, ESP_LOG_WARN, ESP_LOG_INFO, ESP_LOG_DEBUG, ESP_LOG_VERBOSE
} esp_log_level_t;

void esp_log_level_set(const char *tag, esp_log_level_t level);
uint32_t esp_log_timestamp(void);
void esp_log_write(esp_log_level_t level, const char *tag, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
void esp_log_writev(esp_log_level_t level, const char *tag, const char *format, va_list args);
void esp_log_buffer_hex_internal(const char *tag, const void *buffer, uint16_t len,
                                 esp_log_level_t level);

#define ESP_LOG_LEVEL(level, tag, format, ...) esp_log_write(level, tag, format, ##__VA_ARGS__)
#define ESP_LOGE(tag, format, ...) esp_log_write(ESP_LOG_ERROR, tag, format, ##__VA_ARGS__)
#define ESP_LOGW(tag, format, ...) esp_log_write(ESP_LOG_WARN, tag, format, ##__VA_ARGS__)
#define ESP_LOGI(tag, format, ...) esp_log_write(ESP_LOG_INFO, tag, format, ##__VA_ARGS__)
#define ESP_LOGD(tag, format, ...) esp_log_write(ESP_LOG_DEBUG, tag, format, ##__VA_ARGS__)
#define ESP_LOGV(tag, format, ...) esp_log_write(ESP_LOG_VERBOSE, tag, format, ##__VA_ARGS__)
#define ESP_EARLY_LOGE ESP_LOGE
#define ESP_EARLY_LOGW ESP_LOGW
#define ESP_EARLY_LOGI ESP_LOGI
#define ESP_LOG_BUFFER_HEX_LEVEL(tag, buf, len, level) \
    esp_log_buffer_hex_internal(tag, buf, len, level)
#define ESP_LOG_BUFFER_HEX(tag, buf, len) ESP_LOG_BUFFER_HEX_LEVEL(tag, buf, len, ESP_LOG_INFO)
