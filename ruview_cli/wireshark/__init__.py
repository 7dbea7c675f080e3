"""The Wireshark dissector for node telemetry (ruview.lua, beside this file) and where it goes.

Wireshark loads Lua plugins from the user's "Personal Lua Plugins" folder at start-up; tshark
names that folder in `tshark -G folders`. Without tshark we use the documented default
(~/.local/lib/wireshark/plugins on Linux and macOS, %APPDATA%\\Wireshark\\plugins on Windows).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Optional

from ruview_cli.errors import RuviewError

FILE_NAME = "ruview.lua"


def dissector_path() -> Path:
    """The dissector shipped with this ruview."""
    return Path(__file__).with_name(FILE_NAME)


def personal_plugin_dir() -> Path:
    """Where this user's Wireshark looks for Lua plugins."""
    tshark = shutil.which("tshark")
    if tshark is not None:
        try:
            out = subprocess.run([tshark, "-G", "folders"], capture_output=True, text=True, timeout=20).stdout
        except (OSError, subprocess.SubprocessError):
            out = ""
        for line in out.splitlines():
            name, _, value = line.partition(":")
            if name.strip() == "Personal Lua Plugins" and value.strip():
                return Path(value.strip())
    if sys.platform.startswith("win"):
        return Path(os.environ.get("APPDATA", Path.home())) / "Wireshark" / "plugins"
    return Path.home() / ".local" / "lib" / "wireshark" / "plugins"


def install(directory: Optional[Path] = None) -> Path:
    """Copy the dissector into `directory` (default: the personal plugin folder); its path."""
    dest_dir = Path(directory) if directory is not None else personal_plugin_dir()
    try:
        dest_dir.mkdir(parents=True, exist_ok=True)
        dest = dest_dir / FILE_NAME
        shutil.copyfile(dissector_path(), dest)
    except OSError as exc:
        raise RuviewError(f"cannot install the dissector into {dest_dir}: {exc.strerror or exc}",
                          "pass a folder you can write with --dir") from None
    return dest
