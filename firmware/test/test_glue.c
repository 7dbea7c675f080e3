/*
 * The firmware's glue decisions (firmware/main: the policy files, csi_gate.c, ota_admission.c,
 * ota_auth.c, ota_crypto.c): the same sources the node compiles, run on the host under
 * ASan/UBSan. Expected MACs come from RFC 4231 and from contract A's message format, not from
 * the code under test.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "chan_policy.h"
#include "csi_gate.h"
#include "ota_admission.h"
#include "ota_auth.h"
#include "ota_crypto.h"
#include "reconnect_policy.h"
#include "rollback_policy.h"
#include "self_test_policy.h"

/* ---- defect 4: reconnect back-off ----------------------------------------------------- */

static void test_backoff_doubles_to_cap_and_never_stops(void **state)
{
    (void)state;
    uint32_t d = 0;
    const uint32_t want[] = {1000, 2000, 4000, 8000, 16000, 30000, 30000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        d = rv_backoff_next(d);
        assert_int_equal(d, want[i]);
    }
    for (int i = 0; i < 10000; i++) {   /* forever: never 0, never above the cap */
        d = rv_backoff_next(d);
        assert_int_equal(d, RV_BACKOFF_MAX_MS);
    }
}

/* ---- defect 3: channels and hopping ---------------------------------------------------- */

static void test_chan_list_keeps_1_to_14_only(void **state)
{
    (void)state;
    const uint8_t in[] = {1, 0, 6, 15, 14, 99, 11};
    uint8_t out[6];
    size_t ignored = 0;
    size_t n = rv_chan_list_filter(in, sizeof(in), out, sizeof(out), &ignored);
    assert_int_equal(n, 4);
    assert_int_equal(ignored, 3);
    const uint8_t want[] = {1, 6, 14, 11};
    assert_memory_equal(out, want, sizeof(want));
}

static void test_hop_needs_two_channels_and_dwell(void **state)
{
    (void)state;
    assert_int_equal(rv_hop_channels(3, 4, 200), 3);
    assert_int_equal(rv_hop_channels(6, 2, 200), 2);
    assert_int_equal(rv_hop_channels(6, 1, 200), 0);   /* all but one channel were invalid */
    assert_int_equal(rv_hop_channels(3, 3, 0), 0);
}

static void test_no_set_channel_while_scanning_or_connecting(void **state)
{
    (void)state;
    assert_false(rv_hop_allowed(RV_LINK_IDLE));
    assert_false(rv_hop_allowed(RV_LINK_CONNECTING));
    assert_true(rv_hop_allowed(RV_LINK_CONNECTED));
}

/* ---- defect 9: CSI rate gate ------------------------------------------------------------ */

static uint32_t admitted_in(rv_csi_gate_t *g, uint64_t start_us, uint64_t step_us, int n)
{
    uint32_t ok = 0;
    for (int i = 0; i < n; i++) {
        ok += rv_csi_gate_admit(g, start_us + (uint64_t)i * step_us) ? 1u : 0u;
    }
    return ok;
}

static void test_gate_thins_200hz_to_50hz_and_counts(void **state)
{
    (void)state;
    rv_csi_gate_t g;
    rv_csi_gate_init(&g, 50, 3);
    uint32_t ok = admitted_in(&g, 1000000, 5000, 2000);   /* 10 s at 200 Hz */
    assert_in_range(ok, 500, 503);                          /* 50 Hz (+ burst) */
    assert_int_equal(rv_csi_gate_dropped(&g), 2000 - ok);
}

static void test_gate_keeps_a_jittery_50hz_source_whole(void **state)
{
    (void)state;
    rv_csi_gate_t g;
    rv_csi_gate_init(&g, 50, 3);
    uint64_t t = 0;
    uint32_t ok = 0;
    for (int i = 0; i < 1000; i++) {
        t += (i % 2) ? 18000 : 22000;   /* 20 ms on average, +-2 ms */
        ok += rv_csi_gate_admit(&g, t) ? 1u : 0u;
    }
    assert_int_equal(ok, 1000);
    assert_int_equal(rv_csi_gate_dropped(&g), 0);
}

static void test_gate_zero_means_off(void **state)
{
    (void)state;
    rv_csi_gate_t g;
    rv_csi_gate_init(&g, 0, 1);
    assert_int_equal(admitted_in(&g, 0, 1, 100), 100);
}

/* ---- defects 6, 7 + contract A: admission ---------------------------------------------- */

static rv_ota_request_t good_request(void)
{
    rv_ota_request_t r;
    memset(&r, 0, sizeof(r));
    r.psk_set = true;
    r.scheme = RV_AUTH_HMAC;
    r.has_length = true;
    r.length = 100000;
    r.digest_ok = true;
    r.nonce_ok = true;
    r.mac_ok = true;
    r.have_slot = true;
    r.slot_size = 0x200000;
    return r;
}

static const char *code_of(const rv_ota_request_t *r)
{
    return rv_ota_answer(rv_ota_admit(r))->code;
}

static void test_admission_answers(void **state)
{
    (void)state;
    rv_ota_request_t r = good_request();
    assert_int_equal(rv_ota_admit(&r), RV_OTA_ADMIT);

    r = good_request(); r.psk_set = false;        assert_string_equal(code_of(&r), "ota_disabled");
    r = good_request(); r.scheme = RV_AUTH_BEARER; assert_string_equal(code_of(&r), "auth_scheme");
    r = good_request(); r.scheme = RV_AUTH_NONE;   assert_string_equal(code_of(&r), "auth");
    r = good_request(); r.scheme = RV_AUTH_MALFORMED; assert_string_equal(code_of(&r), "auth");
    r = good_request(); r.chunked = true;  assert_string_equal(code_of(&r), "length_required");
    r = good_request(); r.has_length = false; assert_string_equal(code_of(&r), "length_required");
    r = good_request(); r.digest_ok = false; assert_string_equal(code_of(&r), "bad_digest_header");
    r = good_request(); r.nonce_ok = false; assert_string_equal(code_of(&r), "nonce");
    r = good_request(); r.mac_ok = false;   assert_string_equal(code_of(&r), "auth");
    r = good_request(); r.rebooting = true; assert_string_equal(code_of(&r), "rebooting");
    r = good_request(); r.busy = true;      assert_string_equal(code_of(&r), "busy");
    r = good_request(); r.pending_verify = true;
    assert_string_equal(code_of(&r), "pending_verify");
    assert_int_equal(rv_ota_answer(rv_ota_admit(&r))->status, 409);
    r = good_request(); r.length = 0;       assert_string_equal(code_of(&r), "empty");
    r = good_request(); r.length = 0x200001; assert_string_equal(code_of(&r), "too_large");
    r = good_request(); r.have_slot = false; assert_string_equal(code_of(&r), "write_failed");
}

static void test_unauthenticated_client_learns_no_state(void **state)
{
    (void)state;
    rv_ota_request_t r = good_request();
    r.mac_ok = false;
    r.pending_verify = r.busy = r.rebooting = true;
    assert_string_equal(code_of(&r), "auth");
    r = good_request();
    r.nonce_ok = false;
    r.pending_verify = true;
    assert_string_equal(code_of(&r), "nonce");
}

static void test_refused_body_drain_is_bounded(void **state)
{
    (void)state;
    bool close_after = false;
    assert_int_equal(rv_ota_drain_bytes(false, true, 1000, &close_after), 1000);
    assert_false(close_after);
    assert_int_equal(rv_ota_drain_bytes(false, true, RV_OTA_DRAIN_MAX, &close_after),
                     RV_OTA_DRAIN_MAX);
    assert_false(close_after);
    /* a whole slot (2 MB) is not read on the single httpd task: close instead */
    assert_int_equal(rv_ota_drain_bytes(false, true, 0x200000, &close_after), 0);
    assert_true(close_after);
    assert_int_equal(rv_ota_drain_bytes(true, false, 10, &close_after), 0);
    assert_true(close_after);
}

/* ---- contract A: Authorization parsing, message, nonce ----------------------------------- */

#define NONCE "00112233445566778899aabbccddeeff"
#define MAC64 "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"

static void test_auth_header_parsing(void **state)
{
    (void)state;
    rv_hmac_auth_t a;
    assert_int_equal(rv_auth_parse(NULL, &a), RV_AUTH_NONE);
    assert_int_equal(rv_auth_parse("Bearer secret", &a), RV_AUTH_BEARER);
    assert_int_equal(rv_auth_parse("Basic eHh4", &a), RV_AUTH_MALFORMED);
    assert_int_equal(rv_auth_parse("RV-HMAC-SHA256 nonce=" NONCE ", mac=" MAC64, &a),
                     RV_AUTH_HMAC);
    assert_string_equal(a.nonce, NONCE);
    assert_int_equal(a.mac[0], 0x0f);
    assert_int_equal(a.mac[31], 0xf0);
    assert_int_equal(rv_auth_parse("RV-HMAC-SHA256 nonce=" NONCE ",mac=" MAC64, &a),
                     RV_AUTH_HMAC);
    /* uppercase hex, short values, trailing junk, swapped order */
    assert_int_equal(rv_auth_parse("RV-HMAC-SHA256 nonce=00112233445566778899AABBCCDDEEFF, mac="
                                   MAC64, &a), RV_AUTH_MALFORMED);
    assert_int_equal(rv_auth_parse("RV-HMAC-SHA256 nonce=0011, mac=" MAC64, &a),
                     RV_AUTH_MALFORMED);
    assert_int_equal(rv_auth_parse("RV-HMAC-SHA256 nonce=" NONCE ", mac=" MAC64 "00", &a),
                     RV_AUTH_MALFORMED);
    assert_int_equal(rv_auth_parse("RV-HMAC-SHA256 mac=" MAC64 ", nonce=" NONCE, &a),
                     RV_AUTH_MALFORMED);
}

static void test_mac_message_is_contract_a(void **state)
{
    (void)state;
    char msg[RV_MAC_MSG_MAX];
    const char *sha = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    size_t n = rv_ota_mac_message(msg, sizeof(msg), NONCE, sha, 1048576);
    const char *want = "ruview-ota-v1\n" NONCE "\n"
                       "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n1048576";
    assert_string_equal(msg, want);
    assert_int_equal(n, strlen(want));
    assert_int_equal(rv_ota_mac_message(msg, sizeof(msg), "XYZ", sha, 1), 0);
    assert_int_equal(rv_ota_mac_message(msg, 20, NONCE, sha, 1), 0);
}

static void test_nonce_single_use_and_expiry(void **state)
{
    (void)state;
    rv_nonce_store_t s;
    memset(&s, 0, sizeof(s));
    uint8_t raw[RV_NONCE_BYTES];
    for (int i = 0; i < RV_NONCE_BYTES; i++) {
        raw[i] = (uint8_t)(i * 17);
    }
    assert_false(rv_nonce_take(&s, NONCE, 0));             /* none issued */
    rv_nonce_issue(&s, raw, 1000);
    assert_string_equal(s.hex, "00112233445566778899aabbccddeeff");
    assert_true(rv_nonce_take(&s, s.hex, 2000));
    assert_false(rv_nonce_take(&s, "00112233445566778899aabbccddeeff", 3000));   /* used */

    rv_nonce_issue(&s, raw, 0);
    assert_false(rv_nonce_take(&s, "ffffffffffffffffffffffffffffffff", 1));     /* wrong: */
    assert_false(rv_nonce_take(&s, "00112233445566778899aabbccddeeff", 2));      /* consumed */

    rv_nonce_issue(&s, raw, 0);
    assert_false(rv_nonce_take(&s, "00112233445566778899aabbccddeeff",
                               (uint64_t)RV_NONCE_TTL_S * 1000000u));           /* expired */

    raw[0] = 0xAA;   /* a new nonce replaces the outstanding one */
    rv_nonce_issue(&s, raw, 0);
    assert_false(rv_nonce_take(&s, "00112233445566778899aabbccddeeff", 1));
}

/* ---- crypto: RFC 4231 and FIPS 180-2 vectors ---------------------------------------------- */

static void hex_of(const uint8_t *d, size_t n, char *out)
{
    rv_hex_encode(d, n, out);
}

static void test_hmac_sha256_rfc4231(void **state)
{
    (void)state;
    uint8_t key[20];
    memset(key, 0x0b, sizeof(key));
    uint8_t mac[32];
    char hex[65];
    assert_true(rv_hmac_sha256(key, sizeof(key), (const uint8_t *)"Hi There", 8, mac));
    hex_of(mac, 32, hex);   /* RFC 4231 test case 1 */
    assert_string_equal(hex, "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_true(rv_hmac_sha256((const uint8_t *)"Jefe", 4,
                               (const uint8_t *)"what do ya want for nothing?", 28, mac));
    hex_of(mac, 32, hex);   /* test case 2 */
    assert_string_equal(hex, "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void test_sha256_streaming(void **state)
{
    (void)state;
    rv_sha256_t h;
    rv_sha256_begin(&h);
    rv_sha256_update(&h, "a", 1);
    rv_sha256_update(&h, "bc", 2);
    uint8_t d[32];
    char hex[65];
    assert_true(rv_sha256_finish(&h, d));
    hex_of(d, 32, hex);     /* FIPS 180-2 "abc" */
    assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

/* ---- defect 10: rollback capability --------------------------------------------------------- */

static void test_rollback_capable(void **state)
{
    (void)state;
    rv_rollback_facts_t f = { .app_rollback_enabled = true, .bootloader_desc_found = true,
                              .bootloader_version = RV_BOOTLOADER_ROLLBACK_MARK };
    assert_true(rv_rollback_capable(&f));                 /* our bootloader (ruview flash) */
    f.bootloader_version = 1;                             /* IDF default: someone else's */
    assert_false(rv_rollback_capable(&f));
    f.bootloader_desc_found = false;                      /* pre-5.2 bootloader (0.6.x) */
    assert_false(rv_rollback_capable(&f));
    f.running_pending = true;                             /* it did NEW -> PENDING_VERIFY */
    assert_true(rv_rollback_capable(&f));
    f.running_pending = false;
    f.running_new = true;                                 /* it left NEW alone */
    f.bootloader_desc_found = true;
    f.bootloader_version = RV_BOOTLOADER_ROLLBACK_MARK;
    assert_false(rv_rollback_capable(&f));
    f.running_new = false;
    f.app_rollback_enabled = false;                       /* app never asks for a check */
    assert_false(rv_rollback_capable(&f));
}

/* ---- defect 5: self-test checks the HTTP/OTA server ---------------------------------------- */

static void test_selftest_requires_http_server(void **state)
{
    (void)state;
    const rv_selftest_limits_t lim = { .timeout_ms = 60000, .min_csi_frames = 20,
                                       .min_udp_ok = 10 };
    rv_selftest_obs_t obs = { .elapsed_ms = 1000, .wifi_up = true, .csi_frames = 50,
                              .udp_ok = 50, .telemetry_enabled = true, .http_ok = true };
    assert_int_equal(rv_selftest_decide(&lim, &obs), RV_SELFTEST_PASS);
    obs.http_ok = false;
    assert_int_equal(rv_selftest_decide(&lim, &obs), RV_SELFTEST_WAIT);
    assert_string_equal(rv_selftest_missing(&lim, &obs), "http");
    obs.elapsed_ms = 60000;
    assert_int_equal(rv_selftest_decide(&lim, &obs), RV_SELFTEST_FAIL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_backoff_doubles_to_cap_and_never_stops),
        cmocka_unit_test(test_chan_list_keeps_1_to_14_only),
        cmocka_unit_test(test_hop_needs_two_channels_and_dwell),
        cmocka_unit_test(test_no_set_channel_while_scanning_or_connecting),
        cmocka_unit_test(test_gate_thins_200hz_to_50hz_and_counts),
        cmocka_unit_test(test_gate_keeps_a_jittery_50hz_source_whole),
        cmocka_unit_test(test_gate_zero_means_off),
        cmocka_unit_test(test_admission_answers),
        cmocka_unit_test(test_unauthenticated_client_learns_no_state),
        cmocka_unit_test(test_refused_body_drain_is_bounded),
        cmocka_unit_test(test_auth_header_parsing),
        cmocka_unit_test(test_mac_message_is_contract_a),
        cmocka_unit_test(test_nonce_single_use_and_expiry),
        cmocka_unit_test(test_hmac_sha256_rfc4231),
        cmocka_unit_test(test_sha256_streaming),
        cmocka_unit_test(test_rollback_capable),
        cmocka_unit_test(test_selftest_requires_http_server),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
