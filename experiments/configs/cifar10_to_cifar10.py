"""Backbone and one-class tasks both on CIFAR-10.

Paper (REFERENCE.md §5): AUROC n=120: 0.76 (mean over classes).
Runtime: a 50-epoch backbone on one GPU, then the one-class protocol.

Run:   python -m experiments.run experiments/configs/cifar10_to_cifar10.py --workdir runs/cifar10_to_cifar10
Smoke: python -m experiments.run experiments/configs/cifar10_to_cifar10.py --variant local --workdir /tmp/cifar10_to_cifar10
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        train_dataset="cifar10",
        eval_dataset="cifar10",
        n=[120],
        published={"n=120": 0.76},
        doc="Backbone and one-class tasks both on CIFAR-10.",
        variant=variant,
    )
