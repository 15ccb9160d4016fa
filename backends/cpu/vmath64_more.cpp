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
// log, log2, log10 (log_fast): x = 2^k z (z in [0x1.6955p-1, 0x1.6955p0), vmath64_fast.cpp's
// offset) on 16 subintervals (one vpermi2pd per lookup), r = fma(z, invc, -1) with invc =
// kShortInvc[i] a multiple of 2^-6 chosen so that the fma is exact (no product pair; invc = 1
// on the subinterval holding 1, so there log x = log1p(r) directly); log_b x = hi + lo with hi =
// k log_b 2 + log_b c + r/ln b (k log_b 2's and log_b c's leading parts multiples of 2^-42, their
// sum exact; r/ln b a product and its fma residual; hi by Fast2Sum, its error into lo) and lo
// the rest plus r^2 q(r), q of degree 8 fitted per base (below 2^-58 |r|), summed once. Lanes
// that are not positive normal numbers (0, denormal, negative, inf, NaN) are computed on integer
// garbage that raises no flag (z stays in [0.7, 1.42), k in [-2048, 2047]) and replaced by the
// value of an out-of-line path (log_slow_function): behind one unlikely branch per vector, the
// special values by integer selects on the bits (no compare of a NaN), and the scalar kernel
// with the denormal rescaling lane by lane for a vector holding a denormal (such vectors ~7x
// slower; zeros, NaN and negatives cost about nothing). Max: log 0.532, log2 0.544, log10 0.554
// ulp (ShortLogSubintervals, TableKernelsHardCases, the sweeps). log1p is log(uh) + d - d^2/2 with 1 + x = uh +
// ul exactly and d = ul/uh, log(uh) by log_short: the same reduction with 1/c = 2/(a + b) (the
// product z*invc as an exact pair, r by Sterbenz, the pair's low part carried as p.lo (1 - r))
// and log1p(r) = r + r^2 (-1/2 + r P(r)), P of degree 8 (error below 2^-65 |r|). Max log1p
// 0.534 ulp (0.66 against glibc's log1pl at +-1.8e-16, a reference artefact: vmath.cpp's table).
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
// Session 9 (log_fast), one thread, 32K elements (cache-resident: the kernel, not memory), wall
// time, min of 1000, NumPy 2.4 in the same process, the previous build alternating with this one,
// machine at load ~8-9 (us, ours (NumPy)): log 38.6 -> 27.8 (25.2), log2 42.0 -> 29.6 (27.6),
// log10 41.8 -> 33.0 (28.4). The loop per 8 lanes lost the exact product z*invc and its
// correction, one polynomial degree, the denormal rescale and the special-value selects (the
// out-of-line path costs one compare and a branch). Vectors holding a special lane: 10% zeros
// 38.6 -> ~31-37 us per 32K (NumPy 42), all NaN 38 -> 33-46 (NumPy 91), all denormal 38 -> ~290
// (NumPy 25, lane by lane). tan: interleaved by 4 (vmath64_fast.cpp's hint_fast64_loops), 86.6
// -> 64.0 us (NumPy 44).
#include "backends/cpu/vmath64_more.h"
#include "backends/cpu/vmath64_fast.h"
#include "backends/cpu/vmath_internal.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>

#include <array>
#include <cmath>
#include <cstdint>
#include <string>
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

// ---- log, log2, log10: short 1/c (exact reduction by one fma), integer-only special cases ----

// log(v) for v in [0.5, 2] by 2 atanh((v-1)/(v+1)), in __float128.
__float128 log_q(__float128 v) {
  __float128 s = (v - 1) / (v + 1), s2 = s * s, term = s, sum = 0;
  for (int n = 1; n < 160; n += 2) {
    sum += term / n;
    term *= s2;
  }
  return 2 * sum;
}
// v rounded to a multiple of 2^-42.
double round42(__float128 v) {
  return static_cast<double>(static_cast<__float128>(std::nearbyint(static_cast<double>(v * 0x1p42))) / 0x1p42);
}

// 1/c for the 16 subintervals of [0x1.6955p-1, 0x1.6955p0) (vmath64_fast.cpp's offset, index the
// top 4 bits of z's offset; subinterval 9 holds 1): multiples of 2^-6 with few bits, chosen so
// that r = fma(z, invc, -1) is exact (|r| * 2^59 < 2^53 below 1, |r| * 2^58 < 2^53 above;
// subinterval 1 alone may round r when |r| >= 2^-6, an error below 2^-59 against |log x| >=
// 0.26) with the smallest |r| among such: r in [-0.03838, 0.03644] over all subintervals.
constexpr double kShortInvc[16] = {88 / 64.0, 85 / 64.0, 82 / 64.0, 78 / 64.0, 76 / 64.0, 72 / 64.0,
                                   70 / 64.0, 68 / 64.0, 66 / 64.0, 1.0,       60 / 64.0, 56 / 64.0,
                                   54 / 64.0, 51 / 64.0, 48 / 64.0, 46 / 64.0};

// Per base (e, 2, 10): -log_b(invc) as a multiple of 2^-42 plus its tail, log_b(2) likewise
// (hi * k exact for |k| <= 1075), and the polynomial q(r) ~ (log1p(r) - r) / (r^2 ln b).
struct ShortLog {
  double logc[16], tail[16];
  double l2hi, l2lo;
  double inv[2];  // 1/ln b as a double-double (b = 2, 10)
};
const ShortLog& short_log(int base) {
  static const std::array<ShortLog, 3> tabs = [] {
    std::array<ShortLog, 3> t{};
    const fast64::TableView& tv = fast64::table_view();
    __float128 ln2 = log_q(2);
    __float128 lnb[3] = {1, ln2, 3 * ln2 + log_q(static_cast<__float128>(1.25))};
    for (int b = 0; b < 3; ++b) {
      for (int i = 0; i < 16; ++i) {
        __float128 v = -log_q(kShortInvc[i]) / lnb[b];
        t[b].logc[i] = round42(v);
        t[b].tail[i] = static_cast<double>(v - t[b].logc[i]);
      }
      __float128 l2 = ln2 / lnb[b];
      t[b].l2hi = round42(l2);
      t[b].l2lo = static_cast<double>(l2 - t[b].l2hi);
    }
    t[1].inv[0] = tv.inv_ln2[0], t[1].inv[1] = tv.inv_ln2[1];
    t[2].inv[0] = tv.inv_ln10[0], t[2].inv[1] = tv.inv_ln10[1];
    return t;
  }();
  return tabs[base];
}

// log_b x (base 0: e, 1: 2, 2: 10) with NumPy's special values. x = 2^k z as log_short; r =
// fma(z, invc, -1) exact (kShortInvc); log_b x = hi + lo with hi = t1 + r/ln b, t1 = k log_b 2
// + log_b c exact (multiples of 2^-42 below 2^10; log2: k + log2 c), r/ln b as a pair (rh + rl:
// one product and its fma residual; r itself for log), hi = t1 + rh by Fast2Sum (|t1| >= |rh|
// unless t1 = 0, on subinterval 9 with k = 0), and lo the rest (Fast2Sum's error, rl, k log_b
// 2's and log_b c's tails, r^2 q(r)) summed once. q: degree 8, fitted to (log1p r - r)/(r^2 ln
// b) on [-0.0386, 0.0366] (Remez, weight |r| + 0.004; max |r^2 (q - exact)| / |r| below
// 2^-58.1). The lanes that are not positive finite numbers give integer garbage here (z stays in
// [0.7, 1.42), k in [-2048, 2047]: no flag is raised) and take their value by integer selects
// on the bits (no compare of a NaN); denormals are rescaled as in log_short.
Value* log_full(Math& m, Value* x, int base, bool full) {
  auto& b = m.b();
  const ShortLog& s = short_log(base);
  static const std::vector<double> kQ[3] = {
      {-0x1.0000000000000p-1, 0x1.55555555553c6p-2, -0x1.fffffffff9c25p-3, 0x1.9999999f1c2b7p-3, -0x1.555555a91b664p-3,
       0x1.2492199b4d58cp-3, -0x1.fffce85e4afa3p-4, 0x1.c85d7c024dfd2p-4, -0x1.9eb466c6b412cp-4},
      {-0x1.71547652b82ffp-1, 0x1.ec709dc3a01bdp-2, -0x1.71547652b3af6p-2, 0x1.2776c512f342bp-2, -0x1.ec709e3c7c620p-3,
       0x1.a6171e13228bep-3, -0x1.71523b4815bf6p-3, 0x1.4932a8ad484f6p-3, -0x1.2b256d81a524fp-3},
      {-0x1.bcb7b1526e50fp-3, 0x1.287a7636f4204p-3, -0x1.bcb7b15268e52p-4, 0x1.63c62779ee421p-4, -0x1.287a767fb806fp-4,
       0x1.fc3f5380e0be1p-5, -0x1.bcb501b82ededp-5, 0x1.8c64cd019d203p-5, -0x1.68353a3b2df40p-5}};
  static const char* const kNames[3][2] = {{"tracejit.vm64.slog_logc", "tracejit.vm64.slog_tail"},
                                           {"tracejit.vm64.slog2_logc", "tracejit.vm64.slog2_tail"},
                                           {"tracejit.vm64.slog10_logc", "tracejit.vm64.slog10_tail"}};
  Value* x_bits = m.bits(x);
  Value* ix = x_bits;
  if (full) {
    Value* sub = b.CreateICmpSLT(ix, m.ci(INT64_C(0x0010000000000000)));
    Value* xs = b.CreateSIToFP(ix, x->getType());
    ix = m.sel(sub, b.CreateSub(m.bits(xs), m.ci(INT64_C(1074) << 52)), ix);
  }
  Value* tmp = b.CreateSub(ix, m.ci(static_cast<int64_t>(fast64::table_view().log_off)));
  Value* i = b.CreateLShr(tmp, m.ci(48));  // taken modulo 16 by the lookups
  Value* kd = m.to_fp(b.CreateAShr(tmp, m.ci(52)));
  Value* z = m.from_bits(b.CreateSub(ix, b.CreateAnd(tmp, m.ci(static_cast<int64_t>(0xfffULL << 52)))));
  Value* invc = fast64::lut(m, "tracejit.vm64.slog_invc", kShortInvc, false, i, 16);
  Value* logc = fast64::lut(m, kNames[base][0], s.logc, false, i, 16);
  Value* tail = fast64::lut(m, kNames[base][1], s.tail, false, i, 16);
  Value* r = m.fma(z, invc, m.c(-1.0));  // exact
  Value* t1 = base == 1 ? m.add(kd, logc) : m.fma(kd, m.c(s.l2hi), logc);  // exact
  Value* rh = r;
  Value* lo1 = base == 1 ? tail : m.fma(kd, m.c(s.l2lo), tail);
  if (base != 0) {
    rh = m.mul(r, m.c(s.inv[0]));
    lo1 = m.add(lo1, m.fma(r, m.c(s.inv[1]), m.fma(r, m.c(s.inv[0]), m.neg(rh))));
  }
  Value* hi = m.add(t1, rh);
  Value* lo = m.add(m.sub(t1, hi), rh);
  Value* res = m.add(hi, m.add(lo, m.fma(m.mul(r, r), horner(m, r, kQ[base]), lo1)));
  if (!full) return res;
  // +-0 -> -inf, +inf and +NaN -> x, the rest (negative, -inf, -NaN) NaN.
  Value* zero = b.CreateICmpEQ(b.CreateAnd(x_bits, m.ci(INT64_MAX)), m.ci(0));
  Value* pos = b.CreateICmpSGE(x_bits, m.ci(0));
  Value* spec = m.sel(zero, m.ci(static_cast<int64_t>(0xfff0000000000000ULL)),
                      m.sel(pos, x_bits, m.ci(INT64_C(0x7ff8000000000000))));
  return m.from_bits(m.sel(log_ok(m, x), m.bits(res), spec));
}

// x a positive normal number (not 0, denormal, inf, NaN or negative), by one unsigned compare.
Value* positive_normal(llvm::IRBuilderBase& b, Value* xb, llvm::Type* it) {
  return b.CreateICmpULT(b.CreateSub(xb, llvm::ConstantInt::get(it, INT64_C(0x0010000000000000))),
                         llvm::ConstantInt::get(it, INT64_C(0x7fe0000000000000)));
}

// The slow path of log_b for lanes that are not positive normal numbers: a function returning 0
// for those that are, else log_full (denormals rescaled, the special values). Its vector
// variants return zeros unless some lane needs it (the usual case: one compare and a branch,
// marked unlikely), else the special values of the whole vector by integer selects (zeros,
// negatives, inf and NaN cost a few instructions more per vector), and call the scalar
// function lane by lane only for a vector holding a denormal; inline_fast64_variants inlines
// them after the optimizer, so the loop holds the tests and the lane loop behind them.
llvm::Function* log_slow_function(llvm::Module* mod, int base) {
  static const char* const kNames[3] = {"tracejit.vm64.slog_slow", "tracejit.vm64.slog2_slow",
                                        "tracejit.vm64.slog10_slow"};
  std::string name = kNames[base];
  if (llvm::Function* f = mod->getFunction(name)) return f;
  auto& ctx = mod->getContext();
  llvm::Type* dt = llvm::Type::getDoubleTy(ctx);
  llvm::Type* it = llvm::Type::getInt64Ty(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(dt, {dt}, false), llvm::GlobalValue::InternalLinkage, name, mod);
  vmath_detail::mark_pure_out_of_line(f);
  auto* entry = llvm::BasicBlock::Create(ctx, "entry", f);
  auto* slow = llvm::BasicBlock::Create(ctx, "slow", f);
  auto* none = llvm::BasicBlock::Create(ctx, "none", f);
  llvm::IRBuilder<> fb(entry);
  Value* x = f->getArg(0);
  fb.CreateCondBr(positive_normal(fb, fb.CreateBitCast(x, it), it), none, slow);
  fb.SetInsertPoint(none);
  fb.CreateRet(llvm::ConstantFP::get(dt, 0.0));
  fb.SetInsertPoint(slow);
  Math fm(fb);
  fb.CreateRet(log_full(fm, x, base, true));
  llvm::MDNode* unlikely = llvm::MDBuilder(ctx).createBranchWeights(1, 1 << 20);
  for (unsigned vf : {2u, 4u, 8u, 16u}) {
    auto* vt = llvm::FixedVectorType::get(dt, vf);
    auto* vit = llvm::FixedVectorType::get(it, vf);
    auto* v = llvm::Function::Create(llvm::FunctionType::get(vt, {vt}, false), llvm::GlobalValue::InternalLinkage,
                                     name + ".v" + std::to_string(vf), mod);
    v->setDoesNotThrow();
    auto* ventry = llvm::BasicBlock::Create(ctx, "entry", v);
    auto* vslow = llvm::BasicBlock::Create(ctx, "slow", v);
    auto* vnone = llvm::BasicBlock::Create(ctx, "none", v);
    llvm::IRBuilder<> vb(ventry);
    Value* vx = v->getArg(0);
    Value* bad = vb.CreateNot(positive_normal(vb, vb.CreateBitCast(vx, vit), vit));
    Value* any = vb.CreateICmpNE(vb.CreateBitCast(bad, vb.getIntNTy(vf)), llvm::ConstantInt::get(vb.getIntNTy(vf), 0));
    vb.CreateCondBr(any, vslow, vnone, unlikely);
    vb.SetInsertPoint(vnone);
    vb.CreateRet(llvm::Constant::getNullValue(vt));
    vb.SetInsertPoint(vslow);
    // +-0 -> -inf, +inf and +NaN -> x, the rest (negative, -inf, -NaN) NaN, on the whole vector
    // by integer selects; the scalar function lane by lane only where a lane is denormal.
    auto ci = [&](int64_t c) { return llvm::ConstantInt::get(vit, static_cast<uint64_t>(c), true); };
    Value* xb = vb.CreateBitCast(vx, vit);
    Value* zero = vb.CreateICmpEQ(vb.CreateAnd(xb, ci(INT64_MAX)), ci(0));
    Value* spec = vb.CreateSelect(zero, ci(static_cast<int64_t>(0xfff0000000000000ULL)),
                                  vb.CreateSelect(vb.CreateICmpSGE(xb, ci(0)), xb, ci(INT64_C(0x7ff8000000000000))));
    spec = vb.CreateBitCast(spec, vt);
    Value* den = vb.CreateICmpULT(vb.CreateSub(xb, ci(1)), ci(INT64_C(0x000fffffffffffff)));
    Value* any_den = vb.CreateICmpNE(vb.CreateBitCast(den, vb.getIntNTy(vf)), llvm::ConstantInt::get(vb.getIntNTy(vf), 0));
    auto* lanes = llvm::BasicBlock::Create(ctx, "denormal", v);
    auto* done = llvm::BasicBlock::Create(ctx, "special", v);
    vb.CreateCondBr(any_den, lanes, done, unlikely);
    vb.SetInsertPoint(done);
    vb.CreateRet(spec);
    vb.SetInsertPoint(lanes);
    vmath_detail::return_per_lane_calls(vb, f, {vx}, spec, vf);
    llvm::appendToCompilerUsed(*mod, {v});
  }
  return f;
}

// log_b x: log_full's kernel without the rescaling of denormals and the special values, the lanes
// that need them (not positive normal numbers) from log_slow_function out of line: ~10 integer
// operations and selects fewer per vector (log 1.2x faster), at the cost of lane-by-lane calls
// in the vectors that hold such a lane.
Value* log_fast(Math& m, Value* x, int base) {
  auto& b = m.b();
  llvm::Function* f = log_slow_function(b.GetInsertBlock()->getModule(), base);
  static constexpr unsigned kVFs[] = {2, 4, 8, 16};
  llvm::CallInst* slow = vmath_detail::call_with_variants(b, f, {x}, kVFs);
  Value* fast = log_full(m, x, base, false);
  return m.sel(positive_normal(b, m.bits(x), b.getInt64Ty()), fast, slow);
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
  switch (op) {
    case ir::Op::Sinh: return sinhcosh(m, x, false);
    case ir::Op::Cosh: return sinhcosh(m, x, true);
    case ir::Op::Log: return log_fast(m, x, 0);
    case ir::Op::Log2: return log_fast(m, x, 1);
    case ir::Op::Log10: return log_fast(m, x, 2);
    case ir::Op::Log1p: return log1p_more(m, x);
    default: return nullptr;
  }
}

}  // namespace tracejit::backends
