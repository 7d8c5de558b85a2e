"""The paper's one-class evaluation ("Ours-120", REFERENCE.md §4) and its baselines.

A backbone is trained once without labels; then, for each class ``c`` of an
evaluation dataset, ``n`` inliers of class ``c`` are drawn from the TRAIN
split and every TEST example is scored:

    score(x) = sum over branches k of #{ inliers y : d(f_k(x), f_k(y)) <= r },

the number of inlier codes within radius ``r = eta`` of ``x`` in each branch
(boundary inside). AUROC with class ``c`` positive (scikit-learn's
``roc_auc_score``, so tied scores count one half as in the paper), repeated
over ``runs`` independent draws; per class mean and std over runs, and the
mean over classes.

Evaluators take arrays (codes, or any features) and score functions, never a
model. Every method of one evaluation sees the same inlier draws.

References:
  Hofer et al., Connectivity-Optimized Representation Learning via Persistent
  Homology, ICML 2019, Sec. 5.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import io
import json
import os
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from corel_jax.persistence import Metric, pairwise_distances

__all__ = [
    "Method",
    "OneClassResult",
    "ball_count_scorer",
    "count_scores",
    "draw_inliers",
    "evaluate_oneclass",
    "format_table",
    "kde_scorer",
    "ocsvm_scorer",
    "write_report",
]

Scorer = Callable[[np.ndarray, np.ndarray], np.ndarray]


# ----------------------------------------------------------------- the score


def _branch_counts(
    test: jax.Array, inliers: jax.Array, radius, num_branches: int, metric
) -> jax.Array:
    b, d = test.shape
    w = d // num_branches
    t = test.reshape(b, num_branches, w).transpose(1, 0, 2)  # (K, b, w)
    s = inliers.reshape(inliers.shape[0], num_branches, w).transpose(1, 0, 2)  # (K, m, w)
    dist = jax.vmap(lambda a, c: pairwise_distances(a, c, metric=metric))(t, s)  # (K, b, m)
    return jnp.sum(dist <= radius, axis=(0, 2), dtype=jnp.int32)


_branch_counts_jit = jax.jit(_branch_counts, static_argnums=(3, 4))


def count_scores(
    test_codes: jax.typing.ArrayLike,
    inlier_codes: jax.typing.ArrayLike,
    *,
    radius: float = 2.0,
    num_branches: int = 16,
    metric: Metric = "l1",
    chunk_size: int = 1024,
) -> np.ndarray:
    r"""COREL's one-class score: inlier codes within ``radius``, per branch, summed.

    .. math::
      s(x) = \sum_{k=1}^{K} \#\{\, y \in \text{inliers} : d(x_k, y_k) \le r \,\}

    Args:
      test_codes: ``(n_test, D)`` codes to score.
      inlier_codes: ``(n_inliers, D)`` codes of the class.
      radius: ``r > 0`` (paper: ``eta = 2``); distances equal to it count.
      num_branches: ``K``, dividing ``D``.
      metric: the latent metric (paper: "l1").
      chunk_size: test codes per jitted call (the last chunk is padded, so it
        compiles once); memory is ``O(chunk_size * n_inliers * K)``.

    Returns:
      ``(n_test,)`` int32 scores in ``[0, K * n_inliers]``.
    """
    test = np.asarray(test_codes, np.float32)
    inl = np.asarray(inlier_codes, np.float32)
    if test.ndim != 2 or inl.ndim != 2:
        raise ValueError(
            f"test_codes and inlier_codes must be 2-D; got {test.shape} and {inl.shape}."
        )
    if test.shape[1] != inl.shape[1]:
        raise ValueError(
            f"inlier_codes have width {inl.shape[1]} but test_codes have width {test.shape[1]}."
        )
    if num_branches < 1 or test.shape[1] % num_branches:
        raise ValueError(
            f"The code width {test.shape[1]} is not divisible by num_branches={num_branches}."
        )
    if not radius > 0:
        raise ValueError(f"radius must be > 0; got {radius}.")
    if len(inl) == 0:
        raise ValueError("inlier_codes is empty.")
    chunk_size = max(1, min(int(chunk_size), len(test)))
    out = np.empty(len(test), np.int32)
    for start in range(0, len(test), chunk_size):
        part = test[start : start + chunk_size]
        pad = chunk_size - len(part)
        if pad:
            part = np.concatenate([part, np.zeros((pad, part.shape[1]), part.dtype)])
        counts = _branch_counts_jit(part, inl, np.float32(radius), num_branches, metric)
        out[start : start + chunk_size - pad] = np.asarray(counts)[: chunk_size - pad]
    return out


# --------------------------------------------------------------- the scorers


def ball_count_scorer(
    *, radius: float = 2.0, num_branches: int = 16, metric: Metric = "l1"
) -> Scorer:
    """COREL's score (:func:`count_scores`) as a ``scorer(inliers, test)``."""
    return lambda inliers, test: count_scores(
        test, inliers, radius=radius, num_branches=num_branches, metric=metric
    )


def kde_scorer(*, chunk_size: int = 2048) -> Scorer:
    """Isotropic Gaussian KDE log-density, bandwidth by Scott's rule.

    ``h = sigma * n ** (-1 / (d + 4))`` with ``sigma`` the inliers' mean
    per-dimension standard deviation (a full-covariance KDE is singular for 120
    points in 160 dims). Returns log-sum-exp of ``-|x - y|^2 / (2 h^2)`` over
    inliers (the normalising constant does not change the ranking).
    """

    @jax.jit
    def logdens(x, y, h):
        sq = pairwise_distances(x, y, metric="sqeuclidean")
        return jax.nn.logsumexp(-sq / (2 * h * h), axis=1)

    def score(inliers: np.ndarray, test: np.ndarray) -> np.ndarray:
        inliers = np.asarray(inliers, np.float32).reshape(len(inliers), -1)
        test = np.asarray(test, np.float32).reshape(len(test), -1)
        n, d = inliers.shape
        sigma = float(np.mean(np.std(inliers, axis=0))) or 1.0
        h = np.float32(sigma * n ** (-1.0 / (d + 4)))
        parts = [
            np.asarray(logdens(test[i : i + chunk_size], inliers, h))
            for i in range(0, len(test), chunk_size)
        ]
        return np.concatenate(parts)

    return score


def ocsvm_scorer(*, nu: float = 0.1, gamma: str | float = "scale") -> Scorer:
    """scikit-learn's ``OneClassSVM`` (RBF kernel) fitted on the inliers; higher = inlier."""

    def score(inliers: np.ndarray, test: np.ndarray) -> np.ndarray:
        from sklearn.svm import OneClassSVM

        inliers = np.asarray(inliers, np.float64).reshape(len(inliers), -1)
        test = np.asarray(test, np.float64).reshape(len(test), -1)
        return OneClassSVM(kernel="rbf", nu=nu, gamma=gamma).fit(inliers).decision_function(test)

    return score


class Method(NamedTuple):
    """A method of the comparison: a scorer and the features it scores."""

    scorer: Scorer
    train_features: np.ndarray  # (n_train, ...) for drawing inliers
    test_features: np.ndarray  # (n_test, ...)


# -------------------------------------------------------------- the protocol


@dataclasses.dataclass
class OneClassResult:
    """AUROCs of every method, class and run.

    Attributes:
      auroc: ``{method: (num_classes, runs) array}``.
      classes: the evaluated class labels.
      class_names: their names.
      n, runs, seed: the protocol's parameters.
    """

    auroc: dict[str, np.ndarray]
    classes: tuple[int, ...]
    class_names: tuple[str, ...]
    n: int
    runs: int
    seed: int

    def class_mean(self, method: str) -> np.ndarray:
        return self.auroc[method].mean(axis=1)

    def class_std(self, method: str) -> np.ndarray:
        return self.auroc[method].std(axis=1)

    def mean(self, method: str) -> float:
        """The headline figure: mean over classes of the per-class mean over runs."""
        return float(self.class_mean(method).mean())

    def to_dict(self) -> dict:
        return {
            "n": self.n,
            "runs": self.runs,
            "seed": self.seed,
            "classes": list(self.classes),
            "class_names": list(self.class_names),
            "methods": {
                m: {
                    "mean": self.mean(m),
                    "per_class_mean": self.class_mean(m).tolist(),
                    "per_class_std": self.class_std(m).tolist(),
                    "auroc": self.auroc[m].tolist(),
                }
                for m in self.auroc
            },
        }


def draw_inliers(train_labels: np.ndarray, cls: int, n: int, *, seed: int, run: int) -> np.ndarray:
    """Indices of ``n`` train examples of class ``cls``, without replacement.

    The generator is ``np.random.default_rng([seed, run, cls])``: independent
    across runs and classes, identical for every method.
    """
    pool = np.flatnonzero(np.asarray(train_labels) == cls)
    if len(pool) < n:
        raise ValueError(f"Class {cls} has {len(pool)} training examples, fewer than n={n}.")
    return np.random.default_rng([seed, run, cls]).choice(pool, size=n, replace=False)


def evaluate_oneclass(
    methods: Mapping[str, Method],
    train_labels: np.ndarray,
    test_labels: np.ndarray,
    *,
    n: int = 120,
    runs: int = 5,
    seed: int = 0,
    classes: Sequence[int] | None = None,
    class_names: Sequence[str] | None = None,
    progress: bool = True,
) -> OneClassResult:
    """The paper's one-class protocol for several methods on the same inlier draws.

    Args:
      methods: ``{name: Method(scorer, train_features, test_features)}``.
      train_labels: ``(n_train,)`` labels of the split inliers are drawn from.
      test_labels: ``(n_test,)`` labels of the scored split.
      n: inliers per class and run (paper: 120; also 80 and 500).
      runs: independent draws per class (paper: 5).
      seed: base seed (see :func:`draw_inliers`).
      classes: the classes to evaluate (default: all in ``test_labels``).
      class_names: names for the report.
      progress: show a tqdm bar over classes x runs.

    Returns:
      A :class:`OneClassResult`.
    """
    from sklearn.metrics import roc_auc_score

    train_labels = np.asarray(train_labels)
    test_labels = np.asarray(test_labels)
    if not methods:
        raise ValueError("methods is empty.")
    if not isinstance(n, int | np.integer) or n <= 0:
        raise ValueError(f"n must be a positive int; got {n!r}.")
    if not isinstance(runs, int | np.integer) or runs <= 0:
        raise ValueError(f"runs must be a positive int; got {runs!r}.")
    for name, m in methods.items():
        if len(m.train_features) != len(train_labels):
            raise ValueError(
                f"{name}: {len(m.train_features)} train features but {len(train_labels)} labels."
            )
        if len(m.test_features) != len(test_labels):
            raise ValueError(
                f"{name}: {len(m.test_features)} test features but {len(test_labels)} labels."
            )
    classes = tuple(int(c) for c in (np.unique(test_labels) if classes is None else classes))
    counts = {c: int(np.sum(train_labels == c)) for c in classes}
    short = {c: k for c, k in counts.items() if k < n}
    if short:
        raise ValueError(
            f"n={n} inliers are needed per class, but these classes have fewer training "
            f"examples: {short}."
        )
    names = (
        tuple(class_names[c] for c in classes)
        if class_names is not None
        else tuple(str(c) for c in classes)
    )
    auroc = {m: np.zeros((len(classes), runs)) for m in methods}
    bar = None
    plain = progress and not sys.stdout.isatty()  # plain lines in logs, a bar on a terminal
    if progress and not plain:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(classes) * runs, desc=f"one-class n={n}", unit="task", file=sys.stdout)
    try:
        for ci, c in enumerate(classes):
            positive = test_labels == c
            for r in range(runs):
                idx = draw_inliers(train_labels, c, n, seed=seed, run=r)
                for name, m in methods.items():
                    scores = np.asarray(m.scorer(m.train_features[idx], m.test_features))
                    auroc[name][ci, r] = roc_auc_score(positive, scores)
                if bar is not None:
                    bar.update(1)
            if plain:
                means = ", ".join(f"{m} {auroc[m][ci].mean():.3f}" for m in methods)
                print(
                    f"one-class n={n}: class {names[ci]} ({ci + 1}/{len(classes)}): {means}",
                    flush=True,
                )
    finally:
        if bar is not None:
            bar.close()
    return OneClassResult(auroc, classes, names, int(n), int(runs), int(seed))


# ------------------------------------------------------------------- reports


def format_table(
    result: OneClassResult, *, published: Mapping[str, Sequence[float]] | None = None
) -> str:
    """A Markdown table: per class mean +- std for each method, and the mean row."""
    methods = list(result.auroc)
    pub = dict(published or {})
    header = ["class", *methods, *[f"{k} (published)" for k in pub]]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for i, name in enumerate(result.class_names):
        cells = [f"{result.class_mean(m)[i]:.3f} ± {result.class_std(m)[i]:.3f}" for m in methods]
        cells += [f"{v[i]:.3f}" if i < len(v) else "" for v in pub.values()]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    cells = [f"**{result.mean(m):.3f}**" for m in methods]
    cells += [f"**{np.mean(v):.3f}**" for v in pub.values()]
    lines.append("| mean | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def plot_result(result: OneClassResult, path: Path, *, title: str = "") -> None:
    """Grouped bars of per-class AUROC (error bars: std over runs), dashed means."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = list(result.auroc)
    k = len(result.class_names)
    width = 0.8 / len(methods)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * k + 2), 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for j, m in enumerate(methods):
        color = colors[j % len(colors)]
        xs = np.arange(k) + (j - (len(methods) - 1) / 2) * width
        ax.bar(xs, result.class_mean(m), width, yerr=result.class_std(m), capsize=2,
               label=f"{m} (mean {result.mean(m):.3f})", color=color)  # fmt: skip
        ax.axhline(result.mean(m), color=color, linestyle="--", linewidth=1)
    ax.axhline(0.5, color="gray", linewidth=0.8)
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels(
        result.class_names, rotation=30 if k > 5 else 0, ha="right" if k > 5 else "center"
    )
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("AUROC")
    ax.set_title(title or f"One-class AUROC, n={result.n}, {result.runs} runs")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    _atomic_write(path, buf.getvalue())


def write_report(
    result: OneClassResult,
    outdir: str | os.PathLike,
    *,
    published: Mapping[str, Sequence[float]] | None = None,
    title: str = "",
    extra: Mapping | None = None,
) -> dict[str, Path]:
    """Writes ``results.json``, ``results.csv``, ``results.md`` and ``auroc.png`` atomically."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    payload = result.to_dict()
    payload["published"] = {k: list(map(float, v)) for k, v in (published or {}).items()}
    payload.update(extra or {})
    paths = {
        "json": outdir / "results.json",
        "csv": outdir / "results.csv",
        "md": outdir / "results.md",
        "png": outdir / "auroc.png",
    }
    _atomic_write(paths["json"], (json.dumps(payload, indent=2) + "\n").encode())
    rows = io.StringIO()
    w = csv.writer(rows)
    w.writerow(
        ["method", "class", "class_name", "mean", "std", *[f"run{r}" for r in range(result.runs)]]
    )
    for m in result.auroc:
        for i, (c, name) in enumerate(zip(result.classes, result.class_names, strict=True)):
            w.writerow([m, c, name, f"{result.class_mean(m)[i]:.6f}", f"{result.class_std(m)[i]:.6f}",
                        *[f"{v:.6f}" for v in result.auroc[m][i]]])  # fmt: skip
        w.writerow([m, "mean", "", f"{result.mean(m):.6f}", "", *[""] * result.runs])
    _atomic_write(paths["csv"], rows.getvalue().encode())
    md = (f"# {title}\n\n" if title else "") + format_table(result, published=published) + "\n"
    _atomic_write(paths["md"], md.encode())
    plot_result(result, paths["png"], title=title)
    return paths


# -------------------------------------------------------------- command line

METHODS = ("corel", "lambda0", "kde", "ocsvm", "raw_ocsvm")


def add_cli_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workdir", required=True, help="The backbone's training work directory.")
    parser.add_argument(
        "--baseline-workdir",
        default=None,
        help="The same model trained with lambda=0 (method lambda0).",
    )
    parser.add_argument(
        "--dataset", default=None, help="Evaluation dataset (default: the backbone's)."
    )
    parser.add_argument("--data-dir", default=None, help="tfds data dir or IDX folder.")
    parser.add_argument("--n", type=int, default=120, help="Inliers per class and run.")
    parser.add_argument("--runs", type=int, default=5, help="Independent inlier draws per class.")
    parser.add_argument("--radius", type=float, default=None, help="Ball radius (default: eta).")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the inlier draws.")
    parser.add_argument("--outdir", default=None, help="Default: WORKDIR/oneclass_DATASET_nN.")
    parser.add_argument(
        "--methods",
        default="corel,kde,ocsvm,raw_ocsvm",
        help=f"Comma-separated subset of {','.join(METHODS)} (lambda0 needs --baseline-workdir).",
    )
    parser.add_argument(
        "--max-test-examples", type=int, default=None, help="Score only the first N test examples."
    )


def build_methods(
    names: Sequence[str],
    *,
    codes: tuple[np.ndarray, np.ndarray],
    pixels: tuple[np.ndarray, np.ndarray],
    radius: float,
    num_branches: int,
    metric: Metric,
    baseline_codes: tuple[np.ndarray, np.ndarray] | None = None,
) -> dict[str, Method]:
    """The named methods over (train, test) codes, pixels and baseline codes."""
    ball = ball_count_scorer(radius=radius, num_branches=num_branches, metric=metric)
    table = {
        "corel": lambda: Method(ball, *codes),
        "kde": lambda: Method(kde_scorer(), *codes),
        "ocsvm": lambda: Method(ocsvm_scorer(), *codes),
        "raw_ocsvm": lambda: Method(ocsvm_scorer(), *pixels),
        "lambda0": lambda: Method(ball, *baseline_codes),
    }
    out = {}
    for name in names:
        if name not in table:
            raise ValueError(f"Unknown method {name!r}; expected some of {METHODS}.")
        if name == "lambda0" and baseline_codes is None:
            raise ValueError("Method 'lambda0' needs a baseline backbone (--baseline-workdir).")
        out[name] = table[name]()
    return out


def run_cli(args: argparse.Namespace) -> int:
    from corel_jax import data
    from corel_jax.train import encode, load_backbone

    try:
        names = [m.strip() for m in args.methods.split(",") if m.strip()]
        if args.baseline_workdir and "lambda0" not in names:
            names.insert(1, "lambda0")
        model, config = load_backbone(args.workdir)
        dataset = args.dataset or config.dataset
        radius = config.eta if args.radius is None else args.radius
        train = data.load(dataset, "train", data_dir=args.data_dir or config.data_dir)
        test = data.load(dataset, "test", data_dir=args.data_dir or config.data_dir)
        if args.max_test_examples:
            test = dataclasses.replace(
                test,
                images=test.images[: args.max_test_examples],
                labels=test.labels[: args.max_test_examples],
            )
        print(
            f"encoding {len(train)} train and {len(test)} test images of {dataset} ...", flush=True
        )
        codes = (encode(model, train.images), encode(model, test.images))
        baseline = None
        if "lambda0" in names:
            base_model, _ = load_backbone(args.baseline_workdir)
            baseline = (encode(base_model, train.images), encode(base_model, test.images))
        pixels = (
            train.images.reshape(len(train), -1).astype(np.float32) / 255,
            test.images.reshape(len(test), -1).astype(np.float32) / 255,
        )
        methods = build_methods(
            names, codes=codes, pixels=pixels, radius=radius, num_branches=config.num_branches,
            metric=config.metric, baseline_codes=baseline,
        )  # fmt: skip
        result = evaluate_oneclass(
            methods, train.labels, test.labels, n=args.n, runs=args.runs, seed=args.seed,
            class_names=train.class_names,
        )  # fmt: skip
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    outdir = Path(args.outdir or Path(args.workdir) / f"oneclass_{dataset}_n{args.n}")
    title = f"{dataset}: one-class AUROC, n={args.n}, {args.runs} runs"
    write_report(result, outdir, title=title, extra={"dataset": dataset, "radius": radius})
    print(format_table(result))
    print(f"outputs in {outdir.absolute()}")
    return 0
