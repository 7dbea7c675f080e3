"""An OTA update of the real firmware, end to end through the host port: HTTP upload with the
HMAC challenge (contract A), esp_ota_* writing the other slot of the flash file, image checks
(esp_image_format rules), otadata switched, the update recorded in NVS (written by the port in
ESP-IDF's format and read back with ruview's own NVS reader), then esp_restart: a "restart"
message on the link and a clean exit. And the node's watchdog turns a hung task into a reboot.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import signal
import struct

import pytest

from ruview_cli.config.nvs import read_nvs
from ruview_cli.sim.appimage import build_app_image
from test_host_port_support import Node, firmware_binary, make_flash

PSK = "psk-for-tests"   # security/ota_psk of make_flash's default NVS
NVS, NVS_SIZE, OTADATA, OTA_1 = 0x9000, 0x6000, 0xF000, 0x220000


def _upload(node: Node, image: bytes):
    status, body = node.request("GET", "/ota/nonce")
    assert status == 200, body
    nonce = json.loads(body)["nonce"]
    digest = hashlib.sha256(image).hexdigest()
    msg = f"ruview-ota-v1\n{nonce}\n{digest}\n{len(image)}".encode()
    mac = hmac.new(PSK.encode(), msg, hashlib.sha256).hexdigest()
    return node.request("POST", "/ota", body=image, headers={
        "Content-Length": str(len(image)), "X-Image-SHA256": digest,
        "Authorization": f"RV-HMAC-SHA256 nonce={nonce}, mac={mac}"}, timeout=30)


def _read(path, offset: int, n: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(n)


def test_ota_update_writes_slot_otadata_nvs_then_restarts(tmp_path, loopback):
    path, _ = make_flash(tmp_path, version="1.0.0")
    new = build_app_image("1.1.0")
    node = Node(firmware_binary(), path, loopback.addr())
    try:
        node.wait_http()
        assert node.get_json("/ota/status")["version"] == "1.0.0"
        status, body = _upload(node, new)
        assert status == 200, body
        reply = json.loads(body)
        assert reply["version"] == "1.1.0" and reply["next_partition"] == "ota_1"
        assert reply["sha256"] == hashlib.sha256(new).hexdigest()
        restart = node.wait_message(lambda m: m.get("t") == "restart", timeout=10)
        code = node.proc.wait(10)
    finally:
        node.close()
    assert restart == {"t": "restart", "reason": "sw"}
    assert code == 0, node.output
    # the image landed in ota_1, and otadata now selects ota_1 (seq 2 -> slot (2-1) % 2) as NEW
    assert _read(path, OTA_1, len(new)) == new
    entries = [struct.unpack("<I20sII", _read(path, OTADATA + i * 0x1000, 32)) for i in (0, 1)]
    active = max((e for e in entries if e[0] != 0xFFFFFFFF), key=lambda e: e[0])
    assert (active[0] - 1) % 2 == 1 and active[2] == 0   # ESP_OTA_IMG_NEW
    # main/ota_history.c recorded the attempt in NVS; ruview's reader parses what the port wrote
    values = read_nvs(_read(path, NVS, NVS_SIZE))
    assert values["ruview_ota"]["to_slot"].value == "ota_1"
    assert values["ruview_ota"]["to_ver"].value == "1.1.0"
    assert values["csi_cfg"]["node_id"].value == 7            # provisioned keys kept


def _flip(image: bytes, at: int) -> bytes:
    raw = bytearray(image)
    raw[at] ^= 0x5A
    return bytes(raw)


@pytest.mark.parametrize("image,why", [
    (build_app_image("1.1.0", chip_id=2), "mismatch chip ID, expected 9, found 2"),   # ESP32-S2
    # a byte of the code segment: the XOR checksum no longer matches
    (_flip(build_app_image("1.1.0"), len(build_app_image("1.1.0")) // 2), "Checksum failed"),
    # a byte of the appended SHA-256 itself: checksum fine, hash not
    (_flip(build_app_image("1.1.0"), -1), "Image hash failed - image is corrupt"),
], ids=["other-chip", "corrupt-code", "corrupt-digest"])
def test_ota_rejects_an_image_the_chip_cannot_boot(tmp_path, loopback, image, why):
    path, _ = make_flash(tmp_path, version="1.0.0")
    wrong = image
    node = Node(firmware_binary(), path, loopback.addr())
    try:
        node.wait_http()
        status, body = _upload(node, wrong)
        still_up = node.proc.wait(0) is None
    finally:
        node.close()
    assert status == 422 and json.loads(body)["code"] == "invalid_image", body
    assert why in node.output
    assert still_up
    assert _read(path, OTADATA, 4) == b"\xff" * 4        # boot selection untouched


def test_hung_task_trips_the_task_watchdog(tmp_path, loopback):
    path, _ = make_flash(tmp_path)
    node = Node(firmware_binary(), path, loopback.addr())
    try:
        node.wait_http()
        node.proc.send({"t": "fault", "name": "hang"})
        code = node.proc.wait(30)
        panic = node.wait_message(lambda m: m.get("t") == "panic", timeout=1)
    finally:
        node.close()
    assert code == -signal.SIGABRT, node.output
    assert "task_wdt: Task watchdog got triggered" in node.output
    assert panic == {"t": "panic", "reason": "task_wdt"}
