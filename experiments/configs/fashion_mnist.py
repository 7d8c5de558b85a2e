"""Fashion-MNIST study (real data that is offline here, fits a 2-core CPU).

The paper's branch autoencoder (28x28x1 input, 16 x 10 branches) is trained
without labels on the Fashion-MNIST train split, then one-class with n = 120
inliers, 5 runs, against a latent KDE, a latent OC-SVM and a raw-pixel OC-SVM.
Published one-class AUROC with ALL ~6,000 inliers per class
(``docs/method.md#published-numbers``, :data:`corel_jax.paper.published.FASHION_MNIST_FULL_DATA`):
GEOM 0.936, RAW-OC-SVM 0.928, CAE-OC-SVM 0.917, DSEBM 0.866; the paper has no
Fashion-MNIST number for COREL.

Data: apt-get install dataset-fashion-mnist (gzipped IDX files).
Run:   python -m experiments.run experiments/configs/fashion_mnist.py \
         --sweep lam=0,1,10,20,40 --workdir runs/fashion_mnist
Smoke: python -m experiments.run experiments/configs/fashion_mnist.py --variant local --workdir /tmp/fm
"""

from corel_jax.paper.published import FASHION_MNIST_FULL_DATA
from experiments.configs.common import make


def get_config(variant: str = "") -> dict:
    config = make(
        "fashion_mnist",
        train_dataset="fashion_mnist",
        eval_dataset="fashion_mnist",
        n=[120],
        published={f"{k}, full data": FASHION_MNIST_FULL_DATA[k] for k in ("GEOM", "RAW-OC-SVM")},
        doc="Fashion-MNIST: backbone and one-class tasks on Fashion-MNIST.",
        variant=variant,
        epochs=10,
        devices=1,
    )
    if not variant:
        config["eval"]["methods"] = ["corel", "kde", "ocsvm", "raw_ocsvm"]
    return config
