"""The synthetic CSI channel: ESP32-shaped frames, every impairment the issue lists, honest truth."""

from __future__ import annotations

import cmath
import math

import numpy as np
import pytest

from ruview_cli.sim import body as B
from ruview_cli.sim.scenarios import BOOT_US, SCENARIOS, channel_freq_mhz, make_scenario, parse_scenario


def _pairs(iq: bytes) -> np.ndarray:
    a = np.frombuffer(iq, dtype=np.int8).astype(float)
    return a[1::2] + 1j * a[0::2]  # ESP32 pairs: (imag, real)


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_every_scenario_streams_esp32_shaped_frames(name):
    sc = make_scenario(name, seed=3, rate_hz=20.0, n_subcarriers=128)
    frames = list(sc.frames(5.0))
    assert 80 <= len(frames) <= 100  # 20 Hz for 5 s, minus ~5 % dropped
    ts = [f.timestamp_us for f in frames]
    assert ts[0] >= BOOT_US and all(b > a for a, b in zip(ts, ts[1:]))
    for f in frames:
        assert len(f.iq) == 256 and f.channel == 5 and -100 <= f.rssi <= -20
        z = _pairs(f.iq)
        # ESP32 reports DC and guard-band subcarriers as exact zeros (L-LTF block, then HT-LTF)
        assert z[0] == 0 and not z[27:38].any() and z[64] == 0 and not z[64 + 29: 64 + 36].any()
        assert np.abs(z).mean() > 5  # the AGC keeps the signal well above 1 LSB


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
    b.truth(900.0)
    assert [f.iq for f in b.frames(3.0)] == plain


def test_frames_carry_a_random_common_phase_and_timing_offset():
    """Raw per-frame phase is useless without sanitising, as on a real ESP32."""
    frames = list(make_scenario("empty", seed=1).frames(3.0))
    z = np.array([_pairs(f.iq)[:64] for f in frames])
    spread = abs(np.exp(1j * np.angle(z[:, 5])).mean())
    assert spread < 0.3  # uniform 0..2π common phase
    steps = np.angle(z[:, 6] / z[:, 5])
    assert np.ptp(steps) > 0.05  # the slope across subcarriers changes frame to frame


def test_agc_steps_the_gain_by_1_to_6_db_every_few_seconds():
    sc = make_scenario("empty", seed=2, rate_hz=20.0, snr_db=30.0)
    frames = list(sc.frames(120.0))
    level = np.array([20 * np.log10(np.abs(_pairs(f.iq)).mean()) for f in frames])
    smooth = np.convolve(level, np.ones(5) / 5, mode="valid")
    jumps = np.abs(smooth[10:] - smooth[:-10])
    steps = np.flatnonzero((jumps[1:] > 0.8) & (jumps[:-1] <= 0.8))
    assert 8 <= len(steps) <= 45  # one every 3-12 s over 2 minutes
    assert jumps.max() <= 7.5
    flat = make_scenario("empty", seed=2, rate_hz=20.0, snr_db=30.0, agc=0)
    still = np.array([20 * np.log10(np.abs(_pairs(f.iq)).mean()) for f in flat.frames(60.0)])
    assert np.ptp(still) < 0.8


def test_static_channel_is_frequency_selective_like_tgn_rooms():
    ripples = [make_scenario("empty", seed=s).static_ripple_db() for s in range(20)]
    assert min(ripples) > 1.0 and max(ripples) > 10.0
    for s in range(5):
        room = make_scenario("empty", seed=s).room
        assert 20.0 <= room.rms_ns <= 70.0 and 0.0 <= room.k_db <= 6.0


@pytest.mark.parametrize("body_db", [-8.0, -16.0, -22.0])
def test_body_reflection_is_the_requested_level_below_the_static_channel(body_db):
    sc = make_scenario("breathing", seed=5, body_db=body_db)
    H = sc.true_channel(np.array([10.0]))[0]
    delta = H - sc.room.static
    used = (np.abs(np.arange(-32, 32)) < 27) & (np.arange(-32, 32) != 0)
    ratio = 10 * np.log10(np.mean(np.abs(delta[used]) ** 2) / np.mean(np.abs(sc.room.static[used]) ** 2))
    assert abs(ratio - body_db) < 2.5  # the body also shadows the line of sight a little


def test_breathing_is_asymmetric_and_irregular():
    import random

    br = B.Breathing(random.Random(1), 15.0, 0.008)
    t = np.arange(0.0, 120.0, 0.01)
    x = br.displacement(t)
    rising = np.mean(np.diff(x) > 0)
    assert 0.34 <= rising <= 0.46  # inhale ~40 % of a cycle
    periods = np.diff(br.starts[:30])
    assert 0.01 < np.std(periods) / np.mean(periods) < 0.06
    assert abs(br.mean_bpm(0.0, 120.0) - 15.0) < 1.0


def test_heartbeat_has_rr_variability_and_breathing_modulation():
    import random

    rng = random.Random(2)
    hb = B.Heartbeat(rng, 70.0, 0.0003, B.Breathing(rng, 15.0, 0.008))
    hb.locate(np.array([300.0]))
    rr = np.diff(hb.starts)
    assert 0.015 < np.std(rr) / np.mean(rr) < 0.08
    assert abs(60.0 / np.mean(rr) - 70.0) < 3.0


def _torso(sc, t):
    P, _, _ = sc.persons[0].points(t)
    return P[:, 0, :]  # chest point


@pytest.mark.parametrize("before", ["stand", "walk"])
def test_a_fall_reaches_the_floor_in_1_to_1_5_s_at_2_to_4_m_per_s(before):
    sc = make_scenario("fall", seed=6, t=30.0, before=before)
    tf = sc.fall_times(1e9)[0]
    assert tf == 30.0 and sc.truth(29.0).falls == () and sc.truth(31.0).falls == (30.0,)
    t = np.arange(tf, tf + 2.0, 0.005)
    z = _torso(sc, t)[:, 2]
    landed = t[np.argmax(z < 0.3)] - tf
    speed = np.linalg.norm(np.diff(_torso(sc, t), axis=0), axis=1).max() / 0.005
    assert 0.5 <= landed <= 1.6
    assert 2.0 <= speed <= 4.5  # chest point of a rigid body toppling (Wu 2000: 2-3 m/s trunk)
    truth = sc.truth(tf + 10.0)
    assert truth.presence and not truth.motion and truth.breathing_bpm  # lying, breathing


def test_sitting_down_and_bending_are_slower_than_a_fall():
    sc = make_scenario("mixed", seed=3)
    kinds = {s.kind for s in sc.persons[0].segments[:60]}
    assert {B.WALK, B.SIT_DOWN, B.SIT, B.STAND_UP, B.BEND} <= kinds
    assert B.FALL not in {s.kind for s in sc.persons[0].segments}
    for seg in sc.persons[0].segments[:60]:
        if seg.kind in (B.SIT_DOWN, B.BEND):
            t = np.arange(seg.t0, seg.t1, 0.005)
            speed = np.linalg.norm(np.diff(_torso(sc, t), axis=0), axis=1).max() / 0.005
            assert speed < 1.6, (seg.kind, speed)
            assert sc.truth((seg.t0 + seg.t1) / 2).motion


def test_walking_is_motion_without_a_breathing_truth():
    t = make_scenario("walking", seed=1).truth(20.0)
    assert t.presence and t.motion and t.breathing_bpm == ()


def test_enter_leave_presence_follows_the_schedule():
    sc = make_scenario("enter-leave", seed=2, enter_s=10.0, stay_s=30.0, away_s=20.0)
    assert not sc.truth(5.0).presence
    assert sc.truth(25.0).presence and sc.truth(25.0).breathing_bpm
    leave = next(s.t1 for s in sc.persons[0].segments if s.kind == B.WALK and s.fade < 0)
    assert not sc.truth(leave + 1.0).presence


def test_two_people_have_two_rates():
    t = make_scenario("two-people", seed=1, rate_bpm=10.0, rate2_bpm=22.0).truth(30.0)
    lo, hi = sorted(t.breathing_bpm)
    assert t.persons == 2 and abs(lo - 10.0) < 1.5 and abs(hi - 22.0) < 1.5


def test_drops_and_jitter_show_in_timestamps():
    frames = list(make_scenario("empty", seed=3, rate_hz=20.0, gap_prob=0.0).frames(60.0))
    assert 0.92 * 1200 <= len(frames) <= 0.98 * 1200  # 5 % dropped
    dt = np.diff([f.timestamp_us for f in frames]) / 1e6
    regular = dt[dt < 0.075]
    assert 0.005 < np.std(regular) < 0.02  # jittered, never reordered
    assert dt.min() > 0


def test_high_rates_and_clipping():
    frames = list(make_scenario("breathing", seed=4, rate_hz=100.0, snr_db=30.0).frames(30.0))
    assert 2700 <= len(frames) <= 3000
    clipped = sum(int(np.any(np.abs(np.frombuffer(f.iq, dtype=np.int8).astype(int)) >= 127)) for f in frames)
    assert clipped < len(frames)  # int8 clipping can happen at high AGC gain, not always


def test_parse_and_make_reject_bad_input_with_the_choices():
    assert parse_scenario("breathing:rate_bpm=12,heart_bpm=60") == ("breathing", {"rate_bpm": 12.0, "heart_bpm": 60.0})
    assert parse_scenario("breathing:posture=lie,body_db=-16")[1] == {"posture": "lie", "body_db": -16.0}
    with pytest.raises(ValueError, match="choose one of"):
        parse_scenario("dancing")
    with pytest.raises(ValueError, match="valid:.*rate_bpm"):
        parse_scenario("breathing:tempo=3")
    with pytest.raises(ValueError, match="key=value"):
        parse_scenario("breathing:12")
    with pytest.raises(ValueError, match="not a number"):
        parse_scenario("breathing:rate_bpm=fast")
    with pytest.raises(ValueError, match="posture"):
        make_scenario("breathing", posture="float")
    with pytest.raises(ValueError, match="64, 128 or 192"):
        make_scenario("empty", n_subcarriers=100)


def test_channel_frequencies():
    assert channel_freq_mhz(1) == 2412 and channel_freq_mhz(14) == 2484 and channel_freq_mhz(36) == 5180
    with pytest.raises(ValueError):
        channel_freq_mhz(15)
    assert math.isclose(abs(cmath.exp(0j)), 1.0)
