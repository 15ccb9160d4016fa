// Internal: the shorter float64 kernels of vmath64_more.cpp (sinh, cosh, log, log2, log10,
// log1p), called by vmath.cpp before vmath64_fast.cpp's.
#pragma once

#include "backends/cpu/vmath_internal.h"
#include "ir/graph.h"

namespace tracejit::backends {

// `op` applied to the double `x` with NumPy's special values, or nullptr when `op` has no
// kernel here.
llvm::Value* emit_more64(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x);

// tan(n pi/2 + y) for a reduced argument y = hi + lo (|y| <= pi/4 + a hair, lo below half an
// ulp of hi, n the quadrant count): the caller handles tiny, infinite and NaN x.
llvm::Value* tan_kernel64(vmath_detail::Math& m, vmath_detail::DD y, llvm::Value* n);

// log x as an unrounded pair hi + lo (relative error ~2^-62) for finite x > 0, denormals
// included (vmath_inv.cpp's arcsinh, arccosh, arctanh); other lanes give garbage.
vmath_detail::DD log_pair64(vmath_detail::Math& m, llvm::Value* x);

}  // namespace tracejit::backends
