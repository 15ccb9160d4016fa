// The CPU backend's persistent thread pool, which JIT'd kernels call to split a loop nest.
#pragma once

#include <cstdint>

// Runs body(ctx, begin, end) over disjoint non-empty ranges covering [0, n), on the pool's
// threads and the calling thread, and returns when all have finished. Ranges are multiples of
// `grain` long (except the last). Runs body(ctx, 0, n) inline when the pool has one thread,
// when n fits one chunk, when another kernel is using the pool (so concurrent callers never
// wait for each other), or when other processes' runnable threads already fill every CPU twice
// over (/proc/loadavg, sampled every 10 ms; see set_cpu_adaptive_threads). `body` must not throw. Bound into the JIT as an absolute symbol.
extern "C" void tracejit_parallel_for(void (*body)(void* ctx, int64_t begin, int64_t end), void* ctx,
                                      int64_t n, int64_t grain) noexcept;

namespace tracejit::backends {

// Threads the pool uses, the caller included: TRACEJIT_NUM_THREADS if set (>= 1), else the CPUs
// this process may run on. Creates nothing.
[[nodiscard]] int cpu_num_threads() noexcept;

// Resizes the pool to `n` threads (n <= 0: back to the default above, re-reading the
// environment). Waits for a kernel using the pool to finish; workers start lazily.
void set_cpu_num_threads(int n) noexcept;

// Whether jobs run inline while the machine is oversubscribed (default: on, unless
// TRACEJIT_ADAPTIVE_THREADS=0). Tests that count split jobs turn it off.
void set_cpu_adaptive_threads(bool on) noexcept;

// Jobs this process has split across more than one thread (for tests and diagnostics).
[[nodiscard]] uint64_t cpu_parallel_jobs() noexcept;

}  // namespace tracejit::backends
