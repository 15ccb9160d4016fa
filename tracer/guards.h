// Guards: every fact a trace relied on, checked before its compiled code runs.
#pragma once

#include "tracer/npy.h"

#include <cstdint>
#include <string>
#include <vector>

#include "tracer/source.h"

namespace tracejit::tracer {

struct Guard {
  enum class Kind : uint8_t {
    Type,       // type(arg) is `type` (exact)
    Array,      // exact ndarray with this dtype, ndim, shape; aligned, native byte order;
                // C-contiguous when `contiguous`; else compact in `memory_order`, or not
                // F-contiguous when `not_fortran`
    Value,      // arg == expected (a Python int/bool specialized by value; exact type checked too)
    Identity,   // arg is expected (None, True, False)
    GlobalIs,   // globals[name] is expected
    BuiltinIs,  // name not in globals and builtins[name] is expected
    AttrIs,     // getattr(base, name) is expected (base is itself guarded)
    Len,        // type(arg) is `type` and len(arg) == length (lists, tuples, dicts)
    FunctionIs, // dict (a function) still has __code__ `expected` and __defaults__ `dict2`
    DimsEqual,  // args[dims[0]].shape[dims[1]] == args[dims[2]].shape[dims[3]] (one symbol)
    IntRange,   // args[arg] is an exact int with dims[0] <= value <= dims[1]
    RangeIter,  // args[arg] is a range iterator with step dims[0] and end dims[1] (next value +
                // remaining * step), whose remaining items lie in [dims[2], dims[3]]
    RangeLeft,  // args[arg], a range iterator, has at least one item left (length 1) or none (0)
    SeqIndex,   // args[arg] is a list or tuple iterator whose next index is `length`
    Path,       // the `inner` check (Type/Array/Value/Identity/Len) on the object the source
                // path (arg.attr[key]...) reaches at call time; arg == -1
  };
  Kind kind = Kind::Type;
  Kind inner = Kind::Type;  // Path only
  int arg = -1;
  int64_t length = 0;       // Len
  PyTypeObject* type = nullptr;
  int typenum = -1;
  std::vector<int64_t> dims;  // Array: -1 is a dynamic dimension (any size >= 2)
  bool contiguous = true;
  // Array, not contiguous: for an array read as a transpose of a C-contiguous buffer
  // (ParamLayout::Transposed), the buffer's axes as the array's axes, outermost first: the
  // strides must be those of that order (length-1 axes: any). Empty: any strides, except an
  // F-contiguous array when `not_fortran` (that one is traced apart).
  std::vector<int64_t> memory_order;
  int64_t itemsize = 0;  // with memory_order
  bool not_fortran = false;
  PyObject* dict = nullptr;      // GlobalIs/BuiltinIs: globals; AttrIs: base object   (strong)
  PyObject* dict2 = nullptr;     // BuiltinIs: builtins dict                             (strong)
  PyObject* name = nullptr;      // interned attribute/global name                      (strong)
  PyObject* expected = nullptr;  // Value/Identity/GlobalIs/BuiltinIs/AttrIs            (strong)
  SourceRef source;
  // Dict watchers (3.12+) or the dict's own ma_version_tag (3.11) change these versions when
  // `dict` / `dict2` change, so a guard that held once is re-evaluated only after a change
  // (GlobalIs, BuiltinIs, AttrIs on a module).
  const uint64_t* version1 = nullptr;
  const uint64_t* version2 = nullptr;
  mutable uint64_t seen1 = 0;
  mutable uint64_t seen2 = 0;
};

// Owns its guards' references. Checked with the GIL held.
class GuardSet {
 public:
  GuardSet() = default;
  GuardSet(const GuardSet&) = delete;
  GuardSet& operator=(const GuardSet&) = delete;
  GuardSet(GuardSet&& o) noexcept : guards_(std::move(o.guards_)) { o.guards_.clear(); }
  GuardSet& operator=(GuardSet&& o) noexcept;
  ~GuardSet();

  // Takes new references to every object in `g`. Guards with the same kind and source as an
  // existing guard are dropped.
  void add(Guard g);
  // True when every guard holds. Never raises (a failing lookup is a failing guard).
  bool check(PyObject* const* args) const;
  // One sentence per failing guard, in the user's words ("arg 'x' shape[0]: expected 128,
  // got 256"). Empty when all hold.
  std::vector<std::string> explain(PyObject* const* args) const;
  // One line per guard ("arg 'x': ndarray float32 shape (4,) C-contiguous").
  std::vector<std::string> describe() const;
  const std::vector<Guard>& guards() const { return guards_; }

 private:
  std::vector<Guard> guards_;
};

}  // namespace tracejit::tracer
