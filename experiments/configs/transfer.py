"""Shared pieces of the Fashion-MNIST transfer configs (``fashion_mnist_transfer_*.py``).

The two groups are Fashion-MNIST's labels in order, split in halves, fixed
before any result: A = 0-4 (T-shirt/top, Trouser, Pullover, Dress, Coat:
garments only) and B = 5-9 (Sandal, Shirt, Sneaker, Bag, Ankle boot: three
kinds of shoes, a bag and one garment). A backbone of A never sees a shoe or a
bag; one of B sees one garment. The shift is larger than between CIFAR-100
and CIFAR-10, which share their kinds of objects (animals, vehicles).
"""

from __future__ import annotations

from corel_jax.paper.published import FASHION_MNIST_FULL_DATA
from experiments.configs.common import make

GROUP_A: tuple[int, ...] = (0, 1, 2, 3, 4)
GROUP_B: tuple[int, ...] = (5, 6, 7, 8, 9)
# The paper's 50 epochs (long) and a 10-epoch prefix of them; 300 steps per epoch on
# 30,000 images, a checkpoint every 5 epochs, all ten kept.
EPOCHS = (10, 50)
CHECKPOINTS = dict(checkpoint_every=1500, keep_checkpoints=10)


def transfer_config(experiment: str, name: str, classes: tuple[int, ...], *, variant: str) -> dict:
    """The config of one direction: a backbone on ``classes``, one-class on all ten."""
    config = make(
        experiment,
        train_dataset="fashion_mnist",
        eval_dataset="fashion_mnist",
        n=[120],
        published={f"{k} (full data)": FASHION_MNIST_FULL_DATA[k] for k in ("GEOM", "RAW-OC-SVM")},
        doc=f"Fashion-MNIST transfer {name} -> all: backbone on classes {classes}.",
        variant=variant,
        classes=classes,
        epochs=EPOCHS[0],
        devices=1,
        **CHECKPOINTS,
    )
    if not variant:
        config["eval"]["methods"] = ["corel", "kde", "ocsvm", "raw_ocsvm"]
    return config
