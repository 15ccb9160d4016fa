// Internal to backends/cpu: the float32 kernels of vmath32_fast.cpp added after vmath_internal.h's
// (declared here so that header stays shared code). Scalar float x (the loop vectorizer widens).
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace tracejit::backends::vmath_detail {

// x ** y for float x, y with C99/NumPy's special cases (as vmath.cpp's pow_with_specials);
// within 0.501 ulp of the exact result (the table in vmath.cpp).
Value* pow32_fast(Math32& m, Value* x, Value* y);

// sin or cos of the float argument widened to double (xd), as a double to round once; lanes
// with |x| >= 2^28 are left to the caller's out-of-line path (vmath.cpp's with_huge_lanes).
Value* sincos32_fast(llvm::IRBuilderBase& b, Value* xd, bool is_cos);

}  // namespace tracejit::backends::vmath_detail
