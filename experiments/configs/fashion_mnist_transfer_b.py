"""Fashion-MNIST transfer, B -> all: backbone on classes 5-9, one-class on all ten classes.

The other direction of ``fashion_mnist_transfer_a.py``: the branch autoencoder
is trained without labels on the 30,000 train images of group B = {5 Sandal,
6 Shirt, 7 Sneaker, 8 Bag, 9 Ankle boot}; the one-class protocol (n = 120,
5 runs, radius eta = 2) runs on all ten classes, group A unseen. Context only
(full data, no transfer): GEOM 0.936 and RAW-OC-SVM 0.928.

Run (one command per row; ``docs/results.md``, "Transfer", has all of them):
  python -m experiments.run experiments/configs/fashion_mnist_transfer_b.py --sweep lam=0,1,5,20 --workdir runs/fashion_mnist_transfer_b
  python -m experiments.run experiments/configs/fashion_mnist_transfer_b.py --sweep lam=0,1,5,20 --set epochs=50 --workdir runs/fashion_mnist_transfer_b   # long: extends the 10-epoch runs
Table: python -m experiments.collect_transfer runs/
"""

from experiments.configs.transfer import GROUP_B, transfer_config


def get_config(variant: str = "") -> dict:
    return transfer_config("fashion_mnist_transfer_b", "B", GROUP_B, variant=variant)
