"""Fashion-MNIST transfer, A -> all: backbone on classes 0-4, one-class on all ten classes.

The paper's main setting (a backbone trained once, without labels, on
auxiliary data, then used for one-class tasks on classes it never saw) on data
that is offline here: the branch autoencoder is trained on the 30,000 train
images of group A = {0 T-shirt/top, 1 Trouser, 2 Pullover, 3 Dress, 4 Coat}
(labels only select the images), then the one-class protocol (n = 120, 5
runs, radius eta = 2) runs on all ten classes; the reports mark the five seen
classes and give the mean over the unseen ones (group B) apart.
``fashion_mnist_transfer_b.py`` is the other direction. Context only (full
data, all ~6,000 inliers of a class, no transfer): GEOM 0.936 and RAW-OC-SVM
0.928 (:data:`corel_jax.paper.published.FASHION_MNIST_FULL_DATA`).

Checkpoints every 5 epochs are all kept, so the 10-epoch row can be read from
a 50-epoch run and the death times followed over training.

Run (one command per row; ``docs/results.md``, "Transfer", has all of them):
  python -m experiments.run experiments/configs/fashion_mnist_transfer_a.py --sweep lam=0,1,5,20 --workdir runs/fashion_mnist_transfer_a
  python -m experiments.run experiments/configs/fashion_mnist_transfer_a.py --sweep lam=0,1,5,20 --set epochs=50 --workdir runs/fashion_mnist_transfer_a   # long: extends the 10-epoch runs
Table: python -m experiments.collect_transfer runs/
"""

from experiments.configs.transfer import GROUP_A, transfer_config


def get_config(variant: str = "") -> dict:
    return transfer_config("fashion_mnist_transfer_a", "A", GROUP_A, variant=variant)
