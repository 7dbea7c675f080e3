"""The broker password: from stdin, the URL, or the secrets file. Never printed."""

from __future__ import annotations

import sys
from typing import Optional

from ruview_cli.bridge.publisher import MqttTarget
from ruview_cli.errors import UsageError


def broker_password(target: MqttTarget, option: Optional[str], from_url: Optional[str]) -> Optional[str]:
    """--password - (stdin) > password in the URL > secrets file [mqtt] "HOST:PORT" or "HOST"."""
    if option is not None:
        if option != "-":
            raise UsageError("--password takes only '-' (read from stdin), so the password stays out of shell history",
                             "echo \"$PASS\" | ruview bridge URL --username USER --password -")
        text = sys.stdin.readline().rstrip("\r\n")
        if not text:
            raise UsageError("--password -: nothing on stdin", "pipe the password in, or store it in the secrets file")
        return text
    if from_url is not None:
        return from_url
    if target.username is None:
        return None
    from ruview_cli.inventory import Secrets

    return Secrets.load().broker_password(target.host, target.port)
