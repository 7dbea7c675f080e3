/*
 * Lock-free single-producer / single-consumer ring of CSI frames (C11 atomics).
 *
 * The producer is the WiFi driver's CSI callback (must not block or allocate): it copies the
 * frame into a fixed slot; when the ring is full the frame is dropped and counted. The consumer
 * (the DSP task) reads the oldest slot in place, processes it, releases it, and reports drops to
 * rv_edge_note_loss() via rv_ring_take_dropped().
 */
#ifndef RV_RING_H
#define RV_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "ruview_edge.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef RV_RING_SLOTS
#define RV_RING_SLOTS 4            /* power of two; 4 x ~2 KB */
#endif

typedef struct {
    uint64_t timestamp_us;
    uint16_t iq_len;
    uint8_t  n_antennas;
    int8_t   rssi;
    int8_t   noise_floor;
    uint8_t  channel;
    int8_t   iq[RV_MAX_IQ_BYTES];
} rv_ring_slot_t;

typedef struct {
    _Atomic uint32_t head;        /* written by the producer only */
    _Atomic uint32_t tail;        /* written by the consumer only */
    _Atomic uint32_t dropped;     /* frames dropped since the last rv_ring_take_dropped */
    rv_ring_slot_t slot[RV_RING_SLOTS];
} rv_ring_t;

void rv_ring_init(rv_ring_t *r);
/* Producer: copy the frame in. false (and counted as dropped) when the ring is full or the frame
 * is invalid (iq_len 0 or > RV_MAX_IQ_BYTES, NULL iq). */
bool rv_ring_push(rv_ring_t *r, const rv_frame_t *f);
/* Consumer: view of the oldest frame (f->iq points into the slot), false when empty. The slot
 * stays owned by the consumer until rv_ring_release(). */
bool rv_ring_peek(rv_ring_t *r, rv_frame_t *f);
void rv_ring_release(rv_ring_t *r);
/* Consumer: frames dropped since the last call (atomically reset to 0). */
uint32_t rv_ring_take_dropped(rv_ring_t *r);

#ifdef __cplusplus
}
#endif

#endif /* RV_RING_H */
