// Inline vector math (backends/cpu/vmath.cpp): max ulp error against long double libm over wide
// ranges, exact special values, and the loop around each function vectorizes with no call.
#include <cstdio>
#include <cstdlib>
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
    default: return std::cos(x);
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

template <class T>
std::vector<T> run_op(Op op, const std::vector<T>& xs) {
  DType d = std::is_same_v<T, float> ? DType::F32 : DType::F64;
  auto n = static_cast<int64_t>(xs.size());
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(d, {n}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(op, ir::Type::of(d, {n}), {x})};
  auto k = compile_cpu(g);
  EXPECT_TRUE(k.ok()) << k.message();
  if (!k.ok()) return {};
  std::vector<Buffer> in = {make_buffer(d, {n})};
  std::memcpy(in[0].data(), xs.data(), xs.size() * sizeof(T));
  Buffer out = run_kernel(g, **k, in)[0];
  std::vector<T> r(xs.size());
  std::memcpy(r.data(), out.data(), r.size() * sizeof(T));
  return r;
}

// Max ulp error over `xs`, reporting the worst input.
template <class T>
double max_ulp(Op op, const std::vector<T>& xs) {
  std::vector<T> got = run_op(op, xs);
  double worst = 0;
  T worst_x = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = ulp_error(got[i], reference(op, xs[i]));
    if (e > worst) worst = e, worst_x = xs[i];
  }
  std::printf("  %-4s %s max %.3f ulp at %.17g\n", ir::op_name(op).data(),
              std::is_same_v<T, float> ? "f32" : "f64", worst, static_cast<double>(worst_x));
  return worst;
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

constexpr double kBound = 1.0;
// float exp, log, tanh are native single-precision code (not the double algorithm rounded once):
// over every float32 input of their domains their max errors are 0.759, 0.888 and 0.787 ulp
// (tests/python/test_math_accuracy.py states how), so the bounds are tighter than kBound.
constexpr double kExpF32Bound = 0.76, kLogF32Bound = 0.89, kTanhF32Bound = 0.79;

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
  struct Case {
    Op op;
    double x, want;
  };
  const Case cases[] = {
      {Op::Sinh, 0.0, 0.0},     {Op::Sinh, -0.0, -0.0},  {Op::Sinh, inf, inf},   {Op::Sinh, -inf, -inf},
      {Op::Sinh, nan, nan},     {Op::Sinh, 711.0, inf},  {Op::Sinh, -711.0, -inf}, {Op::Sinh, den, den},
      {Op::Sinh, -den, -den},   {Op::Sinh, 1e-300, 1e-300}, {Op::Sinh, 710.4, std::sinh(710.4)},
      {Op::Cosh, 0.0, 1.0},     {Op::Cosh, -0.0, 1.0},   {Op::Cosh, inf, inf},   {Op::Cosh, -inf, inf},
      {Op::Cosh, nan, nan},     {Op::Cosh, 711.0, inf},  {Op::Cosh, -711.0, inf}, {Op::Cosh, den, 1.0},
      {Op::Cosh, 710.4, std::cosh(710.4)},
  };
  for (const Case& c : cases) {
    double got = run_op(c.op, std::vector<double>{c.x})[0];
    SCOPED_TRACE(std::string(ir::op_name(c.op)) + "(" + std::to_string(c.x) + ")");
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

TEST(Vmath, ExpLogFamilySpecialValues) {
  const double inf = INFINITY, nan = NAN, den = 4.9406564584124654e-324;
  struct Case {
    Op op;
    double x, want;
  };
  const Case cases[] = {
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
  };
  for (const Case& c : cases) {
    double got = run_op(c.op, std::vector<double>{c.x})[0];
    SCOPED_TRACE(std::string(ir::op_name(c.op)) + "(" + std::to_string(c.x) + ")");
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

// The backend suite's interesting values (zeros, extremes, denormals, NaN, inf) of each dtype.
TEST(Vmath, InterestingValues) {
  for (Op op : {Op::Exp, Op::Log, Op::Tanh, Op::Sin, Op::Cos, Op::Expm1, Op::Log1p, Op::Exp2, Op::Log2, Op::Log10, Op::Sinh, Op::Cosh}) {
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
  struct Case {
    Op op;
    double x, want;
  };
  const Case cases[] = {
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
  };
  for (const Case& c : cases) {
    double got = run_op(c.op, std::vector<double>{c.x})[0];
    SCOPED_TRACE(std::string(ir::op_name(c.op)) + "(" + std::to_string(c.x) + ")");
    if (std::isnan(c.want)) {
      EXPECT_TRUE(std::isnan(got)) << got;
    } else {
      EXPECT_EQ(got, c.want) << std::setprecision(17) << got << " vs " << c.want;
      EXPECT_EQ(std::signbit(got), std::signbit(c.want)) << got;
    }
    // float: the same classification (the float input rounds first).
    float xf = static_cast<float>(c.x);
    float gf = run_op(c.op, std::vector<float>{xf})[0];
    long double wf = reference(c.op, xf);
    if (std::isnan(wf)) {
      EXPECT_TRUE(std::isnan(gf)) << gf;
    } else {
      EXPECT_EQ(gf, static_cast<float>(wf)) << "float " << xf;
    }
  }
}

// ---- pow (binary): x ** y against powl. ----

template <class T>
std::vector<T> run_pow(const std::vector<T>& xs, const std::vector<T>& ys) {
  DType d = std::is_same_v<T, float> ? DType::F32 : DType::F64;
  auto n = static_cast<int64_t>(xs.size());
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(d, {n}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(d, {n}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Pow, ir::Type::of(d, {n}), {x, y})};
  auto k = compile_cpu(g);
  EXPECT_TRUE(k.ok()) << k.message();
  if (!k.ok()) return {};
  std::vector<Buffer> in = {make_buffer(d, {n}), make_buffer(d, {n})};
  std::memcpy(in[0].data(), xs.data(), xs.size() * sizeof(T));
  std::memcpy(in[1].data(), ys.data(), ys.size() * sizeof(T));
  Buffer out = run_kernel(g, **k, in)[0];
  std::vector<T> r(xs.size());
  std::memcpy(r.data(), out.data(), r.size() * sizeof(T));
  return r;
}

template <class T>
double max_pow_ulp(const std::vector<T>& xs, const std::vector<T>& ys, const char* what) {
  std::vector<T> got = run_pow(xs, ys);
  double worst = 0;
  size_t wi = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    double e = ulp_error(got[i], std::pow(static_cast<long double>(xs[i]), static_cast<long double>(ys[i])));
    if (e > worst) worst = e, wi = i;
  }
  std::printf("  pow  %s %-28s max %.3f ulp at x=%.17g y=%.17g\n", std::is_same_v<T, float> ? "f32" : "f64", what,
              worst, static_cast<double>(xs[wi]), static_cast<double>(ys[wi]));
  return worst;
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

constexpr double kPowF64Bound = 1.0, kPowF32Bound = 0.51;

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
      EXPECT_LE(max_pow_ulp(x2, y2, ("y=" + std::to_string(c)).c_str()), kPowF64Bound);
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
  std::vector<T> got = run_pow(xs, ys);
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
    EXPECT_NE(ll.find("x double>"), std::string::npos);  // float pow runs on widened lanes
    std::istringstream lines(ll);
    for (std::string line; std::getline(lines, line);)
      EXPECT_FALSE(line.find(" call ") != std::string::npos && line.find("@llvm.") == std::string::npos) << line;
  }
  std::filesystem::remove_all(dir);
}

// The loop around each function vectorizes: the dumped LLVM IR has wide vector math and calls no
// function (no libm call per element).
TEST(Vmath, LoopVectorizesWithoutCalls) {
  auto dir = std::filesystem::temp_directory_path() / ("tracejit_vmath_" + std::to_string(::getpid()));
  for (Op op : {Op::Exp, Op::Log, Op::Tanh, Op::Sin, Op::Cos, Op::Expm1, Op::Log1p, Op::Exp2, Op::Log2, Op::Log10,
                Op::Sinh, Op::Cosh})
    for (DType d : {DType::F32, DType::F64}) {
      SCOPED_TRACE(std::string(ir::op_name(op)) + " " + std::string(ir::dtype_name(d)));
      std::filesystem::remove_all(dir);
      ir::Graph g;
      ir::ValueId x = g.add_param(ir::Type::of(d, {4096}), ir::ParamLayout::Contiguous);
      g.results = {g.add_op(op, ir::Type::of(d, {4096}), {x})};
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
      for (std::string line; std::getline(lines, line);) {
        bool libcall = line.find(" call ") != std::string::npos && line.find("@llvm.") == std::string::npos;
        EXPECT_FALSE(libcall) << line;
      }
    }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace tracejit::backends::testing
