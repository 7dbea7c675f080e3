/* libFuzzer: arbitrary frames (I/Q bytes, lengths, antennas, timestamps, config) through the
 * pipeline; every emitted datagram must be well-formed and within the output buffer. */
#include <stdint.h>
#include <string.h>

#include "ruview_edge.h"
#include "rv_packets.h"

static rv_edge_t e;
static rv_out_t out;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8)
        return 0;
    rv_edge_cfg_t c;
    rv_edge_cfg_defaults(&c);
    c.edge_tier = data[0] % 4;        /* includes an out-of-range tier: clamped */
    c.vital_win = (uint16_t)(data[1] * 3);
    c.vital_int = (uint16_t)(data[2] * 40);
    c.subk_count = data[3];
    c.fall_thresh = (uint16_t)(data[4] << 6);
    c.pres_thresh = (uint16_t)(data[5] << 4);
    rv_edge_init(&e, &c);
    size_t i = 6;
    uint64_t ts = 0;
    while (i + 6 <= size) {
        uint16_t len = (uint16_t)(data[i] | data[i + 1] << 8) % (RV_MAX_IQ_BYTES + 8);
        uint8_t nant = data[i + 2] % 6;
        uint32_t step = (uint32_t)data[i + 3] * 1000u * (data[i + 4] & 0x0F);
        if (data[i + 4] & 0x80)
            ts = ts > step ? ts - step : 0; /* clock going backwards */
        else
            ts += step;
        uint8_t flags = data[i + 5];
        i += 6;
        static int8_t iq[RV_MAX_IQ_BYTES + 8];
        size_t avail = size - i < len ? size - i : len;
        memset(iq, (int8_t)flags, len);
        memcpy(iq, data + i, avail);
        i += avail;
        if (flags & 1)
            rv_edge_note_loss(&e, flags);
        rv_frame_t f = { (flags & 2) ? NULL : iq, len, nant, (int8_t)flags, -90,
                         (uint8_t)(flags >> 2), ts };
        int n = rv_edge_process(&e, &f, &out);
        if (n < 0 || n > RV_OUT_MAX_PACKETS)
            __builtin_trap();
        for (int k = 0; k < n; k++) {
            if (out.len[k] < 4 || out.len[k] > RV_OUT_MAX_BYTES)
                __builtin_trap();
            uint32_t m;
            memcpy(&m, out.data[k], 4);
            if ((m & 0xFFFFFFF0u) != 0xC5110000u)
                __builtin_trap();
            if (m == RV_MAGIC_VITALS) {
                float ps;
                memcpy(&ps, out.data[k] + 20, 4);
                if (!(ps >= 0.0f && ps <= 1.0f))
                    __builtin_trap();
            }
        }
    }
    return 0;
}
