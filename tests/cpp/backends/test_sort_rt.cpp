// The `sort` op's row runtime (backends/cpu/sort_rt.cpp) called directly: partitions (mode 2),
// sorts (mode 0) and argsorts (mode 1) of rows long enough for the AVX-512 quickselect /
// quicksort / pair quicksort, against std::sort and std::stable_sort,
// on data that stresses the pivot choice (ties, constant, sorted, reversed, organ pipe, NaNs).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "backends/cpu/sort_rt.h"
#include "ir/dtype.h"

namespace tracejit::backends {
namespace {

using SortRowFn = void (*)(int64_t, int64_t, int64_t, void*, int64_t, void*, const int64_t*, int64_t);
using ScratchFn = void* (*)(int64_t);

struct Runtime {
  SortRowFn sort_row = nullptr;
  ScratchFn scratch = nullptr;
};

Runtime runtime() {
  Runtime r;
  for_each_sort_host_symbol([&](const char* name, void* fn) {
    if (std::string(name) == "tracejit_sort_row") r.sort_row = reinterpret_cast<SortRowFn>(fn);
    if (std::string(name) == "tracejit_sort_scratch") r.scratch = reinterpret_cast<ScratchFn>(fn);
  });
  return r;
}

template <class T>
bool lt(T a, T b) {  // NumPy's order: NaN last
  if constexpr (std::is_floating_point_v<T>) {
    if (std::isnan(b)) return !std::isnan(a);
    if (std::isnan(a)) return false;
  }
  return a < b;
}

template <class T>
bool same(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    if (std::isnan(a) || std::isnan(b)) return std::isnan(a) && std::isnan(b);
  return a == b;
}

template <class T>
std::vector<T> make_row(const std::string& kind, int64_t n, uint32_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<T> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t r = rng();
    double v = 0;
    if (kind == "random") v = static_cast<double>(r % 60001) - 30000.0;
    else if (kind == "ties") v = static_cast<double>(r % 5);
    else if (kind == "sorted") v = static_cast<double>(i);
    else if (kind == "reversed") v = static_cast<double>(n - i);
    else if (kind == "constant") v = 7;
    else if (kind == "organ") v = static_cast<double>(std::min(i, n - 1 - i));
    else if (kind == "nan") v = r % 5 == 0 ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(r % 1000);  // fits every type here
    if constexpr (std::is_floating_point_v<T>) x[static_cast<size_t>(i)] = static_cast<T>(v) / T(8);
    else x[static_cast<size_t>(i)] = static_cast<T>(v < 0 && std::is_unsigned_v<T> ? -v : v);
  }
  return x;
}

template <class T>
void check_rows(ir::DType dt) {
  const Runtime rt = runtime();
  ASSERT_NE(rt.sort_row, nullptr);
  std::vector<std::string> kinds = {"random", "ties", "sorted", "reversed", "constant", "organ"};
  if (std::is_floating_point_v<T>) kinds.push_back("nan");
  for (const std::string& kind : kinds)
    for (int64_t n : {257, 300, 1025, 5003, 100003}) {
      SCOPED_TRACE(kind + " n=" + std::to_string(n));
      const std::vector<T> x = make_row<T>(kind, n, static_cast<uint32_t>(n));
      std::vector<T> want = x;
      std::stable_sort(want.begin(), want.end(), lt<T>);
      // Mode 2: the positions read hold the sorted row's elements, and the row is partitioned
      // around each of them.
      const std::vector<int64_t> ks = {0, n / 3, n / 2, n / 2 + 1, n - 2, n - 1};
      T* s = static_cast<T*>(rt.scratch(n * static_cast<int64_t>(sizeof(T))));
      std::memcpy(s, x.data(), x.size() * sizeof(T));
      std::vector<T> got(x.size());
      rt.sort_row(static_cast<int64_t>(dt), 2, 0, s, n, got.data(), ks.data(), static_cast<int64_t>(ks.size()));
      for (int64_t k : ks) {
        ASSERT_TRUE(same(got[static_cast<size_t>(k)], want[static_cast<size_t>(k)])) << "k=" << k;
        for (int64_t i = 0; i < k; ++i) ASSERT_FALSE(lt(got[static_cast<size_t>(k)], got[static_cast<size_t>(i)])) << i << " before " << k;
        for (int64_t i = k + 1; i < n; ++i) ASSERT_FALSE(lt(got[static_cast<size_t>(i)], got[static_cast<size_t>(k)])) << i << " after " << k;
      }
      std::stable_sort(got.begin(), got.end(), lt<T>);  // a permutation of the row
      for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)])) << i;
      // Mode 0: the sorted row.
      std::memcpy(s, x.data(), x.size() * sizeof(T));
      rt.sort_row(static_cast<int64_t>(dt), 0, 0, s, n, got.data(), nullptr, 0);
      for (int64_t i = 0; i < n; ++i) ASSERT_TRUE(same(got[static_cast<size_t>(i)], want[static_cast<size_t>(i)])) << i;
      // Mode 1: the stable argsort, for kind 2 and (no NumPy here: ties fall back to the stable
      // std::stable_sort) kind 0.
      std::vector<int64_t> order(x.size());
      for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
      std::stable_sort(order.begin(), order.end(), [&](int64_t i, int64_t j) { return lt(x[static_cast<size_t>(i)], x[static_cast<size_t>(j)]); });
      for (int64_t kind : {0, 2}) {
        std::memcpy(s, x.data(), x.size() * sizeof(T));
        std::vector<int64_t> pos(x.size(), -1);
        rt.sort_row(static_cast<int64_t>(dt), 1, kind, s, n, pos.data(), nullptr, 0);
        ASSERT_EQ(pos, order) << "argsort kind " << kind;
      }
    }
}

// A registered sort for the short ranges (the Python module registers NumPy's), so that mode 0
// takes the vectorized quicksort rather than std::sort of the whole row.
template <class T>
int leaf_sort(void* start, int64_t n, void*) {
  std::sort(static_cast<T*>(start), static_cast<T*>(start) + n, lt<T>);
  return 0;
}

template <class T>
void check_with_leaf(ir::DType dt) {
  set_numpy_sort(static_cast<int>(dt), 0, &leaf_sort<T>, nullptr);
  check_rows<T>(dt);
  set_numpy_sort(static_cast<int>(dt), 0, nullptr, nullptr);
}

TEST(SortRuntime, Float64Rows) { check_rows<double>(ir::DType::F64); }
TEST(SortRuntime, Float32Rows) { check_rows<float>(ir::DType::F32); }
TEST(SortRuntime, Int64Rows) { check_rows<int64_t>(ir::DType::I64); }
TEST(SortRuntime, UInt64Rows) { check_rows<uint64_t>(ir::DType::U64); }
TEST(SortRuntime, Int32Rows) { check_rows<int32_t>(ir::DType::I32); }
TEST(SortRuntime, UInt32Rows) { check_rows<uint32_t>(ir::DType::U32); }
TEST(SortRuntime, Int16RowsTakeTheScalarPath) { check_rows<int16_t>(ir::DType::I16); }
TEST(SortRuntime, Float64RowsWithLeafSort) { check_with_leaf<double>(ir::DType::F64); }
TEST(SortRuntime, Float32RowsWithLeafSort) { check_with_leaf<float>(ir::DType::F32); }
TEST(SortRuntime, Int32RowsWithLeafSort) { check_with_leaf<int32_t>(ir::DType::I32); }
TEST(SortRuntime, UInt64RowsWithLeafSort) { check_with_leaf<uint64_t>(ir::DType::U64); }

}  // namespace
}  // namespace tracejit::backends
