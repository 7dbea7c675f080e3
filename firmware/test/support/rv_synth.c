#include "rv_synth.h"

#include "rv_packets.h"

#include <math.h>
#include <string.h>

#define C_LIGHT 299792458.0

static double urand(uint64_t *s)
{
    /* xorshift64* -> [0, 1) */
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return (double)((*s * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static double grand(uint64_t *s)
{
    double u1 = urand(s), u2 = urand(s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void syn_default(syn_cfg_t *c, double fs, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->fs = fs;
    c->jitter = 0.3;
    c->n_sc = 64;
    c->channel = 6;
    c->noise = 0.02;
    c->slope_max = 0.15;
    c->seed = seed ? seed : 1;
}

syn_person_t *syn_add_person(syn_cfg_t *c, double breath_bpm, double heart_bpm)
{
    syn_person_t *p = &c->p[c->n_persons++];
    memset(p, 0, sizeof *p);
    p->amp = 0.3;
    p->tau_ns = 25.0 + 10.0 * c->n_persons;
    p->breath_bpm = breath_bpm;
    p->breath_mm = 5.0;
    p->heart_bpm = heart_bpm;
    p->heart_mm = 0.3;
    p->t_in = -1.0;
    p->t_out = 1e9;
    p->walk_from = p->walk_to = -1.0;
    p->fall_at = -1.0;
    return p;
}

void syn_init(syn_t *s, const syn_cfg_t *c)
{
    memset(s, 0, sizeof *s);
    s->c = *c;
    s->rng = c->seed * 0x9E3779B97F4A7C15ull + 1;
    s->st_amp[0] = 1.0;
    s->st_tau[0] = 10.0;
    for (int i = 1; i < SYN_STATIC_PATHS; i++) {
        s->st_amp[i] = 0.2 + 0.5 * urand(&s->rng);
        s->st_tau[i] = 15.0 + 60.0 * urand(&s->rng);
    }
}

/* Path displacement (m) of a person at time t. */
static double displacement(const syn_person_t *p, double t, double *amp)
{
    double d = p->breath_mm * 1e-3 * sin(2.0 * M_PI * p->breath_bpm / 60.0 * t) +
               p->heart_mm * 1e-3 * sin(2.0 * M_PI * p->heart_bpm / 60.0 * t);
    *amp = p->amp;
    if (t >= p->walk_from && t < p->walk_to) {
        double w = t - p->walk_from;
        d += 1.5 * sin(2.0 * M_PI * w / 7.0) + 0.4 * sin(2.0 * M_PI * w / 2.3);
        *amp *= 1.0 + 0.3 * sin(2.0 * M_PI * w / 5.0);
    }
    if (p->fall_at >= 0.0 && t >= p->fall_at) {
        double x = (t - p->fall_at) / 0.6;
        if (x > 1.0)
            x = 1.0;
        d += 1.2 * x * x * (3.0 - 2.0 * x); /* ~1.2 m in 0.6 s, then lying still */
        *amp *= 1.0 - 0.4 * x;
        if (x >= 1.0) /* lying: breathing continues, shallower */
            d -= 0.4 * p->breath_mm * 1e-3 * sin(2.0 * M_PI * p->breath_bpm / 60.0 * t);
    }
    return d;
}

void syn_next(syn_t *s, rv_frame_t *f)
{
    const syn_cfg_t *c = &s->c;
    double T = 1.0 / c->fs;
    s->t = (double)s->n * T + (urand(&s->rng) * 2.0 - 1.0) * c->jitter * T;
    if (s->t < 0.0)
        s->t = 0.0;
    s->n++;
    double fc = 1e6 * (double)rv_channel_freq_mhz(c->channel);
    double phi0 = (urand(&s->rng) * 2.0 - 1.0) * M_PI;
    double slope = (urand(&s->rng) * 2.0 - 1.0) * c->slope_max;
    double hr[RV_MAX_SUBCARRIERS], hi[RV_MAX_SUBCARRIERS], peak = 1e-9;
    double pd[SYN_MAX_PERSONS], pa[SYN_MAX_PERSONS];
    for (int q = 0; q < c->n_persons; q++)
        pd[q] = displacement(&c->p[q], s->t, &pa[q]);
    for (int k = 0; k < c->n_sc; k++) {
        /* ESP32 layout: each 64-bin field in FFT order (0..31, -32..-1), DC and guards zero */
        int bin = k % 64, off = bin < 32 ? bin : bin - 64;
        if (c->n_sc % 64 != 0) {
            off = k - c->n_sc / 2;
        } else if (bin == 0 || (bin >= 27 && bin <= 37)) {
            hr[k] = hi[k] = 0.0;
            continue;
        }
        double fk = fc + (double)off * 312.5e3;
        double re = 0.0, im = 0.0;
        for (int p = 0; p < SYN_STATIC_PATHS; p++) {
            double ph = -2.0 * M_PI * fk * s->st_tau[p] * 1e-9;
            re += s->st_amp[p] * cos(ph);
            im += s->st_amp[p] * sin(ph);
        }
        for (int q = 0; q < c->n_persons; q++) {
            const syn_person_t *P = &c->p[q];
            if (s->t < P->t_in || s->t >= P->t_out)
                continue;
            double ph = -2.0 * M_PI * fk * (P->tau_ns * 1e-9 + pd[q] / C_LIGHT);
            re += pa[q] * cos(ph);
            im += pa[q] * sin(ph);
        }
        double rot = phi0 + slope * off;
        double cr = cos(rot), ci = sin(rot);
        hr[k] = re * cr - im * ci + c->noise * grand(&s->rng);
        hi[k] = re * ci + im * cr + c->noise * grand(&s->rng);
        double m = fabs(hr[k]) > fabs(hi[k]) ? fabs(hr[k]) : fabs(hi[k]);
        if (m > peak)
            peak = m;
    }
    double g = 100.0 / peak; /* AGC */
    for (int k = 0; k < c->n_sc; k++) {
        long a = lround(hr[k] * g), b = lround(hi[k] * g);
        /* the ESP32 driver stores each pair as (imaginary, real) */
        s->iq[2 * k] = (int8_t)(b > 127 ? 127 : b < -128 ? -128 : b);
        s->iq[2 * k + 1] = (int8_t)(a > 127 ? 127 : a < -128 ? -128 : a);
    }
    f->iq = s->iq;
    f->iq_len = (uint16_t)(2 * c->n_sc);
    f->n_antennas = 1;
    f->rssi = -50;
    f->noise_floor = -95;
    f->channel = c->channel;
    f->timestamp_us = (uint64_t)llround(s->t * 1e6) + 1000000u;
}

int syn_parse_vitals(const uint8_t *pkt, uint16_t len, syn_vitals_t *v)
{
    uint32_t magic;
    if (len != 32)
        return 0;
    memcpy(&magic, pkt, 4);
    if (magic != 0xC5110002u)
        return 0;
    uint16_t br;
    uint32_t hr;
    memcpy(&br, pkt + 6, 2);
    memcpy(&hr, pkt + 8, 4);
    v->flags = pkt[5];
    v->breath = (float)br / 100.0f;
    v->heart = (float)hr / 10000.0f;
    v->persons = pkt[13];
    memcpy(&v->motion, pkt + 16, 4);
    memcpy(&v->presence, pkt + 20, 4);
    memcpy(&v->ts_ms, pkt + 24, 4);
    v->n_vitals++;
    return 1;
}
