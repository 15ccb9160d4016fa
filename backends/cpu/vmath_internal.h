// Internal to backends/cpu: IR helpers shared by vmath.cpp, vmath64_fast.cpp and vmath32_fast.cpp
// (the float kernels): a double-double / float-float pair, double-precision builders over double
// (or vectors of double) with i64 integers, and single-precision builders over float with i32. Plain ops carry no fast-math flags.
#pragma once

#include <llvm/ADT/StringMap.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Host.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

namespace tracejit::backends::vmath_detail {

using llvm::Value;

struct DD {
  Value* hi;
  Value* lo;
};

// IR helpers over one float type F (double with i64 integers for the float64 kernels of
// vmath.cpp and vmath64_fast.cpp; float with i32 for vmath32_fast.cpp), scalars or vectors of
// them: plain ops carry no fast-math flags. kMant / kBias: F's stored mantissa bits and
// exponent bias.
template <typename F, typename I, int kMant, int kBias>
class BasicMath {
 public:
  explicit BasicMath(llvm::IRBuilderBase& b)
      : b_(b),
        f_(std::is_same_v<F, double> ? b.getDoubleTy() : b.getFloatTy()),
        i_(std::is_same_v<I, int64_t> ? b.getInt64Ty() : b.getInt32Ty()) {}

  llvm::IRBuilderBase& b() { return b_; }
  Value* c(F v) { return llvm::ConstantFP::get(f_, static_cast<double>(v)); }
  Value* ci(I v) { return llvm::ConstantInt::get(i_, static_cast<uint64_t>(static_cast<int64_t>(v)), true); }
  Value* add(Value* x, Value* y) { return b_.CreateFAdd(x, y); }
  Value* sub(Value* x, Value* y) { return b_.CreateFSub(x, y); }
  Value* mul(Value* x, Value* y) { return b_.CreateFMul(x, y); }
  Value* div(Value* x, Value* y) { return b_.CreateFDiv(x, y); }
  Value* neg(Value* x) { return b_.CreateFNeg(x); }
  Value* fma(Value* x, Value* y, Value* z) { return b_.CreateIntrinsic(llvm::Intrinsic::fma, {f_}, {x, y, z}); }
  Value* rint(Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::rint, x); }
  Value* fabs(Value* x) { return b_.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x); }
  Value* copysign(Value* mag, Value* sgn) { return b_.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, mag, sgn); }
  Value* sel(Value* c, Value* x, Value* y) { return b_.CreateSelect(c, x, y); }
  Value* is_nan(Value* x) { return b_.CreateFCmpUNO(x, x); }
  Value* to_int(Value* x) { return b_.CreateFPToSI(x, i_); }  // x integral and in range
  Value* to_fp(Value* k) { return b_.CreateSIToFP(k, f_); }
  Value* bits(Value* x) { return b_.CreateBitCast(x, i_); }
  Value* from_bits(Value* k) { return b_.CreateBitCast(k, f_); }
  Value* lt(Value* x, F v) { return b_.CreateFCmpOLT(x, c(v)); }
  Value* gt(Value* x, F v) { return b_.CreateFCmpOGT(x, c(v)); }
  Value* eq(Value* x, F v) { return b_.CreateFCmpOEQ(x, c(v)); }
  // x clamped to [lo, hi], NaN to 0 (first: an ordered compare signals on NaN, x86 cmpps,
  // raising the invalid flag NumPy's loops never raise for NaN data).
  Value* clamp(Value* x, F lo, F hi) {
    Value* r = sel(is_nan(x), c(0.0), x);
    r = sel(gt(r, hi), c(hi), r);
    return sel(lt(r, lo), c(lo), r);
  }


  // Horner evaluation of coef[0] + x*coef[1] + ...: plain multiply and add in double (the
  // float64 kernels' error bounds assume it), fused multiply-adds in float.
  Value* poly(Value* x, const std::vector<F>& coef) {
    Value* r = c(coef.back());
    for (size_t i = coef.size() - 1; i-- > 0;) {
      if constexpr (std::is_same_v<F, double>) r = add(c(coef[i]), mul(x, r));
      else r = fma(r, x, c(coef[i]));
    }
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

  // 2^k for k in [1 - kBias, kBias].
  Value* pow2(Value* k) { return from_bits(b_.CreateShl(b_.CreateAdd(k, ci(kBias)), ci(kMant))); }
  // y * 2^k for k in [2 - 2 kBias, 2 kBias] in two exact steps, so only the last one rounds (to
  // a denormal, zero or infinity as the exact product would).
  Value* scale(Value* y, Value* k) {
    Value* k1 = b_.CreateAShr(k, ci(1));
    return mul(mul(y, pow2(k1)), pow2(b_.CreateSub(k, k1)));
  }

 private:
  llvm::IRBuilderBase& b_;
  llvm::Type* f_;
  llvm::Type* i_;
};

using Math = BasicMath<double, int64_t, 52, 1023>;
using Math32 = BasicMath<float, int32_t, 23, 127>;

// e^u = 2^k * (1 + r1 + t) for NaN-free |u| <= 104: k = rint(u/ln2), r1 = u - k*C1 exact (C1 =
// ln2 to 17 bits; with the fma the difference is representable), t = c + r^2*q(r) with c = -k*C2
// (the rest of ln2) and r = r1 + c. q: a minimax fit (relative, float coefficients) of
// (e^r - 1 - r)/r^2 on |r| <= ln2/2, relative error of e^r below 2^-29.7. Keeping r1 out of the
// rounded sum means only 1 + r1 + t rounds at the end.
struct ExpCoreF {
  Value* kf;  // k as a float (m.to_int for the integer)
  Value* r1;
  Value* t;
};
inline ExpCoreF exp_core_f(Math32& m, Value* u) {
  Value* kf = m.rint(m.mul(u, m.c(0x1.715476p+0f)));
  Value* r1 = m.fma(kf, m.c(-0x1.62e4p-1f), u);
  Value* c = m.mul(kf, m.c(-0x1.7f7d1cp-20f));
  Value* r = m.add(r1, c);
  Value* q = m.poly(r, {0.5f, 0x1.555554p-3f, 0x1.55548ep-5f, 0x1.11127p-7f, 0x1.6d8d2ap-10f, 0x1.9f087ap-13f});
  return {kf, r1, m.fma(m.mul(r, r), q, c)};
}

// Native single-precision exp2 (vmath32_fast.cpp), float or vector-of-float x; within 1 ulp of the
// correctly rounded result with NumPy's special values (bound in vmath.cpp's table).
Value* exp2_32(Math32& m, Value* x);

// ---- pieces of the vector variants (table lookups, out-of-line slow paths) ----

// Whether the host has AVX-512F: the register-held table permutes need it (a gather otherwise).
// Lanes with |x| >= threshold (a positive finite constant; +-inf included, NaN not), from
// integer compares of the bits: an ordered float compare signals on NaN (x86 cmpps), raising
// the invalid flag that NumPy's loops never raise for NaN data (an eager re-run of the call).
// Only after optimization: InstCombine turns these compares of a fabs's bits back into an
// ordered float compare (LLVM's default FP environment ignores exceptions).
inline llvm::Value* abs_at_least(llvm::IRBuilderBase& b, llvm::Value* x, double threshold) {
  llvm::Type* t = x->getType();
  unsigned bits = t->getScalarSizeInBits();
  llvm::Type* it = b.getIntNTy(bits);
  if (auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(t)) it = llvm::FixedVectorType::get(it, vt->getNumElements());
  Value* ab = b.CreateBitCast(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x), it);
  auto bits_of = [&](double v) {
    llvm::APFloat f(v);
    bool lost = false;
    if (bits == 32) f.convert(llvm::APFloat::IEEEsingle(), llvm::APFloat::rmNearestTiesToEven, &lost);
    return llvm::ConstantInt::get(it, f.bitcastToAPInt());
  };
  return b.CreateAnd(b.CreateICmpSGE(ab, bits_of(threshold)), b.CreateICmpSLE(ab, bits_of(INFINITY)));
}

inline bool host_has_avx512f() {
  static const bool has = [] {
    llvm::StringMap<bool> features;
    return llvm::sys::getHostCPUFeatures(features) && features.lookup("avx512f");
  }();
  return has;
}

// The constant table `name`.table of n floats or doubles in `mod` (made once, 64-byte aligned).
template <typename T>
llvm::GlobalVariable* table_global(llvm::Module* mod, const std::string& name, const T* data, unsigned n) {
  auto& ctx = mod->getContext();
  llvm::Type* et = std::is_same_v<T, double> ? llvm::Type::getDoubleTy(ctx) : llvm::Type::getFloatTy(ctx);
  auto* arr_ty = llvm::ArrayType::get(et, n);
  auto* g = llvm::cast<llvm::GlobalVariable>(mod->getOrInsertGlobal(name + ".table", arr_ty));
  if (!g->hasInitializer()) {
    g->setInitializer(llvm::ConstantDataArray::get(ctx, llvm::ArrayRef<T>(data, n)));
    g->setConstant(true);
    g->setLinkage(llvm::GlobalValue::PrivateLinkage);
    g->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    g->setAlignment(llvm::Align(64));
  }
  return g;
}

// An out-of-line helper the kernels call (a table lookup, a slow path): pure and not inlined
// before the vectorizer, so its vector-function-abi-variant mappings apply.
inline void mark_pure_out_of_line(llvm::Function* f) {
  f->setDoesNotAccessMemory();  // reads only constant tables
  f->setDoesNotThrow();
  f->setWillReturn();
  f->addFnAttr(llvm::Attribute::NoInline);
  f->addFnAttr(llvm::Attribute::NoSync);
  f->addFnAttr(llvm::Attribute::NoFree);
}

// Ends the function `vb` is building, from its current block: a loop over the vf lanes calling
// `scalar` with lane i of each of `args`, inserting each result into a vector that starts as
// `init`, and returning it. Kept a loop: unrolled, the variants cost more compile time than the
// kernel around them.
inline void return_per_lane_calls(llvm::IRBuilder<>& vb, llvm::Function* scalar, const std::vector<Value*>& args,
                                  Value* init, unsigned vf) {
  auto& ctx = vb.getContext();
  llvm::Function* f = vb.GetInsertBlock()->getParent();
  llvm::BasicBlock* from = vb.GetInsertBlock();
  auto* lane = llvm::BasicBlock::Create(ctx, "lane", f);
  auto* done = llvm::BasicBlock::Create(ctx, "done", f);
  vb.CreateBr(lane);
  vb.SetInsertPoint(lane);
  llvm::PHINode* i = vb.CreatePHI(vb.getInt32Ty(), 2);
  llvm::PHINode* acc = vb.CreatePHI(init->getType(), 2);
  i->addIncoming(vb.getInt32(0), from);
  acc->addIncoming(init, from);
  std::vector<Value*> lanes;
  for (Value* a : args) lanes.push_back(vb.CreateExtractElement(a, i));
  Value* next_acc = vb.CreateInsertElement(acc, vb.CreateCall(scalar, lanes), i);
  Value* next = vb.CreateAdd(i, vb.getInt32(1));
  i->addIncoming(next, lane);
  acc->addIncoming(next_acc, lane);
  llvm::BranchInst* back = vb.CreateCondBr(vb.CreateICmpULT(next, vb.getInt32(vf)), lane, done);
  llvm::Metadata* unroll_off = llvm::MDNode::get(ctx, llvm::MDString::get(ctx, "llvm.loop.unroll.disable"));
  llvm::MDNode* loop_md = llvm::MDNode::getDistinct(ctx, {nullptr, unroll_off});
  loop_md->replaceOperandWith(0, loop_md);
  back->setMetadata(llvm::LLVMContext::MD_loop, loop_md);
  vb.SetInsertPoint(done);
  vb.CreateRet(next_acc);
}

// A call of `f` that the loop vectorizer widens into f's variants "<name>.v<VF>" for each VF in
// `vfs` (the "vector-function-abi-variant" mappings; every parameter a vector).
template <typename VFs>
llvm::CallInst* call_with_variants(llvm::IRBuilderBase& b, llvm::Function* f, llvm::ArrayRef<Value*> args,
                                   const VFs& vfs) {
  const std::string name = f->getName().str();
  const std::string params(args.size(), 'v');
  std::string mappings;
  for (unsigned vf : vfs) {
    if (!mappings.empty()) mappings += ',';
    mappings += "_ZGV_LLVM_N" + std::to_string(vf) + params + "_" + name + "(" + name + ".v" + std::to_string(vf) + ")";
  }
  llvm::CallInst* call = b.CreateCall(f, args);
  call->addFnAttr(llvm::Attribute::get(b.getContext(), "vector-function-abi-variant", mappings));
  return call;
}

}  // namespace tracejit::backends::vmath_detail
