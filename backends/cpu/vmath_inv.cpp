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
  Value* xge = b.CreateFCmpOGE(xc, t);
  DD v = m.fast_two_sum(m.sel(xge, xc, t), m.sel(xge, t, xc));
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

}  // namespace tracejit::backends::vmath_detail
