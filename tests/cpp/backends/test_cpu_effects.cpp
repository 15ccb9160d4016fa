// Host effects in loop bodies (the ir `effect` op): the program hands the thread's EffectSink
// each effect's values at its point of the iteration, in order, only when its condition holds;
// DCE keeps effects and the loops holding them; the native scalar-loop path refuses them.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "backend_test_util.h"
#include "backends/cpu/program.h"
#include "ir/parser.h"
#include "ir/passes/dce.h"
#include "ir/pipeline.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace tracejit::backends::testing {
namespace {

// acc = acc + x each iteration; effect 0 (when i % 3 == 0) gets i and acc[0..1]; effect 1 (every
// iteration) gets the sum of acc. The carried acc is returned.
const char* kLoop = R"(func @fx(%0) {
  %0 = param 0 contiguous : f64[2]
  %1 = const 0.0 : f64[]
  %2 = broadcast %1 : f64[2]
  %3 = loop %2, %0 {ints = [10, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : f64[2]
      %2 = param 2 contiguous : f64[2]
      %3 = add %1, %2 : f64[2]
      %4 = const 3 : i64[]
      %5 = mod %0, %4 : i64[]
      %6 = const 0 : i64[]
      %7 = eq %5, %6 : bool[]
      %8 = effect %7, %0, %3 {ints = [0, 1], fval = 0.0} : bool[]
      %9 = reduce_sum %3 {ints = [0], fval = 0.0} : f64[1]
      %10 = reshape %9 : f64[]
      %11 = effect %10 {ints = [1, 0], fval = 0.0} : bool[]
      return %3
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : f64[2]
  return %4
}
)";

struct Record {
  int64_t id;
  std::vector<double> values;  // i64 values converted
};

struct Sink final : EffectSink {
  std::vector<Record> got;
  int stop_after = -1;  // >= 0: stop the program after that many effects
  bool effect(int64_t id, const void* const* v, size_t n) override {
    Record r{id, {}};
    if (id == 0) {
      EXPECT_EQ(n, 2u);
      r.values.push_back(static_cast<double>(*static_cast<const int64_t*>(v[0])));
      const auto* a = static_cast<const double*>(v[1]);
      r.values.push_back(a[0]);
      r.values.push_back(a[1]);
    } else {
      EXPECT_EQ(n, 1u);
      r.values.push_back(*static_cast<const double*>(v[0]));
    }
    got.push_back(std::move(r));
    return stop_after < 0 || static_cast<int>(got.size()) < stop_after;
  }
};

ir::Graph parse_ok(const std::string& text) {
  auto g = ir::parse(text);
  EXPECT_TRUE(g.ok()) << g.message();
  if (!g.ok()) return {};
  Status st = ir::verify(*g);
  EXPECT_TRUE(st.ok()) << st.message();
  return std::move(*g);
}

// The kernel of `g`, compiled without the persistent cache; native: try the native nest path.
std::unique_ptr<CompiledKernel> compile_ok(const ir::Graph& g, bool native = true) {
  CpuCompileOptions o;
  o.cache_dir = "";
  o.native_loops = native;
  auto k = compile_cpu(g, o);
  EXPECT_TRUE(k.ok()) << k.message();
  return k.ok() ? std::move(*k) : nullptr;
}

// Installs a sink for its scope (and checks nothing replaced it meanwhile).
class ScopedSink {
 public:
  explicit ScopedSink(EffectSink* s) : sink_(s), old_(set_effect_sink(s)) {}
  ~ScopedSink() { EXPECT_EQ(set_effect_sink(old_), sink_); }
  ScopedSink(const ScopedSink&) = delete;
  ScopedSink& operator=(const ScopedSink&) = delete;

 private:
  EffectSink* sink_;
  EffectSink* old_;
};

// kLoop's input: x = [1.0, 2.5].
std::vector<Buffer> loop_input() {
  Buffer x = make_buffer(DType::F64, {2});
  x.set<double>(0, 1.0);
  x.set<double>(1, 2.5);
  return {x};
}

TEST(CpuEffects, PrintsAndParsesBack) {
  ir::Graph g = parse_ok(kLoop);
  EXPECT_EQ(ir::print(g), kLoop);
  EXPECT_TRUE(g.has_effects());
}

TEST(CpuEffects, VerifierRules) {
  std::string bad = kLoop;
  bad.replace(bad.find("{ints = [0, 1]"), 14, "{ints = [0, 2]");
  auto g = ir::parse(bad);
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_FALSE(ir::verify(*g).ok());
  std::string nocond = kLoop;  // has_cond 1 with a first operand that is not bool[]
  nocond.replace(nocond.find("effect %10 {ints = [1, 0]"), 25, "effect %10 {ints = [1, 1]");
  auto g2 = ir::parse(nocond);
  ASSERT_TRUE(g2.ok()) << g2.message();
  EXPECT_FALSE(ir::verify(*g2).ok());
}

TEST(CpuEffects, DceKeepsEffectsAndTheirLoops) {
  ir::Graph g = parse_ok(kLoop);
  g.results.clear();  // nothing reads the loop: it is kept for its effects
  ASSERT_TRUE(ir::run_pipeline(g).ok());
  std::string text = ir::print(g);
  EXPECT_NE(text.find("= loop "), std::string::npos) << text;
  EXPECT_NE(text.find("= effect %7"), std::string::npos) << text;
  EXPECT_NE(text.find("= effect %10"), std::string::npos) << text;
}

void run_and_check(bool native) {
  ir::Graph g = parse_ok(kLoop);
  auto k = compile_ok(g, native);
  ASSERT_NE(k, nullptr);
  const ProgramInfo* info = program_info(*k);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->effects, 2);
  EXPECT_EQ(info->native_loops, 0);
  if (native) {
    ASSERT_EQ(info->native_rejections.size(), 1u);
    EXPECT_NE(info->native_rejections[0].find("host effects"), std::string::npos) << info->native_rejections[0];
  }
  std::vector<Buffer> in = loop_input();
  for (int rep = 0; rep < 2; ++rep) {
    Sink sink;
    std::vector<Buffer> out;
    {
      ScopedSink scope(&sink);
      out = run_kernel(g, *k, in);
    }
    EXPECT_EQ(out[0].get<double>(0), 10.0);
    EXPECT_EQ(out[0].get<double>(1), 25.0);
    // Per iteration, in order: effect 0 on i = 0, 3, 6, 9 before effect 1.
    std::vector<Record> want;
    for (int i = 0; i < 10; ++i) {
      double a0 = 1.0 * (i + 1), a1 = 2.5 * (i + 1);
      if (i % 3 == 0) want.push_back({0, {static_cast<double>(i), a0, a1}});
      want.push_back({1, {a0 + a1}});
    }
    ASSERT_EQ(sink.got.size(), want.size());
    for (size_t r = 0; r < want.size(); ++r) {
      EXPECT_EQ(sink.got[r].id, want[r].id) << r;
      EXPECT_EQ(sink.got[r].values, want[r].values) << r;
    }
  }
  // No sink: the effects are skipped, the values are the same.
  std::vector<Buffer> out = run_kernel(g, *k, in);
  EXPECT_EQ(out[0].get<double>(1), 25.0);
}

TEST(CpuEffects, SinkStopsTheProgram) {
  ir::Graph g = parse_ok(kLoop);
  auto k = compile_ok(g);
  ASSERT_NE(k, nullptr);
  std::vector<Buffer> in = loop_input();
  Sink sink;
  sink.stop_after = 5;  // effect 0 (i 0), 1, 1, 1, effect 0 (i 3): stop there
  {
    ScopedSink scope(&sink);
    run_kernel(g, *k, in);
  }
  ASSERT_EQ(sink.got.size(), 5u);
  EXPECT_EQ(sink.got[4].id, 0);
  EXPECT_EQ(sink.got[4].values[0], 3.0);
  // The next call runs whole again (a pooled frame).
  Sink again;
  std::vector<Buffer> out;
  {
    ScopedSink scope(&again);
    out = run_kernel(g, *k, in);
  }
  EXPECT_EQ(again.got.size(), 14u);
  EXPECT_EQ(out[0].get<double>(0), 10.0);
}

// A histogram with a stopping effect (the tracer's failed bounds check): counts[w] += 1 for
// each label, the effect (when the label is outside [0, 4)) gets the label and the counts so
// far, then the program stops. Native nests accept stopping effects (a cold block that calls
// tracejit_loop_stop and returns); the program path stops after its effect step.
const char* kChecked = R"(func @hist(%0) {
  %0 = param 0 contiguous : i64[6]
  %1 = const 0 : i64[]
  %2 = broadcast %1 : i64[4]
  %3 = loop %2, %0 {ints = [6, 1, 0, 1], fval = 0.0} : i64[]
    region func @body(%0, %1, %2) {
      %0 = param 0 scalar : i64[]
      %1 = param 1 contiguous : i64[4]
      %2 = param 2 contiguous : i64[6]
      %3 = dyn_slice %2, %0 {ints = [1], fval = 0.0} : i64[1]
      %4 = reshape %3 : i64[]
      %5 = cast %4 : u64[]
      %6 = const 4 : u64[]
      %7 = ge %5, %6 : bool[]
      %8 = const 0 : i64[]
      %9 = where %7, %8, %4 : i64[]
      %10 = effect %7, %4, %1 {ints = [0, 1, 1], fval = 0.0} : bool[]
      %11 = dyn_slice %1, %9 {ints = [1], fval = 0.0} : i64[1]
      %12 = reshape %11 : i64[]
      %13 = const 1 : i64[]
      %14 = add %12, %13 : i64[]
      %15 = reshape %14 : i64[1]
      %16 = dyn_update %1, %15, %9 {ints = [1], fval = 0.0} : i64[4]
      return %16
    }
  %4 = loop_result %3 {ints = [0], fval = 0.0} : i64[4]
  return %4
}
)";

struct CheckSink final : EffectSink {
  std::vector<std::vector<int64_t>> got;  // the label, then the counts
  bool effect(int64_t id, const void* const* v, size_t n) override {
    EXPECT_EQ(id, 0);
    EXPECT_EQ(n, 2u);
    std::vector<int64_t> r{*static_cast<const int64_t*>(v[0])};
    for (int j = 0; j < 4; ++j) r.push_back(static_cast<const int64_t*>(v[1])[j]);
    got.push_back(std::move(r));
    return true;  // a stopping effect stops whatever the sink says
  }
};

void run_checked(bool native) {
  ir::Graph g = parse_ok(kChecked);
  auto k = compile_ok(g, native);
  ASSERT_NE(k, nullptr);
  const ProgramInfo* info = program_info(*k);
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(info->native_loops, native ? 1 : 0);
  EXPECT_EQ(info->effects, 1);
  Buffer labels = make_buffer(DType::I64, {6});
  const int64_t good[6] = {1, 3, 1, 0, 1, 2};
  for (int i = 0; i < 6; ++i) labels.set<int64_t>(i, good[i]);
  // Runs the kernel on the labels under a fresh sink: the effects it got, and the counts.
  auto run = [&](std::vector<std::vector<int64_t>>* got) {
    CheckSink sink;
    std::vector<Buffer> in = {labels};
    std::vector<Buffer> out;
    {
      ScopedSink scope(&sink);
      out = run_kernel(g, *k, in);
    }
    *got = std::move(sink.got);
    return out;
  };
  std::vector<std::vector<int64_t>> got;
  for (int rep = 0; rep < 2; ++rep) {  // in bounds: no effect, the counts
    std::vector<Buffer> out = run(&got);
    EXPECT_TRUE(got.empty());
    EXPECT_EQ(out[0].get<int64_t>(0), 1);
    EXPECT_EQ(out[0].get<int64_t>(1), 3);
    EXPECT_EQ(out[0].get<int64_t>(3), 1);
  }
  labels.set<int64_t>(4, 9);  // the fifth label is out of bounds: the sink sees 4 counted
  run(&got);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], (std::vector<int64_t>{9, 1, 2, 0, 1}));
  labels.set<int64_t>(4, 1);  // and the next call runs whole again
  std::vector<Buffer> out = run(&got);
  EXPECT_TRUE(got.empty());
  EXPECT_EQ(out[0].get<int64_t>(1), 3);
}

TEST(CpuEffects, StoppingEffectNativeNest) { run_checked(true); }
TEST(CpuEffects, StoppingEffectProgramPath) { run_checked(false); }

TEST(CpuEffects, StoppingEffectVerifier) {
  std::string bad = kChecked;
  bad.replace(bad.find("{ints = [0, 1, 1]"), 17, "{ints = [0, 1, 2]");
  auto g = ir::parse(bad);
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_FALSE(ir::verify(*g).ok());
}

TEST(CpuEffects, PerIterationInOrderProgramPath) { run_and_check(false); }
TEST(CpuEffects, NativePathRefusesAndProgramRuns) { run_and_check(true); }

}  // namespace
}  // namespace tracejit::backends::testing
