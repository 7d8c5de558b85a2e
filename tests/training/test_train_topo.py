"""Tests for the topological-term choice of corel_jax.training.train (``TrainConfig.topo``).

The TopoAE step is checked against the loss written out by hand (MSE plus
lambda times the authors' signature loss over the batch size, with the batch's
largest data distance and the model's learnable latent scale), the command
line against the config, and an interrupted TopoAE run (BatchNorm statistics
included) against an uninterrupted one.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from train_helpers import assert_same_params

from corel_jax import commands, data, loss as L
from corel_jax.training import checkpoint, objectives, train as T
from corel_jax.training.config import TrainConfig
from corel_jax.training.objectives import make_loss_fn
from corel_jax.training.state import create_train_state, make_optimizer, train_step

SPHERES = dict(
    dataset="spheres", model="spheres_mlp", num_branches=1, branch_dim=2, batch_size=28,
    learning_rate=2.7e-4, weight_decay=1e-5, devices=1,
)  # fmt: skip


def _numpy_signature(x, z, z_scale):
    """The authors' term from scipy's MST, independent of corel_jax.persistence."""
    from scipy.sparse.csgraph import minimum_spanning_tree
    from scipy.spatial.distance import cdist

    ax = cdist(x, x)
    ax = ax / ax.max()
    az = cdist(z, z) / z_scale

    def pairs(a):
        mst = minimum_spanning_tree(a).tocoo()
        return mst.row, mst.col

    (i, j), (k, m) = pairs(ax), pairs(az)
    return np.sum((ax[i, j] - az[i, j]) ** 2) + np.sum((az[k, m] - ax[k, m]) ** 2)


@jax.default_matmul_precision("highest")
def test_topoae_step_uses_the_gradient_of_rec_plus_lam_signature_loss():
    config = TrainConfig(topo="topoae", lam=0.43, **SPHERES)
    points = data.load("spheres", "train").images[:28]
    graphdef, state = create_train_state(config, points.shape[1:], jax.random.key(0))
    assert "latent_scale" in nnx.merge(graphdef, state.params, state.batch_stats).__dict__
    new, metrics = jax.jit(train_step)(state, points)

    x = jnp.asarray(points)

    def loss(params):  # written out: MSE + lam * signature_loss(x, z, z_scale=s) / B
        model = nnx.merge(graphdef, params, state.batch_stats, copy=True)
        x_hat, z = model(x)
        rec = jnp.mean((x - x_hat) ** 2)
        sig = L.signature_loss(x, z, z_scale=model.latent_scale[...])
        return rec + 0.43 * sig / 28, (z, model.latent_scale[...])

    (value, (z, scale)), grad = jax.value_and_grad(loss, has_aux=True)(state.params)
    np.testing.assert_allclose(metrics["loss"], value, rtol=1e-5)
    ref = _numpy_signature(points.reshape(28, -1).astype(np.float64), np.asarray(z, np.float64),
                           float(scale))  # fmt: skip
    np.testing.assert_allclose(metrics["topo"], ref / 28, rtol=1e-4)
    # Adam's first moment after one step is 0.1 (g + weight_decay * params).
    used = jax.tree.map(lambda m, p: m / 0.1 - 1e-5 * p, new.opt_state[1][0].mu, state.params)
    # (Biases before a BatchNorm get ~0 gradients: compare on the scale of the largest one.)
    top = max(float(np.abs(g).max()) for g in jax.tree.leaves(grad))
    for a, b in zip(jax.tree.leaves(used), jax.tree.leaves(grad), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-4 * top)
    assert np.any(jax.tree.leaves(grad)[-1] != 0)  # the latent scale is trained (some leaf)
    # BatchNorm's running statistics moved with the batch.
    moved = jax.tree.map(lambda a, b: np.any(a != b), new.batch_stats, state.batch_stats)
    assert any(jax.tree.leaves(moved))


def test_topo_none_and_lam_zero_are_the_plain_autoencoder():
    points = jnp.asarray(data.load("spheres", "train").images[:28])
    plain = TrainConfig(topo="none", **SPHERES)
    graphdef, state = create_train_state(plain, points.shape[1:], jax.random.key(0))
    value, (metrics, _) = make_loss_fn(graphdef, plain)(state.params, state.batch_stats, points)
    assert set(metrics) == {"rec", "loss"}
    x_hat, _ = nnx.merge(graphdef, state.params, state.batch_stats, copy=True)(points)
    np.testing.assert_allclose(value, jnp.mean((points - x_hat) ** 2), rtol=1e-6)


@pytest.mark.parametrize(
    ("model", "scale"), [("deep_ae", 2 * 28.0), ("mlp", 28.0)]
)  # fmt: skip
def test_image_data_scale_is_the_largest_possible_distance(model, scale):
    """56 for 28x28 images in [-1, 1] (the authors' value), 28 in [0, 1]."""
    assert objectives.data_scale(jnp.uint8, (28, 28, 1), model) == scale
    assert objectives.data_scale(jnp.float32, (1, 1, 101), model) is None
    x = objectives.prepare_inputs(jnp.array([[0, 255]], jnp.uint8), model)
    np.testing.assert_allclose(x, [[-1.0, 1.0]] if model == "deep_ae" else [[0.0, 1.0]])


def test_weight_decay_adds_l2_to_the_gradient():
    params = {"w": jnp.array([1.0, -2.0])}
    grads = {"w": jnp.array([0.5, 0.5])}
    opt = make_optimizer(TrainConfig(weight_decay=0.1, learning_rate=1e-3))
    updates, _ = opt.update(grads, opt.init(params), params)
    ref, _ = optax.adam(1e-3).update({"w": jnp.array([0.6, 0.3])}, optax.adam(1e-3).init(params))
    np.testing.assert_allclose(updates["w"], ref["w"], rtol=1e-6)


def test_config_round_trip_and_command_line_option(tmp_path):
    # two batches (--max-examples): what is checked is the config the command line writes
    config = TrainConfig(topo="topoae", lam=0.43, epochs=1, max_examples=56, **SPHERES)
    assert TrainConfig.from_json(config.to_json()) == config
    assert TrainConfig.from_dict({"dataset": "digits"}).topo == "corel"  # old configs
    with pytest.raises(ValueError, match="TrainConfig.topo"):
        TrainConfig(topo="rips")
    with pytest.raises(ValueError, match="TrainConfig.weight_decay"):
        TrainConfig(weight_decay=-1.0)
    args = ["--dataset", "spheres", "--model", "spheres_mlp", "--topo", "topoae", "--lam", "0.43",
            "--num-branches", "1", "--branch-dim", "2", "--batch-size", "28", "--lr", "2.7e-4",
            "--weight-decay", "1e-5", "--devices", "1", "--epochs", "1",
            "--max-examples", "56"]  # fmt: skip
    assert commands.main(["train", "--workdir", str(tmp_path / "cli"), *args]) == 0
    saved = TrainConfig.from_json((tmp_path / "cli" / "config.json").read_text())
    assert saved == config
    with pytest.raises(SystemExit):
        commands.main(["train", "--workdir", str(tmp_path / "bad"), "--topo", "rips"])


def _arrays(workdir):
    arrays = checkpoint.restore(workdir, checkpoint.latest_step(workdir))
    return [np.asarray(a) for a in jax.tree.leaves((arrays["params"], arrays["batch_stats"]))]


def test_interrupted_topoae_run_resumes_exactly(tmp_path):
    config = TrainConfig(
        topo="topoae",
        lam=0.43,
        epochs=2,
        max_examples=560,
        steps_per_dispatch=5,
        checkpoint_every=10,
        keep_checkpoints=5,
        **SPHERES,
    )  # fmt: skip (20 steps per epoch)
    T.train_and_evaluate(config, tmp_path / "full", progress=False)
    part = T.train_and_evaluate(config, tmp_path / "part", progress=False, stop_after=10)
    assert part["step"] == 10 and not part["completed"]
    done = T.train_and_evaluate(config, tmp_path / "part", resume=True, progress=False)
    assert done["completed"] and done["step"] == 40
    assert_same_params(_arrays(tmp_path / "full"), _arrays(tmp_path / "part"))


def test_load_backbone_restores_the_batchnorm_statistics(tmp_path):
    from corel_jax.training.backbone import load_backbone

    config = TrainConfig(topo="topoae", lam=0.43, epochs=1, max_examples=280, **SPHERES)
    T.train_and_evaluate(config, tmp_path / "run", progress=False)
    model, saved = load_backbone(tmp_path / "run")
    assert saved == config
    arrays = checkpoint.restore(tmp_path / "run", checkpoint.latest_step(tmp_path / "run"))
    params, stats = nnx.state(model, nnx.Param), nnx.state(model, nnx.BatchStat)
    assert jax.tree.leaves(stats)  # the SPHERES MLP has BatchNorm
    for ours, saved_leaves in ((params, arrays["params"]), (stats, arrays["batch_stats"])):
        for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(saved_leaves), strict=True):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # the running statistics moved away from their initial values during training
    fresh = objectives.build_model(config, (101,), rngs=nnx.Rngs(0))
    moved = [not np.allclose(a, b) for a, b in zip(jax.tree.leaves(stats),
             jax.tree.leaves(nnx.state(fresh, nnx.BatchStat)), strict=True)]  # fmt: skip
    assert any(moved)
