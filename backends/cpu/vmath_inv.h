// Internal to backends/cpu: the inverse hyperbolic kernels of vmath_inv.cpp (float32 and
// float64 arcsinh, arccosh, arctanh on the table-driven log cores of vmath32_log.cpp and
// vmath64_more.cpp), called by vmath.cpp's dispatch. Scalar x (the loop vectorizer widens them);
// NumPy's special values; max errors in vmath_inv.cpp's header and vmath.cpp's table.
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace tracejit::backends::vmath_detail {

Value* asin_inv32(Math32& m, Value* x);
Value* acos_inv32(Math32& m, Value* x);
Value* asinh_inv32(Math32& m, Value* x);
Value* acosh_inv32(Math32& m, Value* x);
Value* atanh_inv32(Math32& m, Value* x);

Value* atan_inv64(Math& m, Value* x);
Value* atan2_inv64(Math& m, Value* y, Value* x);
Value* asinh_inv64(Math& m, Value* x);
Value* acosh_inv64(Math& m, Value* x);
Value* atanh_inv64(Math& m, Value* x);

}  // namespace tracejit::backends::vmath_detail
