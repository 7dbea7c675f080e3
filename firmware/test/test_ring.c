/* SPSC ring: order, overflow drops counted, and a real two-thread producer/consumer run. */
#include <pthread.h>
#include <stdatomic.h>

#include "test_common.h"
#include "rv_ring.h"

static rv_ring_t ring;

static void test_order_and_overflow(void **state)
{
    (void)state;
    rv_ring_init(&ring);
    int8_t iq[128];
    rv_frame_t f = { iq, 128, 1, -50, -90, 6, 0 };
    rv_frame_t g;
    assert_false(rv_ring_peek(&ring, &g));
    for (int i = 0; i < RV_RING_SLOTS + 3; i++) {
        memset(iq, i, sizeof iq);
        f.timestamp_us = (uint64_t)i;
        bool ok = rv_ring_push(&ring, &f);
        assert_int_equal(ok, i < RV_RING_SLOTS);
    }
    assert_int_equal(rv_ring_take_dropped(&ring), 3);
    assert_int_equal(rv_ring_take_dropped(&ring), 0);
    for (int i = 0; i < RV_RING_SLOTS; i++) {
        assert_true(rv_ring_peek(&ring, &g));
        assert_int_equal(g.timestamp_us, (uint64_t)i);
        assert_int_equal(g.iq_len, 128);
        assert_int_equal(g.iq[5], i); /* the slot holds a copy */
        rv_ring_release(&ring);
    }
    assert_false(rv_ring_peek(&ring, &g));
    rv_ring_release(&ring); /* releasing an empty ring is harmless */
    assert_false(rv_ring_peek(&ring, &g));
    /* invalid frames are refused and counted */
    f.iq_len = RV_MAX_IQ_BYTES + 1;
    assert_false(rv_ring_push(&ring, &f));
    f.iq_len = 0;
    assert_false(rv_ring_push(&ring, &f));
    assert_false(rv_ring_push(&ring, NULL));
    assert_int_equal(rv_ring_take_dropped(&ring), 3);
}

#define N_FRAMES 200000
static atomic_int producer_done;

static void *producer(void *arg)
{
    (void)arg;
    int8_t iq[64];
    rv_frame_t f = { iq, 64, 1, -50, -90, 6, 0 };
    for (int i = 1; i <= N_FRAMES; i++) {
        memset(iq, (int8_t)i, sizeof iq);
        f.timestamp_us = (uint64_t)i;
        rv_ring_push(&ring, &f);
    }
    atomic_store(&producer_done, 1);
    return NULL;
}

static void test_two_threads(void **state)
{
    (void)state;
    rv_ring_init(&ring);
    atomic_store(&producer_done, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, producer, NULL), 0);
    uint64_t last = 0, received = 0;
    rv_frame_t g;
    for (;;) {
        if (rv_ring_peek(&ring, &g)) {
            assert_true(g.timestamp_us > last);         /* in order, no duplicates */
            for (int i = 0; i < 64; i++)                /* never a torn slot */
                assert_int_equal(g.iq[i], (int8_t)g.timestamp_us);
            last = g.timestamp_us;
            received++;
            rv_ring_release(&ring);
        } else if (atomic_load(&producer_done) && !rv_ring_peek(&ring, &g)) {
            break;
        }
    }
    pthread_join(th, NULL);
    uint64_t dropped = rv_ring_take_dropped(&ring);
    assert_int_equal(received + dropped, N_FRAMES); /* every frame received or counted */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_and_overflow),
        cmocka_unit_test(test_two_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
