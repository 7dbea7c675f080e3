"""The secrets file (ruview.secrets.toml, mode 0600): OTA keys and WiFi passwords.

    [ota]
    default = "..."                # the fleet key
    [ota.nodes]
    "34:85:18:aa:bb:cc" = "..."    # a node's own key (preferred: one leaked key opens one node)
    [wifi]
    "my-ssid" = "..."

Secrets never go into the fleet file, nor into repr(), an error message or a log. Saving
replays this object's changes onto the file as it is on disk, under the lock, so two
provisioning runs in two terminals both keep the key they generated.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any, Callable

from ruview_cli.inventory.files import read_toml, update_toml
from ruview_cli.inventory.paths import secrets_path
from ruview_cli.inventory.values import is_mac, normalize_mac

_MODE = 0o600


def _set(section: str, key: str, value: str, sub: str | None = None) -> Callable[[Any], None]:
    """An edit of the document: [section] (or [section.sub]) key = value."""
    def op(doc: Any) -> None:
        import tomlkit

        if section not in doc:
            doc[section] = tomlkit.table()
        table = doc[section]
        if sub is not None:
            if sub not in table:
                table[sub] = tomlkit.table()
            table = table[sub]
        table[key] = value
    return op


class Secrets:
    """The secrets file, plus the changes made since it was loaded."""

    def __init__(self, path: Path, doc: Any):
        self.path = path
        self._doc = doc
        self._ops: list[Callable[[Any], None]] = []

    @classmethod
    def load(cls, path: Path | None = None) -> "Secrets":
        import tomlkit

        path = Path(path) if path is not None else secrets_path()
        doc = read_toml(path, secret=True)
        if doc is not None and os.name == "posix":
            with contextlib.suppress(OSError):
                if path.stat().st_mode & 0o077:
                    os.chmod(path, _MODE)  # readable by others: tighten it at once
        return cls(path, doc if doc is not None else tomlkit.document())

    def _edit(self, op: Callable[[Any], None]) -> None:
        op(self._doc)
        self._ops.append(op)

    # -- OTA keys (contract A) -------------------------------------------------------------
    def ota_key_for(self, mac: str | None) -> str | None:
        """The node's own key when one is stored for this MAC, else the fleet key, else None.
        A MAC that is not one (a node's garbled reply) has no key of its own."""
        ota = self._doc.get("ota")
        if not hasattr(ota, "get"):
            return None
        if mac and is_mac(mac):
            mac = normalize_mac(mac)
            per = ota.get("nodes")
            for key, value in (per.items() if hasattr(per, "items") else ()):
                if is_mac(key) and normalize_mac(key) == mac:
                    return str(value)
        value = ota.get("default")
        return str(value) if value is not None else None

    def set_ota_key(self, mac: str | None, key: str) -> None:
        """Store a node's own key (mac=None: the fleet key). Kept until save()."""
        if not key:
            raise ValueError("an empty OTA key cannot be stored")
        if mac is None:
            self._edit(_set("ota", "default", key))
        else:
            self._edit(_set("ota", normalize_mac(mac), key, sub="nodes"))

    # the names used before per-node keys were the rule
    ota_psk = ota_key_for
    set_ota_psk = set_ota_key

    # -- WiFi ------------------------------------------------------------------------------
    def wifi_password(self, ssid: str) -> str | None:
        wifi = self._doc.get("wifi")
        value = wifi.get(ssid) if hasattr(wifi, "get") else None
        return str(value) if value is not None else None

    def set_wifi_password(self, ssid: str, password: str) -> None:
        self._edit(_set("wifi", ssid, password))

    # -- MQTT broker logins (`ruview bridge`) ----------------------------------------------------
    def broker_password(self, host: str, port: int) -> str | None:
        """[mqtt] "HOST:PORT", else [mqtt] "HOST"."""
        mqtt = self._doc.get("mqtt")
        if not hasattr(mqtt, "get"):
            return None
        for key in (f"{host}:{port}", host):
            value = mqtt.get(key)
            if value is not None:
                return str(value)
        return None

    def save(self) -> None:
        """Replay the changes onto the file as it is now: locked, atomic, 0600 from the first
        byte (the temporary file is created 0600)."""
        import tomlkit

        ops = list(self._ops)

        def replay(current: Any) -> Any:
            current = tomlkit.document() if current is None else current
            for op in ops:
                op(current)
            return current

        if not ops and self.path.exists():
            return
        self._doc = update_toml(self.path, replay, _MODE, secret=True)
        self._ops.clear()

    def __repr__(self) -> str:
        return f"Secrets({str(self.path)!r}, <redacted>)"

    __str__ = __repr__


def ota_key_for(mac: str | None, path: Path | None = None) -> str | None:
    """The OTA key to use for the node with this MAC: its own, else the fleet key, else None."""
    return Secrets.load(path).ota_key_for(mac)


def set_ota_key(mac: str | None, key: str, path: Path | None = None) -> None:
    """Store a node's own OTA key (mac=None: the fleet key) at once, merged under the lock."""
    store = Secrets.load(path)
    store.set_ota_key(mac, key)
    store.save()


__all__ = ["Secrets", "ota_key_for", "set_ota_key"]
