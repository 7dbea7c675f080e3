#include "reconnect_policy.h"

uint32_t rv_backoff_next(uint32_t current_ms)
{
    if (current_ms < RV_BACKOFF_FIRST_MS) {
        return RV_BACKOFF_FIRST_MS;
    }
    return current_ms >= RV_BACKOFF_MAX_MS / 2u ? RV_BACKOFF_MAX_MS : current_ms * 2u;
}
