"""Every `fix:` hint in the code names flags that exist: read from the source (every
RuviewError/UsageError/... built with a fix text), checked against the CLI's own options."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from ruview_cli.cli import app as app_mod

PACKAGE = Path(app_mod.__file__).resolve().parents[1]
_FLAG = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
_COMMAND = re.compile(r"`ruview ([a-z]+)(?: ([a-z]+))?([^`]*)`")
# Flags of other tools a hint may quote on purpose: (flag, the tool the hint runs).
_OTHER_TOOLS = {"--user": "pip install --user", "--target": "idf.py / cmake"}


def _options(cmd) -> set[str]:
    names = set()
    for p in cmd.params:
        names.update(o for o in getattr(p, "opts", []) + getattr(p, "secondary_opts", [])
                     if o.startswith("--"))
    return names


def cli_flags() -> tuple[set[str], dict[tuple[str, ...], set[str]]]:
    """(every flag anywhere, {command path: its flags})."""
    from typer.main import get_command

    per: dict[tuple[str, ...], set[str]] = {(): _options(get_command(app_mod.app)) | {"--help"}}
    for name, _, _ in app_mod.COMMANDS:
        cmd = app_mod.load_command(name)
        per[(name,)] = _options(cmd)
        for sub_name, sub in getattr(cmd, "commands", {}).items():
            per[(name, sub_name)] = _options(sub)
    return set().union(*per.values()), per


def _text(node: ast.AST) -> str:
    """The literal text of a string expression (f-string holes become "{}")."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(_text(v) if not isinstance(v, ast.FormattedValue) else "{}" for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _text(node.left) + _text(node.right)
    if isinstance(node, ast.IfExp):
        return _text(node.body) + " | " + _text(node.orelse)
    return ""


def fix_texts() -> list[tuple[str, str]]:
    """(file:line, fix text) for every error raised with a fix in ruview_cli/."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            if not name.endswith("Error"):
                continue
            fix = next((k.value for k in node.keywords if k.arg == "fix"), None)
            if fix is None and len(node.args) >= 2:
                fix = node.args[1]
            text = _text(fix) if fix is not None else ""
            if text:
                found.append((f"{path.relative_to(PACKAGE.parent)}:{node.lineno}", text))
    return found


def test_the_walk_finds_the_hints():
    texts = fix_texts()
    assert len(texts) > 50  # the walk sees the code's hints, not an empty set
    assert any("--listen" in t for _, t in texts)


def test_every_fix_hint_names_real_flags():
    everywhere, per_command = cli_flags()
    wrong = []
    for where, text in fix_texts():
        # A flag inside `ruview CMD [SUB] ...` must belong to that very command.
        for m in _COMMAND.finditer(text):
            path = (m.group(1), m.group(2)) if (m.group(1), m.group(2)) in per_command else (m.group(1),)
            if path not in per_command:
                wrong.append(f"{where}: no command `ruview {m.group(1)}` in {text!r}")
                continue
            rest = m.group(0) if len(path) == 1 else m.group(3)
            for flag in _FLAG.findall(rest):
                if flag not in per_command[path] | per_command[()]:
                    wrong.append(f"{where}: `ruview {' '.join(path)}` has no {flag}: {text!r}")
        for flag in _FLAG.findall(_COMMAND.sub("", text)):
            if flag not in everywhere and flag not in _OTHER_TOOLS:
                wrong.append(f"{where}: no command has {flag}: {text!r}")
    assert not wrong, "\n".join(wrong)
