"""`make test` on a fresh machine: missing system packages are installed (root with apt) or named
with the one command to run; a test that needs one skips saying so, and fails under CI."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import need_system

ROOT = Path(__file__).resolve().parents[1]


def _listed() -> set[str]:
    return {line.split("#")[0].strip() for line in (ROOT / ".ci" / "apt-packages").read_text().splitlines()
            if line.split("#")[0].strip()}


def test_a_missing_tool_skips_with_the_command(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as info:
        need_system("cmocka (its headers)", False, "libcmocka-dev")
    assert "sudo apt-get install -y libcmocka-dev" in str(info.value)
    need_system("cmake", True, "cmake")  # present: nothing happens


def test_under_ci_a_missing_tool_fails(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as info:
        need_system("tshark", False, "tshark")
    assert "sudo apt-get install -y tshark" in str(info.value) and "CI" in str(info.value)


def test_every_package_a_test_names_is_in_the_apt_list():
    named = set()
    for path in (ROOT / "tests").glob("*.py"):
        text = path.read_text()
        named |= set(re.findall(r'needs_system\("[^"]+", "([^"]+)"\)', text))
        named |= set(re.findall(r'need_system\([^\n]*?,\s*"([\w.+-]+)"\)', text))
    named.discard("pkg")
    assert "mosquitto" in named  # helpers outside test_*.py are read too
    assert named and named <= _listed(), named - _listed()


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root to run the script as another user (nobody)")
def test_system_deps_prints_the_one_command_when_it_cannot_install():
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:  # readable by nobody, unlike pytest's tmp_path
        _run_system_deps_as_nobody(Path(tmp))


def _run_system_deps_as_nobody(tmp_path: Path) -> None:
    ci = tmp_path / ".ci"
    ci.mkdir()
    shutil.copy(ROOT / ".ci" / "system-deps", ci / "system-deps")
    (ci / "apt-packages").write_text("# a test list\nruview-test-absent-pkg   # not a real package\n"
                                     "coreutils   # installed everywhere\n")
    tmp_path.chmod(0o755)
    ci.chmod(0o755)
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    r = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                        "sh", str(ci / "system-deps")], capture_output=True, text=True, env=env,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    assert "sudo apt-get install -y ruview-test-absent-pkg" in r.stderr
    assert "coreutils" not in r.stderr  # only what is missing
