/* Encoders: byte-exact against tests/vectors/ JSON files (generated rv_vectors.h), plus CRC-32,
 * channel -> frequency and layouts the vectors may not cover. */
#include "test_common.h"
#include "rv_vectors.h"

static void check_vector(const rv_vec_t *v)
{
    uint8_t buf[RV_OUT_MAX_BYTES + 64];
    size_t n = 0;
    if (v->problem && v->problem[0])
        fail_msg("%s: vector bytes disagree with its fields: %s", v->name, v->problem);
    switch (v->kind) {
    case RV_VEC_RAW:
        n = rv_pkt_raw(buf, sizeof buf, v->u.raw.node_id, v->u.raw.n_antennas, v->u.raw.freq_mhz,
                       v->u.raw.seq, v->u.raw.rssi, v->u.raw.noise, v->u.raw.flags,
                       (const int8_t *)v->bytes + 20, (uint16_t)(v->len - 20));
        break;
    case RV_VEC_COMPRESSED:
        n = rv_pkt_compressed(buf, sizeof buf, v->u.comp.node_id, v->u.comp.channel,
                              v->u.comp.orig_len, v->bytes + 10, (uint16_t)(v->len - 10));
        if (v->ref_len > 20) {
            /* the codec: our encoder reproduces the payload from the frame it describes */
            const uint8_t *ref = v->ref + 20;
            size_t ol = v->u.comp.orig_len;
            assert_int_equal(v->ref_len - 20, ol);
            uint8_t cur[RV_MAX_IQ_BYTES], pay[RV_MAX_IQ_BYTES];
            assert_int_equal(rv_rle_xor_decode(v->bytes + 10, v->len - 10, ref, cur, ol),
                             RV_CODEC_OK);
            size_t pl = rv_rle_xor_encode(cur, ref, ol, pay, sizeof pay);
            assert_int_equal(pl, v->len - 10);
            assert_memory_equal(pay, v->bytes + 10, pl);
        }
        break;
    case RV_VEC_VITALS: {
        rv_vitals_pkt_t p = { v->u.vitals.node_id, v->u.vitals.flags, v->u.vitals.br,
                              v->u.vitals.hr, v->u.vitals.rssi, v->u.vitals.persons,
                              v->u.vitals.motion, v->u.vitals.presence, v->u.vitals.ts_ms, 0, 0 };
        n = rv_pkt_vitals(buf, sizeof buf, &p);
        break;
    }
    case RV_VEC_FEATURES: {
        rv_features_pkt_t p;
        p.node_id = v->u.features.node_id;
        p.seq = v->u.features.seq;
        p.timestamp_us = v->u.features.ts_us;
        memcpy(p.f, v->u.features.f, sizeof p.f);
        n = rv_pkt_features(buf, sizeof buf, &p);
        break;
    }
    case RV_VEC_FEATURE_STATE: {
        rv_state_pkt_t p = { v->u.state.node_id, v->u.state.mode, v->u.state.seq,
                             v->u.state.ts_us, v->u.state.v0, v->u.state.v1, v->u.state.v2,
                             v->u.state.v3, v->u.state.v4, v->u.state.v5, v->u.state.v6,
                             v->u.state.v7, v->u.state.v8, v->u.state.qflags };
        n = rv_pkt_feature_state(buf, sizeof buf, &p);
        break;
    }
    case RV_VEC_MESH:
        n = rv_pkt_mesh(buf, sizeof buf, v->u.mesh.type, v->u.mesh.role, v->u.mesh.auth,
                        v->u.mesh.epoch, v->bytes + 16, v->u.mesh.plen);
        break;
    default:
        fail_msg("%s: unknown kind", v->name);
    }
    if (n != v->len)
        fail_msg("%s: encoder wrote %zu bytes, vector has %zu", v->name, n, v->len);
    for (size_t i = 0; i < n; i++)
        if (buf[i] != v->bytes[i])
            fail_msg("%s: byte %zu is 0x%02x, vector has 0x%02x", v->name, i, buf[i],
                     v->bytes[i]);
}

static void test_vectors_byte_exact(void **state)
{
    (void)state;
    int kinds[8] = { 0 };
    if (RV_N_VECTORS == 0)
        fail_msg("no encodable test vectors found in %s (helper H1 writes tests/vectors)",
                 RV_VECTOR_DIR);
    for (int i = 0; i < RV_N_VECTORS; i++) {
        check_vector(&rv_vectors[i]);
        kinds[rv_vectors[i].kind]++;
    }
    print_message("%d vectors byte-exact (%d skipped: rejected-input or not node-sent kinds)\n",
                  RV_N_VECTORS, RV_N_SKIPPED);
    /* every kind the node sends is covered by at least one vector */
    assert_true(kinds[RV_VEC_RAW] > 0);
    assert_true(kinds[RV_VEC_COMPRESSED] > 0);
    assert_true(kinds[RV_VEC_VITALS] > 0);
    assert_true(kinds[RV_VEC_FEATURES] > 0);
    assert_true(kinds[RV_VEC_FEATURE_STATE] > 0);
    assert_true(kinds[RV_VEC_MESH] > 0);
}

static void test_crc32_matches_zlib(void **state)
{
    (void)state;
    assert_int_equal(rv_crc32(0, (const uint8_t *)"123456789", 9), 0xCBF43926u);
    assert_int_equal(rv_crc32(0, (const uint8_t *)"", 0), 0);
    /* incremental == one shot, like zlib.crc32(b, crc) */
    uint32_t c = rv_crc32(0, (const uint8_t *)"12345", 5);
    assert_int_equal(rv_crc32(c, (const uint8_t *)"6789", 4), 0xCBF43926u);
}

static void test_channel_freq(void **state)
{
    (void)state;
    assert_int_equal(rv_channel_freq_mhz(1), 2412);
    assert_int_equal(rv_channel_freq_mhz(6), 2437);
    assert_int_equal(rv_channel_freq_mhz(13), 2472);
    assert_int_equal(rv_channel_freq_mhz(14), 2484);
    assert_int_equal(rv_channel_freq_mhz(36), 5180);
    assert_int_equal(rv_channel_freq_mhz(177), 5885);
    assert_int_equal(rv_channel_freq_mhz(0), 0);
    assert_int_equal(rv_channel_freq_mhz(20), 0);
}

static void test_mesh_health_layout(void **state)
{
    (void)state;
    uint8_t b[64];
    rv_mesh_health_t h = { { 9, 0, 0, 0, 0, 0, 0, 0 }, 0x0102030405060708ull, 2, 11, 20, -90,
                           950, 12, 0x0003 };
    size_t n = rv_pkt_mesh_health(b, sizeof b, 1, 0, 77, &h);
    assert_int_equal(n, 48);
    assert_int_equal(rd_u32(b), RV_MAGIC_MESH);
    assert_int_equal(b[4], 1);
    assert_int_equal(b[5], RV_MESH_TYPE_HEALTH);
    assert_int_equal(b[6], 1);
    assert_int_equal(rd_u32(b + 8), 77);
    assert_int_equal(rd_u16(b + 12), 28);
    assert_int_equal(b[16], 9);
    assert_int_equal(rd_u32(b + 24), 0x05060708u);
    assert_int_equal(b[33], 11);
    assert_int_equal((int8_t)b[35], -90);
    assert_int_equal(rd_u16(b + 36), 950);
    assert_int_equal(rd_u32(b + 44), rv_crc32(0, b, 44));
    assert_int_equal(rv_pkt_mesh_health(b, 47, 1, 0, 77, &h), 0); /* too small: nothing */
    uint8_t big[300] = { 0 };
    assert_int_equal(rv_pkt_mesh(b, sizeof b, 7, 0, 0, 0, big, 257), 0);
}

static void test_vitals_feature_state_layout(void **state)
{
    (void)state;
    uint8_t b[64];
    rv_vitals_pkt_t v = { 3, 0x03, 1500, 720000, -60, 2, 0.25f, 0.5f, 123456, 0, 0 };
    assert_int_equal(rv_pkt_vitals(b, sizeof b, &v), 32);
    assert_int_equal(rd_u32(b), RV_MAGIC_VITALS);
    assert_int_equal(rd_u16(b + 6), 1500);
    assert_int_equal(rd_u32(b + 8), 720000);
    assert_int_equal((int8_t)b[12], -60);
    assert_int_equal(b[13], 2);
    assert_int_equal(b[14] | b[15] | b[28] | b[29] | b[30] | b[31], 0);
    assert_true(rd_f32(b + 16) == 0.25f);
    assert_true(rd_f32(b + 20) == 0.5f);
    assert_int_equal(rd_u32(b + 24), 123456);
    rv_state_pkt_t s = { 3, 2, 9, 1000000, 0.1f, 0.2f, 15.0f, 0.9f, 72.0f, 0.5f, 0, 0, 0, 7 };
    assert_int_equal(rv_pkt_feature_state(b, sizeof b, &s), 60);
    assert_int_equal(rd_u32(b + 56), rv_crc32(0, b, 56));
    assert_true(rd_f32(b + 24) == 15.0f);
    assert_int_equal(rd_u16(b + 52), 7);
    assert_int_equal(rd_u16(b + 54), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_byte_exact),
        cmocka_unit_test(test_crc32_matches_zlib),
        cmocka_unit_test(test_channel_freq),
        cmocka_unit_test(test_mesh_health_layout),
        cmocka_unit_test(test_vitals_feature_state_layout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
