"""Tests for corel_jax.training.checkpoint: plain pytrees and meta round-trip, incomplete checkpoints."""

import jax
import numpy as np

from corel_jax.training import checkpoint


def _tree(rng):
    return {
        "params": {"w": rng.normal(size=(3, 4)).astype(np.float32), "layers": [np.arange(5)]},
        "step": np.int32(7),
        "key": np.array([1, 2], np.uint32),
    }


def test_save_restore_round_trip_and_latest_step(tmp_path, rng):
    assert checkpoint.latest_step(tmp_path) is None
    trees = {s: _tree(rng) for s in (5, 10)}
    manager = checkpoint.manager(tmp_path, keep=3)
    for step, tree in trees.items():
        checkpoint.save(manager, step, tree, {"note": f"step {step}"})
    manager.wait_until_finished()
    manager.close()
    # what a run killed while writing step 15 leaves behind
    (tmp_path / "checkpoints" / "15.orbax-checkpoint-tmp-1700000000000000" / "state").mkdir(
        parents=True
    )
    assert checkpoint.latest_step(tmp_path) == 10
    for step, tree in trees.items():
        back = checkpoint.restore(tmp_path, step, template=tree)
        assert jax.tree.structure(back) == jax.tree.structure(tree)
        for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(tree), strict=True):
            np.testing.assert_array_equal(a, b)
            assert np.asarray(a).dtype == np.asarray(b).dtype
        assert checkpoint.read_meta(tmp_path, step) == {"format": checkpoint.FORMAT,
                                                       "note": f"step {step}"}  # fmt: skip
    # without a template: the tree as saved, nested dicts of arrays
    raw = checkpoint.restore(tmp_path, 10)
    np.testing.assert_array_equal(raw["params"]["w"], trees[10]["params"]["w"])


def test_keeps_the_newest(tmp_path, rng):
    manager = checkpoint.manager(tmp_path, keep=2)
    for step in (1, 2, 3):
        checkpoint.save(manager, step, _tree(rng), {})
    manager.wait_until_finished()
    manager.close()
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["2", "3"]
    assert checkpoint.step_dir(tmp_path, 3) == (tmp_path / "checkpoints" / "3").absolute()
