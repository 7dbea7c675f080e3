/* Configuration table and validation (PROTOCOL.md §2), including IPv4 parsing edge cases. */
#include "test_common.h"

typedef struct {
    const char *ns, *key;
    rv_nvs_type_t type;
} expect_key_t;

/* every key of PROTOCOL.md §2 with its NVS type */
static const expect_key_t protocol_keys[] = {
    { "csi_cfg", "edge_tier", RV_NVS_U8 },    { "csi_cfg", "pres_thresh", RV_NVS_U16 },
    { "csi_cfg", "fall_thresh", RV_NVS_U16 }, { "csi_cfg", "vital_win", RV_NVS_U16 },
    { "csi_cfg", "vital_int", RV_NVS_U16 },   { "csi_cfg", "subk_count", RV_NVS_U8 },
    { "csi_cfg", "ssid", RV_NVS_STR },        { "csi_cfg", "password", RV_NVS_STR },
    { "csi_cfg", "target_ip", RV_NVS_STR },   { "csi_cfg", "target_port", RV_NVS_U16 },
    { "csi_cfg", "node_id", RV_NVS_U8 },      { "csi_cfg", "tdm_slot", RV_NVS_U8 },
    { "csi_cfg", "tdm_nodes", RV_NVS_U8 },    { "csi_cfg", "hop_count", RV_NVS_U8 },
    { "csi_cfg", "chan_list", RV_NVS_BLOB },  { "csi_cfg", "dwell_ms", RV_NVS_U32 },
    { "csi_cfg", "power_duty", RV_NVS_U8 },   { "csi_cfg", "csi_channel", RV_NVS_U8 },
    { "csi_cfg", "filter_mac", RV_NVS_BLOB }, { "csi_cfg", "wasm_max", RV_NVS_U8 },
    { "csi_cfg", "wasm_verify", RV_NVS_U8 },  { "csi_cfg", "wasm_pubkey", RV_NVS_BLOB },
    { "csi_cfg", "seed_url", RV_NVS_STR },    { "csi_cfg", "seed_token", RV_NVS_STR },
    { "csi_cfg", "zone_name", RV_NVS_STR },   { "csi_cfg", "swarm_hb", RV_NVS_U16 },
    { "csi_cfg", "swarm_ingest", RV_NVS_U16 }, { "security", "ota_psk", RV_NVS_STR },
};

static void test_every_protocol_key_in_table(void **state)
{
    (void)state;
    size_t n_table = 0;
    for (const rv_nvs_key_t *k = rv_nvs_keys; k->key; k++) {
        n_table++;
        assert_true(strlen(k->key) <= 15);
        assert_true(k->min <= k->max);
        if (k->type != RV_NVS_STR && k->type != RV_NVS_BLOB)
            assert_true(rv_nvs_int_valid(k, k->def)); /* the default itself is valid */
    }
    for (size_t i = 0; i < sizeof protocol_keys / sizeof protocol_keys[0]; i++) {
        const rv_nvs_key_t *k = rv_nvs_find(protocol_keys[i].ns, protocol_keys[i].key);
        if (!k)
            fail_msg("key %s/%s missing from rv_nvs_keys", protocol_keys[i].ns,
                     protocol_keys[i].key);
        assert_int_equal(k->type, protocol_keys[i].type);
    }
    assert_int_equal(n_table, sizeof protocol_keys / sizeof protocol_keys[0]);
}

static void test_find(void **state)
{
    (void)state;
    assert_null(rv_nvs_find("csi_cfg", "nope"));
    assert_null(rv_nvs_find("security", "ssid"));   /* right key, wrong namespace */
    assert_null(rv_nvs_find(NULL, "ssid"));
    assert_null(rv_nvs_find("csi_cfg", NULL));
    assert_non_null(rv_nvs_find("security", "ota_psk"));
}

static void test_defaults_match_table(void **state)
{
    (void)state;
    rv_edge_cfg_t c;
    rv_edge_cfg_defaults(&c);
    assert_int_equal(c.edge_tier, rv_nvs_find("csi_cfg", "edge_tier")->def);
    assert_int_equal(c.pres_thresh, rv_nvs_find("csi_cfg", "pres_thresh")->def);
    assert_int_equal(c.fall_thresh, rv_nvs_find("csi_cfg", "fall_thresh")->def);
    assert_int_equal(c.vital_win, rv_nvs_find("csi_cfg", "vital_win")->def);
    assert_int_equal(c.vital_int, rv_nvs_find("csi_cfg", "vital_int")->def);
    assert_int_equal(c.subk_count, rv_nvs_find("csi_cfg", "subk_count")->def);
    assert_int_equal(c.node_id, rv_nvs_find("csi_cfg", "node_id")->def);
    assert_int_equal(c.edge_tier, 2);
    assert_int_equal(c.vital_win, 256);
    assert_int_equal(c.vital_int, 1000);
    assert_int_equal(c.subk_count, 8);
    assert_int_equal(c.pres_thresh, 0);
    assert_int_equal(rv_nvs_find("csi_cfg", "target_port")->def, 5005);
}

static void test_int_ranges(void **state)
{
    (void)state;
    const rv_nvs_key_t *k;
    k = rv_nvs_find("csi_cfg", "edge_tier");
    assert_true(rv_nvs_int_valid(k, 0));
    assert_true(rv_nvs_int_valid(k, 2));
    assert_false(rv_nvs_int_valid(k, 3));
    k = rv_nvs_find("csi_cfg", "vital_win");
    assert_false(rv_nvs_int_valid(k, 31));
    assert_true(rv_nvs_int_valid(k, 32));
    assert_true(rv_nvs_int_valid(k, 256));
    assert_false(rv_nvs_int_valid(k, 257));
    k = rv_nvs_find("csi_cfg", "vital_int");
    assert_false(rv_nvs_int_valid(k, 99));
    assert_true(rv_nvs_int_valid(k, 100));
    assert_true(rv_nvs_int_valid(k, 10000));
    assert_false(rv_nvs_int_valid(k, 10001));
    k = rv_nvs_find("csi_cfg", "subk_count");
    assert_false(rv_nvs_int_valid(k, 0));
    assert_true(rv_nvs_int_valid(k, 32));
    assert_false(rv_nvs_int_valid(k, 33));
    k = rv_nvs_find("csi_cfg", "fall_thresh");
    assert_false(rv_nvs_int_valid(k, 0));
    assert_true(rv_nvs_int_valid(k, 65535));
    assert_false(rv_nvs_int_valid(k, 65536)); /* beyond the u16 the node reads */
    k = rv_nvs_find("csi_cfg", "pres_thresh");
    assert_true(rv_nvs_int_valid(k, 0));
    k = rv_nvs_find("csi_cfg", "node_id");
    assert_true(rv_nvs_int_valid(k, 255));
    assert_false(rv_nvs_int_valid(k, 256));
    k = rv_nvs_find("csi_cfg", "hop_count");
    assert_false(rv_nvs_int_valid(k, 0));
    assert_true(rv_nvs_int_valid(k, 6));
    assert_false(rv_nvs_int_valid(k, 7));
    k = rv_nvs_find("csi_cfg", "dwell_ms");
    assert_false(rv_nvs_int_valid(k, 9));
    assert_true(rv_nvs_int_valid(k, 10));
    assert_true(rv_nvs_int_valid(k, 0xFFFFFFFFu));
    k = rv_nvs_find("csi_cfg", "power_duty");
    assert_false(rv_nvs_int_valid(k, 9));
    assert_true(rv_nvs_int_valid(k, 100));
    assert_false(rv_nvs_int_valid(k, 101));
    k = rv_nvs_find("csi_cfg", "wasm_max");
    assert_false(rv_nvs_int_valid(k, 0));
    assert_false(rv_nvs_int_valid(k, 9));
    k = rv_nvs_find("csi_cfg", "csi_channel");
    assert_true(rv_nvs_int_valid(k, 0));    /* follow the AP */
    assert_true(rv_nvs_int_valid(k, 14));
    assert_false(rv_nvs_int_valid(k, 15));
    assert_false(rv_nvs_int_valid(k, 35));
    assert_true(rv_nvs_int_valid(k, 36));
    assert_true(rv_nvs_int_valid(k, 177));
    assert_false(rv_nvs_int_valid(k, 178));
    k = rv_nvs_find("csi_cfg", "target_port");
    assert_false(rv_nvs_int_valid(k, 0));
    assert_true(rv_nvs_int_valid(k, 65535));
    /* a string key is never a valid integer, an integer key never a valid length */
    assert_false(rv_nvs_int_valid(rv_nvs_find("csi_cfg", "ssid"), 5));
    assert_false(rv_nvs_len_valid(rv_nvs_find("csi_cfg", "node_id"), 1));
    assert_false(rv_nvs_int_valid(NULL, 0));
    assert_false(rv_nvs_len_valid(NULL, 0));
}

static void test_len_ranges(void **state)
{
    (void)state;
    const rv_nvs_key_t *k = rv_nvs_find("csi_cfg", "ssid");
    assert_false(rv_nvs_len_valid(k, 0));
    assert_true(rv_nvs_len_valid(k, 32));
    assert_false(rv_nvs_len_valid(k, 33));
    k = rv_nvs_find("csi_cfg", "password");
    assert_true(rv_nvs_len_valid(k, 0)); /* open network */
    assert_true(rv_nvs_len_valid(k, 64));
    assert_false(rv_nvs_len_valid(k, 65));
    k = rv_nvs_find("csi_cfg", "target_ip");
    assert_true(rv_nvs_len_valid(k, 15));
    assert_false(rv_nvs_len_valid(k, 16));
    k = rv_nvs_find("csi_cfg", "filter_mac");
    assert_false(rv_nvs_len_valid(k, 5));
    assert_true(rv_nvs_len_valid(k, 6));
    assert_false(rv_nvs_len_valid(k, 7));
    k = rv_nvs_find("csi_cfg", "wasm_pubkey");
    assert_true(rv_nvs_len_valid(k, 32));
    assert_false(rv_nvs_len_valid(k, 31));
    k = rv_nvs_find("csi_cfg", "chan_list");
    assert_false(rv_nvs_len_valid(k, 0));
    assert_true(rv_nvs_len_valid(k, 6));
    assert_false(rv_nvs_len_valid(k, 7));
    k = rv_nvs_find("csi_cfg", "zone_name");
    assert_true(rv_nvs_len_valid(k, 15));
    assert_false(rv_nvs_len_valid(k, 16));
    k = rv_nvs_find("csi_cfg", "seed_url");
    assert_true(rv_nvs_len_valid(k, 63));
    assert_false(rv_nvs_len_valid(k, 64));
    k = rv_nvs_find("security", "ota_psk");
    assert_false(rv_nvs_len_valid(k, 0));
    assert_true(rv_nvs_len_valid(k, 64));
    assert_false(rv_nvs_len_valid(k, 65));
}

static void test_ipv4_good(void **state)
{
    (void)state;
    uint8_t ip[4];
    assert_true(rv_ipv4_parse("192.168.1.20", ip));
    assert_memory_equal(ip, ((uint8_t[]){ 192, 168, 1, 20 }), 4);
    assert_true(rv_ipv4_parse("0.0.0.0", ip));
    assert_memory_equal(ip, ((uint8_t[]){ 0, 0, 0, 0 }), 4);
    assert_true(rv_ipv4_parse("255.255.255.255", ip));
    assert_memory_equal(ip, ((uint8_t[]){ 255, 255, 255, 255 }), 4);
    assert_true(rv_ipv4_parse("10.0.0.1", NULL)); /* out may be NULL */
}

static void test_ipv4_bad(void **state)
{
    (void)state;
    static const char *bad[] = {
        "", ".", "1.2.3", "1.2.3.", "1.2.3.4.", "1.2.3.4.5", "256.1.1.1", "1.2.3.256",
        " 1.2.3.4", "1.2.3.4 ", "1.2.3.4\n", "01.2.3.4", "1.02.3.4", "1..2.3", "a.b.c.d",
        "1.2.3.4x", "x1.2.3.4", "1234.1.1.1", "+1.2.3.4", "1.2.3.-4", "192.168.001.001",
        "0x1.2.3.4", "1,2,3,4", "999.999.999.999", "1.2.3.4/24", "1.2.3.4:5005",
        "localhost", "::1",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t ip[4] = { 9, 9, 9, 9 };
        if (rv_ipv4_parse(bad[i], ip))
            fail_msg("accepted invalid IPv4 \"%s\"", bad[i]);
        assert_memory_equal(ip, ((uint8_t[]){ 9, 9, 9, 9 }), 4); /* untouched on failure */
    }
    assert_false(rv_ipv4_parse(NULL, NULL));
}

static void test_init_clamps(void **state)
{
    (void)state;
    static rv_edge_t e;
    rv_edge_cfg_t c;
    rv_edge_cfg_defaults(&c);
    c.edge_tier = 9;
    c.vital_win = 10;
    c.vital_int = 50000;
    c.subk_count = 0;
    c.fall_thresh = 0;
    rv_edge_init(&e, &c);
    assert_int_equal(e.cfg.edge_tier, 2);
    assert_int_equal(e.cfg.vital_win, 32);
    assert_int_equal(e.cfg.vital_int, 10000);
    assert_int_equal(e.cfg.subk_count, 1);
    assert_int_equal(e.cfg.fall_thresh, 1);
    assert_int_equal(rv_edge_state_size(), sizeof(rv_edge_t));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_protocol_key_in_table),
        cmocka_unit_test(test_find),
        cmocka_unit_test(test_defaults_match_table),
        cmocka_unit_test(test_int_ranges),
        cmocka_unit_test(test_len_ranges),
        cmocka_unit_test(test_ipv4_good),
        cmocka_unit_test(test_ipv4_bad),
        cmocka_unit_test(test_init_clamps),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
