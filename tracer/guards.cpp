// Guard checking and explanation.
#include "tracer/guards.h"
#include "tracer/tracer.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <unordered_map>

namespace tracejit::tracer {
namespace {

#if PY_VERSION_HEX >= 0x030C0000
// One dict watcher for the process: every watched dict has a version counter that any change
// bumps. Guards on globals, builtins and module attributes then cost one compare per call.
std::unordered_map<PyObject*, uint64_t*>& watched_dicts() {
  static auto* m = new std::unordered_map<PyObject*, uint64_t*>();
  return *m;
}

int on_dict_event(PyDict_WatchEvent event, PyObject* dict, PyObject*, PyObject*) {
  auto& m = watched_dicts();
  auto it = m.find(dict);
  if (it == m.end()) return 0;
  ++*it->second;
  if (event == PyDict_EVENT_DEALLOCATED) {
    delete it->second;  // no guard refers to it any more: guards hold their dicts
    m.erase(it);
  }
  return 0;
}

const uint64_t* watch(PyObject* dict) {
  static int watcher = PyDict_AddWatcher(on_dict_event);
  if (watcher < 0 || !dict || !PyDict_CheckExact(dict)) {
    PyErr_Clear();
    return nullptr;
  }
  auto& m = watched_dicts();
  auto it = m.find(dict);
  if (it != m.end()) return it->second;
  if (PyDict_Watch(watcher, dict) < 0) {
    PyErr_Clear();
    return nullptr;
  }
  auto* v = new uint64_t(1);
  m.emplace(dict, v);
  return v;
}
#else
// 3.11: every change to a dict gives it a new ma_version_tag (PEP 509; never 0, so a guard's
// first check, seen 0, looks the name up). The guard holds the dict (or the module owning it).
const uint64_t* watch(PyObject* dict) {
  if (!dict || !PyDict_CheckExact(dict)) return nullptr;
  return &reinterpret_cast<PyDictObject*>(dict)->ma_version_tag;
}
#endif

constexpr int kBehaved = NPY_ARRAY_ALIGNED;

// Whether `a`'s strides are those of a C-contiguous buffer whose axes are `order` (array axes,
// outermost first); a length-1 axis may have any stride.
bool compact_in(PyArrayObject* a, const std::vector<int64_t>& order) {
  npy_intp expected = PyArray_ITEMSIZE(a);
  for (size_t i = order.size(); i-- > 0;) {
    auto d = static_cast<int>(order[i]);
    npy_intp n = PyArray_DIMS(a)[d];
    if (n != 1 && PyArray_STRIDES(a)[d] != expected) return false;
    expected *= n;
  }
  return true;
}

bool array_ok(const Guard& g, PyObject* o) {
  if (Py_TYPE(o) != &PyArray_Type) return false;
  auto* a = reinterpret_cast<PyArrayObject*>(o);
  if (PyArray_TYPE(a) != g.typenum) return false;
  if (PyArray_NDIM(a) != static_cast<int>(g.dims.size())) return false;
  const npy_intp* d = PyArray_DIMS(a);
  for (size_t i = 0; i < g.dims.size(); ++i)
    if (g.dims[i] < 0 ? d[i] < 2 : d[i] != g.dims[i]) return false;
  int flags = PyArray_FLAGS(a);
  if ((flags & kBehaved) != kBehaved) return false;
  if (!PyArray_ISNOTSWAPPED(a)) return false;
  if (g.contiguous && !(flags & NPY_ARRAY_C_CONTIGUOUS)) return false;
  if (g.not_fortran && (flags & NPY_ARRAY_F_CONTIGUOUS)) return false;
  return g.memory_order.empty() || compact_in(a, g.memory_order);
}

// Borrowed lookup that never leaves an exception set.
PyObject* dict_get(PyObject* dict, PyObject* name) {
  PyObject* v = PyDict_GetItemWithError(dict, name);
  if (!v && PyErr_Occurred()) PyErr_Clear();
  return v;
}

// The object-level checks, shared by argument guards and path guards.
bool object_ok(const Guard& g, Guard::Kind kind, PyObject* o) {
  switch (kind) {
    case Guard::Kind::Type:
      return Py_TYPE(o) == g.type;
    case Guard::Kind::Array:
      return array_ok(g, o);
    case Guard::Kind::Value: {
      if (Py_TYPE(o) != Py_TYPE(g.expected)) return false;
      if (PyFloat_CheckExact(o)) {  // the same bits: -0.0 is not 0.0 (1/x differs), NaN is NaN
        double a = PyFloat_AS_DOUBLE(o), b = PyFloat_AS_DOUBLE(g.expected);
        return std::memcmp(&a, &b, sizeof a) == 0;
      }
      int eq = PyObject_RichCompareBool(o, g.expected, Py_EQ);
      if (eq < 0) PyErr_Clear();
      return eq == 1;
    }
    case Guard::Kind::Identity:
      // A method bound to a C object (np.add.at, np.add.reduce) is a new object at every
      // lookup: the same method of the same object is the same value.
      return o == g.expected ||
             (PyCFunction_Check(o) && PyCFunction_Check(g.expected) && PyCFunction_GET_SELF(o) &&
              PyCFunction_GET_SELF(o) == PyCFunction_GET_SELF(g.expected) &&
              reinterpret_cast<PyCFunctionObject*>(o)->m_ml == reinterpret_cast<PyCFunctionObject*>(g.expected)->m_ml);
    case Guard::Kind::Len: {
      if (Py_TYPE(o) != g.type) return false;
      Py_ssize_t n = PyObject_Length(o);
      if (n < 0) PyErr_Clear();
      return n == g.length;
    }
    default:
      return false;
  }
}

bool range_ok(const Guard& g, PyObject* o) {
  int64_t next, step, left;
  if (!range_iterator_state(o, next, step, left)) return false;
  if (g.kind == Guard::Kind::RangeLeft) return g.length == 0 ? left == 0 : left >= 1;
  if (step != g.dims[0] || next + left * step != g.dims[1]) return false;
  if (left == 0) return true;
  const int64_t last = next + (left - 1) * step;
  return std::min(next, last) >= g.dims[2] && std::max(next, last) <= g.dims[3];
}

bool guard_ok(const Guard& g, PyObject* const* args) {
  switch (g.kind) {
    case Guard::Kind::IntRange: {
      PyObject* o = args[g.arg];
      if (!o || !PyLong_CheckExact(o)) return false;
      int overflow = 0;
      long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
      if (v == -1 && PyErr_Occurred()) PyErr_Clear();
      return overflow == 0 && v >= g.dims[0] && v <= g.dims[1];
    }
    case Guard::Kind::RangeIter:
    case Guard::Kind::RangeLeft:
      return args[g.arg] && range_ok(g, args[g.arg]);
    case Guard::Kind::SeqIndex: {
      Py_ssize_t index = -1;
      PyObject* seq = seq_iterator_state(args[g.arg], index);
      Py_XDECREF(seq);
      return seq && index == g.length;
    }
    case Guard::Kind::Type:
    case Guard::Kind::Array:
    case Guard::Kind::Value:
    case Guard::Kind::Identity:
    case Guard::Kind::Len:
      return object_ok(g, g.kind, args[g.arg]);
    case Guard::Kind::Path: {
      PyObject* o = g.source->eval(args);
      if (!o) return false;
      bool ok = object_ok(g, g.inner, o);
      Py_DECREF(o);
      return ok;
    }
    case Guard::Kind::FunctionIs:
      return PyFunction_GET_CODE(g.dict) == g.expected && PyFunction_GET_DEFAULTS(g.dict) == g.dict2;
    case Guard::Kind::DimsEqual: {
      PyObject* a = args[g.dims[0]];
      PyObject* b = args[g.dims[2]];
      if (!PyArray_Check(a) || !PyArray_Check(b)) return false;
      auto* x = reinterpret_cast<PyArrayObject*>(a);
      auto* y = reinterpret_cast<PyArrayObject*>(b);
      if (PyArray_NDIM(x) <= g.dims[1] || PyArray_NDIM(y) <= g.dims[3]) return false;
      return PyArray_DIMS(x)[g.dims[1]] == PyArray_DIMS(y)[g.dims[3]];
    }
    case Guard::Kind::GlobalIs:
    case Guard::Kind::BuiltinIs:
    case Guard::Kind::AttrIs: {
      if (g.version1 && *g.version1 == g.seen1 && (!g.version2 || *g.version2 == g.seen2) &&
          (g.kind != Guard::Kind::AttrIs || Py_TYPE(g.dict) == &PyModule_Type))
        return true;
      uint64_t v1 = g.version1 ? *g.version1 : 0, v2 = g.version2 ? *g.version2 : 0;
      bool ok;
      if (g.kind == Guard::Kind::GlobalIs) {
        ok = dict_get(g.dict, g.name) == g.expected;
      } else if (g.kind == Guard::Kind::BuiltinIs) {
        ok = dict_get(g.dict, g.name) == nullptr && dict_get(g.dict2, g.name) == g.expected;
      } else {
        PyObject* v = PyObject_GetAttr(g.dict, g.name);
        if (!v) PyErr_Clear();
        Py_XDECREF(v);
        ok = v == g.expected;
      }
      if (ok) {
        g.seen1 = v1;
        g.seen2 = v2;
      }
      return ok;
    }
  }
  return false;
}

std::string type_name(PyObject* o) { return Py_TYPE(o)->tp_name; }

std::string typenum_name(int typenum) {
  PyArray_Descr* d = PyArray_DescrFromType(typenum);
  if (!d) {
    PyErr_Clear();
    return fmt::format("dtype#{}", typenum);
  }
  std::string out = "?";
  if (PyObject* s = PyObject_Str(reinterpret_cast<PyObject*>(d))) {
    out = PyUnicode_AsUTF8(s);
    Py_DECREF(s);
  }
  Py_DECREF(d);
  return out;
}

std::string repr(PyObject* o) {
  std::string out = "?";
  if (PyObject* s = PyObject_Repr(o)) {
    if (const char* c = PyUnicode_AsUTF8(s)) out = c;
    Py_DECREF(s);
  }
  PyErr_Clear();
  return out;
}

std::string dims_str(const std::vector<int64_t>& d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + (d[i] < 0 ? std::string("dyn") : std::to_string(d[i]));
  if (d.size() == 1) s += ",";
  return s + ")";
}

void explain_array(const Guard& g, PyObject* o, std::vector<std::string>& out) {
  std::string who = g.source->describe();
  if (Py_TYPE(o) != &PyArray_Type) {
    out.push_back(fmt::format("type of {}: expected numpy.ndarray, got {}", who, type_name(o)));
    return;
  }
  auto* a = reinterpret_cast<PyArrayObject*>(o);
  if (PyArray_TYPE(a) != g.typenum)
    out.push_back(fmt::format("dtype of {}: expected {}, got {}", who, typenum_name(g.typenum),
                              typenum_name(PyArray_TYPE(a))));
  if (PyArray_NDIM(a) != static_cast<int>(g.dims.size())) {
    out.push_back(fmt::format("{} ndim: expected {}, got {}", who, g.dims.size(), PyArray_NDIM(a)));
  } else {
    for (size_t i = 0; i < g.dims.size(); ++i)
      if (PyArray_DIMS(a)[i] != g.dims[i])
        out.push_back(fmt::format("{} shape[{}]: expected {}, got {}", who, i, g.dims[i],
                                  PyArray_DIMS(a)[i]));
  }
  if (g.contiguous && !PyArray_IS_C_CONTIGUOUS(a))
    out.push_back(fmt::format("{}: expected a C-contiguous array, got strides {}", who,
                              dims_str(std::vector<int64_t>(PyArray_STRIDES(a),
                                                            PyArray_STRIDES(a) + PyArray_NDIM(a)))));
  std::vector<int64_t> strides(PyArray_STRIDES(a), PyArray_STRIDES(a) + PyArray_NDIM(a));
  if (!g.memory_order.empty() && PyArray_NDIM(a) == static_cast<int>(g.memory_order.size()) &&
      !compact_in(a, g.memory_order))
    out.push_back(fmt::format("{}: expected the strides of a contiguous array with axes {} outermost first, got {}",
                              who, dims_str(g.memory_order), fmt::format("({})", fmt::join(strides, ", "))));
  if (g.not_fortran && PyArray_IS_F_CONTIGUOUS(a))
    out.push_back(fmt::format("{}: expected strides other than F-contiguous ones, got ({})", who, fmt::join(strides, ", ")));
  if (!(PyArray_FLAGS(a) & NPY_ARRAY_ALIGNED) || !PyArray_ISNOTSWAPPED(a))
    out.push_back(fmt::format("{}: expected an aligned array in native byte order", who));
}

}  // namespace

GuardSet& GuardSet::operator=(GuardSet&& o) noexcept {
  if (this != &o) {
    this->~GuardSet();
    new (this) GuardSet(std::move(o));
  }
  return *this;
}

GuardSet::~GuardSet() {
  for (Guard& g : guards_) {
    Py_XDECREF(reinterpret_cast<PyObject*>(g.type));
    Py_XDECREF(g.dict);
    Py_XDECREF(g.dict2);
    Py_XDECREF(g.name);
    Py_XDECREF(g.expected);
  }
}

void GuardSet::add(Guard g) {
  std::string key = g.source ? g.source->describe() : "";
  for (const Guard& e : guards_)
    if (e.kind == g.kind && e.inner == g.inner && e.arg == g.arg &&
        (e.source ? e.source->describe() : "") == key)
      return;
  if (g.kind == Guard::Kind::GlobalIs) {
    g.version1 = watch(g.dict);
  } else if (g.kind == Guard::Kind::BuiltinIs) {
    g.version1 = watch(g.dict);
    g.version2 = watch(g.dict2);
    if (!g.version2) g.version1 = nullptr;
  } else if (g.kind == Guard::Kind::AttrIs && PyModule_CheckExact(g.dict)) {
    g.version1 = watch(PyModule_GetDict(g.dict));
  }
  Py_XINCREF(reinterpret_cast<PyObject*>(g.type));  // a class must outlive its guard
  Py_XINCREF(g.dict);
  Py_XINCREF(g.dict2);
  Py_XINCREF(g.name);
  Py_XINCREF(g.expected);
  // Argument checks first (cheapest, most discriminating), then globals and attributes.
  auto is_arg = [](const Guard& x) { return x.arg >= 0; };
  if (is_arg(g)) {
    auto it = guards_.begin();
    while (it != guards_.end() && is_arg(*it)) ++it;
    guards_.insert(it, std::move(g));
  } else {
    guards_.push_back(std::move(g));
  }
}

bool GuardSet::check(PyObject* const* args) const {
  for (const Guard& g : guards_)
    if (!guard_ok(g, args)) return false;
  return true;
}

std::vector<std::string> GuardSet::explain(PyObject* const* args) const {
  std::vector<std::string> out;
  for (const Guard& g : guards_) {
    if (guard_ok(g, args)) continue;
    std::string who = g.source ? g.source->describe() : "?";
    Guard::Kind kind = g.kind;
    PyObject* o = nullptr;
    if (kind == Guard::Kind::Path) {
      o = g.source->eval(args);
      if (!o) {
        out.push_back(fmt::format("{} no longer exists", who));
        continue;
      }
      kind = g.inner;
    } else if (g.arg >= 0) {
      o = args[g.arg];
      Py_INCREF(o);
    }
    switch (kind) {
      case Guard::Kind::Type:
        out.push_back(fmt::format("type of {}: expected {}, got {}", who, g.type->tp_name,
                                  type_name(o)));
        break;
      case Guard::Kind::Array:
        explain_array(g, o, out);
        break;
      case Guard::Kind::Len:
        if (Py_TYPE(o) != g.type)
          out.push_back(fmt::format("type of {}: expected {}, got {}", who, g.type->tp_name,
                                    type_name(o)));
        else
          out.push_back(fmt::format("len({}): expected {}, got {}", g.source->expr(), g.length,
                                    PyObject_Length(o)));
        PyErr_Clear();
        break;
      case Guard::Kind::Value:
      case Guard::Kind::Identity:
        out.push_back(fmt::format("value of {}: expected {}, got {}", who, repr(g.expected),
                                  repr(o)));
        break;
      case Guard::Kind::GlobalIs:
      case Guard::Kind::BuiltinIs:
      case Guard::Kind::AttrIs:
      case Guard::Kind::Path:
        out.push_back(fmt::format("{} changed", who));
        break;
      case Guard::Kind::FunctionIs:
        out.push_back(fmt::format("the code or defaults of {} changed", who));
        break;
      case Guard::Kind::DimsEqual:
        out.push_back(fmt::format("dynamic sizes no longer equal: {}", g.source->name));
        break;
      case Guard::Kind::IntRange:
        out.push_back(fmt::format("value of {}: expected an int in [{}, {}], got {}", who, g.dims[0], g.dims[1],
                                  o ? repr(o) : "nothing"));
        break;
      case Guard::Kind::RangeIter:
        out.push_back(fmt::format("{}: expected a range iterator of step {} ending at {}", who, g.dims[0], g.dims[1]));
        break;
      case Guard::Kind::RangeLeft:
        out.push_back(fmt::format("{}: the loop {}", who, g.length ? "has ended" : "has not ended"));
        break;
      case Guard::Kind::SeqIndex:
        out.push_back(fmt::format("{}: expected a list or tuple iterator at index {}", who, g.length));
        break;
    }
    Py_XDECREF(o);
  }
  return out;
}

std::vector<std::string> GuardSet::describe() const {
  std::vector<std::string> out;
  for (const Guard& g : guards_) {
    std::string who = g.source ? g.source->describe() : "?";
    switch (g.kind == Guard::Kind::Path ? g.inner : g.kind) {
      case Guard::Kind::Len:
        out.push_back(fmt::format("type({}) is {} and len({}) == {}", who, g.type->tp_name,
                                  g.source->expr(), g.length));
        break;
      case Guard::Kind::Type:
        out.push_back(fmt::format("type({}) is {}", who, g.type->tp_name));
        break;
      case Guard::Kind::Array:
        out.push_back(fmt::format("{}: ndarray {} shape {}{}", who, typenum_name(g.typenum),
                                  dims_str(g.dims),
                                  g.contiguous         ? std::string(" C-contiguous")
                                  : !g.memory_order.empty() ? " contiguous with axes " + dims_str(g.memory_order) + " outermost first"
                                  : g.not_fortran      ? std::string(" any strides but F-contiguous")
                                                       : std::string(" any strides")));
        break;
      case Guard::Kind::Value:
        out.push_back(fmt::format("{} == {}", who, repr(g.expected)));
        break;
      case Guard::Kind::Identity:
        out.push_back(fmt::format("{} is {}", who, repr(g.expected)));
        break;
      case Guard::Kind::GlobalIs:
      case Guard::Kind::BuiltinIs:
      case Guard::Kind::AttrIs:
      case Guard::Kind::Path:
        out.push_back(fmt::format("{} is {}", who, repr(g.expected)));
        break;
      case Guard::Kind::FunctionIs:
        out.push_back(fmt::format("{}.__code__ and __defaults__ unchanged", who));
        break;
      case Guard::Kind::DimsEqual:
        out.push_back(fmt::format("dynamic sizes equal: {}", g.source->name));
        break;
      case Guard::Kind::IntRange:
        out.push_back(fmt::format("{} is an int in [{}, {}]", who, g.dims[0], g.dims[1]));
        break;
      case Guard::Kind::RangeIter:
        out.push_back(fmt::format("{} is a range iterator of step {} ending at {}, items in [{}, {}]", who,
                                  g.dims[0], g.dims[1], g.dims[2], g.dims[3]));
        break;
      case Guard::Kind::RangeLeft:
        out.push_back(fmt::format("{} {}", who, g.length ? "has an item left" : "is exhausted"));
        break;
      case Guard::Kind::SeqIndex:
        out.push_back(fmt::format("{} is a list or tuple iterator at index {}", who, g.length));
        break;
    }
  }
  return out;
}

std::string StateHint::key() const {
  if (kind == Kind::SeqIter) return fmt::format("s{}", slot);
  if (kind == Kind::IntOrScalar) return fmt::format("j{}:{}:{}", slot, lo, hi);
  if (kind == Kind::Closure) {
    std::string k = fmt::format("c{}", slot);
    for (int c : cells) k += fmt::format(":{}", c);
    return k;
  }
  return kind == Kind::Int ? fmt::format("i{}:{}:{}", slot, lo, hi)
                           : fmt::format("r{}:{}:{}:{}:{}", slot, lo, hi, step, end);
}

}  // namespace tracejit::tracer
