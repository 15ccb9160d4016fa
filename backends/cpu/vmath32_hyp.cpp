// Native float32 tanh, expm1, sinh and cosh with lookup tables as straight-line LLVM IR,
// 16 float lanes per AVX-512 vector: the loop vectorizer widens the scalar code, the per-lane
// coefficient lookups become vpermi2ps from registers (vmath_lut32.cpp), as in NumPy's own
// AVX-512 loops. No division.
//
// tanh: a = min(|x|, 9.1) (NaN stays NaN) falls in one of 31 intervals: [0, 1.5 * 2^-12) and
// the half binades above it ([1, 1.5) 2^e and [1.5, 2) 2^e, e >= -12), index (bits(max(a,
// 2^-12)) >> 22) & 31 (the tables rotated to match: no subtraction, no clamp below). In
// interval i, tanh a = c0 + t q(t) with t = a - s_i exact (Sterbenz), s_i a float in the middle
// 40% of the interval whose tanh is within ~0.01 ulp of the float c0 (the best of all of them),
// q a degree-6 polynomial (float coefficients c1..c7, fitted minimax-like to the relative error
// of tanh, then rounded to float one coefficient at a time with the rest refitted), evaluated
// as q = c1 + t B(t) with B in steps of t^2 (a shorter dependency chain than Horner's). One
// rounding dominates: t q is at most ~20% of the result, so q's errors count for a fifth.
// Interval 0 has s = c0 = 0, q = 1 - t^2/3 (a < 2^-11.4: t q rounds like a - a^3/3; +-0 and
// denormals give x exactly). The interval of 9.1 evaluates to exactly 1.0f from a = 9.010914
// on, where the correctly rounded tanh becomes 1 (NumPy's rounds to 1 from 9.0, not
// monotonically). Sign copied back (NaN: x's NaN, as NaN - s). Max error 0.694 ulp (every
// float32, tests/python/float32_exhaustive.py; 0.64 outside interval 0). The tables below are
// the output of scripts/fit_tanh32.py (numpy double least squares with Lawson's reweighting on
// 400 Chebyshev nodes per interval; it also emulates the kernel over every float to check).
//
// expm1: x clamped to [-18, 88.8] (NaN -> 88.8, fixed at the end), n = rint(x 32/ln2) (by the
// 1.5 * 2^23 shifter), rh = x - n C1 exact (any float C1: rh is a multiple of 2^-30 or of ulp(x)
// below 2^-6.5), r = rh - n C2, e^r - 1 = rh + plo with plo = -n C2 + r^2 (1/2 + r/6 + r^2/24)
// (Taylor, < 2^-40 relative). With S = 2^(n/32) = 2^k T_j (1 + tail_j) from the tables (T_j
// halved, scaled through the exponent bits: S/2 so that k = 128 below the overflow threshold
// stays finite), e^x - 1 = (S - 1) + S rh + S (plo + tail (1 + rh)): (S - 1)/2 by two_sum, S rh/2
// by two_prod, their sum by fast_two_sum (|S - 1| >= |S rh|), the small rest added to the low
// words, one rounding, times 2. |x| < 2^-25 (+-0, denormals) and NaN return x. Max 0.513 ulp;
// overflow to inf from 88.72284 on (88.72283 gives 3.4027985e38, correctly rounded; NumPy's
// 3.4027989e38 is 2 ulp above), -1 from -17.33 on.
//
// sinh, cosh: a = min(|x|, 89.5) (NaN stays NaN and comes out of the arithmetic), the same
// reduction for e^a = 4 S4 (1 + u) and e^-a = 4 S4n (1 + un): n and -n (clamped at -640: for
// a > 13.86 e^-a is under 2^-40 of e^a) index the tables, S4 = 2^k T_j / 4 through the exponent
// bits (finite up to k = 129), e^+-r - 1 = +-rh + (+-c + r^2 (Qe +- Qo)) sharing Q's even and
// odd parts, u = p + tail (1 + p). cosh/sinh a = 2 ((S4 +- S4n) + (S4 u +- S4n un)): the first
// sum exact by fast_two_sum, the rest within ~3% of the result, one rounding. sinh below a =
// 0.35: a + a^3 P(a^2), P Taylor to a^9. Sign copied back for sinh. Max 0.546 / 0.529 ulp
// (every float32 input, tests/python/float32_exhaustive.py);
// overflow to +-inf from |x| = 89.41599 on, as NumPy.
//
// Speed, 4M float32, one thread (TRACEJIT_NUM_THREADS=1), process CPU time, min of 15 per input
// offset, NumPy 2.4 in the same process, the shared 2-core machine at load 9-15 (ms; before: the
// vmath.cpp / vmath32_fast.cpp kernels): tanh 1.27-1.5 (NumPy 1.45; before 2.45-2.7), expm1
// 1.8-2.0 (1.46; 2.45-2.7), sinh 2.46-2.7 (1.52; 3.7-4.1), cosh 2.16-2.4 (1.41; 2.9-3.4). The
// spread is the input/output placement: 1.5 ms for tanh when the arrays are 4 KiB-aligned to each
// other (4K aliasing between the load and store streams), 1.27-1.33 otherwise. Ops per 16 lanes
// as emitted: tanh 23 (9 of them vpermi2ps), expm1 ~38, cosh ~43, sinh ~52 (sinh and cosh compute
// e^a and e^-a each from the tables; a reciprocal would need a division, slower on Zen 4).
#include "backends/cpu/vmath32_hyp.h"
#include "backends/cpu/vmath_lut32.h"

#include <cmath>

namespace tracejit::backends::vmath_detail {
namespace {

// tanh's interval tables: slot j holds interval (j - 6) mod 32 (see tanh32_hyp's index); slot 5
// (interval 31, a >= 12) is unused and repeats interval 30.
constexpr float kS[32] = {
    0x1.2d8c6ap+1f, 0x1.b1c146p+1f, 0x1.26b8eep+2f, 0x1.d1cb7ep+2f, 0x1.154246p+3f, 0x1.154246p+3f, 0.0f,
    0x1.d12ed2p-12f, 0x1.266666p-11f, 0x1.d12ed4p-11f, 0x1.3bacdap-10f, 0x1.bcee7cp-10f, 0x1.30c7fep-9f,
    0x1.c4bd52p-9f, 0x1.339406p-8f, 0x1.baf05ap-8f, 0x1.493ab2p-7f, 0x1.bbf268p-7f, 0x1.437902p-6f,
    0x1.a8c8acp-6f, 0x1.3d0c5ep-5f, 0x1.cb5aacp-5f, 0x1.42327p-4f, 0x1.a74cap-4f, 0x1.496e5p-3f, 0x1.c52ab8p-3f,
    0x1.32c9ap-2f, 0x1.c2a30cp-2f, 0x1.382d0cp-1f, 0x1.b1db3cp-1f, 0x1.569074p+0f, 0x1.bf8016p+0f,
};
constexpr float kC0[32] = {
    0x1.f6e072p-1f, 0x1.fed5b4p-1f, 0x1.ffe5c8p-1f, 0x1.ffffep-1f, 0x1.fffffep-1f, 0x1.fffffep-1f, 0.0f,
    0x1.d12edp-12f, 0x1.266664p-11f, 0x1.d12eccp-11f, 0x1.3bacdp-10f, 0x1.bcee6p-10f, 0x1.30c7dap-9f,
    0x1.c4bcdcp-9f, 0x1.339372p-8f, 0x1.baeeap-8f, 0x1.4937dcp-7f, 0x1.bbeb74p-7f, 0x1.436e4p-6f, 0x1.a8b05p-6f,
    0x1.3ce3dep-5f, 0x1.cadf94p-5f, 0x1.4188bcp-4f, 0x1.a5cc7cp-4f, 0x1.469e66p-3f, 0x1.bde9b8p-3f,
    0x1.29ed3ap-2f, 0x1.a7a2bap-2f, 0x1.167ddep-1f, 0x1.611fd6p-1f, 0x1.be113ap-1f, 0x1.e1decep-1f,
};
constexpr float kC1[32] = {
    0x1.2157d6p-5f, 0x1.29f52cp-8f, 0x1.a37666p-12f, 0x1.ffe58ep-20f, 0x1.ffffacp-24f, 0x1.ffffacp-24f, 0x1p+0f,
    0x1.fffffap-1f, 0x1.fffff6p-1f, 0x1.ffffe6p-1f, 0x1.ffffdp-1f, 0x1.ffffap-1f, 0x1.ffff4ap-1f, 0x1.fffe7p-1f,
    0x1.fffd1cp-1f, 0x1.fffa04p-1f, 0x1.fff2c4p-1f, 0x1.ffe7f2p-1f, 0x1.ffccecp-1f, 0x1.ffa7eep-1f,
    0x1.ff3bdep-1f, 0x1.fe64bep-1f, 0x1.fcd85p-1f, 0x1.fa920cp-1f, 0x1.f2fa42p-1f, 0x1.e7ba4ep-1f,
    0x1.d4a8f6p-1f, 0x1.a85e9ap-1f, 0x1.688532p-1f, 0x1.0c7398p-1f, 0x1.ed7ff2p-3f, 0x1.d3e3fp-4f,
};
constexpr float kC2[32] = {
    -0x1.1c301ep-5f, -0x1.294772p-8f, -0x1.a339f6p-12f, -0x1.ff889p-20f, -0x1.fffe96p-24f, -0x1.fffe96p-24f,
    0.0f, -0x1.cd9cbp-14f, -0x1.d993e6p-10f, -0x1.8afa5cp-11f, -0x1.33948ap-10f, -0x1.b71f6cp-10f,
    -0x1.35c816p-9f, -0x1.c5d9c2p-9f, -0x1.356faap-8f, -0x1.ba2f9ap-8f, -0x1.48d95ep-7f, -0x1.bbc9b4p-7f,
    -0x1.434d66p-6f, -0x1.a853p-6f, -0x1.3c6ad8p-5f, -0x1.c97154p-5f, -0x1.3f8daap-4f, -0x1.a153d6p-4f,
    -0x1.3e4feap-3f, -0x1.a8c644p-3f, -0x1.10b53ap-2f, -0x1.5f2102p-2f, -0x1.8831e6p-2f, -0x1.724cc8p-2f,
    -0x1.adf306p-3f, -0x1.b85b34p-4f,
};
constexpr float kC3[32] = {
    0x1.6d5e8ap-6f, 0x1.8a8acap-9f, 0x1.175478p-12f, 0x1.56cba2p-20f, 0x1.556438p-24f, 0x1.556438p-24f,
    -0x1.555556p-2f, -0x1.fdb1cp+4f, -0x1.ae468ep+2f, -0x1.6b7508p+2f, -0x1.31d9d4p+1f, -0x1.328c1p+1f,
    0x1.cd7ffap-3f, -0x1.351986p-1f, -0x1.0befc4p-3f, -0x1.e7a5fcp-2f, -0x1.1d4c26p-2f, -0x1.62c43p-2f,
    -0x1.53d88p-2f, -0x1.4769b8p-2f, -0x1.524304p-2f, -0x1.527bf6p-2f, -0x1.4d4204p-2f, -0x1.475316p-2f,
    -0x1.335a2cp-2f, -0x1.171b84p-2f, -0x1.d228e6p-3f, -0x1.133aacp-3f, -0x1.b055acp-6f, 0x1.31b438p-4f,
    0x1.a42a08p-4f, 0x1.027aaap-4f,
};
constexpr float kC4[32] = {
    -0x1.52bfcp-7f, -0x1.86f5c4p-10f, -0x1.193cc4p-13f, -0x1.5a3fccp-21f, -0x1.5567d2p-25f, -0x1.5567d2p-25f,
    0.0f, -0x1.6395eap+19f, 0x1.2fbbd4p+18f, -0x1.056586p+16f, -0x1.138ba6p+11f, -0x1.8341c6p+10f,
    0x1.c7999cp+9f, 0x1.3d6652p+7f, 0x1.31623ep+7f, -0x1.85598ap+5f, -0x1.b8f1c4p+3f, -0x1.b2221ap+0f,
    -0x1.c857eap-6f, -0x1.a3deacp+1f, 0x1.4ac8bep-5f, 0x1.17f6f2p-3f, 0x1.bb29aap-5f, 0x1.64e9f4p-4f,
    0x1.9f0866p-4f, 0x1.0acb9cp-3f, 0x1.3deacap-3f, 0x1.5bc64ap-3f, 0x1.22dbd6p-3f, 0x1.1ae91ap-4f,
    -0x1.3dd14ep-6f, -0x1.81feeap-6f,
};
constexpr float kC5[32] = {
    0x1.c9a49ap-9f, 0x1.343a32p-11f, 0x1.c7fa1p-15f, 0x1.f62aa2p-23f, 0x1.0e7baap-26f, 0x1.0e7baap-26f, 0.0f,
    0x1.c8cd5cp+32f, -0x1.71ae82p+27f, 0x1.2cd538p+28f, 0x1.bbb338p+25f, 0x1.bb5824p+25f, -0x1.253becp+22f,
    0x1.dbb704p+20f, -0x1.82f1fcp+18f, 0x1.f1e16cp+17f, -0x1.9e6cdap+14f, 0x1.71796cp+12f, -0x1.9c64e2p+6f,
    -0x1.08ab14p+10f, -0x1.b8424ap+4f, 0x1.6733f6p+5f, 0x1.1323f4p+1f, 0x1.080106p+1f, 0x1.f8c518p-3f,
    0x1.b70b26p-2f, 0x1.69cf6cp-5f, -0x1.60b562p-6f, -0x1.b054dep-5f, -0x1.f2147p-5f, -0x1.877e58p-7f,
    0x1.e1913p-9f,
};
constexpr float kC6[32] = {
    -0x1.8cdbb2p-11f, -0x1.8e083p-13f, -0x1.15d3fp-16f, -0x1.49b862p-24f, -0x1.6fb196p-28f, -0x1.6fb196p-28f,
    0.0f, 0x1.05ca8ap+48f, -0x1.296b06p+44f, 0x1.7a413ep+42f, 0x1.d530dep+34f, 0x1.46d306p+34f,
    -0x1.f1b592p+31f, -0x1.14e338p+29f, -0x1.2d04e2p+27f, 0x1.4aebe2p+25f, 0x1.b044b2p+21f, 0x1.72cba8p+18f,
    0x1.250282p+11f, 0x1.9f333ap+18f, -0x1.b6fbep+7f, -0x1.a8b72ep+10f, -0x1.1e4304p+3f, -0x1.69a43p+7f,
    -0x1.839318p+0f, -0x1.bbd184p+0f, -0x1.e9afeap-4f, -0x1.494d3cp-5f, -0x1.bd9ad8p-6f, 0x1.555ae4p-7f,
    0x1.960fe6p-7f, 0x1.14c32ep-9f,
};
constexpr float kC7[32] = {
    0x1.e6f77cp-15f, 0x1.5f2cbp-15f, 0x1.647cap-19f, 0x1.9ac11ep-25f, 0x1.105d3cp-29f, 0x1.105d3cp-29f, 0.0f,
    0x1.8c1892p+60f, 0x1.19c346p+56f, 0x1.26186ap+54f, -0x1.c2acf8p+48f, -0x1.be6cdp+48f, 0x1.7ce95p+43f,
    -0x1.ea94e2p+41f, 0x1.c891dcp+37f, -0x1.0039f8p+37f, 0x1.d00116p+31f, -0x1.770bccp+29f, 0x1.a0308ep+21f,
    -0x1.156becp+25f, 0x1.baeb5ep+17f, -0x1.ab6be4p+18f, -0x1.052696p+12f, 0x1.d5a56ap+11f, -0x1.36c6f6p+6f,
    -0x1.6ec366p+7f, 0x1.ee07bcp-1f, 0x1.f1159p+0f, 0x1.daee9p-6f, 0x1.905edp-7f, -0x1.1de9dcp-8f,
    -0x1.0337c6p-9f,
};

// 2^(j/32) = 2 kExpHalf[j] (1 + kExpTail[j]): kExpHalf the float nearest 2^(j/32), halved;
// kExpTail its relative error (|tail| < 2^-24).
constexpr float kExpHalf[32] = {
    0x1p-1f, 0x1.059b0ep-1f, 0x1.0b5586p-1f, 0x1.11301ep-1f, 0x1.172b84p-1f, 0x1.1d4874p-1f,
    0x1.2387a6p-1f, 0x1.29e9ep-1f, 0x1.306fep-1f, 0x1.371a74p-1f, 0x1.3dea64p-1f, 0x1.44e086p-1f,
    0x1.4bfdaep-1f, 0x1.5342b6p-1f, 0x1.5ab07ep-1f, 0x1.6247ecp-1f, 0x1.6a09e6p-1f, 0x1.71f75ep-1f,
    0x1.7a1148p-1f, 0x1.82589ap-1f, 0x1.8ace54p-1f, 0x1.93737cp-1f, 0x1.9c4918p-1f, 0x1.a5503cp-1f,
    0x1.ae89fap-1f, 0x1.b7f77p-1f, 0x1.c199bep-1f, 0x1.cb720ep-1f, 0x1.d5818ep-1f, 0x1.dfc974p-1f,
    0x1.ea4afap-1f, 0x1.f50766p-1f,
};
constexpr float kExpTail[32] = {
    0.0f, -0x1.947414p-25f, 0x1.8d96d4p-25f, -0x1.dda2fcp-25f, -0x1.9c0c22p-27f, -0x1.a2fbb2p-25f,
    0x1.964904p-25f, -0x1.2b0dbcp-25f, 0x1.125002p-25f, -0x1.cde8cep-26f, 0x1.370be4p-25f,
    0x1.336de2p-30f, -0x1.0a355p-25f, -0x1.c541b4p-26f, -0x1.00d8acp-27f, -0x1.6cb284p-25f,
    0x1.26055cp-26f, 0x1.8b2bb8p-26f, -0x1.05cb44p-25f, -0x1.1c2142p-26f, 0x1.67a1cap-28f,
    -0x1.348e56p-25f, 0x1.a3b5e4p-28f, -0x1.0b7ec8p-25f, -0x1.f9c304p-27f, -0x1.e4c886p-26f,
    -0x1.6961b4p-28f, -0x1.b5151ep-28f, -0x1.a5217cp-28f, -0x1.ab7132p-26f, 0x1.61428ep-28f,
    -0x1.2ad5f8p-27f,
};
// kExpHalf / 2, for sinh and cosh (2^k kExpQuarter[j] stays finite up to k = 129).
constexpr float kExpQuarter[32] = {
    0x1p-2f, 0x1.059b0ep-2f, 0x1.0b5586p-2f, 0x1.11301ep-2f, 0x1.172b84p-2f, 0x1.1d4874p-2f,
    0x1.2387a6p-2f, 0x1.29e9ep-2f, 0x1.306fep-2f, 0x1.371a74p-2f, 0x1.3dea64p-2f, 0x1.44e086p-2f,
    0x1.4bfdaep-2f, 0x1.5342b6p-2f, 0x1.5ab07ep-2f, 0x1.6247ecp-2f, 0x1.6a09e6p-2f, 0x1.71f75ep-2f,
    0x1.7a1148p-2f, 0x1.82589ap-2f, 0x1.8ace54p-2f, 0x1.93737cp-2f, 0x1.9c4918p-2f, 0x1.a5503cp-2f,
    0x1.ae89fap-2f, 0x1.b7f77p-2f, 0x1.c199bep-2f, 0x1.cb720ep-2f, 0x1.d5818ep-2f, 0x1.dfc974p-2f,
    0x1.ea4afap-2f, 0x1.f50766p-2f,
};

}  // namespace

Value* tanh32_hyp(Math32& m, Value* x) {
  auto& b = m.b();
  Value* a = m.fabs(x);
  Value* ac = m.sel(b.CreateFCmpOGT(a, m.c(9.1f)), m.c(9.1f), a);  // NaN stays NaN
  // The half binade of max(a, 2^-12) is bits >> 22, 230 (2^-12) to 260 (8 <= a <= 9.1): slot
  // (bits >> 22) & 31 holds interval (bits >> 22) - 230. NaN reads slot 31 (any slot would do:
  // t and everything after it are NaN).
  // The max on the bits (ac >= 0 or NaN, ordered as integers): a float max would signal on NaN.
  Value* ai = b.CreateBinaryIntrinsic(llvm::Intrinsic::smax, m.bits(ac), m.bits(m.c(0x1p-12f)));
  Value* idx = b.CreateAnd(b.CreateLShr(ai, m.ci(22)), m.ci(31));
  Value* t = m.sub(ac, lut32(m, "tanh_s", kS, 32, idx));
  const float* c[] = {kC0, kC1, kC2, kC3, kC4, kC5, kC6, kC7};
  const char* names[] = {"tanh_c0", "tanh_c1", "tanh_c2", "tanh_c3", "tanh_c4", "tanh_c5", "tanh_c6", "tanh_c7"};
  auto cf = [&](int i) { return lut32(m, names[i], c[i], 32, idx); };
  // q = c1 + t B(t), B = (c2 + c3 t) + t^2 ((c4 + c5 t) + t^2 (c6 + c7 t)): a shorter chain than
  // Horner's (the loop runs ~15% faster), q's low part still one fma from c1.
  Value* t2 = m.mul(t, t);
  Value* p23 = m.fma(cf(3), t, cf(2));
  Value* p45 = m.fma(cf(5), t, cf(4));
  Value* p67 = m.fma(cf(7), t, cf(6));
  Value* q = m.fma(m.fma(m.fma(p67, t2, p45), t2, p23), t, cf(1));
  return m.copysign(m.fma(t, q, lut32(m, names[0], c[0], 32, idx)), x);
}

Value* expm1_32_hyp(Math32& m, Value* x) {
  auto& b = m.b();
  // NaN -> 0 first (fixed at the end: the ordered compares below signal on NaN, x86), clamped
  // to [-18, 88.8]: e^-18 - 1 rounds to -1, and from 88.7228 on the result overflows.
  Value* x0 = m.sel(m.is_nan(x), m.c(0.0f), x);
  Value* xc = m.sel(b.CreateFCmpOLT(x0, m.c(88.8f)), x0, m.c(88.8f));
  xc = m.sel(b.CreateFCmpOGT(xc, m.c(-18.0f)), xc, m.c(-18.0f));
  // n = rint(x 32/ln2) by the shifter 1.5 * 2^23: its bits hold 0x4b400000 + n.
  Value* sh = m.fma(xc, m.c(0x1.715476p+5f), m.c(0x1.8p23f));
  Value* n = m.sub(sh, m.c(0x1.8p23f));
  Value* ni = m.bits(sh);
  Value* rh = m.fma(m.neg(n), m.c(0x1.62e43p-6f), xc);  // exact: see the header
  Value* c = m.mul(n, m.c(0x1.05c61p-34f));             // -n (ln2/32 - C1)
  Value* r = m.add(rh, c);
  Value* plo = m.fma(m.mul(r, r), m.poly(r, {0.5f, 1.0f / 6, 1.0f / 24}), c);  // e^r - 1 - rh
  Value* j = ni;  // j = n mod 32: the lookups read the index's low 5 bits (no mask)
  // S/2 = 2^k kExpHalf[j], k = n >> 5, added to the exponent bits (k in [-26, 128]; the
  // shifter's bits above n's shift out).
  Value* kbits = b.CreateShl(b.CreateAnd(ni, m.ci(-32)), m.ci(18));
  Value* s2 = m.from_bits(b.CreateAdd(m.bits(lut32_low_bits(m, "exp_half", kExpHalf, 32, j)), kbits));
  Value* tl = lut32_low_bits(m, "exp_tail", kExpTail, 32, j);
  DD h = m.two_sum(s2, m.c(-0.5f));       // (S - 1)/2 exactly
  DD sr = m.two_prod(s2, rh);             // S rh / 2 exactly
  DD s = m.fast_two_sum(h.hi, sr.hi);     // |S - 1| >= |S rh| (or S = 1)
  // The rest: S (e^r - 1 - rh + tail (1 + rh)) / 2 and the exact parts' low words.
  Value* lo = m.fma(s2, m.add(plo, m.fma(tl, rh, tl)), sr.lo);
  Value* res = m.mul(m.add(s.hi, m.add(s.lo, m.add(h.lo, lo))), m.c(2.0f));
  // |x| < 2^-25 (denormals, +-0) and NaN (x0 = 0): x itself.
  return m.sel(b.CreateFCmpOLT(m.fabs(x0), m.c(0x1p-25f)), x, res);
}

Value* sinhcosh32_hyp(Math32& m, Value* x, bool is_cosh) {
  auto& b = m.b();
  Value* a = m.fabs(x);
  Value* ac = m.sel(b.CreateFCmpOGT(a, m.c(89.5f)), m.c(89.5f), a);  // NaN stays NaN
  Value* sh = m.fma(ac, m.c(0x1.715476p+5f), m.c(0x1.8p23f));       // bits: 0x4b400000 + n
  Value* n = m.sub(sh, m.c(0x1.8p23f));
  Value* ni = m.bits(sh);
  Value* rh = m.fma(m.neg(n), m.c(0x1.62e43p-6f), ac);  // exact (as in expm1)
  Value* c = m.mul(n, m.c(0x1.05c61p-34f));
  Value* r = m.add(rh, c);
  Value* r2 = m.mul(r, r);
  // e^+-r - 1 = +-rh + plo+-, plo+- = +-c + r^2 (Qe +- Qo): Q's even and odd parts shared.
  Value* qe = m.fma(r2, m.c(1.0f / 24), m.c(0.5f));
  Value* qo = m.mul(r, m.c(1.0f / 6));
  Value* p = m.add(rh, m.fma(r2, m.add(qe, qo), c));
  Value* pn = m.sub(m.fma(r2, m.sub(qe, qo), m.neg(c)), rh);
  // e^a = 4 S4 (1 + u), S4 = 2^k kExpQuarter[j], u = p + tail (1 + p); e^-a likewise with -n,
  // clamped at -640 (a > 13.8: e^-a is then below 2^-40 of e^a, and 2^k stays normal).
  Value* nneg = b.CreateSub(m.ci(0x4b400000), ni);
  nneg = m.sel(b.CreateICmpSLT(nneg, m.ci(-640)), m.ci(-640), nneg);
  auto scaled = [&](Value* nbits, Value* pp, Value*& u) {
    Value* j = nbits;  // n mod 32: the lookups read the index's low 5 bits (no mask)
    Value* kbits = b.CreateShl(b.CreateAnd(nbits, m.ci(-32)), m.ci(18));  // the shifter's bits shift out
    Value* tl = lut32_low_bits(m, "exp_tail", kExpTail, 32, j);
    u = m.add(m.fma(tl, pp, tl), pp);
    return m.from_bits(b.CreateAdd(m.bits(lut32_low_bits(m, "exp_quarter", kExpQuarter, 32, j)), kbits));
  };
  Value *u, *un;
  Value* s4 = scaled(ni, p, u);
  Value* s4n = scaled(nneg, pn, un);
  if (!is_cosh) s4n = m.neg(s4n);
  // cosh |x| or sinh |x| = 2 (S4 +- S4n + S4 u +- S4n un): the first sum exact (S4 >= S4n), the
  // rest at most ~3% of the result (sinh: |x| >= 0.35), one rounding.
  DD h = m.fast_two_sum(s4, s4n);
  Value* lo = m.fma(s4, u, m.mul(s4n, un));
  Value* res = m.mul(m.add(h.hi, m.add(h.lo, lo)), m.c(2.0f));
  if (is_cosh) return res;  // NaN: NaN through rh
  // sinh |x| < 0.35: a + a^3 P(a^2), P the Taylor series to a^9 (truncation below 2^-40).
  Value* z = m.mul(a, a);
  Value* small = m.fma(m.mul(a, z), m.poly(z, {1.0f / 6, 1.0f / 120, 1.0f / 5040, 1.0f / 362880}), a);
  res = m.sel(b.CreateFCmpOGE(a, m.c(0.35f)), res, small);  // NaN: small, NaN
  return m.copysign(res, x);
}

}  // namespace tracejit::backends::vmath_detail
