// Internal: table-driven float64 exp/log family and pow (vmath64_fast.cpp), called by vmath.cpp.
#pragma once

#include "ir/graph.h"

namespace llvm {
class IRBuilderBase;
class Module;
class Value;
}  // namespace llvm

namespace tracejit::backends {

// `op` (exp, log, exp2, log2, log10, log1p) applied to the double `x` with NumPy's special
// values, or nullptr when `op` has no table-driven kernel here.
llvm::Value* emit_fast64(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x);

// |x|^y for doubles with |x| finite and nonzero and y finite (pow's special cases are the
// caller's): e^(y * log|x|), overflowing to inf and underflowing through the denormals to +0.
llvm::Value* emit_fast_pow_core64(llvm::IRBuilderBase& b, llvm::Value* ax, llvm::Value* y);

// Run before the optimizer: innermost loops that call these kernels get an interleave count
// (llvm.loop.interleave.count), so the vectorized loop keeps several vectors in flight.
void hint_fast64_loops(llvm::Module& m);

// Run after the optimizer (from inline_vmath_variants): inlines the table lookups (scalar loads
// and the vector variants the loop vectorizer called).
void inline_fast64_variants(llvm::Module& m);

}  // namespace tracejit::backends
