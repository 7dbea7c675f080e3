"""The `ruview` entry point as a user meets it: the command list, --version, -v, completion,
help that fits the terminal, and start-up that imports only what the command needs."""

from __future__ import annotations

import importlib
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest
import typer

import ruview_cli
import ruview_cli.cli as cli_pkg
from ruview_cli.cli import app as app_mod

ROOT = Path(__file__).resolve().parent.parent
_NOT_COMMANDS = {"app", "common"}


def _ruview(*args: str, env: dict | None = None, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from ruview_cli.cli.app import main; main()", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})}, **kw)


def _registered() -> dict[str, str]:
    """command name -> module, from what every command module registers."""
    found = {}
    for info in pkgutil.iter_modules(cli_pkg.__path__):
        if info.name in _NOT_COMMANDS or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"ruview_cli.cli.{info.name}")
        holder = typer.Typer()
        holder.callback()(lambda: None)
        module.register(holder)
        for name in typer.main.get_command(holder).commands:
            found[name] = info.name
    return found


def test_command_table_lists_every_registered_command():
    listed = {name: module for name, module, _ in app_mod.COMMANDS}
    assert listed == _registered()


def _all_commands() -> list[list[str]]:
    """Every command path: ["tail"], ["nodes", "list"], ..."""
    paths = []
    for name, _, _ in app_mod.COMMANDS:
        cmd = app_mod.load_command(name)
        subs = getattr(cmd, "commands", None)
        paths += [[name, sub] for sub in subs] if subs else [[name]]
    return paths


def test_help_does_not_import_command_modules_or_rich_help():
    code = ("import sys\nfrom ruview_cli.cli.app import main\n"
            "try:\n    main()\nexcept SystemExit:\n    pass\n"
            "print(' '.join(sorted(sys.modules)), file=sys.stderr)")
    for args in (["--help"], ["nodes", "list", "--json"], ["tail", "--help"]):
        r = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                           env={**os.environ, "RUVIEW_INVENTORY": "/nonexistent/ruview.toml"})
        modules = set(r.stderr.split())
        assert not modules & {"typer.rich_utils", "markdown_it", "pygments", "rich.markdown"}, args
        loaded = {m.rsplit(".", 1)[1] for m in modules if m.startswith("ruview_cli.cli.")} - _NOT_COMMANDS
        assert {m for m in loaded if not m.startswith("_")} <= {args[0]}, (args, loaded)  # _helpers ok
        assert "ruview_cli.config.schema" not in modules or args[0] == "config"


def test_version_and_bundled_firmware_version():
    r = _ruview("--version")
    assert r.returncode == 0 and r.stdout.strip() == f"ruview {ruview_cli.__version__}"
    r = _ruview("--version", "--json")
    assert json.loads(r.stdout) == {"ruview": ruview_cli.__version__,
                                    "firmware": (ROOT / "firmware" / "version.txt").read_text().strip()}


def test_version_is_written_once():
    """pyproject reads ruview_cli.__version__; the emulator runs firmware/version.txt."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dynamic = ["version"]' in pyproject and 'attr = "ruview_cli.__version__"' in pyproject
    from ruview_cli.sim.fleet import FACTORY_VERSION

    assert FACTORY_VERSION == (ROOT / "firmware" / "version.txt").read_text().strip()


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_logs_to_stderr_only(where, tmp_path):
    env = {"RUVIEW_INVENTORY": str(tmp_path / "ruview.toml")}
    args = ["-v", "nodes", "path", "--json"] if where == "before" else ["nodes", "path", "--json", "-v"]
    r = _ruview(*args, env=env)
    quiet = _ruview("nodes", "path", "--json", env=env)
    assert r.returncode == 0
    assert r.stdout == quiet.stdout  # stdout stays machine-readable
    assert "ruview: debug:" in r.stderr and "ruview: debug:" not in quiet.stderr


def test_every_command_accepts_verbose():
    from typer.testing import CliRunner

    runner = CliRunner()
    for path in _all_commands():
        result = runner.invoke(app_mod.app, [*path, "--help", "-v"])
        assert result.exit_code == 0, (path, result.output)


def test_install_completion_then_complete(tmp_path):
    # The shell named, not detected from this process's ancestors (which may hold no shell at
    # all under CI): typer's switch for exactly that.
    r = _ruview("--install-completion", "bash",
                env={"HOME": str(tmp_path), "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"})
    assert r.returncode == 0, r.stderr
    script = (tmp_path / ".bash_completions" / "ruview.sh").read_text()
    assert "_RUVIEW_COMPLETE=complete_bash" in script
    assert "ruview.sh" in (tmp_path / ".bashrc").read_text()
    # What bash runs on <TAB>: the words so far in, candidates out.
    done = _ruview(env={"_RUVIEW_COMPLETE": "complete_bash", "COMP_WORDS": "ruview ta", "COMP_CWORD": "1"})
    assert done.stdout.split() == ["tail"]
    done = _ruview(env={"_RUVIEW_COMPLETE": "complete_bash", "COMP_WORDS": "ruview tail --rep",
                        "COMP_CWORD": "2"})
    assert done.stdout.split() == ["--replay"]


def _help_texts() -> list[tuple[str, str]]:
    out = []
    for path in _all_commands():
        cmd = app_mod.load_command(path[0])
        if len(path) > 1:
            out.append((" ".join(path[:1]), cmd.help or ""))
            cmd = cmd.commands[path[1]]
        out.append((" ".join(path), cmd.help or ""))
        out += [(f"{' '.join(path)} {p.name}", p.help) for p in cmd.params if getattr(p, "help", None)]
    return out


def test_help_paragraphs_are_single_lines():
    """Hard-wrapped paragraphs turn ragged when the terminal re-wraps them: one line each."""
    for where, text in _help_texts():
        for para in text.split("\n\n"):
            if para.startswith("\b"):
                continue  # an example block, kept verbatim on purpose
            assert "\n" not in para.strip(), f"{where}: paragraph hard-wrapped: {para[:60]!r}"


@pytest.mark.parametrize("columns", [80, 120])
def test_help_fits_the_terminal(columns):
    env = {"COLUMNS": str(columns)}
    for path in [[], *_all_commands()]:
        r = _ruview(*path, "--help", env=env)
        assert r.returncode == 0, (path, r.stderr)
        for line in r.stdout.splitlines():
            if line.startswith("    ruview "):
                continue  # an example command stays on one line to be copied whole
            assert len(line) <= columns, (path, line)
        assert "[b]" not in r.stdout and "\\[" not in r.stdout, path


def test_bare_groups_do_the_obvious_thing(tmp_path, loopback):
    inv = tmp_path / "ruview.toml"
    env = {"RUVIEW_INVENTORY": str(inv), "COLUMNS": "200"}
    assert _ruview("profiles", env=env).stdout == _ruview("profiles", "list", env=env).stdout != ""
    assert _ruview("nodes", env=env).stdout == _ruview("nodes", "list", env=env).stdout != ""
    # `ruview status` alone: the whole fleet (here one node that does not answer).
    addr = loopback.addr()
    inv.write_text(f'[nodes."34:85:18:00:00:01"]\nname = "kitchen"\nip = "{addr}"\n')
    r = _ruview("status", "--json", "--timeout", "1", env=env)
    (node,) = json.loads(r.stdout)["nodes"]
    assert (node["name"], node["host"], node["ok"]) == ("kitchen", addr, False)
    assert r.returncode == 1  # none answered
    inv.write_text("")
    r = _ruview("status", env=env)
    assert r.returncode == 2 and "inventory" in r.stderr and "ruview discover" in r.stderr


def test_nodes_http_port_and_its_old_spelling(tmp_path):
    env = {"RUVIEW_INVENTORY": str(tmp_path / "ruview.toml")}
    r = _ruview("nodes", "add", "34:85:18:00:00:0a", "--ip", "192.0.2.10", "--http-port", "8040",
                "--json", env=env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["http_port"] == 8040 and "deprecated" not in r.stderr
    r = _ruview("nodes", "set", "34:85:18:00:00:0a", "--port", "8041", env=env)
    assert r.returncode == 0 and "--port is deprecated" in r.stderr and "--http-port" in r.stderr
    (node,) = json.loads(_ruview("nodes", "list", "--json", env=env).stdout)["nodes"]
    assert node["http_port"] == 8041
    r = _ruview("nodes", "set", "34:85:18:00:00:0a", "--port", "1", "--http-port", "2", env=env)
    assert r.returncode == 2 and "give only --http-port" in r.stderr
