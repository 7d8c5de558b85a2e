"""Ablation over lambda in {0, 1, 10, 20, 40} at the paper's 16 x 10 branches.

CIFAR-100 backbone, one-class on CIFAR-10, n = 120, radius 2, 5 draws.
Published (``docs/method.md#the-ablation``, :data:`corel_jax.paper.published.ABLATION_TABLE`,
the authors' released results, COREL_icml2019: ablation_study.ipynb), the 16 x 10 column
of the lambda x layout table:

  lambda = 0: 0.547, 1: 0.709, 10: 0.754, 20: 0.760, 40: 0.748.

lambda = 0 gives 0.500 (every score tied) only with one 160-dim branch; with 16 branches of
10 dims it gives 0.547. ``ablation_branches.py`` sweeps the whole table.

Run:   python -m experiments.run experiments/configs/ablation_lambda.py --sweep lam=0,1,10,20,40 --workdir runs/ablation_lambda
Table: python -m experiments.collect runs/ablation_lambda
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        "ablation_lambda", doc="Lambda ablation, 16 x 10 (CIFAR-100 -> CIFAR-10).", variant=variant
    )
