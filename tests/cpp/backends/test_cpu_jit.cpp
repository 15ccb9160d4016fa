// ORC lifetime, dumps and vectorization of the generated code.
#include <algorithm>
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

// The optimized IR of `g` compiled with `llc_bytes` as the last-level cache, after checking the
// kernel's results against `want`.
std::string ir_for_cache(const ir::Graph& g, int64_t llc_bytes, std::vector<Buffer> inputs,
                         const std::vector<Buffer>& want) {
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "tracejit_test_dump_nt";
  std::filesystem::remove_all(dir);
  CpuCompileOptions opts;
  opts.dump_dir = dir.string();
  opts.llc_bytes = llc_bytes;
  auto k = compile_cpu(g, opts);
  EXPECT_TRUE(k.ok()) << k.message();
  if (!k.ok()) return "";
  std::vector<Buffer> got = run_kernel(g, **k, inputs);
  for (size_t r = 0; r < got.size(); ++r) EXPECT_TRUE(same_values(got[r], want[r])) << "result " << r;
  std::ifstream ll(dir / ((*k)->symbol() + ".ll"));
  std::stringstream text;
  text << ll.rdbuf();
  return text.str();
}

Buffer filled_f32(std::vector<int64_t> shape) {
  Buffer b = make_buffer(DType::F32, shape);
  for (int64_t k = 0; k < b.numel(); ++k) b.set(k, static_cast<float>(k % 977) * 0.25f - 100.0f);
  return b;
}

// Non-temporal stores skip the read-for-ownership of the output lines but leave the result out of
// the cache: only for outputs of at least half the last-level cache, or nests moving at least 5/8
// of it (stream_output, lower.h).
TEST(CpuJit, NonTemporalStoresOnlyForOutputsTheCacheCannotHold) {
  const int64_t n = int64_t{1} << 20;  // 4 MiB of float32 out, 8 MiB moved
  ir::Graph g = saxpy_graph(n);        // 2x + y: 12 MiB moved
  std::vector<Buffer> in = {filled_f32({n}), filled_f32({n})};
  std::vector<Buffer> want = reference(g, in);
  EXPECT_EQ(ir_for_cache(g, int64_t{64} << 20, in, want).find("!nontemporal"), std::string::npos);
  EXPECT_EQ(ir_for_cache(g, int64_t{20} << 20, in, want).find("!nontemporal"), std::string::npos);  // 12 < 12.5
  EXPECT_NE(ir_for_cache(g, int64_t{8} << 20, in, want).find("!nontemporal"), std::string::npos);   // 4 >= 8/2
  EXPECT_NE(ir_for_cache(g, int64_t{19} << 20, in, want).find("!nontemporal"), std::string::npos);  // 12 >= 19*5/8

  // Rows of a scheduled kernel: x - max(x, axis=1, keepdims) over [32, 1024] (128 KiB out).
  ir::Graph r;
  const ir::Type t = ir::Type::of(DType::F32, {32, 1024});
  ir::ValueId x = r.add_param(t, ir::ParamLayout::Contiguous);
  ir::ValueId m = r.add_op(Op::ReduceMax, ir::Type::of(DType::F32, {32, 1}), {x});
  r.node(m).ints = {1};
  r.results = {r.add_op(Op::Sub, t, {x, r.add_op(Op::Broadcast, t, {m})})};
  std::vector<Buffer> rin = {filled_f32({32, 1024})};
  Buffer rwant = make_buffer(DType::F32, {32, 1024});
  for (int64_t i = 0; i < 32; ++i) {
    float mx = rin[0].get<float>(i * 1024);
    for (int64_t j = 1; j < 1024; ++j) mx = std::max(mx, rin[0].get<float>(i * 1024 + j));
    for (int64_t j = 0; j < 1024; ++j) rwant.set(i * 1024 + j, rin[0].get<float>(i * 1024 + j) - mx);
  }
  EXPECT_EQ(ir_for_cache(r, int64_t{1} << 20, rin, {rwant}).find("!nontemporal"), std::string::npos);
  EXPECT_NE(ir_for_cache(r, int64_t{256} << 10, rin, {rwant}).find("!nontemporal"), std::string::npos);
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
