// Symbolic dimensions in elementwise kernels: one compile, run with several sym_dims values and
// compared with the reference on the same graph made static.
#include "backend_test_util.h"

namespace tracejit::backends::testing {
namespace {

using ir::Dim;

ir::Type T(DType d, std::vector<Dim> dims) { return ir::Type(d, std::move(dims)); }
Dim S(int32_t k) { return Dim::symbol(k); }
Dim N(int64_t n) { return Dim::fixed(n); }

// `g` with every symbol replaced by its size.
ir::Graph specialize(const ir::Graph& g, const std::vector<int64_t>& sym) {
  ir::Graph s = g;
  for (ir::Node& n : s.nodes)
    for (Dim& d : n.type.shape)
      if (!d.is_static()) d = Dim::fixed(sym[static_cast<size_t>(d.sym)]);
  return s;
}

Buffer ramp(DType d, std::vector<int64_t> shape, double start) {
  Buffer b = make_buffer(d, shape);
  dispatch(d, [&](auto t) {
    using V = decltype(t);
    for (int64_t k = 0; k < b.numel(); ++k) b.set(k, static_cast<V>(start + static_cast<double>(k % 97) * 0.25));
  });
  return b;
}

// Runs the symbolic kernel `k` with `sym` and checks every result against the reference.
void check_sizes(const ir::Graph& g, const CompiledKernel& k, const std::vector<int64_t>& sym,
                 std::vector<Buffer> inputs) {
  ir::Graph st = specialize(g, sym);
  std::vector<Buffer> want = reference(st, inputs);
  std::vector<Buffer> got;
  for (ir::ValueId r : st.results) {
    std::vector<int64_t> shape;
    for (const Dim& d : st.type(r).shape) shape.push_back(d.size);
    got.push_back(make_buffer(st.type(r).dtype, shape));
  }
  std::vector<void*> in_ptrs, out_ptrs;
  std::vector<const int64_t*> in_strides;
  for (Buffer& b : inputs) in_ptrs.push_back(b.data()), in_strides.push_back(b.strides.data());
  for (Buffer& b : got) out_ptrs.push_back(b.data());
  k.fn()(in_ptrs.data(), in_strides.data(), out_ptrs.data(), sym.data());
  for (size_t r = 0; r < got.size(); ++r)
    EXPECT_TRUE(same_values(got[r], want[r])) << "result " << r << " with s0=" << sym[0];
}

std::unique_ptr<CompiledKernel> compile(const ir::Graph& g, int64_t parallel_min_work = -1) {
  CpuCompileOptions o;
  o.parallel_min_work = parallel_min_work;
  o.cache_dir = "";
  auto k = compile_cpu(g, o);
  EXPECT_TRUE(k.ok()) << (k.ok() ? "" : k.message());
  return k.ok() ? std::move(k.value()) : nullptr;
}

TEST(CpuSymbolic, FlatVectorManySizes) {
  // Sizes from tiny to above the non-temporal (1 MiB) and threading thresholds.
  ir::Graph g;
  ir::ValueId x = g.add_param(T(DType::F32, {S(0)}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(T(DType::F32, {S(0)}), ir::ParamLayout::Contiguous);
  ir::ValueId m = g.add_op(Op::Mul, T(DType::F32, {S(0)}), {x, y});
  g.results = {g.add_op(Op::Sub, T(DType::F32, {S(0)}), {m, x})};
  auto k = compile(g);
  ASSERT_TRUE(k);
  for (int64_t n : {2, 3, 17, 64, 1000, 4099, 300001, 1 << 20})
    check_sizes(g, *k, {n}, {ramp(DType::F32, {n}, 1.0), ramp(DType::F32, {n}, -3.0)});
}

TEST(CpuSymbolic, BroadcastAgainstStaticOnes) {
  // [s0,4] op [1,4] op [s0,1] op scalar, f64 and i32.
  for (DType d : {DType::F64, DType::I32}) {
    ir::Graph g;
    ir::ValueId a = g.add_param(T(d, {S(0), N(4)}), ir::ParamLayout::Contiguous);
    ir::ValueId row = g.add_param(T(d, {N(1), N(4)}), ir::ParamLayout::Contiguous);
    ir::ValueId col = g.add_param(T(d, {S(0), N(1)}), ir::ParamLayout::Contiguous);
    ir::ValueId sc = g.add_param(T(d, {}), ir::ParamLayout::Scalar);
    ir::ValueId t = g.add_op(Op::Add, T(d, {S(0), N(4)}), {a, row});
    ir::ValueId u = g.add_op(Op::Mul, T(d, {S(0), N(4)}), {t, col});
    g.results = {g.add_op(Op::Sub, T(d, {S(0), N(4)}), {u, sc})};
    auto k = compile(g);
    ASSERT_TRUE(k);
    for (int64_t n : {2, 5, 33, 2000})
      check_sizes(g, *k, {n},
                  {ramp(d, {n, 4}, 1.0), ramp(d, {1, 4}, 2.0), ramp(d, {n, 1}, -1.0), ramp(d, {}, 3.0)});
  }
}

TEST(CpuSymbolic, TwoSymbolsRowBroadcastAndTwoResultShapes) {
  // [s0,s1] + [s1] -> [s0,s1]; and exp([s1]) as a second result of another shape.
  ir::Graph g;
  ir::ValueId a = g.add_param(T(DType::F64, {S(0), S(1)}), ir::ParamLayout::Contiguous);
  ir::ValueId b = g.add_param(T(DType::F64, {S(1)}), ir::ParamLayout::Contiguous);
  ir::ValueId e = g.add_op(Op::Exp, T(DType::F64, {S(1)}), {b});
  g.results = {g.add_op(Op::Add, T(DType::F64, {S(0), S(1)}), {a, e}), e};
  auto k = compile(g);
  ASSERT_TRUE(k);
  for (auto [m, n] : std::vector<std::pair<int64_t, int64_t>>{{2, 2}, {3, 7}, {40, 5}, {7, 1000}})
    check_sizes(g, *k, {m, n}, {ramp(DType::F64, {m, n}, 0.5), ramp(DType::F64, {n}, -2.0)});
}

TEST(CpuSymbolic, StridedTransposedInput) {
  // A [s0,3] buffer viewed as [3,s0] (strides {8, 24}) minus a contiguous [3,s0].
  ir::Graph g;
  ir::ValueId x = g.add_param(T(DType::F64, {N(3), S(0)}), ir::ParamLayout::Strided);
  ir::ValueId y = g.add_param(T(DType::F64, {N(3), S(0)}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Sub, T(DType::F64, {N(3), S(0)}), {x, y})};
  auto k = compile(g);
  ASSERT_TRUE(k);
  for (int64_t n : {2, 9, 513}) {
    Buffer xt = ramp(DType::F64, {n, 3}, 1.0);
    xt.shape = {3, n};
    xt.strides = {8, 24};
    check_sizes(g, *k, {n}, {xt, ramp(DType::F64, {3, n}, 0.25)});
  }
}

TEST(CpuSymbolic, ThreadedAtRunTime) {
  // parallel_min_work 1: every size >= 2 goes through the pool, chunked at run time.
  ir::Graph g;
  ir::ValueId x = g.add_param(T(DType::F32, {S(0), N(3)}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Add, T(DType::F32, {S(0), N(3)}), {x, x})};
  auto k = compile(g, 1);
  ASSERT_TRUE(k);
  for (int64_t n : {2, 3, 10000, 200000}) check_sizes(g, *k, {n}, {ramp(DType::F32, {n, 3}, 1.0)});
}

TEST(CpuSymbolic, StaticGraphUnchangedWithNullSymDims) {
  // Static graphs never read sym_dims.
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F64, {4, 5}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Neg, ir::Type::of(DType::F64, {4, 5}), {x})};
  auto k = compile(g);
  ASSERT_TRUE(k);
  std::vector<Buffer> in = {ramp(DType::F64, {4, 5}, 1.0)};
  std::vector<Buffer> got = run_kernel(g, *k, in);
  EXPECT_TRUE(same_values(got[0], reference(g, in)[0]));
}

// Scheduled graphs take symbols too (test_cpu_symbolic_schedule.cpp checks their values).
TEST(CpuSymbolic, ScheduledGraphWithSymbolCompiles) {
  ir::Graph g;
  ir::ValueId x = g.add_param(T(DType::F32, {S(0), N(4)}), ir::ParamLayout::Contiguous);
  ir::ValueId r = g.add_op(Op::ReduceSum, T(DType::F32, {N(1), N(4)}), {x});
  g.node(r).ints = {0};
  g.results = {r};
  CpuCompileOptions o;
  o.cache_dir = "";
  auto k = compile_cpu(g, o);
  ASSERT_TRUE(k.ok()) << k.message();
  Buffer in = make_buffer(DType::F32, {3, 4}), out = make_buffer(DType::F32, {1, 4});
  for (int64_t i = 0; i < 12; ++i) in.set<float>(i, static_cast<float>(i));
  void* ins[] = {in.data()};
  const int64_t* strides[] = {in.strides.data()};
  void* outs[] = {out.data()};
  int64_t sym[] = {3};
  (*k)->run(ins, strides, outs, sym);
  for (int64_t j = 0; j < 4; ++j) EXPECT_EQ(out.get<float>(j), static_cast<float>(12 + 3 * j));
}

}  // namespace
}  // namespace tracejit::backends::testing
