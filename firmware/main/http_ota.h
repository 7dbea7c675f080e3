/*
 * HTTP control and OTA on port 8032 (PROTOCOL.md section 4):
 *   GET  /ota/status  identity, slots, OTA state, rollback, uptime (no auth)
 *   POST /ota         raw app image; Bearer PSK (fail-closed), Content-Length required,
 *                     optional X-Image-SHA256; reboots into the new slot after ~1 s
 */
#pragma once

#include "config_load.h"
#include "node_info.h"

/* Start the server. Independent of telemetry: runs even when target_ip is invalid. Both
 * arguments must outlive the server (they are the app's statics). */
void http_ota_start(const node_config_t *cfg, const node_info_t *info);
