#include "chan_policy.h"

size_t rv_chan_list_filter(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                           size_t *ignored)
{
    size_t kept = 0;
    size_t bad = 0;
    for (size_t i = 0; i < n; i++) {
        if (in[i] >= RV_CHAN_MIN && in[i] <= RV_CHAN_MAX && kept < cap) {
            out[kept++] = in[i];
        } else {
            bad++;
        }
    }
    if (ignored != NULL) {
        *ignored = bad;
    }
    return kept;
}

size_t rv_hop_channels(uint8_t hop_count, size_t valid_channels, uint32_t dwell_ms)
{
    size_t n = hop_count < valid_channels ? hop_count : valid_channels;
    return (n < 2 || dwell_ms == 0) ? 0 : n;
}

bool rv_hop_allowed(rv_link_state_t s)
{
    return s == RV_LINK_CONNECTED;
}
