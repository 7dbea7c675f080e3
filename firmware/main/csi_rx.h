/*
 * CSI capture -> DSP. The WiFi driver's CSI callback copies each report into the core's
 * lock-free SPSC ring (no allocation, no blocking); a DSP task pinned to core 1 drains the
 * ring through rv_edge_process() and hands the resulting datagrams to udp_sender.
 */
#pragma once

#include <stdint.h>
#include "esp_wifi.h"
#include "config_load.h"

/* Start the DSP task. Call before wifi_sta_start() registers csi_rx_callback. */
void csi_rx_start(const node_config_t *cfg);
/* The esp_wifi_set_csi_rx_cb() callback (runs in the WiFi task). */
void csi_rx_callback(void *ctx, wifi_csi_info_t *info);
/* CSI reports accepted into the ring since boot (the self-test's "CSI arriving"). */
uint32_t csi_rx_frames(void);
/* CSI reports dropped by the early rate gate (over CONFIG_RUVIEW_CSI_MAX_HZ), since boot. */
uint32_t csi_rx_gate_dropped(void);
/* CSI reports lost because the ring was full, since boot. */
uint32_t csi_rx_dropped(void);
