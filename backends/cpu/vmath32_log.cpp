// Table-driven float32 log, log2, log10, log1p: native single precision (16 lanes per AVX-512
// vector), no division, no widening to double; the 32-entry tables are read by vmath_lut32's
// lut32 (one vpermi2ps per table and 16 lanes).
//
// Reduction (the ARM optimized-routines logf design, in float with exact steps): x = 2^k z, z in
// [0x1.66p-1, 0x1.66p0) (the bit offset kOff), i = the top 5 mantissa bits of z - kOff (32
// subintervals), invc ~ 1/c for a c in subinterval i, so log_b x = k log_b 2 + log_b c +
// log_b(1 + r), r = z invc - 1. Every step that could cancel near x = 1 is exact or carried:
// - invc is the 6-bit float minimizing max |r| over the subinterval (1 for the one holding 1.0,
//   and for its lower neighbour): |r| < 2^-5.4, and z invc - 1 needs at most 24 bits, so
//   r = fma(z, invc, -1) is exact;
// - k C1 + T_hi[i] exact by one fma (C1 = log_b 2 and T_hi = log_b c both rounded to multiples of
//   2^-16; |k| <= 152), k C2 + T_lo[i] the rest (T_lo within 2^-41 of the exact remainder);
// - the leading sum a + r (log) as a Fast2Sum pair (|a| >= |r| in exponent, or a = 0); log2 and
//   log10: s = fma(1/ln b, r, a) and its rounding error as fma(1/ln b, r, a - s) (within 2^-24
//   of itself where a - s is exact), plus the low part of 1/ln b times r;
// - log(1 + r) - r = r^2 P(r), P a minimax quadratic for the relative error of r + r^2 P on
//   |r| <= 0.02344 (2^-26.5), its coefficients times 1/ln b;
// everything after the leading sum is summed into one small term and the result rounds once.
// Denormal x: ix = its bits read as an integer, x 2^149 = (float)ix exactly, k - 149 (a
// conversion rather than x * 2^23, whose overflow flag for x > 2^105 would make the runtime
// re-run the call eagerly). log1p: 1 + x = uh + ul exactly (uh >= 2^-24, never denormal),
// log(uh) + ul/uh with ul/uh = ul 2^-k invc (1 - r) (no division; exact when uh = 1, so
// log1p(x) = x for tiny x). No lane raises a floating-point flag NumPy would not (every
// intermediate is finite for every input; the special lanes are selected at the end).
// Special values as NumPy's: log_b(+-0) = -inf, log_b(x < 0) = NaN, log_b(+inf) = +inf, NaN in
// gives NaN; log1p(-1) = -inf, below NaN, log1p(+-0) = +-0, denormals kept.
//
// Max error in float32 ulps against the float64 result, every float32 input (log1p: every x in
// (-1, inf)): log 0.686, log2 0.643, log10 0.667, log1p 0.703 (before: 0.888 / 0.746 / 0.658 /
// 0.661). Measured with a scalar C++ model of exactly these operations (std::fma, the same
// tables), which matched the compiled kernel bit for bit on 3.5M inputs (log1p 5.2M) spread
// over the whole range; with the cubic Taylor P instead of the quadratic: 0.53 / 0.53 / 0.52.
// tests/python/float32_exhaustive.py on the compiled kernels (every float32) agrees: log 0.6854,
// log2 0.6426, log10 0.6665, log1p 0.7027, no class mismatches (NaN, +-inf, +-0 with sign as
// NumPy's).
//
// Speed, 4M float32 in [0.01, 100) (log1p: [-0.5, 10)), one thread (TRACEJIT_NUM_THREADS=1),
// process CPU time, best of several min-of-20 runs, old and new builds in alternating processes,
// NumPy 2.4 in the same process, the shared 2-core machine at load ~3 (ms; before: the e_logf.c
// log and vmath32_fast.cpp's float-float log_parts kernels):
//   ms      log   log2  log10 log1p
//   before  2.87  3.10  3.29  3.30
//   now     1.54  1.62  1.71  2.57
//   NumPy   1.49  0.90  0.93  1.70
// In cache (256K elements) log runs at NumPy's speed (103 vs 97 us); log2/log10 stay ~2x
// NumPy's. The compiled log loop holds ~49 vector instructions per 16 lanes (counted in the
// assembly, with the loads, stores, register copies and the runtime's own FP-flag bookkeeping):
// the exponent and index arithmetic, three permutes, the exact pair, the denormal scaling and
// the special-value selects, which every lane pays for.
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
};

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
      double best = 1e9, invc = 1.0;
      for (double v = 0.97 / static_cast<double>(zh); v <= 1.03 / static_cast<double>(zl);) {
        int e;
        std::frexp(v, &e);
        double q = std::ldexp(1.0, e - 6);
        double cand = std::ceil(v / q) * q;
        double worst = std::max(std::fabs(static_cast<double>(zl) * cand - 1), std::fabs(zmax * cand - 1));
        if (worst < best) best = worst, invc = cand;
        v = cand + q * 0.5;
      }
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
  Value* i = b.CreateAnd(b.CreateLShr(tmp, m.ci(18)), m.ci(kN - 1));
  Value* kbits = b.CreateAnd(tmp, m.ci(static_cast<int32_t>(0xff800000u)));  // k << 23
  Value* kf = m.to_fp(b.CreateAShr(tmp, m.ci(23)));
  Value* z = m.from_bits(b.CreateSub(ix, kbits));
  Value* invc = lut32(m, "log_invc", t.invc, kN, i);
  Value* thi = lut32(m, kTHiNames[base], t.t_hi[base], kN, i);
  Value* tlo = lut32(m, kTLoNames[base], t.t_lo[base], kN, i);
  Value* rh = m.fma(z, invc, m.c(-1.0f));  // exact
  Value* a = m.fma(kf, m.c(t.c1[base]), thi);  // exact
  Value* lo = m.fma(kf, m.c(t.c2[base]), tlo);
  Value* s;
  if (base == kE) {
    s = m.add(a, rh);
    lo = m.add(lo, m.sub(rh, m.sub(s, a)));
  } else {
    // s = a + s1 rh rounded once; its rounding error by a second fma.
    s = m.fma(m.c(t.s1[base]), rh, a);
    lo = m.add(lo, m.fma(m.c(t.s1[base]), rh, m.sub(a, s)));
    lo = m.fma(m.c(t.s2[base]), rh, lo);
  }
  if (ul) {
    // ul / uh = ul 2^-k invc / (1 + r) ~ ul 2^-k invc (1 - rh) (relative error below 2^-11 of a
    // term below 2^-24 of uh; exact for uh = 1). 2^-k: a normal float, or +0 for k = 127 and
    // (the bits clamped at 0) k = 128.
    Value* pk = m.from_bits(b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, b.CreateSub(m.ci(0x3f800000), kbits), m.ci(0)));
    Value* q = m.mul(m.mul(ul, pk), invc);
    lo = m.add(lo, m.fma(m.neg(rh), q, q));
  }
  Value* r2 = m.mul(rh, rh);
  const float* c = t.p[base];
  Value* poly = m.fma(m.fma(m.c(c[2]), rh, m.c(c[1])), rh, m.c(c[0]));
  return {s, m.fma(r2, poly, lo)};
}

// The special lanes are told apart by integer compares on the bits and quiet (equality)
// compares: an ordered less-than on a NaN lane raises the invalid flag (x86's signalling
// predicates), which made the runtime re-run every call whose input held a NaN eagerly.
Value* log_base(Math32& m, Value* x, Base base) {
  auto& b = m.b();
  DD l = log_core(m, x, base, /*denormals=*/true, nullptr);
  Value* ix = m.bits(x);
  Value* res = m.add(l.hi, l.lo);
  res = m.sel(b.CreateICmpSLT(ix, m.ci(0x7f800000)), res, x);  // +inf, +NaN: x
  res = m.sel(b.CreateICmpSLT(ix, m.ci(0)), m.c(NAN), res);     // sign bit set: NaN
  return m.sel(b.CreateFCmpOEQ(x, m.c(0.0f)), m.c(-INFINITY), res);
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
