/* XOR+RLE codec: round trip, run splitting, "not strictly shorter -> raw", decoder rejects. */
#include <stdlib.h>

#include "test_common.h"

static uint32_t rng = 12345;
static uint8_t rnd(void)
{
    rng = rng * 1103515245u + 12345u;
    return (uint8_t)(rng >> 16);
}

static void test_round_trip_sparse_changes(void **state)
{
    (void)state;
    for (int trial = 0; trial < 200; trial++) {
        size_t len = 2 + (size_t)(rnd() % 200) * 2;
        uint8_t ref[512], cur[512], pay[512], back[512];
        for (size_t i = 0; i < len; i++)
            ref[i] = cur[i] = rnd();
        int changes = rnd() % 8;
        for (int c = 0; c < changes; c++)
            cur[rnd() % len] ^= (uint8_t)(1 + rnd() % 255);
        size_t n = rv_rle_xor_encode(cur, ref, len, pay, sizeof pay);
        if (n == 0)
            continue; /* legitimately not shorter (tiny frames) */
        assert_true(n < len);
        assert_true(n % 2 == 0);
        for (size_t i = 1; i < n; i += 2)
            assert_true(pay[i] >= 1);
        assert_int_equal(rv_rle_xor_decode(pay, n, ref, back, len), RV_CODEC_OK);
        assert_memory_equal(back, cur, len);
    }
}

static void test_long_runs_split(void **state)
{
    (void)state;
    uint8_t ref[600] = { 0 }, cur[600] = { 0 }, pay[64], back[600];
    size_t n = rv_rle_xor_encode(cur, ref, 600, pay, sizeof pay);
    /* 600 equal bytes = runs 255 + 255 + 90 */
    assert_int_equal(n, 6);
    assert_int_equal(pay[1], 255);
    assert_int_equal(pay[3], 255);
    assert_int_equal(pay[5], 90);
    assert_int_equal(rv_rle_xor_decode(pay, n, ref, back, 600), RV_CODEC_OK);
    assert_memory_equal(back, cur, 600);
}

static void test_not_shorter_means_raw(void **state)
{
    (void)state;
    uint8_t ref[256], cur[256], pay[600];
    for (int i = 0; i < 256; i++) {
        ref[i] = 0;
        cur[i] = (uint8_t)i; /* no two equal neighbours: pairs would be 2x the input */
    }
    assert_int_equal(rv_rle_xor_encode(cur, ref, 256, pay, sizeof pay), 0);
    /* exactly as long as the input is not "strictly shorter" either: aabb -> 4 pair bytes */
    uint8_t r4[4] = { 0 }, c4[4] = { 1, 1, 2, 2 };
    assert_int_equal(rv_rle_xor_encode(c4, r4, 4, pay, sizeof pay), 0);
    /* aaab -> 4 bytes of pairs vs 4 input bytes: raw; aaaa -> 2 < 4: compressed */
    uint8_t c4b[4] = { 7, 7, 7, 8 }, c4c[4] = { 7, 7, 7, 7 };
    assert_int_equal(rv_rle_xor_encode(c4b, r4, 4, pay, sizeof pay), 0);
    assert_int_equal(rv_rle_xor_encode(c4c, r4, 4, pay, sizeof pay), 2);
    /* an output buffer too small also means raw, never an overflow */
    uint8_t z[64] = { 0 }, one[64] = { 0 };
    one[10] = 1;
    assert_int_equal(rv_rle_xor_encode(one, z, 64, pay, 4), 0);
    assert_int_equal(rv_rle_xor_encode(one, z, 64, pay, 6), 6);
}

static void test_decoder_rejects(void **state)
{
    (void)state;
    uint8_t *out = malloc(8); /* exact size: ASan catches any write beyond orig_len */
    const uint8_t odd[3] = { 1, 2, 3 };
    const uint8_t zero_run[4] = { 1, 0, 2, 8 };
    const uint8_t short_pay[2] = { 1, 7 };
    const uint8_t long_pay[4] = { 1, 7, 2, 2 };
    const uint8_t ok[4] = { 1, 6, 2, 2 };
    assert_int_equal(rv_rle_xor_decode(odd, 3, NULL, out, 8), RV_CODEC_ODD_LENGTH);
    assert_int_equal(rv_rle_xor_decode(zero_run, 4, NULL, out, 8), RV_CODEC_ZERO_RUN);
    assert_int_equal(rv_rle_xor_decode(short_pay, 2, NULL, out, 8), RV_CODEC_LENGTH_MISMATCH);
    assert_int_equal(rv_rle_xor_decode(long_pay, 4, NULL, out, 8), RV_CODEC_LENGTH_MISMATCH);
    assert_int_equal(rv_rle_xor_decode(ok, 4, NULL, out, 8), RV_CODEC_OK);
    assert_memory_equal(out, ((uint8_t[]){ 1, 1, 1, 1, 1, 1, 2, 2 }), 8);
    free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_sparse_changes),
        cmocka_unit_test(test_long_runs_split),
        cmocka_unit_test(test_not_shorter_means_raw),
        cmocka_unit_test(test_decoder_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
