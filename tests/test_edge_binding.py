"""ruview_cli._edge: the firmware core as the simulator and replay see it — configuration,
validation, and the datagrams a node sends per tier, decoded by ruview_cli.protocol."""

from __future__ import annotations

import threading

import pytest

from ruview_cli import _edge
from ruview_cli.protocol import CompressedStream, decode
from ruview_cli.sim.scenarios import make_scenario

EDGE_KEYS = ("edge_tier", "pres_thresh", "fall_thresh", "vital_win", "vital_int", "subk_count")


def _keys():
    return {(k["ns"], k["key"]): k for k in _edge.nvs_keys()}


def _frames(name="breathing", seconds=5.0, rate=28.5, seed=1, **kw):
    return list(make_scenario(name, seed=seed, rate_hz=rate, **kw).frames(seconds))


def _run(pipe, frames):
    """[(frame, [decoded packets])]"""
    return [(f, [decode(d) for d in pipe.process(f.iq, f.rssi, f.channel, f.timestamp_us, f.noise_floor)])
            for f in frames]


# ---------------------------------------------------------------------------- NVS table ---


def test_nvs_table_has_the_protocol_keys_with_their_types_and_ranges():
    keys = _keys()
    expect = {
        "edge_tier": ("u8", 0, 2, 2), "pres_thresh": ("u16", 0, 65535, 0), "vital_win": ("u16", 32, 256, 256),
        "vital_int": ("u16", 100, 10000, 1000), "subk_count": ("u8", 1, 32, 8),
    }
    for key, (typ, lo, hi, default) in expect.items():
        k = keys[("csi_cfg", key)]
        assert (k["type"], k["min"], k["max"], k["default"]) == (typ, lo, hi, default), key
    assert keys[("csi_cfg", "fall_thresh")]["type"] == "u16" and keys[("csi_cfg", "fall_thresh")]["min"] >= 1
    for ns, key, typ in [("csi_cfg", "ssid", "str"), ("csi_cfg", "password", "str"), ("csi_cfg", "target_ip", "str"),
                         ("csi_cfg", "target_port", "u16"), ("csi_cfg", "node_id", "u8"),
                         ("csi_cfg", "chan_list", "blob"), ("csi_cfg", "dwell_ms", "u32"),
                         ("csi_cfg", "filter_mac", "blob"), ("security", "ota_psk", "str")]:
        assert keys[(ns, key)]["type"] == typ, key
    for k in keys.values():
        assert len(k["key"]) <= 15
        assert (k["default"] is None) == (k["type"] in ("str", "blob"))


@pytest.mark.parametrize(
    "ns,key,value,ok",
    [
        ("csi_cfg", "vital_int", 99, False), ("csi_cfg", "vital_int", 100, True),
        ("csi_cfg", "vital_int", 10000, True), ("csi_cfg", "vital_int", 10001, False),
        ("csi_cfg", "edge_tier", 3, False), ("csi_cfg", "edge_tier", -1, False),
        ("csi_cfg", "fall_thresh", 0, False), ("csi_cfg", "subk_count", 33, False),
        ("csi_cfg", "vital_int", "1000", False),  # stored with the wrong type: ignored by the node
        ("csi_cfg", "target_ip", "192.168.1.20", True), ("csi_cfg", "target_ip", "192.168.1", False),
        ("csi_cfg", "target_ip", "192.168.1.256", False), ("csi_cfg", "target_ip", " 10.0.0.1", False),
        ("csi_cfg", "target_ip", "1.2.3.4x", False), ("csi_cfg", "target_ip", 3232235796, False),
        ("csi_cfg", "ssid", "x" * 32, True), ("csi_cfg", "ssid", "x" * 33, False),
        ("security", "ota_psk", "a" * 64, True), ("security", "ota_psk", "a" * 65, False),
        ("csi_cfg", "filter_mac", b"\x01" * 6, True), ("csi_cfg", "filter_mac", b"\x01" * 5, False),
        ("csi_cfg", "no_such_key", 1, False),
    ],
)
def test_nvs_value_valid_applies_the_firmware_rules(ns, key, value, ok):
    assert _edge.nvs_value_valid(ns, key, value) is ok


# ---------------------------------------------------------------------------- configuration ---


def test_defaults_come_from_the_firmware():
    keys = _keys()
    cfg = _edge.EdgePipeline().config
    assert cfg == _edge.cfg_defaults()
    assert cfg["node_id"] == 1 and cfg["edge_tier"] == 2
    for key in EDGE_KEYS:
        assert cfg[key] == keys[("csi_cfg", key)]["default"], key


def test_keywords_set_the_effective_config():
    p = _edge.EdgePipeline(7, 1, pres_thresh=50, vital_int=500, subk_count=4)
    assert p.config == {**_edge.cfg_defaults(), "node_id": 7, "edge_tier": 1, "pres_thresh": 50,
                        "vital_int": 500, "subk_count": 4}


@pytest.mark.parametrize("key", EDGE_KEYS)
def test_out_of_range_values_raise_naming_key_and_range(key):
    k = _keys()[("csi_cfg", key)]
    for bad in (k["min"] - 1, k["max"] + 1):
        if bad < 0 and k["min"] == 0:
            bad = -1
        with pytest.raises(ValueError, match=rf"{key}=.*valid {k['min']}\.\.{k['max']}"):
            _edge.EdgePipeline(**{key: bad})


def test_unknown_and_mistyped_keywords_raise():
    with pytest.raises(TypeError, match="unknown keyword 'vitals_int'.*vital_int"):
        _edge.EdgePipeline(vitals_int=1000)
    with pytest.raises(TypeError, match="pres_thresh must be an int"):
        _edge.EdgePipeline(pres_thresh=0.05)
    with pytest.raises(TypeError, match="multiple values for 'node_id'"):
        _edge.EdgePipeline(3, node_id=4)


def test_process_rejects_impossible_frames():
    p = _edge.EdgePipeline()
    with pytest.raises(ValueError, match="even length"):
        p.process(b"\x01\x02\x03", -50, 6, 1)
    with pytest.raises(ValueError, match="2048"):
        p.process(bytes(_edge.MAX_IQ_BYTES + 2), -50, 6, 1)
    with pytest.raises(ValueError, match="rssi"):
        p.process(bytes(128), -200, 6, 1)
    with pytest.raises(ValueError, match="timestamp_us"):
        p.process(bytes(128), -50, 6, -1)
    with pytest.raises(ValueError, match="frames"):
        p.note_loss(-1)


# ---------------------------------------------------------------------------- datagrams ---


def test_tier0_sends_every_frame_raw_and_feature_state_only():
    frames = _frames(seconds=6.0, n_subcarriers=128)
    out = _run(_edge.EdgePipeline(node_id=9, edge_tier=0), frames)
    kinds = {p.kind for _, pkts in out for p in pkts}
    assert kinds <= {"csi_raw", "feature_state"} and "feature_state" in kinds
    raws = [(f, p) for f, pkts in out for p in pkts if p.kind == "csi_raw"]
    assert len(raws) >= 0.9 * len(frames)  # only the 50 Hz gate may hold a frame back
    for f, p in raws:
        assert p.iq == f.iq and p.node_id == 9 and p.n_subcarriers == 128 and p.freq_mhz == 2432
        assert p.rssi_dbm == f.rssi and p.flags == 0
    seqs = [p.seq for _, p in raws]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))
    states = [p for _, pkts in out for p in pkts if p.kind == "feature_state"]
    assert 20 <= len(states) <= 40  # 5 Hz of frame time over 6 s


def test_tier2_sends_vitals_every_vital_int_of_frame_time_then_features():
    frames = _frames(seconds=20.0, rate=20.0, loss=0.0)  # the schedule, not frame drops
    out = _run(_edge.EdgePipeline(node_id=4, edge_tier=2, vital_int=500), frames)
    kinds = [p.kind for _, pkts in out for p in pkts]
    assert set(kinds) <= {"csi_raw", "csi_compressed", "vitals", "features", "feature_state"}
    assert "malformed" not in kinds
    vit = [(f, p) for f, pkts in out for p in pkts if p.kind == "vitals"]
    assert 36 <= len(vit) <= 41
    gaps = [b.timestamp_ms - a.timestamp_ms for (_, a), (_, b) in zip(vit, vit[1:])]
    # on a vital_int grid of frame time: each gap within one frame period (50 ms + jitter) of
    # 500 ms, and no drift over the run
    assert all(abs(g - 500) <= 80 for g in gaps), gaps
    assert abs((vit[-1][1].timestamp_ms - vit[0][1].timestamp_ms) / len(gaps) - 500) <= 10
    # the feature vector follows each vitals packet
    for _, pkts in out:
        ks = [p.kind for p in pkts]
        if "vitals" in ks:
            assert ks[ks.index("vitals") + 1] == "features"
    for _, v in vit:
        assert v.node_id == 4 and 0.0 <= v.presence_score <= 1.0 and v.n_persons <= 4


def test_tier2_compressed_frames_reconstruct_exactly_with_the_protocol_receiver():
    # Scenario CSI carries a random phase per frame, so XOR+RLE rarely wins on it; a nearly
    # static I/Q stream (a few bytes change per frame) is what compression is for.
    base = bytearray(_frames(name="empty", seconds=0.1)[0].iq)
    frames = []
    for i in range(240):
        base[(7 * i) % len(base)] ^= 0x11
        frames.append((bytes(base), 1_000_000 + i * 35_088))
    pipe = _edge.EdgePipeline(edge_tier=2)
    stream = CompressedStream()
    sent = {iq for iq, _ in frames}
    recon, n_comp, n_key = [], 0, 0
    for iq, ts in frames:
        for d in pipe.process(iq, -50, 5, ts):
            p = decode(d)
            if p.kind == "csi_raw":
                n_key += p.keyframe
                recon += stream.on_raw(p, now=ts / 1e6)
            elif p.kind == "csi_compressed":
                n_comp += 1
                assert len(d) < 20 + len(iq)  # sent instead of raw only because it is smaller
                recon += stream.on_compressed(p, now=ts / 1e6)
    assert n_key >= 8  # a keyframe at least every second of frame time (8.4 s here)
    assert n_comp >= 0.8 * len(frames)
    # the last window stays open and the one before it waits for its verdict (~2 s of frames)
    assert stream.undecodable == 0 and len(recon) >= n_comp - 60
    assert all(r.iq in sent for r in recon)


def test_tier2_scenario_frames_mostly_go_raw_because_xor_rle_cannot_shrink_them():
    """Real-like CSI (random common phase per frame) leaves nothing for XOR+RLE: the node must
    fall back to raw frames rather than send larger compressed ones."""
    frames = _frames(name="breathing", seconds=4.0)
    sizes = [len(d) for _, pkts in _run(_edge.EdgePipeline(edge_tier=2), frames) for d in
             (p.encode() for p in pkts if p.kind in ("csi_raw", "csi_compressed"))]
    assert sizes and max(sizes) <= 20 + len(frames[0].iq)


def test_note_loss_forces_a_raw_keyframe():
    frames = _frames(name="empty", seconds=4.0)
    pipe = _edge.EdgePipeline(edge_tier=2)
    _run(pipe, frames[:-10])
    pipe.note_loss(3)
    nxt = _run(pipe, frames[-10:-9])[0][1]
    raws = [p for p in nxt if p.kind == "csi_raw"]
    assert raws and raws[0].keyframe and raws[0].iq == frames[-10].iq


def test_same_frames_same_datagrams_and_reset_is_a_reboot():
    frames = _frames(seconds=3.0)
    a = _edge.EdgePipeline(node_id=2)
    first = [a.process(f.iq, f.rssi, f.channel, f.timestamp_us) for f in frames]
    a.reset()
    again = [a.process(f.iq, f.rssi, f.channel, f.timestamp_us) for f in frames]
    fresh = _edge.EdgePipeline(node_id=2)
    other = [fresh.process(f.iq, f.rssi, f.channel, f.timestamp_us) for f in frames]
    assert first == again == other


def test_pipelines_run_in_parallel_threads():
    frames = _frames(seconds=4.0)
    expect = [_edge.EdgePipeline().process(f.iq, f.rssi, f.channel, f.timestamp_us) for f in frames[:1]]
    results: dict[int, list] = {}

    def work(i):
        p = _edge.EdgePipeline()
        results[i] = [p.process(f.iq, f.rssi, f.channel, f.timestamp_us) for f in frames]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert len(results) == 3 and results[0] == results[1] == results[2]
    assert results[0][:1] == expect
    # One pipeline shared by two threads: each call is atomic, so the shared run equals a serial
    # run of the same frames in the order the calls got in. Tier 0 sends every frame raw, and
    # the raw frame's seq tells that order (tier 2 may send a compressed frame, without seq).
    shared = _edge.EdgePipeline(edge_tier=0)
    calls: list[tuple[int, object, int, list]] = []

    def hammer(k):
        # The two threads' frames lie on one 20 Hz grid, interleaved (thread k takes slots 2i+k):
        # the core drops a frame that repeats or crowds the previous one's timestamp (a duplicate
        # CSI report), which two threads feeding the same timestamps would produce.
        for i, f in enumerate(frames):
            ts = frames[0].timestamp_us + (2 * i + k) * 50_000
            out = shared.process(f.iq, f.rssi, f.channel, ts)
            (seq,) = [p.seq for p in map(decode, out) if p.kind == "csi_raw"]
            calls.append((seq, f, ts, out))

    ts = [threading.Thread(target=hammer, args=(k,)) for k in range(2)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout=60)
    calls.sort(key=lambda c: c[0])
    seqs = [c[0] for c in calls]
    assert seqs == list(range(seqs[0], seqs[0] + 2 * len(frames)))  # no call lost or doubled
    serial = _edge.EdgePipeline(edge_tier=0)
    assert [serial.process(f.iq, f.rssi, f.channel, t) for _, f, t, _ in calls] == \
        [out for _, _, _, out in calls]


def test_a_person_who_walks_in_is_present_and_any_breathing_rate_is_right():
    """A smoke check of the DSP through the binding (benchmarks/dsp_accuracy.py measures
    coverage and accuracy over many rooms): an empty room is not occupied, a person walking in is
    detected at once, and every breathing rate the node reports while they stand is right."""
    kw = dict(rate_hz=20.0, enter_s=90.0, stay_s=60.0, away_s=30.0, rate_bpm=15.0, body_db=-8.0)
    sc = next(s for s in (make_scenario("enter-leave", seed=i, **kw) for i in range(1, 50))
              if 6.0 <= s.static_ripple_db() <= 15.0)
    out = _run(_edge.EdgePipeline(edge_tier=2), list(sc.frames(150.0)))
    vit = [(f.t, p) for f, pkts in out for p in pkts if p.kind == "vitals"]
    empty = [(round(t), v.presence_score) for t, v in vit if 20.0 < t < 90.0 and v.presence]
    assert not empty, f"empty room reported occupied at (s, score): {empty}"
    assert all(v.presence for t, v in vit if 92.0 <= t <= 100.0)  # walking in, then standing
    br = [(t, v.breathing_bpm) for t, v in vit if 100.0 < t < 150.0 and v.breathing_bpm]
    assert all(abs(b - sc.truth(t).breathing_bpm[0]) <= 1.5 for t, b in br), br


def test_state_size_is_the_cores():
    assert 0 < _edge.state_size() <= 64 * 1024
