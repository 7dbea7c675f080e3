/* The send rules of KEYFRAME_RULE.md: keyframes, star reference, 50 Hz limit, sequence numbers
 * only on sent frames, tier-0 passthrough; plus packet cadence (vitals/features/state). */
#include "test_common.h"

static rv_edge_t e;
static rv_out_t out;
static int8_t base_iq[RV_MAX_IQ_BYTES];

typedef struct {
    int raw, keyframes, compressed, vitals, features, state;
} counts_t;

static void start(uint8_t tier)
{
    rv_edge_cfg_t c;
    rv_edge_cfg_defaults(&c);
    c.edge_tier = tier;
    c.node_id = 7;
    rv_edge_init(&e, &c);
    for (int i = 0; i < RV_MAX_IQ_BYTES; i++)
        base_iq[i] = (int8_t)((i * 37) % 101 - 50);
}

/* A frame of base_iq with `delta` changed bytes. */
static int run(uint64_t ts_us, uint16_t len, int delta, const int8_t *iq_override)
{
    static int8_t iq[RV_MAX_IQ_BYTES];
    memcpy(iq, iq_override ? iq_override : base_iq, len);
    for (int i = 0; i < delta; i++)
        iq[(i * 13) % len] = (int8_t)(iq[(i * 13) % len] + 1);
    rv_frame_t f = { iq, len, 1, -40, -92, 6, ts_us };
    return rv_edge_process(&e, &f, &out);
}

static const uint8_t *find(uint32_t magic)
{
    for (int i = 0; i < out.n; i++)
        if (rd_u32(out.data[i]) == magic)
            return out.data[i];
    return NULL;
}

static uint16_t find_len(uint32_t magic)
{
    for (int i = 0; i < out.n; i++)
        if (rd_u32(out.data[i]) == magic)
            return out.len[i];
    return 0;
}

static void test_first_frame_is_keyframe(void **state)
{
    (void)state;
    start(1);
    assert_int_equal(run(1000000, 128, 0, NULL), 1);
    const uint8_t *p = find(RV_MAGIC_RAW);
    assert_non_null(p);
    assert_int_equal(out.len[0], 20 + 128);
    assert_int_equal(p[4], 7);                  /* node id */
    assert_int_equal(p[5], 1);                  /* antennas */
    assert_int_equal(rd_u16(p + 6), 64);        /* subcarriers */
    assert_int_equal(rd_u32(p + 8), 2437);      /* ch 6 centre, MHz */
    assert_int_equal(rd_u32(p + 12), 0);        /* first sequence number */
    assert_int_equal((int8_t)p[16], -40);
    assert_int_equal((int8_t)p[17], -92);
    assert_int_equal(rd_u16(p + 18), RV_RAW_FLAG_KEYFRAME);
    assert_memory_equal(p + 20, base_iq, 128);
}

static void test_star_reference_and_sequence(void **state)
{
    (void)state;
    start(1);
    run(1000000, 128, 0, NULL);
    int8_t key[128];
    memcpy(key, base_iq, 128);
    /* following frames differ progressively from the keyframe: each compressed payload must
     * decode against the KEYFRAME (star), not against the previous frame (chain) */
    int8_t prev[128];
    memcpy(prev, key, 128);
    for (int k = 1; k <= 5; k++) {
        run(1000000 + 50000u * (uint64_t)k, 128, k, NULL);
        const uint8_t *c = find(RV_MAGIC_COMPRESSED);
        assert_non_null(c);
        assert_int_equal(c[4], 7);
        assert_int_equal(c[5], 6);               /* WiFi channel, not frequency */
        assert_int_equal(rd_u16(c + 6), 128);
        uint16_t clen = rd_u16(c + 8);
        assert_int_equal(find_len(RV_MAGIC_COMPRESSED), 10 + clen);
        assert_true(clen < 128);
        uint8_t dec[128], expect[128];
        memcpy(expect, base_iq, 128);
        for (int i = 0; i < k; i++)
            expect[(i * 13) % 128] = (uint8_t)(expect[(i * 13) % 128] + 1);
        assert_int_equal(rv_rle_xor_decode(c + 10, clen, (const uint8_t *)key, dec, 128),
                         RV_CODEC_OK);
        assert_memory_equal(dec, expect, 128);
        if (k > 1) { /* against the previous frame it would be wrong */
            rv_rle_xor_decode(c + 10, clen, (const uint8_t *)prev, dec, 128);
            assert_memory_not_equal(dec, expect, 128);
        }
        memcpy(prev, expect, 128);
    }
    /* 1 s after the keyframe: a new keyframe, whose seq counts the 5 compressed frames */
    run(2000000, 128, 0, NULL);
    const uint8_t *p = find(RV_MAGIC_RAW);
    assert_non_null(p);
    assert_int_equal(rd_u16(p + 18), RV_RAW_FLAG_KEYFRAME);
    assert_int_equal(rd_u32(p + 12), 6);
}

static void test_keyframe_triggers(void **state)
{
    (void)state;
    start(1);
    run(1000000, 128, 0, NULL);
    run(1050000, 128, 1, NULL);
    assert_non_null(find(RV_MAGIC_COMPRESSED));
    /* length change */
    run(1100000, 256, 1, NULL);
    assert_non_null(find(RV_MAGIC_RAW));
    assert_int_equal(rd_u32(find(RV_MAGIC_RAW) + 12), 2);
    run(1150000, 256, 2, NULL);
    assert_non_null(find(RV_MAGIC_COMPRESSED));
    /* loss reported (ring drop / failed send) */
    rv_edge_note_loss(&e, 3);
    run(1200000, 256, 2, NULL);
    assert_non_null(find(RV_MAGIC_RAW));
    run(1250000, 256, 2, NULL);
    assert_non_null(find(RV_MAGIC_COMPRESSED));
    rv_edge_note_loss(&e, 0); /* zero frames lost: nothing to recover from */
    run(1300000, 256, 2, NULL);
    assert_non_null(find(RV_MAGIC_COMPRESSED));
    /* an incompressible frame goes raw and becomes the new reference */
    int8_t noise[256];
    for (int i = 0; i < 256; i++)
        noise[i] = (int8_t)((i * 7919 + (i * i) % 251) & 0xFF);
    run(1350000, 256, 0, noise);
    const uint8_t *p = find(RV_MAGIC_RAW);
    assert_non_null(p);
    assert_int_equal(rd_u16(p + 18), RV_RAW_FLAG_KEYFRAME);
    run(1400000, 256, 1, noise);
    const uint8_t *c = find(RV_MAGIC_COMPRESSED);
    assert_non_null(c);
    uint8_t dec[256], expect[256];
    memcpy(expect, noise, 256);
    expect[0] = (uint8_t)(expect[0] + 1);
    assert_int_equal(rv_rle_xor_decode(c + 10, rd_u16(c + 8), (const uint8_t *)noise, dec, 256),
                     RV_CODEC_OK);
    assert_memory_equal(dec, expect, 256);
    /* 1 s since the last keyframe (at 1.35 s) */
    run(2350000, 256, 1, noise);
    assert_non_null(find(RV_MAGIC_RAW));
}

static void test_rate_limit_and_seq(void **state)
{
    (void)state;
    start(1);
    uint32_t sent = 0;
    uint64_t t = 1000000;
    /* 100 Hz input: every other frame is < 20 ms after the last emitted one */
    for (int i = 0; i < 100; i++, t += 10000) {
        run(t, 128, i % 3, NULL);
        if (find(RV_MAGIC_RAW) || find(RV_MAGIC_COMPRESSED))
            sent++;
    }
    assert_int_equal(sent, 50);
    /* the next keyframe's sequence number counts only sent frames */
    rv_edge_note_loss(&e, 1);
    run(t + 20000, 128, 0, NULL);
    assert_int_equal(rd_u32(find(RV_MAGIC_RAW) + 12), sent);
    /* a frame 19.999 ms after the last emitted one is not sent, 20 ms is */
    run(t + 39999, 128, 0, NULL);
    assert_null(find(RV_MAGIC_RAW));
    assert_null(find(RV_MAGIC_COMPRESSED));
    run(t + 40000, 128, 0, NULL);
    assert_true(find(RV_MAGIC_RAW) || find(RV_MAGIC_COMPRESSED));
}

static void test_tier0_passthrough(void **state)
{
    (void)state;
    start(0);
    for (uint32_t i = 0; i < 60; i++) {
        run(1000000 + 50000u * i, 128, (int)(i % 2), NULL);
        const uint8_t *p = find(RV_MAGIC_RAW);
        assert_non_null(p);
        assert_null(find(RV_MAGIC_COMPRESSED));
        assert_null(find(RV_MAGIC_VITALS));
        assert_null(find(RV_MAGIC_FEATURES));
        assert_int_equal(rd_u16(p + 18), 0);
        assert_int_equal(rd_u32(p + 12), i);
        const uint8_t *s = find(RV_MAGIC_FEATURE_STATE);
        if (s) { /* tier 0 feature state: liveness only */
            assert_int_equal(s[5], 0);
            assert_int_equal(rd_u16(s + 52), 0);
            for (int k = 0; k < 9; k++)
                assert_true(rd_f32(s + 16 + 4 * k) == 0.0f);
            assert_int_equal(rd_u32(s + 56), rv_crc32(0, s, 56));
        }
    }
}

static void test_invalid_frames_rejected(void **state)
{
    (void)state;
    start(1);
    rv_frame_t f = { base_iq, 127, 1, -40, -92, 6, 1000000 };
    assert_int_equal(rv_edge_process(&e, &f, &out), 0); /* odd length */
    f.iq_len = 128;
    f.n_antennas = 0;
    assert_int_equal(rv_edge_process(&e, &f, &out), 0);
    f.n_antennas = 5;
    assert_int_equal(rv_edge_process(&e, &f, &out), 0);
    f.n_antennas = 3;
    assert_int_equal(rv_edge_process(&e, &f, &out), 0); /* 128 not a multiple of 6 */
    f.n_antennas = 1;
    f.iq_len = RV_MAX_IQ_BYTES + 2;
    assert_int_equal(rv_edge_process(&e, &f, &out), 0);
    f.iq_len = 0;
    assert_int_equal(rv_edge_process(&e, &f, &out), 0);
    f.iq = NULL;
    f.iq_len = 128;
    assert_int_equal(rv_edge_process(&e, &f, &out), 0);
    assert_int_equal(e.invalid_frames, 7);
    /* none of them took a sequence number */
    run(1000000, 128, 0, NULL);
    assert_int_equal(rd_u32(find(RV_MAGIC_RAW) + 12), 0);
}

static void count(counts_t *c)
{
    for (int i = 0; i < out.n; i++) {
        uint32_t m = rd_u32(out.data[i]);
        if (m == RV_MAGIC_RAW) {
            c->raw++;
            if (rd_u16(out.data[i] + 18) & 1)
                c->keyframes++;
        }
        c->compressed += m == RV_MAGIC_COMPRESSED;
        c->features += m == RV_MAGIC_FEATURES;
        c->state += m == RV_MAGIC_FEATURE_STATE;
        if (m == RV_MAGIC_VITALS) {
            c->vitals++;
            /* the feature vector follows the vitals packet directly */
            assert_true(i + 1 < out.n);
            assert_int_equal(rd_u32(out.data[i + 1]), RV_MAGIC_FEATURES);
        }
    }
}

static void test_cadence_follows_frame_time(void **state)
{
    (void)state;
    /* vitals every vital_int ms and state every 200 ms of FRAME time, whatever the rate */
    const double rates[] = { 10.0, 28.5 };
    for (int r = 0; r < 2; r++) {
        rv_edge_cfg_t c;
        rv_edge_cfg_defaults(&c);
        c.vital_int = 500;
        rv_edge_init(&e, &c);
        counts_t n = { 0 };
        uint64_t t0 = 5000000, t = t0;
        for (int i = 0; t < t0 + 20000000; i++) {
            t = t0 + (uint64_t)((double)i * 1e6 / rates[r]);
            run(t, 128, i % 4, NULL);
            count(&n);
        }
        /* 20 s: vitals at 0.5, 1.0 ... -> 40 (+-1 for the edge), state at 5 Hz -> 100 (+-1) */
        assert_in_range(n.vitals, 39, 40);
        assert_int_equal(n.features, n.vitals);
        assert_in_range(n.state, 99, 100);
        assert_true(n.keyframes >= 20); /* at least one a second */
        assert_true(n.compressed > n.raw);
    }
}

static void test_tier1_vitals_have_no_bpm(void **state)
{
    (void)state;
    start(1);
    int vitals = 0;
    for (uint32_t i = 0; i < 400; i++) {
        run(1000000 + 50000u * i, 128, (int)(i % 5), NULL);
        const uint8_t *v = find(RV_MAGIC_VITALS);
        if (!v)
            continue;
        vitals++;
        assert_int_equal(rd_u16(v + 6), 0);   /* breathing: tier 2 only */
        assert_int_equal(rd_u32(v + 8), 0);   /* heart: tier 2 only */
        assert_true(v[13] <= 1);              /* persons: presence only */
        assert_int_equal(v[5] & RV_VFLAG_FALL, 0);
        float ps = rd_f32(v + 20);
        assert_true(ps >= 0.0f && ps <= 1.0f);
    }
    assert_int_equal(vitals, 19); /* every 1000 ms of frame time over 19.95 s */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_frame_is_keyframe),
        cmocka_unit_test(test_star_reference_and_sequence),
        cmocka_unit_test(test_keyframe_triggers),
        cmocka_unit_test(test_rate_limit_and_seq),
        cmocka_unit_test(test_tier0_passthrough),
        cmocka_unit_test(test_invalid_frames_rejected),
        cmocka_unit_test(test_cadence_follows_frame_time),
        cmocka_unit_test(test_tier1_vitals_have_no_bpm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
