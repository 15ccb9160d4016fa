// Native single-precision sinh, cosh, exp2, log2, log10, expm1, log1p as straight-line LLVM IR
// (16 float lanes per AVX-512 vector, float arithmetic with fused multiply-adds, no widening to
// double). vmath.cpp's emit_vmath dispatches float arguments here; its header comment has the
// accuracy and speed tables.
//
// Two shared pieces, each with relative error near 2^-28 before the one final rounding:
// - exp_core_f (vmath_internal.h): e^u = 2^k (1 + r1 + t) (Cody-Waite by ln2 with a
//   17-bit ln2 so r1 = u - k*C1 is exact, a minimax polynomial of degree 5 for (e^r - 1 - r)/r^2
//   on |r| <= ln2/2); 1 + r1 is kept as an exact float-float (h, hl).
// - log_parts: FreeBSD's e_logf.c reduction x = 2^k (1 + f), 1 + f in [sqrt(2)/2, sqrt(2))
//   (f exact, denormal x scaled by 2^25 first), log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)),
//   s = f/(2 + f), as the float-float (f - hh) + (s (hh + R) - hl) with hh + hl = f^2/2 exact.
// The functions combine them with exact float-float steps (two_sum, fma products) and round
// once: sinh/cosh |x| = 2^(k-1) (h + hl + t +- 2^-2k / (h + hl + t)) (the reciprocal corrected
// once; sinh |x| < 1/2 a Taylor polynomial); exp2 x = 2^k 2^f (k = rint x, f = x - k exact, 2^f
// = 1 + f ln2 + f^2 Q(f) with f ln2 as an exact product); log2 = k + log(1 + f)/ln2 and log10 =
// k log10(2) + log(1 + f)/ln10 (constants as float pairs; exact for powers of two and ten);
// expm1 = (2^k - 1) + 2^k (e^r - 1) summed exactly (2^k (1 + r1 + t) rounded once above k = 60);
// log1p = log(uh) + ul/uh with 1 + x = uh + ul exactly. Special values as NumPy's: NaN in gives
// NaN, signed zeros kept (sinh, expm1, log1p of -0 is -0), overflow to +-inf at the float
// thresholds, log2/log10 of +-0 = -inf and of x < 0 NaN, log1p(-1) = -inf and below NaN, exp2
// underflows through the denormals (2^-150 rounds to +0), expm1 saturates at -1.
//
// Also here, on double lanes (float widened, rounded once at the end): pow32_fast (a log2/exp2
// core of two short polynomials, the special cases decided on the floats) and sincos32_fast
// (vmath.cpp's trig32 reduction with one polynomial per lane, coefficients selected by the
// quadrant). Speed, 4M float32, one thread, loaded 2-core Zen 4, process CPU time (min of 40;
// NumPy's SVML in brackets): pow 21 -> 10-11 ms (2.7; 8.2 before the exact small-integer-y
// path), sin 4.0-4.3 -> 3.7 (2.1), cos 4.1 -> 3.8 (2.1).
#include "backends/cpu/vmath32_fast.h"
#include "backends/cpu/vmath_internal.h"

#include <cmath>

namespace tracejit::backends::vmath_detail {
namespace {

// log(x) = k ln2 + L for finite x > 0 (denormals included); L = log(1 + f) as a float-float.
struct LogParts {
  Value* kf;
  DD l;
};
LogParts log_parts(Math32& m, Value* x) {
  auto& b = m.b();
  Value* subnormal = b.CreateICmpULT(m.bits(x), m.ci(0x00800000));
  Value* xs = m.sel(subnormal, m.mul(x, m.c(0x1p25f)), x);
  Value* k = m.sel(subnormal, m.ci(-25), m.ci(0));
  Value* hx = m.bits(xs);
  k = b.CreateAdd(k, b.CreateSub(b.CreateLShr(hx, m.ci(23)), m.ci(127)));
  hx = b.CreateAnd(hx, m.ci(0x007fffff));
  Value* i = b.CreateAnd(b.CreateAdd(hx, m.ci(0x95f64 << 3)), m.ci(0x800000));
  Value* xn = m.from_bits(b.CreateOr(hx, b.CreateXor(i, m.ci(0x3f800000))));  // 1+f or (1+f)/2
  k = b.CreateAdd(k, b.CreateLShr(i, m.ci(23)));
  Value* f = m.sub(xn, m.c(1.0f));  // exact
  Value* s = m.div(f, m.add(m.c(2.0f), f));
  Value* z = m.mul(s, s);
  Value* w = m.mul(z, z);
  Value* t1 = m.mul(w, m.fma(w, m.c(0xf89e26.0p-26f), m.c(0xccce13.0p-25f)));
  Value* t2 = m.mul(z, m.fma(w, m.c(0x91e9ee.0p-25f), m.c(0xaaaaaa.0p-24f)));
  Value* r = m.add(t2, t1);
  DD hf = m.two_prod(m.mul(m.c(0.5f), f), f);  // f^2/2 exactly
  DD l = m.fast_two_sum(f, m.neg(hf.hi));
  l.lo = m.add(l.lo, m.fma(s, m.add(hf.hi, r), m.neg(hf.lo)));
  return {m.to_fp(k), l};
}

}  // namespace

Value* sinhcosh32(Math32& m, Value* x, bool is_cosh) {
  auto& b = m.b();
  Value* a = m.fabs(x);
  Value* ac = m.sel(b.CreateFCmpOLT(a, m.c(90.0f)), a, m.c(90.0f));  // NaN -> 90, fixed below
  ExpCoreF e = exp_core_f(m, ac);
  Value* k = m.to_int(e.kf);
  DD h = m.fast_two_sum(m.c(1.0f), e.r1);
  h = m.fast_two_sum(h.hi, m.add(h.lo, e.t));  // e^a / 2^k = h.hi + hl, |hl| <= ulp(h.hi)/2
  Value* hl = h.lo;
  // 2^-2k / (h.hi + hl) = 2^-2k (q + ql): the reciprocal and its residual, scaled exactly.
  Value* q = m.div(m.c(1.0f), h.hi);
  Value* ql = m.mul(m.sub(m.fma(m.neg(q), h.hi, m.c(1.0f)), m.mul(q, hl)), q);
  Value* kk = m.sel(b.CreateICmpSLT(k, m.ci(60)), k, m.ci(60));
  Value* s2 = m.pow2(b.CreateMul(kk, m.ci(-2)));
  q = m.mul(q, s2);
  ql = m.mul(ql, s2);
  if (!is_cosh) q = m.neg(q), ql = m.neg(ql);
  DD s = m.two_sum(h.hi, q);
  Value* res = m.scale(m.add(s.hi, m.add(s.lo, m.add(hl, ql))), b.CreateSub(k, m.ci(1)));
  if (is_cosh) return m.sel(m.is_nan(x), x, res);
  // sinh |x| < 1/2: a + a^3 P(a^2), P the Taylor series to a^11 (a^3 P below a/23).
  Value* z = m.mul(a, a);
  Value* p = m.poly(z, {1.0f / 6, 1.0f / 120, 1.0f / 5040, 1.0f / 362880, 1.0f / 39916800});
  res = m.sel(b.CreateFCmpOLT(a, m.c(0.5f)), m.fma(m.mul(a, z), p, a), res);
  return m.sel(m.is_nan(x), x, m.copysign(res, x));
}

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

namespace {

// log's special cases around a finite-positive result `res`: +inf -> +inf, +-0 -> -inf,
// x < 0 -> NaN, NaN -> NaN.
Value* log_specials(Math32& m, Value* x, Value* res) {
  auto& b = m.b();
  res = m.sel(b.CreateFCmpOEQ(x, m.c(INFINITY)), x, res);
  res = m.sel(b.CreateFCmpOEQ(x, m.c(0.0f)), m.c(-INFINITY), res);
  res = m.sel(b.CreateFCmpOLT(x, m.c(0.0f)), m.c(NAN), res);
  return m.sel(m.is_nan(x), x, res);
}

Value* log_arg(Math32& m, Value* x) {
  auto& b = m.b();
  Value* ok = b.CreateAnd(b.CreateFCmpOGT(x, m.c(0.0f)), b.CreateFCmpOLT(x, m.c(INFINITY)));
  return m.sel(ok, x, m.c(1.0f));
}

// L (c_hi + c_lo) as a float-float, plus `add`.
DD scaled(Math32& m, DD l, float c_hi, float c_lo, Value* add) {
  DD p = m.two_prod(l.hi, m.c(c_hi));
  Value* lo = m.fma(l.hi, m.c(c_lo), m.fma(l.lo, m.c(c_hi), p.lo));
  return {p.hi, add ? m.add(lo, add) : lo};
}

}  // namespace

Value* log2_32(Math32& m, Value* x) {
  LogParts lp = log_parts(m, log_arg(m, x));
  DD p = scaled(m, lp.l, 0x1.715476p+0f, 0x1.4ae0cp-26f, nullptr);
  DD s = m.fast_two_sum(lp.kf, p.hi);  // |k| >= 1 > |p.hi|, or k = 0
  return log_specials(m, x, m.add(s.hi, m.add(s.lo, p.lo)));
}

Value* log10_32(Math32& m, Value* x) {
  LogParts lp = log_parts(m, log_arg(m, x));
  Value* kh = m.mul(lp.kf, m.c(0x1.3442p-2f));  // exact: 16-bit constant, |k| < 2^8
  DD p = scaled(m, lp.l, 0x1.bcb7b2p-2f, -0x1.5b235ep-27f, m.mul(lp.kf, m.c(-0x1.95ec1p-19f)));
  DD s = m.two_sum(kh, p.hi);
  return log_specials(m, x, m.add(s.hi, m.add(s.lo, p.lo)));
}

Value* expm1_32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* xc = m.sel(b.CreateFCmpOGT(x, m.c(89.0f)), m.c(89.0f), x);
  xc = m.sel(b.CreateFCmpOLT(xc, m.c(-20.0f)), m.c(-20.0f), xc);  // e^-20 < 2^-25: gives -1
  xc = m.sel(m.is_nan(x), m.c(0.0f), xc);
  ExpCoreF e = exp_core_f(m, xc);
  Value* k = m.to_int(e.kf);
  Value* small_k = b.CreateICmpSLT(k, m.ci(60));
  Value* sk = m.pow2(m.sel(small_k, k, m.ci(0)));
  // e^r - 1 = shi + slo: shi = (1 + r1) - 1 rounded once (exact), slo its error plus t.
  Value* shi = m.sub(m.add(m.c(1.0f), e.r1), m.c(1.0f));
  Value* slo = m.add(m.sub(e.r1, shi), e.t);
  DD big = m.two_sum(sk, m.c(-1.0f));
  DD s = m.two_sum(big.hi, m.mul(sk, shi));
  Value* sum = m.add(s.hi, m.add(s.lo, m.add(big.lo, m.mul(sk, slo))));
  DD h = m.fast_two_sum(m.c(1.0f), e.r1);
  Value* large = m.scale(m.add(h.hi, m.add(h.lo, e.t)), k);  // -1 below 2^-35 of the result
  Value* res = m.sel(small_k, sum, large);
  res = m.sel(b.CreateFCmpOEQ(x, m.c(0.0f)), x, res);
  return m.sel(m.is_nan(x), x, res);
}

Value* log1p_32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* ok = b.CreateAnd(b.CreateFCmpOGT(x, m.c(-1.0f)), b.CreateFCmpOLT(x, m.c(INFINITY)));
  DD u = m.two_sum(m.c(1.0f), m.sel(ok, x, m.c(0.0f)));  // 1 + x exactly; u.hi >= 2^-24
  LogParts lp = log_parts(m, u.hi);
  Value* kh = m.mul(lp.kf, m.c(0x1.62e4p-1f));  // exact: 17-bit constant, |k| < 2^8
  Value* lo = m.add(m.fma(lp.kf, m.c(0x1.7f7d1cp-20f), lp.l.lo), m.div(u.lo, u.hi));
  DD s = m.two_sum(kh, lp.l.hi);
  Value* res = m.add(s.hi, m.add(s.lo, lo));
  res = m.sel(b.CreateFCmpOEQ(x, m.c(0.0f)), x, res);
  res = m.sel(b.CreateFCmpOEQ(x, m.c(INFINITY)), x, res);
  res = m.sel(b.CreateFCmpOEQ(x, m.c(-1.0f)), m.c(-INFINITY), res);
  res = m.sel(b.CreateFCmpOLT(x, m.c(-1.0f)), m.c(NAN), res);
  return m.sel(m.is_nan(x), x, res);
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
