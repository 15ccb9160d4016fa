// The process-wide ORC LLJIT: host-tuned O3 pipeline, libm and thread-pool resolution, one
// ResourceTracker per kernel code so destroying its last CompiledKernel frees it, kernel symbol
// reservation, and the object cache's hooks (store after codegen, load instead of it).
#include "backends/cpu/jit.h"
#include "backends/cpu/scalar_loop.h"

#include "backends/cpu/schedule.h"

#include <llvm/Config/llvm-config.h>
#include <llvm/Analysis/ValueTracking.h>
#include <llvm/Analysis/VectorUtils.h>
#include <llvm/ExecutionEngine/ObjectCache.h>
#include <llvm/ExecutionEngine/Orc/CompileUtils.h>
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Instructions.h>
#include <llvm/IR/IntrinsicInst.h>
#include <llvm/IR/IntrinsicsX86.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/IR/Module.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/FileSystem.h>
#include <llvm/Support/Host.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/Target/TargetMachine.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include "backends/cpu/fp_flags.h"
#include "backends/cpu/lower.h"
#include "backends/cpu/scalar_ops.h"
#include "backends/cpu/thread_pool.h"
#include "backends/cpu/vmath.h"
#include "backends/cpu/vmath64_fast.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace tracejit::backends {

namespace {

// Symbols reserved or defined in the JIT: symbol -> its code (expired while being compiled or
// freed).
struct SymbolRegistry {
  std::mutex mu;
  std::unordered_map<std::string, std::weak_ptr<LoadedCode>> live;
};

SymbolRegistry& registry() {
  static auto* r = new SymbolRegistry();  // leaked: kernels may die during static teardown
  return *r;
}

}  // namespace

struct LoadedCode {
  llvm::orc::ResourceTrackerSP tracker;
  KernelFn fn = nullptr;
  std::string symbol;
  bool registered = false;
  ~LoadedCode() {
    // Free the code first: only then may the symbol be defined again.
    if (tracker) llvm::consumeError(tracker->remove());
    if (registered) {
      std::lock_guard<std::mutex> lock(registry().mu);
      registry().live.erase(symbol);
    }
  }
};

struct CompiledKernel::Impl {
  std::shared_ptr<LoadedCode> code;
};

CompiledKernel::CompiledKernel(std::unique_ptr<Impl> impl, KernelFn fn, double compile_ms, std::string symbol,
                               bool from_cache)
    : impl_(std::move(impl)), fn_(fn), compile_ms_(compile_ms), symbol_(std::move(symbol)), from_cache_(from_cache) {}

CompiledKernel::CompiledKernel(double compile_ms, std::string symbol, bool from_cache)
    : compile_ms_(compile_ms), symbol_(std::move(symbol)), from_cache_(from_cache) {}

CompiledKernel::~CompiledKernel() = default;

SymbolClaim::SymbolClaim(const std::string& base) : symbol(base) {
  static std::atomic<uint64_t> counter{0};
  std::lock_guard<std::mutex> lock(registry().mu);
  auto [it, inserted] = registry().live.try_emplace(base);
  if (inserted) {
    registered = true;
    return;
  }
  shared = it->second.lock();
  if (!shared) symbol = base + "_u" + std::to_string(counter.fetch_add(1));  // being freed
}

SymbolClaim::~SymbolClaim() {
  if (!registered) return;
  std::lock_guard<std::mutex> lock(registry().mu);
  registry().live.erase(symbol);
}

std::unique_ptr<CompiledKernel> share_kernel(const SymbolClaim& claim, std::chrono::steady_clock::time_point start) {
  auto impl = std::make_unique<CompiledKernel::Impl>();
  impl->code = claim.shared;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  KernelFn fn = claim.shared->fn;
  return std::make_unique<CompiledKernel>(std::move(impl), fn, ms, claim.symbol, true);
}

namespace {

std::string error_text(llvm::Error e) { return llvm::toString(std::move(e)); }

llvm::orc::JITTargetMachineBuilder host_machine_builder() {
  llvm::orc::JITTargetMachineBuilder jtmb((llvm::Triple(llvm::sys::getProcessTriple())));
  jtmb.setCPU(llvm::sys::getHostCPUName().str());
  llvm::StringMap<bool> features;
  llvm::SubtargetFeatures sf;
  if (llvm::sys::getHostCPUFeatures(features))
    for (const auto& f : features) sf.AddFeature(f.getKey(), f.getValue());
  jtmb.addFeatures(sf.getFeatures());
  jtmb.setCodeGenOptLevel(llvm::CodeGenOpt::Aggressive);
  // Never fuse a*b+c into an FMA: results must match NumPy's separately rounded ops.
  jtmb.getOptions().AllowFPOpFusion = llvm::FPOpFusion::Strict;
  return jtmb;
}

// Raises floating-point flags (fp::k*) on the calling thread: the flags emit_scalar_op noted
// for ops whose compiled code raises fewer than NumPy's loop (log(0), integer // 0, ...).
extern "C" void tracejit_raise_fpflags(uint32_t flags) noexcept { fp::raise(flags); }

// Before a function with a flag slot (kFpFlagSlot, see scalar_ops.h) returns, the flags noted
// in it are raised (a thread pool worker hands them on to the caller's thread).
void raise_noted_fp_flags(llvm::Module& m) {
  llvm::FunctionCallee raise_fn;
  for (llvm::Function& f : m) {
    if (f.isDeclaration()) continue;
    llvm::AllocaInst* slot = nullptr;
    for (llvm::Instruction& i : f.getEntryBlock())
      if (auto* a = llvm::dyn_cast<llvm::AllocaInst>(&i); a && a->getName() == kFpFlagSlot) slot = a;
    if (!slot) continue;
    if (!raise_fn) {
      raise_fn = m.getOrInsertFunction("tracejit_raise_fpflags",
                                       llvm::FunctionType::get(llvm::Type::getVoidTy(m.getContext()),
                                                               {llvm::Type::getInt32Ty(m.getContext())}, false));
      llvm::cast<llvm::Function>(raise_fn.getCallee())->addFnAttr(llvm::Attribute::NoUnwind);
    }
    std::vector<llvm::ReturnInst*> rets;
    for (llvm::BasicBlock& bb : f)
      if (auto* r = llvm::dyn_cast<llvm::ReturnInst>(bb.getTerminator())) rets.push_back(r);
    for (llvm::ReturnInst* r : rets) {
      llvm::IRBuilder<> b(r);
      llvm::Value* v = b.CreateLoad(b.getInt32Ty(), slot);
      // Only when some flag was noted: the call stays off the common path.
      llvm::BasicBlock* head = r->getParent();
      llvm::BasicBlock* tail = head->splitBasicBlock(r, "fpflags.ret");
      llvm::BasicBlock* raise_bb = llvm::BasicBlock::Create(m.getContext(), "fpflags.raise", &f, tail);
      head->getTerminator()->eraseFromParent();
      llvm::IRBuilder<> hb(head);
      hb.CreateCondBr(hb.CreateICmpNE(v, hb.getInt32(0)), raise_bb, tail);
      llvm::IRBuilder<> rb(raise_bb);
      rb.CreateCall(raise_fn, {v});
      rb.CreateBr(tail);
    }
  }
}

// libm entry points and the thread pool's tracejit_parallel_for, which the lowered code calls,
// bound to this process's addresses so they resolve even when the symbols are not globally
// visible (e.g. inside a Python extension built with hidden symbols).
llvm::Error define_host_symbols(llvm::orc::LLJIT& jit) {
  llvm::orc::SymbolMap syms;
  auto add = [&](const char* name, auto* fn) {
    syms[jit.mangleAndIntern(name)] = llvm::JITEvaluatedSymbol(
        llvm::pointerToJITTargetAddress(fn), llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
  };
  using F1 = float (*)(float);
  using D1 = double (*)(double);
  using F2 = float (*)(float, float);
  using D2 = double (*)(double, double);
  add("expf", static_cast<F1>(::expf)), add("exp", static_cast<D1>(::exp));
  add("logf", static_cast<F1>(::logf)), add("log", static_cast<D1>(::log));
  add("sinf", static_cast<F1>(::sinf)), add("sin", static_cast<D1>(::sin));
  add("cosf", static_cast<F1>(::cosf)), add("cos", static_cast<D1>(::cos));
  add("tanhf", static_cast<F1>(::tanhf)), add("tanh", static_cast<D1>(::tanh));
  add("sqrtf", static_cast<F1>(::sqrtf)), add("sqrt", static_cast<D1>(::sqrt));
  add("floorf", static_cast<F1>(::floorf)), add("floor", static_cast<D1>(::floor));
  add("powf", static_cast<F2>(::powf)), add("pow", static_cast<D2>(::pow));
  add("fmodf", static_cast<F2>(::fmodf)), add("fmod", static_cast<D2>(::fmod));
  add("memcpy", &::memcpy), add("memset", &::memset), add("memmove", &::memmove);
  add("tracejit_parallel_for", &::tracejit_parallel_for);
  add("tracejit_raise_fpflags", &tracejit_raise_fpflags);
  add("tracejit_window_sum_f64", &::tracejit_window_sum_f64), add("tracejit_window_sum_f32", &::tracejit_window_sum_f32);
  add("tracejit_loop_stop", &::tracejit_loop_stop);
  for_each_schedule_host_symbol([&](const char* name, void* addr) {
    syms[jit.mangleAndIntern(name)] = llvm::JITEvaluatedSymbol(
        llvm::pointerToJITTargetAddress(addr), llvm::JITSymbolFlags::Exported | llvm::JITSymbolFlags::Callable);
  });
  return jit.getMainJITDylib().define(llvm::orc::absoluteSymbols(std::move(syms)));
}

// LLJIT's compiler calls this after codegen: objects of modules with a pending store go to disk.
class StoreHook : public llvm::ObjectCache {
 public:
  void expect(const std::string& module_id, const ObjectCacheDir* cache, const ObjectKey& key) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_[module_id] = {cache, key};
  }
  void forget(const std::string& module_id) {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.erase(module_id);
  }
  void notifyObjectCompiled(const llvm::Module* m, llvm::MemoryBufferRef obj) override {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = pending_.find(m->getModuleIdentifier());
    if (it == pending_.end()) return;
    it->second.first->store(it->second.second, std::string_view(obj.getBufferStart(), obj.getBufferSize()));
    pending_.erase(it);
  }
  std::unique_ptr<llvm::MemoryBuffer> getObject(const llvm::Module*) override { return nullptr; }

 private:
  std::mutex mu_;
  std::map<std::string, std::pair<const ObjectCacheDir*, ObjectKey>> pending_;
};

struct Jit {
  StoreHook store_hook;
  std::unique_ptr<llvm::orc::LLJIT> lljit;
  std::unique_ptr<llvm::TargetMachine> tm;  // for TTI in the optimizer and for dumps
  std::mutex mu;                            // serializes optimize/dump (shared tm) and add+lookup
  Status status;
};

Jit& jit_instance() {
  static Jit* jit = [] {
    auto* j = new Jit();  // leaked on purpose: kernels may be destroyed during static teardown
    llvm::InitializeNativeTarget();
    llvm::InitializeNativeTargetAsmPrinter();
    llvm::InitializeNativeTargetAsmParser();
    auto jtmb = host_machine_builder();
    auto tm = jtmb.createTargetMachine();
    if (!tm) {
      j->status = Status::error("cpu backend: no target machine: " + error_text(tm.takeError()));
      return j;
    }
    j->tm = std::move(*tm);
    // LLJIT's default compiler (a TargetMachine-owning SimpleCompiler), with the store hook.
    auto lljit = llvm::orc::LLJITBuilder()
                     .setJITTargetMachineBuilder(std::move(jtmb))
                     .setCompileFunctionCreator([j](llvm::orc::JITTargetMachineBuilder b)
                                                    -> llvm::Expected<std::unique_ptr<llvm::orc::IRCompileLayer::IRCompiler>> {
                       auto ctm = b.createTargetMachine();
                       if (!ctm) return ctm.takeError();
                       return std::make_unique<llvm::orc::TMOwningSimpleCompiler>(std::move(*ctm), &j->store_hook);
                     })
                     .create();
    if (!lljit) {
      j->status = Status::error("cpu backend: cannot create LLJIT: " + error_text(lljit.takeError()));
      return j;
    }
    j->lljit = std::move(*lljit);
    if (llvm::Error e = define_host_symbols(*j->lljit)) {
      j->status = Status::error("cpu backend: " + error_text(std::move(e)));
      return j;
    }
    auto gen = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
        j->lljit->getDataLayout().getGlobalPrefix());
    if (!gen) {
      j->status = Status::error("cpu backend: " + error_text(gen.takeError()));
      return j;
    }
    j->lljit->getMainJITDylib().addGenerator(std::move(*gen));
    return j;
  }();
  return *jit;
}

// A float vector whose lane count is not a power of two, or narrower than 128 bits (<2 x float>,
// <3 x double>, <6 x float>: the loop and SLP vectorizers make them for short static loops),
// is widened by x86 codegen to a full register whose extra lanes hold zeros or garbage. LLVM
// assumes no one reads the floating-point flags, but tracejit does (NumPy's errstate): 0/0 or
// 0 * inf in an extra lane raised "invalid", and every call on a float32 array of 2, 3, 6, 7,
// 10, ... elements dividing re-ran eagerly. Each such op that can raise a flag becomes one
// scalar op per lane; full-width vectors are left alone.
bool partial_fp_vector(llvm::Type* t) {
  auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(t);
  if (!vt || !vt->getElementType()->isFloatingPointTy()) return false;
  unsigned n = vt->getNumElements();
  return (n & (n - 1)) != 0 || n * vt->getScalarSizeInBits() < 128;
}

// The loop vectorizer's masked loads (a tail folded into one vector, conditional loads) leave
// the masked-off lanes undefined (poison passthru): zeros, which the arithmetic after them turns
// into 0/0 = NaN and an "invalid" flag. Those lanes get the first active lane's value instead:
// every lane then computes what some real element computes, raising no flag of its own.
void define_masked_off_lanes(llvm::Module& m) {
  std::vector<llvm::IntrinsicInst*> loads;
  for (llvm::Function& f : m)
    for (llvm::BasicBlock& bb : f)
      for (llvm::Instruction& inst : bb)
        if (auto* ii = llvm::dyn_cast<llvm::IntrinsicInst>(&inst))
          if (ii->getIntrinsicID() == llvm::Intrinsic::masked_load || ii->getIntrinsicID() == llvm::Intrinsic::masked_gather) {
            llvm::Value* pass = ii->getArgOperand(3);  // (ptr, align, mask, passthru) / (ptrs, align, mask, passthru)
            if (llvm::isa<llvm::UndefValue>(pass) && llvm::isa<llvm::FixedVectorType>(ii->getType())) loads.push_back(ii);
          }
  for (llvm::IntrinsicInst* ld : loads) {
    auto* vt = llvm::cast<llvm::FixedVectorType>(ld->getType());
    const unsigned n = vt->getNumElements();
    llvm::Value* mask = ld->getArgOperand(2);
    llvm::IRBuilder<> b(ld->getNextNode());
    llvm::Value* bits = b.CreateBitCast(mask, b.getIntNTy(n));
    llvm::Value* first = b.CreateBinaryIntrinsic(llvm::Intrinsic::cttz, bits, b.getFalse());
    first = b.CreateBinaryIntrinsic(llvm::Intrinsic::umin, first, llvm::ConstantInt::get(bits->getType(), n - 1));
    llvm::Value* one = b.CreateExtractElement(ld, b.CreateZExtOrTrunc(first, b.getInt32Ty()));
    llvm::Value* fixed = b.CreateSelect(mask, ld, b.CreateVectorSplat(n, one));
    ld->replaceUsesWithIf(fixed, [&](llvm::Use& u) { return u.getUser() != one && u.getUser() != fixed; });
  }
}

void scalarize_partial_fp_vectors(llvm::Module& m) {
  define_masked_off_lanes(m);
  std::vector<llvm::Instruction*> work;
  for (llvm::Function& f : m)
    for (llvm::BasicBlock& bb : f)
      for (llvm::Instruction& inst : bb) {
        bool partial = partial_fp_vector(inst.getType());
        for (llvm::Value* op : inst.operands()) partial = partial || partial_fp_vector(op->getType());
        if (!partial) continue;
        if (llvm::isa<llvm::BinaryOperator>(inst) || llvm::isa<llvm::FCmpInst>(inst)) {
          work.push_back(&inst);
        } else if (auto* c = llvm::dyn_cast<llvm::CastInst>(&inst)) {
          auto op = c->getOpcode();  // fp <-> int, fptrunc, fpext (a signaling NaN lane raises)
          if (op == llvm::Instruction::FPToSI || op == llvm::Instruction::FPToUI || op == llvm::Instruction::FPTrunc ||
              op == llvm::Instruction::FPExt)
            work.push_back(&inst);
        } else if (auto* call = llvm::dyn_cast<llvm::IntrinsicInst>(&inst)) {
          llvm::Intrinsic::ID id = call->getIntrinsicID();
          if (id != llvm::Intrinsic::fabs && id != llvm::Intrinsic::copysign && llvm::isTriviallyVectorizable(id))
            work.push_back(&inst);
        }
      }
  for (llvm::Instruction* inst : work) {
    // The lane count: the result's (a compare's <n x i1> too), or a scalar result's operand's.
    auto* vt = llvm::cast<llvm::FixedVectorType>(inst->getType()->isVectorTy() ? inst->getType()
                                                                            : inst->getOperand(0)->getType());
    const unsigned n = vt->getNumElements();
    llvm::IRBuilder<> b(inst);
    llvm::Value* out = llvm::PoisonValue::get(inst->getType());
    auto lane = [&](llvm::Value* v, unsigned i) {
      return v->getType()->isVectorTy() ? b.CreateExtractElement(v, b.getInt32(i)) : v;
    };
    for (unsigned i = 0; i < n; ++i) {
      llvm::Value* r = nullptr;
      if (auto* bo = llvm::dyn_cast<llvm::BinaryOperator>(inst)) {
        r = b.CreateBinOp(bo->getOpcode(), lane(bo->getOperand(0), i), lane(bo->getOperand(1), i));
        if (auto* ri = llvm::dyn_cast<llvm::Instruction>(r)) ri->copyIRFlags(bo);
      } else if (auto* cmp = llvm::dyn_cast<llvm::FCmpInst>(inst)) {
        r = b.CreateFCmp(cmp->getPredicate(), lane(cmp->getOperand(0), i), lane(cmp->getOperand(1), i));
      } else if (auto* c = llvm::dyn_cast<llvm::CastInst>(inst)) {
        r = b.CreateCast(c->getOpcode(), lane(c->getOperand(0), i), inst->getType()->getScalarType());
      } else {
        auto* call = llvm::cast<llvm::IntrinsicInst>(inst);
        llvm::Intrinsic::ID id = call->getIntrinsicID();
        std::vector<llvm::Value*> args;
        std::vector<llvm::Type*> tys;
        tys.push_back(inst->getType()->getScalarType());  // LLVM 16: the result type is always overloaded
        for (unsigned k = 0; k < call->arg_size(); ++k) {
          llvm::Value* a = call->getArgOperand(k);
          args.push_back(llvm::isVectorIntrinsicWithScalarOpAtArg(id, k) ? a : lane(a, i));
          if (llvm::isVectorIntrinsicWithOverloadTypeAtArg(id, k)) tys.push_back(args.back()->getType());
        }
        r = b.CreateCall(llvm::Intrinsic::getDeclaration(&m, id, tys), args);
      }
      out = inst->getType()->isVectorTy() ? b.CreateInsertElement(out, r, b.getInt32(i)) : r;
    }
    inst->replaceAllUsesWith(out);
    inst->eraseFromParent();
  }
}

// x86 lowers an ordered or unordered relational float compare (olt, ole, ogt, oge and the u*
// forms) to a signaling one (cmpps LT_OS / NLE_US, vcmpltss into a mask register): a NaN
// operand raises the invalid flag, which NumPy's loops never raise for NaN data, and the runtime
// would then drop the compiled result and re-run the call eagerly. After optimization (the
// optimizer does not look through target intrinsics) every such vector compare becomes the
// target's compare with the quiet predicate (vcmplt_oqps ...: the same instruction and cost);
// a scalar one becomes a constrained compare (ucomiss). Not the constrained form for vectors:
// SelectionDAG chains constrained nodes, which hoisted all of tan's compares to the top of its
// loop and spilled their masks (float64 tan 4.9 -> 7.1 ms).
namespace {

struct HostCompares {
  bool avx = false, avx512 = false;  // avx512: F and VL (mask-register compares of every width)
  HostCompares() {
    llvm::StringMap<bool> f;
    if (!llvm::sys::getHostCPUFeatures(f)) return;
    avx = f.lookup("avx");
    avx512 = f.lookup("avx512f") && f.lookup("avx512vl");
  }
};

// The AVX compare predicate (imm8 of vcmpps) of `p` that does not signal on a quiet NaN.
int quiet_x86_predicate(llvm::CmpInst::Predicate p) {
  switch (p) {
    case llvm::CmpInst::FCMP_OLT: return 0x11;  // LT_OQ
    case llvm::CmpInst::FCMP_OLE: return 0x12;  // LE_OQ
    case llvm::CmpInst::FCMP_OGT: return 0x1E;  // GT_OQ
    case llvm::CmpInst::FCMP_OGE: return 0x1D;  // GE_OQ
    case llvm::CmpInst::FCMP_ULT: return 0x19;  // NGE_UQ
    case llvm::CmpInst::FCMP_ULE: return 0x1A;  // NGT_UQ
    case llvm::CmpInst::FCMP_UGT: return 0x16;  // NLE_UQ
    case llvm::CmpInst::FCMP_UGE: return 0x15;  // NLT_UQ
    default: return -1;
  }
}

// x `pred` y for vectors of float or double that fill one register (128, 256 or 512 bits) as
// the <n x i1> an fcmp gives, or null where the host has no quiet form of that width.
llvm::Value* quiet_vector_compare(llvm::IRBuilder<>& b, const HostCompares& host, int pred, llvm::Value* x,
                                  llvm::Value* y) {
  auto* vt = llvm::cast<llvm::FixedVectorType>(x->getType());
  const bool dbl = vt->getElementType()->isDoubleTy();
  const unsigned bits = vt->getPrimitiveSizeInBits(), n = vt->getNumElements();
  llvm::Module* m = b.GetInsertBlock()->getModule();
  using ID = llvm::Intrinsic::ID;
  if (host.avx512) {
    ID id = bits == 512 ? (dbl ? llvm::Intrinsic::x86_avx512_mask_cmp_pd_512 : llvm::Intrinsic::x86_avx512_mask_cmp_ps_512)
            : bits == 256 ? (dbl ? llvm::Intrinsic::x86_avx512_mask_cmp_pd_256 : llvm::Intrinsic::x86_avx512_mask_cmp_ps_256)
                          : (dbl ? llvm::Intrinsic::x86_avx512_mask_cmp_pd_128 : llvm::Intrinsic::x86_avx512_mask_cmp_ps_128);
    std::vector<llvm::Value*> args{x, y, b.getInt32(pred), llvm::Constant::getAllOnesValue(llvm::FixedVectorType::get(b.getInt1Ty(), n))};
    if (bits == 512) args.push_back(b.getInt32(4));  // the current rounding direction
    return b.CreateCall(llvm::Intrinsic::getDeclaration(m, id), args);
  }
  if (!host.avx || bits == 512) return nullptr;
  ID id = bits == 256 ? (dbl ? llvm::Intrinsic::x86_avx_cmp_pd_256 : llvm::Intrinsic::x86_avx_cmp_ps_256)
                      : (dbl ? llvm::Intrinsic::x86_sse2_cmp_pd : llvm::Intrinsic::x86_sse_cmp_ps);
  llvm::Value* mask = b.CreateCall(llvm::Intrinsic::getDeclaration(m, id), {x, y, b.getInt8(static_cast<uint8_t>(pred))});
  llvm::Type* it = llvm::FixedVectorType::get(b.getIntNTy(vt->getScalarSizeInBits()), n);
  return b.CreateICmpSLT(b.CreateBitCast(mask, it), llvm::Constant::getNullValue(it));
}

// Whether `v` is never NaN: a NaN-free constant, a select of NaN-free values, or one that
// replaces its NaN lanes (select(fcmp uno v, v|C), C', v) and its fcmp ord mirror), a conversion
// from an integer, or what LLVM's own analysis proves.
bool never_nan(const llvm::Value* v, unsigned depth = 0) {
  if (llvm::isKnownNeverNaN(v, nullptr)) return true;
  if (depth > 6) return false;
  if (auto* s = llvm::dyn_cast<llvm::SelectInst>(v)) {
    const llvm::Value *t = s->getTrueValue(), *f = s->getFalseValue();
    if (auto* c = llvm::dyn_cast<llvm::FCmpInst>(s->getCondition())) {
      const llvm::Value *a = c->getOperand(0), *b = c->getOperand(1);
      // uno: true where a or b is NaN; the false arm may then be a or b when the other is NaN-free
      auto guarded = [&](const llvm::Value* arm) {
        return (arm == a && (b == a || never_nan(b, depth + 1))) || (arm == b && (a == b || never_nan(a, depth + 1)));
      };
      if (c->getPredicate() == llvm::CmpInst::FCMP_UNO && guarded(f) && never_nan(t, depth + 1)) return true;
      if (c->getPredicate() == llvm::CmpInst::FCMP_ORD && guarded(t) && never_nan(f, depth + 1)) return true;
    }
    return never_nan(t, depth + 1) && never_nan(f, depth + 1);
  }
  return false;
}

// Whether every user of `c` selects between c's own operands and neither operand can be NaN:
// x86 matches that to vminps / vmaxps (one instruction for a compare and a blend), which signal
// on NaN as well, so those stay for NaN-free operands (exp's clamps substitute NaN first).
bool nan_free_min_max(const llvm::FCmpInst* c) {
  if (c->use_empty()) return false;
  const llvm::Value *x = c->getOperand(0), *y = c->getOperand(1);
  for (const llvm::User* u : c->users()) {
    auto* s = llvm::dyn_cast<llvm::SelectInst>(u);
    if (!s || s->getCondition() != c) return false;
    const llvm::Value *t = s->getTrueValue(), *f = s->getFalseValue();
    if (!((t == x && f == y) || (t == y && f == x))) return false;
  }
  return never_nan(x) && never_nan(y);
}

}  // namespace

void quiet_fp_compares(llvm::Module& m) {
  static const HostCompares host;
  std::vector<llvm::FCmpInst*> work;
  for (llvm::Function& f : m)
    for (llvm::BasicBlock& bb : f)
      for (llvm::Instruction& inst : bb)
        if (auto* c = llvm::dyn_cast<llvm::FCmpInst>(&inst); c && quiet_x86_predicate(c->getPredicate()) >= 0 &&
                                                             !nan_free_min_max(c))
          work.push_back(c);
  for (llvm::FCmpInst* c : work) {
    llvm::IRBuilder<> b(c);
    llvm::Value* x = c->getOperand(0);
    llvm::Value* y = c->getOperand(1);
    llvm::Value* q = nullptr;
    auto* vt = llvm::dyn_cast<llvm::FixedVectorType>(x->getType());
    if (!vt) {
      b.setIsFPConstrained(true);
      b.setDefaultConstrainedExcept(llvm::fp::ebIgnore);
      q = b.CreateFCmp(c->getPredicate(), x, y, c->getName());
    } else {
      const unsigned elem = vt->getScalarSizeInBits(), n = vt->getNumElements(), bits = n * elem;
      if (!vt->getElementType()->isFloatTy() && !vt->getElementType()->isDoubleTy()) continue;
      // One register, or register-sized pieces (a power-of-two number of them) joined again.
      const unsigned reg = bits <= 128 ? 128 : bits <= 256 ? 256 : (host.avx512 ? 512 : 256);
      const unsigned piece = reg / elem;
      if (bits < 128 || n % piece != 0 || ((n / piece) & (n / piece - 1)) != 0) continue;
      const int pred = quiet_x86_predicate(c->getPredicate());
      std::vector<llvm::Value*> parts;
      for (unsigned at = 0; at < n; at += piece) {
        llvm::Value* xs = x;
        llvm::Value* ys = y;
        if (piece != n) {
          llvm::SmallVector<int, 16> idx;
          for (unsigned i = 0; i < piece; ++i) idx.push_back(static_cast<int>(at + i));
          xs = b.CreateShuffleVector(x, idx);
          ys = b.CreateShuffleVector(y, idx);
        }
        if (llvm::Value* r = quiet_vector_compare(b, host, pred, xs, ys)) parts.push_back(r);
        else break;
      }
      if (parts.size() != n / piece) continue;  // no quiet form here: the (dead) pieces go at codegen
      while (parts.size() > 1) {  // join pairwise
        std::vector<llvm::Value*> joined;
        for (size_t i = 0; i < parts.size(); i += 2) {
          const unsigned w = llvm::cast<llvm::FixedVectorType>(parts[i]->getType())->getNumElements();
          llvm::SmallVector<int, 64> idx;
          for (unsigned k = 0; k < 2 * w; ++k) idx.push_back(static_cast<int>(k));
          joined.push_back(b.CreateShuffleVector(parts[i], parts[i + 1], idx));
        }
        parts = std::move(joined);
      }
      q = parts[0];
    }
    q->takeName(c);
    c->replaceAllUsesWith(q);
    c->eraseFromParent();
  }
}

void optimize(llvm::Module& m, llvm::TargetMachine& tm, int opt_level) {
  llvm::LoopAnalysisManager lam;
  llvm::FunctionAnalysisManager fam;
  llvm::CGSCCAnalysisManager cgam;
  llvm::ModuleAnalysisManager mam;
  llvm::PipelineTuningOptions pto;
  pto.LoopVectorization = opt_level >= 2;
  pto.SLPVectorization = opt_level >= 2;
  llvm::PassBuilder pb(&tm, pto);
  pb.registerModuleAnalyses(mam);
  pb.registerCGSCCAnalyses(cgam);
  pb.registerFunctionAnalyses(fam);
  pb.registerLoopAnalyses(lam);
  pb.crossRegisterProxies(lam, fam, cgam, mam);
  llvm::ModulePassManager mpm;
  switch (opt_level) {
    case 0: mpm = pb.buildO0DefaultPipeline(llvm::OptimizationLevel::O0); break;
    case 1: mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O1); break;
    case 2: mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O2); break;
    default: mpm = pb.buildPerModuleDefaultPipeline(llvm::OptimizationLevel::O3); break;
  }
  if (opt_level >= 2) hint_fast64_loops(m);
  mpm.run(m, mam);
  inline_vmath_variants(m);
  scalarize_partial_fp_vectors(m);
  quiet_fp_compares(m);
}

// Marks the vector stores that lowering made provably 64-byte aligned (kNonTemporalAttr
// functions) non-temporal: they then bypass the cache without a read-for-ownership.
void mark_nontemporal_stores(llvm::Module& m) {
  for (llvm::Function& f : m) {
    if (!f.hasFnAttribute(kNonTemporalAttr)) continue;
    for (llvm::BasicBlock& bb : f)
      for (llvm::Instruction& inst : bb) {
        auto* st = llvm::dyn_cast<llvm::StoreInst>(&inst);
        if (!st || !st->getValueOperand()->getType()->isVectorTy()) continue;
        uint64_t bytes = m.getDataLayout().getTypeStoreSize(st->getValueOperand()->getType());
        if (bytes < 16 || st->getAlign().value() < bytes) continue;
        llvm::LLVMContext& ctx = m.getContext();
        st->setMetadata(llvm::LLVMContext::MD_nontemporal,
                        llvm::MDNode::get(ctx, llvm::ConstantAsMetadata::get(
                                                   llvm::ConstantInt::get(llvm::Type::getInt32Ty(ctx), 1))));
      }
  }
}

Status dump(const llvm::Module& m, llvm::TargetMachine& tm, const std::string& dir, const std::string& symbol) {
  std::error_code ec;
  llvm::sys::fs::create_directories(dir);
  {
    llvm::raw_fd_ostream ll(dir + "/" + symbol + ".ll", ec);
    if (ec) return Status::error("cpu backend: cannot write dump: " + ec.message());
    m.print(ll, nullptr);
  }
  // Codegen mutates its module, so assemble a clone.
  std::unique_ptr<llvm::Module> clone = llvm::CloneModule(m);
  llvm::raw_fd_ostream s(dir + "/" + symbol + ".s", ec);
  if (ec) return Status::error("cpu backend: cannot write dump: " + ec.message());
  llvm::legacy::PassManager pm;
  if (tm.addPassesToEmitFile(pm, s, nullptr, llvm::CGFT_AssemblyFile))
    return Status::error("cpu backend: target cannot emit assembly");
  pm.run(*clone);
  return ok_status();
}

// Resolves the kernel just added under `tracker` and wraps it; registers its code under the
// claimed symbol. Called with jit.mu held.
Expected<std::unique_ptr<CompiledKernel>> finish(Jit& jit, llvm::orc::ResourceTrackerSP tracker, SymbolClaim& claim,
                                                 std::chrono::steady_clock::time_point start, bool from_cache) {
  auto code = std::make_shared<LoadedCode>();
  code->tracker = std::move(tracker);
  code->symbol = claim.symbol;
  auto addr = jit.lljit->lookup(claim.symbol);  // materializes: runs codegen (or links the object)
  if (!addr) return Status::error("cpu backend: cannot resolve kernel: " + error_text(addr.takeError()));
  code->fn = addr->toPtr<KernelFn>();
  if (claim.registered) {  // hand the reservation over to the code
    std::lock_guard<std::mutex> lock(registry().mu);
    registry().live[claim.symbol] = code;
    code->registered = true;
    claim.registered = false;
  }
  auto impl = std::make_unique<CompiledKernel::Impl>();
  impl->code = code;
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  return std::make_unique<CompiledKernel>(std::move(impl), code->fn, ms, claim.symbol, from_cache);
}

// The file that holds this code (the Python extension, or a test binary), as "path size mtime":
// a rebuilt tracejit never reuses objects of an older build, even at the same version.
std::string build_id() {
  Dl_info info{};
  std::string id = "unknown";
  if (::dladdr(reinterpret_cast<void*>(&codegen_fingerprint), &info) && info.dli_fname) {
    struct stat st{};
    id = info.dli_fname;
    if (::stat(info.dli_fname, &st) == 0)
      id += " " + std::to_string(st.st_size) + " " + std::to_string(st.st_mtim.tv_sec) + "." +
            std::to_string(st.st_mtim.tv_nsec);
  }
  return id;
}

}  // namespace

std::string codegen_fingerprint(int opt_level) {
  static const std::string host = [] {
    std::string s = "tracejit " TRACEJIT_VERSION "\nbuild " + build_id() + "\nllvm " LLVM_VERSION_STRING;
    s += "\ntriple " + llvm::sys::getProcessTriple() + "\ncpu " + llvm::sys::getHostCPUName().str();
    llvm::StringMap<bool> features;
    std::vector<std::string> on;
    if (llvm::sys::getHostCPUFeatures(features))
      for (const auto& f : features) on.push_back((f.getValue() ? "+" : "-") + f.getKey().str());
    std::sort(on.begin(), on.end());
    s += "\nfeatures";
    for (const std::string& f : on) s += " " + f;
    return s + "\nfp-contract off\n";
  }();
  return host + "opt " + std::to_string(opt_level) + "\n";
}

Expected<std::unique_ptr<CompiledKernel>> jit_load_object(std::string_view object, SymbolClaim& claim,
                                                          std::chrono::steady_clock::time_point start) {
  Jit& jit = jit_instance();
  if (!jit.status) return jit.status;
  std::lock_guard<std::mutex> lock(jit.mu);
  llvm::orc::ResourceTrackerSP tracker = jit.lljit->getMainJITDylib().createResourceTracker();
  auto buffer = llvm::MemoryBuffer::getMemBufferCopy(llvm::StringRef(object.data(), object.size()), claim.symbol);
  Expected<std::unique_ptr<CompiledKernel>> k = Status::error("");
  if (llvm::Error e = jit.lljit->addObjectFile(tracker, std::move(buffer)))
    k = Status::error("cpu backend: cannot add cached object: " + error_text(std::move(e)));
  else
    k = finish(jit, tracker, claim, start, true);
  if (!k) llvm::consumeError(tracker->remove());  // whatever it defined goes: the caller compiles
  return k;
}

Expected<std::unique_ptr<CompiledKernel>> jit_compile(std::unique_ptr<llvm::Module> module,
                                                      std::unique_ptr<llvm::LLVMContext> ctx,
                                                      SymbolClaim& claim, int opt_level,
                                                      const std::string& dump_dir,
                                                      std::chrono::steady_clock::time_point start,
                                                      const ObjectCacheDir* cache, const ObjectKey& key) {
  Jit& jit = jit_instance();
  if (!jit.status) return jit.status;
  const std::string& symbol = claim.symbol;
  std::lock_guard<std::mutex> lock(jit.mu);
  module->setModuleIdentifier(symbol);
  module->setDataLayout(jit.lljit->getDataLayout());
  module->setTargetTriple(jit.lljit->getTargetTriple().str());
  raise_noted_fp_flags(*module);
  optimize(*module, *jit.tm, opt_level);
  mark_nontemporal_stores(*module);
  if (!dump_dir.empty())
    if (Status s = dump(*module, *jit.tm, dump_dir, symbol); !s) return s;

  llvm::orc::ResourceTrackerSP tracker = jit.lljit->getMainJITDylib().createResourceTracker();
  llvm::orc::ThreadSafeModule tsm(std::move(module), std::move(ctx));
  if (llvm::Error e = jit.lljit->addIRModule(tracker, std::move(tsm)))
    return Status::error("cpu backend: cannot add module: " + error_text(std::move(e)));
  if (cache) jit.store_hook.expect(symbol, cache, key);
  auto k = finish(jit, tracker, claim, start, false);
  if (cache) jit.store_hook.forget(symbol);
  if (!k) llvm::consumeError(tracker->remove());
  return k;
}

}  // namespace tracejit::backends
