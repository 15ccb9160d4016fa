// The CPU backend's persistent thread pool, which JIT'd kernels call to split a loop nest.
#pragma once

#include <cstdint>

// Runs body(ctx, begin, end) over disjoint non-empty ranges covering [0, n), on the pool's
// threads and the calling thread, and returns when all have finished. Ranges are multiples of
// `grain` long (except the last). `work` is the caller's estimate of the whole job's cost in the
// backend's work units (about one per byte moved, ~100 per microsecond on one core; lower.h).
// Runs body(ctx, 0, n) inline when the pool has one thread, when n fits one chunk, when another
// kernel is using the pool (so concurrent callers never wait for each other), and, unless
// adaptive threading is off (set_cpu_adaptive_threads): when other processes' runnable threads
// already fill every CPU twice over (/proc/loadavg, sampled every 10 ms), or when the workers
// are asleep and `work` is below kColdParallelMinWork (waking a sleeping worker costs the caller
// a system call and the worker tens of microseconds before it runs: more than such a job
// saves). `body` must not throw. Bound into the JIT as an absolute symbol.
extern "C" void tracejit_parallel_for(void (*body)(void* ctx, int64_t begin, int64_t end), void* ctx,
                                      int64_t n, int64_t grain, int64_t work) noexcept;

namespace tracejit::backends {

// Work (units as above) from which a job wakes sleeping workers: about 50 us on one core.
// Measured on the 2-core development VM: a futex wake costs the caller 10-40 us and the worker
// starts 25-40 us later on a cold core, so `x + 1` over 256K float32 (2.3M units, 23 us inline)
// took 82 us when the call found the worker asleep, over 512K 65 us against 50 inline; from
// ~100 us of work the wake pays (1M: 96 us split, 116 inline). Below the break-even rather than
// at it: work estimates are rough (a scheduled nest counts 8 units per element whatever it
// reads), and a job that wrongly stays inline loses up to 2x, one that wrongly wakes a worker
// ~30%. Jobs between the kernels' own threshold (kDefaultParallelMinWork) and this one still
// split when the workers are awake: they spin for a while after each job, and a run of such
// jobs back to back wakes them (see thread_pool.cpp).
inline constexpr int64_t kColdParallelMinWork = int64_t{4} << 20;

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
