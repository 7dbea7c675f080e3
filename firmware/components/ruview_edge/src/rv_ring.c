/* SPSC frame ring. head/tail are free-running counters; the producer publishes a slot with a
 * release store of head, the consumer frees it with a release store of tail. */
#include "rv_ring.h"

#include <string.h>

void rv_ring_init(rv_ring_t *r)
{
    atomic_init(&r->head, 0u);
    atomic_init(&r->tail, 0u);
    atomic_init(&r->dropped, 0u);
}

bool rv_ring_push(rv_ring_t *r, const rv_frame_t *f)
{
    uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (!f || !f->iq || f->iq_len == 0 || f->iq_len > RV_MAX_IQ_BYTES ||
        head - tail >= RV_RING_SLOTS) {
        atomic_fetch_add_explicit(&r->dropped, 1u, memory_order_relaxed);
        return false;
    }
    rv_ring_slot_t *s = &r->slot[head & (RV_RING_SLOTS - 1u)];
    s->timestamp_us = f->timestamp_us;
    s->iq_len = f->iq_len;
    s->n_antennas = f->n_antennas;
    s->rssi = f->rssi;
    s->noise_floor = f->noise_floor;
    s->channel = f->channel;
    memcpy(s->iq, f->iq, f->iq_len);
    atomic_store_explicit(&r->head, head + 1u, memory_order_release);
    return true;
}

bool rv_ring_peek(rv_ring_t *r, rv_frame_t *f)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (head == tail)
        return false;
    const rv_ring_slot_t *s = &r->slot[tail & (RV_RING_SLOTS - 1u)];
    f->iq = s->iq;
    f->iq_len = s->iq_len;
    f->n_antennas = s->n_antennas;
    f->rssi = s->rssi;
    f->noise_floor = s->noise_floor;
    f->channel = s->channel;
    f->timestamp_us = s->timestamp_us;
    return true;
}

void rv_ring_release(rv_ring_t *r)
{
    uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (head != tail)
        atomic_store_explicit(&r->tail, tail + 1u, memory_order_release);
}

uint32_t rv_ring_take_dropped(rv_ring_t *r)
{
    return atomic_exchange_explicit(&r->dropped, 0u, memory_order_relaxed);
}
