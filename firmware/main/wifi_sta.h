/*
 * WiFi station that never gives up: reconnects with capped exponential back-off
 * (1 s doubling to 30 s; RuView 0.6.x stopped after 10 failures), and turns CSI capture on
 * with the callback of csi_rx.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "config_load.h"

/* esp_netif + default event loop + WiFi driver + CSI. Call once, after config_load(). */
void wifi_sta_start(const node_config_t *cfg);
/* Associated and holding an IPv4 address. */
bool wifi_sta_is_up(void);
/* Primary channel the radio is on now (0 before the first association). */
uint8_t wifi_sta_channel(void);
/* Pause/resume CSI reports (power duty cycle); the association is kept. */
void wifi_sta_set_csi(bool on);
