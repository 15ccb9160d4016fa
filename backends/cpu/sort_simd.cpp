// See sort_simd.h.
#include "backends/cpu/sort_simd.h"

#include <immintrin.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <utility>
#include <vector>

#include "backends/cpu/sort_select.h"
#include "backends/cpu/thread_pool.h"
#include "ir/dtype.h"

namespace tracejit::backends {
namespace {

using sort_detail::select;

// ---- Partitions and sorts (modes 2 and 0) ----------------------------------------------------
//
// Quickselect and quicksort whose partition step is vectorized: each vector of the range is
// split by a compare mask, the elements below the pivot compressed (vpcompress into a register,
// then a store: the memory form is microcoded on Zen 4) to the left end of the range, the rest
// to the right end, in place (the first vector, the last and the odd remainder are held in
// registers so that every store lands in space already read). A pivot is the median of nine
// elements spread over the range; when nothing lies below it (the pivot is the minimum), a
// second pass moves the elements equal to it left, which then are in place. Ranges of up to
// kSimdLeaf elements, and ranges still unresolved after 2 log2(n) levels (a bad pivot streak),
// go to `leaf` (NumPy's quicksort) or, for a partition without one, to `select`. NaNs (float
// rows) are first moved to the end, as NumPy orders them. Sorts start past kSimdMinSortBytes:
// NumPy's sorting networks sort rows up to 2 KiB (512 floats, 256 doubles) faster.
constexpr int64_t kSimdLeaf = 256;
static_assert(kSimdLeaf >= 32, "simd_partition reads two vectors");
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

// A sort of a long row on both cores: one partition on the calling thread, then each side sorted
// by `sort_range` on its own thread (tracejit_parallel_for runs both inline when a kernel already
// holds the pool, as when the rows themselves are split).
constexpr int64_t kParallelSortMin = 1 << 16;

template <class T, class F>
void both_halves(T* x, int64_t n, NumpySortFn leaf, F sort_range) {
  const int depth = depth_limit(n);
  if (n < kParallelSortMin) return sort_range(x, 0, n, depth, leaf);
  const T pivot = pivot_of(x, int64_t{0}, n);
  int64_t lo = 0, m = simd_partition<T, Pred::Lt>(x, 0, n, pivot);
  if (m == 0) {  // the pivot is the minimum: its copies first, in place
    lo = simd_partition<T, Pred::Le>(x, 0, n, pivot);
    return sort_range(x, lo, n, depth - 1, leaf);
  }
  struct Ctx {
    T* x;
    int64_t bounds[3];
    int depth;
    NumpySortFn leaf;
  } ctx{x, {0, m, n}, depth - 1, leaf};
  tracejit_parallel_for(
      [](void* c, int64_t b, int64_t e) {
        auto* k = static_cast<Ctx*>(c);
        for (int64_t i = b; i < e; ++i) F{}(k->x, k->bounds[i], k->bounds[i + 1], k->depth, k->leaf);
      },
      &ctx, 2, 1, n * static_cast<int64_t>(sizeof(T)) * 16);
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
  both_halves(x, n, leaf, [](T* y, int64_t lo, int64_t hi, int depth, NumpySortFn f) { simd_sort(y, lo, hi, depth, f); });
  return true;
}


// ---- Argsorts with AVX-512: (key, position) pairs --------------------------------------------
//
// An argsort is a sort of the pairs (x[i], i) in lexicographic order: the positions of equal
// keys come out ascending, which is exactly the stable argsort (for -0.0 and +0.0 too: equal
// keys). Any other kind's order of ties is its algorithm's, so a row whose sorted keys hold a
// tie is argsorted again by NumPy's function for that kind. The keys are partitioned in a copy
// together with the positions (8 pairs a step: 32-bit keys in 256-bit registers); the short
// ranges by insertion sort.
constexpr int64_t kPairLeaf = 32;
static_assert(kPairLeaf >= 16, "pair_partition reads two vectors of 8 pairs");

// 64-bit keys: the Vec of them (8 lanes), with `<` and `==` (quiet: the keys hold no NaN).
template <class T>
struct Key8 : Vec<T> {
  using R = __m512i;
  static __mmask8 lt(R a, R b) { return Vec<T>::template test<Pred::Lt>(a, b); }
  static __mmask8 eq(R a, R b) {
    if constexpr (std::is_same_v<T, double>)
      return _mm512_cmp_pd_mask(_mm512_castsi512_pd(a), _mm512_castsi512_pd(b), _CMP_EQ_OQ);
    else
      return _mm512_cmpeq_epi64_mask(a, b);
  }
};
// 32-bit keys: 8 of them in a 256-bit register, next to 8 positions.
template <class T>
struct Key8Bits32 {
  using R = __m256i;
  static R load(const T* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
  static R load_n(const T* p, int k) { return _mm256_maskz_loadu_epi32(Vec64<T>::low(k), p); }
  static void store(T* p, R v) { _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v); }
  static void store_n(T* p, R v, int k) { _mm256_mask_storeu_epi32(p, Vec64<T>::low(k), v); }
  static R compress(__mmask8 m, R v) { return _mm256_maskz_compress_epi32(m, v); }
};
template <>
struct Key8<float> : Key8Bits32<float> {
  static R splat(float x) { return _mm256_castps_si256(_mm256_set1_ps(x)); }
  static __mmask8 lt(R a, R b) { return _mm256_cmp_ps_mask(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _CMP_LT_OQ); }
  static __mmask8 eq(R a, R b) { return _mm256_cmp_ps_mask(_mm256_castsi256_ps(a), _mm256_castsi256_ps(b), _CMP_EQ_OQ); }
};
template <>
struct Key8<int32_t> : Key8Bits32<int32_t> {
  static R splat(int32_t x) { return _mm256_set1_epi32(x); }
  static __mmask8 lt(R a, R b) { return _mm256_cmplt_epi32_mask(a, b); }
  static __mmask8 eq(R a, R b) { return _mm256_cmpeq_epi32_mask(a, b); }
};
template <>
struct Key8<uint32_t> : Key8Bits32<uint32_t> {
  static R splat(uint32_t x) { return _mm256_set1_epi32(static_cast<int>(x)); }
  static __mmask8 lt(R a, R b) { return _mm256_cmplt_epu32_mask(a, b); }
  static __mmask8 eq(R a, R b) { return _mm256_cmpeq_epi32_mask(a, b); }
};

template <class T>
bool pair_less(T ka, int64_t ia, T kb, int64_t ib) {  // keys without NaNs
  return ka < kb || (ka == kb && ia < ib);
}

// Moves the pairs of (k, ix)[lo, hi) below (pk, pi) to the front, the rest to the back; returns
// where the rest starts. hi - lo >= 16. As simd_partition.
template <class T>
int64_t pair_partition(T* k, int64_t* ix, int64_t lo, int64_t hi, T pk, int64_t pi, int64_t& equal) {
  using K = Key8<T>;
  constexpr int N = 8;
  const typename K::R p = K::splat(pk);
  const __m512i q = _mm512_set1_epi64(pi);
  const int rem = static_cast<int>((hi - lo) % N);
  const auto low = [](int c) { return static_cast<__mmask8>((1u << c) - 1u); };
  const typename K::R k0 = K::load(k + lo), k1 = K::load_n(k + lo + N, rem), k2 = K::load(k + hi - N);
  const __m512i i0 = _mm512_loadu_si512(ix + lo), i1 = _mm512_maskz_loadu_epi64(low(rem), ix + lo + N),
                i2 = _mm512_loadu_si512(ix + hi - N);
  int64_t l = lo + N + rem, r = hi - N, wl = lo, wr = hi;
  while (l < r) {
    typename K::R vk;
    __m512i vi;
    if (l - wl <= wr - r) {
      vk = K::load(k + l);
      vi = _mm512_loadu_si512(ix + l);
      l += N;
    } else {
      r -= N;
      vk = K::load(k + r);
      vi = _mm512_loadu_si512(ix + r);
    }
    const __mmask8 e = K::eq(vk, p);
    const __mmask8 m = K::lt(vk, p) | (e & _mm512_cmplt_epi64_mask(vi, q));
    const int c = __builtin_popcount(m);
    equal += __builtin_popcount(e);
    K::store(k + wl, K::compress(m, vk));
    _mm512_storeu_si512(ix + wl, _mm512_maskz_compress_epi64(m, vi));
    wl += c;
    const __mmask8 nm = static_cast<__mmask8>(~m);
    K::store_n(k + wr - (N - c), K::compress(nm, vk), N - c);
    _mm512_mask_storeu_epi64(ix + wr - (N - c), low(N - c), _mm512_maskz_compress_epi64(nm, vi));
    wr -= N - c;
  }
  auto place = [&](typename K::R vk, __m512i vi, int count) __attribute__((always_inline)) {
    const __mmask8 valid = low(count);
    const __mmask8 e = static_cast<__mmask8>(K::eq(vk, p) & valid);
    const __mmask8 m = static_cast<__mmask8>((K::lt(vk, p) | (e & _mm512_cmplt_epi64_mask(vi, q))) & valid);
    const int c = __builtin_popcount(m);
    equal += __builtin_popcount(e);
    K::store_n(k + wl, K::compress(m, vk), c);
    _mm512_mask_storeu_epi64(ix + wl, low(c), _mm512_maskz_compress_epi64(m, vi));
    wl += c;
    const __mmask8 nm = static_cast<__mmask8>(valid & ~m);
    K::store_n(k + wr - (count - c), K::compress(nm, vk), count - c);
    _mm512_mask_storeu_epi64(ix + wr - (count - c), low(count - c), _mm512_maskz_compress_epi64(nm, vi));
    wr -= count - c;
  };
  place(k0, i0, N);
  place(k1, i1, rem);
  place(k2, i2, N);
  return wl;
}

// Where the pivot pair is: the median of three medians of three pairs spread over the range.
template <class T>
int64_t pair_pivot(const T* k, const int64_t* ix, int64_t lo, int64_t hi) {
  const int64_t s = (hi - lo) / 9;
  int64_t c[3];
  for (int g = 0; g < 3; ++g) {
    int64_t a = lo + s / 2 + 3 * g * s, b = a + s, d = a + 2 * s;
    if (pair_less(k[b], ix[b], k[a], ix[a])) std::swap(a, b);
    if (pair_less(k[d], ix[d], k[b], ix[b])) b = pair_less(k[d], ix[d], k[a], ix[a]) ? a : d;
    c[g] = b;
  }
  if (pair_less(k[c[1]], ix[c[1]], k[c[0]], ix[c[0]])) std::swap(c[0], c[1]);
  if (pair_less(k[c[2]], ix[c[2]], k[c[1]], ix[c[1]])) c[1] = pair_less(k[c[2]], ix[c[2]], k[c[0]], ix[c[0]]) ? c[0] : c[2];
  return c[1];
}

// Sorts the pairs of (k, ix)[lo, hi); with `ties` non-null, stops as soon as two keys are found
// equal (*ties set): two equal keys either meet as a pivot's key in a partition or end in the
// same short range, adjacent.
template <class T>
void pair_sort(T* k, int64_t* ix, int64_t lo, int64_t hi, int depth, std::atomic<bool>* ties) {
  while (hi - lo > kPairLeaf) {
    if (ties && ties->load(std::memory_order_relaxed)) return;
    if (depth-- == 0) {  // a bad pivot streak: std::sort of the pairs
      std::vector<std::pair<T, int64_t>> pr(static_cast<size_t>(hi - lo));
      for (int64_t j = lo; j < hi; ++j) pr[static_cast<size_t>(j - lo)] = {k[j], ix[j]};
      std::sort(pr.begin(), pr.end(), [](const auto& a, const auto& b) { return pair_less(a.first, a.second, b.first, b.second); });
      for (int64_t j = lo; j < hi; ++j) k[j] = pr[static_cast<size_t>(j - lo)].first, ix[j] = pr[static_cast<size_t>(j - lo)].second;
      if (ties)
        for (int64_t j = lo + 1; j < hi; ++j)
          if (k[j] == k[j - 1]) ties->store(true, std::memory_order_relaxed);
      return;
    }
    const int64_t c = pair_pivot(k, ix, lo, hi);
    const T pk = k[c];
    const int64_t pi = ix[c];
    int64_t equal = 0;
    int64_t m = pair_partition(k, ix, lo, hi, pk, pi, equal);
    if (ties && equal > 1) {
      ties->store(true, std::memory_order_relaxed);
      return;
    }
    if (m == lo) m = pair_partition(k, ix, lo, hi, pk, pi + 1, equal);  // the pivot is the least pair: it alone goes first
    if (m - lo < hi - m) {
      pair_sort(k, ix, lo, m, depth, ties);
      lo = m;
    } else {
      pair_sort(k, ix, m, hi, depth, ties);
      hi = m;
    }
  }
  if (ties && ties->load(std::memory_order_relaxed)) return;
  for (int64_t j = lo + 1; j < hi; ++j) {  // insertion sort
    const T kj = k[j];
    const int64_t ij = ix[j];
    int64_t t = j;
    for (; t > lo && pair_less(kj, ij, k[t - 1], ix[t - 1]); --t) k[t] = k[t - 1], ix[t] = ix[t - 1];
    k[t] = kj, ix[t] = ij;
  }
  if (ties)
    for (int64_t j = lo + 1; j < hi; ++j)
      if (k[j] == k[j - 1]) ties->store(true, std::memory_order_relaxed);
}

// pair_sort of a long row on both cores, as both_halves.
template <class T>
void pair_sort_top(T* k, int64_t* ix, int64_t n, std::atomic<bool>* ties) {
  const int depth = depth_limit(n);
  if (n < kParallelSortMin) return pair_sort(k, ix, 0, n, depth, ties);
  const int64_t c = pair_pivot(k, ix, 0, n);
  int64_t equal = 0;
  const T pk = k[c];
  const int64_t pi = ix[c];
  int64_t m = pair_partition(k, ix, 0, n, pk, pi, equal);
  if (ties && equal > 1) return ties->store(true, std::memory_order_relaxed);
  if (m == 0) m = pair_partition(k, ix, 0, n, pk, pi + 1, equal);
  struct Ctx {
    T* k;
    int64_t* ix;
    int64_t bounds[3];
    int depth;
    std::atomic<bool>* ties;
  } ctx{k, ix, {0, m, n}, depth - 1, ties};
  tracejit_parallel_for(
      [](void* p, int64_t b, int64_t e) {
        auto* q = static_cast<Ctx*>(p);
        for (int64_t i = b; i < e; ++i) pair_sort(q->k, q->ix, q->bounds[i], q->bounds[i + 1], q->depth, q->ties);
      },
      &ctx, 2, 1, n * static_cast<int64_t>(sizeof(T) + 8) * 16);
}

thread_local std::vector<unsigned char> t_keys;

// The argsort of the row x into out: false, out untouched, when the row holds a NaN, or a tie
// and `stable` is false (the order of ties is then the algorithm's).
template <class T>
bool simd_argsort_row(const T* x, int64_t n, int64_t* out, bool stable) {
  if constexpr (std::is_floating_point_v<T>) {
    bool nan = false;
    for (int64_t j = 0; j < n; ++j) nan |= x[j] != x[j];
    if (nan) return false;
  }
  if (!stable) {  // 256 keys spread over the row: two equal ones mean ties, before any work
    constexpr int64_t kSample = 256;
    T sample[kSample];
    for (int64_t j = 0; j < kSample; ++j) sample[j] = x[j * (n / kSample)];
    std::sort(sample, sample + kSample);
    for (int64_t j = 1; j < kSample; ++j)
      if (sample[j] == sample[j - 1]) return false;
  }
  if (t_keys.size() < static_cast<size_t>(n) * sizeof(T)) t_keys.resize(static_cast<size_t>(n) * sizeof(T));
  T* k = reinterpret_cast<T*>(t_keys.data());
  std::memcpy(k, x, static_cast<size_t>(n) * sizeof(T));
  int64_t* pos = out;
  for (int64_t j = 0; j < n; ++j) pos[j] = j;
  std::atomic<bool> ties{false};
  pair_sort_top(k, pos, n, stable ? nullptr : &ties);
  if (ties.load()) return false;
  return true;
}

#pragma GCC pop_options

}  // namespace
// The AVX-512 partition (mode 2) or sort (mode 0) of a row of the dtypes it handles, `leaf`
// sorting the short ranges; false when this CPU, dtype or row has none (see simd_sort_row).
template <class T>
bool row_of(int64_t mode, T* x, int64_t n, const int64_t* ks, int64_t nk, NumpySortFn leaf) {
  if (mode == 2) {
    simd_select_row(x, n, ks, nk, leaf);
    return true;
  }
  return leaf && simd_sort_row(x, n, leaf);
}

bool simd_row(int64_t dtype, int64_t mode, void* x, int64_t n, const int64_t* ks, int64_t nk, NumpySortFn leaf) {
  if (!cpu_has_avx512() || n <= kSimdLeaf) return false;
  // NumPy's sorting networks sort up to 2 KiB (512 floats, 256 doubles) faster than partitions.
  if (mode == 0 && n * ir::dtype_size(static_cast<ir::DType>(dtype)) <= kSimdMinSortBytes) return false;
  using ir::DType;
  switch (static_cast<DType>(dtype)) {
    case DType::F64: return row_of(mode, static_cast<double*>(x), n, ks, nk, leaf);
    case DType::F32: return row_of(mode, static_cast<float*>(x), n, ks, nk, leaf);
    case DType::I64: return row_of(mode, static_cast<int64_t*>(x), n, ks, nk, leaf);
    case DType::U64: return row_of(mode, static_cast<uint64_t*>(x), n, ks, nk, leaf);
    case DType::I32: return row_of(mode, static_cast<int32_t*>(x), n, ks, nk, leaf);
    case DType::U32: return row_of(mode, static_cast<uint32_t*>(x), n, ks, nk, leaf);
    default: return false;
  }
}

bool simd_argsort(int64_t dtype, const void* x, int64_t n, int64_t* out, bool stable) {
  if (!cpu_has_avx512() || n * ir::dtype_size(static_cast<ir::DType>(dtype)) <= kSimdMinSortBytes) return false;
  using ir::DType;
  switch (static_cast<DType>(dtype)) {
    case DType::F64: return simd_argsort_row(static_cast<const double*>(x), n, out, stable);
    case DType::F32: return simd_argsort_row(static_cast<const float*>(x), n, out, stable);
    case DType::I64: return simd_argsort_row(static_cast<const int64_t*>(x), n, out, stable);
    case DType::U64: return simd_argsort_row(static_cast<const uint64_t*>(x), n, out, stable);
    case DType::I32: return simd_argsort_row(static_cast<const int32_t*>(x), n, out, stable);
    case DType::U32: return simd_argsort_row(static_cast<const uint32_t*>(x), n, out, stable);
    default: return false;
  }
}

}  // namespace tracejit::backends
