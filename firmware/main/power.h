/*
 * Power management from csi_cfg/power_duty (10..100 %):
 *   100 %  radio always awake (WIFI_PS_NONE) for the steadiest CSI; DFS only.
 *   < 100  modem sleep (WIFI_PS_MIN_MODEM) + automatic light sleep, and CSI captured for
 *          power_duty % of every second.
 */
#pragma once

#include "config_load.h"

/* Call after wifi_sta_start(). */
void power_start(const node_config_t *cfg);
