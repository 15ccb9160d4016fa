// Internal: the process-wide ORC LLJIT, the optimization pipeline and per-kernel code ownership.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "backends/cpu/cpu_backend.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace tracejit::backends {

// Optimizes `module` (opt_level 0..3, host CPU's TTI), optionally dumps <symbol>.ll/.s into
// `dump_dir`, adds it to the JIT under its own ResourceTracker and resolves `symbol`. The
// kernel's compile_ms counts from `start`.
Expected<std::unique_ptr<CompiledKernel>> jit_compile(std::unique_ptr<llvm::Module> module,
                                                      std::unique_ptr<llvm::LLVMContext> ctx,
                                                      const std::string& symbol, int opt_level,
                                                      const std::string& dump_dir,
                                                      std::chrono::steady_clock::time_point start);

}  // namespace tracejit::backends
