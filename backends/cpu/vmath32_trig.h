// Internal to backends/cpu: native single-precision sin, cos, tan (vmath32_trig.cpp; its header
// comment has the algorithm, the error bounds and the speed).
#pragma once

#include "backends/cpu/vmath_internal.h"
#include "ir/graph.h"

namespace llvm {
class Module;
}

namespace tracejit::backends::vmath_detail {

// Lanes with |x| at or above this bound (and finite) leave the native float reduction.
inline constexpr float kTrig32Bound = 0x1p20f;

// The code for one float lane with |x| >= kTrig32Bound, emitted into an out-of-line function:
// vmath.cpp's widened-double sin/cos/tan (so those results stay what they were).
using Trig32Slow = Value* (*)(llvm::IRBuilderBase& b, ir::Op op, Value* x);

// sin, cos or tan (op) of the float x, within 1 ulp, NumPy's special values; lanes with
// kTrig32Bound <= |x| < inf take slow(x) through an out-of-line call whose vector variants run
// only when a vector holds such a lane.
Value* trig32v(Math32& m, ir::Op op, Value* x, Trig32Slow slow);

// After the optimizer: each call the loop vectorizer made to a vector variant of trig32v's
// out-of-line path becomes one range test per vector, the call behind an unlikely branch.
void inline_trig32_variants(llvm::Module& m);

}  // namespace tracejit::backends::vmath_detail
