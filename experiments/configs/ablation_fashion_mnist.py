"""The lambda x branch-layout ablation on Fashion-MNIST, beside the authors' CIFAR table.

The paper's ablation (backbone on CIFAR-100, one-class on CIFAR-10, n = 120,
radius 2; :data:`corel_jax.paper.published.ABLATION_TABLE`) measured on the
data that is offline here, as a transfer like the paper's: the branch
autoencoder is trained for 10 epochs on the 30,000 train images of
Fashion-MNIST's classes 0-4 (group A of ``transfer.py``), then the one-class
protocol (n = 120, 5 draws, radius = eta = 2) runs on all ten classes; each
row gives the mean over all ten, over the five seen and the five unseen ones.
One backbone per cell: lambda in {0, 1, 10, 20, 40} x layouts (branches x
dims) {1 x 160, 8 x 10, 16 x 10, 32 x 10, 16 x 20}. Only COREL's ball-count
score is evaluated (the ablation's question); ``docs/ablation.md`` has the
table, the heat-map and the command. Context (all ~6,000 inliers of a class, no
transfer; :data:`corel_jax.paper.published.FASHION_MNIST_FULL_DATA`): GEOM 0.936,
RAW-OC-SVM 0.928.

Run (one command per layout of :data:`corel_jax.paper.published.ABLATION_LAYOUTS`; each
resumes where it stopped, all write their rows to the same ``WORKDIR/results.json``):
  for layout in 16:10 1:160 32:10 8:10 16:20; do
    python -m experiments.run experiments/configs/ablation_fashion_mnist.py --one-at-a-time \
      --set num_branches=${layout%:*} --set branch_dim=${layout#*:} --sweep lam=0,1,10,20,40 \
      --workdir runs/ablation_fashion_mnist
  done
Table and heat-map: python -m experiments.collect_ablation runs/ablation_fashion_mnist \
    --out-dir experiments/results/ablation --plot docs/ablation_fashion_mnist.png
"""

from experiments.configs.transfer import GROUP_A, transfer_config


def get_config(variant: str = "") -> dict:
    config = transfer_config("ablation_fashion_mnist", "A", GROUP_A, variant=variant)
    config["doc"] = "Lambda x layout ablation, Fashion-MNIST transfer A -> all."
    # The default checkpoint period (1000 steps, ~3 of the 10 epochs): the ablation reads
    # the 10-epoch backbones only.
    config["train"].update(checkpoint_every=1000, keep_checkpoints=2)
    config["eval"]["methods"] = ["corel"]
    return config
