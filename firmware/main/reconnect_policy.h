/*
 * WiFi reconnect back-off as a pure function (no ESP-IDF header; tested on the host):
 * 1 s doubling to a 30 s cap, forever. Every failed attempt, whether esp_wifi_connect() itself
 * failed or the driver reported DISCONNECTED, asks for the next delay, so a retry is always
 * scheduled (RuView 0.6.x gave up after 10; an unchecked connect error could stall us).
 */
#ifndef RV_RECONNECT_POLICY_H
#define RV_RECONNECT_POLICY_H

#include <stdint.h>

#define RV_BACKOFF_FIRST_MS 1000u
#define RV_BACKOFF_MAX_MS   30000u

/* Delay after `current_ms`: doubled, capped at RV_BACKOFF_MAX_MS; 0 (never scheduled) starts
 * at RV_BACKOFF_FIRST_MS. Never returns 0, so a retry is never "now and again and again". */
uint32_t rv_backoff_next(uint32_t current_ms);

#endif
