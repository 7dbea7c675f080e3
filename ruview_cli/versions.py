"""Versions: ruview's own (`ruview_cli.__version__`, which pyproject.toml reads) and the
firmware's (firmware/version.txt, which the firmware build and the emulator read too)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
# A source tree (and an editable install) has firmware/ next to the package; a wheel carries a
# copy that setup.py makes at build time.
_CANDIDATES = (_PACKAGE.parent / "firmware" / "version.txt", _PACKAGE / "firmware_version.txt")


@lru_cache(maxsize=1)
def firmware_version() -> str:
    """The firmware version this ruview bundles and emulates (e.g. "0.7.0")."""
    for path in _CANDIDATES:
        try:
            return path.read_text(encoding="ascii").strip()
        except OSError:
            continue
    raise RuntimeError(f"firmware version file missing: {_CANDIDATES[0]} (a broken install)")
