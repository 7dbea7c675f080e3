#include "self_test.h"

#include "esp_log.h"
#include "esp_ota_ops.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "sdkconfig.h"

#include "csi_rx.h"
#include "http_ota.h"
#include "ota_history.h"
#include "self_test_policy.h"
#include "udp_sender.h"
#include "wifi_sta.h"

static const char *TAG = "self_test";

/* A failed mark leaves the app pending: the next reset would roll it back although it
 * passed. Retry; then say so (the update is not confirmed in the history either). */
static void mark_valid(void)
{
    for (int i = 1; i <= RV_SELFTEST_MARK_VALID_TRIES; i++) {
        esp_err_t err = esp_ota_mark_app_valid_cancel_rollback();
        if (err == ESP_OK) {
            ota_history_confirm();
            return;
        }
        ESP_LOGE(TAG, "esp_ota_mark_app_valid_cancel_rollback: %s (try %d of %d)",
                 esp_err_to_name(err), i, RV_SELFTEST_MARK_VALID_TRIES);
        vTaskDelay(pdMS_TO_TICKS(1000));
    }
    ESP_LOGE(TAG, "app could not be marked valid: it stays pending and the next reset rolls "
             "it back");
}

static void self_test_task(void *arg)
{
    (void)arg;
    const rv_selftest_limits_t lim = {
        .timeout_ms = CONFIG_RUVIEW_SELF_TEST_TIMEOUT_S * 1000u,
        .min_csi_frames = CONFIG_RUVIEW_SELF_TEST_MIN_CSI_FRAMES,
        .min_udp_ok = CONFIG_RUVIEW_SELF_TEST_MIN_UDP_SENDS,
    };
    const int64_t start = esp_timer_get_time();
    rv_selftest_obs_t obs;
    rv_selftest_verdict_t v;

    do {
        vTaskDelay(pdMS_TO_TICKS(500));
        udp_stats_t u;
        udp_sender_stats(&u);
        obs.elapsed_ms = (uint32_t)((esp_timer_get_time() - start) / 1000);
        obs.wifi_up = wifi_sta_is_up();
        obs.csi_frames = csi_rx_frames();
        obs.udp_ok = u.sent;
        obs.telemetry_enabled = udp_sender_enabled();
        obs.http_ok = http_ota_running();
        v = rv_selftest_decide(&lim, &obs);
    } while (v == RV_SELFTEST_WAIT);

    if (v == RV_SELFTEST_PASS) {
        ESP_LOGI(TAG, "passed after %lu ms (csi %lu, udp ok %lu): marking app valid",
                 (unsigned long)obs.elapsed_ms, (unsigned long)obs.csi_frames,
                 (unsigned long)obs.udp_ok);
        mark_valid();
    } else {
        ESP_LOGE(TAG, "failed after %lu ms: no %s (http %d, wifi %d, csi %lu, udp ok %lu): "
                 "rolling back", (unsigned long)obs.elapsed_ms, rv_selftest_missing(&lim, &obs),
                 obs.http_ok, obs.wifi_up, (unsigned long)obs.csi_frames,
                 (unsigned long)obs.udp_ok);
        esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
        /* Only returns on failure: ESP_ERR_OTA_ROLLBACK_FAILED when no other slot holds a
         * bootable app. Restart anyway: the bootloader marks this pending image ABORTED and,
         * having nothing else, boots it again no longer pending (instead of staying pending
         * for ever and refusing every upload). */
        ESP_LOGE(TAG, "rollback refused (%s): nothing to roll back to; restarting",
                 esp_err_to_name(err));
        esp_restart();
    }
    vTaskDelete(NULL);
}

void self_test_start(void)
{
    const esp_partition_t *running = esp_ota_get_running_partition();
    esp_ota_img_states_t st;
    if (running == NULL || esp_ota_get_state_partition(running, &st) != ESP_OK ||
        st != ESP_OTA_IMG_PENDING_VERIFY) {
        return;
    }
    ESP_LOGW(TAG, "new app in %s is pending verification (timeout %d s)", running->label,
             CONFIG_RUVIEW_SELF_TEST_TIMEOUT_S);
    if (xTaskCreate(self_test_task, "self_test", 3072, NULL, 4, NULL) != pdPASS) {
        /* No self-test means no verdict: restart so the bootloader rolls back. */
        ESP_LOGE(TAG, "cannot start the self-test task: restarting to roll back");
        esp_restart();
    }
}
