/* Datagram encoders (PROTOCOL.md §1). Offsets are spelled out so they can be checked against
 * the tables; every encoder zeroes reserved bytes. */
#include "rv_packets.h"

#include <string.h>

#include "rv_bytes.h"

uint32_t rv_crc32(uint32_t crc, const uint8_t *data, size_t len)
{
    /* Bitwise reflected CRC-32 (poly 0xEDB88320): packets are small and rare (<= 5 Hz). */
    crc = ~crc;
    for (size_t i = 0; i < len; i++) {
        crc ^= data[i];
        for (int b = 0; b < 8; b++)
            crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

uint32_t rv_channel_freq_mhz(uint8_t channel)
{
    if (channel >= 1 && channel <= 13)
        return 2407u + 5u * channel;
    if (channel == 14)
        return 2484u;
    if (channel >= 36 && channel <= 177)
        return 5000u + 5u * channel;
    return 0;
}

size_t rv_pkt_raw(uint8_t *buf, size_t cap, uint8_t node_id, uint8_t n_antennas,
                  uint32_t freq_mhz, uint32_t seq, int8_t rssi, int8_t noise_floor,
                  uint16_t flags, const int8_t *iq, uint16_t iq_len)
{
    size_t n = RV_RAW_HDR_LEN + (size_t)iq_len;
    if (!buf || n > cap || n_antennas == 0 || (iq_len && !iq))
        return 0;
    rv_put_u32(buf + 0, RV_MAGIC_RAW);
    buf[4] = node_id;
    buf[5] = n_antennas;
    rv_put_u16(buf + 6, (uint16_t)(iq_len / (2u * n_antennas)));
    rv_put_u32(buf + 8, freq_mhz);
    rv_put_u32(buf + 12, seq);
    buf[16] = (uint8_t)rssi;
    buf[17] = (uint8_t)noise_floor;
    rv_put_u16(buf + 18, flags);
    if (iq_len)
        memcpy(buf + RV_RAW_HDR_LEN, iq, iq_len);
    return n;
}

size_t rv_pkt_compressed(uint8_t *buf, size_t cap, uint8_t node_id, uint8_t channel,
                         uint16_t orig_len, const uint8_t *payload, uint16_t comp_len)
{
    size_t n = RV_COMP_HDR_LEN + (size_t)comp_len;
    if (!buf || n > cap || (comp_len && !payload))
        return 0;
    rv_put_u32(buf + 0, RV_MAGIC_COMPRESSED);
    buf[4] = node_id;
    buf[5] = channel;
    rv_put_u16(buf + 6, orig_len);
    rv_put_u16(buf + 8, comp_len);
    if (comp_len && payload != buf + RV_COMP_HDR_LEN)
        memmove(buf + RV_COMP_HDR_LEN, payload, comp_len);
    return n;
}

size_t rv_pkt_vitals(uint8_t *buf, size_t cap, const rv_vitals_pkt_t *v)
{
    if (!buf || !v || cap < RV_VITALS_LEN)
        return 0;
    memset(buf, 0, RV_VITALS_LEN);
    rv_put_u32(buf + 0, RV_MAGIC_VITALS);
    buf[4] = v->node_id;
    buf[5] = v->flags;
    rv_put_u16(buf + 6, v->breath_x100);
    rv_put_u32(buf + 8, v->heart_x10000);
    buf[12] = (uint8_t)v->rssi;
    buf[13] = v->n_persons;
    buf[14] = v->breath_conf; /* ruview confidence extension (flags bit 7), 0 in RuView 0.6.x */
    buf[15] = v->heart_conf;
    rv_put_f32(buf + 16, v->motion_energy);
    rv_put_f32(buf + 20, v->presence_score);
    rv_put_u32(buf + 24, v->timestamp_ms);
    /* 28..31 reserved */
    return RV_VITALS_LEN;
}

size_t rv_pkt_features(uint8_t *buf, size_t cap, const rv_features_pkt_t *v)
{
    if (!buf || !v || cap < RV_FEATURES_LEN)
        return 0;
    rv_put_u32(buf + 0, RV_MAGIC_FEATURES);
    buf[4] = v->node_id;
    buf[5] = 0;
    rv_put_u16(buf + 6, v->seq);
    rv_put_u64(buf + 8, (uint64_t)v->timestamp_us);
    for (int i = 0; i < 8; i++)
        rv_put_f32(buf + 16 + 4 * i, v->f[i]);
    return RV_FEATURES_LEN;
}

size_t rv_pkt_feature_state(uint8_t *buf, size_t cap, const rv_state_pkt_t *v)
{
    if (!buf || !v || cap < RV_FEATURE_STATE_LEN)
        return 0;
    rv_put_u32(buf + 0, RV_MAGIC_FEATURE_STATE);
    buf[4] = v->node_id;
    buf[5] = v->mode;
    rv_put_u16(buf + 6, v->seq);
    rv_put_u64(buf + 8, v->ts_us);
    const float f[9] = { v->motion, v->presence, v->respiration_bpm, v->respiration_conf,
                         v->heartbeat_bpm, v->heartbeat_conf, v->anomaly, v->env_shift,
                         v->node_coherence };
    for (int i = 0; i < 9; i++)
        rv_put_f32(buf + 16 + 4 * i, f[i]);
    rv_put_u16(buf + 52, v->quality_flags);
    rv_put_u16(buf + 54, 0);
    rv_put_u32(buf + 56, rv_crc32(0, buf, 56));
    return RV_FEATURE_STATE_LEN;
}

size_t rv_pkt_mesh(uint8_t *buf, size_t cap, uint8_t msg_type, uint8_t sender_role,
                   uint8_t auth_class, uint32_t epoch, const uint8_t *payload, uint16_t len)
{
    size_t n = RV_MESH_HDR_LEN + (size_t)len + 4u;
    if (!buf || len > RV_MESH_MAX_PAYLOAD || n > cap || (len && !payload))
        return 0;
    rv_put_u32(buf + 0, RV_MAGIC_MESH);
    buf[4] = 1; /* version */
    buf[5] = msg_type;
    buf[6] = sender_role;
    buf[7] = auth_class;
    rv_put_u32(buf + 8, epoch);
    rv_put_u16(buf + 12, len);
    rv_put_u16(buf + 14, 0);
    if (len && payload != buf + RV_MESH_HDR_LEN)
        memmove(buf + RV_MESH_HDR_LEN, payload, len);
    rv_put_u32(buf + RV_MESH_HDR_LEN + len, rv_crc32(0, buf, RV_MESH_HDR_LEN + (size_t)len));
    return n;
}

size_t rv_pkt_mesh_health(uint8_t *buf, size_t cap, uint8_t sender_role, uint8_t auth_class,
                          uint32_t epoch, const rv_mesh_health_t *h)
{
    uint8_t p[RV_MESH_HEALTH_PAYLOAD];
    if (!h)
        return 0;
    memcpy(p, h->node_id, 8);
    rv_put_u64(p + 8, h->local_time_us);
    p[16] = h->role;
    p[17] = h->channel;
    p[18] = h->bandwidth;
    p[19] = (uint8_t)h->noise_floor;
    rv_put_u16(p + 20, h->pkt_yield);
    rv_put_u16(p + 22, h->sync_error_us);
    rv_put_u16(p + 24, h->health_flags);
    rv_put_u16(p + 26, 0);
    return rv_pkt_mesh(buf, cap, RV_MESH_TYPE_HEALTH, sender_role, auth_class, epoch, p,
                       RV_MESH_HEALTH_PAYLOAD);
}
