"""Serial and esptool failures → RuviewError with the cause and the usual fix."""

from __future__ import annotations

import errno
import sys

from ruview_cli.errors import RuviewError


def explain(exc: BaseException, port: str, step: str = "connect") -> RuviewError:
    """A RuviewError naming `port`, what went wrong and what to do about it."""
    if isinstance(exc, RuviewError):
        return exc
    text = str(exc) or type(exc).__name__
    # esptool wraps pyserial's error ("the port is busy or doesn't exist" + the real cause):
    # look at the whole chain, the specific cause first
    chain, seen = [], exc
    while seen is not None and len(chain) < 5:
        chain.append(seen)
        seen = seen.__cause__ or seen.__context__
    low = " ".join(str(e) for e in chain).lower().replace("busy or doesn't exist", "")
    err_no = next((e.errno for e in chain if isinstance(getattr(e, "errno", None), int)), None)
    for code, pattern in ((errno.ECONNREFUSED, "errno 111"), (errno.EACCES, "errno 13"),
                          (errno.ENOENT, "errno 2]"), (errno.EBUSY, "errno 16")):
        if err_no is None and pattern in low:
            err_no = code

    if err_no == errno.EACCES or "permission denied" in low:
        fix = ("add yourself to the dialout group (`sudo usermod -aG dialout $USER`, then log out "
               "and in again)" if sys.platform.startswith("linux") else
               "check that your user may open the port")
        return RuviewError(f"permission denied on {port}", fix)
    if err_no == errno.ECONNREFUSED or "connection refused" in low:
        return RuviewError(f"nothing is listening at {port}",
                           "start the emulated fleet first (`ruview sim`) and use its serial_url")
    if err_no == errno.EBUSY or "busy" in low or "could not exclusively lock" in low:
        return RuviewError(
            f"{port} is busy: another program has it open",
            "close serial monitors (idf.py monitor, screen, minicom); on Linux stop ModemManager "
            "(`sudo systemctl stop ModemManager`) or remove brltty, which grab USB serial adapters",
        )
    if err_no == errno.ENOENT or "no such file" in low:
        return RuviewError(f"serial port {port} does not exist",
                           "check the cable and the name (`ls /dev/ttyACM* /dev/ttyUSB*`), or omit "
                           "--port to auto-detect")
    if "failed to connect" in low or "no serial data received" in low or "wrong boot mode" in low:
        return RuviewError(
            f"no answer from the bootloader on {port}",
            "hold the BOOT button while pressing RESET to enter download mode, check the cable, "
            "or try a slower link with --baud 115200",
        )
    if step in ("write", "verify", "read") or isinstance(exc, (OSError, EOFError)) or \
            "timed out" in low or "serial" in low or "connection" in low:
        return RuviewError(f"the serial link to {port} failed during {step}: {text}",
                           "check the cable and run the command again")
    return RuviewError(f"{step} on {port} failed: {text}", "run the command again; if it keeps "
                       "failing, try --baud 115200")


__all__ = ["explain"]
