/* The node's SPI flash = the flash file, read and written in place (pread/pwrite), so the
 * emulator sees every write after the process ends. */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "port.h"

static int s_fd = -1;
static size_t s_size;

bool flash_open(const char *path)
{
    s_fd = open(path, O_RDWR | O_CLOEXEC);
    struct stat st;
    if (s_fd < 0 || fstat(s_fd, &st) != 0) return false;
    s_size = (size_t)st.st_size;
    return s_size >= 0x10000;
}

size_t flash_size(void) { return s_size; }

static bool in_range(uint32_t addr, size_t len) { return (size_t)addr + len <= s_size; }

esp_err_t flash_read(uint32_t addr, void *buf, size_t len)
{
    if (!in_range(addr, len)) return ESP_ERR_INVALID_SIZE;
    return pread(s_fd, buf, len, addr) == (ssize_t)len ? ESP_OK : ESP_FAIL;
}

/* NOR flash can only clear bits: a write ANDs with what is there (spi_flash semantics). */
esp_err_t flash_write(uint32_t addr, const void *buf, size_t len)
{
    if (!in_range(addr, len)) return ESP_ERR_INVALID_SIZE;
    uint8_t tmp[4096];
    const uint8_t *src = buf;
    while (len > 0) {
        size_t n = len < sizeof(tmp) ? len : sizeof(tmp);
        if (pread(s_fd, tmp, n, addr) != (ssize_t)n) return ESP_FAIL;
        for (size_t i = 0; i < n; i++) tmp[i] &= src[i];
        if (pwrite(s_fd, tmp, n, addr) != (ssize_t)n) return ESP_FAIL;
        addr += (uint32_t)n;
        src += n;
        len -= n;
    }
    return ESP_OK;
}

esp_err_t flash_erase(uint32_t addr, size_t len)
{
    if (!in_range(addr, len) || addr % 4096 != 0 || len % 4096 != 0) return ESP_ERR_INVALID_ARG;
    uint8_t ff[4096];
    for (size_t i = 0; i < sizeof(ff); i++) ff[i] = 0xff;
    for (size_t off = 0; off < len; off += sizeof(ff)) {
        if (pwrite(s_fd, ff, sizeof(ff), addr + off) != (ssize_t)sizeof(ff)) return ESP_FAIL;
    }
    return ESP_OK;
}
