"""Helpers every command shares: consoles, JSON output, turning RuviewError into an exit code."""

from __future__ import annotations

import functools
import json
import sys
from typing import Any, Callable, TypeVar

import typer

from ruview_cli.errors import EXIT_FAILED, RuviewError

F = TypeVar("F", bound=Callable[..., Any])


def console(stderr: bool = False):
    """A rich console; colour and live rendering switch off by themselves when not a TTY.
    No emoji codes: `:ab:` inside a MAC address must stay a MAC (text from nodes goes through
    cli._text.safe, which escapes markup but cannot escape emoji codes)."""
    from rich.console import Console

    return Console(stderr=stderr, highlight=False, emoji=False)


def emit_json(obj: Any) -> None:
    """One JSON document per line on stdout, flushed, so pipes see it at once."""
    sys.stdout.write(json.dumps(obj, separators=(",", ":"), sort_keys=False) + "\n")
    sys.stdout.flush()


def deprecated_alias(old_flag: str, old_value: Any, new_flag: str, new_value: Any) -> Any:
    """An old option spelling, kept for one release: its value, with a note on stderr."""
    if old_value is None:
        return new_value
    if new_value is not None:
        from ruview_cli.errors import UsageError

        raise UsageError(f"{old_flag} and {new_flag} are the same option here", f"give only {new_flag}")
    sys.stderr.write(f"ruview: note: {old_flag} is deprecated here and will be removed in the next "
                     f"release; use {new_flag}\n")
    return old_value


def report_errors(func: F) -> F:
    """Turn RuviewError (and Ctrl-C) into a clear message and the documented exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except RuviewError as exc:
            from ruview_cli.cli._text import safe

            err = console(stderr=True)  # messages quote file names, node replies, user input
            err.print(f"[bold red]error:[/] {safe(exc.message)}", soft_wrap=True)
            if exc.fix:
                err.print(f"[bold]fix:[/] {safe(exc.fix)}", soft_wrap=True)
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            raise typer.Exit(130) from None

    return wrapper  # type: ignore[return-value]


__all__ = ["console", "deprecated_alias", "emit_json", "report_errors", "EXIT_FAILED"]
