/*
 * esp_pm (accepted, counted: no clocks to scale on the host) and the task watchdog
 * (esp_system/task_wdt/task_wdt.c): subscribed tasks/users must call esp_task_wdt_reset within
 * the timeout; the idle tasks of the cores in idle_core_mask feed it while the CPU is not
 * hogged. A miss prints IDF's report; with trigger_panic the node aborts (reset reason
 * task_wdt). The {"t":"fault","name":"hang"} link message makes a task stop feeding: the next
 * esp_task_wdt_reset caller blocks for good and core 0's idle task starves, as a spinning task
 * would cause.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "esp_log.h"
#include "esp_pm.h"
#include "esp_task_wdt.h"
#include "port.h"

/* ---- esp_pm --------------------------------------------------------------------------- */

struct esp_pm_lock { esp_pm_lock_type_t type; int count; };
static esp_pm_config_t s_pm;

esp_err_t esp_pm_configure(const void *config)
{
    if (config == NULL) return ESP_ERR_INVALID_ARG;
    const esp_pm_config_t *c = config;
    if (c->min_freq_mhz > c->max_freq_mhz) return ESP_ERR_INVALID_ARG;
    s_pm = *c;
    return ESP_OK;
}

esp_err_t esp_pm_get_configuration(void *config)
{
    if (config == NULL) return ESP_ERR_INVALID_ARG;
    memcpy(config, &s_pm, sizeof(s_pm));
    return ESP_OK;
}

esp_err_t esp_pm_lock_create(esp_pm_lock_type_t type, int arg, const char *name,
                             esp_pm_lock_handle_t *out)
{
    (void)arg;
    (void)name;
    if (out == NULL) return ESP_ERR_INVALID_ARG;
    struct esp_pm_lock *l = calloc(1, sizeof(*l));
    if (l == NULL) return ESP_ERR_NO_MEM;
    l->type = type;
    *out = l;
    return ESP_OK;
}

esp_err_t esp_pm_lock_acquire(esp_pm_lock_handle_t h)
{
    if (h == NULL) return ESP_ERR_INVALID_ARG;
    __atomic_add_fetch(&h->count, 1, __ATOMIC_RELAXED);
    return ESP_OK;
}

esp_err_t esp_pm_lock_release(esp_pm_lock_handle_t h)
{
    if (h == NULL) return ESP_ERR_INVALID_ARG;
    if (__atomic_load_n(&h->count, __ATOMIC_RELAXED) == 0) return ESP_ERR_INVALID_STATE;
    __atomic_sub_fetch(&h->count, 1, __ATOMIC_RELAXED);
    return ESP_OK;
}

esp_err_t esp_pm_lock_delete(esp_pm_lock_handle_t h)
{
    if (h == NULL) return ESP_ERR_INVALID_ARG;
    if (h->count != 0) return ESP_ERR_INVALID_STATE;
    free(h);
    return ESP_OK;
}

/* ---- task watchdog -------------------------------------------------------------------- */

#define MAX_WDT 16

typedef struct {
    bool used;
    TaskHandle_t task;       /* NULL for a user */
    char name[24];
    int64_t last_us;
} wdt_entry_t;

struct esp_task_wdt_user_handle_s { int index; };

static pthread_mutex_t s_wlock = PTHREAD_MUTEX_INITIALIZER;
static esp_task_wdt_config_t s_wcfg;
static bool s_winit;
static wdt_entry_t s_ent[MAX_WDT];
static struct esp_task_wdt_user_handle_s s_user_handles[MAX_WDT];
static int64_t s_idle_fed_us;
static atomic_bool s_hang;
static const char *TAG = "task_wdt";

static void *checker(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&s_wlock);
        uint32_t period_ms = s_winit ? s_wcfg.timeout_ms : 1000;
        pthread_mutex_unlock(&s_wlock);
        usleep((useconds_t)(period_ms > 400 ? period_ms / 4 : 100) * 1000u);
        pthread_mutex_lock(&s_wlock);
        if (!s_winit) {
            pthread_mutex_unlock(&s_wlock);
            continue;
        }
        int64_t now = port_now_us();
        int64_t limit = (int64_t)s_wcfg.timeout_ms * 1000;
        if (!atomic_load(&s_hang)) s_idle_fed_us = now;   /* idle tasks get CPU time */
        bool idle_late = (s_wcfg.idle_core_mask & 1u) && now - s_idle_fed_us > limit;
        bool late = idle_late;
        for (int i = 0; i < MAX_WDT; i++) {
            if (s_ent[i].used && now - s_ent[i].last_us > limit) late = true;
        }
        if (!late) {
            pthread_mutex_unlock(&s_wlock);
            continue;
        }
        ESP_LOGE(TAG, "Task watchdog got triggered. The following tasks/users did not reset the "
                 "watchdog in time:");
        if (idle_late) ESP_LOGE(TAG, " - IDLE0 (CPU 0)");
        for (int i = 0; i < MAX_WDT; i++) {
            if (s_ent[i].used && now - s_ent[i].last_us > limit) {
                ESP_LOGE(TAG, " - %s (%s)", s_ent[i].name, s_ent[i].task ? "CPU 0/1" : "user");
            }
        }
        ESP_LOGE(TAG, "Tasks currently running:");
        ESP_LOGE(TAG, "CPU 0: %s", atomic_load(&s_hang) ? "hung task" : "IDLE0");
        ESP_LOGE(TAG, "CPU 1: IDLE1");
        if (s_wcfg.trigger_panic) {
            ESP_LOGE(TAG, "Aborting.");
            port_panic("task_wdt", "abort() was called at PC 0x42000000 on core 0");
        }
        /* without panic the watchdog re-arms and reports again after another timeout */
        s_idle_fed_us = now;
        for (int i = 0; i < MAX_WDT; i++) s_ent[i].last_us = now;
        pthread_mutex_unlock(&s_wlock);
    }
    return NULL;
}

static void spawn_checker(void) { port_thread("task_wdt", checker, NULL); }

static void start_checker(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, spawn_checker);
}

esp_err_t esp_task_wdt_init(const esp_task_wdt_config_t *config)
{
    if (config == NULL || config->timeout_ms == 0) return ESP_ERR_INVALID_ARG;
    pthread_mutex_lock(&s_wlock);
    bool was = s_winit;
    if (!was) {
        s_wcfg = *config;
        s_winit = true;
        s_idle_fed_us = port_now_us();
    }
    pthread_mutex_unlock(&s_wlock);
    if (was) return ESP_ERR_INVALID_STATE;
    start_checker();
    return ESP_OK;
}

esp_err_t esp_task_wdt_reconfigure(const esp_task_wdt_config_t *config)
{
    if (config == NULL || config->timeout_ms == 0) return ESP_ERR_INVALID_ARG;
    pthread_mutex_lock(&s_wlock);
    bool ok = s_winit;
    if (ok) s_wcfg = *config;
    pthread_mutex_unlock(&s_wlock);
    return ok ? ESP_OK : ESP_ERR_INVALID_STATE;
}

esp_err_t esp_task_wdt_deinit(void)
{
    pthread_mutex_lock(&s_wlock);
    bool ok = s_winit;
    for (int i = 0; i < MAX_WDT; i++) ok = ok && !s_ent[i].used;
    if (ok) s_winit = false;
    pthread_mutex_unlock(&s_wlock);
    return ok ? ESP_OK : ESP_ERR_INVALID_STATE;
}

static esp_err_t add(TaskHandle_t task, const char *name, int *index)
{
    pthread_mutex_lock(&s_wlock);
    if (!s_winit) {
        pthread_mutex_unlock(&s_wlock);
        return ESP_ERR_INVALID_STATE;
    }
    for (int i = 0; i < MAX_WDT; i++) {
        if (s_ent[i].used && task != NULL && s_ent[i].task == task) {
            pthread_mutex_unlock(&s_wlock);
            return ESP_ERR_INVALID_ARG;   /* already subscribed */
        }
    }
    for (int i = 0; i < MAX_WDT; i++) {
        if (!s_ent[i].used) {
            s_ent[i] = (wdt_entry_t){ true, task, "", port_now_us() };
            snprintf(s_ent[i].name, sizeof(s_ent[i].name), "%s", name);
            if (index) *index = i;
            pthread_mutex_unlock(&s_wlock);
            return ESP_OK;
        }
    }
    pthread_mutex_unlock(&s_wlock);
    return ESP_ERR_NO_MEM;
}

esp_err_t esp_task_wdt_add(TaskHandle_t task)
{
    task = task != NULL ? task : xTaskGetCurrentTaskHandle();
    return add(task, pcTaskGetName(task), NULL);
}

esp_err_t esp_task_wdt_add_user(const char *name, esp_task_wdt_user_handle_t *out)
{
    if (name == NULL || out == NULL) return ESP_ERR_INVALID_ARG;
    int i;
    esp_err_t err = add(NULL, name, &i);
    if (err == ESP_OK) {
        s_user_handles[i].index = i;
        *out = &s_user_handles[i];
    }
    return err;
}

static esp_err_t feed(int index_or_neg, TaskHandle_t task)
{
    if (atomic_load(&s_hang)) {
        /* the "hang" fault: this task never returns to feed the watchdog again */
        for (;;) pause();
    }
    pthread_mutex_lock(&s_wlock);
    esp_err_t err = s_winit ? ESP_ERR_NOT_FOUND : ESP_ERR_INVALID_STATE;
    for (int i = 0; i < MAX_WDT && err == ESP_ERR_NOT_FOUND; i++) {
        if (s_ent[i].used && (index_or_neg >= 0 ? i == index_or_neg : s_ent[i].task == task)) {
            s_ent[i].last_us = port_now_us();
            err = ESP_OK;
        }
    }
    pthread_mutex_unlock(&s_wlock);
    return err;
}

esp_err_t esp_task_wdt_reset(void) { return feed(-1, xTaskGetCurrentTaskHandle()); }
esp_err_t esp_task_wdt_reset_user(esp_task_wdt_user_handle_t h)
{
    return h == NULL ? ESP_ERR_INVALID_ARG : feed(h->index, NULL);
}

static esp_err_t del(int index_or_neg, TaskHandle_t task)
{
    pthread_mutex_lock(&s_wlock);
    esp_err_t err = ESP_ERR_NOT_FOUND;
    for (int i = 0; i < MAX_WDT; i++) {
        if (s_ent[i].used && (index_or_neg >= 0 ? i == index_or_neg : s_ent[i].task == task)) {
            s_ent[i].used = false;
            err = ESP_OK;
        }
    }
    pthread_mutex_unlock(&s_wlock);
    return err;
}

esp_err_t esp_task_wdt_delete(TaskHandle_t task)
{
    return del(-1, task != NULL ? task : xTaskGetCurrentTaskHandle());
}
esp_err_t esp_task_wdt_delete_user(esp_task_wdt_user_handle_t h)
{
    return h == NULL ? ESP_ERR_INVALID_ARG : del(h->index, NULL);
}

esp_err_t esp_task_wdt_status(TaskHandle_t task)
{
    pthread_mutex_lock(&s_wlock);
    esp_err_t err = s_winit ? ESP_ERR_NOT_FOUND : ESP_ERR_INVALID_STATE;
    task = task != NULL ? task : xTaskGetCurrentTaskHandle();
    for (int i = 0; i < MAX_WDT; i++) {
        if (s_ent[i].used && s_ent[i].task == task) err = ESP_OK;
    }
    pthread_mutex_unlock(&s_wlock);
    return err;
}

/* esp_system startup (CONFIG_ESP_TASK_WDT_INIT): the watchdog runs before app_main. */
void wdt_startup(void)
{
#ifdef CONFIG_ESP_TASK_WDT_INIT
    esp_task_wdt_config_t c = {
        .timeout_ms = CONFIG_ESP_TASK_WDT_TIMEOUT_S * 1000,
#ifdef CONFIG_ESP_TASK_WDT_CHECK_IDLE_TASK_CPU0
        .idle_core_mask = 1,
#endif
#ifdef CONFIG_ESP_TASK_WDT_PANIC
        .trigger_panic = true,
#endif
    };
    esp_task_wdt_init(&c);
#endif
}

void wdt_on_fault(const char *name)
{
    if (strcmp(name, "hang") == 0) atomic_store(&s_hang, true);
}
