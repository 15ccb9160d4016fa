// Internal to backends/cpu: float32 table lookups from registers for the native float kernels.
// A lookup is a call the loop vectorizer widens through its vector-function-abi-variant
// mappings; the variants (VF 4, 8, 16, 32) read a 16- or 32-float table held in registers with
// one vpermps / vpermi2ps per 16 lanes on AVX-512 (a masked gather without it), and
// inline_lut32_variants inlines them (and the scalar lookups, a load) after the optimizer.
#pragma once

#include "backends/cpu/vmath_internal.h"

namespace llvm {
class Module;
}

namespace tracejit::backends {

// data[n] floats, n = 16 or 32; idx: i32 scalar in [0, n); returns data[idx] as float.
// `name` names the table in the module (one table per name; the same name must always come
// with the same data). Integer tables: bitcast the result.
llvm::Value* lut32(vmath_detail::Math32& m, const char* name, const float* data, unsigned n, llvm::Value* idx);

// Run after the optimizer (from inline_vmath_variants).
void inline_lut32_variants(llvm::Module& m);

}  // namespace tracejit::backends
