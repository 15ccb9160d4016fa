// Table-driven float32 log, log2, log10, log1p: native single precision (16 lanes per AVX-512
// vector), no division, no widening to double; the 32-entry tables are read by vmath_lut32's
// lut32_low_bits (one vpermi2ps per table and 16 lanes, the index unmasked).
//
// log, log2, log10 (log_base): x = 2^k z with z = getmant(x) in [3/4, 3/2) and k = getexp(x) +
// (z < 1) (vmath_lut32's getmant32_p75 / getexp32: vgetmantps / vgetexpps on AVX-512, which
// normalize denormals, so no scaling step; integer operations elsewhere). The table index is z's
// top 5 mantissa bits (bits(z) >> 18, whose low 5 bits the permute reads: no subtraction or
// mask): [1, 3/2) in 16 subintervals of 1/32, [3/4, 1) in 16 of 1/64. invc ~ 1/c, the 6-bit
// float minimizing max |r| over the subinterval (1 for [1, 1 + 1/32) and [1 - 1/64, 1), so that
// x near 1 is log_b(1 + r) alone, no cancellation): r = fma(z, invc, -1) in [-0.0206, 1/32],
// exact (at most 24 bits). log_b x = a + p:
// - a = k C1 + T_hi exact (C1 = log_b 2 and T_hi = log_b c rounded to multiples of 2^-16; log2:
//   k + T_hi);
// - p = fma(r, S1, lo + r (S2 + r Q(r))) with 1/ln b = S1 + S2, lo = k C2 + T_lo (the rest of
//   log_b 2 and of log_b c), Q a minimax cubic for (log(1 + r) - r)/r^2 (relative error of
//   r + r^2 Q below 2^-30.5), its coefficients times 1/ln b (log: p = r + (lo + r^2 Q));
// then a + p rounds. p's own rounding (|p| < 2^-4.5, so below 2^-29) is the price of the
// speed: 0.75 ulp instead of the exact-pair 0.64-0.69 of before. The special lanes come out of
// the same arithmetic without a flag (getexp(+-0) = -inf with getmant = 1 gives -inf; +inf
// gives +inf, NaN stays NaN; C2 > 0 so k C2 has k's sign); one select turns x < 0 (bit pattern
// above -0's) into NaN.
//
// log1p (log_core, integer reduction): 1 + x = uh + ul exactly (uh >= 2^-24, never denormal),
// uh = 2^k z with z in [0x1.66p-1, 0x1.66p0) (the bit offset kOff), i = the top 5 mantissa bits
// of z - kOff (tmp >> 18 unmasked), the same 6-bit invc (|r| < 2^-5.4), a quadratic P on
// |r| <= 0.02344 (2^-26.5), log(uh) = s + lo with s = a + r and its rounding error in lo (an
// exact pair: vmath_inv.cpp's inverse hyperbolics compute on with it), and ul/uh = ul 2^-k invc
// (1 - r) joins lo (no division; exact when uh = 1, so log1p(x) = x for tiny x). Every intermediate is
// finite for every input; the special lanes are selected at the end (integer and quiet compares).
// Special values as NumPy's: log_b(+-0) = -inf, log_b(x < 0) = NaN, log_b(+inf) = +inf, NaN in
// gives NaN; log1p(-1) = -inf, below NaN, log1p(+-0) = +-0, denormals kept.
//
// Max error in float32 ulps against the float64 result, every float32 input (log1p: every x in
// (-1, inf)): log 0.7515, log2 0.7545, log10 0.7566 (a scalar C++ model of exactly these
// operations, std::fma and the same tables, over every positive float; the compiled kernels by
// tests/python/float32_exhaustive.py agree to the digit: 0.7515 at x = 0.954304, 0.7545 at
// 1.031770, 0.7566 at 1.031721, no class mismatches), log1p 0.703 (float32_exhaustive.py; the
// cheaper a + p summation of log_base gave 0.8015 for ~5% speed and cost arcsinh/arccosh/
// arctanh their bounds, so log_core keeps the pair). Before (the exact pairs): log 0.686, log2
// 0.643, log10 0.667.
//
// Speed, 4M float32 in [0.01, 100) (log1p: [-0.5, 10)), one thread (TRACEJIT_NUM_THREADS=1),
// benchmarks/bench_vmath.py --runs 30 (min), best of 3, NumPy 2.4 in the same process, the
// shared 2-core machine at load 6-8 (ms; before: this file's exact-pair kernels on the integer
// reduction, measured the same way at load ~2):
//   ms      log   log2  log10 log1p
//   before  1.58  1.63  1.81  2.57
//   now     1.11  1.06  1.14  2.37
//   NumPy   1.49  0.87  0.95  1.69
// The log2 loop holds ~34 vector instructions per 16 lanes (the assembly, 4 vectors per
// iteration: loads, stores, reloads of spilled constants and the runtime's FP-flag bookkeeping
// included; ~42 before the getmant reduction, ~50 with the exact pairs): getmant, getexp, the
// k adjustment, the index shift, three vpermi2ps (each with a register copy), 8 float
// operations, one select. About 6 of the rest are the runtime's divide/invalid flag notes
// (x == 0, x < 0), which NumPy's loop does not pay per element. log1p keeps ~58 (the exact
// 1 + x, the integer reduction and five special-value selects).
#include "backends/cpu/vmath32_log.h"

#include "backends/cpu/vmath_lut32.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

namespace tracejit::backends::vmath_detail {
namespace {

constexpr int kN = 32;
constexpr uint32_t kOff = 0x3f330000;  // z in [0x1.66p-1, 0x1.66p0)

enum Base { kE = 0, kTwo = 1, kTen = 2 };

float as_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Tables and constants, computed once in long double (64-bit mantissa: log c to ~2^-64).
struct Tables {
  float invc[kN];
  float t_hi[3][kN];  // log_b c rounded to a multiple of 2^-16
  float t_lo[3][kN];  // the rest, rounded to float
  float c1[3], c2[3];  // log_b 2 = c1 (multiple of 2^-16) + c2
  float s1[3], s2[3];  // 1/ln b = s1 + s2
  float p[3][3];       // (1/ln b) times the polynomial below, rounded to float
  // log, log2, log10 (getmant reduction, z in [3/4, 3/2)): entry j for z's top 5 mantissa bits
  float g_invc[kN];
  float g_thi[3][kN];
  float g_tlo[3][kN];
  float q[3][4];  // (1/ln b) times the cubic below, rounded to float
};

// The 6-bit float minimizing max |z invc - 1| for z in [zl, zmax] (so that every r = z invc - 1,
// |r| < 2^-5, is exact in float).
double best_invc(double zl, double zmax, double from) {
  double best = 1e9, invc = 1.0;
  for (double v = from; v <= 1.03 / zl;) {
    int e;
    std::frexp(v, &e);
    double q = std::ldexp(1.0, e - 6);
    double cand = std::ceil(v / q) * q;
    double worst = std::max(std::fabs(zl * cand - 1), std::fabs(zmax * cand - 1));
    if (worst < best) best = worst, invc = cand;
    v = cand + q * 0.5;
  }
  return invc;
}

const Tables& tables() {
  static const Tables t = [] {
    Tables t{};
    const long double ln2 = std::log(2.0L), ln10 = std::log(10.0L);
    const long double scale[3] = {1.0L, 1.0L / ln2, 1.0L / ln10};
    const long double log2b[3] = {ln2, 1.0L, ln2 / ln10};
    auto split16 = [](long double v, float& hi, float& lo) {
      long double h = std::round(v * 65536.0L) / 65536.0L;
      hi = static_cast<float>(h);
      lo = static_cast<float>(v - h);
    };
    for (int i = 0; i < kN; ++i) {
      long double zl = as_float(kOff + (static_cast<uint32_t>(i) << 18));
      long double zh = as_float(kOff + (static_cast<uint32_t>(i + 1) << 18));
      // invc: the 6-bit float minimizing max |z invc - 1| over the subinterval (1 for the one
      // holding 1.0), so that every r = z invc - 1 (|r| < 2^-5.4) is exact in float.
      double zmax = as_float(kOff + (static_cast<uint32_t>(i + 1) << 18) - 1);
      double invc = best_invc(static_cast<double>(zl), zmax, 0.97 / static_cast<double>(zh));
      if (zl <= 1 && zh > 1) invc = 1.0;
      t.invc[i] = static_cast<float>(invc);
      long double logc = -std::log(static_cast<long double>(invc));
      for (int b = 0; b < 3; ++b) split16(logc * scale[b], t.t_hi[b][i], t.t_lo[b][i]);
    }
    for (int b = 0; b < 3; ++b) {
      split16(log2b[b], t.c1[b], t.c2[b]);
      t.s1[b] = static_cast<float>(scale[b]);
      t.s2[b] = static_cast<float>(scale[b] - t.s1[b]);
      // (log(1 + r) - r)/r^2 ~ c0 + c1 r + c2 r^2: minimax for the relative error of r + r^2 P
      // on |r| <= 0.02344 (2^-26.5; the Taylor coefficients give 2^-24).
      const long double minimax[3] = {-0.49999998L, 0.33342437L, -0.25012956L};
      for (int j = 0; j < 3; ++j) t.p[b][j] = static_cast<float>(minimax[j] * scale[b]);
      // The same for the getmant reduction's r in [-0.0206, 1/32]: a cubic (minimax for the
      // relative error of r + r^2 Q, 2^-30.5).
      const float cubic[4] = {-0.5f, 0x1.5555b8p-2f, -0x1.001762p-2f, 0x1.918b5ep-3f};
      for (int j = 0; j < 4; ++j) t.q[b][j] = static_cast<float>(cubic[j] * scale[b]);
    }
    // Entry j: z in [1 + j/32, 1 + (j+1)/32) for j < 16, [3/4 + (j-16)/64, ...) above; invc = 1
    // for the two subintervals next to 1 (x near 1: log(1 + r) alone, no cancellation).
    for (int j = 0; j < kN; ++j) {
      uint32_t zl = j < 16 ? 0x3f800000u + (static_cast<uint32_t>(j) << 18) : 0x3f400000u + (static_cast<uint32_t>(j - 16) << 18);
      double zmax = as_float(zl + (1u << 18) - 1);
      double invc = j == 0 || j == kN - 1 ? 1.0 : best_invc(as_float(zl), zmax, 0.97 / zmax);
      t.g_invc[j] = static_cast<float>(invc);
      long double logc = -std::log(static_cast<long double>(invc));
      for (int b = 0; b < 3; ++b) split16(logc * scale[b], t.g_thi[b][j], t.g_tlo[b][j]);
    }
    return t;
  }();
  return t;
}

const char* const kTHiNames[3] = {"log_thi", "log2_thi", "log10_thi"};
const char* const kTLoNames[3] = {"log_tlo", "log2_tlo", "log10_tlo"};

// log_b(x) as hi + lo (not yet added) for finite x > 0 (other lanes: garbage, finite or not);
// `denormals`: scale denormal x first (log1p's 1 + x never is one). `ul`: log1p's low part of
// 1 + x (x = uh + ul), whose ul/uh joins lo; nullptr otherwise.
DD log_core(Math32& m, Value* x, Base base, bool denormals, Value* ul) {
  auto& b = m.b();
  const Tables& t = tables();
  Value* ix = m.bits(x);
  if (denormals) {
    // x = ix 2^-149 for denormal x: sitofp(ix) = x 2^149 exactly, its bits less 149 << 23 (a
    // conversion, not x * 2^k, which would raise a spurious overflow flag for large x and make
    // the runtime re-run the call eagerly).
    Value* scaled = b.CreateSub(m.bits(m.to_fp(ix)), m.ci(149 << 23));
    ix = m.sel(b.CreateICmpULT(ix, m.ci(0x00800000)), scaled, ix);
  }
  Value* tmp = b.CreateSub(ix, m.ci(static_cast<int32_t>(kOff)));
  // The index: tmp >> 18 unmasked (its low 5 bits; the permutes read no others).
  Value* i = b.CreateLShr(tmp, m.ci(18));
  Value* kbits = b.CreateAnd(tmp, m.ci(static_cast<int32_t>(0xff800000u)));  // k << 23
  Value* kf = m.to_fp(b.CreateAShr(tmp, m.ci(23)));
  Value* z = m.from_bits(b.CreateSub(ix, kbits));
  Value* invc = lut32_low_bits(m, "log_invc", t.invc, kN, i);
  Value* thi = lut32_low_bits(m, kTHiNames[base], t.t_hi[base], kN, i);
  Value* tlo = lut32_low_bits(m, kTLoNames[base], t.t_lo[base], kN, i);
  Value* rh = m.fma(z, invc, m.c(-1.0f));  // exact
  Value* a = base == kTwo ? m.add(kf, thi) : m.fma(kf, m.c(t.c1[base]), thi);  // exact
  Value* lo = base == kTwo ? tlo : m.fma(kf, m.c(t.c2[base]), tlo);  // log2 2 = 1: no c2
  if (ul) {
    // ul / uh = ul 2^-k invc / (1 + r) ~ ul 2^-k invc (1 - rh) (relative error below 2^-11 of a
    // term below 2^-24 of uh; exact for uh = 1). 2^-k: a normal float, or +0 for k = 127 and
    // (the bits clamped at 0) k = 128.
    Value* pk = m.from_bits(b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b.CreateSub(m.ci(0x3f800000), kbits), m.ci(0)));
    Value* q = m.mul(m.mul(ul, pk), invc);
    lo = m.add(lo, m.fma(m.neg(rh), q, q));
  }
  // log_b(1 + r) = s1 r + (s2 r + r^2 P(r)) with 1/ln b = s1 + s2. The pair keeps s = a + s1 r
  // with its rounding error in lo (log_base's cheaper a + p loses ~0.1 ulp: log1p measured 0.80
  // that way, 0.70 with the pair), so callers that go on computing with it (log1p's ul term,
  // vmath_inv.cpp's arcsinh/arccosh/arctanh) get a small lo.
  Value* s;
  if (base == kE) {
    s = m.add(a, rh);
    lo = m.add(lo, m.sub(rh, m.sub(s, a)));
  } else {
    s = m.fma(m.c(t.s1[base]), rh, a);
    lo = m.add(lo, m.fma(m.c(t.s1[base]), rh, m.sub(a, s)));
    lo = m.fma(m.c(t.s2[base]), rh, lo);
  }
  const float* c = t.p[base];
  Value* poly = m.fma(m.fma(m.c(c[2]), rh, m.c(c[1])), rh, m.c(c[0]));
  return {s, m.fma(m.mul(rh, rh), poly, lo)};
}

const char* const kGHiNames[3] = {"logg_thi", "log2g_thi", "log10g_thi"};
const char* const kGLoNames[3] = {"logg_tlo", "log2g_tlo", "log10g_tlo"};

// log_b x by the getmant reduction: x = 2^k z, z = getmant(x) in [3/4, 3/2) (denormals
// normalized by the instruction), k = getexp(x) + (z < 1). Special lanes come out of the same
// arithmetic without a flag: +-0 gives k = -inf, z = 1 so -inf; +inf gives +inf; NaN stays NaN;
// only x < 0 (other than -0, so a bit pattern above 0x80000000) needs a select (NaN).
Value* log_base(Math32& m, Value* x, Base base) {
  auto& b = m.b();
  const Tables& t = tables();
  Value* z = getmant32_p75(m, x);
  Value* e = getexp32(m, x);
  Value* zb = m.bits(z);
  Value* kf = m.sel(b.CreateICmpULT(zb, m.ci(0x3f800000)), m.add(e, m.c(1.0f)), e);  // integer compare: no flag on NaN
  Value* i = b.CreateLShr(zb, m.ci(18));  // the top 5 mantissa bits of z are the low 5 bits of i
  Value* invc = lut32_low_bits(m, "logg_invc", t.g_invc, kN, i);
  Value* thi = lut32_low_bits(m, kGHiNames[base], t.g_thi[base], kN, i);
  Value* tlo = lut32_low_bits(m, kGLoNames[base], t.g_tlo[base], kN, i);
  Value* rh = m.fma(z, invc, m.c(-1.0f));  // exact
  Value* a = base == kTwo ? m.add(kf, thi) : m.fma(kf, m.c(t.c1[base]), thi);  // exact (finite k)
  // k = +-inf (x = +inf, +-0): c2 > 0 for ln 2 and log10 2, so a and lo are infinities of k's sign
  // and a + p raises no invalid flag.
  Value* lo = base == kTwo ? tlo : m.fma(kf, m.c(t.c2[base]), tlo);
  const float* c = t.q[base];
  Value* poly = m.fma(m.fma(m.fma(m.c(c[3]), rh, m.c(c[2])), rh, m.c(c[1])), rh, m.c(c[0]));
  Value* p;
  if (base == kE) {
    p = m.add(rh, m.fma(m.mul(rh, rh), poly, lo));
  } else {
    Value* inner = m.fma(rh, poly, m.c(t.s2[base]));
    p = m.fma(rh, m.c(t.s1[base]), m.fma(rh, inner, lo));
  }
  Value* res = m.add(a, p);
  return m.sel(b.CreateICmpUGT(m.bits(x), m.ci(static_cast<int32_t>(0x80000000u))), m.c(NAN), res);
}

}  // namespace

Value* log_tab32(Math32& m, Value* x) { return log_base(m, x, kE); }
Value* log2_tab32(Math32& m, Value* x) { return log_base(m, x, kTwo); }
Value* log10_tab32(Math32& m, Value* x) { return log_base(m, x, kTen); }
DD log_pair_tab32(Math32& m, Value* vh, Value* vl) { return log_core(m, vh, kE, /*denormals=*/false, vl); }

// Special lanes as log_base's (integer and quiet compares only): x in (-1, +inf) is a bit
// pattern below that of +inf (x >= +0) or from -0 up to below that of -1.
Value* log1p_tab32(Math32& m, Value* x) {
  auto& b = m.b();
  Value* ix = m.bits(x);
  Value* ok = b.CreateOr(b.CreateICmpULT(ix, m.ci(0x7f800000)),
                         b.CreateICmpULT(b.CreateSub(ix, m.ci(static_cast<int32_t>(0x80000000u))), m.ci(0x3f800000)));
  DD u = m.two_sum(m.c(1.0f), m.sel(ok, x, m.c(0.0f)));  // 1 + x exactly; u.hi >= 2^-24
  DD l = log_core(m, u.hi, kE, /*denormals=*/false, u.lo);
  Value* res = m.add(l.hi, l.lo);
  res = m.sel(b.CreateFCmpOEQ(x, m.c(0.0f)), x, res);
  res = m.sel(b.CreateFCmpOEQ(x, m.c(INFINITY)), x, res);
  res = m.sel(b.CreateFCmpOEQ(x, m.c(-1.0f)), m.c(-INFINITY), res);
  res = m.sel(b.CreateICmpUGT(ix, m.ci(static_cast<int32_t>(0xbf800000u))), m.c(NAN), res);  // x < -1, -NaN
  return m.sel(m.is_nan(x), x, res);
}

}  // namespace tracejit::backends::vmath_detail
