/*
 * Synthetic ESP32 CSI for the host tests: the same physical model as the Python scenario
 * generator (ruview_cli/sim/scenarios.py), written independently.
 *
 *   H_k(t) = sum_p a_p exp(-j 2 pi f_k tau_p)                      static paths
 *          + sum_persons a_d exp(-j 2 pi f_k (tau_d + dtau(t)))     a person's reflection
 *   times exp(j (phi0(t) + k s(t)))    random common offset and linear slope per frame (CFO/STO)
 *   + complex Gaussian noise, AGC scaling, int8 quantisation.
 * dtau(t) = displacement/c: breathing (~5 mm), heart (~0.3 mm), walking, falling.
 * f_k: 312.5 kHz spacing around the channel centre. Frame times: nominal rate +- jitter.
 * Layout as the ESP32 driver delivers it: every 64-bin field in FFT order (bins 0..31, then
 * -32..-1), DC and guard bins zero, each pair (imaginary, real).
 */
#ifndef RV_SYNTH_H
#define RV_SYNTH_H

#include <stdint.h>

#include "ruview_edge.h"

#define SYN_MAX_PERSONS 4
#define SYN_STATIC_PATHS 4

typedef struct {
    double amp;          /* reflection amplitude relative to the strongest static path */
    double tau_ns;       /* path delay */
    double breath_bpm, breath_mm;
    double heart_bpm, heart_mm;
    double t_in, t_out;  /* present in [t_in, t_out) s */
    double walk_from, walk_to; /* walking in this interval, s */
    double fall_at;      /* < 0: no fall */
} syn_person_t;

typedef struct {
    double fs;           /* nominal frame rate, Hz */
    double jitter;       /* timestamp jitter, fraction of the period (uniform +-) */
    int    n_sc;
    uint8_t channel;
    double noise;        /* complex noise std relative to the strongest static path */
    double slope_max;    /* max |STO slope|, rad per subcarrier */
    int    n_persons;
    syn_person_t p[SYN_MAX_PERSONS];
    uint64_t seed;
} syn_cfg_t;

typedef struct {
    syn_cfg_t c;
    uint64_t rng;
    long n;              /* frame index */
    double st_amp[SYN_STATIC_PATHS], st_tau[SYN_STATIC_PATHS];
    double t;            /* time of the current frame, s */
    int8_t iq[2 * RV_MAX_SUBCARRIERS];
} syn_t;

void syn_default(syn_cfg_t *c, double fs, uint64_t seed);
/* Add a person breathing (and with a heartbeat) present the whole time. */
syn_person_t *syn_add_person(syn_cfg_t *c, double breath_bpm, double heart_bpm);
void syn_init(syn_t *s, const syn_cfg_t *c);
/* Next frame; f->iq points into s. */
void syn_next(syn_t *s, rv_frame_t *f);

/* Little helpers for reading the datagrams back (host is little-endian). */
typedef struct {
    int n_vitals;
    uint8_t flags;
    float breath, heart, motion, presence;
    uint8_t persons;
    uint32_t ts_ms;
} syn_vitals_t;
/* Returns 1 and fills v when pkt is a vitals packet. */
int syn_parse_vitals(const uint8_t *pkt, uint16_t len, syn_vitals_t *v);

#endif
