#include "self_test_policy.h"

const char *rv_selftest_missing(const rv_selftest_limits_t *lim, const rv_selftest_obs_t *obs)
{
    if (!obs->http_ok) {
        return "http";
    }
    if (!obs->wifi_up) {
        return "wifi";
    }
    if (obs->csi_frames < lim->min_csi_frames) {
        return "csi";
    }
    if (obs->telemetry_enabled && obs->udp_ok < lim->min_udp_ok) {
        return "udp";
    }
    return "";
}

rv_selftest_verdict_t rv_selftest_decide(const rv_selftest_limits_t *lim,
                                         const rv_selftest_obs_t *obs)
{
    if (rv_selftest_missing(lim, obs)[0] == '\0') {
        return RV_SELFTEST_PASS;
    }
    return obs->elapsed_ms >= lim->timeout_ms ? RV_SELFTEST_FAIL : RV_SELFTEST_WAIT;
}
