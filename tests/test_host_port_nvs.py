"""NVS writes by the host port keep ESP-IDF's on-flash format through page rotation: a probe app
overwrites keys until pages fill up and get reclaimed, then ruview's independent NVS reader
(ruview_cli/config/nvs.py, checked against esp-idf-nvs-partition-gen) must see the last values,
the provisioned keys and no erased key; and the next boot of the port reads the same values."""

from __future__ import annotations

from ruview_cli.config.nvs import read_nvs
from test_host_port_support import build_app, make_flash, run_until

INCLUDES = '#include <stdio.h>\n#include "nvs_flash.h"\n'
WRITER = r"""
    ESP_ERROR_CHECK(nvs_flash_init());
    nvs_handle_t h;
    ESP_ERROR_CHECK(nvs_open("probe", NVS_READWRITE, &h));
    uint32_t have = 0;
    if (nvs_get_u32(h, "count", &have) == ESP_OK) {
        char name[32] = {0};
        size_t len = sizeof(name);
        uint8_t blob[40];
        size_t blen = sizeof(blob);
        esp_err_t e1 = nvs_get_str(h, "name", name, &len);
        esp_err_t e2 = nvs_get_blob(h, "blob", blob, &blen);
        esp_err_t e3 = nvs_get_u8(h, "gone", &(uint8_t){0});
        ESP_LOGI("probe", "reboot read: count=%lu name=%s(%s) blob=%u(%s) gone=%s",
                 (unsigned long)have, name, esp_err_to_name(e1), (unsigned)blen,
                 esp_err_to_name(e2), esp_err_to_name(e3));
        ESP_LOGI("probe", "done");
        return;
    }
    ESP_ERROR_CHECK(nvs_set_u8(h, "gone", 1));
    for (uint32_t i = 0; i < 400; i++) {
        char v[24];
        snprintf(v, sizeof(v), "value-%lu", (unsigned long)i);
        ESP_ERROR_CHECK(nvs_set_u32(h, "count", i));
        ESP_ERROR_CHECK(nvs_set_str(h, "name", v));
    }
    uint8_t blob[40];
    for (int i = 0; i < 40; i++) blob[i] = (uint8_t)(i * 7);
    ESP_ERROR_CHECK(nvs_set_blob(h, "blob", blob, sizeof(blob)));
    ESP_ERROR_CHECK(nvs_erase_key(h, "gone"));
    ESP_ERROR_CHECK(nvs_commit(h));
    nvs_close(h);
    ESP_LOGI("probe", "done");
"""


def test_nvs_writes_survive_page_rotation_in_idf_format(tmp_path, loopback):
    path, _ = make_flash(tmp_path)
    app = build_app(WRITER, INCLUDES)
    node, _ = run_until(app, path, loopback.addr(), "probe: done")
    assert "ESP_ERROR_CHECK failed" not in node.output, node.output
    with open(path, "rb") as f:
        f.seek(0x9000)
        values = read_nvs(f.read(0x6000))
    # 800 overwrites of ~4 entries each do not fit 5 pages: pages were filled and reclaimed
    assert values["probe"]["count"].value == 399
    assert values["probe"]["name"].value == "value-399"
    assert values["probe"]["blob"].value == bytes(i * 7 % 256 for i in range(40))
    assert "gone" not in values["probe"]
    assert values["csi_cfg"]["node_id"].value == 7
    assert values["security"]["ota_psk"].value == "psk-for-tests"
    again, _ = run_until(app, path, loopback.addr(), "probe: done")
    assert ("reboot read: count=399 name=value-399(ESP_OK) blob=40(ESP_OK) "
            "gone=ESP_ERR_NVS_NOT_FOUND") in again.output, again.output


SAME_AS_GENERATOR = r"""
    ESP_ERROR_CHECK(nvs_flash_init());
    nvs_handle_t h;
    ESP_ERROR_CHECK(nvs_open("probe", NVS_READWRITE, &h));
    ESP_ERROR_CHECK(nvs_set_u8(h, "small", 200));
    ESP_ERROR_CHECK(nvs_set_u32(h, "wide", 0xA1B2C3D4));
    ESP_ERROR_CHECK(nvs_set_i16(h, "neg", -1234));
    ESP_ERROR_CHECK(nvs_set_str(h, "text", "a string that spans two entries"));
    static const uint8_t blob[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
    ESP_ERROR_CHECK(nvs_set_blob(h, "blob", blob, sizeof(blob)));
    nvs_close(h);
    ESP_LOGI("probe", "done");
"""


def test_nvs_page_written_by_the_port_equals_espressifs_generator(tmp_path, loopback):
    """Same values, same order: the port's page is byte-identical to the one
    esp-idf-nvs-partition-gen produces (header, state bitmap, entries, CRCs)."""
    from ruview_cli.config.nvs import NvsValue, build_nvs

    path, _ = make_flash(tmp_path, nvs={})   # an erased NVS partition, as after erase_flash
    run_until(build_app(SAME_AS_GENERATOR, INCLUDES), path, loopback.addr(), "probe: done")
    with open(path, "rb") as f:
        f.seek(0x9000)
        ours = f.read(0x6000)
    theirs = build_nvs({"probe": {
        "small": NvsValue("u8", 200), "wide": NvsValue("u32", 0xA1B2C3D4),
        "neg": NvsValue("i16", -1234), "text": NvsValue("str", "a string that spans two entries"),
        "blob": NvsValue("blob", bytes(range(1, 18)))}}, 0x6000)
    assert ours[:4096] == theirs[:4096]


def test_page_left_freeing_by_a_power_cut_is_reclaimed_at_boot(tmp_path, loopback):
    """nvs_pagemanager.cpp (load): a page found FREEING has its items copied to a new page and
    is erased; nothing provisioned is lost."""
    from ruview_cli.sim.firmware_build import firmware_binary

    path, flash = make_flash(tmp_path)
    first = flash.read(0x9000, 4)
    assert first == b"\xfe\xff\xff\xff"                        # ACTIVE, as the generator left it
    flash.write(0x9000, b"\xf8\xff\xff\xff")                    # FREEING (header CRC excludes it)
    flash.save(path)
    node, _ = run_until(firmware_binary(), path, loopback.addr(), "ruview: started")
    assert "config: csi_cfg/node_id = 7" in node.output, node.output
    with open(path, "rb") as f:
        f.seek(0x9000)
        part = f.read(0x6000)
    states = [part[i:i + 4] for i in range(0, 0x6000, 0x1000)]
    assert b"\xf8\xff\xff\xff" not in states, states
    values = read_nvs(part)
    assert values["csi_cfg"]["node_id"].value == 7
    assert values["security"]["ota_psk"].value == "psk-for-tests"
