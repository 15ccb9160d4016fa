// CPU backend: compiles an IR graph into one fused native kernel with LLVM ORC, reusing object
// code from the persistent cache (backends/cpu/object_cache.h) when it has it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "ir/status.h"

namespace tracejit::backends {

// Kernel ABI. inputs[i]: data pointer of graph param i (ParamLayout::Scalar: pointer to one
// element of the param's dtype). input_strides[i]: byte strides of param i (rank entries; only
// read for ParamLayout::Strided). outputs[k]: C-contiguous buffer for graph result k, allocated
// by the caller with the result's type. sym_dims[k]: runtime size of symbol s<k> (>= 2; every
// dimension "s<k>" of params and results has it). Symbolic dims are supported by elementwise
// and scheduled graphs alike (programs with loop regions: see program.h).
using KernelFn = void (*)(void* const* inputs, const int64_t* const* input_strides,
                          void* const* outputs, const int64_t* sym_dims);

// Owns the JIT'd code; destroying it frees the code (its ORC ResourceTracker is removed).
// A graph with loop regions compiles to a program (backends/cpu/program.h): several kernels run
// in order behind the same interface, with fn() null; callers run any kernel through run().
class CompiledKernel {
 public:
  virtual ~CompiledKernel();
  CompiledKernel(const CompiledKernel&) = delete;
  CompiledKernel& operator=(const CompiledKernel&) = delete;

  // Runs the kernel with the KernelFn ABI above (the same inputs/outputs contract for a
  // program). Thread-safe: several threads may run one kernel at once.
  virtual void run(void* const* inputs, const int64_t* const* input_strides, void* const* outputs,
                   const int64_t* sym_dims) const {
    fn_(inputs, input_strides, outputs, sym_dims);
  }
  // The single kernel's entry point; null for a program (use run()).
  [[nodiscard]] KernelFn fn() const { return fn_; }
  // lowering + O3 + codegen, or cache lookup + object load (a program: the sum over its kernels)
  [[nodiscard]] double compile_ms() const { return compile_ms_; }
  [[nodiscard]] const std::string& symbol() const { return symbol_; }
  // True when no code was generated: the object came from the persistent cache, or the code of
  // a live kernel of the same graph was reused (a program: every one of its kernels).
  [[nodiscard]] bool from_cache() const { return from_cache_; }

  struct Impl;  // the shared ORC code; only jit.cpp can make one
  CompiledKernel(std::unique_ptr<Impl> impl, KernelFn fn, double compile_ms, std::string symbol,
                 bool from_cache = false);

 protected:
  // A kernel that owns no code itself (a program: its parts own theirs); fn() is null.
  CompiledKernel(double compile_ms, std::string symbol, bool from_cache);

 private:
  std::unique_ptr<Impl> impl_;
  KernelFn fn_ = nullptr;
  double compile_ms_ = 0.0;
  std::string symbol_;
  bool from_cache_ = false;
};

struct CpuCompileOptions {
  int opt_level = 3;     // 0..3
  std::string dump_dir;  // from TRACEJIT_DUMP_DIR if empty; writes <symbol>.ll and <symbol>.s
  // Estimated work (~bytes moved, see backends/cpu/lower.h) from which a loop nest runs on the
  // thread pool. -1: TRACEJIT_PARALLEL_MIN_WORK if set, else the default; 0: never.
  int64_t parallel_min_work = -1;
  // Last-level cache size the non-temporal store decision assumes (stream_output in
  // backends/cpu/lower.h). <= 0: this host's (TRACEJIT_LLC_BYTES, else sysfs, else 32 MiB).
  int64_t llc_bytes = -1;
  // Persistent object cache directory: "default": default_object_cache_dir() (TRACEJIT_CACHE_DIR,
  // XDG, ~/.cache); "": no cache. Ignored while dumping (dumps need a compile).
  std::string cache_dir = "default";
  int64_t cache_max_bytes = -1;  // -1: TRACEJIT_CACHE_MAX_BYTES, else 256 MiB
  // Programs run scalar loop nests as one native function when they can
  // (backends/cpu/scalar_loop.h); false (or TRACEJIT_NATIVE_LOOPS=0): always kernel per iteration.
  bool native_loops = true;
};

// Kernel threads (caller included): TRACEJIT_NUM_THREADS, else the CPUs this process may use.
[[nodiscard]] int cpu_num_threads() noexcept;
// Resizes the kernel thread pool; n <= 0 returns to the default (re-reading the environment).
void set_cpu_num_threads(int n) noexcept;

// A graph without regions compiles to one kernel; a graph with loop regions to a program of
// kernels (see backends/cpu/program.h), or an error for what programs do not support (symbolic
// dims).
Expected<std::unique_ptr<CompiledKernel>> compile_cpu(const ir::Graph& g,
                                                      const CpuCompileOptions& opts = {});

}  // namespace tracejit::backends
