/* Internals shared by the host port's modules (not an ESP-IDF header). */
#pragma once
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "esp_system.h"

/* ---- command line (the "chip": eFuses, strapping, flash) ---- */
typedef struct {
    const char *flash_path;
    char ip[16];
    uint8_t mac[6];
    char slot[17];
    esp_reset_reason_t reset_reason;
    int http_port;
    int chip_revision;        /* major * 100 + minor */
} port_args_t;
extern port_args_t g_port;

/* ---- flash file (pread/pwrite, NOR semantics are the writers' business) ---- */
bool flash_open(const char *path);
size_t flash_size(void);
esp_err_t flash_read(uint32_t addr, void *buf, size_t len);
esp_err_t flash_write(uint32_t addr, const void *buf, size_t len);
esp_err_t flash_erase(uint32_t addr, size_t len);

/* ---- board link on fd 3: newline-delimited JSON ---- */
void link_send_line(const char *json);                 /* adds the newline */
/* Build {"t":..., k:v...}: fmt chars s = string, d = int, b = bool, r = raw JSON */
void link_sendf(const char *t, const char *fmt, ...);
void link_start(void);                                 /* starts the "wifi" reader task */
void json_escape(char *out, size_t cap, const char *s);

/* A parsed incoming message: flat object, values kept as text. */
typedef struct { char key[24]; char val[1200]; bool is_str; } json_kv_t;
typedef struct { json_kv_t kv[20]; int n; } json_msg_t;
bool json_parse_flat(const char *line, json_msg_t *out);
const char *json_get(const json_msg_t *m, const char *key);
long json_get_int(const json_msg_t *m, const char *key, long def);

/* ---- dispatch of link messages to the modules ---- */
void wifi_on_link(const json_msg_t *m);          /* {"t":"wifi"} and {"t":"csi"} */
void wdt_on_fault(const char *name);             /* {"t":"fault","name":"hang"} */
void sockets_set_udp_loss(double percent);       /* {"t":"fault","name":"udp-loss"} */

/* ---- crash paths ---- */
void port_panic(const char *reason_for_link, const char *fmt, ...)
    __attribute__((noreturn, format(printf, 2, 3)));
bool netif_is_initialized(void);

/* ---- tasks ---- */
void freertos_port_init(void);
void task_run_main(void (*fn)(void));            /* the "main" task: runs app_main */
/* Start a plain port thread named like the IDF task it stands for. */
void port_thread(const char *name, void *(*fn)(void *), void *arg);

/* ---- generic timer service (esp_timer task, FreeRTOS timer task) ---- */
typedef struct tsvc tsvc_t;
typedef struct tsvc_timer {
    struct tsvc_timer *next;
    int64_t due_us;
    uint64_t period_us;      /* 0 = one-shot */
    bool armed;
    void (*fire)(struct tsvc_timer *t);
} tsvc_timer_t;
tsvc_t *tsvc_create(const char *task_name);
void tsvc_arm(tsvc_t *s, tsvc_timer_t *t, uint64_t delay_us, uint64_t period_us);
bool tsvc_disarm(tsvc_t *s, tsvc_timer_t *t);
bool tsvc_is_armed(tsvc_t *s, tsvc_timer_t *t);
int64_t port_now_us(void);

/* ---- crypto for the port itself ---- */
uint32_t crc32_le(uint32_t crc, const uint8_t *buf, size_t len);
typedef struct { uint32_t h[8]; uint64_t len; uint8_t buf[64]; size_t fill; } sha256_ctx_t;
void sha256_init(sha256_ctx_t *c);
void sha256_update(sha256_ctx_t *c, const void *data, size_t n);
void sha256_final(sha256_ctx_t *c, uint8_t out[32]);

/* ---- partitions ---- */
void partition_table_load(void);
void wdt_startup(void);
void port_install_crash_handlers(void);
void __assert_func(const char *file, int line, const char *func, const char *expr)
    __attribute__((noreturn));

/* lwIP without its TCP/IP thread: the netconn layer posts to tcpip_mbox, still invalid, and
 * LWIP_ASSERT("Invalid mbox", sys_mbox_valid_val(tcpip_mbox)) in tcpip_send_msg_wait_sem fires
 * (src/api/tcpip.c line 449 on esp-lwip's 2.1.3-esp branch, the lwIP of ESP-IDF 5.x), printed
 * by newlib's __assert_func as on the chip. */
#define LWIP_ASSERT_NO_TCPIP() \
    __assert_func("/IDF/components/lwip/lwip/src/api/tcpip.c", 449, "tcpip_send_msg_wait_sem", \
                  "Invalid mbox")
