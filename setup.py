"""Builds ruview_cli._edge: the firmware's portable C core (firmware/components/ruview_edge)
compiled as a CPython extension, so the simulator and replay run the node's own DSP."""

from pathlib import Path

from setuptools import Extension, setup

HERE = Path(__file__).parent
CORE = Path("firmware/components/ruview_edge")
BINDING = Path("ruview_cli/_edgemodule.c")

sources = [str(BINDING)] + sorted(str(p) for p in (HERE / CORE / "src").glob("*.c"))
sources = [str(Path(s).relative_to(HERE)) if Path(s).is_absolute() else s for s in sources]

ext_modules = []
if (HERE / BINDING).exists():
    ext_modules.append(
        Extension(
            "ruview_cli._edge",
            sources=sources,
            include_dirs=[str(CORE / "include"), str(CORE / "src")],
            extra_compile_args=["-std=c11", "-O2"],
        )
    )

setup(ext_modules=ext_modules)
