"""Fashion-MNIST study (real data that is offline here, fits a 2-core CPU).

The paper's branch autoencoder (28x28x1 input, 16 x 10 branches) is trained
without labels on the Fashion-MNIST train split, then one-class with n = 120
inliers, 5 runs, against a latent KDE, a latent OC-SVM and a raw-pixel OC-SVM.
Published one-class AUROC with ALL ~6,000 inliers per class (REFERENCE.md §5):
GEOM 0.935, RAW-OC-SVM 0.928, CAE-OC-SVM 0.917, DSEBM 0.866; the paper has no
Fashion-MNIST number for COREL.

Data: apt-get install dataset-fashion-mnist (gzipped IDX files).
Run:   python -m experiments.run experiments/configs/fashion_mnist.py \\
         --sweep lam=0,1,10,20,40 --workdir runs/fashion_mnist
Smoke: python -m experiments.run experiments/configs/fashion_mnist.py --variant local --workdir /tmp/fm
"""

from experiments.configs.common import make

GEOM_PER_CLASS = [0.994, 0.976, 0.911, 0.899, 0.921, 0.934, 0.833, 0.989, 0.908, 0.992]


def get_config(variant: str = "") -> dict:
    config = make(
        train_dataset="fashion_mnist",
        eval_dataset="fashion_mnist",
        n=[120],
        published={"GEOM (full data)": 0.935, "RAW-OC-SVM (full data)": 0.928},
        doc="Fashion-MNIST: backbone and one-class tasks on Fashion-MNIST.",
        variant=variant,
        epochs=10,
        devices=1,
    )
    if not variant:
        config["eval"]["methods"] = ["corel", "kde", "ocsvm", "raw_ocsvm"]
    return config
