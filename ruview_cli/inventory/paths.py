"""Where the fleet file and the secrets file live."""

from __future__ import annotations

import os
from pathlib import Path

ENV_INVENTORY = "RUVIEW_INVENTORY"
FILE_NAME = "ruview.toml"
SECRETS_NAME = "ruview.secrets.toml"


def inventory_path() -> Path:
    """$RUVIEW_INVENTORY, else ./ruview.toml when it exists, else the user config directory."""
    env = os.environ.get(ENV_INVENTORY, "").strip()
    if env:
        return Path(env).expanduser()
    local = Path.cwd() / FILE_NAME
    if local.exists():
        return local
    import platformdirs

    return Path(platformdirs.user_config_dir("ruview")) / FILE_NAME


def secrets_path(inventory: Path | None = None) -> Path:
    """ruview.secrets.toml beside the fleet file."""
    inv = Path(inventory) if inventory is not None else inventory_path()
    return inv.parent / SECRETS_NAME


__all__ = ["inventory_path", "secrets_path", "ENV_INVENTORY", "FILE_NAME", "SECRETS_NAME"]
