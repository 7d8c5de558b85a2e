"""``corel-jax info``: what this installation has: versions, devices, the C++ kernel, the extras."""

from __future__ import annotations

import argparse
import json
import platform
from typing import Any

from corel_jax._extras import extra_status
from corel_jax._version import __version__

HELP = "Show the versions, the JAX backend and devices, the C++ kernel and the installed extras."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``corel-jax info``."""
    parser.add_argument("--json", action="store_true", help="Print one JSON object instead.")


def collect() -> dict[str, Any]:
    """The facts ``corel-jax info`` prints, as a JSON-ready dict (imports JAX)."""
    import jax
    import jaxlib.version
    import numpy as np

    from corel_jax.persistence import _native, native_kernel_available

    devices = jax.devices()
    kinds = sorted({d.device_kind for d in devices})
    return {
        "corel_jax": __version__,
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "jax": jax.__version__,
        "jaxlib": jaxlib.version.__version__,
        "numpy": np.__version__,
        "backend": jax.default_backend(),
        "devices": {"count": len(devices), "kinds": kinds, "processes": jax.process_count()},
        "native_kernel": {"available": native_kernel_available(), "status": _native.STATUS},
        "extras": extra_status(),
    }


def _lines(info: dict[str, Any]) -> list[tuple[str, str]]:
    devices = info["devices"]
    kernel = info["native_kernel"]
    rows = [
        ("corel-jax", info["corel_jax"]),
        ("python", f"{info['python']} ({info['platform']})"),
        ("jax, jaxlib", f"{info['jax']}, {info['jaxlib']}"),
        ("numpy", info["numpy"]),
        (
            "backend",
            f"{info['backend']}: {devices['count']} x {', '.join(devices['kinds'])}"
            + (f" on {devices['processes']} processes" if devices["processes"] > 1 else ""),
        ),  # fmt: skip
        ("C++ CPU kernel", ("yes, " if kernel["available"] else "no: ") + kernel["status"]),
    ]
    for extra, packages in info["extras"].items():
        missing = [p for p, v in packages.items() if v is None]
        text = ", ".join(f"{p} {v}" for p, v in packages.items() if v is not None)
        if missing:
            text = f'missing {", ".join(missing)} (pip install "corel-jax[{extra}]")'
        rows.append((f"extra [{extra}]", text))
    return rows


def run(args: argparse.Namespace) -> int:
    """Prints the installation's facts, as text or (``--json``) as one JSON object."""
    info = collect()
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    rows = _lines(info)
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    return 0
