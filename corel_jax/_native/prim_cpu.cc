// Prim's minimum spanning tree and the fused connectivity loss on the CPU,
// as XLA FFI custom calls.
//
// Same algorithm and tie rule as the XLA loop in corel_jax/_prim_xla.py (the
// root is the first real vertex; the first minimiser joins the tree; a tie
// never replaces a vertex's parent), so all back ends return the same tree.
// Rows of distances are computed on the fly from a compacted (d, cap) copy of
// the points (O(n d) memory) in contiguous passes that the compiler
// vectorises (clones for AVX-512, AVX2 and baseline x86-64 are chosen at load
// time). A batch of clouds (vmap, or the branches of the loss) is spread over
// XLA's intra-op thread pool.
//
// corel_jax_prim_mst
//   in:  points (..., n, d) f32/f64 (or (..., n, n) distances, kind 5),
//        mask (..., n) pred.
//   out: parent (..., n) s32: the MST is {(parent[v], v) : v real, v != root}.
//   attrs: kind (0 l1, 1 l2, 2 sqeuclidean, 3 linf, 4 minkowski,
//          5 precomputed), p (Minkowski exponent).
//
// corel_jax_connectivity (docs/method.md#the-connectivity-loss)
//   in:  z (..., B, D) f32/f64 codes, eta (...) the scale.
//   out: loss (...) = (1/K) sum_k sum_{(i,j) in MST(branch k)} |eta - d(z_i, z_j)|,
//        dloss/deta (...), dloss/dz (..., B, D).
//   attrs: branches K (branch k holds columns [k D/K, (k+1) D/K)), kind, p.
//   A branch with a non-finite coordinate gives a NaN loss and a zero
//   gradient, like the unfused path.

#include <Python.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;

namespace {

enum Kind { kL1 = 0, kL2 = 1, kSqEuclidean = 2, kLinf = 3, kMinkowski = 4, kPrecomputed = 5 };

// SIMD width in elements that the work arrays are padded to: loops run over
// whole vectors, so the compiler emits no remainder loops.
constexpr int64_t kLanes = 16;

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

// One cloud: row r, coordinate k is x[r * stride + k] (k < d); for kind 5
// the row r of distances is x + r * stride.
template <typename T>
struct Cloud {
  const T* x;
  int64_t stride;
  const bool* mask;  // nullptr: every point is real
  int64_t n, d;
  T p;
};

// Work arrays reused across the clouds a thread processes.
template <typename T>
struct Scratch {
  std::vector<T> xc, cv, key, acc, scale;
  std::vector<int32_t> ids, par;
};

// acc[j] = distance from the newest tree vertex (coordinates cv) to each of
// the compacted vertices of xc, a (d, cap) array: one contiguous,
// vectorisable pass per coordinate, over whole vectors (m8 % kLanes == 0).
template <typename T, int K>
__attribute__((always_inline)) inline void RowDist(const T* __restrict xc, int64_t cap,
                                                   int64_t m8, int64_t d,
                                                   const T* __restrict cv, T p,
                                                   T* __restrict acc, T* __restrict scale) {
  for (int64_t j = 0; j < m8; ++j) acc[j] = 0;
  if (K == kMinkowski) {  // scaled by the largest coordinate, like the XLA path
    for (int64_t j = 0; j < m8; ++j) scale[j] = 0;
    for (int64_t k = 0; k < d; ++k)
      for (int64_t j = 0; j < m8; ++j)
        scale[j] = std::max(scale[j], std::abs(xc[k * cap + j] - cv[k]));
    for (int64_t j = 0; j < m8; ++j) scale[j] = scale[j] > 0 ? scale[j] : T(1);
  }
  for (int64_t k = 0; k < d; ++k) {
    const T* col = xc + k * cap;
    const T c = cv[k];
    for (int64_t j = 0; j < m8; ++j) {
      const T diff = col[j] - c;
      if (K == kL1) acc[j] += std::abs(diff);
      if (K == kL2 || K == kSqEuclidean) acc[j] += diff * diff;
      if (K == kLinf) acc[j] = std::max(acc[j], std::abs(diff));
      if (K == kMinkowski) acc[j] += std::pow(std::abs(diff) / scale[j], p);
    }
  }
  if (K == kL2)
    for (int64_t j = 0; j < m8; ++j) acc[j] = std::sqrt(acc[j]);
  if (K == kMinkowski)
    for (int64_t j = 0; j < m8; ++j)
      acc[j] = acc[j] == 0 ? T(0) : scale[j] * std::pow(acc[j], T(1) / p);
}

// Prim's algorithm on one cloud; writes parent[v] for every v (the root and
// padded vertices get the root) and, if length is not null, the length of
// the edge (parent[v], v) as the kernel computed it (0 for the root and
// padding). The vertices still outside the tree are kept compacted at the
// front of every work array (swap-remove on insertion), padded to whole
// vectors with +inf coordinates (so their keys stay +inf). Keys are
// non-negative or +inf, so their IEEE bit patterns order like unsigned
// integers: the minimum is an integer reduction, which vectorises without
// -ffast-math. Ties go to the smallest vertex id, like the XLA loop.
template <typename T, int K>
__attribute__((always_inline)) inline void PrimOne(const Cloud<T>& c, Scratch<T>& s,
                                                   int32_t* parent, T* length) {
  using U = typename Bits<T>::U;
  const T inf = std::numeric_limits<T>::infinity();
  const int64_t n = c.n, d = c.d;
  constexpr bool pre = K == kPrecomputed;
  auto real = [&](int64_t u) { return c.mask == nullptr || c.mask[u]; };
  int64_t root = 0;
  while (root < n && !real(root)) ++root;
  for (int64_t v = 0; v < n; ++v) parent[v] = static_cast<int32_t>(root < n ? root : 0);
  if (length != nullptr)
    for (int64_t v = 0; v < n; ++v) length[v] = 0;
  if (root >= n) return;

  s.ids.clear();
  for (int64_t u = 0; u < n; ++u)
    if (real(u) && u != root) s.ids.push_back(static_cast<int32_t>(u));
  int64_t m = static_cast<int64_t>(s.ids.size());
  const int64_t cap = std::max<int64_t>((m + kLanes - 1) / kLanes * kLanes, kLanes);
  s.ids.resize(cap, std::numeric_limits<int32_t>::max());
  if (!pre) {
    s.xc.assign(d * cap, inf);
    s.cv.resize(d);
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < d; ++k) s.xc[k * cap + j] = c.x[s.ids[j] * c.stride + k];
    for (int64_t k = 0; k < d; ++k) s.cv[k] = c.x[root * c.stride + k];
  }
  s.key.assign(cap, inf);
  s.acc.assign(cap, inf);
  s.scale.resize(K == kMinkowski ? cap : 0);
  s.par.assign(cap, static_cast<int32_t>(root));
  T* kk = s.key.data();
  T* a = s.acc.data();
  int32_t* pp = s.par.data();
  int32_t* ids = s.ids.data();
  int64_t v = root;

  while (m > 0) {
    const int64_t m8 = (m + kLanes - 1) / kLanes * kLanes;
    if (pre) {
      const T* row = c.x + v * c.stride;
      for (int64_t j = 0; j < m; ++j) a[j] = std::max(row[ids[j]], T(0));
      for (int64_t j = m; j < m8; ++j) a[j] = inf;
    } else {
      RowDist<T, K>(s.xc.data(), cap, m8, d, s.cv.data(), c.p, a, s.scale.data());
    }
    // Relax (strict '<' keeps the earlier parent on ties) and find the
    // smallest key in the same pass.
    const int32_t vv = static_cast<int32_t>(v);
    U best = std::numeric_limits<U>::max();
    for (int64_t j = 0; j < m8; ++j) {
      const bool closer = a[j] < kk[j];
      const T k = closer ? a[j] : kk[j];
      kk[j] = k;
      pp[j] = closer ? vv : pp[j];
      U b;
      std::memcpy(&b, &k, sizeof(U));
      best = b < best ? b : best;
    }
    // The smallest vertex id holding it.
    int32_t best_id = std::numeric_limits<int32_t>::max();
    for (int64_t j = 0; j < m8; ++j) {
      U b;
      std::memcpy(&b, kk + j, sizeof(U));
      best_id = (b == best && ids[j] < best_id) ? ids[j] : best_id;
    }
    int64_t js = 0;
    while (ids[js] != best_id) ++js;
    // Move vertex best_id into the tree and swap-remove its slot.
    v = best_id;
    parent[v] = pp[js];
    if (length != nullptr) length[v] = kk[js];
    const int64_t last = m - 1;
    if (!pre) {
      for (int64_t k = 0; k < d; ++k) {
        s.cv[k] = s.xc[k * cap + js];
        s.xc[k * cap + js] = s.xc[k * cap + last];
        s.xc[k * cap + last] = inf;
      }
    }
    kk[js] = kk[last];
    pp[js] = pp[last];
    ids[js] = ids[last];
    kk[last] = inf;
    ids[last] = std::numeric_limits<int32_t>::max();
    m = last;
  }
}

// d norm(diff) / d diff, the subgradient of corel_jax/_distances.py's
// norm_grad (zero at diff = 0; linf: the first maximiser).
template <typename T, int K>
inline void NormGrad(const T* diff, int64_t d, T length, T p, T* out) {
  for (int64_t k = 0; k < d; ++k) {
    const T sg = diff[k] > 0 ? T(1) : (diff[k] < 0 ? T(-1) : T(0));
    if (K == kL1) out[k] = sg;
    if (K == kSqEuclidean) out[k] = 2 * diff[k];
    if (K == kL2) out[k] = length > 0 ? diff[k] / length : T(0);
    if (K == kMinkowski)
      out[k] = length > 0 ? sg * std::pow(std::abs(diff[k]) / length, p - 1) : T(0);
    if (K == kLinf) out[k] = 0;
  }
  if (K == kLinf) {
    int64_t best = 0;
    for (int64_t k = 1; k < d; ++k)
      if (std::abs(diff[k]) > std::abs(diff[best])) best = k;
    if (d > 0) out[best] = diff[best] > 0 ? T(1) : (diff[best] < 0 ? T(-1) : T(0));
  }
}

// The connectivity loss of one branch: sum |eta - length| over its MST, the
// derivative in eta, and the gradient scaled by `weight` into grad (same
// strides as the points).
template <typename T, int K>
__attribute__((always_inline)) inline void LossOne(const Cloud<T>& c, T eta, T weight,
                                                   Scratch<T>& s, std::vector<int32_t>& parent,
                                                   std::vector<T>& length, T* grad, T* loss,
                                                   T* deta) {
  const int64_t n = c.n, d = c.d;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < d; ++k) grad[r * c.stride + k] = 0;
  for (int64_t r = 0; r < n; ++r)
    for (int64_t k = 0; k < d; ++k)
      if (!std::isfinite(c.x[r * c.stride + k])) {
        *loss = *deta = std::numeric_limits<T>::quiet_NaN();
        return;
      }
  parent.resize(n);
  length.resize(n);
  PrimOne<T, K>(c, s, parent.data(), length.data());
  T total = 0, dtotal = 0;
  T diff[256], jac[256];
  std::vector<T> big_diff, big_jac;
  T* df = diff;
  T* jc = jac;
  if (d > 256) {
    big_diff.resize(d);
    big_jac.resize(d);
    df = big_diff.data();
    jc = big_jac.data();
  }
  const int64_t root = parent[0];
  for (int64_t v = 0; v < n; ++v) {
    if (v == root) continue;
    const int64_t u = parent[v];
    const T len = length[v];
    total += std::abs(eta - len);
    // d|eta - len| / d len = sign(len - eta), taken as -1 at len = eta
    // (jax differentiates |u| as +1 at u = 0), and the opposite in eta.
    const T sg = len > eta ? T(1) : T(-1);
    dtotal -= sg;
    for (int64_t k = 0; k < d; ++k) df[k] = c.x[v * c.stride + k] - c.x[u * c.stride + k];
    NormGrad<T, K>(df, d, len, c.p, jc);
    for (int64_t k = 0; k < d; ++k) {
      grad[v * c.stride + k] += weight * sg * jc[k];
      grad[u * c.stride + k] -= weight * sg * jc[k];
    }
  }
  *loss = total;
  *deta = dtotal;
}

template <typename T>
__attribute__((always_inline)) inline void PrimDispatch(const Cloud<T>& c, int kind,
                                                        Scratch<T>& s, int32_t* parent) {
  switch (kind) {
    case kL1:
      return PrimOne<T, kL1>(c, s, parent, nullptr);
    case kL2:
      return PrimOne<T, kL2>(c, s, parent, nullptr);
    case kSqEuclidean:
      return PrimOne<T, kSqEuclidean>(c, s, parent, nullptr);
    case kLinf:
      return PrimOne<T, kLinf>(c, s, parent, nullptr);
    case kMinkowski:
      return PrimOne<T, kMinkowski>(c, s, parent, nullptr);
    default:
      return PrimOne<T, kPrecomputed>(c, s, parent, nullptr);
  }
}

template <typename T>
__attribute__((always_inline)) inline void LossDispatch(const Cloud<T>& c, int kind, T eta,
                                                        T weight, Scratch<T>& s,
                                                        std::vector<int32_t>& parent,
                                                        std::vector<T>& length, T* grad,
                                                        T* loss, T* deta) {
  switch (kind) {
    case kL1:
      return LossOne<T, kL1>(c, eta, weight, s, parent, length, grad, loss, deta);
    case kL2:
      return LossOne<T, kL2>(c, eta, weight, s, parent, length, grad, loss, deta);
    case kSqEuclidean:
      return LossOne<T, kSqEuclidean>(c, eta, weight, s, parent, length, grad, loss, deta);
    case kLinf:
      return LossOne<T, kLinf>(c, eta, weight, s, parent, length, grad, loss, deta);
    default:
      return LossOne<T, kMinkowski>(c, eta, weight, s, parent, length, grad, loss, deta);
  }
}

// ----------------------------------------------------------------- batches

struct Shape {
  int64_t batch, n, d;
};

Shape Dims(const ffi::AnyBuffer& points) {
  auto dims = points.dimensions();
  Shape s{1, dims[dims.size() - 2], dims[dims.size() - 1]};
  for (size_t i = 0; i + 2 < dims.size(); ++i) s.batch *= dims[i];
  return s;
}

// Runs fn(i) for i in [0, tasks) on the calling thread and XLA's intra-op
// thread pool. Workers claim tasks from a shared counter, so a worker that
// starts late (or never) costs nothing; the caller returns once every task
// is done, and the shared state outlives late workers.
template <typename F>
void ParallelFor(ffi::ThreadPool& pool, int64_t tasks, int64_t workers, F fn) {
  struct State {
    std::atomic<int64_t> next{0}, done{0};
  };
  auto state = std::make_shared<State>();
  auto work = [state, tasks, fn]() {
    for (int64_t i; (i = state->next.fetch_add(1)) < tasks;) {
      fn(i);
      state->done.fetch_add(1, std::memory_order_release);
    }
  };
  for (int64_t w = 1; w < workers; ++w) pool.Schedule([work]() { work(); });
  work();
  while (state->done.load(std::memory_order_acquire) < tasks) std::this_thread::yield();
}

int64_t Workers(ffi::ThreadPool& pool, int64_t tasks, int64_t work) {
  // Below ~10^6 distance terms a task costs less than handing it over.
  if (work < (int64_t{1} << 20)) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(tasks, pool.num_threads()));
}

#define COREL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))

template <typename T>
void PrimCloud(const T* x, const bool* m, int32_t* out, int64_t b, int64_t n, int64_t d,
                    int kind, double p);
template <typename T>
void LossBranch(const T* z, const T* eta, T* grad, T* loss, T* deta, int64_t i, int64_t branches,
                int64_t n, int64_t width, int kind, double p);

// The clone attribute needs one definition per type (no templates).
#define COREL_DEFINE_RANGES(T)                                                                  \
  template <>                                                                                   \
  COREL_CLONES void PrimCloud<T>(const T* x, const bool* m, int32_t* out, int64_t b,       \
                                      int64_t n, int64_t d, int kind, double p) {               \
    thread_local Scratch<T> s;                                                                  \
    const int64_t cols = kind == kPrecomputed ? n : d;                                          \
    Cloud<T> c{x + b * n * cols, cols, m + b * n, n, d, static_cast<T>(p)};                     \
    PrimDispatch<T>(c, kind, s, out + b * n);                                                   \
  }                                                                                             \
  template <>                                                                                   \
  COREL_CLONES void LossBranch<T>(const T* z, const T* eta, T* grad, T* loss, T* deta,          \
                                  int64_t i, int64_t branches, int64_t n, int64_t width,        \
                                  int kind, double p) {                                         \
    thread_local Scratch<T> s;                                                                  \
    thread_local std::vector<int32_t> parent;                                                   \
    thread_local std::vector<T> length;                                                         \
    const int64_t b = i / branches, k = i % branches, stride = branches * width;                \
    const int64_t offset = b * n * stride + k * width;                                          \
    Cloud<T> c{z + offset, stride, nullptr, n, width, static_cast<T>(p)};                       \
    LossDispatch<T>(c, kind, eta[b], T(1) / static_cast<T>(branches), s, parent, length,        \
                    grad + offset, loss + i, deta + i);                                         \
  }

COREL_DEFINE_RANGES(float)
COREL_DEFINE_RANGES(double)

template <typename T>
ffi::Error PrimBatch(ffi::ThreadPool pool, ffi::AnyBuffer points, ffi::Buffer<ffi::PRED> mask,
                     ffi::Result<ffi::Buffer<ffi::S32>> parent, int32_t kind, double p) {
  if (points.dimensions().size() < 2)
    return ffi::Error::InvalidArgument("points must have rank >= 2");
  const Shape sh = Dims(points);
  if (static_cast<int64_t>(mask.element_count()) != sh.batch * sh.n ||
      static_cast<int64_t>(parent->element_count()) != sh.batch * sh.n) {
    return ffi::Error::InvalidArgument("mask/parent do not match points");
  }
  const T* x = reinterpret_cast<const T*>(points.untyped_data());
  const bool* m = mask.typed_data();
  int32_t* out = parent->typed_data();
  const int64_t workers = Workers(pool, sh.batch, sh.batch * sh.n * sh.n * sh.d);
  ParallelFor(pool, sh.batch, workers,
              [=](int64_t b) { PrimCloud<T>(x, m, out, b, sh.n, sh.d, kind, p); });
  return ffi::Error::Success();
}

ffi::Error PrimImpl(ffi::ThreadPool pool, ffi::AnyBuffer points, ffi::Buffer<ffi::PRED> mask,
                    ffi::Result<ffi::Buffer<ffi::S32>> parent, int32_t kind, double p) {
  switch (points.element_type()) {
    case ffi::F32:
      return PrimBatch<float>(pool, points, mask, parent, kind, p);
    case ffi::F64:
      return PrimBatch<double>(pool, points, mask, parent, kind, p);
    default:
      return ffi::Error::InvalidArgument("points must be float32 or float64");
  }
}

template <typename T>
ffi::Error LossBatch(ffi::ThreadPool pool, ffi::AnyBuffer z, ffi::AnyBuffer eta,
                     ffi::Result<ffi::AnyBuffer> loss, ffi::Result<ffi::AnyBuffer> deta,
                     ffi::Result<ffi::AnyBuffer> grad, int64_t branches, int32_t kind, double p) {
  if (z.dimensions().size() < 2) return ffi::Error::InvalidArgument("z must have rank >= 2");
  const Shape sh = Dims(z);
  if (branches < 1 || sh.d % branches != 0)
    return ffi::Error::InvalidArgument("branches must divide the code width");
  if (static_cast<int64_t>(eta.element_count()) != sh.batch ||
      static_cast<int64_t>(loss->element_count()) != sh.batch ||
      static_cast<int64_t>(deta->element_count()) != sh.batch ||
      grad->element_count() != z.element_count()) {
    return ffi::Error::InvalidArgument("eta/loss/deta/grad do not match z");
  }
  const T* zz = reinterpret_cast<const T*>(z.untyped_data());
  const T* ee = reinterpret_cast<const T*>(eta.untyped_data());
  T* gg = reinterpret_cast<T*>(grad->untyped_data());
  const int64_t clouds = sh.batch * branches, width = sh.d / branches;
  std::vector<T> per_loss(clouds), per_deta(clouds);
  T* pl = per_loss.data();
  T* pd = per_deta.data();
  const int64_t workers = Workers(pool, clouds, clouds * sh.n * sh.n * width);
  ParallelFor(pool, clouds, workers, [=](int64_t i) {
    LossBranch<T>(zz, ee, gg, pl, pd, i, branches, sh.n, width, kind, p);
  });
  // The mean over branches, summed in a fixed order (deterministic).
  T* lo = reinterpret_cast<T*>(loss->untyped_data());
  T* de = reinterpret_cast<T*>(deta->untyped_data());
  for (int64_t b = 0; b < sh.batch; ++b) {
    T l = 0, e = 0;
    for (int64_t k = 0; k < branches; ++k) {
      l += per_loss[b * branches + k];
      e += per_deta[b * branches + k];
    }
    lo[b] = l / static_cast<T>(branches);
    de[b] = e / static_cast<T>(branches);
  }
  return ffi::Error::Success();
}

ffi::Error LossImpl(ffi::ThreadPool pool, ffi::AnyBuffer z, ffi::AnyBuffer eta,
                    ffi::Result<ffi::AnyBuffer> loss, ffi::Result<ffi::AnyBuffer> deta,
                    ffi::Result<ffi::AnyBuffer> grad, int64_t branches, int32_t kind, double p) {
  if (kind == kPrecomputed) return ffi::Error::InvalidArgument("the loss needs a real metric");
  switch (z.element_type()) {
    case ffi::F32:
      return LossBatch<float>(pool, z, eta, loss, deta, grad, branches, kind, p);
    case ffi::F64:
      return LossBatch<double>(pool, z, eta, loss, deta, grad, branches, kind, p);
    default:
      return ffi::Error::InvalidArgument("z must be float32 or float64");
  }
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(CorelPrimMstCpu, PrimImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::Buffer<ffi::PRED>>()
                                  .Ret<ffi::Buffer<ffi::S32>>()
                                  .Attr<int32_t>("kind")
                                  .Attr<double>("p"));

XLA_FFI_DEFINE_HANDLER_SYMBOL(CorelConnectivityCpu, LossImpl,
                              ffi::Ffi::Bind()
                                  .Ctx<ffi::ThreadPool>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Arg<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Ret<ffi::AnyBuffer>()
                                  .Attr<int64_t>("branches")
                                  .Attr<int32_t>("kind")
                                  .Attr<double>("p"));

static PyMethodDef kMethods[] = {{nullptr, nullptr, 0, nullptr}};
static struct PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_prim_cpu",
                                     "Prim's MST and the connectivity loss as XLA FFI CPU handlers.",
                                     -1, kMethods};

static int AddCapsule(PyObject* module, const char* name, void* fn) {
  PyObject* capsule = PyCapsule_New(fn, nullptr, nullptr);
  if (capsule == nullptr || PyModule_AddObject(module, name, capsule) < 0) {
    Py_XDECREF(capsule);
    return -1;
  }
  return 0;
}

PyMODINIT_FUNC PyInit__prim_cpu(void) {
  PyObject* module = PyModule_Create(&kModule);
  if (module == nullptr) return nullptr;
  if (AddCapsule(module, "prim_mst", reinterpret_cast<void*>(CorelPrimMstCpu)) < 0 ||
      AddCapsule(module, "connectivity", reinterpret_cast<void*>(CorelConnectivityCpu)) < 0) {
    Py_DECREF(module);
    return nullptr;
  }
  return module;
}
