// compile_cpu: a graph with loop regions becomes a program (program.cpp); compile_kernel keys
// and names one kernel, reuses live or cached code, else lowers the graph and hands the module
// to the JIT, timing it all.
#include "backends/cpu/cpu_backend.h"

#include "backends/cpu/schedule.h"

#include <llvm/IR/LLVMContext.h>
#include <llvm/IR/Module.h>

#include <cctype>
#include <chrono>
#include <cstdlib>
#include <optional>

#include "backends/cpu/jit.h"
#include "backends/cpu/lower.h"
#include "backends/cpu/object_cache.h"
#include "backends/cpu/program.h"
#include "backends/cpu/scalar_loop.h"
#include "ir/printer.h"

namespace tracejit::backends {
namespace {

// The symbol of a kernel, the same in every process, readable in dumps: tj_<key>_<graph name>.
std::string kernel_symbol(const ObjectKey& key, const std::string& graph_name) {
  std::string s = "tj_" + to_hex(key).substr(0, 16);
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
  if (g.has_regions()) return compile_program(g, opts);
  return compile_kernel(g, opts);
}

Expected<std::unique_ptr<CompiledKernel>> compile_kernel(const ir::Graph& g, const CpuCompileOptions& opts) {
  // The one graph with a region that is a single kernel: a loop graph run as a native nest.
  bool native = g.has_regions();
  if (native)
    if (std::string why = scalar_loop_rejection(g); !why.empty())
      return Status::error("cpu backend: a single kernel cannot hold loop regions (not a native scalar loop: " +
                           why + ")");
  auto start = std::chrono::steady_clock::now();
  bool scheduled = !native && needs_schedule(g);
  std::string dump_dir = opts.dump_dir;
  if (dump_dir.empty())
    if (const char* env = std::getenv("TRACEJIT_DUMP_DIR")) dump_dir = env;
  LowerOptions lower_opts;
  lower_opts.parallel_min_work = parallel_min_work(opts.parallel_min_work);
  if (opts.llc_bytes > 0) lower_opts.llc_bytes = opts.llc_bytes;

  // Everything the object code depends on. The printed graph holds shapes, dtypes, layouts and
  // source locations; the lowering options and the code generator do the rest.
  std::string key_text = codegen_fingerprint(opts.opt_level) +
                         "parallel_min_work " + std::to_string(lower_opts.parallel_min_work) +
                         "\nllc_bytes " + std::to_string(lower_opts.llc_bytes) +
                         "\ngraph " + g.name + "\n" + ir::print(g);
  ObjectKey key = object_key(key_text);
  SymbolClaim claim(kernel_symbol(key, g.name));
  if (claim.shared) return share_kernel(claim, start);  // the same kernel is live in this process
  std::optional<ObjectCacheDir> cache;
  std::string cache_dir = opts.cache_dir == "default" ? default_object_cache_dir() : opts.cache_dir;
  if (claim.registered && dump_dir.empty() && !cache_dir.empty())
    cache.emplace(cache_dir, opts.cache_max_bytes > 0 ? opts.cache_max_bytes : default_object_cache_max_bytes());
  if (cache)
    if (std::optional<std::string> object = cache->load(key))
      if (auto k = jit_load_object(*object, claim, start)) return k;  // else: compile it

  auto ctx = std::make_unique<llvm::LLVMContext>();
  auto module = native      ? lower_scalar_loop(g, *ctx, claim.symbol)
                : scheduled ? lower_scheduled(g, *ctx, claim.symbol, lower_opts)
                            : lower_graph(g, *ctx, claim.symbol, lower_opts);
  if (!module) return module.status();
  return jit_compile(std::move(*module), std::move(ctx), claim, opts.opt_level, dump_dir, start,
                     cache ? &*cache : nullptr, key);
}

}  // namespace tracejit::backends
