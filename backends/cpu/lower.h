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

// The last-level cache of this host in bytes: TRACEJIT_LLC_BYTES if set, else the largest data
// cache sysfs reports for cpu0, else 32 MiB. Read once.
[[nodiscard]] int64_t host_llc_bytes() noexcept;

// Whether a nest that writes `out_bytes` of results and moves `moved_bytes` in all (inputs read
// once, outputs written once) stores its results non-temporally: from half the last-level
// cache of results, or 5/8 of it moved. Such stores skip the
// read-for-ownership of each output line, but leave the result in memory rather than in cache,
// where the next kernel would read it. They pay off only when the result could not stay cached
// anyway. Measured on a 32 MiB L3 (2-core EPYC VM, each kernel round-robin with NumPy's call):
// x + 1 over 1M float32 took 143-178 us streamed and 77 cached, over 2M 310 and 190; over 4M
// float32, a*b + c*d - a, tanh(a*b + c)*0.5 + d and a row softmax were 6%, 37% and 76% faster
// streamed, over 2M 1%, 8% and 17%, and the chains over 1M (20 MiB moved) 8-14% (so they
// stream under this rule; x + 1 over 2M and the 2M softmax, 16 MiB moved, do not). The
// measurements time the kernel alone: a consumer reading a cached result saves more.
[[nodiscard]] constexpr int64_t stream_min_out_bytes(int64_t llc_bytes) { return llc_bytes / 2; }
[[nodiscard]] constexpr int64_t stream_min_moved_bytes(int64_t llc_bytes) { return llc_bytes / 2 + llc_bytes / 8; }
[[nodiscard]] inline bool stream_output(int64_t out_bytes, int64_t moved_bytes, int64_t llc_bytes) {
  return out_bytes >= stream_min_out_bytes(llc_bytes) || moved_bytes >= stream_min_moved_bytes(llc_bytes);
}

struct LowerOptions {
  int64_t parallel_min_work = kDefaultParallelMinWork;  // <= 0: never parallel
  int64_t llc_bytes = host_llc_bytes();                 // for stream_output
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
