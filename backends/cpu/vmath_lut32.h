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

// The same lookup with the index's low log2(n) bits selecting the entry (the bits above are
// ignored): the permutes do that by themselves, so a caller saves the masking `and` per vector
// (the scalar and gather paths mask). Its own table name space ("lowbits." + name).
llvm::Value* lut32_low_bits(vmath_detail::Math32& m, const char* name, const float* data, unsigned n, llvm::Value* idx);

// AVX-512's vgetexpps and vgetmantps (interval [3/4, 3/2), sign cleared) as calls the loop
// vectorizer widens like the lookups (one instruction per 16 lanes; the scalar function and the
// variants without AVX-512 compute the same bits with integer operations). For float x:
// getexp32 = floor(log2 |x|) (denormals normalized), -inf for +-0, +inf for +-inf, NaN for NaN;
// getmant32_p75 = |x| 2^-k in [3/4, 3/2) with k = getexp32(x) or one more, 1 for +-0 and +-inf,
// NaN for NaN. Neither raises a flag for a quiet input (a signalling NaN: invalid).
llvm::Value* getexp32(vmath_detail::Math32& m, llvm::Value* x);
llvm::Value* getmant32_p75(vmath_detail::Math32& m, llvm::Value* x);

// Run after the optimizer (from inline_vmath_variants).
void inline_lut32_variants(llvm::Module& m);

}  // namespace tracejit::backends
