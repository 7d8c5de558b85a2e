// Prim's minimum spanning tree on the CPU as an XLA FFI custom call.
//
// Same algorithm and tie-breaking as the XLA loop in corel_jax/persistence.py
// (first minimiser joins the tree; a tie never replaces a vertex's parent), so
// both back ends return the same tree. Rows of distances are computed on the
// fly from a (d, n) copy of the points (O(n d) memory) in contiguous passes
// that the compiler vectorises (clones for AVX-512, AVX2 and baseline x86-64
// are chosen at load time). A large batch of clouds (vmap) is split over threads.
//
// Inputs:  points (..., n, d) f32/f64 (or (..., n, n) distances, kind 5),
//          mask (..., n) pred.
// Output:  parent (..., n) s32: the MST is {(parent[v], v) : v real, v != root}.
// Attrs:   kind (0 l1, 1 l2, 2 sqeuclidean, 3 linf, 4 minkowski, 5 precomputed),
//          p (Minkowski exponent).

#include <Python.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

enum Kind { kL1 = 0, kL2 = 1, kSqEuclidean = 2, kLinf = 3, kMinkowski = 4, kPrecomputed = 5 };

template <typename T>
struct Bits;
template <>
struct Bits<float> {
  using U = uint32_t;
};
template <>
struct Bits<double> {
  using U = uint64_t;
};

// acc[j] = distance from the newest tree vertex (coordinates cv) to each of
// the m compacted vertices of xc, a (d, cap) array: one contiguous,
// vectorisable pass per coordinate.
template <typename T, int K>
__attribute__((always_inline)) inline void RowDist(const T* xc, int64_t cap, int64_t m, int64_t d,
                                                   const T* cv, T p, T* acc, T* scale) {
  for (int64_t j = 0; j < m; ++j) acc[j] = 0;
  if (K == kMinkowski) {  // scaled by the largest coordinate, like the XLA path
    for (int64_t j = 0; j < m; ++j) scale[j] = 0;
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < m; ++j)
        scale[j] = std::max(scale[j], std::abs(xc[k * cap + j] - cv[k]));
    for (int64_t j = 0; j < m; ++j) scale[j] = scale[j] > 0 ? scale[j] : T(1);
  }
  for (int64_t k = 0; k < d; ++k) {
    const T* col = xc + k * cap;
    const T c = cv[k];
    for (int64_t j = 0; j < m; ++j) {
      const T diff = col[j] - c;
      if (K == kL1) acc[j] += std::abs(diff);
      if (K == kL2 || K == kSqEuclidean) acc[j] += diff * diff;
      if (K == kLinf) acc[j] = std::max(acc[j], std::abs(diff));
      if (K == kMinkowski) acc[j] += std::pow(std::abs(diff) / scale[j], p);
    }
  }
  if (K == kL2)
    for (int64_t j = 0; j < m; ++j) acc[j] = std::sqrt(acc[j]);
  if (K == kMinkowski)
    for (int64_t j = 0; j < m; ++j) acc[j] = acc[j] == 0 ? T(0) : scale[j] * std::pow(acc[j], T(1) / p);
}

// Prim's algorithm on one cloud. The vertices still outside the tree are kept
// compacted at the front of every work array (swap-remove on insertion), so
// each iteration makes a few contiguous, vectorisable passes over the m
// remaining vertices: distances from the newest tree vertex, relaxation, and
// a two-pass argmin. Keys are non-negative or +inf, so their IEEE bit
// patterns order like unsigned integers: the minimum is an integer reduction,
// which vectorises without -ffast-math. Ties go to the smallest vertex id,
// like the XLA loop.
template <typename T, int K>
__attribute__((always_inline)) inline void PrimOne(const T* x, const bool* mask, int64_t n,
                                                   int64_t d, T p, int32_t* parent) {
  using U = typename Bits<T>::U;
  const T inf = std::numeric_limits<T>::infinity();
  int64_t root = 0;
  while (root < n && !mask[root]) ++root;
  for (int64_t v = 0; v < n; ++v) parent[v] = static_cast<int32_t>(root < n ? root : 0);
  if (root >= n) return;

  std::vector<int32_t> ids;
  ids.reserve(n);
  for (int64_t u = 0; u < n; ++u)
    if (mask[u] && u != root) ids.push_back(static_cast<int32_t>(u));
  int64_t m = static_cast<int64_t>(ids.size());
  const int64_t cap = std::max<int64_t>(m, 1);
  constexpr bool pre = K == kPrecomputed;
  // Compacted coordinates, (d, cap); the newest tree vertex's in cv.
  std::vector<T> xc(pre ? 0 : d * cap), cv(pre ? 0 : d);
  if (!pre) {
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < d; ++k) xc[k * cap + j] = x[ids[j] * d + k];
    for (int64_t k = 0; k < d; ++k) cv[k] = x[root * d + k];
  }
  std::vector<T> key(cap, inf), acc(cap), scale(K == kMinkowski ? cap : 0);
  std::vector<int32_t> par(cap, static_cast<int32_t>(root));
  T* kk = key.data();
  T* a = acc.data();
  int32_t* pp = par.data();
  int64_t v = root;

  while (m > 0) {
    if (pre) {
      const T* row = x + v * n;
      for (int64_t j = 0; j < m; ++j) a[j] = std::max(row[ids[j]], T(0));
    } else {
      RowDist<T, K>(xc.data(), cap, m, d, cv.data(), p, a, scale.data());
    }
    // Relax; strict '<' keeps the earlier parent on ties.
    const int32_t vv = static_cast<int32_t>(v);
    for (int64_t j = 0; j < m; ++j) {
      const bool closer = a[j] < kk[j];
      kk[j] = closer ? a[j] : kk[j];
      pp[j] = closer ? vv : pp[j];
    }
    // argmin: the smallest key, then the smallest vertex id holding it.
    U best = std::numeric_limits<U>::max();
    for (int64_t j = 0; j < m; ++j) {
      U b;
      std::memcpy(&b, kk + j, sizeof(U));
      best = b < best ? b : best;
    }
    int32_t best_id = std::numeric_limits<int32_t>::max();
    for (int64_t j = 0; j < m; ++j) {
      U b;
      std::memcpy(&b, kk + j, sizeof(U));
      best_id = (b == best && ids[j] < best_id) ? ids[j] : best_id;
    }
    int64_t js = 0;
    while (ids[js] != best_id) ++js;
    // Move vertex best_id into the tree and swap-remove its slot.
    v = best_id;
    parent[v] = pp[js];
    const int64_t last = m - 1;
    if (!pre) {
      for (int64_t k = 0; k < d; ++k) {
        cv[k] = xc[k * cap + js];
        xc[k * cap + js] = xc[k * cap + last];
      }
    }
    kk[js] = kk[last];
    pp[js] = pp[last];
    ids[js] = ids[last];
    m = last;
  }
}

template <typename T>
__attribute__((always_inline)) inline void PrimDispatch(const T* x, const bool* mask, int64_t n,
                                                        int64_t d, int kind, T p,
                                                        int32_t* parent) {
  switch (kind) {
    case kL1:
      return PrimOne<T, kL1>(x, mask, n, d, p, parent);
    case kL2:
      return PrimOne<T, kL2>(x, mask, n, d, p, parent);
    case kSqEuclidean:
      return PrimOne<T, kSqEuclidean>(x, mask, n, d, p, parent);
    case kLinf:
      return PrimOne<T, kLinf>(x, mask, n, d, p, parent);
    case kMinkowski:
      return PrimOne<T, kMinkowski>(x, mask, n, d, p, parent);
    default:
      return PrimOne<T, kPrecomputed>(x, mask, n, d, p, parent);
  }
}

template <typename T>
void PrimRange(const T* x, const bool* m, int32_t* out, int64_t lo, int64_t hi, int64_t n,
               int64_t d, int kind, double p);

#define COREL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

template <>
COREL_CLONES void PrimRange<float>(const float* x, const bool* m, int32_t* out, int64_t lo,
                                   int64_t hi, int64_t n, int64_t d, int kind, double p) {
  const int64_t cols = kind == kPrecomputed ? n : d;
  for (int64_t b = lo; b < hi; ++b)
    PrimDispatch<float>(x + b * n * cols, m + b * n, n, d, kind, static_cast<float>(p), out + b * n);
}

template <>
COREL_CLONES void PrimRange<double>(const double* x, const bool* m, int32_t* out, int64_t lo,
                                    int64_t hi, int64_t n, int64_t d, int kind, double p) {
  const int64_t cols = kind == kPrecomputed ? n : d;
  for (int64_t b = lo; b < hi; ++b) PrimDispatch<double>(x + b * n * cols, m + b * n, n, d, kind, p, out + b * n);
}

template <typename T>
ffi::Error PrimBatch(ffi::AnyBuffer points, ffi::Buffer<ffi::PRED> mask,
                     ffi::Result<ffi::Buffer<ffi::S32>> parent, int32_t kind, double p) {
  auto dims = points.dimensions();
  if (dims.size() < 2) return ffi::Error::InvalidArgument("points must have rank >= 2");
  const int64_t n = dims[dims.size() - 2];
  const int64_t d = dims[dims.size() - 1];
  int64_t batch = 1;
  for (size_t i = 0; i + 2 < dims.size(); ++i) batch *= dims[i];
  if (static_cast<int64_t>(mask.element_count()) != batch * n ||
      static_cast<int64_t>(parent->element_count()) != batch * n) {
    return ffi::Error::InvalidArgument("mask/parent do not match points");
  }
  const T* x = reinterpret_cast<const T*>(points.untyped_data());
  const bool* m = mask.typed_data();
  int32_t* out = parent->typed_data();
  const int64_t work = batch * n * n * d;
  int64_t threads = std::min<int64_t>(batch, std::max(1u, std::thread::hardware_concurrency()));
  if (work < (int64_t{1} << 20)) threads = 1;  // thread start-up would cost more than it saves
  if (threads <= 1) {
    PrimRange<T>(x, m, out, 0, batch, n, d, kind, p);
  } else {
    std::vector<std::thread> pool;
    const int64_t chunk = (batch + threads - 1) / threads;
    for (int64_t t = 0; t < threads; ++t) {
      const int64_t lo = t * chunk, hi = std::min(batch, lo + chunk);
      if (lo < hi) pool.emplace_back(PrimRange<T>, x, m, out, lo, hi, n, d, kind, p);
    }
    for (auto& th : pool) th.join();
  }
  return ffi::Error::Success();
}

ffi::Error PrimImpl(ffi::AnyBuffer points, ffi::Buffer<ffi::PRED> mask,
                    ffi::Result<ffi::Buffer<ffi::S32>> parent, int32_t kind, double p) {
  switch (points.element_type()) {
    case ffi::F32:
      return PrimBatch<float>(points, mask, parent, kind, p);
    case ffi::F64:
      return PrimBatch<double>(points, mask, parent, kind, p);
    default:
      return ffi::Error::InvalidArgument("points must be float32 or float64");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(CorelPrimMstCpu, PrimImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::Buffer<ffi::PRED>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Attr<int32_t>("kind")
                                  .Attr<double>("p"));

static PyMethodDef kMethods[] = {{nullptr, nullptr, 0, nullptr}};
static struct PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_prim_cpu",
                                     "Prim's MST as an XLA FFI CPU handler.", -1, kMethods};

PyMODINIT_FUNC PyInit__prim_cpu(void) {
  PyObject* module = PyModule_Create(&kModule);
  if (module == nullptr) return nullptr;
  PyObject* capsule =
      PyCapsule_New(reinterpret_cast<void*>(CorelPrimMstCpu), nullptr, nullptr);
  if (capsule == nullptr || PyModule_AddObject(module, "prim_mst", capsule) < 0) {
    Py_XDECREF(capsule);
    Py_DECREF(module);
    return nullptr;
  }
  return module;
}
