"""Builds the optional C++ CPU kernel (an XLA FFI handler); all metadata is in pyproject.toml.

The kernel needs the XLA FFI headers that ship with jaxlib (a build
requirement). If it cannot be compiled, the package still installs and
``corel_jax.persistence`` uses its pure-XLA loop (same results, slower on CPU);
with ``COREL_JAX_REQUIRE_NATIVE=1`` (set by ``.ci/run``) the build fails instead.
"""

import os
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _ffi_include_dir() -> str:
    import jaxlib

    return os.path.join(os.path.dirname(jaxlib.__file__), "include")


class OptionalBuildExt(build_ext):
    """build_ext that warns instead of failing when the kernel cannot be built."""

    def build_extension(self, ext):
        try:
            ext.include_dirs.append(_ffi_include_dir())
            super().build_extension(ext)
        except Exception as err:  # noqa: BLE001 - any compiler/header problem
            if os.environ.get("COREL_JAX_REQUIRE_NATIVE") == "1":
                raise
            print(
                f"WARNING: corel_jax's native CPU kernel was not built ({err}); "
                "falling back to the pure-XLA implementation.",
                file=sys.stderr,
            )


compile_args = ["-O3", "-fno-math-errno", "-std=c++17", "-fvisibility=hidden", "-w"]
if sysconfig.get_platform().startswith("macosx"):
    compile_args.append("-mmacosx-version-min=10.15")

setup(
    ext_modules=[
        Extension(
            "corel_jax.persistence._native._prim_cpu",
            sources=["corel_jax/persistence/_native/prim_cpu.cc"],
            language="c++",
            extra_compile_args=compile_args,
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
