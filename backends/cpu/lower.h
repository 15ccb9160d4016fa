// Internal: lowers an elementwise graph to an LLVM module holding one kernel with the KernelFn ABI.
#pragma once

#include <memory>
#include <string>

#include "ir/graph.h"
#include "ir/status.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace tracejit::backends {

// One fused loop nest per distinct result shape; intermediates stay in registers. The kernel is
// the external function `symbol`; its body lives in an always-inline helper whose output
// pointers are `noalias` (outputs are fresh allocations; inputs are only read).
Expected<std::unique_ptr<llvm::Module>> lower_graph(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                    const std::string& symbol);

}  // namespace tracejit::backends
