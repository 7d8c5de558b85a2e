"""The ``corel-jax`` command line (also ``python -m corel_jax``).

One module per command (:mod:`~corel_jax.commands.train`,
:mod:`~corel_jax.commands.oneclass`, :mod:`~corel_jax.commands.demo`,
:mod:`~corel_jax.commands.score`, :mod:`~corel_jax.commands.info`), each
with ``HELP`` (one line), ``add_arguments(parser)`` and ``run(args) -> int``.
A command whose extra is not installed (``train`` and ``demo`` need
``corel-jax[train]``) stays listed; running it prints the one-line
:class:`~corel_jax._extras.MissingExtraError` naming the extra.
``corel-jax --version`` prints the version.
Commands are thin: parse, validate, call the library, print. This module wires
them up, configures logging (``--quiet`` / ``--verbose``) and turns the errors
a user can fix (a bad option, missing data, a missing optional dependency)
into one ``error: ...`` message on stderr and exit status 2, without a
traceback. The library never imports this package.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from types import ModuleType, SimpleNamespace

from corel_jax._extras import MissingExtraError
from corel_jax._version import __version__

__all__ = ["COMMANDS", "build_parser", "main"]


def _load(name: str) -> ModuleType | SimpleNamespace:
    """The module of command ``name``, or a stand-in that reports its missing extra."""
    try:
        return importlib.import_module(f"{__name__}.{name}")
    except MissingExtraError as err:
        error = err  # ``err`` is unbound once the except clause ends

        def run(args: argparse.Namespace) -> int:
            raise error

        def add_arguments(parser: argparse.ArgumentParser) -> None:
            parser.set_defaults(_unavailable=True)  # its options are unknown: accept any

        return SimpleNamespace(HELP=f"(unavailable: {error})", add_arguments=add_arguments, run=run)


# One module per command, in the order ``corel-jax --help`` lists them.
COMMANDS = {name: _load(name) for name in ("train", "oneclass", "demo", "score", "info")}


class _ConsoleHandler(logging.Handler):
    """Library messages for a terminal: INFO and below to stdout, warnings and errors to stderr.

    The streams are looked up when a message is written, so redirections of
    ``sys.stdout`` (e.g. pytest's capture) are honoured.
    """

    def emit(self, record: logging.LogRecord) -> None:
        stream = sys.stdout if record.levelno < logging.WARNING else sys.stderr
        prefix = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        stream.write(prefix + self.format(record) + "\n")
        stream.flush()


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``PROG: error: MESSAGE (see PROG --help)``, exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _HelpFormatter(argparse.HelpFormatter):
    """Option help that adds what the text does not say yet: the choices and a real default.

    A default is shown unless it is None or a flag's, the option is required,
    or the help text already speaks of its default; tuples show as ``32 64
    128``, as they are typed. An option with choices lists them (give it a
    ``metavar``, or argparse spells them out in the usage too).
    """

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if action.choices is not None:
            text += f" One of: {', '.join(map(str, action.choices))}."
        default = action.default
        if (
            action.option_strings
            and not action.required
            and action.nargs != 0  # a flag: store_true / store_const
            and default not in (None, argparse.SUPPRESS)
            and "default" not in text.lower()
        ):
            shown = " ".join(map(str, default)) if isinstance(default, tuple | list) else default
            text += f" (default: {str(shown).replace('%', '%%')})"
        return text


def configure_logging(verbosity: int) -> None:
    """Shows ``corel_jax``'s messages: warnings only (-1), progress (0), or debug (1).

    The messages are not passed on to the root logger: a dependency may give
    that one a handler of its own (absl does, when orbax first logs), and each
    line would be printed twice.
    """
    logger = logging.getLogger("corel_jax")
    for handler in [h for h in logger.handlers if isinstance(h, _ConsoleHandler)]:
        logger.removeHandler(handler)
    logger.addHandler(_ConsoleHandler())
    logger.propagate = False
    logger.setLevel({-1: logging.WARNING, 0: logging.INFO}.get(verbosity, logging.DEBUG))


def build_parser() -> argparse.ArgumentParser:
    """The full ``corel-jax`` argument parser."""
    parser = _Parser(
        prog="corel-jax",
        description="COREL in JAX: connectivity-optimized representation learning.",
    )
    parser.add_argument("--version", action="version", version=f"corel-jax {__version__}")
    common = _Parser(add_help=False)
    loudness = common.add_mutually_exclusive_group()
    loudness.add_argument("-q", "--quiet", dest="verbosity", action="store_const", const=-1,
                          default=0, help="Print warnings and results only.")  # fmt: skip
    loudness.add_argument("-v", "--verbose", dest="verbosity", action="store_const", const=1,
                          help="Print debugging messages too.")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, module in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=module.HELP,
            description=module.HELP,
            parents=[common],
            formatter_class=_HelpFormatter,
        )
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``corel-jax`` console script; returns the exit status."""
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown and not getattr(args, "_unavailable", False):
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    configure_logging(args.verbosity)
    try:
        return int(args._run(args) or 0)
    except (ValueError, MissingExtraError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C: no traceback; the runs saved their checkpoints
        print("interrupted: what was saved is kept; run the same command again to resume "
              "(add --resume for corel-jax train).", file=sys.stderr)  # fmt: skip
        return 130
