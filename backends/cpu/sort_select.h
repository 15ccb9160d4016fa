// The scalar order and partition the sort runtime (sort_rt.cpp) and its AVX-512 part
// (sort_simd.cpp) share: NumPy's order (NaN last, compared quietly) and `select`.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>

namespace tracejit::backends::sort_detail {

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

}  // namespace tracejit::backends::sort_detail
