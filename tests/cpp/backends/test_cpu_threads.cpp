// Kernels split across the thread pool: bit-identical to one thread, safe from concurrent callers.
#include <sched.h>

#include <cstdlib>
#include <random>
#include <string>
#include <atomic>
#include <chrono>
#include <cmath>
#include <limits>
#include <thread>

#include "backend_test_util.h"
#include "backends/cpu/fp_flags.h"
#include "backends/cpu/lower.h"
#include "backends/cpu/thread_pool.h"

namespace tracejit::backends::testing {
namespace {

// These tests count split jobs: the oversubscription check (jobs run inline while other
// processes fill every CPU) would make them depend on the machine's load.
[[maybe_unused]] const bool kAdaptiveOff = (set_cpu_adaptive_threads(false), true);

Buffer random_f32(std::vector<int64_t> shape, uint32_t seed) {
  Buffer b = make_buffer(DType::F32, shape);
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-2.0f, 2.0f);
  for (int64_t k = 0; k < b.numel(); ++k) b.set(k, dist(rng));
  return b;
}

std::unique_ptr<CompiledKernel> compile(const ir::Graph& g, int64_t parallel_min_work) {
  CpuCompileOptions opts;
  opts.parallel_min_work = parallel_min_work;
  auto k = compile_cpu(g, opts);
  EXPECT_TRUE(k.ok()) << k.message();
  return k.ok() ? std::move(*k) : nullptr;
}

// a*b + c*d - a over f32 [shape]; every param may be given its own layout.
ir::Graph fma_like(const std::vector<int64_t>& shape, ir::ParamLayout layout = ir::ParamLayout::Contiguous) {
  ir::Graph g;
  ir::Type t = ir::Type::of(DType::F32, shape);
  ir::ValueId a = g.add_param(t, layout), b = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId c = g.add_param(t, ir::ParamLayout::Contiguous), d = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId ab = g.add_op(Op::Mul, t, {a, b}), cd = g.add_op(Op::Mul, t, {c, d});
  g.results = {g.add_op(Op::Sub, t, {g.add_op(Op::Add, t, {ab, cd}), a})};
  return g;
}

// Runs `g` split across the pool (forced: any work is enough) and on one thread (never split),
// and expects bit-identical results; returns whether the split kernel used the pool.
bool expect_split_matches_inline(const ir::Graph& g, std::vector<Buffer> inputs) {
  auto split = compile(g, 1), single = compile(g, 0);
  if (!split || !single) return false;
  uint64_t jobs = cpu_parallel_jobs();
  std::vector<Buffer> got = run_kernel(g, *split, inputs);
  bool used_pool = cpu_parallel_jobs() > jobs;
  std::vector<Buffer> want = run_kernel(g, *single, inputs);
  for (size_t r = 0; r < got.size(); ++r) EXPECT_TRUE(same_values(got[r], want[r])) << "result " << r;
  return used_pool;
}

TEST(CpuThreads, Large1DMatchesSingleThreadAndReference) {
  // Not a multiple of the chunk size, the grain or the vector width.
  const int64_t n = (int64_t{1} << 20) + 4093;
  ir::Graph g = fma_like({n});
  std::vector<Buffer> in = {random_f32({n}, 1), random_f32({n}, 2), random_f32({n}, 3), random_f32({n}, 4)};
  EXPECT_EQ(expect_split_matches_inline(g, in), cpu_num_threads() > 1);
  auto k = compile(g, kDefaultParallelMinWork);  // this size is split by default
  ASSERT_TRUE(k);
  std::vector<Buffer> got = run_kernel(g, *k, in);
  for (int64_t i = 0; i < n; ++i) {
    float a = in[0].get<float>(i), b = in[1].get<float>(i), c = in[2].get<float>(i), d = in[3].get<float>(i);
    float want = a * b + c * d - a;  // this file is built with -ffp-contract=off
    ASSERT_EQ(got[0].get<float>(i), want) << "element " << i;
  }
}

TEST(CpuThreads, TwoDimBroadcastSplitsTheOuterLoop) {
  // [rows, cols] * [cols] + [rows, 1]: no coalescing, so the pool splits rows.
  const int64_t rows = 1031, cols = 517;
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F32, {rows, cols}), ir::ParamLayout::Contiguous);
  ir::ValueId row = g.add_param(ir::Type::of(DType::F32, {cols}), ir::ParamLayout::Contiguous);
  ir::ValueId col = g.add_param(ir::Type::of(DType::F32, {rows, 1}), ir::ParamLayout::Contiguous);
  ir::Type t = ir::Type::of(DType::F32, {rows, cols});
  g.results = {g.add_op(Op::Add, t, {g.add_op(Op::Mul, t, {x, row}), col})};
  std::vector<Buffer> in = {random_f32({rows, cols}, 5), random_f32({cols}, 6), random_f32({rows, 1}, 7)};
  EXPECT_EQ(expect_split_matches_inline(g, in), cpu_num_threads() > 1);
  check_graph(g, in);
}

TEST(CpuThreads, StridedInputSplitsCorrectly) {
  // `a` is the transpose of a C-contiguous [cols, rows] buffer.
  const int64_t rows = 700, cols = 333;
  ir::Graph g = fma_like({rows, cols}, ir::ParamLayout::Strided);
  Buffer at = random_f32({cols, rows}, 8);
  at.shape = {rows, cols};
  at.strides = {4, 4 * rows};
  std::vector<Buffer> in = {at, random_f32({rows, cols}, 9), random_f32({rows, cols}, 10), random_f32({rows, cols}, 11)};
  EXPECT_EQ(expect_split_matches_inline(g, in), cpu_num_threads() > 1);
}

TEST(CpuThreads, SmallSizesAndRaggedChunks) {
  // Forced splitting of sizes around the grain and chunk sizes, compared with the reference.
  for (int64_t n : {2, 63, 4095, 4096, 4097, 8191, 8193, 3 * 4096 + 5, 40000}) {
    ir::Graph g = fma_like({n});
    std::vector<Buffer> in = {random_f32({n}, 12), random_f32({n}, 13), random_f32({n}, 14), random_f32({n}, 15)};
    expect_split_matches_inline(g, in);
    auto k = compile(g, 1);
    ASSERT_TRUE(k);
    std::vector<Buffer> got = run_kernel(g, *k, in);
    EXPECT_TRUE(same_values(got[0], reference(g, in)[0])) << "n = " << n;
  }
}

TEST(CpuThreads, DefaultThresholdKeepsSmallKernelsOffThePool) {
  // a + b on f32 moves 12 bytes and does one op per element: 13 work units.
  const int64_t per_elem = 13, at = (kDefaultParallelMinWork + per_elem - 1) / per_elem;
  for (int64_t n : {int64_t{1000}, at - 1, at, at + 1}) {
    ir::Graph g;
    ir::Type t = ir::Type::of(DType::F32, {n});
    ir::ValueId a = g.add_param(t, ir::ParamLayout::Contiguous), b = g.add_param(t, ir::ParamLayout::Contiguous);
    g.results = {g.add_op(Op::Add, t, {a, b})};
    auto k = compile(g, kDefaultParallelMinWork);  // not -1: the environment may override it
    ASSERT_TRUE(k);
    std::vector<Buffer> in = {random_f32({n}, 16), random_f32({n}, 17)};
    uint64_t jobs = cpu_parallel_jobs();
    std::vector<Buffer> got = run_kernel(g, *k, in);
    bool split = cpu_parallel_jobs() > jobs;
    EXPECT_EQ(split, n >= at && cpu_num_threads() > 1) << "n = " << n;
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[0].get<float>(i), in[0].get<float>(i) + in[1].get<float>(i));
  }
}

TEST(CpuThreads, FullReductionSplitsAcrossThePool) {
  // sum(exp(x)) of one long vector keeps no outer axis: it is split in chunks (ir/passes/
  // split_reduce.h) whose sums the pool computes; the result is the same on every run and
  // within the pairwise bound of the exact sum.
  const int64_t n = int64_t{1} << 20;
  ir::Graph g;
  ir::Type t = ir::Type::of(DType::F32, {n});
  ir::ValueId x = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId e = g.add_op(Op::Exp, t, {x});
  ir::Node r;
  r.op = Op::ReduceSum;
  r.type = ir::Type::of(DType::F32, {1});
  r.operands = {e};
  r.ints = {0};
  g.results = {g.add(r)};
  auto k = compile(g, kDefaultParallelMinWork);
  ASSERT_TRUE(k);
  std::vector<Buffer> in = {random_f32({n}, 21)};
  uint64_t jobs = cpu_parallel_jobs();
  std::vector<Buffer> got = run_kernel(g, *k, in);
  EXPECT_EQ(cpu_parallel_jobs() > jobs, cpu_num_threads() > 1);
  double exact = 0, mag = 0;
  for (int64_t i = 0; i < n; ++i) {
    double v = static_cast<double>(std::exp(in[0].get<float>(i)));
    exact += v, mag += std::fabs(v);
  }
  double err = std::fabs(static_cast<double>(got[0].get<float>(0)) - exact);
  EXPECT_LE(err, 28 * std::numeric_limits<float>::epsilon() * mag) << got[0].get<float>(0) << " vs " << exact;
  for (int rep = 0; rep < 3; ++rep) EXPECT_TRUE(same_values(run_kernel(g, *k, in)[0], got[0]));
}

TEST(CpuThreads, TwoNestsOfDifferentShapes) {
  // Results of shapes [n] and [2, n]: two loop nests, each split on its own.
  const int64_t n = 50000;
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F32, {n}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::F32, {2, n}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Neg, ir::Type::of(DType::F32, {n}), {x}),
               g.add_op(Op::Mul, ir::Type::of(DType::F32, {2, n}), {x, y})};
  std::vector<Buffer> in = {random_f32({n}, 18), random_f32({2, n}, 19)};
  EXPECT_EQ(expect_split_matches_inline(g, in), cpu_num_threads() > 1);
  check_graph(g, in);
}

TEST(CpuThreads, ConcurrentCallersGetCorrectResults) {
  // Four threads share one large kernel (the pool is busy for some of them: they run inline)
  // and also run small ones.
  const int64_t n = 300000;
  ir::Graph g = fma_like({n});
  auto k = compile(g, 1);
  ASSERT_TRUE(k);
  std::vector<Buffer> in = {random_f32({n}, 20), random_f32({n}, 21), random_f32({n}, 22), random_f32({n}, 23)};
  auto single = compile(g, 0);
  ASSERT_TRUE(single);
  Buffer want = run_kernel(g, *single, in)[0];
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      std::vector<Buffer> mine = in;
      for (int it = 0; it < 40; ++it) {
        Buffer got = run_kernel(g, *k, mine)[0];
        if (std::memcmp(got.data(), want.data(), static_cast<size_t>(n) * 4) != 0) ++mismatches;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 0);
}

TEST(CpuThreads, OversubscribedPoolMatches) {
  set_cpu_num_threads(7);
  EXPECT_EQ(cpu_num_threads(), 7);
  const int64_t n = 100003;
  ir::Graph g = fma_like({n});
  EXPECT_TRUE(expect_split_matches_inline(
      g, {random_f32({n}, 24), random_f32({n}, 25), random_f32({n}, 26), random_f32({n}, 27)}));
  set_cpu_num_threads(0);
}

TEST(CpuThreads, EnvOneThreadRunsInline) {
  const char* old = std::getenv("TRACEJIT_NUM_THREADS");
  std::string saved = old ? old : "";
  setenv("TRACEJIT_NUM_THREADS", "1", 1);
  set_cpu_num_threads(0);  // re-read the environment
  EXPECT_EQ(cpu_num_threads(), 1);
  const int64_t n = 200001;
  ir::Graph g = fma_like({n});
  EXPECT_FALSE(expect_split_matches_inline(
      g, {random_f32({n}, 28), random_f32({n}, 29), random_f32({n}, 30), random_f32({n}, 31)}));
  if (old) setenv("TRACEJIT_NUM_THREADS", saved.c_str(), 1);
  else unsetenv("TRACEJIT_NUM_THREADS");
  set_cpu_num_threads(0);
}

struct ThreadJob {
  std::thread::id caller;
  std::atomic<int> worker_chunks{0};
  std::atomic<int64_t> covered{0};
};

void note_thread(void* ctx, int64_t begin, int64_t end) {
  auto* job = static_cast<ThreadJob*>(ctx);
  if (std::this_thread::get_id() != job->caller) ++job->worker_chunks;
  job->covered += end - begin;
}

// Waking a sleeping worker costs the caller a system call and the worker tens of microseconds:
// a job below kColdParallelMinWork that finds the workers asleep runs on the calling thread.
TEST(CpuThreads, SleepingWorkersLeaveSmallJobsToTheCaller) {
  set_cpu_num_threads(2);
  set_cpu_adaptive_threads(true);
  if (cpu_num_threads() > 1) {
    ThreadJob warm;
    warm.caller = std::this_thread::get_id();
    tracejit_parallel_for(&note_thread, &warm, 64, 1, INT64_MAX);  // starts the worker
    EXPECT_EQ(warm.covered.load(), 64);
    for (int attempt = 0; attempt < 5; ++attempt) {
      std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the worker spins, then sleeps
      ThreadJob job;
      job.caller = std::this_thread::get_id();
      tracejit_parallel_for(&note_thread, &job, 64, 1, kColdParallelMinWork - 1);
      EXPECT_EQ(job.covered.load(), 64);
      EXPECT_EQ(job.worker_chunks.load(), 0) << "attempt " << attempt;
    }
  }
  set_cpu_adaptive_threads(false);
  set_cpu_num_threads(0);
}

// The scheduler may wake a sleeping worker on its waker's CPU and leave the two taking turns
// there while another CPU idles (half of the processes timing a 4M-element sinh on the 2-CPU
// development VM ran split jobs at one-thread speed). The pool keeps its workers off the
// caller's CPU: no worker chunk runs on the CPU the caller ran on throughout the job.
struct CpuJob {
  std::thread::id caller;
  std::atomic<int> worker_chunks{0};
  std::atomic<int> on_caller_cpu{0};
  int caller_cpu = -1;
};

void note_cpu(void* ctx, int64_t, int64_t) {
  auto* job = static_cast<CpuJob*>(ctx);
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1);
  int cpu = sched_getcpu();
  while (std::chrono::steady_clock::now() < until) cpu = sched_getcpu();  // busy, as a kernel is
  if (std::this_thread::get_id() == job->caller) return;
  ++job->worker_chunks;
  if (cpu == job->caller_cpu) ++job->on_caller_cpu;
}

TEST(CpuThreads, WorkersStayOffTheCallersCpu) {
  cpu_set_t set;
  ASSERT_EQ(sched_getaffinity(0, sizeof(set), &set), 0);
  if (CPU_COUNT(&set) < 2) GTEST_SKIP() << "one CPU";
  set_cpu_num_threads(2);
  int jobs = 0, worker_chunks = 0;
  for (int attempt = 0; attempt < 40; ++attempt) {
    if (attempt % 4 == 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));  // let it sleep
    CpuJob job;
    job.caller = std::this_thread::get_id();
    job.caller_cpu = sched_getcpu();
    tracejit_parallel_for(&note_cpu, &job, 8, 1, INT64_MAX);
    if (sched_getcpu() != job.caller_cpu) continue;  // the caller moved: no single CPU to check
    ++jobs;
    worker_chunks += job.worker_chunks.load();
    EXPECT_EQ(job.on_caller_cpu.load(), 0) << "attempt " << attempt << ", CPU " << job.caller_cpu;
  }
  EXPECT_GT(jobs, 0);
  EXPECT_GT(worker_chunks, 0) << "no chunk ran on the worker";
  set_cpu_num_threads(0);
}

// NumPy's errstate: the runtime reads the calling thread's floating-point flags after a kernel,
// so the pool hands the flags its workers' chunks raised to the caller.
struct FlagJob {
  std::thread::id caller;
  std::atomic<int> worker_chunks{0};
};

void divide_by_zero_on_workers(void* ctx, int64_t, int64_t) {
  auto* job = static_cast<FlagJob*>(ctx);
  if (std::this_thread::get_id() == job->caller) {  // leave chunks to the workers
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
    return;
  }
  ++job->worker_chunks;
  volatile double zero = 0.0;
  volatile double r = 1.0 / zero;  // raises divide-by-zero on this worker
  (void)r;
}

TEST(CpuThreads, WorkersFloatingPointFlagsReachTheCaller) {
  set_cpu_num_threads(4);
  bool seen = false;
  for (int attempt = 0; attempt < 20 && !seen; ++attempt) {
    FlagJob job;
    job.caller = std::this_thread::get_id();
    const uint32_t saved = fp::save_and_clear();
    tracejit_parallel_for(&divide_by_zero_on_workers, &job, 64, 1, INT64_MAX);
    const uint32_t flags = fp::test();
    fp::restore(saved);
    if (job.worker_chunks.load() == 0) continue;  // the caller ran every chunk this time
    EXPECT_EQ(flags & fp::kDivide, fp::kDivide);
    EXPECT_EQ(flags & (fp::kOverflow | fp::kInvalid), 0u);
    seen = true;
  }
  EXPECT_TRUE(seen) << "no chunk ran on a worker";
  set_cpu_num_threads(0);
}

// Flags NumPy raises where the compiled op has no flag-raising float operation (log(0) as a
// select, integer // 0) are noted by the backend and raised when the kernel returns, also
// from split jobs; clean data and NaN compares raise nothing.
uint32_t flags_of(const ir::Graph& g, std::vector<Buffer> inputs, int64_t parallel_min_work) {
  auto k = compile(g, parallel_min_work);
  if (!k) return ~0u;
  const uint32_t saved = fp::save_and_clear();
  run_kernel(g, *k, inputs);
  const uint32_t flags = fp::test();
  fp::restore(saved);
  return flags;
}

TEST(CpuThreads, NotedFloatingPointFlags) {
  set_cpu_num_threads(2);
  const int64_t n = 100003;
  for (int64_t work : {int64_t{0}, int64_t{1}}) {
    ir::Graph lg;
    ir::Type t = ir::Type::of(DType::F64, {n});
    lg.results = {lg.add_op(Op::Log, t, {lg.add_param(t, ir::ParamLayout::Contiguous)})};
    Buffer x = make_buffer(DType::F64, {n});
    for (int64_t k = 0; k < n; ++k) x.set(k, 1.0 + static_cast<double>(k));
    EXPECT_EQ(flags_of(lg, {x}, work), 0u);
    x.set(n - 1, 0.0);
    EXPECT_EQ(flags_of(lg, {x}, work), fp::kDivide);
    x.set(n - 1, -2.0);
    EXPECT_EQ(flags_of(lg, {x}, work), fp::kInvalid);

    ir::Graph dg;
    ir::Type it = ir::Type::of(DType::I64, {n});
    dg.results = {dg.add_op(Op::FloorDiv, it, {dg.add_param(it, ir::ParamLayout::Contiguous),
                                               dg.add_param(it, ir::ParamLayout::Contiguous)})};
    Buffer a = make_buffer(DType::I64, {n}), d = make_buffer(DType::I64, {n});
    for (int64_t k = 0; k < n; ++k) a.set(k, k), d.set(k, int64_t{3});
    EXPECT_EQ(flags_of(dg, {a, d}, work), 0u);
    d.set(n / 2, int64_t{0});
    EXPECT_EQ(flags_of(dg, {a, d}, work), fp::kDivide);
    d.set(n / 2, int64_t{-1});
    a.set(n / 2, INT64_MIN);
    EXPECT_EQ(flags_of(dg, {a, d}, work), fp::kOverflow);

    ir::Graph cg;
    ir::Type bt = ir::Type::of(DType::Bool, {n});
    ir::ValueId p = cg.add_param(t, ir::ParamLayout::Contiguous);
    cg.results = {cg.add_op(Op::Lt, bt, {p, cg.add_const_float(DType::F64, 2.5)}),
                  cg.add_op(Op::Maximum, t, {p, cg.add_const_float(DType::F64, 2.5)})};
    Buffer nan = make_buffer(DType::F64, {n});
    for (int64_t k = 0; k < n; ++k) nan.set(k, k % 3 ? std::nan("") : 1.0);
    EXPECT_EQ(flags_of(cg, {nan}, work), 0u);
  }
  set_cpu_num_threads(0);
}

}  // namespace
}  // namespace tracejit::backends::testing
