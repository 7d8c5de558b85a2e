"""Facts about the Topological Autoencoders paper's experiments, written once.

Sources (see docs/topoae.md for the full account):

* hyperparameters: the authors' "best run" configurations, the output of
  their hyperparameter search (repository BorgwardtLab/topological-autoencoders,
  ``experiments/fit_competitor/best_runs/`` and
  ``experiments/train_model/best_runs/``); the table's five repetitions reuse
  them with other seeds;
* published table numbers: NOT available here. The paper's text beyond its
  first page could not be retrieved, so no
  published number is recorded (``PUBLISHED`` holds None); see
  ``AUTHORS_LATENTS`` for the closest measured reference.

Moor, Horn, Rieck, Borgwardt. Topological Autoencoders. ICML 2020,
https://arxiv.org/abs/1906.00722.
"""

from __future__ import annotations

DATASETS: tuple[str, ...] = ("spheres", "fashion_mnist")

# Baselines: scikit-learn / umap-learn keyword arguments of the best runs.
BASELINE_PARAMS: dict[str, dict[str, dict]] = {
    "spheres": {
        "pca": {"n_components": 2},
        "isomap": {"n_components": 2, "n_neighbors": 25},
        "tsne": {
            "n_components": 2,
            "perplexity": 35.431871281496434,
            "learning_rate": 10.328042227475773,
            "max_iter": 1500,
        },
        "umap": {
            "n_components": 2,
            "n_neighbors": 118,
            "min_dist": 0.7097426434727054,
            "metric": "euclidean",
        },
    },
    "fashion_mnist": {
        "pca": {"n_components": 2},
        # The authors' repository has no Isomap run on Fashion-MNIST.
        "tsne": {
            "n_components": 2,
            "perplexity": 39.31179810915455,
            "learning_rate": 747.6178781934208,
            "max_iter": 1500,
        },
        "umap": {
            "n_components": 2,
            "n_neighbors": 243,
            "min_dist": 0.9880507485570478,
            "metric": "euclidean",
        },
    },
}

# Autoencoders: Adam with L2 weight decay 1e-5, at most 100 epochs, early
# stopping after 10 epochs without a lower validation loss (15 % of the
# training part), the best checkpoint evaluated. "lam" weighs the
# topological term, which the authors' code divides by the batch size.
TRAINING: dict[str, dict[str, dict]] = {
    "spheres": {
        "topoae": {
            "model": "spheres_mlp",
            "batch_size": 28,
            "learning_rate": 0.000272683866289072,
            "lam": 0.43357738971723536,
        },
        "ae": {"model": "spheres_mlp", "batch_size": 84, "learning_rate": 0.000640628075404713},
    },
    "fashion_mnist": {
        "topoae": {
            "model": "deep_ae",
            "batch_size": 95,
            "learning_rate": 0.006514157310805859,
            "lam": 2.225779055692325,
        },
        "ae": {"model": "deep_ae", "batch_size": 61, "learning_rate": 0.0005076818023102327},
    },
}
COMMON_TRAINING = {
    "weight_decay": 1e-5,
    "max_epochs": 100,
    "early_stopping_patience": 10,
    "validation_fraction": 0.15,
}

# The authors' evaluation seeds of the five repetitions (sacred named configs rep1..rep5).
REPETITION_SEEDS: tuple[int, ...] = (249040430, 621965744, 771860110, 775293950, 700134501)

METHODS: tuple[str, ...] = ("isomap", "pca", "tsne", "umap", "ae", "topoae", "corel")

# The paper's table (mean over 5 repetitions): not retrievable here.
PUBLISHED: dict[str, dict[str, dict[str, float | None]]] = {}

# Our measures of the test-set latents the authors released with their code
# (data/visualizations/<dataset>/<method>/latents.csv: one run per method,
# not the table's five-run mean), paired with our regenerated test data.
# Filled from experiments/topoae/results/authors_latents.json; made by
#   python -m experiments.topoae.authors_latents --repo <clone of the authors' repository>
AUTHORS_LATENTS_FILE = "experiments/topoae/results/authors_latents.json"
