"""`ruview logs`: the node's serial console, parsed, coloured only on a terminal, decoded."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from conftest import stop_process
from ruview_cli.device.serial_log import BacktraceDecoder, LogLine, parse_line
from ruview_cli.errors import RuviewError


def test_idf_log_lines_are_parsed_and_other_lines_kept():
    line = parse_line(b"\x1b[0;33mW (5120) wifi_sta: disconnected (reason 201), retry in 2 s\x1b[0m\r", 1.5)
    assert (line.level, line.tag, line.time, line.text) == (
        "warning", "wifi_sta", "5120", "disconnected (reason 201), retry in 2 s")
    assert parse_line(b"E (12:01:02.345) ota: rollback").time == "12:01:02.345"
    rom = parse_line(b"rst:0xc (RTC_SW_CPU_RST),boot:0x8 (SPI_FAST_FLASH_BOOT)")
    assert rom.level is None and rom.text.startswith("rst:0xc")
    assert parse_line(b"\xff\xfe garbage").text  # never raises on bytes that are not UTF-8


def test_a_backtrace_is_decoded_to_function_and_line_with_the_elf(tmp_path):
    """Espressif's decoder and a real Xtensa addr2line on a real Xtensa ELF. No ESP32-S3 (LX7)
    toolchain can be installed here; Debian's ESP8266 (Xtensa LX106) one builds and reads an
    Xtensa ELF the same way, so it stands in with its own prefix."""
    prefix = "xtensa-lx106-elf-"
    if shutil.which(prefix + "gcc") is None:
        msg = "no Xtensa toolchain: apt-get install gcc-xtensa-lx106"
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    src = tmp_path / "fw.c"
    src.write_text("int sensor_task(int x) { return x * 3; }\nint main(void) { return sensor_task(2); }\n")
    elf = tmp_path / "fw.elf"
    subprocess.run([prefix + "gcc", "-g", "-O0", "-nostdlib", "-Wl,-e,main", "-o", str(elf), str(src)], check=True)
    nm = subprocess.run([prefix + "nm", str(elf)], capture_output=True, text=True, check=True).stdout
    addr = int(next(line.split()[0] for line in nm.splitlines() if line.endswith(" sensor_task")), 16)
    decoder = BacktraceDecoder(str(elf), toolchain_prefix=prefix)
    # A panic's backtrace: PC:SP pairs; only the PC inside the ELF's code is decoded.
    found = decoder.decode(LogLine(text=f"Backtrace: 0x{addr + 4:08x}:0x3fc9a000 0x3fc9a010:0x3fc9a020"))
    assert len(found) == 1 and "sensor_task" in found[0] and "fw.c:1" in found[0], found


def test_missing_toolchain_or_elf_says_how_to_fix(tmp_path):
    with pytest.raises(RuviewError) as e:
        BacktraceDecoder(str(tmp_path / "nope.elf"))
    assert "--elf" in e.value.fix
    elf = tmp_path / "x.elf"
    elf.write_bytes(b"\x7fELF")
    with pytest.raises(RuviewError) as e:
        BacktraceDecoder(str(elf), toolchain_prefix="no-such-toolchain-")
    assert "export.sh" in e.value.fix


# --- against an emulated node: its serial port carries the real firmware's log --------------------

def _sim(loopback):
    import json as _json

    first = loopback.hosts(1)
    proc = subprocess.Popen(["ruview", "sim", "--nodes", "1", "--json", "--first-host", str(first),
                             "--mdns-interface", "127.0.0.1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    if not line:
        proc.kill()
        raise AssertionError(f"ruview sim did not start: {proc.stderr.read()}")
    return proc, _json.loads(line)


def test_logs_shows_the_firmware_boot_log_after_reset_and_leaves_the_node_running(loopback):
    import json as _json

    from ruview_cli.nodeapi import get_status

    sim, node = _sim(loopback)
    try:
        before = get_status(node["ip"])
        # Without --reset the node keeps running: its uptime goes on across a monitor session.
        quiet = subprocess.run(["ruview", "logs", "--port", node["serial_url"], "--json", "--duration", "2"],
                               capture_output=True, text=True, timeout=60)
        assert quiet.returncode == 0, quiet.stderr
        assert get_status(node["ip"]).uptime_s >= before.uptime_s
        res = subprocess.run(["ruview", "logs", "--port", node["serial_url"], "--json", "--reset",
                              "--duration", "8"], capture_output=True, text=True, timeout=90)
        assert res.returncode == 0, res.stderr
        lines = [_json.loads(x) for x in res.stdout.splitlines()]
        tagged = [x for x in lines if x.get("level")]
        assert any(x["tag"] == "ruview" and x["text"] == "started" and x["level"] == "info" for x in tagged), lines[-20:]
        assert all(set(x) == {"ts", "level", "tag", "time", "text"} for x in lines if "event" not in x)
        assert get_status(node["ip"]).uptime_s is not None  # running its app again
        piped = subprocess.run(["ruview", "logs", "--port", node["serial_url"], "--reset", "--duration", "6"],
                               capture_output=True, text=True, timeout=90)
        assert "ruview: started" in piped.stdout and "\x1b[" not in piped.stdout  # no colour when piped
    finally:
        stop_process(sim)
