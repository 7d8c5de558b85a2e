// Prim's minimum spanning tree and the fused connectivity loss on the CPU,
// as XLA FFI custom calls.
//
// Same algorithm and tie rule as the XLA loop in corel_jax/persistence/_prim_xla.py (the
// root is the first real vertex; the first minimiser joins the tree; a tie
// never replaces a vertex's parent), so all back ends return the same tree.
// Rows of distances are computed on the fly from a compacted (d, cap) copy of
// the points (O(n d) memory) in contiguous passes that the compiler
// vectorises (on x86-64 Linux, clones for AVX-512, AVX2 and baseline x86-64
// are chosen at load time). A batch of clouds (vmap, or the branches of the loss) is spread over
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
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "parallel.h"
#include "xla/ffi/api/ffi.h"

namespace ffi = xla::ffi;
using corel_jax_native::ParallelFor;

namespace {

enum Kind { kL1 = 0, kL2 = 1, kSqEuclidean = 2, kLinf = 3, kMinkowski = 4, kPrecomputed = 5 };

// The work arrays are padded to whole pairs of 256-bit vectors (16 floats or
// 8 doubles; 16 covers both): loops run over whole pairs, with no remainder.
constexpr int64_t kLanes = 16;

// 256-bit vectors (GCC/Clang vector extensions; the baseline clone splits
// them into SSE halves): V holds kW values, I the same number of integers of
// the same width (vertex ids, and the masks of comparisons).
template <typename T>
struct Simd;
template <>
struct Simd<float> {
  typedef float V __attribute__((vector_size(32)));
  typedef int32_t I __attribute__((vector_size(32)));
  using Int = int32_t;
};
template <>
struct Simd<double> {
  typedef double V __attribute__((vector_size(32)));
  typedef int64_t I __attribute__((vector_size(32)));
  using Int = int64_t;
};

template <typename Vec>
inline Vec Load(const void* p) {
  Vec v;
  std::memcpy(&v, p, sizeof(Vec));
  return v;
}
template <typename Vec>
inline void Store(void* p, Vec v) {
  std::memcpy(p, &v, sizeof(Vec));
}

// The bits of a float (int32) or double (int64).
template <typename T>
inline typename Simd<T>::Int BitsOf(T x) {
  typename Simd<T>::Int bits;
  std::memcpy(&bits, &x, sizeof(T));
  return bits;
}

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
  std::vector<T> xc, cv, key;
  std::vector<typename Simd<T>::Int> ids, par;
};

// The distances from the newest tree vertex (coordinates cv) to the 2 kW
// compacted vertices j0, j0 + 1, ... of xc, a (d, cap) array, as two
// vectors; the sums over coordinates stay in registers.
template <typename T, int K>
__attribute__((always_inline)) inline void RowBlocks(const T* xc, int64_t cap, int64_t d,
                                                     const T* cv, T p,
                                                     typename Simd<T>::V out[2]) {
  using V = typename Simd<T>::V;
  using I = typename Simd<T>::I;
  constexpr int kW = sizeof(V) / sizeof(T);
  // |x| by clearing the sign bit (one instruction).
  const I magnitude = I{} + std::numeric_limits<typename Simd<T>::Int>::max();
  auto abs = [magnitude](V x) { return reinterpret_cast<V>(reinterpret_cast<I>(x) & magnitude); };
  for (int h = 0; h < 2; ++h) out[h] = V{} * 0;
  V scale[2] = {out[0], out[0]};
  if (K == kMinkowski) {  // scaled by the largest coordinate, like the XLA path
    for (int h = 0; h < 2; ++h) {
      for (int64_t k = 0; k < d; ++k) {
        const V t = abs(Load<V>(xc + k * cap + h * kW) - cv[k]);
        scale[h] = t > scale[h] ? t : scale[h];
      }
      scale[h] = scale[h] > 0 ? scale[h] : scale[h] * 0 + 1;
    }
  }
  for (int64_t k = 0; k < d; ++k) {
    const T c = cv[k];
    for (int h = 0; h < 2; ++h) {
      const V diff = Load<V>(xc + k * cap + h * kW) - c;
      if (K == kL1) out[h] += abs(diff);
      if (K == kL2 || K == kSqEuclidean) out[h] += diff * diff;
      if (K == kLinf) out[h] = abs(diff) > out[h] ? abs(diff) : out[h];
      if (K == kMinkowski) {
        const V t = abs(diff) / scale[h];
        for (int l = 0; l < kW; ++l) out[h][l] += std::pow(t[l], p);
      }
    }
  }
  for (int h = 0; h < 2; ++h) {
    if (K == kL2)
      for (int l = 0; l < kW; ++l) out[h][l] = std::sqrt(out[h][l]);
    if (K == kMinkowski)
      for (int l = 0; l < kW; ++l)
        out[h][l] = out[h][l] == 0 ? T(0) : scale[h][l] * std::pow(out[h][l], 1 / p);
  }
}

// Prim's algorithm on one cloud; writes parent[v] for every v (the root and
// padded vertices get the root) and, if length is not null, the length of
// the edge (parent[v], v) as the kernel computed it (0 for the root and
// padding). The vertices still outside the tree are kept compacted at the
// front of every work array (swap-remove on insertion), padded to whole
// blocks of kLanes with +inf coordinates (so their keys stay +inf). One pass
// per step, block by block: distances (in registers), relaxation (strict
// '<': a tie keeps the earlier parent) and a per-lane running minimum of
// (key, vertex id), reduced at the end: the smallest key, ties to the
// smallest vertex id, like the XLA loop.
template <typename T, int K>
__attribute__((always_inline)) inline void PrimOne(const Cloud<T>& c, Scratch<T>& s,
                                                   int32_t* parent, T* length) {
  using V = typename Simd<T>::V;
  using I = typename Simd<T>::I;
  using Int = typename Simd<T>::Int;
  constexpr int kW = sizeof(V) / sizeof(T);
  const T inf = std::numeric_limits<T>::infinity();
  constexpr Int kNone = std::numeric_limits<Int>::max();
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
    if (real(u) && u != root) s.ids.push_back(static_cast<Int>(u));
  int64_t m = static_cast<int64_t>(s.ids.size());
  const int64_t cap = std::max<int64_t>((m + kLanes - 1) / kLanes * kLanes, kLanes);
  s.ids.resize(cap, kNone);
  if (!pre) {
    s.xc.assign(d * cap, inf);
    s.cv.resize(d);
    for (int64_t j = 0; j < m; ++j)
      for (int64_t k = 0; k < d; ++k) s.xc[k * cap + j] = c.x[s.ids[j] * c.stride + k];
    for (int64_t k = 0; k < d; ++k) s.cv[k] = c.x[root * c.stride + k];
  }
  s.key.assign(cap, inf);
  s.par.assign(cap, static_cast<Int>(root));
  T* kk = s.key.data();
  Int* pp = s.par.data();
  Int* ids = s.ids.data();
  I lane;
  for (int l = 0; l < kW; ++l) lane[l] = l;
  int64_t v = root;

  while (m > 0) {
    const int64_t end = (m + 2 * kW - 1) / (2 * kW) * (2 * kW);
    V best_key = V{} + inf;
    I best_id = I{} + kNone, best_pos = I{} * 0;
    for (int64_t j1 = 0; j1 < end; j1 += 2 * kW) {
      V dist[2];
      if (pre) {
        const T* row = c.x + v * c.stride;
        for (int h = 0; h < 2; ++h)
          for (int l = 0; l < kW; ++l) {
            const int64_t j = j1 + h * kW + l;
            dist[h][l] = j < m ? std::max(row[ids[j]], T(0)) : inf;
          }
      } else {
        RowBlocks<T, K>(s.xc.data() + j1, cap, d, s.cv.data(), c.p, dist);
      }
      for (int h = 0; h < 2; ++h) {
        const int64_t j0 = j1 + h * kW;
        // Relax: strict '<', so a tie keeps the earlier parent.
        const V key = Load<V>(kk + j0);
        const I closer = dist[h] < key;
        const V k = closer ? dist[h] : key;
        Store(kk + j0, k);
        Store(pp + j0, closer ? (I{} + static_cast<Int>(v)) : Load<I>(pp + j0));
        // Per-lane running minimum of (key, vertex id).
        const I id = Load<I>(ids + j0);
        const I better = (k < best_key) | ((k == best_key) & (id < best_id));
        best_key = better ? k : best_key;
        best_id = better ? id : best_id;
        best_pos = better ? lane + static_cast<Int>(j0) : best_pos;
      }
    }
    int best = 0;
    for (int l = 1; l < kW; ++l)
      if (best_key[l] < best_key[best] || (best_key[l] == best_key[best] && best_id[l] < best_id[best]))
        best = l;
    const int64_t js = best_pos[best];
    // Move vertex ids[js] into the tree and swap-remove its slot.
    v = ids[js];
    parent[v] = static_cast<int32_t>(pp[js]);
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
    ids[last] = kNone;
    m = last;
  }
}

// The connectivity loss of one branch: sum |eta - length| over its MST, the
// derivative in eta, and the gradient scaled by `weight` into grad (same
// strides as the points). The subgradient of each length is that of
// corel_jax/persistence/_distances.py's norm_grad: zero where the difference is zero,
// and for linf only on the first maximising coordinate.
template <typename T, int K>
__attribute__((always_inline)) inline void LossOne(const Cloud<T>& c, T eta, T weight,
                                                   Scratch<T>& s, std::vector<int32_t>& parent,
                                                   std::vector<T>& length, T* grad, T* loss,
                                                   T* deta) {
  const int64_t n = c.n, d = c.d, st = c.stride;
  // Zero this branch's gradient and look for inf/NaN (all exponent bits
  // set), on the bits: integer operations vectorise, with no branch.
  using Int = typename Simd<T>::Int;
  const Int exponent = BitsOf(std::numeric_limits<T>::infinity());  // all exponent bits
  Int bad = 0;
  for (int64_t r = 0; r < n; ++r) {
    const T* xr = c.x + r * st;
    T* gr = grad + r * st;
    for (int64_t k = 0; k < d; ++k) {
      bad |= static_cast<Int>((BitsOf(xr[k]) & exponent) == exponent);
      gr[k] = 0;
    }
  }
  if (bad) {
    *loss = *deta = std::numeric_limits<T>::quiet_NaN();
    return;
  }
  parent.resize(n);
  length.resize(n);
  PrimOne<T, K>(c, s, parent.data(), length.data());
  T total = 0, dtotal = 0;
  const int64_t root = parent[0];
  for (int64_t v = 0; v < n; ++v) {
    if (v == root) continue;
    const T* xv = c.x + v * st;
    const T* xu = c.x + parent[v] * st;
    T* gv = grad + v * st;
    T* gu = grad + parent[v] * st;
    const T len = length[v];
    total += std::abs(eta - len);
    // d|eta - len| / d len = sign(len - eta), taken as -1 at len = eta
    // (jax differentiates |u| as +1 at u = 0), and the opposite in eta.
    // (Signs are computed without branches: on real data they are random,
    // and mispredicted branches would cost more than the rest of the loop.)
    const T sg = T(2 * (len > eta) - 1);
    dtotal -= sg;
    const T w = weight * sg;
    if (K == kLinf) {
      int64_t best = 0;
      for (int64_t k = 1; k < d; ++k)
        best = std::abs(xv[k] - xu[k]) > std::abs(xv[best] - xu[best]) ? k : best;
      const T diff = xv[best] - xu[best];
      const T g = w * (T(diff > 0) - T(diff < 0));
      gv[best] += g;
      gu[best] -= g;
      continue;
    }
    const T inv = len > 0 ? 1 / len : T(0);
    for (int64_t k = 0; k < d; ++k) {
      const T diff = xv[k] - xu[k];
      const T sk = T(diff > 0) - T(diff < 0);
      T g = 0;
      if (K == kL1) g = sk;
      if (K == kSqEuclidean) g = 2 * diff;
      if (K == kL2) g = diff * inv;
      if (K == kMinkowski) g = sk * std::pow(std::abs(diff) * inv, c.p - 1);
      gv[k] += w * g;
      gu[k] -= w * g;
    }
  }
  *loss = total;
  *deta = dtotal;
}

// Runs CALL with K set to the metric code `kind` as a compile-time constant,
// so every metric gets its own inner loop. (A macro, not a generic lambda: a
// lambda would be compiled without the enclosing function's target clone.)
#define COREL_WITH_KIND(kind, CALL)            \
  switch (kind) {                              \
    case kL1: {                                \
      constexpr int K = kL1;                   \
      CALL;                                    \
    } break;                                   \
    case kL2: {                                \
      constexpr int K = kL2;                   \
      CALL;                                    \
    } break;                                   \
    case kSqEuclidean: {                       \
      constexpr int K = kSqEuclidean;          \
      CALL;                                    \
    } break;                                   \
    case kLinf: {                              \
      constexpr int K = kLinf;                 \
      CALL;                                    \
    } break;                                   \
    case kMinkowski: {                         \
      constexpr int K = kMinkowski;            \
      CALL;                                    \
    } break;                                   \
    default: {                                 \
      constexpr int K = kPrecomputed;          \
      CALL;                                    \
    }                                          \
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

// Below ~10^6 distance terms a task costs less than handing it over.
int64_t Workers(ffi::ThreadPool& pool, int64_t tasks, int64_t work) {
  return corel_jax_native::Workers(pool, tasks, work, int64_t{1} << 20);
}

// x86-64 with ifunc support (GCC or Clang on ELF, i.e. Linux): one clone per
// instruction set, chosen at load time. Elsewhere (ARM, macOS, Windows) the
// compiler's baseline for the target; setup.py adds no x86 flags there either.
#if (defined(__x86_64__) || defined(__i386__)) && defined(__ELF__) && \
    (defined(__GNUC__) || defined(__clang__))
#define COREL_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define COREL_CLONES
#endif

template <typename T>
void PrimCloud(const T* x, const bool* m, int32_t* out, int64_t b, int64_t n, int64_t d,
               int kind, double p);
template <typename T>
void LossBranch(const T* z, const T* eta, T* grad, T* loss, T* deta, int64_t i, int64_t branches,
                int64_t n, int64_t width, int kind, double p);

// The clone attribute needs one definition per type (no templates).
#define COREL_DEFINE_RANGES(T)                                                                \
  template <>                                                                                 \
  COREL_CLONES void PrimCloud<T>(const T* x, const bool* m, int32_t* out, int64_t b,          \
                                 int64_t n, int64_t d, int kind, double p) {                  \
    thread_local Scratch<T> s;                                                                \
    const int64_t cols = kind == kPrecomputed ? n : d;                                        \
    Cloud<T> c{x + b * n * cols, cols, m + b * n, n, d, static_cast<T>(p)};                   \
    COREL_WITH_KIND(kind, (PrimOne<T, K>(c, s, out + b * n, nullptr)))                       \
  }                                                                                           \
  template <>                                                                                 \
  COREL_CLONES void LossBranch<T>(const T* z, const T* eta, T* grad, T* loss, T* deta,        \
                                  int64_t i, int64_t branches, int64_t n, int64_t width,      \
                                  int kind, double p) {                                       \
    thread_local Scratch<T> s;                                                                \
    thread_local std::vector<int32_t> parent;                                                 \
    thread_local std::vector<T> length;                                                       \
    const int64_t b = i / branches, k = i % branches, stride = branches * width;              \
    const int64_t offset = b * n * stride + k * width;                                        \
    Cloud<T> c{z + offset, stride, nullptr, n, width, static_cast<T>(p)};                     \
    const T weight = T(1) / static_cast<T>(branches);                                         \
    /* (kind 5 is rejected before; it compiles as l1 here) */                                 \
    COREL_WITH_KIND(kind, (LossOne<T, K == kPrecomputed ? kL1 : K>(                          \
                              c, eta[b], weight, s, parent, length, grad + offset, loss + i, \
                              deta + i)))                                                     \
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
