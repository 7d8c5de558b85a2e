"""Tests for corel_jax.training.backbone: loading, encoding, held-out death times and statistics."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from train_helpers import CONFIG, TOL

from corel_jax import data, loss as L
from corel_jax.models import DeepAutoencoder, SpheresAutoencoder
from corel_jax.training.backbone import (
    death_summary,
    encode,
    evaluate,
    held_out_statistics,
    load_backbone,
)
from corel_jax.training.objectives import build_model


def test_encode_matches_the_model_and_pads_the_last_batch(reference):
    model, _ = load_backbone(reference)
    images = data.load("digits", "test").images
    z = encode(model, images, batch_size=100)
    assert z.shape == (449, 80) and z.dtype == np.float32
    chex.assert_shape(z, (449, 80))
    chex.assert_type(z, np.float32)
    direct = np.asarray(model.encode(jnp.asarray(images, jnp.float32) / 255))
    np.testing.assert_allclose(z, direct, **TOL)
    assert encode(model, images[:0]).shape == (0, 80)
    with pytest.raises(ValueError, match="images"):
        encode(model, images[..., 0])
    with pytest.raises(ValueError, match="batch_size"):
        encode(model, images, batch_size=0)


def test_encode_feeds_each_model_the_range_it_was_trained_on():
    """TopoAE's image model saw pixels in [-1, 1]; float data (SPHERES) enters as it is."""
    from flax import nnx

    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28, 1), dtype=np.uint8)
    deep = DeepAutoencoder(latent_dim=2, rngs=nnx.Rngs(0))
    deep.eval()
    expected = deep.encode(jnp.asarray(images, jnp.float32) / 127.5 - 1.0)
    np.testing.assert_allclose(encode(deep, images), expected, rtol=1e-5, atol=1e-5)
    points = np.random.default_rng(1).normal(size=(6, 1, 1, 101)).astype(np.float32)
    mlp = SpheresAutoencoder(input_shape=(1, 1, 101), latent_dim=2, rngs=nnx.Rngs(0))
    mlp.eval()
    np.testing.assert_allclose(
        encode(mlp, points), mlp.encode(jnp.asarray(points)), rtol=1e-5, atol=1e-5
    )


def test_held_out_statistics_are_the_losses_of_each_batch(reference):
    model, config = load_backbone(reference)
    images = data.load("digits", "test").images  # 449 images: 4 whole batches of 100
    stats = held_out_statistics(model, images, config, max_batches=10)
    assert stats["rec"].shape == stats["conn"].shape == (4,)
    assert stats["deaths"].shape == (4, 8, 99)
    chex.assert_tree_all_finite(stats)
    forward = jax.jit(lambda x: model(x))
    for i in range(4):
        x = jnp.asarray(images[i * 100 : (i + 1) * 100], jnp.float32) / 255
        x_hat, z = forward(x)
        deaths = np.asarray(L.branch_deaths(z, num_branches=8, metric="l1"))
        np.testing.assert_allclose(stats["deaths"][i], deaths, **TOL)
        np.testing.assert_allclose(
            stats["conn"][i], L.connectivity_loss(z, eta=2.0, num_branches=8, metric="l1"), **TOL
        )
        np.testing.assert_allclose(stats["rec"][i], L.reconstruction_loss(x_hat, x), **TOL)
    assert held_out_statistics(model, images, config, max_batches=2)["deaths"].shape[0] == 2
    assert held_out_statistics(model, images[:99], config)["deaths"].shape == (0, 8, 99)


def test_evaluate_summarises_the_statistics(reference):
    model, config = load_backbone(reference)
    stats = held_out_statistics(model, data.load("digits", "test").images, config)
    summary = evaluate(model, config)
    assert summary["test_rec"] == pytest.approx(stats["rec"].mean())
    assert summary["test_conn"] == pytest.approx(stats["conn"].mean())
    d = stats["deaths"].astype(np.float64)
    assert summary["test_death_mean"] == pytest.approx(d.mean())
    assert summary["test_death_std"] == pytest.approx(d.std())
    assert summary["test_death_mean_abs_dev_from_eta"] == pytest.approx(np.abs(d - 2.0).mean())
    assert evaluate(model, config, input_shape=(28, 28, 1)) == {}  # another image shape


def test_death_summary_by_hand():
    s = death_summary(np.array([[1.0, 3.0], [2.0, 2.0]]), eta=2.0)
    assert s == {"mean": 2.0, "std": pytest.approx(np.sqrt(0.5)), "mean_abs_dev_from_eta": 0.5}


def test_load_backbone_builds_the_saved_model(reference):
    from flax import nnx

    model, config = load_backbone(reference)
    assert config == CONFIG
    fresh = build_model(config, (8, 8, 1), rngs=nnx.Rngs(0))
    assert type(fresh) is type(model)

    def shapes(m):
        return [p.shape for p in jax.tree.leaves(nnx.state(m, nnx.Param))]

    assert shapes(fresh) == shapes(model)
