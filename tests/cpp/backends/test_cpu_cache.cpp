// The persistent object cache: hits give working kernels; corrupt, truncated or foreign entries
// and other keys are misses; the size bound evicts least recently used entries.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <thread>

#include "backend_test_util.h"
#include "backends/cpu/object_cache.h"

namespace tracejit::backends::testing {
namespace {

namespace fs = std::filesystem;

// A fresh directory per test, removed afterwards.
class CpuCache : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("tracejit_cache_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  CpuCompileOptions options() const {
    CpuCompileOptions o;
    o.cache_dir = dir_.string();
    return o;
  }
  std::vector<fs::path> entries() const {
    std::vector<fs::path> v;
    if (fs::exists(dir_))
      for (const auto& e : fs::directory_iterator(dir_))
        if (e.path().extension() == ".tjo") v.push_back(e.path());
    return v;
  }

  fs::path dir_;
};

// A graph unique to this test binary run (the constant) so no other test shares its key.
ir::Graph graph(double c, Op op = Op::Add) {
  ir::Graph g;
  g.name = "cache_test";
  ir::ValueId x = g.add_param(ir::Type::of(DType::F64, {64}), ir::ParamLayout::Contiguous);
  ir::ValueId k = g.add_const_float(DType::F64, c);
  ir::ValueId m = g.add_op(Op::Mul, ir::Type::of(DType::F64, {64}), {x, x});
  g.results = {g.add_op(op, ir::Type::of(DType::F64, {64}), {m, k})};
  return g;
}

double unique_constant() {
  return static_cast<double>(std::chrono::steady_clock::now().time_since_epoch().count() % 1000003) + 0.5;
}

void expect_correct(const ir::Graph& g, const CompiledKernel& k) {
  Buffer in = make_buffer(DType::F64, {64});
  for (int64_t i = 0; i < 64; ++i) in.set<double>(i, 0.25 * static_cast<double>(i) - 3.0);
  std::vector<Buffer> ins = {in};
  std::vector<Buffer> got = run_kernel(g, k, ins);
  EXPECT_TRUE(same_values(got[0], reference(g, ins)[0]));
}

TEST_F(CpuCache, MissStoresThenHitRuns) {
  ir::Graph g = graph(unique_constant());
  {
    auto k = compile_cpu(g, options());
    ASSERT_TRUE(k.ok()) << k.message();
    EXPECT_FALSE(k.value()->from_cache());
    expect_correct(g, *k.value());
  }
  ASSERT_EQ(entries().size(), 1u);
  auto k = compile_cpu(g, options());  // the first kernel is gone: loaded from disk
  ASSERT_TRUE(k.ok()) << k.message();
  EXPECT_TRUE(k.value()->from_cache());
  expect_correct(g, *k.value());
}

TEST_F(CpuCache, LiveKernelIsSharedInProcess) {
  ir::Graph g = graph(unique_constant());
  auto a = compile_cpu(g, options());
  auto b = compile_cpu(g, options());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_TRUE(b.value()->from_cache());
  EXPECT_EQ(a.value()->fn(), b.value()->fn());
  a.value().reset();  // b keeps the code alive
  expect_correct(g, *b.value());
}

TEST_F(CpuCache, CorruptTruncatedOrForeignEntriesAreIgnored) {
  ir::Graph g = graph(unique_constant());
  ASSERT_TRUE(compile_cpu(g, options()).ok());
  ASSERT_EQ(entries().size(), 1u);
  fs::path p = entries()[0];
  std::string good;
  {
    std::ifstream f(p, std::ios::binary);
    good.assign(std::istreambuf_iterator<char>(f), {});
  }
  ASSERT_GT(good.size(), 64u);
  std::string flipped = good;
  flipped[good.size() / 2] ^= 0x5a;  // payload byte: checksum mismatch
  std::string magic = good;
  magic[0] = 'X';
  std::string version = good;
  version[8] = 99;
  std::string wrong_key = good;
  wrong_key[20] ^= 1;
  for (const std::string& bad :
       {flipped, good.substr(0, good.size() - 10), good.substr(0, 30), magic, version, wrong_key, std::string()}) {
    {
      std::ofstream f(p, std::ios::binary | std::ios::trunc);
      f << bad;
    }
    auto k = compile_cpu(g, options());
    ASSERT_TRUE(k.ok()) << k.message();
    EXPECT_FALSE(k.value()->from_cache());
    expect_correct(g, *k.value());
  }
  auto k = compile_cpu(g, options());  // the recompile rewrote a good entry
  ASSERT_TRUE(k.ok());
  EXPECT_TRUE(k.value()->from_cache());
}

TEST_F(CpuCache, DifferentKeyIsAMiss) {
  double c = unique_constant();
  ASSERT_TRUE(compile_cpu(graph(c), options()).ok());
  auto other_op = compile_cpu(graph(c, Op::Sub), options());
  ASSERT_TRUE(other_op.ok());
  EXPECT_FALSE(other_op.value()->from_cache());
  CpuCompileOptions o2 = options();
  o2.opt_level = 1;
  auto other_opt = compile_cpu(graph(c), o2);
  ASSERT_TRUE(other_opt.ok());
  EXPECT_FALSE(other_opt.value()->from_cache());
  expect_correct(graph(c), *other_opt.value());
  EXPECT_EQ(entries().size(), 3u);
}

TEST_F(CpuCache, DisabledWritesNothing) {
  CpuCompileOptions o;
  o.cache_dir = "";
  auto k = compile_cpu(graph(unique_constant()), o);
  ASSERT_TRUE(k.ok());
  EXPECT_FALSE(fs::exists(dir_));
}

TEST_F(CpuCache, SizeBoundEvictsLeastRecentlyUsed) {
  // Three 1000-byte entries under a 2500-byte bound (header 64 bytes each): one must go, and
  // it is the one not read since it was written.
  ObjectCacheDir cache(dir_.string(), 2500);
  ObjectKey k1 = object_key("one"), k2 = object_key("two"), k3 = object_key("three");
  std::string payload(1000 - 64, 'x');
  cache.store(k1, payload);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  cache.store(k2, payload);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_TRUE(cache.load(k1).has_value());  // k1 is now the most recently used
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  cache.store(k3, payload);
  EXPECT_TRUE(cache.load(k1).has_value());
  EXPECT_FALSE(cache.load(k2).has_value());
  EXPECT_TRUE(cache.load(k3).has_value());
  EXPECT_EQ(*cache.load(k3), payload);
}

TEST_F(CpuCache, UnwritableDirectoryIsJustAMiss) {
  CpuCompileOptions o;
  o.cache_dir = "/proc/definitely/not/writable";
  auto k = compile_cpu(graph(unique_constant()), o);
  ASSERT_TRUE(k.ok()) << k.message();
  EXPECT_FALSE(k.value()->from_cache());
}

}  // namespace
}  // namespace tracejit::backends::testing
