// Where an abstract value came from: the same Source names its guard and words its messages.
#pragma once

#include "tracer/iterstate.h"
#include "tracer/npy.h"

#include <memory>
#include <string>

namespace tracejit::tracer {

struct Source;
using SourceRef = std::shared_ptr<const Source>;

struct Source {
  // IterSeq: the list or tuple a list/tuple iterator (base) iterates over (iterstate.h).
  enum class Kind { Arg, Global, Builtin, Attr, Item, Fixed, Constant, Computed, IterSeq };
  Kind kind = Kind::Computed;
  int arg_index = -1;  // Arg
  std::string name;    // Arg: parameter name; Global/Builtin/Attr: the name read
  SourceRef base;      // Attr/Item: the object the attribute or item was read from
  PyObject* key = nullptr;    // Item: the (immutable) key, a strong reference
  PyObject* interned = nullptr;  // Attr/Global/Builtin: the name as a Python string (strong)
  PyObject* dict = nullptr;      // Global: the globals dict; Builtin: the builtins dict;
                                 // Fixed: the object (strong)

  Source() = default;
  Source(const Source&) = delete;
  Source& operator=(const Source&) = delete;
  ~Source();

  static SourceRef arg(int index, std::string name);
  static SourceRef global(std::string name, PyObject* globals);
  static SourceRef builtin(std::string name, PyObject* builtins);
  static SourceRef attr(SourceRef base, std::string name);
  static SourceRef item(SourceRef base, PyObject* key);  // key: int or str
  static SourceRef iter_seq(SourceRef base);
  // An object fixed at trace time (the traced function itself): evaluates to that object.
  static SourceRef fixed(PyObject* obj, std::string name);
  static SourceRef constant();
  static SourceRef computed();

  // "arg 'x'", "global 'np'", "np.tanh", "builtin 'abs'"
  std::string describe() const;
  // "x", "np", "np.tanh", "p['w']": the Python expression the user wrote
  std::string expr() const;
  // True when the value can be fetched again at call time (an argument, or attributes/items
  // of one, or a global).
  bool evaluable() const;
  // Fetches the value for a call with these (bound) arguments: a new reference, or nullptr
  // (no Python error left set) when the path no longer resolves. Needs the GIL.
  PyObject* eval(PyObject* const* args) const;
};

}  // namespace tracejit::tracer
