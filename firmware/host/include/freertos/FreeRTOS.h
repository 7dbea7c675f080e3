/* Host port of the FreeRTOS kernel API ESP-IDF exposes (tasks, queues, semaphores, timers,
 * event groups), on pthreads. Ticks are CONFIG_FREERTOS_HZ per second. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "sdkconfig.h"
#include "esp_err.h"

typedef int BaseType_t;
typedef unsigned int UBaseType_t;
typedef uint32_t TickType_t;
typedef uint32_t StackType_t;

#define pdFALSE  ((BaseType_t)0)
#define pdTRUE   ((BaseType_t)1)
#define pdPASS   pdTRUE
#define pdFAIL   pdFALSE
#define errQUEUE_EMPTY ((BaseType_t)0)
#define errQUEUE_FULL  ((BaseType_t)0)
#define portMAX_DELAY ((TickType_t)0xffffffffUL)
#define configTICK_RATE_HZ CONFIG_FREERTOS_HZ
#define portTICK_PERIOD_MS ((TickType_t)1000 / configTICK_RATE_HZ)
#define portTICK_RATE_MS portTICK_PERIOD_MS
#define pdMS_TO_TICKS(ms) ((TickType_t)(((uint64_t)(ms) * configTICK_RATE_HZ) / 1000U))
#define pdTICKS_TO_MS(t) ((TickType_t)(((uint64_t)(t) * 1000U) / configTICK_RATE_HZ))
#define configMAX_PRIORITIES 25
#define tskNO_AFFINITY ((BaseType_t)0x7FFFFFFF)
#define portNUM_PROCESSORS 2
#define configNUM_CORES 2
#define IRAM_ATTR
#define DRAM_ATTR
#define portYIELD_FROM_ISR(x) ((void)(x))
#define portYIELD() sched_yield_host()

/* Critical sections: one recursive process-wide lock (the chip's spinlock + interrupt mask). */
typedef struct { int owner; int count; } portMUX_TYPE;
#define portMUX_INITIALIZER_UNLOCKED { 0, 0 }
void vPortEnterCritical(portMUX_TYPE *mux);
void vPortExitCritical(portMUX_TYPE *mux);
void sched_yield_host(void);
#define portENTER_CRITICAL(m) vPortEnterCritical(m)
#define portEXIT_CRITICAL(m) vPortExitCritical(m)
#define portENTER_CRITICAL_ISR(m) vPortEnterCritical(m)
#define portEXIT_CRITICAL_ISR(m) vPortExitCritical(m)
#define taskENTER_CRITICAL(m) vPortEnterCritical(m)
#define taskEXIT_CRITICAL(m) vPortExitCritical(m)
#define taskENTER_CRITICAL_ISR(m) vPortEnterCritical(m)
#define taskEXIT_CRITICAL_ISR(m) vPortExitCritical(m)

/* FreeRTOSConfig.h: configASSERT -> newlib's __assert_func -> "assert failed: ..." + abort. */
void __assert_func(const char *file, int line, const char *func, const char *expr)
    __attribute__((noreturn));
#define configASSERT(x) do { if (!(x)) __assert_func(__FILE__, __LINE__, __func__, #x); } while (0)
