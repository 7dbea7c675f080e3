"""`ruview image info`: what an application image contains, checked as a node would check it."""

from __future__ import annotations

from pathlib import Path

import typer

from ruview_cli.cli.common import console, emit_json, report_errors
from ruview_cli.cli._text import safe
from ruview_cli.errors import UsageError

ORDER = 52

_INFO_HELP = """Inspect an ESP32-S3 application image before sending it anywhere.

Parses the header, segments, checksum byte, appended SHA-256 and the esp_app_desc_t with esptool's image module, and refuses what the bootloader would refuse (wrong chip, corrupt or truncated file), naming the reason (exit code 1).

--json keys: file, chip, chip_id, min_rev, max_rev, segments, checksum_ok, sha256_ok, project_name, version, idf_ver, date, time, app_elf_sha256, secure_version, size, sha256 (of the image bytes), file_size, file_sha256.

[b]Examples[/b]

  ruview image info build/ruview.bin

  ruview image info build/ruview.bin --json | jq -r .version
"""


def register(app: typer.Typer) -> None:
    sub = typer.Typer(help="Inspect firmware images.", no_args_is_help=True)
    sub.command("info", help=_INFO_HELP)(info)
    app.add_typer(sub, name="image")


@report_errors
def info(
    file: str = typer.Argument(..., metavar="FILE", help="Application image (.bin)."),
    as_json: bool = typer.Option(False, "--json", help="One JSON object."),
) -> None:
    import hashlib

    from ruview_cli.ota.image import inspect_image

    path = Path(file)
    if path.is_dir():
        raise UsageError(f"{file} is a directory, not an application image", _image_in(path))
    if not path.is_file():
        raise UsageError(f"no such file: {file}", "pass build/<project>.bin from `idf.py build`")
    data = path.read_bytes()
    img = inspect_image(data)
    record = dict(file=str(path), **img.to_json(), file_size=len(data),
                  file_sha256=hashlib.sha256(data).hexdigest())
    if as_json:
        emit_json(record)
        return
    out = console()
    rev = (f"v{img.min_rev // 100}.{img.min_rev % 100} .. "
           + ("any" if img.max_rev in (0, 0xFFFF) else f"v{img.max_rev // 100}.{img.max_rev % 100}"))
    rows = [("project", img.project_name), ("version", img.version), ("IDF", img.idf_ver),
            ("built", f"{img.date} {img.time}"), ("chip", f"{img.chip} (id {img.chip_id})"),
            ("chip revision", rev), ("size", f"{img.size} bytes"
                                     + (f" (file {len(data)} bytes)" if len(data) != img.size else "")),
            ("segments", ", ".join(f"0x{a:08x}+{n}" for a, n in img.segments)),
            ("checksum", "ok"),
            ("SHA-256 appended", {None: "no", True: "yes, matches"}.get(img.sha256_ok, "mismatch")),
            ("sha256", img.sha256), ("secure version", str(img.secure_version))]
    for k, v in rows:
        out.print(f"[bold]{k + ':':<18}[/]{safe(v)}", soft_wrap=True)


def _image_in(build_dir: Path) -> str:
    """The fix for `image info DIR`: the app image an ESP-IDF build directory holds, if any."""
    import json

    try:
        app_bin = json.loads((build_dir / "project_description.json").read_text()).get("app_bin")
    except (OSError, ValueError, AttributeError):
        app_bin = None
    if app_bin and (build_dir / app_bin).is_file():
        return f"pass the application image it holds: `ruview image info {build_dir / app_bin}`"
    bins = sorted(p.name for p in build_dir.glob("*.bin"))
    if bins:
        return f"pass one of its .bin files ({', '.join(bins[:5])}), the application image"
    return "pass build/<project>.bin from `idf.py build` (the directory holds no .bin file)"
