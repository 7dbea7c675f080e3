"""What the serial commands ask a person: which board, and secrets typed as `-`."""

from __future__ import annotations

import sys

import typer

from ruview_cli.errors import UsageError


def choose_port(interactive: bool) -> str:
    """The single board's port; with several, ask which one (or refuse when not interactive)."""
    from ruview_cli.device.ports import several_boards, the_port

    found = the_port()
    if isinstance(found, str):
        return found
    if not interactive or not sys.stdin.isatty():
        raise several_boards(found)
    from ruview_cli.cli._text import plain

    for i, c in enumerate(found, 1):
        typer.echo(f"  {i}. {plain(c.label())}", err=True)   # USB descriptors are untrusted
    choice = typer.prompt("which port", default="1", err=True)
    try:
        return found[int(choice) - 1].device
    except (ValueError, IndexError):
        raise UsageError(f"no port number {choice!r}", "run again and pick a listed number") from None


def read_secret(name: str, flag: str) -> str:
    """A secret given as `-`. On a terminal: asked hidden, twice (a typo would strand the node
    off its WiFi). Piped: one line of stdin, read silently (no echo, no getpass warning)."""
    if sys.stdin.isatty():
        return typer.prompt(name, hide_input=True, confirmation_prompt=True, err=True)
    line = sys.stdin.readline()
    if not line:
        raise UsageError(f"{flag} -: stdin ended before the {name} line",
                         f"pipe one line per secret given as '-' (e.g. printf '%s\\n' \"$PW\" | "
                         f"ruview provision {flag} - ...), or type it on a terminal")
    return line.rstrip("\r\n")


__all__ = ["choose_port", "read_secret"]
