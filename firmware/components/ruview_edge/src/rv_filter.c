/* Scalar DSP building blocks: a float atan2, biquad design (RBJ audio-EQ-cookbook formulas) and
 * a hysteretic zero-crossing rate estimator that works on crossing timestamps, so the result is
 * right whatever (and however jittery) the frame rate. */
#include <math.h>

#include "rv_dsp.h"

float rv_atan2f(float y, float x)
{
    float ax = fabsf(x), ay = fabsf(y);
    if (ax <= 0.0f && ay <= 0.0f)
        return 0.0f;
    float z = ax > ay ? ay / ax : ax / ay;
    float z2 = z * z;
    /* odd polynomial for atan on [0, 1] (Abramowitz & Stegun 4.4.49), |err| <= 1e-5 */
    float r = z * (0.9998660f + z2 * (-0.3302995f + z2 * (0.1801410f +
                   z2 * (-0.0851330f + z2 * 0.0208351f))));
    if (ay > ax)
        r = 1.57079633f - r;
    if (x < 0.0f)
        r = RV_PI - r;
    return y < 0.0f ? -r : r;
}

static void design(rv_biquad_t *q, float b0, float b1, float b2, float a0, float a1, float a2)
{
    q->b0 = b0 / a0;
    q->b1 = b1 / a0;
    q->b2 = b2 / a0;
    q->a1 = a1 / a0;
    q->a2 = a2 / a0;
}

static float clamp_fc(float fc, float fs)
{
    float nyq = 0.45f * fs;
    return fc < nyq ? fc : nyq;
}

void rv_biquad_design_lp(rv_biquad_t *q, float fc, float fs, float Q)
{
    float w0 = RV_TWO_PI * clamp_fc(fc, fs) / fs, c = cosf(w0), al = sinf(w0) / (2.0f * Q);
    design(q, (1.0f - c) * 0.5f, 1.0f - c, (1.0f - c) * 0.5f, 1.0f + al, -2.0f * c, 1.0f - al);
}

void rv_biquad_design_hp(rv_biquad_t *q, float fc, float fs, float Q)
{
    float w0 = RV_TWO_PI * clamp_fc(fc, fs) / fs, c = cosf(w0), al = sinf(w0) / (2.0f * Q);
    design(q, (1.0f + c) * 0.5f, -(1.0f + c), (1.0f + c) * 0.5f, 1.0f + al, -2.0f * c,
           1.0f - al);
}

void rv_biquad_design_bp(rv_biquad_t *q, float f0, float fs, float Q)
{
    float w0 = RV_TWO_PI * clamp_fc(f0, fs) / fs, c = cosf(w0), al = sinf(w0) / (2.0f * Q);
    design(q, al, 0.0f, -al, 1.0f + al, -2.0f * c, 1.0f - al);
}

float rv_biquad_run(rv_biquad_t *q, float x)
{
    float y = q->b0 * x + q->z1;
    q->z1 = q->b1 * x - q->a1 * y + q->z2;
    q->z2 = q->b2 * x - q->a2 * y;
    return y;
}

/* Accumulates crossing times of one direction. */
typedef struct {
    int n;
    float first, last, prev, sum, sum2;  /* periods: sum, sum of squares */
} xing_t;

static void xing_add(xing_t *x, float t)
{
    if (x->n > 0) {
        float p = t - x->prev;
        x->sum += p;
        x->sum2 += p * p;
    } else {
        x->first = t;
    }
    x->prev = x->last = t;
    x->n++;
}

float rv_crossing_rate(const float *y, const uint32_t *t_ms, int n, int start, int cap,
                       float *conf)
{
    if (conf)
        *conf = 0.0f;
    if (n < 4)
        return 0.0f;
    float ms = 0.0f;
    for (int i = 0; i < n; i++) {
        float v = y[(start + i) % cap];
        ms += v * v;
    }
    float h = 0.3f * sqrtf(ms / (float)n);
    if (!(h > 0.0f))
        return 0.0f;
    uint32_t t0 = t_ms[start % cap];
    xing_t up = { 0 }, dn = { 0 };
    int pol = 0, cand_dir = 0;
    float cand_t = 0.0f;
    float yp = y[start % cap];
    float tp = 0.0f;
    for (int i = 1; i < n; i++) {
        int j = (start + i) % cap;
        float yc = y[j];
        float tc = (float)(uint32_t)(t_ms[j] - t0);
        if ((yp < 0.0f) != (yc < 0.0f)) {
            float d = yc - yp;
            cand_t = fabsf(d) > 0.0f ? tp + (tc - tp) * (-yp / d) : tc;
            cand_dir = yc >= 0.0f ? 1 : -1;
        }
        if (yc > h && pol != 1) {
            if (pol == -1 && cand_dir == 1)
                xing_add(&up, cand_t);
            pol = 1;
        } else if (yc < -h && pol != -1) {
            if (pol == 1 && cand_dir == -1)
                xing_add(&dn, cand_t);
            pol = -1;
        }
        yp = yc;
        tp = tc;
    }
    float periods = 0.0f, span = 0.0f, s = 0.0f, s2 = 0.0f;
    if (up.n >= 2) {
        periods += (float)(up.n - 1);
        span += up.last - up.first;
        s += up.sum;
        s2 += up.sum2;
    }
    if (dn.n >= 2) {
        periods += (float)(dn.n - 1);
        span += dn.last - dn.first;
        s += dn.sum;
        s2 += dn.sum2;
    }
    if (periods < 1.0f || span <= 0.0f)
        return 0.0f;
    if (conf) {
        float mean = s / periods;
        float var = s2 / periods - mean * mean;
        float cv = var > 0.0f ? sqrtf(var) / mean : 0.0f;
        float c = 1.0f - cv;
        *conf = c < 0.0f ? 0.0f : (c > 1.0f ? 1.0f : c);
    }
    return 60000.0f * periods / span;
}

/* true when f (Hz) is within RV_SPEC_HARM_TOL_HZ of harmonic 2..10 of f0 */
static int near_harmonic(float f, float f0)
{
    if (!(f0 > 0.0f))
        return 0;
    int k = (int)(f / f0 + 0.5f);
    return k >= 2 && k <= 10 && fabsf(f - (float)k * f0) < RV_SPEC_HARM_TOL_HZ;
}

void rv_spec_start(rv_spec_job_t *J, const uint32_t *t_ms, int n, int start, int cap,
                   float f_lo, float f_hi)
{
    J->nf = J->j = 0;
    if (n < 32 || n > RV_HIST_MAX || !(f_lo > 0.0f) || !(f_hi > f_lo))
        return;
    float span = (float)(uint32_t)(t_ms[(start + n - 1) % cap] - t_ms[start % cap]) * 1e-3f;
    if (!(span > 0.0f))
        return;
    float dt = span / (float)(n - 1); /* mean sample interval of the window (jitter averages) */
    if (f_hi > 0.45f / dt)
        f_hi = 0.45f / dt;
    float df = 0.25f / span;
    int nf = (int)((f_hi - f_lo) / df) + 1;
    if (nf > RV_SPEC_MAX_BINS) {
        nf = RV_SPEC_MAX_BINS;
        df = (f_hi - f_lo) / (float)(RV_SPEC_MAX_BINS - 1);
    }
    if (nf < 3)
        return;
    J->f_lo = f_lo;
    J->df = df;
    J->dt = dt;
    J->n = (uint16_t)n;
    J->start = (uint16_t)start;
    J->wc = cosf(RV_TWO_PI / (float)(n - 1));
    J->ws = sinf(RV_TWO_PI / (float)(n - 1));
    J->nf = (uint16_t)nf;
}

bool rv_spec_step(rv_spec_job_t *J, const float *y, int cap, int max_bins)
{
    int n = J->n;
    for (int b = 0; b < max_bins && J->j < J->nf; b++, J->j++) {
        float w = RV_TWO_PI * (J->f_lo + (float)J->j * J->df) * J->dt;
        float rc = cosf(w), rs = sinf(w), pr = 1.0f, pi = 0.0f, sr = 0.0f, si = 0.0f;
        float hc = 1.0f, hs = 0.0f; /* Hann: 0.5 - 0.5 cos(2 pi i / (n - 1)) by recurrence */
        int k = J->start % cap;
        for (int i = 0; i < n; i++) {
            float v = y[k] * (0.5f - 0.5f * hc);
            if (++k == cap)
                k = 0;
            sr += v * pr;
            si += v * pi;
            float t = pr * rc - pi * rs;
            pi = pi * rc + pr * rs;
            pr = t;
            t = hc * J->wc - hs * J->ws;
            hs = hs * J->wc + hc * J->ws;
            hc = t;
        }
        J->pw[J->j] = sr * sr + si * si;
    }
    return J->nf > 0 && J->j >= J->nf;
}

float rv_spec_peak(const rv_spec_job_t *J, float reject_f0, float *conf)
{
    if (conf)
        *conf = 0.0f;
    int nf = J->nf;
    if (nf < 3 || J->j < nf)
        return 0.0f;
    const float *pw = J->pw;
    float total = 0.0f;
    for (int j = 0; j < nf; j++)
        total += pw[j];
    int best = -1;
    for (int j = 1; j + 1 < nf; j++)
        if (pw[j] > pw[j - 1] && pw[j] >= pw[j + 1] && (best < 0 || pw[j] > pw[best]) &&
            !near_harmonic(J->f_lo + (float)j * J->df, reject_f0))
            best = j;
    if (best < 0 || !(total > 0.0f))
        return 0.0f;
    float a = pw[best - 1], b = pw[best], c = pw[best + 1];
    float den = a - 2.0f * b + c;
    float off = den < 0.0f ? 0.5f * (a - c) / den : 0.0f; /* parabolic peak */
    if (off > 0.5f)
        off = 0.5f;
    if (off < -0.5f)
        off = -0.5f;
    if (conf) {
        float cf = 4.0f * b / total; /* share of the band's power near the peak */
        *conf = cf > 1.0f ? 1.0f : cf;
    }
    return 60.0f * (J->f_lo + ((float)best + off) * J->df);
}

float rv_spectral_rate(const float *y, const uint32_t *t_ms, int n, int start, int cap,
                       float f_lo, float f_hi, float reject_f0, float *conf)
{
    rv_spec_job_t J;
    rv_spec_start(&J, t_ms, n, start, cap, f_lo, f_hi);
    if (!rv_spec_step(&J, y, cap, RV_SPEC_MAX_BINS)) {
        if (conf)
            *conf = 0.0f;
        return 0.0f;
    }
    return rv_spec_peak(&J, reject_f0, conf);
}
