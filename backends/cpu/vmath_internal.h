// Internal to backends/cpu: IR helpers shared by vmath.cpp, vmath64_fast.cpp and vmath32_fast.cpp
// (the float kernels): a double-double / float-float pair, double-precision builders over double
// (or vectors of double) with i64 integers, and single-precision builders over float with i32. Plain ops carry no fast-math flags.
#pragma once

#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>

#include <cstdint>
#include <vector>

namespace tracejit::backends::vmath_detail {

using llvm::Value;

struct DD {
  Value* hi;
  Value* lo;
};

// IR helpers over double and i64 (or vectors of them) for the float64 kernels of vmath.cpp and
// vmath64_fast.cpp: plain ops carry no fast-math flags.
class Math {
 public:
  explicit Math(llvm::IRBuilderBase& b) : b_(b), f64_(b.getDoubleTy()), i64_(b.getInt64Ty()) {}

  llvm::IRBuilderBase& b() { return b_; }
  Value* c(double v) { return llvm::ConstantFP::get(f64_, v); }
  Value* ci(int64_t v) { return llvm::ConstantInt::get(i64_, static_cast<uint64_t>(v), true); }
  Value* add(Value* x, Value* y) { return b_.CreateFAdd(x, y); }
  Value* sub(Value* x, Value* y) { return b_.CreateFSub(x, y); }
  Value* mul(Value* x, Value* y) { return b_.CreateFMul(x, y); }
  Value* div(Value* x, Value* y) { return b_.CreateFDiv(x, y); }
  Value* neg(Value* x) { return b_.CreateFNeg(x); }
  Value* fma(Value* x, Value* y, Value* z) { return b_.CreateIntrinsic(llvm::Intrinsic::fma, {f64_}, {x, y, z}); }
  Value* rint(Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::rint, x); }
  Value* fabs(Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  Value* copysign(Value* mag, Value* sgn) { return b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, mag, sgn); }
  Value* sel(Value* c, Value* x, Value* y) { return b_.CreateSelect(c, x, y); }
  Value* is_nan(Value* x) { return b_.CreateFCmpUNO(x, x); }
  Value* to_int(Value* x) { return b_.CreateFPToSI(x, i64_); }  // x integral and in range
  Value* to_fp(Value* k) { return b_.CreateSIToFP(k, f64_); }
  Value* bits(Value* x) { return b_.CreateBitCast(x, i64_); }
  Value* from_bits(Value* k) { return b_.CreateBitCast(k, f64_); }
  Value* lt(Value* x, double v) { return b_.CreateFCmpOLT(x, c(v)); }
  Value* gt(Value* x, double v) { return b_.CreateFCmpOGT(x, c(v)); }
  Value* eq(Value* x, double v) { return b_.CreateFCmpOEQ(x, c(v)); }
  // x clamped to [lo, hi], NaN to 0.
  Value* clamp(Value* x, double lo, double hi) {
    Value* r = sel(gt(x, hi), c(hi), x);
    r = sel(lt(r, lo), c(lo), r);
    return sel(is_nan(x), c(0.0), r);
  }

  // Horner evaluation of coef[0] + x*coef[1] + ... (plain multiply and add, no fma).
  Value* poly(Value* x, const std::vector<double>& coef) {
    Value* r = c(coef.back());
    for (size_t i = coef.size() - 1; i-- > 0;) r = add(c(coef[i]), mul(x, r));
    return r;
  }

  // Error-free transforms (Knuth TwoSum, Dekker Fast2Sum with |x| >= |y|, FMA TwoProd).
  DD two_sum(Value* x, Value* y) {
    Value* s = add(x, y);
    Value* yv = sub(s, x);
    Value* xv = sub(s, yv);
    return {s, add(sub(x, xv), sub(y, yv))};
  }
  DD fast_two_sum(Value* x, Value* y) {
    Value* s = add(x, y);
    return {s, sub(y, sub(s, x))};
  }
  DD two_prod(Value* x, Value* y) {
    Value* p = mul(x, y);
    return {p, fma(x, y, neg(p))};
  }

  // 2^k for k in [-1022, 1023].
  Value* pow2(Value* k) { return from_bits(b_.CreateShl(b_.CreateAdd(k, ci(1023)), ci(52))); }
  // y * 2^k for k in [-2044, 2046] in two exact steps, so only the last one rounds.
  Value* scale(Value* y, Value* k) {
    Value* k1 = b_.CreateAShr(k, ci(1));
    return mul(mul(y, pow2(k1)), pow2(b_.CreateSub(k, k1)));
  }

 private:
  llvm::IRBuilderBase& b_;
  llvm::Type* f64_;
  llvm::Type* i64_;
};

class Math32 {
 public:
  explicit Math32(llvm::IRBuilderBase& b) : b_(b), f32_(b.getFloatTy()), i32_(b.getInt32Ty()) {}

  llvm::IRBuilderBase& b() { return b_; }
  Value* c(float v) { return llvm::ConstantFP::get(f32_, static_cast<double>(v)); }
  Value* ci(int32_t v) { return llvm::ConstantInt::get(i32_, static_cast<uint64_t>(static_cast<int64_t>(v)), true); }
  Value* add(Value* x, Value* y) { return b_.CreateFAdd(x, y); }
  Value* sub(Value* x, Value* y) { return b_.CreateFSub(x, y); }
  Value* mul(Value* x, Value* y) { return b_.CreateFMul(x, y); }
  Value* div(Value* x, Value* y) { return b_.CreateFDiv(x, y); }
  Value* neg(Value* x) { return b_.CreateFNeg(x); }
  Value* fma(Value* x, Value* y, Value* z) { return b_.CreateIntrinsic(llvm::Intrinsic::fma, {f32_}, {x, y, z}); }
  Value* rint(Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::rint, x); }
  Value* fabs(Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  Value* copysign(Value* mag, Value* sgn) { return b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, mag, sgn); }
  Value* sel(Value* c, Value* x, Value* y) { return b_.CreateSelect(c, x, y); }
  Value* is_nan(Value* x) { return b_.CreateFCmpUNO(x, x); }
  Value* to_int(Value* x) { return b_.CreateFPToSI(x, i32_); }  // x integral and in range
  Value* to_fp(Value* k) { return b_.CreateSIToFP(k, f32_); }
  Value* bits(Value* x) { return b_.CreateBitCast(x, i32_); }
  Value* from_bits(Value* k) { return b_.CreateBitCast(k, f32_); }

  // Horner evaluation of coef[0] + x*coef[1] + ... with fused multiply-adds.
  Value* poly(Value* x, const std::vector<float>& coef) {
    Value* r = c(coef.back());
    for (size_t i = coef.size() - 1; i-- > 0;) r = fma(r, x, c(coef[i]));
    return r;
  }
  DD two_sum(Value* x, Value* y) {
    Value* s = add(x, y);
    Value* yv = sub(s, x);
    Value* xv = sub(s, yv);
    return {s, add(sub(x, xv), sub(y, yv))};
  }
  DD fast_two_sum(Value* x, Value* y) {  // |x| >= |y|
    Value* s = add(x, y);
    return {s, sub(y, sub(s, x))};
  }
  DD two_prod(Value* x, Value* y) {
    Value* p = mul(x, y);
    return {p, fma(x, y, neg(p))};
  }

  // 2^k for k in [-126, 127].
  Value* pow2(Value* k) { return from_bits(b_.CreateShl(b_.CreateAdd(k, ci(127)), ci(23))); }
  // y * 2^k for k in [-252, 254] in two exact steps, so only the last one rounds (to a
  // denormal, zero or infinity as the exact product would).
  Value* scale(Value* y, Value* k) {
    Value* k1 = b_.CreateAShr(k, ci(1));
    return mul(mul(y, pow2(k1)), pow2(b_.CreateSub(k, k1)));
  }

 private:
  llvm::IRBuilderBase& b_;
  llvm::Type* f32_;
  llvm::Type* i32_;
};

// Native single-precision kernels (vmath32_fast.cpp), float or vector-of-float x; each within
// 1 ulp of the correctly rounded result with NumPy's special values (bounds in vmath.cpp's table).
Value* sinhcosh32(Math32& m, Value* x, bool is_cosh);
Value* exp2_32(Math32& m, Value* x);
Value* log2_32(Math32& m, Value* x);
Value* log10_32(Math32& m, Value* x);
Value* expm1_32(Math32& m, Value* x);
Value* log1p_32(Math32& m, Value* x);

}  // namespace tracejit::backends::vmath_detail
