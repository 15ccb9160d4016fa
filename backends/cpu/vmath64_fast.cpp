// Table-driven float64 exp, exp2, expm1, tanh and pow as straight-line LLVM IR (the
// design of glibc 2.28+ / ARM optimized-routines by Szabolcs Nagy, with 32-entry tables so that
// a lookup is two AVX-512 permutes from registers; tables and code our own). sinh, cosh, log,
// log2, log10, log1p are vmath64_more.cpp's shorter kernels on these tables (and on 8- and
// 16-entry ones computed here: lut() takes the table length).
//
// Lookups: each table (8, 16 or 32 doubles) is read through a call to a tiny function carrying
// vector-function-abi-variant mappings; the loop vectorizer calls the <8 x double> variant, two
// vpermi2pd (entries 0-15, 16-31 held in zmm registers) and a blend on bit 4 of the index (one
// vpermi2pd for 16 entries, one vpermpd for 8; a masked gather for other widths or without
// AVX-512); inline_fast64_variants inlines them after
// the optimizer. hint_fast64_loops gives loops calling these kernels an interleave count of 4:
// the kernels are long dependency chains (pow: a log feeding an exp), latency-bound with one
// vector in flight (pow 3x slower).
//
// The interleave hint also covers float64 tan's loops (tracejit.vm.huge.tan; 1.35x faster).
// inline_fast64_variants also inlines vmath64_more.cpp's out-of-line log path's vector variants
// (a test and a branch; behind it a lane loop calling the scalar *_slow function, which stays a
// call), then deletes the lookup functions and every vector variant before code generation.
//
// exp core (N = 32): x = (k*N + j) ln2/N + r, |r| <= ln2/(2N) (+ a tail carried into r), e^x =
// 2^k * 2^(j/N) * e^r; 2^(j/N) = T[j] (1 + tail[j]), T[j] stored with j<<47 subtracted from its
// bits so that adding ki<<47 (ki = k*N + j) gives 2^k T[j] by integer addition; e^r - 1 is its
// Taylor polynomial to r^7 (truncation below 2^-64); k*ln2/N is split so kd*hi is exact. Results
// near the overflow and underflow thresholds take the table value scaled by 2^-1009 / 2^1022 and
// one multiply by the inverse after the sum, so inf and the denormals come from ordinary rounding
// (denormal results round twice: <= 0.75 ulp). exp's clamp (|x| > 746 to +-746, NaN to 0) and
// its NaN, big-lane and sign tests are integer compares and selects on the bits (no FP
// compares; speed unchanged within the noise). exp2: r = x - kd/N exact, the polynomial in r*ln2
// (exact at integers).
//
// expm1, tanh (exp_pair): the same reduction with r = rh + rl carried as a pair and
// 2^k T[j] + addend, 2^k T[j] * r and their sum formed by exact steps, so e^z - 1 (or e^z) comes
// out as a pair accurate to ~2^-65 of e^z: expm1 keeps its relative accuracy near 0 without a
// separate small-argument polynomial. tanh = t/(t + 2) (t = expm1|x|), with one division (a
// reciprocal, the quotient corrected once by its fma residual) and rounded once at the end.
// Measured max errors (test_vmath, against long double, tests/cpp/backends/test_vmath.cpp
// ExpPairKernelsAccuracy): tanh 0.513, expm1 0.513 ulp.
//
// log core (N = 32), for pow: x = 2^k z, z in [0x1.6955p-1, 0x1.6955p0) (the bit offset kLogOff, from
// the optimized-routines design), i = the top 5 mantissa bits of z's offset, invc = 1/c for the
// middle c of subinterval i (exactly 1 for the subinterval holding 1.0: no cancellation against
// log c next to 1), r = z*invc - 1 formed exactly (the product as a pair, r by Sterbenz, the
// pair's low part divided by 1 + r to third order), log x = k ln2 - log(invc) + log1p(r) with
// k*Ln2hi + logc exact (both multiples of 2^-42), the r^2/2 term exact, the series to r^11
// (|r| < 2^-6: truncation below 2^-69 relative). The result is a pair hi + lo with relative
// error around 2^-68: pow e^(y hi + y lo) with the product y*hi split exactly and its low part
// fed into exp's reduced argument (pow's special cases: pow_with_specials in vmath.cpp).
//
// Tables are computed once, in __float128 (113 bits: log(invc) and 2^(j/N) to ~2^-110).
#include "backends/cpu/vmath64_fast.h"
#include "backends/cpu/vmath_internal.h"

#include <llvm/ADT/StringMap.h>
#include <llvm/Analysis/LoopInfo.h>
#include <llvm/IR/Dominators.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Host.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace tracejit::backends {
namespace {

using llvm::Value;
using quad = __float128;

constexpr int kBits = 5;
constexpr int kN = 1 << kBits;
constexpr uint64_t kLogOff = 0x3fe6955500000000ULL;

double as_double(uint64_t u) {
  double d;
  std::memcpy(&d, &u, sizeof d);
  return d;
}
uint64_t as_bits(double d) {
  uint64_t u;
  std::memcpy(&u, &d, sizeof u);
  return u;
}

// log(v) for v in [0.5, 2] by 2 atanh((v-1)/(v+1)).
quad log_q(quad v) {
  quad s = (v - 1) / (v + 1), s2 = s * s, term = s, sum = 0;
  for (int n = 1; n < 160; n += 2) {
    sum += term / n;
    term *= s2;
  }
  return 2 * sum;
}
quad ln2_q() { return log_q(2); }
// e^t for |t| < 1 by its Taylor series.
quad exp_q(quad t) {
  quad sum = 1, term = 1;
  for (int n = 1; n < 60; ++n) {
    term = term * t / n;
    sum += term;
  }
  return sum;
}
// v rounded to a multiple of 2^-42 (as a double).
double round42(quad v) { return static_cast<double>(static_cast<quad>(std::nearbyint(static_cast<double>(v * 0x1p42))) / 0x1p42); }

struct Tables {
  double exp_tail[kN];
  double exp_sbits[kN];  // bit patterns
  double invc[kN], logc[kN], logctail[kN];
  double invc16[16], logc16[16], logctail16[16];  // the same for 16 subintervals (vmath64_more.cpp)
  double ln2hi, ln2lo;         // ln2 = hi + lo, hi a multiple of 2^-42
  double ln2hi_n, ln2lo_n;     // ln2/N = hi + lo, hi a multiple of 2^-42 (kd*hi exact for |kd| < 2^18)
  double inv_ln2_n;            // N/ln2
  double ln2;                  // ln2 rounded
  double inv_ln2[2], inv_ln10[2];  // 1/ln2 and 1/ln10 as double-doubles
};

const Tables& tables() {
  static const Tables t = [] {
    Tables t{};
    quad ln2 = ln2_q();
    for (int j = 0; j < kN; ++j) {
      quad v = exp_q(ln2 * j / kN);
      double hi = static_cast<double>(v);
      t.exp_tail[j] = static_cast<double>((v - hi) / hi);
      t.exp_sbits[j] = as_double(as_bits(hi) - (static_cast<uint64_t>(j) << (52 - kBits)));
    }
    for (int i = 0; i < kN; ++i) {
      double a = as_double(kLogOff + (static_cast<uint64_t>(i) << (52 - kBits)));
      double b = as_double(kLogOff + (static_cast<uint64_t>(i + 1) << (52 - kBits)));
      double invc = a <= 1.0 && 1.0 < b ? 1.0 : static_cast<double>(2 / (static_cast<quad>(a) + b));
      quad logc = invc == 1.0 ? 0 : -log_q(invc);
      t.invc[i] = invc;
      t.logc[i] = round42(logc);
      t.logctail[i] = static_cast<double>(logc - t.logc[i]);
    }
    for (int i = 0; i < 16; ++i) {
      double a = as_double(kLogOff + (static_cast<uint64_t>(i) << 48));
      double b = as_double(kLogOff + (static_cast<uint64_t>(i + 1) << 48));
      double invc = a <= 1.0 && 1.0 < b ? 1.0 : static_cast<double>(2 / (static_cast<quad>(a) + b));
      quad logc = invc == 1.0 ? 0 : -log_q(invc);
      t.invc16[i] = invc;
      t.logc16[i] = round42(logc);
      t.logctail16[i] = static_cast<double>(logc - t.logc16[i]);
    }
    t.ln2hi = round42(ln2);
    t.ln2lo = static_cast<double>(ln2 - t.ln2hi);
    quad ln2n = ln2 / kN;
    t.ln2hi_n = round42(ln2n);
    t.ln2lo_n = static_cast<double>(ln2n - t.ln2hi_n);
    t.inv_ln2_n = static_cast<double>(kN / ln2);
    t.ln2 = static_cast<double>(ln2);
    quad il2 = 1 / ln2, il10 = 1 / (3 * ln2 + log_q(static_cast<quad>(1.25)));
    t.inv_ln2[0] = static_cast<double>(il2);
    t.inv_ln2[1] = static_cast<double>(il2 - t.inv_ln2[0]);
    t.inv_ln10[0] = static_cast<double>(il10);
    t.inv_ln10[1] = static_cast<double>(il10 - t.inv_ln10[0]);
    return t;
  }();
  return t;
}

using vmath_detail::DD;
using vmath_detail::Math;

// Element `idx` (i64 in [0, kN)) of the constant table `name` (kN doubles; i64 bit patterns
// are read as doubles and cast back): a call the loop vectorizer widens into its vector
// variant (register-resident permutes on AVX-512), inlined after optimization.
Value* lut(Math& m, const char* name, const void* data, bool is_int, Value* idx, unsigned n = kN);

constexpr unsigned kLutVFs[] = {2, 4, 8, 16};
// The kernels are long dependency chains (a log feeding an exp in pow): four vectors in flight
// hide the latency (pow 3x faster than one at a time, measured).
constexpr int kInterleave = 4;

using vmath_detail::host_has_avx512f;
using vmath_detail::table_global;

// The vector variant of a table lookup of n = 8, 16 or 32 entries (the index taken modulo n):
// per 8 lanes with AVX-512 one vpermpd (n = 8), one vpermi2pd (16), or two vpermi2pd (entries
// 0-15 and 16-31 held in registers) and a blend on index bit 4 (32); a gather otherwise.
void define_lut_variant(llvm::Module* mod, const std::string& name, const double* data, unsigned n, unsigned vf) {
  auto& ctx = mod->getContext();
  llvm::Type* dt = llvm::Type::getDoubleTy(ctx);
  llvm::Type* it = llvm::Type::getInt64Ty(ctx);
  auto* vt = llvm::FixedVectorType::get(dt, vf);
  auto* vit = llvm::FixedVectorType::get(it, vf);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(vt, {vit}, false), llvm::GlobalValue::InternalLinkage,
                                   name + ".v" + std::to_string(vf), mod);
  f->setDoesNotThrow();
  f->setDoesNotAccessMemory();
  llvm::IRBuilder<> vb(llvm::BasicBlock::Create(ctx, "entry", f));
  Value* idx = f->getArg(0);
  if (vf % 8 != 0 || !host_has_avx512f()) {
    auto* g = table_global(mod, name, data, n);
    if (n != kN) idx = vb.CreateAnd(idx, llvm::ConstantInt::get(vit, n - 1));
    Value* ptrs = vb.CreateInBoundsGEP(g->getValueType(), g, {vb.getInt64(0), idx});
    vb.CreateRet(vb.CreateMaskedGather(vt, ptrs, llvm::Align(8)));
    return;
  }
  auto part = [&](int first) {
    return llvm::ConstantDataVector::get(ctx, llvm::ArrayRef<double>(data + first, 8));
  };
  llvm::Function* perm = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_vpermi2var_pd_512);
  std::vector<Value*> parts;
  for (unsigned c = 0; c < vf; c += 8) {
    std::vector<int> lanes;
    for (unsigned l = 0; l < 8; ++l) lanes.push_back(static_cast<int>(c + l));
    Value* i8 = vf == 8 ? idx : vb.CreateShuffleVector(idx, lanes);
    if (n == 8) {
      llvm::Function* pv = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_permvar_df_512);
      parts.push_back(vb.CreateCall(pv, {part(0), i8}));
      continue;
    }
    Value* lo = vb.CreateCall(perm, {part(0), i8, part(8)});
    if (n == 16) {
      parts.push_back(lo);
      continue;
    }
    Value* hi = vb.CreateCall(perm, {part(16), i8, part(24)});
    Value* upper = vb.CreateICmpNE(vb.CreateAnd(i8, llvm::ConstantInt::get(i8->getType(), 16)),
                                   llvm::Constant::getNullValue(i8->getType()));
    parts.push_back(vb.CreateSelect(upper, hi, lo));
  }
  while (parts.size() > 1) {  // concatenate neighbours (vf/8 is a power of two)
    std::vector<Value*> next;
    for (size_t p = 0; p < parts.size(); p += 2) {
      unsigned w = llvm::cast<llvm::FixedVectorType>(parts[p]->getType())->getNumElements();
      std::vector<int> cat;
      for (unsigned l = 0; l < 2 * w; ++l) cat.push_back(static_cast<int>(l));
      next.push_back(vb.CreateShuffleVector(parts[p], parts[p + 1], cat));
    }
    parts = next;
  }
  Value* res = parts[0];
  vb.CreateRet(res);
  llvm::appendToCompilerUsed(*mod, {f});
}

llvm::Function* lut_function(llvm::Module* mod, const std::string& name, const double* data, unsigned n) {
  if (llvm::Function* f = mod->getFunction(name)) return f;
  auto& ctx = mod->getContext();
  llvm::Type* dt = llvm::Type::getDoubleTy(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(dt, {llvm::Type::getInt64Ty(ctx)}, false),
                                   llvm::GlobalValue::InternalLinkage, name, mod);
  vmath_detail::mark_pure_out_of_line(f);
  llvm::IRBuilder<> fb(llvm::BasicBlock::Create(ctx, "entry", f));
  auto* g = table_global(mod, name, data, n);
  Value* i = n == kN ? static_cast<Value*>(f->getArg(0)) : fb.CreateAnd(f->getArg(0), fb.getInt64(n - 1));
  fb.CreateRet(fb.CreateLoad(dt, fb.CreateInBoundsGEP(g->getValueType(), g, {fb.getInt64(0), i})));
  for (unsigned vf : kLutVFs) define_lut_variant(mod, name, data, n, vf);
  return f;
}

Value* lut(Math& m, const char* name, const void* data, bool is_int, Value* idx, unsigned n) {
  auto& b = m.b();
  llvm::Module* mod = b.GetInsertBlock()->getModule();
  llvm::Function* f = lut_function(mod, name, static_cast<const double*>(data), n);
  llvm::CallInst* call = vmath_detail::call_with_variants(b, f, {idx}, kLutVFs);
  return is_int ? m.bits(call) : call;
}

// e^r - 1: r + r^2/2 + ... + r^7/5040 for |r| <= ln2/64 (+ a hair): truncation below 2^-64.
Value* exp_poly(Math& m, Value* r) {
  Value* r2 = m.mul(r, r);
  Value* p = m.fma(r2, m.fma(r, m.c(1.0 / 120), m.c(1.0 / 24)), m.fma(r, m.c(1.0 / 6), m.c(0.5)));
  p = m.fma(m.mul(r2, r2), m.fma(r, m.c(1.0 / 5040), m.c(1.0 / 720)), p);
  return m.fma(r2, p, r);
}

// 2^(ki/N) * (1 + tmp): `big` lanes (results near overflow or in the denormals) take the table
// value scaled by 2^-1009 (x > 0) or 2^1022 (x < 0) and multiply by the inverse at the end.
Value* exp_finish(Math& m, Value* ki, Value* tmp, Value* big, Value* pos) {
  auto& b = m.b();
  Value* j = b.CreateAnd(ki, m.ci(kN - 1));
  Value* tail = lut(m, "tracejit.vm64.exp_tail", tables().exp_tail, false, j);
  Value* sbits = b.CreateAdd(lut(m, "tracejit.vm64.exp_sbits", tables().exp_sbits, true, j), b.CreateShl(ki, m.ci(52 - kBits)));
  tmp = m.add(tail, tmp);
  Value* adj = m.sel(big, m.sel(pos, m.ci(1009), m.ci(-1022)), m.ci(0));
  Value* scale = m.from_bits(b.CreateSub(sbits, b.CreateShl(adj, m.ci(52))));
  Value* y = m.fma(scale, tmp, scale);
  return m.mul(y, m.from_bits(b.CreateShl(b.CreateAdd(adj, m.ci(1023)), m.ci(52))));
}

// NaN, by an integer compare of |x|'s bits (an ordered FP compare of a NaN raises invalid, and
// FP compares issue on the FMA pipes: exp had five, a third of its loop's FMA-pipe time).
Value* is_nan_bits(Math& m, Value* x) {
  return m.b().CreateICmpSGT(m.b().CreateAnd(m.bits(x), m.ci(INT64_MAX)), m.ci(INT64_C(0x7ff0000000000000)));
}

// e^(x + xtail) (xtail <= 2^-40 |x| or null) for any x: |x| > 746 (inf included) is clamped to
// +-746 (e^746 overflows to inf, e^-746 underflows to 0, raising the flags the exact value
// would), NaN to 0 (the caller returns x there; no flag), all by integer compares and selects
// on the bits.
Value* exp_tab(Math& m, Value* x, Value* xtail = nullptr) {
  auto& b = m.b();
  const Tables& t = tables();
  Value* xb = m.bits(x);
  Value* ab = b.CreateAnd(xb, m.ci(INT64_MAX));
  Value* out = b.CreateICmpSGT(ab, m.ci(static_cast<int64_t>(as_bits(746.0))));
  Value* clamped = b.CreateOr(b.CreateAnd(xb, m.ci(INT64_MIN)), m.ci(static_cast<int64_t>(as_bits(746.0))));
  clamped = m.sel(b.CreateICmpSGT(ab, m.ci(INT64_C(0x7ff0000000000000))), m.ci(0), clamped);
  x = m.from_bits(m.sel(out, clamped, xb));
  Value* kd = m.rint(m.mul(x, m.c(t.inv_ln2_n)));
  Value* r = m.sub(x, m.mul(kd, m.c(t.ln2hi_n)));  // exact (|kd| < 2^18)
  r = m.sub(r, m.mul(kd, m.c(t.ln2lo_n)));
  if (xtail) r = m.add(r, m.sel(out, m.c(0.0), xtail));
  Value* ki = b.CreateFPToSI(kd, b.getInt64Ty());
  Value* big = b.CreateICmpSGT(ab, m.ci(static_cast<int64_t>(as_bits(704.0))));
  return exp_finish(m, ki, exp_poly(m, r), big, b.CreateICmpSGE(xb, m.ci(0)));
}

Value* exp2_tab(Math& m, Value* x) {
  auto& b = m.b();
  Value* xc = m.clamp(x, -1080.0, 1025.0);
  Value* kd = m.rint(m.mul(xc, m.c(kN)));
  Value* r = m.fma(kd, m.c(-1.0 / kN), xc);  // exact
  Value* ki = b.CreateFPToSI(kd, b.getInt64Ty());
  Value* y = exp_finish(m, ki, exp_poly(m, m.mul(r, m.c(tables().ln2))), m.gt(m.fabs(xc), 1015.0), m.gt(xc, 0.0));
  return m.sel(m.is_nan(x), x, y);
}

// e^z + addend as a pair hi + lo, for NaN-free z in [-60, 711] and addend -1 or
// 0 (a constant or a per-lane select; null: none; on `big` lanes, z > 704, the pair is e^z *
// 2^-1009 and the addend must be 0: the caller multiplies by 2^1009); `nonneg`: z >= 0, so
// s >= 1 and s + addend is a Fast2Sum. The reduction as exp_tab's, but nothing
// rounds that the result's low part would miss: r = rh + rl (rh = z - kd ln2hi/N exact), e^z =
// s (1 + tail)(1 + r + q) with s = 2^k T[j] and q = e^r - 1 - r; s + addend, s*r and their sum
// are exact pairs, the rest (s (rl + q + tail (1 + r)), below 2^-13 s) one product. Absolute
// error about 2^-65 s: expm1 keeps its relative accuracy down to the smallest results (kd = 0
// leaves s = 1, r = z, the pair r + q).
DD exp_pair(Math& m, Value* z, Value* addend, Value* big, bool nonneg) {
  auto& b = m.b();
  const Tables& t = tables();
  Value* kd = m.rint(m.mul(z, m.c(t.inv_ln2_n)));
  Value* rh = m.fma(m.neg(kd), m.c(t.ln2hi_n), z);  // exact
  Value* cl = m.mul(kd, m.c(t.ln2lo_n));
  Value* r = m.sub(rh, cl);
  Value* rl = m.sub(m.sub(rh, r), cl);
  Value* r2 = m.mul(r, r);
  Value* p = m.fma(r2, m.fma(r, m.c(1.0 / 5040), m.c(1.0 / 720)), m.fma(r, m.c(1.0 / 120), m.c(1.0 / 24)));
  Value* q = m.mul(r2, m.fma(r2, p, m.fma(r, m.c(1.0 / 6), m.c(0.5))));
  Value* ki = b.CreateFPToSI(kd, b.getInt64Ty());
  Value* j = b.CreateAnd(ki, m.ci(kN - 1));
  Value* tail = lut(m, "tracejit.vm64.exp_tail", t.exp_tail, false, j);
  Value* sbits = b.CreateAdd(lut(m, "tracejit.vm64.exp_sbits", t.exp_sbits, true, j), b.CreateShl(ki, m.ci(52 - kBits)));
  Value* s = m.from_bits(m.sel(big, b.CreateSub(sbits, m.ci(INT64_C(1009) << 52)), sbits));
  Value* small = m.add(m.add(rl, q), m.fma(tail, r, tail));
  DD a = !addend ? DD{s, nullptr} : nonneg ? m.fast_two_sum(s, addend) : m.two_sum(s, addend);
  DD pr = m.two_prod(s, r);
  // |s + addend| >= |s r| unless kd = 0, where s + addend is 0 or s (exact either way).
  DD h = m.fast_two_sum(a.hi, pr.hi);
  Value* lo = m.add(pr.lo, h.lo);
  if (a.lo) lo = m.add(a.lo, lo);
  lo = m.fma(s, small, lo);
  return m.fast_two_sum(h.hi, lo);  // lo may reach 2^-7 of hi (s q): normalized for the quotients
}

// expm1: the pair above rounded once; -1 below -40 (e^x under half an ulp of 1), inf above
// ln(DBL_MAX) (by the multiply that undoes big lanes' scaling: overflow raised as NumPy does);
// +-0 returns x, +inf inf (no flag), NaN NaN.
Value* expm1_tab(Math& m, Value* x) {
  // NaN replaced first (a quiet compare): an ordered compare of NaN raises invalid on x86.
  Value* xc = m.clamp(m.sel(m.is_nan(x), m.c(0.0), x), -40.0, 710.0);
  xc = m.sel(m.eq(x, INFINITY), m.c(0.0), xc);
  Value* big = m.gt(xc, 704.0);
  DD e = exp_pair(m, xc, m.sel(big, m.c(0.0), m.c(-1.0)), big, false);
  Value* res = m.mul(e.hi, m.sel(big, m.c(0x1p1009), m.c(1.0)));
  res = m.sel(m.eq(x, 0.0), x, res);
  res = m.sel(m.eq(x, INFINITY), x, res);
  return m.sel(m.is_nan(x), x, res);
}

// tanh|x| = t / (t + 2), t = expm1(2|x|) as a pair (|x| clamped to 22: 1 - tanh 22 < 2^-62), one
// division (1/d, the quotient t*(1/d) corrected once by its residual).
Value* tanh_tab(Math& m, Value* x) {
  Value* a = m.fabs(m.sel(m.is_nan(x), m.c(0.0), x));  // NaN (fixed below) compares quietly
  Value* z = m.sel(m.lt(a, 22.0), a, m.c(22.0));
  z = m.add(z, z);
  DD t = exp_pair(m, z, m.c(-1.0), m.b().getFalse(), true);
  DD d = m.two_sum(t.hi, m.c(2.0));
  Value* dl = m.add(d.lo, t.lo);
  Value* inv = m.div(m.c(1.0), d.hi);
  Value* q = m.mul(t.hi, inv);
  Value* rem = m.add(m.fma(m.neg(q), d.hi, t.hi), m.sub(t.lo, m.mul(q, dl)));
  Value* res = m.fma(rem, inv, q);
  return m.sel(m.is_nan(x), x, m.copysign(res, x));
}

// log(x) = hi + lo (relative error around 2^-68) for finite x > 0, denormals included.
DD log_core(Math& m, Value* x) {
  auto& b = m.b();
  const Tables& t = tables();
  Value* ix = m.bits(x);
  Value* sub = b.CreateICmpSLT(ix, m.ci(INT64_C(0x0010000000000000)));
  // A denormal x is its bit pattern times 2^-1074: the integer converted to double (exact below
  // 2^52) is x * 2^1074, normal. Not x * 2^52 as a float product: LLVM speculates that multiply
  // onto every lane, and for x >= 2^972 it raised a spurious overflow flag (which the errstate
  // check answers with an eager re-run); the conversion raises at most inexact.
  Value* xs = b.CreateSIToFP(ix, x->getType());
  ix = m.sel(sub, b.CreateSub(m.bits(xs), m.ci(INT64_C(1074) << 52)), ix);
  Value* tmp = b.CreateSub(ix, m.ci(static_cast<int64_t>(kLogOff)));
  Value* i = b.CreateAnd(b.CreateLShr(tmp, m.ci(52 - kBits)), m.ci(kN - 1));
  Value* k = b.CreateAShr(tmp, m.ci(52));
  Value* z = m.from_bits(b.CreateSub(ix, b.CreateAnd(tmp, m.ci(static_cast<int64_t>(0xfffULL << 52)))));
  Value* invc = lut(m, "tracejit.vm64.log_invc", t.invc, false, i);
  Value* logc = lut(m, "tracejit.vm64.log_logc", t.logc, false, i);
  Value* logctail = lut(m, "tracejit.vm64.log_logctail", t.logctail, false, i);
  Value* kd = b.CreateSIToFP(k, b.getDoubleTy());
  DD p = m.two_prod(z, invc);
  Value* r = m.sub(p.hi, m.c(1.0));  // exact (Sterbenz)
  Value* t1 = m.add(m.mul(kd, m.c(t.ln2hi)), logc);  // exact: multiples of 2^-42 below 2^10
  Value* t2 = m.add(t1, r);
  Value* lo1 = m.add(m.mul(kd, m.c(t.ln2lo)), logctail);
  Value* lo2 = m.add(m.sub(t1, t2), r);
  Value* ar = m.mul(r, m.c(-0.5));
  Value* ar2 = m.mul(r, ar);
  Value* ar3 = m.mul(r, ar2);
  Value* hi = m.add(t2, ar2);
  Value* lo3 = m.fma(ar, r, m.neg(ar2));
  Value* lo4 = m.add(m.sub(t2, hi), ar2);
  // log1p(r) - r + r^2/2 = -r^3/2 * q, the series to r^11.
  Value* q4 = m.fma(ar2, m.c(-32.0 / 11), m.fma(r, m.c(-8.0 / 5), m.c(16.0 / 9)));
  Value* q3 = m.fma(ar2, q4, m.add(r, m.c(-8.0 / 7)));
  Value* q2 = m.fma(ar2, q3, m.fma(r, m.c(-2.0 / 3), m.c(4.0 / 5)));
  Value* q = m.fma(ar2, q2, m.fma(r, m.c(0.5), m.c(-2.0 / 3)));
  // The product's low part: p.lo / (1 + r) = p.lo (1 - r + r^2 - r^3) to 2^-77.
  Value* lo5 = m.fma(p.lo, m.fma(r, m.fma(m.neg(r), r, r), m.neg(r)), p.lo);
  Value* lo = m.add(m.add(m.add(m.add(lo1, lo2), m.add(lo3, lo4)), lo5), m.mul(ar3, q));
  Value* y = m.add(hi, lo);
  return {y, m.add(m.sub(hi, y), lo)};
}

}  // namespace

const fast64::TableView& fast64::table_view() {
  static const TableView v = [] {
    const Tables& t = tables();
    return TableView{t.exp_tail, t.exp_sbits,  t.invc,      t.logc,     t.logctail, t.invc16,
                     t.logc16,   t.logctail16, kLogOff,     t.ln2hi,    t.ln2lo,    t.ln2hi_n,
                     t.ln2lo_n,  t.inv_ln2_n,  t.inv_ln2,   t.inv_ln10};
  }();
  return v;
}

llvm::Value* fast64::lut(Math& m, const char* name, const double* data, bool is_int, llvm::Value* idx, unsigned n) {
  return tracejit::backends::lut(m, name, data, is_int, idx, n);
}

// The kernels whose loops get the interleave count: the table lookups' callers, and float64 tan
// (vmath.cpp's tan64 on vmath64_more.cpp's tan_kernel64: one long chain through the reduction,
// both polynomials and the division; its loop calls the out-of-line huge-argument path
// tracejit.vm.huge.tan, and is latency-bound alone: 4M elements one thread 1.35x faster
// interleaved).
static bool wants_interleave(llvm::StringRef callee) {
  return callee.startswith("tracejit.vm64.") || callee == "tracejit.vm.huge.tan";
}

void hint_fast64_loops(llvm::Module& mod) {
  for (llvm::Function& f : mod) {
    if (f.isDeclaration() || f.getName().startswith("tracejit.vm64.")) continue;
    llvm::DominatorTree dt(f);
    llvm::LoopInfo li(dt);
    for (llvm::Loop* top : li)
      for (llvm::Loop* l : llvm::depth_first(top)) {
        if (!l->isInnermost()) continue;
        bool uses = false;
        for (llvm::BasicBlock* bb : l->blocks())
          for (llvm::Instruction& i : *bb)
            if (auto* c = llvm::dyn_cast<llvm::CallInst>(&i))
              if (llvm::Function* callee = c->getCalledFunction(); callee && wants_interleave(callee->getName()))
                uses = true;
        if (!uses) continue;
        auto& ctx = f.getContext();
        llvm::SmallVector<llvm::Metadata*, 4> ops = {nullptr};
        if (llvm::MDNode* old = l->getLoopID())
          for (unsigned k = 1; k < old->getNumOperands(); ++k) {
            auto* op = llvm::dyn_cast<llvm::MDNode>(old->getOperand(k));
            auto* name = op && op->getNumOperands() > 0 ? llvm::dyn_cast<llvm::MDString>(op->getOperand(0)) : nullptr;
            if (name && name->getString() == "llvm.loop.interleave.count") continue;
            ops.push_back(old->getOperand(k));
          }
        ops.push_back(llvm::MDNode::get(ctx, {llvm::MDString::get(ctx, "llvm.loop.interleave.count"),
                                              llvm::ConstantAsMetadata::get(llvm::ConstantInt::get(llvm::Type::getInt32Ty(ctx), kInterleave))}));
        llvm::MDNode* id = llvm::MDNode::getDistinct(ctx, ops);
        id->replaceOperandWith(0, id);
        l->setLoopID(id);
      }
  }
}

void inline_fast64_variants(llvm::Module& mod) {
  // Until none is left, but for the scalar out-of-line log path (vmath64_more.cpp's *_slow, called
  // from its vector variants' lane loops and the scalar remainder: compiled once, not per call
  // site): inlining the variants brings those calls along.
  for (;;) {
    std::vector<llvm::CallInst*> calls;
    for (llvm::Function& f : mod) {
      if (!f.getName().startswith("tracejit.vm64.") || f.getName().endswith("_slow")) continue;
      for (llvm::User* u : f.users())
        if (auto* c = llvm::dyn_cast<llvm::CallInst>(u); c && c->getCalledFunction() == &f) calls.push_back(c);
    }
    bool inlined = false;
    for (llvm::CallInst* c : calls) {
      llvm::InlineFunctionInfo info;
      inlined |= llvm::InlineFunction(*c, info).isSuccess();
    }
    if (!inlined) break;
  }
  // The lookups and the vector variants are now dead (kept until vectorization by
  // llvm.compiler.used): dropped before code generation (they doubled log's compile time).
  std::vector<llvm::Function*> dead;
  for (llvm::Function& f : mod)
    if (f.getName().startswith("tracejit.vm64.") &&
        llvm::none_of(f.users(), [](llvm::User* u) { return llvm::isa<llvm::CallInst>(u); }))
      dead.push_back(&f);
  llvm::removeFromUsedLists(mod, [&](llvm::Constant* c) { return llvm::is_contained(dead, c); });
  for (llvm::Function* f : dead) {
    f->removeDeadConstantUsers();
    if (f->use_empty()) f->eraseFromParent();
  }
}

llvm::Value* emit_fast64(llvm::IRBuilderBase& b, ir::Op op, llvm::Value* x) {
  Math m(b);
  switch (op) {
    case ir::Op::Exp: return m.sel(is_nan_bits(m, x), x, exp_tab(m, x));
    case ir::Op::Exp2: return exp2_tab(m, x);
    case ir::Op::Expm1: return expm1_tab(m, x);
    case ir::Op::Tanh: return tanh_tab(m, x);
    default: return nullptr;
  }
}

llvm::Value* emit_fast_pow_core64(llvm::IRBuilderBase& b, llvm::Value* ax, llvm::Value* y) {
  Math m(b);
  DD l = log_core(m, ax);
  DD p = m.two_prod(y, l.hi);
  return exp_tab(m, p.hi, m.fma(y, l.lo, p.lo));
}

}  // namespace tracejit::backends
