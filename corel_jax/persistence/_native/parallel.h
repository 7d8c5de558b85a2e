// The batch split shared by the native kernels (prim_cpu.cc, graph_cpu.cc): the
// tasks of one custom call run on the calling thread and XLA's intra-op pool.
#ifndef COREL_JAX_PERSISTENCE_NATIVE_PARALLEL_H_
#define COREL_JAX_PERSISTENCE_NATIVE_PARALLEL_H_

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>

#include "xla/ffi/api/ffi.h"

namespace corel_jax_native {

// Runs fn(i) for i in [0, tasks) on the calling thread and XLA's intra-op
// thread pool. Workers claim tasks from a shared counter, so a worker that
// starts late (or never) costs nothing; the caller returns once every task
// is done, and the shared state outlives late workers.
template <typename F>
void ParallelFor(xla::ffi::ThreadPool& pool, int64_t tasks, int64_t workers, F fn) {
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

// How many workers share `tasks` tasks of `work` units in all: one below
// `min_work` units (handing a task over then costs more than it saves),
// otherwise one per task up to the pool's threads.
inline int64_t Workers(xla::ffi::ThreadPool& pool, int64_t tasks, int64_t work,
                       int64_t min_work) {
  if (work < min_work) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(tasks, pool.num_threads()));
}

}  // namespace corel_jax_native

#endif  // COREL_JAX_PERSISTENCE_NATIVE_PARALLEL_H_
