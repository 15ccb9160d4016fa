// dyn_update (element and window stores) and native scalar loop nests: a loop whose body only
// reads and writes single elements compiles to one native function (backends/cpu/scalar_loop.h);
// everything else keeps the program path. Every case is checked against plain C++, both with
// native nests and with them disabled.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <random>
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

std::string dims(const std::vector<int64_t>& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + std::to_string(s[i]);
  return out;
}

// ---- dyn_update in a single kernel: any rank, window and step (negative steps too). ----

struct UpdateCase {
  std::vector<int64_t> shape, window, starts, steps;
};

template <class T>
void check_update(DType d, const std::string& dt, const UpdateCase& c) {
  SCOPED_TRACE(dt + " x[" + dims(c.shape) + "] window [" + dims(c.window) + "] starts [" + dims(c.starts) +
               "] steps [" + dims(c.steps) + "]");
  const size_t r = c.shape.size();
  std::string params, starts;
  for (size_t a = 0; a < r; ++a) {
    params += ", %" + std::to_string(a + 2);
    starts += fmt::format("  %{} = param {} scalar : i64[]\n", a + 2, a + 2);
  }
  std::string ints;
  for (size_t a = 0; a < r; ++a) ints += (a ? ", " : "") + std::to_string(c.steps[a]);
  // x * 1 first: the update's operand is a computed value, not the param itself.
  std::string text = fmt::format(R"(
func @upd(%0, %1{0}) {{
  %0 = param 0 contiguous : {1}[{2}]
  %1 = param 1 contiguous : {1}[{3}]
{4}  %{5} = dyn_update %0, %1{0} {{ints = [{6}], fval = 0.0}} : {1}[{2}]
  %{7} = dyn_update %{5}, %1{0} {{ints = [{6}], fval = 0.0}} : {1}[{2}]
  return %{5}, %0
}}
)",
                                 params, dt, dims(c.shape), dims(c.window), starts, r + 2, ints, r + 3);
  ir::Graph g = parse_ok(text);
  auto k = compile(g);
  ASSERT_TRUE(k);
  Buffer x = make_buffer(d, c.shape), v = make_buffer(d, c.window);
  for (int64_t i = 0; i < x.numel(); ++i) x.set<T>(i, static_cast<T>(i % 7 + 1));
  for (int64_t i = 0; i < v.numel(); ++i) v.set<T>(i, static_cast<T>(100 + i % 13));
  std::vector<Buffer> in = {x, v};
  for (size_t a = 0; a < r; ++a) in.push_back(buffer_of<int64_t>(DType::I64, {}, {c.starts[a]}));
  std::vector<T> want = values<T>(x);
  for (int64_t i = 0; i < v.numel(); ++i) {
    std::vector<int64_t> w = unravel(i, c.window);
    int64_t flat = 0;
    for (size_t a = 0; a < r; ++a) flat = flat * c.shape[a] + c.starts[a] + w[a] * c.steps[a];
    want[static_cast<size_t>(flat)] = v.get<T>(i);
  }
  std::vector<Buffer> out = run_kernel(g, *k, in);
  EXPECT_EQ(values<T>(out[0]), want);
  EXPECT_EQ(values<T>(out[1]), values<T>(x));  // the operand is a value: unchanged
}

const std::vector<UpdateCase> kUpdateCases = {
    {{10}, {1}, {3}, {1}},
    {{10}, {4}, {2}, {2}},
    {{10}, {3}, {9}, {-4}},
    {{10}, {10}, {0}, {1}},
    {{10}, {0}, {5}, {1}},
    {{6, 5}, {1, 1}, {4, 2}, {1, 1}},
    {{6, 5}, {6, 1}, {0, 3}, {1, 1}},      // u[:, t] = column
    {{6, 5}, {1, 5}, {2, 0}, {1, 1}},      // u[t, :] = row
    {{6, 5}, {3, 2}, {5, 1}, {-2, 3}},
    {{3, 4, 5}, {2, 1, 3}, {1, 2, 4}, {1, 1, -2}},
};

TEST(CpuDynUpdate, WindowsStepsRanks) {
  for (const UpdateCase& c : kUpdateCases) {
    check_update<double>(DType::F64, "f64", c);
    check_update<int32_t>(DType::I32, "i32", c);
    check_update<bool>(DType::Bool, "bool", c);
  }
}

// ---- Edit distance: three loop nests (two 1-d fills and the 2-d recurrence). ----

const char* kEdit = R"(
func @edit(%0, %1, %2) {
  %0 = param 0 contiguous : i64[$N]
  %1 = param 1 contiguous : i64[$M]
  %2 = param 2 contiguous : i64[$R,$C]
  %3 = loop %2 {ints = [$R, 1, 0, 1], fval = 0.0} : i64[]
    region func @rows(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[$R,$C]
      %2 = const 0 : i64[]
      %3 = reshape %0 : i64[1,1]
      %4 = dyn_update %1, %3, %0, %2 {ints = [1, 1], fval = 0.0} : i64[$R,$C]
      return %4
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : i64[$R,$C]
  %5 = loop %4 {ints = [$C, 1, 0, 1], fval = 0.0} : i64[]
    region func @cols(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[$R,$C]
      %2 = const 0 : i64[]
      %3 = reshape %0 : i64[1,1]
      %4 = dyn_update %1, %3, %2, %0 {ints = [1, 1], fval = 0.0} : i64[$R,$C]
      return %4
    }
  %6 = loop_result %5 {ints = [0], fval = 0.0} : i64[$R,$C]
  %7 = loop %6, %0, %1 {ints = [$N, 1, 1, 1], fval = 0.0} : i64[]
    region func @outer(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[$R,$C]
      %2 = param 2 contiguous : i64[$N]
      %3 = param 3 contiguous : i64[$M]
      %4 = loop %1, %2, %3, %0 {ints = [$M, 1, 1, 1], fval = 0.0} : i64[]
        region func @inner(%0, %1, %2, %3, %4) {
          %0 = param 0 scalar : i64[]
          %1 = param 1 contiguous : i64[$R,$C]
          %2 = param 2 contiguous : i64[$N]
          %3 = param 3 contiguous : i64[$M]
          %4 = param 4 scalar : i64[]
          %5 = const 1 : i64[]
          %6 = sub %4, %5 : i64[]
          %7 = sub %0, %5 : i64[]
          %8 = dyn_slice %2, %6 {ints = [1], fval = 0.0} : i64[1]
          %9 = reshape %8 : i64[]
          %10 = dyn_slice %3, %7 {ints = [1], fval = 0.0} : i64[1]
          %11 = reshape %10 : i64[]
          %12 = eq %9, %11 : bool[]
          %13 = const 0 : i64[]
          %14 = where %12, %13, %5 : i64[]
          %15 = dyn_slice %1, %6, %0 {ints = [1, 1], fval = 0.0} : i64[1,1]
          %16 = reshape %15 : i64[]
          %17 = add %16, %5 : i64[]
          %18 = dyn_slice %1, %4, %7 {ints = [1, 1], fval = 0.0} : i64[1,1]
          %19 = reshape %18 : i64[]
          %20 = add %19, %5 : i64[]
          %21 = dyn_slice %1, %6, %7 {ints = [1, 1], fval = 0.0} : i64[1,1]
          %22 = reshape %21 : i64[]
          %23 = add %22, %14 : i64[]
          %24 = lt %20, %17 : bool[]
          %25 = where %24, %20, %17 : i64[]
          %26 = lt %23, %25 : bool[]
          %27 = where %26, %23, %25 : i64[]
          %28 = reshape %27 : i64[1,1]
          %29 = dyn_update %1, %28, %4, %0 {ints = [1, 1], fval = 0.0} : i64[$R,$C]
          return %29
        }
      %5 = loop_result %4 {ints = [0], fval = 0.0} : i64[$R,$C]
      return %5
    }
  %8 = loop_result %7 {ints = [0], fval = 0.0} : i64[$R,$C]
  %9 = slice %8 {ints = [$N, 1, $M, 1], fval = 0.0} : i64[1,1]
  %10 = reshape %9 : i64[]
  return %10, %8
}
)";

ir::Graph edit_graph(int64_t n, int64_t m) {
  return parse_ok(subst(kEdit, {{"$R", std::to_string(n + 1)},
                                {"$C", std::to_string(m + 1)},
                                {"$N", std::to_string(n)},
                                {"$M", std::to_string(m)}}));
}

std::vector<int64_t> levenshtein(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  size_t n = a.size(), m = b.size();
  std::vector<int64_t> d((n + 1) * (m + 1), 0);
  for (size_t i = 0; i <= n; ++i) d[i * (m + 1)] = static_cast<int64_t>(i);
  for (size_t j = 0; j <= m; ++j) d[j] = static_cast<int64_t>(j);
  for (size_t i = 1; i <= n; ++i)
    for (size_t j = 1; j <= m; ++j) {
      int64_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i * (m + 1) + j] = std::min({d[(i - 1) * (m + 1) + j] + 1, d[i * (m + 1) + j - 1] + 1,
                                     d[(i - 1) * (m + 1) + j - 1] + cost});
    }
  return d;
}

std::vector<int64_t> random_symbols(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> v(n);
  for (int64_t& x : v) x = static_cast<int64_t>(rng() % 4);
  return v;
}

void check_edit(int64_t n, int64_t m, bool native) {
  SCOPED_TRACE(fmt::format("n={} m={} native={}", n, m, native));
  ir::Graph g = edit_graph(n, m);
  auto k = compile(g, native);
  ASSERT_TRUE(k);
  const ProgramInfo* info = program_info(*k);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->native_loops, native ? 3 : 0);
  if (native) EXPECT_TRUE(info->native_rejections.empty()) << info->native_rejections[0];
  // The program path: both fills, the inner loop, and the outer loop through it (the inner loop
  // runs in the outer loop's buffer) are in place.
  if (!native) EXPECT_EQ(info->in_place_carried, 4);
  auto a = random_symbols(static_cast<size_t>(n), 1), b = random_symbols(static_cast<size_t>(m), 2);
  std::vector<int64_t> zeros(static_cast<size_t>((n + 1) * (m + 1)), 0);
  std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {n}, a), buffer_of<int64_t>(DType::I64, {m}, b),
                            buffer_of<int64_t>(DType::I64, {n + 1, m + 1}, zeros)};
  std::vector<int64_t> want = levenshtein(a, b);
  for (int rep = 0; rep < 2; ++rep) {
    std::vector<Buffer> out = run_kernel(g, *k, in);
    EXPECT_EQ(values<int64_t>(out[0]), std::vector<int64_t>{want.back()});
    EXPECT_EQ(values<int64_t>(out[1]), want);
    EXPECT_EQ(values<int64_t>(in[2]), zeros);  // the caller's initial D is never written
  }
}

TEST(CpuScalarLoops, EditDistanceNative) {
  check_edit(40, 30, true);
  check_edit(1, 1, true);
  check_edit(3, 17, true);
}

TEST(CpuScalarLoops, EditDistanceProgramPath) { check_edit(12, 9, false); }

// ---- x[i] = x[i - 1] + x[i]: each iteration reads the previous iteration's store. ----

const char* kPrefix = R"(
func @prefix(%0) {
  %0 = param 0 contiguous : $DT[$N]
  %1 = loop %0 {ints = [$T, 1, 1, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : $DT[$N]
      %2 = const 1 : i64[]
      %3 = sub %0, %2 : i64[]
      %4 = dyn_slice %1, %3 {ints = [1], fval = 0.0} : $DT[1]
      %5 = dyn_slice %1, %0 {ints = [1], fval = 0.0} : $DT[1]
      %6 = add %4, %5 : $DT[1]
      %7 = dyn_update %1, %6, %0 {ints = [1], fval = 0.0} : $DT[$N]
      return %7
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : $DT[$N]
  return %2
}
)";

template <class T>
void check_prefix(DType d, const std::string& dt, int64_t n, bool native) {
  SCOPED_TRACE(fmt::format("{} n={} native={}", dt, n, native));
  ir::Graph g = parse_ok(subst(kPrefix, {{"$DT", dt}, {"$N", std::to_string(n)}, {"$T", std::to_string(n - 1)}}));
  auto k = compile(g, native);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->native_loops, native ? 1 : 0);
  EXPECT_EQ(program_info(*k)->in_place_carried, native ? 0 : 1);  // the program path: one buffer too
  std::vector<T> x;
  for (int64_t i = 0; i < n; ++i) x.push_back(static_cast<T>(0.25 * static_cast<double>(i % 11) + 1));
  std::vector<Buffer> in = {buffer_of<T>(d, {n}, x)};
  std::vector<T> want = x;
  for (size_t i = 1; i < want.size(); ++i) want[i] = want[i - 1] + want[i];
  EXPECT_EQ(values<T>(run_kernel(g, *k, in)[0]), want);
  EXPECT_EQ(values<T>(in[0]), x);
}

TEST(CpuScalarLoops, PrefixSumReadsPreviousStore) {
  for (bool native : {true, false}) {
    check_prefix<double>(DType::F64, "f64", 1000, native);
    check_prefix<float>(DType::F32, "f32", 37, native);
    check_prefix<int16_t>(DType::I16, "i16", 300, native);  // wraps
  }
}

// ---- A read of the old version after the store: in place would be wrong, so not native. ----

TEST(CpuScalarLoops, ReadAfterOverwriteIsNotInPlace) {
  ir::Graph g = parse_ok(R"(
func @late_read(%0) {
  %0 = param 0 contiguous : f64[12]
  %1 = loop %0 {ints = [10, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[12]
      %2 = const 100.0 : f64[]
      %3 = reshape %2 : f64[1]
      %4 = dyn_update %1, %3, %0 {ints = [1], fval = 0.0} : f64[12]
      %5 = dyn_slice %1, %0 {ints = [1], fval = 0.0} : f64[1]
      %6 = const 1.0 : f64[]
      %7 = add %5, %6 : f64[1]
      %8 = const 1 : i64[]
      %9 = add %0, %8 : i64[]
      %10 = dyn_update %4, %7, %9 {ints = [1], fval = 0.0} : f64[12]
      return %10
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : f64[12]
  return %2
}
)");
  // Step i: x[i] = 100 and x[i + 1] = (x[i] before this step's store) + 1. Done in place, the
  // read would see 100.
  std::vector<double> x = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
  std::vector<double> want = x;
  for (int64_t i = 0; i < 10; ++i) {
    double old = want[static_cast<size_t>(i)];
    want[static_cast<size_t>(i)] = 100;
    want[static_cast<size_t>(i + 1)] = old + 1;
  }
  for (bool native : {true, false}) {
    auto k = compile(g, native);
    ASSERT_TRUE(k);
    const ProgramInfo* info = program_info(*k);
    EXPECT_EQ(info->native_loops, 0);
    EXPECT_EQ(info->in_place_carried, 0);  // nor in place on the program path
    if (native) {
      ASSERT_EQ(info->native_rejections.size(), 1u);
      EXPECT_NE(info->native_rejections[0].find("overwrites"), std::string::npos) << info->native_rejections[0];
    }
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {12}, x)};
    EXPECT_EQ(values<double>(run_kernel(g, *k, in)[0]), want);
  }
}

// ---- Nested loops using the outer induction variable, with a 0-d value carried through both. ----

TEST(CpuScalarLoops, NestedOuterInductionAndCarriedScalar) {
  ir::Graph g = parse_ok(R"(
func @tri(%0, %1) {
  %0 = param 0 contiguous : f64[7,5]
  %1 = param 1 scalar : f64[]
  %2 = loop %0, %1 {ints = [6, 2, 1, 1], fval = 0.0} : i64[]
    region func @outer(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[7,5]
      %2 = param 2 scalar : f64[]
      %3 = loop %1, %2, %0 {ints = [5, 2, 4, -1], fval = 0.0} : i64[]
        region func @inner(%0, %1, %2, %3) {
          %0 = param 0 scalar : i64[]
          %1 = param 1 contiguous : f64[7,5]
          %2 = param 2 scalar : f64[]
          %3 = param 3 scalar : i64[]
          %4 = const 1 : i64[]
          %5 = sub %3, %4 : i64[]
          %6 = dyn_slice %1, %5, %0 {ints = [1, 1], fval = 0.0} : f64[1,1]
          %7 = const 2.0 : f64[]
          %8 = mul %6, %7 : f64[1,1]
          %9 = sub %3, %0 : i64[]
          %10 = cast %9 : f64[]
          %11 = add %8, %10 : f64[1,1]
          %12 = dyn_update %1, %11, %3, %0 {ints = [1, 1], fval = 0.0} : f64[7,5]
          %13 = reshape %11 : f64[]
          %14 = add %2, %13 : f64[]
          return %12, %14
        }
      %4 = loop_result %3 {ints = [0], fval = 0.0} : f64[7,5]
      %5 = loop_result %3 {ints = [1], fval = 0.0} : f64[]
      return %4, %5
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[7,5]
  %4 = loop_result %2 {ints = [1], fval = 0.0} : f64[]
  return %3, %4
}
)");
  std::vector<double> a(35);
  for (size_t k = 0; k < a.size(); ++k) a[k] = 0.5 * static_cast<double>(k % 9);
  std::vector<double> want = a;
  double s = 0.25;
  for (int64_t i = 1; i < 7; ++i)
    for (int64_t j = 4; j >= 0; --j) {
      double v = want[static_cast<size_t>((i - 1) * 5 + j)] * 2.0 + static_cast<double>(i - j);
      want[static_cast<size_t>(i * 5 + j)] = v;
      s += v;
    }
  for (bool native : {true, false}) {
    auto k = compile(g, native);
    ASSERT_TRUE(k);
    EXPECT_EQ(program_info(*k)->native_loops, native ? 1 : 0);
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {7, 5}, a), buffer_of<double>(DType::F64, {}, {0.25})};
    std::vector<Buffer> out = run_kernel(g, *k, in);
    EXPECT_EQ(values<double>(out[0]), want);
    EXPECT_EQ(values<double>(out[1]), std::vector<double>{s});
  }
}

// ---- A time loop storing whole columns (u[:, t] = f(u[:, t - 1])): not scalar, program path. ----

TEST(CpuScalarLoops, ColumnStoreLoopUsesProgramPath) {
  ir::Graph g = parse_ok(R"(
func @cols(%0) {
  %0 = param 0 contiguous : f64[16,24]
  %1 = loop %0 {ints = [23, 1, 1, 1], fval = 0.0} : i64[]
    region func @body(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[16,24]
      %2 = const 1 : i64[]
      %3 = sub %0, %2 : i64[]
      %4 = const 0 : i64[]
      %5 = dyn_slice %1, %4, %3 {ints = [1, 1], fval = 0.0} : f64[16,1]
      %6 = const 0.5 : f64[]
      %7 = mul %5, %6 : f64[16,1]
      %8 = cast %0 : f64[]
      %9 = add %7, %8 : f64[16,1]
      %10 = dyn_update %1, %9, %4, %0 {ints = [1, 1], fval = 0.0} : f64[16,24]
      return %10
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : f64[16,24]
  return %2
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  const ProgramInfo* info = program_info(*k);
  EXPECT_EQ(info->native_loops, 0);
  EXPECT_EQ(info->in_place_carried, 1);  // each step writes one column, not a copy of u
  ASSERT_EQ(info->native_rejections.size(), 1u);
  EXPECT_NE(info->native_rejections[0].find("more than one element"), std::string::npos) << info->native_rejections[0];
  std::vector<double> u(16 * 24);
  for (size_t k2 = 0; k2 < u.size(); ++k2) u[k2] = static_cast<double>(k2 % 5) - 1.5;
  std::vector<double> want = u;
  for (int64_t t = 1; t < 24; ++t)
    for (int64_t r = 0; r < 16; ++r)
      want[static_cast<size_t>(r * 24 + t)] = want[static_cast<size_t>(r * 24 + t - 1)] * 0.5 + static_cast<double>(t);
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {16, 24}, u)};
  EXPECT_EQ(values<double>(run_kernel(g, *k, in)[0]), want);
  EXPECT_EQ(values<double>(in[0]), u);
}

// ---- 0-d recurrences through the shared scalar semantics: native and program bit-identical. ----

TEST(CpuScalarLoops, MixedOpsBitIdenticalToProgramPath) {
  // x: f64 with exp, floor, maximum (NaN-propagating), division, a branch by where; y: i32 with
  // floor-divide and modulo by values that reach 0 and negative numbers; z: u8 wrapping; x and
  // y also store into an f32 array (cast) at the loop variable.
  ir::Graph g = parse_ok(R"(
func @mixed(%0, %1, %2, %3) {
  %0 = param 0 scalar : f64[]
  %1 = param 1 scalar : i32[]
  %2 = param 2 scalar : u8[]
  %3 = param 3 contiguous : f32[50]
  %4 = loop %0, %1, %2, %3 {ints = [50, 4, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3, %4) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 scalar : f64[]
      %2 = param 2 scalar : i32[]
      %3 = param 3 scalar : u8[]
      %4 = param 4 contiguous : f32[50]
      %5 = const 0.1 : f64[]
      %6 = mul %1, %5 : f64[]
      %7 = exp %6 : f64[]
      %8 = floor %1 : f64[]
      %9 = add %7, %8 : f64[]
      %10 = const 1000.0 : f64[]
      %11 = gt %1, %10 : bool[]
      %12 = const 0.001 : f64[]
      %13 = div %1, %12 : f64[]
      %14 = where %11, %13, %9 : f64[]
      %15 = const 7 : i32[]
      %16 = mul %2, %15 : i32[]
      %17 = cast %0 : i32[]
      %18 = const 5 : i32[]
      %19 = sub %17, %18 : i32[]
      %20 = floordiv %16, %19 : i32[]
      %21 = mod %16, %19 : i32[]
      %22 = add %20, %21 : i32[]
      %23 = cast %22 : f64[]
      %24 = maximum %14, %23 : f64[]
      %25 = const 37 : u8[]
      %26 = mul %3, %25 : u8[]
      %27 = cast %0 : u8[]
      %28 = add %26, %27 : u8[]
      %29 = cast %24 : f32[]
      %30 = reshape %29 : f32[1]
      %31 = dyn_update %4, %30, %0 {ints = [1], fval = 0.0} : f32[50]
      return %24, %22, %28, %31
    }
  %5 = loop_result %4 {ints = [0], fval = 0.0} : f64[]
  %6 = loop_result %4 {ints = [1], fval = 0.0} : i32[]
  %7 = loop_result %4 {ints = [2], fval = 0.0} : u8[]
  %8 = loop_result %4 {ints = [3], fval = 0.0} : f32[50]
  return %5, %6, %7, %8
}
)");
  std::vector<std::vector<Buffer>> outs;
  for (bool native : {true, false}) {
    auto k = compile(g, native);
    ASSERT_TRUE(k);
    EXPECT_EQ(program_info(*k)->native_loops, native ? 1 : 0);
    std::vector<Buffer> in = {buffer_of<double>(DType::F64, {}, {0.3}), buffer_of<int32_t>(DType::I32, {}, {3}),
                              buffer_of<uint8_t>(DType::U8, {}, {200}),
                              buffer_of<float>(DType::F32, {50}, std::vector<float>(50, -1.0f))};
    outs.push_back(run_kernel(g, *k, in));
  }
  for (size_t r = 0; r < 4; ++r) {
    SCOPED_TRACE("result " + std::to_string(r));
    ASSERT_EQ(outs[0][r].storage.size(), outs[1][r].storage.size());
    EXPECT_EQ(outs[0][r].storage, outs[1][r].storage);
  }
}

// ---- Chained nests share a buffer unless a later step still reads the earlier value. ----

TEST(CpuScalarLoops, ChainedNestsDonateDeadBuffers) {
  // p = 2x (a segment's scratch) -> prefix sums twice; the first sums are read again after the
  // second loop, so only p's buffer is handed over (to the first loop).
  ir::Graph g = parse_ok(subst(R"(
func @chain(%0) {
  %0 = param 0 contiguous : f64[64]
  %1 = const 2.0 : f64[]
  %2 = mul %0, %1 : f64[64]
  %3 = loop %2 {ints = [63, 1, 1, 1], fval = 0.0} : i64[]
    region func @a(%0, %1) {
      $BODY
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : f64[64]
  %5 = loop %4 {ints = [63, 1, 1, 1], fval = 0.0} : i64[]
    region func @b(%0, %1) {
      $BODY
    }
  %6 = loop_result %5 {ints = [0], fval = 0.0} : f64[64]
  %7 = sub %6, %4 : f64[64]
  return %6, %7
}
)",
                               {{"$BODY", R"(%0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[64]
      %2 = const 1 : i64[]
      %3 = sub %0, %2 : i64[]
      %4 = dyn_slice %1, %3 {ints = [1], fval = 0.0} : f64[1]
      %5 = dyn_slice %1, %0 {ints = [1], fval = 0.0} : f64[1]
      %6 = add %4, %5 : f64[1]
      %7 = dyn_update %1, %6, %0 {ints = [1], fval = 0.0} : f64[64]
      return %7)"}}));
  auto k = compile(g);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->native_loops, 2);
  EXPECT_EQ(program_info(*k)->donated_buffers, 1);
  std::vector<double> x;
  for (int i = 0; i < 64; ++i) x.push_back(0.125 * (i % 7) - 0.25);
  std::vector<double> p1 = x, p2;
  for (double& v : p1) v *= 2.0;
  for (size_t i = 1; i < 64; ++i) p1[i] += p1[i - 1];
  p2 = p1;
  for (size_t i = 1; i < 64; ++i) p2[i] += p2[i - 1];
  std::vector<double> d;
  for (size_t i = 0; i < 64; ++i) d.push_back(p2[i] - p1[i]);
  std::vector<Buffer> in = {buffer_of<double>(DType::F64, {64}, x)};
  for (int rep = 0; rep < 2; ++rep) {
    std::vector<Buffer> out = run_kernel(g, *k, in);
    EXPECT_EQ(values<double>(out[0]), p2);
    EXPECT_EQ(values<double>(out[1]), d);
  }
}

TEST(CpuScalarLoops, NoDonationWhenTheLoopAlsoReadsTheBufferAsInvariant) {
  // %3 and %4 are the same carried value (one buffer); the second loop carries %3 and reads %4:
  // running it in that buffer would let the invariant see the loop's own stores.
  ir::Graph g = parse_ok(R"(
func @alias(%0) {
  %0 = param 0 contiguous : i64[10]
  %1 = const 3 : i64[]
  %2 = loop %0 {ints = [10, 1, 0, 1], fval = 0.0} : i64[]
    region func @a(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[10]
      %2 = const 3 : i64[]
      %3 = mul %0, %2 : i64[]
      %4 = reshape %3 : i64[1]
      %5 = dyn_update %1, %4, %0 {ints = [1], fval = 0.0} : i64[10]
      return %5
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : i64[10]
  %4 = loop_result %2 {ints = [0], fval = 0.0} : i64[10]
  %5 = loop %3, %4 {ints = [9, 1, 1, 1], fval = 0.0} : i64[]
    region func @b(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[10]
      %2 = param 2 contiguous : i64[10]
      %3 = const 1 : i64[]
      %4 = sub %0, %3 : i64[]
      %5 = dyn_slice %1, %4 {ints = [1], fval = 0.0} : i64[1]
      %6 = dyn_slice %2, %4 {ints = [1], fval = 0.0} : i64[1]
      %7 = add %5, %6 : i64[1]
      %8 = dyn_update %1, %7, %0 {ints = [1], fval = 0.0} : i64[10]
      return %8
    }
  %6 = loop_result %5 {ints = [0], fval = 0.0} : i64[10]
  %7 = mul %6, %1 : i64[10]
  return %7
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->native_loops, 2);
  EXPECT_EQ(program_info(*k)->donated_buffers, 0);
  std::vector<int64_t> inv(10), want(10);
  for (int64_t i = 0; i < 10; ++i) inv[static_cast<size_t>(i)] = 3 * i;
  want = inv;
  for (size_t i = 1; i < 10; ++i) want[i] = want[i - 1] + inv[i - 1];
  for (int64_t& v : want) v *= 3;
  std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {10}, std::vector<int64_t>(10, -1))};
  EXPECT_EQ(values<int64_t>(run_kernel(g, *k, in)[0]), want);
}

// ---- Random bodies: reads of any array version (old ones too), element arithmetic and
// stores, against a C++ interpreter of the functional semantics, native and program paths. ----

struct RandomBody {
  // kind 0: read version `a` at i + off -> new scalar; 1: scalar op (`op` of scalars a, b);
  // 2: store scalar `b` into the latest version at i + off -> new version; 3: scalar += s.
  struct Step {
    int kind, a, b, op;
    int64_t off;
  };
  std::vector<Step> steps;
};

constexpr int64_t kRandN = 24, kRandK = 3;

RandomBody random_body(std::mt19937& rng) {
  RandomBody rb;
  int versions = 1, scalars = 1;  // scalar 0: the induction variable
  int n = 4 + static_cast<int>(rng() % 8);
  for (int k = 0; k < n; ++k) {
    int kind = static_cast<int>(rng() % 4);
    int64_t off = static_cast<int64_t>(rng() % (2 * kRandK + 1)) - kRandK;
    if (kind == 0) {
      rb.steps.push_back({0, static_cast<int>(rng() % static_cast<unsigned>(versions)), 0, 0, off});
      ++scalars;
    } else if (kind == 1) {
      rb.steps.push_back({1, static_cast<int>(rng() % static_cast<unsigned>(scalars)),
                          static_cast<int>(rng() % static_cast<unsigned>(scalars)), static_cast<int>(rng() % 4), 0});
      ++scalars;
    } else if (kind == 2) {
      rb.steps.push_back({2, 0, static_cast<int>(rng() % static_cast<unsigned>(scalars)), 0, off});
      ++versions;
    } else {
      rb.steps.push_back({3, static_cast<int>(rng() % static_cast<unsigned>(scalars)), 0, 0, 0});
    }
  }
  return rb;
}

std::string random_body_ir(const RandomBody& rb) {
  std::string body;
  int id = 3;  // %0 i, %1 x, %2 s
  std::vector<int> versions = {1}, scalars = {0};
  int acc = 2;
  auto index = [&](int64_t off) {
    body += fmt::format("      %{} = const {} : i64[]\n      %{} = add %0, %{} : i64[]\n", id, off, id + 1, id);
    id += 2;
    return id - 1;
  };
  static const char* ops[] = {"add", "sub", "mul", "maximum"};
  for (const auto& st : rb.steps) {
    if (st.kind == 0) {
      int at = index(st.off);
      body += fmt::format("      %{} = dyn_slice %{}, %{} {{ints = [1], fval = 0.0}} : i64[1]\n", id, versions[static_cast<size_t>(st.a)], at);
      body += fmt::format("      %{} = reshape %{} : i64[]\n", id + 1, id);
      scalars.push_back(id + 1);
      id += 2;
    } else if (st.kind == 1) {
      body += fmt::format("      %{} = {} %{}, %{} : i64[]\n", id, ops[st.op], scalars[static_cast<size_t>(st.a)],
                          scalars[static_cast<size_t>(st.b)]);
      scalars.push_back(id++);
    } else if (st.kind == 2) {
      int at = index(st.off);
      body += fmt::format("      %{} = reshape %{} : i64[1]\n", id, scalars[static_cast<size_t>(st.b)]);
      body += fmt::format("      %{} = dyn_update %{}, %{}, %{} {{ints = [1], fval = 0.0}} : i64[{}]\n", id + 1,
                          versions.back(), id, at, kRandN);
      versions.push_back(id + 1);
      id += 2;
    } else {
      body += fmt::format("      %{} = add %{}, %{} : i64[]\n", id, acc, scalars[static_cast<size_t>(st.a)]);
      acc = id++;
    }
  }
  return fmt::format(R"(
func @rand(%0, %1) {{
  %0 = param 0 contiguous : i64[{0}]
  %1 = param 1 scalar : i64[]
  %2 = loop %0, %1 {{ints = [{1}, 2, {2}, 1], fval = 0.0}} : i64[]
    region func @body(%0, %1, %2) {{
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[{0}]
      %2 = param 2 scalar : i64[]
{3}      return %{4}, %{5}
    }}
  %3 = loop_result %2 {{ints = [0], fval = 0.0}} : i64[{0}]
  %4 = loop_result %2 {{ints = [1], fval = 0.0}} : i64[]
  return %3, %4
}}
)",
                     kRandN, kRandN - 2 * kRandK, kRandK, body, versions.back(), acc);
}

std::pair<std::vector<int64_t>, int64_t> random_body_reference(const RandomBody& rb, std::vector<int64_t> x, int64_t s) {
  for (int64_t i = kRandK; i < kRandN - kRandK; ++i) {
    std::vector<std::vector<int64_t>> versions = {x};
    std::vector<int64_t> scalars = {i};
    for (const auto& st : rb.steps) {
      if (st.kind == 0) {
        scalars.push_back(versions[static_cast<size_t>(st.a)][static_cast<size_t>(i + st.off)]);
      } else if (st.kind == 1) {
        auto a = static_cast<uint64_t>(scalars[static_cast<size_t>(st.a)]), b = static_cast<uint64_t>(scalars[static_cast<size_t>(st.b)]);
        int64_t r = st.op == 0 ? static_cast<int64_t>(a + b)
                    : st.op == 1 ? static_cast<int64_t>(a - b)
                    : st.op == 2 ? static_cast<int64_t>(a * b)
                                 : std::max(static_cast<int64_t>(a), static_cast<int64_t>(b));
        scalars.push_back(r);
      } else if (st.kind == 2) {
        versions.push_back(versions.back());
        versions.back()[static_cast<size_t>(i + st.off)] = scalars[static_cast<size_t>(st.b)];
      } else {
        s = static_cast<int64_t>(static_cast<uint64_t>(s) + static_cast<uint64_t>(scalars[static_cast<size_t>(st.a)]));
      }
    }
    x = versions.back();
  }
  return {x, s};
}

TEST(CpuScalarLoops, RandomBodiesMatchInterpreter) {
  std::mt19937 rng(12345);
  int native_count = 0, rejected = 0;
  for (int t = 0; t < 30; ++t) {
    RandomBody rb = random_body(rng);
    std::string text = random_body_ir(rb);
    SCOPED_TRACE(text);
    ir::Graph g = parse_ok(text);
    std::vector<int64_t> x;
    for (int64_t k = 0; k < kRandN; ++k) x.push_back((k * 7919) % 23 - 11);
    auto want = random_body_reference(rb, x, 5);
    for (bool native : {true, false}) {
      auto k = compile(g, native);
      ASSERT_TRUE(k);
      if (native) (program_info(*k)->native_loops ? native_count : rejected) += 1;
      std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {kRandN}, x), buffer_of<int64_t>(DType::I64, {}, {5})};
      std::vector<Buffer> out = run_kernel(g, *k, in);
      EXPECT_EQ(values<int64_t>(out[0]), want.first) << "native=" << native;
      EXPECT_EQ(values<int64_t>(out[1]), std::vector<int64_t>{want.second}) << "native=" << native;
    }
  }
  // Both kinds occur: bodies that read an overwritten version are refused, the others native.
  EXPECT_GT(native_count, 0);
  EXPECT_GT(rejected, 0);
}

// ---- Random two-level nests: steps before and after an inner loop in the outer body (reads of
// versions from before the inner loop included), random inner bodies; x[i + oi, j + oj]. ----

constexpr int64_t kNestR = 9, kNestC = 11;

// One random step list: kinds as in RandomBody; `a` picks a version or scalar, offsets are
// (row, column) offsets in [-K, K].
struct NestStep {
  int kind, a, b, op;
  int64_t oi, oj;
};

std::vector<NestStep> random_steps(std::mt19937& rng, int n, int versions, int scalars) {
  std::vector<NestStep> out;
  for (int k = 0; k < n; ++k) {
    int kind = static_cast<int>(rng() % 4);
    int64_t oi = static_cast<int64_t>(rng() % (2 * kRandK + 1)) - kRandK;
    int64_t oj = static_cast<int64_t>(rng() % (2 * kRandK + 1)) - kRandK;
    int a = static_cast<int>(rng() % static_cast<unsigned>(kind == 0 ? versions : scalars));
    int b = static_cast<int>(rng() % static_cast<unsigned>(scalars));
    out.push_back({kind, a, b, static_cast<int>(rng() % 4), oi, oj});
    if (kind == 0 || kind == 1) ++scalars;
    if (kind == 2) ++versions;
  }
  return out;
}

// IR text of `steps` appended to `body`, ids from `id`; `col` is the column index value (-1: the
// constant column kRandK + oj).
struct NestCtx {
  std::string body;
  int id = 0;
  std::vector<int> versions, scalars;
  int acc = 0, row = 0, col = -1;
};

void emit_steps(NestCtx& c, const std::vector<NestStep>& steps) {
  static const char* ops[] = {"add", "sub", "mul", "maximum"};
  auto index = [&](int base, int64_t off) {
    c.body += fmt::format("      %{} = const {} : i64[]\n", c.id, off);
    if (base < 0) return c.id++;
    c.body += fmt::format("      %{} = add %{}, %{} : i64[]\n", c.id + 1, base, c.id);
    c.id += 2;
    return c.id - 1;
  };
  for (const NestStep& st : steps) {
    if (st.kind == 0 || st.kind == 2) {
      int r = index(c.row, st.oi), q = index(c.col, c.col < 0 ? kRandK + st.oj : st.oj);
      if (st.kind == 0) {
        c.body += fmt::format("      %{} = dyn_slice %{}, %{}, %{} {{ints = [1, 1], fval = 0.0}} : i64[1,1]\n", c.id,
                              c.versions[static_cast<size_t>(st.a)], r, q);
        c.body += fmt::format("      %{} = reshape %{} : i64[]\n", c.id + 1, c.id);
        c.scalars.push_back(c.id + 1);
      } else {
        c.body += fmt::format("      %{} = reshape %{} : i64[1,1]\n", c.id, c.scalars[static_cast<size_t>(st.b)]);
        c.body += fmt::format("      %{} = dyn_update %{}, %{}, %{}, %{} {{ints = [1, 1], fval = 0.0}} : i64[{},{}]\n",
                              c.id + 1, c.versions.back(), c.id, r, q, kNestR, kNestC);
        c.versions.push_back(c.id + 1);
      }
      c.id += 2;
    } else if (st.kind == 1) {
      c.body += fmt::format("      %{} = {} %{}, %{} : i64[]\n", c.id, ops[st.op], c.scalars[static_cast<size_t>(st.a)],
                            c.scalars[static_cast<size_t>(st.b)]);
      c.scalars.push_back(c.id++);
    } else {
      c.body += fmt::format("      %{} = add %{}, %{} : i64[]\n", c.id, c.acc, c.scalars[static_cast<size_t>(st.a)]);
      c.acc = c.id++;
    }
  }
}

struct RandomNest {
  std::vector<NestStep> pre, inner, post;
};

std::string random_nest_ir(const RandomNest& rn) {
  NestCtx in;  // inner body: %0 j, %1 x, %2 s, %3 i
  in.id = 4, in.versions = {1}, in.scalars = {0, 3}, in.acc = 2, in.row = 3, in.col = 0;
  emit_steps(in, rn.inner);
  NestCtx out;  // outer body: %0 i, %1 x, %2 s
  out.id = 3, out.versions = {1}, out.scalars = {0}, out.acc = 2, out.row = 0, out.col = -1;
  emit_steps(out, rn.pre);
  int l = out.id;
  std::string inner_body = in.body;
  for (size_t p = 0; (p = inner_body.find("\n      ", p)) != std::string::npos; p += 5) inner_body.insert(p + 1, "    ");
  inner_body = "    " + inner_body;
  out.body += fmt::format(R"(      %{0} = loop %{1}, %{2}, %0 {{ints = [{3}, 2, {4}, 1], fval = 0.0}} : i64[]
        region func @inner(%0, %1, %2, %3) {{
          %0 = param 0 scalar : i64[]
          %1 = param 1 contiguous : i64[{5},{6}]
          %2 = param 2 scalar : i64[]
          %3 = param 3 scalar : i64[]
{7}          return %{8}, %{9}
        }}
      %{10} = loop_result %{0} {{ints = [0], fval = 0.0}} : i64[{5},{6}]
      %{11} = loop_result %{0} {{ints = [1], fval = 0.0}} : i64[]
)",
                          l, out.versions.back(), out.acc, kNestC - 2 * kRandK, kRandK, kNestR, kNestC, inner_body,
                          in.versions.back(), in.acc, l + 1, l + 2);
  out.versions.push_back(l + 1);
  out.acc = l + 2;
  out.id = l + 3;
  emit_steps(out, rn.post);
  return fmt::format(R"(
func @nest(%0, %1) {{
  %0 = param 0 contiguous : i64[{0},{1}]
  %1 = param 1 scalar : i64[]
  %2 = loop %0, %1 {{ints = [{2}, 2, {3}, 1], fval = 0.0}} : i64[]
    region func @outer(%0, %1, %2) {{
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[{0},{1}]
      %2 = param 2 scalar : i64[]
{4}      return %{5}, %{6}
    }}
  %3 = loop_result %2 {{ints = [0], fval = 0.0}} : i64[{0},{1}]
  %4 = loop_result %2 {{ints = [1], fval = 0.0}} : i64[]
  return %3, %4
}}
)",
                     kNestR, kNestC, kNestR - 2 * kRandK, kRandK, out.body, out.versions.back(), out.acc);
}

// The reference: versions are copies; `row`/`col` are the current indices (col < 0: constant).
void run_steps(const std::vector<NestStep>& steps, std::vector<std::vector<int64_t>>& versions,
               std::vector<int64_t>& scalars, int64_t& acc, int64_t row, int64_t col) {
  for (const NestStep& st : steps) {
    int64_t r = row + st.oi, q = col < 0 ? kRandK + st.oj : col + st.oj;
    auto at = static_cast<size_t>(r * kNestC + q);
    if (st.kind == 0) {
      scalars.push_back(versions[static_cast<size_t>(st.a)][at]);
    } else if (st.kind == 2) {
      versions.push_back(versions.back());
      versions.back()[at] = scalars[static_cast<size_t>(st.b)];
    } else if (st.kind == 1) {
      auto a = static_cast<uint64_t>(scalars[static_cast<size_t>(st.a)]), b = static_cast<uint64_t>(scalars[static_cast<size_t>(st.b)]);
      scalars.push_back(st.op == 0   ? static_cast<int64_t>(a + b)
                        : st.op == 1 ? static_cast<int64_t>(a - b)
                        : st.op == 2 ? static_cast<int64_t>(a * b)
                                     : std::max(static_cast<int64_t>(a), static_cast<int64_t>(b)));
    } else {
      acc = static_cast<int64_t>(static_cast<uint64_t>(acc) + static_cast<uint64_t>(scalars[static_cast<size_t>(st.a)]));
    }
  }
}

std::pair<std::vector<int64_t>, int64_t> random_nest_reference(const RandomNest& rn, std::vector<int64_t> x, int64_t s) {
  for (int64_t i = kRandK; i < kNestR - kRandK; ++i) {
    std::vector<std::vector<int64_t>> ov = {x};
    std::vector<int64_t> os = {i};
    run_steps(rn.pre, ov, os, s, i, -1);
    std::vector<int64_t> y = ov.back();
    for (int64_t j = kRandK; j < kNestC - kRandK; ++j) {
      std::vector<std::vector<int64_t>> iv = {y};
      std::vector<int64_t> is = {j, i};
      run_steps(rn.inner, iv, is, s, i, j);
      y = iv.back();
    }
    ov.push_back(y);
    run_steps(rn.post, ov, os, s, i, -1);
    x = ov.back();
  }
  return {x, s};
}

TEST(CpuScalarLoops, RandomNestsMatchInterpreter) {
  std::mt19937 rng(4242);
  int native_count = 0, rejected = 0;
  for (int t = 0; t < 20; ++t) {
    RandomNest rn;
    rn.pre = random_steps(rng, static_cast<int>(rng() % 4), 1, 1);
    int pre_versions = 1, pre_scalars = 1;
    for (const NestStep& st : rn.pre) {
      pre_versions += st.kind == 2;
      pre_scalars += st.kind == 0 || st.kind == 1;
    }
    rn.inner = random_steps(rng, 3 + static_cast<int>(rng() % 6), 1, 2);
    rn.post = random_steps(rng, static_cast<int>(rng() % 4), pre_versions + 1, pre_scalars);
    std::string text = random_nest_ir(rn);
    SCOPED_TRACE(text);
    ir::Graph g = parse_ok(text);
    std::vector<int64_t> x;
    for (int64_t k = 0; k < kNestR * kNestC; ++k) x.push_back((k * 7919) % 29 - 14);
    auto want = random_nest_reference(rn, x, 3);
    for (bool native : {true, false}) {
      auto k = compile(g, native);
      ASSERT_TRUE(k);
      if (native) (program_info(*k)->native_loops ? native_count : rejected) += 1;
      std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {kNestR, kNestC}, x),
                                buffer_of<int64_t>(DType::I64, {}, {3})};
      std::vector<Buffer> out = run_kernel(g, *k, in);
      EXPECT_EQ(values<int64_t>(out[0]), want.first) << "native=" << native;
      EXPECT_EQ(values<int64_t>(out[1]), std::vector<int64_t>{want.second}) << "native=" << native;
    }
  }
  EXPECT_GT(native_count, 0);
  EXPECT_GT(rejected, 0);
}

// ---- What the native path refuses, and the program path still gets right. ----

TEST(CpuScalarLoops, WritingAnInvariantArrayIsRefused) {
  // The body's carried result is an update of the invariant array b: not b's buffer to write.
  ir::Graph g = parse_ok(R"(
func @inv(%0, %1) {
  %0 = param 0 contiguous : i64[6]
  %1 = param 1 contiguous : i64[6]
  %2 = loop %0, %1 {ints = [6, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[6]
      %2 = param 2 contiguous : i64[6]
      %3 = dyn_slice %1, %0 {ints = [1], fval = 0.0} : i64[1]
      %4 = dyn_update %2, %3, %0 {ints = [1], fval = 0.0} : i64[6]
      return %4
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : i64[6]
  return %3
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  const ProgramInfo* info = program_info(*k);
  EXPECT_EQ(info->native_loops, 0);
  ASSERT_EQ(info->native_rejections.size(), 1u);
  EXPECT_NE(info->native_rejections[0].find("not carried"), std::string::npos) << info->native_rejections[0];
  std::vector<int64_t> a = {1, 2, 3, 4, 5, 6}, b = {10, 20, 30, 40, 50, 60};
  std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {6}, a), buffer_of<int64_t>(DType::I64, {6}, b)};
  // Each step: x = b with b[i] = x_prev[i]; the last one: b with b[5] = x[5] of step 4 = b[5].
  std::vector<int64_t> want = b;
  std::vector<int64_t> x = a;
  for (int64_t i = 0; i < 6; ++i) {
    std::vector<int64_t> nx = b;
    nx[static_cast<size_t>(i)] = x[static_cast<size_t>(i)];
    x = nx;
  }
  EXPECT_EQ(values<int64_t>(run_kernel(g, *k, in)[0]), x);
  EXPECT_EQ(values<int64_t>(in[1]), b);
}

TEST(CpuScalarLoops, ArrayCarriedAndInvariantIsRefusedInNestedLoop) {
  // The inner loop carries d and also reads it as an invariant: in place in the outer nest's
  // buffer, the invariant would see the inner loop's own stores.
  ir::Graph g = parse_ok(R"(
func @both(%0) {
  %0 = param 0 contiguous : i64[8]
  %1 = loop %0 {ints = [2, 1, 0, 1], fval = 0.0} : i64[]
    region func @outer(%0, %1) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[8]
      %2 = loop %1, %1 {ints = [7, 1, 1, 1], fval = 0.0} : i64[]
        region func @inner(%0, %1, %2) {
          %0 = param 0 scalar : i64[]
          %1 = param 1 contiguous : i64[8]
          %2 = param 2 contiguous : i64[8]
          %3 = const 1 : i64[]
          %4 = sub %0, %3 : i64[]
          %5 = dyn_slice %2, %4 {ints = [1], fval = 0.0} : i64[1]
          %6 = dyn_slice %1, %0 {ints = [1], fval = 0.0} : i64[1]
          %7 = add %5, %6 : i64[1]
          %8 = dyn_update %1, %7, %0 {ints = [1], fval = 0.0} : i64[8]
          return %8
        }
      %3 = loop_result %2 {ints = [0], fval = 0.0} : i64[8]
      return %3
    }
  %2 = loop_result %1 {ints = [0], fval = 0.0} : i64[8]
  return %2
}
)");
  std::vector<int64_t> x = {1, 2, 3, 4, 5, 6, 7, 8};
  std::vector<int64_t> want = x;
  for (int o = 0; o < 2; ++o) {
    std::vector<int64_t> inv = want;  // the inner loop's invariant: the value before it
    for (size_t i = 1; i < 8; ++i) want[i] = inv[i - 1] + want[i];
  }
  auto k = compile(g);
  ASSERT_TRUE(k);
  // The outer nest is refused; the inner loop on its own is native (its loop graph copies the
  // carried d into its output buffer, apart from the invariant d it reads).
  const ProgramInfo* info = program_info(*k);
  EXPECT_EQ(info->native_loops, 1);
  ASSERT_EQ(info->native_rejections.size(), 1u);
  EXPECT_NE(info->native_rejections[0].find("also handed"), std::string::npos) << info->native_rejections[0];
  std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {8}, x)};
  EXPECT_EQ(values<int64_t>(run_kernel(g, *k, in)[0]), want);
}

TEST(CpuScalarLoops, StridedOperandsAreCopiedFirst) {
  // a is every other element of a longer array, d the transpose of an array: both are made
  // contiguous before the native nest runs; the caller's d is untouched.
  ir::Graph g = parse_ok(R"(
func @strided(%0, %1) {
  %0 = param 0 strided : f64[5]
  %1 = param 1 strided : f64[4,5]
  %2 = loop %1, %0 {ints = [4, 1, 0, 1], fval = 0.0} : i64[]
    region func @rows(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[4,5]
      %2 = param 2 contiguous : f64[5]
      %3 = loop %1, %2, %0 {ints = [5, 1, 0, 1], fval = 0.0} : i64[]
        region func @cols(%0, %1, %2, %3) {
          %0 = param 0 scalar : i64[]
          %1 = param 1 contiguous : f64[4,5]
          %2 = param 2 contiguous : f64[5]
          %3 = param 3 scalar : i64[]
          %4 = dyn_slice %1, %3, %0 {ints = [1, 1], fval = 0.0} : f64[1,1]
          %5 = dyn_slice %2, %0 {ints = [1], fval = 0.0} : f64[1]
          %6 = reshape %5 : f64[1,1]
          %7 = mul %4, %6 : f64[1,1]
          %8 = dyn_update %1, %7, %3, %0 {ints = [1, 1], fval = 0.0} : f64[4,5]
          return %8
        }
      %4 = loop_result %3 {ints = [0], fval = 0.0} : f64[4,5]
      return %4
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f64[4,5]
  return %3
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->native_loops, 1);
  Buffer a = make_buffer(DType::F64, {10});
  a.shape = {5};
  a.strides = {16};
  Buffer d = make_buffer(DType::F64, {5, 4});
  d.shape = {4, 5};
  d.strides = {8, 32};
  std::vector<double> av = {1.5, -2, 0.25, 4, 3}, dv;
  for (int64_t e = 0; e < 5; ++e) a.set<double>(e, av[static_cast<size_t>(e)]);
  for (int64_t e = 0; e < 20; ++e) {
    dv.push_back(static_cast<double>(e) - 7.5);
    d.set<double>(e, dv.back());
  }
  std::vector<double> want = dv;
  for (size_t e = 0; e < 20; ++e) want[e] *= av[e % 5];
  std::vector<Buffer> in = {a, d};
  EXPECT_EQ(values<double>(run_kernel(g, *k, in)[0]), want);
  EXPECT_EQ(values<double>(in[1]), dv);
}

// ---- A 256x256 time loop storing one column per step (u[:, t] = row): program path, in place. ----

TEST(CpuScalarLoops, WideColumnStoreInPlace) {
  ir::Graph g = parse_ok(R"(
func @wave(%0, %1) {
  %0 = param 0 contiguous : f32[256,256]
  %1 = param 1 contiguous : f32[256,1]
  %2 = loop %0, %1 {ints = [255, 2, 1, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f32[256,256]
      %2 = param 2 contiguous : f32[256,1]
      %3 = const 0.75 : f32[]
      %4 = mul %2, %3 : f32[256,1]
      %5 = const 0 : i64[]
      %6 = dyn_update %1, %4, %5, %0 {ints = [1, 1], fval = 0.0} : f32[256,256]
      return %6, %4
    }
  %3 = loop_result %2 {ints = [0], fval = 0.0} : f32[256,256]
  return %3
}
)");
  auto k = compile(g);
  ASSERT_TRUE(k);
  EXPECT_EQ(program_info(*k)->in_place_carried, 1);
  std::vector<float> u(256 * 256, 2.0f), row(256);
  for (size_t r = 0; r < 256; ++r) row[r] = static_cast<float>(r) * 0.5f - 3.0f;
  std::vector<float> want = u, cur = row;
  for (int64_t t = 1; t < 256; ++t)
    for (size_t r = 0; r < 256; ++r) {
      if (t == 1) cur[r] = row[r];
      float v = cur[r] * 0.75f;
      want[r * 256 + static_cast<size_t>(t)] = v;
      cur[r] = v;
    }
  std::vector<Buffer> in = {buffer_of<float>(DType::F32, {256, 256}, u), buffer_of<float>(DType::F32, {256, 1}, row)};
  EXPECT_EQ(values<float>(run_kernel(g, *k, in)[0]), want);
}

// ---- Not a benchmark assertion: prints the native nest's cost per inner iteration. ----

TEST(CpuScalarLoops, EditDistanceTiming) {
  const int64_t n = 400, m = 300;
  ir::Graph g = edit_graph(n, m);
  auto k = compile(g);
  ASSERT_TRUE(k);
  ASSERT_EQ(program_info(*k)->native_loops, 3);
  auto a = random_symbols(n, 3), b = random_symbols(m, 4);
  std::vector<int64_t> zeros(static_cast<size_t>((n + 1) * (m + 1)), 0);
  std::vector<Buffer> in = {buffer_of<int64_t>(DType::I64, {n}, a), buffer_of<int64_t>(DType::I64, {m}, b),
                            buffer_of<int64_t>(DType::I64, {n + 1, m + 1}, zeros)};
  std::vector<Buffer> out = run_kernel(g, *k, in);
  EXPECT_EQ(values<int64_t>(out[0]), std::vector<int64_t>{levenshtein(a, b).back()});
  double best = 1e30;
  for (int rep = 0; rep < 20; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    out = run_kernel(g, *k, in);
    best = std::min(best, std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
  }
  std::printf("[ timing ] edit distance 400x300 native: %.1f us per call, %.2f ns per inner iteration "
              "(compile %.1f ms)\n",
              best, best * 1e3 / static_cast<double>(n * m), k->compile_ms());
}

}  // namespace
}  // namespace tracejit::backends::testing
