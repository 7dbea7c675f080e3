/*
 * The post-OTA self-test verdict as a pure function (no ESP-IDF header; host-tested).
 * self_test.c feeds it observations and acts on the verdict.
 */
#ifndef RV_SELF_TEST_POLICY_H
#define RV_SELF_TEST_POLICY_H

#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint32_t timeout_ms;       /* give up (roll back) after this long */
    uint32_t min_csi_frames;   /* CSI callbacks seen since boot */
    uint32_t min_udp_ok;       /* datagrams sent successfully since boot */
} rv_selftest_limits_t;

typedef struct {
    uint32_t elapsed_ms;       /* since the self-test started */
    bool     wifi_up;          /* associated and holding an IPv4 address now */
    uint32_t csi_frames;
    uint32_t udp_ok;
    bool     telemetry_enabled;/* false when target_ip is invalid: UDP cannot be judged */
    bool     http_ok;          /* the HTTP/OTA server started: without it the node could only
                                  be recovered over USB once marked valid */
} rv_selftest_obs_t;

typedef enum {
    RV_SELFTEST_WAIT = 0,      /* not yet conclusive: look again later */
    RV_SELFTEST_PASS = 1,      /* mark the app valid */
    RV_SELFTEST_FAIL = 2,      /* roll back to the previous app */
} rv_selftest_verdict_t;

/* PASS as soon as every condition holds; FAIL once timeout_ms has elapsed without that;
 * WAIT otherwise. With telemetry disabled by configuration the UDP condition is waived:
 * the configuration is the same before and after the update, so it says nothing about the
 * new image. */
rv_selftest_verdict_t rv_selftest_decide(const rv_selftest_limits_t *lim,
                                         const rv_selftest_obs_t *obs);

/* Human-readable name of the first unmet condition ("http", "wifi", "csi", "udp") or "" when
 * all hold;
 * for the log line that explains a rollback. */
const char *rv_selftest_missing(const rv_selftest_limits_t *lim, const rv_selftest_obs_t *obs);

/* Attempts of esp_ota_mark_app_valid_cancel_rollback() before giving up (the app then stays
 * pending; the next reset rolls back). */
#define RV_SELFTEST_MARK_VALID_TRIES 3

#endif
