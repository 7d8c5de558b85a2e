"""``corel-jax train``: train a backbone; its options are generated from TrainConfig's fields."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import types
import typing
from pathlib import Path

from corel_jax._files import check_directory
from corel_jax.training.config import TrainConfig

HELP = "Train an autoencoder with the connectivity loss."


def _metric(text: str) -> str | tuple[str, float]:
    """``--metric`` values: a name (``l1``, ``l2``, ...) or ``minkowski:P``."""
    kind, _, p = text.partition(":")
    if not p:
        return text
    try:
        return kind, float(p)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a Minkowski exponent: {p!r}") from None


def _labels(text: str) -> tuple[int, ...]:
    """``--classes`` values: comma-separated labels, ``0,1,2,3,4``."""
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not comma-separated ints: {text!r}") from None


# Field types -> (argparse type, nargs); fields of other types name their parser here.
_TYPES = {str: (str, None), int: (int, None), float: (float, None), tuple[int, ...]: (int, "+")}
_BY_NAME = {"metric": (_metric, None), "classes": (_labels, None)}


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """One option per :class:`TrainConfig` field: ``--field-name``.

    The field's metadata gives the help text and, optionally, more ``flags``
    and the ``choices``; its type gives the option's type.
    """
    hints = typing.get_type_hints(TrainConfig)
    for f in dataclasses.fields(TrainConfig):
        hint = hints[f.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if f.name in _BY_NAME:
            kind, nargs = _BY_NAME[f.name]
        else:
            union = typing.get_origin(hint) in (typing.Union, types.UnionType)
            kind, nargs = _TYPES[args[0] if union else hint]
        flags = (f"--{f.name.replace('_', '-')}", *f.metadata.get("flags", ()))
        choices = f.metadata.get("choices")
        parser.add_argument(*flags, dest=f.name, type=kind, nargs=nargs, default=f.default,
                            choices=choices, metavar=f.name.upper() if choices else None,
                            help=f.metadata["help"])  # fmt: skip


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed options (validated); ``--data`` as an absolute path,
    so that a run resumes from any folder."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)}
    if values["data"] is not None:
        values["data"] = os.path.abspath(os.path.expanduser(values["data"]))
    return TrainConfig.from_dict(values)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``corel-jax train``; touches no JAX backend (``--distributed`` needs that)."""
    a = parser.add_argument
    a("--workdir", required=True, help="Run directory: checkpoints, config.json, metrics.jsonl.")
    a("--resume", action="store_true", help="Continue the run in --workdir from its latest "
      "checkpoint (same options as the first run; a larger --epochs extends it). Without it "
      "--workdir must be new or empty.")  # fmt: skip
    add_config_arguments(parser)
    a("--offline", action="store_true", help="Never download: a dataset that is not on this "
      "machine is an error that says how to get it. Without it, a missing tensorflow-datasets "
      "dataset is downloaded and prepared in --data-dir (or ~/tensorflow_datasets).")  # fmt: skip
    a("--distributed", action="store_true", help="Multi-host: call jax.distributed.initialize "
      "(see corel_jax.training.train). Never downloads: prepare the dataset first.")  # fmt: skip
    a("--coordinator-address", default=None, help="Multi-host: host:port of process 0.")
    a("--num-processes", type=int, default=None, help="Multi-host: number of processes.")
    a("--process-id", type=int, default=None, help="Multi-host: this process's index.")


def run(args: argparse.Namespace) -> int:
    """Validates the options, gets the data, trains, prints the summary.

    Returns 0, or 1 when a step gave a non-finite loss or gradient (the run
    stopped there, with one line on stderr naming the step and the term).
    """
    config = config_from_args(args)
    check_directory(args.workdir, "--workdir")
    from corel_jax import data

    # Every host of a multi-host run reads the same data: none of them downloads it.
    download = not (args.offline or args.distributed)
    no_download = (
        "--distributed (every host reads the same prepared data; prepare it once first)"
        if args.distributed and not args.offline
        else "--offline"
    )
    if config.data is None:  # own images are read (and checked) when training starts
        data.prepare(config.catalog_dataset(), data_dir=config.data_dir, download=download,
                     no_download=no_download)  # fmt: skip
    import jax

    from corel_jax.training.train import NonFiniteError, train_and_evaluate

    if args.distributed:
        jax.config.update("jax_cpu_collectives_implementation", "gloo")  # CPU collectives
        jax.distributed.initialize(
            coordinator_address=args.coordinator_address,
            num_processes=args.num_processes,
            process_id=args.process_id,
        )
    try:
        summary = train_and_evaluate(config, args.workdir, resume=args.resume)
    except NonFiniteError as err:  # the run stopped; its newest checkpoint is finite
        print(f"error: {err}", file=sys.stderr)
        return 1
    if jax.process_index() == 0:
        print(json.dumps(summary, indent=2))
        print(f"outputs in {Path(args.workdir).absolute()}")
    return 0
