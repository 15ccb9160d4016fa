// The tracer: one handler per canonical opcode, abstract values with sources, guards for every
// fact relied on, and a coded abort (never a guess) for anything it cannot capture.
#include "tracer/tracer.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <optional>

#include "tracer/tracer_impl.h"

namespace tracejit::tracer {
namespace detail {

// ---------------------------------------------------------------------------------------------
// Arguments

bool Tracer::push_frame(PyObject* func, SourceRef func_source, const AValue* made) {
  if (static_cast<int>(frames_.size()) >= kMaxInlineDepth)
    return fail(AbortCode::UnsupportedCall,
                fmt::format("calls nest deeper than {} frames", kMaxInlineDepth));
  auto f = std::make_unique<Frame>();
  f->func = func;
  f->code = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(func));
  f->globals = PyFunction_GET_GLOBALS(func);
  f->builtins = PyEval_GetBuiltins();
  PyObject* fb = PyDict_GetItemString(f->globals, "__builtins__");
  if (fb && PyModule_Check(fb)) fb = PyModule_GetDict(fb);
  if (fb && PyDict_Check(fb)) f->builtins = fb;
  PyErr_Clear();
  if (f->code->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR))
    return fail(AbortCode::UnsupportedBytecode, "generators and coroutines are not traced");
  auto decoded = frontend::decode(f->code);
  if (!decoded) return fail(AbortCode::UnsupportedBytecode, decoded.message());
  f->instrs = std::move(decoded.value());
  f->locals.assign(static_cast<size_t>(f->code->co_nlocalsplus), AValue{});
  f->file = trace_.graph.intern_file(PyUnicode_AsUTF8(f->code->co_filename));
  // Reassigning __code__ or __defaults__ must never leave this trace running. (A function the
  // traced code made is made anew by each call, from a constant code object of its maker.)
  if (!made) {
    Guard fg;
    fg.kind = Guard::Kind::FunctionIs;
    fg.dict = func;
    fg.expected = reinterpret_cast<PyObject*>(f->code);
    fg.dict2 = PyFunction_GET_DEFAULTS(func);
    fg.source = func_source ? func_source : Source::constant();
    trace_.guards.add(std::move(fg));
  }
  frames_.push_back(std::move(f));
  loc_.file = fr().file;
  return bind_closure(func, std::move(func_source), made);
}

// Free variables are read from the closure's cells; their values are guarded through the path
// func.__closure__[i].cell_contents, so rebinding a nonlocal recompiles. A function the traced
// code made shares its maker's abstract cells instead (closures.cpp).
bool Tracer::bind_closure(PyObject* func, SourceRef func_source, const AValue* made) {
  PyObject* closure = PyFunction_GET_CLOSURE(func);
  int nfree = fr().code->co_nfreevars;
  if (nfree == 0) return true;
  if (made) {
    const AValue& cells = made->items[0];
    if (cells.kind != AValue::Kind::Tuple || static_cast<int>(cells.items.size()) != nfree)
      return fail(AbortCode::UnsupportedValue, "closure does not match the code's free variables");
    const int base = fr().code->co_nlocalsplus - nfree;
    for (int j = 0; j < nfree; ++j) fr().locals[static_cast<size_t>(base + j)] = cells.items[static_cast<size_t>(j)];
    return true;
  }
  if (!closure || PyTuple_GET_SIZE(closure) != nfree)
    return fail(AbortCode::UnsupportedValue, "closure does not match the code's free variables");
  int base = fr().code->co_nlocalsplus - nfree;
  for (int j = 0; j < nfree; ++j) {
    PyObject* cell = PyTuple_GET_ITEM(closure, j);
    PyObject* v = PyCell_GET(cell);
    if (!v) continue;  // unbound: LOAD_DEREF raises, eagerly
    SourceRef src = Source::constant();
    if (func_source && func_source->evaluable()) {
      PyObject* idx = PyLong_FromLong(j);
      src = Source::attr(Source::item(Source::attr(func_source, "__closure__"), idx), "cell_contents");
      Py_DECREF(idx);
    }
    auto av = value_from_object(v, src);
    if (!av) return false;
    fr().locals[static_cast<size_t>(base + j)] = std::move(*av);
  }
  return true;
}

bool Tracer::bind_arguments() {
  // The runtime binds the call as JitFunction::bind does: positional and keyword-only
  // parameters, then the *args tuple, then the **kwargs dict and the tuple of its keys.
  const PyCodeObject* code = fr().code;
  const int named = code->co_argcount + code->co_kwonlyargcount;
  const bool varargs = code->co_flags & CO_VARARGS, varkw = code->co_flags & CO_VARKEYWORDS;
  if (nargs_ != named + (varargs ? 1 : 0) + (varkw ? 2 : 0))
    return fail(AbortCode::UnsupportedArgument, "argument count mismatch");
  const int nlocals = named + (varargs ? 1 : 0);
  for (int i = 0; i < nlocals; ++i) {
    auto v = value_from_object(args_[i], Source::arg(i, local_name(i)));
    if (!v) return false;
    fr().locals[static_cast<size_t>(i)] = std::move(*v);
  }
  if (varkw) {
    // **kwargs: a dict of the keywords in call order, each value read through kwargs[key];
    // the keys and their order are guarded by value (another set or order is another version).
    const int slot = nlocals;
    PyObject* keys = args_[slot + 1];
    PyObject* kwargs = args_[slot];
    if (!PyTuple_CheckExact(keys) || !PyDict_CheckExact(kwargs))
      return fail(AbortCode::UnsupportedArgument, "internal: **kwargs binding");
    Guard g;
    g.expected = keys;
    guard_object(Guard::Kind::Value, Source::arg(slot + 1, "<keyword names>"), std::move(g));
    AValue d;
    d.kind = AValue::Kind::Dict;
    d.dict_id = next_dict_id_++;
    d.source = Source::computed();
    SourceRef base = Source::arg(slot, local_name(slot));
    for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(keys); ++k) {
      PyObject* key = PyTuple_GET_ITEM(keys, k);
      PyObject* val = PyDict_GetItem(kwargs, key);
      if (!val) return fail(AbortCode::UnsupportedArgument, "internal: **kwargs binding");
      auto v = value_from_object(val, Source::item(base, key));
      if (!v) return false;
      d.items.push_back(object(key, Source::constant()));
      d.items.push_back(std::move(*v));
    }
    fr().locals[static_cast<size_t>(slot)] = std::move(d);
  }
  return true;
}

bool Tracer::inline_call(PyObject* func, SourceRef func_source, std::vector<AValue> args,
                         PyObject* kwnames, const AValue* made) {
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  Py_ssize_t npos = static_cast<Py_ssize_t>(args.size()) - nkw;
  if (!push_frame(func, func_source, made)) return false;
  PyCodeObject* code = fr().code;
  std::string fname = PyUnicode_AsUTF8(code->co_qualname);
  const int argc = code->co_argcount, kwonly = code->co_kwonlyargcount, posonly = code->co_posonlyargcount;
  const int named = argc + kwonly;
  const bool varargs = code->co_flags & CO_VARARGS, varkw = code->co_flags & CO_VARKEYWORDS;
  if (npos > argc && !varargs)
    return fail(AbortCode::UserError, fmt::format("{}() takes {} positional arguments but {} were given",
                                                  fname, argc, npos));
  std::vector<bool> set(static_cast<size_t>(named), false);
  for (Py_ssize_t i = 0; i < std::min<Py_ssize_t>(npos, argc); ++i) {
    fr().locals[static_cast<size_t>(i)] = std::move(args[static_cast<size_t>(i)]);
    set[static_cast<size_t>(i)] = true;
  }
  if (varargs) {  // the extra positional arguments, as a tuple
    AValue rest;
    rest.kind = AValue::Kind::Tuple;
    rest.source = Source::computed();
    for (Py_ssize_t i = argc; i < npos; ++i) rest.items.push_back(std::move(args[static_cast<size_t>(i)]));
    fr().locals[static_cast<size_t>(named)] = std::move(rest);
  }
  AValue kwargs;
  if (varkw) {
    kwargs.kind = AValue::Kind::Dict;
    kwargs.dict_id = next_dict_id_++;
    kwargs.source = Source::computed();
  }
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    PyObject* keyobj = PyTuple_GET_ITEM(kwnames, k);
    std::string key = PyUnicode_AsUTF8(keyobj);
    int slot = -1;
    for (int i = posonly; i < named; ++i)
      if (local_name(i) == key) slot = i;
    if (slot < 0 && varkw) {
      for (size_t j = 0; j < kwargs.items.size(); j += 2)
        if (PyUnicode_Compare(kwargs.items[j].obj, keyobj) == 0)
          return fail(AbortCode::UserError, fmt::format("{}() got multiple values for keyword argument '{}'", fname, key));
      kwargs.items.push_back(object(keyobj, Source::constant()));
      kwargs.items.push_back(std::move(args[static_cast<size_t>(npos + k)]));
      continue;
    }
    if (slot < 0 || set[static_cast<size_t>(slot)])
      return fail(AbortCode::UserError,
                  fmt::format("{}() got an unexpected or repeated keyword argument '{}'", fname, key));
    fr().locals[static_cast<size_t>(slot)] = std::move(args[static_cast<size_t>(npos + k)]);
    set[static_cast<size_t>(slot)] = true;
  }
  if (varkw) fr().locals[static_cast<size_t>(named + (varargs ? 1 : 0))] = std::move(kwargs);
  PyObject* defaults = PyFunction_GET_DEFAULTS(func);
  Py_ssize_t ndef = defaults ? PyTuple_GET_SIZE(defaults) : 0;
  const AValue* made_defaults = made && made->items[1].kind == AValue::Kind::Tuple ? &made->items[1] : nullptr;
  if (made) ndef = made_defaults ? static_cast<Py_ssize_t>(made_defaults->items.size()) : 0;
  for (int i = 0; i < argc; ++i) {
    if (set[static_cast<size_t>(i)]) continue;
    Py_ssize_t d = i - (argc - ndef);
    if (d < 0)
      return fail(AbortCode::UserError,
                  fmt::format("{}() missing required argument '{}'", fname, local_name(i)));
    if (made) {  // the defaults the traced code evaluated when it made the function
      fr().locals[static_cast<size_t>(i)] = made_defaults->items[static_cast<size_t>(d)];
      continue;
    }
    SourceRef src = Source::constant();
    if (func_source && func_source->evaluable()) {
      PyObject* idx = PyLong_FromSsize_t(d);
      src = Source::item(Source::attr(func_source, "__defaults__"), idx);
      Py_DECREF(idx);
    }
    auto v = value_from_object(PyTuple_GET_ITEM(defaults, d), src);
    if (!v) return false;
    fr().locals[static_cast<size_t>(i)] = std::move(*v);
  }
  for (int i = argc; i < named; ++i) {  // keyword-only defaults: func.__kwdefaults__[name]
    if (set[static_cast<size_t>(i)]) continue;
    if (made)
      return fail(AbortCode::UnsupportedArgument,
                  fmt::format("{}() made by the traced code uses a keyword-only default", fname));
    PyObject* kwdefaults = PyFunction_GET_KW_DEFAULTS(func);
    PyObject* name = PyUnicode_FromString(local_name(i).c_str());
    PyObject* dv = name && kwdefaults && PyDict_Check(kwdefaults) ? PyDict_GetItem(kwdefaults, name) : nullptr;
    if (!dv) {
      Py_XDECREF(name);
      PyErr_Clear();
      return fail(AbortCode::UserError,
                  fmt::format("{}() missing required keyword-only argument '{}'", fname, local_name(i)));
    }
    // Read again through the function at call time: rebinding __kwdefaults__ (or one of its
    // items) is another version, as for __defaults__.
    SourceRef src = Source::constant();
    if (func_source && func_source->evaluable())
      src = Source::item(Source::attr(func_source, "__kwdefaults__"), name);
    auto v = value_from_object(dv, src);
    Py_DECREF(name);
    if (!v) return false;
    fr().locals[static_cast<size_t>(i)] = std::move(*v);
  }
  return true;
}

void Tracer::guard_object(Guard::Kind kind, const SourceRef& src, Guard g) {
  if (!src->evaluable()) return;  // a constant: nothing to re-check
  g.source = src;
  if (src->kind == Source::Kind::Arg) {
    g.kind = kind;
    g.arg = src->arg_index;
  } else {
    g.kind = Guard::Kind::Path;
    g.inner = kind;
    g.arg = -1;
  }
  trace_.guards.add(std::move(g));
}

namespace {

// The axes A for which `a` is transpose(B, A) of a C-contiguous buffer B, when `a` is such a
// transpose and not C-contiguous itself; empty otherwise (any other strides, empty arrays).
std::vector<int64_t> transposed_axes(PyArrayObject* a) {
  const int nd = PyArray_NDIM(a);
  if (nd < 2 || PyArray_SIZE(a) == 0 || PyArray_IS_C_CONTIGUOUS(a)) return {};
  const npy_intp* dims = PyArray_DIMS(a);
  const npy_intp* strides = PyArray_STRIDES(a);
  // B's axes, outermost first: the longer axes by decreasing stride, then the length-1 axes
  // (their strides are meaningless).
  std::vector<int64_t> order;
  for (int d = 0; d < nd; ++d)
    if (dims[d] != 1) order.push_back(d);
  std::stable_sort(order.begin(), order.end(), [&](int64_t x, int64_t y) { return strides[x] > strides[y]; });
  for (int d = 0; d < nd; ++d)
    if (dims[d] == 1) order.push_back(d);
  npy_intp expected = PyArray_ITEMSIZE(a);
  for (int i = nd - 1; i >= 0; --i) {
    int64_t d = order[static_cast<size_t>(i)];
    if (dims[d] != 1 && strides[d] != expected) return {};
    expected *= dims[d];
  }
  std::vector<int64_t> axes(static_cast<size_t>(nd));
  for (int i = 0; i < nd; ++i) axes[static_cast<size_t>(order[static_cast<size_t>(i)])] = i;
  return axes;
}

}  // namespace

std::optional<AValue> Tracer::value_from_object(PyObject* o, SourceRef src) {
  bool evaluable = src->evaluable();
  int arg = src->kind == Source::Kind::Arg ? src->arg_index : -1;
  auto input = [&](ir::DType dt, std::vector<int64_t> dims, ir::ParamLayout layout,
                   InputBinding::Kind kind, Box box, const std::vector<int64_t>& axes = {}) {
    ir::ValueId p = new_input_param(ir::Type::of(dt, dims), layout, axes);
    trace_.inputs.push_back({kind, arg, dt, src});
    AValue v = tensor(p, box);
    v.arg = arg;
    v.pristine = true;
    v.input = static_cast<int>(trace_.inputs.size() - 1);
    v.source = src;
    inputs_by_source_.emplace_back(src->expr(), v);
    return v;
  };
  // The same path read twice is the same object: one input, whose current value (after any
  // in-place update) every read sees.
  if (evaluable && (PyArray_CheckExact(o) || PyFloat_CheckExact(o) || PyArray_IsScalar(o, Generic))) {
    std::string key = src->expr();
    for (size_t j = 0; j < inputs_by_source_.size(); ++j)
      if (inputs_by_source_[j].first == key) {
        if (!regions_.empty()) note_read(-1, static_cast<int>(j));
        return inputs_by_source_[j].second;
      }
  }
  Guard guard;
  if (PyArray_CheckExact(o)) {
    auto* a = reinterpret_cast<PyArrayObject*>(o);
    auto dt = dtype_from_typenum(PyArray_TYPE(a));
    if (!dt) {
      fail(AbortCode::UnsupportedDtype, fmt::format("{} has dtype {}, which is not compiled",
                                                    src->describe(), PyArray_DESCR(a)->type));
      return std::nullopt;
    }
    if (!evaluable) {
      fail(AbortCode::UnsupportedValue, fmt::format("an array constant ({})", src->describe()));
      return std::nullopt;
    }
    if (!(PyArray_FLAGS(a) & NPY_ARRAY_ALIGNED) || !PyArray_ISNOTSWAPPED(a)) {
      fail(AbortCode::UnsupportedArgument,
           fmt::format("{} is unaligned or not in native byte order", src->describe()));
      return std::nullopt;
    }
    bool contiguous = PyArray_IS_C_CONTIGUOUS(a);
    guard.typenum = PyArray_TYPE(a);
    guard.dims.assign(PyArray_DIMS(a), PyArray_DIMS(a) + PyArray_NDIM(a));
    guard.contiguous = contiguous;
    std::vector<int64_t> dims = guard.dims;
    std::vector<int32_t> syms(dims.size(), -1);
    if (arg >= 0) {
      for (const auto& [da, dd] : options_.dynamic_dims) {
        if (da != arg || dd < 0 || dd >= static_cast<int>(dims.size()) || dims[static_cast<size_t>(dd)] < 2) continue;
        syms[static_cast<size_t>(dd)] = symbol_for(dims[static_cast<size_t>(dd)], arg, dd);
        guard.dims[static_cast<size_t>(dd)] = -1;  // any size >= 2
      }
    }
    // A transpose of a C-contiguous buffer (an F-ordered matrix, `x.T` passed in) is read as
    // one (ir/passes/layout.h), guarded by the order of its axes in memory.
    std::vector<int64_t> axes = contiguous ? std::vector<int64_t>{} : transposed_axes(a);
    ir::ParamLayout layout = contiguous ? ir::ParamLayout::Contiguous : ir::ParamLayout::Strided;
    if (!axes.empty()) {
      layout = ir::ParamLayout::Transposed;
      guard.memory_order.resize(axes.size());
      guard.itemsize = PyArray_ITEMSIZE(a);
      for (size_t d = 0; d < axes.size(); ++d) guard.memory_order[static_cast<size_t>(axes[d])] = static_cast<int64_t>(d);
    } else if (!contiguous && PyArray_NDIM(a) >= 2 && !PyArray_IS_F_CONTIGUOUS(a)) {
      guard.not_fortran = true;  // an F-ordered array gets its own, transposed trace
    }
    guard_object(Guard::Kind::Array, src, std::move(guard));
    AValue v = input(*dt, dims, layout, InputBinding::Kind::ArrayData, Box::Array, axes);
    for (size_t k = 0; k < syms.size(); ++k)
      if (syms[k] >= 0) v.type.shape[k] = ir::Dim::symbol(syms[k]);
    trace_.graph.node(v.v).type = v.type;
    for (auto& [key, cached] : inputs_by_source_)
      if (cached.v == v.v) cached.type = v.type;
    return v;
  }
  if (PyArray_Check(o)) {
    fail(AbortCode::UnsupportedArgument,
         fmt::format("{} is an ndarray subclass ({})", src->describe(), Py_TYPE(o)->tp_name));
    return std::nullopt;
  }
  if (PyFloat_CheckExact(o) && evaluable) {
    // Python floats are runtime values: a changed learning rate does not recompile.
    guard.type = &PyFloat_Type;
    guard_object(Guard::Kind::Type, src, std::move(guard));
    return input(ir::DType::F64, {}, ir::ParamLayout::Scalar, InputBinding::Kind::PyFloat, Box::PyFloat);
  }
  if (PyArray_IsScalar(o, Generic) && evaluable) {
    PyArray_Descr* d = PyArray_DescrFromScalar(o);
    auto dt = d ? dtype_from_typenum(d->type_num) : std::nullopt;
    Py_XDECREF(d);
    PyErr_Clear();
    if (!dt) {
      fail(AbortCode::UnsupportedDtype, fmt::format("{} is a {} scalar, which is not compiled",
                                                    src->describe(), Py_TYPE(o)->tp_name));
      return std::nullopt;
    }
    guard.type = Py_TYPE(o);
    guard_object(Guard::Kind::Type, src, std::move(guard));
    return input(*dt, {}, ir::ParamLayout::Scalar, InputBinding::Kind::NpScalar, Box::NpScalar);
  }
  if (PyMethod_Check(o)) {
    // A bound method is created anew at each access: guard its function, bind its self.
    PyObject* fn = PyMethod_GET_FUNCTION(o);
    PyObject* self = PyMethod_GET_SELF(o);
    guard.expected = fn;
    guard_object(Guard::Kind::Identity, Source::attr(src, "__func__"), std::move(guard));
    auto s = value_from_object(self, Source::attr(src, "__self__"));
    if (!s) return std::nullopt;
    AValue m = object(fn, Source::attr(src, "__func__"));
    m.kind = AValue::Kind::BoundMethod;
    m.items.push_back(std::move(*s));
    return m;
  }
  if (PyBool_Check(o) || o == Py_None || PyModule_Check(o) || PyType_Check(o) ||
      PyFunction_Check(o) || PyCFunction_Check(o) || PyArray_DescrCheck(o) ||
      Py_TYPE(o) == np_->ufunc_type || Py_TYPE(o) == np_->dispatcher_type) {
    guard.expected = o;
    guard_object(Guard::Kind::Identity, src, std::move(guard));
    return object(o, src);
  }
  if (PyLong_CheckExact(o) && evaluable) {
    // Ints may decide shapes and trip counts: specialized by value — but only once something
    // depends on the value (lazy guard; see Tracer::materialize). Its type is guarded now.
    guard.type = &PyLong_Type;
    guard_object(Guard::Kind::Type, src, std::move(guard));
    std::string key = src->expr();
    bool known = false;
    for (const PendingGuard& p : pending_guards_) known |= p.source->expr() == key;
    if (!known) {
      pending_guards_.push_back(PendingGuard{src, o, false});
      ++pending_open_;
    }
    AValue v = object(o, src);
    v.lazy = true;
    return v;
  }
  if (PyLong_CheckExact(o) || PyUnicode_CheckExact(o) || PyFloat_CheckExact(o)) {
    // Specialized by value.
    guard.expected = o;
    guard_object(Guard::Kind::Value, src, std::move(guard));
    return object(o, src);
  }
  if (PyTuple_CheckExact(o) || PyList_CheckExact(o)) {
    guard.type = Py_TYPE(o);
    guard.length = PyObject_Length(o);
    guard_object(Guard::Kind::Len, src, std::move(guard));
    return object(o, src);
  }
  if (PyDict_CheckExact(o) || (!PyCallable_Check(o) && PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_HEAPTYPE)) ||
      (PyCallable_Check(o) && PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_HEAPTYPE))) {
    // Plain containers and instances of user classes: their type is guarded here, and every
    // attribute or item the code reads is guarded by its own path.
    guard.type = Py_TYPE(o);
    guard_object(Guard::Kind::Type, src, std::move(guard));
    return object(o, src);
  }
  fail(AbortCode::UnsupportedArgument,
       fmt::format("{} is a {}, which the tracer does not handle yet", src->describe(),
                   Py_TYPE(o)->tp_name));
  return std::nullopt;
}


// ---------------------------------------------------------------------------------------------
// Output

int Tracer::result_index(ir::ValueId v) {
  std::vector<ir::ValueId>& results = trace_.graph.results;
  for (size_t i = 0; i < results.size(); ++i)
    if (results[i] == v) return static_cast<int>(i);
  results.push_back(v);
  return static_cast<int>(results.size() - 1);
}

void Tracer::add_rerun_check(ir::ValueId flag, std::string why, bool raises, bool algorithm) {
  if (ir::ValueId c = arm_condition(); c != ir::kNoValue)
    flag = trace_.graph.add_op(ir::Op::And, ir::Type::scalar(ir::DType::Bool), {flag, c}, loc_);
  trace_.rerun_checks.push_back({result_index(flag), std::move(why), raises, algorithm});
}

std::optional<ir::ValueId> Tracer::any_of(ir::ValueId flag) {
  if (trace_.graph.type(flag).rank() == 0) return flag;
  if (!reduce("any", tensor(flag, Box::Array), nullptr, false, nullptr, 0)) return std::nullopt;
  return pop().v;
}

bool Tracer::rerun_if_any(ir::ValueId flag, std::string why, bool raises, bool algorithm) {
  const std::optional<ir::ValueId> any = any_of(flag);
  if (!any) return false;
  add_rerun_check(*any, std::move(why), raises, algorithm);
  return true;
}

bool Tracer::only_check_results(size_t results0, size_t checks0) const {
  for (size_t k = results0; k < trace_.graph.results.size(); ++k) {
    bool check = false;
    for (size_t c = checks0; c < trace_.rerun_checks.size(); ++c) check |= trace_.rerun_checks[c].result == static_cast<int>(k);
    if (!check) return false;
  }
  return true;
}

bool Tracer::emit_output(const AValue& v) {
  std::vector<OutputNode>& out = trace_.outputs;
  switch (v.kind) {
    case AValue::Kind::Dict: {  // key, value, key, value ... (the keys are constants)
      OutputNode n;
      n.kind = OutputNode::Kind::Dict;
      n.index = static_cast<int>(v.items.size() / 2);
      out.push_back(n);
      for (const AValue& item : v.items)
        if (!emit_output(item)) return false;
      return true;
    }
    case AValue::Kind::Tuple: {
      if (!v.method.empty())
        return fail(AbortCode::UnsupportedValue, fmt::format("returns a {} view (runs eagerly)", v.method));
      OutputNode n;
      n.kind = v.is_list ? OutputNode::Kind::List : OutputNode::Kind::Tuple;
      n.index = static_cast<int>(v.items.size());
      out.push_back(n);
      for (const AValue& item : v.items)
        if (!emit_output(item)) return false;
      return true;
    }
    case AValue::Kind::Object: {
      OutputNode n;
      if (v.source && v.source->kind == Source::Kind::Arg) {
        // An argument returned as itself (a list guarded only by type and length is another
        // object at the next call: never the trace-time one).
        n.kind = OutputNode::Kind::Arg;
        n.index = v.source->arg_index;
      } else if (v.source && v.source->evaluable()) {
        n.kind = OutputNode::Kind::Fetch;
        n.source = v.source;
      } else {
        n.kind = OutputNode::Kind::Constant;
        Py_INCREF(v.obj);
        n.constant = v.obj;
      }
      out.push_back(n);
      return true;
    }
    case AValue::Kind::Tensor: {
      OutputNode n;
      if (v.view_root != ir::kNoValue) {
        // Eager NumPy returns a view here: its memory is shared with another array the caller
        // can reach. A compiled copy would break that, so this function runs eagerly.
        return fail(AbortCode::UnsupportedValue,
                    "returns a view of another array (reshape/transpose/slice): runs eagerly");
      }
      if (v.pristine && v.arg >= 0) {
        n.kind = OutputNode::Kind::Arg;
        n.index = v.arg;
      } else if (v.pristine) {
        n.kind = OutputNode::Kind::Fetch;  // the same object, fetched again through its source
        n.source = v.source;
      } else {
        int k = result_index(v.v);
        n.kind = OutputNode::Kind::Result;
        n.index = k;
        n.box = v.box;
      }
      out.push_back(n);
      return true;
    }
    case AValue::Kind::Host:
      return fail(AbortCode::UnsupportedValue,
                  "returns a string formatted from runtime values (such strings are only printed or stored)");
    case AValue::Kind::Select: {
      // A scalar whose Python type depends on the data: the kernel gives the condition and
      // both values; the caller gets the one that holds, boxed as its own type.
      if (v.items.size() != 3 || !v.items[0].is_tensor())
        return fail(AbortCode::ControlFlow, "branch on array data: returns a name that may be unbound");
      OutputNode n;
      n.kind = OutputNode::Kind::Choice;
      out.push_back(n);
      AValue c = v.items[0];
      c.box = Box::NpScalar;
      return emit_output(c) && emit_output(v.items[1]) && emit_output(v.items[2]);
    }
    case AValue::Kind::Closure:
      return fail(AbortCode::UnsupportedValue,
                  "returns a function made in the traced code (an escaping closure is not compiled): runs eagerly");
    default:
      break;
  }
  return fail(AbortCode::UnsupportedValue, "returns an unsupported value");
}

// ---------------------------------------------------------------------------------------------
// Handlers

bool Tracer::op_load_fast(const Instruction& in) {
  const AValue& v = fr().locals[static_cast<size_t>(in.arg)];
  if (v.kind == AValue::Kind::LoopIndex && v.arg >= static_cast<int>(regions_.size()))
    return region_fail(fmt::format("a stale loop variable '{}'", local_name(in.arg)));
  if (!regions_.empty()) note_read(in.arg, -1);
  if (v.kind == AValue::Kind::Null && !v.method.empty())  // bound only if a while loop ran
    return fail(AbortCode::ControlFlow, fmt::format("'{}' is {}: reading it after the loop is not traced",
                                                    local_name(in.arg), v.method));
  if (v.kind == AValue::Kind::Select && v.items.empty())  // (loops.cpp)
    return fail(AbortCode::ControlFlow,
                fmt::format("branch on array data: '{}' is unbound or of a different type depending on the data",
                            local_name(in.arg)));
  if (v.kind == AValue::Kind::Null)
    return fail(AbortCode::UserError,
                fmt::format("local variable '{}' referenced before assignment", local_name(in.arg)));
  push(v);
  return true;
}

bool Tracer::op_store_fast(const Instruction& in) {
  if (!regions_.empty()) note_write(in.arg);
  fr().locals[static_cast<size_t>(in.arg)] = pop();
  return true;
}

bool Tracer::op_load_const(const Instruction& in) {
  push(object(PyTuple_GET_ITEM(fr().code->co_consts, in.arg), Source::constant()));
  return true;
}

bool Tracer::op_load_global(const Instruction& in) {
  PyObject* name = PyTuple_GET_ITEM(fr().code->co_names, in.arg);
  std::string n = PyUnicode_AsUTF8(name);
  Guard g;
  g.name = name;
  PyObject* v = PyDict_GetItemWithError(fr().globals, name);
  if (v) {
    g.kind = Guard::Kind::GlobalIs;
    g.dict = fr().globals;
    g.source = Source::global(n, fr().globals);
  } else if (!PyErr_Occurred() && (v = PyDict_GetItemWithError(fr().builtins, name))) {
    g.kind = Guard::Kind::BuiltinIs;
    g.dict = fr().globals;
    g.dict2 = fr().builtins;
    g.source = Source::builtin(n, fr().builtins);
  } else {
    PyErr_Clear();
    return fail(AbortCode::UserError, fmt::format("name '{}' is not defined", n));
  }
  if (PyArray_Check(v) || PyFloat_CheckExact(v) || PyArray_IsScalar(v, Generic)) {
    // Global arrays and floats are read at call time through their source, like arguments.
    auto av = value_from_object(v, g.source);
    if (!av) return false;
    push(std::move(*av));
    return true;
  }
  g.expected = v;
  trace_.guards.add(g);
  push(object(v, g.source));
  return true;
}

// An attribute of an instance of a user class behind which user code runs at each access: a
// property's getter, a descriptor class's __get__, __getattr__ / __getattribute__. Reading it at
// trace time and again through guards at every call would run that code at the wrong moment
// and more than once per call (a property that counted its calls counted 2 per call). A
// property with a Python getter is inlined as the call it is (TorchDynamo does the same), behind
// an identity guard on type(obj).<name>; the others stop the trace. nullopt: an ordinary
// attribute (instance dict, slots, methods, class data), read as before.
std::optional<bool> Tracer::user_attribute(const AValue& base, PyObject* name, const std::string& n, bool method) {
  if (PyModule_Check(base.obj) || PyType_Check(base.obj)) return std::nullopt;
  PyTypeObject* tp = Py_TYPE(base.obj);
  if (!PyType_HasFeature(tp, Py_TPFLAGS_HEAPTYPE)) return std::nullopt;  // C types: C getters
  // np.finfo / np.iinfo: their properties are pure functions of a dtype (iinfo(x).max).
  for (const char* info : {"finfo", "iinfo"}) {
    PyObject* t = PyObject_GetAttrString(np_->numpy, info);
    const bool is = t && reinterpret_cast<PyObject*>(tp) == t;
    Py_XDECREF(t);
    PyErr_Clear();
    if (is) return std::nullopt;
  }
  if (tp->tp_getattro != PyObject_GenericGetAttr)
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("attribute '.{}' of a {}, whose class defines __getattr__ or __getattribute__, is "
                            "not traced (user code runs at each access)", n, tp->tp_name));
  PyObject* descr = _PyType_Lookup(tp, name);  // borrowed
  if (!descr) return std::nullopt;
  PyTypeObject* dt = Py_TYPE(descr);
  if (dt == &PyProperty_Type) {  // exactly: a subclass may override __get__ (caught below)
    PyObject* fget = PyObject_GetAttrString(descr, "fget");
    if (!fget) return fail(AbortCode::UserError, exception_text());
    keep(fget);
    if (method || !PyFunction_Check(fget) || !base.source || !base.source->evaluable())
      return fail(AbortCode::UnsupportedAttribute,
                  fmt::format("property '.{}' of a {} is not traced here ({})", n, tp->tp_name,
                              method ? "its value is called" : !PyFunction_Check(fget) ? "its getter is not a Python function"
                                                                                      : "the object is computed"));
    // type(obj).<name> evaluates to the property itself (no user code); properties are
    // immutable, so its identity fixes the getter.
    SourceRef prop = Source::attr(Source::attr(base.source, "__class__"), n);
    Guard g;
    g.expected = descr;
    guard_object(Guard::Kind::Identity, prop, std::move(g));
    return inline_call(fget, Source::attr(prop, "fget"), {base}, nullptr);
  }
  if (dt->tp_descr_get && PyType_HasFeature(dt, Py_TPFLAGS_HEAPTYPE))
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("attribute '.{}' of a {} is a {} descriptor whose __get__ is Python code: not traced",
                            n, tp->tp_name, dt->tp_name));
  return std::nullopt;
}

bool Tracer::op_load_attr(const Instruction& in, bool method) {
  AValue base = pop();
  std::string n = name_at(in.arg);
  if (base.is_tensor() && (base.box == Box::PyInt || base.box == Box::PyFloat))  // not array attributes
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("attribute '.{}' of a runtime Python number is not traced yet", n));
  if (base.is_tensor()) return tensor_attribute(base, n, method);
  {
    bool handled = false;  // lst.append, d.update, "...".format: effects.cpp
    if (!load_host_method(base, n, method, handled)) return false;
    if (handled) return true;
  }
  if (!base.is_object())
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("attribute '.{}' of {} is not traced yet", n, what(base)));
  PyObject* name = PyTuple_GET_ITEM(fr().code->co_names, in.arg);
  if (std::optional<bool> r = user_attribute(base, name, n, method)) return *r;
  PyObject* v = PyObject_GetAttr(base.obj, name);
  if (!v) return fail(AbortCode::UserError, exception_text());
  keep(v);
  std::optional<AValue> out;
  if (PyModule_Check(base.obj) && !PyArray_Check(v) && !PyFloat_CheckExact(v)) {
    // Module attributes (np.exp): one identity guard each.
    Guard g;
    g.kind = Guard::Kind::AttrIs;
    g.dict = base.obj;
    g.name = name;
    g.expected = v;
    g.source = Source::attr(base.source, n);
    trace_.guards.add(g);
    out = object(v, g.source);
  } else if (base.source && base.source->evaluable()) {
    out = value_from_object(v, Source::attr(base.source, n));
  } else if (PyArray_Check(v)) {
    return fail(AbortCode::UnsupportedValue,
                fmt::format("array attribute '.{}' of a computed object", n));
  } else {
    out = object(v, Source::constant());
  }
  if (!out) return false;
  if (method) {
    if (out->kind == AValue::Kind::BoundMethod) {
      AValue self = out->items[0];
      out->kind = AValue::Kind::Object;
      out->items.clear();
      push(std::move(*out));  // (method, self): the call protocol passes self first
      push(std::move(self));
      return true;
    }
#if PY_VERSION_HEX >= 0x030D0000
    // NULL: a plain callable, where 3.13's LOAD_ATTR puts it (above), so that the stack is the
    // interpreter's (a graph break hands it to the eager remainder).
    push(std::move(*out));
    push(AValue{});
    return true;
#else
    push(AValue{});  // NULL: a plain callable
#endif
  }
  push(std::move(*out));
  return true;
}


bool Tracer::op_call(const Instruction& in, bool kw) {
  PyObject* kwnames = nullptr;
  if (kw) {
    AValue names = pop();
    if (!names.is_object() || !PyTuple_Check(names.obj))
      return fail(AbortCode::UnsupportedCall, "keyword names are not a constant tuple");
    kwnames = names.obj;  // kept alive by keep_
  }
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  std::vector<AValue> args(static_cast<size_t>(in.arg));
  for (int i = in.arg - 1; i >= 0; --i) args[static_cast<size_t>(i)] = pop();
  AValue upper = pop();
  AValue lower = pop();
  AValue callable;
  if (lower.kind == AValue::Kind::Null) {
    callable = std::move(upper);
  } else if (upper.kind == AValue::Kind::Null) {
    callable = std::move(lower);
  } else {
    callable = std::move(lower);
    args.insert(args.begin(), std::move(upper));
  }
  if (callable.kind == AValue::Kind::Closure)  // a function the traced code made: inlined
    return inline_call(callable.obj, Source::constant(), std::move(args), kwnames, &callable);
  {
    bool handled = false;  // print, lst.append, d.update, str/repr/format, float(0-d array): effects.cpp
    if (!call_effect(callable, args, kwnames, handled)) return false;
    if (handled) return true;
  }
  auto split_args = [&](std::vector<AValue> all, std::optional<AValue> self) {
    CallArgs ca;
    if (self) ca.pos.push_back(std::move(*self));
    size_t npos = all.size() - static_cast<size_t>(nkw);
    for (size_t i = 0; i < all.size(); ++i) {
      if (i < npos) ca.pos.push_back(std::move(all[i]));
      else ca.kw.emplace_back(PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, static_cast<Py_ssize_t>(i - npos))),
                              std::move(all[i]));
    }
    return ca;
  };
  if (callable.kind == AValue::Kind::TensorMethod) {
    if (callable.method == "sort" || callable.method == "argsort")
      return sort_call(callable.method, split_args(std::move(args), callable.items[0]), true);
    if (callable.method == "repeat") return tile_repeat("repeat", split_args(std::move(args), callable.items[0]));
    if (callable.method == "searchsorted") return searchsorted_call("ndarray.searchsorted", split_args(std::move(args), callable.items[0]));
    if (callable.method == "trace") {  // x.trace(offset, ...) is np.trace(x, offset, ...)
      bool handled = false;
      if (!call_numpy("trace", split_args(std::move(args), callable.items[0]), false, handled)) return false;
      return handled || fail(AbortCode::UnsupportedCall, "array .trace() with these arguments is not traced yet");
    }
    if (callable.method == "fill") {  // x.fill(v): NumPy's setitem of v into every element
      if (nkw > 0 || args.size() != 1)
        return fail(AbortCode::UnsupportedCall, "array .fill() takes one positional value");
      const AValue x = callable.items[0];
      if (!check_inplace_target(x) || !store_subscr(x, Py_Ellipsis, args[0])) return false;
      push(object(Py_None, Source::constant()));
      return true;
    }
    if (callable.method == "astype" || callable.method == "copy" || callable.method == "conj" ||
        callable.method == "conjugate") {
      if (nkw > 0)
        return fail(AbortCode::UnsupportedCall,
                    fmt::format("array .{}() with keyword arguments is not traced yet", callable.method));
      return call_tensor_method(callable, std::move(args));
    }
    bool handled = false;
    std::string m = callable.method;
    if (!call_numpy(m, split_args(std::move(args), callable.items[0]), true, handled)) return false;
    if (!handled) return fail(AbortCode::UnsupportedCall, fmt::format("array .{}() is not traced yet", m));
    return true;
  }
  if (callable.kind == AValue::Kind::BoundMethod) {
    args.insert(args.begin(), callable.items[0]);
    return inline_call(callable.obj, callable.source, std::move(args), kwnames);
  }
  if (!callable.is_object())
    return fail(AbortCode::UnsupportedCall, fmt::format("call of {}", what(callable)));
  PyObject* f = callable.obj;
  std::string fname = callable.source && callable.source->kind != Source::Kind::Constant
                          ? callable.source->expr()
                          : callable_name(f);
  // NumPy's own functions first (np.ones, np.zeros_like are Python functions: recorded as the
  // NumPy operations they are, not inlined).
  if (const char* npname = np_->function_name(f)) {
    if (std::strcmp(npname, "copyto") == 0) return copyto(split_args(std::move(args), std::nullopt));  // inplace.cpp
    if (std::strcmp(npname, "einsum") == 0) return einsum(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "tensordot") == 0) return tensordot(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "cross") == 0) return np_cross(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "percentile") == 0 || std::strcmp(npname, "quantile") == 0)
      return quantile_call(npname, split_args(std::move(args), std::nullopt));
    for (const char* n : {"sort", "argsort", "median"})
      if (std::strcmp(npname, n) == 0) return sort_call(npname, split_args(std::move(args), std::nullopt), false);
    if (std::strcmp(npname, "nan_to_num") == 0) return nan_to_num(split_args(std::move(args), std::nullopt));
    for (const char* n : {"array", "asarray", "asanyarray", "ascontiguousarray"})
      if (std::strcmp(npname, n) == 0) return array_ctor(npname, split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "tile") == 0 || std::strcmp(npname, "repeat") == 0)
      return tile_repeat(npname, split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "flip") == 0 || std::strcmp(npname, "fliplr") == 0 || std::strcmp(npname, "flipud") == 0)
      return flip(npname, split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "meshgrid") == 0) return meshgrid(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "moveaxis") == 0) return moveaxis(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "column_stack") == 0) return column_stack(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "pad") == 0) return pad(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "searchsorted") == 0 || std::strcmp(npname, "digitize") == 0)
      return searchsorted_call(npname, split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "interp") == 0) return interp_call(split_args(std::move(args), std::nullopt));
    if (std::strcmp(npname, "histogram") == 0) return histogram_call(split_args(std::move(args), std::nullopt));
    for (const char* n : {"nanmean", "nanvar", "nanstd"})
      if (std::strcmp(npname, n) == 0) return nan_moment(npname, split_args(std::move(args), std::nullopt));
    for (const char* n : {"nanmax", "nanmin", "nanargmax", "nanargmin"})
      if (std::strcmp(npname, n) == 0) return nan_extreme(npname, split_args(std::move(args), std::nullopt));
    for (const char* n : {"nansum", "nanprod", "ptp", "count_nonzero"})
      if (std::strcmp(npname, n) == 0) return nan_reduction(npname, split_args(std::move(args), std::nullopt));
    bool handled = false;
    if (!call_numpy(npname, split_args(std::move(args), std::nullopt), false, handled)) return false;
    if (!handled)
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() with these arguments is not traced yet", fname));
    return true;
  }
  if (PyFunction_Check(f)) return inline_call(f, callable.source, std::move(args), kwnames);
  // NumPy functions written in Python on what the tracer records (np.sinc is asanyarray,
  // where, sin and a division): their own implementation inlined, so they give NumPy's answer
  // by construction. (Others stay opaque: their code branches on things a trace cannot guard.)
  if (Py_TYPE(f) == np_->dispatcher_type) {
    static const char* kInlined[] = {"sinc", "cov", "fix", "polyval"};
    PyObject* name = PyObject_GetAttrString(f, "__name__");
    const char* n = name && PyUnicode_Check(name) ? PyUnicode_AsUTF8(name) : nullptr;
    bool listed = false;
    for (const char* k : kInlined) listed |= n && std::strcmp(n, k) == 0;
    Py_XDECREF(name);
    PyErr_Clear();
    PyObject* impl = listed ? PyObject_GetAttrString(f, "_implementation") : nullptr;
    PyErr_Clear();
    if (impl && PyFunction_Check(impl)) {
      keep(impl);
      return inline_call(impl, Source::constant(), std::move(args), kwnames);
    }
    Py_XDECREF(impl);
  }
  {
    // np.add.reduce(x, ...) / np.multiply.outer(a, b) / np.add.at(a, idx, b): a method bound to the ufunc, or the
    // method descriptor with the ufunc as the first argument (LOAD_METHOD).
    const UfuncInfo* uo = nullptr;
    const char* m = nullptr;
    bool self_first = false;
    if (PyCFunction_Check(f) && PyCFunction_GET_SELF(f)) {
      uo = np_->find_ufunc(PyCFunction_GET_SELF(f));
      m = reinterpret_cast<PyCFunctionObject*>(f)->m_ml->ml_name;
    } else if (Py_TYPE(f) == &PyMethodDescr_Type && !args.empty() && args[0].is_object() &&
               reinterpret_cast<PyMethodDescrObject*>(f)->d_common.d_type == np_->ufunc_type) {
      uo = np_->find_ufunc(args[0].obj);
      m = reinterpret_cast<PyMethodDescrObject*>(f)->d_method->ml_name;
      self_first = true;
    }
    if (uo && m && (std::strcmp(m, "reduce") == 0 || std::strcmp(m, "outer") == 0 || std::strcmp(m, "at") == 0)) {
      if (self_first) args.erase(args.begin());
      return ufunc_method(*uo, m, split_args(std::move(args), std::nullopt));
    }
  }
  if (std::strcmp(Py_TYPE(f)->tp_name, "tracejit.JitFunction") == 0) {
    // A jitted function called from jitted code: inline what it wraps.
    PyObject* w = PyObject_GetAttrString(f, "__wrapped__");
    if (w && PyFunction_Check(w)) {
      keep(w);
      return inline_call(w, Source::attr(callable.source, "__wrapped__"), std::move(args), kwnames);
    }
    Py_XDECREF(w);
    PyErr_Clear();
  }
  const UfuncInfo* u = np_->find_ufunc(f);
  if (u && static_cast<Py_ssize_t>(args.size()) - nkw == u->nin) {
    // ufunc(x, y, out=o) (o, (o,) or None): the result written into o, which the call returns.
    std::optional<AValue> out;
    if (nkw == 1 && std::strcmp(PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, 0)), "out") == 0) {
      out = std::move(args.back());
      args.pop_back();
      if (out->kind == AValue::Kind::Tuple && out->items.size() == 1) out = AValue(out->items[0]);
      if (out->is_object() && out->obj == Py_None) return apply_ufunc(*u, std::move(args), false);
    }
    if (out) {
      if (!out->is_tensor() || out->box != Box::Array)
        return fail(AbortCode::UnsupportedCall, fmt::format("{}(..., out=) with out={} is not traced", fname, what(*out)));
      if (!check_inplace_target(*out)) return false;  // effects.cpp
      return ufunc_into(*u, std::move(args), *out);
    }
  } else if (u && nkw == 0 && static_cast<int>(args.size()) == u->nin + 1) {
    // ufunc(x, y, o): the output given positionally.
    AValue out = std::move(args.back());
    args.pop_back();
    if (out.is_object() && out.obj == Py_None) return apply_ufunc(*u, std::move(args), false);
    if (!out.is_tensor() || out.box != Box::Array)
      return fail(AbortCode::UnsupportedCall, fmt::format("{}(...) with output {} is not traced", fname, what(out)));
    if (!check_inplace_target(out)) return false;
    return ufunc_into(*u, std::move(args), out);
  }
  if (nkw > 0) {
    // A NumPy function the tracer does not know (np.sort) is not traced with or without them.
    const bool unknown_numpy = !u && f != np_->where &&
                               (Py_TYPE(f) == np_->dispatcher_type || Py_TYPE(f) == np_->ufunc_type);
    return fail(AbortCode::UnsupportedCall,
                unknown_numpy ? fmt::format("call to {}() is not traced yet", fname)
                              : fmt::format("{}(...) with keyword arguments is not traced yet", fname));
  }
  if (u) {
    if (static_cast<int>(args.size()) != u->nin)
      return fail(AbortCode::UnsupportedCall,
                  fmt::format("{}(...) with {} arguments (out= or where= are not traced)", fname,
                              args.size()));
    return apply_ufunc(*u, std::move(args), false);
  }
  if (f == np_->where) return apply_where(std::move(args));
  bool handled = false;
  if (!call_builtin(f, fname, args, handled)) return false;
  if (handled) return true;
  if (PyFunction_Check(f))
    return fail(AbortCode::UnsupportedCall,
                fmt::format("call to Python function {}() is not inlined", fname));
  return fail(AbortCode::UnsupportedCall, fmt::format("call to {}() is not traced yet", fname));
}

// Builtins (and NumPy scalar types) with pure results. `handled` is false for anything else.


bool Tracer::op_binary_op(const Instruction& in) {
  AValue rhs = pop();
  AValue lhs = pop();
  if (lhs.kind == AValue::Kind::LoopIndex || rhs.kind == AValue::Kind::LoopIndex) {
    if (loop_index_affine(in.arg, lhs, rhs)) return loop_index_arith(in.arg, lhs, rhs);  // loops.cpp
    if (!loop_index_as_int(lhs) || !loop_index_as_int(rhs)) return false;  // Python int arithmetic
  }
  const bool shift = in.arg == 3 || in.arg == 16 || in.arg == 9 || in.arg == 22;
  if (shift && lhs.is_object() && rhs.is_object() && PyLong_Check(lhs.obj) && PyLong_Check(rhs.obj)) {
    // Constants (an unrolled loop's variable): Python computes it, exactly.
    PyObject* r = in.arg == 3 || in.arg == 16 ? PyNumber_Lshift(lhs.obj, rhs.obj) : PyNumber_Rshift(lhs.obj, rhs.obj);
    if (!r) return fail(AbortCode::UserError, fmt::format("'{}' raises {}", binary_op_symbol(in.arg), exception_text()));
    push(object(r, Source::constant()));
    Py_DECREF(r);
    return true;
  }
  if (shift && lhs.is_tensor() && lhs.box == Box::PyInt) {
    // A runtime Python int shifted by a constant: x << c is x * 2**c, x >> c is x // 2**c
    // (floor division, as >> rounds negative ints).
    long long c = rhs.is_object() && PyLong_CheckExact(rhs.obj) ? PyLong_AsLongLong(rhs.obj) : -1;
    PyErr_Clear();
    if (c < 0 || c > 62)
      return fail(AbortCode::UnsupportedValue, "a shift of a runtime Python int by other than a constant 0..62");
    PyObject* p = PyLong_FromLongLong(int64_t{1} << c);
    AValue pw = object(p, Source::constant());
    Py_DECREF(p);
    const bool left = in.arg == 3 || in.arg == 16;
    return apply_ufunc(*np_->ufunc_named(left ? "multiply" : "floor_divide"), {std::move(lhs), std::move(pw)}, true);
  }
  if (!note_container_read(lhs, false) || !note_container_read(rhs, false)) return false;
  if (in.arg >= 13 && lhs.is_tensor() && lhs.box == Box::Array) {
    if (!check_inplace_target(lhs)) return false;  // effects.cpp
    const char* uname = ufunc_for_binary_op(in.arg);
    if (!uname)
      return fail(AbortCode::UnsupportedBytecode,
                  fmt::format("in-place '{}' on an array is not traced yet", binary_op_symbol(in.arg)));
    return inplace_binary(lhs, rhs, uname);
  }
  if (in.arg == 4 || in.arg == 17) return matmul(lhs, rhs, "@");
  const char* name = ufunc_for_binary_op(in.arg);
  // `array ** 2` with a Python int 2 is np.square in NumPy (bool ** 2 is int8, not int64).
  if ((in.arg == 8 || in.arg == 21) && lhs.is_tensor() && lhs.box == Box::Array && rhs.is_object() &&
      PyLong_CheckExact(rhs.obj) && PyLong_AsLong(rhs.obj) == 2)
    return apply_ufunc(*np_->ufunc_named("square"), {std::move(lhs)}, true);
  PyErr_Clear();
  const UfuncInfo* u = name ? np_->ufunc_named(name) : nullptr;
  if (!u)
    return fail(AbortCode::UnsupportedBytecode,
                fmt::format("operator '{}' is not traced yet", binary_op_symbol(in.arg)));
  return apply_ufunc(*u, {std::move(lhs), std::move(rhs)}, true);
}

bool Tracer::op_compare_op(const Instruction& in) {
  AValue rhs = pop();
  AValue lhs = pop();
  if (!note_container_read(lhs, false) || !note_container_read(rhs, false)) return false;
  const char* name = ufunc_for_compare_op(in.arg);
  const UfuncInfo* u = name ? np_->ufunc_named(name) : nullptr;
  if (!u) return fail(AbortCode::UnsupportedBytecode, "comparison operator");
  return apply_ufunc(*u, {std::move(lhs), std::move(rhs)}, true);
}

bool Tracer::op_call_function_ex(const Instruction& in) {
  // f(*args, **kwargs): the items of args (a tuple or list, built here or reached through a
  // source) and of kwargs (a dict built here, e.g. the caller's own **kwargs) become an
  // ordinary call: [x, y] stay on the stack, the items and keyword names are pushed.
  AValue kw;
  if (in.arg & 1) kw = pop();
  AValue pos = pop();
  auto items = items_of(pos);
  if (!items) return false;
  std::vector<AValue> kwvals;
  PyObject* names = nullptr;
  if (in.arg & 1) {
    if (kw.kind != AValue::Kind::Dict)
      return fail(AbortCode::UnsupportedCall,
                  fmt::format("f(**kwargs) with {} (only dicts built in the traced code are traced)", what(kw)));
    names = PyTuple_New(static_cast<Py_ssize_t>(kw.items.size() / 2));
    if (!names) return fail(AbortCode::UserError, exception_text());
    keep(names);
    for (size_t i = 0; i + 1 < kw.items.size(); i += 2) {
      PyObject* k = kw.items[i].obj;
      if (!PyUnicode_CheckExact(k)) return fail(AbortCode::UserError, "TypeError: keywords must be strings");
      Py_INCREF(k);
      PyTuple_SET_ITEM(names, static_cast<Py_ssize_t>(i / 2), k);
      kwvals.push_back(kw.items[i + 1]);
    }
  }
  Instruction call = in;
  call.arg = static_cast<int>(items->size() + kwvals.size());
  // (op_call sees them without the step boundary that installs pending value guards)
  for (AValue& it : *items) {
    materialize(it);
    push(std::move(it));
  }
  for (AValue& it : kwvals) {
    materialize(it);
    push(std::move(it));
  }
  if (names && PyTuple_GET_SIZE(names) > 0) {
    push(object(names, Source::constant()));
    call.op = COp::CallKw;
    return op_call(call, true);
  }
  call.op = COp::Call;
  return op_call(call, false);
}

bool Tracer::op_contains(const Instruction& in) {
  AValue container = pop();
  AValue key = pop();
  const bool invert = in.arg == 1;
  if (container.kind == AValue::Kind::Dict) return dict_contains(container, key, invert);  // dicts.cpp
  // `x in (1, 2)`, `mode in "abc"`: a constant container of immutable values and a key known
  // at trace time (constants and values guarded by value): Python's own answer now.
  auto fixed = [](const AValue& v) {
    return v.is_object() && !v.lazy && builtin_hashable(v.obj);
  };
  if (fixed(container) && fixed(key) && (PyTuple_CheckExact(container.obj) || PyUnicode_CheckExact(container.obj))) {
    int r = PySequence_Contains(container.obj, key.obj);
    if (r < 0) return fail(AbortCode::UserError, exception_text());
    push(object((r == 1) != invert ? Py_True : Py_False, Source::computed()));
    return true;
  }
  return fail(AbortCode::UnsupportedBytecode,
              fmt::format("`in` on {} is not traced yet", what(container)));
}

bool Tracer::op_is(const Instruction& in) {
  // `v is None`, `v is not None` (also True/False/...: singletons whose identity the type and
  // value guards fix): an Object is the trace-time object (its type is guarded, and NoneType
  // has one instance); every abstract value that is not an Object is a fresh object.
  AValue rhs = pop();
  AValue lhs = pop();
  const bool invert = in.arg == 1;
  auto singleton = [](const AValue& v) {
    return v.is_object() && (v.obj == Py_None || v.obj == Py_Ellipsis || v.obj == Py_NotImplemented);
  };
  if (!singleton(lhs) && !singleton(rhs))
    return fail(AbortCode::UnsupportedBytecode, "`is` between objects other than None is not traced yet");
  const AValue& other = singleton(rhs) ? lhs : rhs;
  const AValue& single = singleton(rhs) ? rhs : lhs;
  if (other.kind == AValue::Kind::Null || other.kind == AValue::Kind::Select)
    return fail(AbortCode::UnsupportedValue, "`is` on a value whose identity is not known while tracing");
  bool same = other.is_object() && other.obj == single.obj;
  push(object(same != invert ? Py_True : Py_False, Source::computed()));
  return true;
}

bool Tracer::op_unary(const Instruction& in) {
  AValue x = pop();
  if (x.kind == AValue::Kind::LoopIndex && x.method.empty() && in.op != COp::UnaryInvert) {
    if (in.op == COp::UnaryNegative) x.ia = -x.ia, x.ib = -x.ib;  // -(a*i + b)
    push(std::move(x));
    return true;
  }
  if (!loop_index_as_int(x)) return false;  // ~i
  const char* name = in.op == COp::UnaryNegative ? "negative"
                     : in.op == COp::UnaryInvert ? "invert"
                                                 : "positive";
  return apply_ufunc(*np_->ufunc_named(name), {std::move(x)}, true);
}

bool Tracer::op_build_tuple(const Instruction& in) {
  AValue t;
  t.kind = AValue::Kind::Tuple;
  t.items.resize(static_cast<size_t>(in.arg));
  for (int i = in.arg - 1; i >= 0; --i) t.items[static_cast<size_t>(i)] = pop();
  t.source = Source::computed();
  push(std::move(t));
  return true;
}

bool Tracer::op_unpack_sequence(const Instruction& in) {
  AValue s = pop();
  if (s.is_tensor() && s.box == Box::Array) {  // a, b, c = x: its rows, all read now (as eager)
    if (s.type.rank() == 0) return fail(AbortCode::UserError, "TypeError: iteration over a 0-d array");
    const ir::Dim& d = s.type.shape[0];
    if (!d.is_static()) return fail_specialize({d}, "unpacking an array with a runtime length");
    if (d.size > in.arg) return fail(AbortCode::UserError, fmt::format("ValueError: too many values to unpack (expected {})", in.arg));
    if (d.size < in.arg)
      return fail(AbortCode::UserError, fmt::format("ValueError: not enough values to unpack (expected {}, got {})", in.arg, d.size));
    std::vector<AValue> rows;
    for (int64_t i = 0; i < d.size; ++i) {
      PyObject* key = PyLong_FromLongLong(i);
      const bool ok = key && index_tensor(s, key);
      Py_XDECREF(key);
      if (!ok) return abort_ ? false : fail(AbortCode::UserError, exception_text());
      rows.push_back(pop());
    }
    for (auto it = rows.rbegin(); it != rows.rend(); ++it) push(*it);
    return true;
  }
  if (s.is_tensor()) return fail(AbortCode::UnsupportedValue, "unpacking an array is not traced yet");
  auto items = items_of(s);  // tuples, lists (length guarded, items by their own sources)
  if (!items) return false;
  if (static_cast<int>(items->size()) != in.arg)
    return fail(AbortCode::UserError,
                fmt::format("ValueError: cannot unpack {} values into {}", items->size(), in.arg));
  for (auto it = items->rbegin(); it != items->rend(); ++it) push(*it);
  return true;
}

std::optional<bool> Tracer::truth(const AValue& v) {
  if (!note_container_read(v, false)) return std::nullopt;  // effects.cpp
  if (v.is_object() && (PyList_Check(v.obj) || PyDict_Check(v.obj) || PyAnySet_Check(v.obj))) {
    // A mutable container's truth is its length: guard it (its identity alone is not enough).
    if (!v.source || !v.source->evaluable()) {
      fail(AbortCode::ControlFlow, "branch on a mutable container that cannot be re-checked");
      return std::nullopt;
    }
    Py_ssize_t n = PyObject_Length(v.obj);
    Guard g;
    g.type = Py_TYPE(v.obj);
    g.length = n;
    guard_object(Guard::Kind::Len, v.source, std::move(g));
    return n > 0;
  }
  if (v.is_object()) {
    int t = PyObject_IsTrue(v.obj);
    if (t < 0) {
      fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    return t == 1;
  }
  if (v.kind == AValue::Kind::Tuple) return !v.items.empty();
  fail(AbortCode::ControlFlow,
       fmt::format("branch on the value of {} (data-dependent control flow is not traced yet)", what(v)));
  return std::nullopt;
}

bool Tracer::op_to_bool(const Instruction& in) {
  AValue v = pop();
  if (auto c = runtime_truth(v)) {  // a runtime truth value, for the conditional jump that follows
    push(tensor(*c, Box::NpScalar));
    return true;
  }
  auto t = truth(v);
  if (!t) return false;
  push(object(*t ? Py_True : Py_False, Source::computed()));
  return true;
}

// Branches on Python values the guards pin down (constants, value-guarded args) are followed
// statically; the guards make the choice safe. Branches on runtime scalars are if-converted.
bool Tracer::op_pop_jump(const Instruction& in) {
  AValue v = pop();
  bool jump = false;
  if (in.op == COp::PopJumpIfNone || in.op == COp::PopJumpIfNotNone) {
    bool is_none = v.is_object() && v.obj == Py_None;
    jump = in.op == COp::PopJumpIfNone ? is_none : !is_none;
  } else {
    // A runtime scalar: a while loop's test (while_loops.cpp), else both arms, merged with
    // selects (ifconv.cpp).
    if (auto c = runtime_truth(v)) {
      bool handled = false;
      if (!regions_.empty() && !regions_.back().is_while) {  // (a while region's: while_test_jump)
        if (!region_break(in, *c, handled)) return false;
        if (handled) return true;
      }
      if (!while_test_jump(in, *c, handled)) return false;
      if (!handled && !regions_.empty() && regions_.back().is_while) {  // (a return in a while body)
        if (!region_break(in, *c, handled)) return false;
      }
      return handled || if_convert(in, *c);
    }
    auto t = truth(v);
    if (!t) return false;
    jump = in.op == COp::PopJumpIfTrue ? *t : !*t;
    bool forced = false;
    if (!forced_while(in, jump, forced)) return false;
    if (forced) return true;
  }
  if (jump) fr().pc = in.target;
  return true;
}

bool Tracer::op_return_value(const Instruction& in) {
  AValue v = pop();
  if (frames_.size() > 1) {  // an inlined callee returns into its caller
    frames_.pop_back();
    loc_.file = fr().file;
    push(std::move(v));
    return true;
  }
  returned_ = true;
  if (!finish_writebacks()) return false;
  // In-place updates may have replaced the returned value's aliases: take the current one.
  return emit_output(v);
}

std::optional<std::vector<AValue>> Tracer::items_of(const AValue& v) {
  if (!note_container_read(v, true)) return std::nullopt;  // effects.cpp
  std::vector<AValue> items;
  if (v.kind == AValue::Kind::Iterator && (v.rt || v.length >= 0)) {
    fail(AbortCode::UnsupportedValue, "the items of a range iterator are not traced yet");
    return std::nullopt;
  }
  if (v.kind == AValue::Kind::Dict) {  // its keys (dicts.cpp)
    for (size_t i = 0; i + 1 < v.items.size(); i += 2) items.push_back(v.items[i]);
    return items;
  }
  if (v.kind == AValue::Kind::Tuple || v.kind == AValue::Kind::Iterator) {
    size_t start = v.kind == AValue::Kind::Iterator ? static_cast<size_t>(v.arg) : 0;
    items.assign(v.items.begin() + static_cast<std::ptrdiff_t>(start), v.items.end());
    return items;
  }
  if (!v.is_object()) {
    fail(AbortCode::UnsupportedValue, fmt::format("iterating over {} is not traced yet", what(v)));
    return std::nullopt;
  }
  PyObject* o = v.obj;
  if (PyRange_Check(o) || (!v.source || !v.source->evaluable())) {
    if (!PyRange_Check(o) && !PyTuple_CheckExact(o) && !PyList_CheckExact(o)) {
      fail(AbortCode::UnsupportedValue,
           fmt::format("iterating over a {} is not traced yet", Py_TYPE(o)->tp_name));
      return std::nullopt;
    }
    Py_ssize_t n = PyObject_Length(o);
    if (n > kMaxUnroll) {
      fail(AbortCode::ControlFlow,
           fmt::format("a loop of {} iterations is too long to unroll (compiled loop regions are "
                       "not implemented yet)", n));
      return std::nullopt;
    }
    PyObject* it = PyObject_GetIter(o);
    if (!it) {
      fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    while (PyObject* x = PyIter_Next(it)) {
      if (PyArray_Check(x)) {
        Py_DECREF(x);
        Py_DECREF(it);
        fail(AbortCode::UnsupportedValue, "an array inside a constant container");
        return std::nullopt;
      }
      items.push_back(object(x, Source::constant()));
      Py_DECREF(x);
    }
    Py_DECREF(it);
    PyErr_Clear();
    return items;
  }
  if (!PyTuple_CheckExact(o) && !PyList_CheckExact(o)) {
    fail(AbortCode::UnsupportedValue,
         fmt::format("iterating over a {} is not traced yet", Py_TYPE(o)->tp_name));
    return std::nullopt;
  }
  Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
  if (n > kMaxUnroll) {
    fail(AbortCode::ControlFlow, fmt::format("a loop of {} iterations is too long to unroll", n));
    return std::nullopt;
  }
  Guard g;
  g.type = Py_TYPE(o);
  g.length = n;
  guard_object(Guard::Kind::Len, v.source, std::move(g));
  for (Py_ssize_t i = 0; i < n; ++i) {
    PyObject* idx = PyLong_FromSsize_t(i);
    auto item = value_from_object(PySequence_Fast_GET_ITEM(o, i), Source::item(v.source, idx));
    Py_DECREF(idx);
    if (!item) return std::nullopt;
    items.push_back(std::move(*item));
  }
  return items;
}

// Loops over Python sequences of known length are unrolled (at most kMaxUnroll iterations); the
// length is guarded.
bool Tracer::op_get_iter(const Instruction& in) {
  AValue v = pop();
  if (v.kind == AValue::Kind::Iterator) {
    push(std::move(v));
    return true;
  }
  if (v.is_tensor() && v.box == Box::Array) return iter_rows({std::move(v)}, false);
  if (v.is_object() && PyRange_Check(v.obj)) {
    // Lazy: items are made one by one when unrolled; a long loop may become a loop region.
    Py_ssize_t n = PyObject_Length(v.obj);
    if (n < 0) return fail(AbortCode::UserError, exception_text());
    AValue it;
    it.kind = AValue::Kind::Iterator;
    it.obj = v.obj;  // kept alive by the tracer (keep_)
    it.arg = 0;
    it.length = n;
    it.source = Source::computed();
    push(std::move(it));
    return true;
  }
  auto items = items_of(v);
  if (!items) return false;
  AValue it;
  it.kind = AValue::Kind::Iterator;
  it.arg = 0;
  it.items = std::move(*items);
  it.source = Source::computed();
  it.dict_id = v.dict_id;  // over a dict or a view of one: a store into it is refused meanwhile
  if (v.kind == AValue::Kind::Tuple) {
    it.seq = v.is_list ? 2 : 1;
  } else if (v.is_object() && (PyTuple_CheckExact(v.obj) || PyList_CheckExact(v.obj))) {
    it.seq = PyList_CheckExact(v.obj) ? 2 : 1;
    if (v.source && v.source->evaluable()) {
      it.container = v.source;
      it.obj = v.obj;
    }
  }
  push(std::move(it));
  return true;
}

// An iterator over the rows of arrays (one; zip's several; enumerate's one with the index):
// eager NumPy's iter(x) yields x[0], x[1], ... read when each is taken, so the rows are made
// one by one in op_for_iter. The loop is unrolled: at most kMaxUnroll rows, a static length.
bool Tracer::iter_rows(std::vector<AValue> arrays, bool enumerate) {
  int64_t n = INT64_MAX;
  for (const AValue& a : arrays) {
    if (a.type.rank() == 0) return fail(AbortCode::UserError, "TypeError: iteration over a 0-d array");
    const ir::Dim& d = a.type.shape[0];
    if (!d.is_static()) return fail_specialize({d}, "iterating over an array with a runtime length");
    n = std::min(n, d.size);
  }
  if (n > kMaxUnroll)
    return fail(AbortCode::ControlFlow,
                fmt::format("a loop over the {} rows of an array is too long to unroll (at most {}; a loop over "
                            "range(len(x)) may become a compiled loop region)", n, kMaxUnroll));
  AValue it;
  it.kind = AValue::Kind::Iterator;
  it.arg = 0;
  it.items = std::move(arrays);
  it.rows = enumerate ? 2 : 1;
  it.rows_n = n;
  it.source = Source::computed();
  push(std::move(it));
  return true;
}

bool Tracer::op_for_iter(const Instruction& in) {
  AValue& it = fr().stack.back();
  if (it.kind != AValue::Kind::Iterator)
    return fail(AbortCode::UnsupportedValue, "for-loop over an unknown iterator");
  if (it.rows) {
    if (it.arg >= it.rows_n) {
      pop();
      fr().pc = in.target;
      return true;
    }
    const std::vector<AValue> arrays = it.items;  // (pushes below move the stack)
    const bool enumerate = it.rows == 2;
    PyObject* key = PyLong_FromLong(it.arg++);
    if (!key) return fail(AbortCode::UserError, exception_text());
    AValue t;
    t.kind = AValue::Kind::Tuple;
    t.source = Source::computed();
    if (enumerate) t.items.push_back(object(key, Source::constant()));
    for (const AValue& a : arrays) {
      if (!index_tensor(a, key)) {
        Py_DECREF(key);
        return abort_ ? false : fail(AbortCode::UserError, exception_text());
      }
      t.items.push_back(pop());
    }
    Py_DECREF(key);
    if (t.items.size() == 1) push(std::move(t.items[0]));
    else push(std::move(t));
    return true;
  }
  if (it.rt) {
    // The loop's iterator in a continuation's frame state (a graph break inside the loop): its
    // next value is a runtime int, whether it has one is guarded (another compiled version
    // takes the loop's exit). One item per trace: the trace normally ends at the break again.
    if (it.rt_advanced)
      return fail(AbortCode::ControlFlow,
                  "a second iteration of a loop resumed after a graph break in one compiled segment is not traced");
    Guard g;
    g.length = it.length > 0 ? 1 : 0;
    guard_object(Guard::Kind::RangeLeft, it.source, std::move(g));
    if (it.length == 0) {
      pop();
      fr().pc = in.target;
      return true;
    }
    AValue item = tensor(it.v, Box::PyInt);
    item.lo = it.lo;
    item.hi = it.hi;
    ir::Graph& g2 = trace_.graph;
    it.v = g2.add_op(ir::Op::Add, ir::Type::scalar(ir::DType::I64),
                     {it.v, g2.add_const_int(ir::DType::I64, it.rstep, loc_)}, loc_);
    it.length -= 1;
    it.rt_advanced = true;
    push(std::move(item));
    return true;
  }
  if (it.length >= 0) {  // over a range
    if (it.arg == 0 && it.length >= 2 && it.length < min_region_trip_) ++short_unrolled_;
    if (it.arg == 0 && it.length >= min_region_trip_) {
      LoopKey key{fr().code, fr().pc - 1};
      bool unroll = false;
      for (const LoopKey& k : no_region_) unroll |= k == key || k.first == nullptr;
      if (!unroll) return loop_region(fr().pc - 1, it);
    }
    if (it.arg >= it.length) {
      pop();
      fr().pc = in.target;
      return true;
    }
    // (A long loop is unrolled for its first iteration only when that may end at a graph break
    // inside it; a second iteration fails here as before.)
    if (it.length > kMaxUnroll && (it.arg > 0 || frames_.size() != 1 || !regions_.empty())) {
      std::string why = "it is too short to be a loop region";
      std::string at = fmt::format("{}:{}: ", PyUnicode_AsUTF8(fr().code->co_filename), in.line);
      for (const std::string& n : loop_notes_)
        if (n.rfind(at, 0) == 0) why = n.substr(n.find("unrolled: ") + 10);
      return fail(AbortCode::ControlFlow,
                  fmt::format("a loop of {} iterations is too long to unroll, and it cannot be a "
                              "compiled loop region: {}", it.length, why));
    }
    PyObject* x = PySequence_GetItem(it.obj, it.arg++);
    if (!x) return fail(AbortCode::UserError, exception_text());
    AValue next = object(x, Source::constant());
    Py_DECREF(x);
    push(std::move(next));
    return true;
  }
  if (it.arg >= static_cast<int>(it.items.size())) {
    pop();
    fr().pc = in.target;
    return true;
  }
  AValue next = it.items[static_cast<size_t>(it.arg++)];
  push(std::move(next));
  return true;
}

bool Tracer::op_build_slice(const Instruction& in) {
  std::vector<AValue> parts(static_cast<size_t>(in.arg));
  for (int i = in.arg - 1; i >= 0; --i) parts[static_cast<size_t>(i)] = pop();
  for (const AValue& p : parts)
    if (p.kind == AValue::Kind::LoopIndex) return loop_index_slice(parts);  // loops.cpp
  for (const AValue& p : parts)
    if (!p.is_object())
      return fail(AbortCode::UnsupportedValue, "slice bounds computed from arrays");
  PyObject* sl = PySlice_New(parts[0].obj, parts[1].obj, parts.size() > 2 ? parts[2].obj : nullptr);
  if (!sl) return fail(AbortCode::UserError, exception_text());
  push(object(sl, Source::constant()));
  Py_DECREF(sl);
  return true;
}

bool Tracer::index_from_arrays() {
  // Checked at run time only inside loop regions (loops.cpp checked_index): say why the loop
  // around it, if any, is not one.
  std::string why = "an index computed from arrays";
  if (regions_.empty() && !loop_notes_.empty())
    why += fmt::format(" (checked at run time only in a compiled loop region; {})", loop_notes_.back());
  return fail(AbortCode::UnsupportedValue, why);
}

// A list as an array's index (x[[0, 2]], x[[i, j]] = v) is an integer (or bool) array, as NumPy
// reads it (np.asarray of the list), never a tuple of indices; so is a list inside a tuple key
// (x[[0, 1], [2, 3]], x[:, [1, 3]]). An empty list (an intp index to NumPy) is not traced.
bool Tracer::list_index_keys(AValue& key) {
  if (key.kind != AValue::Kind::Tuple) return true;
  if (!key.is_list) {
    for (AValue& k : key.items)
      if (k.kind == AValue::Kind::Tuple && !list_index_keys(k)) return false;
    return true;
  }
  if (key.items.empty()) return fail(AbortCode::UnsupportedValue, "indexing an array by an empty list is not traced yet");
  CallArgs a;
  a.pos.push_back(key);
  if (!array_ctor("asarray", std::move(a))) return false;
  key = pop();
  if (!key.is_tensor() || !(ir::is_integer(key.type.dtype) || key.type.dtype == ir::DType::Bool))
    return fail(AbortCode::UserError, "IndexError: arrays used as indices must be of integer (or boolean) type");
  return true;
}

bool Tracer::op_binary_subscr(const Instruction& in) {
  AValue key = pop();
  AValue c = pop();
  if (!note_container_read(c, false)) return false;  // effects.cpp
  if (c.kind == AValue::Kind::Dict) return dict_subscr(c, key);  // dicts.cpp
  if (c.is_tensor() && !list_index_keys(key)) return false;
  // (Top level, a key with an Ellipsis: the runtime integers are gathers, gather.cpp.)
  const bool ellipsis = key.kind == AValue::Kind::Tuple &&
                        std::any_of(key.items.begin(), key.items.end(),
                                    [](const AValue& k) { return k.is_object() && k.obj == Py_Ellipsis; });
  if (has_loop_index(key) && !(regions_.empty() && ellipsis && c.is_tensor())) return dyn_subscr(c, key);  // loops.cpp
  if (key.kind == AValue::Kind::Tuple) {  // a[1:-1, ::2]: a tuple of constant slices/ints
    bool consts = true;
    for (const AValue& it : key.items) consts &= it.is_object();
    if (consts) {
      PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(key.items.size()));
      for (size_t i = 0; i < key.items.size(); ++i) {
        Py_INCREF(key.items[i].obj);
        PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), key.items[i].obj);
      }
      key = object(t, Source::constant());
      Py_DECREF(t);
    }
  }
  if (!key.is_object())
    return c.is_tensor() ? index_by_array(c, key) : index_from_arrays();  // gather.cpp
  if (c.is_tensor()) return index_tensor(c, key.obj);
  if (c.kind == AValue::Kind::Tuple) {
    if (PyLong_CheckExact(key.obj)) {
      Py_ssize_t n = static_cast<Py_ssize_t>(c.items.size());
      Py_ssize_t i = PyLong_AsSsize_t(key.obj);
      if (i < 0) i += n;
      if (i < 0 || i >= n) return fail(AbortCode::UserError, "IndexError: tuple index out of range");
      push(c.items[static_cast<size_t>(i)]);
      return true;
    }
    if (PySlice_Check(key.obj)) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(key.obj, &start, &stop, &step) < 0) return fail(AbortCode::UserError, exception_text());
      Py_ssize_t len = PySlice_AdjustIndices(static_cast<Py_ssize_t>(c.items.size()), &start, &stop, step);
      AValue t;
      t.kind = AValue::Kind::Tuple;
      t.source = Source::computed();
      for (Py_ssize_t k = 0; k < len; ++k) t.items.push_back(c.items[static_cast<size_t>(start + k * step)]);
      push(std::move(t));
      return true;
    }
    return fail(AbortCode::UnsupportedValue, "tuple index");
  }
  if (!c.is_object()) return fail(AbortCode::UnsupportedValue, fmt::format("indexing {}", what(c)));
  bool evaluable = c.source && c.source->evaluable();
  if (PySlice_Check(key.obj) && (PyList_CheckExact(c.obj) || PyTuple_CheckExact(c.obj)) && evaluable) {
    // A slice of a guarded list: a tuple of its items, each fetched by its own index.
    Py_ssize_t n = PySequence_Fast_GET_SIZE(c.obj);
    Guard g;
    g.type = Py_TYPE(c.obj);
    g.length = n;
    guard_object(Guard::Kind::Len, c.source, std::move(g));
    Py_ssize_t start, stop, step;
    if (PySlice_Unpack(key.obj, &start, &stop, &step) < 0) return fail(AbortCode::UserError, exception_text());
    Py_ssize_t len = PySlice_AdjustIndices(n, &start, &stop, step);
    AValue t;
    t.kind = AValue::Kind::Tuple;
    t.source = Source::computed();
    for (Py_ssize_t k = 0; k < len; ++k) {
      Py_ssize_t i = start + k * step;
      PyObject* idx = PyLong_FromSsize_t(i);
      auto item = value_from_object(PySequence_Fast_GET_ITEM(c.obj, i), Source::item(c.source, idx));
      Py_DECREF(idx);
      if (!item) return false;
      t.items.push_back(std::move(*item));
    }
    push(std::move(t));
    return true;
  }
  PyObject* v = PyObject_GetItem(c.obj, key.obj);
  if (!v) return fail(AbortCode::UserError, exception_text());
  keep(v);
  std::optional<AValue> out;
  if (evaluable && (PyLong_CheckExact(key.obj) || PyUnicode_CheckExact(key.obj))) {
    PyObject* k = key.obj;
    Py_ssize_t n = PyList_CheckExact(c.obj) || PyTuple_CheckExact(c.obj) ? PyObject_Length(c.obj) : 0;
    PyObject* norm = nullptr;
    if (PyLong_CheckExact(k) && n > 0 && PyLong_AsSsize_t(k) < 0) {
      norm = PyLong_FromSsize_t(PyLong_AsSsize_t(k) + n);  // len is guarded: a fixed index
      k = norm;
    }
    out = value_from_object(v, Source::item(c.source, k));
    Py_XDECREF(norm);
  } else if (!evaluable && !PyArray_Check(v)) {
    out = object(v, Source::constant());
  } else {
    return fail(AbortCode::UnsupportedValue, "indexing with this key is not traced yet");
  }
  if (!out) return false;
  push(std::move(*out));
  return true;
}

bool Tracer::op_load_deref(const Instruction& in) {
  const AValue& slot = fr().locals[static_cast<size_t>(in.arg)];
  if (slot.kind == AValue::Kind::Cell) {  // a cell the traced code made (closures.cpp)
    const AValue& c = cells_[static_cast<size_t>(slot.arg)];
    if (c.kind == AValue::Kind::Null)
      return fail(AbortCode::UserError,
                  fmt::format("cannot access free variable '{}': it is not bound", slot_name(in.arg)));
    if (!regions_.empty() && !c.is_object())
      return region_fail(fmt::format("a loop body reads the closure variable '{}'", slot_name(in.arg)));
    push(c);
    return true;
  }
  const AValue& v = slot;
  if (v.kind == AValue::Kind::Null)
    return fail(AbortCode::UserError, "free variable referenced before assignment");
  if (v.kind == AValue::Kind::LoopIndex) return region_fail("a closure reads the loop variable");
  if (!regions_.empty()) note_read(in.arg, -1);
  push(v);
  return true;
}

// Instructions that may see a lazy int without depending on its value: moves between the
// stack and locals, and the consumers that read it again at run time (formatting; a deferred
// store into a dict or list).
bool Tracer::lazy_consumer(const Instruction& in) const {
  switch (in.op) {
    case COp::PopTop: case COp::PushNull: case COp::Copy: case COp::Swap: case COp::LoadFast:
    case COp::LoadFastAndClear: case COp::StoreFast: case COp::LoadConst: case COp::LoadGlobal:
    case COp::LoadDeref: case COp::StoreDeref: case COp::Jump: case COp::FormatValue:
    case COp::ConvertValue: case COp::BuildString:
      return true;
    case COp::StoreSubscr: {
      const auto& st = fr().stack;
      if (st.size() < 3) return false;
      const AValue& c = st[st.size() - 2];
      return c.is_object() && (PyDict_CheckExact(c.obj) || PyList_CheckExact(c.obj)) && !st.back().is_tensor();
    }
    default:
      return false;
  }
}

void Tracer::materialize(AValue& v) {
  for (AValue& it : v.items) materialize(it);
  if (!v.lazy) return;
  v.lazy = false;
  std::string key = v.source ? v.source->expr() : std::string();
  for (PendingGuard& p : pending_guards_) {
    if (p.installed || p.source->expr() != key) continue;
    Guard g;
    g.expected = p.expected;
    guard_object(Guard::Kind::Value, p.source, std::move(g));
    p.installed = true;
    --pending_open_;
  }
}

bool Tracer::step(const Instruction& in) {
  if (pending_open_ > 0 && !lazy_consumer(in))
    for (AValue& v : fr().stack) materialize(v);
  switch (in.op) {
    case COp::PopTop: pop(); return true;
    case COp::PushNull: push(AValue{}); return true;
    case COp::Copy: push(fr().stack[fr().stack.size() - static_cast<size_t>(in.arg)]); return true;
    case COp::Swap:
      std::swap(fr().stack.back(), fr().stack[fr().stack.size() - static_cast<size_t>(in.arg)]);
      return true;
    case COp::LoadFast: return op_load_fast(in);
    case COp::StoreFast: return op_store_fast(in);
    case COp::LoadConst: return op_load_const(in);
    case COp::LoadGlobal: return op_load_global(in);
    case COp::LoadAttr: return op_load_attr(in, false);
    case COp::LoadMethod: return op_load_attr(in, true);
    case COp::Call: return op_call(in, false);
    case COp::CallKw: return op_call(in, true);
    case COp::CallFunctionEx: return op_call_function_ex(in);
    case COp::BinaryOp: return op_binary_op(in);
    case COp::CompareOp: return op_compare_op(in);
    case COp::UnaryNegative:
    case COp::UnaryInvert:
    case COp::UnaryPositive: return op_unary(in);
    case COp::BuildTuple: return op_build_tuple(in);
    case COp::BuildMap:
    case COp::BuildConstKeyMap: return op_build_map(in);  // dicts.cpp
    case COp::MapAdd:
    case COp::DictUpdate:
    case COp::DictMerge: return op_map_add(in);
    case COp::ContainsOp: return op_contains(in);
    case COp::IsOp: return op_is(in);
    case COp::BuildList:
      if (!op_build_tuple(in)) return false;
      fr().stack.back().is_list = true;  // a fresh list, only ever extended on the stack
      return true;
    case COp::ListAppend:
    case COp::ListExtend: {
      AValue v = pop();
      AValue& list = fr().stack[fr().stack.size() - static_cast<size_t>(in.arg)];
      if (list.kind != AValue::Kind::Tuple || !list.is_list)
        return fail(AbortCode::UnsupportedValue, "appending to a list that is not being built here");
      if (in.op == COp::ListAppend) {
        list.items.push_back(std::move(v));
      } else {
        auto items = items_of(v);
        if (!items) return false;
        for (AValue& it : *items) list.items.push_back(std::move(it));
      }
      return true;
    }
    case COp::ListToTuple:
      if (fr().stack.back().kind != AValue::Kind::Tuple)
        return fail(AbortCode::UnsupportedValue, "tuple() of an unknown list");
      fr().stack.back().is_list = false;
      return true;
    case COp::LoadFastAndClear: {
      AValue& slot = fr().locals[static_cast<size_t>(in.arg)];
      if (!regions_.empty()) note_read(in.arg, -1);
      push(slot);
      slot = AValue{};
      return true;
    }
    case COp::UnpackSequence: return op_unpack_sequence(in);
    case COp::ToBool: return op_to_bool(in);
    case COp::UnaryNot: {  // `not v`: a Python bool, at run time for a runtime value
      AValue v = pop();
      if (auto c = runtime_truth(v)) {
        push(python_bool(trace_.graph.add_op(ir::Op::Not, ir::Type::scalar(ir::DType::Bool), {*c}, loc_)));
        return true;
      }
      auto t = truth(v);
      if (!t) return false;
      push(object(*t ? Py_False : Py_True, Source::computed()));
      return true;
    }
    case COp::Jump:
      if (in.target < fr().pc && regions_.empty()) ++back_edges_;  // an unrolled iteration (hotness)
      fr().pc = in.target;
      return true;
    case COp::PopJumpIfFalse:
    case COp::PopJumpIfTrue:
    case COp::PopJumpIfNone:
    case COp::PopJumpIfNotNone: return op_pop_jump(in);
    case COp::JumpIfFalseOrPop:
    case COp::JumpIfTrueOrPop: return op_jump_or_pop(in);  // ifconv.cpp
    case COp::ReturnValue: return op_return_value(in);
    case COp::GetIter: return op_get_iter(in);
    case COp::ForIter: return op_for_iter(in);
    case COp::BinarySubscr: return op_binary_subscr(in);
    case COp::BuildSlice: return op_build_slice(in);
    case COp::LoadDeref: return op_load_deref(in);
    case COp::CopyFreeVars: return true;  // the frame's free variables were bound on entry
    case COp::MakeCell: return op_make_cell(in);        // closures.cpp
    case COp::LoadClosure: push(fr().locals[static_cast<size_t>(in.arg)]); return true;
    case COp::StoreDeref: return op_store_deref(in);
    case COp::DeleteDeref: return op_delete_deref(in);
    case COp::MakeFunction: return op_make_function(in);
    case COp::SetFunctionAttribute: return op_set_function_attribute(in);
    case COp::StoreSubscr: {
      AValue key = pop();
      AValue container = pop();
      AValue value = pop();
      if (container.kind == AValue::Kind::Dict) return dict_store(container, key, value);  // dicts.cpp
      if (!container.is_tensor()) return store_effect(container, key, value);  // effects.cpp
      if (container.box != Box::Array)  // `s[...] = v` on a NumPy or Python scalar
        return fail(AbortCode::UserError, fmt::format("TypeError: {} does not support item assignment",
                                                      describe_scalar_kind(container)));
      if (!check_inplace_target(container)) return false;
      if (!list_index_keys(key)) return false;
      if (has_loop_index(key)) return dyn_store(container, key, value);  // loops.cpp
      if (!regions_.empty() && container.type.is_static()) {
        // One element at constant indices inside a loop body (`counts[2] += 1`): an element
        // update too, as native loop nests run it (not an array rebuilt from slices).
        AValue k = key;
        if (k.is_object() && PyTuple_CheckExact(k.obj)) {  // a constant tuple (`M[1, 0]`)
          AValue t;
          t.kind = AValue::Kind::Tuple;
          for (Py_ssize_t q = 0; q < PyTuple_GET_SIZE(k.obj); ++q)
            t.items.push_back(object(PyTuple_GET_ITEM(k.obj, q), Source::constant()));
          k = std::move(t);
        }
        std::vector<AValue> parts = k.kind == AValue::Kind::Tuple ? k.items : std::vector<AValue>{k};
        bool element = static_cast<int>(parts.size()) == container.type.rank() && !parts.empty();
        for (const AValue& p : parts)
          element &= p.is_object() && PyLong_CheckExact(p.obj);
        if (element) return dyn_store(container, k, value);
      }
      if (key.kind == AValue::Kind::Tuple) {
        PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(key.items.size()));
        for (size_t i = 0; i < key.items.size(); ++i) {
          PyObject* o = key.items[i].is_object() ? key.items[i].obj : nullptr;
          if (!o) {
            Py_DECREF(t);
            return store_by_array(container, key, value);  // gather.cpp
          }
          Py_INCREF(o);
          PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), o);
        }
        key = object(t, Source::constant());
        Py_DECREF(t);
      }
      if (key.is_tensor() && key.box == Box::Array && key.type.dtype == ir::DType::Bool)
        return store_mask(container, key, value);  // inplace.cpp
      if (!key.is_object()) return store_by_array(container, key, value);  // gather.cpp
      return store_subscr(container, key.obj, value);
    }
    case COp::FormatValue: return op_format_value(in);
    case COp::ConvertValue: return op_convert_value(in);
    case COp::BuildString: return op_build_string(in);
    case COp::StoreAttr:
      return fail(AbortCode::SideEffect, "attribute assignment (mutating a Python object) is not traced yet");
    default:
      if (in.op == COp::Unsupported && in.raw_name == "BEFORE_WITH") return op_before_with(in);  // resume.cpp
      return fail(AbortCode::UnsupportedBytecode,
                  fmt::format("bytecode {} is not traced yet", in.raw_name));
  }
}

// Iterations a call runs in the loop regions of `g`: each loop's trip count times (1 + the
// iterations its body runs per iteration), summed (saturating).
static int64_t region_iterations(const ir::Graph& g) {
  int64_t total = 0;
  for (const ir::Node& n : g.nodes) {
    if (n.op != ir::Op::Loop || n.regions.empty()) continue;
    const int64_t per = 1 + region_iterations(*n.regions[0]);
    const int64_t trip = n.ints[0];
    const int64_t add = per > 0 && trip > (int64_t{1} << 62) / per ? int64_t{1} << 62 : trip * per;
    total = std::min<int64_t>(total + add, int64_t{1} << 62);
  }
  return total;
}

static int64_t while_ops(const ir::Graph& g) {
  int64_t total = 0;
  for (const ir::Node& n : g.nodes) {
    total += n.op == ir::Op::While;
    for (const auto& r : n.regions) total += while_ops(*r);
  }
  return total;
}

TraceResult Tracer::run() {
  np_ = NumpySurface::get();
  if (!np_) {
    PyErr_Clear();
    return Abort{AbortCode::UnsupportedValue, "numpy cannot be imported", "", -1};
  }
  auto* code = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(func_));
  trace_.graph.name = PyUnicode_AsUTF8(code->co_qualname);
  loc_.line = code->co_firstlineno;
  if (push_frame(func_, Source::fixed(func_, trace_.graph.name)) &&
      (options_.start_pc >= 0 ? bind_state() : bind_arguments()))
    interpret([] { return false; });
  if (PyErr_Occurred()) PyErr_Clear();
  if (abort_) {
    request_break();  // resume.cpp: may this trace end before the instruction that aborted?
    for (const Effect& fx : trace_.effects)  // breaks before the abort (listed by fullgraph=True)
      if (fx.graph_break) abort_->graph_breaks.push_back(fx.describe());
    return std::move(*abort_);
  }
  relax_zero_tie_checks();  // numpy_arrays.cpp
  trace_.loop_notes = loop_notes_;
  trace_.loop_iterations = back_edges_ + region_iterations(trace_.graph);
  trace_.while_loops = while_ops(trace_.graph);
  return std::move(trace_);
}

bool Tracer::interpret(const std::function<bool()>& done) {
  constexpr int kMaxSteps = 200000;  // unrolled loops and inlined calls; a runaway trace aborts
  constexpr int kMaxGraphNodes = 20000;  // bounds compile time of unrolled programs (per region)
  while (!returned_ && !abort_ && !done()) {
    if (fr().pc < 0 || fr().pc >= static_cast<int>(fr().instrs.size()))
      return fail(AbortCode::ControlFlow, "ran past the end of the bytecode");
    if (++steps_ > kMaxSteps || trace_.graph.size() > kMaxGraphNodes)
      return fail(AbortCode::ControlFlow, "trace too long (a long unrolled loop or a huge loop body)");
    if (step_depth_ == 0 && frames_.size() == 1) {
      outer_instr_ = fr().pc;
      for (const auto& [pc, why] : break_pcs_)
        if (pc == outer_instr_ && regions_.empty()) return make_break(pc, why);  // resume.cpp
    }
    cur_ = &fr().instrs[static_cast<size_t>(fr().pc++)];
    loc_.line = cur_->line >= 0 ? cur_->line : loc_.line;
    ++step_depth_;
    step(*cur_);
    --step_depth_;
  }
  return !abort_;
}

}  // namespace detail

std::string_view abort_code_name(AbortCode c) {
  switch (c) {
    case AbortCode::UnsupportedBytecode: return "unsupported-bytecode";
    case AbortCode::UnsupportedCall: return "unsupported-call";
    case AbortCode::UnsupportedArgument: return "unsupported-argument";
    case AbortCode::UnsupportedAttribute: return "unsupported-attribute";
    case AbortCode::UnsupportedDtype: return "unsupported-dtype";
    case AbortCode::UnsupportedValue: return "unsupported-value";
    case AbortCode::SideEffect: return "side-effect";
    case AbortCode::ControlFlow: return "control-flow";
    case AbortCode::UserError: return "user-error";
    case AbortCode::DynamicShape: return "dynamic-shape";
  }
  return "?";
}

std::string Abort::describe() const {
  if (file.empty()) return fmt::format("{} [{}]", message, abort_code_name(code));
  return fmt::format("{}:{}: {} [{}]", file, line, message, abort_code_name(code));
}

Trace::~Trace() {
  for (OutputNode& n : outputs) Py_XDECREF(n.constant);
}

namespace {
// Nodes of a graph and its nested regions.
size_t total_nodes(const ir::Graph& g) {
  size_t n = g.nodes.size();
  for (const ir::Node& node : g.nodes)
    for (const auto& r : node.regions) n += total_nodes(*r);
  return n;
}

// One trace, with the retries that loop regions ask for (unroll a loop, widen an accumulator).
TraceResult trace_once(PyObject* func, PyObject* const* args, Py_ssize_t nargs, const TraceOptions& options,
                       int64_t min_region_trip, int64_t* short_unrolled) {
  // A loop that cannot be a compiled region (its body uses the loop variable, changes a type,
  // ...) is unrolled instead: the trace starts over with that loop on the unroll list.
  std::vector<detail::Tracer::LoopKey> unroll;
  std::vector<detail::Tracer::Widen> widen;
  std::vector<std::pair<int, std::string>> breaks;
  std::vector<std::string> notes;
  constexpr int kMaxRetraces = 16;
  for (int attempt = 0;; ++attempt) {
    detail::Tracer t(func, args, nargs);
    t.set_options(options);
    t.no_region_ = unroll;
    t.widen_ = widen;
    t.break_pcs_ = breaks;
    t.loop_notes_ = notes;
    t.min_region_trip_ = min_region_trip;
    if (attempt == kMaxRetraces) t.no_region_.push_back({nullptr, -1});  // no regions at all
    TraceResult r = t.run();
    if (std::holds_alternative<Abort>(r) && t.widen_request_ && attempt < kMaxRetraces) {
      widen.push_back(*t.widen_request_);
      notes = t.loop_notes_;
      continue;
    }
    if (std::holds_alternative<Abort>(r) && t.region_failed_ && attempt < kMaxRetraces) {
      unroll.push_back(*t.region_failed_);
      notes = t.loop_notes_;
      continue;
    }
    if (std::holds_alternative<Abort>(r) && t.break_request_ && attempt < kMaxRetraces) {
      // A call or branch of the outermost frame it cannot hold: end the trace there instead.
      breaks.push_back(*t.break_request_);
      notes = t.loop_notes_;
      continue;
    }
    *short_unrolled = t.short_unrolled_;
    return r;
  }
}
}  // namespace

TraceResult trace_function(PyObject* func, PyObject* const* args, Py_ssize_t nargs,
                           const TraceOptions& options) {
  int64_t short_unrolled = 0;
  TraceResult r = trace_once(func, args, nargs, options, 8, &short_unrolled);
  // Short loops unroll for fusion, but unrolled element-wise work (a 7x7 dynamic-programming
  // nest: one store per element) makes graphs that take seconds to compile. Then the short
  // loops become regions too, when that gives a smaller graph.
  constexpr size_t kLargeGraph = 300;
  auto* t = std::get_if<Trace>(&r);
  if (!t || short_unrolled == 0 || total_nodes(t->graph) <= kLargeGraph) return r;
  int64_t ignored = 0;
  TraceResult alt = trace_once(func, args, nargs, options, 2, &ignored);
  auto* ta = std::get_if<Trace>(&alt);
  if (ta && total_nodes(ta->graph) < total_nodes(t->graph)) return alt;
  return r;
}

}  // namespace tracejit::tracer
