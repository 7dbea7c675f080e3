"""Profiles: TOML presets of configuration values, validated by the schema.

Built-in profiles ship in the package (ruview_cli/profiles/*.toml); a PATH ending in .toml (or
containing a slash) loads a user's own file. Format: optional `description`, and a `[config]`
table of schema keys in human units. Secrets are refused: a profile is meant to be shared.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruview_cli.errors import UsageError


@dataclass
class Profile:
    name: str
    description: str
    values: dict[str, Any]   # schema key → human value, as written in the file
    stored: dict[str, Any]   # schema key → stored (NVS) value, validated
    path: str


def builtin_dir() -> Path:
    return Path(__file__).resolve().parent.parent / "profiles"


def builtin_names() -> list[str]:
    return sorted(p.stem for p in builtin_dir().glob("*.toml"))


def _parse_toml(text: str, where: str) -> dict:
    import tomlkit

    try:
        return tomlkit.parse(text).unwrap()
    except Exception as exc:  # tomlkit raises its own ParseError subclasses
        raise UsageError(f"profile {where}: not valid TOML ({exc})", "fix the file's syntax") from None


def load_profile(ref: str) -> Profile:
    """A built-in profile by name, or a TOML file by path; validated against the schema."""
    from ruview_cli.config import schema

    looks_like_path = ref.endswith(".toml") or "/" in ref or "\\" in ref
    path = Path(ref) if looks_like_path else builtin_dir() / f"{ref}.toml"
    if not path.is_file():
        if looks_like_path:
            raise UsageError(f"profile file {ref} not found", "check the path")
        raise UsageError(f"unknown profile {ref!r}",
                         f"built-in profiles: {', '.join(builtin_names())}; or give a path to a .toml file")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot read profile {path}: {exc.strerror}", "check the path and permissions") from None
    name = path.stem
    data = _parse_toml(text, name)
    unknown_top = set(data) - {"description", "config"}
    if unknown_top:
        raise UsageError(f"profile {name}: unknown top-level entries {sorted(unknown_top)}",
                         "put configuration keys in a [config] table")
    values = data.get("config", {})
    if not isinstance(values, dict):
        raise UsageError(f"profile {name}: [config] must be a table", None)
    for k in values:
        spec = schema.key(k)
        if spec.secret:
            raise UsageError(f"profile {name}: secret key {k!r} does not belong in a profile",
                             f"pass it on the command line ({spec.flag}) instead")
    stored = schema.parse_changes(values, source=f"profile {name}")
    return Profile(name, str(data.get("description", "")), dict(values), stored, str(path))


def list_profiles() -> list[Profile]:
    return [load_profile(n) for n in builtin_names()]


__all__ = ["Profile", "load_profile", "list_profiles", "builtin_names", "builtin_dir"]
