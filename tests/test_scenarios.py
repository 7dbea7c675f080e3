"""The synthetic CSI scenarios: ESP32-like frames, the physics that matters, honest ground truth."""

from __future__ import annotations

import cmath
import math

import pytest

from ruview_cli.sim.scenarios import BOOT_US, SCENARIOS, channel_freq_mhz, make_scenario, parse_scenario


def _pairs(iq: bytes) -> list[complex]:
    s = [b - 256 if b > 127 else b for b in iq]
    return [complex(s[i + 1], s[i]) for i in range(0, len(s), 2)]  # ESP32 pairs: (imag, real)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_streams_esp32_shaped_frames(name):
    sc = make_scenario(name, seed=3, rate_hz=20.0, n_subcarriers=128)
    frames = list(sc.frames(5.0))
    assert 80 <= len(frames) <= 101  # 20 Hz for 5 s, minus the odd lost frame
    ts = [f.timestamp_us for f in frames]
    assert ts[0] >= BOOT_US and all(b > a for a, b in zip(ts, ts[1:]))
    for f in frames:
        assert len(f.iq) == 256 and f.channel == 5 and -100 <= f.rssi <= -20
        z = _pairs(f.iq)
        # ESP32 reports DC and guard-band subcarriers as exact zeros (L-LTF block, then HT-LTF)
        assert z[0] == 0 and all(v == 0 for v in z[27:38]) and all(v == 0 for v in z[64 + 29 : 64 + 36])
        assert sum(abs(v) for v in z) / len(z) > 5  # the AGC keeps the signal well above 1 LSB


def test_same_seed_same_frames_other_seed_other_frames():
    a = [f.iq for f in make_scenario("breathing", seed=7).frames(2.0)]
    b = [f.iq for f in make_scenario("breathing", seed=7).frames(2.0)]
    c = [f.iq for f in make_scenario("breathing", seed=8).frames(2.0)]
    assert a == b
    assert a != c


def test_asking_for_the_truth_does_not_change_the_frames():
    a = make_scenario("mixed", seed=4)
    plain = [f.iq for f in a.frames(3.0)]
    b = make_scenario("mixed", seed=4)
    b.truth(900.0)  # extends the activity plan far ahead
    assert [f.iq for f in b.frames(3.0)] == plain


def test_frames_carry_a_random_common_phase_and_slope():
    """Raw per-frame phase is useless without sanitising, as on a real ESP32."""
    sc = make_scenario("empty", seed=1)
    frames = list(sc.frames(3.0))
    k = 5
    phases = [cmath.phase(_pairs(f.iq)[k]) for f in frames]
    # the static room gives one phase; the CFO spreads it over the whole circle
    spread = abs(sum(cmath.exp(1j * p) for p in phases)) / len(phases)
    assert spread < 0.3
    # the phase step between neighbouring subcarriers changes frame to frame (random STO slope)
    steps = [cmath.phase(_pairs(f.iq)[6] / _pairs(f.iq)[5]) for f in frames]
    assert max(steps) - min(steps) > 0.2


def _dominant_bpm(series: list[float], rate_hz: float) -> float:
    """Zero crossings of the mean-removed series."""
    m = sum(series) / len(series)
    x = [v - m for v in series]
    crossings = sum(1 for a, b in zip(x, x[1:]) if a < 0 <= b)
    return crossings / (len(x) / rate_hz) * 60.0


@pytest.mark.parametrize("rate_bpm", [12.0, 20.0])
def test_breathing_moves_the_channel_at_the_breathing_rate(rate_bpm):
    sc = make_scenario("breathing", seed=2, rate_bpm=rate_bpm)
    rate = 10.0
    chans = [sc.channel64(i / rate) for i in range(int(60 * rate))]
    # the subcarrier whose phase moves most carries the chest motion
    series = max(
        ([cmath.phase(c[k] / chans[0][k]) for c in chans] for k in range(0, 64, 4)),
        key=lambda s: max(s) - min(s),
    )
    assert abs(_dominant_bpm(series, rate) - rate_bpm) <= 1.5
    truth = sc.truth(60.0)
    assert truth.persons == 1 and truth.presence and not truth.motion
    assert abs(truth.breathing_bpm[0] - rate_bpm) < 0.5


def test_empty_room_channel_is_static_and_truth_says_nobody():
    sc = make_scenario("empty", seed=4)
    assert sc.channel64(0.0) == sc.channel64(30.0)
    t = sc.truth(30.0)
    assert (t.persons, t.presence, t.motion, t.breathing_bpm, t.falls) == (0, False, False, (), ())


def test_fall_happens_at_the_requested_time_and_moves_the_body():
    sc = make_scenario("fall", seed=5, t=12.0, before="stand")
    assert sc.fall_times(100.0) == [12.0]
    before, after = sc.truth(11.9), sc.truth(14.0)
    assert before.falls == () and after.falls == (12.0,)
    assert not before.motion and not after.motion  # standing still, then lying still
    assert sc.truth(12.2).motion
    # the torso's path changes by decimetres within half a second: many carrier cycles
    ch = [sc.channel64(12.0 + i * 0.05) for i in range(10)]
    assert max(abs(a[10] - b[10]) for a, b in zip(ch, ch[1:])) > 0.05


def test_enter_leave_presence_follows_the_schedule():
    sc = make_scenario("enter-leave", seed=6, enter_s=5.0, stay_s=20.0, away_s=10.0)
    assert not sc.truth(4.9).presence
    assert sc.truth(5.1).presence and sc.truth(5.1).motion
    assert sc.truth(15.0).presence and sc.truth(15.0).breathing_bpm
    leave_end = next(t / 10 for t in range(150, 600) if not sc.truth(t / 10).presence)
    assert 25.0 < leave_end < 40.0
    # and back again after away_s
    assert sc.truth(leave_end + 10.5).presence


def test_rooms_differ_in_frequency_selectivity():
    ripples = [make_scenario("empty", seed=i).static_ripple_db() for i in range(12)]
    assert min(ripples) < 6.0 < max(ripples)  # flat and frequency-selective rooms both occur


def test_a_person_near_the_line_of_sight_shadows_it():
    sc = make_scenario("walking", seed=3)
    p = sc.persons[0]
    shadows = [p.shadow(t / 10) for t in range(600)]
    assert max(shadows) > 0.3 and min(shadows) < 0.01


def test_two_people_have_two_rates():
    sc = make_scenario("two-people", seed=1, rate_bpm=10.0, rate2_bpm=22.0)
    t = sc.truth(40.0)
    assert t.persons == 2
    assert sorted(round(b) for b in t.breathing_bpm) == [10, 22]


def test_walking_is_motion_without_a_breathing_truth():
    t = make_scenario("walking", seed=1).truth(10.0)
    assert t.presence and t.motion and t.breathing_bpm == ()


def test_gaps_and_losses_show_in_timestamps():
    sc = make_scenario("empty", seed=9, rate_hz=25.0, loss=0.05, gap_prob=0.01)
    ts = [f.timestamp_us for f in sc.frames(60.0)]
    gaps = [b - a for a, b in zip(ts, ts[1:])]
    assert max(gaps) > 200_000  # at least one burst gap of >= 0.2 s
    assert min(gaps) > 0


def test_parse_and_make_reject_bad_input_with_the_choices():
    assert parse_scenario("breathing:rate_bpm=12,heart_bpm=60") == ("breathing", {"rate_bpm": 12.0, "heart_bpm": 60.0})
    assert parse_scenario("fall:t=30,before=stand,n_subcarriers=128") == (
        "fall", {"t": 30.0, "before": "stand", "n_subcarriers": 128})
    with pytest.raises(ValueError, match="choose one of: empty, breathing"):
        parse_scenario("dancing")
    with pytest.raises(ValueError, match="no parameter 'rate'"):
        parse_scenario("breathing:rate=12")
    with pytest.raises(ValueError, match="not a number"):
        parse_scenario("breathing:rate_bpm=fast")
    with pytest.raises(ValueError, match="64, 128 or 192"):
        make_scenario("empty", n_subcarriers=100)
    with pytest.raises(ValueError, match="channel 15"):
        make_scenario("empty", channel=15)


def test_channel_frequencies():
    assert channel_freq_mhz(1) == 2412 and channel_freq_mhz(14) == 2484 and channel_freq_mhz(36) == 5180
    assert math.isclose(make_scenario("empty", channel=11)._f_lo, 2462e6 - 32 * 312.5e3)
