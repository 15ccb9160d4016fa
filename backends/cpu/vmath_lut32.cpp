// float32 table lookups from registers (see vmath_lut32.h). Modelled on vmath64_fast.cpp's lut():
// each table is a tiny internal function `name` (i32 -> float, a load from a private constant
// array) whose call carries vector-function-abi-variant mappings for 4, 8, 16 and 32 lanes. The
// 16- and 32-lane variants hold the table in registers: per 16 lanes one
// llvm.x86.avx512.permvar.sf.512 (vpermps, n = 16) or llvm.x86.avx512.vpermi2var.ps.512
// (vpermi2ps, n = 32: entries 0-15 and 16-31 in two zmm registers); without AVX-512, and for 4
// or 8 lanes, a masked gather. inline_lut32_variants inlines every call after the optimizer, so
// the permutes sit in the vector loop (the table constants hoisted out of it).
#include "backends/cpu/vmath_lut32.h"

#include <llvm/ADT/StringMap.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/GlobalVariable.h>
#include <llvm/IR/IRBuilder.h>
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

constexpr const char* kPrefix = "tracejit.vm32lut.";
constexpr unsigned kVFs[] = {4, 8, 16, 32};

bool host_has_avx512f() {
  static const bool has = [] {
    llvm::StringMap<bool> features;
    return llvm::sys::getHostCPUFeatures(features) && features.lookup("avx512f");
  }();
  return has;
}

llvm::GlobalVariable* table_global(llvm::Module* mod, const std::string& name, const float* data, unsigned n) {
  auto& ctx = mod->getContext();
  auto* arr_ty = llvm::ArrayType::get(llvm::Type::getFloatTy(ctx), n);
  auto* g = llvm::cast<llvm::GlobalVariable>(mod->getOrInsertGlobal(name + ".table", arr_ty));
  if (!g->hasInitializer()) {
    g->setInitializer(llvm::ConstantDataArray::get(ctx, llvm::ArrayRef<float>(data, n)));
    g->setConstant(true);
    g->setLinkage(llvm::GlobalValue::PrivateLinkage);
    g->setUnnamedAddr(llvm::GlobalValue::UnnamedAddr::Global);
    g->setAlignment(llvm::Align(64));
  }
  return g;
}

// The vf-lane variant: per 16 lanes one permute of register-held entries (AVX-512), else a gather.
void define_variant(llvm::Module* mod, const std::string& name, const float* data, unsigned n, unsigned vf) {
  auto& ctx = mod->getContext();
  llvm::Type* ft = llvm::Type::getFloatTy(ctx);
  llvm::Type* it = llvm::Type::getInt32Ty(ctx);
  auto* vt = llvm::FixedVectorType::get(ft, vf);
  auto* vit = llvm::FixedVectorType::get(it, vf);
  auto* f = llvm::Function::Create(llvm::FunctionType::get(vt, {vit}, false), llvm::GlobalValue::InternalLinkage,
                                   name + ".v" + std::to_string(vf), mod);
  f->setDoesNotThrow();
  f->setDoesNotAccessMemory();
  llvm::IRBuilder<> vb(llvm::BasicBlock::Create(ctx, "entry", f));
  Value* idx = f->getArg(0);
  if (vf % 16 != 0 || !host_has_avx512f()) {
    auto* g = table_global(mod, name, data, n);
    Value* ptrs = vb.CreateInBoundsGEP(g->getValueType(), g, {vb.getInt64(0), vb.CreateZExt(idx, llvm::FixedVectorType::get(vb.getInt64Ty(), vf))});
    vb.CreateRet(vb.CreateMaskedGather(vt, ptrs, llvm::Align(4)));
    return;
  }
  auto part = [&](unsigned first) { return llvm::ConstantDataVector::get(ctx, llvm::ArrayRef<float>(data + first, 16)); };
  std::vector<Value*> parts;
  for (unsigned c = 0; c < vf; c += 16) {
    std::vector<int> lanes;
    for (unsigned l = 0; l < 16; ++l) lanes.push_back(static_cast<int>(c + l));
    Value* i16 = vf == 16 ? idx : vb.CreateShuffleVector(idx, lanes);
    if (n == 16) {
      llvm::Function* perm = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_permvar_sf_512);
      parts.push_back(vb.CreateCall(perm, {part(0), i16}));
    } else {
      llvm::Function* perm = llvm::Intrinsic::getDeclaration(mod, llvm::Intrinsic::x86_avx512_vpermi2var_ps_512);
      parts.push_back(vb.CreateCall(perm, {part(0), i16, part(16)}));
    }
  }
  Value* res = parts[0];
  if (parts.size() == 2) {
    std::vector<int> cat;
    for (unsigned l = 0; l < 32; ++l) cat.push_back(static_cast<int>(l));
    res = vb.CreateShuffleVector(parts[0], parts[1], cat);
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
  f->setDoesNotAccessMemory();  // reads only a constant table
  f->setDoesNotThrow();
  f->setWillReturn();
  f->addFnAttr(llvm::Attribute::NoInline);
  f->addFnAttr(llvm::Attribute::NoSync);
  f->addFnAttr(llvm::Attribute::NoFree);
  llvm::IRBuilder<> fb(llvm::BasicBlock::Create(ctx, "entry", f));
  auto* g = table_global(mod, name, data, n);
  Value* i64 = fb.CreateZExt(f->getArg(0), fb.getInt64Ty());
  fb.CreateRet(fb.CreateLoad(ft, fb.CreateInBoundsGEP(g->getValueType(), g, {fb.getInt64(0), i64})));
  for (unsigned vf : kVFs) define_variant(mod, name, data, n, vf);
  return f;
}

}  // namespace

llvm::Value* lut32(vmath_detail::Math32& m, const char* name, const float* data, unsigned n, llvm::Value* idx) {
  auto& b = m.b();
  llvm::Module* mod = b.GetInsertBlock()->getModule();
  std::string full = std::string(kPrefix) + name;
  llvm::Function* f = lut_function(mod, full, data, n);
  std::string mappings;
  for (unsigned vf : kVFs) {
    if (!mappings.empty()) mappings += ',';
    mappings += "_ZGV_LLVM_N" + std::to_string(vf) + "v_" + full + "(" + full + ".v" + std::to_string(vf) + ")";
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
