#include "csi_rx.h"

#include <stdatomic.h>
#include <string.h>

#include "esp_log.h"
#include "esp_pm.h"
#include "esp_task_wdt.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"

#include "csi_gate.h"
#include "ruview_edge.h"
#include "rv_packets.h"
#include "rv_ring.h"
#include "udp_sender.h"
#include "wifi_sta.h"

static const char *TAG = "csi";

#define DSP_TASK_STACK   6144
#define DSP_TASK_PRIO    5
#define DSP_TASK_CORE    1          /* WiFi/lwIP run on core 0 */
#define HEALTH_PERIOD_US (30LL * 1000 * 1000)

/* All frame-path state is static: no allocation after boot. */
static rv_ring_t  s_ring;
static rv_edge_t  s_edge;
static rv_out_t   s_out;
static int8_t     s_scratch[RV_MAX_IQ_BYTES];   /* producer only: sanitised copy */

static rv_csi_gate_t s_gate;         /* early rate gate, first thing in the callback */
static esp_pm_lock_handle_t s_cpu_lock; /* CPU at max frequency while the DSP works */
static TaskHandle_t s_dsp_task;
static uint8_t s_filter_mac[6];
static bool    s_filter_on;
static uint8_t s_node_id;

static atomic_uint s_frames;        /* accepted into the ring */
static atomic_uint s_dropped;       /* ring full */
static atomic_int  s_last_noise;    /* for HEALTH */

void csi_rx_callback(void *ctx, wifi_csi_info_t *info)
{
    (void)ctx;
    if (info == NULL || info->buf == NULL || info->len == 0) {
        return;
    }
    if (s_filter_on && memcmp(info->mac, s_filter_mac, 6) != 0) {
        return;
    }
    if (!rv_csi_gate_admit(&s_gate, (uint64_t)esp_timer_get_time())) {
        return;   /* over CONFIG_RUVIEW_CSI_MAX_HZ: counted, nothing else done */
    }
    rv_frame_t f = {
        .iq = info->buf,
        .iq_len = info->len,
        .n_antennas = 1,
        .rssi = (int8_t)info->rx_ctrl.rssi,
        .noise_floor = (int8_t)info->rx_ctrl.noise_floor,
        .channel = (uint8_t)info->rx_ctrl.channel,
        .timestamp_us = (uint64_t)esp_timer_get_time(),
    };
    /* The driver flags the first four bytes as garbage on some frames: zero them in a copy
     * (the driver's buffer is not ours to change) so neither the DSP nor the wire sees them. */
    if (info->first_word_invalid && info->len <= sizeof(s_scratch)) {
        memcpy(s_scratch, info->buf, info->len);
        memset(s_scratch, 0, info->len < 4 ? info->len : 4);
        f.iq = s_scratch;
    }
    if (rv_ring_push(&s_ring, &f)) {
        atomic_fetch_add_explicit(&s_frames, 1, memory_order_relaxed);
        atomic_store_explicit(&s_last_noise, f.noise_floor, memory_order_relaxed);
        xTaskNotifyGive(s_dsp_task);
    } else {
        atomic_fetch_add_explicit(&s_dropped, 1, memory_order_relaxed);
    }
}

static void send_health(uint32_t frames_in_period, int64_t period_us)
{
    rv_mesh_health_t h;
    memset(&h, 0, sizeof(h));
    h.node_id[0] = s_node_id;
    h.local_time_us = (uint64_t)esp_timer_get_time();
    h.role = 0;
    h.channel = wifi_sta_channel();
    h.bandwidth = 20;
    h.noise_floor = (int8_t)atomic_load_explicit(&s_last_noise, memory_order_relaxed);
    uint64_t yield = period_us > 0 ? (uint64_t)frames_in_period * 1000000ull / (uint64_t)period_us
                                   : 0;
    h.pkt_yield = (uint16_t)(yield > 0xFFFF ? 0xFFFF : yield);
    uint8_t buf[RV_MESH_HEALTH_LEN];
    size_t n = rv_pkt_mesh_health(buf, sizeof(buf), 0, 0, 0, &h);
    if (n > 0) {
        (void)udp_sender_send(buf, n);
    }
}

static void dsp_task(void *arg)
{
    (void)arg;
    int64_t  health_at = esp_timer_get_time() + HEALTH_PERIOD_US;
    uint32_t health_frames = 0;
    rv_frame_t f;
    /* The task watchdog (panic, sdkconfig.defaults) reboots a DSP task that stops looping,
     * which on a pending-verify image also means rollback. */
    if (esp_task_wdt_add(NULL) != ESP_OK) {
        ESP_LOGE(TAG, "esp_task_wdt_add failed: the DSP task is not watched");
    }

    for (;;) {
        /* Wake on a frame, or at least every 100 ms for HEALTH and loss reporting. */
        ulTaskNotifyTake(pdTRUE, pdMS_TO_TICKS(100));
        esp_task_wdt_reset();

        uint32_t lost = rv_ring_take_dropped(&s_ring);
        if (lost > 0) {
            rv_edge_note_loss(&s_edge, lost);   /* next frame goes out as a raw keyframe */
        }
        bool locked = false;
        while (rv_ring_peek(&s_ring, &f)) {
            if (!locked && s_cpu_lock != NULL) {
                /* With CONFIG_PM_ENABLE the CPU idles at min_freq; the DSP needs max. */
                locked = esp_pm_lock_acquire(s_cpu_lock) == ESP_OK;
            }
            int n = rv_edge_process(&s_edge, &f, &s_out);
            rv_ring_release(&s_ring);
            health_frames++;
            for (int i = 0; i < n; i++) {
                udp_result_t r = udp_sender_send(s_out.data[i], s_out.len[i]);
                if (r == UDP_FAILED || r == UDP_DROPPED) {
                    rv_edge_note_loss(&s_edge, 1);
                }
            }
        }
        if (locked) {
            esp_pm_lock_release(s_cpu_lock);
        }

        int64_t now = esp_timer_get_time();
        if (now >= health_at) {
            send_health(health_frames, HEALTH_PERIOD_US + (now - health_at));
            health_frames = 0;
            health_at = now + HEALTH_PERIOD_US;
        }
    }
}

void csi_rx_start(const node_config_t *cfg)
{
    s_node_id = cfg->edge.node_id;
    s_filter_on = cfg->filter_mac_len == 6;
    if (s_filter_on) {
        memcpy(s_filter_mac, cfg->filter_mac, 6);
        ESP_LOGI(TAG, "CSI only from %02x:%02x:%02x:%02x:%02x:%02x", s_filter_mac[0],
                 s_filter_mac[1], s_filter_mac[2], s_filter_mac[3], s_filter_mac[4],
                 s_filter_mac[5]);
    }
    rv_ring_init(&s_ring);
    rv_csi_gate_init(&s_gate, CONFIG_RUVIEW_CSI_MAX_HZ, CONFIG_RUVIEW_CSI_BURST);
    esp_err_t err = esp_pm_lock_create(ESP_PM_CPU_FREQ_MAX, 0, "rv_dsp", &s_cpu_lock);
    if (err != ESP_OK) {
        s_cpu_lock = NULL;   /* ESP_ERR_NOT_SUPPORTED without CONFIG_PM_ENABLE: nothing to hold */
        ESP_LOGW(TAG, "esp_pm_lock_create: %s", esp_err_to_name(err));
    }
    rv_edge_init(&s_edge, &cfg->edge);
    BaseType_t ok = xTaskCreatePinnedToCore(dsp_task, "rv_dsp", DSP_TASK_STACK, NULL,
                                            DSP_TASK_PRIO, &s_dsp_task, DSP_TASK_CORE);
    configASSERT(ok == pdPASS);
    ESP_LOGI(TAG, "DSP task on core %d, tier %u, ring of %d slots, state %u bytes",
             DSP_TASK_CORE, cfg->edge.edge_tier, RV_RING_SLOTS, (unsigned)rv_edge_state_size());
}

uint32_t csi_rx_frames(void)
{
    return atomic_load_explicit(&s_frames, memory_order_relaxed);
}

uint32_t csi_rx_gate_dropped(void)
{
    return rv_csi_gate_dropped(&s_gate);
}

uint32_t csi_rx_dropped(void)
{
    return atomic_load_explicit(&s_dropped, memory_order_relaxed);
}
