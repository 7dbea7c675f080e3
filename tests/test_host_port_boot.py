"""The real firmware/main, built for Linux against firmware/host, boots as an emulated node.

Reverting the boot-order fix (a socket opened before esp_netif_init) must abort the node with
lwIP's own assertion text, as a board does; the real main must bring up its HTTP server on the
node's address and answer GET /ota/status from the flash file's NVS and image.
"""

from __future__ import annotations

import signal

from ruview_cli.config.nvs import NvsValue
from ruview_cli.sim.appimage import build_app_image
from test_host_port_support import Node, app_main_source, default_nvs, firmware_binary, \
    image_sha256, make_flash, run_to_exit


def _reverted_boot_order(src: str) -> str:
    """app_main.c with the network stack started after the UDP sender (the original defect)."""
    lines = src.splitlines(keepends=True)
    net = next(i for i, l in enumerate(lines) if l.strip().startswith("net_stack_start("))
    udp = next(i for i, l in enumerate(lines) if l.strip().startswith("udp_sender_start("))
    assert net < udp, "the boot-order fix is not in firmware/main/app_main.c"
    lines[net], lines[udp] = lines[udp], lines[net]
    return "".join(lines)


def test_reverted_boot_order_aborts_with_lwip_assertion(tmp_path, loopback):
    binary = firmware_binary(replace={"app_main.c": _reverted_boot_order(app_main_source())})
    flash, _ = make_flash(tmp_path)
    node, status = run_to_exit(binary, flash, loopback.addr(), timeout=15)
    out = node.output
    assert status == -signal.SIGABRT, f"exit {status}, expected SIGABRT:\n{out}"
    assert "assert failed: tcpip_send_msg_wait_sem" in out and "(Invalid mbox)" in out, out
    assert "lwip/src/api/tcpip.c" in out, out
    # the node never got as far as its HTTP server
    assert "HTTP/OTA server started" not in out


def test_real_main_boots_and_serves_status_from_flash(tmp_path, loopback):
    # every NVS type the provisioning writes, as esp-idf-nvs-partition-gen lays them out
    nvs = default_nvs(target_port=NvsValue("u16", 5006), dwell_ms=NvsValue("u32", 70000),
                      seed_url=NvsValue("str", "http://seed.example/" + "p" * 43),
                      filter_mac=NvsValue("blob", bytes.fromhex("0a0b0c0d0e0f")))
    flash, _ = make_flash(tmp_path, version="2.4.6", nvs=nvs)
    image = build_app_image("2.4.6")
    ip = loopback.addr()
    node = Node(firmware_binary(), flash, ip, reset_reason="task_wdt",
                mac="aa:bb:cc:12:34:56")
    try:
        node.wait_http()
        st = node.get_json("/ota/status")
    finally:
        node.close()
    assert st["version"] == "2.4.6"                       # esp_app_desc_t of the image in ota_0
    assert st["node_id"] == 7                             # csi_cfg/node_id from the NVS partition
    assert st["mac"] == "aa:bb:cc:12:34:56"
    assert st["running_partition"] == "ota_0" and st["next_partition"] == "ota_1"
    assert st["app_sha256"] == image_sha256(image)         # hash of the image bytes as flashed
    assert st["ota_state"] == "valid"
    assert st["reset_reason"] == "task_wdt"
    assert "I (" in node.output and "ruview: started" in node.output
    for line in ("config: csi_cfg/target_port = 5006", "config: csi_cfg/dwell_ms = 70000",
                 "config: csi_cfg/seed_url set (63 characters)",   # a string spanning 3 entries
                 "CSI only from 0a:0b:0c:0d:0e:0f"):
        assert line in node.output, node.output
    # the mDNS advert is forwarded on the link for the emulator's zeroconf advertiser
    svc = node.wait_message(lambda m: m.get("op") == "service" and m.get("proto") == "_tcp", 1)
    assert svc["port"] == 8032 and svc["txt"]["node_id"] == "7"
    assert svc["txt"]["mac"] == "aa:bb:cc:12:34:56" and svc["txt"]["version"] == "2.4.6"
