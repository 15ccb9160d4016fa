// Internal: NumPy-exact semantics of one elementwise op on register values (LLVM IR emission).
#pragma once

#include <vector>

#include "ir/graph.h"
#include "ir/status.h"

#include <llvm/IR/InstrTypes.h>

namespace llvm {
class IRBuilderBase;
class LLVMContext;
class Type;
class Value;
}  // namespace llvm

namespace tracejit::backends {

inline constexpr const char* kFpFlagSlot = "tracejit.fpflags";

// fcmp `p` where a NaN operand must raise no invalid flag (NumPy's comparisons, max/min, sign):
// a plain fcmp, which the CPU backend makes quiet after optimization (jit.cpp,
// quiet_fp_compares; see scalar_ops.cpp).
llvm::Value* quiet_fcmp(llvm::IRBuilderBase& b, llvm::CmpInst::Predicate p, llvm::Value* x, llvm::Value* y);

// Register type of a dtype: i1 for bool, iN for integers, float/double.
llvm::Type* register_type(llvm::LLVMContext& ctx, ir::DType d);
// Memory type of a dtype: like register_type but bool is i8 (NumPy stores bool as one byte 0/1).
llvm::Type* memory_type(llvm::LLVMContext& ctx, ir::DType d);

// Converts between memory and register forms (bool: i8 != 0 <-> zext i1).
llvm::Value* from_memory(llvm::IRBuilderBase& b, llvm::Value* v, ir::DType d);
llvm::Value* to_memory(llvm::IRBuilderBase& b, llvm::Value* v, ir::DType d);

// The value of a `const` node.
Expected<llvm::Value*> emit_const(llvm::IRBuilderBase& b, const ir::Node& n);

// Emits node `n` (an elementwise op, not param/const) applied to `args`, whose dtypes are
// `arg_dtypes`. Errors name the op and dtype that has no NumPy-exact lowering.
// maximum/minimum (propagate_nan) and fmax/fmin (NaN ignored) on register values, NumPy's
// semantics for NaN and signed zeros.
llvm::Value* emit_extremum(llvm::IRBuilderBase& b, bool is_max, bool propagate_nan, ir::DType d,
                           llvm::Value* x, llvm::Value* y);

// Float (f32/f64 register value) -> integer `to`, bit for bit as NumPy's cast loops on x86-64,
// NaN, +-inf and out-of-range inputs included (see scalar_ops.cpp). Only for the targets
// float_to_int_supported accepts: NumPy's float -> uint32 depends on the array length.
bool float_to_int_supported(ir::DType to);
llvm::Value* emit_float_to_int(llvm::IRBuilderBase& b, llvm::Value* x, ir::DType to);

// Notes floating-point flags (fp::k*) to raise where `pred` (i1 or a vector of i1) holds, in the
// enclosing function's flag slot (kFpFlagSlot).
void note_fp_flags(llvm::IRBuilderBase& b, llvm::Value* pred, uint32_t bits);

// Also notes the floating-point flags NumPy's loop raises where the compiled code raises none
// (log(0), integer // 0, float -> int out of range, ...) in the enclosing function's flag slot
// (an alloca named kFpFlagSlot), which raise_noted_fp_flags turns into a call at its returns.
Expected<llvm::Value*> emit_scalar_op(llvm::IRBuilderBase& b, const ir::Node& n,
                                      const std::vector<ir::DType>& arg_dtypes,
                                      const std::vector<llvm::Value*>& args);

}  // namespace tracejit::backends
