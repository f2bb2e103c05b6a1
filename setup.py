"""Build the Cython kernels in ``native/`` into ``skfast._native``.

Every ``native/<name>.pyx`` becomes the extension ``skfast._native.<name>``,
compiled once with the directives below and linked against numpy's
``npyrandom`` library, so kernels draw from the caller's
``numpy.random.Generator`` through numpy's C random API.

OpenMP is probed with the compiler that will build the extensions. Where the
probe fails (Apple clang without libomp, for instance) the kernels are built
serially and the build says so; set ``SKFAST_NO_OPENMP=1`` to force that.
"""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).parent
NATIVE_DIR = HERE / "native"

COMPILER_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": False,
    "wraparound": False,
    "cdivision": True,
    "initializedcheck": False,
    "nonecheck": False,
    "embedsignature": True,
}

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def _openmp_flags(compiler_type):
    if sys.platform == "win32" and compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        return ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
    return ["-fopenmp"], ["-fopenmp"]


class BuildExtWithOpenMP(build_ext):
    """Add OpenMP flags where the compiler accepts them, else build serially."""

    def _probe_openmp(self, compile_args, link_args):
        with tempfile.TemporaryDirectory() as tmp:
            source = Path(tmp) / "probe.c"
            source.write_text(OPENMP_PROBE)
            try:
                objects = self.compiler.compile(
                    [str(source)], output_dir=tmp, extra_postargs=compile_args
                )
                self.compiler.link_executable(
                    objects, "probe", output_dir=tmp, extra_postargs=link_args
                )
            except Exception:  # noqa: BLE001 - any failure means no OpenMP
                return False
        return True

    def build_extensions(self):
        compile_args, link_args = _openmp_flags(self.compiler.compiler_type)
        if os.environ.get("SKFAST_NO_OPENMP"):
            use_openmp = False
            reason = "SKFAST_NO_OPENMP is set"
        else:
            use_openmp = self._probe_openmp(compile_args, link_args)
            reason = "the compiler could not build an OpenMP test program"

        if use_openmp:
            print("skfast: building native kernels with OpenMP")
        else:
            print(
                "skfast: building native kernels WITHOUT OpenMP "
                f"({reason}); they will run on one thread. "
                "Install an OpenMP runtime (libgomp, or libomp on macOS) "
                "and reinstall to use every core."
            )

        for ext in self.extensions:
            ext.extra_compile_args = ["-O3"] if os.name != "nt" else ["/O2"]
            if use_openmp:
                ext.extra_compile_args += compile_args
                ext.extra_link_args = list(link_args)
        super().build_extensions()


def _extensions():
    numpy_include = np.get_include()
    npyrandom_dir = str(Path(numpy_include).parent.parent / "random" / "lib")
    extensions = []
    for pyx in sorted(NATIVE_DIR.glob("*.pyx")):
        extensions.append(
            Extension(
                f"skfast._native.{pyx.stem}",
                [str(pyx.relative_to(HERE))],
                include_dirs=[numpy_include],
                library_dirs=[npyrandom_dir],
                libraries=["npyrandom"] + (["m"] if os.name != "nt" else []),
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        )
    return cythonize(
        extensions,
        compiler_directives=COMPILER_DIRECTIVES,
        include_path=[str(NATIVE_DIR)],
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExtWithOpenMP})
