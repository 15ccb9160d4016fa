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

void define_variant(llvm::Module* mod, const std::string& name, const float* data, unsigned n, unsigned vf) {
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

llvm::Function* lut_function(llvm::Module* mod, const std::string& name, const float* data, unsigned n) {
  if (llvm::Function* f = mod->getFunction(name)) return f;
  auto& ctx = mod->getContext();
  llvm::Type* ft = llvm::Type::getFloatTy(ctx);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(ft, {llvm::Type::getInt32Ty(ctx)}, false),
                                   llvm::GlobalValue::InternalLinkage, name, mod);
  vmath_detail::mark_pure_out_of_line(f);
  llvm::IRBuilder<> fb(llvm::BasicBlock::Create(ctx, "entry", f));
  auto* g = table_global(mod, name, data, n);
  fb.CreateRet(fb.CreateLoad(ft, fb.CreateInBoundsGEP(g->getValueType(), g, {fb.getInt32(0), f->getArg(0)})));
  for (unsigned vf : kVFs) define_variant(mod, name, data, n, vf);
  return f;
}

}  // namespace

llvm::Value* lut32(vmath_detail::Math32& m, const char* name, const float* data, unsigned n, llvm::Value* idx) {
  auto& b = m.b();
  llvm::Module* mod = b.GetInsertBlock()->getModule();
  std::string fname = std::string(kPrefix) + name;
  llvm::Function* f = lut_function(mod, fname, data, n);
  std::string mappings;
  for (unsigned vf : kVFs) {
    if (!mappings.empty()) mappings += ',';
    mappings += "_ZGV_LLVM_N" + std::to_string(vf) + "v_" + fname + "(" + fname + ".v" + std::to_string(vf) + ")";
  }
  llvm::CallInst* call = b.CreateCall(f, {idx});
  call->addFnAttr(llvm::Attribute::get(b.getContext(), "vector-function-abi-variant", mappings));
  return call;
}

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
