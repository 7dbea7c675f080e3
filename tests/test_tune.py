"""`ruview tune` on emulated recordings whose answer is known: an empty room, then a person who
falls. The proposal must separate the parts (through the real firmware core), the profile it
writes must be what `ruview provision --profile` takes, and wrong labels must not pass."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ruview_cli.cli.app import app
from ruview_cli.config.profiles import load_profile
from ruview_cli.sim.recording import room_frames, write_recording

EMPTY_S, FALL_S, END_S = 60.0, 150.0, 200.0
REAL = Path("/work/shared/data/ruview-esp32s3-2node-120s.csi.jsonl")


@pytest.fixture(scope="module")
def room(tmp_path_factory):
    path = tmp_path_factory.mktemp("tune") / "room.pcap"
    write_recording(path, {1: room_frames(7, EMPTY_S, FALL_S, END_S)})
    return path


def _tune(*args):
    result = CliRunner().invoke(app, ["tune", *map(str, args)])
    return result, (json.loads(result.stdout) if result.stdout.startswith("{") else None)


def test_proposal_separates_empty_occupied_and_the_fall(room, tmp_path):
    profile_path = tmp_path / "room.toml"
    result, out = _tune(room, "--empty", f"0-{EMPTY_S:g}", "--occupied", f"{EMPTY_S:g}-{FALL_S:g}",
                        "--fall", f"{FALL_S:g}", "-o", profile_path, "--json")
    assert result.exit_code == 0, result.output
    assert out["separates"] is True and out["nodes"] == [1]
    best = next(c for c in out["candidates"] if c["settings"] == _stored(out["proposal"]))
    assert best["empty"]["presence"] <= 0.1 * best["empty"]["vitals_packets"]
    assert best["occupied"]["presence"] >= 0.9 * best["occupied"]["vitals_packets"] > 0
    assert best["falls_found"] == 1 and best["false_falls"] == 0
    assert all(FALL_S - 2 <= f["t"] <= FALL_S + 12 for f in best["fall_times"])
    # every candidate is a real run: some thresholds miss the fall, and the table says so
    assert any(c["falls_found"] == 0 for c in out["candidates"])
    assert len({json.dumps(c["settings"], sort_keys=True) for c in out["candidates"]}) == len(out["candidates"]) > 20

    profile = load_profile(str(profile_path))
    assert profile.values == {"edge_tier": 2, **out["proposal"]}
    # replaying the profile's stored values reproduces the scored outcome
    from ruview_cli.tune.frames import load_frames
    from ruview_cli.tune.labels import Labels
    from ruview_cli.tune.search import KEYS, run_candidate, score

    settings = {k: profile.stored[k] if k != "pres_thresh" else profile.stored.get(k, 0) for k in KEYS}
    labels = Labels.parse([f"0-{EMPTY_S:g}"], [f"{EMPTY_S:g}-{FALL_S:g}"], [f"{FALL_S:g}"])
    again = score(settings, run_candidate(load_frames(str(room)), settings), labels)
    assert again.to_json()["score"] == best["score"]


def _stored(human: dict) -> dict:
    from ruview_cli.config import schema

    return {k: 0 if v == "auto" else schema.key(k).parse(v) for k, v in human.items()}


def test_provision_takes_the_profile(room, tmp_path):
    profile_path = tmp_path / "p.toml"
    result, out = _tune(room, "--empty", "0-60", "--occupied", "60-150", "--fall", "150", "-o", profile_path, "--json")
    assert result.exit_code == 0, result.output
    prov = CliRunner().invoke(app, ["provision", "--reset", "--profile", str(profile_path),
                                    "--dry-run", str(tmp_path / "nvs.bin"), "--json"])
    assert prov.exit_code == 0, prov.output
    config = json.loads(prov.stdout)["results"][0]["config"]
    assert {k: config[k] for k in out["proposal"]} == {k: (v if v != "auto" else config[k]) for k, v in out["proposal"].items()}
    assert (tmp_path / "nvs.bin").stat().st_size > 0


def test_wrong_labels_are_not_passed_off_as_separated(room, tmp_path):
    # the person is marked as absent and the empty room as occupied
    result, out = _tune(room, "--empty", "75-150", "--occupied", "15-60", "-o", tmp_path / "w.toml", "--json")
    assert result.exit_code == 1
    assert out["separates"] is False
    assert "no candidate separates" in result.output


def test_table_output_and_usage_errors(room, tmp_path):
    result, _ = _tune(room, "--empty", "0-60", "--occupied", "60-150", "--fall", "150", "-o", tmp_path / "t.toml")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0].split()[:4] == ["pres_thresh", "fall_thresh", "vital_win", "subk_count"]
    assert lines[1].startswith("best") and any(line.startswith("default") for line in lines)
    assert "ruview provision --profile" in result.stdout
    again, _ = _tune(room, "--empty", "0-60", "-o", tmp_path / "t.toml")
    assert again.exit_code == 2 and "exists" in again.output
    assert _tune(room, "-o", tmp_path / "n.toml")[0].exit_code == 2  # nothing labelled
    late, _ = _tune(room, "--occupied", "60-900", "-o", tmp_path / "l.toml")
    assert late.exit_code == 2 and "ends after the recording" in late.output
    bad, _ = _tune(room, "--empty", "60-10", "-o", tmp_path / "b.toml")
    assert bad.exit_code == 2


def test_recording_without_raw_frames_says_how_to_record_one(tmp_path, loopback):
    from ruview_cli.protocol import Vitals
    from ruview_cli.telemetry.pcap import PcapWriter

    path = tmp_path / "vitals-only.pcap"
    with PcapWriter(path, (loopback.addr(), 5005)) as w:
        w.write(Vitals(1, 1, 15.0, 0.0, -50, 1, 0.1, 0.9, 0).encode(), (loopback.addr(), 4000), 1.0)
    result, _ = _tune(path, "--empty", "0-1", "-o", tmp_path / "x.toml")
    assert result.exit_code == 1 and "no raw CSI frames" in result.output and "--record" in result.output
    assert not (tmp_path / "x.toml").exists()


@pytest.mark.skipif(not REAL.is_file(), reason="real capture not present")
def test_reads_a_real_ruview_recording(tmp_path):
    result, out = _tune(REAL, "--occupied", "0-110", "-o", tmp_path / "r.toml", "--json")
    assert out is not None, result.output
    assert out["frames"] == 5309 and out["nodes"] == [1, 2]
    assert all(c["occupied"]["vitals_packets"] > 100 for c in out["candidates"])
