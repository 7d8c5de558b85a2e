"""Backbone and one-class tasks both on CIFAR-100 (100 tasks).

Published (``docs/method.md#published-numbers``, :mod:`corel_jax.paper.published`; the
authors' released results, COREL_icml2019: performance_study.ipynb):
AUROC n=80: 0.790, n=120: 0.798, n=500: 0.813
(mean over classes; lambda = 20, 16 x 10 branches, radius 2, 5 draws).
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
