"""Capture files: write what `ruview tail --record` received, read it (or tcpdump's) back.

We write classic pcap (microsecond timestamps, LINKTYPE_RAW) with a real IPv4 + UDP header in
front of each datagram, so Wireshark and tshark open our recordings as ordinary UDP traffic and
the source address survives a replay. The reader accepts our files and ordinary captures of
UDP/IPv4 from tcpdump/tshark: classic pcap (either byte order, µs or ns timestamps) and pcapng,
with Ethernet (incl. 802.1Q VLAN tags), Linux cooked SLL/SLL2, raw IP and BSD loopback links.
Anything that is not an unfragmented UDP/IPv4 datagram is skipped and counted.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator

from ruview_cli.errors import RuviewError

# Link-layer header types (tcpdump.org/linktypes.html).
LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_LINUX_SLL2 = 276

_PCAP_MAGIC_US = 0xA1B2C3D4
_PCAP_MAGIC_NS = 0xA1B23C4D
_PCAPNG_SHB = 0x0A0D0D0A
_SNAPLEN = 65535

_GLOBAL_HDR = struct.Struct("<IHHiIII")
_REC_HDR = struct.Struct("<IIII")
_IPV4_HDR = struct.Struct("!BBHHHBBH4s4s")
_UDP_HDR = struct.Struct("!HHHH")
_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_VLAN = (0x8100, 0x88A8)
_IPPROTO_UDP = 17


def ipv4_checksum(header: bytes) -> int:
    """RFC 791 header checksum: one's-complement sum of the 16-bit words (checksum field 0)."""
    total = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def ipv4_udp_packet(payload: bytes, src: tuple[str, int], dst: tuple[str, int], ident: int = 0) -> bytes:
    """An IPv4 + UDP packet carrying `payload` (UDP checksum 0 = "not computed", legal in IPv4)."""
    udp_len = 8 + len(payload)
    total = 20 + udp_len
    if total > 0xFFFF:
        raise ValueError(f"datagram of {len(payload)} bytes does not fit one IPv4 packet")
    src_ip = socket.inet_aton(src[0])
    dst_ip = socket.inet_aton(dst[0])
    hdr = _IPV4_HDR.pack(0x45, 0, total, ident & 0xFFFF, 0x4000, 64, _IPPROTO_UDP, 0, src_ip, dst_ip)
    hdr = hdr[:10] + struct.pack("!H", ipv4_checksum(hdr)) + hdr[12:]
    return hdr + _UDP_HDR.pack(src[1], dst[1], udp_len, 0) + payload


class PcapWriter:
    """Appends each received datagram as one IPv4/UDP record; flushes so a crash loses little."""

    def __init__(self, path: str | os.PathLike, local: tuple[str, int]):
        self.path = os.fspath(path)
        self.local = (local[0] if local[0] not in ("", "0.0.0.0") else "0.0.0.0", local[1])
        try:
            self._fh: BinaryIO = open(self.path, "wb")
        except OSError as exc:
            raise RuviewError(
                f"cannot write the recording {self.path}: {exc.strerror}",
                "choose a writable path for --record",
            ) from None
        self._fh.write(_GLOBAL_HDR.pack(_PCAP_MAGIC_US, 2, 4, 0, 0, _SNAPLEN, LINKTYPE_RAW))
        self._ident = 0
        self.records = 0

    def write(self, data: bytes, source: tuple[str, int], t: float) -> None:
        self._ident += 1
        try:
            pkt = ipv4_udp_packet(data, source, self.local, self._ident)
        except (ValueError, OSError):
            return  # not an IPv4 source (cannot happen on our AF_INET socket) or oversized
        sec = int(t)
        usec = int(round((t - sec) * 1_000_000))
        if usec >= 1_000_000:
            sec, usec = sec + 1, usec - 1_000_000
        try:
            self._fh.write(_REC_HDR.pack(sec, usec, len(pkt), len(pkt)) + pkt)
        except OSError as exc:
            raise self._failed(exc) from None
        self.records += 1

    def flush(self) -> None:
        try:
            self._fh.flush()
        except OSError as exc:
            raise self._failed(exc) from None

    def _failed(self, exc: OSError) -> RuviewError:
        return RuviewError(
            f"writing the recording {self.path} failed: {exc.strerror or exc}",
            "free disk space or record to another file system (--record)",
        )

    def close(self) -> None:
        if not self._fh.closed:
            try:
                self._fh.close()
            except OSError:
                pass  # already reported by write/flush

    def __enter__(self) -> "PcapWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(slots=True)
class Datagram:
    """One UDP datagram read from a capture: its payload, sender, receiver and capture time."""

    data: bytes
    source: tuple[str, int]
    dest: tuple[str, int]
    t: float


@dataclass
class ReadStats:
    """What the reader saw besides UDP/IPv4 datagrams (so `--replay` can say why it was empty)."""

    records: int = 0
    udp: int = 0
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, why: str) -> None:
        self.skipped[why] = self.skipped.get(why, 0) + 1


def read_capture(path: str | os.PathLike, stats: ReadStats | None = None) -> Iterator[Datagram]:
    """Yield every UDP/IPv4 datagram of a pcap or pcapng file, in file order (a RuView
    .csi.jsonl recording: the datagrams it stands for, ruview_cli.telemetry.recording_jsonl).

    Raises RuviewError when the file is missing or not a capture; a truncated last record
    (capture cut short) ends the iteration quietly, as tcpdump itself does.
    """
    stats = stats if stats is not None else ReadStats()
    path = os.fspath(path)
    try:
        fh = open(path, "rb")
    except OSError as exc:
        raise RuviewError(f"cannot read the recording {path}: {exc.strerror}", "check the --replay path") from None
    with fh:
        head = fh.read(4)
        if head.lstrip()[:1] == b"{":  # RuView's own recorder (.csi.jsonl)
            from ruview_cli.telemetry.recording_jsonl import read_jsonl

            fh.seek(0)
            yield from read_jsonl(fh, stats)
            return
        if len(head) < 4:
            raise _not_a_capture(path)
        magic_le = struct.unpack("<I", head)[0]
        magic_be = struct.unpack(">I", head)[0]
        if magic_le == _PCAPNG_SHB:
            yield from _read_pcapng(fh, path, stats)
        elif _PCAP_MAGIC_US in (magic_le, magic_be) or _PCAP_MAGIC_NS in (magic_le, magic_be):
            yield from _read_pcap(fh, head, path, stats)
        else:
            raise _not_a_capture(path)


def _not_a_capture(path: str) -> RuviewError:
    return RuviewError(
        f"{path} is not a pcap or pcapng capture, nor a RuView .csi.jsonl recording",
        "pass a file written by `ruview tail --record`, tcpdump -w, tshark -w or RuView's recorder",
    )


def _read_pcap(fh: BinaryIO, head: bytes, path: str, stats: ReadStats) -> Iterator[Datagram]:
    rest = fh.read(20)
    if len(rest) < 20:
        raise _not_a_capture(path)
    endian = "<" if struct.unpack("<I", head)[0] in (_PCAP_MAGIC_US, _PCAP_MAGIC_NS) else ">"
    magic = struct.unpack(endian + "I", head)[0]
    scale = 1e-9 if magic == _PCAP_MAGIC_NS else 1e-6
    linktype = struct.unpack(endian + "I", rest[16:20])[0] & 0x0FFFFFFF
    rec = struct.Struct(endian + "IIII")
    while True:
        hdr = fh.read(16)
        if len(hdr) < 16:
            return
        sec, frac, incl, _orig = rec.unpack(hdr)
        if incl > 0x40000:
            raise RuviewError(f"{path} is corrupt: a record claims {incl} bytes", "re-record the capture")
        frame = fh.read(incl)
        if len(frame) < incl:
            return
        stats.records += 1
        dg = _udp_from_link(frame, linktype, sec + frac * scale, endian, stats)
        if dg is not None:
            stats.udp += 1
            yield dg


def _read_pcapng(fh: BinaryIO, path: str, stats: ReadStats) -> Iterator[Datagram]:
    endian = "<"
    interfaces: list[tuple[int, float]] = []  # (linktype, seconds per timestamp unit)
    first = True
    while True:
        if first:
            block_type = _PCAPNG_SHB
            raw_len = fh.read(4)
            first = False
        else:
            hdr = fh.read(8)
            if len(hdr) < 8:
                return
            block_type = struct.unpack(endian + "I", hdr[:4])[0]
            raw_len = hdr[4:]
        if len(raw_len) < 4:
            return
        if block_type == _PCAPNG_SHB:
            bom = fh.read(4)
            if len(bom) < 4:
                return
            endian = "<" if bom == b"\x4d\x3c\x2b\x1a" else ">" if bom == b"\x1a\x2b\x3c\x4d" else ""
            if not endian:
                raise _not_a_capture(path)
            total = struct.unpack(endian + "I", raw_len)[0]
            body = fh.read(total - 16) if total >= 16 else b""
            fh.read(4)
            interfaces = []  # a new section restarts interface numbering
            continue
        total = struct.unpack(endian + "I", raw_len)[0]
        if total < 12 or total > 0x100000:
            raise RuviewError(f"{path} is corrupt: a block claims {total} bytes", "re-record the capture")
        body = fh.read(total - 12)
        trailer = fh.read(4)
        if len(body) < total - 12 or len(trailer) < 4:
            return
        if block_type == 1:  # Interface Description Block
            linktype = struct.unpack(endian + "H", body[:2])[0]
            interfaces.append((linktype, _if_tsresol(body[8:], endian)))
        elif block_type == 6:  # Enhanced Packet Block
            if len(body) < 20:
                continue
            if_id, ts_hi, ts_lo, cap_len, _orig = struct.unpack(endian + "IIIII", body[:20])
            stats.records += 1
            if if_id >= len(interfaces):
                stats.skip("unknown interface")
                continue
            linktype, unit = interfaces[if_id]
            t = ((ts_hi << 32) | ts_lo) * unit
            dg = _udp_from_link(body[20 : 20 + cap_len], linktype, t, endian, stats)
            if dg is not None:
                stats.udp += 1
                yield dg
        elif block_type == 3:  # Simple Packet Block: no timestamp
            stats.records += 1
            if interfaces:
                orig = struct.unpack(endian + "I", body[:4])[0]
                dg = _udp_from_link(body[4 : 4 + orig], interfaces[0][0], 0.0, endian, stats)
                if dg is not None:
                    stats.udp += 1
                    yield dg


def _if_tsresol(options: bytes, endian: str) -> float:
    """Seconds per timestamp unit from the if_tsresol option (default microseconds)."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(endian + "HH", options[pos : pos + 4])
        if code == 0:
            break
        if code == 9 and length >= 1:
            v = options[pos + 4]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -v
        pos += 4 + ((length + 3) & ~3)
    return 1e-6


def _udp_from_link(frame: bytes, linktype: int, t: float, endian: str, stats: ReadStats) -> Datagram | None:
    if linktype in (LINKTYPE_RAW, LINKTYPE_IPV4):
        ip = frame
    elif linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            stats.skip("truncated link header")
            return None
        etype = struct.unpack("!H", frame[12:14])[0]
        off = 14
        while etype in _ETHERTYPE_VLAN and len(frame) >= off + 4:
            etype = struct.unpack("!H", frame[off + 2 : off + 4])[0]
            off += 4
        if etype != _ETHERTYPE_IPV4:
            stats.skip("not IPv4")
            return None
        ip = frame[off:]
    elif linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            stats.skip("truncated link header")
            return None
        if struct.unpack("!H", frame[14:16])[0] != _ETHERTYPE_IPV4:
            stats.skip("not IPv4")
            return None
        ip = frame[16:]
    elif linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            stats.skip("truncated link header")
            return None
        if struct.unpack("!H", frame[0:2])[0] != _ETHERTYPE_IPV4:
            stats.skip("not IPv4")
            return None
        ip = frame[20:]
    elif linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            stats.skip("truncated link header")
            return None
        # NULL stores AF_ in the writer's byte order, LOOP in network order; AF_INET is 2 everywhere.
        family = struct.unpack("!I" if linktype == LINKTYPE_LOOP else endian + "I", frame[:4])[0]
        if family != 2:
            stats.skip("not IPv4")
            return None
        ip = frame[4:]
    else:
        stats.skip(f"link type {linktype} not supported")
        return None
    return _udp_from_ipv4(ip, t, stats)


def _udp_from_ipv4(ip: bytes, t: float, stats: ReadStats) -> Datagram | None:
    if len(ip) < 20 or ip[0] >> 4 != 4:
        stats.skip("not IPv4")
        return None
    ihl = (ip[0] & 0x0F) * 4
    total = struct.unpack("!H", ip[2:4])[0]
    frag = struct.unpack("!H", ip[6:8])[0]
    if ip[9] != _IPPROTO_UDP:
        stats.skip("not UDP")
        return None
    if frag & 0x3FFF:  # more-fragments flag or a non-zero offset
        stats.skip("IP fragment")
        return None
    if ihl < 20 or total < ihl + 8 or len(ip) < ihl + 8:
        stats.skip("truncated packet")
        return None
    sport, dport, ulen, _ck = _UDP_HDR.unpack(ip[ihl : ihl + 8])
    end = ihl + ulen
    if ulen < 8 or end > len(ip) or end > total:
        stats.skip("truncated packet")
        return None
    src = socket.inet_ntoa(ip[12:16])
    dst = socket.inet_ntoa(ip[16:20])
    return Datagram(bytes(ip[ihl + 8 : end]), (src, sport), (dst, dport), t)
