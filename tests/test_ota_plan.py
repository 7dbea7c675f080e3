"""The pure parts of `ruview ota`: rollout planning, exit codes, version order, image checks."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from ruview_cli.errors import UsageError
from ruview_cli.ota import plan as P
from ruview_cli.ota.checks import check_image_for_node, compare_versions, parse_version
from ruview_cli.ota.image import inspect_image
from ruview_cli.sim.appimage import build_app_image


def names(n: int) -> list[str]:
    return [f"n{i}" for i in range(n)]


def test_default_plan_is_canary_then_quarter_waves():
    waves = P.plan_rollout(names(10))
    assert [w.kind for w in waves] == ["canary", "wave", "wave", "wave"]
    assert [list(w.nodes) for w in waves] == [["n0"], ["n1", "n2", "n3"], ["n4", "n5", "n6"],
                                              ["n7", "n8", "n9"]]
    assert [w.index for w in waves] == [0, 1, 2, 3]


def test_no_canary_and_fixed_wave_size():
    waves = P.plan_rollout(names(5), canary=0, wave="2")
    assert [w.kind for w in waves] == ["wave"] * 3
    assert [len(w.nodes) for w in waves] == [2, 2, 1]


def test_canary_larger_than_fleet_is_one_wave():
    waves = P.plan_rollout(names(2), canary=5)
    assert len(waves) == 1 and waves[0].kind == "canary" and waves[0].nodes == ("n0", "n1")


def test_empty_fleet_has_no_waves():
    assert P.plan_rollout([]) == []


@pytest.mark.parametrize("spec", ["0%", "101%", "0", "-3", "abc", "%"])
def test_bad_wave_spec_is_usage_error(spec):
    with pytest.raises(UsageError, match="--wave"):
        P.plan_rollout(names(4), wave=spec)


def test_duplicate_node_is_refused():
    with pytest.raises(UsageError, match="listed twice"):
        P.plan_rollout(["a", "b", "a"])


@given(st.integers(0, 60), st.integers(0, 5), st.sampled_from(["1", "3", "10%", "25%", "100%"]),
       st.integers(1, 8))
def test_waves_cover_every_node_once_in_order(n, canary, wave, par):
    waves = P.plan_rollout(names(n), canary=canary, wave=wave, max_parallel=par)
    flat = [k for w in waves for k in w.nodes]
    assert flat == names(n)
    assert all(w.nodes for w in waves)
    if n and canary:
        assert waves[0].kind == "canary" and len(waves[0].nodes) == min(canary, n)


def test_percentage_waves_fill_every_upload_slot():
    waves = P.plan_rollout(names(50), wave="25%", max_parallel=4)
    assert [len(w.nodes) for w in waves] == [1, 16, 16, 16, 1]
    # an explicit count is kept as given
    assert [len(w.nodes) for w in P.plan_rollout(names(7), wave="3", max_parallel=4)] == [1, 3, 3]


def test_percentage_rounds_up_and_is_at_least_one():
    assert P.parse_wave_size("25%", 9) == 3
    assert P.parse_wave_size("25%", 1) == 1
    assert P.parse_wave_size("10%", 50) == 5


def test_halt_rule():
    assert not P.should_halt(0, 1)
    assert P.should_halt(1, 1)
    assert not P.should_halt(1, 2) and P.should_halt(2, 2)
    assert not P.should_halt(100, 0)  # 0 = never halt


def test_one_partial_failure_rule():
    from ruview_cli.errors import fleet_exit_code

    assert [fleet_exit_code(ok, 3) for ok in (3, 2, 1, 0)] == [0, 3, 3, 1]
    assert P.exit_code({"a": "updated", "b": "unknown"}) == 3


def test_exit_codes():
    assert P.exit_code({"a": "updated", "b": "skipped"}) == 0
    assert P.exit_code({"a": "rolled_back", "b": "untouched"}) == 1
    assert P.exit_code({"a": "updated", "b": "failed"}) == 3
    assert P.exit_code({"a": "skipped", "b": "untouched"}) == 3
    assert P.exit_code({"a": "unreachable"}) == 1


def test_resume_redoes_everything_not_done_in_order():
    outcomes = {"a": "updated", "b": "rolled_back", "c": "untouched", "d": "skipped"}
    assert P.remaining_nodes(["a", "b", "c", "d", "e"], outcomes) == ["b", "c", "e"]


# --- versions ---------------------------------------------------------------------------------

@pytest.mark.parametrize("a,b,expect", [
    ("0.7.0", "0.7.1", -1), ("0.7.1", "1.0.0", -1), ("1.0.0", "0.7.1", 1),
    ("0.7", "0.7.0", 0), ("v1.2.3", "1.2.3", 0), ("1.0.0-rc1", "1.0.0", -1),
    ("1.0.0-rc.2", "1.0.0-rc.10", -1), ("1.0.0+abc", "1.0.0", 0), ("0.10.0", "0.9.9", 1),
    ("abc", "abc", 0), ("abc", "1.0.0", None), ("v0.7.0-3-gabc1234", "0.7.0", 1),
    ("v0.7.0-3-gabc1234", "0.7.1", -1), ("v0.7.0-3-gabc1234", "v0.7.0-12-g0123abc", -1),
    ("v0.7.0-dirty", "0.7.0", None),
])
def test_version_order(a, b, expect):
    assert compare_versions(a, b) == expect


def test_unparsable_version():
    assert parse_version("nightly build") is None


# --- checks of an image against a node's status -----------------------------------------------

@pytest.fixture(scope="module")
def info():
    return inspect_image(build_app_image("0.7.1"))


def test_newer_version_is_sent(info):
    v = check_image_for_node(info, {"version": "0.7.0", "max_size": 2 << 20})
    assert v.action == "update" and not v.downgrade


def test_same_version_skipped_unless_reinstall(info):
    assert check_image_for_node(info, {"version": "0.7.1"}).action == "skip"
    assert check_image_for_node(info, {"version": "0.7.1"}, reinstall=True).action == "update"


def test_downgrade_and_unknown_order_need_allow(info):
    for running in ("0.8.0", "custom-build"):
        v = check_image_for_node(info, {"version": running})
        assert v.action == "refuse" and "--allow-downgrade" in v.fix
        assert check_image_for_node(info, {"version": running}, allow_downgrade=True).action \
            == "update"


def test_too_large_for_slot(info):
    v = check_image_for_node(info, {"version": "0.7.0", "max_size": info.size - 1})
    assert v.action == "refuse" and f"{info.size - 1} bytes" in v.reason


def test_chip_mismatch(info):
    v = check_image_for_node(info, {"version": "0.7.0", "chip": "esp32c3"})
    assert v.action == "refuse" and "esp32c3" in v.reason
    assert check_image_for_node(info, {"version": "0.7.0", "chip": "esp32s3"}).action == "update"


def test_chip_revision_range_when_the_node_reports_it():
    img = inspect_image(build_app_image("0.7.1", min_rev=1, max_rev=99))  # v0.1 .. v0.99
    low = check_image_for_node(img, {"version": "0.7.0", "chip_revision": 0})
    assert low.action == "refuse" and "v0.0" in low.reason and "v0.1" in low.reason
    assert "Minimum Supported ESP32-S3 Revision" in low.fix
    assert check_image_for_node(img, {"version": "0.7.0", "chip_revision": 2}).action == "update"
    assert check_image_for_node(img, {"version": "0.7.0", "chip_revision": 100}).action \
        == "refuse"


def test_exact_image_already_running_is_skipped_by_digest():
    img = inspect_image(build_app_image("0.7.1"))
    other = inspect_image(build_app_image("0.7.1", time="13:00:00"))
    assert check_image_for_node(img, {"version": "0.7.1", "app_sha256": img.sha256}).action \
        == "skip"
    same_version = check_image_for_node(img, {"version": "0.7.1", "app_sha256": other.sha256},
                                        reinstall=True)
    assert same_version.action == "update"
