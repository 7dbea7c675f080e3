#pragma once
#include "freertos/FreeRTOS.h"

typedef struct rtos_queue *QueueHandle_t;

QueueHandle_t xQueueCreate(UBaseType_t length, UBaseType_t item_size);
void vQueueDelete(QueueHandle_t q);
BaseType_t xQueueSend(QueueHandle_t q, const void *item, TickType_t ticks);
BaseType_t xQueueSendToFront(QueueHandle_t q, const void *item, TickType_t ticks);
BaseType_t xQueueOverwrite(QueueHandle_t q, const void *item);
BaseType_t xQueueReceive(QueueHandle_t q, void *item, TickType_t ticks);
BaseType_t xQueuePeek(QueueHandle_t q, void *item, TickType_t ticks);
UBaseType_t uxQueueMessagesWaiting(QueueHandle_t q);
UBaseType_t uxQueueSpacesAvailable(QueueHandle_t q);
BaseType_t xQueueReset(QueueHandle_t q);
#define xQueueSendToBack xQueueSend
#define xQueueSendFromISR(q, item, woken) xQueueSend(q, item, 0)
#define xQueueSendToBackFromISR(q, item, woken) xQueueSend(q, item, 0)
#define xQueueReceiveFromISR(q, item, woken) xQueueReceive(q, item, 0)
#define xQueueOverwriteFromISR(q, item, woken) xQueueOverwrite(q, item)
