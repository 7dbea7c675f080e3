/* The default event loop (esp_event): a "sys_evt" task delivering posted events, in order, to
 * the handlers registered for their base and id (ESP_EVENT_ANY_BASE / ESP_EVENT_ANY_ID too). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "esp_event.h"
#include "freertos/queue.h"
#include "freertos/task.h"
#include "port.h"

#define MAX_HANDLERS 32
#define QUEUE_LEN 32
#define MAX_DATA 128

typedef struct {
    esp_event_base_t base;
    int32_t id;
    esp_event_handler_t fn;
    void *arg;
    bool used;
} handler_t;

typedef struct {
    esp_event_base_t base;
    int32_t id;
    size_t size;
    uint8_t data[MAX_DATA];
} event_t;

static handler_t s_handlers[MAX_HANDLERS];
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static QueueHandle_t s_queue;

static void loop_task(void *arg)
{
    (void)arg;
    event_t *ev = malloc(sizeof(*ev));
    for (;;) {
        if (xQueueReceive(s_queue, ev, portMAX_DELAY) != pdPASS) continue;
        handler_t snapshot[MAX_HANDLERS];
        pthread_mutex_lock(&s_lock);
        memcpy(snapshot, s_handlers, sizeof(snapshot));
        pthread_mutex_unlock(&s_lock);
        for (int i = 0; i < MAX_HANDLERS; i++) {
            handler_t *h = &snapshot[i];
            if (!h->used) continue;
            bool base_ok = h->base == ESP_EVENT_ANY_BASE || h->base == ev->base ||
                           (ev->base != NULL && strcmp(h->base, ev->base) == 0);
            bool id_ok = h->id == ESP_EVENT_ANY_ID || h->id == ev->id;
            if (base_ok && id_ok) h->fn(h->arg, ev->base, ev->id, ev->size ? ev->data : NULL);
        }
    }
}

esp_err_t esp_event_loop_create_default(void)
{
    if (s_queue != NULL) return ESP_ERR_INVALID_STATE;
    s_queue = xQueueCreate(QUEUE_LEN, sizeof(event_t));
    if (s_queue == NULL) return ESP_ERR_NO_MEM;
    /* CONFIG_ESP_SYSTEM_EVENT_TASK_STACK_SIZE, priority ESP_TASKD_EVENT_PRIO */
    xTaskCreate(loop_task, "sys_evt", CONFIG_ESP_SYSTEM_EVENT_TASK_STACK_SIZE, NULL, 20, NULL);
    return ESP_OK;
}

esp_err_t esp_event_loop_delete_default(void) { return ESP_OK; }

esp_err_t esp_event_handler_instance_register(esp_event_base_t base, int32_t id,
                                              esp_event_handler_t fn, void *arg,
                                              esp_event_handler_instance_t *instance)
{
    if (fn == NULL) return ESP_ERR_INVALID_ARG;
    if (s_queue == NULL) return ESP_ERR_INVALID_STATE;   /* no default loop yet */
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < MAX_HANDLERS; i++) {
        if (!s_handlers[i].used) {
            s_handlers[i] = (handler_t){ base, id, fn, arg, true };
            if (instance != NULL) *instance = &s_handlers[i];
            pthread_mutex_unlock(&s_lock);
            return ESP_OK;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return ESP_ERR_NO_MEM;
}

esp_err_t esp_event_handler_register(esp_event_base_t base, int32_t id, esp_event_handler_t fn,
                                     void *arg)
{
    return esp_event_handler_instance_register(base, id, fn, arg, NULL);
}

esp_err_t esp_event_handler_unregister(esp_event_base_t base, int32_t id, esp_event_handler_t fn)
{
    pthread_mutex_lock(&s_lock);
    for (int i = 0; i < MAX_HANDLERS; i++) {
        if (s_handlers[i].used && s_handlers[i].base == base && s_handlers[i].id == id &&
            s_handlers[i].fn == fn) {
            s_handlers[i].used = false;
        }
    }
    pthread_mutex_unlock(&s_lock);
    return ESP_OK;
}

esp_err_t esp_event_handler_instance_unregister(esp_event_base_t base, int32_t id,
                                                esp_event_handler_instance_t instance)
{
    (void)base;
    (void)id;
    if (instance == NULL) return ESP_ERR_INVALID_ARG;
    pthread_mutex_lock(&s_lock);
    ((handler_t *)instance)->used = false;
    pthread_mutex_unlock(&s_lock);
    return ESP_OK;
}

esp_err_t esp_event_post(esp_event_base_t base, int32_t id, const void *data, size_t size,
                         TickType_t ticks)
{
    if (s_queue == NULL) return ESP_ERR_INVALID_STATE;
    if (size > MAX_DATA) return ESP_ERR_INVALID_ARG;
    event_t ev = { .base = base, .id = id, .size = size };
    if (size > 0) memcpy(ev.data, data, size);
    return xQueueSend(s_queue, &ev, ticks) == pdPASS ? ESP_OK : ESP_ERR_TIMEOUT;
}
