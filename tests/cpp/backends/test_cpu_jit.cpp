// ORC lifetime, dumps and vectorization of the generated code.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "backend_test_util.h"

namespace tracejit::backends::testing {
namespace {

ir::Graph saxpy_graph(int64_t n) {
  ir::Graph g;
  g.name = "saxpy";
  ir::Type t = ir::Type::of(DType::F32, {n});
  ir::ValueId x = g.add_param(t, ir::ParamLayout::Contiguous), y = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId a = g.add_const_float(DType::F32, 2.0);
  g.results = {g.add_op(Op::Add, t, {g.add_op(Op::Mul, t, {x, a}), y})};
  return g;
}

TEST(CpuJit, FreedKernelsReleaseTheirCode) {
  for (int i = 0; i < 200; ++i) {
    ir::Graph g = saxpy_graph(16 + i);
    auto k = compile_cpu(g);
    ASSERT_TRUE(k.ok()) << k.message();
    if (i % 50 == 0) {
      std::vector<Buffer> in = {make_buffer(DType::F32, {16 + i}), make_buffer(DType::F32, {16 + i})};
      run_kernel(g, **k, in);
    }
  }  // each kernel's ResourceTracker is removed here
  ir::Graph g = saxpy_graph(1000);
  Buffer x = make_buffer(DType::F32, {1000}), y = make_buffer(DType::F32, {1000});
  for (int64_t j = 0; j < 1000; ++j) x.set(j, static_cast<float>(j)), y.set(j, 1.0f);
  check_graph(g, {x, y});
}

TEST(CpuJit, DumpShowsVectorizedLoop) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "tracejit_test_dump";
  std::filesystem::remove_all(dir);
  CpuCompileOptions opts;
  opts.dump_dir = dir.string();
  auto k = compile_cpu(saxpy_graph(4096), opts);
  ASSERT_TRUE(k.ok()) << k.message();
  std::ifstream ll(dir / ((*k)->symbol() + ".ll"));
  std::stringstream text;
  text << ll.rdbuf();
  std::string ir = text.str();
  EXPECT_TRUE(ir.find("<16 x float>") != std::string::npos || ir.find("<8 x float>") != std::string::npos) << ir;
  EXPECT_EQ(ir.find("fast"), std::string::npos);  // no fast-math flags
  EXPECT_EQ(ir.find("fmuladd"), std::string::npos);
  EXPECT_TRUE(std::filesystem::exists(dir / ((*k)->symbol() + ".s")));
}

TEST(CpuJit, FiveOpKernelCompileTime) {
  ir::Graph g;
  ir::Type t = ir::Type::of(DType::F32, {1024});
  ir::ValueId x = g.add_param(t, ir::ParamLayout::Contiguous), y = g.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId a = g.add_op(Op::Mul, t, {x, y});
  ir::ValueId b = g.add_op(Op::Add, t, {a, x});
  ir::ValueId c = g.add_op(Op::Maximum, t, {b, y});
  ir::ValueId d = g.add_op(Op::Sqrt, t, {c});
  g.results = {g.add_op(Op::Sub, t, {d, x})};
  auto warm = compile_cpu(g);
  ASSERT_TRUE(warm.ok()) << warm.message();
  double best = 1e9;
  for (int i = 0; i < 5; ++i) {
    auto k = compile_cpu(g);
    ASSERT_TRUE(k.ok());
    best = std::min(best, (*k)->compile_ms());
  }
  std::printf("5-op f32 kernel compile: %.2f ms (first, with JIT startup: %.2f ms)\n", best, (*warm)->compile_ms());
  EXPECT_LT(best, 1000.0);
}

}  // namespace
}  // namespace tracejit::backends::testing
