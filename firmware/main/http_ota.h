/*
 * HTTP control and OTA on port 8032 (docs/protocol.md section 5):
 *   GET  /ota/status  identity, slots, OTA state, rollback, chip revision (no auth)
 *   GET  /ota/nonce   a single-use challenge for the next POST /ota (60 s)
 *   POST /ota         raw app image; HMAC-SHA256 challenge-response (fail-closed),
 *                     Content-Length and X-Image-SHA256 required; reboots ~1 s after 200.
 * Which answer for which request: ota_admission.c.
 */
#pragma once

#include <stdbool.h>

#include "config_load.h"
#include "node_info.h"

/* Start the server. Independent of telemetry: runs even when target_ip is invalid. Both
 * arguments must outlive the server (they are the app's statics). false: not serving. */
bool http_ota_start(const node_config_t *cfg, const node_info_t *info);
/* The server started and its handlers are registered (the post-OTA self-test checks it). */
bool http_ota_running(void);
