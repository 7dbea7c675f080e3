/* esp_log on the node's UART (stdout): "L (ms) tag: text", as ESP-IDF prints with colours off. */
#include <stdio.h>
#include <string.h>
#include <pthread.h>

#include "esp_log.h"
#include "port.h"

static esp_log_level_t s_default = ESP_LOG_INFO;   /* CONFIG_LOG_DEFAULT_LEVEL_INFO */
static struct { char tag[24]; esp_log_level_t level; } s_tags[16];
static int s_ntags;
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;

void esp_log_level_set(const char *tag, esp_log_level_t level)
{
    pthread_mutex_lock(&s_lock);
    if (strcmp(tag, "*") == 0) {
        s_default = level;
        s_ntags = 0;
    } else {
        int i;
        for (i = 0; i < s_ntags && strcmp(s_tags[i].tag, tag) != 0; i++) {}
        if (i < (int)(sizeof(s_tags) / sizeof(s_tags[0]))) {
            snprintf(s_tags[i].tag, sizeof(s_tags[i].tag), "%s", tag);
            s_tags[i].level = level;
            if (i == s_ntags) s_ntags++;
        }
    }
    pthread_mutex_unlock(&s_lock);
}

static esp_log_level_t level_of(const char *tag)
{
    for (int i = 0; i < s_ntags; i++) {
        if (strcmp(s_tags[i].tag, tag) == 0) return s_tags[i].level;
    }
    return s_default;
}

uint32_t esp_log_timestamp(void)
{
    return (uint32_t)(port_now_us() / 1000);
}

void esp_log_writev(esp_log_level_t level, const char *tag, const char *format, va_list args)
{
    static const char letters[] = "NEWIDV";
    pthread_mutex_lock(&s_lock);
    esp_log_level_t max = level_of(tag);
    pthread_mutex_unlock(&s_lock);
    if (level > max || level == ESP_LOG_NONE) {
        return;
    }
    char line[512];
    int n = snprintf(line, sizeof(line), "%c (%lu) %s: ", letters[level],
                     (unsigned long)esp_log_timestamp(), tag);
    if (n < 0 || (size_t)n >= sizeof(line)) n = 0;
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, format, args);
    size_t len = m < 0 ? (size_t)n : (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2) len = sizeof(line) - 2;
    line[len++] = '\n';
    flockfile(stdout);
    fwrite(line, 1, len, stdout);
    fflush(stdout);
    funlockfile(stdout);
}

void esp_log_write(esp_log_level_t level, const char *tag, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    esp_log_writev(level, tag, format, ap);
    va_end(ap);
}

void esp_log_buffer_hex_internal(const char *tag, const void *buffer, uint16_t len,
                                 esp_log_level_t level)
{
    const uint8_t *b = buffer;
    for (uint16_t off = 0; off < len; off += 16) {
        char hex[16 * 3 + 1];
        size_t o = 0;
        for (uint16_t i = off; i < len && i < off + 16; i++) {
            o += (size_t)snprintf(hex + o, sizeof(hex) - o, "%02x ", b[i]);
        }
        esp_log_write(level, tag, "%s", hex);
    }
}
