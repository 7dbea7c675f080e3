"""Profiles: the shipped presets are valid and mean what their names say; a bad profile is
refused with the profile, key and allowed range named; the CLI lists and shows them."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from ruview_cli.config import schema
from ruview_cli.config.profiles import builtin_dir, builtin_names, list_profiles, load_profile
from ruview_cli.errors import UsageError

RUVIEW = shutil.which("ruview")


def test_required_profiles_ship_inside_the_package():
    assert builtin_dir().parent.name == "ruview_cli"
    assert {"vitals", "presence", "raw", "battery", "quiet-room"} <= set(builtin_names())


def test_profiles_mean_what_they_say():
    p = {x.name: x.stored for x in list_profiles()}
    assert p["vitals"]["edge_tier"] == 2
    assert p["presence"]["edge_tier"] == 1
    assert p["raw"]["edge_tier"] == 0
    assert p["battery"]["power_duty"] < 100
    assert p["quiet-room"]["fall_thresh"] > schema.BY_NAME["fall_thresh"].default


def test_every_profile_value_is_valid_for_the_firmware():
    from ruview_cli import _edge

    for prof in list_profiles():
        for name, value in prof.stored.items():
            k = schema.BY_NAME[name]
            assert _edge.nvs_value_valid(k.ns, k.key, value), (prof.name, name)


def test_bad_value_in_profile_names_profile_key_and_range(tmp_path):
    f = tmp_path / "site.toml"
    f.write_text('description = "x"\n[config]\nvital_int = 20\n')
    with pytest.raises(UsageError) as exc:
        load_profile(str(f))
    text = str(exc.value)
    assert "site" in text and "vital_int" in text and "100..10000" in text


def test_secrets_and_unknown_keys_are_refused(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text('[config]\npassword = "x"\n')
    with pytest.raises(UsageError, match="secret"):
        load_profile(str(f))
    f.write_text('[config]\nvital_intt = 100\n')
    with pytest.raises(UsageError, match="vital_int"):
        load_profile(str(f))
    f.write_text('[config\n')
    with pytest.raises(UsageError, match="TOML"):
        load_profile(str(f))


def test_unknown_profile_lists_the_builtin_ones():
    with pytest.raises(UsageError) as exc:
        load_profile("nope")
    assert "vitals" in exc.value.fix


def test_cli_list_and_show():
    r = subprocess.run([RUVIEW, "profiles", "list", "--json"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    listed = {p["name"]: p for p in json.loads(r.stdout)}
    assert listed["quiet-room"]["config"]["fall_thresh"] == 8.0
    r = subprocess.run([RUVIEW, "profiles", "show", "vitals"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "edge_tier" in r.stdout and "vital_int" in r.stdout
    r = subprocess.run([RUVIEW, "profiles", "show", "nope"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "unknown profile" in r.stderr
