// The persistent kernel thread pool: lazily started workers that spin briefly and then sleep on a
// futex, one job at a time handed out in chunks through one atomic word.
#include "backends/cpu/thread_pool.h"

#include "backends/cpu/fp_flags.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <mutex>
#include <thread>
#include <vector>

namespace tracejit::backends {
namespace {

using BodyFn = void (*)(void*, int64_t, int64_t);

// Chunks per thread: more than one so a thread delayed by another process (2-core machines are
// often shared) does not hold up the rest; few enough that a claim (one CAS) costs nothing.
constexpr int64_t kChunksPerThread = 4;
// Pause iterations (~40 us on current x86) a worker or the caller spins before sleeping: kernels
// called back to back from Python then find the workers awake.
constexpr int kSpinIters = 2048;
// A job too small to wake the workers (kColdParallelMinWork) that starts less than this after
// the previous one ended wakes them after running inline: a loop of such kernels then finds
// them spinning. Short: on the development VM a wake costs the caller 10-40 us, so kernels
// called with other work in between (NumPy code between the calls) must not pay it each time.
constexpr int64_t kBurstGapNs = 15'000;
// A worker woken this recently counts as awake: it starts within ~40 us of the wake and then
// spins (kSpinIters) before sleeping again, so the jobs right after a wake use it.
constexpr int64_t kWakingNs = 60'000;
// Pools up to this many workers keep them off the calling thread's CPU (keep_workers_off_caller_cpu).
constexpr size_t kMaxPinnedWorkers = 7;

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch()).count();
}

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Raw futexes, paired with sleeper counts so that waking threads that are still spinning costs
// no system call (std::atomic::wait leaves its spinning and waiter tracking to the library).
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected, nullptr, nullptr, 0);
}
void futex_wake_all(std::atomic<uint32_t>& word) {
  syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, INT32_MAX, nullptr, nullptr, 0);
}

int default_threads() {
  if (const char* env = std::getenv("TRACEJIT_NUM_THREADS")) {
    char* end = nullptr;
    long v = std::strtol(env, &end, 10);
    if (end != env && *end == '\0' && v >= 1) return static_cast<int>(std::min<long>(v, 1024));
  }
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
  unsigned h = std::thread::hardware_concurrency();
  return h ? static_cast<int>(h) : 1;
}

// One job at a time (busy_ held by its caller). The job's fields are written before state_ is
// published and read by a thread only after it has claimed a chunk from state_; the job cannot
// finish, and so they cannot change, until that chunk is done.
class Pool {
 public:
  explicit Pool(int threads) : threads_(threads) {}

  std::mutex busy_;  // held by the kernel using the pool, and by resize()
  std::atomic<int> threads_;  // caller included; 0 = default_threads(), decided on first use

  // With busy_ held: starts the workers if needed and returns the thread count.
  int ensure_started() {
    int n = threads_.load(std::memory_order_relaxed);
    if (n == 0) threads_.store(n = default_threads(), std::memory_order_relaxed);
    while (static_cast<int>(workers_.size()) < n - 1) {
      try {
        // The epoch is read here, not in the thread: a thread that starts late must still see
        // the jobs (and the stop) published after its creation.
        workers_.emplace_back([this, epoch = epoch_.load()] { worker_loop(epoch); });
      } catch (...) {  // cannot create threads: run with what we have
        threads_.store(n = static_cast<int>(workers_.size()) + 1, std::memory_order_relaxed);
      }
    }
    return n;
  }

  // With busy_ held: stops the workers; the next ensure_started() starts `threads` of them.
  void resize(int threads) {
    stop_.store(true, std::memory_order_release);
    wake_workers();
    for (std::thread& t : workers_) t.join();
    workers_.clear();
    stop_.store(false, std::memory_order_relaxed);
    avoided_cpu_ = -1;  // the next workers start with the process's affinity
    threads_.store(threads, std::memory_order_relaxed);
  }

  // With busy_ held: whether some worker sleeps (or is about to) and was not woken lately (a
  // worker woken less than kWakingNs ago may still be on its way: it will spin once up).
  bool workers_asleep() const {
    return sleepers_.load(std::memory_order_relaxed) != 0 && now_ns() - woken_ns_ >= kWakingNs;
  }

  // With busy_ held, for a job run inline because the workers slept: true when the previous such
  // job ended less than kBurstGapNs ago. cold_job_done() records the end.
  bool cold_job_follows_another() const { return now_ns() - last_cold_end_ns_ < kBurstGapNs; }
  void cold_job_done() { last_cold_end_ns_ = now_ns(); }

  // With busy_ held: wakes the workers with no job to run; they spin, then sleep again.
  void wake_idle() {
    keep_workers_off_caller_cpu();
    state_.store(uint64_t{++gen_} << 32, std::memory_order_release);  // no chunks to claim
    wake_workers();
  }

  // With busy_ held and threads > 1: runs the job on the workers and the calling thread. The
  // floating-point flags the workers' chunks raised end up raised on the calling thread too
  // (the runtime reads that thread's flags after a kernel: NumPy's errstate).
  void run(BodyFn body, void* ctx, int64_t n, int64_t chunk, uint32_t chunks) {
    body_ = body, ctx_ = ctx, n_ = n, chunk_ = chunk, chunks_ = chunks;
    keep_workers_off_caller_cpu();
    fp_flags_.store(0, std::memory_order_relaxed);
    unfinished_.store(chunks, std::memory_order_relaxed);
    ++gen_;
    state_.store((uint64_t{gen_} << 32) | chunks, std::memory_order_release);
    wake_workers();
    work(false);
    for (int i = 0; i < kSpinIters && unfinished_.load(std::memory_order_acquire) != 0; ++i) cpu_relax();
    if (unfinished_.load(std::memory_order_acquire) != 0) {
      // Sleep until the last chunk's finisher wakes us (seq_cst pairs with work()'s check).
      caller_sleeps_.store(true);
      for (uint32_t left; (left = unfinished_.load()) != 0;) futex_wait(unfinished_, left);
      caller_sleeps_.store(false, std::memory_order_relaxed);
    }
    fp::raise(fp_flags_.load(std::memory_order_relaxed));  // ordered by unfinished_ == 0 (acquire)
  }

 private:
  // With busy_ held: keeps the workers off the CPU the calling thread runs on. The scheduler
  // often wakes a sleeping worker on its waker's CPU (and leaves it there: nothing else is
  // runnable on the idle one to prompt a rebalance), so the caller and the worker then take turns
  // on one CPU while the other idles, and a split job takes as long as an unsplit one. On the
  // 2-CPU development VM that happened in about half of the processes timing float sinh over 4M
  // (2.4 ms instead of 1.2, for the first 10-20 calls or for good); with the workers kept off the
  // caller's CPU, in none. One sched_getcpu (vDSO) per job; a pthread_setaffinity_np per worker
  // only when the caller has moved. The mask is the caller's own affinity less its CPU, so
  // taskset and cgroup limits still hold. Only for small pools: with many workers one sharing the
  // caller's CPU delays a few chunks that the others pick up, while a caller that moves would pay
  // a system call per worker.
  void keep_workers_off_caller_cpu() {
    if (workers_.empty() || workers_.size() > kMaxPinnedWorkers) return;
    int cpu = sched_getcpu();
    if (cpu < 0 || cpu == avoided_cpu_) return;
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) != 0 || !CPU_ISSET(cpu, &set) || CPU_COUNT(&set) < 2) return;
    CPU_CLR(cpu, &set);
    for (std::thread& t : workers_) pthread_setaffinity_np(t.native_handle(), sizeof(set), &set);
    avoided_cpu_ = cpu;
  }

  // Claims and runs chunks of the current job until none is left. A worker hands the flags a
  // chunk raised to the job (fp_flags_) before counting the chunk finished, and clears them.
  void work(bool worker) {
    uint64_t s = state_.load(std::memory_order_acquire);
    while (static_cast<uint32_t>(s) != 0) {
      if (!state_.compare_exchange_weak(s, s - 1, std::memory_order_acq_rel, std::memory_order_acquire))
        continue;
      int64_t begin = static_cast<int64_t>(chunks_ - static_cast<uint32_t>(s)) * chunk_;
      body_(ctx_, begin, std::min(n_, begin + chunk_));
      if (worker)
        if (uint32_t f = fp::take()) fp_flags_.fetch_or(f, std::memory_order_relaxed);
      if (unfinished_.fetch_sub(1) == 1 && caller_sleeps_.load()) futex_wake_all(unfinished_);
      s = state_.load(std::memory_order_acquire);
    }
  }

  // The sleeper count makes a wake-up free while every worker is still spinning: either the
  // worker sees the new epoch or the waker sees the sleeper (both seq_cst).
  void wake_workers() {
    woken_ns_ = now_ns();
    epoch_.fetch_add(1);
    if (sleepers_.load() != 0) futex_wake_all(epoch_);
  }

  void worker_loop(uint32_t seen) {
    for (;;) {
      for (int i = 0; i < kSpinIters && epoch_.load(std::memory_order_acquire) == seen; ++i) cpu_relax();
      if (epoch_.load() == seen) {
        sleepers_.fetch_add(1);
        while (epoch_.load() == seen) futex_wait(epoch_, seen);
        sleepers_.fetch_sub(1);
      }
      seen = epoch_.load(std::memory_order_acquire);
      if (stop_.load(std::memory_order_acquire)) return;
      work(true);
    }
  }

  std::vector<std::thread> workers_;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> epoch_{0};       // bumped to wake the workers
  std::atomic<uint32_t> sleepers_{0};    // workers asleep (or about to be) on epoch_
  std::atomic<bool> caller_sleeps_{false};
  std::atomic<uint64_t> state_{0};       // gen << 32 | chunks not yet claimed
  std::atomic<uint32_t> unfinished_{0};  // chunks not yet finished
  std::atomic<uint32_t> fp_flags_{0};    // floating-point flags the workers' chunks raised (fp::)
  uint32_t gen_ = 0;                     // tells a stale claim from a claim on the current job
  int avoided_cpu_ = -1;                 // the CPU the workers' affinity leaves out (busy_ held)
  int64_t last_cold_end_ns_ = INT64_MIN / 2;  // when the last job run inline for sleeping workers ended
  int64_t woken_ns_ = INT64_MIN / 2;           // when the workers were last woken (busy_ held)
  BodyFn body_ = nullptr;
  void* ctx_ = nullptr;
  int64_t n_ = 0, chunk_ = 0;
  uint32_t chunks_ = 0;
};

// Oversubscription: when other processes' runnable threads already fill every CPU, a worker that
// claims a chunk is likely preempted inside it, and the caller then waits a scheduler slice for
// it. Measured on the shared 2-core machine at load ~5.5: (x*x).sum(1) over 4096x1024 f32 took
// 2.9 ms split in two and 0.63 ms on the calling thread alone; row softmax 7.2-8.7 vs 5.7-6.9 ms.
// So jobs run inline while /proc/loadavg's runnable-task count, less this pool's threads (the
// caller and workers that may still be spinning), is at least twice the CPU count; sampled at
// most every 10 ms (a few microseconds each). At the CPU count itself it was too eager: with two
// other busy processes on 2 cores, float sin over 4M took 4.2 ms split and 5.8-8 ms inline.
// TRACEJIT_ADAPTIVE_THREADS=0 turns this off, and the inline run of small jobs that find the
// workers asleep (kColdParallelMinWork).
constexpr int64_t kLoadSampleNs = 10'000'000;
std::atomic<int> g_adaptive{-1};  // -1: not yet read from the environment
std::atomic<int64_t> g_load_sampled_ns{INT64_MIN / 2};
std::atomic<bool> g_oversubscribed{false};

int cpu_count() {
  static const int n = [] {
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0) return CPU_COUNT(&set);
    unsigned h = std::thread::hardware_concurrency();
    return h ? static_cast<int>(h) : 1;
  }();
  return n;
}

// Runnable tasks on the machine (the 4th field of /proc/loadavg, "running/total"), or -1.
int runnable_tasks() {
  int fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  char buf[128];
  ssize_t len = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (len <= 0) return -1;
  buf[len] = '\0';
  const char* p = buf;
  for (int field = 0; field < 3; ++field) {  // skip the three load averages
    while (*p && *p != ' ') ++p;
    while (*p == ' ') ++p;
  }
  char* end = nullptr;
  long running = std::strtol(p, &end, 10);
  return end != p && *end == '/' ? static_cast<int>(running) : -1;
}

bool adaptive() {
  int adaptive = g_adaptive.load(std::memory_order_relaxed);
  if (adaptive < 0) {
    const char* env = std::getenv("TRACEJIT_ADAPTIVE_THREADS");
    adaptive = env && env[0] == '0' && env[1] == '\0' ? 0 : 1;
    g_adaptive.store(adaptive, std::memory_order_relaxed);
  }
  return adaptive != 0;
}

bool oversubscribed(int64_t threads) {
  if (!adaptive()) return false;
  int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                    std::chrono::steady_clock::now().time_since_epoch()).count();
  int64_t last = g_load_sampled_ns.load(std::memory_order_relaxed);
  if (now - last < kLoadSampleNs || !g_load_sampled_ns.compare_exchange_strong(last, now))
    return g_oversubscribed.load(std::memory_order_relaxed);
  int running = runnable_tasks();
  bool over = running >= 0 && running - threads >= 2 * cpu_count();
  g_oversubscribed.store(over, std::memory_order_relaxed);
  return over;
}

std::atomic<Pool*> g_pool{nullptr};
std::atomic<uint64_t> g_parallel_jobs{0};

// The pool, created on first use. Leaked on purpose: kernels may run during static teardown,
// and a forked child gets a fresh pool (its parent's workers do not exist there).
Pool& pool() {
  static Pool* first = [] {
    auto* p = new Pool(0);
    g_pool.store(p, std::memory_order_release);
    pthread_atfork(nullptr, nullptr, [] {
      Pool* old = g_pool.load(std::memory_order_relaxed);
      g_pool.store(new Pool(old->threads_.load(std::memory_order_relaxed)), std::memory_order_relaxed);
    });
    return p;
  }();
  (void)first;
  return *g_pool.load(std::memory_order_acquire);
}

}  // namespace

int cpu_num_threads() noexcept {
  int n = pool().threads_.load(std::memory_order_relaxed);
  return n > 0 ? n : default_threads();
}

void set_cpu_num_threads(int n) noexcept {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.busy_);
  p.resize(std::max(n, 0));
}

uint64_t cpu_parallel_jobs() noexcept { return g_parallel_jobs.load(std::memory_order_relaxed); }

void set_cpu_adaptive_threads(bool on) noexcept {
  g_adaptive.store(on ? 1 : 0, std::memory_order_relaxed);
  g_oversubscribed.store(false, std::memory_order_relaxed);
  g_load_sampled_ns.store(INT64_MIN / 2, std::memory_order_relaxed);
}

}  // namespace tracejit::backends

extern "C" void tracejit_parallel_for(void (*body)(void*, int64_t, int64_t), void* ctx, int64_t n,
                                      int64_t grain, int64_t work) noexcept {
  using namespace tracejit::backends;
  if (n <= 0) return;
  grain = std::max<int64_t>(grain, 1);
  if (n <= grain) return body(ctx, 0, n);
  Pool& p = pool();
  std::unique_lock<std::mutex> lock(p.busy_, std::try_to_lock);
  if (!lock.owns_lock()) return body(ctx, 0, n);  // another kernel has the pool: run here
  int64_t threads = p.ensure_started();
  if (threads > 1 && work < kColdParallelMinWork && adaptive() && p.workers_asleep()) {
    // Too small to pay for waking a worker. When such jobs follow each other back to back (a
    // loop of kernels), wake the workers after this one: they spin for a while, and the next
    // job finds them awake.
    bool burst = p.cold_job_follows_another();
    lock.unlock();
    body(ctx, 0, n);
    if (p.busy_.try_lock()) {
      p.cold_job_done();
      if (burst) p.wake_idle();
      p.busy_.unlock();
    }
    return;
  }
  // Chunks: about kChunksPerThread per thread, a multiple of grain, fewer than 2^32.
  int64_t chunk = (n + threads * kChunksPerThread - 1) / (threads * kChunksPerThread);
  chunk = std::max(chunk, (n >> 31) + 1);
  chunk = (chunk + grain - 1) / grain * grain;
  int64_t chunks = (n + chunk - 1) / chunk;
  if (threads <= 1 || chunks <= 1 || oversubscribed(threads)) {
    lock.unlock();
    return body(ctx, 0, n);
  }
  g_parallel_jobs.fetch_add(1, std::memory_order_relaxed);
  p.run(body, ctx, n, chunk, static_cast<uint32_t>(chunks));
}
