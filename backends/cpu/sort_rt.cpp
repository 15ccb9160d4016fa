// The `sort` op's runtime (see ir/ops.def). Values (mode 0) and argsorts (mode 1) use NumPy's
// own sort functions, which the Python module registers at import (set_numpy_sort): the
// results, ties and signed zeros and NaN bits included, are eager NumPy's. Long rows of 32- and
// 64-bit dtypes go to the AVX-512 quicksorts of sort_simd.cpp instead where their result cannot
// differ (NumPy's sort then finishes the short ranges). Without NumPy's functions (the C++
// tests, which load no NumPy) rows are sorted with std::sort / std::stable_sort, NaN last (the
// fallback argsort is always stable). Partitions (mode 2, np.median and np.percentile): the
// AVX-512 quickselect, or NumPy's quicksort for rows up to 1024 elements, else `select`
// (std::nth_element by divide and conquer); the tracer re-runs eagerly the data whose partition
// NumPy's algorithm decides (both signed zeros, a negative NaN).
//
// The comparisons here are quiet (std::isnan first, then <, never on a NaN), and the flags
// NumPy's merge/tim sorts raise on NaNs are put back: a sort never makes the runtime re-run the
// call for a warning eager NumPy does not give.
#include "backends/cpu/sort_rt.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstring>
#include <numeric>
#include <vector>

#include "backends/cpu/sort_select.h"
#include "backends/cpu/sort_simd.h"
#include "ir/dtype.h"

namespace tracejit::backends {
namespace {

thread_local std::vector<unsigned char> t_scratch;

constexpr int kKinds = 3;
constexpr int64_t kSortForPartition = 1024;
NumpySortFn g_sort[ir::kNumDTypes][kKinds] = {};
NumpyArgSortFn g_argsort[ir::kNumDTypes][kKinds] = {};

using sort_detail::less;
using sort_detail::select;

template <class T>
void sort_row(int64_t mode, int64_t kind, void* scratch, int64_t n, void* dst, const int64_t* ks, int64_t nk) {
  T* x = static_cast<T*>(scratch);
  if (mode == 2) {  // a partition: positions ks (ascending) hold the sorted row's elements
    select(x, 0, n, ks, 0, nk);
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  if (mode == 0) {
    if (kind == 2) std::stable_sort(x, x + n, less<T>);
    else std::sort(x, x + n, less<T>);
    std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(T));
    return;
  }
  auto* out = static_cast<int64_t*>(dst);
  std::iota(out, out + n, int64_t{0});
  std::stable_sort(out, out + n, [x](int64_t i, int64_t j) { return less<T>(x[i], x[j]); });
}

// Scratch for one row of `bytes` bytes: this thread's, reused from row to row and call to call.
void* sort_scratch(int64_t bytes) {
  if (t_scratch.size() < static_cast<size_t>(bytes)) t_scratch.resize(static_cast<size_t>(bytes));
  return t_scratch.data();
}

// Sorts the n elements of dtype `dtype` (an ir::DType) in scratch with sort kind `kind` and
// writes the row of the result at dst: the values (mode 0, dst of the same dtype), their int64
// positions (mode 1), or the values partitioned at the nk ascending positions ks (mode 2).
void sort_row_any(int64_t dtype, int64_t mode, int64_t kind, void* scratch, int64_t n, void* dst, const int64_t* ks, int64_t nk) {
  if (n <= 0) return;
  if (dtype >= 0 && dtype < ir::kNumDTypes && kind >= 0 && kind < kKinds) {
    // NumPy's merge and tim sorts compare NaNs with `<`, which raises the invalid flag; eager
    // NumPy never reports it (a sort is not a ufunc), so the flags are put back as they were.
    std::fexcept_t flags;
    std::fegetexceptflag(&flags, FE_ALL_EXCEPT);
    // A partition: NumPy's (SIMD) quicksort of a short row beats std::nth_element (a
    // 512-element float32 row: 8x; from ~2K elements on, nth_element wins); a sorted row is a
    // valid partition.
    // Long rows: the AVX-512 quickselect / quicksort, NumPy's quicksort for the short ranges.
    if (mode != 1 && simd_row(dtype, mode, scratch, n, ks, nk, g_sort[dtype][0])) {
      std::fesetexceptflag(&flags, FE_ALL_EXCEPT);
      std::memcpy(dst, scratch, static_cast<size_t>(n) * static_cast<size_t>(ir::dtype_size(static_cast<ir::DType>(dtype))));
      return;
    }
    // A partition of a short row: NumPy's quicksort (sorting networks) beats std::nth_element
    // (a 512-element float32 row: 8x); a sorted row is a valid partition.
    if (mode == 2 && n <= kSortForPartition && g_sort[dtype][0]) mode = 0, kind = 0;
    if (mode == 0 && g_sort[dtype][kind]) {
      g_sort[dtype][kind](scratch, n, nullptr);
      std::fesetexceptflag(&flags, FE_ALL_EXCEPT);
      std::memcpy(dst, scratch, static_cast<size_t>(n) * static_cast<size_t>(ir::dtype_size(static_cast<ir::DType>(dtype))));
      return;
    }
    if (mode == 1 && simd_argsort(dtype, scratch, n, static_cast<int64_t*>(dst), kind == 2)) {
      std::fesetexceptflag(&flags, FE_ALL_EXCEPT);
      return;
    }
    if (mode == 1 && g_argsort[dtype][kind]) {
      auto* out = static_cast<int64_t*>(dst);
      std::iota(out, out + n, int64_t{0});
      g_argsort[dtype][kind](scratch, out, n, nullptr);
      std::fesetexceptflag(&flags, FE_ALL_EXCEPT);
      return;
    }
  }
  if (mode == 1) kind = 2;  // the fallback argsort is always stable (mode 2: no NumPy function)
  using ir::DType;
  switch (static_cast<DType>(dtype)) {
    case DType::Bool:
    case DType::U8: return sort_row<uint8_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::I8: return sort_row<int8_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::I16: return sort_row<int16_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::U16: return sort_row<uint16_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::I32: return sort_row<int32_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::U32: return sort_row<uint32_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::I64: return sort_row<int64_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::U64: return sort_row<uint64_t>(mode, kind, scratch, n, dst, ks, nk);
    case DType::F32: return sort_row<float>(mode, kind, scratch, n, dst, ks, nk);
    case DType::F64: return sort_row<double>(mode, kind, scratch, n, dst, ks, nk);
    default: return;
  }
}

}  // namespace

void set_numpy_sort(int dtype, int kind, NumpySortFn sort, NumpyArgSortFn argsort) {
  if (dtype < 0 || dtype >= ir::kNumDTypes || kind < 0 || kind >= kKinds) return;
  g_sort[dtype][kind] = sort;
  g_argsort[dtype][kind] = argsort;
}

void for_each_sort_host_symbol(const std::function<void(const char*, void*)>& fn) {
  fn("tracejit_sort_scratch", reinterpret_cast<void*>(&sort_scratch));
  fn("tracejit_sort_row", reinterpret_cast<void*>(&sort_row_any));
}

}  // namespace tracejit::backends
