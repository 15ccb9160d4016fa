// Internal to tracer/: the abstract values and the Tracer class, shared by the interpreter
// (tracer.cpp) and the NumPy surface (numpy_calls.cpp).
#pragma once

#include "tracer/npy.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <tuple>
#include <optional>
#include <string>
#include <vector>

#include "frontend/decoder.h"
#include "tracer/numpy_surface.h"
#include "tracer/tracer.h"

namespace tracejit::tracer::detail {

using frontend::COp;
using frontend::Instruction;

// Whether the code at `pc` is a copy of the code at `exit` up to a return (while_loops.cpp):
// CPython 3.12+ copy a short exit block ending in a return into the `break` (a for loop's
// after its POP_TOP of the iterator), so that running it from the exit's stack depth is leaving
// the loop and running the code after it.
bool exit_copy(const std::vector<Instruction>& ins, int pc, int exit);



// An abstract value on the tracer's stack or in a local slot.
struct AValue {
  // Object: a live Python object (constant, or guarded by its source).
  // Tuple: a Python tuple built during the trace (items are abstract).
  // Iterator: a for-loop over known items (items, next index in `arg`).
  // BoundMethod: obj is a Python function, items[0] its self.
  // TensorMethod: `method` of the tensor items[0] (x.astype, x.copy).
  // Host: a string known only at run time, host slot `arg` (effects.cpp).
  // HostMethod: `method` of the plain list/dict/str items[0] (lst.append, d.update, s.format).
  // LoopIndex: the induction variable of a loop being traced as a compiled region (its value
  // is only known at run time; any use of it makes the loop unroll instead, see loops.cpp).
  // Select: a scalar whose Python type depends on the data (`x[i] if c else 0.0`: a NumPy
  // float64 or a Python float): items = {cond (a bool[] tensor), then, else}, each arm a
  // scalar. Operators apply to each arm and merge again; stores convert each arm; anything
  // that would show which type it is (returning it, type(), formatting) fails (ifconv.cpp).
  // A Select without items is a local that may not be read (bound in one arm only, or a Select
  // left by a loop's last iteration).
  // Cell: a cell made by the traced code (MAKE_CELL), its contents Tracer::cells_[arg]; a
  // local slot holding one is a cell variable (LOAD_DEREF/STORE_DEREF go through it).
  // Closure: a function made by the traced code (MAKE_FUNCTION, closures.cpp): obj is a
  // function object made at trace time for its code and globals only (never handed out),
  // items[0] a Tuple of its closure's Cells (or Null), items[1] a Tuple of its defaults (or
  // Null). Calling it inlines it; anything that would let it escape fails.
  // Dict: a dict built by the traced code (dicts.cpp): items = key, value, key, value, ... in
  // insertion order, each key a hashable constant Object; dict_id its identity (a store
  // through one name is seen through every other).
  enum class Kind : uint8_t { Null, Object, Tensor, Tuple, Iterator, BoundMethod, TensorMethod, LoopIndex, Host, HostMethod, Select, Cell, Closure, Dict };
  Kind kind = Kind::Null;
  PyObject* obj = nullptr;       // Object: the live object (a reference is held by the Tracer)
  ir::ValueId v = ir::kNoValue;  // Tensor
  ir::Type type;                 // Tensor
  Box box = Box::Array;          // Tensor
  int arg = -1;                  // Tensor: the argument it is, unchanged; Iterator: next index
  bool pristine = false;         // Tensor: exactly the object at `source` (identity returns)
  int input = -1;                // Tensor, pristine: its index in Trace::inputs
  ir::ValueId view_root = ir::kNoValue;  // Tensor: eager NumPy would return a view of this value
  bool is_list = false;          // Tuple: a Python list in eager code (np.split)
  // Dict: its identity. Iterator or Tuple: made from that dict's keys/values/items (a store
  // into the dict while they are alive is refused: eager would see the store).
  int64_t dict_id = -1;
  int64_t length = -1;           // Iterator over a range (obj): its length; items stay empty;
                                 // LoopIndex slice (method "slice"): the window's length
  int64_t ia = 1, ib = 0;        // LoopIndex: the value is ia * i + ib (arg: its region level)
  // LoopIndex slice with a runtime extent (method "dslice"): start ia * i + ib (a constant start
  // has ia 0), stop sa * i + sb, or the axis's end when stop_open.
  int64_t sa = 0, sb = 0;
  bool stop_open = false;
  // Tensor with box PyInt: bounds of the runtime Python int (it is held as an int64; the full
  // int64 range means nothing more is known).
  int64_t lo = INT64_MIN, hi = INT64_MAX;
  // Tensor integer scalar, rel >= 0: also within [rla * i + rlb, rha * i + rhb] for region rel's
  // loop variable i (`np.abs(A[k:, k]).argmax() + k` lies in [k, n - 1]: an index in bounds).
  int rel = -1;
  int64_t rla = 0, rlb = 0, rha = 0, rhb = 0;
  std::vector<AValue> items;     // Tuple, Iterator, BoundMethod, TensorMethod
  std::string method;            // TensorMethod
  SourceRef source;
  bool lazy = false;             // Object: an int read through a source whose value guard is
                                 // still pending (Tracer::materialize installs it)
  // Iterator, rt: a range iterator of a continuation's frame state (a graph break inside a for
  // loop): its next value is the runtime int64 `v` (state slot `arg`), its items lie in [lo, hi],
  // step rstep, end rend; `length` items were left at trace time; rt_advanced once FOR_ITER
  // took an item (one per trace: the next FOR_ITER on it would need another guard).
  bool rt = false, rt_advanced = false;
  int64_t rstep = 0, rend = 0;
  // Iterator over arrays' rows (`for row in x`, enumerate(x), zip(x, y)): items are the arrays,
  // each step makes x[arg] (from the array as it is then: an in-place update in the body is
  // seen, as eager's iterator sees it); rows_n steps; rows 1 plain or zip, 2 enumerate.
  int rows = 0;
  int64_t rows_n = 0;
  // Iterator over items: what it iterates over, to rebuild it at a graph break inside the loop:
  // seq 1 a tuple, 2 a list (0 unknown); `container` its source when it is re-fetchable (obj
  // the object then).
  int8_t seq = 0;
  SourceRef container;

  bool is_tensor() const { return kind == Kind::Tensor; }
  bool is_object() const { return kind == Kind::Object; }
};

// "a NumPy float64 scalar", "a Python int", "a NumPy float32 scalar or a Python float" ...
// (ifconv.cpp).
std::string describe_scalar_kind(const AValue& v);

// Keys whose hash and equality are Python's own code (effects.cpp).
bool builtin_hashable(PyObject* o);

// Python scalars NumPy treats as "weak" (NEP 50) and the tracer can hold as constants.
// An argument not given, or given as None.
inline bool is_none(const AValue* v) { return !v || (v->is_object() && v->obj == Py_None); }

inline bool is_py_scalar(PyObject* o) {
  return PyFloat_CheckExact(o) || PyLong_CheckExact(o) || PyBool_Check(o);
}

inline long long int_min(ir::DType d) {
  if (ir::is_unsigned_int(d) || ir::is_bool(d)) return 0;
  return -(1LL << (8 * ir::dtype_size(d) - 1));
}
inline unsigned long long int_max(ir::DType d) {
  if (ir::is_bool(d)) return 1;
  int bits = 8 * ir::dtype_size(d) - (ir::is_signed_int(d) ? 1 : 0);
  return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

// Whether every int in [lo, hi] converts exactly to `dt` (as NumPy converts a Python int: an
// integer dtype must hold it, a float dtype represent it exactly; bool only 0 and 1 here).
inline bool int_range_fits(ir::DType dt, int64_t lo, int64_t hi) {
  if (ir::is_float(dt)) {
    const int64_t lim = dt == ir::DType::F32 ? int64_t{1} << 24 : int64_t{1} << 53;
    return lo >= -lim && hi <= lim;
  }
  if (ir::is_bool(dt)) return lo >= 0 && hi <= 1;
  return lo >= int_min(dt) && (hi < 0 || static_cast<unsigned long long>(hi) <= int_max(dt));
}

inline std::string exception_text() {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  std::string out = "exception";
  if (type) out = reinterpret_cast<PyTypeObject*>(type)->tp_name;
  if (value) {
    if (PyObject* s = PyObject_Str(value)) {
      if (const char* c = PyUnicode_AsUTF8(s)) out += fmt::format(": {}", c);
      Py_DECREF(s);
    }
  }
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
  return out;
}

inline std::string callable_name(PyObject* f) {
  for (const char* attr : {"__qualname__", "__name__"}) {
    if (PyObject* n = PyObject_GetAttrString(f, attr)) {
      std::string out = PyUnicode_Check(n) ? PyUnicode_AsUTF8(n) : "?";
      Py_DECREF(n);
      PyErr_Clear();
      return out;
    }
    PyErr_Clear();
  }
  return Py_TYPE(f)->tp_name;
}

inline std::string shape_text(const std::vector<ir::Dim>& s) {
  std::string out = "(";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? "," : "") + ir::to_string(s[i]);
  return out + (s.size() == 1 ? ",)" : ")");
}

class Tracer {
 public:
  Tracer(PyObject* func, PyObject* const* args, Py_ssize_t nargs)
      : func_(func), args_(args), nargs_(nargs) {}
  ~Tracer() {
    for (PyObject* o : keep_) Py_DECREF(o);
  }

  TraceResult run();

 private:
  // --- state
  // One activation of a Python function: the traced function, or a callee being inlined.
  struct Frame {
    PyObject* func = nullptr;  // borrowed (alive through the caller's references)
    PyCodeObject* code = nullptr;
    PyObject* globals = nullptr;
    PyObject* builtins = nullptr;
    std::vector<Instruction> instrs;
    std::vector<AValue> locals;
    std::vector<AValue> stack;
    int pc = 0;
    int32_t file = -1;
  };
  static constexpr int kMaxInlineDepth = 16;
  static constexpr int kMaxUnroll = 256;

  PyObject* func_;
  PyObject* const* args_;
  Py_ssize_t nargs_;
  const NumpySurface* np_ = nullptr;
  std::vector<std::unique_ptr<Frame>> frames_;
  std::vector<PyObject*> keep_;
  Trace trace_;
  std::optional<Abort> abort_;
  const Instruction* cur_ = nullptr;
  ir::SourceLoc loc_;
  bool returned_ = false;
  AValue result_;

  TraceOptions options_;
  std::vector<int64_t> symbol_sizes_;  // trace-time size of each symbol

  // --- loop regions (loops.cpp)
 public:
  // A loop (code object, FOR_ITER index) that failed as a region: the tracer is re-run with it
  // unrolled. Set when the trace aborted for that reason.
  using LoopKey = std::pair<PyCodeObject*, int>;
  std::optional<LoopKey> region_failed_;
  std::vector<LoopKey> no_region_;       // loops to unroll in this trace
  // Shorter range loops unroll (better fusion across iterations); trace_function lowers it to 2
  // when unrolled short loops made a large graph (scalar work: stores per element).
  int64_t min_region_trip_ = 8;
  int64_t short_unrolled_ = 0;  // range loops of 2.. min_region_trip_ - 1 iterations unrolled
  std::vector<std::string> loop_notes_;  // why loops were unrolled (diagnostics)
  // `a op b` between two locals of the loop's frame or a local and a constant (la/lb < 0: the
  // constant ca/cb), op one of lt/le/gt/ge/eq: a fact the loop test implies whenever the body
  // runs (range analysis of while-loop counters, while_loops.cpp).
  struct SlotFact {
    ir::Op op = ir::Op::Lt;
    int la = -1, lb = -1;
    int64_t ca = 0, cb = 0;
  };
  // A local holding a Python number before a loop whose body makes it an array value: the
  // retrace lets it enter the loop as a value of that type.
  struct Widen {
    LoopKey key;
    int local = -1;
    ir::Type type;
    Box box = Box::Array;
    // A while loop's runtime Python int (box PyInt): which bounds enter widened to
    // kWhileIntBound (1: the low one, 2: the high one); the others enter as they are before the
    // loop. A bound the body moves past is widened on the next retrace (request_widen).
    int sides = 3;
    // What the loop test at the end of the body implied (in the trace that asked): facts for
    // the body's start too (the test before the loop may have compared constants then).
    std::vector<SlotFact> facts;
    // A float local that is a Python float or np.float64 depending on the data: it enters as a
    // dual scalar (loops.cpp: dual_float), its value and whether it is still the Python float.
    bool dual = false;
  };
  std::vector<Widen> widen_;
  std::optional<Widen> widen_request_;
  // Graph breaks (resume.cpp): instructions of the outermost frame where this trace ends with a
  // Resume instead of tracing them; a trace that aborted at one that may break asks for a
  // retrace with it on the list (break_request_, with the abort's reason).
  std::vector<std::pair<int, std::string>> break_pcs_;
  std::optional<std::pair<int, std::string>> break_request_;
  // Sets break_request_ when the abort happened while the outermost frame was at an
  // instruction the trace can end at.
  void request_break();

 private:
  struct RegionReads {
    std::vector<int> locals;
    std::vector<int64_t> inputs;
    std::vector<int> written;     // locals stored in the body so far
    std::vector<int> read_first;  // locals read before the body stored them
  };
  // One loop body being traced: the enclosing graph is moved aside while trace_.graph is the
  // body; values of the enclosing graph reach the body as params (captures).
  struct RegionFrame {
    ir::Graph outer;
    std::vector<std::pair<ir::ValueId, ir::ValueId>> captures;  // (outer value, body param)
    std::vector<std::pair<size_t, ir::ValueId>> input_params;   // (inputs_by_source_ index, param)
    size_t depth = 0;  // frames_.size() of the loop's frame
    RegionReads reads;
    int64_t first = 0, last = 0;  // the loop variable's first and last value
    int64_t serial = 0;           // which loop this is (runtime-extent symbols are per loop)
    // A while loop (while_loops.cpp): the body's first instruction (the back edge's target), the
    // back edge, and the loop test's value at the end of the body once traced.
    bool is_while = false;
    int body_pc = -1, back_pc = -1, exit_pc = -1;
    ir::ValueId cond_next = ir::kNoValue;
    // Effects in the body (effects.cpp): computed arrays they stored (each a new object per
    // iteration), arrays updated in place in the body, and read_containers_'s size at entry.
    std::vector<ir::ValueId> stored, inplace;
    size_t reads_at_entry = 0;
    // Effects that may raise and found input `input` unchanged at their point: its param `p`
    // in this body (own: the effect's node is in this body, not a nested one). A p the loop
    // carries is changed in later iterations: the back edge records it with the effect.
    struct Assumed {
      int effect = -1, input = -1;
      ir::ValueId p = ir::kNoValue;
      bool own = false;
    };
    std::vector<Assumed> assumed;
    std::vector<SlotFact> next_facts;  // what cond_next implies about the locals
    // Early exits (region_break): a `break` on runtime data may leave this region (a while
    // region, or a for region traced as a while: for_exit); the body after it runs under
    // arm_conds_ (its stores guarded) and each exit keeps the loop frame's locals as the break
    // leaves them, merged with the body's end at the back edge.
    bool exits_ok = false, for_exit = false;
    // for_exit: the body's param counting the iterations (a carried counter, not the while's
    // iteration number: a native nest may index with a counter), the loop variable's base.
    ir::ValueId counter = ir::kNoValue;
    int exit_at = -1;  // for: where a break goes (FOR_ITER's target; at or after it)
    // The loop frame's stack size after the loop (a for loop's without its iterator): a copy of
    // the exit block (exit_copy) reached at this size is leaving the loop.
    size_t exit_stack = 0;
    size_t arm_base = 0;
    int spec_base = 0;
    int64_t mutations_at_exit = -1;  // mutations_ at the first exit (none may follow unguarded)
    struct Exit {
      ir::ValueId cond;           // bool[]: this exit is taken (an earlier one was not)
      std::vector<AValue> locals;
      // A `return` from the body (the function leaves: the locals are dead) with its value.
      bool is_return = false;
      AValue value;
    };
    std::vector<Exit> exits;
    // Indices this body checked at run time (checked_index): the raw index, the axis size, the
    // branch arms it was checked under, the checked start. A later use of the same index for
    // the same size under those arms (and maybe more) is in bounds already.
    struct Checked {
      ir::ValueId raw = ir::kNoValue;
      int64_t size = 0;
      std::vector<std::pair<ir::ValueId, bool>> arms;
      ir::ValueId start = ir::kNoValue;
      ir::ValueId effect = ir::kNoValue;  // its IndexCheck effect node
    };
    std::vector<Checked> checked;
  };
  // What differs between a `for` region and a `while` region (region() traces both).
  struct RegionShape {
    bool is_while = false;
    int head_pc = -1;  // FOR_ITER, or the while body's first instruction
    int back_pc = -1;  // while: the back edge (the loop's last instruction)
    int exit_pc = -1;  // while: where leaving the loop goes (after the back edge, or a `break`'s
                       // block ending in a return when the loop has no other exit)
    int line = 0;
    AValue* it = nullptr;               // for: the range iterator on the stack
    ir::ValueId cond0 = ir::kNoValue;  // while: the test before the first iteration
    std::vector<SlotFact> facts;       // while: what the test implies at the body's start
  };
  // Narrows the bounds of the runtime ints in the current frame's locals by the fact that the
  // comparison `t` is `holds` (t: a bool[] lt/le/gt/ge/eq/ne of integer scalars, or not/and of
  // those). clamp: the values are also replaced by where(t holds, value, a value inside the new
  // bounds), for code that runs whether or not t holds (both arms of a loop test), so that a
  // read proved in bounds by the narrowed bounds stays in bounds when t does not hold.
  // restore: where given, (slot, its value before) of each local changed, for undo_refine.
  void refine_ranges(ir::ValueId t, bool holds, bool clamp, std::vector<std::pair<size_t, AValue>>* restore = nullptr);
  // The locals refine_ranges changed that still hold what it made: back to their value before.
  void undo_refine(std::vector<AValue>& locals, const std::vector<std::pair<size_t, AValue>>& restore,
                   const std::vector<AValue>& refined);
  void apply_slot_facts(const std::vector<SlotFact>& facts);
  // The facts (a comparison value, whether it holds) as SlotFacts on the current locals.
  std::vector<SlotFact> slot_facts(const std::vector<std::pair<ir::ValueId, bool>>& facts);
  // While loops key their widenings apart from for loops (whose key is the FOR_ITER index).
  static LoopKey while_key(PyCodeObject* code, int body_pc) { return {code, -1 - body_pc}; }
  // A runtime Python int a while loop updates (a counter) is traced entering anywhere in
  // [-kWhileIntBound, kWhileIntBound] (its checked arithmetic holds there), starting within
  // kWhileIntEntry and changing by at most kWhileIntStep per iteration: it stays in the traced
  // range for 2^53 iterations (~100 days at one iteration per ns), which the tracer assumes no
  // call runs.
  static constexpr int64_t kWhileIntBound = int64_t{1} << 62;
  static constexpr int64_t kWhileIntEntry = int64_t{1} << 61;
  static constexpr int64_t kWhileIntStep = 256;
  // Asks for a retrace with local `local` entering the loop `key` as a runtime value; false when
  // it already did (no abort then).
  bool request_widen(const LoopKey& key, int local, ir::Type t, Box box, int sides = 3,
                     std::vector<SlotFact> facts = {});
  // The loop variable in the body (loops.cpp): affine arithmetic, windows, indexing.
  bool loop_index_arith(int nb, const AValue& lhs, const AValue& rhs);
  // Whether `nb` on these operands stays affine in the loop variable (loop_index_arith).
  static bool loop_index_affine(int nb, const AValue& lhs, const AValue& rhs);
  // The loop variable (a LoopIndex without a slice) as a runtime Python int with its bounds over
  // the range, for Python int arithmetic (`i // 2`, `i % 2 == 0`, `i > j`); others unchanged.
  bool loop_index_as_int(AValue& v);
  bool loop_index_slice(std::vector<AValue>& parts);
  bool has_loop_index(const AValue& key) const;
  // An integer scalar known only at run time (a NumPy int read from an array, a Python int)
  // inside a loop region: an index that is checked at run time unless proved in bounds.
  bool checkable_index(const AValue& k) const {
    return !regions_.empty() && k.is_tensor() && k.type.is_scalar() && ir::is_integer(k.type.dtype) &&
           (k.box == Box::NpScalar || k.box == Box::PyInt);
  }
  // An index not proved in bounds (loops.cpp): its out-of-bounds flag, for one IndexCheck
  // effect per indexing (all of an index tuple's checked parts together, NumPy's order).
  struct IndexCheckPart {
    ir::ValueId raw = ir::kNoValue;  // the index as the program holds it
    Box box = Box::NpScalar;
    int axis = 0;
    int64_t size = 0;
    ir::ValueId oob = ir::kNoValue;  // bool[]: out of bounds
    ir::ValueId start = ir::kNoValue;  // the checked i64 start
  };
  // The i64 start for the runtime integer index `p` into an axis of `size` elements: in
  // [0, size) whenever the program goes on (negative indices counted from the end, as NumPy
  // does); its check is added to `checks`. kNoValue (and an abort) when refused.
  ir::ValueId checked_index(const AValue& p, int axis, int64_t size, std::vector<IndexCheckPart>& checks);
  // The runtime int `p` (a tensor; bounds p.lo/p.hi, maybe affine ones) as the i64 start of
  // an index into an axis of `size`: proved in bounds, wrapped by a select when its bounds
  // allow, else checked (checked_index).
  ir::ValueId runtime_index(const AValue& p, int axis, int64_t size, std::vector<IndexCheckPart>& checks);
  // One IndexCheck effect raising NumPy's error when one of `checks` is out of bounds.
  bool emit_index_checks(const std::vector<IndexCheckPart>& checks, const AValue& x);
  // Per axis: runtime start, extent (static, or a symbol whose value is ext_values[d], else
  // kNoValue), step, whether an integer index drops it.
  bool dyn_index_plan(const AValue& x, const AValue& key, std::vector<ir::ValueId>& starts,
                      std::vector<ir::Dim>& extents, std::vector<ir::ValueId>& ext_values,
                      std::vector<int64_t>& steps, std::vector<bool>& drop);
  // a * i + b of region `level`'s induction variable, as an i64[] value of the innermost body.
  ir::ValueId affine_value(int level, int64_t a, int64_t b);
  // The symbol of the runtime extent a * i + b of region `level` (one per loop and extent).
  std::map<std::tuple<int64_t, int64_t, int64_t>, int32_t> extent_symbols_;
  // The smallest value runtime-extent symbol `sym` takes over its loop's range (nullopt when
  // unknown): max/argmax over a window need at least one element (NumPy raises otherwise).
  std::optional<int64_t> least_extent(int32_t sym) const;
  std::optional<int64_t> greatest_extent(int32_t sym) const;
  // A runtime integer scalar with known bounds (a Python int, or a NumPy int such as an argmax
  // plus an offset): usable as an index proved in bounds (dyn_index_plan).
  static bool bounded_int(const AValue& v) {
    return v.is_tensor() && v.type.is_scalar() && ir::is_integer(v.type.dtype) &&
           (v.box == Box::PyInt || (v.box == Box::NpScalar && (v.lo != INT64_MIN || v.hi != INT64_MAX)));
  }
  int64_t region_serial_ = 0;
  bool dyn_subscr(const AValue& x, const AValue& key);
  // Whether the in-place operator on `view` is `A[key] op= y` (the next instructions store it back).
  bool augmented_subscript_store(const AValue& view);
  bool dyn_store(const AValue& x, const AValue& key, const AValue& value);
  // The loop variable as an i64[] value of the innermost body (ia * i + ib + extra); `lo`/`hi`
  // get its range over the loop. kNoValue (and an abort) for a stale loop variable.
  ir::ValueId loop_index_value(const AValue& p, int64_t extra, int64_t* lo = nullptr, int64_t* hi = nullptr);
  // Reads of the loop frame's locals and of inputs (by source) while a body is traced.
  void note_read(int local, int input);
  void note_write(int local);
  std::vector<RegionFrame> regions_;
  static constexpr int kMaxRegionDepth = 4;
  static constexpr int32_t kFirstExtentSymbol = ir::kFirstExtentSymbol;  // runtime-extent symbols of loop bodies
  // The body param standing for outer value `v` of region level `level`'s enclosing graph.
  ir::ValueId capture(size_t level, ir::ValueId v);
  // A new graph input param: created in the root graph and captured into every open region.
  ir::ValueId new_input_param(ir::Type t, ir::ParamLayout layout, const std::vector<int64_t>& axes = {});
  // Traces the loop whose FOR_ITER is at `for_pc` once, as a loop op. False: the trace aborted
  // (region_failed_ says whether unrolling may still work).
  bool loop_region(int for_pc, AValue& it);
  // Traces a while loop (test at `test_pc`, body [body_pc, back_pc]) once, as a while op whose
  // test before the first iteration is cond0. The state is the one at the body's start.
  // A conditional jump on runtime data in a region's body whose one arm leaves the loop (a
  // `break`, maybe after assignments): the arm is traced to the exit and recorded, and the body
  // goes on with the other arm (handled); false on an abort.
  bool region_break(const Instruction& in, ir::ValueId truth, bool& handled);
  // A loop region some of whose iterations returned (`flag`, runtime bool) with `value`: an
  // exit of the enclosing region at this frame (the return leaves it too), else the code after
  // the loop is traced as the arm where no return happened, up to this frame's return, whose
  // value becomes where(flag, value, its value) (loop_returns.cpp).
  bool loop_returned(ir::ValueId flag, AValue value);
  // Return values of two exits (cond picks a) merged into one value of one Python type;
  // nullopt with `why` when their types (or an array's identity) could differ.
  // (mixed: a scalar whose type depends on the data may result, a Select: emitted as a Choice)
  std::optional<AValue> merge_returns(ir::ValueId cond, const AValue& a, const AValue& b, std::string& why,
                                      bool mixed = false);
  // A while loop whose first iteration met a break on runtime data while its test was still
  // static (`i = 0; while i < n: ...; if x[i] > t: break`) is asked for again as a region from
  // its test (a Widen with local -1, kept across retraces): at that static test (taken into the
  // body), the region starts with cond0 true (handled); false on an abort.
  bool forced_while(const Instruction& in, bool jump, bool& handled);
  // Set while a loop test is traced to see whether it is one: refusals are kept here instead
  // of failing the trace (a mid-body break is not a test, region_break takes it).
  std::string* test_refusal_ = nullptr;
  bool while_region(int test_pc, int body_pc, int back_pc, int exit_pc, ir::ValueId cond0,
                    std::vector<SlotFact> facts = {});
  bool region(const RegionShape& shape);
  // A conditional jump on runtime data that is a while loop's test (at its top: the loop
  // becomes a while region; at the end of a while body being traced: its test is recorded).
  // `handled` false: not a loop test (no abort).
  bool while_test_jump(const Instruction& in, ir::ValueId truth, bool& handled);
  // The loop test's value from the conditional jump `in` (at pc - 1, its operand popped):
  // true when control reaches `head`, false at `exit`; the code in between must be pure.
  // facts: set to comparisons among the locals that hold whenever the test's value is true.
  std::optional<ir::ValueId> loop_test(const Instruction& in, ir::ValueId truth, int head, int exit, int last_pc,
                                       std::vector<SlotFact>* facts = nullptr);
  bool region_fail(std::string why);
  // Runs the interpreter until `done()` (checked before each instruction) or an abort/return.
  bool interpret(const std::function<bool()>& done);
  int steps_ = 0;
  int step_depth_ = 0;    // nested interpret() calls (if-conversion arms, loop bodies)
  int outer_instr_ = -1;  // the outermost frame's instruction being interpreted at depth 0
  // Ends the trace at instruction `idx` of the outermost frame (resume.cpp).
  bool make_break(int idx, const std::string& reason);
  bool op_before_with(const Instruction& in);
  bool bind_closure_value(int k, PyObject* o, const StateHint& h);
  bool frame_state(Resume& r, size_t operands, const std::string& reason);
  bool bind_state();  // a continuation's frame state as the frame's locals and stack
  bool bind_hinted(int k, PyObject* o, const StateHint& h, AValue& v);
  const StateHint* hint_for(int k) const {
    for (const StateHint& h : options_.hints)
      if (h.slot == k) return &h;
    return nullptr;
  }
  std::optional<EffectOperand> iterator_operand(Resume& r, const AValue& v, const std::string& name, int slot,
                                                const std::string& reason);
  int64_t back_edges_ = 0;  // backward jumps interpreted outside loop regions (unrolled iterations)

 public:
  void set_options(const TraceOptions& o) { options_ = o; }

 private:
  // The symbol for a dynamic dimension of this size (dimensions of equal size share one, and a
  // guard keeps them equal).
  int32_t symbol_for(int64_t size, int arg, int dim) {
    for (size_t k = 0; k < symbol_sizes_.size(); ++k) {
      if (symbol_sizes_[k] != size) continue;
      auto [a0, d0] = trace_.symbols[k];
      Guard g;
      g.kind = Guard::Kind::DimsEqual;
      g.arg = a0;
      g.dims = {a0, d0, arg, dim};
      g.source = Source::arg(arg, fmt::format("{} dim {} == {} dim {}", local_name(a0), d0, local_name(arg), dim));
      trace_.guards.add(std::move(g));
      return static_cast<int32_t>(k);
    }
    symbol_sizes_.push_back(size);
    trace_.symbols.emplace_back(arg, dim);
    return static_cast<int32_t>(symbol_sizes_.size() - 1);
  }
  // The runtime size of symbol `sym` as a float64 0-d value (a graph input the runtime fills);
  // one per symbol, made in the root graph and captured into open loop regions (loop-invariant).
  std::optional<ir::ValueId> sym_size_value(int32_t sym) {
    if (sym_size_params_.size() <= static_cast<size_t>(sym)) sym_size_params_.resize(static_cast<size_t>(sym) + 1, ir::kNoValue);
    ir::ValueId& root = sym_size_params_[static_cast<size_t>(sym)];
    if (root == ir::kNoValue) {
      ir::Graph& g = regions_.empty() ? trace_.graph : regions_[0].outer;
      root = g.add_param(ir::Type::scalar(ir::DType::F64), ir::ParamLayout::Scalar, loc_);
      InputBinding b;
      b.kind = InputBinding::Kind::SymSize;
      b.dtype = ir::DType::F64;
      b.sym = sym;
      b.source = Source::computed();
      trace_.inputs.push_back(std::move(b));
    }
    ir::ValueId v = root;
    for (size_t l = 0; l < regions_.size(); ++l) v = capture(l, v);
    return v;
  }
  std::vector<ir::ValueId> sym_size_params_;
  // Fails (DynamicShape) naming the dims of `dims` that are symbolic: the runtime retraces with
  // those argument dimensions static.
  bool fail_specialize(const std::vector<ir::Dim>& dims, std::string why) {
    fail(AbortCode::DynamicShape, std::move(why));
    if (abort_ && abort_->code == AbortCode::DynamicShape)
      for (const ir::Dim& d : dims)
        if (!d.is_static() && static_cast<size_t>(d.sym) < trace_.symbols.size())
          abort_->specialize.push_back(trace_.symbols[static_cast<size_t>(d.sym)]);
    return false;
  }
  // Fails (DynamicShape) when x has a symbolic dimension: code that needs sizes is traced static.
  bool static_only(const AValue& x) {
    if (x.is_tensor() && !x.type.is_static())
      return fail(AbortCode::DynamicShape, "a dynamic dimension reaches code that needs its size");
    for (const AValue& i : x.items)
      if (!static_only(i)) return false;
    return true;
  }

  Frame& fr() { return *frames_.back(); }
  const Frame& fr() const { return *frames_.back(); }

  // --- helpers
  bool fail(AbortCode code, std::string message) {
    if (!abort_) {
      Abort a;
      a.code = code;
      a.message = std::move(message);
      PyCodeObject* code = frames_.empty()
                               ? reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(func_))
                               : fr().code;
      a.file = PyUnicode_AsUTF8(code->co_filename);
      a.line = cur_ && cur_->line >= 0 && !frames_.empty() ? cur_->line : code->co_firstlineno;
      abort_ = std::move(a);
    }
    return false;
  }
  PyObject* keep(PyObject* o) {  // steals a new reference, keeps it for the trace's life
    keep_.push_back(o);
    return o;
  }
  AValue object(PyObject* o, SourceRef src) {  // borrowed o; held alive by keep_
    Py_INCREF(o);
    keep(o);
    AValue v;
    v.kind = AValue::Kind::Object;
    v.obj = o;
    v.source = std::move(src);
    return v;
  }
  AValue tensor(ir::ValueId id, Box box) {
    AValue v;
    v.kind = AValue::Kind::Tensor;
    v.v = id;
    v.type = trace_.graph.type(id);
    v.box = box;
    v.source = Source::computed();
    return v;
  }
  AValue pop() {
    AValue v = std::move(fr().stack.back());
    fr().stack.pop_back();
    return v;
  }
  void push(AValue v) { fr().stack.push_back(std::move(v)); }
  // Pushes `name` of `self` as a method value of `kind` (TensorMethod, HostMethod), after the
  // NULL a LOAD_ATTR with the method bit leaves below it.
  void push_method(AValue::Kind kind, const AValue& self, const std::string& name, bool method) {
    AValue m;
    m.kind = kind;
    m.method = name;
    m.items.push_back(self);
    m.source = Source::computed();
    if (method) push(AValue{});
    push(std::move(m));
  }
  // Every abstract value the frames (locals, stacks) and the closures' cells hold, containers'
  // items included: f(AValue&) on each (an in-place update or a dict store replaces them).
  template <typename F>
  void for_each_live_value(F&& f) {
    for (auto& fp : frames_) {
      for_each_value(fp->locals, f);
      for_each_value(fp->stack, f);
    }
    for_each_value(cells_, f);
  }
  template <typename F>
  static void for_each_value(std::vector<AValue>& values, F& f) {
    for (AValue& v : values) {
      f(v);
      for_each_value(v.items, f);
    }
  }
  std::string local_name(int i) const {
    if (options_.start_pc >= 0 && i >= options_.state_locals)  // a continuation's value stack
      return fmt::format("<stack {}>", i - options_.state_locals);
    PyObject* names = PyCode_GetVarnames(fr().code);
    std::string out = "?";
    if (names && i < PyTuple_GET_SIZE(names)) out = PyUnicode_AsUTF8(PyTuple_GET_ITEM(names, i));
    Py_XDECREF(names);
    PyErr_Clear();
    return out;
  }
  std::string name_at(int i) const { return PyUnicode_AsUTF8(PyTuple_GET_ITEM(fr().code->co_names, i)); }
  std::string what(const AValue& v) const {
    if (v.is_tensor()) return v.source && v.source->kind == Source::Kind::Arg ? v.source->describe()
                                                                               : "an array";
    if (v.is_object()) return fmt::format("a {}", Py_TYPE(v.obj)->tp_name);
    if (v.kind == AValue::Kind::Host) return "a string formatted from runtime values";
    if (v.kind == AValue::Kind::Select) return "a scalar whose type depends on the data";
    if (v.kind == AValue::Kind::Closure) return "a function made in the traced code (a closure)";
    if (v.kind == AValue::Kind::Cell) return "a closure cell";
    if (v.kind == AValue::Kind::Dict) return "a dict built in the traced code";
    return v.is_list ? "a list" : "a tuple";
  }

  // --- frames, arguments and values
  // made: a Closure value when func was made by the traced code (its cells and defaults are
  // abstract; no guard on func, which exists only during the trace).
  bool push_frame(PyObject* func, SourceRef func_source, const AValue* made = nullptr);
  bool bind_arguments();
  bool bind_closure(PyObject* func, SourceRef func_source, const AValue* made);
  bool inline_call(PyObject* func, SourceRef func_source, std::vector<AValue> args, PyObject* kwnames,
                   const AValue* made = nullptr);
  // --- cells and functions made by the traced code (closures.cpp)
  std::vector<AValue> cells_;  // contents of each Cell (Null: empty)
  bool op_make_cell(const Instruction& in);
  bool op_store_deref(const Instruction& in);
  bool op_delete_deref(const Instruction& in);
  bool op_make_function(const Instruction& in);
  bool op_set_function_attribute(const Instruction& in);
  // The name of local slot i (co_localsplusnames).
  std::string slot_name(int i) const;
  // An object read from `src` (an argument, attribute, item, global): arrays and Python floats
  // become graph inputs fetched through `src` at call time, everything else a guarded Object.
  std::optional<AValue> value_from_object(PyObject* o, SourceRef src);
  void guard_object(Guard::Kind kind, const SourceRef& src, Guard g);
  std::optional<bool> user_attribute(const AValue& base, PyObject* name, const std::string& n, bool method);
  std::optional<std::vector<AValue>> items_of(const AValue& v);
  std::optional<ir::ValueId> to_ir(const AValue& v, ir::DType dt);
  ir::ValueId cast(ir::ValueId v, ir::DType dt);

  // --- NumPy semantics
  std::optional<double> angle_factor(const UfuncInfo& u, ir::DType dt);  // numpy_calls.cpp
  bool apply_ufunc(const UfuncInfo& u, std::vector<AValue> operands, bool python_operator);
  bool apply_where(std::vector<AValue> operands);
  bool python_scalar_op(const UfuncInfo& u, std::vector<AValue>& operands, bool python_operator);
  // A Python float input read unchanged from its source becomes a constant under a value guard.
  bool promote_float(AValue& v);
  bool resolve_loop(const UfuncInfo& u, const std::vector<AValue>& operands,
                    std::vector<ir::DType>& loop);
  PyObject* dtype_spec(const AValue& v);  // new reference
  std::optional<std::vector<ir::Dim>> broadcast_operands(const std::vector<AValue>& operands);
  int result_index(ir::ValueId v);  // position of v in the graph's results (added if absent)
  // A Trace::rerun_checks entry for the 0-d bool `flag` (a graph result): under an if arm,
  // the flag holds only when the arm's condition does (a check in the arm not taken is moot).
  void add_rerun_check(ir::ValueId flag, std::string why, bool raises, bool algorithm = false);
  // Whether any element of bool value `flag` holds, as one bool (flag itself when 0-d).
  std::optional<ir::ValueId> any_of(ir::ValueId flag);
  // add_rerun_check of any_of(flag).
  bool rerun_if_any(ir::ValueId flag, std::string why, bool raises, bool algorithm = false);
  // Whether every graph result added since there were `results0` is a rerun check's flag added
  // since there were `checks0` (speculative code may add those: they are not side effects).
  bool only_check_results(size_t results0, size_t checks0) const;
  // Set while max/min(initial=) records its reduction: the caller checks the zero-tie mark.
  bool skip_zero_tie_check_ = false;
  // Reductions with a zero-tie check (fval 1) and the compare of their check, and the pass at
  // the end of a trace that drops the check where a zero's sign cannot reach the results.
  std::vector<std::pair<ir::ValueId, ir::ValueId>> zero_ties_;
  bool zero_sign_reaches_results(ir::ValueId r, ir::ValueId check) const;
  void relax_zero_tie_checks();
  PyObject* probe(const AValue& v);       // new reference
  // np.result_type(*probes) (the references are stolen): a new reference to the dtype, or
  // nullptr with NumPy's exception set.
  PyObject* result_type(std::vector<PyObject*> probes);
  PyObject* empty_probe(ir::DType dt);  // new reference: np.empty(0, dt)
  // np.result_type of arrays of these dtypes (np.asanyarray of each part: a runtime Python float
  // is float64 there, not a weak scalar); nullopt after fail() with NumPy's exception, or when
  // the dtype is not one the JIT compiles (`what` names the call).
  std::optional<ir::DType> arrays_result_dtype(const std::vector<ir::DType>& dts, const std::string& what);

  // --- output
  bool emit_output(const AValue& v);

  // --- handlers, one per canonical opcode
  bool step(const Instruction& in);
  // Lazy value guards: a Python int read through a source is guarded by type at once and by
  // value only when something depends on its value. Formatting it and storing it (or using it
  // as a key) in a deferred effect do not: those read it again at run time, through its source.
  // Every other instruction that finds a lazy int on the stack installs its value guard first.
  struct PendingGuard {
    SourceRef source;
    PyObject* expected = nullptr;  // kept alive by the AValues that hold it
    bool installed = false;
  };
  std::vector<PendingGuard> pending_guards_;
  size_t pending_open_ = 0;  // pending guards not installed yet
  bool lazy_consumer(const Instruction& in) const;
  void materialize(AValue& v);
  bool op_load_fast(const Instruction& in);
  bool op_store_fast(const Instruction& in);
  bool op_load_const(const Instruction& in);
  bool op_load_global(const Instruction& in);
  bool op_load_attr(const Instruction& in, bool method);
  bool op_call(const Instruction& in, bool kw);
  bool op_binary_op(const Instruction& in);
  bool op_compare_op(const Instruction& in);
  bool op_unary(const Instruction& in);
  bool op_build_tuple(const Instruction& in);
  bool op_contains(const Instruction& in);  // `in`, `not in`
  bool op_call_function_ex(const Instruction& in);  // f(*args, **kwargs)
  bool op_is(const Instruction& in);        // `is`, `is not` against None
  // --- dicts built by the traced code (dicts.cpp)
  bool op_build_map(const Instruction& in);         // BUILD_MAP, BUILD_CONST_KEY_MAP
  bool op_map_add(const Instruction& in);           // MAP_ADD, DICT_UPDATE, DICT_MERGE
  bool dict_subscr(const AValue& d, const AValue& key);  // d[key]
  bool dict_store(const AValue& d, const AValue& key, const AValue& value);  // d[key] = value
  bool dict_contains(const AValue& d, const AValue& key, bool invert);      // key in d
  bool dict_method(const AValue& d, const std::string& m, std::vector<AValue>& args, PyObject* kwnames);
  // The slot (item index of the value) of `key` in d; -1 when absent; nullopt after a failure.
  std::optional<int> dict_find(const AValue& d, const AValue& key);
  int64_t next_dict_id_ = 0;
  bool op_unpack_sequence(const Instruction& in);
  bool op_pop_jump(const Instruction& in);
  // --- branches on runtime scalars and Python scalar semantics on runtime values (ifconv.cpp)
  // The truth of a runtime 0-d value as a bool[] value; nullopt when v is not one.
  std::optional<ir::ValueId> runtime_truth(const AValue& v);
  // A conditional jump on runtime data (`truth`): both arms traced, their states merged with
  // `where` at the join (if-conversion). Aborts when the arms are not pure or do not meet.
  // keep_on_jump: 3.11's JUMP_IF_FALSE_OR_POP / JUMP_IF_TRUE_OR_POP (the value is still on
  // the stack; the jump arm keeps it, the other pops it).
  bool if_convert(const Instruction& in, ir::ValueId truth, bool keep_on_jump = false);
  bool op_jump_or_pop(const Instruction& in);
  std::optional<AValue> merge_values(const AValue& a, const AValue& b, ir::ValueId cond, std::string& why);
  // What `next` would do that code traced speculatively (an if-conversion arm, the code after a
  // loop that may return) may not: nullptr when nothing, else its description. Stores into
  // arrays pass (the callers write them under their condition).
  const char* speculative_impurity(const Instruction& next) const;
  std::optional<AValue> make_select(ir::ValueId cond, const AValue& a, const AValue& b, std::string& why);
  // An operator or ufunc with a Select operand: applied to each arm, the results merged again
  // (`handled` false when no operand is a Select).
  bool select_ufunc(const UfuncInfo& u, std::vector<AValue>& operands, bool python_operator, bool& handled);
  // A value stored into an array of dtype `dt` as NumPy's __setitem__ converts it (a Select:
  // each arm converted, then selected); nullopt with `why` set when that is not compiled.
  std::optional<ir::ValueId> setitem_value(const AValue& value, ir::DType dt, std::string& why);
  // setitem_value, failing with its reason (NumPy's OverflowError as a user error) when not
  // compiled (inplace.cpp).
  std::optional<ir::ValueId> stored_value(const AValue& value, ir::DType dt);
  // Operators among runtime Python ints (Box::PyInt) and Python int constants; false with no
  // abort when `operands` are not that case.
  bool pyint_op(const UfuncInfo& u, std::vector<AValue>& operands, bool python_operator, bool& handled);
  // A Python bool known only at run time (the result of comparing runtime Python ints).
  AValue python_bool(ir::ValueId cond);
  // min()/max() builtins over runtime scalars: Python's loop (`item < current`) as lt + where.
  bool builtin_minmax(bool is_max, const std::string& fname, std::vector<AValue>& args);
  // Whether the value about to be pushed is consumed only as a conditional jump's test (a
  // Python bool computed at run time is then indistinguishable from a NumPy bool).
  bool test_consumer() const;
  // Whether a runtime Python int converts exactly (as NumPy converts a Python int) to `dt`.
  static bool pyint_fits(const AValue& v, ir::DType dt);
  int64_t mutations_ = 0;  // in-place updates so far (an arm of an if-conversion must make none)
  // Stores inside the arms of if-conversions (`if a[i] > m: out[i] = a[i]`): each arm's
  // condition (negated when .second), innermost last; a store under them writes
  // where(condition, new, old) (guarded_store), counted apart from other in-place updates,
  // with the array's old and new value so the other arm and the join see the new one.
  std::vector<std::pair<ir::ValueId, bool>> arm_conds_;
  std::vector<std::pair<ir::ValueId, ir::ValueId>> arm_updates_;
  int64_t guarded_mutations_ = 0;
  // The conjunction of arm_conds_ (kNoValue outside arms).
  ir::ValueId arm_condition();
  // `value` (x's new contents at a store) under the arms' condition: where(c, value, old), old
  // read by `old_of` (same type as value); unchanged outside arms.
  template <typename F>
  ir::ValueId guarded_value(ir::ValueId value, F&& old_of) {
    ir::ValueId c = arm_condition();
    if (c == ir::kNoValue) return value;
    ir::Graph& g = trace_.graph;
    const ir::Type t = g.type(value);
    ir::ValueId old = old_of();
    if (!t.is_scalar()) c = g.add_op(ir::Op::Broadcast, ir::Type(ir::DType::Bool, t.shape), {c}, loc_);
    return g.add_op(ir::Op::Where, t, {c, value, old}, loc_);
  }
  // assign_inplace for a store, recorded for the arms when under one.
  bool store_inplace(const AValue& x, ir::ValueId value);
  // > 0 while tracing code the compiled program runs whether or not it would run eagerly (both
  // arms of an if-conversion, both arms of a while loop's test): no while loop may start there
  // (a loop the eager code never reaches need not end).
  int speculative_ = 0;
  bool op_get_iter(const Instruction& in);
  bool op_for_iter(const Instruction& in);
  bool op_binary_subscr(const Instruction& in);
  bool index_from_arrays();  // fails: an index computed from arrays outside loop regions
  bool op_build_slice(const Instruction& in);
  bool op_load_deref(const Instruction& in);
  bool call_builtin(PyObject* f, const std::string& fname, std::vector<AValue>& args, bool& handled);

  // --- deferred effects and host values (effects.cpp)
 public:
  // Effects and host values recorded so far (a loop traced as a compiled region must not
  // record any: they happen per iteration, in order).
  // Effects recorded so far, loop regions' included (speculative interpretation that must stay
  // free of effects compares it; if-conversion allows loop effects in arms: top_effect_count).
  size_t effect_count() const { return trace_.effects.size() + trace_.loop_effects.size(); }
  size_t top_effect_count() const { return trace_.effects.size(); }
  // Forgets the loop effects recorded from index `from` on (a speculative trace that is not
  // kept): their effect nodes in the body being traced become constants DCE removes.
  void drop_loop_effects(size_t from);

 private:
  struct DeferredTarget {  // a container an effect writes after the kernel
    PyObject* obj = nullptr;
    SourceRef source;
    std::string what, file;
    int line = -1;
  };
  std::vector<DeferredTarget> deferred_targets_;
  std::vector<PyObject*> read_containers_;  // dicts/lists whose contents the trace read
  std::vector<PyObject*> iterated_;         // lists the trace iterated (never written)
  std::vector<ir::ValueId> escaped_;        // computed arrays stored by effects
  // Inside a loop region: the body values (and boxes) the effect being built reads, handed to
  // its ir `effect` node (EffectOperand::Kind::Recorded indexes them).
  std::vector<std::pair<ir::ValueId, Box>> pending_recorded_;
  int record_value(ir::ValueId v, Box box);
  // Whether body value `v` is still input `input`'s root param (not updated in place so far).
  bool root_unchanged(ir::ValueId v, int input) const;
  // when: a further condition of the effect (besides the branch arms' condition).
  bool record_region_effect(Effect e, bool may_raise, ir::ValueId when = ir::kNoValue);
  // `handled` is false when the call/attribute is not one of these.
  bool call_effect(const AValue& callable, std::vector<AValue>& args, PyObject* kwnames, bool& handled);
  bool load_host_method(const AValue& base, const std::string& name, bool method, bool& handled);
  bool store_effect(const AValue& container, const AValue& key, const AValue& value);
  bool op_format_value(const Instruction& in);
  bool op_convert_value(const Instruction& in);
  bool op_build_string(const Instruction& in);
  bool push_format(const AValue& v, int conversion, const AValue* spec);
  // A trace-time read of a dict's or list's contents: aborts after a deferred write to it.
  bool note_container_read(const AValue& c, bool iterated);
  // An in-place update of x: aborts when an effect stored x (a computed array).
  bool check_inplace_target(const AValue& x);
  std::optional<EffectOperand> effect_operand(const AValue& v, bool store);
  std::optional<EffectOperand> effect_target(const AValue& c, const char* what_text);
  void mark_written(const AValue& c, const std::string& what_text, bool grows);
  void locate_effect(Effect& e) const;
  void snapshot_writebacks(Effect& e);
  // may_raise: keep the in-place state of the inputs at this point (what the caller sees if
  // the effect raises); effects that cannot raise (dict stores with keys Python hashes itself,
  // list.append, dict.update) skip it.
  bool record_effect(Effect e, bool may_raise);
  // Whether the instruction being traced, or a call site of an inlined frame, lies in a try
  // block of the user's code (resume.cpp).
  bool inside_try_block() const;
  AValue host_value(Effect e);
  bool result_discarded() const;  // the CALL being traced is followed by POP_TOP

  // --- in-place updates (inplace.cpp)
  // Makes every alias of `x` (the same Python object) hold `value` from now on; records a
  // write-back when x is an input array. Refuses when views of x are alive.
  bool assign_inplace(const AValue& x, ir::ValueId value);
  bool inplace_binary(const AValue& x, const AValue& y, const char* ufunc);
  bool ufunc_into(const UfuncInfo& u, std::vector<AValue> operands, const AValue& out);
  bool store_subscr(const AValue& container, PyObject* key, const AValue& value);
  // x[mask] = v through a boolean array (inplace.cpp).
  bool store_mask(const AValue& x, const AValue& mask, const AValue& value);
  // Why storing `value` into an array of dtype `dt` is not compiled (NumPy's __setitem__
  // converts NumPy scalars through Python ints: np.int64(70000) into int16 raises, into uint8
  // wraps; arrays are cast unsafely); nullopt when the store is a plain exact conversion.
  std::optional<std::string> setitem_refusal(const AValue& value, ir::DType dt);
  bool finish_writebacks();
  std::vector<std::pair<std::string, AValue>> inputs_by_source_;  // current value of each input

  // --- NumPy array functions and methods beyond ufuncs (numpy_arrays.cpp)
  struct CallArgs {
    std::vector<AValue> pos;
    std::vector<std::pair<std::string, AValue>> kw;
    const AValue* get(size_t index, const char* name) const;
    bool only(std::initializer_list<const char*> names, std::string& bad) const;
  };
  // Calls np.<name>(...) or, with `method`, x.<name>(...) where pos[0] is x. `handled` is false
  // when the name is not one the tracer knows.
  bool call_numpy(const std::string& name, CallArgs args, bool method, bool& handled);
  bool copyto(CallArgs args);  // np.copyto(dst, src): inplace.cpp
  bool einsum(CallArgs args);  // einsum.cpp
  bool tensordot(CallArgs args);  // np.tensordot as the einsum it is: einsum.cpp
  bool np_cross(CallArgs args);  // np.cross of 3-vectors: cross.cpp
  // np.array, np.asarray, np.asanyarray, np.ascontiguousarray: array_ctor.cpp
  bool array_ctor(const std::string& name, CallArgs args);
  // np.sort, np.argsort, np.median, ndarray.sort (in place), ndarray.argsort: sort.cpp
  bool sort_call(const std::string& name, CallArgs args, bool method);
  bool quantile_call(const std::string& name, CallArgs args);  // np.percentile, np.quantile: sort.cpp
  struct SortRows {
    AValue y;                   // the rows, along y's last axis
    std::vector<int64_t> perm;  // the transpose that moved the axis last (empty: none)
    int64_t axis;               // x's axis, non-negative (-1 when flattened)
  };
  std::optional<SortRows> sort_rows(const AValue& x, const AValue* axis_v, bool flat, const std::string& fn);
  bool partition_rerun_check(const AValue& y, const std::string& fn);  // sort.cpp
  // np.searchsorted / ndarray.searchsorted / np.digitize, np.interp: search.cpp
  bool searchsorted_call(const std::string& name, CallArgs args);
  bool interp_call(CallArgs args);
  bool histogram_call(CallArgs args);  // np.histogram with int bins: histogram.cpp
  std::optional<AValue> as_array_value(const AValue& x);
  ir::ValueId sort_less(ir::ValueId a, ir::ValueId b);
  ir::ValueId binary_search(ir::ValueId a, ir::ValueId v, bool right, bool plain = false);
  bool unsorted_rerun_check(const AValue& a, bool no_nan, const std::string& why);
  bool diagonal_view(const AValue& x, int64_t offset);  // a.diagonal(offset) of a 2-d x: numpy_arrays.cpp
  std::optional<ir::ValueId> diagonal_slice(const AValue& x, int64_t offset);  // (not pushed)
  bool tile_repeat(const std::string& name, CallArgs args);  // np.tile, np.repeat: tile_repeat.cpp
  bool flip(const std::string& name, CallArgs args);  // np.flip, np.fliplr, np.flipud: flip.cpp
  bool meshgrid(CallArgs args);      // grids.cpp
  bool moveaxis(CallArgs args);      // grids.cpp
  bool column_stack(CallArgs args);  // grids.cpp
  bool pad(CallArgs args);           // np.pad: pad.cpp
  // np.nansum, np.nanprod, np.ptp, np.count_nonzero: nan_reductions.cpp
  bool nan_reduction(const std::string& name, CallArgs args);
  bool nan_moment(const std::string& name, CallArgs args);  // nanmean, nanvar, nanstd
  const AValue* nan_operand(const std::string& name, const CallArgs& args, bool supported, const std::string& bad);
  // np.nanmax/np.nanmin, and np.fmax/np.fmin.reduce (nan_reductions.cpp).
  bool nan_extreme(const std::string& name, CallArgs args);
  bool nan_ignoring_reduce(bool is_max, const AValue& x, const AValue* axis, bool keepdims, const std::string& name,
                           bool warns);
  bool nan_to_num(CallArgs args);  // np.nan_to_num: nan_reductions.cpp
  // keepdims= of those (false when absent); nullopt after fail() when it is not a constant.
  std::optional<bool> keepdims_arg(const AValue* kd);
  // np.intp as a constant dtype= argument (the count's dtype); nullopt after fail().
  std::optional<AValue> intp_dtype();
  // np.<ufunc>.reduce(...), np.<ufunc>.outer(a, b): ufunc_methods.cpp
  bool ufunc_method(const UfuncInfo& u, const std::string& method, CallArgs args);
  bool reduce(const std::string& name, const AValue& x, const AValue* axis, bool keepdims,
              const AValue* dtype, int64_t ddof);
  bool matmul(const AValue& a, const AValue& b, const std::string& name);
  bool index_tensor(const AValue& x, PyObject* key);
  bool iter_rows(std::vector<AValue> arrays, bool enumerate);  // tracer.cpp
  bool list_index_keys(AValue& key);  // lists in an array's index made arrays: tracer.cpp
  // x[idx], x[:, idx], x[..., idx] with one integer array idx among constant slices: gather.cpp
  bool index_by_array(const AValue& x, const AValue& key);
  // x's elements at idx along `axis` (a gather op), mode 0 raise / 1 wrap / 2 clip as np.take;
  // mode 0 adds the check that re-runs the call eagerly for NumPy's IndexError.
  bool gather(const AValue& x, const AValue& idx, int axis, int mode);
  std::optional<ir::ValueId> gather_value(const AValue& x, const AValue& idx, int axis, int mode);  // (not pushed)
  bool np_take(CallArgs args);  // np.take(a, indices, axis, out, mode), a.take(...): gather.cpp
  bool take_along_axis(CallArgs args);  // np.take_along_axis(arr, indices, axis): gather.cpp
  bool put_along_axis(CallArgs args);   // np.put_along_axis(arr, indices, values, axis): gather.cpp
  bool along_axis(CallArgs args, bool put);
  // The check that re-runs the call eagerly for NumPy's IndexError when an index in idx lies
  // outside [-n, n) (a gather's mode 0, a scatter).
  bool index_bounds_check(const AValue& idx, int axis, int64_t n);
  // x[idx] = v, x[:, idx] = v, x[..., idx] = v, x[i] = v with i known only at run time (a
  // scatter op), top level: gather.cpp
  bool ufunc_at(const UfuncInfo& u, CallArgs args);  // np.add.at(a, idx, b): ufunc_methods.cpp
  // combine: 0 assignment; 1-4 ufunc.at's add, multiply, maximum, minimum (ir/ops.def scatter).
  bool store_by_array(const AValue& x, const AValue& key, const AValue& value, int combine = 0);
  std::optional<AValue> reshape_value(const AValue& x, const std::vector<int64_t>& shape, bool view);
  std::optional<AValue> reshape_symbolic(const AValue& x, const std::vector<int64_t>& shape, bool view);
  AValue view_of(const AValue& base, ir::ValueId v, Box box);
  std::optional<AValue> full_of(const std::vector<int64_t>& shape, ir::DType dt, const AValue& fill);
  std::optional<std::vector<int64_t>> int_list(const AValue& v, const char* what);
  std::optional<ir::DType> dtype_arg(const AValue* v, ir::DType fallback);
  std::optional<std::vector<AValue>> tensors_of(const AValue& seq);
  bool call_tensor_method(const AValue& m, std::vector<AValue> args);
  bool tensor_attribute(const AValue& base, const std::string& name, bool method);
  bool op_to_bool(const Instruction& in);
  bool op_return_value(const Instruction& in);
  std::optional<bool> truth(const AValue& v);
};

}  // namespace tracejit::tracer::detail
