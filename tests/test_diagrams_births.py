"""corel_jax.diagrams on diagrams with births (graphs, images) and the shared H0 protocol.

References: GUDHI's Wasserstein (POT) and bottleneck distances, GUDHI's cubical
persistence, and central finite differences in float64.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from gradient_checks import assert_directional_derivatives
from references import needs

from corel_jax import diagrams
from corel_jax.diagrams import bottleneck_distance, cubical_diagram_loss, wasserstein_distance
from corel_jax.persistence import GraphH0, H0Diagram, PersistenceH0, cubical_h0, graph_h0, rips_h0


def gudhi_distance(a: np.ndarray, b: np.ndarray, order: float) -> float:
    """GUDHI's distance between the finite rows of two ``(k, 2)`` diagrams."""
    a = np.asarray(a, np.float64)[np.isfinite(a[:, 1])]
    b = np.asarray(b, np.float64)[np.isfinite(b[:, 1])]
    if math.isinf(order):
        return needs("gudhi", "the bottleneck distance against GUDHI's").bottleneck_distance(
            a, b, e=0
        )
    w = needs("gudhi.wasserstein", "the Wasserstein distance against GUDHI's")
    return w.wasserstein_distance(a, b, order=order, internal_p=np.inf)


def gudhi_cubical(image: np.ndarray, superlevel: bool = False) -> np.ndarray:
    """GUDHI's H0 intervals of an image (8 neighbours); superlevel: of ``-image``, negated."""
    gudhi = needs("gudhi", "cubical diagrams against GUDHI's")
    x = -image if superlevel else image
    cc = gudhi.CubicalComplex(top_dimensional_cells=np.asarray(x, np.float64))
    cc.compute_persistence()
    rows = cc.persistence_intervals_in_dimension(0)
    return -rows if superlevel else rows


def random_rows(rng, n: int) -> np.ndarray:
    births = rng.normal(size=n)
    return np.stack([births, births + rng.exponential(size=n)], axis=1)


class TestProtocol:
    def test_every_result_is_an_h0_diagram(self, rng):
        x = rng.normal(size=(6, 2)).astype(np.float32)
        image = rng.random((5, 5)).astype(np.float32)
        results = [rips_h0(x), cubical_h0(image), graph_h0(image[0], jnp.array([[0, 1], [1, 2]]))]
        for result in results:
            assert isinstance(result, H0Diagram)
            assert result.births.shape == result.deaths.shape == result.valid.shape
        assert not isinstance(np.zeros((3, 2)), H0Diagram)

    def test_rips_births_are_zero_and_batch(self, rng):
        res = jax.vmap(rips_h0)(rng.normal(size=(3, 6, 2)).astype(np.float32))
        assert isinstance(res, PersistenceH0)
        np.testing.assert_array_equal(res.births, np.zeros((3, 5)))

    def test_a_result_its_diagram_and_gudhi_give_one_distance(self, rng):
        a, b = rng.random((6, 7)).astype(np.float32), rng.random((6, 7)).astype(np.float32)
        ra, rb = cubical_h0(a), cubical_h0(b)
        ref = gudhi_distance(gudhi_cubical(a), gudhi_cubical(b), 2.0)
        for x, y in ((ra, rb), (ra.diagram(), rb.diagram()), (ra.intervals(), rb)):
            np.testing.assert_allclose(wasserstein_distance(x, y, order=2.0), ref, rtol=1e-5)

    def test_rips_results_take_the_exact_programme(self, rng):
        x, y = rng.normal(size=(9, 2)), rng.normal(size=(7, 2))
        rx, ry = rips_h0(x.astype(np.float32)), rips_h0(y.astype(np.float32))
        for order in (1.0, math.inf):
            ref = gudhi_distance(rx.intervals(), ry.intervals(), order)
            got = diagrams._distance(rx, ry, order, None, None)
            general = diagrams._distance(rx, ry, order, None, None, any_births=True)
            np.testing.assert_allclose([got, general], [ref, ref], rtol=1e-5)


class TestAgainstGudhi:
    @pytest.mark.parametrize("order", [1.0, 2.0, 3.0, math.inf])
    def test_random_diagrams(self, rng, order):
        for n, m in ((1, 4), (9, 12), (14, 7)):
            a, b = random_rows(rng, n), random_rows(rng, m)
            a[0] = [a[0, 0], np.inf]  # an essential class: left out
            ref = gudhi_distance(a, b, order)
            np.testing.assert_allclose(wasserstein_distance(a, b, order=order), ref, rtol=1e-5)
            jitted = jax.jit(lambda a, b: wasserstein_distance(a, b, order=order))(a, b)
            np.testing.assert_allclose(jitted, ref, rtol=1e-5)  # (lax.cond at run time)

    @pytest.mark.parametrize("superlevel", [False, True])
    def test_cubical_diagrams_with_plateaus(self, rng, superlevel):
        for _ in range(4):
            a = rng.integers(0, 4, (6, 6)).astype(np.float32)
            b = rng.integers(0, 4, (5, 7)).astype(np.float32)
            ra, rb = cubical_h0(a, superlevel=superlevel), cubical_h0(b, superlevel=superlevel)
            ga, gb = gudhi_cubical(a, superlevel), gudhi_cubical(b, superlevel)
            if superlevel:  # GUDHI wants births <= deaths: x -> -x is an isometry
                ga, gb = -ga, -gb
            for order in (1.0, 2.0, math.inf):
                np.testing.assert_allclose(
                    wasserstein_distance(ra, rb, order=order),
                    gudhi_distance(ga, gb, order),
                    rtol=1e-5,
                    atol=1e-6,
                )

    def test_masks_and_padding(self, rng):
        a, b = random_rows(rng, 10), random_rows(rng, 8)
        mask = np.arange(10) < 6
        padded = np.concatenate([b, np.zeros((3, 2))])  # [0, 0] rows lie on the diagonal
        ref = gudhi_distance(a[:6], b, 1.0)
        np.testing.assert_allclose(wasserstein_distance(a, padded, mask_a=mask), ref, rtol=1e-5)
        np.testing.assert_allclose(bottleneck_distance(a[:6], padded),
                                   gudhi_distance(a[:6], b, math.inf), rtol=1e-6)  # fmt: skip

    def test_vmap_over_graph_results(self, rng):
        edges = jnp.array([[0, 1], [1, 2], [2, 3], [3, 4], [0, 4], [1, 3]])
        f, g = rng.random((4, 5)).astype(np.float32), rng.random((4, 5)).astype(np.float32)
        batched = jax.jit(jax.vmap(lambda f, g: bottleneck_distance(graph_h0(f, edges),
                                                                     graph_h0(g, edges))))  # fmt: skip
        for k, got in enumerate(batched(f, g)):
            ref = gudhi_distance(graph_h0(f[k], edges).intervals(),
                                 graph_h0(g[k], edges).intervals(), math.inf)  # fmt: skip
            np.testing.assert_allclose(got, ref, rtol=1e-6)


class TestGradient:
    @pytest.mark.parametrize("order", [1.0, 2.0, math.inf])
    def test_finite_differences_float64(self, rng, order):
        a, b = random_rows(rng, 8), random_rows(rng, 6)
        with jax.enable_x64(True):
            f = jax.jit(lambda a, b: wasserstein_distance(a, b, order=order))
            assert_directional_derivatives(f, (a, b), rng)

    def test_the_image_loss_against_finite_differences(self, rng):
        x, t = rng.random((2, 6, 6)), rng.random((2, 6, 6))
        with jax.enable_x64(True):
            loss = jax.jit(lambda x: cubical_diagram_loss(x, t, order=2.0, superlevel=True))
            g = jax.grad(loss)(x)
            assert np.count_nonzero(g) > 0
            for _ in range(3):
                u = rng.normal(size=x.shape)
                eps = 1e-7
                fd = (loss(x + eps * u) - loss(x - eps * u)) / (2 * eps)
                np.testing.assert_allclose(np.sum(g * u), fd, rtol=1e-6, atol=1e-9)


class TestCubicalDiagramLoss:
    @pytest.mark.parametrize("order", [1.0, math.inf])
    def test_value_is_the_mean_gudhi_distance(self, rng, order):
        x, t = rng.random((3, 7, 6)).astype(np.float32), rng.random((3, 7, 6)).astype(np.float32)
        ref = np.mean([gudhi_distance(gudhi_cubical(x[k]), gudhi_cubical(t[k]), order)
                       for k in range(3)])  # fmt: skip
        loss = jax.jit(lambda x, t: cubical_diagram_loss(x, t, order=order))
        np.testing.assert_allclose(loss(x, t), ref, rtol=1e-5)

    def test_target_forms_agree_and_zero_at_the_target(self, rng):
        x, t = rng.random((2, 6, 6)).astype(np.float32), rng.random((2, 6, 6)).astype(np.float32)
        want = cubical_diagram_loss(x, t, superlevel=True)
        target = jax.vmap(lambda i: cubical_h0(i, superlevel=True))(t)
        assert isinstance(target, GraphH0)
        np.testing.assert_allclose(cubical_diagram_loss(x, target, superlevel=True), want)
        np.testing.assert_allclose(
            cubical_diagram_loss(x, target.diagram(), superlevel=True), want, rtol=1e-6
        )
        assert float(cubical_diagram_loss(x, x)) == 0.0

    def test_top_k_keeps_the_most_persistent_pairs(self, rng):
        x, t = rng.random((2, 8, 8)).astype(np.float32), rng.random((2, 8, 8)).astype(np.float32)

        def top(rows, k):
            rows = rows[np.isfinite(rows[:, 1])]
            return rows[np.argsort(-(rows[:, 1] - rows[:, 0]), kind="stable")[:k]]

        ref = np.mean([gudhi_distance(top(gudhi_cubical(x[i]), 4), top(gudhi_cubical(t[i]), 4),
                                      1.0) for i in range(2)])  # fmt: skip
        np.testing.assert_allclose(cubical_diagram_loss(x, t, top_k=4), ref, rtol=1e-5)

    def test_three_dimensional_images_and_descent(self, rng):
        x, t = rng.random((1, 4, 4, 3)), rng.random((1, 4, 4, 3)).astype(np.float32)
        ref = gudhi_distance(gudhi_cubical(x[0]), gudhi_cubical(t[0]), 1.0)
        x = x.astype(np.float32)
        np.testing.assert_allclose(cubical_diagram_loss(x, t), ref, rtol=1e-5)
        step = jax.jit(jax.value_and_grad(lambda x: cubical_diagram_loss(x, t)))
        first, g = step(x)
        for _ in range(20):
            x = x - 0.05 * g
            value, g = step(x)
        assert value < first

    def test_checks(self, rng):
        x = rng.random((2, 5, 5)).astype(np.float32)
        with pytest.raises(ValueError, match=r"\(B, H, W\)"):
            cubical_diagram_loss(x[0, 0], x[0, 0])
        with pytest.raises(ValueError, match="targets"):
            cubical_diagram_loss(x, x[:, :4])
        with pytest.raises(ValueError, match="top_k"):
            cubical_diagram_loss(x, x, top_k=26)
        with pytest.raises(ValueError, match="order"):
            cubical_diagram_loss(x, x, order=0.5)
