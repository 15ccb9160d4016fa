// Broadcasting, strided and scalar inputs, zero-size shapes and multi-result nests.
#include "backend_test_util.h"

namespace tracejit::backends::testing {
namespace {

Buffer iota(DType d, std::vector<int64_t> shape, double start = 1.0) {
  Buffer b = make_buffer(d, shape);
  dispatch(d, [&](auto t) {
    using T = decltype(t);
    for (int64_t k = 0; k < b.numel(); ++k) b.set(k, static_cast<T>(start + static_cast<double>(k) * 0.5));
  });
  return b;
}

TEST(CpuLayout, BroadcastColumnTimesRow) {
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F64, {3, 1}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::F64, {1, 4}), ir::ParamLayout::Contiguous);
  ir::ValueId m = g.add_op(Op::Mul, ir::Type::of(DType::F64, {3, 4}), {x, y});
  g.results = {g.add_op(Op::Add, ir::Type::of(DType::F64, {3, 4}), {m, x})};
  check_graph(g, {iota(DType::F64, {3, 1}), iota(DType::F64, {1, 4}, -2.0)});
}

TEST(CpuLayout, BroadcastVectorAndZeroDim) {
  for (auto layout : {ir::ParamLayout::Contiguous, ir::ParamLayout::Scalar}) {
    ir::Graph g;
    ir::ValueId x = g.add_param(ir::Type::of(DType::I32, {5}), ir::ParamLayout::Contiguous);
    ir::ValueId y = g.add_param(ir::Type::of(DType::I32, {}), layout);
    g.results = {g.add_op(Op::Sub, ir::Type::of(DType::I32, {5}), {x, y})};
    check_graph(g, {iota(DType::I32, {5}), iota(DType::I32, {}, 7.0)});
  }
}

TEST(CpuLayout, BroadcastIntermediateThenResult) {
  // [2,1,3] op [4,1] -> [2,4,3]: the intermediate broadcasts on two different axes.
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F32, {2, 1, 3}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::F32, {4, 1}), ir::ParamLayout::Contiguous);
  ir::ValueId e = g.add_op(Op::Exp, ir::Type::of(DType::F32, {4, 1}), {y});
  g.results = {g.add_op(Op::Minimum, ir::Type::of(DType::F32, {2, 4, 3}), {x, e})};
  check_graph(g, {iota(DType::F32, {2, 1, 3}), iota(DType::F32, {4, 1}, -1.0)});
}

TEST(CpuLayout, TransposedStridedInput) {
  // A [4,3] C-contiguous buffer viewed as its [3,4] transpose, plus a contiguous [3,4].
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F64, {3, 4}), ir::ParamLayout::Strided);
  ir::ValueId y = g.add_param(ir::Type::of(DType::F64, {3, 4}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Sub, ir::Type::of(DType::F64, {3, 4}), {x, y})};
  Buffer xt = iota(DType::F64, {4, 3});
  xt.shape = {3, 4};
  xt.strides = {8, 24};
  check_graph(g, {xt, iota(DType::F64, {3, 4}, 0.25)});
}

TEST(CpuLayout, SteppedAndReversedStridedInputs) {
  // x[::2] of a 10-element i16 array and a reversed 5-element view (negative stride).
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::I16, {5}), ir::ParamLayout::Strided);
  ir::ValueId y = g.add_param(ir::Type::of(DType::I16, {5}), ir::ParamLayout::Strided);
  g.results = {g.add_op(Op::Mul, ir::Type::of(DType::I16, {5}), {x, y})};
  Buffer xs = iota(DType::I16, {10});
  xs.shape = {5};
  xs.strides = {4};
  Buffer ys = iota(DType::I16, {5}, 3.0);
  ys.offset = 8;
  ys.strides = {-2};
  check_graph(g, {xs, ys});
}

TEST(CpuLayout, StridedBroadcastDimIgnoresItsStride) {
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::U8, {1, 6}), ir::ParamLayout::Strided);
  g.results = {g.add_op(Op::Add, ir::Type::of(DType::U8, {3, 6}), {x, g.add_param(ir::Type::of(DType::U8, {3, 1}), ir::ParamLayout::Contiguous)})};
  Buffer xs = iota(DType::U8, {1, 6});
  xs.strides = {999999, 1};  // the size-1 dim's stride must never be read
  check_graph(g, {xs, iota(DType::U8, {3, 1}, 200.0)});
}

TEST(CpuLayout, ZeroSizeResults) {
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::F32, {0, 3}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::F32, {3}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Add, ir::Type::of(DType::F32, {0, 3}), {x, y}),
               g.add_op(Op::Neg, ir::Type::of(DType::F32, {3}), {y})};
  check_graph(g, {make_buffer(DType::F32, {0, 3}), iota(DType::F32, {3})});
}

TEST(CpuLayout, ResultsOfDifferentShapesAndPassThrough) {
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type::of(DType::Bool, {2, 3}), ir::ParamLayout::Contiguous);
  ir::ValueId y = g.add_param(ir::Type::of(DType::Bool, {3}), ir::ParamLayout::Contiguous);
  ir::ValueId a = g.add_op(Op::Xor, ir::Type::of(DType::Bool, {2, 3}), {x, y});
  g.results = {a, g.add_op(Op::Not, ir::Type::of(DType::Bool, {3}), {y}), x,
               g.add_op(Op::And, ir::Type::of(DType::Bool, {2, 3}), {a, x})};
  Buffer xb = make_buffer(DType::Bool, {2, 3}), yb = make_buffer(DType::Bool, {3});
  for (int64_t k = 0; k < 6; ++k) xb.set(k, (k * 7) % 3 == 1);
  for (int64_t k = 0; k < 3; ++k) yb.set(k, k != 1);
  check_graph(g, {xb, yb});
}

TEST(CpuLayout, LargeCoalescedAndUnaligned) {
  // 3-D contiguous inputs coalesce to one loop; an odd length exercises the vector remainder.
  ir::Graph g;
  ir::Type t = ir::Type::of(DType::F32, {7, 13, 33});
  ir::ValueId x = g.add_param(t, ir::ParamLayout::Contiguous), y = g.add_param(t, ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Div, t, {g.add_op(Op::Sqrt, t, {x}), y})};
  Buffer xb = iota(DType::F32, {7, 13, 33}), yb = iota(DType::F32, {7, 13, 33}, -100.0);
  // Shift x by one byte: NumPy arrays need not be aligned.
  xb.storage.insert(xb.storage.begin(), 0);
  xb.offset = 1;
  check_graph(g, {xb, yb});
}

TEST(CpuLayout, SymbolicDimCompiles) {
  // Elementwise graphs take symbolic dims (test_cpu_symbolic.cpp runs them).
  ir::Graph g;
  ir::ValueId x = g.add_param(ir::Type(DType::F32, {ir::Dim::symbol(0)}), ir::ParamLayout::Contiguous);
  g.results = {g.add_op(Op::Neg, ir::Type(DType::F32, {ir::Dim::symbol(0)}), {x})};
  auto k = compile_cpu(g);
  EXPECT_TRUE(k.ok()) << (k.ok() ? "" : k.message());
}

}  // namespace
}  // namespace tracejit::backends::testing
