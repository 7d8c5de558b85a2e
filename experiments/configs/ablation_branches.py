"""Ablation over the branch layout: (32, 16, 8 branches) x (20, 10, 5 dims), and one 160-dim branch.

CIFAR-100 backbone, one-class on CIFAR-10, n=120. The paper reports its best
ablation setting at 0.792 on CIFAR-10 (``docs/method.md#published-numbers``).
The number of branches must divide the last conv's 128 channels.

Run:   python -m experiments.run experiments/configs/ablation_branches.py \
         --sweep num_branches=32,16,8 --sweep branch_dim=20,10,5 --workdir runs/ablation_branches
       python -m experiments.run experiments/configs/ablation_branches.py \
         --set num_branches=1 --set branch_dim=160 --workdir runs/ablation_single_branch
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        "ablation_branches", doc="Branch-layout ablation (CIFAR-100 -> CIFAR-10).", variant=variant
    )
