// Row sorts the lowered code calls for the `sort` op (ir/ops.def): the nest writes one row of
// the operand into a thread-local scratch, then tracejit_sort_row sorts it and writes the row of
// the result. See sort_rt.cpp.
#pragma once

#include <cstdint>
#include <functional>

namespace tracejit::backends {

// NumPy's own sort functions for dtype `dtype` (an ir::DType) and kind 0 quicksort, 1 heapsort,
// 2 stable (NPY_SORTKIND): the ArrFuncs entries np.sort / np.argsort call on each row, so a
// compiled sort orders ties, -0.0 and +0.0 and NaNs exactly as eager NumPy does on this machine.
// Set by the Python module at import (python/module.cpp); without them (C++ tests) the rows are
// sorted with std::sort / std::stable_sort, NaN last.
using NumpySortFn = int (*)(void* start, int64_t n, void* arr);
using NumpyArgSortFn = int (*)(void* values, int64_t* positions, int64_t n, void* arr);
void set_numpy_sort(int dtype, int kind, NumpySortFn sort, NumpyArgSortFn argsort);

// The host symbols (tracejit_sort_scratch, tracejit_sort_row) for the JIT's symbol table.
void for_each_sort_host_symbol(const std::function<void(const char*, void*)>& fn);

}  // namespace tracejit::backends
