#include "udp_sender.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

#include "esp_log.h"
#include "esp_timer.h"
#include "lwip/sockets.h"

static const char *TAG = "udp";

#define ENOMEM_BACKOFF_US (100 * 1000)

/* Published once by udp_sender_start (release) after s_dest is set; the DSP task reads it
 * (acquire), so it never sees the socket before the destination. */
static atomic_int s_sock = -1;
static struct sockaddr_in s_dest;
static int64_t s_backoff_until;     /* used by the sending task only */
static atomic_uint s_sent, s_failed, s_dropped;

void udp_sender_start(const node_config_t *cfg)
{
    if (!cfg->target_ip_valid) {
        ESP_LOGE(TAG, "telemetry disabled: no valid target_ip");
        return;
    }
    int sock = socket(AF_INET, SOCK_DGRAM, IPPROTO_UDP);   /* needs net_stack_start() */
    if (sock < 0) {
        ESP_LOGE(TAG, "socket(): errno %d: telemetry disabled", errno);
        return;
    }
    memset(&s_dest, 0, sizeof(s_dest));
    s_dest.sin_family = AF_INET;
    s_dest.sin_port = htons(cfg->target_port);
    memcpy(&s_dest.sin_addr.s_addr, cfg->target_addr, 4);   /* already network order */
    atomic_store_explicit(&s_sock, sock, memory_order_release);
    ESP_LOGI(TAG, "telemetry to %u.%u.%u.%u:%u", cfg->target_addr[0], cfg->target_addr[1],
             cfg->target_addr[2], cfg->target_addr[3], cfg->target_port);
}

bool udp_sender_enabled(void)
{
    return atomic_load_explicit(&s_sock, memory_order_acquire) >= 0;
}

udp_result_t udp_sender_send(const uint8_t *data, size_t len)
{
    int sock = atomic_load_explicit(&s_sock, memory_order_acquire);
    if (sock < 0) {
        return UDP_DISABLED;
    }
    int64_t now = esp_timer_get_time();
    if (now < s_backoff_until) {
        atomic_fetch_add_explicit(&s_dropped, 1, memory_order_relaxed);
        return UDP_DROPPED;
    }
    int r = sendto(sock, data, len, 0, (const struct sockaddr *)&s_dest, sizeof(s_dest));
    if (r >= 0) {
        atomic_fetch_add_explicit(&s_sent, 1, memory_order_relaxed);
        return UDP_SENT;
    }
    int e = errno;
    uint32_t failed = atomic_fetch_add_explicit(&s_failed, 1, memory_order_relaxed) + 1;
    if (e == ENOMEM) {
        /* lwIP pbufs exhausted: hammering sendto() only keeps them exhausted. */
        s_backoff_until = now + ENOMEM_BACKOFF_US;
    }
    if (failed <= 5 || failed % 1000 == 0) {
        ESP_LOGW(TAG, "sendto failed, errno %d (%lu failures so far)", e, (unsigned long)failed);
    }
    return UDP_FAILED;
}

void udp_sender_stats(udp_stats_t *out)
{
    out->sent = atomic_load_explicit(&s_sent, memory_order_relaxed);
    out->failed = atomic_load_explicit(&s_failed, memory_order_relaxed);
    out->dropped = atomic_load_explicit(&s_dropped, memory_order_relaxed);
}
