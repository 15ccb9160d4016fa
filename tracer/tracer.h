// The tracer: interprets canonical bytecode over abstract values and records typed SSA IR.
#pragma once

#include "tracer/npy.h"

#include <string>
#include <optional>
#include <utility>
#include <variant>
#include <vector>

#include "ir/graph.h"
#include "tracer/guards.h"

namespace tracejit::tracer {

// How a value appears to Python (the same IR value may be returned as any of these).
enum class Box : uint8_t {
  Array,     // numpy.ndarray
  NpScalar,  // a NumPy scalar (what a ufunc returns for 0-d results)
  PyFloat,   // a Python float (arithmetic among Python floats)
  PyInt,     // a Python int known only at run time (an int64 value; weak in NumPy promotion):
             // `cost = 0 if a[i] == b[j] else 1` (see ifconv.cpp)
};

// How the runtime fetches graph param i at call time: argument `arg` itself, or (arg == -1)
// the object `source` reaches (an attribute or item of an argument, a global).
struct InputBinding {
  // SymSize: a float64 scalar holding the runtime size of symbol `sym` (a count that a mean or
  // var divides by), filled in by the runtime from the sizes it reads for sym_dims.
  // PyInt: a Python int (an exact int within the int64 bounds its guard checks) as an int64
  // scalar: a loop variable in a continuation that starts inside a loop (StateHint).
  // RangeNext: the next value a range iterator (argument `arg`) would yield, as an int64 scalar
  // (its end value when it is exhausted).
  enum class Kind : uint8_t { ArrayData, PyFloat, NpScalar, SymSize, PyInt, RangeNext };
  Kind kind = Kind::ArrayData;
  int arg = -1;
  ir::DType dtype = ir::DType::F64;
  SourceRef source;
  int sym = -1;  // SymSize
};

// The shape of the returned Python object, as a pre-order tree.
struct OutputNode {
  // Choice: three children follow (a bool[] Result, then two values): the first value where the
  // bool holds, else the second (a scalar whose Python type depends on the data, ifconv.cpp's
  // Select: each value boxed as its own type, so the returned object is the one eager returns).
  // Dict: 2 * index children follow: key, value, key, value ... (each key a Constant).
  enum class Kind : uint8_t { Tuple, List, Result, Arg, Constant, Fetch, Choice, Dict };
  Kind kind = Kind::Result;
  int index = -1;              // Tuple/List: child count; Dict: pairs; Result: graph result; Arg: argument index
  Box box = Box::Array;        // Result
  PyObject* constant = nullptr;  // Constant (strong reference, owned by the Trace)
  SourceRef source;            // Fetch: the object returned unchanged, fetched at call time
};

// Every abort has a code, a message, and the user's file:line.
enum class AbortCode : uint8_t {
  UnsupportedBytecode,
  UnsupportedCall,
  UnsupportedArgument,
  UnsupportedAttribute,
  UnsupportedDtype,
  UnsupportedValue,
  SideEffect,
  ControlFlow,
  UserError,  // NumPy or Python would raise here: the eager run raises it for real
  DynamicShape,  // a symbolic dimension reached code that needs its size: retrace static
};
std::string_view abort_code_name(AbortCode c);

struct Abort {
  AbortCode code = AbortCode::UnsupportedBytecode;
  std::string message;
  std::string file;
  int line = -1;
  std::string describe() const;  // "file.py:12: print(...) is a side effect [side-effect]"
  // Deferred effects (graph breaks) the trace recorded before it aborted, described.
  std::vector<std::string> graph_breaks;
  // DynamicShape: the (argument, dimension) pairs whose runtime size met a static size (matmul's
  // core dimension, broadcasting): the runtime retraces with those dimensions static (guarded).
  std::vector<std::pair<int, int>> specialize;
};

// A strong reference to a Python object (copies add a reference; destroyed with the GIL held).
class PyRef {
 public:
  PyRef() = default;
  static PyRef borrow(PyObject* o) {
    Py_XINCREF(o);
    return PyRef(o);
  }
  static PyRef steal(PyObject* o) { return PyRef(o); }
  PyRef(const PyRef& r) : o_(r.o_) { Py_XINCREF(o_); }
  PyRef(PyRef&& r) noexcept : o_(r.o_) { r.o_ = nullptr; }
  PyRef& operator=(PyRef r) noexcept {
    std::swap(o_, r.o_);
    return *this;
  }
  ~PyRef() { Py_XDECREF(o_); }
  PyObject* get() const { return o_; }
  explicit operator bool() const { return o_ != nullptr; }

 private:
  explicit PyRef(PyObject* o) : o_(o) {}
  PyObject* o_ = nullptr;
};

// Deferred effects (tracer/effects.cpp): a statement the graph cannot hold (print(...), an item
// assignment into a dict, list.append) is recorded in program order and performed by the
// runtime after the kernel, with the real values; f-strings and str()/repr()/format() of
// runtime values are "host values" computed the same way into numbered slots.
//
// The Python object an effect uses at run time.
struct EffectOperand {
  enum class Kind : uint8_t {
    Constant,  // `constant` (immutable, or guarded by value)
    Arg,       // argument `index` itself
    Fetch,     // Trace::effect_fetches[index], fetched through its source before the kernel
    Result,    // graph result `index`, boxed as `box` (the SSA value at the effect's point)
    Host,      // host slot `index` (a string computed by an earlier effect)
    Tuple,     // a tuple of `items`
    List,      // a new list of `items` (printed or formatted only)
    Recorded,  // value `index` an effect in a loop body recorded in this iteration, boxed as
               // `box` (a new object per iteration: Effect::recorded)
    RangeIter,  // iter(range(next, end, step)): items[0] the next value (an int), `constant` the
                // tuple (end, step) (a graph break inside a for loop over a range: the loop's
                // iterator with exactly eager's remaining items)
    SeqIter,    // iter(items[0]) set to index `index` (__setstate__): a for loop's iterator over a
                // list or tuple at a graph break inside the loop
    Choice,     // items[1] if items[0] (a NumPy bool) holds, else items[2]: a scalar whose Python
                // type depends on the data (a Select: Python int or np.int64 ...) in the frame
                // state at a graph break
    Cell,       // a new cell holding items[0] (empty when no items), made once per frame state for
                // each `index` (a cell the traced code made: the frame's slot and the closures
                // over it share the one object)
    Function,   // a new function: `constant` the tuple (code, globals), items[0] its closure (a
                // Tuple of Cell operands, or a Constant None), items[1] its defaults (likewise)
    Method,     // getattr(items[0], `constant`): an array's bound method on the stack at a graph
                // break at its call (`y.searchsorted(v, sorter=s)`)
  };
  Kind kind = Kind::Constant;
  int index = -1;
  Box box = Box::Array;
  PyRef constant;
  std::vector<EffectOperand> items;
};

// format(convert(v), spec) exactly as the FORMAT_VALUE bytecode does it (conversion 1 str,
// 2 repr, 3 ascii): a new reference, or nullptr with the Python error set. The tracer's
// trace-time formatting and the runtime's deferred effects share it.
PyObject* format_value(PyObject* v, int conversion, PyObject* spec);

struct Effect {
  enum class Kind : uint8_t {
    Call,        // operands[0](*operands[1..], **kw)                     print(...)
    CallMethod,  // getattr(operands[0], method)(*operands[1..], **kw)   lst.append(x), "{}".format(x)
    SetItem,     // operands[0][operands[1]] = operands[2]               d[k] = v, lst[i] = v
    Format,      // format(convert(operands[0]), operands[1] if given)   f"{x!r:.3f}", str(x)
    Concat,      // "".join(operands)                                    f"a{x}b"
    Replay,      // the effects loop regions recorded (Trace::loop_effects[replay_lo,
                 // replay_hi)), per iteration in the order they ran
    IndexCheck,  // raise NumPy's error for the indices operands[k] (checked[k]: axis, size), one
                 // of them out of bounds: a loop body's index not proved in bounds (loops.cpp)
  };
  Kind kind = Kind::Call;
  std::vector<EffectOperand> operands;
  PyRef kwnames;             // Call/CallMethod: names of the last len(kwnames) operands
  PyRef method;              // CallMethod: the method name (str)
  int conversion = 0;        // Format: 0 none, 1 str, 2 repr, 3 ascii
  int slot = -1;             // the host slot receiving the result (host values), or -1
  bool graph_break = false;  // a side effect (counted in stats()['graph_breaks'])
  // In-place updates of input arrays made before this point, (input, graph result): if this
  // effect raises, the caller sees exactly these, as after eager code that raised here.
  std::vector<std::pair<int, int>> writebacks;
  std::string file;          // the user's statement, for messages and the traceback
  int line = -1;
  std::string function;
  std::string what;          // "print(...)", "HISTORY[...] = ..."
  // An effect inside a loop region (Trace::loop_effects): an ir `effect` node hands the runtime
  // these values (type, box) each iteration it runs; operands read them as Recorded. If it
  // raises, input `first` gets recorded value `second` (its in-place state at that point).
  std::vector<std::pair<ir::Type, Box>> recorded;
  std::vector<std::pair<int, int>> recorded_writebacks;
  int replay_lo = 0, replay_hi = 0;  // Replay
  // IndexCheck: per operand, the axis it indexes and that axis's size. Its ir `effect` node
  // runs only when an index is out of bounds and stops the program (ir/ops.def: effect).
  std::vector<std::pair<int, int64_t>> checked;
  std::string describe() const;  // "file.py:12: print(...) runs eagerly after the compiled graph [graph-break]"
};

// A graph break at a call or a branch the trace cannot hold (TorchDynamo's resume functions):
// the trace of the outermost frame ends at instruction `pc`; its results include the live frame
// state there. The runtime runs the graph, its effects and write-backs, rebuilds the frame state
// as Python objects, performs the break instruction eagerly with them (the call; or the truth
// test of the branch) and continues at the next instruction with a continuation: a trace that
// starts there with the frame state as its arguments (or, when none can run, the rest of the
// function run eagerly from there).
// How a continuation that starts inside a loop binds one slot of its frame state, so that every
// iteration reuses the same compiled continuation (its key holds these, never the values):
// Int: a Python int in [lo, hi] (a loop variable) as a runtime int64 value, not specialized by
// value; RangeIter: a range iterator whose step and end are these and whose remaining items lie
// in [lo, hi], with its next value a runtime int64 (FOR_ITER on it guards whether it has one);
// SeqIter: a list or tuple iterator, its sequence read through it (Source::iter_seq) and its
// index guarded by value (a version per index: the items usually differ in shape anyway).
struct StateHint {
  // IntOrScalar: a local that holds a Python int in [lo, hi] or a NumPy scalar depending on the
  // data (an accumulator `n = 0 ... n += x[i]` under a branch): the int is bound as Int, a
  // scalar as any argument (each its own continuation version).
  // Closure: a nested function made before the break (by this code, from a code constant)
  // whose closure cells are the frame's cell slots `cells` (the runtime checks their identity
  // before a compiled continuation runs); bound as a function the traced code made.
  enum class Kind : uint8_t { Int, RangeIter, SeqIter, IntOrScalar, Closure };
  Kind kind = Kind::Int;
  int slot = -1;  // index into the frame state (locals, then the value stack)
  int64_t lo = 0, hi = 0;
  int64_t step = 0, end = 0;  // RangeIter
  std::vector<int> cells;     // Closure
  std::string key() const;
};


struct Resume {
  enum class Kind : uint8_t {
    Call,    // CALL: the top of `state` holds [callable, self-or-NULL, args..., kwnames?]
    Branch,  // POP_JUMP_IF_TRUE/FALSE: the top of `state` is the value tested
    Truth,   // TO_BOOL (3.13): the top of `state` is replaced by its truth
    Subscr,  // BINARY_SUBSCR: the top two of `state` (container, key) are replaced by
             // container[key] (an index the tracer cannot hold: a boolean mask, an index array)
    Method,  // LOAD_METHOD/LOAD_ATTR(method): the top of `state` is replaced by the call
             // protocol's pair for getattr(top, attr): a NULL and the bound attribute
    MethodCall,  // the same followed by a CALL without arguments (x.tolist()): the top of
                 // `state` is replaced by the call's result (pc + 1 is that CALL)
    With,  // BEFORE_WITH: the top of `state` is the context manager; the whole statement runs
           // eagerly (tracejit._resume.make_with_remainder, entered at entry_offset) and the
           // continuation starts where it is left with an empty stack (found at run time)
  };
  Kind kind = Kind::Call;
  int pc = -1;      // the break instruction (index into the decoded instructions)
  int nlocals = 0;  // state[0, nlocals): the frame's local slots; the rest: its value stack
  // nullopt: an unbound local, or a NULL stack entry (the call's lower NULL).
  std::vector<std::optional<EffectOperand>> state;
  std::string attr;      // Method: the attribute's name
  int nargs = 0;         // Call: the CALL's argument count (kwnames excluded)
  bool kw = false;       // Call: a kwnames tuple is on top of the stack
  bool jump_if = false;  // Branch: jumps when the truth equals this
  int next_pc = -1;      // where the continuation starts after the call / when not jumping
  int target_pc = -1;    // Branch: the jump target
  int next_offset = -1, target_offset = -1;  // their bytecode offsets (for the eager remainder)
  // A break inside a try block (an exception table entry covers it): the runtime does not run
  // the instruction itself (its exception must reach the user's handler) but the eager
  // remainder entered at the instruction (entry_offset: the break instruction, or for a CallKw
  // the instruction that loaded its names, whose tuple the interpreter's stack does not hold:
  // the top of `state` is then left out), which runs the rest of the function with the
  // exception table in force; no compiled continuation.
  bool in_try = false;
  int entry_offset = -1;
  // A break inside a loop: the slots of `state` that continuations bind as runtime values.
  std::vector<StateHint> hints;
  bool in_loop = false;
  std::string file, function, what, reason;
  int line = -1;
  std::string describe() const;  // "file.py:12: call to erf() [...]: runs eagerly between compiled graphs [graph-break]"
  // How many entries at the top of `state` are the break instruction's own operands (a Call's
  // callable pair, arguments and kwnames; a Subscr's container and key; otherwise one).
  size_t operands() const {
    if (kind == Kind::Call) return static_cast<size_t>(nargs) + 2 + (kw ? 1 : 0);
    return kind == Kind::Subscr ? 2 : 1;
  }
};

// See Trace::rerun_checks.
struct RerunCheck {
  int result = -1;
  std::string why;
  bool raises = false;  // NumPy raises (else it warns)
  // Neither: NumPy's answer for such data is its own algorithm's (an unsorted array searched,
  // a partition of signed zeros), which only an eager run gives.
  bool algorithm = false;
};

struct Trace {
  ir::Graph graph;
  GuardSet guards;
  std::vector<InputBinding> inputs;  // one per graph param
  std::vector<OutputNode> outputs;
  // In-place updates of input arrays: after the kernel, input `first` receives graph result
  // `second` (the runtime refuses to run when a written input overlaps another input).
  std::vector<std::pair<int, int>> writebacks;
  // Symbolic dimension k of the graph has the size of dimension symbols[k].second of input
  // symbols[k].first (an argument array) at call time.
  std::vector<std::pair<int, int>> symbols;
  // Why range loops were unrolled rather than compiled as loop regions ("f.py:12: ...").
  std::vector<std::string> loop_notes;
  // Loop iterations this call runs (unrolled iterations plus the trip counts of loop regions,
  // nested ones multiplied): the runtime's per-loop hotness.
  int64_t loop_iterations = 0;
  // While loops (`while` ops, nested ones too) in the graph: their iterations are not counted
  // above (known only at run time); the runtime times a cold call that has them instead.
  int64_t while_loops = 0;
  // Deferred effects and host values in program order; objects they use fetched through a
  // source before the kernel; pairs of sources that must be distinct objects at call time (a
  // container written by an effect and one the trace read after it), else the call runs eagerly.
  std::vector<Effect> effects;
  std::vector<SourceRef> effect_fetches;
  std::vector<std::pair<SourceRef, SourceRef>> effect_distinct;
  int host_slots = 0;
  // Effects inside loop regions, by the id of their ir `effect` node (performed through a
  // Replay effect of `effects`).
  std::vector<Effect> loop_effects;
  // Data-dependent conditions under which NumPy warns through `warnings.warn` (not errstate)
  // or raises (an index out of bounds): graph result `result` (bool[]) set means the compiled
  // result is dropped and the call runs again eagerly, for NumPy's own warning or exception;
  // `why` says what ("np.nanmean: a slice with no numbers", with the user's file:line).
  std::vector<RerunCheck> rerun_checks;
  // The trace ends at a graph break (outputs is empty then): see Resume.
  std::optional<Resume> resume;
  Trace() = default;
  Trace(Trace&&) = default;
  Trace& operator=(Trace&&) = default;
  ~Trace();
};

using TraceResult = std::variant<Trace, Abort>;

struct TraceOptions {
  // (argument, dimension) pairs traced as symbolic sizes (>= 2; sizes 0 and 1 stay static).
  // Dimensions of equal size at trace time share one symbol, guarded equal.
  std::vector<std::pair<int, int>> dynamic_dims;
  // A continuation: the trace starts at instruction `start_pc` of the function, `args` being
  // its frame state (Resume::state: `state_locals` local slots, then the value stack; nullptr
  // entries unbound / NULL).
  int start_pc = -1;
  int state_locals = 0;
  std::vector<StateHint> hints;  // how slots of the frame state are bound (see StateHint)
};

// Traces `func` called with `args`: its positional parameters, already bound (keywords and
// defaults applied by the caller; length co_argcount). Calls to other Python functions are
// inlined (depth-limited). Needs the GIL. Never leaves a Python exception set.
TraceResult trace_function(PyObject* func, PyObject* const* args, Py_ssize_t nargs,
                           const TraceOptions& options = {});

}  // namespace tracejit::tracer
