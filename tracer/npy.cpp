// NumPy type numbers <-> IR dtypes.
#include "tracer/npy.h"

namespace tracejit {

std::optional<ir::DType> dtype_from_typenum(int typenum) {
  using ir::DType;
  switch (typenum) {
    case NPY_BOOL: return DType::Bool;
    case NPY_BYTE: return DType::I8;
    case NPY_SHORT: return DType::I16;
    case NPY_INT: return DType::I32;
    case NPY_LONG: return sizeof(long) == 8 ? DType::I64 : DType::I32;
    case NPY_LONGLONG: return DType::I64;
    case NPY_UBYTE: return DType::U8;
    case NPY_USHORT: return DType::U16;
    case NPY_UINT: return DType::U32;
    case NPY_ULONG: return sizeof(long) == 8 ? DType::U64 : DType::U32;
    case NPY_ULONGLONG: return DType::U64;
    case NPY_FLOAT: return DType::F32;
    case NPY_DOUBLE: return DType::F64;
    default: return std::nullopt;
  }
}

int typenum_from_dtype(ir::DType d) {
  using ir::DType;
  switch (d) {
    case DType::Bool: return NPY_BOOL;
    case DType::I8: return NPY_INT8;
    case DType::I16: return NPY_INT16;
    case DType::I32: return NPY_INT32;
    case DType::I64: return NPY_INT64;
    case DType::U8: return NPY_UINT8;
    case DType::U16: return NPY_UINT16;
    case DType::U32: return NPY_UINT32;
    case DType::U64: return NPY_UINT64;
    case DType::F32: return NPY_FLOAT32;
    case DType::F64: return NPY_FLOAT64;
  }
  return NPY_FLOAT64;
}

}  // namespace tracejit
