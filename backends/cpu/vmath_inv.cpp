// Inverse hyperbolic functions (float32 and float64 arcsinh, arccosh, arctanh) on the
// table-driven log cores: vmath32_log.cpp's natural log core (32-entry float tables in registers,
// no division; log_pair_tab32 takes the argument as a pair vh + vl and folds vl/vh in as
// vl 2^-k (1/c)(1 - r)) and vmath64_more.cpp's log_short (16-entry double tables, log_pair64).
// Before (vmath.cpp): float ran its own log_pair32 (two divisions) plus a minimax series below
// 1/2 on every lane, double fdlibm's log with double-double sums (one more division, ~2x the
// additions). The arguments are formed as before:
//
// arcsinh (a = |x|): log(v) with v = a + sqrt(a^2 + 1) as a pair (a^2 as an exact pair, + 1 by
//   Fast2Sum on the larger, the root corrected once by its fma residual over 2 sqrt, root + a by
//   Fast2Sum); from 2^12 (float) / above 2^28 (double): log(2a), 2a by adding one to the
//   exponent bits (the log cores read only the bits, so it holds up to the largest finite a).
//   Below 2^-13 (float) / 2^-28 (double): a itself (a^3/6 is below 2^-27.5 of it, so a is the
//   result rounded, within 0.1 ulp); the log path keeps the relative accuracy down there: the
//   cores' subinterval holding 1 has 1/c = 1 and r = v - 1 exact, and v's pair error (~2^-47 /
//   2^-105) stays far below a's ulp.
// arccosh: log(x + sqrt((x - 1)(x + 1))) (float: x - 1 exact, x + 1 by Fast2Sum, their product
//   as a pair; double: x^2 - 1 from an exact product and Fast2Sum), the root corrected once;
//   from 2^12 / above 2^28: log(2x) by the exponent bits.
// arctanh: log(q)/2 with q = (1 + a)/(1 - a) as a pair qh + ql: ONE division (the reciprocal of
//   1 - a), qh = (1 + a) * that, ql the fma residual of (1 + a) - qh (1 - a) (both sums as exact
//   pairs) times the same reciprocal. Below 2^-13 / 2^-28: a (a^3/3 below 2^-25.6 of it).
// double's log core takes no low part: its caller adds w.lo / w.hi (ql / qh), a division: near
// x = 0 the result is ~x and that term must be relative-exact to ~2^-30, which a float reciprocal
// is not.
//
// Max error (float32: every input, tests/python/float32_exhaustive.py, against the float64
// result; float64: test_vmath's sweeps and InverseHyperbolicHardCases against long double):
//   float32  arcsinh 0.702, arccosh 0.669, arctanh 0.721 (before 0.561 / 0.575 / 0.656)
//   float64  arcsinh 0.52, arccosh 0.52, arctanh 0.53 (before 0.623 / 0.579 / 0.639)
// The float maxima are the log core's (0.686 for log itself), at results near 0.01-0.02.
//
// Also here (moved from vmath.cpp with their algorithms unchanged but for the lines named):
// float32 arcsin, arccos: the root correction sl = (z - s^2)/(2s) multiplies the fma residual by
//   0.5/sqrt(z) from the bits of z (the 0x5f3759df estimate, 3.5%) instead of dividing by 2s; the
//   small-|x| test is an integer compare (a NaN lane raised invalid). Max over every float32
//   input: arcsin 0.635, arccos 0.604 (before 0.620 / 0.602).
// float64 arctan, arctan2 (fdlibm's s_atan.c reductions): arctan2's quotient correction
//   d/(1 + q^2) with d = (|y| - q|x|)/|x| is one division, the fma residual over |x| + q|y|
//   (before two); max 0.846 ulp as before.
//
// Speed, one thread (TRACEJIT_NUM_THREADS=1), 4M elements, process CPU time, min of 15 x 3,
// NumPy 2.4 in the same process, the shared 2-core machine at load 5-7 (ms, ours (NumPy)):
//   float32  arcsinh 3.63 (2.80), arccosh 3.51 (2.52), arctanh 3.09 (2.05), arcsin 1.68 (1.53),
//            arccos 1.90 (1.63)
//   float64  arcsinh 8.51 (8.29), arccosh 8.76 (8.69), arctanh 7.15 (6.29), arctan2 12.6 (8.7)
// Before (main's build, the same measurement, load 8): float32 arcsinh 5.25 (2.87), arccosh 4.36
// (2.49), arctanh 4.22 (2.06), arcsin 2.07 (1.59), arccos 2.27 (1.64); float64 arcsinh 16.7
// (8.30), arccosh 15.2 (8.63), arctanh 13.9 (6.33), arctan2 12.9 (8.7-15.7). +-10% run to run.
// The float inverse hyperbolic loops hold ~65
// (arcsinh) to ~83 (arctanh) vector instructions per 16 lanes: the pairs that keep the argument
// exact, one sqrt or division, the log core (~30 with its three permutes); NumPy's SVML loops
// get away with fewer at 1-4 ulp.
//
// Special values as NumPy's: NaN in gives NaN (x itself), +-inf gives +-inf (arcsinh) or +inf
// (arccosh; -inf NaN), -0 and denormals give x (arcsinh, arctanh), arccosh(1) = +0, x < 1 NaN,
// arctanh(+-1) = +-inf, |x| > 1 NaN (NumPy's invalid / divide-by-zero flags are the runtime's, from
// the results). No lane raises a flag NumPy would not (that would re-run the call eagerly): the
// special lanes are told apart by integer compares on the bits (an ordered compare of a NaN
// raises the invalid flag on x86), out-of-range lanes compute on a harmless stand-in (1, 2 or
// 1/2), nothing squares a huge x, and arccosh(1)'s root correction divides 0 by 2^-126, not 0.
// (The vmath.cpp kernels before raised overflow from |x| > 2^64 in float arcsinh and invalid from
// every float arccosh vector holding an x >= 2^12: an eager re-run of the whole call.)
//
#include "backends/cpu/vmath_inv.h"

#include "backends/cpu/vmath32_log.h"
#include "backends/cpu/vmath64_more.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <cmath>
#include <cstdint>
#include <cstring>

namespace tracejit::backends::vmath_detail {
namespace {

Value* sqrt_f(llvm::IRBuilderBase& b, Value* x) { return b.CreateUnaryIntrinsic(llvm::Intrinsic::sqrt, x); }

int32_t fbits(float f) {
  int32_t i;
  static_assert(sizeof i == sizeof f);
  std::memcpy(&i, &f, sizeof i);
  return i;
}
int64_t dbits(double d) {
  int64_t i;
  std::memcpy(&i, &d, sizeof i);
  return i;
}

}  // namespace

// ---- float32 ----

Value* asinh_inv32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* ia = b.CreateAnd(m.bits(x), m.ci(0x7fffffff));
  Value* a = m.from_bits(ia);
  Value* tiny = b.CreateICmpSLT(ia, m.ci(fbits(0x1p-13f)));
  Value* big = b.CreateICmpSGE(ia, m.ci(fbits(0x1p12f)));  // also +-inf and NaN
  Value* ac = m.sel(big, m.c(1.0f), a);
  Value* ph = m.mul(ac, ac);
  Value* pl = m.fma(ac, ac, m.neg(ph));
  Value* ge1 = b.CreateFCmpOGE(ph, m.c(1.0f));  // ph finite
  DD u = m.fast_two_sum(m.sel(ge1, ph, m.c(1.0f)), m.sel(ge1, m.c(1.0f), ph));
  Value* t = sqrt_f(b, u.hi);
  Value* tl = m.div(m.add(m.fma(m.neg(t), t, u.hi), m.add(u.lo, pl)), m.add(t, t));
  DD v = m.fast_two_sum(t, ac);  // t > ac
  // big: log(2a), 2a by adding one to the exponent bits (the log core reads only the bits, so
  // a >= 2^127 works too).
  Value* vh = m.from_bits(m.sel(big, b.CreateAdd(ia, m.ci(1 << 23)), m.bits(v.hi)));
  Value* vl = m.sel(big, m.c(0.0f), m.add(v.lo, tl));
  DD l = log_pair_tab32(m, vh, vl);
  Value* res = m.copysign(m.sel(tiny, a, m.add(l.hi, l.lo)), x);
  return m.sel(b.CreateICmpSGE(ia, m.ci(0x7f800000)), x, res);  // +-inf, NaN: x
}

Value* acosh_inv32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* ix = m.bits(x);
  Value* big = b.CreateICmpSGE(ix, m.ci(fbits(0x1p12f)));  // also +inf and +NaN
  Value* ge1 = b.CreateICmpSGE(ix, m.ci(fbits(1.0f)));      // negative x: no
  Value* xc = m.sel(b.CreateAnd(ge1, b.CreateNot(big)), x, m.c(1.0f));
  Value* y = m.sub(xc, m.c(1.0f));  // exact
  DD n = m.fast_two_sum(xc, m.c(1.0f));
  Value* ph = m.mul(y, n.hi);
  Value* pl = m.add(m.fma(y, n.hi, m.neg(ph)), m.mul(y, n.lo));
  Value* t = sqrt_f(b, ph);
  // 2t + 2^-126 is 2t rounded for every t > 0 (t >= 2^-11) and keeps x = 1 (t = 0, the numerator
  // 0) from 0/0 and its invalid flag.
  Value* tl = m.div(m.add(m.fma(m.neg(t), t, ph), pl), m.fma(t, m.c(2.0f), m.c(0x1p-126f)));
  DD v = m.fast_two_sum(xc, t);  // t = sqrt(x^2 - 1) rounded <= x
  Value* vh = m.from_bits(m.sel(big, b.CreateAdd(ix, m.ci(1 << 23)), m.bits(v.hi)));  // big: log(2x)
  Value* vl = m.sel(big, m.c(0.0f), m.add(v.lo, tl));
  DD l = log_pair_tab32(m, vh, vl);  // x = 1: exactly +0
  Value* res = m.add(l.hi, l.lo);
  res = m.sel(b.CreateICmpSGE(ix, m.ci(0x7f800000)), x, res);  // +inf, +NaN
  res = m.sel(ge1, res, m.c(NAN));  // x < 1, -inf, -0, negative NaN
  return m.sel(m.is_nan(x), x, res);
}

Value* atanh_inv32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* ia = b.CreateAnd(m.bits(x), m.ci(0x7fffffff));
  Value* a = m.from_bits(ia);
  Value* tiny = b.CreateICmpSLT(ia, m.ci(fbits(0x1p-13f)));
  Value* lt1 = b.CreateICmpSLT(ia, m.ci(fbits(1.0f)));
  Value* ac = m.sel(lt1, a, m.c(0.5f));
  DD d = m.fast_two_sum(m.c(1.0f), m.neg(ac));
  DD n = m.fast_two_sum(m.c(1.0f), ac);
  Value* inv = m.div(m.c(1.0f), d.hi);
  Value* qh = m.mul(n.hi, inv);
  Value* ql = m.mul(m.sub(m.add(m.fma(m.neg(qh), d.hi, n.hi), n.lo), m.mul(qh, d.lo)), inv);
  DD l = log_pair_tab32(m, qh, ql);
  Value* res = m.sel(tiny, a, m.mul(m.c(0.5f), m.add(l.hi, l.lo)));
  res = m.sel(b.CreateICmpEQ(ia, m.ci(fbits(1.0f))), m.c(INFINITY), res);
  res = m.sel(b.CreateICmpSGT(ia, m.ci(fbits(1.0f))), m.c(NAN), res);
  res = m.copysign(res, x);
  return m.sel(b.CreateICmpSGT(ia, m.ci(0x7f800000)), x, res);
}

// ---- float64 ----

namespace {

// sqrt(u.hi + u.lo) as a pair (one correction of the rounded root), for u.hi > 0.
DD sqrt_pair64(Math& m, DD u) {
  Value* r = sqrt_f(m.b(), u.hi);
  Value* rl = m.div(m.add(m.fma(m.neg(r), r, u.hi), u.lo), m.add(r, r));
  return {r, rl};
}

Value* abs_bits64(Math& m, Value* x) { return m.b().CreateAnd(m.bits(x), m.ci(INT64_MAX)); }

}  // namespace

Value* asinh_inv64(Math& m, Value* x) {
  auto& b = m.b();
  Value* ia = abs_bits64(m, x);
  Value* a = m.from_bits(ia);
  Value* tiny = b.CreateICmpSLT(ia, m.ci(dbits(0x1p-28)));
  Value* big = b.CreateICmpSGT(ia, m.ci(dbits(0x1p28)));  // also +-inf and NaN
  Value* am = m.sel(b.CreateOr(tiny, big), m.c(1.0), a);
  DD p = m.two_prod(am, am);
  DD u = m.two_sum(m.c(1.0), p.hi);
  u = m.fast_two_sum(u.hi, m.add(u.lo, p.lo));
  DD sq = sqrt_pair64(m, u);
  DD w = m.fast_two_sum(sq.hi, am);  // the root is the larger
  w.lo = m.add(w.lo, sq.lo);
  // big: log(2a), 2a by adding one to the exponent bits (log_pair64 reads only the bits).
  Value* arg = m.from_bits(m.sel(big, b.CreateAdd(ia, m.ci(INT64_C(1) << 52)), m.bits(w.hi)));
  Value* dl = m.sel(big, m.c(0.0), m.div(w.lo, w.hi));
  DD l = log_pair64(m, arg);
  Value* res = m.add(l.hi, m.add(l.lo, dl));
  res = m.copysign(m.sel(tiny, a, res), x);
  return m.sel(b.CreateICmpSGE(ia, m.ci(INT64_C(0x7ff0000000000000))), x, res);  // +-inf, NaN: x
}

Value* acosh_inv64(Math& m, Value* x) {
  auto& b = m.b();
  Value* ix = m.bits(x);
  Value* big = b.CreateICmpSGT(ix, m.ci(dbits(0x1p28)));  // also +inf and +NaN
  Value* gt1 = b.CreateICmpSGT(ix, m.ci(dbits(1.0)));
  Value* xm = m.sel(b.CreateAnd(gt1, b.CreateNot(big)), x, m.c(2.0));
  DD p = m.two_prod(xm, xm);
  DD s = m.fast_two_sum(p.hi, m.c(-1.0));  // p.hi > 1
  DD u = m.fast_two_sum(s.hi, m.add(s.lo, p.lo));
  DD sq = sqrt_pair64(m, u);
  DD w = m.fast_two_sum(xm, sq.hi);  // x > sqrt(x^2 - 1)
  w.lo = m.add(w.lo, sq.lo);
  Value* arg = m.from_bits(m.sel(big, b.CreateAdd(ix, m.ci(INT64_C(1) << 52)), m.bits(w.hi)));  // big: log(2x)
  Value* dl = m.sel(big, m.c(0.0), m.div(w.lo, w.hi));
  DD l = log_pair64(m, arg);
  Value* res = m.add(l.hi, m.add(l.lo, dl));
  res = m.sel(b.CreateICmpEQ(ix, m.ci(dbits(1.0))), m.c(0.0), res);
  res = m.sel(b.CreateICmpSGE(ix, m.ci(INT64_C(0x7ff0000000000000))), x, res);  // +inf, +NaN
  res = m.sel(b.CreateICmpSLT(ix, m.ci(dbits(1.0))), m.c(NAN), res);  // x < 1, -inf, -0, negative NaN
  return m.sel(m.is_nan(x), x, res);
}

Value* atanh_inv64(Math& m, Value* x) {
  auto& b = m.b();
  Value* ia = abs_bits64(m, x);
  Value* a = m.from_bits(ia);
  Value* tiny = b.CreateICmpSLT(ia, m.ci(dbits(0x1p-28)));
  Value* lt1 = b.CreateICmpSLT(ia, m.ci(dbits(1.0)));
  Value* am = m.sel(b.CreateAnd(lt1, b.CreateNot(tiny)), a, m.c(0.5));
  DD n = m.fast_two_sum(m.c(1.0), am);
  DD d = m.fast_two_sum(m.c(1.0), m.neg(am));
  Value* inv = m.div(m.c(1.0), d.hi);
  Value* q = m.mul(n.hi, inv);
  Value* ql = m.mul(m.sub(m.add(m.fma(m.neg(q), d.hi, n.hi), n.lo), m.mul(q, d.lo)), inv);
  DD l = log_pair64(m, q);
  Value* res = m.mul(m.c(0.5), m.add(l.hi, m.add(l.lo, m.div(ql, q))));
  res = m.sel(tiny, a, res);
  res = m.sel(b.CreateICmpEQ(ia, m.ci(dbits(1.0))), m.c(INFINITY), res);
  res = m.sel(b.CreateICmpSGT(ia, m.ci(dbits(1.0))), m.c(NAN), res);
  res = m.copysign(res, x);
  return m.sel(m.is_nan(x), x, res);
}

// ---- float32 arcsin, arccos (moved from vmath.cpp; the root's correction without a division) ----

namespace {

constexpr float kPio2HiF = 0x1.921fb6p+0f, kPio2LoF = -0x1.777a5cp-25f;  // pi/2 = hi + lo (+ 2^-51)
constexpr float kPiHiF = 0x1.921fb6p+1f, kPiLoF = -0x1.777a5cp-24f;

// (asin(v) - v) / v^3 as a polynomial in z = v^2 on [0, 1/4] (float coefficients, Lawson
// minimax of the error relative to asin(v): below 2^-31.6; degree 4 with 2^-27.6 costs 0.08 ulp
// more in pi/2 - 2 asin(s)).
Value* asin_poly32(Math32& m, Value* z) {
  return m.poly(z, {0x1.55554cp-3f, 0x1.3338acp-4f, 0x1.6ca744p-5f, 0x1.04d452p-5f, 0x1.d4fb38p-7f, 0x1.34db12p-5f});
}

// The pieces arcsin and arccos share: a = |x|; below 1/2 z = x^2 (asin x = x + x z P(z));
// above, z = (1 - a)/2 (exact) with s + sl = sqrt(z), asin a = pi/2 - 2 asin s, asin s = s + sl +
// s z P(z). sl = (z - s^2) / (2s), the fma residual times 1/(2s) from the bits of z (the classic
// 0x5f3759df inverse square root estimate, halved: relative error below 3.5%, so sl is within
// 2^-29.8 s, 0.02 ulp of the result; the division it replaces was 1 of ~30 vector instructions
// at ~5x the cost of a multiply). z = 0 (x = +-1): the residual is 0 and the estimate finite.
// The lane choice by an integer compare (an ordered compare of a NaN raises invalid).
struct AsinParts {
  Value *a, *small, *z, *s, *sl, *p;
};
AsinParts asin_parts32(Math32& m, Value* x) {
  auto& b = m.b();
  AsinParts r;
  Value* ia = b.CreateAnd(m.bits(x), m.ci(0x7fffffff));
  r.a = m.from_bits(ia);
  r.small = b.CreateICmpSLT(ia, m.ci(fbits(0.5f)));
  r.z = m.sel(r.small, m.mul(x, x), m.mul(m.sub(m.c(1.0f), r.a), m.c(0.5f)));
  r.s = sqrt_f(b, r.z);
  Value* half_rsqrt = m.from_bits(b.CreateSub(m.ci(0x5eb759df), b.CreateLShr(m.bits(r.z), m.ci(1))));
  r.sl = m.mul(m.fma(m.neg(r.s), r.s, r.z), half_rsqrt);
  r.p = asin_poly32(m, r.z);
  return r;
}

}  // namespace

// asin: |x| < 1/2: x + x z P (the correction is below 0.05 of the result); else pi/2 - 2s
// exactly as a pair (Fast2Sum), the small terms pio2_lo - 2(sl + s z P) added before the one
// rounding. |x| > 1 (z < 0: sqrt gives NaN) and NaN give NaN, +-0 and denormals x (z underflows
// to 0).
Value* asin_inv32(Math32& m, Value* x) {
  AsinParts q = asin_parts32(m, x);
  Value* res_small = m.fma(m.mul(q.a, q.z), q.p, q.a);
  DD h = m.fast_two_sum(m.c(kPio2HiF), m.neg(m.add(q.s, q.s)));
  Value* v = m.fma(m.mul(q.s, q.z), q.p, q.sl);
  Value* tail = m.sub(m.c(kPio2LoF), m.add(v, v));
  Value* res = m.sel(q.small, res_small, m.add(h.hi, m.add(h.lo, tail)));
  return m.copysign(res, x);
}

// acos: |x| < 1/2: pi/2 - x as an exact pair, minus x z P; x >= 1/2: 2 asin s = 2(s + (sl +
// s z P)); x <= -1/2: pi - 2s as an exact pair, the rest added before the one rounding.
// acos(1) = +0, acos(-1) = pi (rounded); |x| > 1 (a NaN root) and NaN give NaN.
Value* acos_inv32(Math32& m, Value* x) {
  auto& b = m.b();
  AsinParts q = asin_parts32(m, x);
  DD hs = m.fast_two_sum(m.c(kPio2HiF), m.neg(x));
  Value* res_small = m.add(hs.hi, m.add(hs.lo, m.sub(m.c(kPio2LoF), m.mul(m.mul(x, q.z), q.p))));
  Value* rest = m.fma(m.mul(q.s, q.z), q.p, q.sl);
  Value* res_pos = m.add(q.s, rest);
  res_pos = m.add(res_pos, res_pos);
  DD hn = m.fast_two_sum(m.c(kPiHiF), m.neg(m.add(q.s, q.s)));
  Value* res_neg = m.add(hn.hi, m.add(hn.lo, m.sub(m.c(kPiLoF), m.add(rest, rest))));
  Value* neg = b.CreateICmpSLT(m.bits(x), m.ci(0));  // sign bit (-0 is a small lane)
  return m.sel(q.small, res_small, m.sel(neg, res_neg, res_pos));  // |x| > 1: NaN root
}

// ---- float64 arctan, arctan2 (moved from vmath.cpp) ----

namespace {

constexpr double kPio2Hi = 1.57079632679489655800e+00, kPio2Lo = 6.12323399573676603587e-17;

// atan(a) for a >= 0 (or NaN, which propagates) as an unrounded pair hi + lo: fdlibm's
// s_atan.c, its five argument reductions selected (one division), hi = atan of the breakpoint
// (0, atan(1/2), pi/4, atan(3/2), pi/2), lo = t - (t (s1 + s2) - atan_lo). +inf gives pi/2.
DD atan_core(Math& m, Value* a, Value* corr) {
  auto& b = m.b();
  Value* c0 = b.CreateFCmpOLT(a, m.c(0.4375));
  Value* c1 = b.CreateFCmpOLT(a, m.c(0.6875));
  Value* c2 = b.CreateFCmpOLT(a, m.c(1.1875));
  Value* c3 = b.CreateFCmpOLT(a, m.c(2.4375));
  auto pick = [&](Value* v0, Value* v1, Value* v2, Value* v3, Value* v4) {
    return m.sel(c0, v0, m.sel(c1, v1, m.sel(c2, v2, m.sel(c3, v3, v4))));
  };
  Value* num = pick(a, m.sub(m.add(a, a), m.c(1.0)), m.sub(a, m.c(1.0)), m.sub(a, m.c(1.5)), m.c(-1.0));
  Value* den = pick(m.c(1.0), m.add(m.c(2.0), a), m.add(a, m.c(1.0)), m.add(m.c(1.0), m.mul(m.c(1.5), a)), a);
  Value* hi = pick(m.c(0.0), m.c(4.63647609000806093515e-01), m.c(7.85398163397448278999e-01),
                   m.c(9.82793723247329054082e-01), m.c(kPio2Hi));
  Value* lo_c = pick(m.c(0.0), m.c(2.26987774529616870924e-17), m.c(3.06161699786838301793e-17),
                     m.c(1.39033110312309984516e-17), m.c(kPio2Lo));
  if (corr) lo_c = m.add(lo_c, corr);  // a small addend to the result, rounded with it once
  Value* t = m.div(num, den);
  Value* z = m.mul(t, t);
  Value* w = m.mul(z, z);
  Value* s1 = m.mul(z, m.poly(w, {3.33333333333329318027e-01, 1.42857142725034663711e-01, 9.09088713343650656196e-02,
                                  6.66107313738753120669e-02, 4.97687799461593236017e-02, 1.62858201153657823623e-02}));
  Value* s2 = m.mul(w, m.poly(w, {-1.99999999998764832476e-01, -1.11111104054623557880e-01, -7.69187620504482999495e-02,
                                  -5.83357013379057348645e-02, -3.65315727442169155270e-02}));
  return {hi, m.sub(t, m.sub(m.mul(t, m.add(s1, s2)), lo_c))};
}

}  // namespace

Value* atan_inv64(Math& m, Value* x) {
  DD d = atan_core(m, m.fabs(x), nullptr);
  return m.copysign(m.add(d.hi, d.lo), x);  // NaN stays NaN, -0 -> -0
}

// atan2(y, x): atan(|y|/|x|) with the quotient's rounding error d = (|y| - q|x|)/|x| (an exact
// fma remainder; both scaled by 2^600 when both are below 2^-500) added as d/(1 + q^2) (one
// division, below), then
// pi - that for x < 0 (sign bit, so -0 counts) in double-double, the sign of y last. The IEEE /
// C99 table exactly: +-0 with x >= +0 -> +-0, with x <= -0 -> +-pi; x = +-0 -> +-pi/2; both
// infinite -> +-pi/4 or +-3pi/4; finite y with x = +inf -> +-0, x = -inf -> +-pi; NaN -> NaN.
Value* atan2_inv64(Math& m, Value* y, Value* x) {
  auto& b = m.b();
  Value* ax = m.fabs(x);
  Value* ay = m.fabs(y);
  Value* tiny = b.CreateAnd(b.CreateFCmpOLT(ax, m.c(0x1p-500)), b.CreateFCmpOLT(ay, m.c(0x1p-500)));
  Value* sc = m.sel(tiny, m.c(0x1p600), m.c(1.0));
  Value* axs = m.mul(ax, sc);
  Value* ays = m.mul(ay, sc);
  Value* q = m.div(ays, axs);
  Value* qok = b.CreateAnd(b.CreateFCmpOGT(q, m.c(0.0)), b.CreateFCmpOLT(q, m.c(INFINITY)));
  // The correction d / (1 + q^2) with d = (|y| - q|x|)/|x|, as one quotient: the exact fma
  // residual over |x| + q|y| (= |x| (1 + q^2) to a rounding; before: two divisions). An infinite
  // denominator makes the correction 0.
  Value* corr = m.div(m.fma(m.neg(q), axs, ays), m.fma(q, ays, axs));
  corr = m.sel(qok, corr, m.c(0.0));
  // q = +inf (overflow; 1/0) gives pi/2.
  DD at = atan_core(m, m.sel(m.is_nan(q), m.c(0.0), q), corr);
  Value* pos = m.add(at.hi, at.lo);
  DD pm = m.two_sum(m.c(3.14159265358979311600e+00), m.neg(at.hi));
  Value* negv = m.add(pm.hi, m.add(pm.lo, m.sub(m.c(1.22464679914735320717e-16), at.lo)));
  Value* xneg = b.CreateICmpSLT(m.bits(x), m.ci(0));
  Value* inf = m.c(INFINITY);
  Value* res = m.sel(xneg, negv, pos);
  res = m.sel(b.CreateFCmpOEQ(ay, m.c(0.0)), m.sel(xneg, m.c(3.14159265358979311600e+00), m.c(0.0)), res);
  res = m.sel(b.CreateAnd(b.CreateFCmpOEQ(ax, m.c(0.0)), b.CreateFCmpOGT(ay, m.c(0.0))), m.c(kPio2Hi), res);
  res = m.sel(b.CreateAnd(b.CreateFCmpOEQ(ay, inf), b.CreateFCmpOLT(ax, inf)), m.c(kPio2Hi), res);
  res = m.sel(b.CreateAnd(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOLT(ay, inf)),
              m.sel(xneg, m.c(3.14159265358979311600e+00), m.c(0.0)), res);
  res = m.sel(b.CreateAnd(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOEQ(ay, inf)),
              m.sel(xneg, m.c(2.35619449019234483700e+00), m.c(7.85398163397448278999e-01)), res);
  res = m.copysign(res, y);
  return m.sel(b.CreateFCmpUNO(x, y), m.add(x, y), res);
}


}  // namespace tracejit::backends::vmath_detail
