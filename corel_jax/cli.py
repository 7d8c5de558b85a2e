"""The ``corel-jax`` command line (also ``python -m corel_jax``).

Each subcommand lives in the module that implements it; this file only wires
them up. A subcommand module provides two functions::

    add_cli_arguments(parser: argparse.ArgumentParser) -> None
    run_cli(args: argparse.Namespace) -> int

and is imported only when the command line is built, so ``import corel_jax``
stays light.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# name -> (module, one-line help)
_COMMANDS: dict[str, tuple[str, str]] = {
    "train": ("corel_jax.train", "Train an autoencoder with the connectivity loss."),
    "oneclass": ("corel_jax.oneclass", "One-class evaluation of a trained backbone."),
    "demo": ("corel_jax.demo", "Train and evaluate on offline data in one go (~10 min on a CPU)."),
}


def build_parser() -> argparse.ArgumentParser:
    """Returns the full ``corel-jax`` argument parser."""
    parser = argparse.ArgumentParser(
        prog="corel-jax",
        description="COREL in JAX: connectivity-optimized representation learning.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module_name, help_text) in _COMMANDS.items():
        module = importlib.import_module(module_name)
        p = sub.add_parser(
            name,
            help=help_text,
            description=(module.__doc__ or help_text).strip().splitlines()[0],
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        module.add_cli_arguments(p)
        p.set_defaults(_run=module.run_cli)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``corel-jax`` console script."""
    args = build_parser().parse_args(argv)
    return int(args._run(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
