// Internal: lowers an elementwise graph to an LLVM module holding one kernel with the KernelFn ABI.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "ir/status.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace tracejit::backends {

// Work estimate (about one unit per byte moved; transcendental ops weigh more) from which a
// loop nest is split across the thread pool. Below it, a nest runs on the calling thread with no
// pool call at all. See lower.cpp for how it was measured.
inline constexpr int64_t kDefaultParallelMinWork = int64_t{2} << 20;

// Function attribute on lowered functions whose 64-byte-aligned vector stores should be made
// non-temporal after optimization (see jit.cpp); the loop vectorizer refuses !nontemporal stores
// it cannot prove aligned, so lowering only asserts the alignment.
inline constexpr const char* kNonTemporalAttr = "tracejit-nontemporal";

struct LowerOptions {
  int64_t parallel_min_work = kDefaultParallelMinWork;  // <= 0: never parallel
};

// One fused loop nest per distinct result shape; intermediates stay in registers. Each nest is an
// internal function `body(ctx, begin, end)` over its outermost (coalesced) loop, whose output
// pointers are `noalias` (outputs are fresh allocations; inputs are only read). The kernel is the
// external function `symbol`: per nest it calls the body over the whole range, or, when the
// nest's work is at least `opts.parallel_min_work`, hands it to `tracejit_parallel_for`.
Expected<std::unique_ptr<llvm::Module>> lower_graph(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                    const std::string& symbol,
                                                    const LowerOptions& opts = {});

}  // namespace tracejit::backends
