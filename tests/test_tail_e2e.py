"""`ruview tail` end to end: the installed command, real UDP datagrams on loopback.

Every run is synchronised on what the command prints (its "listening" status line, then the
JSON lines it emits); runs end by themselves through --count or --duration. No timing asserts.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from ruview_cli.protocol import FeatureVector, MeshEnvelope, MeshHealth, RawFrame, Vitals

RUVIEW = shutil.which("ruview")
pytestmark = pytest.mark.skipif(RUVIEW is None, reason="`ruview` is not installed: pip install -e .")
VECTORS = Path(__file__).parent / "vectors"
TIMEOUT = 60


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Tail:
    """A running `ruview tail` whose stdout/stderr lines are read by threads into queues."""

    def __init__(self, *args: str, env: dict | None = None):
        self.proc = subprocess.Popen(
            [RUVIEW, "tail", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, **(env or {})},
        )
        self.out: queue.Queue = queue.Queue()
        self.err: queue.Queue = queue.Queue()
        self.err_lines: list[str] = []
        self.out_lines: list[str] = []
        threading.Thread(target=self._pump, args=(self.proc.stdout, self.out, self.out_lines), daemon=True).start()
        threading.Thread(target=self._pump, args=(self.proc.stderr, self.err, self.err_lines), daemon=True).start()

    @staticmethod
    def _pump(stream, q, keep):
        for line in stream:
            keep.append(line)
            q.put(line)
        q.put(None)

    def wait_listening(self) -> dict:
        while True:
            line = self.err.get(timeout=TIMEOUT)
            assert line is not None, f"ruview tail ended before listening: {''.join(self.err_lines)}"
            if line.startswith("{"):
                status = json.loads(line)
                if status.get("event") in ("listening", "replaying"):
                    return status
            elif "listening on" in line:
                return {"event": "listening"}

    def json_lines(self, n: int) -> list[dict]:
        got = []
        while len(got) < n:
            line = self.out.get(timeout=TIMEOUT)
            assert line is not None, f"stdout closed after {got}; stderr: {''.join(self.err_lines)}"
            got.append(json.loads(line))
        return got

    def finish(self) -> tuple[int, list[dict], dict | None]:
        """Wait for the exit; return (exit code, remaining stdout JSON lines, summary)."""
        rc = self.proc.wait(timeout=TIMEOUT)
        rest = []
        while (line := self.out.get(timeout=TIMEOUT)) is not None:
            rest.append(line)
        while self.err.get(timeout=TIMEOUT) is not None:
            pass
        summary = None
        for line in self.err_lines:
            if line.startswith("{") and json.loads(line).get("event") == "summary":
                summary = json.loads(line)
        decoded = [json.loads(line) for line in rest if line.startswith("{")]
        return rc, decoded, summary

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def run_tail():
    started: list[Tail] = []

    def start(*args, env=None):
        t = Tail(*args, env=env)
        started.append(t)
        return t

    yield start
    for t in started:
        t.kill()


def send(port: int, datagrams, sock: socket.socket | None = None):
    s = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for d in datagrams:
        s.sendto(d, ("127.0.0.1", port))
    if sock is None:
        s.close()


def sample_packets():
    iq64 = bytes((i * 3) & 0xFF for i in range(128))
    iq128 = bytes((i * 5) & 0xFF for i in range(256))
    health = MeshHealth(bytes([9, 0, 0, 0, 0, 0, 0, 0]), 123456789, 1, 6, 20, -93, 28, 0, 0)
    return [
        RawFrame(9, 1, 64, 2437, 4000, -41, -92, 0, iq64),
        RawFrame(9, 1, 128, 5180, 4001, -43, -95, 0, iq128),
        Vitals(9, 0x03, 15.0, 72.0, -42, 1, 0.5, 0.75, 123456),
        FeatureVector(9, 7, 123456000, 1.0, 0.5, 0.5, 0.6, 0.25, 0.25, 1.0, 0.58),
        MeshEnvelope.of(health),
    ]


def test_json_lines_carry_the_decoded_fields(run_tail):
    port = free_udp_port()
    pkts = sample_packets()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--duration", "60",
                    "--count", str(len(pkts)))
    tail.wait_listening()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        send(port, [p.encode() for p in pkts], s)
        src = f"127.0.0.1:{s.getsockname()[1]}"
        lines = tail.json_lines(len(pkts))
    rc, rest, summary = tail.finish()
    assert rc == 0 and rest == []
    assert [ln["kind"] for ln in lines] == ["csi_raw", "csi_raw", "vitals", "features", "mesh_health"]
    for ln in lines:
        assert ln["source"] == src and ln["node_id"] == 9 and isinstance(ln["t"], float)
        assert list(ln)[:4] == ["t", "source", "kind", "node_id"]
    raw148, raw276, vit, feat, health = lines
    assert (raw148["seq"], raw148["rssi_dbm"], raw148["noise_floor_dbm"]) == (4000, -41, -92)
    assert (raw148["n_subcarriers"], raw148["iq_len"], raw148["freq_mhz"]) == (64, 128, 2437)
    assert (raw276["n_subcarriers"], raw276["iq_len"], raw276["freq_mhz"]) == (128, 256, 5180)
    assert vit["breathing_bpm"] == 15.0 and vit["heart_bpm"] == 72.0
    assert vit["presence"] is True and vit["fall"] is True and vit["motion"] is False
    assert feat["seq"] == 7 and feat["presence_score"] == 1.0
    assert health["health"]["local_time_us"] == 123456789
    assert summary["reason"] == "count" and summary["emitted"] == len(pkts)
    node = summary["nodes"][0]
    assert (node["node_id"], node["address"]) == (9, "127.0.0.1")
    assert node["packets"] == {"csi_raw": 2, "features": 1, "mesh_health": 1, "vitals": 1}
    assert node["raw_frames_lost"] == 0


from test_protocol_vectors import _JSON_NAME  # noqa: E402  wire name -> JSON name


def _vectors():
    return sorted(VECTORS.glob("*.json")) if VECTORS.is_dir() else []


@pytest.mark.skipif(not _vectors(), reason="no shared test vectors in tests/vectors yet")
def test_shared_vectors_decode_through_tail(run_tail):
    vectors = [json.loads(p.read_text()) for p in _vectors()]
    port = free_udp_port()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--count", str(len(vectors)))
    tail.wait_listening()
    for v in vectors:  # one at a time, so each line is matched to its vector
        send(port, [bytes.fromhex(v["hex"])])
        line = tail.json_lines(1)[0]
        want_kind = v.get("expect") or v["kind"]
        assert line["kind"] == want_kind, v["name"]
        if want_kind in ("malformed", "unknown"):
            assert line["reason"], v["name"]
            continue
        for key, value in v.get("fields", {}).items():
            name, convert = _JSON_NAME.get((v["kind"], key), (key, None))
            value = convert(value) if convert else value
            if name in line:
                assert line[name] == pytest.approx(value) if isinstance(value, float) else line[name] == value, (v["name"], key)
    rc, _, summary = tail.finish()
    assert rc == 0 and summary["emitted"] == len(vectors)


def test_malformed_and_unknown_are_lines_and_counts_not_crashes(run_tail):
    port = free_udp_port()
    bad = [
        b"",  # empty datagram
        b"\x01\x02\x03",  # shorter than a magic
        b"\xde\xad\xbe\xef" + bytes(40),  # unknown magic
        b"\x02\x00\x11\xc5\x09" + bytes(10),  # vitals, truncated
        b"\x01\x00\x11\xc5\x09\x01\x40\x00" + bytes(20),  # raw frame claiming 64 sc, short
        os.urandom(1400),
    ]
    good = sample_packets()[2].encode()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--count", str(len(bad) + 1))
    tail.wait_listening()
    send(port, bad + [good])
    lines = tail.json_lines(len(bad) + 1)
    rc, _, summary = tail.finish()
    assert rc == 0
    kinds = [ln["kind"] for ln in lines]
    assert kinds[:5] == ["unknown", "unknown", "unknown", "malformed", "malformed"]
    assert kinds[-1] == "vitals"
    assert all(ln["reason"] for ln in lines[:5])
    assert lines[3]["packet_kind"] == "vitals" and lines[4]["packet_kind"] == "csi_raw"
    n_malformed = sum(k == "malformed" for k in kinds)
    n_unknown = sum(k == "unknown" for k in kinds)
    assert summary["malformed"] == n_malformed and summary["unknown"] == n_unknown
    assert summary["sources"]["127.0.0.1"]["datagrams"] == len(bad) + 1


def test_count_stops_by_itself_and_node_filter_applies(run_tail):
    port = free_udp_port()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--node", "4", "--count", "3")
    tail.wait_listening()
    frames = []
    for seq in range(3):
        frames.append(RawFrame(3, 1, 64, 2412, seq, -50, -90, 0, bytes(128)).encode())
        frames.append(RawFrame(4, 1, 64, 2412, seq, -50, -90, 0, bytes(128)).encode())
    send(port, frames)
    rc, rest, summary = tail.finish()  # no --duration: it must end on its own
    assert rc == 0
    assert [(ln["node_id"], ln["seq"]) for ln in rest] == [(4, 0), (4, 1), (4, 2)]
    assert summary["reason"] == "count"
    assert [n["node_id"] for n in summary["nodes"]] == [4]


def test_sequence_gap_shows_as_loss_in_the_summary(run_tail):
    port = free_udp_port()
    seqs = [10, 11, 12, 15, 16]  # 13 and 14 never sent
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--count", str(len(seqs)))
    tail.wait_listening()
    send(port, [RawFrame(5, 1, 64, 2412, s, -50, -90, 0, bytes(128)).encode() for s in seqs])
    rc, _, summary = tail.finish()
    assert rc == 0
    node = summary["nodes"][0]
    assert node["raw_frames_lost"] == 2
    assert node["loss_pct"] == pytest.approx(100 * 2 / 7, abs=0.01)


def test_record_then_replay_reproduces_the_lines(run_tail, tmp_path):
    port = free_udp_port()
    rec = tmp_path / "run.pcap"
    pkts = [p.encode() for p in sample_packets()] + [b"\xde\xad\xbe\xef", b"\x02\x00\x11\xc5\x09"]
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--count", str(len(pkts)),
                    "--record", str(rec))
    tail.wait_listening()
    send(port, pkts)
    rc, live_lines, live_summary = tail.finish()
    assert rc == 0 and len(live_lines) == len(pkts)
    assert live_summary["recorded"] == len(pkts)

    replay = run_tail("--replay", str(rec), "--speed", "0", "--json")
    rc, replay_lines, replay_summary = replay.finish()
    assert rc == 0, "".join(replay.err_lines)
    strip = lambda lines: [{k: v for k, v in ln.items() if k != "t"} for ln in lines]  # noqa: E731
    assert strip(replay_lines) == strip(live_lines)
    assert replay_summary["reason"] == "end of recording"
    same = ("node_id", "address", "packets", "raw_frames_lost", "malformed")
    assert [{k: n[k] for k in same} for n in replay_summary["nodes"]] == \
        [{k: n[k] for k in same} for n in live_summary["nodes"]]
    assert (replay_summary["malformed"], replay_summary["unknown"]) == (1, 1)


def test_table_mode_renders_a_row_for_the_node(run_tail):
    port = free_udp_port()
    tail = run_tail("--bind", "127.0.0.1", "--listen", str(port), "--count", "2",
                    env={"COLUMNS": "200", "LINES": "40"})
    tail.wait_listening()
    send(port, [RawFrame(12, 1, 64, 2437, 1, -44, -90, 0, bytes(128)).encode(),
                Vitals(12, 0x03, 15.0, 72.0, -45, 2, 0.5, 0.75, 1).encode()])
    rc, _, _ = tail.finish()
    out = "".join(tail.out_lines)
    assert rc == 0, "".join(tail.err_lines)
    assert "Traceback" not in out + "".join(tail.err_lines)
    row = next(line for line in out.splitlines() if "127.0.0.1" in line and "15.0" in line)
    cells = re.split(r"\s{2,}", row.strip())
    assert cells[0] == "12" and cells[1] == "127.0.0.1"
    assert cells[2:4] == ["15.0", "72.0"] and "FALL" in row and "-45 dBm" in row
    assert "summary" in out  # the closing summary follows the table


@pytest.mark.parametrize("sig, reason", [(signal.SIGTERM, "terminated"), (signal.SIGINT, "interrupted")])
def test_signal_ends_with_a_summary_and_exit_0(run_tail, sig, reason):
    port = free_udp_port()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port))
    status = tail.wait_listening()
    assert status["port"] == port and status["rcvbuf_bytes"] > 0
    send(port, [sample_packets()[2].encode()])
    tail.json_lines(1)
    tail.proc.send_signal(sig)  # Ctrl-C is SIGINT
    rc, _, summary = tail.finish()
    assert rc == 0
    assert summary["reason"] == reason and summary["emitted"] == 1
    assert summary["nodes"][0]["packets"] == {"vitals": 1}


def test_port_in_use_is_a_clear_error(run_tail):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--duration", "5")
        rc, _, _ = tail.finish()
    err = "".join(tail.err_lines)
    assert rc == 1
    assert f"port {port} is in use by another process: stop it or use --listen PORT" in err
    assert "Traceback" not in err


def test_help_does_not_import_slow_dependencies():
    code = (
        "import sys\n"
        "from ruview_cli.cli.app import app\n"
        "for argv in (['--help'], ['tail', '--help']):\n"
        "    try:\n"
        "        app(argv, prog_name='ruview')\n"
        "    except SystemExit as e:\n"
        "        assert e.code == 0, (argv, e.code)\n"
        "bad = sorted(m for m in ('esptool', 'zeroconf', 'requests') if m in sys.modules)\n"
        "print('IMPORTED', bad)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=TIMEOUT,
                         env={**os.environ, "COLUMNS": "120"})
    assert res.returncode == 0, res.stderr
    assert "IMPORTED []" in res.stdout
    assert "--replay" in res.stdout  # the tail help really was rendered


def test_closed_output_pipe_ends_cleanly():
    """`ruview tail --json | head -1`: the reader goes away; tail stops without a traceback."""
    port = free_udp_port()
    r, w = os.pipe()
    proc = subprocess.Popen([RUVIEW, "tail", "--json", "--bind", "127.0.0.1", "--listen", str(port)],
                            stdout=w, stderr=subprocess.PIPE, text=True)
    os.close(w)
    err_lines: list[str] = []
    listening = threading.Event()

    def pump():
        for line in proc.stderr:
            err_lines.append(line)
            if '"listening"' in line:
                listening.set()
        listening.set()

    pumper = threading.Thread(target=pump, daemon=True)
    pumper.start()
    try:
        assert listening.wait(TIMEOUT) and proc.poll() is None, "".join(err_lines)
        frame = RawFrame(5, 1, 64, 2412, 0, -50, -90, 0, bytes(128)).encode()
        send(port, [frame])
        first = b""
        while not first.endswith(b"\n"):
            chunk = os.read(r, 1)
            assert chunk, "stdout closed before the first line"
            first += chunk
        assert json.loads(first)["kind"] == "csi_raw"
        os.close(r)  # like `head -1` exiting
        r = -1
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            for _ in range(2000):  # bounded: keep it writing until it notices the closed pipe
                if proc.poll() is not None:
                    break
                s.sendto(frame, ("127.0.0.1", port))
                try:
                    proc.wait(timeout=0.01)
                except subprocess.TimeoutExpired:
                    pass
        rc = proc.wait(timeout=TIMEOUT)
        pumper.join(TIMEOUT)
    finally:
        if r >= 0:
            os.close(r)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    err = "".join(err_lines)
    assert rc == 0 and "Traceback" not in err
    summary = json.loads([ln for ln in err_lines if '"summary"' in ln][-1])
    assert summary["reason"] == "output closed"


def test_recording_to_a_full_disk_is_a_clear_error(run_tail):
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full on this system")
    port = free_udp_port()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--count", "1",
                    "--record", "/dev/full")
    tail.wait_listening()
    send(port, [RawFrame(5, 1, 64, 2412, 0, -50, -90, 0, bytes(128)).encode()])
    rc, _, _ = tail.finish()
    err = "".join(tail.err_lines)
    assert rc == 1
    assert "writing the recording /dev/full failed" in err and "Traceback" not in err


def test_compressed_frames_are_decoded_and_not_counted_as_loss(run_tail):
    from ruview_cli.protocol import CompressedFrame, rle_xor_encode

    key = bytes((i * 11) & 0xFF for i in range(128))
    pkts = [RawFrame(6, 1, 64, 2437, 50, -40, -92, 1, key).encode()]
    for k in range(1, 4):  # seq 51..53 travel as compressed deltas against the keyframe
        cur = bytearray(key)
        cur[k] ^= 0x3C
        pkts.append(CompressedFrame(6, 6, 128, rle_xor_encode(bytes(cur), key)).encode())
    pkts.append(RawFrame(6, 1, 64, 2437, 54, -40, -92, 1, key).encode())
    pkts.append(RawFrame(6, 1, 64, 2437, 55, -40, -92, 1, key).encode())  # confirms 54's window
    port = free_udp_port()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--count", str(len(pkts)))
    tail.wait_listening()
    send(port, pkts)
    rc, lines, summary = tail.finish()
    assert rc == 0
    assert [ln["kind"] for ln in lines] == ["csi_raw"] + ["csi_compressed"] * 3 + ["csi_raw"] * 2
    node = summary["nodes"][0]
    assert node["compressed_decoded"] == 3 and node["compressed_undecodable"] == 0
    assert node["raw_frames_lost"] == 0


@pytest.mark.skipif(shutil.which("text2pcap") is None, reason="text2pcap is not installed (apt-get install tshark)")
def test_replay_of_an_ordinary_capture_keeps_only_the_chosen_port(run_tail, tmp_path):
    """A capture from Wireshark's own tools (Ethernet, pcapng) with other UDP traffic in it."""
    vitals = sample_packets()[2].encode()
    dump = tmp_path / "cap.txt"
    lines = []
    for i, payload in enumerate([vitals, b"\x12\x34\x01\x00\x00\x01" + bytes(20), vitals]):
        lines.append(f"{i}.000000")  # a time stamp per packet (text2pcap -t)
        lines += [f"{off:06x} " + " ".join(f"{b:02x}" for b in payload[off:off + 16])
                  for off in range(0, len(payload), 16)]
        lines.append("")
    dump.write_text("\n".join(lines) + "\n")
    # text2pcap puts one header on all packets, so build two files and merge them
    cap_a, cap_b, cap = tmp_path / "a.pcapng", tmp_path / "b.pcapng", tmp_path / "all.pcapng"
    for out, dport in ((cap_a, 5005), (cap_b, 53)):
        subprocess.run(["text2pcap", "-q", "-t", "%s.", "-e", "0x800", "-4", "10.0.0.7,10.0.0.1",
                        "-u", f"4000,{dport}", str(dump), str(out)], check=True, timeout=TIMEOUT)
    subprocess.run(["mergecap", "-w", str(cap), str(cap_a), str(cap_b)], check=True, timeout=TIMEOUT)
    tail = run_tail("--replay", str(cap), "--listen", "5005", "--speed", "0", "--json")
    rc, lines_out, summary = tail.finish()
    assert rc == 0, "".join(tail.err_lines)
    assert [ln["kind"] for ln in lines_out] == ["vitals", "unknown", "vitals"]
    assert {ln["source"] for ln in lines_out} == {"10.0.0.7:4000"}
    assert summary["replay"]["udp"] == 6  # three to port 5005, three to port 53 (skipped)


def test_piped_table_keeps_every_column_at_80_columns(run_tail):
    """stdout is a pipe: one full-width table at the end, nothing cut, and a hint on stderr."""
    port = free_udp_port()
    tail = run_tail("--bind", "127.0.0.1", "--listen", str(port), "--count", "2",
                    env={"COLUMNS": "80"})
    tail.wait_listening()
    send(port, [RawFrame(12, 1, 64, 2437, 1, -44, -90, 0, bytes(128)).encode(),
                Vitals(12, 0x01, 15.0, 72.0, -45, 2, 0.5, 0.75, 1).encode()])
    rc, _, _ = tail.finish()
    assert rc == 0, "".join(tail.err_lines)
    lines = "".join(tail.out_lines).splitlines()
    header = next(line for line in lines if line.startswith("node"))
    assert re.split(r"\s{2,}", header.strip())[-4:] == ["RSSI", "frames", "loss", "last seen"]
    row = re.split(r"\s{2,}", next(line for line in lines if line.startswith("  12") or line.startswith("12")).strip())
    assert row[:4] == ["12", "127.0.0.1", "15.0", "72.0"]
    assert row[8] == "-45 dBm" and row[9].endswith("/s") and row[10] == "0.0%" and row[11]
    assert len(header) > 80  # wider than the terminal: a pipe gets it whole
    assert "--json" in "".join(tail.err_lines)  # the hint names the line-per-packet form


def test_no_estimate_is_null_and_kind_filters(run_tail):
    port = free_udp_port()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--kind", "vitals",
                    "--kind", "features", "--count", "2")
    tail.wait_listening()
    send(port, [RawFrame(5, 1, 64, 2437, 1, -44, -90, 0, bytes(128)).encode(),
                Vitals(5, 0x01, 0.0, 0.0, -45, 1, 0.5, 0.75, 1).encode(),
                FeatureVector(5, 1, 1000, 1.0, 0.5, 0.5, 0.6, 0.25, 0.25, 0.0, 0.58).encode()])
    vit, feat = tail.json_lines(2)
    rc, rest, summary = tail.finish()
    assert rc == 0 and rest == []
    assert (vit["kind"], vit["breathing_bpm"], vit["heart_bpm"]) == ("vitals", None, None)
    assert feat["kind"] == "features" and feat["breathing_bpm"] == 15.0 and feat["heart_bpm"] == 72.0
    assert summary["datagrams"] == 3 and summary["emitted"] == 2  # the raw frame: counted, not shown


def test_node_by_inventory_name(run_tail, tmp_path):
    inv = tmp_path / "ruview.toml"
    inv.write_text('[nodes."34:85:18:00:00:07"]\nname = "kitchen"\nnode_id = 7\n')
    port = free_udp_port()
    tail = run_tail("--json", "--bind", "127.0.0.1", "--listen", str(port), "--node", "kitchen",
                    "--count", "1", env={"RUVIEW_INVENTORY": str(inv)})
    tail.wait_listening()
    send(port, [Vitals(6, 1, 15.0, 72.0, -45, 1, 0.5, 0.75, 1).encode(),
                Vitals(7, 1, 16.0, 70.0, -45, 1, 0.5, 0.75, 1).encode()])
    (line,) = tail.json_lines(1)
    assert (line["node_id"], line["breathing_bpm"]) == (7, 16.0)
    assert tail.finish()[0] == 0
    r = subprocess.run([RUVIEW, "tail", "--node", "garage"], capture_output=True, text=True,
                       env={**os.environ, "RUVIEW_INVENTORY": str(inv)})
    assert r.returncode == 2 and "garage" in r.stderr and "ruview nodes list" in r.stderr


@pytest.mark.parametrize("as_json", [True, False])
def test_nothing_arrived_says_so_and_what_to_check(as_json):
    port = free_udp_port()
    args = [RUVIEW, "tail", "--bind", "127.0.0.1", "--listen", str(port), "--duration", "0.5"]
    r = subprocess.run(args + (["--json"] if as_json else []), capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0
    assert "nothing arrived" in r.stderr and f"--target-port {port}" in r.stderr
    assert "ruview doctor" in r.stderr


def test_old_port_flag_still_works_with_a_note():
    port = free_udp_port()
    r = subprocess.run([RUVIEW, "tail", "--json", "--bind", "127.0.0.1", "--port", str(port),
                        "--duration", "0.3"], capture_output=True, text=True, timeout=TIMEOUT)
    assert r.returncode == 0
    assert "--port is deprecated" in r.stderr and "--listen" in r.stderr
    assert json.loads(r.stderr.splitlines()[1])["port"] == port
