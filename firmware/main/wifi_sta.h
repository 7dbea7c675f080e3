/*
 * WiFi station that never gives up: reconnects with capped exponential back-off
 * (reconnect_policy.h; RuView 0.6.x stopped after 10 failures), hops channels only while
 * associated (chan_policy.h), and turns CSI capture on with the callback of csi_rx.c.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include "config_load.h"

/* WiFi netif + driver + CSI (+ channel hopping while associated). Call once, after
 * net_stack_start() and config_load(). */
void wifi_sta_start(const node_config_t *cfg);
/* Associated and holding an IPv4 address. */
bool wifi_sta_is_up(void);
/* Primary channel the radio is on now (0 before the first association). */
uint8_t wifi_sta_channel(void);
/* Pause/resume CSI reports (power duty cycle); the association is kept. */
void wifi_sta_set_csi(bool on);
