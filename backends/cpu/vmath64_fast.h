// Internal: table-driven float64 exp family and pow (vmath64_fast.cpp), called by vmath.cpp.
#pragma once

#include "backends/cpu/vmath_internal.h"
#include "ir/graph.h"

#include <cstdint>

namespace llvm {
class IRBuilderBase;
class Module;
class Value;
}  // namespace llvm

namespace tracejit::backends {

// `op` (exp, exp2, expm1, tanh) applied to the double `x` with NumPy's special values, or
// nullptr when `op` has no table-driven kernel here (sinh, cosh and the log family:
// vmath64_more.h).
llvm::Value* emit_fast64(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x);

// |x|^y for doubles with |x| finite and nonzero and y finite (pow's special cases are the
// caller's): e^(y * log|x|), overflowing to inf and underflowing through the denormals to +0.
llvm::Value* emit_fast_pow_core64(llvm::IRBuilderBase& b, llvm::Value* ax, llvm::Value* y);

// Run before the optimizer: innermost loops that call these kernels (or float64 tan's
// out-of-line huge-argument path) get an interleave count (llvm.loop.interleave.count), so the
// vectorized loop keeps several vectors in flight.
void hint_fast64_loops(llvm::Module& m);

// Run after the optimizer (from inline_vmath_variants): inlines the table lookups (scalar loads
// and the vector variants the loop vectorizer called).
void inline_fast64_variants(llvm::Module& m);

// For vmath64_more.cpp (the shorter float64 kernels built on the same tables): the 32-entry
// tables (exp: 2^(j/32) tails and bit patterns less j<<47; log: 1/c, log c rounded to a
// multiple of 2^-42 and its tail) and constants, and the register-resident lookup.
namespace fast64 {
struct TableView {
  const double *exp_tail, *exp_sbits, *invc, *logc, *logctail;
  const double *invc16, *logc16, *logctail16;  // the log tables for 16 subintervals (top 4 bits)
  uint64_t log_off;  // the log reduction's offset: z in [0x1.6955p-1, 0x1.6955p0)
  double ln2hi, ln2lo, ln2hi_n, ln2lo_n, inv_ln2_n;
  const double *inv_ln2, *inv_ln10;  // double-doubles
};
const TableView& table_view();
// Element `idx` of the constant table `name` (n doubles, n = 8, 16 or 32; is_int: the entries
// are i64 bit patterns, returned as i64); idx in [0, 32) for n = 32, any i64 (taken modulo n,
// the permutes' own masking) for n = 8 and 16.
llvm::Value* lut(vmath_detail::Math& m, const char* name, const double* data, bool is_int, llvm::Value* idx,
                 unsigned n = 32);
}  // namespace fast64

}  // namespace tracejit::backends
