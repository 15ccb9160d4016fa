// Internal: scheduling and lowering of graphs with structural ops (reductions, argmax/argmin,
// matmul, views, concat, iota) into loop nests. Purely elementwise graphs keep lower_graph.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "backends/cpu/lower.h"
#include "ir/graph.h"
#include "ir/status.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace tracejit::backends {

// True when `g` has an op that lower_graph does not handle (anything but param, const and
// elementwise ops): compile_cpu then uses lower_scheduled.
bool needs_schedule(const ir::Graph& g);

// Schedule (see schedule.cpp for the rules):
//  - buffered values: params, reductions, argmax/argmin, matmul, concat, matmul operands that
//    BLAS cannot read in place, and results (written straight into the caller's output). Every
//    other value (elementwise ops, views, iota, consts) is computed inline, at the index its
//    consumer asks for, inside the consumer's loop nest; views are index remaps.
//  - one nest per buffered value (concat: one per operand), in graph order. Consecutive nests
//    whose outer loop is axis 0 with the same extent, and which read each other's buffers only at
//    the same axis-0 index, share one outer loop (row fusion: softmax/layernorm run row by row
//    in cache); such a loop may be split over the thread pool.
//  - scratch buffers come from one aligned_alloc in the kernel, freed before it returns.
Expected<std::unique_ptr<llvm::Module>> lower_scheduled(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                        const std::string& symbol,
                                                        const LowerOptions& opts = {});

// Host functions the scheduled kernels call (aligned_alloc, free, cblas_sgemm/dgemm and the
// libm functions of elementwise_ext.h), with their addresses: jit.cpp binds them.
void for_each_schedule_host_symbol(const std::function<void(const char* name, void* addr)>& fn);

}  // namespace tracejit::backends
