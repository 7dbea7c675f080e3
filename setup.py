"""Builds ruview_cli._edge: the firmware's portable C core (firmware/components/ruview_edge)
compiled as a CPython extension, so the simulator and replay run the node's own DSP."""

from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_py import build_py


class BuildPy(build_py):
    """A wheel has no firmware/: carry its version.txt into the package (ruview_cli/versions.py)."""

    def run(self):
        super().run()
        target = Path(self.build_lib) / "ruview_cli" / "firmware_version.txt"
        target.write_text((HERE / "firmware" / "version.txt").read_text())


HERE = Path(__file__).parent
CORE = Path("firmware/components/ruview_edge")

setup(
    cmdclass={"build_py": BuildPy},
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
