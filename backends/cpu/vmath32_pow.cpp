// float32 pow as straight-line LLVM IR the loop vectorizer widens (vmath.cpp's emit_vpow
// dispatches float x ** y here, array ** array and array ** scalar, `2.0 ** x` included).
//
// Fast path (every lane with |x| a normal float and y finite, y = 0 included): the ARM
// optimized-routines powf design, in double on the widened lanes, rounded once to float.
//   log2 |x|: ix = bits(|x|), tmp = ix - kOff (kOff = bits(0x1.66p-1)), i = bits 19-22 of tmp (16
//   subintervals), k = tmp >> 23 (arithmetic), z = |x| 2^-k in [0x1.66p-1, 0x1.66p0) (the bits
//   ix - (tmp & 0xff800000)); log2 |x| = k + log2 c_i + log2(1 + r), r = z invc_i - 1 (one double
//   fma: z has 24 bits, the product's rounding is 2^-53), invc_i = 1 / the midpoint of
//   subinterval i (exactly 1 for the one holding 1.0, so log2 1 = 0 exactly), log2 c_i =
//   -log2(invc_i) to double; |r| <= 0.0297; log2(1 + r) = r Q(r), Q a degree-5 minimax fit of
//   log2(1 + r)/r (relative error 2^-38.3). invc and log2 c: 16-double tables in registers
//   (vmath64_fast.cpp's lut(), one vpermi2pd per table and 8 lanes).
//   t = y log2 |x| in double, clamped to [-160, 130] (float results 0 or inf outside; every
//   value stays finite, so no lane raises a flag its result would not).
//   2^t: kd = t + 1.5 * 2^48 rounds t to a multiple of 1/16 (ki = bits(kd) holds 16 t as an
//   integer), r = t - (kd - 1.5 * 2^48) exact, |r| <= 1/32; 2^t = s P(r), s = 2^(ki/16) from a
//   16-entry table of the bits of 2^(j/16) less j << 48 plus ki << 48 (one integer add builds the
//   exponent), P = 1 + r Q2(r), Q2 a cubic minimax fit of (2^r - 1)/r (relative error of 2^r
//   below 2^-37). The product is rounded to 29 significant bits (Veltkamp's split) and then once
//   to float (fptrunc: overflow to inf, the denormals and underflow to 0 by that rounding): the
//   float rounding boundaries have 25 bits, so the first rounding never moves a value across
//   one, and an exact tie (7.25^5), which the approximation misses by less than half a 29-bit
//   unit, lands on it and rounds to even as libm and NumPy do.
//   Negative x: integer y (trunc(y) == y) gives |x|^y with x's sign when y is odd (y/2 not an
//   integer; every float from 2^24 on is even), any other y NaN (those lanes feed y = 0 to the
//   core: |x|^y could overflow, a flag NumPy does not raise).
// Error: the double result is within 2^-31.5 relative of x^y (Q's 2^-38.3 on log2(1 + r) gives
// 2^-31.6 at |t| = 150; P's 2^-37 and the roundings, ~2^-50 each, add little), 2^-7.5 float
// ulp; the 29-bit rounding adds at most 2^-6 ulp where it snaps a value onto a boundary: within
// 0.5 + 2^-5.6 ulp (0.521); 0.520 measured on 100M random pairs (wide, x near 1 with huge y,
// results near overflow and in the denormals; tests/cpp/backends/test_vmath.cpp PowAccuracy and
// Float32PowTableEdges: every log2-table edge in every binade, every 2^(j/16) rounding edge).
// Exact when x^y is a float (powers of two: k, log2 1 = 0, 2^0 = 1 exact) and at exact ties
// (integer powers with 25 significant bits: test_cpu_ops' 7.25^5).
//
// Every other lane takes the out-of-line path tracejit.vm.pow32.slow(x, y, fast, slow): +-0,
// denormal, +-inf or NaN x, +-inf or NaN y (pow(1, NaN) = 1, pow(-1, +-inf) = 1, pow(x, +-0) =
// 1 for NaN x, odd integer y keeping the sign of -0 and -inf). It returns `fast` for the other
// lanes and, for these, the previous kernel (pow32_full: C99/NumPy's special cases as selects
// around a double core with s = f/(2 + f) and exact small-integer powers, 0.504 ulp). The fast
// path sees y = 0 in those lanes. The call carries vector-function-abi-variant mappings (the
// variants are the same code on vectors, not a lane loop); inline_pow32_variants puts one test
// of the fast path's mask per vector in the loop and the call behind an unlikely branch, so
// vectors of ordinary lanes never pay for the special cases.
//
// Speed, 4M float32, x in (0.1, 10), y in (-10, 10), one thread (TRACEJIT_NUM_THREADS=1),
// process CPU time, min of 40, this branch and main's build alternating, NumPy 2.4 in the same
// process, shared 2-core Zen 4 at load 6-9: 11.5 ms before (the widened-double kernel with every
// special case inline, ~184 vector instructions per 16 lanes) -> 5.3 ms with positive bases
// only in the fast path and a quadratic Q2 without the tie rounding, 6.3 ms with the negative
// bases, 6.9-7.0 with the cubic Q2 and the tie rounding (NumPy's SVML powf: 2.75-2.8; the
// final figures at load ~5, alternating with main's build: 11.3-11.4 there). The loop
// holds ~120 instructions per 16 lanes plus ~22 of the runtime's own FP-flag bookkeeping for
// pow (scalar_ops.cpp: divide for 0 ** negative, invalid for a negative base to a non-integer;
// 0.7 ms of the 6.3, measured by dropping it); the double lanes (every double op twice per 16
// floats) are the rest of the gap. Wall time, min of 10: x ** 3 on signed data 10.6 -> 5.9 ms;
// x ** 2.5: 10.6 -> 5.5; 2.0 ** x: 16.0 -> 2.9.
#include "backends/cpu/vmath32_pow.h"

#include "backends/cpu/vmath64_fast.h"

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/Transforms/Utils/BasicBlockUtils.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tracejit::backends::vmath_detail {
namespace {

constexpr const char* kSlowName = "tracejit.vm.pow32.slow";
constexpr const char* kLutPrefix = "tracejit.vmp32.";
constexpr unsigned kVFs[] = {2, 4, 8, 16, 32, 64};

// ---- the fast path ----

constexpr int32_t kOff = 0x3f330000;
constexpr double kInvC[16] = {
    0x1.661ec6a5122f9p+0, 0x1.571ed3c506b3ap+0, 0x1.49539e3b2d067p+0, 0x1.3c995a47babe7p+0,
    0x1.30d190130d190p+0, 0x1.25e22708092f1p+0, 0x1.1bb4a4046ed29p+0, 0x1.12358e75d3033p+0,
    0x1.0953f39010954p+0, 0x1.0000000000000p+0, 0x1.e573ac901e574p-1, 0x1.ca4b3055ee191p-1,
    0x1.b2036406c80d9p-1, 0x1.9c2d14ee4a102p-1, 0x1.886e5f0abb04ap-1, 0x1.767dce434a9b1p-1};
constexpr double kLog2C[16] = {
    -0x1.efec61b011f85p-2, -0x1.b0b67f4f46812p-2, -0x1.7418acebbf18fp-2, -0x1.39de8e1559f6ep-2,
    -0x1.01d9bbcfa61d4p-2, -0x1.97c1cb13c7ec0p-3, -0x1.2f9e32d5bfdd1p-3, -0x1.960caf9abb7c1p-4,
    -0x1.a6f9c377dd31dp-5, 0.0, 0x1.3aa2fdd27f1bfp-4, 0x1.476a9f983f74dp-3,
    0x1.e840be74e6a4dp-3, 0x1.406463b1b0448p-2, 0x1.88e9c72e0b224p-2, 0x1.ce0a4923a587dp-2};
// bits(2^(j/16)) - (j << 48)
constexpr uint64_t kExp2Bits[16] = {
    0x3ff0000000000000, 0x3fefb5586cf9890f, 0x3fef72b83c7d517b, 0x3fef387a6e756238,
    0x3fef06fe0a31b715, 0x3feedea64c123422, 0x3feebfdad5362a27, 0x3feeab07dd485429,
    0x3feea09e667f3bcd, 0x3feea11473eb0187, 0x3feeace5422aa0db, 0x3feec49182a3f090,
    0x3feee89f995ad3ad, 0x3fef199bdd85529c, 0x3fef5818dcfba487, 0x3fefa4afa2a490da};
// log2(1 + r) = r Q(r) on |r| <= 0.0297 (relative error 2^-38.3).
const std::vector<double> kQ = {0x1.71547652bcfbbp+0, -0x1.71547652d2934p-1, 0x1.ec7097c2f176ep-2,
                                -0x1.71546e917ebcdp-2, 0x1.27bdf955b6aa4p-2,  -0x1.ecff0b0406496p-3};
// 2^r = 1 + r Q2(r) on |r| <= 1/32, Q2 cubic (relative error of Q2 2^-32.0, of 2^r below 2^-37).
const std::vector<double> kP = {1.0, 0x1.62e42fee460eap-1, 0x1.ebfbdffb54149p-3, 0x1.c6b3488b665e6p-5,
                                0x1.3b2ab6f831f46p-7};

const double* exp2_table() {
  static const auto* t = [] {
    auto* d = new double[16];
    std::memcpy(d, kExp2Bits, sizeof kExp2Bits);
    return d;
  }();
  return t;
}

// x ** y for x a positive normal float, y finite (see the header).
Value* pow_fast(Math32& m, Value* x, Value* y) {
  auto& b = m.b();
  Math md(b);
  llvm::Type* f64 = b.getDoubleTy();
  Value* ix = m.bits(x);
  Value* tmp = b.CreateSub(ix, m.ci(kOff));
  Value* i = b.CreateZExt(b.CreateAnd(b.CreateLShr(tmp, m.ci(19)), m.ci(15)), b.getInt64Ty());
  Value* top = b.CreateAnd(tmp, m.ci(static_cast<int32_t>(0xff800000u)));
  Value* z = b.CreateFPExt(m.from_bits(b.CreateSub(ix, top)), f64);
  Value* k = b.CreateSIToFP(b.CreateAShr(top, m.ci(23)), f64);
  Value* invc = fast64::lut(md, "tracejit.vmp32.invc", kInvC, false, i, 16);
  Value* logc = fast64::lut(md, "tracejit.vmp32.log2c", kLog2C, false, i, 16);
  Value* r = md.fma(z, invc, md.c(-1.0));
  Value* q = md.c(kQ.back());
  for (size_t j = kQ.size() - 1; j-- > 0;) q = md.fma(q, r, md.c(kQ[j]));
  Value* l = md.fma(r, q, md.add(logc, k));
  Value* t = md.mul(b.CreateFPExt(y, f64), l);
  t = md.sel(md.gt(t, 130.0), md.c(130.0), t);
  t = md.sel(md.lt(t, -160.0), md.c(-160.0), t);
  Value* kd = md.add(t, md.c(0x1.8p48));
  Value* ki = md.bits(kd);
  Value* rr = md.sub(t, md.sub(kd, md.c(0x1.8p48)));
  Value* sb = fast64::lut(md, "tracejit.vmp32.exp2", exp2_table(), true, ki, 16);
  Value* s = md.from_bits(b.CreateAdd(sb, b.CreateShl(ki, md.ci(48))));
  Value* p = md.c(kP.back());
  for (size_t j = kP.size() - 1; j-- > 0;) p = md.fma(p, rr, md.c(kP[j]));
  // Rounded to 29 significant bits (Veltkamp's split by 2^24 + 1) before the rounding to float,
  // so that an exact tie (7.25^5 = 20030.4189453125, halfway between two floats), which the
  // approximation (within 2^-31.5 relative) misses by less than half a 29-bit unit, lands on it
  // and rounds to even as libm and NumPy do. The float boundaries have 25 bits, so this rounding
  // never moves a value across one: elsewhere the result is unchanged, and a value within 2^-6
  // ulp of a boundary may round to even instead of to nearest (0.5 + 2^-6 ulp at most).
  Value* v = md.mul(s, p);
  Value* c = md.mul(v, md.c(0x1p24 + 1));
  return b.CreateFPTrunc(md.sub(c, md.sub(c, v)), b.getFloatTy());
}

// ---- the out-of-line path ----

// Builders over float / double / i32 of the shape of `ref` (float or <n x float>): the slow
// path's code runs on scalars and on each vector width.
struct G {
  llvm::IRBuilderBase& b;
  llvm::Type* ref;
  llvm::Type* ty(llvm::Type* e) const {
    if (auto* v = llvm::dyn_cast<llvm::FixedVectorType>(ref)) return llvm::FixedVectorType::get(e, v->getNumElements());
    return e;
  }
  llvm::Type* F() const { return ty(b.getFloatTy()); }
  llvm::Type* D() const { return ty(b.getDoubleTy()); }
  llvm::Type* I() const { return ty(b.getInt32Ty()); }
  llvm::Type* L() const { return ty(b.getInt64Ty()); }
  Value* f(float v) const { return llvm::ConstantFP::get(F(), v); }
  Value* d(double v) const { return llvm::ConstantFP::get(D(), v); }
  Value* i(int32_t v) const { return llvm::ConstantInt::get(I(), static_cast<uint64_t>(static_cast<int64_t>(v)), true); }
  Value* bits(Value* x) const { return b.CreateBitCast(x, I()); }
  Value* fma(Value* x, Value* y, Value* z) const { return b.CreateIntrinsic(llvm::Intrinsic::fma, {x->getType()}, {x, y, z}); }
  Value* fabs(Value* x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  Value* trunc(Value* x) const { return b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, x); }
  Value* sel(Value* c, Value* x, Value* y) const { return b.CreateSelect(c, x, y); }
  Value* polyd(Value* x, const std::vector<double>& coef) const {
    Value* r = d(coef.back());
    for (size_t k = coef.size() - 1; k-- > 0;) r = fma(r, x, d(coef[k]));
    return r;
  }
};

// The lanes the fast path does not handle: |x| not a normal float (|x|'s bits - 2^23 wraps for
// zeros and denormals; inf and NaN are above), y inf or NaN. Integer operations only (an
// ordered compare on NaN would raise invalid).
Value* needs_slow(llvm::IRBuilderBase& b, Value* x, Value* y) {
  G g{b, x->getType()};
  Value* iax = b.CreateAnd(g.bits(x), g.i(0x7fffffff));
  Value* xbad = b.CreateICmpUGE(b.CreateSub(iax, g.i(0x00800000)), g.i(0x7f000000));
  Value* ybad = b.CreateICmpEQ(b.CreateAnd(g.bits(y), g.i(0x7f800000)), g.i(0x7f800000));
  return b.CreateOr(xbad, ybad);
}

// |x| ** y for finite |x| > 0 (denormals included) and finite y, in double: log2|x| = k +
// log2(m), |x| = 2^k m with m in [sqrt(2)/2, sqrt(2)) found on the float bits (denormals scaled
// by 2^23 first); log2(m) = s P(s^2), s = f/(2 + f), f = m - 1 (exact), P a minimax fit of
// log2((1 + s)/(1 - s))/s on s^2 <= 0.0295 (relative error 2^-37.8); t = y log2|x|; 2^t = 2^kt
// 2^r, kt = rint(t) (by adding 1.5 * 2^52), r = t - kt exact, 2^r a degree-7 minimax polynomial
// (relative error 2^-34.5; constant term 1), 2^kt added to the exponent bits (t clamped to
// [-160, 130]). Integer y in [1, 31] (|x| in [2^-63, 2^63]): square-and-multiply in double,
// exact whenever x^y has at most 53 significant bits, so exact ties round to even. Within 0.5 +
// 2^-5 float ulp before the one rounding.
Value* pow_full_core(const G& g, Value* ax, Value* y) {
  auto& b = g.b;
  Value* sub = b.CreateICmpULT(g.bits(ax), g.i(0x00800000));
  Value* xs = g.sel(sub, b.CreateFMul(ax, g.f(0x1p23f)), ax);
  Value* ix = g.bits(xs);
  Value* tmp = b.CreateSub(ix, g.i(0x3f3504f3));  // bits of sqrt(2)/2 rounded down
  Value* k = b.CreateAdd(b.CreateAShr(tmp, g.i(23)), g.sel(sub, g.i(-23), g.i(0)));
  Value* mf = b.CreateBitCast(b.CreateSub(ix, b.CreateAnd(tmp, g.i(static_cast<int32_t>(0xff800000u)))), g.F());
  Value* f = b.CreateFSub(b.CreateFPExt(mf, g.D()), g.d(1.0));
  Value* s = b.CreateFDiv(f, b.CreateFAdd(f, g.d(2.0)));
  Value* p = g.polyd(b.CreateFMul(s, s), {0x1.71547652bedf2p+1, 0x1.ec709d12cf0a0p-1, 0x1.27777fe8f507cp-1,
                                         0x1.a58d888aeadd3p-2, 0x1.5ce8598649ea1p-2});
  Value* l = g.fma(s, p, b.CreateSIToFP(k, g.D()));
  Value* t = b.CreateFMul(b.CreateFPExt(y, g.D()), l);
  t = g.sel(b.CreateFCmpOGT(t, g.d(130.0)), g.d(130.0), t);
  t = g.sel(b.CreateFCmpOLT(t, g.d(-160.0)), g.d(-160.0), t);
  Value* sh = b.CreateFAdd(t, g.d(0x1.8p52));  // rint(t) in the low bits
  Value* r = b.CreateFSub(t, b.CreateFSub(sh, g.d(0x1.8p52)));
  Value* e = g.polyd(r, {1.0, 0x1.62e42ff116c3ap-1, 0x1.ebfbe0a4f2f60p-3, 0x1.c6b08aae4f78ap-5,
                         0x1.3b29dc1464539p-7, 0x1.5d8a710f9e9ddp-10, 0x1.446a43cc4af60p-13, 0x1.fe174ee005173p-17});
  Value* eb = b.CreateAdd(b.CreateBitCast(e, g.L()),
                          b.CreateShl(b.CreateBitCast(sh, g.L()), llvm::ConstantInt::get(g.L(), 52)));
  Value* res = b.CreateBitCast(eb, g.D());
  Value* ni = b.CreateFPToSI(g.sel(b.CreateAnd(b.CreateFCmpOGE(y, g.f(1.0f)), b.CreateFCmpOLE(y, g.f(31.0f))), y, g.f(0.0f)),
                             g.I());
  Value* x_mid = b.CreateAnd(b.CreateFCmpOGE(ax, g.f(0x1p-63f)), b.CreateFCmpOLE(ax, g.f(0x1p63f)));
  Value* small_int = b.CreateAnd(b.CreateAnd(b.CreateFCmpOEQ(g.trunc(y), y), b.CreateICmpNE(ni, g.i(0))), x_mid);
  Value* base = g.sel(small_int, b.CreateFPExt(ax, g.D()), g.d(1.0));
  Value* acc = g.d(1.0);
  for (int bit = 0; bit < 5; ++bit) {
    Value* on = b.CreateICmpNE(b.CreateAnd(ni, g.i(1 << bit)), g.i(0));
    acc = b.CreateFMul(acc, g.sel(on, base, g.d(1.0)));
    if (bit < 4) base = b.CreateFMul(base, base);
  }
  return b.CreateFPTrunc(g.sel(small_int, acc, res), g.F());
}

// C99/NumPy's special cases, decided on the floats: pow(x, +-0) = 1 and pow(1, y) = 1 even for
// NaN; otherwise NaN in gives NaN; negative finite x with a finite non-integer y gives NaN; odd
// integer y keeps the sign of x (including -0 and -inf); +-0 and +-inf bases and +-inf exponents
// per Annex F. The core sees (1, 0) in every lane whose result is one of these (no spurious
// overflow or underflow flags).
Value* pow_full(const G& g, Value* x, Value* y) {
  auto& b = g.b;
  Value* ax = g.fabs(x);
  Value* ay = g.fabs(y);
  Value* inf = g.f(INFINITY);
  Value* ax_ok = b.CreateAnd(b.CreateFCmpOGT(ax, g.f(0.0f)), b.CreateFCmpOLT(ax, inf));
  Value* yint = b.CreateFCmpOEQ(g.trunc(y), y);  // +-inf too, not NaN
  // Odd: integral, below 2^24 (every float from there on is even) and odd as an integer.
  Value* yc = g.sel(b.CreateFCmpOLT(ay, g.f(0x1p24f)), y, g.f(0.0f));
  Value* yodd = b.CreateAnd(yint, b.CreateTrunc(b.CreateFPToSI(yc, g.I()), g.ty(b.getInt1Ty())));
  Value* neg_finite = b.CreateAnd(b.CreateFCmpOLT(x, g.f(0.0f)), b.CreateFCmpOGT(x, g.f(-INFINITY)));
  Value* nan_res = b.CreateAnd(neg_finite, b.CreateNot(yint));
  Value* use_core = b.CreateAnd(b.CreateAnd(ax_ok, b.CreateFCmpOLT(ay, inf)), b.CreateNot(nan_res));
  Value* res = pow_full_core(g, g.sel(use_core, ax, g.f(1.0f)), g.sel(use_core, y, g.f(0.0f)));
  // +-0 and +-inf bases with a finite y: 0 or inf, odd y keeps the sign.
  Value* big = b.CreateXor(b.CreateFCmpOEQ(ax, inf), b.CreateFCmpOLT(y, g.f(0.0f)));
  res = g.sel(ax_ok, res, g.sel(big, inf, g.f(0.0f)));
  Value* neg_odd = b.CreateAnd(b.CreateICmpSLT(g.bits(x), g.i(0)), yodd);
  res = g.sel(neg_odd, b.CreateFNeg(res), res);
  res = g.sel(nan_res, g.f(NAN), res);
  // y = +-inf: 1 for |x| = 1, else inf when (|x| > 1) == (y > 0), else +0.
  Value* yinf_v = g.sel(b.CreateICmpEQ(b.CreateFCmpOGT(ax, g.f(1.0f)), b.CreateFCmpOGT(y, g.f(0.0f))), inf, g.f(0.0f));
  yinf_v = g.sel(b.CreateFCmpOEQ(ax, g.f(1.0f)), g.f(1.0f), yinf_v);
  res = g.sel(b.CreateFCmpOEQ(ay, inf), yinf_v, res);
  res = g.sel(b.CreateFCmpUNO(x, y), b.CreateFAdd(x, y), res);
  return g.sel(b.CreateOr(b.CreateFCmpOEQ(y, g.f(0.0f)), b.CreateFCmpOEQ(x, g.f(1.0f))), g.f(1.0f), res);
}

// The body of the out-of-line path (scalar and vector variants alike; arguments x, y, fast and
// needs_slow(x, y) as i32, which the branch around the call reads too): pow_full in the lanes
// needs_slow picks, `fast` in the others.
void emit_slow_body(llvm::Function* f) {
  llvm::IRBuilder<> fb(llvm::BasicBlock::Create(f->getContext(), "entry", f));
  Value* x = f->getArg(0);
  Value* y = f->getArg(1);
  G g{fb, x->getType()};
  Value* slow = fb.CreateICmpNE(f->getArg(3), g.i(0));
  fb.CreateRet(fb.CreateSelect(slow, pow_full(g, x, y), f->getArg(2)));
}

llvm::Function* slow_function(llvm::Module* mod) {
  if (llvm::Function* f = mod->getFunction(kSlowName)) return f;
  auto& ctx = mod->getContext();
  llvm::Type* ft = llvm::Type::getFloatTy(ctx);
  llvm::Type* it = llvm::Type::getInt32Ty(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(ft, {ft, ft, ft, it}, false), llvm::GlobalValue::InternalLinkage,
                                   kSlowName, mod);
  mark_pure_out_of_line(f);
  emit_slow_body(f);
  // Listed as used so the interprocedural passes keep its signature: with a constant exponent
  // (x ** 3) IPSCCP would otherwise fold y into the body and drop the argument.
  llvm::appendToCompilerUsed(*mod, {f});
  for (unsigned vf : kVFs) {
    auto* vt = llvm::FixedVectorType::get(ft, vf);
    auto* vit = llvm::FixedVectorType::get(it, vf);
    auto* v = llvm::Function::Create(llvm::FunctionType::get(vt, {vt, vt, vt, vit}, false), llvm::GlobalValue::InternalLinkage,
                                     std::string(kSlowName) + ".v" + std::to_string(vf), mod);
    v->setDoesNotThrow();
    v->setDoesNotAccessMemory();
    v->addFnAttr(llvm::Attribute::NoInline);
    emit_slow_body(v);
    llvm::appendToCompilerUsed(*mod, {v});  // referenced only by the mapping until vectorization
  }
  return f;
}

}  // namespace

Value* pow32v(Math32& m, Value* x, Value* y) {
  auto& b = m.b();
  Value* slow = needs_slow(b, x, y);
  // Negative x: an integer y gives |x|^y with x's sign when y is odd (y/2 not an integer: every
  // float from 2^24 on is even), any other y NaN (C99; the runtime notes NumPy's invalid flag).
  // (Quiet compares: NaN y raises nothing here.)
  Value* yint = b.CreateFCmpOEQ(b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, y), y);
  Value* h = m.mul(y, m.c(0.5f));
  Value* odd = b.CreateAnd(yint, b.CreateFCmpONE(b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, h), h));
  Value* nan_res = b.CreateAnd(b.CreateICmpSLT(m.bits(x), m.ci(0)), b.CreateNot(yint));
  // z is a normal float in [0x1.66p-1, 0x1.66p0) and k within [-256, 255] for any bits of x, so
  // the special lanes' x needs no substitute; y does (inf * 0, NaN in the compares), and so do
  // the NaN lanes (|x|^y could overflow: a flag NumPy does not raise).
  Value* fast = pow_fast(m, m.fabs(x), m.sel(b.CreateOr(slow, nan_res), m.c(0.0f), y));
  fast = m.sel(odd, m.copysign(fast, x), fast);
  fast = m.sel(nan_res, m.c(NAN), fast);
  llvm::Function* f = slow_function(b.GetInsertBlock()->getModule());
  return vmath_detail::call_with_variants(b, f, {x, y, fast, b.CreateZExt(slow, b.getInt32Ty())}, kVFs);
}

void inline_pow32_variants(llvm::Module& m) {
  // The table lookups (named outside vmath64_fast.cpp's "tracejit.vm64." prefix, whose loops get
  // an interleave count of 4: this kernel's loop then spills its constants) inlined here.
  std::vector<llvm::CallInst*> luts;
  for (llvm::Function& f : m) {
    if (!f.getName().startswith(kLutPrefix)) continue;
    for (llvm::User* u : f.users())
      if (auto* c = llvm::dyn_cast<llvm::CallInst>(u); c && c->getCalledFunction() == &f) luts.push_back(c);
  }
  for (llvm::CallInst* c : luts) {
    llvm::InlineFunctionInfo info;
    llvm::InlineFunction(*c, info);
  }
  const std::string prefix = kSlowName;
  std::vector<llvm::CallInst*> calls;
  for (llvm::Function& f : m) {
    if (f.getName() != prefix && !f.getName().startswith(prefix + ".v")) continue;
    for (llvm::User* u : f.users())
      if (auto* c = llvm::dyn_cast<llvm::CallInst>(u); c && c->getCalledFunction() == &f) calls.push_back(c);
  }
  for (llvm::CallInst* c : calls) {
    llvm::IRBuilder<> b(c);
    Value* flag = c->getArgOperand(3);  // needs_slow as i32 (the fast path's own test)
    Value* slow = b.CreateICmpNE(flag, llvm::Constant::getNullValue(flag->getType()));
    Value* any = slow;
    if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(slow->getType())) {
      unsigned n = vt->getNumElements();
      any = b.CreateICmpNE(b.CreateBitCast(slow, b.getIntNTy(n)), llvm::ConstantInt::get(b.getIntNTy(n), 0));
    }
    Value* fast = c->getArgOperand(2);
    llvm::BasicBlock* head = c->getParent();
    llvm::Instruction* then_end =
        llvm::SplitBlockAndInsertIfThen(any, c, false, llvm::MDBuilder(m.getContext()).createBranchWeights(1, 1 << 20));
    llvm::BasicBlock* tail = c->getParent();
    c->moveBefore(then_end);
    llvm::PHINode* phi = llvm::PHINode::Create(c->getType(), 2, "pow32slow", &tail->front());
    c->replaceAllUsesWith(phi);
    phi->addIncoming(c, then_end->getParent());
    phi->addIncoming(fast, head);
  }
  // The vector variants no call uses (the vectorizer picked one width) are dead: dropped before
  // code generation.
  std::vector<llvm::Function*> dead;
  for (llvm::Function& f : m)
    if ((f.getName() == prefix || f.getName().startswith(prefix + ".v")) && llvm::none_of(f.users(), [](llvm::User* u) { return llvm::isa<llvm::CallInst>(u); }))
      dead.push_back(&f);
  llvm::removeFromUsedLists(m, [&](llvm::Constant* k) { return llvm::is_contained(dead, k); });
  for (llvm::Function* f : dead) {
    f->removeDeadConstantUsers();
    if (f->use_empty()) f->eraseFromParent();
  }
}

}  // namespace tracejit::backends::vmath_detail
