"""The MQTT topic layout, in one place (documented in docs/protocol.md, "MQTT bridge")."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_PREFIX = "ruview"
DEFAULT_DISCOVERY_PREFIX = "homeassistant"


@dataclass(frozen=True)
class Topics:
    prefix: str = DEFAULT_PREFIX
    discovery_prefix: str = DEFAULT_DISCOVERY_PREFIX

    def state(self, node: str) -> str:
        return f"{self.prefix}/{node}/state"

    def availability(self, node: str) -> str:
        return f"{self.prefix}/{node}/availability"

    def event(self, node: str) -> str:
        return f"{self.prefix}/{node}/event"

    def csi(self, node: str) -> str:
        return f"{self.prefix}/{node}/csi"

    @property
    def bridge_availability(self) -> str:
        """The bridge's own status; its last will sets it offline, and with it every entity."""
        return f"{self.prefix}/bridge/availability"

    def discovery_config(self, component: str, ident: str, obj: str) -> str:
        return f"{self.discovery_prefix}/{component}/ruview_{ident}/{obj}/config"

    @property
    def discovery_filter(self) -> str:
        """Subscription matching every config this bridge may have published."""
        return f"{self.discovery_prefix}/+/+/+/config"


def check_prefix(text: str, what: str) -> str:
    """A topic prefix must be non-empty and free of MQTT wildcards."""
    from ruview_cli.errors import UsageError

    t = text.strip("/")
    if not t or "+" in t or "#" in t or "\0" in t:
        raise UsageError(f"{what} {text!r} is not a usable MQTT topic prefix",
                         f"use letters, digits, '-' and '/', e.g. {what} ruview")
    return t
