"""The firmware's DSP core (through ruview_cli._edge) on the realistic channel model: rates,
presence, breathing and the vitals confidence a user sees. benchmarks/dsp_accuracy.py measures
the same over hundreds of seeded runs; these are the behaviours that must never regress."""

from __future__ import annotations

import statistics

import pytest

from ruview_cli import _edge
from ruview_cli.protocol import decode
from ruview_cli.sim.scenarios import make_scenario


def _vitals(sc, seconds: float, after: float = 30.0):
    pipe = _edge.EdgePipeline(edge_tier=2)
    out = []
    for f in sc.frames(seconds):
        for d in pipe.process(f.iq, f.rssi, f.channel, f.timestamp_us, f.noise_floor):
            p = decode(d)
            if p.kind == "vitals" and f.t >= after:
                out.append((f.t, p))
    return pipe, out


@pytest.mark.parametrize("rate, decimation", [(10.0, (1,)), (20.0, (2,)), (28.5, (2,)), (100.0, (6, 7, 8))])
def test_any_input_rate_is_measured_and_brought_to_the_design_rate(rate, decimation):
    pipe, vit = _vitals(make_scenario("breathing", seed=1, rate_hz=rate, body_db=-8.0), 40.0)
    i = pipe.internals
    assert abs(i["input_rate_hz"] - 0.95 * rate) < 0.06 * rate  # 5 % of the frames are dropped
    assert i["decimation"] in decimation and 7.0 <= i["dsp_rate_hz"] <= 18.0
    assert len(vit) >= 9  # a vitals packet a second whatever the rate


@pytest.mark.parametrize("snr_db", [10.0, 30.0])
def test_empty_rooms_with_agc_steps_are_not_occupied(snr_db):
    flagged = total = 0
    for seed in range(3):
        _, vit = _vitals(make_scenario("empty", seed=50 + seed, rate_hz=20.0, snr_db=snr_db), 120.0)
        flagged += sum(v.presence for _, v in vit)
        total += len(vit)
        assert all(v.presence or not (v.breathing_bpm or v.heart_bpm) for _, v in vit)
    assert flagged <= 0.02 * total, f"{flagged} of {total} empty-room vitals said present"


def test_a_still_person_with_a_strong_reflection_is_present_and_breathing_is_right():
    good = 0
    for seed in range(3):
        sc = make_scenario("breathing", seed=60 + seed, rate_hz=20.0, body_db=-8.0, snr_db=25.0,
                           rate_bpm=12.0 + 3 * seed)
        _, vit = _vitals(sc, 90.0)
        present = sum(v.presence for _, v in vit) / len(vit)
        errs = [abs(v.breathing_bpm - sc.truth(t).breathing_bpm[0]) for t, v in vit if v.breathing_bpm]
        if present >= 0.8 and errs and statistics.median(errs) <= 1.0:
            good += 1
    assert good >= 2


def test_every_estimate_carries_its_confidence_and_heart_only_when_confident():
    seen = 0
    for seed in range(2):
        _, vit = _vitals(make_scenario("breathing", seed=70 + seed, rate_hz=28.5, body_db=-8.0), 80.0)
        for _, v in vit:
            assert v.flags & 0x80
            assert (v.breathing_conf is not None) == bool(v.breathing_bpm)
            assert (v.heart_conf is not None) == bool(v.heart_bpm)
            assert v.heart_conf is None or v.heart_conf >= 0.5
            js = v.to_json()
            assert js["breathing_bpm"] is None or js["breathing_bpm"] > 0
            seen += 1
    assert seen >= 100
