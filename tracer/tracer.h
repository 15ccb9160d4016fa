// The tracer: interprets canonical bytecode over abstract values and records typed SSA IR.
#pragma once

#include "tracer/npy.h"

#include <string>
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
};

// How the runtime fetches graph param i at call time: argument `arg` itself, or (arg == -1)
// the object `source` reaches (an attribute or item of an argument, a global).
struct InputBinding {
  enum class Kind : uint8_t { ArrayData, PyFloat, NpScalar };
  Kind kind = Kind::ArrayData;
  int arg = -1;
  ir::DType dtype = ir::DType::F64;
  SourceRef source;
};

// The shape of the returned Python object, as a pre-order tree.
struct OutputNode {
  enum class Kind : uint8_t { Tuple, List, Result, Arg, Constant, Fetch };
  Kind kind = Kind::Result;
  int index = -1;              // Tuple/List: child count; Result: graph result; Arg: argument index
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
};

// Traces `func` called with `args`: its positional parameters, already bound (keywords and
// defaults applied by the caller; length co_argcount). Calls to other Python functions are
// inlined (depth-limited). Needs the GIL. Never leaves a Python exception set.
TraceResult trace_function(PyObject* func, PyObject* const* args, Py_ssize_t nargs,
                           const TraceOptions& options = {});

}  // namespace tracejit::tracer
