"""Tests for cubical_h0 against GUDHI's CubicalComplex, graph_h0 and finite differences."""

import itertools

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from test_graph import pairs

from corel_jax import diagrams
from corel_jax.persistence import _union_find, cubical_h0, forward_offsets, graph_h0, grid_edges

gudhi = pytest.importorskip("gudhi")

ALGORITHMS = ["boruvka"] + (["native"] if _union_find.AVAILABLE else [])
# (our connectivity, GUDHI's construction)
CONSTRUCTIONS = [("full", "top_dimensional_cells"), ("faces", "vertices")]


def gudhi_intervals(image, construction, superlevel=False):
    x = -image if superlevel else image
    complex_ = gudhi.CubicalComplex(**{construction: x})
    complex_.compute_persistence()
    iv = complex_.persistence_intervals_in_dimension(0)
    return -iv if superlevel else iv


def images(rng, shape):
    """A generic image, an integer image (plateaus) and a constant one."""
    return [
        rng.random(shape).astype(np.float32),
        rng.integers(0, 4, shape).astype(np.float32),
        np.full(shape, 2.0, np.float32),
    ]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize(("connectivity", "construction"), CONSTRUCTIONS)
@pytest.mark.parametrize("shape", [(9, 11), (5, 6, 4)])
def test_equals_gudhi(rng, algorithm, connectivity, construction, shape):
    for image in images(rng, shape):
        for superlevel in (False, True):
            out = cubical_h0(image, connectivity=connectivity, superlevel=superlevel,
                             algorithm=algorithm)  # fmt: skip
            want = gudhi_intervals(image, construction, superlevel)
            assert pairs(out.intervals()) == pairs(want)
            assert np.sum(np.isinf(out.deaths)) == 1  # a grid is connected


@pytest.mark.parametrize("shape", [(1, 1), (1, 7), (6, 1), (2, 2), (1, 1, 5), (2, 3, 2)])
def test_thin_images_equal_gudhi(rng, shape):
    image = rng.random(shape).astype(np.float32)
    # (the XLA path on two of them: each shape is a program to compile)
    algorithms = ALGORITHMS if shape in ((1, 7), (2, 3, 2)) else ["native"]
    for (connectivity, construction), algorithm in itertools.product(CONSTRUCTIONS, algorithms):
        out = cubical_h0(image, connectivity=connectivity, algorithm=algorithm)
        assert pairs(out.intervals()) == pairs(gudhi_intervals(image, construction))


def test_the_grid_numbering():
    assert len(forward_offsets(2, "full")) == 4 and len(forward_offsets(2, "faces")) == 2
    assert len(forward_offsets(3, "full")) == 13 and len(forward_offsets(3, "faces")) == 3
    shape = (4, 3, 5)
    coords = list(itertools.product(*map(range, shape)))
    for connectivity, reach in (("full", 1), ("faces", None)):
        edges = np.asarray(grid_edges(shape, connectivity=connectivity))
        real = {tuple(sorted(e)) for e in edges.tolist() if e[0] != e[1]}
        brute = set()  # every pair of voxels at Chebyshev distance 1 (faces: l1 distance 1)
        for (i, p), (j, q) in itertools.combinations(enumerate(coords), 2):
            d = np.abs(np.subtract(p, q))
            if (d.max() == 1) if reach else (d.sum() == 1):
                brute.add((i, j))
        assert real == brute and len(edges) == len(real) + np.sum(edges[:, 0] == edges[:, 1])


@pytest.mark.parametrize("connectivity", ["full", "faces"])
def test_equals_graph_h0_on_the_grid_edges(rng, connectivity):
    """Death edges included: the C++ grid kernel, the XLA grid and the edge-list paths."""
    for shape in [(9, 11), (5, 6, 4)]:
        for image in images(rng, shape)[:2]:
            want = graph_h0(image.ravel(), grid_edges(shape, connectivity=connectivity),
                            algorithm="boruvka")  # fmt: skip
            for algorithm in ALGORITHMS:
                got = cubical_h0(image, connectivity=connectivity, algorithm=algorithm)
                for a, b in zip(got, want, strict=True):
                    np.testing.assert_array_equal(a, b)


def test_the_backends_agree_exactly_on_a_large_image(rng):
    if len(ALGORITHMS) < 2:
        pytest.skip("the C++ kernel is not built")
    image = np.round(rng.random((64, 64)) * 20).astype(np.float32)  # many plateaus
    got = [cubical_h0(image, algorithm=a) for a in ALGORITHMS]
    for a, b in zip(*got, strict=True):
        np.testing.assert_array_equal(a, b)


def test_slots_and_superlevel(rng):
    image = rng.random((9, 11)).astype(np.float32)
    out = cubical_h0(image)
    np.testing.assert_array_equal(out.births, image.ravel())
    np.testing.assert_array_equal(out.birth_vertex, np.arange(99))
    paired = np.asarray(out.death_vertex) >= 0
    np.testing.assert_array_equal(np.asarray(out.deaths)[paired],
                                  image.ravel()[np.asarray(out.death_vertex)[paired]])  # fmt: skip
    up = cubical_h0(image, superlevel=True)
    assert np.isneginf(up.deaths).sum() == 1 and up.births[np.argmin(up.deaths)] == image.max()
    assert np.all(np.asarray(up.deaths) <= np.asarray(up.births))


# -------------------------------------------------------------- gradients


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("superlevel", [False, True])
def test_gradients_match_finite_differences(rng, algorithm, superlevel):
    with jax.enable_x64(True):
        image = rng.random((9, 11))

        def loss(x):
            out = cubical_h0(x, superlevel=superlevel, algorithm=algorithm)
            return jnp.sum(out.persistence() ** 2) + jnp.sum(jnp.cos(out.births))

        jax.test_util.check_grads(loss, (image,), order=1, modes=["rev"], eps=1e-6)
        volume = rng.random((5, 6, 4))
        jax.test_util.check_grads(loss, (volume,), order=1, modes=["rev"], eps=1e-6)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_nan_on_plateaus_and_integer_images(algorithm):
    blocks = np.kron(np.eye(3), np.ones((3, 4)))[:, :11].astype(np.float32)  # 3 plateaus of 1
    target = jnp.array([0.5, 0.5])

    def loss(x):
        out = cubical_h0(x, algorithm=algorithm, superlevel=True)
        return diagrams.wasserstein_distance(out.persistence(), target, order=2.0)

    for image in (np.zeros((9, 11), np.float32), blocks):
        g = jax.grad(loss)(image)
        assert np.all(np.isfinite(g))
    out = cubical_h0(np.arange(12, dtype=np.int32).reshape(3, 4))  # int: float32
    assert out.births.dtype == jnp.float32


def matched_distance(a, b, order):
    """W_q between the diagrams {(0, a_i)} and {(0, b_j)} (l-inf ground metric) by an
    optimal assignment of the augmented cost matrix (points may go to the diagonal)."""
    from scipy.optimize import linear_sum_assignment

    k, m = len(a), len(b)
    cost = np.zeros((k + m, k + m))
    cost[:k, :m] = np.abs(a[:, None] - b[None, :]) ** order
    cost[:k, m:] = ((a / 2) ** order)[:, None]
    cost[k:, :m] = ((b / 2) ** order)[None, :]
    rows, cols = linear_sum_assignment(cost)
    return cost[rows, cols].sum() ** (1 / order)


def test_a_diagram_loss_through_corel_jax_diagrams(rng):
    """The lifetimes' Wasserstein distance is the matching distance of the diagrams
    {(0, lifetime)}, and a gradient step on an image brings its diagram closer."""
    a, b = rng.random((9, 11)).astype("f4"), rng.random((9, 11)).astype("f4")
    pa, pb = cubical_h0(a).persistence(), cubical_h0(b).persistence()
    distance = jax.jit(lambda x, y: diagrams.wasserstein_distance(x, y, order=2.0))
    positive = lambda p: np.asarray(p, np.float64)[np.asarray(p) > 0]  # noqa: E731
    np.testing.assert_allclose(distance(pa, pb), matched_distance(positive(pa), positive(pb), 2.0),
                               rtol=1e-5)  # fmt: skip
    loss = jax.jit(lambda x: distance(cubical_h0(x).persistence(), pb))
    step = a - 0.05 * jax.jit(jax.grad(loss))(a)
    assert loss(step) < loss(a)


# ------------------------------------------------------ transformations


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_jit_vmap_and_nested_batches(rng, algorithm):
    batch = rng.random((2, 3, 9, 11)).astype(np.float32)
    run = lambda x: cubical_h0(x, algorithm=algorithm)  # noqa: E731
    got = jax.jit(jax.vmap(jax.vmap(run)))(batch)
    for i, j in itertools.product(range(2), range(3)):
        for a, b in zip(got, run(batch[i, j]), strict=True):
            np.testing.assert_array_equal(a[i, j], b)
    grads = jax.jit(jax.vmap(jax.grad(lambda x: jnp.sum(run(x).persistence()))))(batch[0])
    assert grads.shape == (3, 9, 11) and np.isfinite(grads).all()


def test_float64_and_bfloat16(rng):
    image = rng.random((5, 5))
    with jax.enable_x64(True):
        out = cubical_h0(image)
        assert out.deaths.dtype == jnp.float64
    low = cubical_h0(jnp.asarray(image, jnp.bfloat16))
    assert low.births.dtype == jnp.float32


def test_input_checks():
    with pytest.raises(ValueError, match=r"image must be \(H, W\) or \(H, W, D\)"):
        cubical_h0(np.zeros((2, 3, 4, 5)))
    with pytest.raises(ValueError, match="Unknown connectivity"):
        cubical_h0(np.zeros((3, 3)), connectivity="corners")
    with pytest.raises(ValueError, match="Unknown algorithm"):
        cubical_h0(np.zeros((3, 3)), algorithm="pallas")
    with pytest.raises(ValueError, match="non-finite"):
        cubical_h0(np.array([[0.0, np.inf], [1.0, 2.0]]))
    bad = jax.jit(lambda x: cubical_h0(x).deaths)(np.array([[0.0, np.nan], [1.0, 2.0]]))
    assert np.isnan(bad).all()
    with pytest.raises(ValueError, match=r"shape must be \(H, W\)"):
        grid_edges((5,))


@pytest.mark.parametrize("algorithm", ["auto", "boruvka"])
def test_the_gpu_path_lowers_for_cuda_and_rocm(algorithm):
    """Without a GPU: the XLA path (sorts, scatters, while loops) lowers for GPUs, and
    "auto" takes it there."""
    cubical = lambda x: jnp.sum(cubical_h0(x, algorithm=algorithm).persistence())  # noqa: E731
    f = jax.vmap(jax.value_and_grad(cubical))
    g = jax.vmap(jax.grad(lambda f, e: jnp.sum(graph_h0(f, e, algorithm=algorithm).persistence())))
    for platform in ("cuda", "rocm"):
        exported = jax.export.export(jax.jit(f), platforms=[platform])(
            jax.ShapeDtypeStruct((4, 28, 28), jnp.float32)
        )
        text = exported.mlir_module()
        assert "corel_jax_cubical_h0" not in text and "stablehlo.sort" in text
        exported = jax.export.export(jax.jit(g), platforms=[platform])(
            jax.ShapeDtypeStruct((4, 100), jnp.float32),
            jax.ShapeDtypeStruct((4, 300, 2), jnp.int32),
        )
        text = exported.mlir_module()
        assert "corel_jax_graph_h0" not in text and "stablehlo.while" in text
