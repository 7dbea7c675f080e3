/* DSP behaviour on synthetic CSI (support/rv_synth.c): breathing and heart rate at 10, 20 and
 * 28.5 Hz with jittered timestamps, presence, falls (latched), persons, bounded scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_common.h"
#include "rv_synth.h"
#include "rv_dsp.h"
#include "rv_packets.h"

static rv_edge_t e;
static rv_out_t out;
static int verbose;

typedef struct {
    int vitals, present, with_breath, with_heart, falls, motion;
    double breath_abs_err, heart_abs_err;
    int persons_hist[5];
    double first_fall_s, first_present_s, last_present_s;
    float min_score, max_score;
} stats_t;

/* Run cfg for `seconds`, collecting vitals after `settle` s. want_br/want_hr: truth. */
static stats_t run(const syn_cfg_t *sc, const rv_edge_cfg_t *ec, double seconds, double settle,
                   double want_br, double want_hr)
{
    static syn_t s;
    syn_init(&s, sc);
    rv_edge_init(&e, ec);
    stats_t st;
    memset(&st, 0, sizeof st);
    st.first_fall_s = st.first_present_s = st.last_present_s = -1.0;
    st.min_score = 1e9f;
    st.max_score = -1e9f;
    long n = (long)(seconds * sc->fs);
    for (long i = 0; i < n; i++) {
        rv_frame_t f;
        syn_next(&s, &f);
        rv_edge_process(&e, &f, &out);
        for (int j = 0; j < out.n; j++) {
            syn_vitals_t v = { 0 };
            if (!syn_parse_vitals(out.data[j], out.len[j], &v))
                continue;
            if (v.presence < st.min_score)
                st.min_score = v.presence;
            if (v.presence > st.max_score)
                st.max_score = v.presence;
            if ((v.flags & RV_VFLAG_FALL) && st.first_fall_s < 0)
                st.first_fall_s = s.t;
            st.falls += (v.flags & RV_VFLAG_FALL) != 0;
            if (v.flags & RV_VFLAG_PRESENCE) {
                if (st.first_present_s < 0)
                    st.first_present_s = s.t;
                st.last_present_s = s.t;
            }
            if (verbose)
                printf("  t=%6.1f fl=%x br=%5.2f hr=%6.2f n=%u me=%.5f ps=%.3f m=%.2f thr=%.2f "
                       "F=%.2f fpk=%.1f meb=%.5f\n", s.t, v.flags, v.breath, v.heart, v.persons,
                       v.motion, v.presence, e.pres_metric, e.pres_thr, e.fall_metric,
                       e.fall_peak, e.me_base);
            e.fall_peak = 0.0f;
            if (s.t < settle)
                continue;
            st.vitals++;
            st.present += (v.flags & RV_VFLAG_PRESENCE) != 0;
            st.motion += (v.flags & RV_VFLAG_MOTION) != 0;
            st.persons_hist[v.persons > 4 ? 4 : v.persons]++;
            if (v.breath > 0) {
                st.with_breath++;
                st.breath_abs_err += fabs(v.breath - want_br);
            }
            if (v.heart > 0) {
                st.with_heart++;
                st.heart_abs_err += fabs(v.heart - want_hr);
            }
        }
    }
    if (st.with_breath)
        st.breath_abs_err /= st.with_breath;
    if (st.with_heart)
        st.heart_abs_err /= st.with_heart;
    return st;
}

static const double RATES[] = { 10.0, 20.0, 28.5, 100.0 };
#define N_RATES 4

static void test_breathing_rate_all_frame_rates(void **state)
{
    (void)state;
    const double bpm[] = { 12.0, 15.0, 20.0 };
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    for (int r = 0; r < N_RATES; r++) {
        for (int b = 0; b < 3; b++) {
            syn_cfg_t sc;
            syn_default(&sc, RATES[r], (uint64_t)(11 + 3 * r + b));
            syn_add_person(&sc, bpm[b], 70.0);
            stats_t st = run(&sc, &ec, 100.0, 40.0, bpm[b], 70.0);
            print_message("fs %.1f Hz, %.0f BPM: MAE %.3f BPM over %d/%d vitals; fs est %.2f, "
                          "DSP at %.2f Hz (every %u)\n", RATES[r], bpm[b], st.breath_abs_err,
                          st.with_breath, st.vitals, 1.0 / e.in_dt_s, 1.0 / e.dt_s, e.decim);
            assert_true(st.with_breath >= (st.vitals * 9) / 10);
            assert_true(st.breath_abs_err <= 0.5);
            /* the input rate is measured from the timestamps (jitter +-30 %); the DSP runs on
             * every D-th frame, D = round(rate / 12), and its filters are designed for that */
            assert_true(fabs(1.0 / e.in_dt_s - RATES[r]) < 0.03 * RATES[r]);
            double dsp_fs = RATES[r] / e.decim;
            assert_true(dsp_fs >= 7.0 && dsp_fs <= 18.0);
            assert_true(fabs(e.design_fs - dsp_fs) <= 0.06 * dsp_fs);
        }
    }
}

static void test_heart_rate(void **state)
{
    (void)state;
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    const double hr[] = { 62.0, 72.0, 95.0 };
    for (int r = 1; r < 3; r++) {
        for (int h = 0; h < 3; h++) {
            syn_cfg_t sc;
            syn_default(&sc, RATES[r], (uint64_t)(101 + 7 * r + h));
            sc.noise = 0.005;
            syn_add_person(&sc, 14.0, hr[h]);
            stats_t st = run(&sc, &ec, 100.0, 40.0, 14.0, hr[h]);
            print_message("fs %.1f Hz, heart %.0f BPM: MAE %.2f BPM over %d/%d vitals\n",
                          RATES[r], hr[h], st.heart_abs_err, st.with_heart, st.vitals);
            /* reported only when confident: a clean heartbeat often, and then right */
            assert_true(st.with_heart >= st.vitals / 3);
            assert_true(st.heart_abs_err <= 2.0);
        }
    }
}

/* Fast breathing (22 BPM): its 2nd/3rd harmonics, which the CSI's non-linear mapping of the
 * chest motion creates, fall into the heart band (44, 66 BPM); the heart rate (96 BPM) must
 * still be the one reported, and a slow heart (58 BPM) next to the 3rd harmonic too. */
static void test_heart_rate_beside_fast_breathing(void **state)
{
    (void)state;
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    const double hr[] = { 96.0, 58.0 };
    for (int r = 0; r < 3; r++) {
        for (int h = 0; h < 2; h++) {
            syn_cfg_t sc;
            syn_default(&sc, RATES[r], (uint64_t)(131 + 5 * r + h));
            sc.noise = 0.005;
            syn_person_t *p = syn_add_person(&sc, 22.0, hr[h]);
            p->breath_mm *= 2.0; /* deep breathing: strong harmonics */
            stats_t st = run(&sc, &ec, 100.0, 40.0, 22.0, hr[h]);
            print_message("fs %.1f Hz, breathing 22, heart %.0f BPM: MAE %.2f BPM over %d/%d\n",
                          RATES[r], hr[h], st.heart_abs_err, st.with_heart, st.vitals);
            /* never a breathing harmonic reported as the heart rate */
            assert_true(st.heart_abs_err <= 2.0);
        }
    }
}

static void test_presence_person_vs_empty(void **state)
{
    (void)state;
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec); /* adaptive calibration (pres_thresh 0) */
    for (int r = 0; r < 3; r++) {
        syn_cfg_t sc;
        syn_default(&sc, RATES[r], (uint64_t)(200 + r));
        stats_t empty = run(&sc, &ec, 150.0, 20.0, 0, 0);
        assert_true(e.calibrated);
        syn_add_person(&sc, 15.0, 70.0);
        stats_t person = run(&sc, &ec, 150.0, 20.0, 15.0, 70.0);
        print_message("fs %.1f Hz: present in %d/%d vitals with a person, %d/%d empty\n",
                      RATES[r], person.present, person.vitals, empty.present, empty.vitals);
        assert_int_equal(empty.present, 0);
        assert_int_equal(person.present, person.vitals);
        assert_int_equal(empty.persons_hist[0], empty.vitals);
        assert_true(empty.min_score >= 0.0f && empty.max_score <= 1.0f);
        assert_true(person.min_score >= 0.0f && person.max_score <= 1.0f);
        assert_true(person.max_score > empty.max_score);
    }
}

static void test_enter_and_leave(void **state)
{
    (void)state;
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    syn_cfg_t sc;
    syn_default(&sc, 20.0, 300);
    syn_person_t *p = syn_add_person(&sc, 15.0, 70.0);
    p->t_in = 90.0;
    p->t_out = 150.0;
    p->walk_from = 145.0; /* appears, stands breathing, walks about and is gone */
    p->walk_to = 150.0;
    stats_t before = run(&sc, &ec, 89.0, 20.0, 0, 0);
    assert_int_equal(before.present, 0);
    stats_t all = run(&sc, &ec, 240.0, 20.0, 15.0, 70.0);
    print_message("appears at 90 s: present from %.1f s; leaves at 150 s: last present %.1f s\n",
                  all.first_present_s, all.last_present_s);
    /* detected from the breathing evidence within 10 s; cleared within 30 s of leaving */
    assert_true(all.first_present_s >= 90.0 && all.first_present_s <= 100.0);
    assert_true(all.last_present_s >= 150.0 && all.last_present_s <= 180.0);
    stats_t inside = run(&sc, &ec, 145.0, 100.0, 15.0, 70.0);
    assert_int_equal(inside.present, inside.vitals);
}

static void test_fall_detected_and_latched(void **state)
{
    (void)state;
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    ec.vital_int = 5000; /* the fall happens mid-interval: the flag must survive until sent */
    for (int r = 0; r < 3; r++) {
        syn_cfg_t sc;
        syn_default(&sc, RATES[r], (uint64_t)(400 + r));
        syn_person_t *p = syn_add_person(&sc, 15.0, 70.0);
        p->fall_at = 61.0;
        stats_t st = run(&sc, &ec, 90.0, 0.0, 15.0, 70.0);
        print_message("fs %.1f Hz: fall flag in %d vitals, first at t=%.1f s\n", RATES[r],
                      st.falls, st.first_fall_s);
        assert_int_equal(st.falls, 1);          /* carried once, then cleared */
        /* the fall, 4 s lying still, then the next vitals packet (every 5 s here) */
        assert_true(st.first_fall_s >= 61.0 && st.first_fall_s <= 61.0 + 2.0 + 4.0 + 5.0);
    }
}

static void test_no_fall_breathing_or_walking(void **state)
{
    (void)state;
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    for (int r = 0; r < 3; r++) {
        syn_cfg_t sc;
        syn_default(&sc, RATES[r], (uint64_t)(500 + r));
        syn_person_t *p = syn_add_person(&sc, 15.0, 70.0);
        stats_t calm = run(&sc, &ec, 240.0, 0.0, 15.0, 70.0);
        p->walk_from = 30.0;
        p->walk_to = 1e9;
        stats_t walk = run(&sc, &ec, 240.0, 40.0, 15.0, 70.0);
        print_message("fs %.1f Hz: falls %d breathing, %d walking (motion in %d/%d)\n",
                      RATES[r], calm.falls, walk.falls, walk.motion, walk.vitals);
        assert_int_equal(calm.falls, 0);
        assert_int_equal(walk.falls, 0);
        assert_int_equal(walk.present, walk.vitals);     /* a walking person is present */
        assert_true(walk.motion * 10 >= walk.vitals * 9); /* and flagged as moving */
        assert_true(calm.motion * 20 <= calm.vitals);     /* breathing alone is not motion */
        assert_true(walk.max_score <= 1.0f && walk.min_score >= 0.0f);
    }
}

static void test_two_people(void **state)
{
    (void)state;
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    ec.subk_count = 16;
    syn_cfg_t sc;
    syn_default(&sc, 20.0, 600);
    syn_add_person(&sc, 15.0, 70.0);
    stats_t one = run(&sc, &ec, 120.0, 40.0, 15.0, 70.0);
    syn_person_t *q = syn_add_person(&sc, 24.0, 80.0);
    q->amp = 0.3;
    stats_t two = run(&sc, &ec, 120.0, 40.0, 15.0, 70.0);
    print_message("persons one: %d %d %d %d | two: %d %d %d %d\n", one.persons_hist[1],
                  one.persons_hist[2], one.persons_hist[3], one.persons_hist[4],
                  two.persons_hist[1], two.persons_hist[2], two.persons_hist[3],
                  two.persons_hist[4]);
    if (verbose)
        for (int i = 0; i < e.n_pslot; i++)
            printf("  slot %d ch %d per %.2f s -> %.1f BPM\n", i, e.pslot[i].ch, e.pslot[i].per,
                   e.pslot[i].per > 0 ? 60.0 / e.pslot[i].per : 0.0);
    /* most vitals of the one-person scene say 1, of the two-person scene say 2 */
    assert_true(one.persons_hist[1] * 2 > one.vitals);
    assert_true(two.persons_hist[2] * 2 > two.vitals);
}

/* The heart spectrum spread over frames gives the one-shot result. */
static void test_spectrum_job_in_steps_equals_one_shot(void **state)
{
    (void)state;
    enum { N = 200 };
    float y[N];
    uint32_t t[N];
    for (int i = 0; i < N; i++) {
        t[i] = (uint32_t)(1000 + i * 83 + (i % 3) * 5); /* ~12 Hz, jittered */
        y[i] = sinf(2.0f * 3.14159265f * 1.2f * (float)t[i] * 1e-3f) +
               0.3f * sinf(2.0f * 3.14159265f * 0.25f * (float)t[i] * 1e-3f);
    }
    float c1, c2;
    float once = rv_spectral_rate(y, t, N, 0, N, 0.7f, 2.5f, 0.0f, &c1);
    rv_spec_job_t J;
    rv_spec_start(&J, t, N, 0, N, 0.7f, 2.5f);
    int steps = 0;
    while (!rv_spec_step(&J, y, N, RV_SPEC_BINS_PER_FRAME))
        steps++;
    float stepped = rv_spec_peak(&J, 0.0f, &c2);
    print_message("one shot %.3f BPM (conf %.2f), %d steps %.3f BPM (conf %.2f)\n", once, c1,
                  steps + 1, stepped, c2);
    assert_true(steps >= 2);
    assert_true(fabsf(once - stepped) < 1e-3f && fabsf(c1 - c2) < 1e-4f);
    assert_true(fabsf(once - 72.0f) < 1.5f);
    /* a peak at a multiple of the given breathing rate is not the heart rate */
    float h = rv_spec_peak(&J, 0.4f, NULL); /* 1.2 Hz = 3 x 0.4 Hz */
    assert_true(fabsf(h - 72.0f) > 2.0f);
}

/* Bytes 0-3 (DC and subcarrier +1), which some chips mark invalid, change nothing. */
static void test_first_word_is_ignored(void **state)
{
    (void)state;
    static rv_edge_t a, b;
    static rv_out_t oa, ob;
    static syn_t s;
    syn_cfg_t sc;
    syn_default(&sc, 20.0, 77);
    syn_add_person(&sc, 15.0, 70.0);
    syn_init(&s, &sc);
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    rv_edge_init(&a, &ec);
    rv_edge_init(&b, &ec);
    int8_t junk[2 * RV_MAX_SUBCARRIERS];
    int vitals = 0;
    for (long i = 0; i < 20L * 40; i++) {
        rv_frame_t f;
        syn_next(&s, &f);
        memcpy(junk, f.iq, f.iq_len);
        junk[0] = (int8_t)(i * 37);
        junk[1] = (int8_t)(i * 11 + 5);
        junk[2] = (int8_t)(-i * 13);
        junk[3] = 127;
        rv_edge_process(&a, &f, &oa);
        f.iq = junk;
        rv_edge_process(&b, &f, &ob);
        assert_int_equal(oa.n, ob.n);
        for (int j = 0; j < oa.n; j++) {
            syn_vitals_t va = { 0 }, vb = { 0 };
            if (syn_parse_vitals(oa.data[j], oa.len[j], &va)) {
                assert_true(syn_parse_vitals(ob.data[j], ob.len[j], &vb));
                assert_true(va.breath == vb.breath && va.presence == vb.presence &&
                            va.flags == vb.flags);
                vitals++;
            }
        }
    }
    assert_true(vitals >= 30);
}

/* Our vitals packets carry the confidence flag; a rate and its confidence come together. */
static void test_vitals_carry_confidences(void **state)
{
    (void)state;
    static syn_t s;
    syn_cfg_t sc;
    syn_default(&sc, 20.0, 91);
    sc.noise = 0.005;
    syn_add_person(&sc, 14.0, 72.0);
    syn_init(&s, &sc);
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    rv_edge_init(&e, &ec);
    int n = 0, with_br = 0, with_hr = 0;
    for (long i = 0; i < 20L * 60; i++) {
        rv_frame_t f;
        syn_next(&s, &f);
        rv_edge_process(&e, &f, &out);
        for (int j = 0; j < out.n; j++) {
            const uint8_t *d = out.data[j];
            syn_vitals_t v = { 0 };
            if (!syn_parse_vitals(d, out.len[j], &v))
                continue;
            n++;
            assert_true(v.flags & RV_VFLAG_CONFIDENCE);
            assert_true((v.breath > 0) == (d[14] > 0) && d[14] <= 100);
            assert_true((v.heart > 0) == (d[15] > 0) && d[15] <= 100);
            with_br += v.breath > 0;
            with_hr += v.heart > 0;
        }
    }
    print_message("%d vitals: breathing in %d, heart in %d\n", n, with_br, with_hr);
    assert_true(n >= 55 && with_br > n / 2);
}

int main(void)
{
    verbose = getenv("RV_TEST_VERBOSE") != NULL;
    if (getenv("RV_TEST_FILTER"))
        cmocka_set_test_filter(getenv("RV_TEST_FILTER"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_breathing_rate_all_frame_rates),
        cmocka_unit_test(test_heart_rate),
        cmocka_unit_test(test_heart_rate_beside_fast_breathing),
        cmocka_unit_test(test_presence_person_vs_empty),
        cmocka_unit_test(test_enter_and_leave),
        cmocka_unit_test(test_fall_detected_and_latched),
        cmocka_unit_test(test_no_fall_breathing_or_walking),
        cmocka_unit_test(test_two_people),
        cmocka_unit_test(test_spectrum_job_in_steps_equals_one_shot),
        cmocka_unit_test(test_first_word_is_ignored),
        cmocka_unit_test(test_vitals_carry_confidences),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
