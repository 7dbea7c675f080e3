/*
 * Entry point of the host build: parse the "chip" (command line, contract B in
 * /work/shared/DESIGN.md's terms: flash file, IP, MAC, slot, reset reason), print what the
 * ESP-IDF startup code prints, then run app_main() on the "main" task as cpu_start does.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>

#include "esp_log.h"
#include "esp_ota_ops.h"
#include "port.h"

port_args_t g_port = { .http_port = 8032, .reset_reason = ESP_RST_POWERON, .chip_revision = 2 };

extern void app_main(void);

static const struct { const char *name; esp_reset_reason_t r; } k_reasons[] = {
    { "poweron", ESP_RST_POWERON }, { "sw", ESP_RST_SW }, { "panic", ESP_RST_PANIC },
    { "int_wdt", ESP_RST_INT_WDT }, { "task_wdt", ESP_RST_TASK_WDT },
    { "brownout", ESP_RST_BROWNOUT }, { "unknown", ESP_RST_UNKNOWN }, { "ext", ESP_RST_EXT },
    { "wdt", ESP_RST_WDT }, { "deepsleep", ESP_RST_DEEPSLEEP },
};

static void usage(const char *why)
{
    fprintf(stderr, "ruview_node host build: %s\nusage: ruview_node --flash PATH --ip A.B.C.D "
            "--mac aa:bb:cc:dd:ee:ff --slot ota_0|ota_1 --reset-reason REASON "
            "--http-port N [--chip-revision N]   (fd 3: the board link socket)\n", why);
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    static const struct option opts[] = {
        { "flash", required_argument, 0, 'f' }, { "ip", required_argument, 0, 'i' },
        { "mac", required_argument, 0, 'm' }, { "slot", required_argument, 0, 's' },
        { "reset-reason", required_argument, 0, 'r' }, { "http-port", required_argument, 0, 'p' },
        { "chip-revision", required_argument, 0, 'c' }, { 0, 0, 0, 0 },
    };
    bool have_mac = false;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case 'f': g_port.flash_path = optarg; break;
        case 'i': snprintf(g_port.ip, sizeof(g_port.ip), "%s", optarg); break;
        case 's': snprintf(g_port.slot, sizeof(g_port.slot), "%s", optarg); break;
        case 'p': g_port.http_port = atoi(optarg); break;
        case 'c': g_port.chip_revision = atoi(optarg); break;
        case 'm': {
            unsigned v[6];
            if (sscanf(optarg, "%x:%x:%x:%x:%x:%x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6) {
                usage("--mac must be aa:bb:cc:dd:ee:ff");
            }
            for (int i = 0; i < 6; i++) g_port.mac[i] = (uint8_t)v[i];
            have_mac = true;
            break;
        }
        case 'r': {
            bool found = false;
            for (size_t i = 0; i < sizeof(k_reasons) / sizeof(k_reasons[0]); i++) {
                if (strcmp(optarg, k_reasons[i].name) == 0) {
                    g_port.reset_reason = k_reasons[i].r;
                    found = true;
                }
            }
            if (!found) usage("unknown --reset-reason");
            break;
        }
        default: usage("bad option");
        }
    }
    if (g_port.flash_path == NULL || g_port.ip[0] == '\0' || !have_mac || g_port.slot[0] == '\0') {
        usage("--flash, --ip, --mac and --slot are required");
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    setvbuf(stdout, NULL, _IOLBF, 0);
    signal(SIGPIPE, SIG_IGN);   /* lwIP reports a closed peer as EPIPE, never a signal */
    port_install_crash_handlers();
    if (!flash_open(g_port.flash_path)) {
        fprintf(stderr, "cannot open flash file %s\n", g_port.flash_path);
        return 2;
    }
    freertos_port_init();
    partition_table_load();
    const esp_partition_t *running = esp_ota_get_running_partition();
    if (running == NULL) {
        fprintf(stderr, "--slot %s: no such app partition in the flash's partition table\n",
                g_port.slot);
        return 2;
    }
    link_start();
    wdt_startup();

    /* What esp_system's startup prints before app_main (app_init / cpu_start). */
    const esp_app_desc_t *app = esp_app_get_description();
    ESP_LOGI("cpu_start", "Multicore app");
    ESP_LOGI("app_init", "Application information:");
    ESP_LOGI("app_init", "Project name:     %s", app->project_name);
    ESP_LOGI("app_init", "App version:      %s", app->version);
    ESP_LOGI("app_init", "Compile time:     %s %s", app->date, app->time);
    ESP_LOGI("app_init", "ESP-IDF:          %s", app->idf_ver);
    ESP_LOGI("efuse_init", "Chip rev:         v%d.%d", g_port.chip_revision / 100,
             g_port.chip_revision % 100);
    ESP_LOGI("main_task", "Started on CPU0");
    ESP_LOGI("main_task", "Calling app_main()");
    task_run_main(app_main);
    return 0;
}
