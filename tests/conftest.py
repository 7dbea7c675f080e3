"""Shared fixtures.

`loopback`: the one allocator of loopback addresses. Every test that binds a socket or starts an
emulator takes its addresses from it, so tests never collide with each other, nor with another
test run or a `ruview sim` on the same machine. Each pytest process picks its own random block
127.B.C.0/24 blocks (B, C random) and checks that the block is unused before handing it out.
"""

from __future__ import annotations

import random
import socket
import threading

import pytest

# The sim's node i lives on host number first_host + i, written 127.(h>>16).(h>>8).h (fleet.py).
_BLOCK = 256
_PROBE_PORTS = (8032, 5005)  # what an emulator or a `ruview tail` on the block would hold


def _as_ip(host: int) -> str:
    return f"127.{host >> 16 & 255}.{host >> 8 & 255}.{host & 255}"


def _block_free(first: int) -> bool:
    """True when nothing listens on the block's first address (TCP 8032, UDP 5005)."""
    ip = _as_ip(first + 1)
    for kind, port in ((socket.SOCK_STREAM, _PROBE_PORTS[0]), (socket.SOCK_DGRAM, _PROBE_PORTS[1])):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind((ip, port))
        except OSError:
            return False
        finally:
            s.close()
    return True


class LoopbackAllocator:
    """Hands out fresh loopback addresses: `addr()` one address, `hosts(n)` a run of n for a fleet.

    Addresses are never reused within a run. 127.0.0.0/16 is avoided: that is where `ruview sim`
    puts nodes by default, and where other tools listen.
    """

    def __init__(self, rng: random.Random | None = None) -> None:
        self._rng = rng or random.SystemRandom()
        self._lock = threading.Lock()
        self._next = 0
        self._end = 0

    def _new_block(self, size: int) -> None:
        blocks = -(-size // _BLOCK)
        for _ in range(200):
            # B in 16..250, C in 0..255: 127.B.C.x, clear of 127.0.x.x and 127.255.x.x.
            first = (self._rng.randrange(16, 251) << 16) | (self._rng.randrange(0, 256 - blocks) << 8)
            if all(_block_free(first + k * _BLOCK) for k in range(blocks)):
                self._next, self._end = first + 1, first + blocks * _BLOCK - 1
                return
        raise RuntimeError("no free loopback block found in 200 tries")

    def hosts(self, n: int = 1) -> int:
        """The first host number of n consecutive fresh addresses (FleetOptions.first_host)."""
        with self._lock:
            if self._next + n > self._end:
                self._new_block(n + 1)
            first = self._next
            self._next += n
            return first

    def addr(self) -> str:
        """One fresh loopback address, as a string."""
        return _as_ip(self.hosts(1))

    @staticmethod
    def ip(host: int) -> str:
        return _as_ip(host)


_ALLOCATOR = LoopbackAllocator()


@pytest.fixture(scope="session")
def loopback() -> LoopbackAllocator:
    return _ALLOCATOR


def read_json_line(proc) -> dict:
    """The next JSON line of a started `ruview ...` process (text mode, stdout and stderr piped).
    When the process ends instead (e.g. an emulator could not bind its address), fail with what
    it printed on stderr, not with a JSONDecodeError."""
    import json

    line = proc.stdout.readline()
    if not line.strip():
        try:
            proc.wait(timeout=10)
        except Exception:
            proc.kill()
        pytest.fail(f"{' '.join(map(str, proc.args))} printed no JSON line (exit {proc.poll()}); "
                    f"stderr:\n{proc.stderr.read()}")
    try:
        return json.loads(line)
    except ValueError:
        pytest.fail(f"not JSON: {line!r}; stderr so far is in the process output")


# -- system tools ----------------------------------------------------------------------------
# Some tests need a system package (.ci/apt-packages lists them; `make test` installs the missing
# ones when it runs as root, else prints the command). Without it such a test is skipped with
# the command to run, and fails when CI is set: CI always runs everything.

def need_system(what: str, found: bool, package: str) -> None:
    """Skip (fail under CI) unless `found`, naming the apt package that provides `what`."""
    if found:
        return
    import os

    message = (f"{what} is not installed: run `sudo apt-get install -y {package}` "
               "(`make test` as root installs it)")
    if os.environ.get("CI"):
        pytest.fail(f"{message}; CI is set, so every test must run", pytrace=False)
    pytest.skip(message)


def pytest_configure(config):
    config.addinivalue_line("markers", "needs_system(tool, package): the test runs `tool`, from "
                                       "the apt package `package`")


def pytest_runtest_setup(item):
    import shutil

    for mark in item.iter_markers("needs_system"):
        tool, package = mark.args
        need_system(tool, shutil.which(tool) is not None, package)


def stop_process(proc) -> None:
    """End a command the test started (`ruview sim`, ...) as Ctrl-C would: SIGTERM, then SIGKILL
    if it has not finished within 30 s."""
    import signal
    import subprocess

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
