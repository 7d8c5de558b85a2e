"""Builds the optional C++ CPU kernel (an XLA FFI handler); all metadata is in pyproject.toml.

The kernel needs the XLA FFI headers that ship with jaxlib (a build
requirement). If it cannot be compiled, the package still installs and
``corel_jax.persistence`` uses its pure-XLA loop (same results, slower on CPU);
with ``COREL_JAX_REQUIRE_NATIVE=1`` (set by ``.ci/run``) the build fails instead.

pip hides a build's output unless it runs with ``-v``, so the outcome is also
written next to the kernel, in ``corel_jax/persistence/_native/_build.json``:
whether it was built, against which jaxlib and XLA FFI API version, and the
error if not. ``corel_jax.persistence.native_kernel_available()`` and
``corel-jax info`` read it, and importing ``corel_jax.persistence`` logs a
warning when the build failed.
"""

import json
import os
import re
import sys
import sysconfig

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

RECORD = "_build.json"


def _jaxlib() -> tuple[str, str]:
    """The installed jaxlib's version and include folder."""
    import jaxlib
    import jaxlib.version

    return jaxlib.version.__version__, os.path.join(os.path.dirname(jaxlib.__file__), "include")


def ffi_api_version(include_dir: str) -> list[int] | None:
    """``[major, minor]`` of the XLA FFI API declared by the headers in ``include_dir``."""
    try:
        with open(os.path.join(include_dir, "xla", "ffi", "api", "c_api.h")) as f:
            text = f.read()
    except OSError:
        return None
    found = [re.search(rf"#define XLA_FFI_API_{k}\s+(\d+)", text) for k in ("MAJOR", "MINOR")]
    return [int(m.group(1)) for m in found] if all(found) else None


class OptionalBuildExt(build_ext):
    """build_ext that records the outcome and warns instead of failing when the kernel cannot be built."""

    def build_extension(self, ext):
        record = {"built": False, "jaxlib": None, "ffi_api": None, "error": None}
        try:
            record["jaxlib"], include = _jaxlib()
            record["ffi_api"] = ffi_api_version(include)
            ext.include_dirs.append(include)
            super().build_extension(ext)
            record["built"] = True
            print(
                f"corel_jax: built the native CPU kernel against jaxlib {record['jaxlib']}",
                file=sys.stderr,
            )
        except Exception as err:  # noqa: BLE001 - any compiler/header problem
            if os.environ.get("COREL_JAX_REQUIRE_NATIVE") == "1":
                raise
            record["error"] = f"{type(err).__name__}: {err}".splitlines()[0][:500]
            print(
                f"WARNING: corel_jax's native CPU kernel was not built ({record['error']}); "
                "falling back to the pure-XLA implementation.",
                file=sys.stderr,
            )
        _write_record(os.path.dirname(self.get_ext_fullpath(ext.name)), record)
        self._records = {**getattr(self, "_records", {}), ext.name: record}

    def copy_extensions_to_source(self):
        """``--inplace`` (and editable installs): the record goes next to the sources too."""
        super().copy_extensions_to_source()
        for ext in self.extensions:
            if ext.name in getattr(self, "_records", {}):
                _write_record(os.path.dirname(ext.sources[0]), self._records[ext.name])


def _write_record(folder: str, record: dict) -> None:
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, RECORD), "w") as f:
        json.dump(record, f)


def _compile_args() -> list[str]:
    """Flags for GCC/Clang; nothing here is specific to an instruction set.

    x86-64 builds get AVX-512/AVX2 clones from ``target_clones`` in the
    source itself, which it only uses on x86-64 ELF targets (Linux).
    """
    args = ["-O3", "-fno-math-errno", "-std=c++17", "-fvisibility=hidden", "-w"]
    if sysconfig.get_platform().startswith("macosx"):
        args.append("-mmacosx-version-min=10.15")
    return args


setup(
    ext_modules=[
        Extension(
            "corel_jax.persistence._native._prim_cpu",
            sources=[
                "corel_jax/persistence/_native/prim_cpu.cc",
                "corel_jax/persistence/_native/graph_cpu.cc",
            ],
            depends=["corel_jax/persistence/_native/parallel.h"],
            language="c++",
            extra_compile_args=_compile_args(),
        )
    ],
    cmdclass={"build_ext": OptionalBuildExt},
)
