// Cells and functions made by the traced code: nested defs and lambdas that capture locals
// (MAKE_CELL, LOAD_CLOSURE, STORE_DEREF, DELETE_DEREF, MAKE_FUNCTION, SET_FUNCTION_ATTRIBUTE).
//
// A cell is abstract: a local slot holding a Cell value names an entry of Tracer::cells_, which
// every frame that captured the cell shares (a `nonlocal` store in an inlined nested function is
// seen by its maker and the other way round). A function made here is a Closure value: its code
// (a constant of the maker's code, which the maker's guards pin), its cells and its defaults as
// abstract values. Calling it inlines it like any user function. It never leaves the trace:
// returning it, storing it, passing it to anything but an inlined call fails the trace (the call
// runs eagerly), since the compiled program has no function object to hand out.
//
// Free variables of the jitted function itself (a closure made by a factory) are not cells of
// the trace: tracer.cpp reads them through func.__closure__[i].cell_contents, guarded like
// globals; storing into them is refused.
//
// LOAD_CLASSDEREF (3.11) and LOAD_FROM_DICT_OR_DEREF (3.12+) occur only in class bodies, which
// are never traced (building a class is not traced): they stay unsupported.
#include <fmt/format.h>

#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

std::string Tracer::slot_name(int i) const {
  PyObject* names = fr().code->co_localsplusnames;
  if (names && PyTuple_Check(names) && i >= 0 && i < PyTuple_GET_SIZE(names))
    return PyUnicode_AsUTF8(PyTuple_GET_ITEM(names, i));
  return "?";
}

bool Tracer::op_make_cell(const Instruction& in) {
  AValue& slot = fr().locals[static_cast<size_t>(in.arg)];
  if (slot.kind == AValue::Kind::Cell) return true;
  cells_.push_back(std::move(slot));  // an argument that is also a cell variable keeps its value
  AValue c;
  c.kind = AValue::Kind::Cell;
  c.arg = static_cast<int>(cells_.size() - 1);
  c.source = Source::computed();
  slot = std::move(c);
  return true;
}

bool Tracer::op_store_deref(const Instruction& in) {
  const AValue& slot = fr().locals[static_cast<size_t>(in.arg)];
  if (slot.kind != AValue::Kind::Cell) {
    pop();
    return fail(AbortCode::SideEffect,
                fmt::format("assignment to the closure variable '{}', a cell made outside the traced code, "
                            "is not traced",
                            slot_name(in.arg)));
  }
  if (slot.obj) {  // a real cell (a continuation's frame state)
    pop();
    return fail(AbortCode::SideEffect,
                fmt::format("assignment to the closure variable '{}' after a graph break is not traced",
                            slot_name(in.arg)));
  }
  if (!regions_.empty())
    return region_fail(fmt::format("a loop body assigns the closure variable '{}'", slot_name(in.arg)));
  cells_[static_cast<size_t>(slot.arg)] = pop();
  return true;
}

bool Tracer::op_delete_deref(const Instruction& in) {
  const AValue& slot = fr().locals[static_cast<size_t>(in.arg)];
  if (slot.kind != AValue::Kind::Cell)
    return fail(AbortCode::SideEffect,
                fmt::format("deleting the closure variable '{}', a cell made outside the traced code, is not traced",
                            slot_name(in.arg)));
  if (slot.obj)
    return fail(AbortCode::SideEffect,
                fmt::format("deleting the closure variable '{}' after a graph break is not traced", slot_name(in.arg)));
  if (!regions_.empty())
    return region_fail(fmt::format("a loop body deletes the closure variable '{}'", slot_name(in.arg)));
  AValue& c = cells_[static_cast<size_t>(slot.arg)];
  if (c.kind == AValue::Kind::Null)
    return fail(AbortCode::UserError, fmt::format("cannot delete '{}': it is not bound", slot_name(in.arg)));
  c = AValue{};
  return true;
}

namespace {
constexpr int kDefaults = 1, kKwDefaults = 2, kAnnotations = 4, kClosure = 8;
}

// 3.11/3.12: MAKE_FUNCTION flags pops the code, then the attributes its flags name (closure,
// annotations, keyword defaults, defaults: the reverse of their push order). 3.13: MAKE_FUNCTION
// pops only the code; SET_FUNCTION_ATTRIBUTE adds each attribute.
bool Tracer::op_make_function(const Instruction& in) {
  AValue code = pop();
  if (!code.is_object() || !PyCode_Check(code.obj))
    return fail(AbortCode::UnsupportedValue, "MAKE_FUNCTION of something other than a constant code object");
  if (!regions_.empty()) return region_fail("a loop body makes a function (def or lambda)");
  PyObject* f = PyFunction_New(code.obj, fr().globals);
  if (!f) return fail(AbortCode::UnsupportedValue, exception_text());
  keep(f);  // holds it for the trace
  AValue fn;
  fn.kind = AValue::Kind::Closure;
  fn.obj = f;
  fn.source = Source::computed();
  fn.items.resize(2);  // closure cells, defaults (Null: none)
  push(std::move(fn));
#if PY_VERSION_HEX < 0x030D0000
  const int flags = in.arg;
  for (int flag : {kClosure, kAnnotations, kKwDefaults, kDefaults}) {
    if (!(flags & flag)) continue;
    AValue fnv = pop();
    AValue attr = pop();
    push(std::move(fnv));
    Instruction set = in;
    set.arg = flag;
    push(std::move(attr));
    // SET_FUNCTION_ATTRIBUTE's stack order: the attribute below the function.
    std::swap(fr().stack.back(), fr().stack[fr().stack.size() - 2]);
    if (!op_set_function_attribute(set)) return false;
  }
#else
  (void)in;
#endif
  return true;
}

bool Tracer::op_set_function_attribute(const Instruction& in) {
  AValue fn = pop();
  AValue attr = pop();
  if (fn.kind != AValue::Kind::Closure)
    return fail(AbortCode::UnsupportedValue, "SET_FUNCTION_ATTRIBUTE on an unknown function");
  switch (in.arg) {
    case kClosure: {
      if (attr.kind != AValue::Kind::Tuple)
        return fail(AbortCode::UnsupportedValue, "a closure that is not a tuple of cells");
      for (const AValue& c : attr.items)
        if (c.kind != AValue::Kind::Cell)
          return fail(AbortCode::UnsupportedValue, "a closure over cells not made by the traced code");
      fn.items[0] = std::move(attr);
      break;
    }
    case kDefaults: {
      if (attr.is_object() && PyTuple_CheckExact(attr.obj)) {  // constant defaults
        AValue t;
        t.kind = AValue::Kind::Tuple;
        t.source = Source::computed();
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(attr.obj); ++i)
          t.items.push_back(object(PyTuple_GET_ITEM(attr.obj, i), Source::constant()));
        attr = std::move(t);
      }
      if (attr.kind != AValue::Kind::Tuple || attr.is_list)
        return fail(AbortCode::UnsupportedValue, "function defaults that are not a tuple");
      fn.items[1] = std::move(attr);
      break;
    }
    case kAnnotations: break;  // never read by a call
    case kKwDefaults:
      return fail(AbortCode::UnsupportedArgument,
                  "a nested function with keyword-only parameters (not traced yet)");
    default:
      return fail(AbortCode::UnsupportedBytecode, fmt::format("SET_FUNCTION_ATTRIBUTE {}", in.arg));
  }
  push(std::move(fn));
  return true;
}

}  // namespace tracejit::tracer::detail
