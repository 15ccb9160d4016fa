// Every op x every dtype it accepts, compared element by element with the NumPy-rules reference.
#include "backend_test_util.h"

namespace tracejit::backends::testing {
namespace {

constexpr int64_t kN = 18;  // one of each interesting value

bool accepts(Op op, DType d) {
  bool f = ir::is_float(d), b = ir::is_bool(d);
  if (ir::has_trait(op, ir::kFloatOnly)) return f;
  if (ir::has_trait(op, ir::kIntOrBool)) return !f;
  switch (op) {
    case Op::Neg: case Op::Sub: case Op::FloorDiv: case Op::Mod: case Op::Pow: return !b;
    case Op::Not: return !f;
    default: return true;
  }
}

// exp, log, tanh, sin, cos are inline polynomials within 1 ulp, not libm's bits: test_vmath.cpp.
const Op kUnary[] = {Op::Neg, Op::Abs, Op::Not, Op::Sqrt};
const Op kBinary[] = {Op::Add, Op::Sub, Op::Mul, Op::Div, Op::FloorDiv, Op::Mod, Op::Pow,
                      Op::Maximum, Op::Minimum, Op::And, Op::Or, Op::Xor, Op::Eq, Op::Ne,
                      Op::Lt, Op::Le, Op::Gt, Op::Ge};

TEST(CpuOps, UnaryEveryDType) {
  for (Op op : kUnary)
    for (DType d : kAllDTypes) {
      if (!accepts(op, d)) continue;
      SCOPED_TRACE(std::string(ir::op_name(op)) + " " + std::string(ir::dtype_name(d)));
      ir::Graph g;
      ir::ValueId x = g.add_param(ir::Type::of(d, {kN}), ir::ParamLayout::Contiguous);
      g.results = {g.add_op(op, ir::Type::of(d, {kN}), {x})};
      check_graph(g, {interesting(d, {kN})});
    }
}

// All pairs of interesting values: x is [n,1], y is [1,n], so this also broadcasts both ways.
TEST(CpuOps, BinaryEveryDTypeAllPairs) {
  for (Op op : kBinary)
    for (DType d : kAllDTypes) {
      if (!accepts(op, d)) continue;
      SCOPED_TRACE(std::string(ir::op_name(op)) + " " + std::string(ir::dtype_name(d)));
      DType rd = ir::has_trait(op, ir::kCompare) ? DType::Bool : d;
      ir::Graph g;
      ir::ValueId x = g.add_param(ir::Type::of(d, {kN, 1}), ir::ParamLayout::Contiguous);
      ir::ValueId y = g.add_param(ir::Type::of(d, {1, kN}), ir::ParamLayout::Contiguous);
      g.results = {g.add_op(op, ir::Type::of(rd, {kN, kN}), {x, y})};
      Buffer yb = interesting(d, {1, kN});
      if (op == Op::Pow && ir::is_integer(d)) {  // the caller guarantees exponents >= 0
        const int64_t kExp[] = {0, 1, 2, 3, 5, 7, 13, 62, 63, 4, 6, 8, 9, 10, 11, 12, 31, 17};
        dispatch(d, [&](auto t) {
          for (int64_t k = 0; k < kN; ++k) yb.set(k, static_cast<decltype(t)>(kExp[k]));
        });
      }
      check_graph(g, {interesting(d, {kN, 1}), yb});
    }
}

TEST(CpuOps, CastEveryPair) {
  for (DType from : kAllDTypes)
    for (DType to : kAllDTypes) {
      SCOPED_TRACE(std::string(ir::dtype_name(from)) + " -> " + std::string(ir::dtype_name(to)));
      ir::Graph g;
      ir::ValueId x = g.add_param(ir::Type::of(from, {kN}), ir::ParamLayout::Contiguous);
      g.results = {g.add_op(Op::Cast, ir::Type::of(to, {kN}), {x})};
      if (ir::is_float(from) && ir::is_integer(to)) {
        auto k = compile_cpu(g);
        ASSERT_FALSE(k.ok());
        EXPECT_NE(k.message().find("unsupported cast"), std::string::npos) << k.message();
        continue;
      }
      check_graph(g, {interesting(from, {kN})});
    }
}

TEST(CpuOps, WhereEveryDType) {
  for (DType d : kAllDTypes) {
    SCOPED_TRACE(ir::dtype_name(d));
    ir::Graph g;
    ir::ValueId c = g.add_param(ir::Type::of(DType::Bool, {kN}), ir::ParamLayout::Contiguous);
    ir::ValueId x = g.add_param(ir::Type::of(d, {kN}), ir::ParamLayout::Contiguous);
    ir::ValueId y = g.add_param(ir::Type::of(d, {}), ir::ParamLayout::Scalar);
    g.results = {g.add_op(Op::Where, ir::Type::of(d, {kN}), {c, x, y})};
    Buffer cb = make_buffer(DType::Bool, {kN});
    for (int64_t k = 0; k < kN; ++k) cb.set(k, k % 3 != 0);
    check_graph(g, {cb, interesting(d, {kN}), interesting(d, {})});
  }
}

TEST(CpuOps, ConstEveryDType) {
  for (DType d : kAllDTypes) {
    SCOPED_TRACE(ir::dtype_name(d));
    ir::Graph g;
    ir::ValueId x = g.add_param(ir::Type::of(d, {kN}), ir::ParamLayout::Contiguous);
    ir::ValueId c = ir::is_float(d) ? g.add_const_float(d, -2.75, {}) : g.add_const_int(d, ir::is_bool(d) ? 1 : -3);
    g.results = {g.add_op(Op::Maximum, ir::Type::of(d, {kN}), {x, c}),
                 g.add_op(Op::Eq, ir::Type::of(DType::Bool, {kN}), {x, c}), c};
    check_graph(g, {interesting(d, {kN})});
  }
  // u64 constants arrive as their bit pattern.
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::U64, {4}), ir::ParamLayout::Contiguous);
  ir::ValueId c = g.add_const_int(DType::U64, static_cast<int64_t>(0xFFFFFFFFFFFFFFF0ull));
  g.results = {g.add_op(Op::Add, ir::Type::of(DType::U64, {4}), {x, c})};
  check_graph(g, {interesting(DType::U64, {4})});
}

TEST(CpuOps, IntegerDivisionEdgeCases) {
  // INT_MIN // -1 == INT_MIN, INT_MIN % -1 == 0, x // 0 == 0, x % 0 == 0, floor rounding.
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::I64, {6}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::I64, {6}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::FloorDiv, ir::Type::of(DType::I64, {6}), {x, y}),
               g.add_op(Op::Mod, ir::Type::of(DType::I64, {6}), {x, y})};
  auto k = compile_cpu(g);
  ASSERT_TRUE(k.ok()) << k.message();
  const int64_t kMin = std::numeric_limits<int64_t>::min();
  int64_t xs[] = {kMin, kMin, 7, -7, 7, -7}, ys[] = {-1, 0, 0, 2, -2, -2};
  std::vector<Buffer> in = {make_buffer(DType::I64, {6}), make_buffer(DType::I64, {6})};
  for (int i = 0; i < 6; ++i) in[0].set<int64_t>(i, xs[i]), in[1].set<int64_t>(i, ys[i]);
  auto out = run_kernel(g, **k, in);
  int64_t q[] = {kMin, 0, 0, -4, -4, 3}, r[] = {0, 0, 0, 1, -1, -1};
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(out[0].get<int64_t>(i), q[i]) << i;
    EXPECT_EQ(out[1].get<int64_t>(i), r[i]) << i;
  }
}

TEST(CpuOps, FloatFloorDivModSignedZerosAndSpecials) {
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F64, {6}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::F64, {6}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::FloorDiv, ir::Type::of(DType::F64, {6}), {x, y}),
               g.add_op(Op::Mod, ir::Type::of(DType::F64, {6}), {x, y})};
  auto k = compile_cpu(g);
  ASSERT_TRUE(k.ok()) << k.message();
  double xs[] = {6.0, -1.0, 1.0, 5.0, -0.0, 0.0}, ys[] = {-3.0, INFINITY, 0.0, 2.5, 3.0, -3.0};
  std::vector<Buffer> in = {make_buffer(DType::F64, {6}), make_buffer(DType::F64, {6})};
  for (int i = 0; i < 6; ++i) in[0].set(i, xs[i]), in[1].set(i, ys[i]);
  auto out = run_kernel(g, **k, in);
  // NumPy: 6 % -3 == -0.0, -1 // inf == -1, -1 % inf == inf, 1 // 0 == inf, 1 % 0 == nan,
  // -0.0 // 3 == -0.0, 0 % -3 == -0.0.
  EXPECT_TRUE(std::signbit(out[1].get<double>(0)) && out[1].get<double>(0) == 0.0);
  EXPECT_EQ(out[0].get<double>(1), -1.0);
  EXPECT_EQ(out[1].get<double>(1), INFINITY);
  EXPECT_EQ(out[0].get<double>(2), INFINITY);
  EXPECT_TRUE(std::isnan(out[1].get<double>(2)));
  EXPECT_EQ(out[0].get<double>(3), 2.0);
  EXPECT_TRUE(std::signbit(out[0].get<double>(4)));
  EXPECT_TRUE(std::signbit(out[1].get<double>(5)));
}

TEST(CpuOps, MaximumMinimumPropagateNaN) {
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F32, {4}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::F32, {4}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Maximum, ir::Type::of(DType::F32, {4}), {x, y}),
               g.add_op(Op::Minimum, ir::Type::of(DType::F32, {4}), {x, y}),
               g.add_op(Op::Ne, ir::Type::of(DType::Bool, {4}), {x, y})};
  auto k = compile_cpu(g);
  ASSERT_TRUE(k.ok()) << k.message();
  float xs[] = {NAN, 1.0f, -0.0f, 2.0f}, ys[] = {1.0f, NAN, 0.0f, 2.0f};
  std::vector<Buffer> in = {make_buffer(DType::F32, {4}), make_buffer(DType::F32, {4})};
  for (int i = 0; i < 4; ++i) in[0].set(i, xs[i]), in[1].set(i, ys[i]);
  auto out = run_kernel(g, **k, in);
  for (int r = 0; r < 2; ++r) {
    EXPECT_TRUE(std::isnan(out[static_cast<size_t>(r)].get<float>(0)));
    EXPECT_TRUE(std::isnan(out[static_cast<size_t>(r)].get<float>(1)));
  }
  EXPECT_TRUE(out[2].get<bool>(0) && out[2].get<bool>(1));  // NaN != x is true
  EXPECT_FALSE(out[2].get<bool>(2) || out[2].get<bool>(3));
}

TEST(CpuOps, MulAddIsNotContracted) {
  // a*b + c*d - a in f32 must round after every op (no FMA), bit-identical to NumPy.
  const int64_t n = 4099;
  ir::Graph g;
  ir::Type t = ir::Type::of(DType::F32, {n});
  ir::ValueId a = g.add_param(t, ir::ParamLayout::Contiguous), b = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId c = g.add_param(t, ir::ParamLayout::Contiguous), d = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId ab = g.add_op(Op::Mul, t, {a, b}), cd = g.add_op(Op::Mul, t, {c, d});
  g.results = {g.add_op(Op::Sub, t, {g.add_op(Op::Add, t, {ab, cd}), a})};
  auto k = compile_cpu(g);
  ASSERT_TRUE(k.ok()) << k.message();
  std::vector<Buffer> in;
  uint32_t seed = 12345;
  for (int i = 0; i < 4; ++i) {
    in.push_back(make_buffer(DType::F32, {n}));
    for (int64_t j = 0; j < n; ++j) {
      seed = seed * 1664525u + 1013904223u;
      in.back().set(j, static_cast<float>(seed >> 8) / 16777216.0f * 3.0f - 1.5f);
    }
  }
  auto out = run_kernel(g, **k, in);
  int fused_would_differ = 0;
  for (int64_t j = 0; j < n; ++j) {
    volatile float p = in[0].get<float>(j) * in[1].get<float>(j);
    volatile float q = in[2].get<float>(j) * in[3].get<float>(j);
    volatile float s = p + q;
    float want = s - in[0].get<float>(j);
    float got = out[0].get<float>(j);
    ASSERT_EQ(std::memcmp(&got, &want, 4), 0) << j;
    float fused = std::fma(in[0].get<float>(j), in[1].get<float>(j), q) - in[0].get<float>(j);
    fused_would_differ += fused != want;
  }
  EXPECT_GT(fused_would_differ, 0);  // the test can tell an FMA apart
}

}  // namespace
}  // namespace tracejit::backends::testing
