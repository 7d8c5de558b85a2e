"""Backbone and one-class tasks both on CIFAR-100 (100 tasks).

Paper (``docs/method.md#published-numbers``, :mod:`corel_jax.paper.published`):
AUROC n=120: 0.798 (mean over classes).
Runtime: a 50-epoch backbone on one GPU, then the one-class protocol.

Run:   python -m experiments.run experiments/configs/cifar100_to_cifar100.py --workdir runs/cifar100_to_cifar100
Smoke: python -m experiments.run experiments/configs/cifar100_to_cifar100.py --variant local --workdir /tmp/cifar100_to_cifar100
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        "cifar100_to_cifar100",
        doc="Backbone and one-class tasks both on CIFAR-100 (100 tasks).",
        variant=variant,
    )
