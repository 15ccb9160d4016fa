// The runtime: per-function cache of compiled versions behind guard sets, hotness counting,
// dispatch, recompile accounting and eager fallback.
#pragma once

#include "tracer/npy.h"

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "jit/guard_stub.h"
#include "tracer/tracer.h"

namespace tracejit::jit {

struct Options {
  int hot = 1;              // calls of a signature that run eagerly before it is compiled
  // Per-loop hotness: a call of a function with a loop that runs at least this many loop
  // iterations (as traced) is hot on its own, before `hot` calls. 0: off.
  int64_t hot_loop = 100;
  int recompile_limit = 8;  // compiled versions per function; past it new signatures run eagerly
  bool sync = false;        // compile on the calling thread (else on the background thread)
  int dynamic = -1;         // -1: automatic dynamic shapes; 0: always static; 1: every dim dynamic
  bool fullgraph = false;   // a graph break, an abort or a fallback raises GraphBreakError instead
};

struct Stats {
  int64_t calls = 0;
  int64_t compiled_calls = 0;
  int64_t fallback_calls = 0;
  int64_t compiles = 0;
  int64_t recompiles = 0;
  int64_t trace_aborts = 0;
  int64_t compile_failures = 0;
  int64_t cache_hits = 0;  // compiles whose code came from the object cache (no codegen)
  int64_t graph_breaks = 0;  // deferred side effects and resume breaks in the versions traced
  // Graph breaks with resume (tracer::Resume): segments after a break that ran compiled
  // (continuations), and those that ran eagerly (the rest of the function, from the break).
  int64_t continuation_calls = 0;
  int64_t continuation_fallbacks = 0;
  // Compiled runs whose floating-point flags NumPy's errstate acts on: the result was dropped
  // and the call (or the continuation) ran again eagerly for NumPy's warnings or exception.
  // Also counted in fallback_calls, with a reason in fallback_reasons.
  int64_t fp_reruns = 0;
  // `with` statements run eagerly between compiled graphs (Resume::Kind::With).
  int64_t with_blocks = 0;
  double trace_ms = 0;
  double compile_ms = 0;
  std::vector<std::string> fallback_reasons;   // "file:line: why [code]", deduplicated
  std::vector<std::string> recompile_reasons;  // "f: arg 'x' shape[0]: expected 4, got 8"
  std::vector<std::string> graph_break_reasons;  // "file:line: print(...) runs eagerly ... [graph-break]"
};

// One compiled version of a function: valid whenever its guards hold.
struct CacheEntry : std::enable_shared_from_this<CacheEntry> {
  enum State : int { kCompiling = 0, kReady = 1, kFailed = 2 };
  // Written by whichever thread compiles, published by `state` (release/acquire); everything
  // below the line is read only once state is kReady.
  std::atomic<int> state{kCompiling};
  bool settled = false;  // accounted in the function's stats (calling thread, GIL held)
  uint64_t signature = 0;
  tracer::GuardSet guards;
  std::unique_ptr<GuardStub> guard_stub;  // `guards` as machine code; nullptr: use guards.check
  std::unique_ptr<backends::CompiledKernel> kernel;
  bool has_loops = false;  // a program with loop regions: runs with the GIL released
  // Loop regions of the program (cache_info()["loops"]): how many, how many run as one native
  // nest, and why each other one does not.
  int loops = 0, native_loops = 0;
  std::vector<std::string> native_rejections;
  std::vector<tracer::InputBinding> inputs;
  std::vector<tracer::OutputNode> outputs;  // owns its constants' references (see ~CacheEntry)
  std::vector<ir::Type> result_types;
  std::vector<int> result_param;  // per graph result: the param it merely copies, or -1
  // ... whose buffer is copied as raw bytes (a contiguous param: the result's buffer has its
  // memory order; a transposed input's buffer may not have the input's shape)
  std::vector<char> result_param_raw;
  // per graph result: empty, or the axes A of a result returned as transpose(B, A) of its
  // C-contiguous buffer B (ir::Graph::result_axes)
  std::vector<std::vector<int64_t>> result_axes;
  std::vector<int> kernel_slot;   // per graph result: its kernel output index, or -1
  std::vector<std::pair<int, int>> writebacks;  // (input, graph result): in-place updates
  // Write-backs of an input updated by one scatter alone (`w[idx] -= lr * g`): the graph
  // result `result` of the write-back holds the indices (int64) instead of the whole updated
  // array, `values` the values, and the runtime writes them into the caller's array (build_kernel).
  struct ScatterBack {
    int result = -1;
    int values = -1;
    int axis = 0;
  };
  std::map<int, ScatterBack> scatter_backs;  // by write-back result
  std::vector<tracer::RerunCheck> rerun_checks;  // tracer::Trace::rerun_checks
  std::vector<std::pair<int, int>> symbols;     // symbolic dim k = args[first].shape[second]
  // Deferred effects, performed after the kernel (see tracer::Effect).
  std::vector<tracer::Effect> effects;
  std::vector<tracer::Effect> loop_effects;  // effects in loop regions, by ir `effect` id
  std::vector<tracer::SourceRef> effect_fetches;
  std::vector<std::pair<tracer::SourceRef, tracer::SourceRef>> effect_distinct;
  int host_slots = 0;
  // The trace ends at a graph break: the runtime performs it and continues (see Resume).
  std::optional<tracer::Resume> resume;
  std::string resume_at;  // a continuation: "file:line" of the instruction it starts at, else ""
  // continuation_key of `resume`'s continuations, memoized per (pc, bound locals): a loop with
  // a break looks one up every iteration.
  std::vector<std::tuple<int, std::vector<bool>, std::string>> resume_keys;
  std::string ir_text;
  std::string error;  // kFailed: why
  // Its compiled code may raise fewer floating-point flags than eager NumPy (a flag-raising op
  // the pipeline folded or removed as dead): under np.errstate 'raise'/'call'/'print'/'log' it
  // does not run (eager). "file:line: op" of the first such op.
  bool fp_inexact = false;
  std::string fp_inexact_where;
  int fp_streak = 0;    // consecutive runs re-run eagerly for floating-point flags
  int64_t fp_skips = 0;  // calls sent eagerly directly while fp_streak is high
  int64_t hits = 0;
  double trace_ms = 0;
  double compile_ms = 0;
  ~CacheEntry();
};

// Where a function goes on after a graph break: the instruction a continuation starts at and
// which of its local slots are bound; the compiled versions for it (each behind its guards over
// the frame state) and the eager remainder (tracejit._resume) used when none can run.
struct Continuation {
  int pc = -1;
  int nlocals = 0;
  size_t nstate = 0;
  std::vector<bool> bound;  // per local slot
  std::vector<tracer::StateHint> hints;  // a break inside a loop: slots bound as runtime values
  std::string where;        // "file:line"
  std::vector<std::shared_ptr<CacheEntry>> entries;
  PyObject* remainder = nullptr;  // strong
  PyObject* code = nullptr;       // strong: the code object it was made for (part of its key)
  int64_t eager_calls = 0;
  // A `with` statement's eager run (Resume::Kind::With): the instructions (and their byte
  // offsets) its remainder may stop at, where the continuation starts.
  std::vector<int> with_exits, with_exit_offsets;
  // Dynamic shapes, as for the function's own versions (JitFunction::learn_dynamic_dims):
  // (state index, dimension) pairs traced as runtime sizes, pairs a trace had to specialize,
  // and whether dynamic traces failed here (then static only).
  std::vector<std::pair<int, int>> dynamic_dims, static_dims;
  bool dynamic_failed = false;
  ~Continuation();
};

class JitFunction {
 public:
  // `callable`: a Python function, a bound method, or an object whose class defines __call__
  // in Python (jit(model)); anything else runs eagerly (with a fallback reason).
  JitFunction(PyObject* callable, Options options);
  ~JitFunction();
  JitFunction(const JitFunction&) = delete;
  JitFunction& operator=(const JitFunction&) = delete;

  // The call path. Returns a new reference, or nullptr with the user's exception set.
  PyObject* call(PyObject* const* args, size_t nargsf, PyObject* kwnames);

  PyObject* callable() const { return callable_; }
  const Stats& stats() const { return stats_; }
  const std::vector<std::shared_ptr<CacheEntry>>& entries() const { return entries_; }
  const std::map<std::string, std::unique_ptr<Continuation>>& continuations() const { return continuations_; }
  const Options& options() const { return options_; }
  // Forget every compiled version and counter.
  void reset();

 private:
  struct SignatureInfo {
    int64_t seen = 0;
    bool eager_only = false;  // its trace or compile failed: do not retry
    bool compiling = false;   // a version for it is being compiled in the background
    bool loop_probed = false; // its loop iterations were counted by a trace on a cold call
    bool while_hot = false;   // its first (eager) call ran while loops long enough: compile
    std::vector<std::string> fullgraph_lines;  // fullgraph=True: why it cannot compile to one graph
  };

  PyObject* eager(PyObject* const* args, size_t nargsf, PyObject* kwnames);
  // Graph breaks with resume. prepare_resume: creates the continuations of a trace's break
  // (with their eager remainders) before the trace's version is used; false with a reason
  // when that is impossible (the trace is then not used). resume_from: performs the break
  // instruction on `state` (owned references, nullptr entries unbound) and runs the rest.
  bool prepare_resume(const tracer::Resume& r, std::string& why);
  PyObject* resume_from(CacheEntry& e, std::vector<PyObject*>& state);
  const std::string& resume_key(CacheEntry& e, int pc, const std::vector<bool>& bound) const;
  // A `with` statement run eagerly from its BEFORE_WITH, then the rest from where it was left.
  PyObject* resume_with(const tracer::Resume& r, std::vector<PyObject*>& state);
  bool prepare_with(const tracer::Resume& r, const std::vector<bool>& bound, PyObject* unbound, std::string& why);
  // The continuation at instruction `pc` (byte `offset`) with an empty stack, made when missing.
  Continuation* plain_continuation(int pc, int offset, const std::vector<bool>& bound,
                                   const std::vector<tracer::StateHint>& hints, const std::string& where,
                                   std::string& why);
  // A version that ends at a graph break returns kResumePending from run() with its break and
  // frame state pushed on a per-thread stack (runtime.cpp); drive() (under every call of run()
  // from call()) performs them one after another, so that a loop with a break in its body (a
  // continuation per iteration) does not nest the C stack per iteration.
  PyObject* drive(PyObject* r);
  PyObject* continue_at(Continuation& c, std::vector<PyObject*>& state);
  tracer::TraceResult trace_continuation(Continuation& c, PyObject* const* state, size_t n);
  std::string continuation_key(int pc, const std::vector<bool>& bound,
                               const std::vector<tracer::StateHint>& hints) const;
  // The key pc of the eager remainder of a break inside a try block (entered at the break
  // instruction, apart from the continuations that start after one).
  static int try_entry_pc(const tracer::Resume& r) { return -2 - r.pc; }
  // Accounts a trace's graph breaks (effects and its resume break); fullgraph=True raises.
  bool count_breaks(const tracer::Trace& t, SignatureInfo* sig);
  // Binds a call's arguments to the code's parameters: bound[0, argc) the positional ones,
  // then the keyword-only ones, then (CO_VARARGS) the *args tuple, then (CO_VARKEYWORDS) the
  // **kwargs dict and the tuple of its keys in order (what the traced code's kwargs is guarded
  // by); nparams_ slots in all. False when Python would raise: the eager call raises it.
  bool bind(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
            std::vector<PyObject*>& bound, std::vector<PyObject*>& owned) const;
  // A cheap key of the arguments' types, dtypes, shapes, layouts and str/bool values (and int
  // values when `int_values`); never used for correctness (the guards decide that).
  uint64_t signature_of(PyObject* const* bound, bool int_values) const;
  // Traces for these arguments and compiles (now, or queued). The entry when it can run now;
  // nullptr when this call must run eagerly (aborted, failed, or compiling in the background).
  std::shared_ptr<CacheEntry> compile(PyObject* const* bound, uint64_t sig_key, SignatureInfo& sig,
                                      tracer::TraceResult* traced = nullptr);
  tracer::TraceResult trace(PyObject* const* bound);  // with the dynamic-shape retry; counts trace_ms
  bool code_has_loops();  // does the traced function's code have a backward jump?
  bool settle(size_t index);  // accounts a finished compile; false while compiling or if failed
  // The same for a continuation's versions (signatures keyed by continuation and state).
  bool settle_continuation(Continuation& c, size_t index);
  std::shared_ptr<CacheEntry> make_entry(tracer::Trace& t, uint64_t sig_key, double trace_ms);
  void log(const char* channel, const std::string& message) const;  // logger "tracejit"
  std::string caller_location() const;
  // nullptr with no error set: the entry could not run (an input path vanished); go eager.
  PyObject* run(CacheEntry& e, PyObject* const* bound);
  void add_reason(std::vector<std::string>& list, std::string reason);
  // run() returned nullptr without an error because of NumPy's errstate (flags raised, or an
  // op whose flags are not exact under a raising errstate): eager, also under fullgraph=True.
  bool fp_eager_ = false;
  // A compiled result dropped so that the call runs again eagerly (NumPy's warning or
  // exception): counted in fp_reruns and the entry's streak, `reason` in fallback_reasons.
  void note_rerun(CacheEntry& e, const std::string& reason);
  void note_fp_rerun(CacheEntry& e, uint32_t flags);  // for floating-point flags
  // fullgraph=True: raises GraphBreakError listing `lines`; returns nullptr.
  PyObject* raise_graph_break(const std::vector<std::string>& lines);

  PyObject* callable_;        // what eager calls call (strong)
  PyObject* func_ = nullptr;  // the Python function traced (strong), or nullptr: eager only
  PyObject* self_ = nullptr;  // bound first argument (method self / callable object), or nullptr
  PyCodeObject* code_ = nullptr;
  int nparams_ = 0;  // bound argument slots (see bind)
  std::string name_;
  Options options_;
  Stats stats_;
  std::vector<std::shared_ptr<CacheEntry>> entries_;
  std::unordered_map<uint64_t, SignatureInfo> signatures_;
  std::map<std::string, std::unique_ptr<Continuation>> continuations_;
  // Functions performing a break instruction in a frame at the user's line (tracejit._resume.
  // make_break_op), by (Resume::Kind, line); strong references.
  std::map<std::pair<int, int>, PyObject*> break_ops_;
  PyObject* break_op(const tracer::Resume& r);  // borrowed; nullptr: perform it directly
  std::unordered_map<uint64_t, SignatureInfo> continuation_signatures_;  // by continuation and state
  std::unordered_map<uint64_t, int64_t> hot_seen_;  // calls per signature without int values
  bool warned_limit_ = false;
  // Automatic dynamic shapes: (argument, dimension) pairs seen to change between compiles.
  std::vector<std::pair<int, int>> dynamic_dims_;
  bool dynamic_failed_ = false;  // a dynamic trace needed static sizes: stay static
  PyObject* loops_code_ = nullptr;  // the code object code_has_loops() answered for (borrowed, compared only)
  bool has_loops_ = false;
  double last_trace_ms_ = 0;  // of the last trace()
  // Argument dimensions a dynamic trace had to specialize (a runtime size met a static one).
  std::vector<std::pair<int, int>> static_dims_;
  tracer::TraceOptions trace_options(PyObject* const* bound);
  void learn_dynamic_dims(PyObject* const* bound);
};

// Process-wide switches, set by python/ at import.
void set_disabled(bool disabled);
bool disabled();
void set_warning_category(PyObject* category);  // borrowed; lives as long as the module
void set_graph_break_error(PyObject* type);    // borrowed; tracejit.GraphBreakError
// Blocks (GIL released) until the background compile queue is empty.
void wait_for_compiles();

}  // namespace tracejit::jit
