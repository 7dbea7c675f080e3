/* One task that fires due timers in deadline order: the esp_timer task and FreeRTOS's timer
 * service task both work this way (callbacks run one at a time, on that task). */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "port.h"

struct tsvc {
    pthread_mutex_t m;
    pthread_cond_t c;
    tsvc_timer_t *head;      /* sorted by due_us */
};

static void unlink_timer(tsvc_t *s, tsvc_timer_t *t)
{
    for (tsvc_timer_t **pp = &s->head; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->next = NULL;
}

static void insert_timer(tsvc_t *s, tsvc_timer_t *t)
{
    tsvc_timer_t **pp = &s->head;
    while (*pp != NULL && (*pp)->due_us <= t->due_us) pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
}

static void *tsvc_task(void *arg)
{
    tsvc_t *s = arg;
    pthread_mutex_lock(&s->m);
    for (;;) {
        if (s->head == NULL) {
            pthread_cond_wait(&s->c, &s->m);
            continue;
        }
        int64_t now = port_now_us();
        tsvc_timer_t *t = s->head;
        if (t->due_us > now) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            int64_t wait = t->due_us - now;
            ts.tv_sec += (time_t)(wait / 1000000);
            ts.tv_nsec += (long)(wait % 1000000) * 1000;
            if (ts.tv_nsec >= 1000000000L) { ts.tv_sec++; ts.tv_nsec -= 1000000000L; }
            pthread_cond_timedwait(&s->c, &s->m, &ts);
            continue;
        }
        s->head = t->next;
        t->next = NULL;
        if (t->period_us > 0) {
            t->due_us += (int64_t)t->period_us;
            if (t->due_us < now) t->due_us = now;   /* skip missed periods, as a busy chip */
            insert_timer(s, t);
        } else {
            t->armed = false;
        }
        pthread_mutex_unlock(&s->m);
        t->fire(t);
        pthread_mutex_lock(&s->m);
    }
    return NULL;
}

tsvc_t *tsvc_create(const char *task_name)
{
    tsvc_t *s = calloc(1, sizeof(*s));
    pthread_mutex_init(&s->m, NULL);
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(&s->c, &a);
    port_thread(task_name, tsvc_task, s);
    return s;
}

void tsvc_arm(tsvc_t *s, tsvc_timer_t *t, uint64_t delay_us, uint64_t period_us)
{
    pthread_mutex_lock(&s->m);
    if (t->armed) unlink_timer(s, t);
    t->due_us = port_now_us() + (int64_t)delay_us;
    t->period_us = period_us;
    t->armed = true;
    insert_timer(s, t);
    pthread_cond_signal(&s->c);
    pthread_mutex_unlock(&s->m);
}

bool tsvc_disarm(tsvc_t *s, tsvc_timer_t *t)
{
    pthread_mutex_lock(&s->m);
    bool was = t->armed;
    if (was) unlink_timer(s, t);
    t->armed = false;
    pthread_mutex_unlock(&s->m);
    return was;
}

bool tsvc_is_armed(tsvc_t *s, tsvc_timer_t *t)
{
    pthread_mutex_lock(&s->m);
    bool a = t->armed;
    pthread_mutex_unlock(&s->m);
    return a;
}
