// compile_cpu: names the kernel, lowers the graph and hands the module to the JIT, timing both.
#include "backends/cpu/cpu_backend.h"

#include "backends/cpu/schedule.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdlib>

#include "backends/cpu/jit.h"
#include "backends/cpu/lower.h"

namespace tracejit::backends {
namespace {

// A symbol unique in this process, readable in dumps: tj_<n>_<graph name>.
std::string kernel_symbol(const std::string& graph_name) {
  static std::atomic<uint64_t> counter{0};
  std::string s = "tj_" + std::to_string(counter.fetch_add(1));
  if (!graph_name.empty()) s += "_";
  for (char c : graph_name.substr(0, 48))
    s += (std::isalnum(static_cast<unsigned char>(c)) || c == '_') ? c : '_';
  return s;
}

int64_t parallel_min_work(int64_t requested) {
  if (requested >= 0) return requested;
  if (const char* env = std::getenv("TRACEJIT_PARALLEL_MIN_WORK")) {
    char* end = nullptr;
    long long v = std::strtoll(env, &end, 10);
    if (end != env && *end == '\0' && v >= 0) return v;
  }
  return kDefaultParallelMinWork;
}

}  // namespace

Expected<std::unique_ptr<CompiledKernel>> compile_cpu(const ir::Graph& g, const CpuCompileOptions& opts) {
  auto start = std::chrono::steady_clock::now();
  std::string dump_dir = opts.dump_dir;
  if (dump_dir.empty())
    if (const char* env = std::getenv("TRACEJIT_DUMP_DIR")) dump_dir = env;
  std::string symbol = kernel_symbol(g.name);
  auto ctx = std::make_unique<llvm::LLVMContext>();
  LowerOptions lower_opts;
  lower_opts.parallel_min_work = parallel_min_work(opts.parallel_min_work);
  auto module = needs_schedule(g) ? lower_scheduled(g, *ctx, symbol, lower_opts)
                                  : lower_graph(g, *ctx, symbol, lower_opts);
  if (!module) return module.status();
  return jit_compile(std::move(*module), std::move(ctx), symbol, opts.opt_level, dump_dir, start);
}

}  // namespace tracejit::backends
