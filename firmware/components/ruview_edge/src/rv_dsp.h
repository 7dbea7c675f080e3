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

#define RV_SPEC_HARM_TOL_HZ 0.033f /* +-2 BPM around a multiple of the breathing rate */
#define RV_SPEC_BINS_PER_FRAME 12  /* grid points per frame: <= 12 x vital_win rotations */

/* Start a spectrum job on the history window (n samples from ring index start, capacity cap)
 * for f_lo..f_hi Hz, on a grid 4x finer than 1/span (at most RV_SPEC_MAX_BINS points); the
 * frequency scale comes from the window's mean sample interval (t_ms). nf = 0 when the window
 * is too short. */
void rv_spec_start(rv_spec_job_t *J, const uint32_t *t_ms, int n, int start, int cap,
                   float f_lo, float f_hi);
/* Compute up to max_bins more grid points of y; true when the job is complete. */
bool rv_spec_step(rv_spec_job_t *J, const float *y, int cap, int max_bins);
/* Rate (cycles per minute) of the strongest peak of a complete job, parabolically
 * interpolated, skipping peaks within RV_SPEC_HARM_TOL_HZ of an integer multiple (2..10) of
 * reject_f0 (Hz; 0 = none): a breathing motion is not a pure sine, so its harmonics reach the
 * heart band. 0 when none. *conf (may be NULL) = the peak's share of the band power, 0..1. */
float rv_spec_peak(const rv_spec_job_t *J, float reject_f0, float *conf);
/* All three at once (tests, tools). */
float rv_spectral_rate(const float *y, const uint32_t *t_ms, int n, int start, int cap,
                       float f_lo, float f_hi, float reject_f0, float *conf);

#endif /* RV_DSP_H */
