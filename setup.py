"""Builds ruview_cli._edge: the firmware's portable C core (firmware/components/ruview_edge)
compiled as a CPython extension, so the simulator and replay run the node's own DSP."""

from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
CORE = Path("firmware/components/ruview_edge")

setup(
    ext_modules=[
        Extension(
            "ruview_cli._edge",
            sources=["ruview_cli/_edgemodule.c"]
            + sorted(str(p.relative_to(HERE)) for p in (HERE / CORE / "src").glob("*.c")),
            include_dirs=[str(CORE / "include"), str(CORE / "src")],
            depends=sorted(str(p.relative_to(HERE)) for p in (HERE / CORE).rglob("*.h")),
            extra_compile_args=["-std=c11", "-O2"],
        )
    ]
)
