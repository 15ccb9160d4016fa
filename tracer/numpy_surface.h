// The NumPy functions the tracer understands, found by identity, with NumPy's own dtype rules.
#pragma once

#include "tracer/npy.h"

#include <optional>
#include <string>
#include <vector>

#include "ir/ops.h"

namespace tracejit::tracer {

// A ufunc the tracer can record: its NumPy name and the IR op that computes it.
struct UfuncInfo {
  const char* name;
  ir::Op op;
  int nin;
  PyObject* ufunc;  // borrowed from the numpy module (kept alive by it)
};

enum class Builtin : uint8_t { None, Abs, Where };

// Process-wide references to the numpy module and the callables the tracer recognizes.
struct NumpySurface {
  PyObject* numpy = nullptr;
  PyObject* where = nullptr;
  PyObject* builtin_abs = nullptr;
  PyTypeObject* ufunc_type = nullptr;       // numpy.ufunc
  PyTypeObject* dispatcher_type = nullptr;  // type of np.where (array-function dispatchers)
  std::vector<UfuncInfo> ufuncs;
  std::vector<std::pair<PyObject*, const char*>> functions;  // np.sum, np.reshape, ... (borrowed)

  // Loaded once (needs the GIL); nullptr with a Python error set if numpy cannot be imported.
  static const NumpySurface* get();
  const UfuncInfo* find_ufunc(PyObject* callable) const;
  const UfuncInfo* ufunc_named(const char* name) const;
  const char* function_name(PyObject* callable) const;  // nullptr if not a known np function
};

// Operator codes of BINARY_OP (NB_*) and COMPARE_OP mapped to ufunc names; nullptr when the
// operator has no elementwise ufunc the tracer records (<<, >>, @).
const char* ufunc_for_binary_op(int nb);
const char* ufunc_for_compare_op(int cmp);

// The Python text of an operator, for messages: "+", "<", "**".
const char* binary_op_symbol(int nb);

}  // namespace tracejit::tracer
