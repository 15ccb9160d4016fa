// Loop regions: graphs with `loop` nodes compile to programs (segments + loop steps, bodies
// compiled once) and give the values of a plain C++ reference.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <thread>

#include <unistd.h>

#include "backend_test_util.h"
#include "backends/cpu/program.h"
#include "ir/parser.h"
#include "ir/verifier.h"

namespace tracejit::backends::testing {
namespace {

std::unique_ptr<CompiledKernel> compile(const ir::Graph& g, const CpuCompileOptions& opts = loop_options()) {
  auto k = compile_cpu(g, opts);
  EXPECT_TRUE(k.ok()) << k.message();
  return k.ok() ? std::move(*k) : nullptr;
}


template <class T>
Buffer buffer_of(DType d, std::vector<int64_t> shape, const std::vector<T>& v) {
  Buffer b = make_buffer(d, std::move(shape));
  EXPECT_EQ(static_cast<size_t>(b.numel()), v.size());
  for (int64_t k = 0; k < b.numel(); ++k) b.set<T>(k, v[static_cast<size_t>(k)]);
  return b;
}

template <class T>
std::vector<T> values(const Buffer& b) {
  std::vector<T> v;
  for (int64_t k = 0; k < b.numel(); ++k) v.push_back(b.get<T>(k));
  return v;
}

std::vector<double> ramp(int64_t n, double a, double b) {
  std::vector<double> v;
  for (int64_t k = 0; k < n; ++k) v.push_back(a + b * static_cast<double>(k % 97));
  return v;
}

void expect_near(const std::vector<double>& got, const std::vector<double>& want, double rel = 1e-12) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t k = 0; k < got.size(); ++k)
    EXPECT_NEAR(got[k], want[k], rel * std::max(1.0, std::fabs(want[k]))) << "element " << k;
}

// ---- x = x * 0.5 + 1, `trip` times. ----

const char* kScale = R"(
func @scale(%0) {
  %0 = param 0 contiguous : $DT[$N]
  %1 = loop %0 {ints = [$TRIP, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : $DT[$N]
      %2 = const $C : $DT[]
      %3 = mul %1, %2 : $DT[$N]
      %4 = const 1.0 : $DT[]
      %5 = add %3, %4 : $DT[$N]
      return %5
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : $DT[$N]
  return %2
}
)";

ir::Graph scale_graph(const std::string& dt, int64_t n, int64_t trip) {
  return parse_ok(
      subst(kScale, {{"$DT", dt}, {"$N", std::to_string(n)}, {"$TRIP", std::to_string(trip)}, {"$C", "0.5"}}));
}

template <class T>
void check_scale(DType d, const std::string& dt, int64_t n, int64_t trip) {
  SCOPED_TRACE(dt + " n=" + std::to_string(n) + " trip=" + std::to_string(trip));
  ir::Graph g = scale_graph(dt, n, trip);
  auto k = compile(g);
  ASSERT_TRUE(k);
  ASSERT_EQ(k->fn(), nullptr);  // a program: run() only
  const ProgramInfo* info = program_info(*k);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->kernels, 1);
  EXPECT_EQ(info->loops, 1);
  std::vector<T> x0;
  for (double v : ramp(n, -3.0, 0.75)) x0.push_back(static_cast<T>(v));
  std::vector<Buffer> in = {buffer_of<T>(d, {n}, x0)};
  std::vector<T> want = x0;
  for (int64_t it = 0; it < trip; ++it)
    for (T& v : want) v = v * T(0.5) + T(1.0);
  for (int rep = 0; rep < 2; ++rep) {  // a pooled frame the second time
    std::vector<Buffer> out = run_kernel(g, *k, in);
    EXPECT_EQ(values<T>(out[0]), want);
    EXPECT_EQ(values<T>(in[0]), x0);  // the initial value is never written
  }
}

TEST(CpuLoops, ScaleF64) { check_scale<double>(DType::F64, "f64", 1000, 100); }
TEST(CpuLoops, ScaleF32) { check_scale<float>(DType::F32, "f32", 1003, 100); }
TEST(CpuLoops, ScaleLargeF32UsesThreadsInside) { check_scale<float>(DType::F32, "f32", int64_t{1} << 20, 20); }
TEST(CpuLoops, ScaleZeroOneTwoTrips) {
  for (int64_t trip : {0, 1, 2, 3}) check_scale<double>(DType::F64, "f64", 17, trip);
}

// ---- Two carried values exchanged every iteration (pass-through body results). ----

const char* kSwap = R"(
func @swap(%0, %1) {
  %0 = param 0 contiguous : f64[5]
  %1 = param 1 contiguous : f64[5]
  %2 = loop %0, %1 {ints = [$TRIP, 2, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[5]
      %2 = param 2 contiguous : f64[5]
      return %2, %1
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[5]
  %4 = loop_result %2 {ints = [1], fval = 0.0} : f64[5]
  return %3, %4
}
)";

TEST(CpuLoops, SwapTwoCarried) {
  std::vector<double> a = {1, 2, 3, 4, 5}, b = {-1, -2, -3, -4, -5};
  for (int64_t trip : {0, 1, 2, 7, 100}) {
    SCOPED_TRACE(trip);
    ir::Graph g = parse_ok(subst(kSwap, {{"$TRIP", std::to_string(trip)}}));
    auto k = compile(g);
    ASSERT_TRUE(k);
    EXPECT_EQ(program_info(*k)->kernels, 0);  // nothing to compile: the runner copies
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {5}, a), buffer_of<double>(DType::F64, {5}, b)};
    std::vector<Buffer> out = run_kernel(g, *k, in);
    EXPECT_EQ(values<double>(out[0]), trip % 2 ? b : a);
    EXPECT_EQ(values<double>(out[1]), trip % 2 ? a : b);
    EXPECT_EQ(values<double>(in[0]), a);
    EXPECT_EQ(values<double>(in[1]), b);
  }
}

// a, b = b, a + b: each iteration reads both of the previous iteration's values.
TEST(CpuLoops, FibonacciPairReadsPreviousIteration) {
  ir::Graph g = parse_ok(R"(
func @fib(%0, %1) {
  %0 = param 0 contiguous : i64[3]
  %1 = param 1 contiguous : i64[3]
  %2 = loop %0, %1 {ints = [30, 2, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[3]
      %2 = param 2 contiguous : i64[3]
      %3 = add %1, %2 : i64[3]
      return %2, %3
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : i64[3]
  %4 = loop_result %2 {ints = [1], fval = 0.0} : i64[3]
  return %3, %4
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<int64_t> a = {0, 1, 5}, b = {1, 1, 7};
  std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {3}, a), buffer_of<int64_t>(DType::I64, {3}, b)};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<int64_t> wa = a, wb = b;
  for (int it = 0; it < 30; ++it)
    for (size_t j = 0; j < 3; ++j) {
      int64_t s = wa[j] + wb[j];
      wa[j] = wb[j];
      wb[j] = s;
    }
  EXPECT_EQ(values<int64_t>(out[0]), wa);
  EXPECT_EQ(values<int64_t>(out[1]), wb);
  EXPECT_EQ(wa[0], 832040);  // fib(30)
}

// ---- The induction variable as a value, and as a carried result (start 3, step 2). ----

TEST(CpuLoops, InductionVariableAsValue) {
  ir::Graph g = parse_ok(R"(
func @iv(%0) {
  %0 = param 0 contiguous : f64[6]
  %1 = const -1 : i64[]
  %2 = loop %0, %1 {ints = [10, 2, 3, 2], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[6]
      %2 = param 2 scalar : i64[]
      %3 = cast %0 : f64[]
      %4 = add %1, %3 : f64[6]
      return %4, %0
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[6]
  %4 = loop_result %2 {ints = [1], fval = 0.0} : i64[]
  return %3, %4
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<double> x = {0.5, -1, 2, 1e10, -0.25, 3};
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {6}, x)};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<double> want = x;
  int64_t last = -1;
  for (int64_t it = 0; it < 10; ++it) {
    int64_t i = 3 + 2 * it;
    for (double& v : want) v = v + static_cast<double>(i);
    last = i;
  }
  EXPECT_EQ(values<double>(out[0]), want);
  EXPECT_EQ(values<int64_t>(out[1]), std::vector<int64_t>{last});
  EXPECT_EQ(last, 21);
}

// A negative step and a zero-trip loop's carried 0-d constant.
TEST(CpuLoops, NegativeStepAndZeroTripConstant) {
  ir::Graph g = parse_ok(R"(
func @down(%0) {
  %0 = param 0 contiguous : i64[4]
  %1 = const 42 : i64[]
  %2 = loop %0 {ints = [5, 1, 10, -3], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[4]
      %2 = mul %1, %0 : i64[4]
      %3 = const 1 : i64[]
      %4 = add %2, %3 : i64[4]
      return %4
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : i64[4]
  %4 = loop %1 {ints = [0, 1, 0, 1], fval = 0.0} : i64[]
    region func @body2(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 scalar : i64[]
      %2 = add %1, %0 : i64[]
      return %2
    }
  %5 = loop_result %4 {ints = [0], fval = 0.0} : i64[]
  return %3, %5
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<int64_t> x = {1, -2, 3, 0};
  std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {4}, x)};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<int64_t> want = x;
  for (int64_t it = 0; it < 5; ++it)
    for (int64_t& v : want) v = v * (10 - 3 * it) + 1;
  EXPECT_EQ(values<int64_t>(out[0]), want);
  EXPECT_EQ(values<int64_t>(out[1]), std::vector<int64_t>{42});
}

// ---- Nested loops. ----

TEST(CpuLoops, NestedLoops) {
  ir::Graph g = parse_ok(R"(
func @nested(%0) {
  %0 = param 0 contiguous : f64[9]
  %1 = loop %0 {ints = [5, 1, 0, 1], fval = 0.0} : i64[]
    region func @outer(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[9]
      %2 = loop %1, %0 {ints = [3, 1, 0, 1], fval = 0.0} : i64[]
        region func @inner(%0, %1, %2) {
          %0 = param 0 scalar : i64[]
          %1 = param 1 contiguous : f64[9]
          %2 = param 2 scalar : i64[]
          %3 = const 0.5 : f64[]
          %4 = mul %1, %3 : f64[9]
          %5 = mul %0, %2 : i64[]
          %6 = cast %5 : f64[]
          %7 = add %4, %6 : f64[9]
          return %7
        }
      %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[9]
      %4 = cast %0 : f64[]
      %5 = add %3, %4 : f64[9]
      return %5
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : f64[9]
  return %2
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->loops, 2);
  EXPECT_EQ(program_info(*k)->kernels, 2);  // the inner body and the outer body's segment
  std::vector<double> x = ramp(9, 1.0, 0.5);
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {9}, x)};
  std::vector<double> want = x;
  for (int64_t i = 0; i < 5; ++i) {
    for (int64_t j = 0; j < 3; ++j)
      for (double& v : want) v = v * 0.5 + static_cast<double>(j * i);
    for (double& v : want) v = v + static_cast<double>(i);
  }
  EXPECT_EQ(values<double>(run_kernel(g, *k, in)[0]), want);
}

// The outer body returns the inner loop's result itself (the inner loop's last iteration writes
// the outer loop's next buffer), and the inner loop reads an outer invariant.
TEST(CpuLoops, NestedLoopResultIsBodyResult) {
  const char* text = R"(
func @nested2(%0, %1) {
  %0 = param 0 contiguous : f32[2,3]
  %1 = param 1 contiguous : f32[3]
  %2 = loop %0, %1 {ints = [4, 1, 1, 1], fval = 0.0} : i64[]
    region func @outer(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f32[2,3]
      %2 = param 2 contiguous : f32[3]
      %3 = loop %1, %2, %0 {ints = [$INNER, 1, 0, 1], fval = 0.0} : i64[]
        region func @inner(%0, %1, %2, %3) {
          %0 = param 0 scalar : i64[]
          %1 = param 1 contiguous : f32[2,3]
          %2 = param 2 contiguous : f32[3]
          %3 = param 3 scalar : i64[]
          %4 = cast %3 : f32[]
          %5 = mul %2, %4 : f32[3]
          %6 = add %1, %5 : f32[2,3]
          return %6
        }
      %4 = loop_result %3 {ints = [0], fval = 0.0} : f32[2,3]
      return %4
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f32[2,3]
  return %3
}
)";
  for (int inner : {0, 1, 3}) {
    SCOPED_TRACE(inner);
    ir::Graph gi = parse_ok(subst(text, {{"$INNER", std::to_string(inner)}}));
    auto k = compile(gi);
    ASSERT_TRUE(k);
    std::vector<float> x = {1, 2, 3, -4, -5, 0.5f}, w = {0.25f, -1, 2};
    std::vector<Buffer> in = {buffer_of<float>(DType::F32, {2, 3}, x), buffer_of<float>(DType::F32, {3}, w)};
    std::vector<float> want = x;
    for (int64_t i = 1; i <= 4; ++i)
      for (int j = 0; j < inner; ++j)
        for (size_t e = 0; e < 6; ++e) want[e] = want[e] + w[e % 3] * static_cast<float>(i);
    EXPECT_EQ(values<float>(run_kernel(gi, *k, in)[0]), want);
  }
}

// ---- A loop's result read by a later segment (reduction, matmul) and returned itself. ----

TEST(CpuLoops, LoopResultFeedsLaterSegmentAndIsResult) {
  const char* text = R"(
func @after(%0) {
  %0 = param 0 contiguous : f64[4,4]
  %1 = loop %0 {ints = [$TRIP, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[4,4]
      %2 = const 0.5 : f64[]
      %3 = mul %1, %2 : f64[4,4]
      %4 = const 1.0 : f64[]
      %5 = add %3, %4 : f64[4,4]
      return %5
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : f64[4,4]
  %3 = reduce_sum %2 {ints = [0, 1], fval = 0.0} : f64[1,1]
  %4 = matmul %2, %2 : f64[4,4]
  %5 = neg %2 : f64[4,4]
  return %2, %3, %4, %5
}
)";
  for (int64_t trip : {0, 1, 2, 100}) {
    SCOPED_TRACE(trip);
    ir::Graph g = parse_ok(subst(text, {{"$TRIP", std::to_string(trip)}}));
    auto k = compile(g);
    ASSERT_TRUE(k);
    std::vector<double> x = ramp(16, -2.0, 0.375);
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {4, 4}, x)};
    std::vector<Buffer> out = run_kernel(g, *k, in);
    std::vector<double> xf = x;
    for (int64_t it = 0; it < trip; ++it)
      for (double& v : xf) v = v * 0.5 + 1.0;
    double sum = 0;
    for (double v : xf) sum += v;
    std::vector<double> mm(16, 0.0), neg;
    for (int i = 0; i < 4; ++i)
      for (int j = 0; j < 4; ++j)
        for (int l = 0; l < 4; ++l) mm[static_cast<size_t>(i * 4 + j)] += xf[static_cast<size_t>(i * 4 + l)] * xf[static_cast<size_t>(l * 4 + j)];
    for (double v : xf) neg.push_back(-v);
    EXPECT_EQ(values<double>(out[0]), xf);
    expect_near(values<double>(out[1]), {sum});
    expect_near(values<double>(out[2]), mm);
    EXPECT_EQ(values<double>(out[3]), neg);
    EXPECT_EQ(values<double>(in[0]), x);
  }
}

// ---- Strided params: into a loop (copied to contiguous scratch), into a segment (read through
// their strides), and returned. ----

TEST(CpuLoops, StridedParamFeedsLoop) {
  ir::Graph g = parse_ok(R"(
func @strided(%0, %1) {
  %0 = param 0 strided : f64[4,5]
  %1 = param 1 strided : f64[4,5]
  %2 = loop %0, %1 {ints = [7, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[4,5]
      %2 = param 2 contiguous : f64[4,5]
      %3 = const 0.5 : f64[]
      %4 = mul %1, %3 : f64[4,5]
      %5 = add %4, %2 : f64[4,5]
      return %5
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[4,5]
  %4 = sub %3, %1 : f64[4,5]
  return %3, %4, %0
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  // %0: every other column of a 4x10 array; %1: the transpose of a 5x4 array.
  Buffer a = make_buffer(DType::F64, {4, 10});
  a.shape = {4, 5};
  a.strides = {80, 16};
  Buffer b = make_buffer(DType::F64, {5, 4});
  b.shape = {4, 5};
  b.strides = {8, 32};
  std::vector<double> av = ramp(20, 1.0, 0.25), bv = ramp(20, -3.0, 0.125);
  for (int64_t e = 0; e < 20; ++e) {
    a.set<double>(e, av[static_cast<size_t>(e)]);
    b.set<double>(e, bv[static_cast<size_t>(e)]);
  }
  std::vector<Buffer> in = {a, b};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<double> x = av, d;
  for (int it = 0; it < 7; ++it)
    for (size_t e = 0; e < 20; ++e) x[e] = x[e] * 0.5 + bv[e];
  for (size_t e = 0; e < 20; ++e) d.push_back(x[e] - bv[e]);
  EXPECT_EQ(values<double>(out[0]), x);
  EXPECT_EQ(values<double>(out[1]), d);
  EXPECT_EQ(values<double>(out[2]), av);
  EXPECT_EQ(values<double>(in[0]), av);
}

// ---- Invariant operands: top-level params (array and scalar), a segment value that is also a
// result and read after the loop, and a 0-d constant. ----

TEST(CpuLoops, InvariantOperands) {
  ir::Graph g = parse_ok(R"(
func @inv(%0, %1, %2, %3) {
  %0 = param 0 contiguous : f64[6]
  %1 = param 1 contiguous : f64[6]
  %2 = param 2 contiguous : f64[6]
  %3 = param 3 scalar : f64[]
  %4 = const 2.0 : f64[]
  %5 = mul %2, %4 : f64[6]
  %6 = const 0.25 : f64[]
  %7 = loop %0, %1, %5, %3, %6 {ints = [20, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3, %4, %5) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[6]
      %2 = param 2 contiguous : f64[6]
      %3 = param 3 contiguous : f64[6]
      %4 = param 4 scalar : f64[]
      %5 = param 5 scalar : f64[]
      %6 = mul %1, %2 : f64[6]
      %7 = add %6, %3 : f64[6]
      %8 = mul %7, %4 : f64[6]
      %9 = add %8, %5 : f64[6]
      return %9
    }
  %8 = loop_result %7 {ints = [0], fval = 0.0} : f64[6]
  %9 = add %8, %5 : f64[6]
  return %9, %5
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->kernels, 3);
  std::vector<double> x = {1, 2, 3, 4, 5, 6}, w = {0.5, -0.5, 0.25, 1, 0, -1}, c = {1, -1, 0.5, 2, -2, 0};
  double s = 0.75;
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {6}, x), buffer_of<double>(DType::F64, {6}, w),
                            buffer_of<double>(DType::F64, {6}, c), buffer_of<double>(DType::F64, {}, {s})};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<double> b, want = x, r0;
  for (double v : c) b.push_back(v * 2.0);
  for (int it = 0; it < 20; ++it)
    for (size_t e = 0; e < 6; ++e) want[e] = (want[e] * w[e] + b[e]) * s + 0.25;
  for (size_t e = 0; e < 6; ++e) r0.push_back(want[e] + b[e]);
  EXPECT_EQ(values<double>(out[0]), r0);
  EXPECT_EQ(values<double>(out[1]), b);
}

// ---- Bodies that need the scheduler. ----

// A 1-D diffusion stencil with np.roll (slices + concat) and a running total (reduction).
const char* kStencil = R"(
func @stencil(%0) {
  %0 = param 0 contiguous : f64[$N]
  %1 = const 0.0 : f64[]
  %2 = loop %0, %1 {ints = [$TRIP, 2, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[$N]
      %2 = param 2 scalar : f64[]
      %3 = slice %1 {ints = [$LAST, 1], fval = 0.0} : f64[1]
      %4 = slice %1 {ints = [0, 1], fval = 0.0} : f64[$M1]
      %5 = concat %3, %4 {ints = [0], fval = 0.0} : f64[$N]
      %6 = slice %1 {ints = [1, 1], fval = 0.0} : f64[$M1]
      %7 = slice %1 {ints = [0, 1], fval = 0.0} : f64[1]
      %8 = concat %6, %7 {ints = [0], fval = 0.0} : f64[$N]
      %9 = add %5, %8 : f64[$N]
      %10 = const 2.0 : f64[]
      %11 = mul %1, %10 : f64[$N]
      %12 = sub %9, %11 : f64[$N]
      %13 = const 0.1 : f64[]
      %14 = mul %12, %13 : f64[$N]
      %15 = add %1, %14 : f64[$N]
      %16 = reduce_sum %15 {ints = [0], fval = 0.0} : f64[1]
      %17 = reshape %16 : f64[]
      %18 = add %2, %17 : f64[]
      return %15, %18
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[$N]
  %4 = loop_result %2 {ints = [1], fval = 0.0} : f64[]
  return %3, %4
}
)";

ir::Graph stencil_graph(int64_t n, int64_t trip) {
  return parse_ok(subst(kStencil, {{"$M1", std::to_string(n - 1)}, {"$N", std::to_string(n)},
                                   {"$LAST", std::to_string(n - 1)}, {"$TRIP", std::to_string(trip)}}));
}

void stencil_reference(std::vector<double>& u, double& total, int64_t trip) {
  size_t n = u.size();
  for (int64_t it = 0; it < trip; ++it) {
    std::vector<double> v(n);
    double s = 0;
    for (size_t e = 0; e < n; ++e) {
      double left = u[(e + n - 1) % n], right = u[(e + 1) % n];
      v[e] = u[e] + ((left + right) - u[e] * 2.0) * 0.1;
      s += v[e];
    }
    u = v;
    total = total + s;
  }
}

TEST(CpuLoops, StencilBodyNeedsScheduler) {
  for (int64_t n : {64, 1000}) {
    SCOPED_TRACE(n);
    ir::Graph g = stencil_graph(n, 50);
    auto k = compile(g);
    ASSERT_TRUE(k);
    std::vector<double> u(static_cast<size_t>(n), 0.0);
    u[static_cast<size_t>(n / 2)] = 100.0;
    u[1] = -7.5;
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {n}, u)};
    std::vector<Buffer> out = run_kernel(g, *k, in);
    double total = 0.0;
    stencil_reference(u, total, 50);
    EXPECT_EQ(values<double>(out[0]), u);  // elementwise: NumPy's bits
    expect_near(values<double>(out[1]), {total});
  }
}

// x = (W @ x) * 0.25 + b inside the body (matmul with an invariant matrix), then x's argmax.
TEST(CpuLoops, MatmulBody) {
  ir::Graph g = parse_ok(R"(
func @power(%0, %1, %2) {
  %0 = param 0 contiguous : f64[8,1]
  %1 = param 1 contiguous : f64[8,8]
  %2 = param 2 contiguous : f64[8,1]
  %3 = loop %0, %1, %2 {ints = [25, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[8,1]
      %2 = param 2 contiguous : f64[8,8]
      %3 = param 3 contiguous : f64[8,1]
      %4 = matmul %2, %1 : f64[8,1]
      %5 = const 0.25 : f64[]
      %6 = mul %4, %5 : f64[8,1]
      %7 = add %6, %3 : f64[8,1]
      return %7
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : f64[8,1]
  %5 = argmax %4 {ints = [0], fval = 0.0} : i64[1,1]
  return %4, %5
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<double> x(8), W(64), b(8);
  for (int i = 0; i < 8; ++i) {
    x[static_cast<size_t>(i)] = 0.5 * i - 1.0;
    b[static_cast<size_t>(i)] = (i % 3) - 1.0;
    for (int j = 0; j < 8; ++j) W[static_cast<size_t>(i * 8 + j)] = ((i * 5 + j * 3) % 7) - 3.0;
  }
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {8, 1}, x), buffer_of<double>(DType::F64, {8, 8}, W),
                            buffer_of<double>(DType::F64, {8, 1}, b)};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<double> want = x;
  for (int it = 0; it < 25; ++it) {
    std::vector<double> nx(8);
    for (size_t i = 0; i < 8; ++i) {
      double s = 0;
      for (size_t j = 0; j < 8; ++j) s += W[i * 8 + j] * want[j];
      nx[i] = s * 0.25 + b[i];
    }
    want = nx;
  }
  expect_near(values<double>(out[0]), want, 1e-9);
  std::vector<double> got = values<double>(out[0]);
  int64_t am = 0;
  for (size_t i = 1; i < 8; ++i)
    if (got[i] > got[static_cast<size_t>(am)]) am = static_cast<int64_t>(i);
  EXPECT_EQ(values<int64_t>(out[1]), std::vector<int64_t>{am});
}

// ---- Results that are params, constants, duplicates (top level and body). ----

TEST(CpuLoops, PassThroughConstantAndDuplicateResults) {
  ir::Graph g = parse_ok(R"(
func @dups(%0) {
  %0 = param 0 contiguous : f64[3]
  %1 = const 1.5 : f64[]
  %2 = loop %0, %1, %0 {ints = [4, 3, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[3]
      %2 = param 2 scalar : f64[]
      %3 = param 3 contiguous : f64[3]
      %4 = add %1, %2 : f64[3]
      %5 = const 7.0 : f64[]
      return %4, %5, %4
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[3]
  %4 = loop_result %2 {ints = [1], fval = 0.0} : f64[]
  %5 = loop_result %2 {ints = [2], fval = 0.0} : f64[3]
  %6 = const 2.5 : f64[]
  return %3, %3, %4, %5, %0, %6
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<double> x = {1, -2, 0.5};
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {3}, x)};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<double> a = x;
  double s = 1.5;
  for (int it = 0; it < 4; ++it) {
    for (double& v : a) v = v + s;
    s = 7.0;
  }
  EXPECT_EQ(values<double>(out[0]), a);
  EXPECT_EQ(values<double>(out[1]), a);
  EXPECT_EQ(values<double>(out[2]), std::vector<double>{7.0});
  EXPECT_EQ(values<double>(out[3]), a);
  EXPECT_EQ(values<double>(out[4]), x);
  EXPECT_EQ(values<double>(out[5]), std::vector<double>{2.5});
}

// A loop reading another loop's result directly (as carried and invariant), a dead loop (never
// run), and a bool carried value.
TEST(CpuLoops, LoopAfterLoopAndDeadLoop) {
  ir::Graph g = parse_ok(R"(
func @chain(%0) {
  %0 = param 0 contiguous : f64[10]
  %1 = loop %0 {ints = [3, 1, 0, 1], fval = 0.0} : i64[]
    region func @b1(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[10]
      %2 = const 0.5 : f64[]
      %3 = mul %1, %2 : f64[10]
      %4 = const 1.0 : f64[]
      %5 = add %3, %4 : f64[10]
      return %5
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : f64[10]
  %3 = const false : bool[]
  %4 = loop %2, %3, %2 {ints = [4, 2, 0, 1], fval = 0.0} : i64[]
    region func @b2(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[10]
      %2 = param 2 scalar : bool[]
      %3 = param 3 contiguous : f64[10]
      %4 = add %1, %3 : f64[10]
      %5 = not %2 : bool[]
      return %4, %5
    }
  %5 = loop_result %4 {ints = [0], fval = 0.0} : f64[10]
  %6 = loop_result %4 {ints = [1], fval = 0.0} : bool[]
  %7 = loop %0 {ints = [1000000000, 1, 0, 1], fval = 0.0} : i64[]
    region func @dead(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[10]
      return %1
    }
  %8 = loop_result %7 {ints = [0], fval = 0.0} : f64[10]
  return %5, %6
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->loops, 2);
  std::vector<double> x = ramp(10, -1.0, 0.3);
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {10}, x)};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  std::vector<double> y = x;
  for (int it = 0; it < 3; ++it)
    for (double& v : y) v = v * 0.5 + 1.0;
  std::vector<double> z = y;
  for (int it = 0; it < 4; ++it)
    for (size_t e = 0; e < 10; ++e) z[e] = z[e] + y[e];
  EXPECT_EQ(values<double>(out[0]), z);
  EXPECT_EQ(values<bool>(out[1]), std::vector<bool>{false});
}

// ---- Compile time is independent of the trip count: the same kernels either way. ----

TEST(CpuLoops, CompiledPartsIndependentOfTripCount) {
  ir::Graph g10 = stencil_graph(32, 10), g1000 = stencil_graph(32, 1000);
  auto k10 = compile(g10);
  auto k1000 = compile(g1000);
  ASSERT_TRUE(k10 && k1000);
  EXPECT_EQ(program_info(*k10)->kernels, program_info(*k1000)->kernels);
  EXPECT_EQ(program_info(*k10)->kernels, 1);
  EXPECT_EQ(program_info(*k10)->frame_bytes, program_info(*k1000)->frame_bytes);
  // The body graph is the same: the second program reuses the first one's live code.
  EXPECT_TRUE(k1000->from_cache());
  for (int64_t trip : {10, 1000}) {
    std::vector<double> u(32, 0.0);
    u[3] = 1.0;
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {32}, u)};
    std::vector<Buffer> out = run_kernel(trip == 10 ? g10 : g1000, trip == 10 ? *k10 : *k1000, in);
    double total = 0;
    stencil_reference(u, total, trip);
    EXPECT_EQ(values<double>(out[0]), u);
    expect_near(values<double>(out[1]), {total}, 1e-10);
  }
}

// ---- Freeing a program frees its kernels: compiling it again generates code again. ----

TEST(CpuLoops, FreeingProgramFreesEverything) {
  // A graph no other test compiles (its constant).
  ir::Graph unique = parse_ok(subst(kScale, {{"$DT", "f64"}, {"$N", "33"}, {"$TRIP", "9"}, {"$C", "0.4375"}}));
  std::vector<double> x = ramp(33, 0.0, 1.0), want = x;
  for (int it = 0; it < 9; ++it)
    for (double& v : want) v = v * 0.4375 + 1.0;
  for (int rep = 0; rep < 50; ++rep) {
    auto k = compile(unique);
    ASSERT_TRUE(k);
    EXPECT_FALSE(k->from_cache()) << "rep " << rep << ": the previous program's code is still live";
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {33}, x)};
    EXPECT_EQ(values<double>(run_kernel(unique, *k, in)[0]), want);
  }
}

// ---- The persistent object cache works per part. ----

TEST(CpuLoops, PersistentCachePerPart) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("tracejit_loops_cache_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  CpuCompileOptions opts;
  opts.cache_dir = dir.string();
  ir::Graph g = stencil_graph(48, 12);
  std::vector<double> u(48, 0.0);
  u[7] = 2.0;
  std::vector<double> want = u;
  double total = 0;
  stencil_reference(want, total, 12);
  for (int rep = 0; rep < 2; ++rep) {
    auto k = compile(g, opts);
    ASSERT_TRUE(k);
    EXPECT_EQ(k->from_cache(), rep == 1);  // the second time, every kernel comes from disk
    EXPECT_GT(k->compile_ms(), 0.0);
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {48}, u)};
    std::vector<Buffer> out = run_kernel(g, *k, in);
    EXPECT_EQ(values<double>(out[0]), want);
    expect_near(values<double>(out[1]), {total});
  }
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir)) entries += e.path().extension() == ".tjo";
  EXPECT_EQ(entries, 1u);
  fs::remove_all(dir);
}

// ---- Several threads run one program at once. ----

TEST(CpuLoops, ConcurrentCallers) {
  ir::Graph g = stencil_graph(200, 30);
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<std::thread> threads;
  std::vector<int> bad(6, 0);
  for (int t = 0; t < 6; ++t)
    threads.emplace_back([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        std::vector<double> u(200, 0.0);
        u[static_cast<size_t>(t * 30 + rep)] = 1.0 + t;
        std::vector<Buffer> in = {buffer_of<double>(DType::F64, {200}, u)};
        std::vector<Buffer> out = run_kernel(g, *k, in);
        double total = 0;
        stencil_reference(u, total, 30);
        if (values<double>(out[0]) != u) ++bad[static_cast<size_t>(t)];
      }
    });
  for (auto& th : threads) th.join();
  for (int t = 0; t < 6; ++t) EXPECT_EQ(bad[static_cast<size_t>(t)], 0) << "thread " << t;
}

// ---- Symbolic dims: the program's scratch is laid out per call from sym_dims. ----

TEST(CpuLoops, SymbolicDimsSizedPerCall) {
  ir::Graph g = parse_ok(R"(
func @sym(%0) {
  %0 = param 0 contiguous : f64[s0]
  %1 = loop %0 {ints = [3, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[s0]
      %2 = neg %1 : f64[s0]
      return %2
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : f64[s0]
  return %2
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  for (int64_t n : {2, 1000, 5, 100000}) {  // the pooled frame's arena grows, then is reused
    SCOPED_TRACE(n);
    std::vector<double> x0 = ramp(n, -2.0, 0.5);
    Buffer in = buffer_of<double>(DType::F64, {n}, x0), out = make_buffer(DType::F64, {n});
    void* ins[] = {in.data()};
    const int64_t* strides[] = {in.strides.data()};
    void* outs[] = {out.data()};
    int64_t sym[] = {n};
    k->run(ins, strides, outs, sym);
    std::vector<double> want;
    for (double v : x0) want.push_back(-v);
    EXPECT_EQ(values<double>(out), want);
  }
}

// A graph built in C++ (as the tracer does), not parsed: x = where(x > 1, x - 1, x * 3), i32.
TEST(CpuLoops, BuiltInCpp) {
  using ir::Type;
  ir::Graph body;
  body.name = "collatzish";
  Type t = Type::of(DType::I32, {7});
  body.add_param(Type::scalar(DType::I64), ir::ParamLayout::Scalar);
  ir::ValueId x = body.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId one = body.add_const_int(DType::I32, 1), three = body.add_const_int(DType::I32, 3);
  ir::ValueId big = body.add_op(Op::Gt, t.with_dtype(DType::Bool), {x, one});
  ir::ValueId dec = body.add_op(Op::Sub, t, {x, one}), tri = body.add_op(Op::Mul, t, {x, three});
  body.results = {body.add_op(Op::Where, t, {big, dec, tri})};
  ir::Graph g;
  g.name = "built";
  ir::ValueId p = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::Node loop;
  loop.op = Op::Loop;
  loop.type = Type::scalar(DType::I64);
  loop.operands = {p};
  loop.ints = {12, 1, 0, 1};
  loop.regions = {std::make_shared<ir::Graph>(body)};
  ir::ValueId l = g.add(loop);
  ir::Node lr;
  lr.op = Op::LoopResult;
  lr.type = t;
  lr.operands = {l};
  lr.ints = {0};
  g.results = {g.add(lr)};
  ASSERT_TRUE(ir::verify(g).ok()) << ir::verify(g).message();
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<int32_t> x0 = {0, 1, 2, 5, -3, 40, 1000};
  std::vector<Buffer> in = {buffer_of<int32_t>(DType::I32, {7}, x0)};
  std::vector<int32_t> want = x0;
  for (int it = 0; it < 12; ++it)
    for (int32_t& v : want) v = v > 1 ? v - 1 : v * 3;
  EXPECT_EQ(values<int32_t>(run_kernel(g, *k, in)[0]), want);
}

}  // namespace
}  // namespace tracejit::backends::testing
