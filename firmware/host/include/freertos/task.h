#pragma once
#include "freertos/FreeRTOS.h"

typedef struct rtos_task *TaskHandle_t;
typedef void (*TaskFunction_t)(void *);
typedef enum { eNoAction, eSetBits, eIncrement, eSetValueWithOverwrite,
               eSetValueWithoutOverwrite } eNotifyAction;
typedef enum { eRunning, eReady, eBlocked, eSuspended, eDeleted, eInvalid } eTaskState;

BaseType_t xTaskCreatePinnedToCore(TaskFunction_t fn, const char *name, uint32_t stack_bytes,
                                   void *arg, UBaseType_t prio, TaskHandle_t *out,
                                   BaseType_t core);
static inline BaseType_t xTaskCreate(TaskFunction_t fn, const char *name, uint32_t stack_bytes,
                                     void *arg, UBaseType_t prio, TaskHandle_t *out)
{
    return xTaskCreatePinnedToCore(fn, name, stack_bytes, arg, prio, out, tskNO_AFFINITY);
}
void vTaskDelete(TaskHandle_t task);
void vTaskDelay(TickType_t ticks);
void vTaskDelayUntil(TickType_t *prev, TickType_t increment);
BaseType_t xTaskDelayUntil(TickType_t *prev, TickType_t increment);
TickType_t xTaskGetTickCount(void);
TickType_t xTaskGetTickCountFromISR(void);
TaskHandle_t xTaskGetCurrentTaskHandle(void);
char *pcTaskGetName(TaskHandle_t task);
#define pcTaskGetTaskName pcTaskGetName
UBaseType_t uxTaskGetStackHighWaterMark(TaskHandle_t task);
UBaseType_t uxTaskPriorityGet(TaskHandle_t task);
void vTaskPrioritySet(TaskHandle_t task, UBaseType_t prio);
void vTaskSuspend(TaskHandle_t task);
void vTaskResume(TaskHandle_t task);
BaseType_t xTaskGetCoreID(TaskHandle_t task);
#define xPortGetCoreID() 0

uint32_t ulTaskNotifyTake(BaseType_t clear_on_exit, TickType_t ticks);
BaseType_t xTaskNotifyGive(TaskHandle_t task);
void vTaskNotifyGiveFromISR(TaskHandle_t task, BaseType_t *woken);
BaseType_t xTaskNotify(TaskHandle_t task, uint32_t value, eNotifyAction action);
BaseType_t xTaskNotifyFromISR(TaskHandle_t task, uint32_t value, eNotifyAction action,
                              BaseType_t *woken);
BaseType_t xTaskNotifyWait(uint32_t clear_on_entry, uint32_t clear_on_exit, uint32_t *value,
                           TickType_t ticks);
