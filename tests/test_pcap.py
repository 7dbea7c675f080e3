"""Capture files: what `ruview tail --record` writes must open in tshark, and `--replay` must read
both our files and ordinary captures made by Wireshark's own tools (text2pcap, dumpcap)."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import threading

import pytest

from ruview_cli.errors import RuviewError
from ruview_cli.telemetry.pcap import (LINKTYPE_LINUX_SLL2, PcapWriter, ReadStats, ipv4_checksum,
                                       ipv4_udp_packet, read_capture)

TSHARK = shutil.which("tshark")
TEXT2PCAP = shutil.which("text2pcap")
DUMPCAP = shutil.which("dumpcap")
needs_tshark = pytest.mark.needs_system("tshark", "tshark")
needs_text2pcap = pytest.mark.needs_system("text2pcap", "tshark")

DATAGRAMS = [
    (b"\x01\x00\x11\xc5" + bytes(range(144)), ("192.168.4.21", 40001), 1764158400.000001),
    (b"\x02\x00\x11\xc5" + b"\xff" * 28, ("192.168.4.22", 40002), 1764158400.5),
    (b"x", ("10.0.0.9", 1), 1764158401.999999),
]


def _write(path, local=("0.0.0.0", 5005)):
    with PcapWriter(path, local) as w:
        for data, src, t in DATAGRAMS:
            w.write(data, src, t)
    return path


def test_ipv4_checksum_matches_the_rfc_example():
    # The textbook header 4500 0073 0000 4000 4011 xxxx c0a8 0001 c0a8 00c7 has checksum b861.
    hdr = bytes.fromhex("450000730000400040110000c0a80001c0a800c7")
    assert ipv4_checksum(hdr) == 0xB861


def test_written_ip_headers_verify_and_carry_the_lengths():
    pkt = ipv4_udp_packet(b"abcde", ("10.1.2.3", 1234), ("10.9.9.9", 5005))
    # A correct header sums (one's complement, checksum included) to 0xFFFF.
    words = struct.unpack("!10H", pkt[:20])
    total = sum(words)
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    assert total == 0xFFFF
    assert struct.unpack("!H", pkt[2:4])[0] == 20 + 8 + 5
    assert struct.unpack("!HHH", pkt[20:26]) == (1234, 5005, 13)
    assert pkt[28:] == b"abcde"


@needs_tshark
def test_recording_opens_in_tshark_as_udp_with_good_checksums(tmp_path):
    path = _write(tmp_path / "rec.pcap", ("127.0.0.1", 5005))
    fields = ["frame.time_epoch", "ip.src", "ip.dst", "udp.srcport", "udp.dstport", "udp.length",
              "ip.checksum.status", "data.data"]
    cmd = [TSHARK, "-r", str(path), "-o", "ip.check_checksum:TRUE", "-d", "udp.port==5005,data",
           "-T", "fields", "-E", "separator=|"]
    for f in fields:
        cmd += ["-e", f]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    rows = [line.split("|") for line in res.stdout.splitlines() if line.strip()]
    assert len(rows) == len(DATAGRAMS)
    for row, (data, src, t) in zip(rows, DATAGRAMS):
        epoch, ip_src, ip_dst, sport, dport, ulen, ck, payload = row
        assert abs(float(epoch) - t) < 2e-6
        assert (ip_src, int(sport)) == src
        assert (ip_dst, int(dport)) == ("127.0.0.1", 5005)
        assert int(ulen) == 8 + len(data)
        assert ck in ("1", "Good")  # Wireshark's "checksum good" status
        assert bytes.fromhex(payload.replace(":", "")) == data


def test_our_reader_returns_what_was_written(tmp_path):
    path = _write(tmp_path / "rec.pcap", ("127.0.0.1", 6000))
    stats = ReadStats()
    got = list(read_capture(path, stats))
    assert [(d.data, d.source, d.dest) for d in got] == [(d, s, ("127.0.0.1", 6000)) for d, s, _ in DATAGRAMS]
    assert all(abs(d.t - t) < 1e-6 for d, (_, _, t) in zip(got, DATAGRAMS))
    assert stats.records == stats.udp == 3 and not stats.skipped


def test_truncated_recording_reads_up_to_the_cut(tmp_path):
    path = _write(tmp_path / "rec.pcap")
    data = path.read_bytes()
    path.write_bytes(data[:-3])  # the capture was killed mid-record
    got = list(read_capture(path))
    assert [d.data for d in got] == [DATAGRAMS[0][0], DATAGRAMS[1][0]]


def test_not_a_capture_is_a_clear_error(tmp_path):
    bogus = tmp_path / "notes.txt"
    bogus.write_text("hello, this is not a capture file\n")
    with pytest.raises(RuviewError) as exc:
        list(read_capture(bogus))
    assert "not a pcap or pcapng capture" in exc.value.message
    with pytest.raises(RuviewError) as exc:
        list(read_capture(tmp_path / "missing.pcap"))
    assert "cannot read the recording" in exc.value.message


def _text2pcap(tmp_path, name, payloads, *args):
    """Run Wireshark's text2pcap on a hex dump of `payloads` (one packet each)."""
    dump = tmp_path / f"{name}.txt"
    lines = []
    for p in payloads:
        for off in range(0, len(p), 16):
            lines.append(f"{off:06x} " + " ".join(f"{b:02x}" for b in p[off:off + 16]))
        lines.append("")
    dump.write_text("\n".join(lines) + "\n")
    out = tmp_path / name
    res = subprocess.run([TEXT2PCAP, "-q", *args, str(dump), str(out)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    return out


@needs_text2pcap
@pytest.mark.parametrize("fmt", ["pcap", "pcapng"])
def test_reads_ethernet_captures_made_by_text2pcap(tmp_path, fmt):
    payloads = [b"\x02\x00\x11\xc5" + bytes(28), b"\x01\x00\x11\xc5" + bytes(144)]
    path = _text2pcap(tmp_path, f"eth.{fmt}", payloads, "-F", fmt, "-e", "0x800",
                      "-4", "10.0.0.7,10.0.0.1", "-u", "4000,5005")
    got = list(read_capture(path))
    assert [d.data for d in got] == payloads
    assert {d.source for d in got} == {("10.0.0.7", 4000)}
    assert {d.dest for d in got} == {("10.0.0.1", 5005)}


@needs_text2pcap
def test_reads_linux_cooked_v2_and_skips_what_is_not_udp_ipv4(tmp_path):
    udp = ipv4_udp_packet(b"\x02\x00\x11\xc5" + bytes(28), ("10.0.0.8", 4001), ("10.0.0.1", 5005))
    tcp = bytearray(ipv4_udp_packet(b"zz", ("10.0.0.8", 4001), ("10.0.0.1", 80)))
    tcp[9] = 6  # protocol TCP: not ours
    sll2 = lambda proto, body: struct.pack("!HHIHBB8s", proto, 0, 1, 772, 0, 6, b"\0" * 8) + bytes(body)  # noqa: E731
    arp = sll2(0x0806, bytes(28))
    path = _text2pcap(tmp_path, "sll2.pcap", [sll2(0x0800, udp), sll2(0x0800, tcp), arp],
                      "-F", "pcap", "-l", str(LINKTYPE_LINUX_SLL2))
    stats = ReadStats()
    got = list(read_capture(path, stats))
    assert [(d.data, d.source) for d in got] == [(udp[28:], ("10.0.0.8", 4001))]
    assert stats.records == 3 and stats.skipped == {"not UDP": 1, "not IPv4": 1}


@pytest.mark.needs_system("dumpcap", "tshark")
def test_reads_a_real_loopback_capture_from_dumpcap(tmp_path):
    """A real capture on lo (Ethernet link type, pcapng) of datagrams we send ourselves."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as rx:
        rx.bind(("127.0.0.1", 0))
        port = rx.getsockname()[1]
        out = tmp_path / "lo.pcapng"
        proc = subprocess.Popen([DUMPCAP, "-q", "-i", "lo", "-f", f"udp dst port {port}", "-c", "3",
                                 "-w", str(out)], stderr=subprocess.PIPE, text=True)
        ready = threading.Event()
        err_lines: list[str] = []

        def watch():
            for line in proc.stderr:
                err_lines.append(line)
                if "Capturing on" in line:
                    ready.set()
            ready.set()

        threading.Thread(target=watch, daemon=True).start()
        if not ready.wait(30) or proc.poll() is not None:
            proc.kill()
            pytest.skip(f"dumpcap cannot capture on lo here: {''.join(err_lines).strip()}")
        # "Capturing on" can come a moment before the filter is live, so keep sending numbered
        # datagrams until dumpcap has its 3 (-c 3) and exits; bounded in count.
        sent: list[bytes] = []
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            for i in range(1500):
                if proc.poll() is not None:
                    break
                p = b"\x02\x00\x11\xc5" + i.to_bytes(4, "little") * 7
                tx.sendto(p, ("127.0.0.1", port))
                sent.append(p)
                try:
                    proc.wait(timeout=0.02)
                except subprocess.TimeoutExpired:
                    pass
            else:
                proc.kill()
                pytest.fail("dumpcap did not see 3 of 1500 datagrams: " + "".join(err_lines))
            src_port = tx.getsockname()[1]
    got = list(read_capture(out))
    assert len(got) == 3
    first = sent.index(got[0].data)
    assert [d.data for d in got] == sent[first:first + 3]
    assert {d.source for d in got} == {("127.0.0.1", src_port)}
