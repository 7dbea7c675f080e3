"""Files several ruview processes write: an exclusive lock, atomic replacement, and the
read-merge-write step that combines them, so two commands never lose each other's changes."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import Callable, Iterator

from ruview_cli.errors import RuviewError, UsageError


@contextlib.contextmanager
def file_lock(path: Path, timeout: float = 10.0) -> Iterator[None]:
    """An exclusive lock on `<path>.lock` shared by every ruview process."""
    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            import fcntl
        except ImportError:  # Windows: msvcrt locks a byte range instead
            fcntl = None
        deadline = time.monotonic() + timeout
        while True:
            try:
                if fcntl is not None:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                else:
                    import msvcrt

                    msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuviewError(f"{path} is locked by another ruview process",
                                      f"wait for it to finish, or delete {lock_path} "
                                      "if no ruview is running") from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write `text` to a temporary file beside `path` (created with `mode`, so a secret is
    never readable by others even for a moment), then rename it over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        if hasattr(os, "fchmod"):
            os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


def existing_mode(path: Path, default: int) -> int:
    try:
        return path.stat().st_mode & 0o777
    except OSError:
        return default


def read_text(path: Path) -> str | None:
    """The file's text; None when it does not exist."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise RuviewError(f"cannot read {path}: {exc.strerror or exc}",
                          "check the file's permissions") from None


def read_toml(path: Path, secret: bool = False):
    """The file as a tomlkit document; None when it does not exist. For a secret file the
    parse error names only the line (tomlkit's message may quote the secret itself)."""
    import tomlkit
    from tomlkit.exceptions import ParseError

    text = read_text(path)
    if text is None:
        return None
    try:
        return tomlkit.parse(text)
    except ParseError as exc:
        why = f"line {exc.line}" if secret else str(exc)
        raise UsageError(f"{path} is not valid TOML ({why})",
                         "fix the line it names (or move the file away to start afresh)") from None


def update_locked(path: Path, merge: Callable[[str | None], str], mode: int) -> str:
    """Read-merge-write: under the lock, `merge` gets the file's current text (None when
    absent) and returns the new text, which replaces the file atomically. Returns it."""
    with file_lock(path):
        text = merge(read_text(path))
        atomic_write(path, text, mode)
    return text


def update_toml(path: Path, apply: Callable, mode: int, secret: bool = False):
    """Read-merge-write of a TOML file: `apply` gets the current tomlkit document (None when
    the file is absent) and returns the document to write. Returns that document."""
    import tomlkit

    with file_lock(path):
        doc = apply(read_toml(path, secret=secret))
        atomic_write(path, tomlkit.dumps(doc), mode)
    return doc


__all__ = ["file_lock", "atomic_write", "existing_mode", "read_text", "read_toml",
           "update_locked", "update_toml"]
