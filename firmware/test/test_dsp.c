/* DSP behaviour on synthetic CSI (support/rv_synth.c): breathing and heart rate at 10, 20 and
 * 28.5 Hz with jittered timestamps, presence, falls (latched), persons, bounded scores. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "test_common.h"
#include "rv_synth.h"

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

static const double RATES[] = { 10.0, 20.0, 28.5 };

static void test_breathing_rate_all_frame_rates(void **state)
{
    (void)state;
    const double bpm[] = { 12.0, 15.0, 20.0 };
    rv_edge_cfg_t ec;
    rv_edge_cfg_defaults(&ec);
    for (int r = 0; r < 3; r++) {
        for (int b = 0; b < 3; b++) {
            syn_cfg_t sc;
            syn_default(&sc, RATES[r], (uint64_t)(11 + 3 * r + b));
            syn_add_person(&sc, bpm[b], 70.0);
            stats_t st = run(&sc, &ec, 100.0, 40.0, bpm[b], 70.0);
            print_message("fs %.1f Hz, %.0f BPM: MAE %.3f BPM over %d/%d vitals; fs est %.2f\n",
                          RATES[r], bpm[b], st.breath_abs_err, st.with_breath, st.vitals,
                          1.0 / e.dt_s);
            assert_true(st.with_breath >= (st.vitals * 9) / 10);
            assert_true(st.breath_abs_err <= 0.5);
            /* the rate is measured from the timestamps (jitter +-30 %) */
            assert_true(fabs(1.0 / e.dt_s - RATES[r]) < 0.03 * RATES[r]);
            assert_true(fabs(e.design_fs - RATES[r]) <= 0.06 * RATES[r]);
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
            assert_true(st.with_heart >= (st.vitals * 9) / 10);
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
            assert_true(st.with_heart >= (st.vitals * 9) / 10);
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
    p->walk_from = 90.0;  /* walks in, stands breathing, walks out */
    p->walk_to = 95.0;
    stats_t before = run(&sc, &ec, 89.0, 20.0, 0, 0);
    assert_int_equal(before.present, 0);
    stats_t all = run(&sc, &ec, 240.0, 20.0, 15.0, 70.0);
    print_message("enters at 90 s: present from %.1f s; leaves at 150 s: last present %.1f s\n",
                  all.first_present_s, all.last_present_s);
    /* detected within 2 s of entering; cleared within 40 s of leaving (the windowed variance
     * of the step the departure leaves in the channel has to decay) */
    assert_true(all.first_present_s >= 90.0 && all.first_present_s <= 92.0);
    assert_true(all.last_present_s >= 150.0 && all.last_present_s <= 190.0);
    stats_t inside = run(&sc, &ec, 150.0, 92.0, 15.0, 70.0);
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
        assert_true(st.first_fall_s >= 61.0 && st.first_fall_s <= 61.0 + 5.0 + 4.0);
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
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
