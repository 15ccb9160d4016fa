// The `sort` op's runtime (see ir/ops.def). Values (mode 0) and argsorts (mode 1) use NumPy's
// own sort functions, which the Python module registers at import (set_numpy_sort): the
// results, ties and signed zeros and NaN bits included, are eager NumPy's. Without them (the C++
// tests, which load no NumPy) rows are sorted with std::sort / std::stable_sort, NaN last
// (the fallback argsort is always stable). Partitions (mode 2, np.median and np.percentile):
// NumPy's quicksort for rows up to 1024 elements, else `select` (std::nth_element by divide and
// conquer); the tracer re-runs eagerly the data whose partition NumPy's algorithm decides
// (both signed zeros, a negative NaN).
//
// The comparisons here are quiet (std::isnan first, then <, never on a NaN), and the flags
// NumPy's merge/tim sorts raise on NaNs are put back: a sort never makes the runtime re-run the
// call for a warning eager NumPy does not give.
#include "backends/cpu/sort_rt.h"

#include <algorithm>
#include <cfenv>
#include <cmath>
#include <cstring>
#include <immintrin.h>
#include <numeric>
#include <vector>

#include "ir/dtype.h"

namespace tracejit::backends {
namespace {

thread_local std::vector<unsigned char> t_scratch;

constexpr int kKinds = 3;
constexpr int64_t kSortForPartition = 1024;
NumpySortFn g_sort[ir::kNumDTypes][kKinds] = {};
NumpyArgSortFn g_argsort[ir::kNumDTypes][kKinds] = {};

template <class T>
bool less(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(b)) return !std::isnan(a);
    if (std::isnan(a)) return false;
  }
  return a < b;
}

// Places the order statistics ks[a..b) (ascending, within [lo, hi)) of x[lo, hi): the middle one
// by nth_element, then each side within its own subrange (O(n log #ks), not a pass over the
// rest of the row per position); a position at either end of its subrange is a min/max scan.
template <class T>
void select(T* x, int64_t lo, int64_t hi, const int64_t* ks, int64_t a, int64_t b) {
  while (a < b && ks[a] < lo) ++a;
  while (a < b && ks[b - 1] >= hi) --b;
  if (a >= b || hi - lo < 2) return;
  const int64_t m = a + (b - a) / 2, k = ks[m];
  if (k == lo) {
    std::iter_swap(x + lo, std::min_element(x + lo, x + hi, less<T>));
  } else if (k == hi - 1) {
    std::iter_swap(x + hi - 1, std::max_element(x + lo, x + hi, less<T>));
  } else {
    std::nth_element(x + lo, x + k, x + hi, less<T>);
  }
  select(x, lo, k, ks, a, m);
  select(x, k + 1, hi, ks, m + 1, b);
}

// ---- Partitions and sorts with AVX-512 (rows longer than kSimdLeaf) --------------------------
//
// Quickselect whose partition step is vectorized: each vector of the range is split by a
// compare mask, the elements below the pivot compressed to the left end of the range, the rest
// to the right end, in place (the first vector, the last and the odd remainder are held in
// registers so that every store lands in space already read). A pivot is the median of nine
// elements spread over the range; when nothing lies below it (the pivot is the minimum), a
// second pass moves the elements equal to it left, which then are in place. Ranges of up to
// kSimdLeaf elements, and ranges still unresolved after 2 log2(n) levels (a bad pivot streak),
// go to `select`. NaNs (float rows) are first moved to the end, as NumPy orders them.
// Built for AVX-512 F/DQ/BW/VL with target pragmas and only called when the CPU has them.
constexpr int64_t kSimdLeaf = 256;
constexpr int64_t kSimdMinSortBytes = 2048;

bool cpu_has_avx512() {
  static const bool has = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                          __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return has;
}

#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,popcnt")

enum class Pred { Lt, Le, Ordered };

// The lanes of one 512-bit vector of T, kept as integer bits (loads, stores and compression are
// the same for every type of that width; only the comparisons differ).
template <class T>
struct Vec;

template <class T>
struct Vec64 {
  static constexpr int kN = 8;
  using Mask = __mmask8;
  static Mask low(int k) { return static_cast<Mask>((1u << k) - 1u); }
  static __m512i load(const T* p) { return _mm512_loadu_si512(p); }
  static __m512i load_n(const T* p, int k) { return _mm512_maskz_loadu_epi64(low(k), p); }
  static void store(T* p, __m512i v) { _mm512_storeu_si512(p, v); }
  static void store_n(T* p, __m512i v, int k) { _mm512_mask_storeu_epi64(p, low(k), v); }
  static __m512i compress(Mask m, __m512i v) { return _mm512_maskz_compress_epi64(m, v); }
};

template <class T>
struct Vec32 {
  static constexpr int kN = 16;
  using Mask = __mmask16;
  static Mask low(int k) { return static_cast<Mask>((1u << k) - 1u); }
  static __m512i load(const T* p) { return _mm512_loadu_si512(p); }
  static __m512i load_n(const T* p, int k) { return _mm512_maskz_loadu_epi32(low(k), p); }
  static void store(T* p, __m512i v) { _mm512_storeu_si512(p, v); }
  static void store_n(T* p, __m512i v, int k) { _mm512_mask_storeu_epi32(p, low(k), v); }
  static __m512i compress(Mask m, __m512i v) { return _mm512_maskz_compress_epi32(m, v); }
};

template <>
struct Vec<double> : Vec64<double> {
  static __m512i splat(double x) { return _mm512_castpd_si512(_mm512_set1_pd(x)); }
  static Mask sign(__m512i v) { return _mm512_movepi64_mask(v); }
  template <Pred P>
  static Mask test(__m512i v, __m512i p) {
    const __m512d a = _mm512_castsi512_pd(v), b = _mm512_castsi512_pd(p);
    if constexpr (P == Pred::Lt) return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ);
    else if constexpr (P == Pred::Le) return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ);
    else return _mm512_cmp_pd_mask(a, a, _CMP_ORD_Q);
  }
};
template <>
struct Vec<float> : Vec32<float> {
  static __m512i splat(float x) { return _mm512_castps_si512(_mm512_set1_ps(x)); }
  static Mask sign(__m512i v) { return _mm512_movepi32_mask(v); }
  template <Pred P>
  static Mask test(__m512i v, __m512i p) {
    const __m512 a = _mm512_castsi512_ps(v), b = _mm512_castsi512_ps(p);
    if constexpr (P == Pred::Lt) return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
    else if constexpr (P == Pred::Le) return _mm512_cmp_ps_mask(a, b, _CMP_LE_OQ);
    else return _mm512_cmp_ps_mask(a, a, _CMP_ORD_Q);
  }
};
template <>
struct Vec<int64_t> : Vec64<int64_t> {
  static __m512i splat(int64_t x) { return _mm512_set1_epi64(x); }
  template <Pred P>
  static Mask test(__m512i v, __m512i p) {
    if constexpr (P == Pred::Lt) return _mm512_cmplt_epi64_mask(v, p);
    else return _mm512_cmple_epi64_mask(v, p);
  }
};
template <>
struct Vec<uint64_t> : Vec64<uint64_t> {
  static __m512i splat(uint64_t x) { return _mm512_set1_epi64(static_cast<long long>(x)); }
  template <Pred P>
  static Mask test(__m512i v, __m512i p) {
    if constexpr (P == Pred::Lt) return _mm512_cmplt_epu64_mask(v, p);
    else return _mm512_cmple_epu64_mask(v, p);
  }
};
template <>
struct Vec<int32_t> : Vec32<int32_t> {
  static __m512i splat(int32_t x) { return _mm512_set1_epi32(x); }
  template <Pred P>
  static Mask test(__m512i v, __m512i p) {
    if constexpr (P == Pred::Lt) return _mm512_cmplt_epi32_mask(v, p);
    else return _mm512_cmple_epi32_mask(v, p);
  }
};
template <>
struct Vec<uint32_t> : Vec32<uint32_t> {
  static __m512i splat(uint32_t x) { return _mm512_set1_epi32(static_cast<int>(x)); }
  template <Pred P>
  static Mask test(__m512i v, __m512i p) {
    if constexpr (P == Pred::Lt) return _mm512_cmplt_epu32_mask(v, p);
    else return _mm512_cmple_epu32_mask(v, p);
  }
};

// Moves the elements of x[lo, hi) that satisfy P against `pivot` to its front, the others to its
// back; returns where the second group starts. hi - lo >= 2 vectors.
template <class T, Pred P>
int64_t simd_partition(T* x, int64_t lo, int64_t hi, T pivot) {
  using V = Vec<T>;
  constexpr int N = V::kN;
  const __m512i p = V::splat(pivot);
  const int rem = static_cast<int>((hi - lo) % N);
  const __m512i first = V::load(x + lo), rest = V::load_n(x + lo + N, rem), last = V::load(x + hi - N);
  int64_t l = lo + N + rem, r = hi - N, wl = lo, wr = hi;
  // [wl, l) and [r, wr) are free: their elements are in registers or already placed. Reading
  // from the side with less free space leaves at least a vector free on both sides.
  while (l < r) {
    __m512i v;
    if (l - wl <= wr - r) {
      v = V::load(x + l);
      l += N;
    } else {
      r -= N;
      v = V::load(x + r);
    }
    const auto m = V::template test<P>(v, p);
    const int k = __builtin_popcount(m);
    V::store(x + wl, V::compress(m, v));
    wl += k;
    V::store_n(x + wr - (N - k), V::compress(static_cast<typename V::Mask>(~m), v), N - k);
    wr -= N - k;
  }
  // The held vectors fill the free space exactly: masked stores.
  auto place = [&](__m512i v, int count) __attribute__((always_inline)) {
    const auto valid = V::low(count);
    const auto m = static_cast<typename V::Mask>(V::template test<P>(v, p) & valid);
    const int k = __builtin_popcount(m);
    V::store_n(x + wl, V::compress(m, v), k);
    wl += k;
    V::store_n(x + wr - (count - k), V::compress(static_cast<typename V::Mask>(valid & ~m), v), count - k);
    wr -= count - k;
  };
  place(first, N);
  place(rest, rem);
  place(last, N);
  return wl;
}

template <class T>
T median_of_3(T a, T b, T c) {
  if (b < a) std::swap(a, b);
  if (c < b) b = c < a ? a : c;
  return b;
}

template <class T>
T pivot_of(const T* x, int64_t lo, int64_t hi) {  // the median of nine spread over the range
  const int64_t s = (hi - lo) / 9;
  T m3[3];
  for (int g = 0; g < 3; ++g) {
    const T* q = x + lo + s / 2 + 3 * g * s;
    m3[g] = median_of_3(q[0], q[s], q[2 * s]);
  }
  return median_of_3(m3[0], m3[1], m3[2]);
}

// Partitions x[lo, hi) (no NaNs) at the positions ks[a, b); ranges of up to kSimdLeaf elements
// are sorted with `leaf` (NumPy's quicksort) or, without one, partitioned by `select`.
template <class T>
void simd_select(T* x, int64_t lo, int64_t hi, const int64_t* ks, int64_t a, int64_t b, int depth, NumpySortFn leaf) {
  while (a < b && ks[a] < lo) ++a;
  while (a < b && ks[b - 1] >= hi) --b;
  if (a >= b) return;
  if (hi - lo <= kSimdLeaf || depth == 0) {
    if (leaf) leaf(x + lo, hi - lo, nullptr);
    else select(x, lo, hi, ks, a, b);
    return;
  }
  const T pivot = pivot_of(x, lo, hi);
  const int64_t m = simd_partition<T, Pred::Lt>(x, lo, hi, pivot);
  if (m == lo) {  // the pivot is the minimum: its copies go first and are in place
    simd_select(x, simd_partition<T, Pred::Le>(x, lo, hi, pivot), hi, ks, a, b, depth - 1, leaf);
    return;
  }
  simd_select(x, lo, m, ks, a, b, depth - 1, leaf);
  simd_select(x, m, hi, ks, a, b, depth - 1, leaf);
}

// Sorts x[lo, hi) (no NaNs): quicksort over simd_partition down to ranges of kSimdLeaf elements,
// which `leaf` (NumPy's quicksort: sorting networks in registers) sorts, as it does ranges
// still unsorted after the depth limit.
template <class T>
void simd_sort(T* x, int64_t lo, int64_t hi, int depth, NumpySortFn leaf) {
  while (hi - lo > kSimdLeaf && depth > 0) {
    const T pivot = pivot_of(x, lo, hi);
    int64_t m = simd_partition<T, Pred::Lt>(x, lo, hi, pivot);
    --depth;
    if (m == lo) {  // the pivot is the minimum: its copies go first and are in place
      lo = simd_partition<T, Pred::Le>(x, lo, hi, pivot);
      continue;
    }
    // The smaller side first, by recursion; the larger by the loop.
    if (m - lo < hi - m) {
      simd_sort(x, lo, m, depth, leaf);
      lo = m;
    } else {
      simd_sort(x, m, hi, depth, leaf);
      hi = m;
    }
  }
  if (hi - lo > 1) leaf(x + lo, hi - lo, nullptr);
}

int depth_limit(int64_t n) {
  int depth = 0;
  for (int64_t k = n; k > 1; k >>= 1) depth += 2;
  return depth;
}

template <class T>
void simd_select_row(T* x, int64_t n, const int64_t* ks, int64_t nk, NumpySortFn leaf) {
  if constexpr (std::is_floating_point_v<T>) {
    using V = Vec<T>;
    constexpr int N = V::kN;
    bool nan = false;
    int64_t i = 0;
    for (; i + N <= n && !nan; i += N) {
      const __m512i v = V::load(x + i);
      nan = static_cast<typename V::Mask>(~V::template test<Pred::Ordered>(v, v)) != 0;
    }
    for (; i < n && !nan; ++i) nan = std::isnan(x[i]);
    if (nan) n = simd_partition<T, Pred::Ordered>(x, 0, n, T(0));  // NaNs last, in place
  }
  simd_select(x, 0, n, ks, 0, nk, depth_limit(n), leaf);
}

// Sorts the row when the result cannot depend on the algorithm: integers, or floats without
// NaNs (their order among themselves is the algorithm's) and without both -0.0 and +0.0 (equal,
// and so in the algorithm's order). False, untouched, otherwise.
template <class T>
bool simd_sort_row(T* x, int64_t n, NumpySortFn leaf) {
  if constexpr (std::is_floating_point_v<T>) {
    using V = Vec<T>;
    constexpr int N = V::kN;
    const __m512i zero = V::splat(T(0));
    typename V::Mask nan = 0, neg_zero = 0, pos_zero = 0;
    int64_t i = 0;
    for (; i + N <= n; i += N) {
      const __m512i v = V::load(x + i);
      nan |= static_cast<typename V::Mask>(~V::template test<Pred::Ordered>(v, v));
      const auto z = V::template test<Pred::Le>(v, zero) & ~V::template test<Pred::Lt>(v, zero);  // == 0
      const auto neg = V::sign(v);
      neg_zero |= z & neg;
      pos_zero |= z & static_cast<typename V::Mask>(~neg);
    }
    bool bad = nan || (neg_zero && pos_zero);
    bool nz = neg_zero, pz = pos_zero;
    for (; i < n; ++i) {
      bad = bad || std::isnan(x[i]);
      if (x[i] == T(0)) (std::signbit(x[i]) ? nz : pz) = true;
    }
    if (bad || (nz && pz)) return false;
  }
  simd_sort(x, 0, n, depth_limit(n), leaf);
  return true;
}

#pragma GCC pop_options

// The AVX-512 partition (mode 2) or sort (mode 0) of a row of the dtypes it handles, `leaf`
// sorting the short ranges; false when this CPU, dtype or row has none (see simd_sort_row).
template <class T>
bool simd_row(int64_t mode, T* x, int64_t n, const int64_t* ks, int64_t nk, NumpySortFn leaf) {
  if (mode == 2) {
    simd_select_row(x, n, ks, nk, leaf);
    return true;
  }
  return leaf && simd_sort_row(x, n, leaf);
}

bool simd_row_any(int64_t dtype, int64_t mode, void* x, int64_t n, const int64_t* ks, int64_t nk, NumpySortFn leaf) {
  if (!cpu_has_avx512() || n <= kSimdLeaf) return false;
  // NumPy's sorting networks sort up to 2 KiB (512 floats, 256 doubles) faster than partitions.
  if (mode == 0 && n * ir::dtype_size(static_cast<ir::DType>(dtype)) <= kSimdMinSortBytes) return false;
  using ir::DType;
  switch (static_cast<DType>(dtype)) {
    case DType::F64: return simd_row(mode, static_cast<double*>(x), n, ks, nk, leaf);
    case DType::F32: return simd_row(mode, static_cast<float*>(x), n, ks, nk, leaf);
    case DType::I64: return simd_row(mode, static_cast<int64_t*>(x), n, ks, nk, leaf);
    case DType::U64: return simd_row(mode, static_cast<uint64_t*>(x), n, ks, nk, leaf);
    case DType::I32: return simd_row(mode, static_cast<int32_t*>(x), n, ks, nk, leaf);
    case DType::U32: return simd_row(mode, static_cast<uint32_t*>(x), n, ks, nk, leaf);
    default: return false;
  }
}

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
    if (mode != 1 && simd_row_any(dtype, mode, scratch, n, ks, nk, g_sort[dtype][0])) {
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
