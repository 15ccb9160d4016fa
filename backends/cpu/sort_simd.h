// The sort runtime's AVX-512 part (sort_simd.cpp): quickselect (mode 2), quicksort (mode 0) and
// an argsort by quicksort of (key, position) pairs, for rows of 32- and 64-bit dtypes, built with
// target pragmas and used only where the CPU has AVX-512 F/DQ/BW/VL. Short ranges are left to
// `leaf` (NumPy's quicksort, whose sorting networks are fast; may be null for partitions).
#pragma once

#include <cstdint>

#include "backends/cpu/sort_rt.h"

namespace tracejit::backends {

// Mode 2: partitions x[0, n) at the ascending positions ks (NaNs last); mode 0: sorts it, only
// when the sorted bits cannot depend on the algorithm (integers; floats without NaNs and without
// both signs of zero). False, x untouched, where this CPU, dtype, row or mode has none.
bool simd_row(int64_t dtype, int64_t mode, void* x, int64_t n, const int64_t* ks, int64_t nk, NumpySortFn leaf);

// The argsort of x[0, n) into out, ties in position order (the stable argsort). False, x
// untouched, where this CPU or dtype has none, for a row with a NaN, or (not `stable`) a row
// with two equal keys, whose order another kind's algorithm decides.
bool simd_argsort(int64_t dtype, const void* x, int64_t n, int64_t* out, bool stable);

}  // namespace tracejit::backends
