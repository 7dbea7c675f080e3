"""The ESP-IDF project around the firmware core: facts a user relies on without a toolchain.

No Xtensa toolchain runs here, so these tests check what would otherwise only break on a
device: the partition offsets provisioning and OTA write to (PROTOCOL.md section 3), the
settings the build must carry (CSI, rollback, flash size, version), that the build lists every
source, the contract strings of the HTTP status and mDNS advert, and the post-OTA self-test
decision, compiled from its real C source with the host compiler.

The `test_source_*` tests are string checks over source and build files (regular expressions,
substrings): they catch a renamed key or a dropped setting, not behaviour. Behaviour is tested
where code runs: the self-test decision here, the C core under tests/test_firmware_host.py.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import need_system

ROOT = Path(__file__).resolve().parent.parent
FW = ROOT / "firmware"
MAIN = FW / "main"
CHECK = FW / "tools" / "check_partitions.py"


def run_check(firmware_dir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(CHECK), str(firmware_dir)],
                          capture_output=True, text=True, timeout=60)


def sdkconfig(path: Path) -> dict[str, str]:
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            k, v = line.split("=", 1)
            values[k] = v
    return values


# ---- partition tables --------------------------------------------------------------------

def test_partition_tables_have_the_protocol_offsets():
    r = run_check(FW)
    assert r.returncode == 0, r.stderr
    assert "OK" in r.stdout


@pytest.mark.parametrize("table, old, new, complaint", [
    ("partitions_8mb.csv", "0x9000,   0x6000", "0xA000,   0x6000",
     "nvs at 0xa000, expected 0x9000"),
    ("partitions_4mb.csv", "0x1F0000, 0x1D0000", "0x1F0000, 0x200000",
     "ota_1 size 0x200000, expected 0x1d0000"),
    ("partitions_8mb.csv", "otadata,   data, ota,      0xF000", "otadata,   data, ota,      0xE000",
     "otadata at 0xe000, expected 0xf000"),
])
def test_partition_check_names_a_moved_partition(tmp_path, table, old, new, complaint):
    for name in ("partitions_8mb.csv", "partitions_4mb.csv"):
        shutil.copy(FW / name, tmp_path / name)
    text = (tmp_path / table).read_text()
    assert old in text, f"fixture drifted: {old!r} not in {table}"
    (tmp_path / table).write_text(text.replace(old, new, 1))
    r = run_check(tmp_path)
    assert r.returncode == 1
    assert complaint in r.stderr


def test_partition_check_rejects_overlap_and_missing_table(tmp_path):
    shutil.copy(FW / "partitions_8mb.csv", tmp_path / "partitions_8mb.csv")
    text = (FW / "partitions_4mb.csv").read_text()
    (tmp_path / "partitions_4mb.csv").write_text(
        text.replace("ota_0,     app,  ota_0,    0x20000,  0x1D0000",
                     "ota_0,     app,  ota_0,    0x20000,  0x1E0000"))
    r = run_check(tmp_path)
    assert r.returncode == 1
    assert "overlaps ota_1" in r.stderr
    (tmp_path / "partitions_8mb.csv").unlink()
    r = run_check(tmp_path)
    assert "partitions_8mb.csv: missing" in r.stderr


# ---- build settings ----------------------------------------------------------------------

def test_source_version_comes_from_version_txt():
    version = (FW / "version.txt").read_text().strip()
    assert version == "0.7.0"
    cmake = (FW / "CMakeLists.txt").read_text()
    assert re.search(r'file\(STRINGS\s+"\$\{CMAKE_CURRENT_LIST_DIR\}/version\.txt"', cmake)
    assert "PROJECT_VER" in cmake
    assert cmake.index("PROJECT_VER") < cmake.index("project(")   # must be set before project()


def test_source_sdkconfig_defaults_carry_the_required_settings():
    cfg = sdkconfig(FW / "sdkconfig.defaults")
    assert cfg["CONFIG_IDF_TARGET"] == '"esp32s3"'
    assert cfg["CONFIG_ESPTOOLPY_FLASHSIZE_8MB"] == "y"
    assert cfg["CONFIG_ESP_WIFI_CSI_ENABLED"] == "y"
    assert cfg["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"
    assert cfg["CONFIG_PM_ENABLE"] == "y"
    assert cfg["CONFIG_FREERTOS_USE_TICKLESS_IDLE"] == "y"      # light sleep needs it
    assert cfg["CONFIG_PARTITION_TABLE_CUSTOM"] == "y"
    assert cfg["CONFIG_PARTITION_TABLE_OFFSET"] == "0x8000"
    table = cfg["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"].strip('"')
    assert table == "partitions_8mb.csv" and (FW / table).is_file()
    # "Authorization: Bearer " + 64-char PSK and "X-Image-SHA256: " + 64 hex, plus the
    # request line and usual client headers, must fit the server's header buffer.
    assert int(cfg["CONFIG_HTTPD_MAX_REQ_HDR_LEN"]) >= 512
    assert "CONFIG_APP_PROJECT_VER_FROM_CONFIG" not in cfg     # version.txt wins


def test_4mb_variant_uses_the_4mb_table():
    cfg = sdkconfig(FW / "sdkconfig.defaults.4mb")
    assert cfg["CONFIG_ESPTOOLPY_FLASHSIZE_4MB"] == "y"
    table = cfg["CONFIG_PARTITION_TABLE_CUSTOM_FILENAME"].strip('"')
    assert table == "partitions_4mb.csv" and (FW / table).is_file()


def test_source_main_component_builds_every_source_it_holds():
    cmake = (MAIN / "CMakeLists.txt").read_text()
    listed = set(re.findall(r'"([\w.]+\.c)"', cmake))
    present = {p.name for p in MAIN.glob("*.c")}
    assert listed == present
    assert re.search(r"REQUIRES[\s\S]*\bruview_edge\b", cmake)


def test_source_kconfig_and_component_manifest():
    kconfig = (MAIN / "Kconfig.projbuild").read_text()
    m = re.search(r"config RUVIEW_HTTP_PORT[\s\S]*?default (\d+)", kconfig)
    assert m and m.group(1) == "8032"
    m = re.search(r"config RUVIEW_WIFI_PASSWORD[\s\S]*?default \"(.*)\"", kconfig)
    assert m and m.group(1) == ""                               # no baked-in secret
    manifest = (MAIN / "idf_component.yml").read_text()
    assert re.search(r"^\s+espressif/mdns:", manifest, re.M)


# ---- HTTP status and mDNS contract ---------------------------------------------------------

STATUS_FIELDS = {  # PROTOCOL.md section 4: RuView 0.6.x fields + ours
    "version", "date", "time", "running_partition", "next_partition", "max_size",
    "node_id", "mac", "chip", "project_name", "app_sha256", "ota_state", "rollback",
    "uptime_s", "edge_tier", "reset_reason",
}


def test_source_ota_status_names_every_protocol_field():
    src = (MAIN / "http_ota.c").read_text()
    body = src[src.index("static esp_err_t status_get"):src.index("/* ---- POST /ota")]
    keys = set(re.findall(r'\\"(\w+)\\":', body))
    assert keys == STATUS_FIELDS


UPLOAD_REFUSALS = {  # (HTTP status, JSON "code") as firmware/README.md documents them
    ("403 Forbidden", "ota_disabled"), ("403 Forbidden", "auth"),
    ("411 Length Required", "length_required"), ("400 Bad Request", "empty"),
    ("413 Payload Too Large", "too_large"), ("400 Bad Request", "bad_digest_header"),
    ("422 Unprocessable Entity", "invalid_image"), ("422 Unprocessable Entity", "digest_mismatch"),
    ("500 Internal Server Error", "write_failed"),
}


def test_source_ota_upload_names_the_documented_statuses():
    src = (MAIN / "http_ota.c").read_text()
    upload = src[src.index("/* ---- POST /ota"):]
    pairs = set(re.findall(r'refuse\(r, "([^"]+)", "(\w+)"', upload))
    assert pairs == UPLOAD_REFUSALS
    assert '"Bearer "' in src and "0xE9" in upload
    assert "esp_ota_abort" in upload and "esp_ota_set_boot_partition" in upload
    readme = (FW / "README.md").read_text()
    for status, code in UPLOAD_REFUSALS:
        assert f"`{code}`" in readme and status.split()[0] in readme


def test_source_mdns_advert_names_the_protocol_txt_keys():
    src = (MAIN / "mdns_adv.c").read_text()
    keys = set(re.findall(r'\{\s*"(\w+)",', src))
    assert keys == {"node_id", "mac", "chip", "version", "edge_tier", "ota", "api", "name"}
    assert '"_ruview", "_tcp"' in src and '"_ruview", "_udp"' in src
    info = (MAIN / "node_info.c").read_text()
    assert '"ruview-%02x%02x%02x", m[3], m[4], m[5]' in info       # host: 6 hex of MAC
    assert '"ruview-%u-%02x%02x"' in info                          # instance


# ---- post-OTA self-test decision (real C source, host compiler) ---------------------------

SELFTEST_DRIVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "self_test_policy.h"

int main(int argc, char **argv) {
    if (argc != 6) return 2;
    rv_selftest_limits_t lim = { 60000, 20, 10 };
    rv_selftest_obs_t obs = {
        (uint32_t)strtoul(argv[1], 0, 10), atoi(argv[2]) != 0,
        (uint32_t)strtoul(argv[3], 0, 10), (uint32_t)strtoul(argv[4], 0, 10), atoi(argv[5]) != 0,
    };
    static const char *names[] = { "wait", "pass", "fail" };
    printf("%s %s\n", names[rv_selftest_decide(&lim, &obs)], rv_selftest_missing(&lim, &obs));
    return 0;
}
"""


@pytest.fixture(scope="module")
def selftest_bin(tmp_path_factory):
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    need_system("a C compiler (gcc)", cc is not None, "build-essential")
    d = tmp_path_factory.mktemp("selftest")
    (d / "driver.c").write_text(SELFTEST_DRIVER)
    exe = d / "selftest"
    subprocess.run([cc, "-std=c11", "-Wall", "-Wextra", "-Werror", "-I", str(MAIN),
                    str(d / "driver.c"), str(MAIN / "self_test_policy.c"), "-o", str(exe)],
                   check=True, capture_output=True, timeout=60)
    return exe


def decide(exe, elapsed_ms, wifi, csi, udp, telemetry=1):
    out = subprocess.run([str(exe), str(elapsed_ms), str(wifi), str(csi), str(udp),
                          str(telemetry)], capture_output=True, text=True, check=True)
    return tuple((out.stdout.split() + [""])[:2])


@pytest.mark.parametrize("elapsed, wifi, csi, udp, telemetry, expected", [
    (5000, 1, 20, 10, 1, ("pass", "")),           # everything works: valid at once
    (5000, 0, 0, 0, 1, ("wait", "wifi")),         # still joining: keep waiting
    (59999, 1, 19, 10, 1, ("wait", "csi")),       # one CSI frame short, before the deadline
    (60000, 1, 500, 0, 1, ("fail", "udp")),       # sends never succeed: roll back, say why
    (60000, 0, 0, 0, 1, ("fail", "wifi")),        # never joined the network: roll back
    (60000, 1, 500, 0, 0, ("pass", "")),          # telemetry disabled by config: UDP waived
    (70000, 1, 20, 10, 1, ("pass", "")),          # late but healthy: valid, not rollback
])
def test_self_test_decision(selftest_bin, elapsed, wifi, csi, udp, telemetry, expected):
    assert decide(selftest_bin, elapsed, wifi, csi, udp, telemetry) == expected


# ---- NVS loading: main/config_fields.c against the core's key table ------------------------

FIELDS_DRIVER = r"""
#include <stdio.h>
#include <string.h>
#include "config_fields.h"
#include "config_load.h"
#include "ruview_edge.h"

static const config_field_t *field_for(const char *ns, const char *key) {
    for (size_t i = 0; i < config_fields_count; i++)
        if (!strcmp(config_fields[i].ns, ns) && !strcmp(config_fields[i].key, key))
            return &config_fields[i];
    return NULL;
}

int main(void) {
    int bad = 0;
    for (const rv_nvs_key_t *k = rv_nvs_keys; k->key; k++) {
        const config_field_t *f = field_for(k->ns, k->key);
        size_t width = k->type == RV_NVS_U8 ? 1 : k->type == RV_NVS_U16 ? 2 : 4;
        if (!f) { printf("unread %s/%s\n", k->ns, k->key); bad++; continue; }
        if (k->type == RV_NVS_STR) {
            if (!f->is_str || f->size < k->max + 1) { printf("string %s\n", k->key); bad++; }
        } else if (k->type == RV_NVS_BLOB) {
            if (f->len_off < 0 || f->size < k->max) { printf("blob %s\n", k->key); bad++; }
        } else if (f->is_str || f->len_off >= 0 || f->size != width) {
            printf("int %s width %zu, field %zu\n", k->key, width, f->size); bad++;
        }
        if (f->off + f->size > sizeof(node_config_t)) { printf("offset %s\n", k->key); bad++; }
    }
    for (size_t i = 0; i < config_fields_count; i++) {
        const config_field_t *f = &config_fields[i];
        if (!rv_nvs_find(f->ns, f->key)) { printf("unknown %s/%s\n", f->ns, f->key); bad++; }
    }
    printf("%zu fields, %d problems\n", config_fields_count, bad);
    return bad != 0;
}
"""


def test_every_core_nvs_key_is_loaded_into_a_matching_field(tmp_path):
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    need_system("a C compiler (gcc)", cc is not None, "build-essential")
    core = FW / "components" / "ruview_edge"
    (tmp_path / "driver.c").write_text(FIELDS_DRIVER)
    exe = tmp_path / "fields"
    build = subprocess.run(
        [cc, "-std=gnu11", "-Wall", "-I", str(MAIN), "-I", str(core / "include"),
         "-I", str(core / "src"), str(tmp_path / "driver.c"), str(MAIN / "config_fields.c"),
         *map(str, sorted((core / "src").glob("*.c"))), "-lm", "-o", str(exe)],
        capture_output=True, text=True, timeout=120)
    assert build.returncode == 0, build.stderr
    r = subprocess.run([str(exe)], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout
    assert r.stdout.strip().endswith("28 fields, 0 problems")   # PROTOCOL.md §2: 27 + ota_psk
