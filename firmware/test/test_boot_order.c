/*
 * Defect 1 (boot loop): firmware/main/app_main.c, the real file, runs against recording stubs
 * of its modules. The stubs enforce the preconditions ESP-IDF enforces on a board: a socket
 * (udp_sender_start, http_ota_start, mdns_adv_start) before esp_netif_init() aborts in lwIP
 * (LWIP_ASSERT "Invalid mbox", tcpip.c); esp_wifi and the netif need the default event loop.
 * Moving udp_sender_start() back above net_stack_start() makes this test fail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "config_load.h"
#include "csi_rx.h"
#include "http_ota.h"
#include "mdns_adv.h"
#include "net_stack.h"
#include "node_info.h"
#include "nvs_flash.h"
#include "ota_history.h"
#include "power.h"
#include "self_test.h"
#include "udp_sender.h"
#include "wifi_sta.h"

void app_main(void);

static char s_calls[512];
static int s_net_up;
static int s_violations;

static void call(const char *name)
{
    strncat(s_calls, name, sizeof(s_calls) - strlen(s_calls) - 2);
    strncat(s_calls, " ", sizeof(s_calls) - strlen(s_calls) - 1);
}

static void needs_net(const char *name)
{
    call(name);
    if (!s_net_up) {
        s_violations++;   /* on a board: abort() in lwIP's tcpip.c */
    }
}

esp_err_t nvs_flash_init(void) { call("nvs"); return ESP_OK; }
esp_err_t nvs_flash_erase(void) { return ESP_OK; }
const char *esp_err_to_name(esp_err_t e) { (void)e; return "?"; }
void config_load(node_config_t *cfg) { call("config"); memset(cfg, 0, sizeof(*cfg));
                                       cfg->target_ip_valid = true; }
void node_info_init(node_info_t *info, uint8_t id) { (void)id; memset(info, 0, sizeof(*info)); }
void ota_history_boot(void) {}
void net_stack_start(void) { call("net"); s_net_up = 1; }
void udp_sender_start(const node_config_t *cfg) { (void)cfg; needs_net("udp"); }
void csi_rx_start(const node_config_t *cfg) { (void)cfg; call("csi"); }
void wifi_sta_start(const node_config_t *cfg) { (void)cfg; needs_net("wifi"); }
bool http_ota_start(const node_config_t *c, const node_info_t *i)
{
    (void)c; (void)i; needs_net("http"); return true;
}
void mdns_adv_start(const node_config_t *c, const node_info_t *i) { (void)c; (void)i;
                                                                    needs_net("mdns"); }
void power_start(const node_config_t *cfg) { (void)cfg; call("power"); }
void self_test_start(void) { call("selftest"); }

static void test_network_stack_before_any_socket(void **state)
{
    (void)state;
    app_main();
    assert_int_equal(s_violations, 0);
    assert_non_null(strstr(s_calls, "net "));
    /* the DSP task exists before WiFi can deliver CSI; the self-test starts last */
    assert_true(strstr(s_calls, "csi ") < strstr(s_calls, "wifi "));
    assert_true(strstr(s_calls, "http ") < strstr(s_calls, "selftest "));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_network_stack_before_any_socket),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
