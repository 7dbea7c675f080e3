"""A small client for a node's `GET /ota/status` (PROTOCOL.md §4), for both firmware flavours.

RuView 0.6.x answers six keys; our firmware adds identity and OTA-health keys. `NodeStatus`
holds the union with None where a flavour has no value, and `.flavor` says which firmware
answered ("ours" when any of our extra keys is present, else "ruview-0.6").

Plain http.client, not requests: a discovery sweep makes hundreds of these calls at once and
needs each to be cheap and its failure (refused / timeout / not JSON) told apart.
"""

from __future__ import annotations

import http.client
import json
import logging
import socket
from dataclasses import dataclass, field, fields
from typing import Any

from ruview_cli.errors import RuviewError

log = logging.getLogger(__name__)

DEFAULT_PORT = 8032
STATUS_PATH = "/ota/status"
FLAVOR_OURS = "ours"
FLAVOR_06 = "ruview-0.6"
# Keys only our firmware sends: any of them means "ours".
_OURS_KEYS = ("node_id", "mac", "ota_state", "app_sha256", "edge_tier", "uptime_s")


@dataclass
class NodeStatus:
    """What `GET /ota/status` said, normalised (None = the firmware does not report it)."""

    host: str
    port: int
    flavor: str
    version: str | None = None
    date: str | None = None
    time: str | None = None
    running_partition: str | None = None
    next_partition: str | None = None
    max_size: int | None = None
    node_id: int | None = None
    mac: str | None = None
    chip: str | None = None
    project_name: str | None = None
    app_sha256: str | None = None
    ota_state: str | None = None
    rollback: str | None = None
    uptime_s: int | None = None
    edge_tier: int | None = None
    reset_reason: str | None = None
    raw: dict = field(default_factory=dict, repr=False)

    @property
    def has_rollback(self) -> bool:
        """True when the firmware can roll back (RuView 0.6.x cannot)."""
        return self.flavor == FLAVOR_OURS

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "raw"}


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _opt_str(value: Any) -> str | None:
    if value is None or value == "":
        return None
    return str(value)


def parse_status(host: str, port: int, data: dict) -> NodeStatus:
    """Normalise a decoded /ota/status body."""
    flavor = FLAVOR_OURS if any(k in data for k in _OURS_KEYS) else FLAVOR_06
    mac = _opt_str(data.get("mac"))
    if mac:
        mac = mac.lower().replace("-", ":")
    return NodeStatus(
        host=host, port=port, flavor=flavor,
        version=_opt_str(data.get("version")), date=_opt_str(data.get("date")),
        time=_opt_str(data.get("time")),
        running_partition=_opt_str(data.get("running_partition")),
        next_partition=_opt_str(data.get("next_partition")),
        max_size=_opt_int(data.get("max_size")), node_id=_opt_int(data.get("node_id")),
        mac=mac, chip=_opt_str(data.get("chip")),
        project_name=_opt_str(data.get("project_name")),
        app_sha256=_opt_str(data.get("app_sha256")),
        ota_state=_opt_str(data.get("ota_state")), rollback=_opt_str(data.get("rollback")),
        uptime_s=_opt_int(data.get("uptime_s")), edge_tier=_opt_int(data.get("edge_tier")),
        reset_reason=_opt_str(data.get("reset_reason")), raw=dict(data),
    )


def _where(host: str, port: int) -> str:
    return host if port == DEFAULT_PORT else f"{host}:{port}"


def get_status(host: str, port: int = DEFAULT_PORT, timeout: float = 2.0) -> NodeStatus:
    """GET /ota/status; RuviewError (message + fix) when refused, timed out or not JSON."""
    where = _where(host, port)
    log.debug("GET http://%s:%d%s (timeout %g s)", host, port, STATUS_PATH, timeout)
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        try:
            conn.request("GET", STATUS_PATH, headers={"Accept": "application/json"})
            resp = conn.getresponse()
            body = resp.read(256 * 1024)
        except ConnectionRefusedError:
            raise RuviewError(f"{where} refused the connection on port {port}",
                              "is the node powered, on this network and running ruview or "
                              "RuView firmware? `ruview discover` lists the nodes it can see"
                              ) from None
        except (socket.timeout, TimeoutError):
            raise RuviewError(f"{where} did not answer within {timeout:g} s",
                              "check the address and that this machine can reach the node's "
                              "network (`ruview doctor`)") from None
        except socket.gaierror as exc:
            raise RuviewError(f"cannot resolve {host!r}: {exc.strerror or exc}",
                              "use the node's IP address or its inventory name") from None
        except (OSError, http.client.HTTPException) as exc:
            reason = getattr(exc, "strerror", None) or exc.__class__.__name__
            raise RuviewError(f"{where}: connection failed ({reason})",
                              "check the address and the node's power and WiFi") from None
    finally:
        conn.close()
    if resp.status != 200:
        raise RuviewError(f"{where} answered {resp.status} {resp.reason} to GET {STATUS_PATH}",
                          "this is not a ruview/RuView node, or its firmware is too old")
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise RuviewError(f"{where} answered GET {STATUS_PATH} with something that is not JSON",
                          "this port is not a ruview/RuView node's control server") from None
    if not isinstance(data, dict) or "version" not in data:
        raise RuviewError(f"{where}: GET {STATUS_PATH} is not a node status (no 'version')",
                          "this port is not a ruview/RuView node's control server")
    return parse_status(host, port, data)


__all__ = ["NodeStatus", "get_status", "parse_status", "DEFAULT_PORT", "FLAVOR_OURS",
           "FLAVOR_06"]
