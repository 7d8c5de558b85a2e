"""The lambda x branch-layout ablation: lambda in {0, 1, 10, 20, 40} x layouts (branches x dims).

CIFAR-100 backbone, one-class on CIFAR-10, n = 120, radius 2, 5 draws. Published
(``docs/method.md#the-ablation``, :data:`corel_jax.paper.published.ABLATION_TABLE`, the
authors' released results, COREL_icml2019: ablation_study.ipynb), one backbone per cell:

  | lambda | 1 x 160 | 8 x 10 | 16 x 10 | 32 x 10 | 16 x 20 |
  | --- | --- | --- | --- | --- | --- |
  | 0 | 0.500 | 0.562 | 0.547 | 0.533 | 0.514 |
  | 1 | 0.645 | 0.691 | 0.709 | 0.706 | 0.720 |
  | 10 | 0.645 | 0.748 | 0.754 | 0.767 | 0.742 |
  | 20 | 0.633 | 0.747 | 0.760 | 0.763 | 0.720 |
  | 40 | 0.631 | 0.741 | 0.748 | 0.753 | 0.690 |

The best score of the whole ablation, 0.792 (lambda = 20, 16 x 10), is at n = 5000 and
radius 1.5 (:data:`corel_jax.paper.published.ABLATION_BEST`), not an n = 120 cell.
The number of branches must divide the last conv's 128 channels. A row of the results is
compared with its cell when the command names the layout (``--set num_branches=...
--set branch_dim=...``), as below.

Run (one command per layout; all write their rows to the same WORKDIR/results.json):
  for layout in 1:160 8:10 16:10 32:10 16:20; do
    python -m experiments.run experiments/configs/ablation_branches.py \
      --set num_branches=${layout%:*} --set branch_dim=${layout#*:} --sweep lam=0,1,10,20,40 \
      --workdir runs/ablation_branches
  done
Table: python -m experiments.collect runs/ablation_branches
"""

from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    return make(
        "ablation_branches",
        doc="Lambda x layout ablation (CIFAR-100 -> CIFAR-10).",
        variant=variant,
    )
