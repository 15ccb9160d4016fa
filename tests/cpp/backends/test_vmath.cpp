// Inline vector math (backends/cpu/vmath.cpp): max ulp error against long double libm over wide
// ranges, exact special values, and the loop around each function vectorizes with no call.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <random>
#include <sstream>

#include <unistd.h>

#include "backend_test_util.h"

namespace tracejit::backends::testing {
namespace {

// Kernels run inline on the calling thread (if a thread pool exists): this suite is about the
// math, and the dumped IR must hold only the loop.
const bool kInline = [] { return ::setenv("TRACEJIT_PARALLEL_MIN_WORK", "0", 1) == 0; }();

long double reference(Op op, long double x) {
  switch (op) {
    case Op::Exp: return std::exp(x);
    case Op::Log: return std::log(x);
    case Op::Tanh: return std::tanh(x);
    case Op::Sin: return std::sin(x);
    case Op::Expm1: return std::expm1(x);
    case Op::Log1p: return std::log1p(x);
    case Op::Exp2: return std::exp2(x);
    case Op::Log2: return std::log2(x);
    case Op::Log10: return std::log10(x);
    case Op::Sinh: return std::sinh(x);
    case Op::Cosh: return std::cosh(x);
    case Op::Cbrt: return std::cbrt(x);
    case Op::Tan: return std::tan(x);
    case Op::Asin: return std::asin(x);
    case Op::Acos: return std::acos(x);
    case Op::Atan: return std::atan(x);
    case Op::Asinh: return std::asinh(x);
    case Op::Acosh: return std::acosh(x);
    case Op::Atanh: return std::atanh(x);
    default: return std::cos(x);
  }
}

// Binary ops with the operands in the IR's order (atan2(y, x) as libm).
long double reference(Op op, long double a, long double b) {
  switch (op) {
    case Op::Atan2: return std::atan2(a, b);
    case Op::Hypot: return std::hypot(a, b);
    default: return std::pow(a, b);
  }
}

// Error of `got` in units of the last place of T at the exact result `want`.
template <class T>
double ulp_error(T got, long double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0.0 : INFINITY;
  if (std::isinf(static_cast<T>(want)) || std::isinf(got)) return got == static_cast<T>(want) ? 0.0 : INFINITY;
  int e = want == 0 ? std::numeric_limits<T>::min_exponent : std::ilogb(want) + 1;
  e = std::max(e, std::numeric_limits<T>::min_exponent);
  long double ulp = std::ldexp(1.0L, e - std::numeric_limits<T>::digits);
  return static_cast<double>(std::fabs(static_cast<long double>(got) - want) / ulp);
}

// `op` applied elementwise to equally long operand vectors by a compiled kernel.
template <class T>
std::vector<T> run_nary(Op op, const std::vector<const std::vector<T>*>& args) {
  DType d = std::is_same_v<T, float> ? DType::F32 : DType::F64;
  auto n = static_cast<int64_t>(args[0]->size());
  ir::Graph g;
  std::vector<ir::ValueId> params;
  std::vector<Buffer> in;
  for (const std::vector<T>* a : args) {
    params.push_back(g.add_param(ir::Type::of(d, {n}), ir::ParamLayout::Contiguous));
    in.push_back(make_buffer(d, {n}));
    std::memcpy(in.back().data(), a->data(), a->size() * sizeof(T));
  }
  g.results = {g.add_op(op, ir::Type::of(d, {n}), params)};
  auto k = compile_cpu(g);
  EXPECT_TRUE(k.ok()) << k.message();
  if (!k.ok()) return {};
  Buffer out = run_kernel(g, **k, in)[0];
  std::vector<T> r(static_cast<size_t>(n));
  std::memcpy(r.data(), out.data(), r.size() * sizeof(T));
  return r;
}

template <class T>
std::vector<T> run_op(Op op, const std::vector<T>& xs) {
  return run_nary<T>(op, {&xs});
}

template <class T>
std::vector<T> run_op(Op op, const std::vector<T>& xs, const std::vector<T>& ys) {
  return run_nary<T>(op, {&xs, &ys});
}

// The one sweep: max ulp error of got[i] against the exact want(i), printing the worst case
// (`what` names the row, `arg(i)` formats the inputs).
template <class T, class Want, class Arg>
double sweep_ulp(const std::string& what, const std::vector<T>& got, Want want, Arg arg) {
  double worst = 0;
  size_t wi = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = ulp_error(got[i], want(i));
    if (e > worst || std::isnan(e)) worst = std::isnan(e) ? INFINITY : e, wi = i;
  }
  std::printf("  %-32s %s max %.3f ulp at %s (n=%zu)\n", what.c_str(), std::is_same_v<T, float> ? "f32" : "f64", worst,
              got.empty() ? "-" : arg(wi).c_str(), got.size());
  return worst;
}

std::string fmt17(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

// Max ulp error over `xs`, reporting the worst input.
template <class T>
double max_ulp(Op op, const std::vector<T>& xs) {
  std::vector<T> got = run_op(op, xs);
  return sweep_ulp(std::string(ir::op_name(op)), got, [&](size_t i) { return reference(op, xs[i]); },
                   [&](size_t i) { return fmt17(xs[i]); });
}

template <class T>
double max_ulp(Op op, const std::vector<T>& xs, const std::vector<T>& ys, const std::string& what = "") {
  std::vector<T> got = run_op(op, xs, ys);
  return sweep_ulp(std::string(ir::op_name(op)) + " " + what, got,
                   [&](size_t i) { return reference(op, xs[i], ys[i]); },
                   [&](size_t i) { return fmt17(xs[i]) + ", " + fmt17(ys[i]); });
}

// Uniform samples on [lo, hi] plus log-uniform magnitudes 2^[e0, e1] of both signs.
template <class T>
std::vector<T> samples(double lo, double hi, int e0, int e1, size_t n = 1 << 20) {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> u(lo, hi), ue(e0, e1);
  std::vector<T> xs;
  for (size_t i = 0; i < n; ++i) xs.push_back(static_cast<T>(u(rng)));
  for (size_t i = 0; i < n; ++i) {
    T v = static_cast<T>(std::exp2(ue(rng)));
    xs.push_back(i % 2 ? -v : v);
  }
  return xs;
}

template <class T>
void check_accuracy(Op op, const std::vector<T>& xs, double bound) {
  EXPECT_LE(max_ulp(op, xs), bound) << ir::op_name(op);
}

// Exact special values: `want` bit for bit in double (NaN: any NaN; zeros and infinities with
// their sign); in float the same input rounded first against the long double reference rounded
// once (the cases are chosen where that rounding is unambiguous).
struct Case {
  Op op;
  double x, want;
};

void check_cases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    double got = run_op(c.op, std::vector<double>{c.x})[0];
    SCOPED_TRACE(std::string(ir::op_name(c.op)) + "(" + fmt17(c.x) + ")");
    if (std::isnan(c.want)) {
      EXPECT_TRUE(std::isnan(got)) << got;
    } else {
      EXPECT_EQ(got, c.want) << std::setprecision(17) << got << " vs " << c.want;
      EXPECT_EQ(std::signbit(got), std::signbit(c.want)) << got;
    }
    float xf = static_cast<float>(c.x);
    float gf = run_op(c.op, std::vector<float>{xf})[0];
    long double wf = reference(c.op, xf);
    if (std::isnan(wf)) {
      EXPECT_TRUE(std::isnan(gf)) << gf;
    } else {
      EXPECT_EQ(gf, static_cast<float>(wf)) << "float " << xf;
      EXPECT_EQ(std::signbit(gf), std::signbit(static_cast<float>(wf))) << "float " << xf;
    }
  }
}

constexpr double kBound = 1.0;
// float exp, log, tanh are native single-precision code (not the double algorithm rounded once):
// over every float32 input of their domains their max errors are 0.759, 0.686 (vmath32_log.cpp's
// table kernel) and 0.694 ulp (vmath32_hyp.cpp; tests/python/test_math_accuracy.py states how),
// so the bounds are tighter than kBound.
constexpr double kExpF32Bound = 0.76, kLogF32Bound = 0.76, kTanhF32Bound = 0.70;

TEST(Vmath, ExpAccuracy) {
  check_accuracy(Op::Exp, samples<double>(-745.2, 709.8, -60, 9), kBound);
  check_accuracy(Op::Exp, samples<double>(-1, 1, -1074, -1), kBound);
  check_accuracy(Op::Exp, samples<float>(-104, 88.8f, -30, 6), kExpF32Bound);
  check_accuracy(Op::Exp, samples<float>(-104, -87, -149, -20), kExpF32Bound);  // denormal results
}

TEST(Vmath, LogAccuracy) {
  auto pos = [](auto xs) {
    for (auto& x : xs) x = std::fabs(x);
    return xs;
  };
  check_accuracy(Op::Log, pos(samples<double>(0.5, 2, -1074, 1023)), kBound);
  check_accuracy(Op::Log, pos(samples<double>(0.99, 1.01, -40, 0)), kBound);
  check_accuracy(Op::Log, pos(samples<float>(0.5f, 2, -149, 127)), kLogF32Bound);
  check_accuracy(Op::Log, pos(samples<float>(0.99f, 1.01f, -30, 0)), kLogF32Bound);
}

TEST(Vmath, TanhAccuracy) {
  check_accuracy(Op::Tanh, samples<double>(-20, 20, -1074, 5), kBound);
  check_accuracy(Op::Tanh, samples<double>(-1, 1, -30, 0), kBound);
  check_accuracy(Op::Tanh, samples<float>(-10, 10, -149, 4), kTanhF32Bound);
  check_accuracy(Op::Tanh, samples<float>(-1, 1, -14, 0), kTanhF32Bound);
  check_accuracy(Op::Tanh, samples<float>(0.65f, 0.95f, -1, 0), kTanhF32Bound);
}

// float tanh (vmath32_hyp.cpp) has one polynomial per interval: [0, 1.5 * 2^-12) and the half
// binades above it up to 9.1 (where it saturates to +-1). Every interval edge, 200 floats on
// either side of it, both signs; the first 2^16 floats of the first interval (denormals, tanh x
// = x); and every float in [8.99, 9.2] with the saturation exact: 1.0f from the first float
// whose correctly rounded tanh is 1 (9.010913...) on, the largest float below 1 before it.
TEST(Vmath, Float32TanhIntervalEdges) {
  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    return f;
  };
  std::vector<float> xs;
  for (uint32_t edge = 0x39800000u; edge <= 0x41400000u; edge += 1u << 22)
    for (uint32_t d = 0; d < 400; ++d) {
      float v = from_bits(edge - 200 + d);
      xs.push_back(v);
      xs.push_back(-v);
    }
  for (uint32_t u = 0; u < (1u << 16); ++u) xs.push_back(from_bits(u));
  EXPECT_LE(max_ulp(Op::Tanh, xs), kTanhF32Bound);
  std::vector<float> sat;
  for (float v = 8.99f; v <= 9.2f; v = std::nextafter(v, 10.0f)) sat.push_back(v);
  std::vector<float> got = run_op(Op::Tanh, sat);
  ASSERT_EQ(got.size(), sat.size());
  size_t ones = 0;
  for (size_t i = 0; i < sat.size(); ++i) {
    SCOPED_TRACE(fmt17(sat[i]));
    EXPECT_EQ(got[i], static_cast<float>(std::tanh(static_cast<long double>(sat[i]))));
    ones += got[i] == 1.0f;
  }
  EXPECT_GT(ones, 0u);
  EXPECT_LT(ones, sat.size());
}

TEST(Vmath, SinCosAccuracy) {
  for (Op op : {Op::Sin, Op::Cos}) {
    check_accuracy(op, samples<double>(-10, 10, -1074, 1023), kBound);
    check_accuracy(op, samples<double>(-1e6, 1e6, 20, 40), kBound);
    check_accuracy(op, samples<float>(-10, 10, -149, 127), kBound);
    check_accuracy(op, samples<float>(-1e5f, 1e5f, 20, 40), kBound);
    // Near multiples of pi/2, where the reduction cancels most.
    std::vector<double> near;
    for (int k = -100000; k <= 100000; ++k)
      for (double d : {-1e-9, 0.0, 1e-9}) near.push_back(k * 1.5707963267948966 + d);
    check_accuracy(op, near, kBound);
  }
}

// expm1, log1p, exp2, log2, log10: double algorithms built on the double-double log and exp of
// pow (float: the same code on widened lanes, rounded once).
TEST(Vmath, ExpLogFamilyAccuracy) {
  auto pos = [](auto xs) {
    for (auto& x : xs) x = std::fabs(x);
    return xs;
  };
  check_accuracy(Op::Expm1, samples<double>(-40, 709.7, -1074, 9), kBound);
  check_accuracy(Op::Expm1, samples<double>(-1, 1, -60, 0), kBound);
  check_accuracy(Op::Expm1, samples<float>(-20, 88.7f, -149, 6), kBound);
  check_accuracy(Op::Log1p, pos(samples<double>(0, 10, -1074, 1023)), kBound);
  check_accuracy(Op::Log1p, samples<double>(-0.999, 1, -60, -1), kBound);
  check_accuracy(Op::Log1p, pos(samples<float>(0, 10, -149, 127)), kBound);
  check_accuracy(Op::Log1p, samples<float>(-0.999f, 1, -30, -1), kBound);
  check_accuracy(Op::Exp2, samples<double>(-1074, 1023.9, -60, 10), kBound);
  check_accuracy(Op::Exp2, samples<float>(-149, 127.9f, -30, 7), kBound);
  for (Op op : {Op::Log2, Op::Log10}) {
    check_accuracy(op, pos(samples<double>(0.5, 2, -1074, 1023)), kBound);
    check_accuracy(op, pos(samples<double>(0.99, 1.01, -40, 0)), kBound);
    check_accuracy(op, pos(samples<float>(0.5f, 2, -149, 127)), kBound);
  }
}

TEST(Vmath, SinhCoshAccuracy) {
  for (Op op : {Op::Sinh, Op::Cosh}) {
    check_accuracy(op, samples<double>(-711, 711, -1074, 9.48), kBound);
    check_accuracy(op, samples<double>(-2, 2, -30, 1), kBound);
    check_accuracy(op, samples<float>(-90, 90, -149, 6.5), kBound);
    check_accuracy(op, samples<float>(-2, 2, -20, 1), kBound);
  }
}

TEST(Vmath, SinhCoshSpecialValues) {
  const double inf = INFINITY, nan = NAN, den = 4.9406564584124654e-324;
  check_cases({
      {Op::Sinh, 0.0, 0.0},     {Op::Sinh, -0.0, -0.0},  {Op::Sinh, inf, inf},   {Op::Sinh, -inf, -inf},
      {Op::Sinh, nan, nan},     {Op::Sinh, 711.0, inf},  {Op::Sinh, -711.0, -inf}, {Op::Sinh, den, den},
      {Op::Sinh, -den, -den},   {Op::Sinh, 1e-300, 1e-300}, {Op::Sinh, 710.4, std::sinh(710.4)},
      {Op::Cosh, 0.0, 1.0},     {Op::Cosh, -0.0, 1.0},   {Op::Cosh, inf, inf},   {Op::Cosh, -inf, inf},
      {Op::Cosh, nan, nan},     {Op::Cosh, 711.0, inf},  {Op::Cosh, -711.0, inf}, {Op::Cosh, den, 1.0},
      {Op::Cosh, 710.4, std::cosh(710.4)},
  });
}

// float64 tanh, expm1, sinh, cosh (vmath64_fast.cpp's exp_pair): 0.513 / 0.513 / 0.512 / 0.500
// ulp measured, so 0.52 here (the old double-double code: 0.61 / 0.57 / 0.60 / 0.52). Hard cases:
// both sides of each reduction step k ln2/32 (kd switches: the pair's exact steps matter most
// there, the result small next to r), the switches inside the kernels (tanh's clamp at 22, the
// e^|x|/2 form from 40, the 2^-1009 scaling from 704) and the overflow thresholds.
TEST(Vmath, ExpPairKernelsAccuracy) {
  constexpr double kPairBound = 0.52;
  // sinh, cosh: vmath64_more.cpp's e^|x| and e^-|x| from one reduction, no exact pairs: 0.625 /
  // 0.603 ulp measured.
  constexpr double kSinhCoshBound = 0.65;
  std::vector<double> hard;
  const double step = 0.69314718055994530942 / 32;
  for (int k = -1900; k <= 1900; ++k) {
    double edge = (k + 0.5) * step;
    double v = edge;
    for (int i = 0; i < 4; ++i) v = std::nextafter(v, -INFINITY);
    for (int i = 0; i < 9; ++i, v = std::nextafter(v, INFINITY)) hard.push_back(v);
  }
  for (double t : {11.0, 22.0, 20.0, 36.7, 40.0, 693.15, 704.0, 709.78, 710.47, 0x1p-26, 0x1p-54, 0.5, 1.0})
    for (double d = -64; d <= 64; ++d) {
      double v = t + d * std::ldexp(t, -50);
      hard.push_back(v);
      hard.push_back(-v);
    }
  for (Op op : {Op::Tanh, Op::Expm1, Op::Sinh, Op::Cosh}) {
    SCOPED_TRACE(ir::op_name(op));
    std::vector<double> xs;
    for (double v : hard)
      if (std::fabs(v) < (op == Op::Tanh ? 40.0 : 710.4) || (op == Op::Expm1 && v < 0)) xs.push_back(v);
    double bound = op == Op::Sinh || op == Op::Cosh ? kSinhCoshBound : kPairBound;
    EXPECT_LE(max_ulp(op, xs), bound);
    double hi = op == Op::Tanh ? 20 : op == Op::Expm1 ? 709.7 : 710.4;
    EXPECT_LE(max_ulp(op, samples<double>(-hi, hi, -1074, 9.47)), bound);
    EXPECT_LE(max_ulp(op, samples<double>(-1, 1, -40, 0)), bound);
  }
  const double inf = INFINITY;
  check_cases({
      {Op::Tanh, 22.0, 1.0},        {Op::Tanh, -19.5, -1.0},      {Op::Tanh, 1e300, 1.0},
      {Op::Tanh, 0x1p-1022, 0x1p-1022}, {Op::Tanh, -0x1p-1000, -0x1p-1000},
      {Op::Expm1, 709.78, std::expm1(709.78)}, {Op::Expm1, 709.783, inf}, {Op::Expm1, 1e300, inf},
      {Op::Expm1, -40.0, -1.0},     {Op::Expm1, -1e300, -1.0},    {Op::Expm1, 0x1p-60, 0x1p-60},
      {Op::Sinh, 710.47, std::sinh(710.47)}, {Op::Sinh, -710.476, -inf}, {Op::Sinh, 1e300, inf},
      {Op::Sinh, -0x1p-60, -0x1p-60},
      {Op::Cosh, -710.47, std::cosh(710.47)}, {Op::Cosh, 710.476, inf}, {Op::Cosh, -1e300, inf},
      {Op::Cosh, 0x1p-27, 1.0},
  });
}

TEST(Vmath, ExpLogFamilySpecialValues) {
  const double inf = INFINITY, nan = NAN, den = 4.9406564584124654e-324;
  check_cases({
      {Op::Expm1, 0.0, 0.0},   {Op::Expm1, -0.0, -0.0}, {Op::Expm1, inf, inf},    {Op::Expm1, -inf, -1.0},
      {Op::Expm1, nan, nan},   {Op::Expm1, 710.0, inf}, {Op::Expm1, -100.0, -1.0}, {Op::Expm1, den, den},
      {Op::Expm1, -den, -den}, {Op::Expm1, 1e-300, 1e-300},
      {Op::Log1p, 0.0, 0.0},   {Op::Log1p, -0.0, -0.0}, {Op::Log1p, -1.0, -inf},  {Op::Log1p, -2.0, nan},
      {Op::Log1p, inf, inf},   {Op::Log1p, -inf, nan},  {Op::Log1p, nan, nan},    {Op::Log1p, den, den},
      {Op::Log1p, -den, -den}, {Op::Log1p, 1e-300, 1e-300},
      {Op::Exp2, 0.0, 1.0},    {Op::Exp2, -0.0, 1.0},   {Op::Exp2, inf, inf},     {Op::Exp2, -inf, 0.0},
      {Op::Exp2, nan, nan},    {Op::Exp2, 1024.0, inf}, {Op::Exp2, -1075.0, 0.0}, {Op::Exp2, -1074.0, den},
      {Op::Exp2, 10.0, 1024.0}, {Op::Exp2, -3.0, 0.125}, {Op::Exp2, 1023.0, 0x1p1023},
      {Op::Log2, 0.0, -inf},   {Op::Log2, -0.0, -inf},  {Op::Log2, -1.0, nan},    {Op::Log2, inf, inf},
      {Op::Log2, -inf, nan},   {Op::Log2, nan, nan},    {Op::Log2, 1.0, 0.0},     {Op::Log2, 1024.0, 10.0},
      {Op::Log2, den, -1074.0}, {Op::Log2, 0.125, -3.0},
      {Op::Log10, 0.0, -inf},  {Op::Log10, -1.0, nan},  {Op::Log10, inf, inf},    {Op::Log10, 1.0, 0.0},
      {Op::Log10, nan, nan},   {Op::Log10, 1000.0, 3.0}, {Op::Log10, 1e-300, -300.0}, {Op::Log10, 1e22, 22.0},
  });
}

// The table-driven float64 kernels (backends/cpu/vmath64_fast.cpp) at their hard places: every
// subinterval of the log table and its edges (the bit patterns where the index changes), both
// sides of 1 (the subinterval with invc = 1 and its neighbours, where log x cancels against
// log c), the exp table's boundaries (x near multiples of ln2/32), the overflow and underflow
// thresholds, denormal inputs and results; exact results at powers of two and ten.
std::vector<double> log_table_edges() {
  std::vector<double> xs;
  std::mt19937_64 rng(11);
  std::uniform_int_distribution<int> ue(-1074, 1023);
  for (uint64_t i = 0; i < 32; ++i) {
    uint64_t edge = 0x3fe6955500000000ULL + (i << 47);
    for (int64_t d = -300; d <= 300; ++d) {
      double z;
      uint64_t u = edge + static_cast<uint64_t>(d);
      std::memcpy(&z, &u, sizeof z);
      xs.push_back(z);
      xs.push_back(std::ldexp(z, ue(rng)));
    }
  }
  for (double e : {1e-3, 1e-6, 1e-10, 1e-15})
    for (int k = -3000; k <= 3000; ++k) xs.push_back(1 + k * e / 3000);
  std::vector<double> dense = samples<double>(1 - 0x1p-4, 1 + 0x1p-4, -1074, -1022, 1 << 18);
  xs.insert(xs.end(), dense.begin(), dense.end());
  for (auto& x : xs) x = std::fabs(x);
  return xs;
}

TEST(Vmath, TableKernelsHardCases) {
  std::vector<double> lx = log_table_edges();
  for (Op op : {Op::Log, Op::Log2, Op::Log10}) EXPECT_LE(max_ulp(op, lx), kBound) << ir::op_name(op);
  std::vector<double> l1p = lx;
  for (auto& x : l1p) x -= 1;  // log1p around 0 (exact differences) and around the table edges - 1
  EXPECT_LE(max_ulp(Op::Log1p, l1p), kBound);
  std::vector<double> ex;
  for (int k = -34000; k <= 34000; ++k)
    for (double d : {-1e-12, 0.0, 1e-12, 0.5}) ex.push_back((k + d) * 0.021660849392498291);  // (k + d) ln2/32
  std::vector<double> edge = samples<double>(704, 709.78, -60, -50, 1 << 17);
  for (double v : edge) ex.push_back(std::fabs(v) > 1 ? v : 709.0 + v);
  edge = samples<double>(-745.13, -704, -60, -50, 1 << 17);
  for (double v : edge) ex.push_back(std::fabs(v) > 1 ? v : -740.0 + v);
  EXPECT_LE(max_ulp(Op::Exp, ex), kBound);
  std::vector<double> e2;
  for (int k = -34400; k <= 32800; ++k)
    for (double d : {-1e-9, 0.0, 1e-9, 0.5}) e2.push_back((k + d) / 32);
  EXPECT_LE(max_ulp(Op::Exp2, e2), kBound);
  // Exact: 2^k, log2(2^k), log10(10^k) for the representable powers of ten, e^0, log(1).
  std::vector<Case> exact = {{Op::Exp, 0.0, 1.0},   {Op::Exp, -0.0, 1.0},   {Op::Log, 1.0, 0.0},
                             {Op::Exp, 709.79, INFINITY}, {Op::Exp, -745.14, 0.0}, {Op::Exp, -745.13, 4.9406564584124654e-324},
                             {Op::Log, 4.9406564584124654e-324, -744.44007192138126}};
  check_cases(exact);
  std::vector<double> k2, want2, k10, want10;
  for (int k = -1074; k <= 1023; ++k) k2.push_back(std::ldexp(1.0, k)), want2.push_back(k);
  for (int k = 0; k <= 22; ++k) k10.push_back(std::pow(10.0, k)), want10.push_back(k);
  std::vector<double> l2 = run_op(Op::Log2, k2), l10 = run_op(Op::Log10, k10), p2 = run_op(Op::Exp2, want2);
  for (size_t i = 0; i < k2.size(); ++i) {
    EXPECT_EQ(l2[i], want2[i]) << "log2(2^" << want2[i] << ")";
    EXPECT_EQ(p2[i], k2[i]) << "exp2(" << want2[i] << ")";
  }
  for (size_t i = 0; i < k10.size(); ++i) EXPECT_EQ(l10[i], want10[i]) << "log10(1e" << want10[i] << ")";
}

// float64 log, log2, log10 (vmath64_more.cpp's log_fast): on each of the 16 subintervals z in
// [0x1.6955p-1, 0x1.6955p0) (k = 0, where |log x| is smallest against r), r = fma(z, 1/c, -1)
// with 1/c a multiple of 2^-6 is exact except on subinterval 1 for |r| >= 2^-6: samples across
// every subinterval, around the z where |r| crosses 2^-6 and 2^-5 (r's exponent changes; on
// subinterval 1 the fma starts to round) and the same inputs scaled by 2^+-1 and 2^+-1000.
TEST(Vmath, ShortLogSubintervals) {
  constexpr double kShortLogBound = 0.6;  // measured 0.553 (log10), 0.544 (log2), 0.532 (log)
  const double invc[16] = {88 / 64.0, 85 / 64.0, 82 / 64.0, 78 / 64.0, 76 / 64.0, 72 / 64.0, 70 / 64.0, 68 / 64.0,
                           66 / 64.0, 1.0,       60 / 64.0, 56 / 64.0, 54 / 64.0, 51 / 64.0, 48 / 64.0, 46 / 64.0};
  std::mt19937_64 rng(5);
  std::vector<double> zs;
  for (uint64_t i = 0; i < 16; ++i) {
    uint64_t a = 0x3fe6955500000000ULL + (i << 48);
    std::uniform_int_distribution<uint64_t> u(a, a + (1ULL << 48) - 1);
    for (int j = 0; j < 8192; ++j) {
      uint64_t bits = u(rng);
      double z;
      std::memcpy(&z, &bits, sizeof z);
      zs.push_back(z);
    }
    for (double r : {0x1p-6, -0x1p-6, 0x1p-5, -0x1p-5}) {
      double z = (1 + r) / invc[i];
      uint64_t zb;
      std::memcpy(&zb, &z, sizeof z);
      if (zb < a || zb >= a + (1ULL << 48)) continue;
      for (int d = 0; d < 64; ++d) z = std::nextafter(z, 0.0);
      for (int d = 0; d <= 128; ++d, z = std::nextafter(z, 2.0)) zs.push_back(z);
    }
  }
  std::vector<double> xs = zs;
  for (double z : zs)
    for (int e : {-1000, -1, 1, 1000}) xs.push_back(std::ldexp(z, e));
  for (Op op : {Op::Log, Op::Log2, Op::Log10}) EXPECT_LE(max_ulp(op, xs), kShortLogBound) << ir::op_name(op);
}

// float64 log, log2, log10 take lanes that are not positive normal numbers out of line: a
// vector holding one gets the special values by vector selects, and one holding a denormal the
// scalar kernel lane by lane. Arrays mixing every kind at random positions (so some vectors hold
// none, some specials only, some denormals), each element against the reference: special values
// bit for bit (NaN: any NaN), the rest within the bound.
TEST(Vmath, ShortLogMixedSpecialLanes) {
  const double inf = INFINITY, nan = NAN;
  const std::vector<double> specials = {0.0, -0.0, -1.0, -1e-300, -inf, inf, nan, -nan, 4.9406564584124654e-324,
                                        2.2250738585072009e-308, 1e-310, 0x1p-1074 * 3, 2.2250738585072014e-308};
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> u(0, 1);
  std::uniform_int_distribution<size_t> pick(0, specials.size() - 1);
  for (double density : {0.002, 0.05, 0.5}) {
    std::vector<double> xs;
    for (int i = 0; i < 8192; ++i) xs.push_back(u(rng) < density ? specials[pick(rng)] : std::exp2(60 * u(rng) - 30));
    for (Op op : {Op::Log, Op::Log2, Op::Log10}) {
      SCOPED_TRACE(std::string(ir::op_name(op)) + " density " + std::to_string(density));
      std::vector<double> got = run_op(op, xs);
      ASSERT_EQ(got.size(), xs.size());
      for (size_t i = 0; i < xs.size(); ++i) {
        long double want = reference(op, xs[i]);
        if (std::isnan(want)) {
          EXPECT_TRUE(std::isnan(got[i])) << fmt17(xs[i]);
        } else if (std::isinf(want) || want == 0) {
          EXPECT_EQ(got[i], static_cast<double>(want)) << fmt17(xs[i]);
        } else {
          EXPECT_LE(ulp_error(got[i], want), 0.6) << fmt17(xs[i]);
        }
      }
    }
  }
}

// pow at exactly representable results (integer powers of small integers, powers of two down to
// the smallest denormal, square roots of even powers): the exact value, as NumPy (libm) gives.
TEST(Vmath, PowExactResults) {
  std::vector<double> xs, ys, want;
  for (int b = 2; b <= 12; ++b)
    for (int e = -20; e <= 30; ++e) {
      double w = std::pow(static_cast<double>(b), e);
      long double wl = std::pow(static_cast<long double>(b), e);
      if (static_cast<long double>(w) != wl) continue;  // not representable
      xs.push_back(b), ys.push_back(e), want.push_back(w);
      if (e % 2 != 0) xs.push_back(-b), ys.push_back(e), want.push_back(-w);
    }
  for (int k = -1074; k <= 1023; ++k) {
    xs.push_back(2.0), ys.push_back(k), want.push_back(std::ldexp(1.0, k));
    xs.push_back(0.5), ys.push_back(-k), want.push_back(std::ldexp(1.0, k));
    if (k % 2 == 0) xs.push_back(std::ldexp(1.0, k)), ys.push_back(0.5), want.push_back(std::ldexp(1.0, k / 2));
  }
  for (int k = -60; k <= 60; k += 3) xs.push_back(std::ldexp(1.0, 2 * k)), ys.push_back(-1.5), want.push_back(std::ldexp(1.0, -3 * k));
  std::vector<double> got = run_op(Op::Pow, xs, ys);
  int bad = 0;
  for (size_t i = 0; i < xs.size(); ++i)
    if (got[i] != want[i] && ++bad < 20)
      ADD_FAILURE() << "pow(" << std::setprecision(17) << xs[i] << ", " << ys[i] << ") = " << got[i] << ", want " << want[i];
  EXPECT_EQ(bad, 0);
}

// float32 sinh, cosh, exp2, log2, log10, expm1, log1p: native single-precision kernels
// (backends/cpu/vmath32_fast.cpp; expm1, sinh, cosh: vmath32_hyp.cpp; log2, log10, log1p: the
// table kernels of vmath32_log.cpp), each rounding once at the end; the bounds are their max
// error over every float32 input (tests/python/float32_exhaustive.py, against NumPy's float64
// result), rounded up.
constexpr double kSinhF32Bound = 0.55, kCoshF32Bound = 0.53, kExp2F32Bound = 0.76, kLog2F32Bound = 0.76,
                 kLog10F32Bound = 0.76, kExpm1F32Bound = 0.52, kLog1pF32Bound = 0.71;

TEST(Vmath, Float32NativeExpLogFamilyAccuracy) {
  auto pos = [](auto xs) {
    for (auto& x : xs) x = std::fabs(x);
    return xs;
  };
  check_accuracy(Op::Sinh, samples<float>(-90, 90, -149, 6.5), kSinhF32Bound);
  check_accuracy(Op::Sinh, samples<float>(-2, 2, -20, 1), kSinhF32Bound);
  check_accuracy(Op::Cosh, samples<float>(-90, 90, -149, 6.5), kCoshF32Bound);
  check_accuracy(Op::Cosh, samples<float>(-2, 2, -20, 1), kCoshF32Bound);
  check_accuracy(Op::Exp2, samples<float>(-151, 128.5f, -30, 7.3), kExp2F32Bound);  // denormal results too
  check_accuracy(Op::Log2, pos(samples<float>(0.5f, 2, -149, 127)), kLog2F32Bound);
  check_accuracy(Op::Log2, pos(samples<float>(0.99f, 1.01f, -30, 0)), kLog2F32Bound);
  check_accuracy(Op::Log10, pos(samples<float>(0.5f, 2, -149, 127)), kLog10F32Bound);
  check_accuracy(Op::Log10, pos(samples<float>(0.99f, 1.01f, -30, 0)), kLog10F32Bound);
  check_accuracy(Op::Expm1, samples<float>(-20, 88.7f, -149, 6.5), kExpm1F32Bound);
  check_accuracy(Op::Expm1, samples<float>(-1, 1, -30, 0), kExpm1F32Bound);
  check_accuracy(Op::Log1p, pos(samples<float>(0, 10, -149, 127)), kLog1pF32Bound);
  check_accuracy(Op::Log1p, samples<float>(-0.999f, 1, -30, -1), kLog1pF32Bound);
}

// float32 expm1 (vmath32_hyp.cpp) reduces x by n ln2/32 (n = rint(x 32/ln2), 2^(n/32) from a
// 32-entry table): 60 floats on either side of every switch of n, (n + 1/2) ln2/32, from the
// clamp at -18 to the overflow (both exact-sum regimes: 2^(n/32) below 1/2 and above 2^24).
TEST(Vmath, Float32Expm1TableEdges) {
  std::vector<float> xs;
  for (int n = -832; n <= 4097; ++n) {
    float v = static_cast<float>((n + 0.5) * 0.021660849392498290);  // ln2/32
    for (int d = 0; d < 60; ++d) {
      xs.push_back(v);
      v = std::nextafter(v, 100.0f);
    }
    v = static_cast<float>((n + 0.5) * 0.021660849392498290);
    for (int d = 0; d < 60; ++d) xs.push_back(v = std::nextafter(v, -100.0f));
  }
  EXPECT_LE(max_ulp(Op::Expm1, xs), kExpm1F32Bound);
}

// float32 sinh and cosh (vmath32_hyp.cpp) use the same reduction for e^|x| and e^-|x| (the
// latter's n clamped at -640, |x| > 13.86); sinh switches to a polynomial below 0.35. 40 floats
// on either side of every switch of n up to the overflow, of 0.35 and of 640 ln2/32, both signs.
TEST(Vmath, Float32SinhCoshTableEdges) {
  std::vector<float> xs;
  std::vector<double> centers = {0.35, 640.5 * 0.021660849392498290};
  for (int n = 0; n <= 4130; ++n) centers.push_back((n + 0.5) * 0.021660849392498290);  // ln2/32
  for (double c : centers) {
    float v = static_cast<float>(c), w = v;
    for (int d = 0; d < 40; ++d) {
      xs.push_back(v);
      xs.push_back(-w);
      v = std::nextafter(v, 100.0f);
      w = std::nextafter(w, 0.0f);
    }
  }
  EXPECT_LE(max_ulp(Op::Sinh, xs), kSinhF32Bound);
  EXPECT_LE(max_ulp(Op::Cosh, xs), kCoshF32Bound);
}

// Float-only exact values: overflow thresholds (the largest finite-result input and the next
// float), exact powers, the 2^-150 tie, saturation; `want` bit for bit (NaN: any NaN).
TEST(Vmath, Float32NativeExpLogFamilySpecialValues) {
  const float inf = INFINITY, nan = NAN, den = 0x1p-149f, fmax = 0x1.fffffep127f;
  struct FCase {
    Op op;
    float x, want;
  };
  std::vector<FCase> cases = {
      {Op::Sinh, 0x1.65a9f8p+6f, std::sinh(static_cast<double>(0x1.65a9f8p+6f))},
      {Op::Sinh, 0x1.65a9fap+6f, inf}, {Op::Sinh, -0x1.65a9fap+6f, -inf}, {Op::Sinh, -0.0f, -0.0f},
      {Op::Sinh, den, den}, {Op::Sinh, -den, -den}, {Op::Sinh, 1e-30f, 1e-30f}, {Op::Sinh, nan, nan},
      {Op::Sinh, -inf, -inf},
      {Op::Cosh, 0x1.65a9f8p+6f, std::cosh(static_cast<double>(0x1.65a9f8p+6f))},
      {Op::Cosh, -0x1.65a9fap+6f, inf}, {Op::Cosh, -0.0f, 1.0f}, {Op::Cosh, den, 1.0f}, {Op::Cosh, -inf, inf},
      {Op::Cosh, nan, nan},
      {Op::Exp2, 0x1.fffffep+6f, std::exp2(static_cast<double>(0x1.fffffep+6f))}, {Op::Exp2, 128.0f, inf},
      {Op::Exp2, 127.0f, 0x1p127f}, {Op::Exp2, -126.0f, 0x1p-126f}, {Op::Exp2, -149.0f, den},
      {Op::Exp2, -150.0f, 0.0f}, {Op::Exp2, -0x1.2bfffep+7f, den}, {Op::Exp2, -151.0f, 0.0f},
      {Op::Exp2, -inf, 0.0f}, {Op::Exp2, inf, inf}, {Op::Exp2, nan, nan}, {Op::Exp2, -0.0f, 1.0f},
      {Op::Exp2, 0.5f, static_cast<float>(M_SQRT2)},
      {Op::Log2, den, -149.0f}, {Op::Log2, 0x1p-126f, -126.0f}, {Op::Log2, 0x1p127f, 127.0f},
      {Op::Log2, fmax, std::log2(static_cast<double>(fmax))}, {Op::Log2, 1.0f, 0.0f}, {Op::Log2, -0.0f, -inf},
      {Op::Log2, -den, nan}, {Op::Log2, inf, inf}, {Op::Log2, nan, nan},
      {Op::Log10, 1.0f, 0.0f}, {Op::Log10, 10.0f, 1.0f}, {Op::Log10, 100.0f, 2.0f}, {Op::Log10, 1e3f, 3.0f},
      {Op::Log10, 1e4f, 4.0f}, {Op::Log10, 1e5f, 5.0f}, {Op::Log10, 1e6f, 6.0f}, {Op::Log10, 1e7f, 7.0f},
      {Op::Log10, 1e8f, 8.0f}, {Op::Log10, 1e9f, 9.0f}, {Op::Log10, 1e10f, 10.0f}, {Op::Log10, 0.0f, -inf},
      {Op::Log10, den, std::log10(static_cast<double>(den))}, {Op::Log10, -1.0f, nan}, {Op::Log10, inf, inf},
      {Op::Expm1, 0x1.62e42ep+6f, std::expm1(static_cast<double>(0x1.62e42ep+6f))},
      {Op::Expm1, 0x1.62e430p+6f, inf}, {Op::Expm1, -17.4f, -1.0f}, {Op::Expm1, -1e30f, -1.0f},
      {Op::Expm1, -inf, -1.0f}, {Op::Expm1, -0.0f, -0.0f}, {Op::Expm1, den, den}, {Op::Expm1, -den, -den},
      {Op::Expm1, nan, nan},
      {Op::Log1p, -1.0f, -inf}, {Op::Log1p, -0x1.fffffep-1f, std::log1p(static_cast<double>(-0x1.fffffep-1f))},
      {Op::Log1p, -1.0000001f, nan}, {Op::Log1p, fmax, std::log1p(static_cast<double>(fmax))},
      {Op::Log1p, -0.0f, -0.0f}, {Op::Log1p, den, den}, {Op::Log1p, -den, -den}, {Op::Log1p, inf, inf},
      {Op::Log1p, -inf, nan}, {Op::Log1p, nan, nan}, {Op::Log1p, 1.0f, static_cast<float>(M_LN2)},
  };
  std::vector<float> xs;
  for (const FCase& c : cases) xs.push_back(c.x);
  for (Op op : {Op::Sinh, Op::Cosh, Op::Exp2, Op::Log2, Op::Log10, Op::Expm1, Op::Log1p}) {
    std::vector<float> got = run_op(op, xs);  // every case through each function: only op's are checked
    ASSERT_EQ(got.size(), cases.size());
    for (size_t i = 0; i < cases.size(); ++i) {
      if (cases[i].op != op) continue;
      SCOPED_TRACE(std::string(ir::op_name(op)) + "(" + fmt17(cases[i].x) + ")");
      if (std::isnan(cases[i].want)) {
        EXPECT_TRUE(std::isnan(got[i])) << got[i];
      } else {
        EXPECT_EQ(got[i], cases[i].want) << std::setprecision(9) << got[i];
        EXPECT_EQ(std::signbit(got[i]), std::signbit(cases[i].want));
      }
    }
  }
}

// float32 log, log2, log10, log1p (backends/cpu/vmath32_log.cpp, 32-entry tables): both sides
// of every table subinterval edge (bit offset 0x3f330000 + i<<18) over the whole exponent range
// and scaled into the denormals, the neighbourhood of 1 (where k log_b 2 + log_b c cancels
// against log(1 + r)), exact results (log2 of every power of two, log10 of the powers of ten that
// are floats) and the special values, bit for bit.
TEST(Vmath, Float32TableLogHardCases) {
  auto from_bits = [](uint32_t u) {
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  };
  std::vector<float> xs;
  for (uint32_t i = 0; i <= 32; ++i)
    for (int d : {-2, -1, 0, 1})
      for (int e = -126; e <= 127; ++e) {
        int64_t bits = int64_t{0x3f330000} + (int64_t{i} << 18) + d + (int64_t{e} << 23);
        if (bits <= 0x00800000 || bits >= 0x7f800000) continue;
        float x = from_bits(static_cast<uint32_t>(bits));
        xs.push_back(x);
        if (e == 0) xs.push_back(std::ldexp(x, -135)), xs.push_back(std::ldexp(x, -147));  // denormals
      }
  // log, log2, log10's getmant tables: z in [3/4, 3/2), 32 subintervals on z's top 5 mantissa
  // bits (both sides of every edge, every binade, the getmant switch at 3/2 and 3/4).
  for (uint32_t base : {0x3f400000u, 0x3f800000u})
    for (uint32_t i = 0; i <= 16; ++i)
      for (int d : {-2, -1, 0, 1})
        for (int e = -126; e <= 127; ++e) {
          int64_t bits = int64_t{base} + (int64_t{i} << 18) + d + (int64_t{e} << 23);
          if (bits <= 0x00800000 || bits >= 0x7f800000) continue;
          float x = from_bits(static_cast<uint32_t>(bits));
          xs.push_back(x);
          if (e == 0) xs.push_back(std::ldexp(x, -130)), xs.push_back(std::ldexp(x, -140));  // denormals
        }
  for (int k = 1; k <= 5000; ++k) {
    xs.push_back(1.0f + static_cast<float>(k) * 0x1p-23f);
    xs.push_back(1.0f - static_cast<float>(k) * 0x1p-24f);
    xs.push_back(1.0f + static_cast<float>(k) * 0x1p-13f);
    xs.push_back(1.0f - static_cast<float>(k) * 0x1p-14f);
  }
  EXPECT_LE(max_ulp(Op::Log, xs), kLogF32Bound);
  EXPECT_LE(max_ulp(Op::Log2, xs), kLog2F32Bound);
  EXPECT_LE(max_ulp(Op::Log10, xs), kLog10F32Bound);
  std::vector<float> l1p;
  for (float x : xs)
    if (x >= 0.5f && x <= 2.0f) l1p.push_back(x - 1.0f);  // exact: log1p around 0 and the edges - 1
  for (float x : xs) l1p.push_back(x), l1p.push_back(-x / 2);  // the whole range, and (-1/2, 0)
  for (int k = 1; k <= 4096; ++k) l1p.push_back(-1.0f + static_cast<float>(k) * 0x1p-24f);  // near -1
  EXPECT_LE(max_ulp(Op::Log1p, l1p), kLog1pF32Bound);

  std::vector<float> p2, k2, p10, k10;
  for (int k = -149; k <= 127; ++k) p2.push_back(std::ldexp(1.0f, k)), k2.push_back(static_cast<float>(k));
  for (int k = 0; k <= 10; ++k) p10.push_back(static_cast<float>(std::pow(10.0, k))), k10.push_back(static_cast<float>(k));
  std::vector<float> l2 = run_op(Op::Log2, p2), l10 = run_op(Op::Log10, p10);
  for (size_t i = 0; i < p2.size(); ++i) EXPECT_EQ(l2[i], k2[i]) << "log2(2^" << k2[i] << ")";
  for (size_t i = 0; i < p10.size(); ++i) EXPECT_EQ(l10[i], k10[i]) << "log10(1e" << k10[i] << ")";

  const float inf = INFINITY, nan = NAN, den = 0x1p-149f;
  const std::vector<float> sx = {0.0f, -0.0f, -den, -1.0f, -inf, inf, nan, -nan, 1.0f, -2.0f};
  for (Op op : {Op::Log, Op::Log2, Op::Log10, Op::Log1p}) {
    std::vector<float> got = run_op(op, sx);
    ASSERT_EQ(got.size(), sx.size());
    for (size_t i = 0; i < sx.size(); ++i) {
      SCOPED_TRACE(std::string(ir::op_name(op)) + "(" + fmt17(sx[i]) + ")");
      long double want = reference(op, static_cast<long double>(sx[i]));
      if (op == Op::Log1p && sx[i] == 0.0f) want = sx[i];  // +-0 kept
      float wf = static_cast<float>(want);
      if (std::isnan(wf)) {
        EXPECT_TRUE(std::isnan(got[i])) << got[i];
      } else {
        EXPECT_EQ(got[i], wf) << std::setprecision(9) << got[i];
        EXPECT_EQ(std::signbit(got[i]), std::signbit(wf));
      }
    }
  }
}

// The backend suite's interesting values (zeros, extremes, denormals, NaN, inf) of each dtype.
TEST(Vmath, InterestingValues) {
  for (Op op : {Op::Exp, Op::Log, Op::Tanh, Op::Sin, Op::Cos, Op::Expm1, Op::Log1p, Op::Exp2, Op::Log2, Op::Log10, Op::Sinh,
                Op::Cosh, Op::Cbrt, Op::Tan, Op::Asin, Op::Acos, Op::Atan, Op::Asinh, Op::Acosh, Op::Atanh}) {
    Buffer f = interesting(DType::F32, {18}), d = interesting(DType::F64, {18});
    std::vector<float> xf(18);
    std::vector<double> xd(18);
    for (int64_t i = 0; i < 18; ++i) xf[static_cast<size_t>(i)] = f.get<float>(i), xd[static_cast<size_t>(i)] = d.get<double>(i);
    EXPECT_LE(max_ulp(op, xf), kBound) << ir::op_name(op);
    EXPECT_LE(max_ulp(op, xd), kBound) << ir::op_name(op);
  }
}

// Special values: exact results and NaN/inf/zero classification with signs.
TEST(Vmath, SpecialValues) {
  const double inf = INFINITY, nan = NAN;
  check_cases({
      {Op::Exp, 0.0, 1.0},       {Op::Exp, -0.0, 1.0},      {Op::Exp, inf, inf},
      {Op::Exp, -inf, 0.0},      {Op::Exp, nan, nan},       {Op::Exp, 709.79, inf},
      {Op::Exp, 1e300, inf},     {Op::Exp, -745.2, 0.0},    {Op::Exp, -1e300, 0.0},
      {Op::Exp, -745.1, 4.9406564584124654e-324},
      {Op::Log, 0.0, -inf},      {Op::Log, -0.0, -inf},     {Op::Log, -1.0, nan},
      {Op::Log, -inf, nan},      {Op::Log, inf, inf},       {Op::Log, 1.0, 0.0},
      {Op::Log, nan, nan},       {Op::Log, 4.9406564584124654e-324, -744.44007192138127},
      {Op::Tanh, 0.0, 0.0},      {Op::Tanh, -0.0, -0.0},    {Op::Tanh, inf, 1.0},
      {Op::Tanh, -inf, -1.0},    {Op::Tanh, 30.0, 1.0},     {Op::Tanh, -1e300, -1.0},
      {Op::Tanh, nan, nan},      {Op::Tanh, 1e-310, 1e-310},
      {Op::Sin, 0.0, 0.0},       {Op::Sin, -0.0, -0.0},     {Op::Sin, inf, nan},
      {Op::Sin, -inf, nan},      {Op::Sin, nan, nan},       {Op::Sin, 1e22, -0.8522008497671888},
      {Op::Sin, -1e-310, -1e-310},
      {Op::Cos, 0.0, 1.0},       {Op::Cos, -0.0, 1.0},      {Op::Cos, inf, nan},
      {Op::Cos, nan, nan},       {Op::Cos, 1e22, 0.523214785395139},
  });
}

// ---- pow (binary): x ** y against powl. ----

template <class T>
double max_pow_ulp(const std::vector<T>& xs, const std::vector<T>& ys, const std::string& what) {
  return max_ulp(Op::Pow, xs, ys, what);
}

// Random (x, y) pairs whose result is finite or near the overflow/underflow edges: log2|x| from
// [lx0, lx1], the exponent chosen so that |y*log2|x|| spans [0, emax] (plus random signs).
template <class T>
void pow_samples(std::vector<T>& xs, std::vector<T>& ys, double lx0, double lx1, double emax, bool neg_x,
                 size_t n = 1 << 20) {
  std::mt19937_64 rng(7);
  std::uniform_real_distribution<double> ul(lx0, lx1), ue(-emax, emax), u01(0, 1);
  for (size_t i = 0; i < n; ++i) {
    double lx = ul(rng);
    T x = static_cast<T>(std::exp2(lx));
    if (x == 0 || std::isinf(x) || x == 1) continue;
    double l2 = std::log2(static_cast<double>(x));
    T y = static_cast<T>(ue(rng) / l2);
    if (neg_x) {  // negative bases need integer exponents
      y = std::nearbyint(y);
      x = -x;
    }
    xs.push_back(x);
    ys.push_back(y);
  }
}

// float32: vmath32_pow.cpp's fast path, within 0.5 + 2^-5.6 by its error analysis (0.520
// measured on 100M pairs; zero, denormal, inf, NaN operands: the previous kernel, 0.504).
constexpr double kPowF64Bound = 1.0, kPowF32Bound = 0.55;

TEST(Vmath, PowAccuracy) {
  {
    std::vector<double> xs, ys;
    pow_samples(xs, ys, -1074, 1024, 1080, false);  // whole range incl. denormal results
    EXPECT_LE(max_pow_ulp(xs, ys, "wide"), kPowF64Bound);
    xs.clear(), ys.clear();
    pow_samples(xs, ys, -1e-3, 1e-3, 1080, false);  // x near 1, huge y
    EXPECT_LE(max_pow_ulp(xs, ys, "x near 1"), kPowF64Bound);
    xs.clear(), ys.clear();
    pow_samples(xs, ys, -60, 60, 60, false);
    EXPECT_LE(max_pow_ulp(xs, ys, "moderate"), kPowF64Bound);
    xs.clear(), ys.clear();
    pow_samples(xs, ys, -30, 30, 1000, true);  // negative bases, integer y
    EXPECT_LE(max_pow_ulp(xs, ys, "negative x, integer y"), kPowF64Bound);
    // The n-body exponent and the other common constants, over a wide range of x.
    for (double c : {-1.5, 1.5, -0.5, 3.0, -1.0, 0.5, 2.0, 1.0 / 3}) {
      std::vector<double> x2 = samples<double>(0, 100, -300, 300, 1 << 18), y2;
      for (auto& v : x2) v = std::fabs(v);
      y2.assign(x2.size(), c);
      EXPECT_LE(max_pow_ulp(x2, y2, "y=" + std::to_string(c)), kPowF64Bound);
    }
  }
  {
    std::vector<float> xs, ys;
    pow_samples(xs, ys, -149, 128, 160, false);
    EXPECT_LE(max_pow_ulp(xs, ys, "wide"), kPowF32Bound);
    xs.clear(), ys.clear();
    pow_samples(xs, ys, -1e-3, 1e-3, 160, false);
    EXPECT_LE(max_pow_ulp(xs, ys, "x near 1"), kPowF32Bound);
    xs.clear(), ys.clear();
    pow_samples(xs, ys, -20, 20, 130, true);
    EXPECT_LE(max_pow_ulp(xs, ys, "negative x, integer y"), kPowF32Bound);
  }
}

// Every pair of special and ordinary values: the C99 pow result exactly (std::pow is glibc's,
// which follows Annex F), the sign of zeros and infinities included.
template <class T>
void check_pow_specials() {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T den = std::numeric_limits<T>::denorm_min(), mx = std::numeric_limits<T>::max();
  std::vector<T> vals = {0, -0.0f, inf, -inf, nan, 1, -1, 2, -2, 0.5f, -0.5f, 3, -3, 1.5f, -1.5f, 0.25f,
                         den, -den, mx, -mx, static_cast<T>(1e-30), 1e30f, 9007199254740993.0, 16777217.0f,
                         static_cast<T>(1.0000001), static_cast<T>(0.9999999), 100, -100, 1024, -1075, 0.1f};
  std::vector<T> xs, ys;
  for (T x : vals)
    for (T y : vals) xs.push_back(x), ys.push_back(y);
  std::vector<T> got = run_op(Op::Pow, xs, ys);
  int bad = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    T want = std::pow(xs[i], ys[i]);
    bool special = std::isnan(want) || std::isinf(want) || want == 0 || want == 1 || std::isinf(xs[i]) ||
                   std::isinf(ys[i]) || xs[i] == 0 || ys[i] == 0;
    bool ok = special ? (std::isnan(want) ? std::isnan(got[i]) : (got[i] == want && std::signbit(got[i]) == std::signbit(want)))
                      : ulp_error(got[i], std::pow(static_cast<long double>(xs[i]), static_cast<long double>(ys[i]))) <= 1.0;
    if (!ok && ++bad < 20)
      ADD_FAILURE() << "pow(" << std::setprecision(17) << xs[i] << ", " << ys[i] << ") = " << got[i] << ", want " << want;
  }
  EXPECT_EQ(bad, 0);
}

TEST(Vmath, PowSpecialValues) {
  check_pow_specials<double>();
  check_pow_specials<float>();
}

// float32 pow (backends/cpu/vmath32_pow.cpp) at its hard places, against powl: both sides of
// every log2-table subinterval edge (bits(x) - 0x3f330000 a multiple of 2^19) in every binade,
// with exponents spanning the results' range; every 2^(j/16) rounding edge (x = 2, y = (m +
// 1/2)/16 and its neighbours); the overflow and underflow thresholds, denormal results; exact
// results (integer powers that are floats, powers of two) exactly.
TEST(Vmath, Float32PowTableEdges) {
  std::mt19937_64 rng(11);
  std::uniform_real_distribution<double> ut(-155, 132);
  std::vector<float> xs, ys;
  for (int e = -126; e <= 127; ++e)
    for (int i = 0; i < 16; ++i)
      for (int d = -1; d <= 1; ++d) {
        int64_t ix = 0x3f330000LL + (static_cast<int64_t>(e) << 23) + (static_cast<int64_t>(i) << 19) + d;
        if (ix < 0x00800000 || ix >= 0x7f800000) continue;
        float x;
        uint32_t u = static_cast<uint32_t>(ix);
        std::memcpy(&x, &u, 4);
        double l2 = std::log2(static_cast<double>(x));
        for (int k = 0; k < 6; ++k) {
          xs.push_back(x);
          ys.push_back(l2 == 0 ? static_cast<float>(ut(rng)) : static_cast<float>(ut(rng) / l2));
        }
        for (float y : {0.5f, -1.0f, 3.0f, -2.5f}) xs.push_back(x), ys.push_back(y);
      }
  EXPECT_LE(max_pow_ulp(xs, ys, "log2 table edges"), kPowF32Bound);
  xs.clear(), ys.clear();
  for (int m = -2420; m <= 2060; ++m) {
    float y = static_cast<float>((m + 0.5) / 16);
    for (float v : {y, std::nextafter(y, -INFINITY), std::nextafter(y, INFINITY)}) xs.push_back(2.0f), ys.push_back(v);
    xs.push_back(3.0f), ys.push_back(static_cast<float>((m + 0.5) / 16 / std::log2(3.0)));
  }
  EXPECT_LE(max_pow_ulp(xs, ys, "2^(j/16) edges, thresholds"), kPowF32Bound);
  // Exact: powers of two (denormal results included) and integer powers that are floats.
  xs.clear(), ys.clear();
  std::vector<float> want;
  for (int k = -149; k <= 127; ++k) {
    xs.push_back(2.0f), ys.push_back(static_cast<float>(k)), want.push_back(std::ldexp(1.0f, k));
    xs.push_back(0.5f), ys.push_back(static_cast<float>(-k)), want.push_back(std::ldexp(1.0f, k));
  }
  for (int b = 3; b <= 15; b += 2)
    for (int e = 1; e <= 15; ++e) {
      long double w = std::pow(static_cast<long double>(b), e);
      if (static_cast<long double>(static_cast<float>(w)) != w) continue;
      xs.push_back(static_cast<float>(b)), ys.push_back(static_cast<float>(e)), want.push_back(static_cast<float>(w));
      xs.push_back(1.0f / static_cast<float>(1 << 4)), ys.push_back(static_cast<float>(e)),
          want.push_back(std::ldexp(1.0f, -4 * e));
    }
  // Integer powers of few-bit bases (exact in long double) that are floats or exact ties (7.25^5
  // = 20030.4189453125, halfway between two floats: rounded to even as libm does); odd powers of
  // the negated bases.
  int ties = 0;
  for (float b : {1.25f, 1.75f, 2.5f, 3.25f, 3.5f, 5.75f, 7.25f, 9.5f, 11.75f, 13.25f, 0.625f, 0.1875f})
    for (int e = 1; e <= 10; ++e) {
      long double w = std::pow(static_cast<long double>(b), e);  // <= 6 bits * 10: exact
      float wf = static_cast<float>(w);
      long double lo = wf <= w ? wf : std::nextafter(wf, -INFINITY), hi = wf >= w ? wf : std::nextafter(wf, INFINITY);
      bool tie = lo != hi && w - lo == hi - w;
      if (!tie && w != wf) continue;  // inexact: within the bound (a value next to a tie may round to even)
      ties += tie;
      xs.push_back(b), ys.push_back(static_cast<float>(e)), want.push_back(wf);
      if (e % 2) xs.push_back(-b), ys.push_back(static_cast<float>(e)), want.push_back(-wf);
    }
  EXPECT_GT(ties, 0);  // the list holds ties
  std::vector<float> got = run_op(Op::Pow, xs, ys);
  for (size_t i = 0; i < xs.size(); ++i)
    EXPECT_EQ(got[i], want[i]) << "pow(" << xs[i] << ", " << ys[i] << ")";
}

// float32 pow's special lanes take an out-of-line path per vector: a special lane (each kind, at
// each position of a 64-lane block) must not change its ordinary neighbours' results, and gets
// C99's value itself.
TEST(Vmath, Float32PowSpecialLanesAmongOrdinary) {
  const float inf = INFINITY, nan = NAN, den = std::numeric_limits<float>::denorm_min();
  const std::vector<std::pair<float, float>> specials = {
      {0.0f, 2.5f}, {-0.0f, -3.0f}, {-2.0f, 3.0f}, {-2.0f, 0.5f}, {-1.0f, inf}, {1.0f, nan}, {nan, 0.0f},
      {inf, -1.5f}, {-inf, 3.0f}, {2.0f, inf}, {0.5f, -inf}, {den, 0.5f}, {1e-40f, -2.0f}, {nan, 2.0f}};
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<float> ux(0.1f, 10.0f), uy(-10.0f, 10.0f);
  const size_t n = 64;
  std::vector<float> bx(n), by(n);
  for (size_t i = 0; i < n; ++i) bx[i] = ux(rng), by[i] = uy(rng);
  std::vector<float> xs, ys;
  for (size_t s = 0; s < specials.size(); ++s)
    for (size_t pos = 0; pos < n; pos += 7) {
      for (size_t i = 0; i < n; ++i) xs.push_back(bx[i]), ys.push_back(by[i]);
      xs[xs.size() - n + pos] = specials[s].first, ys[ys.size() - n + pos] = specials[s].second;
    }
  for (size_t i = 0; i < n; ++i) xs.push_back(bx[i]), ys.push_back(by[i]);  // the block alone
  std::vector<float> got = run_op(Op::Pow, xs, ys);
  ASSERT_EQ(got.size(), xs.size());
  const float* alone = got.data() + got.size() - n;
  int bad = 0;
  for (size_t i = 0; i + n < got.size(); ++i) {
    size_t lane = i % n;
    bool special = xs[i] != bx[lane] || ys[i] != by[lane];
    float want = special ? std::pow(xs[i], ys[i]) : alone[lane];
    bool ok = std::isnan(want) ? std::isnan(got[i])
                               : (std::memcmp(&got[i], &want, 4) == 0 ||
                                  (special && std::fpclassify(want) == FP_NORMAL &&
                                   ulp_error(got[i], std::pow(static_cast<long double>(xs[i]), static_cast<long double>(ys[i]))) <= kPowF32Bound));
    if (!ok && ++bad < 20)
      ADD_FAILURE() << "pow(" << xs[i] << ", " << ys[i] << ") = " << got[i] << ", want " << want << " (lane " << lane << ")";
  }
  EXPECT_EQ(bad, 0);
  for (size_t i = 0; i < n; ++i)
    EXPECT_LE(ulp_error(alone[i], std::pow(static_cast<long double>(bx[i]), static_cast<long double>(by[i]))), kPowF32Bound);
}

TEST(Vmath, PowLoopVectorizesWithoutCalls) {
  auto dir = std::filesystem::temp_directory_path() / ("tracejit_vpow_" + std::to_string(::getpid()));
  for (DType d : {DType::F32, DType::F64}) {
    std::filesystem::remove_all(dir);
    ir::Graph g;
    ir::ValueId x = g.add_param(ir::Type::of(d, {4096}), ir::ParamLayout::Contiguous);
    ir::ValueId y = g.add_param(ir::Type::of(d, {4096}), ir::ParamLayout::Contiguous);
    g.results = {g.add_op(Op::Pow, ir::Type::of(d, {4096}), {x, y})};
    CpuCompileOptions opts;
    opts.dump_dir = dir.string();
    auto k = compile_cpu(g, opts);
    ASSERT_TRUE(k.ok()) << k.message();
    std::ifstream f(dir / ((*k)->symbol() + ".ll"));
    std::stringstream ss;
    ss << f.rdbuf();
    std::string ll = ss.str();
    EXPECT_NE(ll.find("x double>"), std::string::npos);  // float pow's fast path runs on widened lanes
    // float: the special lanes' out-of-line path, as its vector variant (vmath32_pow.cpp), each
    // call behind a branch on a test of the operands
    if (d == DType::F32) EXPECT_NE(ll.find("call <16 x float> @tracejit.vm.pow32.slow.v16("), std::string::npos);
    std::istringstream lines(ll);
    for (std::string line; std::getline(lines, line);)
      // (tracejit_raise_fpflags: once per kernel, after the loop, the flags NumPy's loop raises)
      EXPECT_FALSE(line.find(" call ") != std::string::npos && line.find("@llvm.") == std::string::npos &&
                   line.find("@tracejit_raise_fpflags(") == std::string::npos &&
                   (d == DType::F64 || line.find("@tracejit.vm.pow32.slow") == std::string::npos)) << line;
  }
  std::filesystem::remove_all(dir);
}

// ---- cbrt, tan, arcsin, arccos, arctan, arctan2, arcsinh, arccosh, arctanh, hypot ----

// Measured maxima of these (double: fdlibm kernels, double-double arguments of one log; float:
// a double algorithm rounded once) are in the table in vmath.cpp; the bounds: 1 ulp for float64
// (the issue's), 0.501 for float32 where a double algorithm is rounded once (the double result is
// within 2^-16 float ulp of exact before its one rounding). float32 cbrt, arcsin, arccos, arctan,
// arctan2, arcsinh, arccosh, arctanh are native single-precision code: their bounds are the maxima
// measured over every float32 input (arctan2: 2^28 random pairs) by
// tests/python/float32_exhaustive.py, rounded up.
constexpr double kF32RoundedOnce = 0.501;
double f32_bound(Op op) {
  switch (op) {
    case Op::Cbrt: return 0.52;
    case Op::Asin: return 0.64;
    case Op::Acos: return 0.61;
    case Op::Atan: return 0.67;
    case Op::Atan2: return 0.76;
    case Op::Asinh: return 0.71;  // vmath_inv.cpp's kernels on vmath32_log.cpp's log core
    case Op::Acosh: return 0.67;
    case Op::Atanh: return 0.73;
    case Op::Tan: return 0.89;  // native float (vmath32_trig.cpp; kTanF32Bound below)
    default: return kF32RoundedOnce;
  }
}
template <class T>
std::vector<T> concat(std::vector<std::vector<T>> parts) {
  std::vector<T> r;
  for (auto& p : parts) r.insert(r.end(), p.begin(), p.end());
  return r;
}

template <class T, class F>
std::vector<T> mapped(std::vector<T> xs, F f) {
  for (auto& x : xs) x = static_cast<T>(f(static_cast<double>(x)));
  return xs;
}

// 1 +- 2^-[e0, e1] (log-uniform distance from one, both sides kept inside [-1, 1] by callers).
template <class T>
std::vector<T> near_one(int e0, int e1, size_t n = 1 << 18) {
  std::mt19937_64 rng(3);
  std::uniform_real_distribution<double> ue(e0, e1);
  std::vector<T> xs;
  for (size_t i = 0; i < n; ++i) xs.push_back(static_cast<T>(1.0 - std::exp2(ue(rng))));
  return xs;
}

template <class T>
void unary_sweeps(Op op) {
  constexpr bool f32 = std::is_same_v<T, float>;
  const int emin = f32 ? -149 : -1074, emax = f32 ? 127 : 1023;
  auto abs1 = [](double v) { return std::fabs(v); };
  std::vector<std::pair<std::string, std::vector<T>>> rows;
  switch (op) {
    case Op::Cbrt:
      rows = {{"wide", samples<T>(-10, 10, emin, emax)}, {"moderate", samples<T>(-3, 3, -30, 5)}};
      break;
    case Op::Asinh:  // plus float's switches: 1/2 (the series before), 2^12 (log(2x))
      rows = {{"wide", samples<T>(-10, 10, emin, emax)},
              {"moderate", samples<T>(-3, 3, -30, 5)},
              {"switches", concat<T>({samples<T>(0.45, 0.55, -1, -1, 1 << 17), samples<T>(4000, 4200, 12, 12, 1 << 17)})}};
      break;
    case Op::Atan:  // plus the float reduction's edges: tan(pi/8), 1 (x and 1/x), 1/tan(pi/8)
      rows = {{"wide", samples<T>(-10, 10, emin, emax)},
              {"moderate", samples<T>(-3, 3, -30, 5)},
              {"reduction edges", concat<T>({samples<T>(0.40, 0.43, 0, 0, 1 << 17), samples<T>(0.97, 1.03, 0, 0, 1 << 17),
                                             samples<T>(2.38, 2.45, 1, 1, 1 << 17)})}};
      break;
    case Op::Tan: {
      std::vector<T> near;  // near multiples of pi/2 (poles and zeros), where the reduction cancels
      for (int k = -100000; k <= 100000; ++k)
        for (double d : {-1e-9, 0.0, 1e-9}) near.push_back(static_cast<T>(k * 1.5707963267948966 + d));
      rows = {{"wide", samples<T>(-10, 10, emin, emax)},
              {"large", samples<T>(-1e6, 1e6, 20, f32 ? 60 : 300)},
              {"near k pi/2", near}};
      break;
    }
    case Op::Asin:
    case Op::Acos: {
      auto n1 = near_one<T>(-53, -1);
      rows = {{"[-1, 1]", samples<T>(-1, 1, emin, 0)},
              {"near +1", n1},
              {"near -1", mapped(n1, [](double v) { return -v; })},
              {"around 0.5, 0.975", concat<T>({samples<T>(0.45, 0.55, -2, -1, 1 << 17), samples<T>(0.97, 0.98, -1, -1, 1 << 17)})}};
      break;
    }
    case Op::Acosh:
      rows = {{"[1, 100]", mapped(samples<T>(1, 100, 0, emax), [&](double v) { return std::max(1.0, std::fabs(v)); })},
              {"near 1", mapped(near_one<T>(-(f32 ? 23 : 52), 0), [](double v) { return 2.0 - v; })}};
      break;
    case Op::Atanh: {
      auto n1 = near_one<T>(-53, -1);
      rows = {{"(-1, 1)", samples<T>(-1, 1, emin, 0)},
              {"near +-1", concat<T>({n1, mapped(n1, [](double v) { return -v; })})},
              {"small", mapped(samples<T>(0, 0.5, -30, -1), abs1)}};
      break;
    }
    default:
      FAIL() << "no sweep for " << ir::op_name(op);
  }
  for (auto& [name, xs] : rows) {
    std::vector<T> got = run_op(op, xs);
    double e = sweep_ulp(std::string(ir::op_name(op)) + " " + name, got, [&](size_t i) { return reference(op, xs[i]); },
                         [&](size_t i) { return fmt17(xs[i]); });
    EXPECT_LE(e, f32 ? f32_bound(op) : kBound) << ir::op_name(op) << " " << name;
  }
}

// float64 tan: vmath64_more.cpp's tan_kernel64 (sin and cos polynomials as pairs, one
// reciprocal, the quotient corrected once), 0.695 ulp measured (these rows and the sweeps). Hard
// cases: |y| next to pi/4, where the quadrant count n switches (both parities: tan and -1/tan),
// the 2^-27 switch to x, and huge arguments (Payne-Hanek, out of line).
TEST(Vmath, TanKernelHardCases) {
  constexpr double kTanBound = 0.75;
  std::vector<double> xs;
  const double pio2 = 1.5707963267948966;
  for (int k = -30000; k <= 30000; ++k) {
    double v = (k + 0.5) * pio2;
    for (int i = 0; i < 3; ++i) v = std::nextafter(v, -INFINITY);
    for (int i = 0; i < 7; ++i, v = std::nextafter(v, INFINITY)) xs.push_back(v);
  }
  for (double t : {0.78539816339744828, 0x1p-27, 0.6744, 1e22, 1e300, 0x1p30})
    for (double d = -256; d <= 256; ++d) {
      double v = t + d * std::ldexp(t, -48);
      xs.push_back(v);
      xs.push_back(-v);
    }
  EXPECT_LE(max_ulp(Op::Tan, xs), kTanBound);
  EXPECT_LE(max_ulp(Op::Tan, samples<double>(-4, 4, -30, 2)), kTanBound);
}

// float32 / float64 arcsinh, arccosh, arctanh (vmath_inv.cpp) on the table log cores: their
// switches (x itself below 2^-13 / 2^-28; log(2|x|) by the exponent bits from 2^12 / 2^28, up to
// the largest finite x), arccosh just above 1 and arctanh just below +-1, and the inputs whose log
// argument (a + sqrt(a^2 + 1), x + sqrt(x^2 - 1), (1 + a)/(1 - a)) falls on each edge of the log
// tables' subintervals (float: 32 from 0x1.66p-1, double: 16 from 0x1.6955p-1; a few binades),
// each with its neighbours. Bounds: the float32 exhaustive maxima (f32_bound), 0.55 for float64.
template <class T>
void inverse_hyperbolic_hard_cases() {
  constexpr bool f32 = std::is_same_v<T, float>;
  const double bound_f64 = 0.55;
  auto around = [](std::vector<T>& xs, T v, int n) {
    T lo = v, hi = v;
    xs.push_back(v);
    for (int i = 0; i < n; ++i) {
      lo = std::nextafter(lo, T(0));
      hi = std::nextafter(hi, std::numeric_limits<T>::infinity());
      xs.push_back(lo);
      if (std::isfinite(hi)) xs.push_back(hi);
    }
  };
  // The log tables' subinterval edges c (times 2^k, k in [-1, 4]) as long doubles.
  std::vector<long double> edges;
  for (int k = -1; k <= 4; ++k)
    for (int i = 0; i <= (f32 ? 32 : 16); ++i) {
      long double c;
      if constexpr (f32) {
        uint32_t u = 0x3f330000u + (static_cast<uint32_t>(i) << 18);
        float f;
        std::memcpy(&f, &u, 4);
        c = f;
      } else {
        uint64_t u = 0x3fe6955000000000ull + (static_cast<uint64_t>(i) << 48);
        double d;
        std::memcpy(&d, &u, 8);
        c = d;
      }
      edges.push_back(std::ldexp(c, k));
    }
  const T tiny = f32 ? T(0x1p-13) : T(0x1p-28), big = f32 ? T(0x1p12) : T(0x1p28);
  const T maxv = std::numeric_limits<T>::max(), top = f32 ? T(0x1p127) : T(0x1p1023);
  for (Op op : {Op::Asinh, Op::Acosh, Op::Atanh}) {
    std::vector<T> xs;
    for (long double c : edges) {
      long double x = op == Op::Asinh ? (c - 1 / c) / 2 : op == Op::Acosh ? (c + 1 / c) / 2 : (c - 1) / (c + 1);
      if (x > 0 && (op != Op::Atanh || x < 1)) around(xs, static_cast<T>(x), 16);
    }
    if (op != Op::Atanh) {
      around(xs, big, 256);
      around(xs, maxv, 256);
      around(xs, top, 256);
    }
    if (op == Op::Acosh) {
      around(xs, T(1), 2048);
    } else {
      around(xs, tiny, 256);
      if (op == Op::Atanh) around(xs, T(1), 4096);
      for (size_t i = 0, n = xs.size(); i < n; ++i) xs.push_back(-xs[i]);
    }
    std::vector<T> in;  // the domain's finite inputs (the sweeps and special-value tests do the rest)
    for (T v : xs)
      if (op == Op::Asinh || (op == Op::Acosh ? v >= 1 : std::fabs(v) < 1)) in.push_back(v);
    EXPECT_LE(max_ulp(op, in), f32 ? f32_bound(op) : bound_f64) << ir::op_name(op) << (f32 ? " f32" : " f64");
  }
}

TEST(Vmath, InverseHyperbolicHardCases) {
  inverse_hyperbolic_hard_cases<double>();
  inverse_hyperbolic_hard_cases<float>();
}

TEST(Vmath, InverseAndCbrtTanAccuracy) {
  for (Op op : {Op::Cbrt, Op::Tan, Op::Asin, Op::Acos, Op::Atan, Op::Asinh, Op::Acosh, Op::Atanh}) {
    unary_sweeps<double>(op);
    unary_sweeps<float>(op);
  }
}

// (y, x) pairs: magnitudes 2^[e0, e1] with the two exponents at most `spread` apart, all four
// sign combinations; plus uniform pairs on [-4, 4]^2.
template <class T>
void pair_samples(std::vector<T>& ys, std::vector<T>& xs, int e0, int e1, double spread, size_t n = 1 << 19) {
  std::mt19937_64 rng(17);
  std::uniform_real_distribution<double> ue(e0, e1), ud(-spread, spread), uu(-4, 4);
  for (size_t i = 0; i < n; ++i) {
    double ex = ue(rng);
    double ey = std::clamp(ex + ud(rng), static_cast<double>(e0), static_cast<double>(e1));
    T x = static_cast<T>(std::exp2(ex)), y = static_cast<T>(std::exp2(ey));
    xs.push_back(i & 1 ? -x : x);
    ys.push_back(i & 2 ? -y : y);
  }
  for (size_t i = 0; i < n / 4; ++i) xs.push_back(static_cast<T>(uu(rng))), ys.push_back(static_cast<T>(uu(rng)));
}

template <class T>
void binary_sweeps(Op op) {
  constexpr bool f32 = std::is_same_v<T, float>;
  const int emin = f32 ? -149 : -1074, emax = f32 ? 127 : 1023;
  struct Row {
    const char* name;
    int e0, e1;
    double spread;
  };
  for (Row r : {Row{"wide", emin, emax, 1.0 * (emax - emin)}, Row{"close exponents", emin, emax, 3},
                Row{"near 1", -4, 4, 60}, Row{"denormal", emin, f32 ? -120 : -1000, 40}}) {
    std::vector<T> ys, xs;
    pair_samples(ys, xs, r.e0, r.e1, r.spread);
    EXPECT_LE(max_ulp(op, ys, xs, r.name), f32 ? f32_bound(op) : kBound) << ir::op_name(op) << " " << r.name;
  }
}

TEST(Vmath, Atan2HypotAccuracy) {
  for (Op op : {Op::Atan2, Op::Hypot}) {
    binary_sweeps<double>(op);
    binary_sweeps<float>(op);
  }
}

// Every input (pair) of a grid of special and ordinary values against glibc (C99 Annex F, which
// NumPy follows): NaN exactly where it has NaN, and bit-identical results (sign of zero included)
// wherever an input is +-0, +-inf or NaN or the result is 0, +-inf, +-pi/2, +-pi or 1; elsewhere
// within 1 ulp of the long double result.
template <class T>
void check_grid(Op op, bool binary) {
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T den = std::numeric_limits<T>::denorm_min(), mx = std::numeric_limits<T>::max();
  const T mn = std::numeric_limits<T>::min();
  std::vector<T> vals = {0, -0.0f, inf, -inf, nan, 1, -1, 2, -2, 0.5f, -0.5f, 3, -3, 27, -8, 0.25f, den, -den,
                         mn, -mn, mx, -mx, static_cast<T>(1e-30), 1e30f, static_cast<T>(1.0000001), static_cast<T>(0.9999999),
                         static_cast<T>(1e22), static_cast<T>(-1e22), 1e38f, 100, -100, 0.1f, static_cast<T>(0.975),
                         static_cast<T>(1.5707963267948966), static_cast<T>(3.141592653589793), static_cast<T>(0x1p28),
                         static_cast<T>(0x1p-28), static_cast<T>(2.4375), static_cast<T>(0.4375)};
  if constexpr (!std::is_same_v<T, float>) vals.insert(vals.end(), {1e300, -1e300, 1e-300, 1e-310, -1e-310});
  std::vector<T> xs, ys;
  for (T x : vals)
    if (binary)
      for (T y : vals) xs.push_back(x), ys.push_back(y);
    else
      xs.push_back(x);
  std::vector<T> got = binary ? run_op(op, xs, ys) : run_op(op, xs);
  int bad = 0;
  const T pi = static_cast<T>(3.14159265358979323846L), pio2 = static_cast<T>(1.57079632679489661923L);
  for (size_t i = 0; i < xs.size(); ++i) {
    T want = binary ? static_cast<T>(reference(op, static_cast<double>(xs[i]), static_cast<double>(ys[i])))
                    : static_cast<T>(reference(op, static_cast<double>(xs[i])));
    // glibc's float functions stand in for float (same Annex F table); the exact value for the
    // ulp check is long double.
    long double exact = binary ? reference(op, static_cast<long double>(xs[i]), static_cast<long double>(ys[i]))
                               : reference(op, static_cast<long double>(xs[i]));
    auto special_in = [&](T v) { return v == 0 || std::isinf(v) || std::isnan(v); };
    T aw = std::fabs(want);
    bool special = std::isnan(want) || special_in(xs[i]) || (binary && special_in(ys[i])) || aw == 0 ||
                   std::isinf(want) || aw == pi || aw == pio2 || aw == 1;
    bool ok = std::isnan(want) ? std::isnan(got[i])
              : special        ? got[i] == want && std::signbit(got[i]) == std::signbit(want)
                               : ulp_error(got[i], exact) <= kBound;
    if (!ok && ++bad < 30)
      ADD_FAILURE() << ir::op_name(op) << (std::is_same_v<T, float> ? " f32(" : " f64(") << std::setprecision(17)
                    << xs[i] << (binary ? ", " + fmt17(ys[i]) : std::string()) << ") = " << got[i] << ", want " << want;
  }
  EXPECT_EQ(bad, 0) << ir::op_name(op);
}

TEST(Vmath, InverseAndCbrtTanSpecialValues) {
  for (Op op : {Op::Cbrt, Op::Tan, Op::Asin, Op::Acos, Op::Atan, Op::Asinh, Op::Acosh, Op::Atanh}) {
    check_grid<double>(op, false);
    check_grid<float>(op, false);
  }
  for (Op op : {Op::Atan2, Op::Hypot}) {
    check_grid<double>(op, true);
    check_grid<float>(op, true);
  }
  const double inf = INFINITY, nan = NAN, den = 4.9406564584124654e-324, pi = 3.141592653589793;
  check_cases({
      {Op::Cbrt, -0.0, -0.0},   {Op::Cbrt, 27.0, 3.0},      {Op::Cbrt, -8.0, -2.0},   {Op::Cbrt, 0x1p-1074, 0x1p-358},
      {Op::Cbrt, -inf, -inf},   {Op::Tan, -0.0, -0.0},      {Op::Tan, -1e-310, -1e-310}, {Op::Tan, inf, nan},
      {Op::Tan, 1e300, std::tan(1e300)},                    {Op::Asin, 1.0, pi / 2},  {Op::Asin, -1.0, -pi / 2},
      {Op::Asin, 1.0000000000000002, nan},                  {Op::Asin, -den, -den},   {Op::Acos, 1.0, 0.0},
      {Op::Acos, -1.0, pi},     {Op::Acos, -0.0, pi / 2},   {Op::Acos, -1.0000000000000002, nan},
      {Op::Atan, -0.0, -0.0},   {Op::Atan, -inf, -pi / 2},  {Op::Atan, 1e300, pi / 2}, {Op::Asinh, -0.0, -0.0},
      {Op::Asinh, -inf, -inf},  {Op::Asinh, -den, -den},    {Op::Acosh, 1.0, 0.0},    {Op::Acosh, 0.5, nan},
      {Op::Acosh, 0.9999999999999999, nan},                 {Op::Acosh, -inf, nan},   {Op::Acosh, inf, inf},
      {Op::Atanh, 1.0, inf},    {Op::Atanh, -1.0, -inf},    {Op::Atanh, -0.0, -0.0},  {Op::Atanh, 1.0000000000000002, nan},
      {Op::Atanh, -den, -den},
  });
  // The arctan2 table (C99 F.9.1.4) and hypot's infinities, spelled out.
  struct Pair {
    Op op;
    double y, x, want;
  };
  const Pair pairs[] = {
      {Op::Atan2, 0.0, 0.0, 0.0},          {Op::Atan2, -0.0, 0.0, -0.0},      {Op::Atan2, 0.0, -0.0, pi},
      {Op::Atan2, -0.0, -0.0, -pi},        {Op::Atan2, 0.0, -1.0, pi},        {Op::Atan2, -0.0, -1.0, -pi},
      {Op::Atan2, 0.0, 1.0, 0.0},          {Op::Atan2, -0.0, 1.0, -0.0},      {Op::Atan2, -1.0, 0.0, -pi / 2},
      {Op::Atan2, -1.0, -0.0, -pi / 2},    {Op::Atan2, 1.0, 0.0, pi / 2},     {Op::Atan2, 1.0, -0.0, pi / 2},
      {Op::Atan2, 1.0, -inf, pi},          {Op::Atan2, -1.0, -inf, -pi},      {Op::Atan2, 1.0, inf, 0.0},
      {Op::Atan2, -1.0, inf, -0.0},        {Op::Atan2, inf, 1.0, pi / 2},     {Op::Atan2, -inf, 1.0, -pi / 2},
      {Op::Atan2, inf, -inf, 3 * pi / 4},  {Op::Atan2, -inf, -inf, -3 * pi / 4}, {Op::Atan2, inf, inf, pi / 4},
      {Op::Atan2, -inf, inf, -pi / 4},     {Op::Atan2, nan, 1.0, nan},        {Op::Atan2, 1.0, nan, nan},
      {Op::Atan2, den, -den, 3 * pi / 4},  {Op::Atan2, 1e-300, 1e300, 0.0},   {Op::Atan2, -1e300, -1e-300, -pi / 2},
      {Op::Hypot, inf, nan, inf},          {Op::Hypot, nan, -inf, inf},       {Op::Hypot, nan, 1.0, nan},
      {Op::Hypot, -0.0, -0.0, 0.0},        {Op::Hypot, 3.0, -4.0, 5.0},       {Op::Hypot, -den, 0.0, den},
      {Op::Hypot, 1e308, 1e308, 1.4142135623730951e308}, {Op::Hypot, 1.7e308, 1.7e308, inf},
      {Op::Hypot, 3 * den, 4 * den, 5 * den},
  };
  for (const Pair& c : pairs) {
    SCOPED_TRACE(std::string(ir::op_name(c.op)) + "(" + fmt17(c.y) + ", " + fmt17(c.x) + ")");
    double got = run_op(c.op, std::vector<double>{c.y}, std::vector<double>{c.x})[0];
    if (std::isnan(c.want)) {
      EXPECT_TRUE(std::isnan(got)) << got;
    } else {
      EXPECT_EQ(got, c.want) << std::setprecision(17) << got;
      EXPECT_EQ(std::signbit(got), std::signbit(c.want));
    }
  }
}

// ---- float32 sin, cos, tan: the native float reduction below 2^20 (vmath32_trig.cpp). ----
// Bounds: the max over every float32 |x| < 2^20 (vmath32_trig.cpp's header says how measured).
constexpr double kSinF32Bound = 0.76, kCosF32Bound = 0.75, kTanF32Bound = 0.89;
double trig32_bound(Op op) { return op == Op::Sin ? kSinF32Bound : op == Op::Cos ? kCosF32Bound : kTanF32Bound; }

// The float closest to a multiple of pi/2 in each binade from 2^-1 to 2^19 (a search over every
// float below 2^20; the smallest |x - k pi/2| of all, 2^-27.8, at 0x1.f9cbe2p+7).
constexpr float kTrig32Hard[] = {
    0x1.fffffep-1f, 0x1.921fb6p+0f, 0x1.921fb6p+1f, 0x1.2d97c8p+2f, 0x1.2d97c8p+3f, 0x1.2d97c8p+4f, 0x1.2d97c8p+5f,
    0x1.2d97c8p+6f, 0x1.f9cbe2p+7f, 0x1.f9cbe2p+8f, 0x1.f9cbe2p+9f, 0x1.f9cbe2p+10f, 0x1.17cc5p+11f, 0x1.17cc5p+12f,
    0x1.17cc5p+13f, 0x1.17cc5p+14f, 0x1.9a48dep+15f, 0x1.9a48dep+16f, 0x1.9a48dep+17f, 0x1.04ccbcp+18f, 0x1.04ccbcp+19f,
};

// x and its 8 float neighbours on each side, both signs.
void add_around(std::vector<float>& xs, float x, int ulps = 8) {
  float lo = x, hi = x;
  for (int i = 0; i < ulps; ++i) lo = std::nextafter(lo, -INFINITY), hi = std::nextafter(hi, INFINITY);
  for (float v = lo; v <= hi; v = std::nextafter(v, INFINITY)) xs.push_back(v), xs.push_back(-v);
}

TEST(Vmath, Float32NativeTrigHardCases) {
  std::vector<float> xs;
  for (float v : kTrig32Hard) add_around(xs, v);
  for (int k = -30; k <= 19; ++k) add_around(xs, std::ldexp(0x1.5fdbbep+0f, k));  // a hard case for float reduction
  // Near k pi/2 (cancellation) and (k + 1/2) pi/2 (where the quadrant n changes), k < 4000, and
  // the same scaled to the top of the range.
  for (int k = 1; k < 4000; ++k) {
    add_around(xs, static_cast<float>(k * 1.5707963267948966), 4);
    add_around(xs, static_cast<float>((k + 0.5) * 1.5707963267948966), 2);
    add_around(xs, static_cast<float>((k + 663000) * 1.5707963267948966), 2);
  }
  add_around(xs, 0x1p20f, 16);  // the bound: native below, the widened-double path from 2^20
  add_around(xs, 0x1p-12f);
  add_around(xs, 0x1.921fb6p-1f);  // pi/4
  for (Op op : {Op::Sin, Op::Cos, Op::Tan}) {
    EXPECT_LE(max_ulp(op, xs), trig32_bound(op)) << ir::op_name(op);
    check_accuracy(op, samples<float>(-0x1p20, 0x1p20, -149, 20), trig32_bound(op));
    check_accuracy(op, samples<float>(-8, 8, -30, 3), trig32_bound(op));
  }
}

// |x| >= 2^20 keeps the widened-double code (0.501 ulp), also in vectors that mix such lanes
// with small ones (the out-of-line call replaces only its own lanes); denormals, zeros, NaN, inf.
TEST(Vmath, Float32TrigLargeArgumentsAndSpecials) {
  std::vector<float> big, mixed;
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<float> u(-10, 10);
  std::uniform_real_distribution<double> ue(20, 128);
  for (int i = 0; i < (1 << 18); ++i) big.push_back(static_cast<float>(i % 2 ? -std::exp2(ue(rng)) : std::exp2(ue(rng))));
  big.push_back(0x1p20f), big.push_back(-0x1p20f), big.push_back(FLT_MAX), big.push_back(-FLT_MAX);
  for (float v : big) mixed.push_back(v), mixed.push_back(u(rng)), mixed.push_back(u(rng)), mixed.push_back(u(rng));
  for (Op op : {Op::Sin, Op::Cos, Op::Tan}) {
    EXPECT_LE(max_ulp(op, big), 0.502) << ir::op_name(op);
    EXPECT_LE(max_ulp(op, mixed), trig32_bound(op)) << ir::op_name(op);
  }
  const double inf = INFINITY, nan = NAN;
  check_cases({
      {Op::Tan, 0.0, 0.0}, {Op::Tan, -0.0, -0.0}, {Op::Tan, inf, nan}, {Op::Tan, -inf, nan}, {Op::Tan, nan, nan},
      {Op::Sin, 1e-40, 1e-40}, {Op::Sin, -1e-40, -1e-40}, {Op::Tan, -1e-40, -1e-40}, {Op::Cos, -1e-40, 1.0},
      {Op::Sin, -inf, nan}, {Op::Cos, -inf, nan},
  });
}

// The loop around each function vectorizes: the dumped LLVM IR has wide vector math and calls no
// function (no libm call per element).
TEST(Vmath, LoopVectorizesWithoutCalls) {
  auto dir = std::filesystem::temp_directory_path() / ("tracejit_vmath_" + std::to_string(::getpid()));
  for (Op op : {Op::Exp, Op::Log, Op::Tanh, Op::Sin, Op::Cos, Op::Expm1, Op::Log1p, Op::Exp2, Op::Log2, Op::Log10,
                Op::Sinh, Op::Cosh, Op::Cbrt, Op::Tan, Op::Asin, Op::Acos, Op::Atan, Op::Asinh, Op::Acosh, Op::Atanh,
                Op::Atan2, Op::Hypot})
    for (DType d : {DType::F32, DType::F64}) {
      SCOPED_TRACE(std::string(ir::op_name(op)) + " " + std::string(ir::dtype_name(d)));
      std::filesystem::remove_all(dir);
      ir::Graph g;
      std::vector<ir::ValueId> xs = {g.add_param(ir::Type::of(d, {4096}), ir::ParamLayout::Contiguous)};
      if (op == Op::Atan2 || op == Op::Hypot) xs.push_back(g.add_param(ir::Type::of(d, {4096}), ir::ParamLayout::Contiguous));
      g.results = {g.add_op(op, ir::Type::of(d, {4096}), xs)};
      CpuCompileOptions opts;
      opts.dump_dir = dir.string();
      auto k = compile_cpu(g, opts);
      ASSERT_TRUE(k.ok()) << k.message();
      std::ifstream f(dir / ((*k)->symbol() + ".ll"));
      std::stringstream ss;
      ss << f.rdbuf();
      std::string ll = ss.str();
      ASSERT_FALSE(ll.empty());
      EXPECT_NE(ll.find(d == DType::F32 ? "x float>" : "x double>"), std::string::npos);
      std::istringstream lines(ll);
      // sin, cos, tan call their out-of-line Payne-Hanek path (tracejit.vm.huge.*, defined in the
      // module): the vectorized loop calls a vector variant of it, never libm.
      bool vector_huge_call = false;
      for (std::string line; std::getline(lines, line);) {
        bool call = line.find(" call ") != std::string::npos && line.find("@llvm.") == std::string::npos;
        // (tracejit_raise_fpflags: once per kernel, after the loop, the flags NumPy's loop raises)
        // (float64 log, log2, log10: their scalar out-of-line path tracejit.vm64.slog*_slow, for
        // lanes that are not positive normal numbers)
        bool own = line.find("@tracejit.vm.huge.") != std::string::npos ||
                   (line.find("@tracejit.vm64.slog") != std::string::npos && line.find("_slow(") != std::string::npos) ||
                   line.find("@tracejit.vm.huge32.") != std::string::npos ||
                   line.find("@tracejit_raise_fpflags(") != std::string::npos;
        EXPECT_FALSE(call && !own) << line;
        // (float: tracejit.vm.huge32.*, whose float vector variants hold the widened-double code)
        if (call && own && line.find(d == DType::F32 ? " x float> @tracejit.vm.huge32." : " x double> @tracejit.vm.huge.") !=
                               std::string::npos)
          vector_huge_call = true;
      }
      if (op == Op::Sin || op == Op::Cos || op == Op::Tan) EXPECT_TRUE(vector_huge_call);
    }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tracejit::backends::testing
