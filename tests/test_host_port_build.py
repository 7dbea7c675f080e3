"""Building the firmware for the emulator: cached by source content, a clear error without a C
compiler, and the project's own configuration (sdkconfig.defaults, Kconfig defaults) applied."""

from __future__ import annotations

import pytest

from ruview_cli.errors import RuviewError
from ruview_cli.sim import firmware_build
from ruview_cli.sim.firmware_build import firmware_binary, sdkconfig_h


def test_build_is_cached_by_source_content():
    first = firmware_binary()
    assert first.is_file() and first == firmware_binary()
    variant = firmware_binary(replace={"app_main.c": "void app_main(void) {}\n"})
    assert variant != first and variant.is_file()
    # the cache lives outside the source tree
    assert firmware_build.FIRMWARE not in first.parents


def test_missing_compiler_is_a_clear_error(monkeypatch, tmp_path):
    monkeypatch.delenv("CC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))   # an empty directory: no cc, gcc or clang
    with pytest.raises(RuviewError) as err:
        firmware_binary()
    assert "no C compiler" in err.value.message and "build-essential" in err.value.fix


def test_unknown_replacement_is_refused():
    with pytest.raises(ValueError, match="no such file in firmware/main"):
        firmware_binary(replace={"nope.c": ""})


def test_sdkconfig_takes_the_project_configuration():
    h = sdkconfig_h()
    assert '#define CONFIG_RUVIEW_TARGET_IP "192.168.1.100"' in h      # Kconfig.projbuild default
    assert "#define CONFIG_HTTPD_MAX_REQ_HDR_LEN 1024" in h            # sdkconfig.defaults wins
    assert "#define CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE 1" in h
    assert '#define CONFIG_IDF_TARGET "esp32s3"' in h
