// NumPy C API access for every translation unit of tracejit (import_array runs once, in
// python/module.cpp, which defines TRACEJIT_NUMPY_IMPORT before including this header).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#define NPY_NO_DEPRECATED_API NPY_2_0_API_VERSION
#define NPY_TARGET_VERSION NPY_1_23_API_VERSION
#define PY_ARRAY_UNIQUE_SYMBOL tracejit_ARRAY_API
#ifndef TRACEJIT_NUMPY_IMPORT
#define NO_IMPORT_ARRAY
#endif
#include <numpy/arrayobject.h>
#include <numpy/arrayscalars.h>

#include <optional>

#include "ir/dtype.h"

namespace tracejit {

// NumPy type number <-> IR dtype; nullopt for dtypes the JIT does not compile (float16,
// complex, object, strings, datetimes, ...).
std::optional<ir::DType> dtype_from_typenum(int typenum);
int typenum_from_dtype(ir::DType d);

}  // namespace tracejit
