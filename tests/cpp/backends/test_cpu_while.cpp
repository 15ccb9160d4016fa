// While regions: graphs with `while` nodes run as program steps (the body compiled once, run
// while its test holds) and give the values of a plain C++ reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "backend_test_util.h"
#include "backends/cpu/program.h"
#include "ir/parser.h"
#include "ir/verifier.h"

namespace tracejit::backends::testing {
namespace {

std::unique_ptr<CompiledKernel> compile(const ir::Graph& g, bool native = true) {
  auto k = compile_cpu(g, loop_options(native));
  EXPECT_TRUE(k.ok()) << k.message();
  return k.ok() ? std::move(*k) : nullptr;
}

Buffer f64_buffer(std::vector<int64_t> shape, const std::vector<double>& v) {
  Buffer b = make_buffer(DType::F64, std::move(shape));
  for (int64_t k = 0; k < b.numel(); ++k) b.set<double>(k, v[static_cast<size_t>(k)]);
  return b;
}

// ---- while max(x) > tol: x = x * 0.5; it = it + 1 (an array and a counter carried). ----

const char* kHalve = R"(
func @halve(%0, %1) {
  %0 = param 0 contiguous : f64[6]
  %1 = param 1 scalar : f64[]
  %2 = reduce_max %0 {ints = [0], fval = 0.0} : f64[1]
  %3 = reshape %2 : f64[]
  %4 = gt %3, %1 : bool[]
  %5 = const 0 : i64[]
  %6 = while %4, %0, %5, %1 {ints = [2], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[6]
      %2 = param 2 scalar : i64[]
      %3 = param 3 scalar : f64[]
      %4 = const 0.5 : f64[]
      %5 = mul %1, %4 : f64[6]
      %6 = const 1 : i64[]
      %7 = add %2, %6 : i64[]
      %8 = reduce_max %5 {ints = [0], fval = 0.0} : f64[1]
      %9 = reshape %8 : f64[]
      %10 = gt %9, %3 : bool[]
      return %5, %7, %10
    }
  %7 = loop_result %6 {ints = [0], fval = 0.0} : f64[6]
  %8 = loop_result %6 {ints = [1], fval = 0.0} : i64[]
  return %7, %8
}
)";

void check_halve(const std::vector<double>& x0, double tol) {
  SCOPED_TRACE("tol " + std::to_string(tol));
  ir::Graph g = parse_ok(kHalve);
  auto k = compile(g);
  ASSERT_TRUE(k);
  const ProgramInfo* info = program_info(*k);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->loops, 1);
  std::vector<double> want = x0;
  int64_t it = 0;
  auto max_of = [](const std::vector<double>& v) {
    double m = v[0];
    for (double x : v) m = std::isnan(m) || x > m || std::isnan(x) ? (std::isnan(m) ? m : x) : m;
    return m;
  };
  while (max_of(want) > tol) {
    for (double& v : want) v *= 0.5;
    ++it;
  }
  Buffer tb = make_buffer(DType::F64, {});
  tb.set<double>(0, tol);
  std::vector<Buffer> in = {f64_buffer({6}, x0), tb};
  for (int rep = 0; rep < 2; ++rep) {  // a pooled frame the second time
    std::vector<Buffer> out = run_kernel(g, *k, in);
    for (int64_t j = 0; j < 6; ++j) {
      double got = out[0].get<double>(j), w = want[static_cast<size_t>(j)];
      EXPECT_TRUE(got == w || (std::isnan(got) && std::isnan(w))) << j << ": " << got << " vs " << w;
    }
    EXPECT_EQ(out[1].get<int64_t>(0), it);
    for (int64_t j = 0; j < 6; ++j)  // never written
      EXPECT_EQ(std::isnan(in[0].get<double>(j)) || in[0].get<double>(j) == x0[static_cast<size_t>(j)], true);
  }
}

TEST(CpuWhile, ManyIterations) { check_halve({1e6, 3, -2, 7, 0.5, 100}, 1e-3); }
TEST(CpuWhile, OneIteration) { check_halve({1, 3, -2, 7, 0.5, 4}, 5.0); }
TEST(CpuWhile, ZeroIterations) { check_halve({1, 3, -2, 7, 0.5, 4}, 7.0); }
TEST(CpuWhile, NanTestIsFalse) {
  check_halve({1, std::numeric_limits<double>::quiet_NaN(), -2, 7, 0.5, 4}, 0.1);
}

// ---- Two carried values exchanged every iteration (pass-through results) until k == n. ----

const char* kSwap = R"(
func @swap(%0, %1, %2) {
  %0 = param 0 contiguous : f64[3]
  %1 = param 1 contiguous : f64[3]
  %2 = param 2 scalar : i64[]
  %3 = const 0 : i64[]
  %4 = lt %3, %2 : bool[]
  %5 = while %4, %0, %1, %3, %2 {ints = [3], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3, %4) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[3]
      %2 = param 2 contiguous : f64[3]
      %3 = param 3 scalar : i64[]
      %4 = param 4 scalar : i64[]
      %5 = const 1 : i64[]
      %6 = add %3, %5 : i64[]
      %7 = lt %6, %4 : bool[]
      return %2, %1, %6, %7
    }
  %6 = loop_result %5 {ints = [0], fval = 0.0} : f64[3]
  %7 = loop_result %5 {ints = [1], fval = 0.0} : f64[3]
  %8 = loop_result %5 {ints = [2], fval = 0.0} : i64[]
  return %6, %7, %8
}
)";

TEST(CpuWhile, SwapPassThrough) {
  ir::Graph g = parse_ok(kSwap);
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<double> a = {1, 2, 3}, b = {-1, -2, -3};
  for (int64_t n : {-2, 0, 1, 2, 7, 100}) {
    SCOPED_TRACE(n);
    Buffer nb = make_buffer(DType::I64, {});
    nb.set<int64_t>(0, n);
    std::vector<Buffer> in = {f64_buffer({3}, a), f64_buffer({3}, b), nb};
    std::vector<Buffer> out = run_kernel(g, *k, in);
    const int64_t trips = n > 0 ? n : 0;
    const auto& first = trips % 2 ? b : a;
    const auto& second = trips % 2 ? a : b;
    for (int64_t j = 0; j < 3; ++j) {
      EXPECT_EQ(out[0].get<double>(j), first[static_cast<size_t>(j)]);
      EXPECT_EQ(out[1].get<double>(j), second[static_cast<size_t>(j)]);
    }
    EXPECT_EQ(out[2].get<int64_t>(0), trips);
  }
}

// ---- Scalar while loops: one native nest, or the program's while step; the same values. ----

// Newton's square root with a counter: x = 0.5 * (x + a / x) while |x*x - a| > 1e-12 * a.
const char* kNewton = R"(
func @newton(%0) {
  %0 = param 0 scalar : f64[]
  %1 = const 0.5 : f64[]
  %2 = mul %0, %1 : f64[]
  %3 = mul %2, %2 : f64[]
  %4 = sub %3, %0 : f64[]
  %5 = abs %4 : f64[]
  %6 = const 1e-12 : f64[]
  %7 = mul %6, %0 : f64[]
  %8 = gt %5, %7 : bool[]
  %9 = const 0 : i64[]
  %10 = while %8, %2, %9, %0 {ints = [2], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 scalar : f64[]
      %2 = param 2 scalar : i64[]
      %3 = param 3 scalar : f64[]
      %4 = div %3, %1 : f64[]
      %5 = add %1, %4 : f64[]
      %6 = const 0.5 : f64[]
      %7 = mul %6, %5 : f64[]
      %8 = const 1 : i64[]
      %9 = add %2, %8 : i64[]
      %10 = mul %7, %7 : f64[]
      %11 = sub %10, %3 : f64[]
      %12 = abs %11 : f64[]
      %13 = const 1e-12 : f64[]
      %14 = mul %13, %3 : f64[]
      %15 = gt %12, %14 : bool[]
      return %7, %9, %15
    }
  %11 = loop_result %10 {ints = [0], fval = 0.0} : f64[]
  %12 = loop_result %10 {ints = [1], fval = 0.0} : i64[]
  return %11, %12
}
)";

TEST(CpuWhile, NewtonNativeAndProgramAgree) {
  ir::Graph g = parse_ok(kNewton);
  for (bool native : {true, false}) {
    SCOPED_TRACE(native ? "native" : "program");
    auto k = compile(g, native);
    ASSERT_TRUE(k);
    EXPECT_EQ(program_info(*k)->native_loops, native ? 1 : 0);
    for (double a : {2.0, 1e6, 0.25, 1.0, std::numeric_limits<double>::quiet_NaN()}) {
      double x = a * 0.5;
      int64_t it = 0;
      while (std::fabs(x * x - a) > 1e-12 * a) {
        x = 0.5 * (x + a / x);
        ++it;
      }
      Buffer ab = make_buffer(DType::F64, {});
      ab.set<double>(0, a);
      std::vector<Buffer> in = {ab};
      std::vector<Buffer> out = run_kernel(g, *k, in);
      double got = out[0].get<double>(0);
      EXPECT_TRUE(got == x || (std::isnan(got) && std::isnan(x))) << a << ": " << got << " vs " << x;
      EXPECT_EQ(out[1].get<int64_t>(0), it) << a;
    }
  }
}

// Element stores into a carried array while a counter runs: a[k] = a[k] * 2 for k < n (the
// window start is the counter, in bounds because n <= 8 is checked by the test itself here).
const char* kDoubling = R"(
func @doubling(%0, %1) {
  %0 = param 0 contiguous : f64[8]
  %1 = param 1 scalar : i64[]
  %2 = const 0 : i64[]
  %3 = lt %2, %1 : bool[]
  %4 = while %3, %0, %2, %1 {ints = [2], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[8]
      %2 = param 2 scalar : i64[]
      %3 = param 3 scalar : i64[]
      %4 = dyn_slice %1, %2 {ints = [1], fval = 0.0} : f64[1]
      %5 = const 2.0 : f64[]
      %6 = mul %4, %5 : f64[1]
      %7 = dyn_update %1, %6, %2 {ints = [1], fval = 0.0} : f64[8]
      %8 = const 1 : i64[]
      %9 = add %2, %8 : i64[]
      %10 = lt %9, %3 : bool[]
      return %7, %9, %10
    }
  %5 = loop_result %4 {ints = [0], fval = 0.0} : f64[8]
  %6 = loop_result %4 {ints = [1], fval = 0.0} : i64[]
  return %5, %6
}
)";

TEST(CpuWhile, ElementStoresNativeAndProgramAgree) {
  ir::Graph g = parse_ok(kDoubling);
  std::vector<double> a0 = {1, 2, 3, 4, 5, 6, 7, 8};
  for (bool native : {true, false}) {
    SCOPED_TRACE(native ? "native" : "program");
    auto k = compile(g, native);
    ASSERT_TRUE(k);
    EXPECT_EQ(program_info(*k)->native_loops, native ? 1 : 0);
    for (int64_t n : {0, 1, 5, 8}) {
      Buffer nb = make_buffer(DType::I64, {});
      nb.set<int64_t>(0, n);
      std::vector<Buffer> in = {f64_buffer({8}, a0), nb};
      std::vector<Buffer> out = run_kernel(g, *k, in);
      for (int64_t j = 0; j < 8; ++j) {
        EXPECT_EQ(out[0].get<double>(j), a0[static_cast<size_t>(j)] * (j < n ? 2.0 : 1.0)) << n << " " << j;
        EXPECT_EQ(in[0].get<double>(j), a0[static_cast<size_t>(j)]);  // the initial value is never written
      }
      EXPECT_EQ(out[1].get<int64_t>(0), std::max<int64_t>(n, 0));
    }
  }
}

// A body that reads its iteration number is not a native nest (nothing bounds it); the program
// runs it.
TEST(CpuWhile, IterationNumberReadIsNotNative) {
  ir::Graph g = parse_ok(R"(
func @f(%0) {
  %0 = param 0 scalar : i64[]
  %1 = const 0 : i64[]
  %2 = lt %1, %0 : bool[]
  %3 = while %2, %1, %0 {ints = [1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 scalar : i64[]
      %2 = param 2 scalar : i64[]
      %3 = add %1, %0 : i64[]
      %4 = const 1 : i64[]
      %5 = add %0, %4 : i64[]
      %6 = lt %5, %2 : bool[]
      return %3, %6
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : i64[]
  return %4
}
)");
  auto k = compile(g, true);
  ASSERT_TRUE(k);
  const ProgramInfo* info = program_info(*k);
  EXPECT_EQ(info->native_loops, 0);
  ASSERT_EQ(info->native_rejections.size(), 1u);
  EXPECT_NE(info->native_rejections[0].find("iteration number"), std::string::npos) << info->native_rejections[0];
  Buffer nb = make_buffer(DType::I64, {});
  nb.set<int64_t>(0, 10);
  std::vector<Buffer> in = {nb};
  EXPECT_EQ(run_kernel(g, *k, in)[0].get<int64_t>(0), 45);  // 0 + 1 + ... + 9
}


// A for loop with a break, as the tracer makes it (issue #5): a while whose counter k is
// carried (not the iteration number, so a native nest may index with it), run while
// k + 1 < n and no break was taken; k + 1 after the loop is one past the index it left at.
const char* kFirstAbove = R"(
func @first_above(%0, %1) {
  %0 = param 0 contiguous : f64[8]
  %1 = param 1 scalar : f64[]
  %2 = const true : bool[]
  %3 = const 0 : i64[]
  %4 = while %2, %3, %0, %1 {ints = [1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 scalar : i64[]
      %2 = param 2 contiguous : f64[8]
      %3 = param 3 scalar : f64[]
      %4 = dyn_slice %2, %1 {ints = [1], fval = 0.0} : f64[1]
      %5 = reshape %4 : f64[]
      %6 = gt %5, %3 : bool[]
      %7 = const 1 : i64[]
      %8 = add %1, %7 : i64[]
      %9 = const 8 : i64[]
      %10 = lt %8, %9 : bool[]
      %11 = not %6 : bool[]
      %12 = and %11, %10 : bool[]
      return %8, %12
    }
  %5 = loop_result %4 {ints = [0], fval = 0.0} : i64[]
  return %5
}
)";

TEST(CpuWhile, BreakWithCarriedCounterNativeAndProgramAgree) {
  ir::Graph g = parse_ok(kFirstAbove);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  std::vector<double> x0 = {0, 1, 2, nan, 4, 5, 6, 7};
  for (bool native : {true, false}) {
    SCOPED_TRACE(native ? "native" : "program");
    auto k = compile(g, native);
    ASSERT_TRUE(k);
    EXPECT_EQ(program_info(*k)->native_loops, native ? 1 : 0);
    for (double t : {-1.0, 0.0, 2.5, 6.5, 7.0, 100.0, nan}) {
      int64_t want = 0;  // Python: for i in range(8): if x[i] > t: break  -> i + 1
      for (int64_t i = 0; i < 8; ++i) {
        want = i + 1;
        if (x0[static_cast<size_t>(i)] > t) break;
      }
      Buffer tb = make_buffer(DType::F64, {});
      tb.set<double>(0, t);
      std::vector<Buffer> in = {f64_buffer({8}, x0), tb};
      EXPECT_EQ(run_kernel(g, *k, in)[0].get<int64_t>(0), want) << t;
    }
  }
}

}  // namespace
}  // namespace tracejit::backends::testing
