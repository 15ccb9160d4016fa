// Symbolic dimensions in scheduled graphs (reductions, matmul, views, concat, argmax): one
// compile, run with many sym_dims values, compared bit for bit with the same graph specialized to
// those sizes and compiled static (whose scheduler is checked against the reference elsewhere),
// serial and on the thread pool.
#include <gtest/gtest.h>

#include <functional>

#include "backend_test_util.h"
#include "backends/cpu/program.h"
#include "ir/parser.h"
#include "ir/verifier.h"

namespace tracejit::backends::testing {
namespace {

using ir::Dim;
using ir::ValueId;

ir::Type T(DType d, std::vector<Dim> dims) { return ir::Type(d, std::move(dims)); }
Dim S(int32_t k) { return Dim::symbol(k); }
Dim N(int64_t n) { return Dim::fixed(n); }

// `g` with every symbol replaced by its size, loop bodies included (deep copies).
ir::Graph specialize(const ir::Graph& g, const std::vector<int64_t>& sym) {
  ir::Graph s = g;
  for (ir::Node& n : s.nodes) {
    for (Dim& d : n.type.shape)
      if (!d.is_static()) d = Dim::fixed(sym[static_cast<size_t>(d.sym)]);
    for (auto& r : n.regions) r = std::make_shared<ir::Graph>(specialize(*r, sym));
  }
  return s;
}

std::vector<int64_t> shape_of(const ir::Type& t) {
  std::vector<int64_t> s;
  for (const Dim& d : t.shape) s.push_back(d.size);
  return s;
}

// Values with signs, fractions and repeats (argmax ties), deterministic per position.
Buffer values(DType d, const std::vector<int64_t>& shape, int seed) {
  Buffer b = make_buffer(d, shape);
  dispatch(d, [&](auto t) {
    using V = decltype(t);
    for (int64_t k = 0; k < b.numel(); ++k) {
      int64_t h = (k * 2654435761LL + seed * 40503LL) % 1009;
      b.set(k, static_cast<V>(static_cast<double>(h % 61) * 0.125 - 3.0));
    }
  });
  return b;
}

std::unique_ptr<CompiledKernel> compile(const ir::Graph& g, int64_t parallel_min_work) {
  CpuCompileOptions o;
  o.parallel_min_work = parallel_min_work;
  o.cache_dir = "";
  auto k = compile_cpu(g, o);
  EXPECT_TRUE(k.ok()) << (k.ok() ? "" : k.message());
  return k.ok() ? std::move(k.value()) : nullptr;
}

std::vector<Buffer> run(const ir::Graph& st, const CompiledKernel& k, std::vector<Buffer>& inputs,
                        const std::vector<int64_t>& sym) {
  std::vector<Buffer> outs;
  for (ValueId r : st.results) outs.push_back(make_buffer(st.type(r).dtype, shape_of(st.type(r))));
  std::vector<void*> in_ptrs, out_ptrs;
  std::vector<const int64_t*> in_strides;
  for (Buffer& b : inputs) in_ptrs.push_back(b.data()), in_strides.push_back(b.strides.data());
  for (Buffer& b : outs) out_ptrs.push_back(b.data());
  k.run(in_ptrs.data(), in_strides.data(), out_ptrs.data(), sym.data());
  return outs;
}

// Compiles `g` once (symbolic) and, per size set, compares it with `g` specialized to the sizes
// and compiled static; both serial (no thread pool) and with every nest split over the pool.
void check_symbolic(const ir::Graph& g, const std::vector<std::vector<int64_t>>& size_sets) {
  for (int64_t pmw : {int64_t{0}, int64_t{1}}) {
    auto k = compile(g, pmw);
    ASSERT_TRUE(k);
    for (const auto& sym : size_sets) {
      ir::Graph st = specialize(g, sym);
      auto ks = compile(st, pmw);
      ASSERT_TRUE(ks);
      std::vector<Buffer> inputs;
      for (size_t i = 0; i < st.params.size(); ++i)
        inputs.push_back(values(st.type(st.params[i]).dtype, shape_of(st.type(st.params[i])), static_cast<int>(i)));
      auto got = run(st, *k, inputs, sym);
      auto want = run(st, *ks, inputs, {});
      for (size_t r = 0; r < got.size(); ++r)
        EXPECT_TRUE(same_values(got[r], want[r])) << "result " << r << " s0=" << sym[0] << " parallel_min_work=" << pmw;
    }
  }
}

const std::vector<std::vector<int64_t>> kBatch = {{2}, {3}, {5}, {17}, {64}, {131}, {1031}};

TEST(CpuSymbolicSchedule, MlpLayer) {
  // relu(x @ W + b): x [s0, 24], W [24, 16], b [16], f32 and f64 (BLAS), i32 (loops).
  for (DType d : {DType::F32, DType::F64, DType::I32}) {
    ir::Graph g;
    ValueId x = g.add_param(T(d, {S(0), N(24)}), ir::ParamLayout::Contiguous);
    ValueId w = g.add_param(T(d, {N(24), N(16)}), ir::ParamLayout::Contiguous);
    ValueId b = g.add_param(T(d, {N(16)}), ir::ParamLayout::Contiguous);
    ValueId mm = g.add_op(Op::MatMul, T(d, {S(0), N(16)}), {x, w});
    ValueId s = g.add_op(Op::Add, T(d, {S(0), N(16)}), {mm, b});
    ValueId z = ir::is_float(d) ? g.add_const_float(d, 0.0) : g.add_const_int(d, 0);
    g.results = {g.add_op(Op::Maximum, T(d, {S(0), N(16)}), {s, z})};
    check_symbolic(g, kBatch);
  }
}

TEST(CpuSymbolicSchedule, TransposedMatmulSymbolicK) {
  // x.T @ y: [s0, 5].T @ [s0, 3] -> [5, 3], the contraction over the runtime size; and a
  // batched [s0, 3, 4] @ [4, 2].
  for (DType d : {DType::F64, DType::F32, DType::I64}) {
    ir::Graph g;
    ValueId x = g.add_param(T(d, {S(0), N(5)}), ir::ParamLayout::Contiguous);
    ValueId y = g.add_param(T(d, {S(0), N(3)}), ir::ParamLayout::Contiguous);
    ValueId xt = g.add_op(Op::Transpose, T(d, {N(5), S(0)}), {x});
    g.node(xt).ints = {1, 0};
    ValueId bx = g.add_param(T(d, {S(0), N(3), N(4)}), ir::ParamLayout::Contiguous);
    ValueId bw = g.add_param(T(d, {N(4), N(2)}), ir::ParamLayout::Contiguous);
    g.results = {g.add_op(Op::MatMul, T(d, {N(5), N(3)}), {xt, y}),
                 g.add_op(Op::MatMul, T(d, {S(0), N(3), N(2)}), {bx, bw})};
    check_symbolic(g, kBatch);
  }
}

TEST(CpuSymbolicSchedule, StridedOperandMatmul) {
  // A Strided param (runtime strides) with a symbolic dim, read by BLAS in place.
  ir::Graph g;
  ValueId x = g.add_param(T(DType::F64, {S(0), N(6)}), ir::ParamLayout::Strided);
  ValueId w = g.add_param(T(DType::F64, {N(6), S(1)}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::MatMul, T(DType::F64, {S(0), S(1)}), {x, w})};
  check_symbolic(g, {{2, 3}, {7, 2}, {130, 9}});
}

TEST(CpuSymbolicSchedule, RowSoftmaxAndLayernorm) {
  // softmax over the last axis of [s0, 33] and layernorm-like (x - mean) / sqrt(var + eps) of
  // [s0, 40]: reductions whose rows are fused, with row-local scratch.
  for (DType d : {DType::F32, DType::F64}) {
    ir::Graph g;
    ValueId x = g.add_param(T(d, {S(0), N(33)}), ir::ParamLayout::Contiguous);
    ValueId m = g.add_op(Op::ReduceMax, T(d, {S(0), N(1)}), {x});
    g.node(m).ints = {1};
    ValueId e = g.add_op(Op::Exp, T(d, {S(0), N(33)}), {g.add_op(Op::Sub, T(d, {S(0), N(33)}), {x, m})});
    ValueId s = g.add_op(Op::ReduceSum, T(d, {S(0), N(1)}), {e});
    g.node(s).ints = {1};
    ValueId soft = g.add_op(Op::Div, T(d, {S(0), N(33)}), {e, s});
    ValueId y = g.add_param(T(d, {S(0), N(40)}), ir::ParamLayout::Contiguous);
    ValueId ys = g.add_op(Op::ReduceSum, T(d, {S(0), N(1)}), {y});
    g.node(ys).ints = {1};
    ValueId mean = g.add_op(Op::Div, T(d, {S(0), N(1)}), {ys, g.add_const_float(d, 40.0)});
    ValueId c = g.add_op(Op::Sub, T(d, {S(0), N(40)}), {y, mean});
    ValueId v = g.add_op(Op::ReduceSum, T(d, {S(0), N(1)}), {g.add_op(Op::Mul, T(d, {S(0), N(40)}), {c, c})});
    g.node(v).ints = {1};
    ValueId var = g.add_op(Op::Div, T(d, {S(0), N(1)}), {v, g.add_const_float(d, 40.0)});
    ValueId den = g.add_op(Op::Sqrt, T(d, {S(0), N(1)}), {g.add_op(Op::Add, T(d, {S(0), N(1)}), {var, g.add_const_float(d, 1e-5)})});
    g.results = {soft, g.add_op(Op::Div, T(d, {S(0), N(40)}), {c, den})};
    check_symbolic(g, kBatch);
  }
}

TEST(CpuSymbolicSchedule, ReductionsAlongAndAcrossSymbolicAxes) {
  // [s0, 8] summed over axis 0 (accumulating mode) and axis 1; [4, s0] summed, maxed and
  // argmaxed over the symbolic inner axis (blocked pairwise sum, lane max); everything over
  // both axes; i32 sums and bool any.
  for (DType d : {DType::F32, DType::F64, DType::I32}) {
    ir::Graph g;
    ValueId a = g.add_param(T(d, {S(0), N(8)}), ir::ParamLayout::Contiguous);
    ValueId b = g.add_param(T(d, {N(4), S(0)}), ir::ParamLayout::Contiguous);
    auto red = [&](Op op, ValueId x, std::vector<Dim> out, std::vector<int64_t> axes) {
      ValueId r = g.add_op(op, T(op == Op::ArgMax ? DType::I64 : d, std::move(out)), {x});
      g.node(r).ints = std::move(axes);
      return r;
    };
    g.results = {red(Op::ReduceSum, a, {N(1), N(8)}, {0}), red(Op::ReduceSum, a, {S(0), N(1)}, {1}),
                 red(Op::ReduceSum, b, {N(4), N(1)}, {1}), red(Op::ReduceMax, b, {N(4), N(1)}, {1}),
                 red(Op::ReduceMin, a, {N(1), N(1)}, {0, 1}), red(Op::ArgMax, b, {N(4), N(1)}, {1}),
                 red(Op::ArgMax, a, {N(1), N(8)}, {0}), red(Op::ReduceProd, b, {N(1), S(0)}, {0})};
    check_symbolic(g, {{2}, {3}, {17}, {31}, {32}, {33}, {127}, {129}, {1000}, {4099}});
  }
}

TEST(CpuSymbolicSchedule, ViewsAndConcat) {
  // reshape [s0, 4, 3] -> [s0, 12], transpose, broadcast of a [s0, 1] column, concat along a
  // static axis of symbolic-length operands, and a slice with a step along the static axis.
  DType d = DType::F64;
  ir::Graph g;
  ValueId x = g.add_param(T(d, {S(0), N(4), N(3)}), ir::ParamLayout::Contiguous);
  ValueId c = g.add_param(T(d, {S(0), N(1)}), ir::ParamLayout::Contiguous);
  ValueId r = g.add_op(Op::Reshape, T(d, {S(0), N(12)}), {x});
  ValueId bc = g.add_op(Op::Broadcast, T(d, {S(0), N(12)}), {c});
  ValueId sum = g.add_op(Op::Add, T(d, {S(0), N(12)}), {r, bc});
  ValueId t = g.add_op(Op::Transpose, T(d, {N(12), S(0)}), {sum});
  g.node(t).ints = {1, 0};
  ValueId cat = g.add_op(Op::Concat, T(d, {S(0), N(13)}), {sum, c});
  g.node(cat).ints = {1};
  ValueId sl = g.add_op(Op::Slice, T(d, {S(0), N(6)}), {sum});
  g.node(sl).ints = {0, 1, 1, 2};
  ValueId back = g.add_op(Op::Reshape, T(d, {S(0), N(2), N(3)}), {sl});
  g.results = {g.add_op(Op::Exp, T(d, {N(12), S(0)}), {t}), cat, back};
  check_symbolic(g, kBatch);
}

TEST(CpuSymbolicSchedule, ConcatOfSymbolicAxisInline) {
  // Concat along axis 0 of [s0, 3] and [s1, 3] into a symbolic... axis 0 needs a sum of sizes,
  // which a Dim cannot spell; instead concat [2, s0] and [3, s0] along axis 0 (inline concat)
  // with symbolic inner rows.
  DType d = DType::F32;
  ir::Graph g;
  ValueId a = g.add_param(T(d, {N(2), S(0)}), ir::ParamLayout::Contiguous);
  ValueId b = g.add_param(T(d, {N(3), S(0)}), ir::ParamLayout::Contiguous);
  ValueId cat = g.add_op(Op::Concat, T(d, {N(5), S(0)}), {a, b});
  g.node(cat).ints = {0};
  ValueId s = g.add_op(Op::ReduceSum, T(d, {N(5), N(1)}), {g.add_op(Op::Mul, T(d, {N(5), S(0)}), {cat, cat})});
  g.node(s).ints = {1};
  g.results = {s};
  check_symbolic(g, kBatch);
}

// A loop region whose carried value has a runtime batch size (a program): h = tanh(h @ W + x)
// 12 times, a Strided input copied for the loop, then a column sum after it. The program's
// scratch (carried double buffers, the copy) is laid out per call from sym_dims.
TEST(CpuSymbolicSchedule, LoopRegionProgram) {
  const char* text = R"(
func @rnn(%0, %1, %2) {
  %0 = param 0 contiguous : f64[s0,4]
  %1 = param 1 strided : f64[s0,4]
  %2 = param 2 contiguous : f64[4,4]
  %3 = loop %0, %1, %2 {ints = [12, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2, %3) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[s0,4]
      %2 = param 2 contiguous : f64[s0,4]
      %3 = param 3 contiguous : f64[4,4]
      %4 = matmul %1, %3 : f64[s0,4]
      %5 = add %4, %2 : f64[s0,4]
      %6 = tanh %5 : f64[s0,4]
      return %6
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : f64[s0,4]
  %5 = reduce_sum %4 {ints = [0], fval = 0.0} : f64[1,4]
  return %4, %5
}
)";
  auto g = ir::parse(text);
  ASSERT_TRUE(g.ok()) << g.message();
  ASSERT_TRUE(ir::verify(*g).ok()) << ir::verify(*g).message();
  check_symbolic(*g, kBatch);
  auto k = compile(*g, -1);
  ASSERT_TRUE(k);
  const ProgramInfo* info = program_info(*k);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->loops, 1);
}

}  // namespace
}  // namespace tracejit::backends::testing
