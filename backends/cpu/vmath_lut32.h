// Internal to backends/cpu: float32 table lookups from registers for the native single-precision
// kernels (vmath_lut32.cpp). A lookup is a call the loop vectorizer widens into its vector
// variant (one vpermps / vpermi2ps per 16 lanes with AVX-512, a gather otherwise), inlined after
// the optimizer by inline_lut32_variants.
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace llvm {
class Module;
}

namespace tracejit::backends {

// data[n] floats, n = 16 or 32; idx: i32 scalar in [0, n); returns data[idx] as float. `name`
// identifies the table within the module (the same name must always mean the same data).
llvm::Value* lut32(vmath_detail::Math32& m, const char* name, const float* data, unsigned n, llvm::Value* idx);

// Run after the optimizer (from inline_vmath_variants): inlines the lookups (the scalar load and
// the vector variants the loop vectorizer called).
void inline_lut32_variants(llvm::Module& m);

}  // namespace tracejit::backends
