/*
 * FreeRTOS tasks, notifications, queues, semaphores, event groups and timers on pthreads.
 * Priorities and core affinity are recorded, not enforced (the host scheduler decides); what
 * the firmware can observe (blocking, timeouts, wake-ups, FIFO order) behaves as FreeRTOS.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "freertos/FreeRTOS.h"
#include "freertos/event_groups.h"
#include "freertos/queue.h"
#include "freertos/semphr.h"
#include "freertos/task.h"
#include "freertos/timers.h"
#include "port.h"

/* Host threads need more than a chip task for libc (printf alone uses a few KB); only touched
 * pages count towards the resident size. */
#define HOST_STACK_EXTRA (48 * 1024)

struct rtos_task {
    pthread_t th;
    char name[16];
    TaskFunction_t fn;
    void *arg;
    UBaseType_t prio;
    BaseType_t core;
    uint32_t stack_bytes;
    pthread_mutex_t m;
    pthread_cond_t c;
    uint32_t notify_value;
    bool notify_pending;
};

static __thread struct rtos_task *t_self;
static struct timespec s_boot;
static pthread_mutex_t s_crit = PTHREAD_MUTEX_INITIALIZER;   /* made recursive at init */
static pthread_condattr_t s_mono;

int64_t port_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)(ts.tv_sec - s_boot.tv_sec) * 1000000 + (ts.tv_nsec - s_boot.tv_nsec) / 1000;
}

static void cond_init(pthread_cond_t *c)
{
    pthread_cond_init(c, &s_mono);
}

/* Absolute CLOCK_MONOTONIC deadline `ticks` from now; false for portMAX_DELAY. */
static bool deadline(TickType_t ticks, struct timespec *ts)
{
    if (ticks == portMAX_DELAY) return false;
    clock_gettime(CLOCK_MONOTONIC, ts);
    uint64_t ns = (uint64_t)ticks * (1000000000ull / configTICK_RATE_HZ);
    ts->tv_sec += (time_t)(ns / 1000000000ull);
    ts->tv_nsec += (long)(ns % 1000000000ull);
    if (ts->tv_nsec >= 1000000000L) {
        ts->tv_sec++;
        ts->tv_nsec -= 1000000000L;
    }
    return true;
}

/* Wait on c until pred() or the deadline; returns pred(). */
#define WAIT_UNTIL(c, m, has_dl, ts, pred) ({                                    \
        int rc_ = 0;                                                             \
        while (!(pred) && rc_ != ETIMEDOUT) {                                    \
            rc_ = (has_dl) ? pthread_cond_timedwait(c, m, ts) : pthread_cond_wait(c, m); \
        }                                                                        \
        (pred);                                                                  \
    })

void freertos_port_init(void)
{
    clock_gettime(CLOCK_MONOTONIC, &s_boot);
    pthread_condattr_init(&s_mono);
    pthread_condattr_setclock(&s_mono, CLOCK_MONOTONIC);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&s_crit, &a);
}

void vPortEnterCritical(portMUX_TYPE *mux)
{
    (void)mux;
    pthread_mutex_lock(&s_crit);
}

void vPortExitCritical(portMUX_TYPE *mux)
{
    (void)mux;
    pthread_mutex_unlock(&s_crit);
}

void sched_yield_host(void)
{
    sched_yield();
}

/* ---- tasks ---------------------------------------------------------------------------- */

static struct rtos_task *task_new(const char *name, uint32_t stack, UBaseType_t prio,
                                  BaseType_t core)
{
    struct rtos_task *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    strncpy(t->name, name != NULL ? name : "", sizeof(t->name) - 1);
    t->stack_bytes = stack;
    t->prio = prio;
    t->core = core;
    pthread_mutex_init(&t->m, NULL);
    cond_init(&t->c);
    return t;
}

static void *task_entry(void *p)
{
    t_self = p;
    t_self->fn(t_self->arg);
    /* FreeRTOS: a task function must not return (the port asserts); IDF aborts. */
    port_panic("panic", "E (%lu) FreeRTOS: FreeRTOS Task \"%s\" should not return, Aborting now!",
               (unsigned long)(port_now_us() / 1000), t_self->name);
}

static pthread_t spawn(void *(*fn)(void *), void *arg, size_t stack)
{
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, stack + HOST_STACK_EXTRA);
    pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
    pthread_t th;
    int rc = pthread_create(&th, &a, fn, arg);
    pthread_attr_destroy(&a);
    if (rc != 0) {
        port_panic("panic", "pthread_create: %s", strerror(rc));
    }
    return th;
}

BaseType_t xTaskCreatePinnedToCore(TaskFunction_t fn, const char *name, uint32_t stack_bytes,
                                   void *arg, UBaseType_t prio, TaskHandle_t *out,
                                   BaseType_t core)
{
    struct rtos_task *t = task_new(name, stack_bytes, prio, core);
    if (t == NULL) return pdFAIL;   /* errCOULD_NOT_ALLOCATE_REQUIRED_MEMORY */
    t->fn = fn;
    t->arg = arg;
    if (out != NULL) *out = t;   /* before the task runs: it may be notified at once */
    t->th = spawn(task_entry, t, stack_bytes);
    return pdPASS;
}

struct port_thread_args { void *(*fn)(void *); void *arg; struct rtos_task *t; };

static void *port_thread_entry(void *p)
{
    struct port_thread_args a = *(struct port_thread_args *)p;
    free(p);
    t_self = a.t;
    return a.fn(a.arg);
}

void port_thread(const char *name, void *(*fn)(void *), void *arg)
{
    struct port_thread_args *a = malloc(sizeof(*a));
    a->fn = fn;
    a->arg = arg;
    a->t = task_new(name, 4096, 20, 0);
    a->t->th = spawn(port_thread_entry, a, 4096);
}

void task_run_main(void (*fn)(void))
{
    /* cpu_start runs app_main on the "main" task and deletes the task when it returns. */
    t_self = task_new("main", CONFIG_ESP_MAIN_TASK_STACK_SIZE, 1, 0);
    t_self->th = pthread_self();
    fn();
    /* The chip deletes the main task here; the host keeps the thread (parked) so the process
     * leader stays alive for ps and /proc. */
    for (;;) pause();
}

void vTaskDelete(TaskHandle_t task)
{
    if (task == NULL || task == t_self) {
        pthread_exit(NULL);
    }
    pthread_cancel(task->th);
}

void vTaskDelay(TickType_t ticks)
{
    struct timespec ts = { (time_t)(ticks / configTICK_RATE_HZ),
                           (long)(ticks % configTICK_RATE_HZ) * (1000000000L / configTICK_RATE_HZ) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {}
}

TickType_t xTaskGetTickCount(void)
{
    return (TickType_t)((uint64_t)port_now_us() * configTICK_RATE_HZ / 1000000ull);
}

TickType_t xTaskGetTickCountFromISR(void) { return xTaskGetTickCount(); }

BaseType_t xTaskDelayUntil(TickType_t *prev, TickType_t increment)
{
    TickType_t next = *prev + increment;
    TickType_t now = xTaskGetTickCount();
    *prev = next;
    if ((int32_t)(next - now) > 0) {
        vTaskDelay(next - now);
        return pdTRUE;
    }
    return pdFALSE;
}

void vTaskDelayUntil(TickType_t *prev, TickType_t increment) { (void)xTaskDelayUntil(prev, increment); }

TaskHandle_t xTaskGetCurrentTaskHandle(void) { return t_self; }
char *pcTaskGetName(TaskHandle_t task)
{
    task = task != NULL ? task : t_self;
    return task != NULL ? task->name : (char *)"?";
}
UBaseType_t uxTaskGetStackHighWaterMark(TaskHandle_t task)
{
    task = task != NULL ? task : t_self;
    return task != NULL ? task->stack_bytes / 2 : 0;
}
UBaseType_t uxTaskPriorityGet(TaskHandle_t task) { return (task ? task : t_self)->prio; }
void vTaskPrioritySet(TaskHandle_t task, UBaseType_t prio) { (task ? task : t_self)->prio = prio; }
BaseType_t xTaskGetCoreID(TaskHandle_t task) { return (task ? task : t_self)->core; }

void vTaskSuspend(TaskHandle_t task)
{
    if (task == NULL || task == t_self) {
        /* Suspending oneself: block until vTaskResume (a notification stands in). */
        pthread_mutex_lock(&t_self->m);
        while (!t_self->notify_pending) pthread_cond_wait(&t_self->c, &t_self->m);
        t_self->notify_pending = false;
        pthread_mutex_unlock(&t_self->m);
    }
}

void vTaskResume(TaskHandle_t task)
{
    (void)xTaskNotifyGive(task);
}

/* ---- notifications -------------------------------------------------------------------- */

uint32_t ulTaskNotifyTake(BaseType_t clear_on_exit, TickType_t ticks)
{
    struct rtos_task *t = t_self;
    struct timespec ts;
    bool dl = deadline(ticks, &ts);
    pthread_mutex_lock(&t->m);
    if (ticks != 0) {
        WAIT_UNTIL(&t->c, &t->m, dl, &ts, t->notify_value != 0);
    }
    uint32_t v = t->notify_value;
    if (v != 0) t->notify_value = clear_on_exit ? 0 : v - 1;
    pthread_mutex_unlock(&t->m);
    return v;
}

BaseType_t xTaskNotify(TaskHandle_t t, uint32_t value, eNotifyAction action)
{
    BaseType_t ret = pdPASS;
    pthread_mutex_lock(&t->m);
    switch (action) {
    case eSetBits: t->notify_value |= value; break;
    case eIncrement: t->notify_value++; break;
    case eSetValueWithOverwrite: t->notify_value = value; break;
    case eSetValueWithoutOverwrite:
        if (t->notify_pending) ret = pdFAIL; else t->notify_value = value;
        break;
    default: break;
    }
    t->notify_pending = true;
    pthread_cond_broadcast(&t->c);
    pthread_mutex_unlock(&t->m);
    return ret;
}

BaseType_t xTaskNotifyGive(TaskHandle_t task) { return xTaskNotify(task, 0, eIncrement); }
void vTaskNotifyGiveFromISR(TaskHandle_t task, BaseType_t *woken)
{
    xTaskNotifyGive(task);
    if (woken) *woken = pdFALSE;
}
BaseType_t xTaskNotifyFromISR(TaskHandle_t task, uint32_t value, eNotifyAction action,
                              BaseType_t *woken)
{
    if (woken) *woken = pdFALSE;
    return xTaskNotify(task, value, action);
}

BaseType_t xTaskNotifyWait(uint32_t clear_on_entry, uint32_t clear_on_exit, uint32_t *value,
                           TickType_t ticks)
{
    struct rtos_task *t = t_self;
    struct timespec ts;
    bool dl = deadline(ticks, &ts);
    pthread_mutex_lock(&t->m);
    if (!t->notify_pending) t->notify_value &= ~clear_on_entry;
    bool got = ticks == 0 ? t->notify_pending : WAIT_UNTIL(&t->c, &t->m, dl, &ts, t->notify_pending);
    if (value) *value = t->notify_value;
    if (got) {
        t->notify_value &= ~clear_on_exit;
        t->notify_pending = false;
    }
    pthread_mutex_unlock(&t->m);
    return got ? pdTRUE : pdFALSE;
}

/* ---- queues --------------------------------------------------------------------------- */

struct rtos_queue {
    pthread_mutex_t m;
    pthread_cond_t can_recv, can_send;
    UBaseType_t len, size, head, count;
    uint8_t *buf;
};

QueueHandle_t xQueueCreate(UBaseType_t length, UBaseType_t item_size)
{
    struct rtos_queue *q = calloc(1, sizeof(*q));
    if (q == NULL) return NULL;
    q->buf = calloc(length ? length : 1, item_size ? item_size : 1);
    q->len = length;
    q->size = item_size;
    pthread_mutex_init(&q->m, NULL);
    cond_init(&q->can_recv);
    cond_init(&q->can_send);
    return q;
}

void vQueueDelete(QueueHandle_t q)
{
    if (q == NULL) return;
    free(q->buf);
    free(q);
}

static BaseType_t q_put(QueueHandle_t q, const void *item, TickType_t ticks, bool front,
                        bool overwrite)
{
    struct timespec ts;
    bool dl = deadline(ticks, &ts);
    pthread_mutex_lock(&q->m);
    if (overwrite && q->count == q->len) {
        q->count = 0;   /* xQueueOverwrite: queues of length 1 */
    }
    bool room = ticks == 0 ? q->count < q->len
                           : WAIT_UNTIL(&q->can_send, &q->m, dl, &ts, q->count < q->len);
    if (room) {
        UBaseType_t slot;
        if (front) {
            q->head = (q->head + q->len - 1) % q->len;
            slot = q->head;
        } else {
            slot = (q->head + q->count) % q->len;
        }
        memcpy(q->buf + (size_t)slot * q->size, item, q->size);
        q->count++;
        pthread_cond_signal(&q->can_recv);
    }
    pthread_mutex_unlock(&q->m);
    return room ? pdPASS : errQUEUE_FULL;
}

BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t ticks)
{
    return q_put(q, item, ticks, false, false);
}
BaseType_t xQueueSendToFront(QueueHandle_t q, const void *item, TickType_t ticks)
{
    return q_put(q, item, ticks, true, false);
}
BaseType_t xQueueOverwrite(QueueHandle_t q, const void *item) { return q_put(q, item, 0, false, true); }

static BaseType_t q_get(QueueHandle_t q, void *item, TickType_t ticks, bool peek)
{
    struct timespec ts;
    bool dl = deadline(ticks, &ts);
    pthread_mutex_lock(&q->m);
    bool have = ticks == 0 ? q->count > 0 : WAIT_UNTIL(&q->can_recv, &q->m, dl, &ts, q->count > 0);
    if (have) {
        memcpy(item, q->buf + (size_t)q->head * q->size, q->size);
        if (!peek) {
            q->head = (q->head + 1) % q->len;
            q->count--;
            pthread_cond_signal(&q->can_send);
        }
    }
    pthread_mutex_unlock(&q->m);
    return have ? pdPASS : errQUEUE_EMPTY;
}

BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t ticks) { return q_get(q, item, ticks, false); }
BaseType_t xQueuePeek(QueueHandle_t q, void *item, TickType_t ticks) { return q_get(q, item, ticks, true); }

UBaseType_t uxQueueMessagesWaiting(QueueHandle_t q)
{
    pthread_mutex_lock(&q->m);
    UBaseType_t n = q->count;
    pthread_mutex_unlock(&q->m);
    return n;
}

UBaseType_t uxQueueSpacesAvailable(QueueHandle_t q) { return q->len - uxQueueMessagesWaiting(q); }

BaseType_t xQueueReset(QueueHandle_t q)
{
    pthread_mutex_lock(&q->m);
    q->count = 0;
    q->head = 0;
    pthread_cond_broadcast(&q->can_send);
    pthread_mutex_unlock(&q->m);
    return pdPASS;
}

/* ---- semaphores and mutexes ----------------------------------------------------------- */

struct rtos_sem {
    pthread_mutex_t m;
    pthread_cond_t c;
    UBaseType_t count, max;
    bool is_mutex;
    struct rtos_task *holder;
    UBaseType_t depth;
};

static SemaphoreHandle_t sem_new(UBaseType_t max, UBaseType_t initial, bool is_mutex)
{
    struct rtos_sem *s = calloc(1, sizeof(*s));
    if (s == NULL) return NULL;
    pthread_mutex_init(&s->m, NULL);
    cond_init(&s->c);
    s->max = max;
    s->count = initial;
    s->is_mutex = is_mutex;
    return s;
}

SemaphoreHandle_t xSemaphoreCreateMutex(void) { return sem_new(1, 1, true); }
SemaphoreHandle_t xSemaphoreCreateRecursiveMutex(void) { return sem_new(1, 1, true); }
SemaphoreHandle_t xSemaphoreCreateBinary(void) { return sem_new(1, 0, false); }
SemaphoreHandle_t xSemaphoreCreateCounting(UBaseType_t max, UBaseType_t initial)
{
    return sem_new(max, initial, false);
}
void vSemaphoreDelete(SemaphoreHandle_t s) { free(s); }

BaseType_t xSemaphoreTake(SemaphoreHandle_t s, TickType_t ticks)
{
    struct timespec ts;
    bool dl = deadline(ticks, &ts);
    pthread_mutex_lock(&s->m);
    bool got = ticks == 0 ? s->count > 0 : WAIT_UNTIL(&s->c, &s->m, dl, &ts, s->count > 0);
    if (got) {
        s->count--;
        s->holder = t_self;
    }
    pthread_mutex_unlock(&s->m);
    return got ? pdTRUE : pdFALSE;
}

BaseType_t xSemaphoreGive(SemaphoreHandle_t s)
{
    pthread_mutex_lock(&s->m);
    bool ok = s->count < s->max && (!s->is_mutex || s->holder == t_self);
    if (ok) {
        s->count++;
        s->holder = NULL;
        pthread_cond_signal(&s->c);
    }
    pthread_mutex_unlock(&s->m);
    return ok ? pdTRUE : pdFALSE;
}

BaseType_t xSemaphoreTakeRecursive(SemaphoreHandle_t s, TickType_t ticks)
{
    pthread_mutex_lock(&s->m);
    if (s->holder == t_self && s->count == 0) {
        s->depth++;
        pthread_mutex_unlock(&s->m);
        return pdTRUE;
    }
    pthread_mutex_unlock(&s->m);
    BaseType_t r = xSemaphoreTake(s, ticks);
    if (r == pdTRUE) s->depth = 1;
    return r;
}

BaseType_t xSemaphoreGiveRecursive(SemaphoreHandle_t s)
{
    pthread_mutex_lock(&s->m);
    if (s->holder != t_self) {
        pthread_mutex_unlock(&s->m);
        return pdFALSE;
    }
    if (--s->depth > 0) {
        pthread_mutex_unlock(&s->m);
        return pdTRUE;
    }
    pthread_mutex_unlock(&s->m);
    return xSemaphoreGive(s);
}

UBaseType_t uxSemaphoreGetCount(SemaphoreHandle_t s) { return s->count; }

/* ---- event groups --------------------------------------------------------------------- */

struct rtos_evgroup { pthread_mutex_t m; pthread_cond_t c; EventBits_t bits; };

EventGroupHandle_t xEventGroupCreate(void)
{
    struct rtos_evgroup *g = calloc(1, sizeof(*g));
    if (g == NULL) return NULL;
    pthread_mutex_init(&g->m, NULL);
    cond_init(&g->c);
    return g;
}

void vEventGroupDelete(EventGroupHandle_t g) { free(g); }

EventBits_t xEventGroupSetBits(EventGroupHandle_t g, EventBits_t bits)
{
    pthread_mutex_lock(&g->m);
    g->bits |= bits;
    EventBits_t r = g->bits;
    pthread_cond_broadcast(&g->c);
    pthread_mutex_unlock(&g->m);
    return r;
}

EventBits_t xEventGroupClearBits(EventGroupHandle_t g, EventBits_t bits)
{
    pthread_mutex_lock(&g->m);
    EventBits_t r = g->bits;
    g->bits &= ~bits;
    pthread_mutex_unlock(&g->m);
    return r;
}

EventBits_t xEventGroupGetBits(EventGroupHandle_t g) { return g->bits; }

EventBits_t xEventGroupWaitBits(EventGroupHandle_t g, EventBits_t bits, BaseType_t clear,
                                BaseType_t all, TickType_t ticks)
{
    struct timespec ts;
    bool dl = deadline(ticks, &ts);
    pthread_mutex_lock(&g->m);
#define EG_OK (all ? (g->bits & bits) == bits : (g->bits & bits) != 0)
    bool ok = ticks == 0 ? EG_OK : WAIT_UNTIL(&g->c, &g->m, dl, &ts, EG_OK);
#undef EG_OK
    EventBits_t r = g->bits;
    if (ok && clear) g->bits &= ~bits;
    pthread_mutex_unlock(&g->m);
    return r;
}

/* ---- software timers: the "Tmr Svc" task --------------------------------------------- */

struct rtos_timer {
    tsvc_timer_t base;       /* first: the service hands it back */
    char name[16];
    TickType_t period;
    bool reload;
    void *id;
    TimerCallbackFunction_t cb;
};

static tsvc_t *s_tmr_svc;
static pthread_once_t s_tmr_once = PTHREAD_ONCE_INIT;
static void tmr_svc_init(void) { s_tmr_svc = tsvc_create("Tmr Svc"); }

static void timer_fire(tsvc_timer_t *b)
{
    struct rtos_timer *t = (struct rtos_timer *)b;
    t->cb(t);
}

TimerHandle_t xTimerCreate(const char *name, TickType_t period, UBaseType_t auto_reload,
                           void *id, TimerCallbackFunction_t cb)
{
    pthread_once(&s_tmr_once, tmr_svc_init);
    struct rtos_timer *t = calloc(1, sizeof(*t));
    if (t == NULL) return NULL;
    strncpy(t->name, name ? name : "", sizeof(t->name) - 1);
    t->period = period;
    t->reload = auto_reload != 0;
    t->id = id;
    t->cb = cb;
    t->base.fire = timer_fire;
    return t;
}

static uint64_t ticks_us(TickType_t t) { return (uint64_t)t * 1000000ull / configTICK_RATE_HZ; }

BaseType_t xTimerStart(TimerHandle_t t, TickType_t ticks)
{
    (void)ticks;
    tsvc_arm(s_tmr_svc, &t->base, ticks_us(t->period), t->reload ? ticks_us(t->period) : 0);
    return pdPASS;
}
BaseType_t xTimerReset(TimerHandle_t t, TickType_t ticks) { return xTimerStart(t, ticks); }
BaseType_t xTimerStop(TimerHandle_t t, TickType_t ticks)
{
    (void)ticks;
    tsvc_disarm(s_tmr_svc, &t->base);
    return pdPASS;
}
BaseType_t xTimerChangePeriod(TimerHandle_t t, TickType_t period, TickType_t ticks)
{
    t->period = period;
    return xTimerStart(t, ticks);
}
BaseType_t xTimerDelete(TimerHandle_t t, TickType_t ticks)
{
    xTimerStop(t, ticks);
    free(t);
    return pdPASS;
}
BaseType_t xTimerIsTimerActive(TimerHandle_t t) { return tsvc_is_armed(s_tmr_svc, &t->base); }
void *pvTimerGetTimerID(TimerHandle_t t) { return t->id; }
