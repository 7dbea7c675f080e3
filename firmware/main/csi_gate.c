#include "csi_gate.h"

void rv_csi_gate_init(rv_csi_gate_t *g, uint32_t max_hz, uint32_t burst)
{
    g->interval_us = max_hz > 0 ? 1000000u / max_hz : 0;
    g->cap_us = g->interval_us * (burst > 0 ? burst : 1u);
    g->credit_us = g->cap_us;
    g->last_us = 0;
    g->started = false;
    atomic_init(&g->dropped, 0u);
}

bool rv_csi_gate_admit(rv_csi_gate_t *g, uint64_t now_us)
{
    if (g->interval_us == 0) {
        return true;
    }
    if (g->started && now_us > g->last_us) {
        uint64_t credit = g->credit_us + (now_us - g->last_us);
        g->credit_us = credit < g->cap_us ? credit : g->cap_us;
    }
    g->started = true;
    g->last_us = now_us;
    if (g->credit_us >= g->interval_us) {
        g->credit_us -= g->interval_us;
        return true;
    }
    atomic_fetch_add_explicit(&g->dropped, 1u, memory_order_relaxed);
    return false;
}

uint32_t rv_csi_gate_dropped(rv_csi_gate_t *g)
{
    return atomic_load_explicit(&g->dropped, memory_order_relaxed);
}
