"""esptool's logger is one process-global object; this one routes each thread's output to the
sink that thread registered, so ports provisioned in parallel never mix their messages or
progress bars. Threads without a sink are silent (their failures arrive as exceptions).
"""

from __future__ import annotations

import contextlib
import re
import threading
from typing import Callable, Iterator

# sink(kind, text, fraction): kind "info" | "warn" | "error" | "progress"
Sink = Callable[[str, str, "float | None"], None]

_local = threading.local()
_install_lock = threading.Lock()
_installed = False
_MARKUP = re.compile(r"\[/?[a-z ]+\]")


def _emit(kind: str, text: str, fraction: float | None = None) -> None:
    sink = getattr(_local, "sink", None)
    if sink is not None:
        try:
            sink(kind, _MARKUP.sub("", text).strip(), fraction)
        except Exception:  # a broken display must not break a flash write
            pass


def _make_logger():
    from esp_pylib.logger import EspLogBase

    class RoutingLogger(EspLogBase):
        def print(self, *args, **kwargs) -> None:
            _emit("info", " ".join(str(a) for a in args))

        def note(self, *args) -> None:
            _emit("info", " ".join(str(a) for a in args))

        def hint(self, *args) -> None:
            _emit("info", " ".join(str(a) for a in args))

        def debug(self, *args) -> None:
            pass

        def warn(self, *args, suggestion: str | None = None) -> None:
            _emit("warn", " ".join(str(a) for a in args))

        def err(self, *args, suggestion: str | None = None) -> None:
            _emit("error", " ".join(str(a) for a in args))

        warning = warn
        error = err

        def set_verbosity(self, mode) -> None:
            pass

        def progress_bar(self, cur_iter, total_iters, prefix="", suffix="", bar_length=30) -> None:
            frac = (cur_iter / total_iters) if total_iters else 1.0
            _emit("progress", str(prefix), max(0.0, min(1.0, frac)))

    return RoutingLogger()


def install() -> None:
    """Install the routing logger as esptool's logger (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        from esptool.logger import log

        log.set_logger(_make_logger())
        try:  # esptool's reset warnings hold the default logger's bound method: route them too
            from esptool import reset as _reset

            _reset.ResetStrategy.print_once = _PerThreadOnce()
        except (ImportError, AttributeError):
            pass
        _installed = True


class _PerThreadOnce:
    """esptool's PrintOnce, per thread and through our routing."""

    def __call__(self, text) -> None:
        if not getattr(_local, "warned", False):
            _local.warned = True
            _emit("warn", str(text))


@contextlib.contextmanager
def routed(sink: Sink | None) -> Iterator[None]:
    """Send esptool output produced by this thread to `sink` for the duration."""
    install()
    old = getattr(_local, "sink", None)
    _local.sink = sink
    try:
        yield
    finally:
        _local.sink = old
