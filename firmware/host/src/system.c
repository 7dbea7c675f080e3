/*
 * esp_system / esp_common / esp_hw_support on the host: error names, ESP_ERROR_CHECK, asserts,
 * abort and restart paths, reset reason, RNG, MAC ("eFuse"), chip revision.
 * Crash paths print what the chip's panic handler prints, tell the emulator the reason on the
 * link, and die by SIGABRT (contract B).
 */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include "esp_chip_info.h"
#include "esp_err.h"
#include "esp_mac.h"
#include "esp_system.h"
#include "hal/efuse_hal.h"
#include "port.h"

#define N(code, name) { code, name }
static const struct { esp_err_t code; const char *name; } k_names[] = {
    N(0, "ESP_OK"), N(-1, "ESP_FAIL"), N(0x101, "ESP_ERR_NO_MEM"),
    N(0x102, "ESP_ERR_INVALID_ARG"), N(0x103, "ESP_ERR_INVALID_STATE"),
    N(0x104, "ESP_ERR_INVALID_SIZE"), N(0x105, "ESP_ERR_NOT_FOUND"),
    N(0x106, "ESP_ERR_NOT_SUPPORTED"), N(0x107, "ESP_ERR_TIMEOUT"),
    N(0x108, "ESP_ERR_INVALID_RESPONSE"), N(0x109, "ESP_ERR_INVALID_CRC"),
    N(0x10A, "ESP_ERR_INVALID_VERSION"), N(0x10B, "ESP_ERR_INVALID_MAC"),
    N(0x10C, "ESP_ERR_NOT_FINISHED"), N(0x10D, "ESP_ERR_NOT_ALLOWED"),
    N(0x1101, "ESP_ERR_NVS_NOT_INITIALIZED"), N(0x1102, "ESP_ERR_NVS_NOT_FOUND"),
    N(0x1103, "ESP_ERR_NVS_TYPE_MISMATCH"), N(0x1104, "ESP_ERR_NVS_READ_ONLY"),
    N(0x1105, "ESP_ERR_NVS_NOT_ENOUGH_SPACE"), N(0x1106, "ESP_ERR_NVS_INVALID_NAME"),
    N(0x1107, "ESP_ERR_NVS_INVALID_HANDLE"), N(0x1108, "ESP_ERR_NVS_REMOVE_FAILED"),
    N(0x1109, "ESP_ERR_NVS_KEY_TOO_LONG"), N(0x110a, "ESP_ERR_NVS_PAGE_FULL"),
    N(0x110b, "ESP_ERR_NVS_INVALID_STATE"), N(0x110c, "ESP_ERR_NVS_INVALID_LENGTH"),
    N(0x110d, "ESP_ERR_NVS_NO_FREE_PAGES"), N(0x110e, "ESP_ERR_NVS_VALUE_TOO_LONG"),
    N(0x110f, "ESP_ERR_NVS_PART_NOT_FOUND"), N(0x1110, "ESP_ERR_NVS_NEW_VERSION_FOUND"),
    N(0x1501, "ESP_ERR_OTA_PARTITION_CONFLICT"), N(0x1502, "ESP_ERR_OTA_SELECT_INFO_INVALID"),
    N(0x1503, "ESP_ERR_OTA_VALIDATE_FAILED"), N(0x1504, "ESP_ERR_OTA_SMALL_SEC_VER"),
    N(0x1505, "ESP_ERR_OTA_ROLLBACK_FAILED"), N(0x1506, "ESP_ERR_OTA_ROLLBACK_INVALID_STATE"),
    N(0x2001, "ESP_ERR_IMAGE_FLASH_FAIL"), N(0x2002, "ESP_ERR_IMAGE_INVALID"),
    N(0x3001, "ESP_ERR_WIFI_NOT_INIT"), N(0x3002, "ESP_ERR_WIFI_NOT_STARTED"),
    N(0x3003, "ESP_ERR_WIFI_NOT_STOPPED"), N(0x3004, "ESP_ERR_WIFI_IF"),
    N(0x3005, "ESP_ERR_WIFI_MODE"), N(0x3006, "ESP_ERR_WIFI_STATE"),
    N(0x3007, "ESP_ERR_WIFI_CONN"), N(0x300a, "ESP_ERR_WIFI_SSID"),
    N(0x300b, "ESP_ERR_WIFI_PASSWORD"), N(0x300f, "ESP_ERR_WIFI_NOT_CONNECT"),
    N(0x5001, "ESP_ERR_ESP_NETIF_INVALID_PARAMS"), N(0x5002, "ESP_ERR_ESP_NETIF_IF_NOT_READY"),
    N(0xb001, "ESP_ERR_HTTPD_HANDLERS_FULL"), N(0xb002, "ESP_ERR_HTTPD_HANDLER_EXISTS"),
    N(0xb003, "ESP_ERR_HTTPD_INVALID_REQ"), N(0xb004, "ESP_ERR_HTTPD_RESULT_TRUNC"),
    N(0xb005, "ESP_ERR_HTTPD_RESP_HDR"), N(0xb006, "ESP_ERR_HTTPD_RESP_SEND"),
    N(0xb007, "ESP_ERR_HTTPD_ALLOC_MEM"), N(0xb008, "ESP_ERR_HTTPD_TASK"),
};

const char *esp_err_to_name(esp_err_t code)
{
    for (size_t i = 0; i < sizeof(k_names) / sizeof(k_names[0]); i++) {
        if (k_names[i].code == code) return k_names[i].name;
    }
    return "UNKNOWN ERROR";
}

const char *esp_err_to_name_r(esp_err_t code, char *buf, size_t buflen)
{
    snprintf(buf, buflen, "%s", esp_err_to_name(code));
    return buf;
}

/* The panic handler's last words go to the UART, then the reason to the emulator, then
 * SIGABRT: the emulator reboots the node through its bootloader with that reset reason. */
void port_panic(const char *reason_for_link, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    fflush(stdout);
    fprintf(stderr, "\n%s\n\nBacktrace: (host build: not available)\n\n", msg);
    fflush(stderr);
    link_sendf("panic", "s", "reason", reason_for_link);
    signal(SIGABRT, SIG_DFL);
    abort();
}

/* ---- faults outside the port's own checks ------------------------------------------------
 * What the chip's panic handler prints for a CPU exception or a bare abort(), written with
 * async-signal-safe calls only; then the process dies by SIGABRT like every other panic. */

static void write_all(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0) return;
        s += w;
        n -= (size_t)w;
    }
}

static void on_fault(int sig)
{
    const char *what = sig == SIGSEGV ? "LoadProhibited" : sig == SIGBUS ? "LoadStoreAlignment"
                     : sig == SIGILL ? "IllegalInstruction" : "IntegerDivideByZero";
    write_all(2, "\nGuru Meditation Error: Core  0 panic'ed (");
    write_all(2, what);
    write_all(2, "). Exception was unhandled.\n\nBacktrace: (host build: not available)\n\n");
    write_all(3, "{\"t\":\"panic\",\"reason\":\"panic\"}\n");
    signal(SIGABRT, SIG_DFL);
    abort();
}

static void on_abort(int sig)
{
    (void)sig;
    write_all(2, "\nabort() was called at PC 0x42000000 on core 0\n\nBacktrace: (host build: not "
                 "available)\n\n");
    write_all(3, "{\"t\":\"panic\",\"reason\":\"panic\"}\n");
    signal(SIGABRT, SIG_DFL);
    raise(SIGABRT);
}

void port_install_crash_handlers(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fault;
    sa.sa_flags = (int)SA_RESETHAND;
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGILL, &sa, NULL);
    sigaction(SIGFPE, &sa, NULL);
    sa.sa_handler = on_abort;
    sigaction(SIGABRT, &sa, NULL);
}

void esp_system_abort(const char *details)
{
    port_panic("panic", "%s", details);
}

/* newlib/src/assert.c (__assert_func): "assert failed: <func> <file>:<line> (<expr>)". */
void __assert_func(const char *file, int line, const char *func, const char *expr)
{
    port_panic("panic", "assert failed: %s %s:%d (%s)", func != NULL ? func : "", file, line,
               expr);
}

/* esp_system/esp_err.c, _esp_error_check_failed. */
void _esp_error_check_failed(esp_err_t rc, const char *file, int line, const char *function,
                             const char *expression)
{
    port_panic("panic", "ESP_ERROR_CHECK failed: esp_err_t 0x%x (%s) at 0x%08x\nfile: \"%s\" "
               "line %d\nfunc: %s\nexpression: %s\n\nabort() was called at PC 0x%08x on core 0",
               rc, esp_err_to_name(rc), 0x42000000u, file, line, function, expression,
               0x42000000u);
}

static shutdown_handler_t s_shutdown[8];

esp_err_t esp_register_shutdown_handler(shutdown_handler_t handle)
{
    for (size_t i = 0; i < sizeof(s_shutdown) / sizeof(s_shutdown[0]); i++) {
        if (s_shutdown[i] == handle) return ESP_ERR_INVALID_STATE;
        if (s_shutdown[i] == NULL) {
            s_shutdown[i] = handle;
            return ESP_OK;
        }
    }
    return ESP_ERR_NO_MEM;
}

void esp_restart(void)
{
    for (int i = (int)(sizeof(s_shutdown) / sizeof(s_shutdown[0])) - 1; i >= 0; i--) {
        if (s_shutdown[i] != NULL) s_shutdown[i]();
    }
    fflush(stdout);
    link_sendf("restart", "s", "reason", "sw");
    _exit(0);
}

esp_reset_reason_t esp_reset_reason(void)
{
    return g_port.reset_reason;
}

uint32_t esp_get_free_heap_size(void) { return 200 * 1024; }
uint32_t esp_get_minimum_free_heap_size(void) { return 180 * 1024; }
uint32_t esp_get_free_internal_heap_size(void) { return 200 * 1024; }

void esp_fill_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n <= 0) abort();
        p += n;
        len -= (size_t)n;
    }
}

uint32_t esp_random(void)
{
    uint32_t v;
    esp_fill_random(&v, sizeof(v));
    return v;
}

/* esp_mac.c derives the other interfaces' MACs from the base (station) MAC. */
esp_err_t esp_read_mac(uint8_t *mac, esp_mac_type_t type)
{
    if (mac == NULL) return ESP_ERR_INVALID_ARG;
    memcpy(mac, g_port.mac, 6);
    if (type == ESP_MAC_WIFI_SOFTAP) mac[5] = (uint8_t)(mac[5] + 1);
    else if (type == ESP_MAC_BT) mac[5] = (uint8_t)(mac[5] + 2);
    else if (type == ESP_MAC_ETH) mac[5] = (uint8_t)(mac[5] + 3);
    return ESP_OK;
}

esp_err_t esp_efuse_mac_get_default(uint8_t *mac) { return esp_read_mac(mac, ESP_MAC_BASE); }
esp_err_t esp_base_mac_addr_get(uint8_t *mac) { return esp_read_mac(mac, ESP_MAC_BASE); }

uint32_t efuse_hal_chip_revision(void) { return (uint32_t)g_port.chip_revision; }
uint32_t efuse_hal_get_major_chip_version(void) { return (uint32_t)g_port.chip_revision / 100; }
uint32_t efuse_hal_get_minor_chip_version(void) { return (uint32_t)g_port.chip_revision % 100; }

void esp_chip_info(esp_chip_info_t *out)
{
    memset(out, 0, sizeof(*out));
    out->model = CHIP_ESP32S3;
    out->features = CHIP_FEATURE_WIFI_BGN | CHIP_FEATURE_BLE;
    out->revision = (uint16_t)g_port.chip_revision;
    out->cores = 2;
}
