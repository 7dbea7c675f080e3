"""`ruview flash` end to end: the installed CLI flashes a fake ESP-IDF build into an emulated
node over socket:// with esptool's real code; the node boots the new app, NVS survives."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from ruview_cli.sim.appimage import build_app_image
from ruview_cli.sim.fleet import FleetOptions, SimFleet
from ruview_cli.sim.partitions import LAYOUT_8MB, build_table

RUVIEW = shutil.which("ruview")
PSK = "flash-e2e-key-12345"
NVS = (0x9000, 0x6000)
BOOTLOADER = bytes([0xE9, 0x00, 0x02, 0x3F]) + b"\x00" * 12 + b"\xff" * 16


def make_build(root: Path, version="0.8.0", chip="esp32s3", extra: dict | None = None) -> Path:
    files = {"0x0": "bootloader/bootloader.bin", "0x8000": "partition_table/partition-table.bin",
             "0xf000": "ota_data_initial.bin", "0x20000": "ruview.bin"}
    contents = {"bootloader/bootloader.bin": BOOTLOADER,
                "partition_table/partition-table.bin": build_table(LAYOUT_8MB),
                "ota_data_initial.bin": b"\xff" * 0x2000,
                "ruview.bin": build_app_image(version)}
    for off, (rel, data) in (extra or {}).items():
        files[off] = rel
        contents[rel] = data
    for rel, data in contents.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    spec = {
        "write_flash_args": ["--flash_mode", "dio", "--flash_size", "8MB", "--flash_freq", "80m"],
        "flash_settings": {"flash_mode": "dio", "flash_size": "8MB", "flash_freq": "80m"},
        "flash_files": files,
        "bootloader": {"offset": "0x0", "file": files["0x0"], "encrypted": "false"},
        "partition-table": {"offset": "0x8000", "file": files["0x8000"], "encrypted": "false"},
        "otadata": {"offset": "0xf000", "file": files["0xf000"], "encrypted": "false"},
        "app": {"offset": "0x20000", "file": "ruview.bin", "encrypted": "false"},
        "extra_esptool_args": {"after": "hard_reset", "before": "default_reset", "stub": True,
                               "chip": chip},
    }
    (root / "flasher_args.json").write_text(json.dumps(spec))
    return root


@pytest.fixture
def node(loopback):
    fl = SimFleet(FleetOptions(nodes=1, psk=PSK, first_host=loopback.hosts(1),
                               stream=False, pty=False, mdns_interface="127.0.0.1"))
    fl.start()
    yield fl, fl.nodes[0], fl.describe(0)["serial_url"]
    fl.stop()


def run(*args):
    return subprocess.run([RUVIEW, "flash", *args], capture_output=True, text=True, timeout=120)


def nvs_bytes(n) -> bytes:
    return n.flash.read(*NVS)


def test_flash_boots_new_app_and_keeps_nvs(node, tmp_path):
    fl, n, url = node
    build = make_build(tmp_path)
    before = nvs_bytes(n)
    r = run(str(build), "--port", url, "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    assert doc["verified"] is True and doc["nvs_erased"] is False
    assert [f["role"] for f in doc["written"]] == ["bootloader", "partition-table", "otadata",
                                                  "app"]
    assert n.wait_for(lambda x: x.state == "running" and x.version == "0.8.0", 10)
    assert nvs_bytes(n) == before and n.ota_psk == PSK
    app = (build / "ruview.bin").read_bytes()
    assert n.flash.read(0x20000, len(app)) == app


def test_flash_after_ota_to_slot_1_boots_the_flashed_slot(node, tmp_path):
    """otadata is reset by the flash, so the bootloader leaves ota_1 for the new ota_0."""
    import hashlib
    import requests

    fl, n, url = node
    img = build_app_image("0.7.5")
    n.ota_reboot_delay_s = 0.05
    r = requests.post(f"http://{n.ip}:8032/ota", data=img, timeout=20,
                      headers={"Authorization": f"Bearer {PSK}",
                               "X-Image-SHA256": hashlib.sha256(img).hexdigest()})
    assert r.status_code == 200
    assert n.wait_for(lambda x: x.version == "0.7.5" and x.ota_state == "valid", 15)
    r = run(str(make_build(tmp_path)), "--port", url)
    assert r.returncode == 0, r.stderr
    assert "NVS kept" in r.stdout
    assert n.wait_for(lambda x: x.state == "running" and x.version == "0.8.0", 10)
    assert n.running_partition.name == "ota_0"


def test_erase_config_wipes_nvs(node, tmp_path):
    fl, n, url = node
    r = run(str(make_build(tmp_path)), "--port", url, "--erase-config")
    assert r.returncode == 0, r.stderr
    assert n.wait_for(lambda x: x.state == "running" and x.version == "0.8.0", 10)
    assert nvs_bytes(n) == b"\xff" * NVS[1] and n.ota_psk == ""


def test_nvs_image_in_build_is_not_written_without_erase_config(node, tmp_path):
    fl, n, url = node
    before = nvs_bytes(n)
    build = make_build(tmp_path, extra={"0x9000": ("nvs.bin", b"\x00" * NVS[1])})
    r = run(str(build), "--port", url)
    assert r.returncode == 0, r.stderr
    assert "overlaps the NVS partition" in r.stderr
    assert n.wait_for(lambda x: x.state == "running" and x.version == "0.8.0", 10)
    assert nvs_bytes(n) == before


def test_not_a_build_dir_and_wrong_chip_are_usage_errors(tmp_path, loopback):
    nowhere = f"socket://{loopback.addr()}:9"
    r = run(str(tmp_path), "--port", nowhere)
    assert r.returncode == 2 and "no flasher_args.json" in r.stderr
    r = run(str(make_build(tmp_path / "c3", chip="esp32c3")), "--port", nowhere)
    assert r.returncode == 2 and "the build is for esp32c3" in r.stderr


def test_unreachable_port_is_a_clear_error(tmp_path, loopback):
    r = run(str(make_build(tmp_path)), "--port", f"socket://{loopback.addr()}:9")
    assert r.returncode == 1 and "cannot talk to the chip" in r.stderr
    assert "Traceback" not in r.stderr


def test_flash_takes_baud_and_no_stub_like_provision(node, tmp_path):
    fl, n, url = node
    r = run(str(make_build(tmp_path)), "--port", url, "--baud", "115200", "--no-stub", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["verified"] is True
    assert n.wait_for(lambda x: x.state == "running" and x.version == "0.8.0", 10)
    r = run(str(tmp_path), "--port", url, "--baud", "300")
    assert r.returncode == 2 and "--baud" in r.stderr
