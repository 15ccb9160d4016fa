// Internal to backends/cpu: the float32 kernels of vmath32_fast.cpp added after vmath_internal.h's
// (declared here so that header stays shared code). Scalar float x (the loop vectorizer widens).
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace tracejit::backends::vmath_detail {

// sin or cos of the float argument widened to double (xd), as a double to round once; lanes
// with |x| >= 2^28 are left to the caller's out-of-line path (vmath.cpp's with_huge_lanes).
Value* sincos32_fast(llvm::IRBuilderBase& b, Value* xd, bool is_cos);

}  // namespace tracejit::backends::vmath_detail
