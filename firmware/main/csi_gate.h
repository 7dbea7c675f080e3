/*
 * Early CSI rate gate, run first thing in the CSI callback (WiFi task, core 0): a token bucket
 * of `burst` frames refilled at `max_hz`. RuView 0.6.x drops callbacks above 50 Hz in the
 * callback because a faster stream starves core 0; a bucket (rather than a minimum gap) keeps
 * a 50 Hz source with timing jitter whole. A few integer operations, no lock: one producer.
 * The drop counter is atomic because the HTTP task reads it for /ota/status.
 */
#ifndef RV_CSI_GATE_H
#define RV_CSI_GATE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
    uint64_t interval_us;   /* 1e6 / max_hz */
    uint64_t cap_us;        /* burst * interval_us */
    uint64_t credit_us;     /* time credit; one frame costs interval_us */
    uint64_t last_us;
    bool     started;
    atomic_uint dropped;
} rv_csi_gate_t;

/* max_hz 0 disables the gate (everything admitted). burst >= 1. */
void rv_csi_gate_init(rv_csi_gate_t *g, uint32_t max_hz, uint32_t burst);
/* true: process this frame; false: drop it (counted). Called by the single producer. */
bool rv_csi_gate_admit(rv_csi_gate_t *g, uint64_t now_us);
/* Frames dropped by the gate since init (any thread). */
uint32_t rv_csi_gate_dropped(rv_csi_gate_t *g);

#endif
