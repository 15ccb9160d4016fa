// Internal: the shorter float64 kernels of vmath64_more.cpp (sinh, cosh, log, log2, log10,
// log1p), called by vmath.cpp before vmath64_fast.cpp's.
#pragma once

#include "ir/graph.h"

namespace llvm {
class IRBuilderBase;
class Value;
}  // namespace llvm

namespace tracejit::backends {

// `op` applied to the double `x` with NumPy's special values, or nullptr when `op` has no
// kernel here.
llvm::Value* emit_more64(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x);

}  // namespace tracejit::backends
