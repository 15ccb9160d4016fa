// The pass pipeline: fold, cse, dce to a fixed point, with optional verification and logging.
#include "ir/pipeline.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "ir/parser.h"
#include "ir/passes/cse.h"
#include "ir/passes/dce.h"
#include "ir/passes/fold.h"
#include "ir/passes/layout.h"
#include "ir/passes/matvec.h"
#include "ir/passes/transpose_reduce.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace tracejit::ir {
namespace {

// Each round can only shrink the graph, so few rounds suffice; the bound guards against a pass
// that keeps reporting change.
constexpr int kMaxRounds = 8;

bool env_contains(const char* var, const char* word) {
  const char* v = std::getenv(var);
  return v && std::strstr(v, word);
}

bool verify_enabled() {
#ifndef NDEBUG
  return true;
#else
  const char* v = std::getenv("TRACEJIT_VERIFY");
  return v && std::strcmp(v, "1") == 0;
#endif
}

struct PassRunner {
  Graph& g;
  bool verify_each = verify_enabled();
  bool log = env_contains("TRACEJIT_LOG", "ir");

  // Runs one pass; `changed` reports whether it did anything.
  Status run(const char* name, bool (*pass)(Graph&), bool& changed) {
    auto start = std::chrono::steady_clock::now();
    changed = pass(g);
    double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (log) {
      std::string body = changed ? print(g) : std::string();
      std::fprintf(stderr, "// ----- IR after %s [%.1f us]%s\n%s", name, us, changed ? "" : " (unchanged)",
                   body.c_str());
    }
    if (!verify_each) return ok_status();
    Status st = verify(g);
    if (!st.ok()) return Status::error(fmt::format("IR invalid after pass '{}': {}", name, st.message()));
    return ok_status();
  }
};

Status cleanup_rounds(PassRunner& runner) {
  for (int round = 0; round < kMaxRounds; ++round) {
    bool folded = false, merged = false, removed = false;
    if (Status st = runner.run("fold", fold, folded); !st.ok()) return st;
    if (Status st = runner.run("cse", cse, merged); !st.ok()) return st;
    if (Status st = runner.run("dce", dce, removed); !st.ok()) return st;
    if (!folded && !merged && !removed) break;
  }
  return ok_status();
}

Status run_graph(Graph& g, bool top_level);

}  // namespace

Status run_pipeline(Graph& g) { return run_graph(g, true); }

namespace {

Status run_graph(Graph& g, bool top_level) {
  PassRunner runner{g};
  if (runner.log) std::fprintf(stderr, "// ----- IR before the pipeline\n%s", print(g).c_str());
  if (runner.verify_each) {
    Status st = verify(g);
    if (!st.ok()) return Status::error("IR invalid before the pipeline: " + st.message());
    // The text form is what logs and golden tests show; it must describe the graph exactly.
    std::string text = print(g);
    Expected<Graph> reparsed = parse(text);
    if (!reparsed.ok() || print(*reparsed) != text)
      return Status::error("IR does not survive print -> parse -> print:\n" + text +
                           (reparsed.ok() ? std::string() : "\n" + reparsed.message()));
  }
  // Regions first (each is a graph of its own), then the graph around them.
  for (ValueId v = 0; v < g.size(); ++v)
    for (size_t r = 0; r < g.node(v).regions.size(); ++r)
      if (Status st = run_graph(g.mutable_region(v, r), false); !st.ok()) return st;
  bool rewrote = false;
  // Transposed inputs are read as transposes of their contiguous buffers.
  if (Status st = runner.run("expand_transposed_params", expand_transposed_params, rewrote); !st.ok()) return st;
  // Once, before the cleanup rounds: matrix-vector products of computed matrices become
  // reductions the backend fuses with the matrix's producers.
  if (Status st = runner.run("matvec", matvec_to_reduce, rewrote); !st.ok()) return st;
  // Reductions of transposed operands read the untransposed array in its own order.
  if (Status st = runner.run("transpose_reduce", reduce_through_transpose, rewrote); !st.ok()) return st;
  if (Status st = cleanup_rounds(runner); !st.ok()) return st;
  // Results read through one transpose are computed in memory order and returned transposed
  // (what a region returns is not an array the caller sees: top level only).
  bool relaid = false;
  if (top_level)
    if (Status st = runner.run("results_in_memory_order", results_in_memory_order, relaid); !st.ok()) return st;
  if (Status st = runner.run("drop_c_order_marks", drop_c_order_marks, rewrote); !st.ok()) return st;
  return relaid || rewrote ? cleanup_rounds(runner) : ok_status();
}

}  // namespace

}  // namespace tracejit::ir
