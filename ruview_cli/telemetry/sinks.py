"""Where decoded packets go: JSON lines (`ruview tail --json`).

One line per packet: `{"t": <arrival, unix s, 6 decimals>, "source": "ip:port", "kind": ..., "node_id": ...,
<the packet's to_json() fields>}`. Malformed and unknown datagrams are lines too (kind
"malformed"/"unknown", with a `reason`). Lines are buffered while the socket has more data and
written + flushed when it runs dry (or the buffer is large), so a pipe sees every line promptly
without one write() per packet under load.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, BinaryIO, Callable, Optional

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=True).encode
_BATCH = 512  # lines held at most before a write


class OutputClosed(Exception):
    """The reader of our stdout went away (e.g. `ruview tail --json | head`)."""


def unknown_reason(pkt: Any) -> str:
    if pkt.magic is None:
        return f"datagram of {pkt.size} bytes is shorter than a 4-byte magic"
    return f"unknown magic 0x{pkt.magic:08X}"


# Hot-path formats for the two kinds that make up ~95% of traffic (CSI frames at up to 50 Hz per
# node). They must produce exactly the text of the generic path (RawFrame/CompressedFrame.to_json
# through the JSON encoder); tests/test_telemetry_sinks.py checks that on generated packets.
_RAW_BODY = ('"kind":"csi_raw","node_id":%d,"seq":%d,"n_antennas":%d,"n_subcarriers":%d,'
             '"freq_mhz":%d,"channel":%s,"rssi_dbm":%d,"noise_floor_dbm":%d,"flags":%d,'
             '"keyframe":%s,"iq_len":%d}')
_COMPRESSED_BODY = '"kind":"csi_compressed","node_id":%d,"channel":%d,"orig_len":%d,"comp_len":%d}'
_BOOL = ("false", "true")


class JsonLinesSink:
    """Formats packets as JSON lines and writes them in batches to a binary stream."""

    def __init__(self, stream: Optional[BinaryIO] = None):
        self._out = stream if stream is not None else sys.stdout.buffer
        self._lines: list[str] = []
        self._prefix: dict[tuple, str] = {}  # addr -> '{"t":%.6f,"source":"ip:port",'
        self._raw_fmt: dict[tuple, str] = {}
        self._comp_fmt: dict[tuple, str] = {}
        self._channel: dict[int, str] = {}  # freq_mhz -> JSON text of its channel
        self.lines = 0

    def _prefix_of(self, addr: tuple) -> str:
        prefix = self._prefix.get(addr)
        if prefix is None:
            source = json.dumps(f"{addr[0]}:{addr[1]}").replace("%", "%%")
            prefix = self._prefix[addr] = '{"t":%.6f,"source":' + source + ","
        return prefix

    def line(self, pkt: Any, addr: tuple, t: float) -> str:
        """The JSON text of one packet (no newline). Keys: t, source, kind, node_id, fields."""
        kind = pkt.kind
        if kind == "csi_raw":
            fmt = self._raw_fmt.get(addr)
            if fmt is None:
                fmt = self._raw_fmt[addr] = self._prefix_of(addr) + _RAW_BODY
            freq = pkt.freq_mhz
            channel = self._channel.get(freq)
            if channel is None:
                channel = self._channel[freq] = _channel_json(freq)
            flags = pkt.flags
            return fmt % (t, pkt.node_id, pkt.seq, pkt.n_antennas, pkt.n_subcarriers, freq, channel,
                          pkt.rssi_dbm, pkt.noise_floor_dbm, flags, _BOOL[flags & 1], len(pkt.iq))
        if kind == "csi_compressed":
            fmt = self._comp_fmt.get(addr)
            if fmt is None:
                fmt = self._comp_fmt[addr] = self._prefix_of(addr) + _COMPRESSED_BODY
            return fmt % (t, pkt.node_id, pkt.channel, pkt.orig_len, len(pkt.payload))
        return self.generic_line(pkt, addr, t)

    def generic_line(self, pkt: Any, addr: tuple, t: float) -> str:
        """Any packet through its to_json() and the JSON encoder (the reference formatting)."""
        body = pkt.to_json()
        if pkt.kind == "unknown":
            body["reason"] = unknown_reason(pkt)
        try:
            text = _dumps(body)
        except ValueError:  # a NaN the packet class let through: keep the line valid JSON
            text = json.dumps(_clean(body), separators=(",", ":"))
        return (self._prefix_of(addr) % t) + text[1:]

    def write(self, pkt: Any, addr: tuple, t: float) -> None:
        lines = self._lines
        lines.append(self.line(pkt, addr, t))
        if len(lines) >= _BATCH:
            self.flush()

    def make_writer(self) -> Callable[[Any, tuple, float], None]:
        """write() as a closure over locals, with the raw-frame format inlined (the hot path)."""
        lines = self._lines
        append = lines.append
        line = self.line
        flush = self.flush
        raw_fmt = self._raw_fmt
        channels = self._channel
        boolean = _BOOL
        batch = _BATCH

        def write(pkt: Any, addr: tuple, t: float) -> None:
            if pkt.kind == "csi_raw":
                fmt = raw_fmt.get(addr)
                freq = pkt.freq_mhz
                channel = channels.get(freq)
                if fmt is not None and channel is not None:
                    flags = pkt.flags
                    append(fmt % (t, pkt.node_id, pkt.seq, pkt.n_antennas, pkt.n_subcarriers, freq,
                                  channel, pkt.rssi_dbm, pkt.noise_floor_dbm, flags,
                                  boolean[flags & 1], len(pkt.iq)))
                    if len(lines) >= batch:
                        flush()
                    return
            append(line(pkt, addr, t))
            if len(lines) >= batch:
                flush()

        return write

    def flush(self) -> None:
        if not self._lines:
            return
        self.lines += len(self._lines)
        data = ("\n".join(self._lines) + "\n").encode("ascii")
        self._lines.clear()
        try:
            self._out.write(data)
            self._out.flush()
        except BrokenPipeError:
            if self._out is getattr(sys.stdout, "buffer", None):
                _silence_stdout()
            raise OutputClosed() from None


def _channel_json(freq_mhz: int) -> str:
    from ruview_cli.protocol import channel_from_freq

    ch = channel_from_freq(freq_mhz)
    return "null" if ch is None else str(int(ch))


def _clean(obj: Any) -> Any:
    if isinstance(obj, float):
        return obj if obj - obj == 0 else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


def _silence_stdout() -> None:
    """After EPIPE, point stdout at /dev/null so the interpreter's exit flush stays quiet."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):
        pass
