// Native single-precision exp2, and on double lanes the wide-argument sin/cos, as
// straight-line LLVM IR the loop vectorizer widens. vmath.cpp's emit_vmath dispatches float
// arguments here; its header comment has the accuracy and speed tables. (The float sinh, cosh,
// expm1 kernels are vmath32_hyp.cpp's, log, log2, log10, log1p vmath32_log.cpp's, sin, cos, tan
// below |x| = 2^20 vmath32_trig.cpp's.)
//
// exp2 x = 2^k 2^f (k = rint x, f = x - k exact, 2^f = 1 + f ln2 + f^2 Q(f) with f ln2 as an exact
// product), rounded once; NaN in gives NaN, it underflows through the denormals (2^-150 rounds to
// +0) and overflows to inf at the float threshold.
//
// On double lanes (float widened, rounded once at the end): sincos32_fast (vmath.cpp's
// trig32 reduction with one polynomial per lane, coefficients selected by the quadrant; now the
// path of lanes with |x| >= 2^20). Speed, 4M float32, one thread, loaded 2-core Zen 4, process
// CPU time (min of 40; NumPy's SVML in brackets): sin 4.0-4.3 -> 3.7 (2.1), cos 4.1 -> 3.8 (2.1).
// (float pow: vmath32_pow.cpp.)
#include "backends/cpu/vmath32_fast.h"
#include "backends/cpu/vmath_internal.h"

#include <cmath>

namespace tracejit::backends::vmath_detail {
Value* exp2_32(Math32& m, Value* x) {
  auto& b = m.b();
  // NaN -> 0 first (fixed at the end): the clamps' ordered compares signal on NaN (x86).
  Value* xc = m.sel(m.is_nan(x), m.c(0.0f), x);
  xc = m.sel(b.CreateFCmpOGT(xc, m.c(129.0f)), m.c(129.0f), xc);
  xc = m.sel(b.CreateFCmpOLT(xc, m.c(-151.0f)), m.c(-151.0f), xc);
  Value* kf = m.rint(xc);
  Value* f = m.sub(xc, kf);  // exact, |f| <= 1/2
  // 2^f - 1 = f ln2 + f^2 Q(f): Q a minimax fit (relative error of 2^f below 2^-30.7).
  DD p = m.two_prod(f, m.c(0x1.62e43p-1f));
  Value* q = m.poly(f, {0x1.ebfbe0p-3f, 0x1.c6b08ep-5f, 0x1.3b2a52p-7f, 0x1.5d879ep-10f, 0x1.441398p-13f,
                        0x1.00a586p-16f});
  Value* lo = m.fma(f, m.c(-0x1.05c61p-29f), p.lo);
  DD h = m.fast_two_sum(m.c(1.0f), p.hi);
  Value* y = m.add(h.hi, m.add(h.lo, m.fma(m.mul(f, f), q, lo)));
  return m.sel(m.is_nan(x), x, m.scale(y, m.to_int(kf)));
}

// ---- sin, cos ----

// float sin/cos on the widened argument xd: vmath.cpp's trig32 reduction (s_sinf.c: n =
// rint(x 2/pi), y = (x - n p1) - n p1t, p1 the first 25 bits of pi/2, exact for |x| < 2^28),
// then one polynomial per lane: sin y = y + y z S(z) or cos y = 1 + z C(z) (z = y^2; S, C
// k_sinf.c's and k_cosf.c's coefficients in Horner form), the coefficients selected per lane
// by the quadrant, so each lane evaluates one degree-4 polynomial instead of both. Returns the
// double result (|x| >= 2^28 lanes: garbage, for the caller's out-of-line path).
Value* sincos32_fast(llvm::IRBuilderBase& b, Value* xd, bool is_cos) {
  llvm::Type* f64 = b.getDoubleTy();
  auto cd = [&](double v) { return llvm::ConstantFP::get(f64, v); };
  auto fma = [&](Value* x, Value* y, Value* z) { return b.CreateIntrinsic(llvm::Intrinsic::fma, {f64}, {x, y, z}); };
  Value* ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, xd);
  Value* xs = b.CreateSelect(b.CreateFCmpOLT(ax, cd(0x1p28)), xd, cd(0.0));
  Value* fn = b.CreateUnaryIntrinsic(llvm::Intrinsic::rint, b.CreateFMul(xs, cd(6.36619772367581382433e-01)));
  Value* nfn = b.CreateFNeg(fn);
  Value* y = fma(nfn, cd(1.58932547735281966916e-08), fma(nfn, cd(1.57079631090164184570e+00), xs));
  Value* q = b.CreateAnd(b.CreateFPToSI(fn, b.getInt32Ty()), b.getInt32(3));
  if (is_cos) q = b.CreateAnd(b.CreateAdd(q, b.getInt32(1)), b.getInt32(3));  // cos x = sin(x + pi/2)
  Value* odd = b.CreateICmpNE(b.CreateAnd(q, b.getInt32(1)), b.getInt32(0));
  static constexpr double kS[4] = {-0x15555554cbac77.0p-55, 0x111110896efbb2.0p-59, -0x1a00f9e2cae774.0p-65,
                                   0x16cd878c3b46a7.0p-71};
  static constexpr double kC[4] = {-0x1ffffffd0c5e81.0p-54, 0x155553e1053a42.0p-57, -0x16c087e80f1e27.0p-62,
                                   0x199342e0ee5069.0p-68};
  auto coef = [&](int i) { return b.CreateSelect(odd, cd(kC[i]), cd(kS[i])); };
  Value* z = b.CreateFMul(y, y);
  Value* p = fma(fma(fma(coef(3), z, coef(2)), z, coef(1)), z, coef(0));
  Value* a = b.CreateSelect(odd, cd(1.0), y);
  Value* res = fma(b.CreateFMul(a, z), p, a);
  res = b.CreateSelect(b.CreateICmpUGE(q, b.getInt32(2)), b.CreateFNeg(res), res);
  res = b.CreateSelect(b.CreateFCmpOLT(ax, cd(0x1p-12)), is_cos ? cd(1.0) : xd, res);  // keeps sin(-0) == -0
  return b.CreateSelect(b.CreateFCmpOLT(ax, cd(INFINITY)), res, b.CreateFSub(xd, xd));  // inf, nan -> nan
}

}  // namespace tracejit::backends::vmath_detail
