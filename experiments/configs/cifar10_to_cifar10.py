"""Backbone and one-class tasks both on CIFAR-10.

Paper (``docs/method.md#published-numbers``, :mod:`corel_jax.paper.published`):
AUROC n=120: 0.760 (mean over classes).
Runtime: a 50-epoch backbone on one GPU, then the one-class protocol.

Run:   python -m experiments.run experiments/configs/cifar10_to_cifar10.py --workdir runs/cifar10_to_cifar10
Smoke: python -m experiments.run experiments/configs/cifar10_to_cifar10.py --variant local --workdir /tmp/cifar10_to_cifar10
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        "cifar10_to_cifar10",
        doc="Backbone and one-class tasks both on CIFAR-10.",
        variant=variant,
    )
