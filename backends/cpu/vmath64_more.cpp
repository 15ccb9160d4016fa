// Shorter float64 sinh, cosh, log, log2, log10, log1p and tan's kernel on vmath64_fast.cpp's
// tables (register-resident lookups: fast64::lut, 8 or 16 entries here), trading that file's
// ~0.5 ulp exact pairs for fewer vector instructions at a stated max error below 0.7 ulp
// (measured against long double: tests/cpp/backends/test_vmath.cpp, millions of random inputs
// plus the hard cases; the python tests compare with NumPy).
//
// sinh, cosh: e^a and e^-a (a = |x|) from ONE reduction a = kd ln2/8 + r (|r| <= ln2/16):
// e^+-a = s+- (1 + t+-) with s+ = 2^(ki/8), s- = 2^(-ki/8) (exact table values T[j] = 2^(j/8)
// rounded, their bits less j<<49, so s+- is an integer addition; one vpermpd per lookup),
// t+- = +-r + r^2 (Pe(r^2) +- r Po(r^2)) + tail+- (tail: T[j]'s rounding error, relative). 2 cosh
// a = (s+ + s-) + s+ t+ + s- t-, 2 sinh a = (s+ - s-) + s+ t+ - s- t-: the first sum an exact
// pair (Fast2Sum, s+ >= s-), the rest added to its low part by two fmas, rounded once. No
// division, no exact-product pairs. sinh below a = 1/2 is an odd polynomial a + a z P(z) (z =
// a^2, P of degree 5 fitted at Chebyshev nodes: relative error below 2^-58.6), where s+ - s-
// would cancel more than 2x. From 704 on s+ is scaled by 2^-1009 and the result multiplied back
// (overflow from 710.48 with the flag NumPy raises; +-inf gives inf without one; a >= 711 is
// clamped to 711). Max 0.625 (sinh) and 0.603 ulp (cosh); the exact-pair code before: 0.512 /
// 0.500 at ~1.5x the instructions.
//
// log, log2, log10, log1p: x = 2^k z, z*(1/c) = 1 + r as vmath64_fast.cpp's log core (z in
// [0x1.6955p-1, 0x1.6955p0), the product z*invc as an exact pair, r by Sterbenz, the pair's low
// part carried as p.lo (1 - r)), but on 16 subintervals (one vpermi2pd per lookup; invc = 1 on
// the one holding 1, so there log x = log1p(r) directly) and with log1p(r) = r + r^2 (-1/2 + r
// P(r)), P of degree 8 fitted on [-0.0303, 0.0367] (error below 2^-65 |r|), instead of the
// ~2^-68 pair pow needs: log x = hi + lo with hi = k ln2hi + log c + r (Fast2Sum, the rounding
// error into lo; k ln2hi + log c exact, both multiples of 2^-42) and lo the rest (k ln2lo, log
// c's tail, p.lo (1 - r), the polynomial), summed once. log2 and log10 multiply that pair by
// 1/ln2 or 1/ln10 as double-doubles; log1p is log(uh) + d - d^2/2 with 1 + x = uh + ul exactly
// and d = ul/uh (as before). Special values by integer tests on the bits (no ordered compare of
// a NaN). Max: log 0.540, log2 0.573, log10 0.545, log1p 0.534 ulp (0.66 against glibc's
// log1pl at +-1.8e-16, a reference artefact: see vmath.cpp's table).
//
// tan (tan_kernel64, after vmath.cpp's reduction x = n pi/2 + y, y = yh + yl): sin y = yh + sl
// and cos y = w + cl from fdlibm's k_sin/k_cos polynomials (relative error below 2^-58), their
// leading terms from exact pairs (yh^2 = zh + zl by fma, yh^3 = v + vl, w = 1 - zh/2 with its
// rounding error exact); tan = sin/cos (n even) or -cos/sin (n odd) by selecting numerator and
// denominator pairs: one reciprocal of the rounded denominator, q = (rounded numerator) *
// reciprocal, then q + (num - q den) * reciprocal with num - q den from a two_prod and Sterbenz.
// Max 0.695 ulp (fdlibm's k_tan before: 0.851).
//
// Speed, one thread (TRACEJIT_NUM_THREADS=1), 4M float64, NumPy 2.4's SVML loops in the same
// process, min of 40 process-CPU times (the shared 2-core machine at load 10-12; wall times swung
// 3x), ms, ours (NumPy): sinh 4.96 (4.71), cosh 3.72 (3.68), log 4.92 (3.19), log2 5.16 (3.26),
// log10 5.11 (3.30), log1p 6.34 (4.13), tan 10.7 (5.46). Before (the exact-pair and k_tan code,
// wall at load 1.4): sinh 7.90, cosh 6.83, log 6.02, log2 6.8, log1p 7.46, tan 15.7. Per 8 lanes
// (llvm-mca on the loop, icelake-server model): cosh ~23 cycles, sinh ~28, log ~25; sinh pays
// its small-|x| polynomial on every lane, the log family its three lookups, the exact product
// z*invc and a degree-8 polynomial (NumPy's ~1-4 ulp loops get away with less). tan's cost is
// now mostly vmath.cpp's double-double Cody-Waite reduction and the huge-lane test (sin and cos,
// which share them, take ~0.9x tan's time).
#include "backends/cpu/vmath64_more.h"
#include "backends/cpu/vmath64_fast.h"
#include "backends/cpu/vmath_internal.h"

#include <llvm/IR/IRBuilder.h>

#include <cmath>
#include <cstdint>
#include <vector>

namespace tracejit::backends {
namespace {

using llvm::Value;
using vmath_detail::DD;
using vmath_detail::Math;

// Horner's rule with fused multiply-adds: coef[0] + x coef[1] + ...
Value* horner(Math& m, Value* x, const std::vector<double>& coef) {
  Value* r = m.c(coef.back());
  for (size_t i = coef.size() - 1; i-- > 0;) r = m.fma(r, x, m.c(coef[i]));
  return r;
}

// 2^(j/8) for j in [0, 8): vmath64_fast.cpp's 32-entry exp tables at every fourth entry (the
// bit patterns less j<<49 = 4j<<47 are the same numbers).
struct Exp8 {
  double tail[8], sbits[8];
};
const Exp8& exp8() {
  static const Exp8 e = [] {
    const fast64::TableView& t = fast64::table_view();
    Exp8 e{};
    for (int j = 0; j < 8; ++j) e.tail[j] = t.exp_tail[4 * j], e.sbits[j] = t.exp_sbits[4 * j];
    return e;
  }();
  return e;
}

Value* sinhcosh(Math& m, Value* x, bool is_cosh) {
  auto& b = m.b();
  const fast64::TableView& t = fast64::table_view();
  const Exp8& e8 = exp8();
  // |x| clamped to 711 (overflows) by integer operations on the bits (no compare of a NaN);
  // +-inf and NaN lanes computed on 0 and replaced at the end.
  Value* abits = b.CreateAnd(m.bits(x), m.ci(INT64_MAX));
  Value* special = b.CreateICmpSGE(abits, m.ci(INT64_C(0x7ff0000000000000)));
  Value* cbits = m.sel(b.CreateICmpSLT(abits, m.ci(static_cast<int64_t>(0x4086380000000000))), abits,
                       m.ci(static_cast<int64_t>(0x4086380000000000)));  // 711.0
  Value* ac = m.from_bits(m.sel(special, m.ci(0), cbits));
  Value* big = m.gt(ac, 704.0);
  Value* kd = m.rint(m.mul(ac, m.c(t.inv_ln2_n / 4)));
  Value* r = m.fma(m.neg(kd), m.c(4 * t.ln2lo_n), m.fma(m.neg(kd), m.c(4 * t.ln2hi_n), ac));  // |r| <= ln2/16
  Value* ki = m.to_int(kd);
  // e^-|x|'s index is clamped at -8000 (|x| >= 693) so that s- stays a normal number (>= 2^-1000)
  // formed by integer addition: e^-|x| is below 2^-115 of e^|x| long before (from |x| = 40), and
  // still below 2^-1000 of e^|x| on big lanes, where s+ is scaled by 2^-1009 and s- is not.
  Value* nk = b.CreateNeg(ki);
  Value* kim = m.sel(b.CreateICmpSGT(nk, m.ci(-8000)), nk, m.ci(-8000));
  Value* tailp = fast64::lut(m, "tracejit.vm64.exp8_tail", e8.tail, false, ki, 8);
  Value* tailm = fast64::lut(m, "tracejit.vm64.exp8_tail", e8.tail, false, kim, 8);
  Value* scale = m.sel(big, m.ci(INT64_C(1009) << 52), m.ci(0));
  Value* bp = b.CreateAdd(fast64::lut(m, "tracejit.vm64.exp8_sbits", e8.sbits, true, ki, 8), b.CreateShl(ki, m.ci(49)));
  Value* sp = m.from_bits(b.CreateSub(bp, scale));
  Value* bm = b.CreateAdd(fast64::lut(m, "tracejit.vm64.exp8_sbits", e8.sbits, true, kim, 8), b.CreateShl(kim, m.ci(49)));
  Value* sm = m.from_bits(bm);
  // e^+-r - 1 = +-r + r^2 (Pe(r^2) +- r Po(r^2)), each rounded once before the table's tail is
  // added: Pe Taylor to r^8 (truncation below 2^-67), Po a fit of (sinh r - r)/r^3 (absolute
  // error of r^3 Po below 2^-64 on |r| <= ln2/16, Chebyshev nodes, tools in the commit message).
  Value* r2 = m.mul(r, r);
  Value* pe = horner(m, r2, {0.5, 1.0 / 24, 1.0 / 720, 1.0 / 40320});
  Value* po = horner(m, r2, {0x1.555555555556ap-3, 0x1.1111110e1053ep-7, 0x1.a01e2c16562bap-13});
  Value* tp = m.add(m.fma(r2, m.fma(r, po, pe), r), tailp);
  Value* tm = m.add(m.fma(r2, m.fma(m.neg(r), po, pe), m.neg(r)), tailm);
  Value* smm = is_cosh ? sm : m.neg(sm);
  DD h = m.fast_two_sum(sp, smm);
  Value* lo = m.fma(sp, tp, m.fma(smm, tm, h.lo));
  Value* res = m.mul(m.add(h.hi, lo), m.sel(big, m.c(0x1p1008), m.c(0.5)));
  if (!is_cosh) {
    Value* z = m.mul(ac, ac);
    Value* p = horner(m, z, {0x1.5555555555555p-3, 0x1.1111111111120p-7, 0x1.a01a01a00f0f4p-13, 0x1.71de3a842c03dp-19,
                             0x1.ae63a1bd3aa0fp-26, 0x1.6266a3459e631p-33});
    res = m.sel(m.lt(ac, 0.5), m.fma(m.mul(ac, z), p, ac), res);
  }
  // inf -> inf (cosh) or x (sinh), NaN -> NaN.
  if (is_cosh) return m.sel(special, m.fabs(x), res);
  return m.sel(special, x, m.copysign(res, x));
}

// log x = hi + lo (not normalized; relative error ~2^-62) for finite x > 0, denormals included.
DD log_short(Math& m, Value* x) {
  auto& b = m.b();
  const fast64::TableView& t = fast64::table_view();
  Value* ix = m.bits(x);
  Value* sub = b.CreateICmpSLT(ix, m.ci(INT64_C(0x0010000000000000)));
  // A denormal x as its bit pattern times 2^-1074 (see vmath64_fast.cpp's log_core).
  Value* xs = b.CreateSIToFP(ix, x->getType());
  ix = m.sel(sub, b.CreateSub(m.bits(xs), m.ci(INT64_C(1074) << 52)), ix);
  Value* tmp = b.CreateSub(ix, m.ci(static_cast<int64_t>(t.log_off)));
  Value* i = b.CreateLShr(tmp, m.ci(48));  // taken modulo 16 by the lookups
  Value* kd = m.to_fp(b.CreateAShr(tmp, m.ci(52)));
  Value* z = m.from_bits(b.CreateSub(ix, b.CreateAnd(tmp, m.ci(static_cast<int64_t>(0xfffULL << 52)))));
  Value* invc = fast64::lut(m, "tracejit.vm64.log16_invc", t.invc16, false, i, 16);
  Value* logc = fast64::lut(m, "tracejit.vm64.log16_logc", t.logc16, false, i, 16);
  Value* logctail = fast64::lut(m, "tracejit.vm64.log16_logctail", t.logctail16, false, i, 16);
  DD p = m.two_prod(z, invc);
  Value* r = m.sub(p.hi, m.c(1.0));  // exact (Sterbenz)
  Value* t1 = m.fma(kd, m.c(t.ln2hi), logc);  // exact: multiples of 2^-42 below 2^10
  // |t1| >= |r| unless t1 = 0 (k = 0 and the subinterval holding 1, where invc = 1): Fast2Sum.
  Value* hi = m.add(t1, r);
  Value* lo = m.add(m.sub(t1, hi), r);
  Value* lo1 = m.add(m.fma(kd, m.c(t.ln2lo), logctail), m.fma(m.neg(p.lo), r, p.lo));  // p.lo/(1 + r)
  // log1p(r) - r = r^2 (-1/2 + r P(r)), P a fit of (log1p r - r + r^2/2)/r^3 on [-0.0303,
  // 0.0367] (|r| bounds of the 16 subintervals) at Chebyshev nodes: error below 2^-65 |r|.
  Value* q = m.fma(r, horner(m, r, {0x1.5555555555555p-2, -0x1.fffffffffff95p-3, 0x1.999999999da48p-3,
                                    -0x1.555555569d8c0p-3, 0x1.249248cea421cp-3, -0x1.ffffdc9357942p-4,
                                    0x1.c720e8c277f46p-4, -0x1.9a5589dc855d2p-4, 0x1.6b706106eaccep-4}),
                   m.c(-0.5));
  return {hi, m.add(m.add(lo, lo1), m.mul(m.mul(r, r), q))};
}

// 0 < x < inf (denormals included), by one unsigned compare of the bits.
Value* log_ok(Math& m, Value* x) {
  return m.b().CreateICmpULT(m.b().CreateSub(m.bits(x), m.ci(1)), m.ci(INT64_C(0x7fefffffffffffff)));
}

// log's value on the lanes log_ok rejects: +-0 -> -inf, +inf and +NaN -> x, the rest (negative,
// -inf, -NaN) NaN.
Value* log_special(Math& m, Value* x) {
  Value* pos = m.b().CreateICmpSGE(m.bits(x), m.ci(0));
  return m.sel(m.eq(x, 0.0), m.c(-INFINITY), m.sel(pos, x, m.c(NAN)));
}

Value* log_more(Math& m, Value* x, const double* scale) {
  Value* ok = log_ok(m, x);
  DD l = log_short(m, m.sel(ok, x, m.c(1.0)));
  Value* res;
  if (!scale) {
    res = m.add(l.hi, l.lo);
  } else {
    DD p = m.two_prod(l.hi, m.c(scale[0]));
    res = m.add(p.hi, m.add(p.lo, m.fma(l.hi, m.c(scale[1]), m.mul(l.lo, m.c(scale[0])))));
  }
  return m.sel(ok, res, log_special(m, x));
}

// log1p(x) = log(uh) + log(1 + ul/uh) with 1 + x = uh + ul exactly; x = +-0 returns x.
Value* log1p_more(Math& m, Value* x) {
  auto& b = m.b();
  Value* xq = m.sel(m.is_nan(x), m.c(0.0), x);  // NaN (fixed below) compares quietly
  Value* ok = b.CreateAnd(m.gt(xq, -1.0), m.lt(xq, INFINITY));
  DD u = m.two_sum(m.c(1.0), m.sel(ok, x, m.c(0.0)));
  DD l = log_short(m, u.hi);
  Value* d = m.div(u.lo, u.hi);  // log(1 + d) = d - d^2/2 to 2^-159
  Value* res = m.add(l.hi, m.add(l.lo, m.fma(m.mul(d, m.c(-0.5)), d, d)));
  res = m.sel(m.eq(x, 0.0), x, res);
  Value* spec = m.sel(m.eq(x, -1.0), m.c(-INFINITY), m.sel(m.eq(x, INFINITY), x, m.c(NAN)));
  return m.sel(m.is_nan(x), x, m.sel(ok, res, spec));
}

}  // namespace

DD log_pair64(Math& m, Value* x) { return log_short(m, x); }

Value* tan_kernel64(Math& m, DD y, Value* n) {
  auto& b = m.b();
  Value *yh = y.hi, *yl = y.lo;
  DD z = m.two_prod(yh, yh);
  // sin y = yh + sl: fdlibm k_sin's polynomial (relative error below 2^-58 on |y| <= pi/4) with
  // its leading term -y^3/6 from exact pairs (yh^3 = v + vl), plus yl (1 - z/2).
  constexpr double kS1 = -1.66666666666666324348e-01;
  Value* sp = horner(m, z.hi, {8.33333333332248946124e-03, -1.98412698298579493134e-04, 2.75573137070700676789e-06,
                               -2.50507602534068634195e-08, 1.58969099521155010221e-10});
  Value* hz = m.mul(z.hi, m.c(0.5));
  Value* v = m.mul(yh, z.hi);
  Value* vl = m.fma(yh, z.lo, m.fma(yh, z.hi, m.neg(v)));
  Value* sl = m.fma(v, m.c(kS1), m.fma(m.mul(v, z.hi), sp, m.fma(vl, m.c(kS1), m.fma(m.neg(hz), yl, yl))));
  // cos y = w + cl: w = 1 - zh/2 rounded, its rounding error exact (Fast2Sum), -zl/2, k_cos's
  // polynomial and -yh yl.
  Value* cp = horner(m, z.hi, {4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05,
                               -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11});
  Value* w = m.sub(m.c(1.0), hz);
  Value* cl = m.add(m.fma(z.lo, m.c(-0.5), m.sub(m.sub(m.c(1.0), w), hz)),
                    m.fma(m.mul(z.hi, z.hi), cp, m.neg(m.mul(yh, yl))));
  // tan = sin/cos (n even) or -cos/sin (n odd): one reciprocal of the rounded denominator, the
  // quotient corrected once by the residual of the unrounded pairs.
  Value* odd = b.CreateICmpNE(b.CreateAnd(n, m.ci(1)), m.ci(0));
  Value* nh = m.sel(odd, m.neg(w), yh);
  Value* nl = m.sel(odd, m.neg(cl), sl);
  Value* dh = m.sel(odd, yh, w);
  Value* dl = m.sel(odd, sl, cl);
  Value* inv = m.div(m.c(1.0), m.add(dh, dl));
  Value* q = m.mul(m.add(nh, nl), inv);
  // The residual num - q den: nh - q dh exact (a two_prod, then Sterbenz: q dh is within a factor
  // 2 of nh), the small rest rounded at a tenth of the numerator or less.
  DD p = m.two_prod(q, dh);
  Value* e = m.sub(m.add(m.sub(nh, p.hi), nl), m.fma(q, dl, p.lo));
  return m.fma(e, inv, q);
}

llvm::Value* emit_more64(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x) {
  Math m(b);
  const fast64::TableView& t = fast64::table_view();
  switch (op) {
    case ir::Op::Sinh: return sinhcosh(m, x, false);
    case ir::Op::Cosh: return sinhcosh(m, x, true);
    case ir::Op::Log: return log_more(m, x, nullptr);
    case ir::Op::Log2: return log_more(m, x, t.inv_ln2);
    case ir::Op::Log10: return log_more(m, x, t.inv_ln10);
    case ir::Op::Log1p: return log1p_more(m, x);
    default: return nullptr;
  }
}

}  // namespace tracejit::backends
