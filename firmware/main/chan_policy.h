/*
 * Channel-hopping decisions as pure functions (tested on the host).
 * The ESP32-S3 radio is 2.4 GHz only: channels 1..14. esp_wifi.h says esp_wifi_set_channel()
 * must not be called while the station scans or connects, so hopping runs only while
 * associated and stops on disconnect.
 */
#ifndef RV_CHAN_POLICY_H
#define RV_CHAN_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RV_CHAN_MIN 1u
#define RV_CHAN_MAX 14u

/* Copy the valid channels (1..14) of `in[0..n)` to `out` (at most `cap`), in order.
 * Returns how many were kept; *ignored counts the refused entries (for one log line). */
size_t rv_chan_list_filter(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                           size_t *ignored);

/* How many channels to hop over: min(hop_count, valid channels); 0 = no hopping (fewer than
 * two channels or no dwell time). */
size_t rv_hop_channels(uint8_t hop_count, size_t valid_channels, uint32_t dwell_ms);

typedef enum {
    RV_LINK_IDLE = 0,       /* started, not associating (or no SSID) */
    RV_LINK_CONNECTING,     /* esp_wifi_connect() issued: scanning / authenticating */
    RV_LINK_CONNECTED,      /* WIFI_EVENT_STA_CONNECTED received */
} rv_link_state_t;

/* May esp_wifi_set_channel() be called in this link state? Only when associated. */
bool rv_hop_allowed(rv_link_state_t s);

#endif
