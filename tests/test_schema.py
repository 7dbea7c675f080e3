"""The configuration schema: it agrees with the firmware's own key table, converts human units
exactly, refuses bad values with a message naming the flag, value and range, and round-trips
through Espressif's NVS generator and the firmware's load rules."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruview_cli import _edge
from ruview_cli.config import schema
from ruview_cli.config.nvs import NvsValue, build_nvs, read_nvs
from ruview_cli.errors import UsageError

FIRMWARE = {(k["ns"], k["key"]): k for k in _edge.nvs_keys()}


def test_every_firmware_key_is_in_the_schema_with_the_same_type_range_and_default():
    assert set(FIRMWARE) == set(schema.BY_NVS), "schema and firmware key sets differ"
    for (ns, key), fw in FIRMWARE.items():
        k = schema.BY_NVS[(ns, key)]
        assert k.type == fw["type"], key
        assert (k.min, k.max) == (fw["min"], fw["max"]), key
        assert k.default == fw["default"], key


def test_key_names_fit_nvs_and_flags_are_unique():
    flags = [k.flag for k in schema.KEYS]
    assert len(set(flags)) == len(flags)
    for k in schema.KEYS:
        assert 1 <= len(k.key) <= 15 and not k.key.startswith(("sta.", "ap."))


def test_prominent_keys_cover_the_edge_keys_and_network():
    prominent = {k.key for k in schema.KEYS if k.prominent}
    assert {"edge_tier", "pres_thresh", "fall_thresh", "vital_win", "vital_int", "subk_count",
            "ssid", "password", "target_ip", "target_port", "node_id", "ota_psk"} <= prominent


@pytest.mark.parametrize("name,human,stored", [
    ("pres_thresh", "0.05", 50),
    ("pres_thresh", "auto", 0),
    ("pres_thresh", 0.05, 50),
    ("fall_thresh", "5.0", 5000),
    ("fall_thresh", 8, 8000),
    ("vital_int", "1000", 1000),
    ("edge_tier", 1, 1),
    ("wasm_verify", "no", 0),
    ("chan_list", "1, 6,11", bytes([1, 6, 11])),
    ("filter_mac", "AA:BB:CC:01:02:03", bytes.fromhex("aabbcc010203")),
    ("wasm_pubkey", "ab" * 32, bytes.fromhex("ab" * 32)),
    ("target_ip", "192.168.1.20", "192.168.1.20"),
    ("password", "", ""),
])
def test_human_values_convert_to_stored_values(name, human, stored):
    assert schema.key(name).parse(human) == stored


@pytest.mark.parametrize("name,value,fragment", [
    ("vital_int", "50", "100..10000"),
    ("vital_int", "abc", "whole number"),
    ("edge_tier", "3", "0..2"),
    ("fall_thresh", "0", "0.001..65.535"),
    ("fall_thresh", "66", "65.535"),
    ("pres_thresh", "0.0005", "3 decimals"),
    ("ssid", "x" * 33, "33 bytes"),
    ("ssid", "", "0 bytes"),
    ("password", "p" * 65, "65 bytes"),
    ("target_ip", "192.168.1.300", "IPv4"),
    ("target_ip", "my-host", "IPv4"),
    ("chan_list", "1,2,3,4,5,6,7", "7 bytes"),
    ("chan_list", "0", "1..14"),
    ("chan_list", "15", "2.4 GHz"),
    ("chan_list", "1,99", "1..14"),
    ("chan_list", "36", "1..14"),
    ("chan_list", "1,,6", "empty item"),
    ("chan_list", "1,6,", "empty item"),
    ("chan_list", "", "empty item"),
    ("filter_mac", "aa:bb:cc", "3 bytes"),
    ("wasm_pubkey", "zz", "hex"),
    ("node_id", "256", "0..255"),
])
def test_bad_values_name_flag_value_and_range(name, value, fragment):
    k = schema.key(name)
    with pytest.raises(UsageError) as exc:
        k.parse(value)
    text = f"{exc.value.message} {exc.value.fix}"
    assert k.flag in text
    assert fragment in text
    assert exc.value.exit_code == 2


def test_secret_values_never_appear_in_errors():
    with pytest.raises(UsageError) as exc:
        schema.key("password").parse("hunter2-" * 10)
    assert "hunter2" not in str(exc.value)


def test_unknown_key_suggests_the_closest():
    with pytest.raises(UsageError) as exc:
        schema.key("vital_intt")
    assert "vital_int" in exc.value.fix
    assert schema.key("--vital-int").key == "vital_int"
    assert schema.key("csi_cfg.edge_tier").key == "edge_tier"
    assert schema.key("security.ota_psk").key == "ota_psk"


@pytest.mark.parametrize("name", ["sta.ssid", "security.ssid", "csi_cfg.ota_psk", "wifi.ssid"])
def test_a_namespace_prefix_must_be_the_keys_own(name):
    with pytest.raises(UsageError) as exc:
        schema.key(name)
    key = name.split(".")[1]
    assert name in exc.value.message and f"{schema.BY_NAME[key].ns}.{key}" in exc.value.fix


# -- the schema's notion of valid = the firmware's -----------------------------------------------
@settings(max_examples=300, deadline=None)
@given(k=st.sampled_from([k for k in schema.KEYS if k.is_int]),
       v=st.integers(min_value=-5, max_value=2**32 + 5))
def test_integer_validity_agrees_with_firmware(k, v):
    fw_ok = 0 <= v <= {"u8": 255, "u16": 65535, "u32": 2**32 - 1}[k.type] and \
        _edge.nvs_value_valid(k.ns, k.key, v)
    assert k.valid_stored(v) == fw_ok


@settings(max_examples=200, deadline=None)
@given(k=st.sampled_from([k for k in schema.KEYS if not k.is_int]),
       n=st.integers(min_value=0, max_value=70))
def test_length_validity_agrees_with_firmware(k, n):
    value = bytes(range(1, 1 + n)) if k.type == "blob" else ("1.2.3.4" if k.kind == "ipv4" and n == 7 else "a" * n)
    assert k.valid_stored(value) == bool(_edge.nvs_value_valid(k.ns, k.key, value))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 300), min_size=4, max_size=4))
def test_ipv4_validity_agrees_with_firmware(parts):
    ip = ".".join(map(str, parts))
    k = schema.key("target_ip")
    assert k.valid_stored(ip) == bool(_edge.nvs_value_valid("csi_cfg", "target_ip", ip))


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_human_round_trip(data):
    k = data.draw(st.sampled_from([k for k in schema.KEYS if k.is_int]))
    stored = data.draw(st.integers(k.min, min(k.max, 10**6)).filter(k.valid_stored))
    assert k.parse(k.human(stored)) == stored


# One value for every key of the schema (tests/test_firmware_config_load.py boots the firmware on it).
EVERY_KEY = {
    "edge_tier": 1, "pres_thresh": "0.05", "fall_thresh": "5.0", "vital_win": 128,
    "vital_int": 500, "subk_count": 16, "ssid": "lab-net", "password": "s3cret-pass",
    "target_ip": "10.0.0.5", "target_port": 5006, "node_id": 9, "tdm_slot": 1,
    "tdm_nodes": 3, "hop_count": 3, "chan_list": "1,6,11", "dwell_ms": 200,
    "power_duty": 50, "csi_channel": 6, "filter_mac": "aa:bb:cc:dd:ee:ff", "wasm_max": 2,
    "wasm_verify": 0, "wasm_pubkey": "11" * 32, "seed_url": "http://seed", "seed_token": "tok",
    "zone_name": "lobby", "swarm_hb": 60, "swarm_ingest": 10, "ota_psk": "k" * 64,
}


def test_full_configuration_round_trips_through_the_generator():
    """Every key, parsed, written by Espressif's generator and read back: the same values
    (what the firmware makes of them: test_firmware_config_load.py)."""
    human = dict(EVERY_KEY)
    assert set(human) == set(schema.BY_NAME)
    stored = schema.parse_changes(human)
    dec = schema.from_nvs(read_nvs(build_nvs(schema.to_nvs(stored))))
    assert dec.stored == stored and dec.ignored == {} and dec.extra == {}


def test_from_nvs_reports_what_the_firmware_would_ignore():
    from ruview_cli.config.nvs import NvsValue

    nvs = {"csi_cfg": {"vital_win": NvsValue("u16", 300), "edge_tier": NvsValue("u16", 1),
                       "node_id": NvsValue("u8", 4), "mystery": NvsValue("u8", 1)},
           "other": {"x": NvsValue("str", "y")}}
    dec = schema.from_nvs(nvs)
    assert dec.stored == {"node_id": 4}
    assert "out of range" in dec.ignored["vital_win"]
    assert "u16" in dec.ignored["edge_tier"]
    assert set(dec.extra) == {"csi_cfg", "other"}
    assert "mystery" in dec.extra["csi_cfg"]


def test_redact_masks_secrets():
    out = schema.redact({"password": "pw", "ota_psk": "k", "ssid": "net", "fall_thresh": 4000})
    assert out == {"password": "<set>", "ota_psk": "<set>", "ssid": "net", "fall_thresh": 4.0}


def test_tdm_slot_must_fit_the_slot_count():
    from ruview_cli.provision import validate

    assert schema.check_consistency({"tdm_slot": 2, "tdm_nodes": 3}) == []
    with pytest.raises(UsageError, match="tdm_slot 3 must be below tdm_nodes 2"):
        validate({"tdm_slot": "3", "tdm_nodes": "2"})


def test_each_firmware_says_what_it_does_with_a_stored_value():
    nvs = read_nvs(build_nvs({"csi_cfg": {
        "fall_thresh": NvsValue("u16", 0), "vital_int": NvsValue("u16", 20000),
        "swarm_hb": NvsValue("u16", 0), "vital_int_x": NvsValue("u8", 1)}}))
    ours = schema.from_nvs(nvs, schema.FIRMWARE_OURS)
    old = schema.from_nvs(nvs, schema.FIRMWARE_06)
    assert set(ours.ignored) == {"fall_thresh", "vital_int", "swarm_hb"} and ours.stored == {}
    assert old.ignored == {} and old.stored == {"fall_thresh": 0, "vital_int": 20000, "swarm_hb": 0}
    assert "100..65535" in schema.from_nvs(read_nvs(build_nvs({"csi_cfg": {
        "vital_int": NvsValue("u16", 50)}})), schema.FIRMWARE_06).ignored["vital_int"]
    eff = schema.effective({}, schema.FIRMWARE_06)
    assert eff["fall_thresh"] == 15000 and eff["zone_name"] == "default"
    assert schema.effective({})["fall_thresh"] == 3000
    # what provision writes (our ranges) is something RuView 0.6.x takes as well
    for k in schema.KEYS:
        use = k.use(schema.FIRMWARE_06)
        assert use.min <= k.min and k.max <= use.max, k.key
