"""Tests for graph_h0 against GUDHI's SimplexTree, a brute-force elder rule and finite differences."""

import itertools

import jax
import jax.numpy as jnp
import jax.test_util
import numpy as np
import pytest
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from corel_jax.persistence import GraphH0, _union_find, graph_h0

gudhi = pytest.importorskip("gudhi")

ALGORITHMS = ["boruvka"] + (["native"] if _union_find.AVAILABLE else [])


def random_graph(rng, n, m, *, integer=False, masked=False):
    f = rng.integers(0, 4, n).astype(np.float32) if integer else rng.random(n).astype(np.float32)
    edges = rng.integers(0, n, (m, 2)).astype(np.int32)
    vmask = rng.random(n) > 0.2 if masked else np.ones(n, bool)
    emask = rng.random(m) > 0.2 if masked else np.ones(m, bool)
    return f, edges, vmask, emask


def counted_edges(edges, vmask, emask):
    a, b = edges[:, 0], edges[:, 1]
    return emask & vmask[a] & vmask[b] & (a != b)


def gudhi_intervals(f, edges, w=None, vmask=None, emask=None, superlevel=False):
    """GUDHI's H0 intervals of the graph (a 1-dim simplicial complex)."""
    n, m = len(f), len(edges)
    vmask = np.ones(n, bool) if vmask is None else vmask
    emask = np.ones(m, bool) if emask is None else emask
    sign = -1.0 if superlevel else 1.0
    st = gudhi.SimplexTree()
    for v in np.flatnonzero(vmask):
        st.insert([int(v)], filtration=sign * float(f[v]))
    for e in np.flatnonzero(counted_edges(edges, vmask, emask)):
        a, b = (int(x) for x in edges[e])
        value = sign * float(w[e]) if w is not None else sign * float(max(f[a], f[b]))
        if superlevel and w is None:
            value = -float(min(f[a], f[b]))
        if st.find([a, b]):  # a repeated edge: the first to enter counts
            value = min(value, st.filtration([a, b]))
        st.insert([a, b], filtration=value)
        st.assign_filtration([a, b], value)
    st.compute_persistence(persistence_dim_max=True)
    return sign * st.persistence_intervals_in_dimension(0).reshape(-1, 2)


def pairs(intervals, decimals=5):
    """(sorted finite pairs of positive persistence, sorted essential births)."""
    iv = np.asarray(intervals, np.float64).reshape(-1, 2)
    essential = np.isinf(iv[:, 1])
    finite = iv[~essential]
    finite = finite[np.abs(finite[:, 1] - finite[:, 0]) > 0]
    return (
        sorted(map(tuple, np.round(finite, decimals))),
        sorted(np.round(iv[essential, 0], decimals)),
    )


def brute_force(f, edges, w, vmask, emask):
    """The documented tie rule, step by step: Kruskal over the edges sorted by
    (value, rank of the later endpoint, index), the younger root dies."""
    n = len(f)
    order = sorted(np.flatnonzero(vmask), key=lambda v: (f[v], v))
    rank = {v: r for r, v in enumerate(order)}
    ok = counted_edges(edges, vmask, emask)
    w = np.maximum(f[edges[:, 0]], f[edges[:, 1]]) if w is None else w
    hi = [max(a, b, key=lambda v: rank.get(v, -1)) for a, b in edges]
    parent = list(range(n))

    def find(v):
        while parent[v] != v:
            v = parent[v]
        return v

    death_edge = np.full(n, -1)
    for e in sorted(np.flatnonzero(ok), key=lambda e: (w[e], rank[hi[e]], e)):
        ra, rb = find(edges[e, 0]), find(edges[e, 1])
        if ra != rb:
            young, old = (ra, rb) if rank[ra] > rank[rb] else (rb, ra)
            parent[young] = old
            death_edge[young] = e
    death_vertex = np.where(death_edge >= 0, np.array(hi)[np.maximum(death_edge, 0)], -1)
    return death_edge, death_vertex


# ------------------------------------------------------------- references


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("integer", [False, True])
def test_lower_star_equals_gudhi_on_random_graphs(rng, algorithm, integer):
    for n, m in [(2, 1), (30, 20), (30, 70), (200, 600)]:  # (30, 20) is disconnected
        f, edges, _, _ = random_graph(rng, n, m, integer=integer)
        out = graph_h0(f, edges, algorithm=algorithm)
        assert pairs(out.intervals()) == pairs(gudhi_intervals(f, edges))
        # one essential class per connected component, born at its minimum
        graph = coo_matrix((np.ones(m), (edges[:, 0], edges[:, 1])), shape=(n, n))
        count, label = connected_components(graph, directed=False)
        minima = sorted(float(f[label == c].min()) for c in range(count))
        assert sorted(np.asarray(out.births)[np.isinf(out.deaths)]) == minima


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_given_edge_values_equal_gudhi(rng, algorithm):
    for integer in (False, True):
        f, edges, _, _ = random_graph(rng, 30, 70, integer=integer)
        w = np.maximum(f[edges[:, 0]], f[edges[:, 1]]) + rng.integers(0, 3, 70) * 0.5
        out = graph_h0(f, edges, w.astype(np.float32), algorithm=algorithm)
        assert pairs(out.intervals()) == pairs(gudhi_intervals(f, edges, w))
        # superlevel: edge values at most the endpoints' values
        w = np.minimum(f[edges[:, 0]], f[edges[:, 1]]) - rng.integers(0, 3, 70) * 0.5
        out = graph_h0(f, edges, w.astype(np.float32), superlevel=True, algorithm=algorithm)
        assert pairs(out.intervals()) == pairs(gudhi_intervals(f, edges, w, superlevel=True))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_masks_equal_gudhi_on_the_real_part(rng, algorithm):
    for seed in range(4):
        f, edges, vmask, emask = random_graph(np.random.default_rng(seed), 30, 70, masked=True)
        out = graph_h0(f, edges, vertex_mask=vmask, edge_mask=emask, algorithm=algorithm)
        assert pairs(out.intervals()) == pairs(gudhi_intervals(f, edges, None, vmask, emask))
        np.testing.assert_array_equal(out.valid, vmask)
        assert np.all(np.asarray(out.birth_vertex)[~vmask] == -1)
        assert np.all(np.asarray(out.diagram())[~vmask] == 0)  # padding on the diagonal


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_superlevel_equals_gudhi_and_negation(rng, algorithm):
    f, edges, _, _ = random_graph(rng, 30, 70, integer=True)
    up = graph_h0(f, edges, superlevel=True, algorithm=algorithm)
    assert pairs(up.intervals()) == pairs(gudhi_intervals(f, edges, superlevel=True))
    down = graph_h0(-f, edges, algorithm=algorithm)
    np.testing.assert_array_equal(up.births, -down.births)
    np.testing.assert_array_equal(up.deaths, -down.deaths)
    np.testing.assert_array_equal(up.death_edge, down.death_edge)
    assert np.all(np.asarray(up.deaths) <= np.asarray(up.births))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("given", [False, True])
def test_every_slot_follows_the_documented_tie_rule(rng, algorithm, given):
    """Slot by slot, plateaus, repeated edges and masks included, against a Python Kruskal."""
    for seed in range(6):
        r = np.random.default_rng(seed)
        f, edges, vmask, emask = random_graph(r, 30, 70, integer=True, masked=seed % 2 == 1)
        edges[:5] = edges[5:10]  # repeated edges
        w = None
        if given:
            w = (np.maximum(f[edges[:, 0]], f[edges[:, 1]]) + r.integers(0, 2, 70)).astype("f4")
        out = graph_h0(f, edges, w, vertex_mask=vmask, edge_mask=emask, algorithm=algorithm)
        death_edge, death_vertex = brute_force(f, edges, w, vmask, emask)
        np.testing.assert_array_equal(out.death_edge, death_edge)
        np.testing.assert_array_equal(out.death_vertex, death_vertex)
        values = f if w is None else w
        index = death_vertex if w is None else death_edge
        want = np.where(death_edge >= 0, values[np.maximum(index, 0)], np.inf)
        np.testing.assert_array_equal(out.deaths, np.where(vmask, want, 0))
        np.testing.assert_array_equal(out.births, np.where(vmask, f, 0))


def test_deaths_are_minimax_distances_to_older_vertices(rng):
    """death(v) = min over older u of the least, over paths v -> u, largest edge value."""
    f, edges, _, _ = random_graph(rng, 30, 70)
    n = len(f)
    minimax = np.full((n, n), np.inf)
    np.fill_diagonal(minimax, f)
    for a, b in edges:
        if a != b:
            minimax[a, b] = minimax[b, a] = min(minimax[a, b], max(f[a], f[b]))
    for k, i, j in itertools.product(range(n), repeat=3):  # Floyd-Warshall in (min, max)
        minimax[i, j] = min(minimax[i, j], max(minimax[i, k], minimax[k, j]))
    older = (f[None, :] < f[:, None]) | (
        (f[None, :] == f[:, None]) & (np.arange(n) < np.arange(n)[:, None])
    )
    want = np.where(older, minimax, np.inf).min(axis=1)
    for algorithm in ALGORITHMS:
        np.testing.assert_array_equal(graph_h0(f, edges, algorithm=algorithm).deaths, want)


def test_the_backends_agree_exactly_on_large_graphs(rng):
    if len(ALGORITHMS) < 2:
        pytest.skip("the C++ kernel is not built")
    for integer in (False, True):
        f, edges, vmask, emask = random_graph(rng, 3000, 9000, integer=integer, masked=True)
        got = [
            graph_h0(f, edges, vertex_mask=vmask, edge_mask=emask, algorithm=a) for a in ALGORITHMS
        ]
        for a, b in zip(got[0], got[1], strict=True):
            np.testing.assert_array_equal(a, b)


# ------------------------------------------------------- result protocol


def test_result_format(rng):
    f = np.array([0.0, 3.0, 1.0, 2.0, 0.5, 7.0], np.float32)
    edges = np.array([[0, 1], [1, 2], [2, 3], [3, 4]])  # vertex 5 alone
    out = graph_h0(f, edges)
    assert isinstance(out, GraphH0)
    # 3 enters at 2 and dies at once; it joins 2 to 4 (older), so 2 dies at 2; 1 enters at 3,
    # dies at once and joins 4 to 0, so 4 dies at 3
    np.testing.assert_array_equal(out.deaths, [np.inf, 3, 2, 2, 3, np.inf])
    np.testing.assert_array_equal(out.diagram()[:, 1], [np.inf, 3, 2, 2, 3, np.inf])
    np.testing.assert_array_equal(out.intervals(), [[0.5, 3], [1, 2], [0, np.inf], [7, np.inf]])
    # min_persistence=-1 keeps the zero-length pairs of the non-minima 1 and 3
    assert len(out.intervals(min_persistence=-1)) == 6
    np.testing.assert_array_equal(out.persistence(), [0, 0, 1, 0, 2.5, 0])
    np.testing.assert_array_equal(out.death_vertex, [-1, 1, 3, 3, 1, -1])
    np.testing.assert_array_equal(out.death_edge, [-1, 0, 3, 2, 1, -1])
    with pytest.raises(TypeError, match="eager"):
        jax.jit(lambda f: graph_h0(f, edges).intervals())(f)
    batch = jax.vmap(lambda f: graph_h0(f, edges))(np.stack([f, f]))
    assert batch.diagram().shape == (2, 6, 2)
    with pytest.raises(ValueError, match="one diagram"):
        batch.intervals()


def test_no_edges_and_one_vertex():
    out = graph_h0(np.array([1.0, 0.0]), np.zeros((0, 2), np.int32))
    np.testing.assert_array_equal(out.deaths, [np.inf, np.inf])
    out = graph_h0(np.array([2.0]), np.array([[0, 0]]))  # a loop never counts
    np.testing.assert_array_equal(out.intervals(), [[2.0, np.inf]])


# -------------------------------------------------------------- gradients


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_gradients_match_finite_differences(rng, algorithm):
    with jax.enable_x64(True):
        f, edges, _, _ = random_graph(rng, 30, 70)
        f = f.astype(np.float64)
        w = np.maximum(f[edges[:, 0]], f[edges[:, 1]]) + rng.random(70)

        def loss(f, w):
            out = graph_h0(f, edges, w, algorithm=algorithm)
            p = out.persistence()
            return jnp.sum(p**2 * jnp.arange(30)) + jnp.sum(jnp.sin(out.births))

        def lower_star(f):
            return jnp.sum(graph_h0(f, edges, algorithm=algorithm).persistence() ** 1.5)

        jax.test_util.check_grads(loss, (f, w), order=1, modes=["rev"], eps=1e-6)
        jax.test_util.check_grads(lower_star, (f,), order=1, modes=["rev"], eps=1e-6)


def test_each_cotangent_reaches_its_critical_value_only(rng):
    f, edges, _, _ = random_graph(rng, 30, 70)
    out = graph_h0(f, edges)
    for k in np.flatnonzero(np.asarray(out.death_vertex) >= 0)[:5]:
        g = jax.grad(lambda f, k=k: graph_h0(f, edges).deaths[k])(f)
        want = np.zeros(30)
        want[out.death_vertex[k]] = 1.0
        np.testing.assert_array_equal(g, want)
    w = np.maximum(f[edges[:, 0]], f[edges[:, 1]]) + 1.0
    k = int(np.flatnonzero(np.asarray(out.death_vertex) >= 0)[0])
    g_f, g_w = jax.grad(lambda f, w: graph_h0(f, edges, w).deaths[k], argnums=(0, 1))(f, w)
    assert not np.any(g_f) and np.sum(g_w) == 1.0
    assert g_w[graph_h0(f, edges, w).death_edge[k]] == 1.0


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_no_nan_on_plateaus(algorithm):
    f = np.zeros(30, np.float32)
    edges = np.array([[i, (i + 1) % 30] for i in range(30)] + [[0, 15]] * 40)

    def loss(f):
        out = graph_h0(f, edges, algorithm=algorithm)
        d = out.diagram()  # essential rows [0, inf]: their gradient must stay 0, not NaN
        return jnp.sum(out.persistence() ** 2) + jnp.sum(jnp.where(jnp.isfinite(d), d, 0) ** 2)

    g = jax.grad(loss)(f)
    assert np.all(np.isfinite(g))


# ------------------------------------------------------ transformations


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_jit_and_vmap_equal_single_calls(rng, algorithm):
    f = rng.random((5, 30)).astype(np.float32)
    edges = rng.integers(0, 30, (70, 2))
    masks = rng.random((5, 30)) > 0.1
    run = lambda f, m: graph_h0(f, edges, vertex_mask=m, algorithm=algorithm)  # noqa: E731
    batch = jax.jit(jax.vmap(run))(f, masks)
    for i in range(5):
        for a, b in zip(batch, run(f[i], masks[i]), strict=True):
            np.testing.assert_array_equal(a[i], b)


def test_input_checks():
    f, edges = np.zeros(4), np.array([[0, 1], [2, 3]])
    with pytest.raises(ValueError, match="vertex_values must have shape"):
        graph_h0(np.zeros((2, 4)), edges)
    with pytest.raises(ValueError, match=r"edges must have shape \(m, 2\)"):
        graph_h0(f, np.array([0, 1]))
    with pytest.raises(TypeError, match="integer"):
        graph_h0(f, edges.astype(float))
    with pytest.raises(ValueError, match=r"edges\[1\] = \[2, 4\]"):
        graph_h0(f, np.array([[0, 1], [2, 4]]))
    with pytest.raises(ValueError, match="edge_mask must have shape"):
        graph_h0(f, edges, edge_mask=np.ones(3, bool))
    with pytest.raises(ValueError, match=r"edge_values\[0\] = 0.5 is below the value"):
        graph_h0(np.array([0.0, 1.0, 0.0, 0.0]), edges, np.array([0.5, 0.0]))
    with pytest.raises(ValueError, match=r"edge_values\[1\] = 1.0 is above the value"):
        graph_h0(f, edges, np.array([0.0, 1.0]), superlevel=True)
    with pytest.raises(ValueError, match="non-finite"):
        graph_h0(np.array([0.0, np.nan, 0.0, 0.0]), edges)
    with pytest.raises(ValueError, match="Unknown algorithm"):
        graph_h0(f, edges, algorithm="prim")
    # masked-out entries may hold anything
    out = graph_h0(np.array([0.0, np.nan, 0.0, 1.0]), np.array([[0, 1], [2, 9]]),
                   vertex_mask=np.array([1, 0, 1, 1], bool), edge_mask=np.array([1, 0], bool))  # fmt: skip
    assert np.isfinite(out.births).all()
    # under jit: non-finite values give NaN
    bad = jax.jit(lambda f: graph_h0(f, edges).deaths)(np.array([0.0, np.inf, 0.0, 0.0]))
    assert np.isnan(bad).all()
