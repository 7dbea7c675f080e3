"""The firmware's portable C core, built and tested on the host.

Configures and builds firmware/test (cmocka tests with AddressSanitizer + UBSan, the libFuzzer
targets' short runs when clang is present, the byte-compatibility test against tests/vectors)
in firmware/test/build-host, reused between runs, and runs it under ctest. A failure names the
failing ctest tests and shows their output.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import need_system

REPO = Path(__file__).resolve().parent.parent
SRC = REPO / "firmware" / "test"
BUILD = SRC / "build-host"
INSTALL_HINT = "apt-get install cmake libcmocka-dev clang"


def _run(cmd: list[str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=timeout)


def _require_tools() -> None:
    for tool in ("cmake", "ctest"):
        need_system(tool, shutil.which(tool) is not None, "cmake")
    need_system("cmocka (its headers)",
                any(Path(d, "cmocka.h").exists() for d in ("/usr/include", "/usr/local/include")),
                "libcmocka-dev")


def _configure_and_build() -> None:
    if not (BUILD / "CMakeCache.txt").exists():
        cmd = ["cmake", "-S", str(SRC), "-B", str(BUILD)]
        clang = shutil.which("clang")
        if clang:
            cmd.append(f"-DCMAKE_C_COMPILER={clang}")
        cfg = _run(cmd, timeout=120)
        if cfg.returncode != 0:
            shutil.rmtree(BUILD, ignore_errors=True)  # do not reuse a half-configured tree
            pytest.fail(f"cmake configure failed ({INSTALL_HINT}):\n{cfg.stdout}\n{cfg.stderr}")
    jobs = str(min(2, os.cpu_count() or 1))
    build = _run(["cmake", "--build", str(BUILD), "-j", jobs], timeout=300)
    if build.returncode != 0:
        pytest.fail(f"host build of the firmware core failed:\n{build.stdout[-6000:]}\n"
                    f"{build.stderr[-6000:]}")


def test_firmware_core_host_suite():
    _require_tools()
    _configure_and_build()
    res = _run(["ctest", "--test-dir", str(BUILD), "--output-on-failure", "-j", "2"],
               timeout=300)
    out = res.stdout + res.stderr
    failed = re.findall(r"^\s*\d+ - (\S+) \(", out, flags=re.M)
    if res.returncode != 0:
        pytest.fail(f"firmware host tests failed: {', '.join(failed) or '(see output)'}\n"
                    f"{out[-12000:]}")
    # the suite really ran: the C tests and (with clang) the fuzzers
    ran = re.findall(r"Test\s+#\d+: (\S+) \.+\s+Passed", out)
    for name in ("config", "codec", "keyframe", "packets", "dsp", "ring"):
        assert name in ran, f"ctest did not run {name}:\n{out}"
    cache = (BUILD / "CMakeCache.txt").read_text()
    if re.search(r"CMAKE_C_COMPILER:\w+=.*clang", cache):
        for name in ("fuzz_frame", "fuzz_config", "fuzz_codec"):
            assert name in ran, f"ctest did not run {name}:\n{out}"
