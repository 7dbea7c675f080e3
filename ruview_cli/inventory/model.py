"""What the fleet file holds per node, and what a command talks to."""

from __future__ import annotations

from dataclasses import dataclass, field, fields as dc_fields

from ruview_cli.inventory.values import DEFAULT_HTTP_PORT


@dataclass
class NodeEntry:
    """One node of the fleet file (never holds a secret)."""

    mac: str
    name: str | None = None
    node_id: int | None = None
    ip: str | None = None
    http_port: int = DEFAULT_HTTP_PORT
    serial_port: str | None = None
    chip: str | None = None
    version: str | None = None
    edge_tier: int | None = None
    group: str | None = None
    notes: str | None = None
    last_seen: float | None = None
    sources: list[str] = field(default_factory=list)
    config: dict = field(default_factory=dict)

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dc_fields(self)}


FIELDS = {f.name for f in dc_fields(NodeEntry)} - {"mac"}
INT_FIELDS = {"node_id", "http_port", "edge_tier"}
STR_FIELDS = {"name", "ip", "serial_port", "chip", "version", "group", "notes"}


@dataclass(frozen=True)
class Target:
    """A node a command talks to over HTTP."""

    host: str
    port: int = DEFAULT_HTTP_PORT
    name: str | None = None
    mac: str | None = None

    @property
    def label(self) -> str:
        return self.name or (self.host if self.port == DEFAULT_HTTP_PORT
                             else f"{self.host}:{self.port}")


__all__ = ["NodeEntry", "Target", "FIELDS", "INT_FIELDS", "STR_FIELDS"]
