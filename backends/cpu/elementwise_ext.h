// Internal: lowering of the rounding, classification, fmax/fmin and transcendental elementwise
// ops (floor ... atanh, sign, isnan/isinf/isfinite, fmax/fmin, atan2, hypot).
#pragma once

#include <functional>
#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

namespace llvm {
class IRBuilderBase;
class Value;
}  // namespace llvm

namespace tracejit::backends {

// True for the ops emit_ext_op lowers (emit_scalar_op lowers the rest).
bool is_ext_op(ir::Op op);

// Emits `n` (an op with is_ext_op) on register values, NumPy semantics:
//  - floor/ceil/trunc/rint: LLVM intrinsics (rint is roundeven: half to even), vectorizable.
//  - sign: floats x > 0 ? 1 : x < 0 ? -1 : x == 0 ? +0 : NaN (np.sign(-0.0) is +0.0);
//    signed ints -1/0/1, unsigned and bool 0/1.
//  - isnan/isinf/isfinite: float compares, bool result.
//  - fmax/fmin: NaN-ignoring; when the operands compare equal (+0/-0) the SECOND operand wins,
//    as NumPy's SIMD loops do (NumPy's scalar tail calls libm fmax and returns the first).
//  - the rest (expm1 ... atanh, atan2, hypot): inline vector code from vmath.cpp (emit_vmath,
//    emit_vmath2); a call to libm's float or double function only for an op without one (none
//    today).
Expected<llvm::Value*> emit_ext_op(llvm::IRBuilderBase& b, const ir::Node& n,
                                   const std::vector<ir::DType>& arg_dtypes,
                                   const std::vector<llvm::Value*>& args);

// The libm functions emit_ext_op may call, with their addresses in this process (jit.cpp binds
// them as absolute symbols).
void for_each_ext_libm_symbol(const std::function<void(const char* name, void* addr)>& fn);

}  // namespace tracejit::backends
