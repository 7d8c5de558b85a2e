"""The published numbers are complete and consistent, and each says where it comes from."""

import dataclasses
import statistics
from pathlib import Path

import pytest

from corel_jax.data import DATASETS
from corel_jax.paper import published as P

CONFIG_DIR = Path(__file__).resolve().parents[2] / "experiments" / "configs"
SOURCES = {P.PERFORMANCE_STUDY, P.ABLATION_STUDY}


def test_rows_are_unique_and_sourced():
    keys = [
        (r.experiment, r.n, frozenset(P.parse_setting(r.setting).items())) for r in P.PAPER_ROWS
    ]
    assert len(keys) == len(set(keys))
    for r in P.PAPER_ROWS:
        assert r.source in SOURCES, r
        assert 0.5 <= r.auroc < 1.0 and r.n in (80, 120, 500), r
        # the performance study is the paper's defaults; the ablation study has a setting
        assert (r.source == P.ABLATION_STUDY) == bool(r.setting), r


def _performance_rows():
    by_experiment = {}
    for r in P.PAPER_ROWS:
        if r.source == P.PERFORMANCE_STUDY:
            by_experiment.setdefault(r.experiment, []).append(r)
    return by_experiment


def test_every_performance_row_as_published():
    rows = _performance_rows()
    # CIFAR and Tiny-ImageNet backbones; every row of the CIFAR backbones at n = 80, 120 and 500
    assert len(rows) == 14
    for experiment, mine in rows.items():
        ns = [r.n for r in mine]
        if mine[0].train_dataset == "tiny_imagenet":
            assert ns == [120], experiment
        else:
            assert ns == [80, 120, 500], experiment
        values = [r.auroc for r in mine]
        # more inliers, a higher AUROC, in every published row
        assert values == sorted(values) and len(set(values)) == len(values), experiment
        assert experiment == f"{mine[0].train_dataset}_to_{mine[0].eval_dataset}".replace(
            "imagenet32", "imagenet"
        )


@pytest.mark.parametrize(
    "experiment,n,value",
    [
        ("cifar100_to_cifar10", 120, 0.755),  # the slides' CIFAR-10 chart
        ("cifar10_to_cifar100", 120, 0.794),  # the slides' CIFAR-100 chart
        ("cifar10_to_cifar20", 120, 0.723),  # the slides' CIFAR-20 chart
        ("cifar10_to_imagenet", 120, 0.722),
        ("cifar100_to_cifar20", 500, 0.748),
        ("cifar10_to_tiny_imagenet", 80, 0.717),
        ("tiny_imagenet_to_cifar100", 120, 0.788),
    ],
)
def test_published_auroc_spot_checks(experiment, n, value):
    assert P.published_auroc(experiment, n=n) == value


def test_ablation_table_is_complete():
    assert P.ABLATION_LAMBDAS == (0.0, 1.0, 10.0, 20.0, 40.0)
    assert P.ABLATION_LAYOUTS == ((1, 160), (8, 10), (16, 10), (32, 10), (16, 20))
    assert set(P.ABLATION_TABLE) == {
        (lam, lay) for lam in P.ABLATION_LAMBDAS for lay in P.ABLATION_LAYOUTS
    }
    cells = P.rows_of("ablation_branches")
    assert len(cells) == 25 and {r.n for r in cells} == {120}
    for r in cells:
        s = P.parse_setting(r.setting)
        key = (s["lam"], (int(s["num_branches"]), int(s["branch_dim"])))
        assert P.ABLATION_TABLE[key] == r.auroc
        assert (r.train_dataset, r.eval_dataset) == ("cifar100", "cifar10")
    # the lambda ablation is the paper's 16 x 10 column
    column = {P.parse_setting(r.setting)["lam"]: r.auroc for r in P.rows_of("ablation_lambda")}
    assert column == {lam: P.ABLATION_TABLE[lam, (16, 10)] for lam in P.ABLATION_LAMBDAS}


def test_ablation_facts():
    # lambda = 0 ties every score only with one branch; 16 x 10 gives 0.547
    assert P.ABLATION_TABLE[0.0, (1, 160)] == 0.500
    assert P.published_auroc("ablation_lambda", n=120, setting="lam=0") == 0.547
    # at lambda = 20 the best layout is 32 x 10; lambda = 1 is ~5 points below 20 at 16 x 10
    at20 = {lay: P.ABLATION_TABLE[20.0, lay] for lay in P.ABLATION_LAYOUTS}
    assert max(at20, key=at20.get) == (32, 10) and at20[32, 10] == 0.763
    assert P.ABLATION_TABLE[20.0, (16, 10)] - P.ABLATION_TABLE[1.0, (16, 10)] == pytest.approx(
        0.051
    )
    # 0.792 is the best of the whole ablation, at n = 5000 and radius 1.5, not an n = 120 cell
    best = P.ABLATION_BEST
    assert (best.auroc, best.lam, best.layout, best.n, best.radius) == (
        0.792,
        20.0,
        (16, 10),
        5000,
        1.5,
    )
    assert best.auroc > max(P.ABLATION_TABLE.values())
    assert all(r.auroc != best.auroc for r in P.PAPER_ROWS)


def test_settings_match_in_any_order():
    get = lambda s: P.published_auroc("ablation_branches", n=120, setting=s)
    assert get("num_branches=32,branch_dim=10,lam=10") == 0.767
    assert get("lam=10.0,branch_dim=10,num_branches=32") == 0.767
    assert get("lam=10") is None and get("lam=3,num_branches=32,branch_dim=10") is None
    assert P.ablation_setting(10.0, (32, 10)) == "lam=10,num_branches=32,branch_dim=10"
    with pytest.raises(ValueError, match="key=value"):
        P.parse_setting("lam")
    with pytest.raises(TypeError, match="setting must be a str"):
        P.parse_setting(None)


def test_fashion_mnist_geom_mean_is_the_mean_of_its_classes():
    per_class = (99.4, 97.6, 91.1, 89.9, 92.1, 93.4, 83.3, 98.9, 90.8, 99.2)  # GEOM, percent
    assert P.FASHION_MNIST_GEOM_PER_CLASS == pytest.approx([v / 100 for v in per_class])
    assert statistics.fmean(per_class) == pytest.approx(93.57)
    assert P.FASHION_MNIST_FULL_DATA["GEOM"] == 0.936


def test_baselines_and_slides():
    assert "OC-SVM (CAE)" in P.CIFAR_BASELINES and "OC-SVM" not in P.CIFAR_BASELINES
    assert P.CIFAR10_FULL_DATA == {"Deep-SVDD": 0.648, "ADT": 0.860}
    assert P.SLIDES_MARGIN_OVER_ADT120 == {"cifar10": 0.07, "cifar20": 0.06, "cifar100": 0.04}


def test_every_buildable_row_has_a_config_and_only_those():
    """A config for each experiment whose datasets the catalog can build; none for the rest."""
    experiments = {r.experiment: r for r in P.PAPER_ROWS}
    for experiment, r in experiments.items():
        buildable = {r.train_dataset, r.eval_dataset} <= set(DATASETS)
        assert (CONFIG_DIR / f"{experiment}.py").is_file() == buildable, experiment
        if not buildable:
            assert {r.train_dataset, r.eval_dataset} & set(P.UNAVAILABLE_DATASETS), experiment
    assert not set(P.UNAVAILABLE_DATASETS) & set(DATASETS)


def test_tfds_has_no_tiny_imagenet_builder():
    tfds = pytest.importorskip("tensorflow_datasets")
    names = [b.lower().replace("-", "_") for b in tfds.list_builders()]
    assert not [b for b in names if "tiny_imagenet" in b or "tinyimagenet" in b]


def test_rows_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        P.PAPER_ROWS[0].auroc = 1.0
