/*
 * The pipeline: validates a frame, runs the DSP (tier >= 1), decides what goes on the wire and
 * encodes it. Send rules (KEYFRAME_RULE.md, PROTOCOL.md §1, §6):
 *  - CSI frames are rate-limited to 50 Hz (a frame < 20 ms after the last emitted one is
 *    processed but not sent and takes no sequence number); every sent frame, raw or
 *    compressed, takes the next sequence number.
 *  - tier 0: every frame raw, reserved = 0. tier >= 1: a raw KEYFRAME (reserved bit 0) on the
 *    first frame, a length change, >= 1 s since the last keyframe, after rv_edge_note_loss, or
 *    when compression would not be strictly shorter; otherwise 0xC5110005 = RLE(cur XOR keyframe).
 *  - tier >= 1: vitals every vital_int ms of frame time, the feature vector right after it.
 *  - all tiers: feature state (0xC5110006) every 200 ms of frame time (5 Hz). At tier 0 it is a
 *    liveness packet: all scores 0, quality_flags 0, mode 0.
 */
#include <string.h>

#include "ruview_edge.h"
#include "rv_codec.h"
#include "rv_dsp.h"
#include "rv_packets.h"

#define SEND_MIN_GAP_US   20000u    /* 50 Hz */
#define KEYFRAME_MAX_US   1000000u
#define STATE_PERIOD_US   200000u   /* 5 Hz */

size_t rv_edge_state_size(void)
{
    return sizeof(rv_edge_t);
}

static uint32_t clamp_key(const char *key, uint32_t v)
{
    const rv_nvs_key_t *k = rv_nvs_find("csi_cfg", key);
    if (!k)
        return v;
    if (v < k->min)
        return k->min;
    if (v > k->max)
        return k->max;
    return v;
}

void rv_edge_init(rv_edge_t *e, const rv_edge_cfg_t *cfg)
{
    memset(e, 0, sizeof *e);
    if (cfg)
        e->cfg = *cfg;
    else
        rv_edge_cfg_defaults(&e->cfg);
    rv_edge_cfg_t *c = &e->cfg;
    c->edge_tier = (uint8_t)clamp_key("edge_tier", c->edge_tier);
    c->pres_thresh = (uint16_t)clamp_key("pres_thresh", c->pres_thresh);
    c->fall_thresh = (uint16_t)clamp_key("fall_thresh", c->fall_thresh);
    c->vital_win = (uint16_t)clamp_key("vital_win", c->vital_win);
    c->vital_int = (uint16_t)clamp_key("vital_int", c->vital_int);
    c->subk_count = (uint8_t)clamp_key("subk_count", c->subk_count);
    rv_dsp_reset(e);
}

void rv_edge_note_loss(rv_edge_t *e, uint32_t frames)
{
    if (frames) {
        e->loss_pending = true;
        e->lost_frames += frames;
    }
}

static bool frame_valid(const rv_frame_t *f)
{
    if (!f || !f->iq || f->iq_len == 0 || f->iq_len > RV_MAX_IQ_BYTES)
        return false;
    if (f->n_antennas < 1 || f->n_antennas > RV_MAX_ANTENNAS)
        return false;
    return f->iq_len % (2u * f->n_antennas) == 0;
}

static float clamp01(float x)
{
    if (!(x > 0.0f))
        return 0.0f;
    return x > 1.0f ? 1.0f : x;
}

/* 0..1 -> 1..100: an estimate that is sent has a non-zero confidence */
static uint8_t conf_pct(float c)
{
    int p = (int)(clamp01(c) * 100.0f + 0.5f);
    return (uint8_t)(p < 1 ? 1 : p);
}

static int push(rv_out_t *out, size_t len)
{
    if (len) {
        out->len[out->n] = (uint16_t)len;
        out->n++;
    }
    return out->n;
}

static void emit_frame(rv_edge_t *e, const rv_frame_t *f, uint64_t now, rv_out_t *out)
{
    uint8_t *buf = out->data[out->n];
    uint32_t freq = rv_channel_freq_mhz(f->channel);
    if (e->cfg.edge_tier >= 1) {
        bool key = e->key_len == 0 || f->iq_len != e->key_len || e->loss_pending ||
                   now - e->key_ts_us >= KEYFRAME_MAX_US;
        if (!key) {
            size_t c = rv_rle_xor_encode((const uint8_t *)f->iq, e->key_iq, f->iq_len,
                                         buf + RV_COMP_HDR_LEN,
                                         RV_OUT_MAX_BYTES - RV_COMP_HDR_LEN);
            if (c) {
                push(out, rv_pkt_compressed(buf, RV_OUT_MAX_BYTES, e->cfg.node_id, f->channel,
                                            f->iq_len, buf + RV_COMP_HDR_LEN, (uint16_t)c));
                e->seq++;
                return;
            }
        }
        memcpy(e->key_iq, f->iq, f->iq_len);
        e->key_len = f->iq_len;
        e->key_ts_us = now;
        e->loss_pending = false;
        push(out, rv_pkt_raw(buf, RV_OUT_MAX_BYTES, e->cfg.node_id, f->n_antennas, freq, e->seq,
                             f->rssi, f->noise_floor, RV_RAW_FLAG_KEYFRAME, f->iq, f->iq_len));
    } else {
        push(out, rv_pkt_raw(buf, RV_OUT_MAX_BYTES, e->cfg.node_id, f->n_antennas, freq, e->seq,
                             f->rssi, f->noise_floor, 0, f->iq, f->iq_len));
    }
    e->seq++;
}

static void emit_vitals(rv_edge_t *e, uint64_t now, rv_out_t *out)
{
    rv_dsp_vitals_update(e, now);
    bool tier2 = e->cfg.edge_tier >= 2;
    float br = tier2 ? e->breath_bpm : 0.0f, hr = tier2 ? e->heart_bpm : 0.0f;
    bool fall = e->fall_latched;
    rv_vitals_pkt_t v;
    v.node_id = e->cfg.node_id;
    v.flags = (uint8_t)((e->present ? RV_VFLAG_PRESENCE : 0u) | (fall ? RV_VFLAG_FALL : 0u) |
                        (rv_dsp_motion(e) ? RV_VFLAG_MOTION : 0u) | RV_VFLAG_CONFIDENCE);
    v.breath_conf = br > 0.0f ? conf_pct(e->breath_conf) : 0u;
    v.heart_conf = hr > 0.0f ? conf_pct(e->heart_conf) : 0u;
    v.breath_x100 = (uint16_t)(br * 100.0f + 0.5f);
    v.heart_x10000 = (uint32_t)(hr * 10000.0f + 0.5f);
    v.rssi = e->last_rssi;
    v.n_persons = e->n_persons;
    v.motion_energy = e->motion_energy;
    v.presence_score = rv_dsp_presence_score(e);
    v.timestamp_ms = (uint32_t)(now / 1000u);
    push(out, rv_pkt_vitals(out->data[out->n], RV_OUT_MAX_BYTES, &v));
    e->fall_latched = false; /* carried by this packet */

    rv_features_pkt_t fv;
    fv.node_id = e->cfg.node_id;
    fv.seq = e->feat_seq++;
    fv.timestamp_us = (int64_t)now;
    fv.f[0] = v.presence_score;
    fv.f[1] = rv_dsp_motion_level(e);
    fv.f[2] = clamp01(br / 30.0f);
    fv.f[3] = clamp01(hr / 120.0f);
    fv.f[4] = clamp01(e->topk_var);
    fv.f[5] = clamp01((float)e->n_persons / 4.0f);
    fv.f[6] = fall ? 1.0f : 0.0f;
    fv.f[7] = clamp01(((float)e->last_rssi + 100.0f) / 100.0f);
    push(out, rv_pkt_features(out->data[out->n], RV_OUT_MAX_BYTES, &fv));
}

static void emit_state(rv_edge_t *e, uint64_t now, rv_out_t *out)
{
    rv_state_pkt_t s;
    memset(&s, 0, sizeof s);
    s.node_id = e->cfg.node_id;
    s.mode = e->cfg.edge_tier;
    s.seq = e->state_seq++;
    s.ts_us = now;
    if (e->cfg.edge_tier >= 1) {
        bool tier2 = e->cfg.edge_tier >= 2;
        s.motion = rv_dsp_motion_level(e);
        s.presence = rv_dsp_presence_score(e);
        s.quality_flags = RV_QFLAG_PRESENCE_VALID;
        if (tier2 && e->present && e->breath_bpm > 0.0f) {
            s.respiration_bpm = e->breath_bpm;
            s.respiration_conf = e->breath_conf;
            s.quality_flags |= RV_QFLAG_RESPIRATION_VALID;
        }
        if (tier2 && e->present && e->heart_bpm > 0.0f) {
            s.heartbeat_bpm = e->heart_bpm;
            s.heartbeat_conf = e->heart_conf;
            s.quality_flags |= RV_QFLAG_HEARTBEAT_VALID;
        }
        if (e->fall_latched) {
            s.anomaly = 1.0f;
            s.quality_flags |= RV_QFLAG_ANOMALY_TRIGGERED;
        }
        if (tier2 && e->cfg.pres_thresh == 0 && !e->calibrated)
            s.quality_flags |= RV_QFLAG_CALIBRATING;
    }
    push(out, rv_pkt_feature_state(out->data[out->n], RV_OUT_MAX_BYTES, &s));
}

int rv_edge_process(rv_edge_t *e, const rv_frame_t *f, rv_out_t *out)
{
    out->n = 0;
    if (!frame_valid(f)) {
        e->invalid_frames++;
        return 0;
    }
    uint64_t now = f->timestamp_us;
    uint64_t vint = (uint64_t)e->cfg.vital_int * 1000u;
    if (!e->have_ts || now < e->last_ts_us) {
        /* first frame, or the clock went backwards: restart the schedules from here */
        if (e->have_ts)
            e->key_len = 0; /* force a keyframe */
        e->first_ts_us = now;
        e->next_vitals_us = now + vint;
        e->next_state_us = now + STATE_PERIOD_US;
        e->have_sent = false;
        e->have_ts = true;
        e->last_ts_us = now;
    }
    e->last_rssi = f->rssi;
    if (e->cfg.edge_tier >= 1)
        rv_dsp_frame(e, f, now);
    e->last_ts_us = now;

    if (!e->have_sent || now - e->last_sent_us >= SEND_MIN_GAP_US) {
        emit_frame(e, f, now, out);
        e->last_sent_us = now;
        e->have_sent = true;
    }
    if (e->cfg.edge_tier >= 1 && now >= e->next_vitals_us) {
        emit_vitals(e, now, out);
        e->next_vitals_us += vint;
        if (e->next_vitals_us <= now)
            e->next_vitals_us = now + vint;
    }
    if (now >= e->next_state_us) {
        emit_state(e, now, out);
        e->next_state_us += STATE_PERIOD_US;
        if (e->next_state_us <= now)
            e->next_state_us = now + STATE_PERIOD_US;
    }
    return out->n;
}
