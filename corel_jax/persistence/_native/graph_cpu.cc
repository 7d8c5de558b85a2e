// 0-dimensional persistence of filtered graphs and cubical complexes on the
// CPU, as XLA FFI custom calls: union-find over the edges in filtration order,
// pairs by the elder rule.
//
// The filtration order (the tie rule of every back end, corel_jax/persistence/graph.py):
//   vertices by (value, index): rank[v] is the position of v in that order;
//   edges by (edge value, rank of the later endpoint hi, edge index).
// An edge joining two components kills the younger one (the root of larger
// rank): death_edge[root] = e, death_vertex[root] = hi. Roots never killed are
// the essential classes (-1). For a lower-star filtration (edge value = the
// value of hi) the edge order is (rank of hi, edge index): the edges enter
// with their later vertex, in index order.
//
// corel_jax_graph_h0
//   in:  values (..., n) f32/f64, edges (..., m, 2) s32,
//        edge values (..., m) like values, or (..., 0) for the lower-star values,
//        vertex mask (..., n) pred, edge mask (..., m) pred.
//   out: death_edge (..., n) s32, death_vertex (..., n) s32 (-1: essential or masked).
//   An edge counts if its mask is set, both endpoints are real vertices in
//   [0, n) and it is not a loop.
//
// corel_jax_cubical_h0
//   in:  image (..., H, W) or (..., H, W, D) f32/f64 (attr dims: 2 or 3).
//   out: death_edge, death_vertex with the image's shape.
//   attr full: 0 for the 2 dims (4 / 6) face neighbours, 1 for all 8 / 26.
//   The grid's edges are never stored: edge e = p * K + k joins pixel p (flat,
//   row-major) and p + delta_k, for the K "forward" offsets delta_k (the
//   lexicographically positive ones, in lexicographic order; cubical.py).
//   The pixels are processed in rank order, each joining its already present
//   neighbours in edge-index order, which is the lower-star edge order above.
//
// Vertex ranks come from a stable LSD radix sort of the values' bits (ties
// stay in index order); -0.0 counts as +0.0. Values must be finite (the
// Python side replaces non-finite values first). A batch is spread over XLA's
// intra-op thread pool.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "parallel.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using corel_jax_native::ParallelFor;

namespace {

// ----------------------------------------------------------------- ordering

// An unsigned key whose order is the order of the float (finite values).
inline uint32_t OrderKey(float x) {
  if (x == 0) x = 0;  // -0.0 as +0.0
  uint32_t b;
  std::memcpy(&b, &x, sizeof b);
  return (b & 0x80000000u) ? ~b : (b | 0x80000000u);
}
inline uint64_t OrderKey(double x) {
  if (x == 0) x = 0;
  uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return (b & (uint64_t{1} << 63)) ? ~b : (b | (uint64_t{1} << 63));
}

template <typename T>
using KeyOf = decltype(OrderKey(T{}));

// Sorts idx (and key alongside) stably by key: LSD radix sort, 8 bits per
// pass, skipping the passes whose digit is the same for every key.
template <typename K>
void RadixSort(std::vector<K>& key, std::vector<int32_t>& idx, std::vector<K>& tk,
               std::vector<int32_t>& ti) {
  const size_t n = key.size();
  constexpr int kPasses = sizeof(K);
  std::vector<size_t> count(kPasses * 256, 0);
  for (size_t i = 0; i < n; ++i)
    for (int p = 0; p < kPasses; ++p) ++count[p * 256 + ((key[i] >> (8 * p)) & 255)];
  tk.resize(n);
  ti.resize(n);
  for (int p = 0; p < kPasses; ++p) {
    size_t* c = count.data() + p * 256;
    if (n == 0 || c[(key[0] >> (8 * p)) & 255] == n) continue;
    size_t sum = 0;
    for (int b = 0; b < 256; ++b) {
      const size_t t = c[b];
      c[b] = sum;
      sum += t;
    }
    for (size_t i = 0; i < n; ++i) {
      const size_t pos = c[(key[i] >> (8 * p)) & 255]++;
      tk[pos] = key[i];
      ti[pos] = idx[i];
    }
    key.swap(tk);
    idx.swap(ti);
  }
}

// Work arrays reused across the items a thread processes.
template <typename T>
struct Scratch {
  std::vector<KeyOf<T>> key, tkey;
  std::vector<int32_t> order, torder, rank, parent, count;
  std::vector<uint32_t> inside;
};

inline int32_t Find(int32_t* parent, int32_t v) {
  while (parent[v] != v) {  // path halving
    parent[v] = parent[parent[v]];
    v = parent[v];
  }
  return v;
}

// Joins the components of u and v by edge e entering with vertex hi: the
// younger root dies.
inline void Join(int32_t* parent, const int32_t* rank, int32_t u, int32_t v, int32_t e,
                 int32_t hi, int32_t* death_edge, int32_t* death_vertex) {
  int32_t ru = Find(parent, u), rv = Find(parent, v);
  if (ru == rv) return;
  if (rank[ru] > rank[rv]) std::swap(ru, rv);  // ru is the elder
  parent[rv] = ru;
  death_edge[rv] = e;
  death_vertex[rv] = hi;
}

// ------------------------------------------------------------------- graphs

template <typename T>
void GraphOne(const T* f, const int32_t* edges, const T* w, const bool* vmask, const bool* emask,
              int64_t n, int64_t m, int32_t* death_edge, int32_t* death_vertex, Scratch<T>& s) {
  std::fill(death_edge, death_edge + n, -1);
  std::fill(death_vertex, death_vertex + n, -1);
  // Ranks of the real vertices.
  s.key.clear();
  s.order.clear();
  for (int64_t v = 0; v < n; ++v) {
    if (!vmask[v]) continue;
    s.key.push_back(OrderKey(f[v]));
    s.order.push_back(static_cast<int32_t>(v));
  }
  RadixSort(s.key, s.order, s.tkey, s.torder);
  const int64_t real = static_cast<int64_t>(s.order.size());
  s.rank.assign(n, -1);
  for (int64_t k = 0; k < real; ++k) s.rank[s.order[k]] = static_cast<int32_t>(k);
  const int32_t* rank = s.rank.data();
  auto counts = [&](int64_t e) {
    if (!emask[e]) return false;
    const int32_t a = edges[2 * e], b = edges[2 * e + 1];
    return a >= 0 && a < n && b >= 0 && b < n && a != b && rank[a] >= 0 && rank[b] >= 0;
  };
  auto hi_of = [&](int64_t e) {
    const int32_t a = edges[2 * e], b = edges[2 * e + 1];
    return rank[a] > rank[b] ? a : b;
  };
  // Edges by (rank of hi, index): a counting sort by the rank of hi.
  s.count.assign(real + 1, 0);
  for (int64_t e = 0; e < m; ++e)
    if (counts(e)) ++s.count[rank[hi_of(e)] + 1];
  for (int64_t k = 0; k < real; ++k) s.count[k + 1] += s.count[k];
  const int64_t valid = s.count[real];
  s.order.resize(valid);
  for (int64_t e = 0; e < m; ++e)
    if (counts(e)) s.order[s.count[rank[hi_of(e)]]++] = static_cast<int32_t>(e);
  // Given edge values: then stably by value, giving (value, rank of hi, index).
  if (w != nullptr) {
    s.key.resize(valid);
    for (int64_t k = 0; k < valid; ++k) s.key[k] = OrderKey(w[s.order[k]]);
    RadixSort(s.key, s.order, s.tkey, s.torder);
  }
  s.parent.resize(n);
  for (int64_t v = 0; v < n; ++v) s.parent[v] = static_cast<int32_t>(v);
  for (int64_t k = 0; k < valid; ++k) {
    const int32_t e = s.order[k];
    Join(s.parent.data(), rank, edges[2 * e], edges[2 * e + 1], e, hi_of(e), death_edge,
         death_vertex);
  }
}

// -------------------------------------------------------------------- grids

struct Offset {
  int32_t d[3];
};

// The forward offsets of a grid (lexicographically positive, in
// lexicographic order): the edge numbering of corel_jax/persistence/cubical.py.
std::vector<Offset> ForwardOffsets(int dims, bool full) {
  std::vector<Offset> out;
  const int r2 = dims == 3 ? 1 : 0;
  for (int a = -1; a <= 1; ++a)
    for (int b = -1; b <= 1; ++b)
      for (int c = -r2; c <= r2; ++c) {
        const int nonzero = (a != 0) + (b != 0) + (c != 0);
        const int first = a != 0 ? a : (b != 0 ? b : c);
        if (nonzero == 0 || first < 0 || (!full && nonzero > 1)) continue;
        out.push_back(Offset{{a, b, c}});
      }
  return out;
}

template <typename T>
void CubicalOne(const T* img, int64_t h, int64_t wd, int64_t dp, const std::vector<Offset>& fwd,
                int32_t* death_edge, int32_t* death_vertex, Scratch<T>& s) {
  const int64_t n = h * wd * dp, kk = static_cast<int64_t>(fwd.size());
  std::fill(death_edge, death_edge + n, -1);
  std::fill(death_vertex, death_vertex + n, -1);
  s.key.resize(n);
  s.order.resize(n);
  for (int64_t v = 0; v < n; ++v) {
    s.key[v] = OrderKey(img[v]);
    s.order[v] = static_cast<int32_t>(v);
  }
  RadixSort(s.key, s.order, s.tkey, s.torder);
  // A pixel's edges in index order: the backward ones (v = p + delta, base p
  // = v - offset) by decreasing flat offset, then the forward ones by k.
  struct Step {
    int32_t d[3];
    int64_t flat;
    int32_t k;
    bool forward;
  };
  std::vector<Step> steps;
  for (int32_t k = 0; k < kk; ++k) {
    const Offset& o = fwd[k];
    const int64_t flat = (o.d[0] * wd + o.d[1]) * dp + o.d[2];
    steps.push_back(Step{{-o.d[0], -o.d[1], -o.d[2]}, -flat, k, false});
  }
  std::stable_sort(steps.begin(), steps.end(),
                   [](const Step& x, const Step& y) { return x.flat < y.flat; });
  for (int32_t k = 0; k < kk; ++k) {
    const Offset& o = fwd[k];
    steps.push_back(Step{{o.d[0], o.d[1], o.d[2]}, (o.d[0] * wd + o.d[1]) * dp + o.d[2], k, true});
  }
  // Bit t of inside[v]: the neighbour of step t is in the image (one pass in
  // memory order, so the rank-order pass below does no division).
  const int64_t num_steps = static_cast<int64_t>(steps.size());
  s.inside.resize(n);
  for (int64_t i = 0, v = 0; i < h; ++i)
    for (int64_t j = 0; j < wd; ++j)
      for (int64_t l = 0; l < dp; ++l, ++v) {
        uint32_t bits = 0;
        for (int64_t t = 0; t < num_steps; ++t) {
          const int64_t i2 = i + steps[t].d[0], j2 = j + steps[t].d[1], l2 = l + steps[t].d[2];
          bits |= static_cast<uint32_t>(i2 >= 0 && i2 < h && j2 >= 0 && j2 < wd && l2 >= 0 &&
                                        l2 < dp)
                  << t;
        }
        s.inside[v] = bits;
      }
  s.parent.assign(n, -1);  // -1: not yet in the filtration
  s.rank.resize(n);
  int32_t* parent = s.parent.data();
  int32_t* rank = s.rank.data();
  for (int64_t r = 0; r < n; ++r) {
    const int32_t v = s.order[r];
    parent[v] = v;
    rank[v] = static_cast<int32_t>(r);
    const uint32_t bits = s.inside[v];
    for (int64_t t = 0; t < num_steps; ++t) {
      if (!((bits >> t) & 1)) continue;
      const Step& st = steps[t];
      const int32_t u = static_cast<int32_t>(v + st.flat);
      if (parent[u] < 0) continue;
      const int64_t base = st.forward ? v : u;
      Join(parent, rank, u, v, static_cast<int32_t>(base * kk + st.k), v, death_edge,
           death_vertex);
    }
  }
}

// ------------------------------------------------------------------ batches

// Below 2^16 units of work a task costs less than handing it over.
int64_t Workers(ffi::ThreadPool& pool, int64_t tasks, int64_t work) {
  return corel_jax_native::Workers(pool, tasks, work, int64_t{1} << 16);
}

template <typename T>
ffi::Error GraphBatch(ffi::ThreadPool pool, ffi::AnyBuffer values, ffi::Buffer<ffi::S32> edges,
                      ffi::AnyBuffer edge_values, ffi::Buffer<ffi::PRED> vmask,
                      ffi::Buffer<ffi::PRED> emask, ffi::Result<ffi::Buffer<ffi::S32>> death_edge,
                      ffi::Result<ffi::Buffer<ffi::S32>> death_vertex) {
  auto dims = values.dimensions();
  if (dims.size() < 1) return ffi::Error::InvalidArgument("values must have rank >= 1");
  const int64_t n = dims[dims.size() - 1];
  const int64_t batch = n > 0 ? static_cast<int64_t>(values.element_count()) / n : 0;
  auto edims = edges.dimensions();
  if (edims.size() < 2 || edims[edims.size() - 1] != 2)
    return ffi::Error::InvalidArgument("edges must have shape (..., m, 2)");
  const int64_t m = edims[edims.size() - 2];
  const bool lower_star = edge_values.element_count() == 0;
  if (static_cast<int64_t>(edges.element_count()) != batch * m * 2 ||
      (!lower_star && static_cast<int64_t>(edge_values.element_count()) != batch * m) ||
      static_cast<int64_t>(vmask.element_count()) != batch * n ||
      static_cast<int64_t>(emask.element_count()) != batch * m ||
      static_cast<int64_t>(death_edge->element_count()) != batch * n ||
      static_cast<int64_t>(death_vertex->element_count()) != batch * n)
    return ffi::Error::InvalidArgument("the shapes of the graph's arrays do not match");
  const T* f = reinterpret_cast<const T*>(values.untyped_data());
  const T* w = lower_star ? nullptr : reinterpret_cast<const T*>(edge_values.untyped_data());
  const int32_t* ed = edges.typed_data();
  const bool* vm = vmask.typed_data();
  const bool* em = emask.typed_data();
  int32_t* de = death_edge->typed_data();
  int32_t* dv = death_vertex->typed_data();
  ParallelFor(pool, batch, Workers(pool, batch, batch * (n + m)), [=](int64_t b) {
    thread_local Scratch<T> s;
    GraphOne<T>(f + b * n, ed + b * m * 2, w == nullptr ? nullptr : w + b * m, vm + b * n,
                em + b * m, n, m, de + b * n, dv + b * n, s);
  });
  return ffi::Error::Success();
}

ffi::Error GraphImpl(ffi::ThreadPool pool, ffi::AnyBuffer values, ffi::Buffer<ffi::S32> edges,
                     ffi::AnyBuffer edge_values, ffi::Buffer<ffi::PRED> vmask,
                     ffi::Buffer<ffi::PRED> emask, ffi::Result<ffi::Buffer<ffi::S32>> death_edge,
                     ffi::Result<ffi::Buffer<ffi::S32>> death_vertex) {
  if (edge_values.element_count() != 0 && edge_values.element_type() != values.element_type())
    return ffi::Error::InvalidArgument("edge values must have the dtype of the values");
  switch (values.element_type()) {
    case ffi::F32:
      return GraphBatch<float>(pool, values, edges, edge_values, vmask, emask, death_edge,
                               death_vertex);
    case ffi::F64:
      return GraphBatch<double>(pool, values, edges, edge_values, vmask, emask, death_edge,
                                death_vertex);
    default:
      return ffi::Error::InvalidArgument("values must be float32 or float64");
  }
}

template <typename T>
ffi::Error CubicalBatch(ffi::ThreadPool pool, ffi::AnyBuffer image,
                        ffi::Result<ffi::Buffer<ffi::S32>> death_edge,
                        ffi::Result<ffi::Buffer<ffi::S32>> death_vertex, int32_t dims,
                        int32_t full) {
  auto shape = image.dimensions();
  if ((dims != 2 && dims != 3) || static_cast<int32_t>(shape.size()) < dims)
    return ffi::Error::InvalidArgument("image must have rank >= dims, dims 2 or 3");
  const size_t r = shape.size();
  const int64_t h = shape[r - dims], wd = shape[r - dims + 1], dp = dims == 3 ? shape[r - 1] : 1;
  const int64_t n = h * wd * dp;
  const int64_t batch = n > 0 ? static_cast<int64_t>(image.element_count()) / n : 0;
  if (static_cast<int64_t>(death_edge->element_count()) != batch * n ||
      static_cast<int64_t>(death_vertex->element_count()) != batch * n)
    return ffi::Error::InvalidArgument("the results do not match the image");
  const std::vector<Offset> fwd = ForwardOffsets(dims, full != 0);
  const T* x = reinterpret_cast<const T*>(image.untyped_data());
  int32_t* de = death_edge->typed_data();
  int32_t* dv = death_vertex->typed_data();
  ParallelFor(pool, batch, Workers(pool, batch, batch * n * 4), [=, &fwd](int64_t b) {
    thread_local Scratch<T> s;
    CubicalOne<T>(x + b * n, h, wd, dp, fwd, de + b * n, dv + b * n, s);
  });
  return ffi::Error::Success();
}

ffi::Error CubicalImpl(ffi::ThreadPool pool, ffi::AnyBuffer image,
                       ffi::Result<ffi::Buffer<ffi::S32>> death_edge,
                       ffi::Result<ffi::Buffer<ffi::S32>> death_vertex, int32_t dims,
                       int32_t full) {
  switch (image.element_type()) {
    case ffi::F32:
      return CubicalBatch<float>(pool, image, death_edge, death_vertex, dims, full);
    case ffi::F64:
      return CubicalBatch<double>(pool, image, death_edge, death_vertex, dims, full);
    default:
      return ffi::Error::InvalidArgument("image must be float32 or float64");
  }
}

}  // namespace

// Exported by name: corel_jax/persistence/_union_find.py registers them
// (this file is linked into the _prim_cpu extension, whose other symbols are
// hidden).
#pragma GCC visibility push(default)

XLA_FFI_DEFINE_HANDLER_SYMBOL(CorelGraphH0Cpu, GraphImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::Buffer<ffi::S32>>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::Buffer<ffi::PRED>>()
                                  .Arg<ffi::Buffer<ffi::PRED>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>());

XLA_FFI_DEFINE_HANDLER_SYMBOL(CorelCubicalH0Cpu, CubicalImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Attr<int32_t>("dims")
                                  .Attr<int32_t>("full"));

#pragma GCC visibility pop
