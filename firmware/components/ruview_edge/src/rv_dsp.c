/*
 * The tier-1/2 DSP of one frame (antenna 0, at most RV_DSP_MAX_SC subcarriers).
 *
 * 1. Sanitise: ESP32 CSI carries a random common phase offset and a random linear phase slope
 *    across subcarriers per frame (CFO/STO). Both are removed in the complex domain: the slope is
 *    the amplitude-weighted mean phase step between neighbouring subcarriers
 *    (arg sum H_k conj H_k-1), the offset the phase of the de-sloped sum. This is the linear fit
 *    of the unwrapped phase, but immune to unwrapping errors at faded subcarriers. The AGC gain
 *    is removed from the amplitudes by dividing by their mean.
 * 2. Two channels per subcarrier: the tangential component (rel x sin of the sanitised phase
 *    minus its tracked mean) and the relative amplitude. A chest moving a few mm shifts a
 *    reflection almost equally on every subcarrier of a 20 MHz channel, so much of it looks
 *    like offset+slope and is removed by step 1 from the phase; the amplitude keeps it. Per
 *    channel: exponentially weighted (EW) mean and variance over a VAR_TAU_S window
 *    (windowed, not all-time) and the white-noise level from frame-to-frame steps.
 * 3. Top-K channels by windowed variance relative to their noise level, from the second frame.
 * 4. A streaming principal component (maximum-ratio combination, weights learnt on the
 *    breathing band) of all channels is the chest signal; biquad band-passes designed for the
 *    MEASURED sample rate split breathing and heart;
 *    the band signals go into a vital_win-frame history, from which BPM is computed on crossing
 *    timestamps (never on an assumed rate).
 * 5. Motion energy, presence (mean per-channel breathing-band SNR, or motion energy over its
 *    floor; threshold from a 1200-frame calibration after the warm-up), fall (an isolated burst
 *    of change energy over fall_thresh/1000 x its quiet floor: >= 2 s calm before, 0.1-3 s
 *    long, 1.5 s still after; latched until a vitals packet carries it), persons (clusters of
 *    per-channel breathing rates).
 */
#include <math.h>
#include <string.h>

#include "rv_dsp.h"

#define DEFAULT_FS        20.0f
#define MIN_FS            5.0f
#define MAX_FS            60.0f
#define MAX_IN_FS         250.0f    /* input rates measured up to this */
#define DSP_FS            12.0f     /* design rate: the DSP runs on every D-th frame, D =
                                     * round(input rate / 12), so it sees 7..18 Hz */
#define DSP_FS_LO         7.0f
#define DSP_FS_HI         18.0f
#define REDESIGN_TOL      0.05f
#define MOTION_TAU_S      1.0f
#define FAST_TAU_S        0.25f
#define PCA_TAU_S         15.0f
#define CLUSTER_GAP_BPM   2.0f
#define TOPK_STICKY       1.5f      /* top-K membership hysteresis */
#define PB_METRIC_SCALE   1.0f      /* mean breathing-band SNR excess -> metric units */
#define COH_THR           2.5f      /* coherent band SNR excess at the presence threshold */
#define WSNAP_US          4000000u  /* weight snapshot period */
#define MM_KNEE           1.5f      /* motion-energy ratio that is still noise (AGC, drift) */
#define PB_TAU_S          12.0f     /* breathing-band power window: ~13 degrees of freedom per
                                     * channel, so the empty-room mean over ~100 channels is
                                     * 0 +- ~0.04 */
#define PCN_TAU_S         1.0f      /* white-noise level of the combined signal */
#define BREATH_ENBW_HZ    0.63f     /* noise bandwidth of the 0.1-0.5 Hz band-pass (pi/2 x 0.4) */
#define VAR_CLIP          25.0f     /* per-sample variance contribution cap, x noise */
#define VAR_TAU_S         6.0f      /* per-channel variance window (EW time constant) */
#define PRES_DEFAULT_THR  0.07f     /* metric units: empty rooms (SNR 10-30 dB, AGC steps)
                                     * mostly stay below ~0.04 */
#define FLOOR_RISE_S      300.0f
#define PRES_OFF_RATIO    0.7f      /* hysteresis: off below 0.7 x threshold */
#define PRES_REBUILD_US   2000000u  /* presence held this long after gross motion ends */
#define MOTION_RATIO      3.0f      /* motion energy / its quiet floor: gross motion */
#define FALL_MAX_BURST_US 2500000u
#define FALL_SETTLE_US    4000000u  /* lies still; a bend comes back up within ~4 s */
#define FALL_PRE_QUIET_US 2000000u
#define FALL_PEAK_X       3.0f      /* a fall moves the whole body: its peak is >= 3x the threshold */
#define FALL_MIN_BURST_US 100000u
#define FALL_RESET_US     2000000u
#define GAP_RATIO         2.5f      /* frame interval > 2.5x the measured one: a gap */
#define HEART_LO_HZ       0.7f      /* heart periods searched: 42-150 BPM */
#define HEART_HI_HZ       2.5f
#define HEART_CONF_MIN    0.5f      /* peak share; noise alone gives ~0.15-0.3 */
#define HEART_AGREE_BPM   3.0f
#define MIN_POWER         2.0f      /* I^2+Q^2 below this: phase is noise, subcarrier skipped */

static float ew_alpha(float dt, float tau)
{
    float a = dt / (tau + dt);
    return a > 1.0f ? 1.0f : a;
}

/* Until the windowed statistics mean anything: half the vitals history (>= 32 frames) and two
 * variance time constants of frame time. */
static bool in_warmup(const rv_edge_t *e)
{
    uint32_t min_frames = e->cfg.vital_win / 2u > 32u ? e->cfg.vital_win / 2u : 32u;
    return e->frames < min_frames ||
           (float)(e->last_ts_us - e->first_ts_us) * 1e-6f < 2.0f * VAR_TAU_S;
}

/* Quiet-room floor of a noisy energy x: the mean of its quiet values (x < 3 x floor), an EW
 * with a 10 s time constant (2 s downwards, so a person leaving lowers it soon); above that it
 * rises only with `rise` (300 s), so minutes of motion do not become the floor. A running
 * minimum would sit in the low tail of the noise and make every ratio over it read 2-4 in a
 * still room. */
static void track_floor(float *base, float x, float dt, float rise)
{
    if (*base <= 0.0f)
        *base = x;
    else if (x < *base)
        *base += ew_alpha(dt, 2.0f) * (x - *base);
    else if (x < 3.0f * *base)
        *base += ew_alpha(dt, 10.0f) * (x - *base);
    else
        *base += rise * *base;
}

static float wrap_pi(float x)
{
    while (x > RV_PI)
        x -= RV_TWO_PI;
    while (x < -RV_PI)
        x += RV_TWO_PI;
    return x;
}

/* ESP32 CSI layout: every 64-bin training field (L-LTF, HT-LTF, ...) in FFT order, bins 0..31
 * then -32..-1 (ESP-IDF "Wi-Fi Channel State Information"). Other lengths: index order. */
static int sc_offset(int k, int n)
{
    if (n % 64)
        return k;
    int i = k & 63;
    return i < 32 ? i : i - 64;
}

/* Index of the subcarrier at position p of ascending frequency (within each 64-bin field). */
static int sc_at(int p, int n)
{
    if (n % 64)
        return p;
    int i = p & 63;
    return (p & ~63) + (i < 32 ? i + 32 : i - 32);
}

/* The first 4 bytes (subcarriers 0 = DC and +1 of the L-LTF): some ESP32 chips mark them
 * invalid (wifi_csi_info_t.first_word_invalid), and recordings drop the mark, so never used. */
static bool first_word(int k, int n)
{
    return n % 64 == 0 && k < 2;
}

static void chan_update(rv_subc_t *S, int c, float value, float step, float a, float am,
                        float an, bool moving)
{
    S->u[c] = value;
    float dm = value - S->mean[c];
    S->mean[c] += am * dm;
    float dm2 = dm * dm;
    if (S->noise[c] > 0.0f && dm2 > VAR_CLIP * S->noise[c])
        dm2 = VAR_CLIP * S->noise[c]; /* a step (someone left, a door) is not sustained motion */
    S->var[c] = (1.0f - a) * (S->var[c] + a * dm2);
    if (!moving) /* the receiver noise does not change when someone walks: the steps then are
                  * signal, and would mask the breathing of a person who just stopped */
        S->noise[c] += an * (0.5f * step * step - S->noise[c]);
    if (fabsf(S->mean[c]) > 1000.0f) { /* keep float precision: shift value and mean together */
        S->u[c] -= S->mean[c];
        S->mean[c] = 0.0f;
    }
}

static void design_filters(rv_edge_t *e, float fs)
{
    e->design_fs = fs;
    rv_biquad_design_hp(&e->bp_breath[0], 0.1f, fs, 0.7071f);
    rv_biquad_design_lp(&e->bp_breath[1], 0.5f, fs, 0.7071f);
    rv_biquad_design_hp(&e->bp_heart[0], 0.8f, fs, 0.5176f);
    rv_biquad_design_hp(&e->bp_heart[1], 0.8f, fs, 0.7071f);
    rv_biquad_design_hp(&e->bp_heart[2], 0.8f, fs, 1.9319f);
    rv_biquad_design_lp(&e->bp_heart[3], 2.0f, fs, 0.7071f);
    rv_biquad_design_bp(&e->bp_sc, 0.224f, fs, 0.56f);

}

void rv_dsp_reset(rv_edge_t *e)
{
    memset(&e->sc, 0, sizeof e->sc);
    memset(e->bp_breath, 0, sizeof e->bp_breath);
    memset(e->bp_heart, 0, sizeof e->bp_heart);
    memset(&e->bp_sc, 0, sizeof e->bp_sc);
    memset(&e->hist, 0, sizeof e->hist);
    e->n_sc = 0;
    e->n_topk = 0;
    e->n_pslot = 0;
    e->dt_s = 1.0f / DEFAULT_FS;
    e->settle_n = 1; /* channel means start as running averages (see rv_dsp_frame) */
    e->in_dt_s = 0.0f;
    e->decim = 1;
    e->decim_n = 0;
    e->have_in_ts = false;
    design_filters(e, DEFAULT_FS);
    e->motion_energy = e->fast_change = e->pres_metric = e->topk_var = 0.0f;
    e->present = e->was_gross = false;
    e->breath_bpm = e->heart_bpm = 0.0f;
    e->spec.nf = 0;
    e->heart_last = e->heart_prev = e->heart_last_conf = 0.0f;
    e->n_persons = 0;
    e->calibrated = false;
    e->cal_n = 0;
    e->cal_mean = e->cal_m2 = 0.0f;
    e->pres_thr = e->cfg.pres_thresh ? (float)e->cfg.pres_thresh / 1000.0f : PRES_DEFAULT_THR;
    e->fall_state = 0;
    e->fall_latched = false;
}

/* Robust sample-interval tracking: steps outside [0.5, 2] x the estimate (jitter spikes, lost
 * frames, clock jumps) are clipped before the EW update, so gaps do not bend the rate. */
/* One robust EW step of a frame-interval estimate: steps outside [0.5, 2] x the estimate
 * (jitter spikes, lost frames, clock jumps) are clipped first, so gaps do not bend the rate;
 * the result is kept inside [1/max_fs, 1/MIN_FS]. est <= 0: none yet. */
static float track_interval(float est, float dt, float max_fs)
{
    if (est <= 0.0f) {
        est = dt;
    } else {
        float lo = 0.5f * est, hi = 2.0f * est;
        dt = dt < lo ? lo : (dt > hi ? hi : dt);
        est += 0.05f * (dt - est);
    }
    if (est < 1.0f / max_fs)
        est = 1.0f / max_fs;
    if (est > 1.0f / MIN_FS)
        est = 1.0f / MIN_FS;
    return est;
}

/* The processed-frame interval (what the filters are designed for). */
static void track_rate(rv_edge_t *e, uint64_t now_us)
{
    if (e->frames > 0 && now_us > e->dsp_ts_us)
        e->dt_s = track_interval(e->frames == 1 ? 0.0f : e->dt_s,
                                 (float)(now_us - e->dsp_ts_us) * 1e-6f, MAX_FS);
    float fs = 1.0f / e->dt_s;
    if (fabsf(fs - e->design_fs) > REDESIGN_TOL * e->design_fs)
        design_filters(e, fs);
}

static float chan_score(const rv_subc_t *S, int c)
{
    return S->var[c] / (S->noise[c] + 1e-9f);
}

/* Top-K channels by windowed variance relative to their white-noise level (a variance ranking
 * that a deep-faded, noisy subcarrier cannot win). Real statistics from the second frame on. */
static void select_topk(rv_edge_t *e, int n_ch)
{
    const rv_subc_t *S = &e->sc;
    float score[RV_TOPK_MAX];
    uint8_t was[RV_DSP_MAX_CH / 8];
    memset(was, 0, sizeof was);
    for (int i = 0; i < e->n_topk; i++)
        was[e->topk[i] >> 3] |= (uint8_t)(1u << (e->topk[i] & 7u));
    int k = e->cfg.subk_count;
    int m = 0;
    for (int c = 0; c < n_ch; c++) {
        if (!(S->flag[c] & RV_CH_SEEN))
            continue; /* null/guard subcarrier: no history */
        float sc = chan_score(S, c);
        if (was[c >> 3] & (1u << (c & 7)))
            sc *= TOPK_STICKY; /* hysteresis: members are not swapped for a marginally better one */
        int pos = m < k ? m : k;
        while (pos > 0 && score[pos - 1] < sc) {
            if (pos < k) {
                e->topk[pos] = e->topk[pos - 1];
                score[pos] = score[pos - 1];
            }
            pos--;
        }
        if (pos < k) {
            e->topk[pos] = (uint8_t)c;
            score[pos] = sc;
            if (m < k)
                m++;
        }
    }
    e->n_topk = (uint8_t)m;
}

/* Keep each top-K channel's period tracker across re-rankings; new channels start fresh. */
static void remap_pslots(rv_edge_t *e)
{
    rv_pslot_t old[RV_TOPK_MAX];
    int n_old = e->n_pslot;
    memcpy(old, e->pslot, sizeof(rv_pslot_t) * (size_t)n_old);
    for (int i = 0; i < e->n_topk; i++) {
        rv_pslot_t *p = &e->pslot[i];
        int j = 0;
        while (j < n_old && old[j].ch != e->topk[i])
            j++;
        if (j < n_old) {
            *p = old[j];
        } else {
            memset(p, 0, sizeof *p);
            p->ch = e->topk[i];
        }
    }
    e->n_pslot = e->n_topk;
}

static void update_presence(rv_edge_t *e, uint64_t now_us)
{
    /* No room calibration: the breathing evidence is relative to each channel's own measured
     * noise floor (its null distribution does not depend on the room, the SNR or the AGC), and
     * a calibration run with a person in the room would learn them as "empty". */
    e->calibrated = !in_warmup(e);
    if (in_warmup(e)) {
        e->present = false; /* statistics still filling their windows */
        return;
    }
    if (e->present)
        /* off below 0.7 x threshold, but not while the breathing evidence, restarted when
         * gross motion ended, is still rebuilding */
        e->present = e->pres_metric > PRES_OFF_RATIO * e->pres_thr ||
                     (now_us >= e->settle_us && now_us - e->settle_us < PRES_REBUILD_US);
    else
        e->present = e->pres_metric > e->pres_thr;
}

/* A fall is an isolated impulsive event: the change-energy ratio rises above the threshold out
 * of >= FALL_PRE_QUIET_US of calm (a burst that starts mid-motion is walking), stays above it
 * for 0.1-2.5 s (longer is sustained motion), then stays below it for FALL_SETTLE_US (the body
 * lies still). "Below the threshold" is the quiet test everywhere, so a person breathing on the
 * floor (a ratio of ~1.2-2 over the empty-room floor) counts as still. */
static void update_fall(rv_edge_t *e, uint64_t now_us)
{
    if (e->cfg.edge_tier < 2)
        return;
    float thr = (float)e->cfg.fall_thresh / 1000.0f;
    bool high = e->fall_metric > thr;
    switch (e->fall_state) {
    case 0: /* idle; fall_t1_us = last time the ratio was high */
        if (high) {
            if (now_us - e->fall_t1_us >= FALL_PRE_QUIET_US) {
                e->fall_state = 1;
                e->fall_t0_us = now_us;
                e->fall_burst_peak = e->fall_metric;
            } else {
                e->fall_state = 3; /* motion resumed after a short pause: not a fall onset */
            }
            e->fall_t1_us = now_us;
        }
        break;
    case 1: /* burst in progress; fall_t1_us = last high frame */
        if (high)
            e->fall_t1_us = now_us;
        if (e->fall_metric > e->fall_burst_peak)
            e->fall_burst_peak = e->fall_metric;
        if (e->fall_t1_us - e->fall_t0_us > FALL_MAX_BURST_US) {
            e->fall_state = 3; /* sustained motion (walking): not a fall */
            e->fall_t1_us = now_us;
        } else if (!high && now_us - e->fall_t1_us >= FALL_SETTLE_US) {
            if (e->fall_t1_us - e->fall_t0_us >= FALL_MIN_BURST_US &&
                e->fall_burst_peak >= FALL_PEAK_X * thr) {
                e->fall_latched = true;
                e->falls++;
            }
            e->fall_state = 0;
        }
        break;
    default: /* sustained motion: wait for a quiet spell */
        if (high)
            e->fall_t1_us = now_us;
        else if (now_us - e->fall_t1_us >= FALL_RESET_US)
            e->fall_state = 0;
        break;
    }
}

/* The input rate (every frame) and the decimation factor D that
 * brings it to the DSP's design rate: kept while input rate / D stays in 7..18 Hz, else
 * round(rate / 12). CSI arrives at 10-150 Hz depending on traffic; the filters, windows and
 * the per-frame cost are designed for ~12 Hz, and a breathing/heart band needs no more. */
static bool decimate(rv_edge_t *e, uint64_t now_us)
{
    if (e->have_in_ts && now_us > e->last_ts_us)
        e->in_dt_s = track_interval(e->in_dt_s, (float)(now_us - e->last_ts_us) * 1e-6f,
                                    MAX_IN_FS);
    e->have_in_ts = true;
    if (e->decim < 1)
        e->decim = 1;
    if (e->in_dt_s > 0.0f) {
        float fs = 1.0f / e->in_dt_s, eff = fs / (float)e->decim;
        if (eff < DSP_FS_LO || eff > DSP_FS_HI) {
            int d = (int)(fs / DSP_FS + 0.5f);
            e->decim = (uint8_t)(d < 1 ? 1 : (d > 32 ? 32 : d));
        }
    }
    if (++e->decim_n < e->decim && e->frames > 0)
        return false;
    e->decim_n = 0;
    return true;
}

void rv_dsp_frame(rv_edge_t *e, const rv_frame_t *f, uint64_t now_us)
{
    if (!decimate(e, now_us))
        return;
    int n = f->iq_len / (2 * f->n_antennas);
    if (n > RV_DSP_MAX_SC)
        n = RV_DSP_MAX_SC;
    if (n != e->n_sc) {
        /* a new subcarrier layout: per-channel statistics restart */
        memset(&e->sc, 0, sizeof e->sc);
        e->n_sc = (uint16_t)n;
        e->n_topk = 0;
        e->n_pslot = 0;
    }
    /* a gap (interference burst, AP pause): the step across it is the change over the whole
     * gap, not a frame's, so it must not feed the motion/fall energies */
    bool gap = e->frames > 0 && now_us > e->dsp_ts_us &&
               (float)(now_us - e->dsp_ts_us) * 1e-6f > GAP_RATIO * e->dt_s;
    track_rate(e, now_us);
    const int8_t *iq = f->iq;
    uint32_t t_ms = (uint32_t)(now_us / 1000u);

    /* ---- 1. CFO/STO sanitisation in the complex domain, in frequency order ---- */
    float sr = 0.0f, si = 0.0f;
    for (int p = 1; p < n; p++) {
        if (n % 64 == 0 && (p & 63) == 0)
            continue; /* no neighbour across two training fields */
        int k = sc_at(p, n), j = sc_at(p - 1, n);
        if (first_word(k, n) || first_word(j, n))
            continue;
        float ar = iq[2 * k], ai = iq[2 * k + 1], br = iq[2 * j], bi = iq[2 * j + 1];
        sr += ar * br + ai * bi;   /* H_k conj(H_j), j one subcarrier below k */
        si += ai * br - ar * bi;
    }
    float slope = rv_atan2f(si, sr);
    float cs = cosf(slope), sn = sinf(slope);
    float cr = 0.0f, ci = 0.0f;
    float rr = 1.0f, ri = 0.0f;   /* exp(-j slope f), advanced incrementally along frequency */
    for (int p = 0; p < n; p++) {
        if (p == 0 || (n % 64 == 0 && (p & 63) == 0)) {
            float f0 = (float)sc_offset(sc_at(p, n), n);
            rr = cosf(slope * f0);
            ri = -sinf(slope * f0);
        }
        int k = sc_at(p, n);
        if (!first_word(k, n)) {
            float hr = iq[2 * k], hi = iq[2 * k + 1];
            cr += hr * rr - hi * ri;
            ci += hr * ri + hi * rr;
        }
        float nr = rr * cs + ri * sn;
        ri = ri * cs - rr * sn;
        rr = nr;
    }
    float offset = rv_atan2f(ci, cr);

    /* ---- 2. per-channel statistics: phase (unwrapped in time) and relative amplitude ---- */
    bool first = e->frames == 0;
    float a_v = ew_alpha(e->dt_s, VAR_TAU_S);
    /* the means restart as a running average after a snap (see `settled`): a snapped single
     * noisy sample would otherwise decay away over 6 s, a slow drift the band-pass reads */
    float a_m = a_v;
    if (e->settle_n > 0 && e->settle_n < 0xFFFFu) {
        e->settle_n++;
        float ar = 1.0f / (float)e->settle_n;
        if (ar > a_m)
            a_m = ar;
    }
    float a_me = ew_alpha(e->dt_s, MOTION_TAU_S), a_fc = ew_alpha(e->dt_s, FAST_TAU_S);
    /* noise levels start as running averages (an EW from 0 would read low for a few time
     * constants, and every band-power-over-noise ratio high) */
    float a_n = e->frames > 1 && 1.0f / (float)e->frames > a_v ? 1.0f / (float)e->frames : a_v;
    float wsum = 0.0f, du2 = 0.0f, asum = 0.0f;
    rv_subc_t *S = &e->sc;
    float amp[RV_DSP_MAX_SC];
    float aseen = 0.0f, mseen = 0.0f;
    for (int k = 0; k < n; k++) {
        float hr = iq[2 * k], hi = iq[2 * k + 1];
        float p = hr * hr + hi * hi;
        /* a clipped component (int8 full scale) bends amplitude and phase by an amount that
         * changes with every AGC step: such a subcarrier sits this frame out */
        bool clipped = hr >= 127.0f || hr <= -128.0f || hi >= 127.0f || hi <= -128.0f;
        amp[k] = p >= MIN_POWER && !first_word(k, n) && !clipped ? sqrtf(p) : 0.0f;
        asum += amp[k];
        if (amp[k] > 0.0f && !first && (S->flag[n + k] & RV_CH_SEEN)) {
            aseen += amp[k];
            mseen += S->mean[n + k];
        }
    }
    /* AGC gain: this frame's amplitudes against the channels' own mean relative amplitudes,
     * over the subcarriers valid now (a subcarrier that drops out, clipped, does not move the
     * others' scale); the first frame: its mean amplitude */
    float inv_mean_amp = aseen > 0.0f && mseen > 0.0f ? mseen / aseen
                                                      : (asum > 0.0f ? (float)n / asum : 0.0f);
    for (int k = 0; k < n; k++) {
        if (amp[k] <= 0.0f)
            continue; /* phase of a null/guard subcarrier is noise */
        float hr = iq[2 * k], hi = iq[2 * k + 1];
        float p = amp[k] * amp[k];
        float psi = wrap_pi(rv_atan2f(hi, hr) - offset - slope * (float)sc_offset(k, n));
        float rel = amp[k] * inv_mean_amp; /* AGC gain removed */
        int ca = n + k;
        if (first || !(S->flag[k] & RV_CH_SEEN)) {
            S->psi_prev[k] = S->psi_ref[k] = psi;
            S->u[k] = S->mean[k] = 0.0f;
            S->u[ca] = S->mean[ca] = rel;
            S->var[k] = S->noise[k] = S->var[ca] = S->noise[ca] = 0.0f;
            S->flag[k] |= RV_CH_SEEN;
            S->flag[ca] |= RV_CH_SEEN;
            continue;
        }
        float d = wrap_pi(psi - S->psi_prev[k]);
        float da = rel - S->u[ca];
        S->psi_prev[k] = psi;
        /* phase channel = the tangential (quadrature) component of the relative channel around
         * its slowly tracked mean phase: ~rel x phase deviation where the subcarrier is strong,
         * bounded by rel where it is faded (an unwrapped faded phase winds round the origin and
         * random-walks by 2 pi steps, which looks like slow breathing-band power) */
        float dr = wrap_pi(psi - S->psi_ref[k]);
        S->psi_ref[k] = wrap_pi(S->psi_ref[k] + a_v * dr);
        float tq = rel * sinf(dr);
        chan_update(S, k, tq, tq - S->u[k], a_v, a_m, a_n, e->was_gross);
        chan_update(S, ca, rel, da, a_v, a_m, a_n, e->was_gross);
        /* |d ln H|^2: phase step^2 + relative amplitude step^2 */
        float ra = da / rel;
        float step2 = d * d + ra * ra;
        wsum += p;
        du2 += p * step2;
    }
    if (wsum > 0.0f && !gap) {
        float me = du2 / wsum;
        if (e->motion_energy <= 0.0f) { /* first measurement: no ramp from zero */
            e->motion_energy = me;
            e->fast_change = me;
        }
        e->motion_energy += a_me * (me - e->motion_energy);
        e->fast_change += a_fc * (me - e->fast_change);
    }
    /* quiet-room floors: follow the signal during the warm-up, then follow any drop at once
     * and rise only slowly (so a person moving for minutes does not become the floor) */
    if (in_warmup(e)) {
        e->me_base = e->motion_energy;
        e->fc_base = e->fast_change;
    } else {
        float rise = ew_alpha(e->dt_s, FLOOR_RISE_S);
        track_floor(&e->me_base, e->motion_energy, e->dt_s, rise);
        track_floor(&e->fc_base, e->fast_change, e->dt_s, rise);
    }
    e->fall_metric = e->fc_base > 0.0f ? e->fast_change / e->fc_base : 0.0f;
    if (e->fall_metric > e->fall_peak)
        e->fall_peak = e->fall_metric;

    /* ---- 3. top-K channels ---- */
    int n_ch = 2 * n;
    select_topk(e, n_ch);
    remap_pslots(e);
    int K = e->n_topk;
    float vsum = 0.0f;
    for (int i = 0; i < K; i++)
        vsum += S->var[e->topk[i]];
    /* motion evidence reaches the threshold at the gross-motion ratio (someone walking); the
     * ratio of an empty room wanders up to ~1.5 (AGC steps change the quantisation noise) */
    float mm = e->me_base > 0.0f ? e->pres_thr * (e->motion_energy / e->me_base - MM_KNEE) /
                                       (MOTION_RATIO - MM_KNEE) : 0.0f;
    e->pres_metric = mm; /* refined below with the breathing-band evidence */
    if (e->pres_metric < 0.0f)
        e->pres_metric = 0.0f;
    e->topk_var = K ? vsum / (float)K : 0.0f;

    /* ---- 4. principal component -> breathing / heart ----
     * The weights are learnt on breathing-band-filtered channels (a 20 Hz frame has ~16x less
     * noise power in 0.1-0.5 Hz than in total), so a weak chest signal spread over many
     * subcarriers wins over the noise directions of the sample covariance. w_c is the EW
     * covariance of channel c's band signal with the combined band signal (a streaming power
     * iteration); v_c = w_c / noise_c makes the sum a maximum-ratio combination. The same
     * weights applied to the raw channels give s, which feeds the breathing and heart filters. */
    bool gross = e->me_base > 0.0f && e->motion_energy > MOTION_RATIO * e->me_base;
    bool settled = e->was_gross && !gross;
    if (settled) {
        e->settle_us = now_us;
        e->settle_n = 1;
    }
    e->was_gross = gross;
    float yb[RV_DSP_MAX_CH]; /* band signal of each channel (stack: the core is reentrant) */
    float s = 0.0f, sb = 0.0f, wabs = 0.0f;
    float band_noise = 2.0f * BREATH_ENBW_HZ * e->dt_s, a_pb = ew_alpha(e->dt_s, PB_TAU_S);
    if (e->frames > 1 && 1.0f / (float)e->frames > a_pb)
        a_pb = 1.0f / (float)e->frames;
    float snr_sum = 0.0f, sp = 0.0f, sp_null = 0.0f;
    int snr_n = 0;
    for (int c = 0; c < n_ch; c++) {
        if (!(S->flag[c] & RV_CH_SEEN)) {
            yb[c] = 0.0f;
            continue;
        }
        if (settled) {
            /* gross motion just ended (someone sat down, stopped, or left): the channel's new
             * static value is now; without this snap the 6 s mean's (and reference phase's)
             * catch-up would feed the band-pass a slow exponential that reads as breathing */
            if (c < n) { /* tangential channel: its reference phase snaps too */
                S->psi_ref[c] = S->psi_prev[c];
                S->u[c] = 0.0f;
            }
            S->mean[c] = S->u[c];
            S->bz1[c] = S->bz2[c] = 0.0f; /* band-pass at rest on x = 0 */
        }
        float x = S->u[c] - S->mean[c];
        float xr = x;
        const rv_biquad_t *q = &e->bp_sc;
        float y;
        float fl = S->noise[c] * band_noise; /* band power its white noise alone leaves */
        if (gross) {
            /* gross motion: hold the band-pass at rest on the current value (its steady state
             * for a constant input: output 0), so it restarts from the new static channel;
             * the band power restarts at the noise level (motion evidence covers presence) */
            y = 0.0f;
            S->bz1[c] = (q->b1 + q->b2) * xr;
            S->bz2[c] = q->b2 * xr;
            S->pbc[c] = fl;
        } else {
            y = q->b0 * xr + S->bz1[c];
            S->bz1[c] = q->b1 * xr - q->a1 * y + S->bz2[c];
            S->bz2[c] = q->b2 * xr - q->a2 * y;
            S->pbc[c] += a_pb * (y * y - S->pbc[c]);
        }
        if (fl > 0.0f) {
            snr_sum += S->pbc[c] / fl;
            snr_n++;
        }
        yb[c] = y;
        sp += S->ws[c] * y;
        sp_null += S->ws[c] * x;
        float v = S->w[c] / (S->noise[c] + 1e-9f);
        s += v * x;
        sb += v * y;
        wabs += fabsf(v);
    }
    if (wabs > 1e-12f) {
        s /= wabs;
        sb /= wabs;
    } else if (K) {
        s = S->u[e->topk[0]] - S->mean[e->topk[0]];
        sb = yb[e->topk[0]];
    }
    /* presence evidence: the mean over channels of each channel's breathing-band power over
     * the power its own white noise leaves in the band, minus 1 (an incoherent, unbiased
     * statistic: ~0 +- 0.05 in an empty room whatever the room, unlike the band power of the
     * learnt combination, whose weights overfit the noise of a few seconds of data) */
    if (e->frames > 1 && snr_n > 0) {
        e->pb_pow = snr_sum / (float)snr_n;
        float mb = PB_METRIC_SCALE * (e->pb_pow - 1.0f);
        if (mb > e->pres_metric)
            e->pres_metric = mb;
    }
    /* coherent evidence: a chest moves every subcarrier with the same waveform, so the
     * maximum-ratio combination gains ~N over the mean above. Its weights are learnt on the
     * same noise they would be judged on, though (the combination's band power is then biased
     * up, Marchenko-Pastur); weights 4-8 s old are independent of the noise now (the band-pass
     * memory is ~2 s), so band power / the noise-only power of those weights - 1 is ~0 +- 0.4
     * in an empty room, whatever the room. */
    float sx_step = sp_null - e->coh_prev; /* sp_null holds the raw combination here */
    e->coh_prev = sp_null;
    if (gross || e->wsnap_n < 2) {
        e->coh_pow = e->coh_null = 0.0f;
        if (gross)
            e->wsnap_n = 0; /* new weights after the motion: wait for independent ones */
    } else {
        /* the null power from the combination's own frame-to-frame steps: noise common to
         * many channels (sanitising and normalisation errors) is counted too */
        e->coh_pow += a_pb * (sp * sp - e->coh_pow);
        e->coh_null += a_pb * (0.5f * sx_step * sx_step * band_noise - e->coh_null);
        float mc = e->coh_null > 0.0f ? e->pres_thr * (e->coh_pow / e->coh_null - 1.0f) / COH_THR
                                       : 0.0f;
        if (mc > e->pres_metric && e->wsnap_n >= 3)
            e->pres_metric = mc;
    }
    if (now_us >= e->wsnap_us) {
        for (int c = 0; c < n_ch; c++) {
            S->ws[c] = S->wp[c];
            S->wp[c] = (S->flag[c] & RV_CH_SEEN) ? S->w[c] / (S->noise[c] + 1e-9f) : 0.0f;
        }
        e->wsnap_us = now_us + WSNAP_US;
        if (e->wsnap_n < 255)
            e->wsnap_n++;
    }
    e->pc_prev = s;
    float a_w = ew_alpha(e->dt_s, PCA_TAU_S);
    for (int c = 0; c < n_ch && !gross; c++) /* weights frozen during gross motion */
        if (S->flag[c] & RV_CH_SEEN)
            S->w[c] += a_w * (yb[c] * sb - S->w[c]);
    if (e->cfg.edge_tier >= 2) {
        float b = rv_biquad_run(&e->bp_breath[1], rv_biquad_run(&e->bp_breath[0], s));
        float h = s;
        for (int i = 0; i < 4; i++)
            h = rv_biquad_run(&e->bp_heart[i], h);
        rv_hist_t *H = &e->hist;
        uint16_t cap = e->cfg.vital_win;
        H->breath[H->head] = b;
        H->heart[H->head] = h;
        H->t_ms[H->head] = t_ms;
        H->head = (uint16_t)((H->head + 1u) % cap);
        if (H->count < cap)
            H->count++;
        /* the heart spectrum, a few grid points per frame (the vitals frame pays no more) */
        if (e->spec.nf == 0)
            rv_spec_start(&e->spec, H->t_ms, H->count, (H->head + cap - H->count) % cap, cap,
                          HEART_LO_HZ, HEART_HI_HZ);
        if (rv_spec_step(&e->spec, H->heart, cap, RV_SPEC_BINS_PER_FRAME)) {
            e->heart_prev = e->heart_last;
            e->heart_last = rv_spec_peak(&e->spec, e->breath_bpm / 60.0f, &e->heart_last_conf);
            e->spec.nf = 0; /* the next frame starts a new one on the newer history */
        }

        /* per-top-K-channel breathing period, for the persons estimate */
        for (int i = 0; i < e->n_pslot; i++) {
            rv_pslot_t *P = &e->pslot[i];
            float y = yb[P->ch];
            P->rms2 += a_me * 0.2f * (y * y - P->rms2);
            float hy2 = 0.09f * P->rms2;
            if (y < 0.0f && y * y > hy2) {
                P->armed = 1;
            } else if (y > 0.0f && y * y > hy2 && P->armed) {
                P->armed = 0;
                if (P->up_ms) {
                    float per = (float)(uint32_t)(t_ms - P->up_ms) * 1e-3f;
                    if (per >= 1.8f && per <= 11.0f)
                        P->per = P->per > 0.0f ? P->per + 0.3f * (per - P->per) : per;
                }
                P->up_ms = t_ms ? t_ms : 1u;
            }
        }
    }

    e->frames++;
    e->dsp_ts_us = now_us;
    update_presence(e, now_us);
    update_fall(e, now_us);
}

static float motion_ratio(const rv_edge_t *e)
{
    return e->me_base > 0.0f ? e->motion_energy / e->me_base : 0.0f;
}

bool rv_dsp_motion(const rv_edge_t *e)
{
    return !in_warmup(e) && motion_ratio(e) > MOTION_RATIO;
}

float rv_dsp_motion_level(const rv_edge_t *e)
{
    float m = (motion_ratio(e) - 1.0f) / 20.0f;
    if (!(m > 0.0f))
        return 0.0f;
    return m > 1.0f ? 1.0f : m;
}

float rv_dsp_presence_score(const rv_edge_t *e)
{
    if (in_warmup(e))
        return 0.0f; /* not measured yet */
    float s = e->pres_metric / (2.0f * e->pres_thr);
    if (!(s > 0.0f))
        return 0.0f;
    return s > 1.0f ? 1.0f : s;
}

/* Clusters of per-channel breathing rates. A cluster is a person when it has >= 2 channels
 * (>= 1 with few valid channels) or holds one of the 3 strongest channels: a second person
 * often dominates only a few subcarriers. */
static uint8_t estimate_persons(rv_edge_t *e, uint32_t t_ms)
{
    float rate[RV_TOPK_MAX];
    uint8_t rank[RV_TOPK_MAX];
    int m = 0;
    for (int i = 0; i < e->n_pslot; i++) {
        const rv_pslot_t *P = &e->pslot[i];
        if (P->per <= 0.0f || P->up_ms == 0)
            continue;
        if ((float)(uint32_t)(t_ms - P->up_ms) > 2500.0f * P->per)
            continue; /* stale */
        float r = 60.0f / P->per;
        int j = m++;
        while (j > 0 && rate[j - 1] > r) { /* insertion by rate */
            rate[j] = rate[j - 1];
            rank[j] = rank[j - 1];
            j--;
        }
        rate[j] = r;
        rank[j] = (uint8_t)i;
    }
    int clusters = 0, size = 0, best = RV_TOPK_MAX;
    int min_size = m >= 6 ? 2 : 1;
    for (int i = 0; i <= m; i++) {
        if (i == m || (i > 0 && rate[i] - rate[i - 1] > CLUSTER_GAP_BPM)) {
            if (size > 0 && (size >= min_size || best < 3))
                clusters++;
            size = 0;
            best = RV_TOPK_MAX;
            if (i == m)
                break;
        }
        size++;
        if (rank[i] < best)
            best = rank[i];
    }
    if (clusters > RV_MAX_PERSONS)
        clusters = RV_MAX_PERSONS;
    if (clusters < 1)
        clusters = 1;
    return (uint8_t)clusters;
}

void rv_dsp_vitals_update(rv_edge_t *e, uint64_t now_us)
{
    if (!e->present) {
        /* nobody there: no vital signs; a returning person starts a fresh estimate */
        e->breath_bpm = e->heart_bpm = e->breath_conf = e->heart_conf = 0.0f;
        e->n_persons = 0;
        return;
    }
    if (e->cfg.edge_tier < 2) {
        e->n_persons = 1;
        return;
    }
    const rv_hist_t *H = &e->hist;
    uint16_t cap = e->cfg.vital_win;
    int start = (H->head + cap - H->count) % cap;
    float cb = 0.0f, ch = 0.0f, h = 0.0f;
    float b = rv_crossing_rate(H->breath, H->t_ms, H->count, start, cap, &cb);
    /* heart: the strongest peak of the last two finished spectra (rv_dsp_frame), reported only
     * when it holds most of the band's power and both agree: a heartbeat is a small motion, and
     * no heart rate is better than a wrong one */
    if (e->heart_last > 0.0f && e->heart_prev > 0.0f && e->heart_last_conf >= HEART_CONF_MIN &&
        fabsf(e->heart_last - e->heart_prev) <= HEART_AGREE_BPM) {
        h = 0.5f * (e->heart_last + e->heart_prev);
        ch = e->heart_last_conf;
    }
    e->breath_conf = cb;
    e->heart_conf = ch;
    if (e->motion_energy > 8.0f * e->me_base) {
        /* gross body motion swamps chest motion: no vital-sign estimate now */
        e->breath_bpm = e->heart_bpm = e->breath_conf = e->heart_conf = 0.0f;
        e->n_persons = estimate_persons(e, (uint32_t)(now_us / 1000u));
        return;
    }
    if (b >= 5.0f && b <= 40.0f)
        e->breath_bpm = e->breath_bpm > 0.0f ? e->breath_bpm + 0.4f * (b - e->breath_bpm) : b;
    if (h >= 40.0f && h <= 180.0f)
        e->heart_bpm = e->heart_bpm > 0.0f ? e->heart_bpm + 0.4f * (h - e->heart_bpm) : h;
    else
        e->heart_bpm = e->heart_conf = 0.0f; /* not confident now: no estimate */
    e->n_persons = estimate_persons(e, (uint32_t)(now_us / 1000u));
}
