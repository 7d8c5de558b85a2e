"""Tests for corel_jax.training.config: validation naming the field, JSON round trips, no device query."""

import dataclasses
import json
import subprocess
import sys

import numpy as np
import pytest

from corel_jax.training.config import TrainConfig


class TestValidation:
    @pytest.mark.parametrize(
        "kwargs,field",
        [
            (dict(lam=-1.0), "lam"),
            (dict(lam=float("nan")), "lam"),
            (dict(eta=0.0), "eta"),
            (dict(epochs="3"), "epochs"),
            (dict(epochs=True), "epochs"),
            (dict(batch_size=1), "batch_size"),
            (dict(metric="cosine"), "metric"),
            (dict(metric="precomputed"), "metric"),
            (dict(metric=("minkowski", 0.5)), "metric"),
            (dict(dataset="cifar11"), "dataset"),
            (dict(num_branches=3), "num_branches"),
            (dict(learning_rate=0), "learning_rate"),
            (dict(devices=0), "devices"),
            (dict(devices=2.0), "devices"),
            (dict(model="resnet"), "model"),
            (dict(filters=[32, 64, 128]), "filters"),
            (dict(log_every=0), "log_every"),
            (dict(max_examples=-5), "max_examples"),
            (dict(seed=-1), "seed"),
            (dict(classes=()), "classes"),
            (dict(classes=[0, 1]), "classes"),
            (dict(lam_scale="per_pixel"), "lam_scale"),
            (dict(topo="rips"), "topo"),
            (dict(weight_decay=-1e-5), "weight_decay"),
            (dict(data="", dataset=None), "data"),
            (dict(data="/imgs", dataset="cifar10"), "dataset"),  # own images replace a dataset
            (dict(dataset=None), "dataset"),
            (dict(image_size=(28, 28)), "image_size"),  # only for own images
            (dict(data="/imgs", image_size=(0, 28)), "image_size"),
            (dict(data="/imgs", image_size=(8, 8, 8)), "image_size"),
            (dict(color="rgb"), "color"),
            (dict(data="/imgs", color="cmyk"), "color"),
            (dict(reduction="total"), "reduction"),
            (dict(reduction=None), "reduction"),
        ],
    )
    def test_config_fields(self, kwargs, field):
        with pytest.raises(ValueError, match=rf"TrainConfig\.{field} must be"):
            TrainConfig(**kwargs)

    def test_own_images_replace_the_dataset(self):
        config = TrainConfig(data="/imgs", image_size=(28,), classes=(12,))
        assert config.dataset is None and config.image_size == (28, 28)  # one number: a square
        assert config.classes == (12,)  # the folder's labels are checked when it is read
        assert TrainConfig.from_json(config.to_json()) == config

    def test_from_dict_rejects_unknown_fields(self):
        with pytest.raises(ValueError, match="Unknown TrainConfig fields: \\['lambda'\\]"):
            TrainConfig.from_dict({"lambda": 20})
        with pytest.raises(TypeError, match="d must be a dict"):
            TrainConfig.from_dict([("lam", 1.0)])

    def test_defaults_are_the_papers(self):
        c = TrainConfig()
        assert (c.lam, c.eta, c.metric, c.batch_size, c.learning_rate, c.epochs) == (
            20.0, 2.0, "l1", 100, 1e-3, 50,
        )  # fmt: skip
        assert (c.model, c.filters, c.num_branches, c.branch_dim) == (
            "branch",
            (32, 64, 128),
            16,
            10,
        )


class TestRoundTrip:
    def test_every_field_through_json(self):
        """Every field set to a non-default value survives to_json / from_json."""
        config = TrainConfig(
            dataset="fashion_mnist", data_dir="/data/fm", max_examples=500, model="mlp",
            filters=(16, 32), hidden=(64, 32), num_branches=4, branch_dim=5, lam=1.5, eta=0.5,
            metric=("minkowski", 3.0), batch_size=50, learning_rate=2e-4, epochs=7, seed=11,
            devices=2, steps_per_dispatch=3, checkpoint_every=20, keep_checkpoints=4, log_every=9,
            classes=(3, 1), lam_scale="per_value", topo="topoae", weight_decay=1e-5,
            reduction="sum",
        )  # fmt: skip
        # own images replace the dataset: their fields in a config of their own
        own = TrainConfig(data="/data/mine", image_size=(24, 32), color="rgb", classes=(2,))
        defaults = TrainConfig()
        for f in dataclasses.fields(TrainConfig):  # the test covers every field
            assert any(getattr(c, f.name) != getattr(defaults, f.name) for c in (config, own)), (
                f.name
            )
        text = config.to_json()
        assert json.loads(text)["metric"] == ["minkowski", 3.0]
        back = TrainConfig.from_json(text)
        assert back == config and back.metric == ("minkowski", 3.0)
        for c in (config, own):
            assert TrainConfig.from_dict(json.loads(json.dumps(c.to_dict()))) == c

    def test_a_config_saved_before_reduction_existed_reads_as_mean(self):
        """A run saved without the ``reduction`` field was trained with the branch mean."""
        saved = json.loads(TrainConfig(lam=1.0).to_json())
        del saved["reduction"]
        assert TrainConfig.from_dict(saved) == TrainConfig(lam=1.0, reduction="mean")

    def test_differences(self):
        a, b = TrainConfig(), TrainConfig(lam=1.0, epochs=3)
        assert a.differences(b) == {"lam": (20.0, 1.0), "epochs": (50, 3)}
        assert a.differences(TrainConfig()) == {}


def test_building_a_config_queries_no_device():
    """jax.distributed.initialize must still be possible after a config is built."""
    code = (
        "from corel_jax.training.config import TrainConfig\n"
        "TrainConfig(devices=3, dataset='digits')\n"
        "from jax._src import xla_bridge\n"
        "assert not xla_bridge.backends_are_initialized()\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_continues_a_saved_run():
    saved = TrainConfig(epochs=5)
    assert saved.continues(saved) is False  # a resume
    assert TrainConfig(epochs=8).continues(saved) is True  # an extension
    kept = dataclasses.replace(saved, keep_checkpoints=saved.keep_checkpoints + 5)
    assert kept.continues(saved) is False  # retention is not training
    assert dataclasses.replace(kept, epochs=8).continues(saved) is True
    with pytest.raises(ValueError, match=r"'epochs': \(5, 3\)"):
        TrainConfig(epochs=3).continues(saved)
    with pytest.raises(ValueError, match=r"'lam': \(20.0, 1.0\)"):
        TrainConfig(epochs=8, lam=1.0).continues(saved)


@pytest.mark.parametrize(
    "classes,problem",
    [
        ((0, 10), r"\[10\] are not such labels"),  # digits has labels 0-9
        ((-1, 2), r"\[-1\] are not such labels"),
        ((1.0, 2), r"\[1.0\] are not such labels"),
        ((True,), r"\[True\] are not such labels"),
        ((3, 1, 3), r"\[3\] appear more than once"),
    ],
)
def test_classes_must_be_distinct_labels_of_the_dataset(classes, problem):
    with pytest.raises(
        ValueError, match=r"TrainConfig\.classes must be .*digits labels .*" + problem
    ):
        TrainConfig(dataset="digits", classes=classes)
    assert TrainConfig(dataset="digits", classes=(9, 0)).classes == (9, 0)  # any order
    assert TrainConfig(dataset="cifar100", classes=(99,)).classes == (99,)  # per dataset


def test_reduction_sum_is_mean_at_num_branches_times_lambda(rng):
    """The training loss with ``reduction="sum"`` at lambda is the ``"mean"`` loss at K * lambda,
    and the connectivity term it reports is K times the mean's."""
    import jax.numpy as jnp
    from flax import nnx

    from corel_jax.training.objectives import build_model, make_loss_fn

    x = jnp.asarray(rng.uniform(size=(30, 8, 8, 1)), jnp.float32)
    k = 4
    out = {}
    for reduction, lam in (("sum", 1.5), ("mean", k * 1.5)):
        config = TrainConfig(
            model="mlp", num_branches=k, branch_dim=3, lam=lam, reduction=reduction, hidden=(16,)
        )
        model = build_model(config, (8, 8, 1), rngs=nnx.Rngs(0))
        graphdef, params, rest = nnx.split(model, nnx.Param, ...)
        loss, (metrics, _) = make_loss_fn(graphdef, config)(params, rest, x)
        out[reduction] = (float(loss), float(metrics["rec"]), float(metrics["conn"]))
    np.testing.assert_allclose(out["sum"][0], out["mean"][0], rtol=1e-6)
    np.testing.assert_allclose(out["sum"][2], k * out["mean"][2], rtol=1e-6)
    assert out["sum"][2] > 0 and out["sum"][1] == out["mean"][1]
