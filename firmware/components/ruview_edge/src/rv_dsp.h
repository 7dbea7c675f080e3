/* Internal interface of the DSP stages (rv_dsp.c) used by the pipeline (rv_edge.c). */
#ifndef RV_DSP_H
#define RV_DSP_H

#include "ruview_edge.h"

#define RV_PI     3.14159265f
#define RV_TWO_PI 6.28318531f

/* |error| < 1e-5 rad; float only. */
float rv_atan2f(float y, float x);

void rv_biquad_design_lp(rv_biquad_t *q, float fc, float fs, float Q);
void rv_biquad_design_hp(rv_biquad_t *q, float fc, float fs, float Q);
void rv_biquad_design_bp(rv_biquad_t *q, float f0, float fs, float Q);
float rv_biquad_run(rv_biquad_t *q, float x);

/* Reset all DSP state (keeps cfg). */
void rv_dsp_reset(rv_edge_t *e);
/* One frame through the tier-1/2 DSP. now_us is the frame timestamp. */
void rv_dsp_frame(rv_edge_t *e, const rv_frame_t *f, uint64_t now_us);
/* Refresh the slow estimates (BPM, persons) right before a vitals packet. */
void rv_dsp_vitals_update(rv_edge_t *e, uint64_t now_us);
/* presence_score in [0, 1]: metric / (2 x threshold), 0.5 = at the threshold. */
float rv_dsp_presence_score(const rv_edge_t *e);

/* Gross motion (vitals flag bit 2): motion energy > 3x its quiet floor. */
bool rv_dsp_motion(const rv_edge_t *e);
/* Motion level in [0, 1] for the feature packets: (energy ratio - 1) / 20, clipped. */
float rv_dsp_motion_level(const rv_edge_t *e);

/* Zero-crossing rate of a sampled signal with hysteresis; times in ms (relative, float).
 * Returns the rate in cycles per minute, 0 when fewer than one full period was seen.
 * *conf (may be NULL) gets 1 - coefficient of variation of the periods, in [0, 1]. */
float rv_crossing_rate(const float *y, const uint32_t *t_ms, int n, int start, int cap,
                       float *conf);

#define RV_SPEC_MAX_BINS   100 /* bounds the vitals-frame cost: <= 100 x vital_win rotations */
#define RV_SPEC_HARM_TOL_HZ 0.05f /* +-3 BPM around a rejected breathing harmonic */
/* Rate (cycles per minute) of the strongest spectral peak between f_lo and f_hi (Hz) of a
 * Hann-windowed history, on a grid 4x finer than 1/span, parabolically interpolated; the
 * frequency scale comes from the window's mean sample interval (t_ms). Peaks within 3 BPM of
 * harmonics 2 and 3 of reject_f0 (Hz; 0 = none: the breathing rate) are skipped. 0 when the
 * window is too short. *conf (may be NULL) gets the peak's share of the band power, in [0, 1]. */
float rv_spectral_rate(const float *y, const uint32_t *t_ms, int n, int start, int cap,
                       float f_lo, float f_hi, float reject_f0, float *conf);

#endif /* RV_DSP_H */
