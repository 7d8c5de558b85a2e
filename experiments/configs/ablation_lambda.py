"""Ablation over lambda in {0, 1, 10, 20, 40}: CIFAR-100 backbone, one-class on CIFAR-10, n=120.

Paper (``docs/method.md#published-numbers``, :mod:`corel_jax.paper.published`):
lambda = 0 gives 0.500 (all scores tie: the latent scale is not controlled);
lambda = 20 is the headline 0.755.

Run:   python -m experiments.run experiments/configs/ablation_lambda.py --sweep lam=0,1,10,20,40 --workdir runs/ablation_lambda
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make("ablation_lambda", doc="Lambda ablation (CIFAR-100 -> CIFAR-10).", variant=variant)
