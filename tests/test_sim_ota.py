"""OTA on an emulated node over real HTTP: A/B slots, otadata, self-test, rollback, faults.

Nodes of our flavour run the firmware itself (its HTTP server, OTA writes, self-test and
rollback decisions); the emulator contributes the bootloader, the radio and the faults.
"""

from __future__ import annotations

import hashlib
import http.client
import socket
import struct

import pytest
import requests

from ota_upload import hmac_authorization
from ruview_cli.config.nvs import NvsValue
from ruview_cli.sim.appimage import build_app_image
from ruview_cli.sim.faults import NodeFaults
from ruview_cli.sim.flash import FlashImage
from ruview_cli.sim.node import RUVIEW06_MAX_SIZE, SimNode, build_node_flash
from ruview_cli.sim.otadata import (ABORTED, INVALID, NEW, PENDING_VERIFY, UNDEFINED, VALID,
                                    OtaData, OtaEntry, seq_crc)

PSK = "0123456789abcdef0123456789abcdef"


def nvs_values(psk: str | None = PSK, **csi) -> dict:
    cfg = {"node_id": NvsValue("u8", 3), "target_ip": NvsValue("str", "127.0.0.1"),
           "target_port": NvsValue("u16", 5005), "ssid": NvsValue("str", "lab"),
           "password": NvsValue("str", "lab-password")}
    cfg.update({k: v for k, v in csi.items()})
    values = {"csi_cfg": cfg}
    if psk is not None:
        values["security"] = {"ota_psk": NvsValue("str", psk)}
    return values


# The firmware's self-test gives up after CONFIG_RUVIEW_SELF_TEST_TIMEOUT_S (10 s in the host build).
SELFTEST_GIVES_UP_S = 50


@pytest.fixture
def make_node(loopback):
    nodes: list[SimNode] = []

    def make(flavor="ours", psk=PSK, faults=None, version="1.0.0", **csi):
        flash = build_node_flash(version, nvs_values(psk, **csi))
        n = len(nodes)
        node = SimNode(n, loopback.addr(), flash, bytes([0x24, 0x6F, 0x28, 0x7A, 0x00, n]),
                       flavor=flavor, faults=faults or NodeFaults(), ota_reboot_delay_s=0.1)
        node.boot()
        nodes.append(node)
        return node

    yield make
    for node in nodes:
        node.shutdown()


def url(node, path="/ota/status"):
    return f"http://{node.ip}:{node.http_port}{path}"


def status(node) -> dict:
    r = requests.get(url(node), timeout=10)
    assert r.status_code == 200
    return r.json()


def hmac_auth(node, key: str, digest: str, length: int) -> str:
    return hmac_authorization(url(node, ""), key, digest, length)


def upload(node, image: bytes, psk: str | None = PSK, sha: str | None = None):
    """Our firmware: HMAC challenge-response (X-Image-SHA256 defaults to the image's digest);
    RuView 0.6.x: Bearer."""
    headers = {"Content-Type": "application/octet-stream"}
    if node.flavor == "ours":
        sha = hashlib.sha256(image).hexdigest() if sha is None else sha
        if psk is not None:
            headers["Authorization"] = hmac_auth(node, psk, sha, len(image))
    elif psk is not None:
        headers["Authorization"] = f"Bearer {psk}"
    if sha is not None:
        headers["X-Image-SHA256"] = sha
    return requests.post(url(node, "/ota"), data=image, headers=headers, timeout=30)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# --- otadata as ESP-IDF writes it ------------------------------------------------------------

def test_otadata_crc_matches_esp_idf():
    # esp_rom_crc32_le(UINT32_MAX, &seq, 4) for seq = 1, as in every ESP-IDF otadata dump.
    assert seq_crc(1) == 0x4743989A
    raw = OtaEntry.make(1, VALID).pack()
    assert len(raw) == 32 and raw[:4] == b"\x01\0\0\0" and raw[-4:] == struct.pack("<I", 0x4743989A)


def test_otadata_sequence_and_rollback_states():
    """The bootloader's side (the app's side is the firmware's esp_ota_* port)."""
    flash = FlashImage()
    od = OtaData(flash, 0xF000)
    assert od.bootloader_select(2, rollback=True) is None          # erased: no otadata
    assert od.set_boot_slot(1, 2, rollback=True) == 2              # first OTA to ota_1
    assert [e.seq for e in od.read()] == [2, 0xFFFFFFFF]
    assert od.read()[0].state == NEW
    assert od.bootloader_select(2, rollback=True) == 1             # NEW → PENDING_VERIFY
    assert od.read()[0].state == PENDING_VERIFY
    assert od.bootloader_select(2, rollback=True) is None          # not confirmed → ABORTED
    assert od.read()[0].state == ABORTED

    od.erase()
    od.write_entry(0, OtaEntry.make(1, VALID))
    assert od.set_boot_slot(1, 2, rollback=False) == 2             # RuView 0.6.x: no states
    assert od.read()[1].seq == 2 and od.read()[1].state == UNDEFINED
    assert od.bootloader_select(2, rollback=False) == 1
    od.write_entry(1, OtaEntry.make(2, INVALID))                   # the app gave up on it
    assert od.bootloader_select(2, rollback=True) == 0             # previous slot again


def test_corrupt_otadata_crc_is_ignored():
    flash = FlashImage()
    od = OtaData(flash, 0xF000)
    od.write_entry(0, OtaEntry.make(1, VALID))
    od.write_entry(1, OtaEntry(seq=2, state=VALID, crc=0x12345678))  # torn write
    assert od.bootloader_select(2, rollback=True) == 0


# --- OTA state machine over HTTP (our firmware) ---------------------------------------------

def test_ota_success_pending_then_valid(make_node):
    # No CSI reaches the new image until the fault is lifted: its self-test cannot pass yet.
    node = make_node(faults=NodeFaults(selftest_fail=True))
    assert status(node)["version"] == "1.0.0"
    image = build_app_image("2.0.0")
    r = upload(node, image, sha=sha(image))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ok" and body["version"] == "2.0.0"
    assert body["next_partition"] == "ota_1"

    assert node.wait_for(lambda n: n.running and n.version == "2.0.0", 20)
    st = status(node)
    assert st["version"] == "2.0.0" and st["ota_state"] == "pending_verify"
    assert st["running_partition"] == "ota_1" and st["next_partition"] == "ota_0"
    assert st["app_sha256"] == sha(image) and st["reset_reason"] == "sw"
    assert st["rollback"] is None

    # esp_ota_begin refuses another update until the running app has confirmed itself
    r = upload(node, build_app_image("3.0.0"))
    assert r.status_code == 409 and r.json()["code"] == "pending_verify"

    node.faults.selftest_fail = False  # CSI flows: the self-test passes, the app is valid
    assert node.wait_for(lambda n: n.ota_state == "valid", 20)
    assert status(node)["ota_state"] == "valid"
    node.reboot("poweron")  # confirmed: a power cycle keeps the new version
    st = status(node)
    assert st["version"] == "2.0.0" and st["ota_state"] == "valid" and st["rollback"] is None


def test_selftest_failure_rolls_back(make_node):
    node = make_node(faults=NodeFaults(selftest_fail=True))
    r = upload(node, build_app_image("2.0.0"))
    assert r.status_code == 200
    assert node.wait_for(lambda n: n.running and n.boot_count == 3, SELFTEST_GIVES_UP_S)
    st = status(node)   # 1.0.0, then 2.0.0 (failed self-test), then 1.0.0 again
    assert st["version"] == "1.0.0" and st["running_partition"] == "ota_0"
    assert st["rollback"] == "2.0.0" and st["ota_state"] == "valid"
    assert b"self_test: failed" in node.console_tail
    assert node.otadata_states()[1].endswith(":invalid")

    # the fault is fixed: the next update sticks and the rollback note goes away with it
    node.faults.selftest_fail = False
    assert upload(node, build_app_image("2.0.1")).status_code == 200
    assert node.wait_for(lambda n: n.running and n.version == "2.0.1" and n.ota_state == "valid", 20)
    assert status(node)["rollback"] is None


def test_crash_loop_rolls_back(make_node):
    node = make_node(faults=NodeFaults(crash_loop=True))
    assert upload(node, build_app_image("2.0.0")).status_code == 200
    assert node.wait_for(lambda n: n.running and n.boot_count >= 3, 20)
    st = status(node)
    assert st["version"] == "1.0.0" and st["rollback"] == "2.0.0"
    assert st["reset_reason"] == "panic" and node.crash_count == 1
    assert node.otadata_states()[1].endswith(":aborted")


def test_dropped_connection_keeps_old_version_and_retry_succeeds(make_node):
    node = make_node(faults=NodeFaults(drop_after_bytes=20_000))
    image = build_app_image("2.0.0")
    with pytest.raises(requests.ConnectionError):
        upload(node, image)
    st = status(node)
    assert st["version"] == "1.0.0" and st["running_partition"] == "ota_0"
    assert node.boot_count == 1 and node.otadata_states()[1] == "empty"
    r = upload(node, image)
    assert r.status_code == 200
    assert node.wait_for(lambda n: n.running and n.version == "2.0.0", 20)


def test_throttled_upload_still_completes(make_node):
    node = make_node(faults=NodeFaults(throttle_kbps=4000))
    assert upload(node, build_app_image("2.0.0")).status_code == 200
    assert node.wait_for(lambda n: n.running and n.version == "2.0.0", 20)


def test_psk_rules(make_node):
    # A refusal is decided from the headers; a body within the firmware's drain bound
    # (RV_OTA_DRAIN_MAX) is read and the connection closed cleanly, so the answer always
    # arrives. A larger refused body is cut (a reset may beat the answer: test_http_contract).
    image = build_app_image("2.0.0")[:8192]
    blank = make_node(psk=None)
    r = upload(blank, image, psk="anything")
    assert r.status_code == 403 and r.json()["code"] == "ota_disabled"
    assert "no ota_psk provisioned" in r.json()["error"]

    node = make_node()
    for bad in ("wrong", PSK + "x", None):
        r = upload(node, image, psk=bad)
        assert r.status_code == 403 and r.json()["code"] == "auth"
        assert PSK not in r.text
    # the key in clear is refused by our firmware, whatever its spelling
    r = requests.post(url(node, "/ota"), data=image, timeout=10,
                      headers={"Authorization": f"Bearer {PSK}", "X-Image-SHA256": sha(image)})
    assert r.status_code == 403 and r.json()["code"] == "auth_scheme"
    r = requests.post(url(node, "/ota"), data=image, timeout=10,
                      headers={"Authorization": f"bearer {PSK}"})  # prefix is exact
    assert r.status_code == 403
    assert status(node)["version"] == "1.0.0" and node.boot_count == 1


def test_digest_mismatch_is_422(make_node):
    node = make_node()
    image = build_app_image("2.0.0")
    r = upload(node, image, sha=sha(image + b"x"))
    assert r.status_code == 422 and r.json()["code"] == "digest_mismatch"
    r = upload(node, image, sha="nothex")
    assert r.status_code == 400 and r.json()["code"] == "bad_digest_header"
    assert status(node)["version"] == "1.0.0" and node.boot_count == 1


def test_wrong_chip_and_corrupt_images_are_refused(make_node):
    node = make_node()
    r = upload(node, build_app_image("2.0.0", chip_id=5))   # an ESP32-C3 image
    assert r.status_code == 422 and r.json()["code"] == "invalid_image"
    bad = bytearray(build_app_image("2.0.0"))
    bad[5000] ^= 0xFF
    r = upload(node, bytes(bad))
    assert r.status_code == 422 and r.json()["code"] == "invalid_image"
    r = upload(node, b"\x00" * 4096)
    assert r.status_code == 422 and "0xE9" in r.json()["error"]
    assert status(node)["version"] == "1.0.0" and node.boot_count == 1


def test_length_rules_ours(make_node):
    node = make_node()
    conn = http.client.HTTPConnection(node.ip, node.http_port, timeout=10)
    conn.putrequest("POST", "/ota", skip_accept_encoding=True)
    conn.putheader("Authorization", hmac_auth(node, PSK, sha(b""), 0))
    conn.endheaders()
    resp = conn.getresponse()
    assert resp.status == 411
    conn.close()
    r = upload(node, b"")
    assert r.status_code == 400 and r.json()["code"] == "empty"
    # too large: refused from the headers alone; the node does not wait for 2 MB of body
    size = status(node)["max_size"] + 1
    digest = "ab" * 32
    with socket.create_connection((node.ip, node.http_port), timeout=10) as s:
        s.sendall(f"POST /ota HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n"
                  f"X-Image-SHA256: {digest}\r\n"
                  f"Authorization: {hmac_auth(node, PSK, digest, size)}\r\n\r\n".encode())
        reply = b""
        while chunk := s.recv(4096):   # the node answers and closes: nothing is drained
            reply += chunk
    assert reply.startswith(b"HTTP/1.1 413") and b'"too_large"' in reply


# --- RuView 0.6.x flavour -----------------------------------------------------------------------

def _raw_post_headers(node, length: int, psk: str = PSK) -> bytes:
    """Send only the request head (no body) and read what the node answers until it closes."""
    with socket.create_connection((node.ip, node.http_port), timeout=10) as s:
        s.sendall(f"POST /ota HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {psk}\r\n"
                  f"Content-Length: {length}\r\n\r\n".encode())
        out = b""
        while chunk := s.recv(4096):
            out += chunk
        return out


def test_ruview06_size_limit_text_error_and_close(make_node):
    node = make_node(flavor="ruview-0.6")
    assert status(node)["max_size"] == RUVIEW06_MAX_SIZE == 921600
    reply = _raw_post_headers(node, 950_000)
    assert reply.startswith(b"HTTP/1.1 400")
    assert b"text/html" in reply and b"Invalid firmware size" in reply
    # with the body on the wire the node closes before reading it: status or a reset
    try:
        r = upload(node, build_app_image("2.0.0", size=950_000))
        assert r.status_code == 400 and not r.text.startswith("{")
    except requests.ConnectionError:
        pass
    assert _raw_post_headers(node, 100, psk="wrong").startswith(b"HTTP/1.1 403")
    assert status(node)["version"] == "1.0.0" and node.boot_count == 1


def test_ruview06_ota_has_no_rollback(make_node):
    node = make_node(flavor="ruview-0.6", faults=NodeFaults(selftest_fail=True))
    r = upload(node, build_app_image("2.0.0"))
    assert r.status_code == 200 and r.json()["status"] == "ok"
    assert node.wait_for(lambda n: n.running and n.version == "2.0.0", 20)
    st = status(node)
    assert set(st) == {"version", "date", "time", "running_partition", "next_partition",
                       "max_size"}
    assert "rollback" not in st and st["running_partition"] == "ota_1"
    # written UNDEFINED by esp_ota_set_boot_partition and never confirmed
    assert node.otadata_states()[1] == "2:undefined"
    r = upload(node, build_app_image("2.0.1", chip_id=0))
    assert r.status_code == 500 and r.text == "OTA validation failed"


def test_ruview06_crash_loop_never_comes_back(make_node):
    node = make_node(flavor="ruview-0.6", faults=NodeFaults(crash_loop=True))
    assert upload(node, build_app_image("2.0.0")).status_code == 200
    assert node.wait_for(lambda n: n.state == "crash_loop", 20)
    with pytest.raises(requests.ConnectionError):
        requests.get(url(node), timeout=5)
