"""JSON lines of `ruview tail --json`: the fast formats equal the reference formatting, every
line is valid JSON with the documented leading keys, and a closed pipe ends the run cleanly."""

from __future__ import annotations

import io
import json
import math
import os

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ruview_cli.protocol import CompressedFrame, RawFrame, Unknown, Vitals
from ruview_cli.telemetry.sinks import JsonLinesSink, OutputClosed

ADDR = ("192.168.4.21", 40001)

raw_frames = st.builds(
    lambda node, n_ant, n_sc, freq, seq, rssi, noise, flags: RawFrame(
        node, n_ant, n_sc, freq, seq, rssi, noise, flags, bytes(2 * n_sc * n_ant)),
    st.integers(0, 255), st.integers(1, 4), st.integers(1, 256),
    st.one_of(st.sampled_from([2412, 2437, 2484, 5180, 5825]), st.integers(0, 2**32 - 1)),
    st.integers(0, 2**32 - 1), st.integers(-128, 127), st.integers(-128, 127), st.integers(0, 0xFFFF),
)
compressed_frames = st.builds(
    lambda node, ch, orig, n: CompressedFrame(node, ch, orig, bytes(2 * n)),
    st.integers(0, 255), st.integers(0, 255), st.integers(0, 0xFFFF), st.integers(0, 200),
)
times = st.floats(min_value=0, max_value=4e9, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.one_of(raw_frames, compressed_frames), times)
def test_fast_formats_equal_the_reference_formatting(pkt, t):
    sink = JsonLinesSink(io.BytesIO())
    assert sink.line(pkt, ADDR, t) == sink.generic_line(pkt, ADDR, t)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(raw_frames, compressed_frames), min_size=1, max_size=20), times)
def test_writer_emits_the_same_lines_as_line(pkts, t):
    out = io.BytesIO()
    sink = JsonLinesSink(out)
    write = sink.make_writer()
    for p in pkts:
        write(p, ADDR, t)
    sink.flush()
    assert out.getvalue().decode().splitlines() == [sink.line(p, ADDR, t) for p in pkts]


def test_lines_lead_with_the_documented_keys():
    sink = JsonLinesSink(io.BytesIO())
    for pkt in (RawFrame(3, 1, 64, 2437, 7, -40, -91, 1, bytes(128)),
                Vitals(3, 3, 15.0, 72.0, -40, 1, 0.5, 0.75, 99),
                Unknown(0x12345678, 9)):
        obj = json.loads(sink.line(pkt, ADDR, 1764158400.123456))
        assert list(obj)[:4] == ["t", "source", "kind", "node_id"]
        assert obj["t"] == pytest.approx(1764158400.123456, abs=1e-6)
        assert obj["source"] == "192.168.4.21:40001"
    assert obj["reason"] == "unknown magic 0x12345678"


def test_nan_floats_never_break_a_line():
    sink = JsonLinesSink(io.BytesIO())
    pkt = Vitals(3, 1, 15.0, 72.0, -40, 1, math.nan, math.inf, 99)
    obj = json.loads(sink.line(pkt, ADDR, 1.0))  # strict JSON: no NaN tokens
    assert obj["motion_energy"] is None and obj["presence_score"] is None


def test_lines_are_held_until_flush_then_written_at_once():
    out = io.BytesIO()
    sink = JsonLinesSink(out)
    write = sink.make_writer()
    for seq in range(3):
        write(RawFrame(3, 1, 64, 2437, seq, -40, -91, 0, bytes(128)), ADDR, 1.0)
    assert out.getvalue() == b""  # the receive loop flushes when the socket runs dry
    sink.flush()
    assert [json.loads(x)["seq"] for x in out.getvalue().splitlines()] == [0, 1, 2]
    assert sink.lines == 3


def test_closed_pipe_raises_output_closed():
    r, w = os.pipe()
    os.close(r)
    stream = os.fdopen(w, "wb")
    sink = JsonLinesSink(stream)
    sink.write(Unknown(None, 1), ADDR, 1.0)
    try:
        with pytest.raises(OutputClosed):
            sink.flush()
    finally:
        try:
            stream.close()
        except BrokenPipeError:
            pass
