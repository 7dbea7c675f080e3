"""ESP32-S3 app images: built with esptool's image module, inspected and refused with a reason."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ruview_cli.errors import RuviewError
from ruview_cli.ota.image import ImageError, image_length, inspect_image
from ruview_cli.sim.appimage import build_app_image


@pytest.fixture(scope="module")
def image() -> bytes:
    return build_app_image("2.1.0", project_name="ruview", idf_ver="v5.2.1")


def test_roundtrip_reports_app_description(image):
    info = inspect_image(image)
    assert info.chip == "ESP32-S3" and info.chip_id == 9
    assert info.version == "2.1.0"
    assert info.project_name == "ruview"
    assert info.idf_ver == "v5.2.1"
    assert info.date == "Nov 26 2026" and info.time == "12:00:00"
    assert info.checksum_ok and info.sha256_ok is True
    assert info.size == len(image)
    assert info.sha256 == hashlib.sha256(image).hexdigest()
    assert len(info.app_elf_sha256) == 64
    assert info.min_rev == 0 and info.max_rev == 99
    assert 2 <= len(info.segments) <= 16


def test_esptool_reads_our_image_like_a_real_one(image):
    # esptool's own loader agrees with inspect_image (it is the same module, independently).
    from esptool.bin_image import LoadFirmwareImage

    loaded = LoadFirmwareImage("esp32s3", image)
    assert loaded.chip_id == 9
    assert loaded.stored_digest == loaded.calc_digest
    assert loaded.checksum == loaded.calculate_checksum()


def test_builds_are_deterministic_and_versions_differ():
    assert build_app_image("1.0.0") == build_app_image("1.0.0")
    assert build_app_image("1.0.0") != build_app_image("1.0.1")


def test_requested_size_is_honoured():
    big = build_app_image("3.0.0", size=950_000)
    assert len(big) >= 950_000
    assert inspect_image(big).version == "3.0.0"


def test_wrong_chip_is_refused_naming_the_chip():
    with pytest.raises(ImageError) as err:
        inspect_image(build_app_image("1.0.0", chip_id=0))
    assert "ESP32 (chip id 0)" in err.value.message and "ESP32-S3" in err.value.message
    with pytest.raises(ImageError, match="ESP32-C3"):
        inspect_image(build_app_image("1.0.0", chip_id=5))


def test_not_an_image():
    with pytest.raises(ImageError, match="first byte is 0x7F"):
        inspect_image(b"\x7fELF" + b"\0" * 100)
    with pytest.raises(ImageError, match="empty"):
        inspect_image(b"")


def test_truncated_image(image):
    with pytest.raises(ImageError, match="truncated"):
        inspect_image(image[: len(image) // 2])
    with pytest.raises(ImageError, match="truncated"):
        inspect_image(image[:20])


def test_corrupt_segment_fails_checksum(image):
    bad = bytearray(image)
    bad[5000] ^= 0x01
    with pytest.raises(ImageError, match="checksum"):
        inspect_image(bytes(bad))


def test_corrupt_header_fails_sha256(image):
    bad = bytearray(image)
    bad[2] ^= 0x01  # flash mode: not covered by the checksum byte, covered by the digest
    with pytest.raises(ImageError, match="SHA-256"):
        inspect_image(bytes(bad))


def test_without_digest():
    info = inspect_image(build_app_image("1.0.0", append_sha=False))
    assert info.sha256_ok is None and info.version == "1.0.0"


def test_chip_revision_range():
    img = build_app_image("1.0.0", min_rev=300, max_rev=399)
    with pytest.raises(ImageError, match=r"needs chip revision >= v3\.0, this chip is v0\.2"):
        inspect_image(img, chip_rev=2)
    assert inspect_image(img, chip_rev=301).version == "1.0.0"
    with pytest.raises(ImageError, match=r"<= v0\.1"):
        inspect_image(build_app_image("1.0.0", max_rev=1), chip_rev=2)


def test_image_without_app_description_is_refused():
    from esptool.bin_image import ELFSection, ESP32S3FirmwareImage

    img = ESP32S3FirmwareImage()
    img.segments = [ELFSection(b".dram0.data", 0x3FC88000, b"\x11" * 512, 0)]
    with pytest.raises(ImageError, match="no esp_app_desc_t"):
        inspect_image(img.save(None))


def test_image_error_is_a_ruview_error_with_a_fix():
    with pytest.raises(RuviewError) as err:
        inspect_image(b"\x00")
    assert err.value.fix


def test_trailing_padding_is_ignored(image):
    info = inspect_image(image + b"\xff" * 4096)
    assert info.size == len(image) and image_length(image + b"\xff" * 10) == len(image)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=200_000), value=st.integers(0, 255),
       cut=st.integers(min_value=0, max_value=200_000))
def test_mutated_images_never_crash_the_inspector(image, pos, value, cut):
    bad = bytearray(image)
    bad[pos % len(bad)] = value
    bad = bytes(bad[: max(1, cut % (len(bad) + 1))])
    try:
        inspect_image(bad)
    except ImageError as exc:
        assert exc.message


def test_image_info_on_a_build_directory_names_the_image_inside(tmp_path):
    from typer.testing import CliRunner

    from ruview_cli.cli.app import app

    (tmp_path / "project_description.json").write_text('{"app_bin": "ruview.bin"}')
    (tmp_path / "ruview.bin").write_bytes(build_app_image("0.7.1"))
    (tmp_path / "bootloader").mkdir()
    r = CliRunner().invoke(app, ["image", "info", str(tmp_path)])
    assert r.exit_code == 2
    assert "is a directory" in r.output and str(tmp_path / "ruview.bin") in r.output
    r = CliRunner().invoke(app, ["image", "info", str(tmp_path / "bootloader")])
    assert r.exit_code == 2 and "holds no .bin file" in r.output
    r = CliRunner().invoke(app, ["image", "info", str(tmp_path / "ruview.bin"), "--json"])
    assert r.exit_code == 0 and '"version":"0.7.1"' in r.output
