"""The Wireshark dissector decodes what `ruview tail --json` decodes, field for field.

A recording holding every packet kind of docs/protocol.md (the shared test vectors, which are
checked against the protocol tables by plain struct elsewhere) is decoded twice: by tshark with
ruview.lua, and by the installed `ruview tail --replay --json`; each packet's kind, node and
fields must agree. Then `ruview wireshark --install` puts the dissector where tshark finds it
by itself.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from ruview_cli.telemetry.pcap import PcapWriter

VECTORS = Path(__file__).parent / "vectors"
TSHARK = shutil.which("tshark")


def _tshark() -> str:
    if TSHARK is None:
        msg = "tshark is not installed: apt-get install tshark"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    return TSHARK


# tail --json key -> dissector field, per kind (the dissector names fields after these keys; the
# feature vector's, feature state's and mesh payload's keys are prefixed where a name is shared
# with another kind of different type).
_SCALARS = {
    "csi_raw": ["node_id", "seq", "n_antennas", "n_subcarriers", "freq_mhz", "channel", "rssi_dbm",
                "noise_floor_dbm", "flags", "keyframe", "iq_len"],
    "vitals": ["node_id", "flags", "presence", "fall", "motion", "breathing_bpm", "heart_bpm", "rssi_dbm",
               "n_persons", "motion_energy", "presence_score", "timestamp_ms", "breathing_conf", "heart_conf"],
    "features": ["node_id", "seq", "timestamp_us"] + [("features." + k, k) for k in
                 ("presence_score", "motion_score", "breathing_bpm", "heart_bpm", "phase_variance",
                  "n_persons", "fall", "rssi_dbm")],
    "csi_compressed": ["node_id", "channel", "orig_len", "comp_len"],
    "feature_state": ["node_id", "mode", "seq", "timestamp_us", "quality_flags"] + [("state." + k, k) for k in
                      ("motion_score", "presence_score", "breathing_bpm", "breathing_conf", "heart_bpm",
                       "heart_conf", "anomaly", "env_shift", "node_coherence")],
    "mesh_health": ["node_id", ("mesh.epoch", "epoch"), ("mesh.msg_type", "msg_type"),
                    ("health.channel", "health.channel"), ("health.noise_floor_dbm", "health.noise_floor_dbm"),
                    ("health.pkt_yield", "health.pkt_yield"), ("health.local_time_us", "health.local_time_us")],
    "mesh_anomaly": ["node_id", ("mesh.epoch", "epoch"), ("alert.severity", "alert.severity"),
                     ("alert.anomaly_score", "alert.anomaly_score"), ("alert.timestamp_us", "alert.timestamp_us")],
    "wasm_events": ["node_id", "module_id"],
}
_SCALARS["fused_vitals"] = _SCALARS["vitals"][:-2] + ["mmwave_presence", "mmwave_type", "fusion_confidence",
                                                 "mmwave_heart_bpm", "mmwave_breathing_bpm", "distance_cm", "targets",
                                                 "mmwave_confidence"]


def _lookup(obj: dict, dotted: str):
    for part in dotted.split("."):
        obj = obj[part]
    return obj


def _same(tail_value, shark_value: str) -> bool:
    if isinstance(tail_value, bool):
        return shark_value in ("1", "True", "true") if tail_value else shark_value in ("0", "False", "false")
    if isinstance(tail_value, int) and shark_value.startswith("0x"):  # hex-based fields (flags)
        return int(shark_value, 16) == tail_value
    if isinstance(tail_value, float):
        return abs(float(shark_value) - tail_value) <= 1e-6 * max(1.0, abs(tail_value))
    return str(tail_value) == shark_value


def _recording(tmp_path: Path) -> Path:
    path = tmp_path / "all-kinds.pcap"
    w = PcapWriter(str(path), ("127.0.0.1", 5005))
    t = time.time()
    packets = [bytes.fromhex(json.loads(f.read_text())["hex"]) for f in sorted(VECTORS.glob("*.json"))]
    packets.append(_our_vitals())
    for i, data in enumerate(packets):
        w.write(data, ("127.0.0.9", 40000), t + 0.01 * i)
    w.close()
    return path


def _our_vitals() -> bytes:
    """Vitals as our firmware sends them: flags bit 7, confidences in bytes 14/15, no heart rate."""
    from ruview_cli.protocol import Vitals

    return Vitals(node_id=4, flags=0x81, breathing_bpm=14.5, heart_bpm=0.0, rssi_dbm=-61, n_persons=1,
                  motion_energy=0.25, presence_score=0.75, timestamp_ms=42_000,
                  breathing_conf_pct=83, heart_conf_pct=0).encode()


def _tshark_fields(pcap: Path, *extra: str, env=None) -> list[dict]:
    res = subprocess.run([_tshark(), *extra, "-r", str(pcap), "-T", "json", "-J", "ruview"],
                         capture_output=True, text=True, timeout=120, env=env)
    assert res.returncode == 0, res.stderr
    out = []
    for frame in json.loads(res.stdout):
        layer = frame["_source"]["layers"].get("ruview", {})
        out.append(_flatten(layer))
    return out


def _flatten(tree: dict) -> dict:
    """tshark's JSON nests subtrees (e.g. WASM events); keep every ruview.* field at top level."""
    flat: dict = {}
    for k, v in tree.items():
        if isinstance(v, dict):
            for k2, v2 in _flatten(v).items():
                flat.setdefault(k2, v2)
        elif k.startswith("ruview."):
            flat.setdefault(k[len("ruview."):], v)
    return flat


def test_dissector_fields_match_ruview_tail_for_every_packet_kind(tmp_path):
    _tshark()
    from ruview_cli.wireshark import dissector_path

    pcap = _recording(tmp_path)
    shark = _tshark_fields(pcap, "-X", f"lua_script:{dissector_path()}")
    res = subprocess.run(["ruview", "tail", "--replay", str(pcap), "--speed", "0", "--json"],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    tail = [json.loads(line) for line in res.stdout.splitlines()]
    assert len(tail) == len(shark) == len(list(VECTORS.glob("*.json"))) + 1
    assert tail[-1]["breathing_conf"] == 0.83 and tail[-1]["heart_bpm"] is None
    checked = set()
    for t, s in zip(tail, shark):
        assert s.get("kind") == t["kind"], (t, s)
        if t["kind"] in ("malformed", "unknown"):
            continue
        for spec in _SCALARS[t["kind"]]:
            field, key = (spec, spec) if isinstance(spec, str) else spec
            want = _lookup(t, key)
            if want is None:  # no estimate (null): the dissector shows no value either
                assert field not in s, f"{t['kind']}: ruview.{field} = {s[field]!r} where tail says null"
                continue
            assert field in s, f"{t['kind']}: dissector has no ruview.{field}"
            assert _same(want, s[field]), f"{t['kind']}.{key}: tail {want!r} vs tshark {s[field]!r}"
        checked.add(t["kind"])
    assert checked >= {"csi_raw", "vitals", "features", "fused_vitals", "wasm_events", "csi_compressed",
                       "feature_state", "mesh_health", "mesh_anomaly"}


def test_install_puts_it_where_tshark_finds_it(tmp_path):
    _tshark()
    home = tmp_path / "home"
    home.mkdir()
    env = {**os.environ, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config")}
    res = subprocess.run(["ruview", "wireshark", "--install", "--json"], capture_output=True, text=True,
                         timeout=60, env=env)
    assert res.returncode == 0, res.stderr
    installed = Path(json.loads(res.stdout)["installed"])
    assert installed.is_file() and str(installed).startswith(str(home))
    shark = _tshark_fields(_recording(tmp_path), env=env)  # no -X: the plugin folder alone
    assert [s.get("kind") for s in shark].count("vitals") == 2
