/* Host port of esp_pm: no frequency scaling or sleep on the host; configuration and locks are
 * accepted and counted so main/'s calls behave as with CONFIG_PM_ENABLE=y. */
#pragma once
#include <stdbool.h>
#include "esp_err.h"

typedef enum { ESP_PM_CPU_FREQ_MAX, ESP_PM_APB_FREQ_MAX, ESP_PM_NO_LIGHT_SLEEP } esp_pm_lock_type_t;
typedef struct esp_pm_lock *esp_pm_lock_handle_t;
typedef struct { int max_freq_mhz; int min_freq_mhz; bool light_sleep_enable; } esp_pm_config_t;
typedef esp_pm_config_t esp_pm_config_esp32s3_t;

esp_err_t esp_pm_configure(const void *config);
esp_err_t esp_pm_get_configuration(void *config);
esp_err_t esp_pm_lock_create(esp_pm_lock_type_t lock_type, int arg, const char *name,
                             esp_pm_lock_handle_t *out_handle);
esp_err_t esp_pm_lock_acquire(esp_pm_lock_handle_t handle);
esp_err_t esp_pm_lock_release(esp_pm_lock_handle_t handle);
esp_err_t esp_pm_lock_delete(esp_pm_lock_handle_t handle);
