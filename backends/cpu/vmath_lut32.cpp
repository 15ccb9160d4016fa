// float32 table lookups from registers (see vmath_lut32.h), modelled on vmath64_fast.cpp's
// lut(): the scalar lookup is an internal function reading a constant global; its vector
// variants hold the table as one (n = 16) or two (n = 32) <16 x float> constants and permute
// them by the index vector: llvm.x86.avx512.permvar.sf.512 (vpermps) or
// llvm.x86.avx512.vpermi2var.ps.512 (vpermi2ps, index bit 4 picks the second register), 16
// lanes per instruction. VF 4 and 8 pad the index to 16 lanes and keep the first VF results; VF
// 32 is two halves. Without AVX-512 (or for other widths) a masked gather from the global.
#include "backends/cpu/vmath_lut32.h"

#include <llvm/ADT/StringMap.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/Module.h>
#include <llvm/Support/Host.h>
#include <llvm/Transforms/Utils/Cloning.h>
#include <llvm/Transforms/Utils/ModuleUtils.h>

#include <string>
#include <vector>

namespace tracejit::backends {
namespace {

using llvm::Value;

constexpr const char* kPrefix = "tracejit.lut32.";
constexpr unsigned kVFs[] = {4, 8, 16, 32};

using vmath_detail::host_has_avx512f;
using vmath_detail::table_global;

// data[idx] for a <16 x i32> idx from registers: one vpermps (n = 16) or vpermi2ps (n = 32).
Value* permute16(llvm::IRBuilderBase& b, llvm::Module* mod, const float* data, unsigned n, Value* idx16) {
  auto& ctx = mod->getContext();
  auto part = [&](unsigned first) {
    return llvm::ConstantDataVector::get(ctx, llvm::ArrayRef<float>(data + first, 16));
  };
  if (n == 16) {
    llvm::Function* perm = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_permvar_sf_512);
    return b.CreateCall(perm, {part(0), idx16});
  }
  llvm::Function* perm = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_vpermi2var_ps_512);
  return b.CreateCall(perm, {part(0), idx16, part(16)});
}

void define_variant(llvm::Module* mod, const std::string& name, const float* data, unsigned n, unsigned vf,
                    bool low_bits) {
  auto& ctx = mod->getContext();
  auto* vt = llvm::FixedVectorType::get(llvm::Type::getFloatTy(ctx), vf);
  auto* vit = llvm::FixedVectorType::get(llvm::Type::getInt32Ty(ctx), vf);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(vt, {vit}, false), llvm::GlobalValue::InternalLinkage,
                                   name + ".v" + std::to_string(vf), mod);
  f->setDoesNotThrow();
  f->setDoesNotAccessMemory();
  llvm::IRBuilder<> vb(llvm::BasicBlock::Create(ctx, "entry", f));
  Value* idx = f->getArg(0);
  if (!host_has_avx512f()) {
    if (low_bits) idx = vb.CreateAnd(idx, llvm::ConstantInt::get(vit, n - 1));
    auto* g = table_global(mod, name, data, n);
    Value* ptrs = vb.CreateInBoundsGEP(g->getValueType(), g, {vb.getInt32(0), idx});
    vb.CreateRet(vb.CreateMaskedGather(vt, ptrs, llvm::Align(4)));
    llvm::appendToCompilerUsed(*mod, {f});
    return;
  }
  Value* res;
  if (vf < 16) {
    std::vector<int> pad;
    for (unsigned l = 0; l < 16; ++l) pad.push_back(l < vf ? static_cast<int>(l) : -1);
    Value* r16 = permute16(vb, mod, data, n, vb.CreateShuffleVector(idx, pad));
    std::vector<int> keep;
    for (unsigned l = 0; l < vf; ++l) keep.push_back(static_cast<int>(l));
    res = vb.CreateShuffleVector(r16, keep);
  } else {
    std::vector<Value*> parts;
    for (unsigned c = 0; c < vf; c += 16) {
      std::vector<int> lanes;
      for (unsigned l = 0; l < 16; ++l) lanes.push_back(static_cast<int>(c + l));
      parts.push_back(permute16(vb, mod, data, n, vf == 16 ? idx : vb.CreateShuffleVector(idx, lanes)));
    }
    res = parts[0];
    if (parts.size() == 2) {
      std::vector<int> cat;
      for (unsigned l = 0; l < 32; ++l) cat.push_back(static_cast<int>(l));
      res = vb.CreateShuffleVector(parts[0], parts[1], cat);
    }
  }
  vb.CreateRet(res);
  llvm::appendToCompilerUsed(*mod, {f});
}

llvm::Function* lut_function(llvm::Module* mod, const std::string& name, const float* data, unsigned n, bool low_bits) {
  if (llvm::Function* f = mod->getFunction(name)) return f;
  auto& ctx = mod->getContext();
  llvm::Type* ft = llvm::Type::getFloatTy(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(ft, {llvm::Type::getInt32Ty(ctx)}, false),
                                   llvm::GlobalValue::InternalLinkage, name, mod);
  vmath_detail::mark_pure_out_of_line(f);
  llvm::IRBuilder<> fb(llvm::BasicBlock::Create(ctx, "entry", f));
  auto* g = table_global(mod, name, data, n);
  Value* idx = f->getArg(0);
  if (low_bits) idx = fb.CreateAnd(idx, fb.getInt32(n - 1));
  fb.CreateRet(fb.CreateLoad(ft, fb.CreateInBoundsGEP(g->getValueType(), g, {fb.getInt32(0), idx})));
  for (unsigned vf : kVFs) define_variant(mod, name, data, n, vf, low_bits);
  return f;
}

llvm::Value* lut32_call(vmath_detail::Math32& m, const std::string& name, const float* data, unsigned n,
                       llvm::Value* idx, bool low_bits) {
  auto& b = m.b();
  llvm::Module* mod = b.GetInsertBlock()->getModule();
  std::string fname = std::string(kPrefix) + name;
  llvm::Function* f = lut_function(mod, fname, data, n, low_bits);
  return vmath_detail::call_with_variants(b, f, {idx}, kVFs);
}

}  // namespace

llvm::Value* lut32(vmath_detail::Math32& m, const char* name, const float* data, unsigned n, llvm::Value* idx) {
  return lut32_call(m, name, data, n, idx, false);
}

llvm::Value* lut32_low_bits(vmath_detail::Math32& m, const char* name, const float* data, unsigned n, llvm::Value* idx) {
  return lut32_call(m, std::string("lowbits.") + name, data, n, idx, true);
}

namespace {

// getexp (mant = false) or getmant p75 (true) of a float or vector-of-float x by integer
// operations: |x|'s bits, a denormal's normalized by an exact int-to-float conversion.
Value* exp_mant_bits(llvm::IRBuilderBase& b, Value* x, bool mant) {
  llvm::Type* ft = x->getType();
  llvm::Type* it = b.getInt32Ty();
  if (auto* vt = llvm::dyn_cast<llvm::VectorType>(ft)) it = llvm::VectorType::get(it, vt);
  auto ci = [&](uint32_t v) { return llvm::ConstantInt::get(it, v); };
  Value* a = b.CreateAnd(b.CreateBitCast(x, it), ci(0x7fffffff));
  Value* scaled = b.CreateSub(b.CreateBitCast(b.CreateSIToFP(a, ft), it), ci(149u << 23));
  Value* an = b.CreateSelect(b.CreateICmpULT(a, ci(0x00800000)), scaled, a);  // normalized bits (not for 0)
  if (mant) {
    // [3/4, 1) from a mantissa >= 1/2 (of [1, 2)), else [1, 3/2); 0 and inf: 1; NaN: NaN.
    Value* mb = b.CreateAnd(an, ci(0x007fffff));
    Value* z = b.CreateOr(mb, b.CreateSelect(b.CreateICmpUGE(mb, ci(0x00400000)), ci(0x3f000000), ci(0x3f800000)));
    return b.CreateSelect(b.CreateICmpUGT(a, ci(0x7f800000)), x, b.CreateBitCast(z, ft));
  }
  Value* e = b.CreateSIToFP(b.CreateSub(b.CreateAShr(an, ci(23)), ci(127)), ft);
  e = b.CreateSelect(b.CreateICmpEQ(a, ci(0)), llvm::ConstantFP::getInfinity(ft, true), e);
  e = b.CreateSelect(b.CreateICmpEQ(a, ci(0x7f800000)), llvm::ConstantFP::getInfinity(ft, false), e);
  return b.CreateSelect(b.CreateICmpUGT(a, ci(0x7f800000)), x, e);
}

// vgetexpps / vgetmantps (imm 7: [3/4, 3/2), sign cleared) on a <16 x float>.
Value* exp_mant16(llvm::IRBuilderBase& b, llvm::Module* mod, Value* x16, bool mant) {
  Value* all = b.getInt16(0xffff);
  Value* cur = b.getInt32(4);  // _MM_FROUND_CUR_DIRECTION
  if (mant) {
    llvm::Function* f = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_mask_getmant_ps_512);
    return b.CreateCall(f, {x16, b.getInt32(7), x16, all, cur});
  }
  llvm::Function* f = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_mask_getexp_ps_512);
  return b.CreateCall(f, {x16, x16, all, cur});
}

llvm::Function* exp_mant_function(llvm::Module* mod, bool mant) {
  std::string name = std::string(kPrefix) + (mant ? "getmant_p75" : "getexp");
  if (llvm::Function* f = mod->getFunction(name)) return f;
  auto& ctx = mod->getContext();
  llvm::Type* ft = llvm::Type::getFloatTy(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(ft, {ft}, false), llvm::GlobalValue::InternalLinkage, name, mod);
  vmath_detail::mark_pure_out_of_line(f);
  llvm::IRBuilder<> fb(llvm::BasicBlock::Create(ctx, "entry", f));
  fb.CreateRet(exp_mant_bits(fb, f->getArg(0), mant));
  for (unsigned vf : kVFs) {
    auto* vt = llvm::FixedVectorType::get(ft, vf);
    auto* v = llvm::Function::Create(llvm::FunctionType::get(vt, {vt}, false), llvm::GlobalValue::InternalLinkage,
                                     name + ".v" + std::to_string(vf), mod);
    v->setDoesNotThrow();
    v->setDoesNotAccessMemory();
    llvm::IRBuilder<> vb(llvm::BasicBlock::Create(ctx, "entry", v));
    Value* x = v->getArg(0);
    Value* res;
    if (!host_has_avx512f()) {
      res = exp_mant_bits(vb, x, mant);
    } else if (vf < 16) {
      std::vector<int> pad, keep;
      for (unsigned l = 0; l < 16; ++l) pad.push_back(l < vf ? static_cast<int>(l) : -1);
      for (unsigned l = 0; l < vf; ++l) keep.push_back(static_cast<int>(l));
      // The padding lanes hold 1.0 (no flag, whatever the poison would be).
      Value* x16 = vb.CreateShuffleVector(x, llvm::ConstantVector::getSplat(llvm::ElementCount::getFixed(vf),
                                                                             llvm::ConstantFP::get(ft, 1.0)), pad);
      res = vb.CreateShuffleVector(exp_mant16(vb, mod, x16, mant), keep);
    } else {
      std::vector<Value*> parts;
      for (unsigned c = 0; c < vf; c += 16) {
        std::vector<int> lanes;
        for (unsigned l = 0; l < 16; ++l) lanes.push_back(static_cast<int>(c + l));
        parts.push_back(exp_mant16(vb, mod, vf == 16 ? x : vb.CreateShuffleVector(x, lanes), mant));
      }
      res = parts[0];
      if (parts.size() == 2) {
        std::vector<int> cat;
        for (unsigned l = 0; l < 32; ++l) cat.push_back(static_cast<int>(l));
        res = vb.CreateShuffleVector(parts[0], parts[1], cat);
      }
    }
    vb.CreateRet(res);
    llvm::appendToCompilerUsed(*mod, {v});
  }
  return f;
}

Value* exp_mant_call(vmath_detail::Math32& m, Value* x, bool mant) {
  auto& b = m.b();
  llvm::Function* f = exp_mant_function(b.GetInsertBlock()->getModule(), mant);
  return vmath_detail::call_with_variants(b, f, {x}, kVFs);
}

}  // namespace

llvm::Value* getexp32(vmath_detail::Math32& m, llvm::Value* x) { return exp_mant_call(m, x, false); }
llvm::Value* getmant32_p75(vmath_detail::Math32& m, llvm::Value* x) { return exp_mant_call(m, x, true); }

void inline_lut32_variants(llvm::Module& mod) {
  std::vector<llvm::CallInst*> calls;
  for (llvm::Function& f : mod) {
    if (!f.getName().startswith(kPrefix)) continue;
    for (llvm::User* u : f.users())
      if (auto* c = llvm::dyn_cast<llvm::CallInst>(u); c && c->getCalledFunction() == &f) calls.push_back(c);
  }
  for (llvm::CallInst* c : calls) {
    llvm::InlineFunctionInfo info;
    llvm::InlineFunction(*c, info);
  }
}

}  // namespace tracejit::backends
