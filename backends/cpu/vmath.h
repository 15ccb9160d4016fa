// Internal: transcendental functions as straight-line LLVM IR, so loops around them vectorize.
#pragma once

#include "ir/graph.h"

namespace llvm {
class IRBuilderBase;
class Module;
class Value;
}  // namespace llvm

namespace tracejit::backends {

// True when emit_vmath has an inline lowering of `op` (exp, log, tanh, sin, cos, expm1, log1p,
// exp2, log2, log10, sinh, cosh, cbrt, tan, arcsin, arccos, arctan, arcsinh, arccosh, arctanh).
bool has_vmath(ir::Op op);

// Emits `op` applied to the float or double `x` as branch-free IR (no libm call), at most
// 1 ulp from the exact result (the table at the top of vmath.cpp has the measured errors).
llvm::Value* emit_vmath(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x);

// True for the binary ops emit_vmath2 lowers inline (arctan2, hypot).
bool has_vmath2(ir::Op op);

// arctan2(a0, a1) (a0 = y, a1 = x, as libm's atan2) or hypot(a0, a1) for float or double
// operands of one type, as branch-free IR with NumPy's special values; bounds in vmath.cpp.
llvm::Value* emit_vmath2(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* a0, llvm::Value* a1);

// x ** y (NumPy's float power: C99 pow special cases) for float or double x, y of one type, as
// branch-free IR; error bound in the table at the top of vmath.cpp.
llvm::Value* emit_vpow(llvm::IRBuilderBase& b, llvm::Value* x, llvm::Value* y);

// Run after the optimizer: the calls the loop vectorizer made to the vector variants of sin/cos/
// tan's out-of-line path become one range test per vector, the call behind an unlikely branch.
void inline_vmath_variants(llvm::Module& m);

}  // namespace tracejit::backends
