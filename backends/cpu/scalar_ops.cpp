// NumPy-exact semantics of each elementwise op and dtype, emitted as LLVM IR on register values.
//
// No fast-math flags anywhere: float results must be bit-identical to NumPy's separate ops.
#include "backends/cpu/elementwise_ext.h"
#include "backends/cpu/scalar_ops.h"

#include <fmt/format.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Module.h>

#include <cmath>

#include "backends/cpu/fp_flags.h"
#include "backends/cpu/vmath.h"

namespace tracejit::backends {

// x86 lowers fcmp olt/ole/ogt/oge to the signaling compare predicates (LT_OS, ...), which raise
// the invalid flag for a quiet NaN operand where NumPy's comparison raises nothing; the flag
// would make every call with NaN data re-run eagerly (NumPy's errstate). A plain fcmp: after
// optimization jit.cpp's quiet_fp_compares turns every such compare in the module into the
// quiet predicate (vcmplt_oqps, ucomiss), one instruction as before. (Until then this compared
// the bits as sign-magnitude integers under fcmp ord: five instructions instead of one.)
llvm::Value* quiet_fcmp(llvm::IRBuilderBase& b, llvm::CmpInst::Predicate p, llvm::Value* x, llvm::Value* y) {
  return b.CreateFCmp(p, x, y);
}

namespace {

using ir::DType;
using ir::Op;
using llvm::Value;

Status unsupported(Op op, DType d) {
  return Status::error(fmt::format("cpu backend: unsupported {} on {}", ir::op_name(op),
                                   ir::dtype_name(d)));
}

Value* unary_intrinsic(llvm::IRBuilderBase& b, llvm::Intrinsic::ID id, Value* x) {
  return b.CreateUnaryIntrinsic(id, x);
}

// x86-64's truncating conversion to a `bits`-wide signed integer (cvttss2si/cvttsd2si): the
// value truncated toward zero when it is in range, else the "integer indefinite" INT_MIN (NaN,
// +-inf and everything out of range). A float is out of range exactly when it is not in
// [-2^(bits-1), 2^(bits-1)): values in (-2^31 - 1, -2^31) truncate to -2^31, which is also the
// indefinite value, so the bounds need no truncation first. Both bounds are exact in f32 and f64.
Value* cvtt(llvm::IRBuilderBase& b, Value* x, unsigned bits) {
  llvm::Type* ft = x->getType();
  auto* it = llvm::IntegerType::get(b.getContext(), bits);
  double lim = std::ldexp(1.0, static_cast<int>(bits) - 1);
  Value* in = b.CreateAnd(b.CreateFCmpOGE(x, llvm::ConstantFP::get(ft, -lim)),
                          b.CreateFCmpOLT(x, llvm::ConstantFP::get(ft, lim)));
  // fptosi is poison out of range: convert a safe value there, then pick the indefinite value.
  Value* conv = b.CreateFPToSI(b.CreateSelect(in, x, llvm::ConstantFP::get(ft, 0.0)), it);
  return b.CreateSelect(in, conv, llvm::ConstantInt::get(it, llvm::APInt::getSignedMinValue(bits)));
}

}  // namespace

// Float -> integer exactly as NumPy's cast loops compute it on x86-64 (compiled C conversions;
// measured on NumPy 2.4 for NaN, +-inf, out-of-range and denormal inputs on contiguous,
// strided, unaligned and 0-d arrays of many lengths, and in buffered reductions):
//   int64: cvtt 64;  int32: cvtt 32;  int8/int16/uint8/uint16: cvtt 32, then the low bits;
//   uint64: x >= 2^63 ? cvtt64(x - 2^63) ^ 2^63 : cvtt64(x)  (NaN takes the second branch).
// float -> uint32 is not deterministic in NumPy (its vector loop and its scalar tail give
// different answers out of range), so it has no lowering: float_to_int_supported says so.
bool float_to_int_supported(DType to) { return ir::is_integer(to) && to != DType::U32; }

Value* emit_float_to_int(llvm::IRBuilderBase& b, Value* x, DType to) {
  llvm::Type* rt = register_type(b.getContext(), to);
  switch (to) {
    case DType::I64: return cvtt(b, x, 64);
    case DType::U64: {
      llvm::Type* ft = x->getType();
      Value* two63 = llvm::ConstantFP::get(ft, std::ldexp(1.0, 63));
      Value* big = b.CreateFCmpOGE(x, two63);  // exact: x - 2^63 loses nothing below 2^64
      Value* r = cvtt(b, b.CreateSelect(big, b.CreateFSub(x, two63), x), 64);
      return b.CreateSelect(big, b.CreateXor(r, b.getInt64(uint64_t{1} << 63)), r);
    }
    case DType::U32: return b.CreateTrunc(cvtt(b, x, 64), rt);  // NumPy's scalar path only: unused
    default: return b.CreateTrunc(cvtt(b, x, 32), rt);  // I32 (a no-op trunc), I16, I8, U16, U8
  }
}

namespace {

Value* emit_cast(llvm::IRBuilderBase& b, Value* x, DType from, DType to) {
  llvm::Type* rt = register_type(b.getContext(), to);
  if (from == to) return x;
  if (ir::is_bool(to)) {
    if (ir::is_float(from)) return b.CreateFCmpUNE(x, llvm::ConstantFP::get(x->getType(), 0.0));
    return b.CreateICmpNE(x, llvm::ConstantInt::get(x->getType(), 0));
  }
  if (ir::is_bool(from)) return ir::is_float(to) ? b.CreateUIToFP(x, rt) : b.CreateZExt(x, rt);
  if (ir::is_integer(from)) {
    if (ir::is_float(to)) return ir::is_signed_int(from) ? b.CreateSIToFP(x, rt) : b.CreateUIToFP(x, rt);
    return ir::is_signed_int(from) ? b.CreateSExtOrTrunc(x, rt) : b.CreateZExtOrTrunc(x, rt);
  }
  if (ir::is_float(to)) return b.CreateFPCast(x, rt);
  return emit_float_to_int(b, x, to);
}

// NumPy's npy_divmod for floats: returns {floordiv, remainder}.
std::pair<Value*, Value*> float_divmod(llvm::IRBuilderBase& b, Value* a, Value* d) {
  llvm::Type* t = a->getType();
  Value* zero = llvm::ConstantFP::get(t, 0.0);
  Value* one = llvm::ConstantFP::get(t, 1.0);
  Value* half = llvm::ConstantFP::get(t, 0.5);
  Value* fmod = b.CreateFRem(a, d);
  Value* quot = b.CreateFDiv(a, d);  // the b == 0 answer for the quotient
  Value* b_is_zero = b.CreateFCmpOEQ(d, zero);
  // div = (a - mod) / b, then move mod to the divisor's sign.
  Value* div = b.CreateFDiv(b.CreateFSub(a, fmod), d);
  Value* mod_nonzero = b.CreateFCmpUNE(fmod, zero);
  Value* sign_differs = b.CreateICmpNE(quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, d, zero),
                                      quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, fmod, zero));
  Value* adjust = b.CreateAnd(mod_nonzero, sign_differs);
  Value* mod = b.CreateSelect(adjust, b.CreateFAdd(fmod, d), fmod);
  div = b.CreateSelect(adjust, b.CreateFSub(div, one), div);
  Value* signed_zero_b = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, zero, d);
  mod = b.CreateSelect(mod_nonzero, mod, signed_zero_b);
  // Snap the quotient to the nearest integral value.
  Value* fl = unary_intrinsic(b, llvm::Intrinsic::floor, div);
  Value* bump = quiet_fcmp(b, llvm::CmpInst::FCMP_OGT, b.CreateFSub(div, fl), half);
  fl = b.CreateSelect(bump, b.CreateFAdd(fl, one), fl);
  Value* div_nonzero = b.CreateFCmpUNE(div, zero);
  Value* signed_zero_q = b.CreateBinaryIntrinsic(llvm::Intrinsic::copysign, zero, quot);
  Value* floordiv = b.CreateSelect(div_nonzero, fl, signed_zero_q);
  return {b.CreateSelect(b_is_zero, quot, floordiv), b.CreateSelect(b_is_zero, fmod, mod)};
}

// Integer floor division / remainder. x // 0 == 0, x % 0 == 0, INT_MIN // -1 == INT_MIN.
std::pair<Value*, Value*> int_divmod(llvm::IRBuilderBase& b, Value* a, Value* d, bool is_signed) {
  auto* t = llvm::cast<llvm::IntegerType>(a->getType());
  Value* zero = llvm::ConstantInt::get(t, 0);
  Value* one = llvm::ConstantInt::get(t, 1);
  Value* d_zero = b.CreateICmpEQ(d, zero);
  if (!is_signed) {
    Value* safe = b.CreateSelect(d_zero, one, d);
    return {b.CreateSelect(d_zero, zero, b.CreateUDiv(a, safe)),
            b.CreateSelect(d_zero, zero, b.CreateURem(a, safe))};
  }
  Value* int_min = llvm::ConstantInt::get(t, llvm::APInt::getSignedMinValue(t->getBitWidth()));
  Value* overflow = b.CreateAnd(b.CreateICmpEQ(a, int_min),
                                b.CreateICmpEQ(d, llvm::ConstantInt::getAllOnesValue(t)));
  // Divide by 1 where the hardware would trap: a / 1 == INT_MIN and a % 1 == 0 as NumPy wants.
  Value* safe = b.CreateSelect(b.CreateOr(d_zero, overflow), one, d);
  Value* q = b.CreateSDiv(a, safe);
  Value* r = b.CreateSRem(a, safe);
  Value* adjust = b.CreateAnd(b.CreateICmpNE(r, zero), b.CreateICmpSLT(b.CreateXor(r, d), zero));
  q = b.CreateSelect(adjust, b.CreateSub(q, one), q);
  r = b.CreateSelect(adjust, b.CreateAdd(r, d), r);
  return {b.CreateSelect(d_zero, zero, q), b.CreateSelect(d_zero, zero, r)};
}

// Integer power by squaring with wraparound; branch-free so a loop around it still vectorizes
// and a constant exponent folds to a few multiplies. The exponent is non-negative (caller).
Value* int_pow(llvm::IRBuilderBase& b, Value* base, Value* e) {
  auto* t = llvm::cast<llvm::IntegerType>(base->getType());
  Value* one = llvm::ConstantInt::get(t, 1);
  Value* result = one;
  for (unsigned i = 0; i < t->getBitWidth(); ++i) {
    Value* bit = b.CreateICmpNE(b.CreateAnd(e, one), llvm::ConstantInt::get(t, 0));
    result = b.CreateSelect(bit, b.CreateMul(result, base), result);
    if (i + 1 < t->getBitWidth()) {
      base = b.CreateMul(base, base);
      e = b.CreateLShr(e, one);
    }
  }
  return result;
}

Value* compare(llvm::IRBuilderBase& b, Op op, DType d, Value* x, Value* y) {
  using P = llvm::CmpInst::Predicate;
  if (ir::is_float(d)) {
    P p = op == Op::Eq ? P::FCMP_OEQ : op == Op::Ne ? P::FCMP_UNE : op == Op::Lt ? P::FCMP_OLT
        : op == Op::Le ? P::FCMP_OLE : op == Op::Gt ? P::FCMP_OGT : P::FCMP_OGE;
    return quiet_fcmp(b, p, x, y);
  }
  bool s = ir::is_signed_int(d);
  P p = op == Op::Eq ? P::ICMP_EQ : op == Op::Ne ? P::ICMP_NE
      : op == Op::Lt ? (s ? P::ICMP_SLT : P::ICMP_ULT) : op == Op::Le ? (s ? P::ICMP_SLE : P::ICMP_ULE)
      : op == Op::Gt ? (s ? P::ICMP_SGT : P::ICMP_UGT) : (s ? P::ICMP_SGE : P::ICMP_UGE);
  return b.CreateICmp(p, x, y);
}


Expected<Value*> emit_unary(llvm::IRBuilderBase& b, Op op, DType d, Value* x) {
  bool f = ir::is_float(d);
  switch (op) {
    case Op::Neg:
      if (ir::is_bool(d)) return unsupported(op, d);
      return f ? b.CreateFNeg(x) : b.CreateNeg(x);
    case Op::Abs:
      if (f) return unary_intrinsic(b, llvm::Intrinsic::fabs, x);
      if (!ir::is_signed_int(d)) return x;
      // Wraps: abs(INT_MIN) == INT_MIN.
      return b.CreateSelect(b.CreateICmpSLT(x, llvm::ConstantInt::get(x->getType(), 0)), b.CreateNeg(x), x);
    case Op::Not:
      if (f) return unsupported(op, d);
      return b.CreateNot(x);  // i1 xor 1 is logical not
    default:
      break;
  }
  if (!f) return unsupported(op, d);
  switch (op) {
    case Op::Sqrt: return unary_intrinsic(b, llvm::Intrinsic::sqrt, x);
    case Op::Exp:
    case Op::Log:
    case Op::Tanh:
    case Op::Sin:
    case Op::Cos: return emit_vmath(b, op, x);  // inline, so the loop vectorizes
    default: return unsupported(op, d);
  }
}

Expected<Value*> emit_binary(llvm::IRBuilderBase& b, Op op, DType d, Value* x, Value* y) {
  bool f = ir::is_float(d), bl = ir::is_bool(d);
  if (ir::has_trait(op, ir::kCompare)) return compare(b, op, d, x, y);
  switch (op) {
    case Op::Add: return f ? b.CreateFAdd(x, y) : bl ? b.CreateOr(x, y) : b.CreateAdd(x, y);
    case Op::Mul: return f ? b.CreateFMul(x, y) : bl ? b.CreateAnd(x, y) : b.CreateMul(x, y);
    case Op::Sub:
      if (bl) return unsupported(op, d);
      return f ? b.CreateFSub(x, y) : b.CreateSub(x, y);
    case Op::Div:
      if (!f) return unsupported(op, d);
      return b.CreateFDiv(x, y);
    case Op::FloorDiv:
    case Op::Mod: {
      if (bl) return unsupported(op, d);
      auto [q, r] = f ? float_divmod(b, x, y) : int_divmod(b, x, y, ir::is_signed_int(d));
      return op == Op::FloorDiv ? q : r;
    }
    case Op::Pow:
      if (bl) return unsupported(op, d);
      return f ? emit_vpow(b, x, y) : int_pow(b, x, y);  // floats: inline vector code
    case Op::Maximum: return emit_extremum(b, true, /*propagate_nan=*/true, d, x, y);
    case Op::Minimum: return emit_extremum(b, false, /*propagate_nan=*/true, d, x, y);
    case Op::And:
    case Op::Or:
    case Op::Xor:
      if (f) return unsupported(op, d);
      return op == Op::And ? b.CreateAnd(x, y) : op == Op::Or ? b.CreateOr(x, y) : b.CreateXor(x, y);
    case Op::Shl:
    case Op::Shr: {
      // C's shift is undefined (LLVM's poison) for counts >= the width: NumPy's npy_lshift /
      // npy_rshift test the count as unsigned first.
      if (f || bl) return unsupported(op, d);
      const bool s = ir::is_signed_int(d);
      llvm::Type* t = x->getType();
      Value* in_range = b.CreateICmpULT(y, llvm::ConstantInt::get(t, t->getScalarSizeInBits()));
      Value* count = b.CreateSelect(in_range, y, llvm::Constant::getNullValue(t));
      Value* zero = llvm::Constant::getNullValue(t);
      if (op == Op::Shl) return b.CreateSelect(in_range, b.CreateShl(x, count), zero);
      Value* out = s ? b.CreateSelect(b.CreateICmpSLT(x, zero), llvm::Constant::getAllOnesValue(t), zero) : zero;
      return b.CreateSelect(in_range, s ? b.CreateAShr(x, count) : b.CreateLShr(x, count), out);
    }
    default: return unsupported(op, d);
  }
}

}  // namespace

llvm::Type* register_type(llvm::LLVMContext& ctx, DType d) {
  if (ir::is_bool(d)) return llvm::Type::getInt1Ty(ctx);
  if (d == DType::F32) return llvm::Type::getFloatTy(ctx);
  if (d == DType::F64) return llvm::Type::getDoubleTy(ctx);
  return llvm::Type::getIntNTy(ctx, static_cast<unsigned>(ir::dtype_size(d) * 8));
}

llvm::Type* memory_type(llvm::LLVMContext& ctx, DType d) {
  return ir::is_bool(d) ? llvm::Type::getInt8Ty(ctx) : register_type(ctx, d);
}

Value* from_memory(llvm::IRBuilderBase& b, Value* v, DType d) {
  return ir::is_bool(d) ? b.CreateICmpNE(v, b.getInt8(0)) : v;
}

Value* to_memory(llvm::IRBuilderBase& b, Value* v, DType d) {
  return ir::is_bool(d) ? b.CreateZExt(v, b.getInt8Ty()) : v;
}

Expected<Value*> emit_const(llvm::IRBuilderBase& b, const ir::Node& n) {
  DType d = n.type.dtype;
  llvm::Type* t = register_type(b.getContext(), d);
  if (ir::is_float(d)) return llvm::ConstantFP::get(t, n.fval);  // f32: rounds the double once
  if (n.ints.empty()) return Status::error("cpu backend: integer const without ints[0]");
  if (ir::is_bool(d)) return llvm::ConstantInt::get(t, n.ints[0] != 0 ? 1 : 0);
  // Truncates to the width; u64 arrives as its bit pattern.
  return llvm::ConstantInt::get(t, static_cast<uint64_t>(n.ints[0]), /*isSigned=*/false);
}

// Floats: `(x > y || isnan(x)) ? x : y` for maximum (NaN propagates), `(x > y || isnan(y)) ? x : y`
// for fmax (NaN ignored); operands that compare equal give the SECOND one, as NumPy
// (np.maximum(0.0, -0.0) is -0.0). Integers and bool compare by signedness.
Value* emit_extremum(llvm::IRBuilderBase& b, bool is_max, bool propagate_nan, DType d, Value* x, Value* y) {
  if (ir::is_float(d)) {
    Value* keep_x = quiet_fcmp(b, is_max ? llvm::CmpInst::FCMP_OGT : llvm::CmpInst::FCMP_OLT, x, y);
    Value* nan = propagate_nan ? b.CreateFCmpUNO(x, x) : b.CreateFCmpUNO(y, y);
    return b.CreateSelect(b.CreateOr(keep_x, nan), x, y);
  }
  bool s = ir::is_signed_int(d);
  Value* keep_x = is_max ? (s ? b.CreateICmpSGT(x, y) : b.CreateICmpUGT(x, y))
                         : (s ? b.CreateICmpSLT(x, y) : b.CreateICmpULT(x, y));
  return b.CreateSelect(keep_x, x, y);
}

// Accumulates floating-point flags (fp::k*) for lanes where `pred` holds into the function's
// flag slot: an i32 alloca in the entry block, or-ed in the body (SROA makes it an OR reduction,
// so loops still vectorize) and raised when the function returns (raise_noted_fp_flags).
void note_fp_flags(llvm::IRBuilderBase& b, Value* pred, uint32_t bits) {
  llvm::Function* f = b.GetInsertBlock()->getParent();
  llvm::BasicBlock& entry = f->getEntryBlock();
  llvm::AllocaInst* slot = nullptr;
  for (llvm::Instruction& i : entry)
    if (auto* a = llvm::dyn_cast<llvm::AllocaInst>(&i); a && a->getName() == kFpFlagSlot) slot = a;
  llvm::Type* i32 = b.getInt32Ty();
  if (!slot) {
    llvm::IRBuilder<> eb(&entry, entry.getFirstInsertionPt());
    slot = eb.CreateAlloca(i32, nullptr, kFpFlagSlot);
    eb.CreateStore(eb.getInt32(0), slot);
  }
  Value* v = b.CreateSelect(pred, llvm::ConstantInt::get(pred->getType()->isVectorTy()
                                                            ? llvm::VectorType::get(i32, llvm::cast<llvm::VectorType>(pred->getType())->getElementCount())
                                                            : i32, bits),
                            llvm::Constant::getNullValue(pred->getType()->isVectorTy()
                                                             ? llvm::VectorType::get(i32, llvm::cast<llvm::VectorType>(pred->getType())->getElementCount())
                                                             : i32));
  if (v->getType()->isVectorTy()) v = b.CreateOrReduce(v);
  b.CreateStore(b.CreateOr(b.CreateLoad(i32, slot), v), slot);
}

namespace {

// The flags NumPy's loop raises where the compiled op's special cases are selects or integer
// code (no float operation raises them): log(0) divides by zero, log(x < 0) is invalid, an
// integer // 0 divides by zero, a float -> int cast out of range is invalid, ... Other ops
// raise at least NumPy's flags by themselves (hardware arithmetic, scaled exponentials).
void note_numpy_fp_flags(llvm::IRBuilderBase& b, const ir::Node& n, const std::vector<DType>& dts,
                         const std::vector<Value*>& args) {
  if (args.empty()) return;
  Value* x = args[0];
  auto fc = [&](double v) { return llvm::ConstantFP::get(x->getType(), v); };
  if (ir::checks_scalar_overflow(n) && ir::is_integer(dts[0]) && !ir::is_bool(dts[0])) {
    // NumPy scalar arithmetic: a result that wraps raises the overflow flag.
    const bool s = ir::is_signed_int(dts[0]);
    llvm::Type* t = x->getType();
    Value* zero = llvm::ConstantInt::get(t, 0);
    Value* min = llvm::ConstantInt::get(t, llvm::APInt::getSignedMinValue(t->getScalarSizeInBits()));
    Value* wraps = nullptr;
    if (n.op == Op::Neg) {
      wraps = s ? b.CreateICmpEQ(x, min) : b.CreateICmpNE(x, zero);  // -uint(x != 0) wraps
    } else if (n.op == Op::Abs) {
      if (!s) return;
      wraps = b.CreateICmpEQ(x, min);
    } else if (args.size() == 2) {
      llvm::Intrinsic::ID id = n.op == Op::Add ? (s ? llvm::Intrinsic::sadd_with_overflow : llvm::Intrinsic::uadd_with_overflow)
                             : n.op == Op::Sub ? (s ? llvm::Intrinsic::ssub_with_overflow : llvm::Intrinsic::usub_with_overflow)
                                               : (s ? llvm::Intrinsic::smul_with_overflow : llvm::Intrinsic::umul_with_overflow);
      wraps = b.CreateExtractValue(b.CreateBinaryIntrinsic(id, x, args[1]), 1);
    }
    if (wraps) note_fp_flags(b, wraps, fp::kOverflow);
    return;
  }
  switch (n.op) {
    case Op::Log:
    case Op::Log2:
    case Op::Log10:
      if (!ir::is_float(dts[0])) return;
      note_fp_flags(b, b.CreateFCmpOEQ(x, fc(0.0)), fp::kDivide);
      note_fp_flags(b, quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, x, fc(0.0)), fp::kInvalid);
      return;
    case Op::Log1p:
      if (!ir::is_float(dts[0])) return;
      note_fp_flags(b, b.CreateFCmpOEQ(x, fc(-1.0)), fp::kDivide);
      note_fp_flags(b, quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, x, fc(-1.0)), fp::kInvalid);
      return;
    case Op::Atanh: {
      if (!ir::is_float(dts[0])) return;
      Value* ax = b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, x);
      note_fp_flags(b, b.CreateFCmpOEQ(ax, fc(1.0)), fp::kDivide);
      note_fp_flags(b, quiet_fcmp(b, llvm::CmpInst::FCMP_OGT, ax, fc(1.0)), fp::kInvalid);
      return;
    }
    case Op::Acosh:
      if (!ir::is_float(dts[0])) return;
      note_fp_flags(b, quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, x, fc(1.0)), fp::kInvalid);
      return;
    case Op::Pow:
      if (!ir::is_float(dts[0]) || args.size() != 2) return;
    {
      Value* y = args[1];
      note_fp_flags(b, b.CreateAnd(b.CreateFCmpOEQ(x, fc(0.0)), quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, y, fc(0.0))), fp::kDivide);
      // A finite negative base to a finite non-integer power is NaN, computed as a select:
      // C's pow raises invalid there (NumPy: "invalid value encountered in power").
      Value* neg_finite = b.CreateAnd(quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, x, fc(0.0)),
                                      quiet_fcmp(b, llvm::CmpInst::FCMP_OGT, x, fc(-INFINITY)));
      Value* y_frac = b.CreateAnd(b.CreateFCmpONE(y, b.CreateUnaryIntrinsic(llvm::Intrinsic::trunc, y)),
                                  b.CreateFCmpONE(b.CreateUnaryIntrinsic(llvm::Intrinsic::fabs, y), fc(INFINITY)));
      note_fp_flags(b, b.CreateAnd(neg_finite, y_frac), fp::kInvalid);
      return;
    }
    case Op::FloorDiv:
    case Op::Mod: {
      if (ir::is_float(dts[0]) || ir::is_bool(dts[0]) || args.size() != 2) return;
      Value* d = args[1];
      note_fp_flags(b, b.CreateICmpEQ(d, llvm::ConstantInt::get(d->getType(), 0)), fp::kDivide);
      if (n.op == Op::FloorDiv && ir::is_signed_int(dts[0])) {
        unsigned bits = d->getType()->getScalarSizeInBits();
        Value* min = llvm::ConstantInt::get(d->getType(), llvm::APInt::getSignedMinValue(bits));
        note_fp_flags(b, b.CreateAnd(b.CreateICmpEQ(x, min), b.CreateICmpEQ(d, llvm::ConstantInt::getAllOnesValue(d->getType()))),
                      fp::kOverflow);
      }
      return;
    }
    case Op::Cast: {
      DType to = n.type.dtype;
      if (!ir::is_float(dts[0]) || !ir::is_integer(to)) return;
      // cvtt's range (emit_float_to_int): 64 bits for int64 (and uint64 up to 2^64), else 32.
      double lo = to == DType::I64 || to == DType::U64 ? -std::ldexp(1.0, 63) : -std::ldexp(1.0, 31);
      double hi = to == DType::U64 ? std::ldexp(1.0, 64) : to == DType::I64 ? std::ldexp(1.0, 63) : std::ldexp(1.0, 31);
      Value* in = b.CreateAnd(quiet_fcmp(b, llvm::CmpInst::FCMP_OGE, x, fc(lo)), quiet_fcmp(b, llvm::CmpInst::FCMP_OLT, x, fc(hi)));
      note_fp_flags(b, b.CreateNot(in), fp::kInvalid);
      return;
    }
    default:
      return;
  }
}

Expected<Value*> emit_scalar_op_impl(llvm::IRBuilderBase& b, const ir::Node& n,
                                     const std::vector<DType>& arg_dtypes, const std::vector<Value*>& args);

}  // namespace

Expected<Value*> emit_scalar_op(llvm::IRBuilderBase& b, const ir::Node& n,
                                const std::vector<DType>& arg_dtypes, const std::vector<Value*>& args) {
  auto r = emit_scalar_op_impl(b, n, arg_dtypes, args);
  if (r && args.size() == arg_dtypes.size()) note_numpy_fp_flags(b, n, arg_dtypes, args);
  return r;
}

namespace {

Expected<Value*> emit_scalar_op_impl(llvm::IRBuilderBase& b, const ir::Node& n,
                                     const std::vector<DType>& arg_dtypes, const std::vector<Value*>& args) {
  if (args.size() != n.operands.size() || args.size() != arg_dtypes.size())
    return Status::error(fmt::format("cpu backend: {} has the wrong operand count", ir::op_name(n.op)));
  if (is_ext_op(n.op)) return emit_ext_op(b, n, arg_dtypes, args);
  switch (n.op) {
    case Op::Cast:
      if (ir::is_float(arg_dtypes[0]) && ir::is_integer(n.type.dtype) && !float_to_int_supported(n.type.dtype))
        return Status::error(fmt::format("cpu backend: unsupported cast {} -> {}",
                                         ir::dtype_name(arg_dtypes[0]), ir::dtype_name(n.type.dtype)));
      return emit_cast(b, args[0], arg_dtypes[0], n.type.dtype);
    case Op::Where:
      if (!ir::is_bool(arg_dtypes[0]))
        return Status::error("cpu backend: where needs a bool condition");
      return b.CreateSelect(args[0], args[1], args[2]);
    default:
      break;
  }
  if (args.size() == 1) return emit_unary(b, n.op, arg_dtypes[0], args[0]);
  if (args.size() == 2) {
    if (arg_dtypes[0] != arg_dtypes[1])
      return Status::error(fmt::format("cpu backend: {} operands differ in dtype", ir::op_name(n.op)));
    return emit_binary(b, n.op, arg_dtypes[0], args[0], args[1]);
  }
  return Status::error(fmt::format("cpu backend: cannot lower {}", ir::op_name(n.op)));
}

}  // namespace

}  // namespace tracejit::backends
