"""The one boundary between untrusted text and the terminal.

Everything a node, a file, the network or the inventory says goes through `safe()` before
rich sees it: control characters (ANSI escapes, CR/LF, other C0/C1, bidi overrides) are shown
as visible \\xNN escapes, and rich markup is escaped so `[bold]` or `[/x]` is shown as typed.
Emoji codes (`:ab:` in a MAC) are switched off in the consoles themselves (cli/common.py).
"""

from __future__ import annotations

import re
from typing import Any

# C0, DEL, C1; zero-width and bidi controls that reorder or hide what follows on screen
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def _visible(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def plain(value: Any) -> str:
    """`value` as one line of printable text (for output that is not rich markup)."""
    return _CONTROL.sub(_visible, str(value))


def safe(value: Any) -> str:
    """`value` ready to be put into rich markup: one printable line, markup escaped."""
    from rich.markup import escape

    # (a trailing backslash comes out doubled: rich's escape keeps it from eating a tag after it)
    return escape(plain(value))


__all__ = ["safe", "plain"]
