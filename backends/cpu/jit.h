// Internal: the process-wide ORC LLJIT, the optimization pipeline and per-kernel code ownership.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/object_cache.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace tracejit::backends {

struct LoadedCode;  // one kernel's code in the JIT (its ResourceTracker), shared by its kernels

// The kernel symbol one compile defines. Symbols are named after the object key, so a cached
// object defines the symbol looked up; one symbol is defined once per process:
//  - `shared`: a live kernel of the same key exists: reuse its code (no compile at all);
//  - `registered`: `symbol` is reserved for this compile (may use the object cache);
//  - neither: the name is being freed right now: `symbol` is a unique variant, not cached.
struct SymbolClaim {
  explicit SymbolClaim(const std::string& base);
  ~SymbolClaim();  // frees the reservation unless a kernel took it over
  SymbolClaim(const SymbolClaim&) = delete;
  SymbolClaim& operator=(const SymbolClaim&) = delete;

  std::string symbol;
  bool registered = false;
  std::shared_ptr<LoadedCode> shared;
};

// A kernel on the code of claim.shared.
std::unique_ptr<CompiledKernel> share_kernel(const SymbolClaim& claim, std::chrono::steady_clock::time_point start);

// What object code depends on besides the kernel: tracejit version and build, LLVM version,
// target triple, host CPU name and features, opt level.
std::string codegen_fingerprint(int opt_level);

// Adds a cached object file defining claim.symbol to the JIT under its own ResourceTracker.
Expected<std::unique_ptr<CompiledKernel>> jit_load_object(std::string_view object, SymbolClaim& claim,
                                                          std::chrono::steady_clock::time_point start);

// Optimizes `module` (opt_level 0..3, host CPU's TTI), optionally dumps <symbol>.ll/.s into
// `dump_dir`, adds it to the JIT under its own ResourceTracker and resolves claim.symbol. The
// kernel's compile_ms counts from `start`. With `cache`, the object code is stored under `key`.
Expected<std::unique_ptr<CompiledKernel>> jit_compile(std::unique_ptr<llvm::Module> module,
                                                      std::unique_ptr<llvm::LLVMContext> ctx,
                                                      SymbolClaim& claim, int opt_level,
                                                      const std::string& dump_dir,
                                                      std::chrono::steady_clock::time_point start,
                                                      const ObjectCacheDir* cache, const ObjectKey& key);

}  // namespace tracejit::backends
