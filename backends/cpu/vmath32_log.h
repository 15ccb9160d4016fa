// Internal to backends/cpu: the table-driven float32 log, log2, log10 and log1p of
// vmath32_log.cpp (scalar float x; the loop vectorizer widens them, the table lookups through
// vmath_lut32.h). NumPy's special values; max errors in vmath32_log.cpp's header.
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace tracejit::backends::vmath_detail {

Value* log_tab32(Math32& m, Value* x);
Value* log2_tab32(Math32& m, Value* x);
Value* log10_tab32(Math32& m, Value* x);
Value* log1p_tab32(Math32& m, Value* x);

// log(vh + vl) as an unrounded pair hi + lo (vmath_inv.cpp's arcsinh, arccosh, arctanh): the
// natural log core above for a finite normal vh > 0 (vh < 2^126) and |vl| below vh's ulp, whose
// vl/vh joins lo at first order; the other lanes give garbage (finite, no flags).
DD log_pair_tab32(Math32& m, Value* vh, Value* vl);

}  // namespace tracejit::backends::vmath_detail
