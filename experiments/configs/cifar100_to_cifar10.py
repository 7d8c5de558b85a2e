"""Backbone on CIFAR-100, one-class on CIFAR-10 (the headline row).

Published (``docs/method.md#published-numbers``, :mod:`corel_jax.paper.published`; the
authors' released results, COREL_icml2019: performance_study.ipynb):
AUROC n=80: 0.744, n=120: 0.755, n=500: 0.770
(mean over classes; lambda = 20, 16 x 10 branches, radius 2, 5 draws).
Runtime: a 50-epoch backbone on one GPU, then the one-class protocol.

Run:   python -m experiments.run experiments/configs/cifar100_to_cifar10.py --workdir runs/cifar100_to_cifar10
Smoke: python -m experiments.run experiments/configs/cifar100_to_cifar10.py --variant local --workdir /tmp/cifar100_to_cifar10
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        "cifar100_to_cifar10",
        doc="Backbone on CIFAR-100, one-class on CIFAR-10 (the headline row).",
        variant=variant,
    )
