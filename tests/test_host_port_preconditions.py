"""Preconditions of ESP-IDF that break real boards, enforced by the host port (firmware/host),
each shown by a probe app (a test-only app_main.c; the rest of main/ and the port unchanged):

* esp_wifi_set_channel while the station connects: esp_wifi.h, esp_wifi_set_channel ("should
  not be called when STA is scanning or connecting to an external AP") -> the node aborts;
* esp_ota_begin while the running app is pending verify: app_update/esp_ota_ops.c,
  esp_ota_begin -> ESP_ERR_OTA_ROLLBACK_INVALID_STATE, flash untouched (no abort);
* an NVS handle used after nvs_close: nvs_flash/src/nvs_api.cpp (handle lookup) ->
  ESP_ERR_NVS_INVALID_HANDLE;
* esp_http_server runs one handler at a time on its one task and purges an unread body
  (esp_http_server/src/httpd_sess.c, httpd_parse.c httpd_req_delete).
"""

from __future__ import annotations

import signal
import socket
import struct
import threading
import time
import zlib

from ruview_cli.sim.appimage import build_app_image
from test_host_port_support import Node, build_app, make_flash, run_to_exit, run_until

PROBE_INCLUDES = """
#include <string.h>
#include "esp_event.h"
#include "esp_http_server.h"
#include "esp_netif.h"
#include "esp_ota_ops.h"
#include "esp_system.h"
#include "esp_wifi.h"
#include "freertos/FreeRTOS.h"
#include "freertos/task.h"
#include "nvs_flash.h"
#include "sdkconfig.h"
"""

# One binary, one probe per reset reason (so the suite builds it once).
PROBE = r"""
    static const char *T = "probe";
    esp_reset_reason_t why = esp_reset_reason();
    if (why == ESP_RST_POWERON || why == ESP_RST_SW) {          /* WiFi channel */
        ESP_ERROR_CHECK(esp_netif_init());
        ESP_ERROR_CHECK(esp_event_loop_create_default());
        esp_netif_create_default_wifi_sta();
        wifi_init_config_t ic = WIFI_INIT_CONFIG_DEFAULT();
        ESP_ERROR_CHECK(esp_wifi_init(&ic));
        wifi_config_t wc;
        memset(&wc, 0, sizeof(wc));
        memcpy(wc.sta.ssid, "lab-ap", 6);
        ESP_ERROR_CHECK(esp_wifi_set_mode(WIFI_MODE_STA));
        ESP_ERROR_CHECK(esp_wifi_set_config(WIFI_IF_STA, &wc));
        ESP_ERROR_CHECK(esp_wifi_start());
        ESP_ERROR_CHECK(esp_wifi_connect());
        if (why == ESP_RST_SW) {
            wifi_ap_record_t ap;
            while (esp_wifi_sta_get_ap_info(&ap) != ESP_OK) {
                vTaskDelay(pdMS_TO_TICKS(10));
            }
        }
        esp_err_t err = esp_wifi_set_channel(11, WIFI_SECOND_CHAN_NONE);
        ESP_LOGI(T, "set_channel: %s", esp_err_to_name(err));
    } else if (why == ESP_RST_BROWNOUT) {                     /* NVS handle after close */
        ESP_ERROR_CHECK(nvs_flash_init());
        nvs_handle_t h;
        ESP_ERROR_CHECK(nvs_open("csi_cfg", NVS_READONLY, &h));
        uint8_t v = 0;
        esp_err_t err = nvs_get_u8(h, "node_id", &v);
        ESP_LOGI(T, "open handle: %s node_id=%u", esp_err_to_name(err), v);
        nvs_close(h);
        err = nvs_get_u8(h, "node_id", &v);
        ESP_LOGI(T, "closed handle: %s", esp_err_to_name(err));
    } else if (why == ESP_RST_EXT) {                          /* OTA while pending verify */
        esp_ota_img_states_t st = ESP_OTA_IMG_UNDEFINED;
        esp_ota_get_state_partition(esp_ota_get_running_partition(), &st);
        esp_ota_handle_t oh;
        esp_err_t err = esp_ota_begin(esp_ota_get_next_update_partition(NULL), OTA_SIZE_UNKNOWN, &oh);
        ESP_LOGI(T, "state %d, esp_ota_begin: %s", (int)st, esp_err_to_name(err));
    } else if (why == ESP_RST_UNKNOWN) {                      /* a CPU exception */
        volatile int *nowhere = NULL;
        ESP_LOGI(T, "about to crash");
        *nowhere = 1;
    } else if (why == ESP_RST_INT_WDT) {                      /* give up on the running app */
        esp_err_t err = esp_ota_mark_app_invalid_rollback_and_reboot();
        ESP_LOGI(T, "mark invalid: %s", esp_err_to_name(err));
    }
    ESP_LOGI(T, "done");
"""


def _probe():
    return build_app(PROBE, PROBE_INCLUDES)


def test_set_channel_while_connecting_aborts(tmp_path, loopback):
    flash, _ = make_flash(tmp_path)
    node, status = run_to_exit(_probe(), flash, loopback.addr(), reset_reason="poweron")
    assert status == -signal.SIGABRT, node.output
    assert "should not be called when STA is scanning or connecting" in node.output
    assert "set_channel:" not in node.output   # it never returned
    assert not any(m.get("op") == "set_channel" for m in node.messages)


def test_set_channel_once_associated_reaches_the_radio(tmp_path, loopback):
    flash, _ = make_flash(tmp_path)
    node = Node(_probe(), flash, loopback.addr(), reset_reason="sw")
    try:
        node.associate(channel=6)
        assert node.wait_output("probe: done"), node.output
        msg = node.wait_message(lambda m: m.get("op") == "set_channel", timeout=5)
    finally:
        node.close()
    assert "set_channel: ESP_OK" in node.output
    assert msg == {"t": "wifi", "op": "set_channel", "channel": 11}


def test_nvs_handle_after_close_is_invalid(tmp_path, loopback):
    flash, _ = make_flash(tmp_path)
    node, _ = run_until(_probe(), flash, loopback.addr(), "probe: done", reset_reason="brownout")
    assert "open handle: ESP_OK node_id=7" in node.output
    assert "closed handle: ESP_ERR_NVS_INVALID_HANDLE" in node.output


def _otadata_entry(seq: int, state: int) -> bytes:
    """esp_ota_select_entry_t (esp_flash_partitions.h): seq, 20-byte label, state, crc of seq
    (bootloader_common_ota_select_crc = crc32 with an all-ones start on the LE seq)."""
    crc = zlib.crc32(struct.pack("<I", seq), 0xFFFFFFFF) & 0xFFFFFFFF
    return struct.pack("<I20sII", seq, b"\xff" * 20, state, crc)


OTADATA, OTA_1, PENDING_VERIFY, VALID = 0xF000, 0x220000, 1, 2


def _flash_with_state(tmp_path, state: int):
    path, flash = make_flash(tmp_path)
    old = build_app_image("0.9.0")
    flash.write(OTA_1, old)
    flash.write(OTADATA, _otadata_entry(1, state))   # boots ota_0, in `state`
    flash.save(path)
    return path, old


def test_ota_begin_refused_while_pending_verify_without_touching_flash(tmp_path, loopback):
    path, old = _flash_with_state(tmp_path, PENDING_VERIFY)
    node, alive = run_until(_probe(), path, loopback.addr(), "probe: done", reset_reason="ext")
    assert alive, "an esp_ota_begin refusal is an error code, not a crash"
    assert "state 1, esp_ota_begin: ESP_ERR_OTA_ROLLBACK_INVALID_STATE" in node.output
    assert "Running app has not confirmed state" in node.output
    with open(path, "rb") as f:
        f.seek(OTA_1)
        assert f.read(len(old)) == old, "the refused update erased the other slot"


def test_ota_begin_allowed_once_valid_erases_the_slot(tmp_path, loopback):
    path, old = _flash_with_state(tmp_path, VALID)
    node, _ = run_until(_probe(), path, loopback.addr(), "probe: done", reset_reason="ext")
    assert "state 2, esp_ota_begin: ESP_OK" in node.output
    with open(path, "rb") as f:
        f.seek(OTA_1)
        assert f.read(len(old)) == b"\xff" * len(old)


def test_mark_invalid_rolls_back_and_restarts(tmp_path, loopback):
    """ota_1 runs pending verify, ota_0 holds the previous app: marking invalid writes INVALID
    into ota_1's otadata entry and restarts (esp_ota_mark_app_invalid_rollback_and_reboot)."""
    path, flash = make_flash(tmp_path)
    flash.write(OTA_1, build_app_image("2.0.0"))
    flash.write(OTADATA, _otadata_entry(1, VALID))                   # ota_0, the old app
    flash.write(OTADATA + 0x1000, _otadata_entry(2, PENDING_VERIFY))  # ota_1, running
    flash.save(path)
    node, code = run_to_exit(_probe(), path, loopback.addr(), slot="ota_1", reset_reason="int_wdt")
    assert code == 0, node.output
    assert node.wait_message(lambda m: m.get("t") == "restart", 1) == {"t": "restart", "reason": "sw"}
    assert "Rollback to previously worked partition." in node.output
    with open(path, "rb") as f:
        f.seek(OTADATA + 0x1000)
        seq, _, state, _ = struct.unpack("<I20sII", f.read(32))
    assert (seq, state) == (2, 3)   # ESP_OTA_IMG_INVALID: the bootloader goes back to ota_0


def test_mark_invalid_without_a_fallback_returns_an_error(tmp_path, loopback):
    path, flash = make_flash(tmp_path)
    flash.write(OTADATA, _otadata_entry(1, PENDING_VERIFY))   # ota_0 running, ota_1 empty
    flash.save(path)
    node, alive = run_until(_probe(), path, loopback.addr(), "probe: done", reset_reason="int_wdt")
    assert alive and "mark invalid: ESP_ERR_OTA_ROLLBACK_FAILED" in node.output
    assert "Rollback is not possible" in node.output


def test_cpu_exception_is_a_panic_with_the_chips_words(tmp_path, loopback):
    path, _ = make_flash(tmp_path)
    node, code = run_to_exit(_probe(), path, loopback.addr(), reset_reason="unknown")
    assert code == -signal.SIGABRT, node.output
    assert "Guru Meditation Error: Core  0 panic'ed (LoadProhibited)" in node.output
    assert node.wait_message(lambda m: m.get("t") == "panic", 1) == {"t": "panic", "reason": "panic"}


# ---- esp_http_server -------------------------------------------------------------------------

HTTPD_INCLUDES = PROBE_INCLUDES
HTTPD_APP = r"""
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    httpd_config_t hc = HTTPD_DEFAULT_CONFIG();
    hc.server_port = CONFIG_RUVIEW_HTTP_PORT;
    hc.recv_wait_timeout = 1;
    httpd_handle_t server = NULL;
    ESP_ERROR_CHECK(httpd_start(&server, &hc));
    static const httpd_uri_t slow = { .uri = "/slow", .method = HTTP_GET, .handler = slow_get };
    static const httpd_uri_t sink = { .uri = "/sink", .method = HTTP_POST, .handler = sink_post };
    ESP_ERROR_CHECK(httpd_register_uri_handler(server, &slow));
    ESP_ERROR_CHECK(httpd_register_uri_handler(server, &sink));
    ESP_LOGI("probe", "serving");
"""
HTTPD_HANDLERS = r"""
static int s_n;
static esp_err_t slow_get(httpd_req_t *r)
{
    int n = ++s_n;
    ESP_LOGI("probe", "enter %d", n);
    vTaskDelay(pdMS_TO_TICKS(300));
    ESP_LOGI("probe", "leave %d", n);
    return httpd_resp_sendstr(r, "ok");
}
/* reads 10 bytes of the body in chunks of at most 4, leaves the rest to the server's purge */
static esp_err_t sink_post(httpd_req_t *r)
{
    char buf[4];
    int got = 0, calls = 0;
    while (got < 10) {
        int n = httpd_req_recv(r, buf, sizeof(buf));
        if (n <= 0) {
            ESP_LOGW("probe", "httpd_req_recv -> %d after %d bytes", n, got);
            return ESP_FAIL;
        }
        got += n;
        calls++;
    }
    char out[64];
    snprintf(out, sizeof(out), "len=%u got=%d calls=%d", (unsigned)r->content_len, got, calls);
    return httpd_resp_sendstr(r, out);
}
"""


def _httpd_app():
    return build_app(HTTPD_APP, HTTPD_INCLUDES + "#include <stdio.h>\n" + HTTPD_HANDLERS)


def test_httpd_runs_one_handler_at_a_time(tmp_path, loopback):
    flash, _ = make_flash(tmp_path)
    node = Node(_httpd_app(), flash, loopback.addr())
    try:
        assert node.wait_output("probe: serving"), node.output
        results = []
        clients = [threading.Thread(target=lambda: results.append(node.request("GET", "/slow")))
                   for _ in range(3)]
        for c in clients:
            c.start()
        for c in clients:
            c.join(15)
    finally:
        node.close()
    assert [s for s, _ in results] == [200, 200, 200]
    events = [line.split("probe: ")[1] for line in node.output.splitlines()
              if "probe: enter" in line or "probe: leave" in line]
    assert events == ["enter 1", "leave 1", "enter 2", "leave 2", "enter 3", "leave 3"], events


def test_httpd_recv_chunks_and_purges_the_unread_body(tmp_path, loopback):
    flash, _ = make_flash(tmp_path)
    node = Node(_httpd_app(), flash, loopback.addr())
    body = b"0123456789" + b"x" * 5000
    try:
        assert node.wait_output("probe: serving"), node.output
        with socket.create_connection((node.ip, 8032), timeout=10) as s:
            req = (b"POST /sink HTTP/1.1\r\nHost: n\r\nContent-Length: %d\r\n\r\n" % len(body))
            s.sendall(req + body + b"GET /slow HTTP/1.1\r\nHost: n\r\n\r\n")
            data = b""
            deadline = time.monotonic() + 10
            while data.count(b"HTTP/1.1 200 OK") < 2 and time.monotonic() < deadline:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
    finally:
        node.close()
    # the handler saw the whole Content-Length, read it in <= 4-byte chunks, and the 5000 bytes
    # it left unread were purged: the next request on the same connection was answered
    assert b"len=5010 got=" in data and b"calls=3" in data, data
    assert data.count(b"HTTP/1.1 200 OK") == 2, data


def test_httpd_unknown_uri_and_wrong_method_as_idf(tmp_path, loopback):
    flash, _ = make_flash(tmp_path)
    node = Node(_httpd_app(), flash, loopback.addr())
    try:
        assert node.wait_output("probe: serving"), node.output
        missing = node.request("GET", "/nothing-here")
        wrong = node.request("GET", "/sink")
        query = node.request("GET", "/slow?x=1")          # the query is not part of the match
    finally:
        node.close()
    assert missing == (404, b"Nothing matches the given URI")
    assert wrong == (405, b"Specified method is invalid for this resource")
    assert query == (200, b"ok")


def test_httpd_recv_times_out_on_a_stalled_body(tmp_path, loopback):
    """recv_wait_timeout: a body that stops arriving gives HTTPD_SOCK_ERR_TIMEOUT (-3) to the
    handler; its failure closes the session (httpd_uri.c)."""
    flash, _ = make_flash(tmp_path)
    node = Node(_httpd_app(), flash, loopback.addr())
    try:
        assert node.wait_output("probe: serving"), node.output
        with socket.create_connection((node.ip, 8032), timeout=10) as s:
            s.sendall(b"POST /sink HTTP/1.1\r\nHost: n\r\nContent-Length: 10\r\n\r\nabc")
            closed = s.recv(100) == b""
    finally:
        node.close()
    assert closed
    assert "httpd_req_recv -> -3 after 3 bytes" in node.output, node.output
    assert "uri handler execution failed" in node.output
