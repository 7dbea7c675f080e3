"""The library has no UI and does not lean on the emulator: read from the imports themselves."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ruview_cli"
# Modules that may import the emulator: the emulator itself, and what runs one on purpose.
SIM_USERS = {"sim", "demo.py", "cli/sim.py", "cli/demo.py"}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
    return names


def _modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(PACKAGE).as_posix(), _imports(path)


def test_no_typer_or_rich_outside_the_cli():
    wrong = [(rel, sorted(n for n in names if n.split(".")[0] in ("typer", "rich")))
             for rel, names in _modules()
             if not rel.startswith("cli/")]
    assert [w for w in wrong if w[1]] == []


def test_only_the_emulator_and_its_runners_import_it():
    wrong = [rel for rel, names in _modules()
             if any(n == "ruview_cli.sim" or n.startswith("ruview_cli.sim.") for n in names)
             and rel.split("/")[0] not in SIM_USERS and rel not in SIM_USERS]
    assert wrong == []


def test_importing_the_library_loads_no_cli_framework():
    code = ("import sys, ruview_cli, ruview_cli.inventory, ruview_cli.protocol, "
            "ruview_cli.telemetry.session, ruview_cli.partitions, ruview_cli.versions\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'rich', 'click')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
