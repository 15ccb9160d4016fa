// CPU backend: compiles an elementwise IR graph into one fused native kernel with LLVM ORC.
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
// by the caller with the result's type. sym_dims: runtime sizes of symbolic dims (unused today).
using KernelFn = void (*)(void* const* inputs, const int64_t* const* input_strides,
                          void* const* outputs, const int64_t* sym_dims);

// Owns the JIT'd code; destroying it frees the code (its ORC ResourceTracker is removed).
class CompiledKernel {
 public:
  virtual ~CompiledKernel();
  CompiledKernel(const CompiledKernel&) = delete;
  CompiledKernel& operator=(const CompiledKernel&) = delete;

  [[nodiscard]] KernelFn fn() const { return fn_; }
  [[nodiscard]] double compile_ms() const { return compile_ms_; }  // lowering + O3 + codegen
  [[nodiscard]] const std::string& symbol() const { return symbol_; }

  struct Impl;  // the ORC resource tracker; only cpu_backend.cpp can make one
  CompiledKernel(std::unique_ptr<Impl> impl, KernelFn fn, double compile_ms, std::string symbol);

 private:

  std::unique_ptr<Impl> impl_;
  KernelFn fn_ = nullptr;
  double compile_ms_ = 0.0;
  std::string symbol_;
};

struct CpuCompileOptions {
  int opt_level = 3;     // 0..3
  std::string dump_dir;  // from TRACEJIT_DUMP_DIR if empty; writes <symbol>.ll and <symbol>.s
  // Estimated work (~bytes moved, see backends/cpu/lower.h) from which a loop nest runs on the
  // thread pool. -1: TRACEJIT_PARALLEL_MIN_WORK if set, else the default; 0: never.
  int64_t parallel_min_work = -1;
};

// Kernel threads (caller included): TRACEJIT_NUM_THREADS, else the CPUs this process may use.
[[nodiscard]] int cpu_num_threads() noexcept;
// Resizes the kernel thread pool; n <= 0 returns to the default (re-reading the environment).
void set_cpu_num_threads(int n) noexcept;

Expected<std::unique_ptr<CompiledKernel>> compile_cpu(const ir::Graph& g,
                                                      const CpuCompileOptions& opts = {});

}  // namespace tracejit::backends
