"""The one-line status `ruview bridge` keeps on a terminal (stderr), refreshed a few times a second."""

from __future__ import annotations

REFRESH_S = 0.5


class StatusLine:
    def __init__(self, err, session):
        self._err = err
        self._session = session
        self._next = 0.0

    def refresh(self, now: float) -> None:
        if now < self._next:
            return
        self._next = now + REFRESH_S
        from ruview_cli.cli._text import plain

        line = plain(self._session.status_line())[: max(20, self._err.width - 1)]
        self._err.file.write("\r\x1b[2K" + line)
        self._err.file.flush()

    def close(self) -> None:
        self._err.file.write("\r\x1b[2K")
        self._err.file.flush()
