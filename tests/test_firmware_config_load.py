"""What the firmware takes from NVS at boot, told by the firmware itself.

The real firmware/main (config_load.c over the host port's NVS reader) boots on a flash file
whose NVS partition was written by Espressif's generator; its serial log says, key by key,
what it used and what it ignored. Nothing here re-implements those rules: the tool's schema
writes, the firmware judges.
"""

from __future__ import annotations

import re

import pytest

from ruview_cli.config import schema
from ruview_cli.config.nvs import NvsValue
from test_host_port_support import Node, firmware_binary, make_flash
from test_schema import EVERY_KEY

SECRETS = {"password": "s3cret-pass", "seed_token": "tok-" + "t" * 20, "ota_psk": "k" * 64}


def boot_log(tmp_path, loopback, nvs: dict) -> str:
    """The firmware's serial output up to its config summary line."""
    flash, _ = make_flash(tmp_path, nvs=nvs)
    node = Node(firmware_binary(), flash, loopback.addr())
    try:
        assert node.wait_output("config: node_id="), node.output
        return node.output
    finally:
        node.close()


def test_empty_nvs_boots_on_compiled_defaults(tmp_path, loopback):
    out = boot_log(tmp_path, loopback, {})
    assert "namespace csi_cfg not provisioned: compiled defaults" in out
    assert "no WiFi SSID provisioned" in out and "no security/ota_psk provisioned" in out
    edge = pytest.importorskip("ruview_cli._edge")
    defaults = {k["key"]: k["default"] for k in edge.nvs_keys()}
    line = re.search(r"config: node_id=(\d+) edge_tier=(\d+) target_port=(\d+)", out)
    assert line and tuple(map(int, line.groups())) == (
        defaults["node_id"], defaults["edge_tier"], defaults["target_port"]), out


def test_valid_values_are_used_and_secrets_never_logged(tmp_path, loopback):
    out = boot_log(tmp_path, loopback, {
        "csi_cfg": {"edge_tier": NvsValue("u8", 1), "vital_int": NvsValue("u16", 500),
                    "target_ip": NvsValue("str", "10.0.0.5"), "ssid": NvsValue("str", "lab"),
                    "password": NvsValue("str", SECRETS["password"]),
                    "chan_list": NvsValue("blob", b"\x01\x06")},
        "security": {"ota_psk": NvsValue("str", SECRETS["ota_psk"])},
    })
    for line in ("config: csi_cfg/edge_tier = 1", "config: csi_cfg/vital_int = 500",
                 "config: csi_cfg/target_ip set (8 characters)", "config: csi_cfg/chan_list set (2 bytes)",
                 "config: csi_cfg/password set", "config: security/ota_psk set"):
        assert line in out, out
    assert "ignored" not in out, out
    assert SECRETS["password"] not in out and SECRETS["ota_psk"] not in out


def test_out_of_range_wrong_type_and_bad_address_are_ignored_with_a_reason(tmp_path, loopback):
    out = boot_log(tmp_path, loopback, {"csi_cfg": {
        "fall_thresh": NvsValue("u16", 0),        # below 1
        "edge_tier": NvsValue("u16", 1),          # the firmware reads a u8
        "target_ip": NvsValue("str", "10.0.0.256"),  # not an IPv4 address
        "password": NvsValue("str", "p" * 65),    # too long
        "ssid": NvsValue("str", "lab"),
    }})
    assert "config: csi_cfg/fall_thresh = 0 outside 1..65535: ignored, default kept" in out
    assert re.search(r"csi_cfg/edge_tier stored with NVS type 0x02, expected 0x01: ignored", out), out
    assert "csi_cfg/password has 65 characters, allowed" in out and "p" * 65 not in out
    assert 'target_ip "10.0.0.256" is not a dotted IPv4 address: telemetry disabled' in out


def test_every_key_the_tool_writes_is_what_the_firmware_reads(tmp_path, loopback):
    human = {**EVERY_KEY, **SECRETS}
    assert set(human) == set(schema.BY_NAME)  # a new key must be added here
    stored = schema.parse_changes(human)
    out = boot_log(tmp_path, loopback, schema.to_nvs(stored))
    assert "ignored" not in out and "not read" not in out, out
    for name, value in stored.items():
        k = schema.BY_NAME[name]
        where = f"config: {k.ns}/{k.key}"
        if isinstance(value, int):
            expect = f"{where} = {value}"
        elif isinstance(value, bytes):
            expect = f"{where} set ({len(value)} bytes)"
        elif k.secret:
            expect = f"{where} set"
        else:
            expect = f"{where} set ({len(value)} characters)"
        assert expect in out, (name, out)
    assert not any(s in out for s in SECRETS.values())
