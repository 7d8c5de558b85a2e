"""Backbone on CIFAR-100, 1,000 one-class tasks on ImageNet 32x32.

Published (``docs/method.md#published-numbers``, :mod:`corel_jax.paper.published`; the
authors' released results, COREL_icml2019: performance_study.ipynb):
AUROC n=80: 0.712, n=120: 0.721, n=500: 0.736
(mean over classes; lambda = 20, 16 x 10 branches, radius 2, 5 draws).
Runtime: a 50-epoch backbone on one GPU, then the one-class protocol.

Run:   python -m experiments.run experiments/configs/cifar100_to_imagenet.py --workdir runs/cifar100_to_imagenet
Smoke: python -m experiments.run experiments/configs/cifar100_to_imagenet.py --variant local --workdir /tmp/cifar100_to_imagenet
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        "cifar100_to_imagenet",
        doc="Backbone on CIFAR-100, 1,000 one-class tasks on ImageNet 32x32.",
        variant=variant,
    )
