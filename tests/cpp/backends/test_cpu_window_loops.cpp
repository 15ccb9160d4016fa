// Loop bodies with windows of runtime extent (dyn_window, symbolic dyn_update): each window
// update runs as a vectorized loop nest inside the native loop function. Checked bit for bit
// against plain C++ doing the same operations in the same order; what the nest cannot prove
// safe is refused with a reason (and the program path refuses runtime extents too).
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <random>
#include <string>

#include "backend_test_util.h"
#include "backends/cpu/program.h"
#include "ir/parser.h"
#include "ir/verifier.h"

namespace tracejit::backends::testing {
namespace {

// The body the tracer records for
//   for k in range(n - 1):
//       A[k + 1:, k] /= A[k, k]
//       A[k + 1:, k + 1:] -= np.outer(A[k + 1:, k], A[k, k + 1:])
// (s1000 = n - 1 - k).
const char* kLu = R"(
func @lu(%0) {
  %0 = param 0 contiguous : $DT[$N,$N]
  %1 = loop %0 {ints = [$T, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : $DT[$N,$N]
      %2 = const 1 : i64[]
      %3 = add %0, %2 : i64[]
      %4 = const -1 : i64[]
      %5 = mul %0, %4 : i64[]
      %6 = const $T : i64[]
      %7 = add %5, %6 : i64[]
      %8 = dyn_window %1, %3, %0, %7, %2 {ints = [1, 1], fval = 0.0} : $DT[s1000,1]
      %9 = reshape %8 : $DT[s1000]
      %10 = dyn_slice %1, %0, %0 {ints = [1, 1], fval = 0.0} : $DT[1,1]
      %11 = reshape %10 : $DT[]
      %12 = div %9, %11 : $DT[s1000]
      %13 = reshape %12 : $DT[s1000,1]
      %14 = dyn_update %1, %13, %3, %0, %7, %2 {ints = [1, 1], fval = 0.0} : $DT[$N,$N]
      %15 = dyn_window %14, %3, %3, %7, %7 {ints = [1, 1], fval = 0.0} : $DT[s1000,s1000]
      %16 = dyn_window %14, %3, %0, %7, %2 {ints = [1, 1], fval = 0.0} : $DT[s1000,1]
      %17 = dyn_window %14, %0, %3, %2, %7 {ints = [1, 1], fval = 0.0} : $DT[1,s1000]
      %18 = mul %16, %17 : $DT[s1000,s1000]
      %19 = sub %15, %18 : $DT[s1000,s1000]
      %20 = dyn_update %14, %19, %3, %3, %7, %7 {ints = [1, 1], fval = 0.0} : $DT[$N,$N]
      return %20
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : $DT[$N,$N]
  return %2
}
)";

template <class T>
void check_lu(DType d, const std::string& dt, int64_t n) {
  SCOPED_TRACE(fmt::format("{} n={}", dt, n));
  ir::Graph g = parse_ok(subst(kLu, {{"$DT", dt}, {"$N", std::to_string(n)}, {"$T", std::to_string(n - 1)}}));
  auto k = compile_cpu(g, loop_options(true));
  ASSERT_TRUE(k.ok()) << k.message();
  const ProgramInfo* info = program_info(**k);
  ASSERT_TRUE(info);
  EXPECT_EQ(info->native_loops, 1);
  std::mt19937 rng(static_cast<unsigned>(n));
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<T> a(static_cast<size_t>(n * n));
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j)
      a[static_cast<size_t>(i * n + j)] = static_cast<T>(u(rng) + (i == j ? static_cast<double>(n) : 0.0));
  Buffer in = make_buffer(d, {n, n});
  for (size_t q = 0; q < a.size(); ++q) in.set<T>(static_cast<int64_t>(q), a[q]);
  std::vector<Buffer> ins = {in};
  std::vector<Buffer> out = run_kernel(g, **k, ins);
  // The reference: NumPy's order of operations (the column divided first, then the product
  // rounded before the subtraction).
  std::vector<T> want = a;
  auto at = [&](int64_t i, int64_t j) -> T& { return want[static_cast<size_t>(i * n + j)]; };
  for (int64_t kk = 0; kk + 1 < n; ++kk) {
    for (int64_t i = kk + 1; i < n; ++i) at(i, kk) = at(i, kk) / at(kk, kk);
    for (int64_t i = kk + 1; i < n; ++i)
      for (int64_t j = kk + 1; j < n; ++j) {
        T p = at(i, kk) * at(kk, j);
        at(i, j) = at(i, j) - p;
      }
  }
  for (size_t q = 0; q < want.size(); ++q) ASSERT_EQ(out[0].get<T>(static_cast<int64_t>(q)), want[q]) << "element " << q;
  for (size_t q = 0; q < a.size(); ++q) ASSERT_EQ(ins[0].get<T>(static_cast<int64_t>(q)), a[q]);  // input untouched
}

TEST(CpuWindowLoops, LuMatchesReference) {
  for (int64_t n : {2, 3, 9, 33, 64, 101}) {
    check_lu<double>(DType::F64, "f64", n);
    check_lu<float>(DType::F32, "f32", n);
  }
}

TEST(CpuWindowLoops, ProgramPathRefusesRuntimeExtents) {
  ir::Graph g = parse_ok(subst(kLu, {{"$DT", "f64"}, {"$N", "12"}, {"$T", "11"}}));
  auto k = compile_cpu(g, loop_options(false));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.message().find("runtime extent"), std::string::npos) << k.message();
}

// x[k + 1:] += x[k:n - 1]: the read window overlaps the written one shifted by one element, so
// computing per element in place would read already-updated values: the value is staged in a
// temporary first (as NumPy evaluates the right-hand side first); above the temporary's bound
// the loop is refused.
const char* kShift = R"(
func @shift(%0) {
  %0 = param 0 contiguous : f64[$N]
  %1 = loop %0 {ints = [$T, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[$N]
      %2 = const 1 : i64[]
      %3 = add %0, %2 : i64[]
      %4 = const -1 : i64[]
      %5 = mul %0, %4 : i64[]
      %6 = const $T : i64[]
      %7 = add %5, %6 : i64[]
      %8 = dyn_window %1, %3, %7 {ints = [1], fval = 0.0} : f64[s1000]
      %9 = dyn_window %1, %0, %7 {ints = [1], fval = 0.0} : f64[s1000]
      %10 = add %8, %9 : f64[s1000]
      %11 = dyn_update %1, %10, %3, %7 {ints = [1], fval = 0.0} : f64[$N]
      return %11
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : f64[$N]
  return %2
}
)";

TEST(CpuWindowLoops, OverlappingReadIsStaged) {
  const int64_t n = 37;
  ir::Graph g = parse_ok(subst(kShift, {{"$N", std::to_string(n)}, {"$T", std::to_string(n - 1)}}));
  auto k = compile_cpu(g, loop_options(true));
  ASSERT_TRUE(k.ok()) << k.message();
  EXPECT_EQ(program_info(**k)->native_loops, 1);
  std::vector<Buffer> ins = {make_buffer(DType::F64, {n})};
  std::vector<double> x(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) ins[0].set<double>(i, x[static_cast<size_t>(i)] = 0.5 * static_cast<double>(i % 7) - 1);
  for (int64_t kk = 0; kk + 1 < n; ++kk) {
    std::vector<double> rhs(x.begin() + kk, x.end() - 1);  // read before anything is written
    for (int64_t i = kk + 1; i < n; ++i) x[static_cast<size_t>(i)] = x[static_cast<size_t>(i)] + rhs[static_cast<size_t>(i - kk - 1)];
  }
  std::vector<Buffer> out = run_kernel(g, **k, ins);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[0].get<double>(i), x[static_cast<size_t>(i)]) << i;
}

TEST(CpuWindowLoops, OverlappingReadOfLargeArrayIsRefused) {
  ir::Graph g = parse_ok(subst(kShift, {{"$N", "20000"}, {"$T", "19999"}}));
  auto k = compile_cpu(g, loop_options(true));
  ASSERT_FALSE(k.ok());
  EXPECT_NE(k.message().find("neither the element being written nor provably disjoint"), std::string::npos)
      << k.message();
}

// x[:k] = y[k] * 2 over an int32 vector: a store of a broadcast scalar read from another array,
// extent 0 in the first iteration.
TEST(CpuWindowLoops, PrefixStoreOfScalar) {
  ir::Graph g = parse_ok(R"(
func @prefix(%0, %1) {
  %0 = param 0 contiguous : i32[20]
  %1 = param 1 contiguous : i32[20]
  %2 = loop %0, %1 {ints = [20, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i32[20]
      %2 = param 2 contiguous : i32[20]
      %3 = const 0 : i64[]
      %4 = dyn_slice %2, %0 {ints = [1], fval = 0.0} : i32[1]
      %5 = reshape %4 : i32[]
      %6 = const 2 : i32[]
      %7 = mul %5, %6 : i32[]
      %8 = broadcast %7 : i32[s1000]
      %9 = dyn_update %1, %8, %3, %0 {ints = [1], fval = 0.0} : i32[20]
      return %9
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : i32[20]
  return %3
}
)");
  auto k = compile_cpu(g, loop_options(true));
  ASSERT_TRUE(k.ok()) << k.message();
  EXPECT_EQ(program_info(**k)->native_loops, 1);
  std::vector<Buffer> ins = {make_buffer(DType::I32, {20}), make_buffer(DType::I32, {20})};
  std::vector<int32_t> x(20), y(20);
  for (int64_t i = 0; i < 20; ++i) {
    x[static_cast<size_t>(i)] = static_cast<int32_t>(100 + i);
    y[static_cast<size_t>(i)] = static_cast<int32_t>(3 * i - 7);
    ins[0].set<int32_t>(i, x[static_cast<size_t>(i)]);
    ins[1].set<int32_t>(i, y[static_cast<size_t>(i)]);
  }
  for (size_t kk = 0; kk < 20; ++kk)
    for (size_t i = 0; i < kk; ++i) x[i] = y[kk] * 2;
  std::vector<Buffer> out = run_kernel(g, **k, ins);
  for (int64_t i = 0; i < 20; ++i) EXPECT_EQ(out[0].get<int32_t>(i), x[static_cast<size_t>(i)]) << i;
}


// Forward substitution x[i] = (b[i] - L[i, :i] @ x[:i]) / L[i, i]: the dot product of two
// windows of extent i (0 in the first iteration) is a sum in order inside the nest, so a plain
// C++ loop summing in the same order gives the same bits.
TEST(CpuWindowLoops, ForwardSubstitutionSumOfWindows) {
  const int64_t n = 57;
  ir::Graph g = parse_ok(subst(R"(
func @fsub(%0, %1, %2) {
  %0 = param 0 contiguous : f64[$N]
  %1 = param 1 contiguous : f64[$N,$N]
  %2 = param 2 contiguous : f64[$N]
  %3 = loop %0, %1, %2 {ints = [$N, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[$N]
      %2 = param 2 contiguous : f64[$N,$N]
      %3 = param 3 contiguous : f64[$N]
      %4 = dyn_slice %3, %0 {ints = [1], fval = 0.0} : f64[1]
      %5 = reshape %4 : f64[]
      %6 = const 0 : i64[]
      %7 = const 1 : i64[]
      %8 = dyn_window %2, %0, %6, %7, %0 {ints = [1, 1], fval = 0.0} : f64[1,s1000]
      %9 = reshape %8 : f64[s1000]
      %10 = dyn_window %1, %6, %0 {ints = [1], fval = 0.0} : f64[s1000]
      %11 = mul %9, %10 : f64[s1000]
      %12 = reduce_sum %11 {ints = [0], fval = 0.0} : f64[1]
      %13 = reshape %12 : f64[]
      %14 = sub %5, %13 : f64[]
      %15 = dyn_slice %2, %0, %0 {ints = [1, 1], fval = 0.0} : f64[1,1]
      %16 = reshape %15 : f64[]
      %17 = div %14, %16 : f64[]
      %18 = reshape %17 : f64[1]
      %19 = dyn_update %1, %18, %0 {ints = [1], fval = 0.0} : f64[$N]
      return %19
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : f64[$N]
  return %4
}
)", {{"$N", std::to_string(n)}}));
  auto k = compile_cpu(g, loop_options(true));
  ASSERT_TRUE(k.ok()) << k.message();
  EXPECT_EQ(program_info(**k)->native_loops, 1);
  std::mt19937 rng(5);
  std::uniform_real_distribution<double> u(-1, 1);
  std::vector<double> L(static_cast<size_t>(n * n)), b(static_cast<size_t>(n));
  for (auto& v : L) v = u(rng);
  for (int64_t i = 0; i < n; ++i) L[static_cast<size_t>(i * n + i)] += static_cast<double>(n);
  for (auto& v : b) v = u(rng);
  std::vector<Buffer> ins = {make_buffer(DType::F64, {n}), make_buffer(DType::F64, {n, n}), make_buffer(DType::F64, {n})};
  for (int64_t q = 0; q < n; ++q) ins[0].set<double>(q, 0.0), ins[2].set<double>(q, b[static_cast<size_t>(q)]);
  for (int64_t q = 0; q < n * n; ++q) ins[1].set<double>(q, L[static_cast<size_t>(q)]);
  std::vector<double> x(static_cast<size_t>(n), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    double s = 0;
    for (int64_t j = 0; j < i; ++j) {
      double p = L[static_cast<size_t>(i * n + j)] * x[static_cast<size_t>(j)];
      s = s + p;
    }
    x[static_cast<size_t>(i)] = (b[static_cast<size_t>(i)] - s) / L[static_cast<size_t>(i * n + i)];
  }
  std::vector<Buffer> out = run_kernel(g, **k, ins);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(out[0].get<double>(i), x[static_cast<size_t>(i)]) << i;
}

// NumPy's pairwise sum (numpy/_core/src/umath/loops_utils.h.src), written out again here.
double numpy_pairwise(const double* a, int64_t n, int64_t stride) {
  if (n < 8) {
    double r = 0.;
    for (int64_t i = 0; i < n; ++i) r += a[i * stride];
    return r;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j * stride];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[(i + j) * stride];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i * stride];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return numpy_pairwise(a, n2, stride) + numpy_pairwise(a + n2 * stride, n - n2, stride);
}

// argmax / max / sum over the column tail A[k:, k] (extent n - k, strided): NumPy's rules, in
// one native nest — argmax the first extreme or the first NaN, max NaN-propagating, the sum in
// NumPy's pairwise order (the extent passes 128 in the first columns).
TEST(CpuWindowLoops, ColumnTailArgmaxMaxSum) {
  const int64_t n = 150;
  ir::Graph g = parse_ok(subst(R"(
func @f(%0, %1, %2, %3) {
  %0 = param 0 contiguous : f64[$N,$N]
  %1 = param 1 contiguous : i64[$N]
  %2 = param 2 contiguous : f64[$N]
  %3 = param 3 contiguous : f64[$N]
  %4 = loop %1, %2, %3, %0 {ints = [$N, 3, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %2, %3, %4, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 4 contiguous : f64[$N,$N]
      %2 = param 1 contiguous : i64[$N]
      %3 = param 2 contiguous : f64[$N]
      %4 = param 3 contiguous : f64[$N]
      %5 = const -1 : i64[]
      %6 = mul %0, %5 : i64[]
      %7 = const $N : i64[]
      %8 = add %6, %7 : i64[]
      %9 = const 1 : i64[]
      %10 = dyn_window %1, %0, %0, %8, %9 {ints = [1, 1], fval = 0.0} : f64[s1000,1]
      %11 = reshape %10 : f64[s1000]
      %12 = argmax %11 {ints = [0], fval = 0.0} : i64[1]
      %13 = reshape %12 : i64[]
      %14 = reshape %13 : i64[1]
      %15 = dyn_update %2, %14, %0 {ints = [1], fval = 0.0} : i64[$N]
      %16 = reduce_max %11 {ints = [0], fval = 0.0} : f64[1]
      %17 = reshape %16 : f64[]
      %18 = reshape %17 : f64[1]
      %19 = dyn_update %3, %18, %0 {ints = [1], fval = 0.0} : f64[$N]
      %20 = reduce_sum %11 {ints = [0], fval = 0.0} : f64[1]
      %21 = reshape %20 : f64[]
      %22 = reshape %21 : f64[1]
      %23 = dyn_update %4, %22, %0 {ints = [1], fval = 0.0} : f64[$N]
      return %15, %19, %23
    }
  %5 = loop_result %4 {ints = [0], fval = 0.0} : i64[$N]
  %6 = loop_result %4 {ints = [1], fval = 0.0} : f64[$N]
  %7 = loop_result %4 {ints = [2], fval = 0.0} : f64[$N]
  return %5, %6, %7
}
)", {{"$N", std::to_string(n)}}));
  auto k = compile_cpu(g, loop_options(true));
  ASSERT_TRUE(k.ok()) << k.message();
  EXPECT_EQ(program_info(**k)->native_loops, 1);
  std::mt19937 rng(7);
  std::uniform_real_distribution<double> u(-100, 100);
  std::vector<double> A(static_cast<size_t>(n * n));
  for (auto& v : A) v = u(rng);
  A[static_cast<size_t>(40 * n + 3)] = A[static_cast<size_t>(90 * n + 3)] = 1e9;  // a tie: the first wins
  A[static_cast<size_t>(70 * n + 20)] = std::nan("");                             // NaN: it wins
  A[static_cast<size_t>(100 * n + 20)] = std::nan("");
  std::vector<Buffer> ins = {make_buffer(DType::F64, {n, n}), make_buffer(DType::I64, {n}), make_buffer(DType::F64, {n}),
                             make_buffer(DType::F64, {n})};
  for (int64_t q = 0; q < n * n; ++q) ins[0].set<double>(q, A[static_cast<size_t>(q)]);
  for (int64_t q = 0; q < n; ++q) ins[1].set<int64_t>(q, 0), ins[2].set<double>(q, 0.0), ins[3].set<double>(q, 0.0);
  std::vector<Buffer> out = run_kernel(g, **k, ins);
  for (int64_t c = 0; c < n; ++c) {
    const double* col = &A[static_cast<size_t>(c * n + c)];
    int64_t best = 0;
    double mx = col[0];
    for (int64_t i = 1; i < n - c; ++i) {
      double x = col[i * n];
      if (!std::isnan(col[best * n]) && (x > col[best * n] || std::isnan(x))) best = i;
      mx = (mx >= x || std::isnan(mx)) ? mx : x;
    }
    EXPECT_EQ(out[0].get<int64_t>(c), best) << c;
    double got = out[1].get<double>(c);
    EXPECT_TRUE(got == mx || (std::isnan(got) && std::isnan(mx))) << c << ": " << got << " vs " << mx;
    double s = 0.0 + numpy_pairwise(col, n - c, n), gs = out[2].get<double>(c);
    EXPECT_TRUE(std::memcmp(&s, &gs, sizeof s) == 0 || (std::isnan(s) && std::isnan(gs))) << c << ": " << gs << " vs " << s;
  }
}

}  // namespace
}  // namespace tracejit::backends::testing
