/* esp_timer: high-resolution timers whose callbacks run on the "esp_timer" task. Return codes
 * follow esp_timer/src/esp_timer.c (start of a running timer: ESP_ERR_INVALID_STATE; stop of a
 * stopped one: ESP_ERR_INVALID_STATE). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "esp_timer.h"
#include "port.h"

struct esp_timer {
    tsvc_timer_t base;       /* first: the service hands it back */
    esp_timer_cb_t cb;
    void *arg;
    char name[24];
};

static tsvc_t *s_svc;
static pthread_once_t s_once = PTHREAD_ONCE_INIT;
static void svc_init(void) { s_svc = tsvc_create("esp_timer"); }

static void fire(tsvc_timer_t *b)
{
    struct esp_timer *t = (struct esp_timer *)b;
    t->cb(t->arg);
}

int64_t esp_timer_get_time(void)
{
    return port_now_us();
}

esp_err_t esp_timer_create(const esp_timer_create_args_t *args, esp_timer_handle_t *out)
{
    if (args == NULL || args->callback == NULL || out == NULL) return ESP_ERR_INVALID_ARG;
    pthread_once(&s_once, svc_init);
    struct esp_timer *t = calloc(1, sizeof(*t));
    if (t == NULL) return ESP_ERR_NO_MEM;
    t->cb = args->callback;
    t->arg = args->arg;
    t->base.fire = fire;
    strncpy(t->name, args->name ? args->name : "", sizeof(t->name) - 1);
    *out = t;
    return ESP_OK;
}

static esp_err_t start(esp_timer_handle_t t, uint64_t us, uint64_t period)
{
    if (t == NULL) return ESP_ERR_INVALID_ARG;
    if (tsvc_is_armed(s_svc, &t->base)) return ESP_ERR_INVALID_STATE;
    tsvc_arm(s_svc, &t->base, us, period);
    return ESP_OK;
}

esp_err_t esp_timer_start_once(esp_timer_handle_t t, uint64_t us) { return start(t, us, 0); }
esp_err_t esp_timer_start_periodic(esp_timer_handle_t t, uint64_t period)
{
    return start(t, period, period);
}

esp_err_t esp_timer_restart(esp_timer_handle_t t, uint64_t us)
{
    if (t == NULL) return ESP_ERR_INVALID_ARG;
    if (!tsvc_is_armed(s_svc, &t->base)) return ESP_ERR_INVALID_STATE;
    uint64_t period = t->base.period_us ? us : 0;
    tsvc_arm(s_svc, &t->base, us, period);
    return ESP_OK;
}

esp_err_t esp_timer_stop(esp_timer_handle_t t)
{
    if (t == NULL) return ESP_ERR_INVALID_ARG;
    return tsvc_disarm(s_svc, &t->base) ? ESP_OK : ESP_ERR_INVALID_STATE;
}

esp_err_t esp_timer_delete(esp_timer_handle_t t)
{
    if (t == NULL) return ESP_ERR_INVALID_ARG;
    if (tsvc_is_armed(s_svc, &t->base)) return ESP_ERR_INVALID_STATE;
    free(t);
    return ESP_OK;
}

bool esp_timer_is_active(esp_timer_handle_t t)
{
    return t != NULL && tsvc_is_armed(s_svc, &t->base);
}

int64_t esp_timer_get_next_alarm(void)
{
    return INT64_MAX;
}
