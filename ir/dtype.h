// Element types of the IR: NumPy's bool, fixed-width integers and IEEE floats.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tracejit::ir {

// X(Enum, ir name, numpy name, byte size, kind)  kind: 'b' bool, 'i' signed, 'u' unsigned, 'f' float
#define TRACEJIT_DTYPES(X)          \
  X(Bool, "bool", "bool", 1, 'b')   \
  X(I8, "i8", "int8", 1, 'i')       \
  X(I16, "i16", "int16", 2, 'i')    \
  X(I32, "i32", "int32", 4, 'i')    \
  X(I64, "i64", "int64", 8, 'i')    \
  X(U8, "u8", "uint8", 1, 'u')      \
  X(U16, "u16", "uint16", 2, 'u')   \
  X(U32, "u32", "uint32", 4, 'u')   \
  X(U64, "u64", "uint64", 8, 'u')   \
  X(F32, "f32", "float32", 4, 'f')  \
  X(F64, "f64", "float64", 8, 'f')

enum class DType : uint8_t {
#define TRACEJIT_X(e, ir, np, size, kind) e,
  TRACEJIT_DTYPES(TRACEJIT_X)
#undef TRACEJIT_X
};

inline constexpr int kNumDTypes = 11;

std::string_view dtype_name(DType t);        // IR spelling: "f32"
std::string_view dtype_numpy_name(DType t);  // NumPy spelling: "float32"
std::optional<DType> dtype_from_name(std::string_view name);        // IR spelling
std::optional<DType> dtype_from_numpy_name(std::string_view name);  // NumPy spelling
int dtype_size(DType t);
char dtype_kind(DType t);
inline bool is_float(DType t) { return dtype_kind(t) == 'f'; }
inline bool is_signed_int(DType t) { return dtype_kind(t) == 'i'; }
inline bool is_unsigned_int(DType t) { return dtype_kind(t) == 'u'; }
inline bool is_integer(DType t) { return is_signed_int(t) || is_unsigned_int(t); }
inline bool is_bool(DType t) { return t == DType::Bool; }

}  // namespace tracejit::ir
