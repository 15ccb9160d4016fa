// Native single-precision exp2, and on double lanes pow and the wide-argument sin/cos, as
// straight-line LLVM IR the loop vectorizer widens. vmath.cpp's emit_vmath dispatches float
// arguments here; its header comment has the accuracy and speed tables. (The float sinh, cosh,
// expm1 kernels are vmath32_hyp.cpp's, log, log2, log10, log1p vmath32_log.cpp's, sin, cos, tan
// below |x| = 2^20 vmath32_trig.cpp's.)
//
// exp2 x = 2^k 2^f (k = rint x, f = x - k exact, 2^f = 1 + f ln2 + f^2 Q(f) with f ln2 as an exact
// product), rounded once; NaN in gives NaN, it underflows through the denormals (2^-150 rounds to
// +0) and overflows to inf at the float threshold.
//
// On double lanes (float widened, rounded once at the end): pow32_fast (a log2/exp2 core of two
// short polynomials, the special cases decided on the floats) and sincos32_fast (vmath.cpp's
// trig32 reduction with one polynomial per lane, coefficients selected by the quadrant; now the
// path of lanes with |x| >= 2^20). Speed, 4M float32, one thread, loaded 2-core Zen 4, process
// CPU time (min of 40; NumPy's SVML in brackets): pow 21 -> 10-11 ms (2.7; 8.2 before the exact
// small-integer-y path), sin 4.0-4.3 -> 3.7 (2.1), cos 4.1 -> 3.8 (2.1).
#include "backends/cpu/vmath32_fast.h"
#include "backends/cpu/vmath_internal.h"

#include <cmath>

namespace tracejit::backends::vmath_detail {
Value* exp2_32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* xc = m.sel(b.CreateFCmpOGT(x, m.c(129.0f)), m.c(129.0f), x);
  xc = m.sel(b.CreateFCmpOLT(xc, m.c(-151.0f)), m.c(-151.0f), xc);
  xc = m.sel(m.is_nan(x), m.c(0.0f), xc);
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

// ---- pow ----

namespace {

// |x| ** y for finite |x| > 0 (denormals included) and finite y, in double: log2|x| = k +
// log2(m), |x| = 2^k m with m in [sqrt(2)/2, sqrt(2)) found on the float bits (denormals scaled
// by 2^23 first); log2(m) = s P(s^2), s = f/(2 + f), f = m - 1 (exact), P a minimax fit of
// log2((1 + s)/(1 - s))/s on s^2 <= 0.0295 (relative error 2^-37.8); t = y log2|x| (relative
// error ~2^-37: |t| <= 160 where it matters, so < 2^-29.6 absolute); 2^t = 2^kt 2^r, kt =
// rint(t) (by adding 1.5 * 2^52), r = t - kt exact, 2^r a degree-7 minimax polynomial (relative error 2^-34.5;
// its constant term set to 1 so exact powers of two stay exact), 2^kt
// added to the exponent bits (t clamped to [-160, 130], where float results are 0 or inf). The
// double result is within 2^-29 relative of x ** y, i.e. within 0.5 + 2^-5 float ulp before
// fptrunc rounds it once (overflowing to inf, underflowing through the denormals).
Value* pow_core32(Math32& m, Value* ax, Value* y) {
  auto& b = m.b();
  llvm::Type* f64 = b.getDoubleTy();
  llvm::Type* i64 = b.getInt64Ty();
  auto cd = [&](double v) { return llvm::ConstantFP::get(f64, v); };
  auto polyd = [&](Value* x, const std::vector<double>& coef) {
    Value* r = cd(coef.back());
    for (size_t i = coef.size() - 1; i-- > 0;) r = b.CreateIntrinsic(llvm::Intrinsic::fma, {f64}, {r, x, cd(coef[i])});
    return r;
  };
  Value* sub = b.CreateICmpULT(m.bits(ax), m.ci(0x00800000));
  Value* xs = m.sel(sub, m.mul(ax, m.c(0x1p23f)), ax);
  Value* ix = m.bits(xs);
  Value* tmp = b.CreateSub(ix, m.ci(0x3f3504f3));  // bits of sqrt(2)/2 rounded down
  Value* k = b.CreateAdd(b.CreateAShr(tmp, m.ci(23)), m.sel(sub, m.ci(-23), m.ci(0)));
  Value* mf = m.from_bits(b.CreateSub(ix, b.CreateAnd(tmp, m.ci(static_cast<int32_t>(0xff800000u)))));
  Value* f = b.CreateFSub(b.CreateFPExt(mf, f64), cd(1.0));
  Value* s = b.CreateFDiv(f, b.CreateFAdd(f, cd(2.0)));
  Value* p = polyd(b.CreateFMul(s, s), {0x1.71547652bedf2p+1, 0x1.ec709d12cf0a0p-1, 0x1.27777fe8f507cp-1,
                                        0x1.a58d888aeadd3p-2, 0x1.5ce8598649ea1p-2});
  Value* l = b.CreateIntrinsic(llvm::Intrinsic::fma, {f64}, {s, p, b.CreateSIToFP(k, f64)});
  Value* t = b.CreateFMul(b.CreateFPExt(y, f64), l);
  t = m.sel(b.CreateFCmpOGT(t, cd(130.0)), cd(130.0), t);
  t = m.sel(b.CreateFCmpOLT(t, cd(-160.0)), cd(-160.0), t);
  Value* sh = b.CreateFAdd(t, cd(0x1.8p52));  // rint(t) in the low bits
  Value* r = b.CreateFSub(t, b.CreateFSub(sh, cd(0x1.8p52)));
  Value* e = polyd(r, {1.0, 0x1.62e42ff116c3ap-1, 0x1.ebfbe0a4f2f60p-3, 0x1.c6b08aae4f78ap-5,
                       0x1.3b29dc1464539p-7, 0x1.5d8a710f9e9ddp-10, 0x1.446a43cc4af60p-13, 0x1.fe174ee005173p-17});
  Value* eb = b.CreateAdd(b.CreateBitCast(e, i64), b.CreateShl(b.CreateBitCast(sh, i64), llvm::ConstantInt::get(i64, 52)));
  Value* res = b.CreateBitCast(eb, f64);
  // Integer y in [1, 31]: x^y by square-and-multiply in double, exact whenever x^y has at most
  // 53 significant bits, so exact ties (7.25^5 = 20030.4189453125, halfway between two floats)
  // round to even as libm's and NumPy's powf do; the polynomial core's 2^-29 would pick a side.
  // (A float result with 25 significant bits needs y <= 15 for any x but a power of two.)
  Value* ni = m.to_int(m.sel(b.CreateAnd(b.CreateFCmpOGE(y, m.c(1.0f)), b.CreateFCmpOLE(y, m.c(31.0f))), y, m.c(0.0f)));
  // |x| in [2^-63, 2^63] only: the squarings (to x^16) then neither overflow nor underflow in
  // lanes whose y needs less (no spurious flags); beyond, x^y for y >= 2 is no float or 0 anyway
  // but for near-edge squares, which take the polynomial core.
  Value* x_mid = b.CreateAnd(b.CreateFCmpOGE(ax, m.c(0x1p-63f)), b.CreateFCmpOLE(ax, m.c(0x1p63f)));
  Value* small_int = b.CreateAnd(b.CreateAnd(b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, y), y),
                                             b.CreateICmpNE(ni, m.ci(0))), x_mid);
  Value* base = m.sel(small_int, b.CreateFPExt(ax, f64), cd(1.0));
  Value* acc = cd(1.0);
  for (int bit = 0; bit < 5; ++bit) {
    Value* on = b.CreateICmpNE(b.CreateAnd(ni, m.ci(1 << bit)), m.ci(0));
    acc = b.CreateFMul(acc, m.sel(on, base, cd(1.0)));
    if (bit < 4) base = b.CreateFMul(base, base);
  }
  return b.CreateFPTrunc(m.sel(small_int, acc, res), b.getFloatTy());
}

}  // namespace

// C99/NumPy's special cases as vmath.cpp's pow_with_specials, decided on the floats: pow(x, +-0)
// = 1 and pow(1, y) = 1 even for NaN; otherwise NaN in gives NaN; negative finite x with a
// finite non-integer y gives NaN; odd integer y keeps the sign of x (including -0 and -inf);
// +-0 and +-inf bases and +-inf exponents per Annex F. The core sees (1, 0) in every lane whose
// result is one of these (no spurious overflow or underflow flags from lanes that are NaN).
Value* pow32_fast(Math32& m, Value* x, Value* y) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  Value* ay = m.fabs(y);
  Value* inf = m.c(INFINITY);
  Value* ax_ok = b.CreateAnd(b.CreateFCmpOGT(ax, m.c(0.0f)), b.CreateFCmpOLT(ax, inf));
  Value* yint = b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, y), y);  // +-inf too, not NaN
  // Odd: integral, below 2^24 (every float from there on is even) and odd as an integer.
  Value* yc = m.sel(b.CreateFCmpOLT(ay, m.c(0x1p24f)), y, m.c(0.0f));
  Value* yodd = b.CreateAnd(yint, b.CreateTrunc(m.to_int(yc), b.getInt1Ty()));
  Value* neg_finite = b.CreateAnd(b.CreateFCmpOLT(x, m.c(0.0f)), b.CreateFCmpOGT(x, m.c(-INFINITY)));
  Value* nan_res = b.CreateAnd(neg_finite, b.CreateNot(yint));
  Value* use_core = b.CreateAnd(b.CreateAnd(ax_ok, b.CreateFCmpOLT(ay, inf)), b.CreateNot(nan_res));
  Value* res = pow_core32(m, m.sel(use_core, ax, m.c(1.0f)), m.sel(use_core, y, m.c(0.0f)));
  // +-0 and +-inf bases with a finite y: 0 or inf, odd y keeps the sign.
  Value* big = b.CreateXor(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOLT(y, m.c(0.0f)));
  res = m.sel(ax_ok, res, m.sel(big, inf, m.c(0.0f)));
  Value* neg_odd = b.CreateAnd(b.CreateICmpSLT(m.bits(x), m.ci(0)), yodd);
  res = m.sel(neg_odd, m.neg(res), res);
  res = m.sel(nan_res, m.c(NAN), res);
  // y = +-inf: 1 for |x| = 1, else inf when (|x| > 1) == (y > 0), else +0.
  Value* yinf_v = m.sel(b.CreateICmpEQ(b.CreateFCmpOGT(ax, m.c(1.0f)), b.CreateFCmpOGT(y, m.c(0.0f))), inf, m.c(0.0f));
  yinf_v = m.sel(b.CreateFCmpOEQ(ax, m.c(1.0f)), m.c(1.0f), yinf_v);
  res = m.sel(b.CreateFCmpOEQ(ay, inf), yinf_v, res);
  res = m.sel(b.CreateFCmpUNO(x, y), m.add(x, y), res);
  return m.sel(b.CreateOr(b.CreateFCmpOEQ(y, m.c(0.0f)), b.CreateFCmpOEQ(x, m.c(1.0f))), m.c(1.0f), res);
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
