// Rounding, classification, fmax/fmin and transcendental elementwise ops (see elementwise_ext.h).
#include "backends/cpu/elementwise_ext.h"

#include "backends/cpu/scalar_ops.h"
#include "backends/cpu/vmath.h"

#include <fmt/format.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <cmath>

namespace tracejit::backends {
namespace {

using ir::DType;
using ir::Op;
using llvm::Value;

// Op, libm double name, libm float name.
struct LibmFn {
  Op op;
  const char* dname;
  const char* fname;
  void* daddr;
  void* faddr;
};

using D1 = double (*)(double);
using F1 = float (*)(float);
using D2 = double (*)(double, double);
using F2 = float (*)(float, float);
#define TJ_LIBM1(OP, N) {Op::OP, #N, #N "f", reinterpret_cast<void*>(static_cast<D1>(::N)), reinterpret_cast<void*>(static_cast<F1>(::N##f))}
#define TJ_LIBM2(OP, N) {Op::OP, #N, #N "f", reinterpret_cast<void*>(static_cast<D2>(::N)), reinterpret_cast<void*>(static_cast<F2>(::N##f))}
const LibmFn kLibm[] = {
    TJ_LIBM1(Expm1, expm1), TJ_LIBM1(Log1p, log1p), TJ_LIBM1(Log2, log2),   TJ_LIBM1(Log10, log10),
    TJ_LIBM1(Exp2, exp2),   TJ_LIBM1(Cbrt, cbrt),   TJ_LIBM1(Tan, tan),     TJ_LIBM1(Asin, asin),
    TJ_LIBM1(Acos, acos),   TJ_LIBM1(Atan, atan),   TJ_LIBM1(Sinh, sinh),   TJ_LIBM1(Cosh, cosh),
    TJ_LIBM1(Asinh, asinh), TJ_LIBM1(Acosh, acosh), TJ_LIBM1(Atanh, atanh), TJ_LIBM2(Atan2, atan2),
    TJ_LIBM2(Hypot, hypot),
};
#undef TJ_LIBM1
#undef TJ_LIBM2

const LibmFn* libm_fn(Op op) {
  for (const LibmFn& f : kLibm)
    if (f.op == op) return &f;
  return nullptr;
}

Value* call_libm(llvm::IRBuilderBase& b, const char* name, const std::vector<Value*>& args) {
  llvm::Module* m = b.GetInsertBlock()->getModule();
  llvm::Type* t = args[0]->getType();
  std::vector<llvm::Type*> params(args.size(), t);
  llvm::FunctionCallee callee = m->getOrInsertFunction(name, llvm::FunctionType::get(t, params, false));
  auto* fn = llvm::cast<llvm::Function>(callee.getCallee());
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  fn->addFnAttr(llvm::Attribute::WillReturn);
  fn->setOnlyAccessesInaccessibleMemory();  // errno only: loops around the call still optimize
  return b.CreateCall(callee, args);
}

Status unsupported(Op op, DType d) {
  return Status::error(fmt::format("cpu backend: unsupported {} on {}", ir::op_name(op), ir::dtype_name(d)));
}

Value* sign(llvm::IRBuilderBase& b, DType d, Value* x) {
  llvm::Type* t = x->getType();
  if (ir::is_float(d)) {
    Value* one = llvm::ConstantFP::get(t, 1.0), *mone = llvm::ConstantFP::get(t, -1.0);
    Value* zero = llvm::ConstantFP::get(t, 0.0);
    Value* r = b.CreateSelect(b.CreateFCmpOEQ(x, zero), zero, x);  // +0 for +-0, NaN stays
    r = b.CreateSelect(quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, x, zero), mone, r);
    return b.CreateSelect(quiet_fcmp(b, llvm::CmpInst::FCMP_OGT, x, zero), one, r);
  }
  if (ir::is_bool(d)) return x;
  Value* zero = llvm::ConstantInt::get(t, 0);
  Value* pos = b.CreateZExt(ir::is_signed_int(d) ? b.CreateICmpSGT(x, zero) : b.CreateICmpNE(x, zero), t);
  if (!ir::is_signed_int(d)) return pos;
  return b.CreateSub(pos, b.CreateZExt(b.CreateICmpSLT(x, zero), t));
}


}  // namespace

bool is_ext_op(Op op) {
  switch (op) {
    case Op::Floor: case Op::Ceil: case Op::Trunc: case Op::Rint: case Op::Sign:
    case Op::IsNan: case Op::IsInf: case Op::IsFinite: case Op::Fmax: case Op::Fmin:
    case Op::SignBit: case Op::CopySign:
      return true;
    default:
      return libm_fn(op) != nullptr;
  }
}

Expected<Value*> emit_ext_op(llvm::IRBuilderBase& b, const ir::Node& n, const std::vector<DType>& arg_dtypes,
                             const std::vector<Value*>& args) {
  if (args.empty() || args.size() != arg_dtypes.size())
    return Status::error(fmt::format("cpu backend: {} has the wrong operand count", ir::op_name(n.op)));
  DType d = arg_dtypes[0];
  bool f = ir::is_float(d);
  Value* x = args[0];
  switch (n.op) {
    case Op::Sign: return sign(b, d, x);
    case Op::Fmax:
    case Op::Fmin:
      if (args.size() != 2) return unsupported(n.op, d);
      return emit_extremum(b, n.op == Op::Fmax, /*propagate_nan=*/false, d, x, args[1]);
    default: break;
  }
  if (!f) return unsupported(n.op, d);
  switch (n.op) {
    case Op::Floor: return b.CreateUnaryIntrinsic(llvm::Intrinsic::floor, x);
    case Op::Ceil: return b.CreateUnaryIntrinsic(llvm::Intrinsic::ceil, x);
    case Op::Trunc: return b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, x);
    case Op::Rint: return b.CreateUnaryIntrinsic(llvm::Intrinsic::roundeven, x);
    case Op::IsNan: return b.CreateFCmpUNO(x, x);
    case Op::SignBit: {  // the bit itself (NaN and -0.0 included): a signed compare of the bits
      llvm::Type* it = b.getIntNTy(x->getType()->getScalarSizeInBits());
      if (auto* vt = llvm::dyn_cast<llvm::VectorType>(x->getType())) it = llvm::VectorType::get(it, vt->getElementCount());
      return b.CreateICmpSLT(b.CreateBitCast(x, it), llvm::Constant::getNullValue(it));
    }
    case Op::CopySign:  // a bit operation: no flags, NaN payloads kept (C copysign)
      if (args.size() != 2) return unsupported(n.op, d);
      return b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, x, args[1]);
    case Op::IsInf: {
      // The bits with the sign cleared equal +inf's. Not fabs(x) == inf: LLVM rewrites that
      // compare as fabs(x) >= inf, which x86 emits as a signaling compare (vcmpgess): a NaN
      // then raises the invalid flag, and the call re-ran eagerly for a warning NumPy never gives.
      const unsigned bits = x->getType()->getScalarSizeInBits();
      llvm::Type* it = b.getIntNTy(bits);
      if (auto* vt = llvm::dyn_cast<llvm::VectorType>(x->getType())) it = llvm::VectorType::get(it, vt->getElementCount());
      const llvm::APInt inf = llvm::APFloat::getInf(x->getType()->getScalarType()->getFltSemantics()).bitcastToAPInt();
      Value* mag = b.CreateAnd(b.CreateBitCast(x, it), llvm::ConstantInt::get(it, llvm::APInt::getSignedMaxValue(bits)));
      return b.CreateICmpEQ(mag, llvm::ConstantInt::get(it, inf));
    }
    case Op::IsFinite:
      return quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x),
                             llvm::ConstantFP::getInfinity(x->getType()));
    default: break;
  }
  // Inline vector code, no libm call (every op of kLibm has one; the table stays as the symbol
  // list the JIT resolves and as the fallback for an op without an inline lowering).
  if (has_vmath(n.op) && args.size() == 1) return emit_vmath(b, n.op, x);
  if (has_vmath2(n.op) && args.size() == 2) return emit_vmath2(b, n.op, x, args[1]);
  const LibmFn* lf = libm_fn(n.op);
  if (!lf) return unsupported(n.op, d);
  return call_libm(b, d == DType::F32 ? lf->fname : lf->dname, args);
}

void for_each_ext_libm_symbol(const std::function<void(const char*, void*)>& fn) {
  for (const LibmFn& f : kLibm) {
    fn(f.dname, f.daddr);
    fn(f.fname, f.faddr);
  }
}

}  // namespace tracejit::backends
