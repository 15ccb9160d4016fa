// Internal to backends/cpu: float32 pow (vmath32_pow.cpp; its header comment has the algorithm,
// the error bound and the speed).
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace llvm {
class Module;
}

namespace tracejit::backends::vmath_detail {

// x ** y for float x, y (scalars; the loop vectorizer widens), C99/NumPy's special cases: a short
// double log2/exp2 core for x a positive normal float and y finite, every other lane (x <= 0,
// denormal, inf or NaN; y inf or NaN) through an out-of-line path that only vectors holding
// such a lane run.
Value* pow32v(Math32& m, Value* x, Value* y);

// After the optimizer: each call of pow32v's out-of-line path (vector variant or scalar) becomes
// one test of its operands, the call behind an unlikely branch; unused variants are deleted.
void inline_pow32_variants(llvm::Module& m);

}  // namespace tracejit::backends::vmath_detail
