// Source constructors, wording and evaluation.
#include "tracer/source.h"

#include <fmt/format.h>

namespace tracejit::tracer {
namespace {
SourceRef make(Source* s) { return SourceRef(s); }

std::string repr_of(PyObject* o) {
  std::string out = "?";
  if (PyObject* r = PyObject_Repr(o)) {
    if (const char* c = PyUnicode_AsUTF8(r)) out = c;
    Py_DECREF(r);
  }
  PyErr_Clear();
  return out;
}
}  // namespace

Source::~Source() {
  Py_XDECREF(key);
  Py_XDECREF(interned);
  Py_XDECREF(dict);
}

SourceRef Source::arg(int index, std::string name) {
  auto* s = new Source();
  s->kind = Kind::Arg;
  s->arg_index = index;
  s->name = std::move(name);
  return make(s);
}
SourceRef Source::global(std::string name, PyObject* globals) {
  auto* s = new Source();
  s->kind = Kind::Global;
  s->interned = PyUnicode_InternFromString(name.c_str());
  s->name = std::move(name);
  Py_XINCREF(globals);
  s->dict = globals;
  return make(s);
}
SourceRef Source::builtin(std::string name, PyObject* builtins) {
  auto* s = new Source();
  s->kind = Kind::Builtin;
  s->interned = PyUnicode_InternFromString(name.c_str());
  s->name = std::move(name);
  Py_XINCREF(builtins);
  s->dict = builtins;
  return make(s);
}
SourceRef Source::attr(SourceRef base, std::string name) {
  auto* s = new Source();
  s->kind = Kind::Attr;
  s->base = std::move(base);
  s->interned = PyUnicode_InternFromString(name.c_str());
  s->name = std::move(name);
  return make(s);
}
SourceRef Source::item(SourceRef base, PyObject* key) {
  auto* s = new Source();
  s->kind = Kind::Item;
  s->base = std::move(base);
  Py_INCREF(key);
  s->key = key;
  s->name = repr_of(key);
  return make(s);
}
SourceRef Source::iter_seq(SourceRef base) {
  auto* s = new Source();
  s->kind = Kind::IterSeq;
  s->base = std::move(base);
  s->name = "<sequence>";
  return make(s);
}
SourceRef Source::fixed(PyObject* obj, std::string name) {
  auto* s = new Source();
  s->kind = Kind::Fixed;
  Py_INCREF(obj);
  s->dict = obj;
  s->name = std::move(name);
  return make(s);
}
SourceRef Source::constant() {
  auto* s = new Source();
  s->kind = Kind::Constant;
  return make(s);
}
SourceRef Source::computed() {
  auto* s = new Source();
  s->kind = Kind::Computed;
  return make(s);
}

bool Source::evaluable() const {
  switch (kind) {
    case Kind::Arg:
    case Kind::Global:
    case Kind::Builtin:
    case Kind::Fixed:
      return true;
    case Kind::Attr:
    case Kind::Item:
    case Kind::IterSeq:
      return base && base->evaluable();
    default:
      return false;
  }
}

PyObject* Source::eval(PyObject* const* args) const {
  PyObject* out = nullptr;
  switch (kind) {
    case Kind::Arg:
      out = args[arg_index];
      Py_INCREF(out);
      return out;
    case Kind::Global:
    case Kind::Builtin:
      out = dict ? PyDict_GetItemWithError(dict, interned) : nullptr;
      Py_XINCREF(out);
      break;
    case Kind::Fixed:
      Py_INCREF(dict);
      return dict;
    case Kind::Attr:
    case Kind::Item: {
      PyObject* b = base ? base->eval(args) : nullptr;
      if (!b) return nullptr;
      out = kind == Kind::Attr ? PyObject_GetAttr(b, interned) : PyObject_GetItem(b, key);
      Py_DECREF(b);
      break;
    }
    case Kind::IterSeq: {
      PyObject* b = base ? base->eval(args) : nullptr;
      if (!b) return nullptr;
      Py_ssize_t index = 0;
      out = seq_iterator_state(b, index);
      Py_DECREF(b);
      break;
    }
    default:
      break;
  }
  if (!out) PyErr_Clear();
  return out;
}

std::string Source::expr() const {
  switch (kind) {
    case Kind::Arg:
    case Kind::Global:
    case Kind::Builtin:
    case Kind::Fixed:
      return name;
    case Kind::Attr:
      return fmt::format("{}.{}", base ? base->expr() : "?", name);
    case Kind::Item:
      return fmt::format("{}[{}]", base ? base->expr() : "?", name);
    case Kind::IterSeq:
      return fmt::format("<sequence of {}>", base ? base->expr() : "?");
    case Kind::Constant:
      return "<constant>";
    case Kind::Computed:
      return "<computed>";
  }
  return "?";
}

std::string Source::describe() const {
  switch (kind) {
    case Kind::Arg:
      return fmt::format("arg '{}'", name);
    case Kind::Global:
      return fmt::format("global '{}'", name);
    case Kind::Builtin:
      return fmt::format("builtin '{}'", name);
    case Kind::Attr:
    case Kind::Item:
      return fmt::format("'{}'", expr());
    default:
      return expr();
  }
}

}  // namespace tracejit::tracer
