/*
 * The complete state of one ruview_edge pipeline, inline and fixed-size (no pointers, no heap).
 *
 * Included by ruview_edge.h so callers can declare `static rv_edge_t edge;`. Fields are private
 * to the core: read them only in tests. Memory budget (PROTOCOL.md §6, goal <= 24 KB static):
 * per-subcarrier statistics are exponentially weighted (no per-subcarrier history); history
 * buffers exist only for the two combined vital signals (vital_win frames each).
 */
#ifndef RUVIEW_EDGE_STATE_H
#define RUVIEW_EDGE_STATE_H

#include <stdbool.h>
#include <stdint.h>

#define RV_HIST_MAX       256   /* vital_win upper bound (frames) */
#define RV_TOPK_MAX       32    /* subk_count upper bound */
#define RV_MAX_PERSONS    4
/* Subcarriers of antenna 0 the DSP analyses: the first 64-bin training field (L-LTF); the
 * HT-LTF/STBC-HT-LTF of a wider frame measure the same channel, so they are still sent but not
 * analysed. Keeps the state, with firmware/main's buffers, in the 24 KB budget. */
#define RV_DSP_MAX_SC     64
/* Two real channels per subcarrier: sanitised phase (rad) and AGC-normalised amplitude. */
#define RV_DSP_MAX_CH     (2 * RV_DSP_MAX_SC)

#define RV_CH_SEEN  0x01u  /* has a history */

/* One biquad section, transposed direct form II, float. */
typedef struct {
    float b0, b1, b2, a1, a2;
    float z1, z2;
} rv_biquad_t;

/* One breathing-period tracker per top-K slot (multi-person clustering). */
typedef struct {
    float    rms2;        /* EW mean square of the band signal */
    float    per;         /* EW breathing period, s (0 = none yet) */
    uint32_t up_ms;       /* last upward crossing, ms (0 = none) */
    uint8_t  ch;          /* channel tracked */
    uint8_t  armed;       /* went below -hysteresis since the last up-crossing */
} rv_pslot_t;

/* Per-channel statistics (structure of arrays; channel c < n: tangential (phase) component of
 * subcarrier c relative to its mean phase, in units of the mean amplitude,
 * c >= n: amplitude of subcarrier c - n). */
typedef struct {
    float u[RV_DSP_MAX_CH];         /* tangential component / relative amplitude, current value */
    float mean[RV_DSP_MAX_CH];      /* EW mean over the variance window */
    float var[RV_DSP_MAX_CH];       /* EW (windowed) variance */
    float noise[RV_DSP_MAX_CH];     /* EW of (du)^2/2: the white-noise variance */
    float w[RV_DSP_MAX_CH];         /* streaming principal-component weight */
    float bz1[RV_DSP_MAX_CH], bz2[RV_DSP_MAX_CH]; /* breathing band-pass state per channel */
    float pbc[RV_DSP_MAX_CH];       /* EW breathing-band power per channel */
    float ws[RV_DSP_MAX_CH];        /* combination weights 4-8 s old (presence: unbiased) */
    float wp[RV_DSP_MAX_CH];        /* weights 0-4 s old, the next ws */
    uint8_t flag[RV_DSP_MAX_CH];
    float psi_prev[RV_DSP_MAX_SC];  /* last sanitised phase, rad */
    float psi_ref[RV_DSP_MAX_SC];   /* slowly tracked mean sanitised phase, rad */
} rv_subc_t;

#define RV_SPEC_MAX_BINS  100   /* heart-rate spectrum grid points */

/* The heart-rate spectrum, computed a few grid points per frame (so no frame pays for all of
 * it): a Hann-windowed DFT of the heart-band history on a grid 4x finer than 1/span. */
typedef struct {
    float    pw[RV_SPEC_MAX_BINS];
    float    f_lo, df, dt;   /* grid start and step (Hz), mean sample interval (s) */
    float    wc, ws;         /* Hann window recurrence: cos/sin(2 pi / (n - 1)) */
    uint16_t nf, j;          /* grid points, next one to compute (nf = 0: no job) */
    uint16_t n, start;       /* history samples and ring index of the oldest */
} rv_spec_job_t;

/* Ring of the combined vital signals, vital_win frames long. */
typedef struct {
    float    breath[RV_HIST_MAX];
    float    heart[RV_HIST_MAX];
    uint32_t t_ms[RV_HIST_MAX];
    uint16_t head;    /* next write index */
    uint16_t count;
} rv_hist_t;

struct rv_edge {
    rv_edge_cfg_t cfg;

    /* ---- timing ---- */
    uint64_t first_ts_us, last_ts_us;
    float    dt_s;           /* measured frame interval (robust EW), s */
    float    design_fs;      /* sample rate the filters are designed for, Hz */
    float    in_dt_s;        /* measured interval of the INPUT frames (robust EW), s */
    uint64_t dsp_ts_us;      /* timestamp of the last frame the DSP processed */
    uint8_t  decim;          /* the DSP processes every decim-th frame (rate ~12 Hz) */
    uint8_t  decim_n;        /* frames since the last processed one */
    bool     have_in_ts;     /* in_dt_s has a previous input frame */
    uint32_t frames;         /* frames processed by the DSP */
    uint32_t invalid_frames; /* rejected (bad length/antennas) */
    bool     have_ts;

    /* ---- sending: sequence, keyframes, rate limit, cadence ---- */
    uint32_t seq;                 /* next raw/compressed frame sequence */
    uint64_t last_sent_us;        /* last emitted CSI frame */
    bool     have_sent;
    uint64_t key_ts_us;           /* timestamp of the current keyframe */
    uint16_t key_len;             /* 0 = no keyframe yet */
    bool     loss_pending;        /* rv_edge_note_loss since the last keyframe */
    uint32_t lost_frames;         /* total reported losses */
    uint8_t  key_iq[RV_MAX_IQ_BYTES];
    uint64_t next_vitals_us, next_state_us;
    uint16_t feat_seq, state_seq;

    /* ---- DSP: per-subcarrier ---- */
    uint16_t n_sc;                 /* subcarriers analysed in the last frame (antenna 0) */
    rv_subc_t sc;
    uint8_t  topk[RV_TOPK_MAX];      /* channel indices, best first */
    uint8_t  n_topk;
    rv_pslot_t pslot[RV_TOPK_MAX];
    uint8_t  n_pslot;

    /* ---- DSP: combined signals ---- */
    rv_biquad_t bp_breath[2];      /* HP 0.1 Hz + LP 0.5 Hz */
    rv_biquad_t bp_heart[4];       /* 3 x HP 0.8 Hz (6th-order Butterworth) + LP 2.0 Hz */
    rv_biquad_t bp_sc;             /* coefficients of the per-channel breathing band-pass */
    rv_hist_t hist;
    float motion_energy;           /* EW (~1 s) of mean (du)^2, rad^2 per frame */
    float fast_change;             /* EW (~0.25 s) of power-weighted mean |d ln H|^2 per frame */
    float me_base, fc_base;        /* quiet-room floors of motion_energy and fast_change */
    float fall_metric;             /* fast_change / fc_base */
    float fall_peak;               /* max fall_metric since the last vitals packet (test aid) */
    float pres_metric;             /* max(breathing-band SNR evidence, motion evidence) */
    float topk_var;                /* mean windowed variance over top-K, rad^2 */
    float pc_prev, pc_noise;       /* combined signal: last value, white-noise level */
    float pb_pow;                  /* mean over channels of band power / its noise share */
    float coh_pow, coh_null;       /* EW band power of the stale-weight combination, and the
                                      power its channels' white noise alone would give */
    uint64_t wsnap_us;             /* next weight snapshot */
    uint8_t  wsnap_n;              /* snapshots taken (ws valid from 3) */
    float coh_prev;                /* last raw (unfiltered) stale-weight combination */
    bool  present;
    bool  was_gross;               /* motion > 3x its floor in the last frame */
    uint64_t settle_us;            /* when gross motion last ended */
    uint16_t settle_n;             /* frames since then (running-average restart), 0 = none */
    float breath_bpm, heart_bpm;   /* 0 = not estimated */
    float breath_conf, heart_conf; /* 0..1: regularity of the crossing periods / peak share */
    rv_spec_job_t spec;            /* heart spectrum in progress */
    float heart_last, heart_last_conf; /* last finished spectrum's peak (BPM) and share */
    float heart_prev;              /* the one before it: a rate is reported when they agree */
    uint8_t n_persons;

    /* ---- presence calibration (tier 2, pres_thresh == 0) ---- */
    float pres_thr;                /* threshold in metric units in use */
    bool  calibrated;
    uint32_t cal_n;
    float cal_mean, cal_m2;

    /* ---- fall detector ---- */
    uint8_t  fall_state;           /* 0 idle, 1 burst (incl. settling), 3 sustained motion */
    uint64_t fall_t0_us, fall_t1_us;
    float    fall_burst_peak;      /* highest fall_metric of the burst in progress */
    bool     fall_latched;         /* set on detection, cleared when a vitals packet carried it */
    uint32_t falls;                /* total detections */

    int8_t last_rssi;
};

#endif /* RUVIEW_EDGE_STATE_H */
