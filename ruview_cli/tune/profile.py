"""The proposal as a profile TOML that `ruview provision --profile FILE` takes."""

from __future__ import annotations

import os

from ruview_cli.config.profiles import Profile, load_profile
from ruview_cli.errors import RuviewError, UsageError
from ruview_cli.tune.search import KEYS


def human_values(settings: dict) -> dict:
    """Stored values -> what a profile holds (0.16, 8.0, "auto", 256)."""
    from ruview_cli.config import schema

    out = {}
    for k in KEYS:
        spec = schema.key(k)
        out[k] = "auto" if spec.auto_zero and settings[k] == 0 else spec.human(settings[k])
    return out


def write_profile(path: str, settings: dict, description: str, force: bool = False) -> Profile:
    """Write and re-load (validate) the profile; edge_tier 2: the core that was tuned."""
    import tomlkit

    if not path.endswith(".toml"):
        raise UsageError(f"-o {path}: a profile file name ends in .toml", "e.g. -o living-room.toml")
    if os.path.exists(path) and not force:
        raise UsageError(f"{path} exists", "choose another -o file, or add --force to replace it")
    doc = tomlkit.document()
    doc.add(tomlkit.comment("Written by `ruview tune`: settings for one room, from a labelled recording."))
    doc.add(tomlkit.comment("Apply with: ruview provision --profile THIS_FILE"))
    doc["description"] = description
    config = tomlkit.table()
    config["edge_tier"] = 2
    for k, v in human_values(settings).items():
        config[k] = v
    doc["config"] = config
    try:
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(tomlkit.dumps(doc))
    except OSError as exc:
        raise RuviewError(f"cannot write {path}: {exc.strerror}", "choose a writable path") from None
    return load_profile(path)
