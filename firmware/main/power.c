#include "power.h"

#include "esp_log.h"
#include "esp_pm.h"
#include "esp_timer.h"
#include "esp_wifi.h"
#include "sdkconfig.h"

#include "wifi_sta.h"

static const char *TAG = "power";

#define DUTY_PERIOD_MS 1000u

static esp_timer_handle_t s_duty_timer;
static uint32_t s_on_ms;
static bool s_capturing;

/* Alternates CSI on for s_on_ms, off for the rest of the period. */
static void duty_cb(void *arg)
{
    (void)arg;
    s_capturing = !s_capturing;
    wifi_sta_set_csi(s_capturing);
    uint32_t next_ms = s_capturing ? s_on_ms : DUTY_PERIOD_MS - s_on_ms;
    esp_timer_start_once(s_duty_timer, (uint64_t)next_ms * 1000u);
}

void power_start(const node_config_t *cfg)
{
    uint8_t duty = cfg->power_duty;
    if (duty < 10 || duty > 100) {
        duty = 100;   /* config_load already enforces the range; belt and braces */
    }
    bool saving = duty < 100;

    esp_pm_config_t pm = {
        .max_freq_mhz = CONFIG_ESP_DEFAULT_CPU_FREQ_MHZ,
        .min_freq_mhz = CONFIG_XTAL_FREQ,
        .light_sleep_enable = saving,
    };
    esp_err_t err = esp_pm_configure(&pm);
    if (err != ESP_OK) {
        ESP_LOGW(TAG, "esp_pm_configure: %s (CONFIG_PM_ENABLE off?)", esp_err_to_name(err));
    }
    /* The STA default is modem sleep; CSI at full duty wants the radio awake between beacons. */
    esp_wifi_set_ps(saving ? WIFI_PS_MIN_MODEM : WIFI_PS_NONE);

    if (saving) {
        s_on_ms = DUTY_PERIOD_MS * duty / 100u;
        s_capturing = true;
        const esp_timer_create_args_t t = { .callback = duty_cb, .name = "csi_duty" };
        ESP_ERROR_CHECK(esp_timer_create(&t, &s_duty_timer));
        ESP_ERROR_CHECK(esp_timer_start_once(s_duty_timer, (uint64_t)s_on_ms * 1000u));
    }
    ESP_LOGI(TAG, "power_duty %u%%: %s", duty,
             saving ? "modem sleep + light sleep, CSI duty-cycled" : "radio always on");
}
