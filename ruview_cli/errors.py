"""One exception type for every failure a user should read: what went wrong, and what to do."""

from __future__ import annotations

# Exit codes shared by every command (DESIGN.md conventions).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_PARTIAL = 3


def fleet_exit_code(succeeded: int, total: int) -> int:
    """The one rule for commands that act on several nodes: 0 when every node succeeded,
    1 when none did, 3 (partial) when some did and some did not."""
    if succeeded >= total:
        return EXIT_OK
    return EXIT_PARTIAL if succeeded > 0 else EXIT_FAILED


class RuviewError(Exception):
    """An expected failure. The CLI prints `message` and `fix`, never a traceback."""

    def __init__(self, message: str, fix: str | None = None, exit_code: int = EXIT_FAILED):
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.exit_code = exit_code

    def __str__(self) -> str:
        return self.message if not self.fix else f"{self.message} ({self.fix})"


class UsageError(RuviewError):
    """Bad input from the command line, a profile or a file: nothing was touched."""

    def __init__(self, message: str, fix: str | None = None):
        super().__init__(message, fix, exit_code=EXIT_USAGE)
