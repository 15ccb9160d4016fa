// Internal to backends/cpu: native float32 tanh, expm1, sinh, cosh (vmath32_hyp.cpp), called by
// vmath.cpp's emit_vmath for float arguments. Scalar float x (the loop vectorizer widens; the
// table lookups become register permutes, see vmath_lut32.h).
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace tracejit::backends::vmath_detail {

// tanh x with NumPy's special values; within 0.70 ulp of the exact result (every float32).
Value* tanh32_hyp(Math32& m, Value* x);

// e^x - 1 with NumPy's special values; within 0.513 ulp of the exact result (every float32).
Value* expm1_32_hyp(Math32& m, Value* x);

// sinh x or cosh x with NumPy's special values; within 0.546 / 0.529 ulp of the exact result
// (every float32).
Value* sinhcosh32_hyp(Math32& m, Value* x, bool is_cosh);

}  // namespace tracejit::backends::vmath_detail
