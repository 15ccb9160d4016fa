// The tracer: one handler per canonical opcode, abstract values with sources, guards for every
// fact relied on, and a coded abort (never a guess) for anything it cannot capture.
#include "tracer/tracer.h"

#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "frontend/decoder.h"
#include "tracer/numpy_surface.h"

namespace tracejit::tracer {
namespace {

using frontend::COp;
using frontend::Instruction;

// An abstract value on the tracer's stack or in a local slot.
struct AValue {
  // Object: a live Python object (constant, or guarded by its source).
  // Tuple: a Python tuple built during the trace (items are abstract).
  // Iterator: a for-loop over known items (items, next index in `arg`).
  // BoundMethod: obj is a Python function, items[0] its self.
  // TensorMethod: `method` of the tensor items[0] (x.astype, x.copy).
  enum class Kind : uint8_t { Null, Object, Tensor, Tuple, Iterator, BoundMethod, TensorMethod };
  Kind kind = Kind::Null;
  PyObject* obj = nullptr;       // Object: the live object (a reference is held by the Tracer)
  ir::ValueId v = ir::kNoValue;  // Tensor
  ir::Type type;                 // Tensor
  Box box = Box::Array;          // Tensor
  int arg = -1;                  // Tensor: the argument it is, unchanged; Iterator: next index
  bool pristine = false;         // Tensor: exactly the object at `source` (identity returns)
  std::vector<AValue> items;     // Tuple, Iterator, BoundMethod, TensorMethod
  std::string method;            // TensorMethod
  SourceRef source;

  bool is_tensor() const { return kind == Kind::Tensor; }
  bool is_object() const { return kind == Kind::Object; }
};

// Python scalars NumPy treats as "weak" (NEP 50) and the tracer can hold as constants.
bool is_py_scalar(PyObject* o) {
  return PyFloat_CheckExact(o) || PyLong_CheckExact(o) || PyBool_Check(o);
}

long long int_min(ir::DType d) {
  if (ir::is_unsigned_int(d) || ir::is_bool(d)) return 0;
  return -(1LL << (8 * ir::dtype_size(d) - 1));
}
unsigned long long int_max(ir::DType d) {
  if (ir::is_bool(d)) return 1;
  int bits = 8 * ir::dtype_size(d) - (ir::is_signed_int(d) ? 1 : 0);
  return bits >= 64 ? ~0ULL : (1ULL << bits) - 1;
}

std::string exception_text() {
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

std::string callable_name(PyObject* f) {
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

std::string shape_text(const std::vector<ir::Dim>& s) {
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
  std::string local_name(int i) const {
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
    return "a tuple";
  }

  // --- frames, arguments and values
  bool push_frame(PyObject* func, SourceRef func_source);
  bool bind_arguments();
  bool bind_closure(PyObject* func, SourceRef func_source);
  bool inline_call(PyObject* func, SourceRef func_source, std::vector<AValue> args, PyObject* kwnames);
  // An object read from `src` (an argument, attribute, item, global): arrays and Python floats
  // become graph inputs fetched through `src` at call time, everything else a guarded Object.
  std::optional<AValue> value_from_object(PyObject* o, SourceRef src);
  void guard_object(Guard::Kind kind, const SourceRef& src, Guard g);
  std::optional<std::vector<AValue>> items_of(const AValue& v);
  std::optional<ir::ValueId> to_ir(const AValue& v, ir::DType dt);
  ir::ValueId cast(ir::ValueId v, ir::DType dt);

  // --- NumPy semantics
  bool apply_ufunc(const UfuncInfo& u, std::vector<AValue> operands, bool python_operator);
  bool apply_where(std::vector<AValue> operands);
  bool python_scalar_op(const UfuncInfo& u, std::vector<AValue>& operands, bool python_operator);
  bool resolve_loop(const UfuncInfo& u, const std::vector<AValue>& operands,
                    std::vector<ir::DType>& loop);
  PyObject* dtype_spec(const AValue& v);  // new reference
  PyObject* probe(const AValue& v);       // new reference

  // --- output
  bool emit_output(const AValue& v);

  // --- handlers, one per canonical opcode
  bool step(const Instruction& in);
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
  bool op_unpack_sequence(const Instruction& in);
  bool op_pop_jump(const Instruction& in);
  bool op_get_iter(const Instruction& in);
  bool op_for_iter(const Instruction& in);
  bool op_binary_subscr(const Instruction& in);
  bool op_build_slice(const Instruction& in);
  bool op_load_deref(const Instruction& in);
  bool call_builtin(PyObject* f, const std::string& fname, std::vector<AValue>& args, bool& handled);
  bool call_tensor_method(const AValue& m, std::vector<AValue> args);
  bool tensor_attribute(const AValue& base, const std::string& name, bool method);
  bool op_to_bool(const Instruction& in);
  bool op_return_value(const Instruction& in);
  std::optional<bool> truth(const AValue& v);
};

// ---------------------------------------------------------------------------------------------
// Arguments

bool Tracer::push_frame(PyObject* func, SourceRef func_source) {
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
  if (f->code->co_flags & (CO_VARARGS | CO_VARKEYWORDS) || f->code->co_kwonlyargcount > 0)
    return fail(AbortCode::UnsupportedArgument,
                fmt::format("{}() has *args, **kwargs or keyword-only parameters (not traced yet)",
                            PyUnicode_AsUTF8(f->code->co_qualname)));
  auto decoded = frontend::decode(f->code);
  if (!decoded) return fail(AbortCode::UnsupportedBytecode, decoded.message());
  f->instrs = std::move(decoded.value());
  f->locals.assign(static_cast<size_t>(f->code->co_nlocalsplus), AValue{});
  f->file = trace_.graph.intern_file(PyUnicode_AsUTF8(f->code->co_filename));
  frames_.push_back(std::move(f));
  loc_.file = fr().file;
  return bind_closure(func, std::move(func_source));
}

// Free variables are read from the closure's cells; their values are guarded through the path
// func.__closure__[i].cell_contents, so rebinding a nonlocal recompiles.
bool Tracer::bind_closure(PyObject* func, SourceRef func_source) {
  PyObject* closure = PyFunction_GET_CLOSURE(func);
  int nfree = fr().code->co_nfreevars;
  if (nfree == 0) return true;
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
  int argc = fr().code->co_argcount;
  if (nargs_ != argc) return fail(AbortCode::UnsupportedArgument, "argument count mismatch");
  for (int i = 0; i < argc; ++i) {
    auto v = value_from_object(args_[i], Source::arg(i, local_name(i)));
    if (!v) return false;
    fr().locals[static_cast<size_t>(i)] = std::move(*v);
  }
  return true;
}

bool Tracer::inline_call(PyObject* func, SourceRef func_source, std::vector<AValue> args,
                         PyObject* kwnames) {
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  Py_ssize_t npos = static_cast<Py_ssize_t>(args.size()) - nkw;
  if (!push_frame(func, func_source)) return false;
  PyCodeObject* code = fr().code;
  std::string fname = PyUnicode_AsUTF8(code->co_qualname);
  int argc = code->co_argcount;
  if (npos > argc)
    return fail(AbortCode::UserError, fmt::format("{}() takes {} positional arguments but {} were given",
                                                  fname, argc, npos));
  std::vector<bool> set(static_cast<size_t>(argc), false);
  for (Py_ssize_t i = 0; i < npos; ++i) {
    fr().locals[static_cast<size_t>(i)] = std::move(args[static_cast<size_t>(i)]);
    set[static_cast<size_t>(i)] = true;
  }
  for (Py_ssize_t k = 0; k < nkw; ++k) {
    std::string key = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, k));
    int slot = -1;
    for (int i = 0; i < argc; ++i)
      if (local_name(i) == key) slot = i;
    if (slot < 0 || set[static_cast<size_t>(slot)])
      return fail(AbortCode::UserError,
                  fmt::format("{}() got an unexpected or repeated keyword argument '{}'", fname, key));
    fr().locals[static_cast<size_t>(slot)] = std::move(args[static_cast<size_t>(npos + k)]);
    set[static_cast<size_t>(slot)] = true;
  }
  PyObject* defaults = PyFunction_GET_DEFAULTS(func);
  Py_ssize_t ndef = defaults ? PyTuple_GET_SIZE(defaults) : 0;
  for (int i = 0; i < argc; ++i) {
    if (set[static_cast<size_t>(i)]) continue;
    Py_ssize_t d = i - (argc - ndef);
    if (d < 0)
      return fail(AbortCode::UserError,
                  fmt::format("{}() missing required argument '{}'", fname, local_name(i)));
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

std::optional<AValue> Tracer::value_from_object(PyObject* o, SourceRef src) {
  ir::Graph& g = trace_.graph;
  bool evaluable = src->evaluable();
  int arg = src->kind == Source::Kind::Arg ? src->arg_index : -1;
  auto input = [&](ir::DType dt, std::vector<int64_t> dims, ir::ParamLayout layout,
                   InputBinding::Kind kind, Box box) {
    ir::ValueId p = g.add_param(ir::Type::of(dt, dims), layout, loc_);
    trace_.inputs.push_back({kind, arg, dt, src});
    AValue v = tensor(p, box);
    v.arg = arg;
    v.pristine = true;
    v.source = src;
    return v;
  };
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
    guard_object(Guard::Kind::Array, src, std::move(guard));
    return input(*dt, dims, contiguous ? ir::ParamLayout::Contiguous : ir::ParamLayout::Strided,
                 InputBinding::Kind::ArrayData, Box::Array);
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
  if (PyLong_CheckExact(o) || PyUnicode_CheckExact(o) || PyFloat_CheckExact(o)) {
    // Ints may decide shapes and trip counts: specialized by value.
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


ir::ValueId Tracer::cast(ir::ValueId v, ir::DType dt) {
  const ir::Type& t = trace_.graph.type(v);
  if (t.dtype == dt) return v;
  return trace_.graph.add_op(ir::Op::Cast, t.with_dtype(dt), {v}, loc_);
}

// An operand as an IR value of dtype `dt` (NumPy's resolved loop dtype).
std::optional<ir::ValueId> Tracer::to_ir(const AValue& v, ir::DType dt) {
  ir::Graph& g = trace_.graph;
  if (v.is_tensor()) return cast(v.v, dt);
  if (!v.is_object()) {
    fail(AbortCode::UnsupportedValue, fmt::format("{} used as an array operand", what(v)));
    return std::nullopt;
  }
  PyObject* o = v.obj;
  if (PyBool_Check(o)) return cast(g.add_const_int(ir::DType::Bool, o == Py_True, loc_), dt);
  if (PyFloat_CheckExact(o)) return cast(g.add_const_float(ir::DType::F64, PyFloat_AS_DOUBLE(o), loc_), dt);
  if (PyLong_CheckExact(o)) {
    int overflow = 0;
    long long x = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow == 0 && !ir::is_float(dt)) {
      // NumPy's probe already rejected values out of range for integer loops.
      if (ir::is_unsigned_int(dt) && x < 0) {
        fail(AbortCode::UnsupportedValue, "negative Python int in an unsigned loop");
        return std::nullopt;
      }
      return g.add_const_int(dt, static_cast<int64_t>(x), loc_);
    }
    if (overflow > 0 && dt == ir::DType::U64) {
      unsigned long long ux = PyLong_AsUnsignedLongLong(o);
      if (!PyErr_Occurred()) return g.add_const_int(dt, static_cast<int64_t>(ux), loc_);
      PyErr_Clear();
    }
    if (overflow == 0 && ir::is_float(dt) && std::llabs(x) <= (1LL << 53))
      return cast(g.add_const_float(ir::DType::F64, static_cast<double>(x), loc_), dt);
    fail(AbortCode::UnsupportedValue,
         fmt::format("Python int {} does not convert exactly to {}",
                     PyUnicode_AsUTF8(PyObject_Str(o)), ir::dtype_numpy_name(dt)));
    PyErr_Clear();
    return std::nullopt;
  }
  if (PyArray_IsScalar(o, Generic)) {
    PyArray_Descr* d = PyArray_DescrFromScalar(o);
    auto sdt = d ? dtype_from_typenum(d->type_num) : std::nullopt;
    Py_XDECREF(d);
    if (sdt) {
      alignas(16) unsigned char buf[16] = {};
      PyArray_ScalarAsCtype(o, buf);
      ir::ValueId c;
      switch (*sdt) {
        case ir::DType::F32: {
          float f;
          std::memcpy(&f, buf, 4);
          c = g.add_const_float(*sdt, f, loc_);
          break;
        }
        case ir::DType::F64: {
          double f;
          std::memcpy(&f, buf, 8);
          c = g.add_const_float(*sdt, f, loc_);
          break;
        }
        default: {
          int64_t x = 0;
          int size = ir::dtype_size(*sdt);
          if (ir::is_signed_int(*sdt)) {
            switch (size) {
              case 1: x = *reinterpret_cast<int8_t*>(buf); break;
              case 2: x = *reinterpret_cast<int16_t*>(buf); break;
              case 4: x = *reinterpret_cast<int32_t*>(buf); break;
              default: x = *reinterpret_cast<int64_t*>(buf); break;
            }
          } else {
            uint64_t u = 0;
            std::memcpy(&u, buf, static_cast<size_t>(size));
            x = static_cast<int64_t>(u);
          }
          c = g.add_const_int(*sdt, x, loc_);
        }
      }
      return cast(c, dt);
    }
  }
  fail(AbortCode::UnsupportedValue, fmt::format("{} used as an array operand", what(v)));
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// NumPy semantics: ask NumPy itself for the loop dtypes (NEP 50 promotion, weak Python scalars)
// and run the call on empty probes so that whatever NumPy would raise aborts the trace (the
// eager run then raises it for real).

PyObject* Tracer::dtype_spec(const AValue& v) {
  if (v.is_tensor()) {
    if (v.box == Box::PyFloat) {
      Py_INCREF(&PyFloat_Type);
      return reinterpret_cast<PyObject*>(&PyFloat_Type);
    }
    return reinterpret_cast<PyObject*>(PyArray_DescrFromType(typenum_from_dtype(v.type.dtype)));
  }
  PyObject* o = v.obj;
  if (PyBool_Check(o)) return reinterpret_cast<PyObject*>(PyArray_DescrFromType(NPY_BOOL));
  if (PyFloat_CheckExact(o) || PyLong_CheckExact(o)) {
    Py_INCREF(Py_TYPE(o));
    return reinterpret_cast<PyObject*>(Py_TYPE(o));
  }
  if (PyArray_IsScalar(o, Generic)) return reinterpret_cast<PyObject*>(PyArray_DescrFromScalar(o));
  return nullptr;
}

PyObject* Tracer::probe(const AValue& v) {
  if (v.is_tensor()) {
    if (v.box == Box::PyFloat) return PyFloat_FromDouble(1.0);
    npy_intp zero = 0;
    PyArray_Descr* d = PyArray_DescrFromType(typenum_from_dtype(v.type.dtype));
    return PyArray_Empty(1, &zero, d, 0);  // steals d
  }
  Py_INCREF(v.obj);
  return v.obj;
}

bool Tracer::resolve_loop(const UfuncInfo& u, const std::vector<AValue>& operands,
                          std::vector<ir::DType>& loop) {
  // 1. The call itself on empty probes: raises exactly when NumPy would (bad dtypes, Python
  //    ints out of range for the array dtype, ...).
  PyObject* probes = PyTuple_New(static_cast<Py_ssize_t>(operands.size()));
  PyObject* specs = PyTuple_New(static_cast<Py_ssize_t>(operands.size()) + 1);
  for (size_t i = 0; i < operands.size(); ++i) {
    PyObject* p = probe(operands[i]);
    PyObject* s = dtype_spec(operands[i]);
    if (!p || !s) {
      Py_XDECREF(p);
      Py_XDECREF(s);
      Py_DECREF(probes);
      Py_DECREF(specs);
      PyErr_Clear();
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("np.{} of {} is not traced", u.name, what(operands[i])));
    }
    PyTuple_SET_ITEM(probes, static_cast<Py_ssize_t>(i), p);
    PyTuple_SET_ITEM(specs, static_cast<Py_ssize_t>(i), s);
  }
  Py_INCREF(Py_None);
  PyTuple_SET_ITEM(specs, static_cast<Py_ssize_t>(operands.size()), Py_None);
  PyObject* r = PyObject_Call(u.ufunc, probes, nullptr);
  Py_DECREF(probes);
  if (!r) {
    Py_DECREF(specs);
    return fail(AbortCode::UserError, fmt::format("np.{} raises {}", u.name, exception_text()));
  }
  Py_DECREF(r);
  // 2. The loop dtypes NumPy resolves (inputs are cast to these; the last is the output).
  PyObject* dts = PyObject_CallMethod(u.ufunc, "resolve_dtypes", "(O)", specs);
  Py_DECREF(specs);
  if (!dts || !PyTuple_Check(dts)) {
    Py_XDECREF(dts);
    return fail(AbortCode::UserError, fmt::format("np.{} raises {}", u.name, exception_text()));
  }
  loop.clear();
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(dts); ++i) {
    auto* d = reinterpret_cast<PyArray_Descr*>(PyTuple_GET_ITEM(dts, i));
    auto dt = dtype_from_typenum(d->type_num);
    if (!dt) {
      Py_DECREF(dts);
      return fail(AbortCode::UnsupportedDtype,
                  fmt::format("np.{} computes in a dtype the JIT does not compile ({})", u.name,
                              d->type));
    }
    loop.push_back(*dt);
  }
  Py_DECREF(dts);
  return true;
}

// Operators among plain Python numbers follow Python, not NumPy.
bool Tracer::python_scalar_op(const UfuncInfo& u, std::vector<AValue>& operands,
                              bool python_operator) {
  bool all_objects = true;
  for (const AValue& v : operands) all_objects &= v.is_object();
  if (all_objects) {
    // Constants (or value-guarded ints): compute now, in Python or NumPy itself.
    PyObject* r = nullptr;
    if (python_operator) {
      PyObject* a = operands[0].obj;
      PyObject* b = operands.size() > 1 ? operands[1].obj : nullptr;
      switch (u.op) {
        case ir::Op::Add: r = PyNumber_Add(a, b); break;
        case ir::Op::Sub: r = PyNumber_Subtract(a, b); break;
        case ir::Op::Mul: r = PyNumber_Multiply(a, b); break;
        case ir::Op::Div: r = PyNumber_TrueDivide(a, b); break;
        case ir::Op::FloorDiv: r = PyNumber_FloorDivide(a, b); break;
        case ir::Op::Mod: r = PyNumber_Remainder(a, b); break;
        case ir::Op::Pow: r = PyNumber_Power(a, b, Py_None); break;
        case ir::Op::And: r = PyNumber_And(a, b); break;
        case ir::Op::Or: r = PyNumber_Or(a, b); break;
        case ir::Op::Xor: r = PyNumber_Xor(a, b); break;
        case ir::Op::Neg: r = PyNumber_Negative(a); break;
        case ir::Op::Cast: r = PyNumber_Positive(a); break;
        case ir::Op::Not: r = PyNumber_Invert(a); break;
        case ir::Op::Abs: r = PyNumber_Absolute(a); break;
        case ir::Op::Lt: r = PyObject_RichCompare(a, b, Py_LT); break;
        case ir::Op::Le: r = PyObject_RichCompare(a, b, Py_LE); break;
        case ir::Op::Eq: r = PyObject_RichCompare(a, b, Py_EQ); break;
        case ir::Op::Ne: r = PyObject_RichCompare(a, b, Py_NE); break;
        case ir::Op::Gt: r = PyObject_RichCompare(a, b, Py_GT); break;
        case ir::Op::Ge: r = PyObject_RichCompare(a, b, Py_GE); break;
        default: break;
      }
    } else {
      PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(operands.size()));
      for (size_t i = 0; i < operands.size(); ++i) {
        Py_INCREF(operands[i].obj);
        PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), operands[i].obj);
      }
      r = PyObject_Call(u.ufunc, t, nullptr);
      Py_DECREF(t);
    }
    if (!r) return fail(AbortCode::UserError, fmt::format("{} raises {}", u.name, exception_text()));
    if (PyArray_Check(r)) {
      Py_DECREF(r);
      return fail(AbortCode::UnsupportedValue, "an array constant computed from constants");
    }
    push(object(r, Source::constant()));
    Py_DECREF(r);
    return true;
  }
  return false;  // not handled here
}

bool Tracer::apply_ufunc(const UfuncInfo& u, std::vector<AValue> operands, bool python_operator) {
  for (const AValue& v : operands)
    if (!v.is_tensor() && !v.is_object())
      return fail(AbortCode::UnsupportedValue, fmt::format("np.{} of {}", u.name, what(v)));
  if (python_scalar_op(u, operands, python_operator)) return true;
  if (abort_) return false;
  for (const AValue& v : operands)
    if (v.is_object() && !is_py_scalar(v.obj) && !PyArray_IsScalar(v.obj, Generic))
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("np.{} of {} is not traced", u.name, what(v)));

  // Python semantics among Python floats: only the operators whose results cannot raise.
  bool python_float_math = python_operator;
  for (const AValue& v : operands) {
    if (v.is_tensor() && v.box != Box::PyFloat) python_float_math = false;
    if (v.is_object() && !is_py_scalar(v.obj)) python_float_math = false;
  }
  if (python_float_math && u.op != ir::Op::Add && u.op != ir::Op::Sub && u.op != ir::Op::Mul &&
      u.op != ir::Op::Neg && u.op != ir::Op::Cast && u.op != ir::Op::Abs)
    return fail(AbortCode::UnsupportedValue,
                fmt::format("Python float '{}' on runtime values is not traced yet", u.name));

  std::vector<ir::DType> loop;
  if (!resolve_loop(u, operands, loop)) return false;
  std::vector<ir::Dim> shape;
  for (const AValue& v : operands) {
    if (!v.is_tensor()) continue;
    auto b = ir::broadcast_shapes(shape, v.type.shape);
    if (!b)
      return fail(AbortCode::UserError,
                  fmt::format("operands could not be broadcast together with shapes {} {}",
                              shape_text(shape), shape_text(v.type.shape)));
    shape = *b;
  }
  ir::DType out_dt = loop.back();
  ir::Graph& g = trace_.graph;
  ir::Op op = u.op;

  // Comparisons with a Python int outside the loop dtype's range: NumPy 2 compares the exact
  // values (int8 > 1000 is all False). Compare in int64 when that holds both sides exactly.
  if (has_trait(op, ir::kCompare)) {
    for (size_t i = 0; i < operands.size(); ++i) {
      const AValue& v = operands[i];
      if (!v.is_object() || !PyLong_CheckExact(v.obj) || ir::is_float(loop[i])) continue;
      int overflow = 0;
      long long x = PyLong_AsLongLongAndOverflow(v.obj, &overflow);
      PyErr_Clear();
      bool fits = overflow == 0 && x >= int_min(loop[i]) && (x < 0 || static_cast<unsigned long long>(x) <= int_max(loop[i]));
      if (fits) continue;
      if (overflow != 0 || loop[i] == ir::DType::U64 || loop[i] == ir::DType::I64)
        return fail(AbortCode::UnsupportedValue, "comparison with a Python int outside the int64 range");
      for (ir::DType& d : loop)
        if (&d != &loop.back()) d = ir::DType::I64;
    }
  }
  for (size_t i = 1; i + 1 < loop.size(); ++i)
    if (loop[i] != loop[0] && op != ir::Op::Where)
      return fail(AbortCode::UnsupportedDtype,
                  fmt::format("np.{} with mixed loop dtypes {} and {} is not compiled", u.name,
                              ir::dtype_numpy_name(loop[0]), ir::dtype_numpy_name(loop[i])));

  if (op == ir::Op::Pow) {
    const AValue& base = operands[0];
    const AValue& e = operands[1];
    bool array_base = base.is_tensor() && base.box == Box::Array;
    if (!ir::is_float(out_dt)) {
      // Integer power: a negative exponent raises in NumPy; only constants are compiled.
      double ev = e.is_object() && PyLong_Check(e.obj) ? PyLong_AsDouble(e.obj) : -1;
      PyErr_Clear();
      if (!(ev >= 0))
        return fail(AbortCode::UnsupportedValue,
                    "integer power with a negative or runtime exponent is not compiled (it may raise)");
    } else if (array_base && e.is_object() && (PyFloat_Check(e.obj) || PyLong_Check(e.obj))) {
      // NumPy's power loop takes sqrt for a scalar exponent of 0.5 (it differs from pow() at
      // -0.0 and -inf); 2.0 is x*x, the same bits as pow.
      double ev = PyFloat_Check(e.obj) ? PyFloat_AsDouble(e.obj) : PyLong_AsDouble(e.obj);
      PyErr_Clear();
      if (ev == 0.5 || ev == 2.0) {
        auto x = to_ir(base, loop[0]);
        if (!x) return false;
        ir::ValueId r = ev == 0.5 ? g.add_op(ir::Op::Sqrt, ir::Type(out_dt, shape), {*x}, loc_)
                                  : g.add_op(ir::Op::Mul, ir::Type(out_dt, shape), {*x, *x}, loc_);
        push(tensor(r, shape.empty() ? Box::NpScalar : Box::Array));
        return true;
      }
    } else if (array_base && e.is_tensor() && e.type.is_scalar()) {
      // A runtime scalar exponent: the same fast path, decided per call.
      auto x = to_ir(base, loop[0]);
      auto ex = x ? to_ir(e, loop[1]) : std::nullopt;
      if (!ex) return false;
      ir::Type rt(out_dt, shape);
      ir::ValueId half = g.add_const_float(loop[1], 0.5, loc_);
      ir::ValueId is_half = g.add_op(ir::Op::Eq, ir::Type::scalar(ir::DType::Bool), {*ex, half}, loc_);
      ir::ValueId sq = g.add_op(ir::Op::Sqrt, rt, {*x}, loc_);
      ir::ValueId pw = g.add_op(ir::Op::Pow, rt, {*x, *ex}, loc_);
      push(tensor(g.add_op(ir::Op::Where, rt, {is_half, sq, pw}, loc_),
                  shape.empty() ? Box::NpScalar : Box::Array));
      return true;
    }
  }
  std::vector<ir::ValueId> ins;
  for (size_t i = 0; i < operands.size(); ++i) {
    auto x = to_ir(operands[i], loop[i]);
    if (!x) return false;
    ins.push_back(*x);
  }
  ir::ValueId r;
  if (op == ir::Op::Cast) {  // np.positive: a copy in the loop dtype
    r = g.add_op(ir::Op::Cast, ir::Type(out_dt, shape), {ins[0]}, loc_);
  } else if (op == ir::Op::Mul && ins.size() == 1) {  // np.square
    r = g.add_op(ir::Op::Mul, ir::Type(out_dt, shape), {ins[0], ins[0]}, loc_);
  } else {
    r = g.add_op(op, ir::Type(out_dt, shape), ins, loc_);
  }
  Box box = python_float_math ? Box::PyFloat : shape.empty() ? Box::NpScalar : Box::Array;
  push(tensor(r, box));
  return true;
}

bool Tracer::apply_where(std::vector<AValue> operands) {
  if (operands.size() != 3)
    return fail(AbortCode::UnsupportedCall, "np.where with one argument (nonzero) is not traced");
  bool all_objects = true;
  for (const AValue& v : operands) {
    if (!v.is_tensor() && !v.is_object())
      return fail(AbortCode::UnsupportedValue, fmt::format("np.where of {}", what(v)));
    all_objects &= v.is_object();
  }
  if (all_objects) return fail(AbortCode::UnsupportedValue, "np.where of constants");
  // Result dtype: NumPy's own answer for these operand kinds.
  PyObject* t = PyTuple_New(3);
  for (int i = 0; i < 3; ++i) {
    PyObject* p = probe(operands[static_cast<size_t>(i)]);
    if (!p) {
      Py_DECREF(t);
      PyErr_Clear();
      return fail(AbortCode::UnsupportedValue, "np.where operand");
    }
    PyTuple_SET_ITEM(t, i, p);
  }
  PyObject* r = PyObject_Call(np_->where, t, nullptr);
  Py_DECREF(t);
  if (!r) return fail(AbortCode::UserError, fmt::format("np.where raises {}", exception_text()));
  auto dt = PyArray_Check(r) ? dtype_from_typenum(PyArray_TYPE(reinterpret_cast<PyArrayObject*>(r)))
                             : std::nullopt;
  Py_DECREF(r);
  if (!dt) return fail(AbortCode::UnsupportedDtype, "np.where result dtype is not compiled");
  std::vector<ir::Dim> shape;
  for (const AValue& v : operands) {
    if (!v.is_tensor()) continue;
    auto b = ir::broadcast_shapes(shape, v.type.shape);
    if (!b)
      return fail(AbortCode::UserError,
                  fmt::format("operands could not be broadcast together with shapes {} {}",
                              shape_text(shape), shape_text(v.type.shape)));
    shape = *b;
  }
  auto c = to_ir(operands[0], ir::DType::Bool);
  auto x = c ? to_ir(operands[1], *dt) : std::nullopt;
  auto y = x ? to_ir(operands[2], *dt) : std::nullopt;
  if (!y) return false;
  ir::ValueId w = trace_.graph.add_op(ir::Op::Where, ir::Type(*dt, shape), {*c, *x, *y}, loc_);
  push(tensor(w, Box::Array));  // np.where returns an ndarray, 0-d included
  return true;
}

// ---------------------------------------------------------------------------------------------
// Output

bool Tracer::emit_output(const AValue& v) {
  std::vector<OutputNode>& out = trace_.outputs;
  switch (v.kind) {
    case AValue::Kind::Tuple: {
      OutputNode n;
      n.kind = OutputNode::Kind::Tuple;
      n.index = static_cast<int>(v.items.size());
      out.push_back(n);
      for (const AValue& item : v.items)
        if (!emit_output(item)) return false;
      return true;
    }
    case AValue::Kind::Object: {
      OutputNode n;
      n.kind = OutputNode::Kind::Constant;
      Py_INCREF(v.obj);
      n.constant = v.obj;
      out.push_back(n);
      return true;
    }
    case AValue::Kind::Tensor: {
      OutputNode n;
      if (v.pristine && v.arg >= 0) {
        n.kind = OutputNode::Kind::Arg;
        n.index = v.arg;
      } else if (v.pristine) {
        n.kind = OutputNode::Kind::Fetch;  // the same object, fetched again through its source
        n.source = v.source;
      } else {
        std::vector<ir::ValueId>& results = trace_.graph.results;
        int k = -1;
        for (size_t i = 0; i < results.size(); ++i)
          if (results[i] == v.v) k = static_cast<int>(i);
        if (k < 0) {
          results.push_back(v.v);
          k = static_cast<int>(results.size() - 1);
        }
        n.kind = OutputNode::Kind::Result;
        n.index = k;
        n.box = v.box;
      }
      out.push_back(n);
      return true;
    }
    default:
      break;
  }
  return fail(AbortCode::UnsupportedValue, "returns an unsupported value");
}

// ---------------------------------------------------------------------------------------------
// Handlers

bool Tracer::op_load_fast(const Instruction& in) {
  const AValue& v = fr().locals[static_cast<size_t>(in.arg)];
  if (v.kind == AValue::Kind::Null)
    return fail(AbortCode::UserError,
                fmt::format("local variable '{}' referenced before assignment", local_name(in.arg)));
  push(v);
  return true;
}

bool Tracer::op_store_fast(const Instruction& in) {
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

bool Tracer::op_load_attr(const Instruction& in, bool method) {
  AValue base = pop();
  std::string n = name_at(in.arg);
  if (base.is_tensor()) return tensor_attribute(base, n, method);
  if (!base.is_object())
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("attribute '.{}' of {} is not traced yet", n, what(base)));
  PyObject* name = PyTuple_GET_ITEM(fr().code->co_names, in.arg);
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
    push(AValue{});  // NULL: a plain callable
  }
  push(std::move(*out));
  return true;
}

bool Tracer::tensor_attribute(const AValue& base, const std::string& name, bool method) {
  const ir::Type& t = base.type;
  if (name == "astype" || name == "copy") {
    AValue m;
    m.kind = AValue::Kind::TensorMethod;
    m.method = name;
    m.items.push_back(base);
    m.source = Source::computed();
    if (method) push(AValue{});
    push(std::move(m));
    return true;
  }
  if (method)
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("method '.{}()' of an array is not traced yet", name));
  PyObject* v = nullptr;
  if (name == "shape") {
    v = PyTuple_New(t.rank());
    for (int i = 0; i < t.rank(); ++i) PyTuple_SET_ITEM(v, i, PyLong_FromLongLong(t.shape[static_cast<size_t>(i)].size));
  } else if (name == "ndim") {
    v = PyLong_FromLong(t.rank());
  } else if (name == "size") {
    v = PyLong_FromLongLong(*t.static_numel());
  } else if (name == "dtype") {
    v = reinterpret_cast<PyObject*>(PyArray_DescrFromType(typenum_from_dtype(t.dtype)));
  } else {
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("attribute '.{}' of an array is not traced yet", name));
  }
  // Shapes are static and guarded, so these are constants of this compiled version.
  push(object(v, Source::constant()));
  Py_DECREF(v);
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
  if (callable.kind == AValue::Kind::TensorMethod) {
    if (nkw > 0)
      return fail(AbortCode::UnsupportedCall,
                  fmt::format("array .{}() with keyword arguments is not traced yet", callable.method));
    return call_tensor_method(callable, std::move(args));
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
  if (PyFunction_Check(f)) return inline_call(f, callable.source, std::move(args), kwnames);
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
  if (nkw > 0)
    return fail(AbortCode::UnsupportedCall,
                fmt::format("{}(...) with keyword arguments is not traced yet", fname));
  if (const UfuncInfo* u = np_->find_ufunc(f)) {
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
bool Tracer::call_builtin(PyObject* f, const std::string& fname, std::vector<AValue>& args,
                          bool& handled) {
  handled = true;
  bool all_objects = true;
  for (const AValue& a : args) all_objects &= a.is_object();
  PyObject* builtins = fr().builtins;
  auto is_builtin = [&](const char* name) { return f == PyDict_GetItemString(builtins, name); };
  if (is_builtin("print"))
    return fail(AbortCode::SideEffect, "print(...) is a side effect: the function runs eagerly");
  if (is_builtin("abs") && args.size() == 1 && !all_objects)
    return apply_ufunc(*np_->ufunc_named("absolute"), std::move(args), true);
  if (is_builtin("len") && args.size() == 1) {
    const AValue& a = args[0];
    Py_ssize_t n = -1;
    if (a.kind == AValue::Kind::Tuple) n = static_cast<Py_ssize_t>(a.items.size());
    else if (a.is_tensor() && a.type.rank() > 0) n = a.type.shape[0].size;
    else if (a.is_object()) {
      n = PyObject_Length(a.obj);
      if (n < 0) return fail(AbortCode::UserError, exception_text());
      if (!PyTuple_CheckExact(a.obj) && !PyUnicode_CheckExact(a.obj) && a.source &&
          a.source->evaluable()) {
        Guard g;
        g.type = Py_TYPE(a.obj);
        g.length = n;
        guard_object(Guard::Kind::Len, a.source, std::move(g));
      }
    }
    if (n < 0) return fail(AbortCode::UserError, "len() of an unsized object");
    PyObject* v = PyLong_FromSsize_t(n);
    push(object(v, Source::constant()));
    Py_DECREF(v);
    return true;
  }
  if ((is_builtin("enumerate") || is_builtin("zip")) && !args.empty()) {
    std::vector<std::vector<AValue>> seqs;
    for (const AValue& a : args) {
      auto items = items_of(a);
      if (!items) return false;
      seqs.push_back(std::move(*items));
    }
    AValue it;
    it.kind = AValue::Kind::Iterator;
    it.arg = 0;
    it.source = Source::computed();
    bool enumerate = is_builtin("enumerate");
    if (enumerate && seqs.size() != 1) return fail(AbortCode::UnsupportedCall, "enumerate(x, start)");
    size_t n = seqs[0].size();
    for (const auto& sq : seqs) n = std::min(n, sq.size());
    for (size_t i = 0; i < n; ++i) {
      AValue t;
      t.kind = AValue::Kind::Tuple;
      t.source = Source::computed();
      if (enumerate) {
        PyObject* idx = PyLong_FromSize_t(i);
        t.items.push_back(object(idx, Source::constant()));
        Py_DECREF(idx);
      }
      for (const auto& sq : seqs) t.items.push_back(sq[i]);
      it.items.push_back(std::move(t));
    }
    push(std::move(it));
    return true;
  }
  if (is_builtin("isinstance") && args.size() == 2 && args[1].is_object() &&
      (args[0].is_tensor() || args[0].is_object())) {
    PyObject* probe_obj = args[0].is_tensor() ? probe(args[0]) : (Py_INCREF(args[0].obj), args[0].obj);
    if (args[0].is_tensor() && args[0].box == Box::NpScalar) {
      Py_DECREF(probe_obj);
      PyArray_Descr* d = PyArray_DescrFromType(typenum_from_dtype(args[0].type.dtype));
      alignas(16) char zero[16] = {};
      probe_obj = PyArray_Scalar(zero, d, nullptr);
      Py_DECREF(d);
    }
    int r = probe_obj ? PyObject_IsInstance(probe_obj, args[1].obj) : -1;
    Py_XDECREF(probe_obj);
    if (r < 0) return fail(AbortCode::UserError, exception_text());
    push(object(r ? Py_True : Py_False, Source::constant()));
    return true;
  }
  // NumPy scalar types as conversions: np.float32(x).
  if (PyType_Check(f) && PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(f), &PyGenericArrType_Type) &&
      args.size() == 1 && args[0].is_tensor()) {
    PyArray_Descr* d = PyArray_DescrFromTypeObject(f);
    auto dt = d ? dtype_from_typenum(d->type_num) : std::nullopt;
    Py_XDECREF(d);
    PyErr_Clear();
    if (!dt || !args[0].type.is_scalar())
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() of an array is not traced yet", fname));
    if (ir::is_float(args[0].type.dtype) && !ir::is_float(*dt) && !ir::is_bool(*dt))
      return fail(AbortCode::UnsupportedCall, "float to integer conversion is not compiled yet");
    push(tensor(trace_.graph.add_op(ir::Op::Cast, args[0].type.with_dtype(*dt), {args[0].v}, loc_),
                Box::NpScalar));
    return true;
  }
  // Pure builtins on Python values: evaluate now.
  static const char* kPure[] = {"abs", "min", "max", "float", "int", "bool", "round", "range",
                                "tuple", "divmod", "pow", "isinstance", "sum"};
  bool pure = false;
  for (const char* name : kPure) pure |= is_builtin(name);
  pure |= PyType_Check(f) && PyType_IsSubtype(reinterpret_cast<PyTypeObject*>(f), &PyGenericArrType_Type);
  if (pure && all_objects) {
    PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(args.size()));
    for (size_t i = 0; i < args.size(); ++i) {
      Py_INCREF(args[i].obj);
      PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), args[i].obj);
    }
    PyObject* r = PyObject_Call(f, t, nullptr);
    Py_DECREF(t);
    if (!r) return fail(AbortCode::UserError, fmt::format("{}() raises {}", fname, exception_text()));
    push(object(r, Source::constant()));
    Py_DECREF(r);
    return true;
  }
  if (pure)
    return fail(AbortCode::UnsupportedCall,
                fmt::format("{}() of an array value (data-dependent) is not traced yet", fname));
  handled = false;
  return true;
}

bool Tracer::call_tensor_method(const AValue& m, std::vector<AValue> args) {
  const AValue& x = m.items[0];
  if (m.method == "copy" && args.empty()) {
    push(tensor(trace_.graph.add_op(ir::Op::Cast, x.type, {x.v}, loc_), Box::Array));
    return true;
  }
  if (m.method == "astype" && args.size() == 1 && args[0].is_object()) {
    PyArray_Descr* d = nullptr;
    if (!PyArray_DescrConverter(args[0].obj, &d)) return fail(AbortCode::UserError, exception_text());
    auto dt = dtype_from_typenum(d->type_num);
    Py_DECREF(d);
    if (!dt) return fail(AbortCode::UnsupportedDtype, "astype to a dtype the JIT does not compile");
    if (ir::is_float(x.type.dtype) && !ir::is_float(*dt) && !ir::is_bool(*dt))
      return fail(AbortCode::UnsupportedCall, "float to integer astype is not compiled yet");
    push(tensor(trace_.graph.add_op(ir::Op::Cast, x.type.with_dtype(*dt), {x.v}, loc_), Box::Array));
    return true;
  }
  return fail(AbortCode::UnsupportedCall, fmt::format("array .{}() with these arguments", m.method));
}

bool Tracer::op_binary_op(const Instruction& in) {
  AValue rhs = pop();
  AValue lhs = pop();
  if (in.arg >= 13 && lhs.is_tensor() && lhs.box == Box::Array)
    return fail(AbortCode::UnsupportedBytecode,
                fmt::format("in-place '{}' on an array is not traced yet", binary_op_symbol(in.arg)));
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
  const char* name = ufunc_for_compare_op(in.arg);
  const UfuncInfo* u = name ? np_->ufunc_named(name) : nullptr;
  if (!u) return fail(AbortCode::UnsupportedBytecode, "comparison operator");
  return apply_ufunc(*u, {std::move(lhs), std::move(rhs)}, true);
}

bool Tracer::op_unary(const Instruction& in) {
  AValue x = pop();
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
  std::vector<AValue> items;
  if (s.kind == AValue::Kind::Tuple) {
    items = s.items;
  } else if (s.is_object() && PyTuple_CheckExact(s.obj)) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(s.obj); ++i)
      items.push_back(object(PyTuple_GET_ITEM(s.obj, i), Source::constant()));
  } else {
    return fail(AbortCode::UnsupportedValue, fmt::format("unpacking {} is not traced yet", what(s)));
  }
  if (static_cast<int>(items.size()) != in.arg)
    return fail(AbortCode::UserError, fmt::format("cannot unpack {} values into {}", items.size(), in.arg));
  for (auto it = items.rbegin(); it != items.rend(); ++it) push(*it);
  return true;
}

std::optional<bool> Tracer::truth(const AValue& v) {
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
  auto t = truth(v);
  if (!t) return false;
  push(object(*t ? Py_True : Py_False, Source::computed()));
  return true;
}

// Branches on Python values the guards pin down (constants, value-guarded args) are followed
// statically; the guards make the choice safe.
bool Tracer::op_pop_jump(const Instruction& in) {
  AValue v = pop();
  bool jump = false;
  if (in.op == COp::PopJumpIfNone || in.op == COp::PopJumpIfNotNone) {
    bool is_none = v.is_object() && v.obj == Py_None;
    jump = in.op == COp::PopJumpIfNone ? is_none : !is_none;
  } else {
    auto t = truth(v);
    if (!t) return false;
    jump = in.op == COp::PopJumpIfTrue ? *t : !*t;
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
  return emit_output(v);
}

std::optional<std::vector<AValue>> Tracer::items_of(const AValue& v) {
  std::vector<AValue> items;
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
  auto items = items_of(v);
  if (!items) return false;
  AValue it;
  it.kind = AValue::Kind::Iterator;
  it.arg = 0;
  it.items = std::move(*items);
  it.source = Source::computed();
  push(std::move(it));
  return true;
}

bool Tracer::op_for_iter(const Instruction& in) {
  AValue& it = fr().stack.back();
  if (it.kind != AValue::Kind::Iterator)
    return fail(AbortCode::UnsupportedValue, "for-loop over an unknown iterator");
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
    if (!p.is_object())
      return fail(AbortCode::UnsupportedValue, "slice bounds computed from arrays");
  PyObject* sl = PySlice_New(parts[0].obj, parts[1].obj, parts.size() > 2 ? parts[2].obj : nullptr);
  if (!sl) return fail(AbortCode::UserError, exception_text());
  push(object(sl, Source::constant()));
  Py_DECREF(sl);
  return true;
}

bool Tracer::op_binary_subscr(const Instruction& in) {
  AValue key = pop();
  AValue c = pop();
  if (c.is_tensor())
    return fail(AbortCode::UnsupportedBytecode, "indexing and slicing arrays is not traced yet");
  if (!key.is_object())
    return fail(AbortCode::UnsupportedValue, "an index computed from arrays");
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
  const AValue& v = fr().locals[static_cast<size_t>(in.arg)];
  if (v.kind == AValue::Kind::Null)
    return fail(AbortCode::UserError, "free variable referenced before assignment");
  push(v);
  return true;
}

bool Tracer::step(const Instruction& in) {
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
    case COp::BinaryOp: return op_binary_op(in);
    case COp::CompareOp: return op_compare_op(in);
    case COp::UnaryNegative:
    case COp::UnaryInvert:
    case COp::UnaryPositive: return op_unary(in);
    case COp::BuildTuple: return op_build_tuple(in);
    case COp::UnpackSequence: return op_unpack_sequence(in);
    case COp::ToBool: return op_to_bool(in);
    case COp::Jump: fr().pc = in.target; return true;
    case COp::PopJumpIfFalse:
    case COp::PopJumpIfTrue:
    case COp::PopJumpIfNone:
    case COp::PopJumpIfNotNone: return op_pop_jump(in);
    case COp::ReturnValue: return op_return_value(in);
    case COp::GetIter: return op_get_iter(in);
    case COp::ForIter: return op_for_iter(in);
    case COp::BinarySubscr: return op_binary_subscr(in);
    case COp::BuildSlice: return op_build_slice(in);
    case COp::LoadDeref: return op_load_deref(in);
    case COp::CopyFreeVars: return true;  // the frame's free variables were bound on entry
    case COp::StoreSubscr:
    case COp::StoreAttr:
      return fail(AbortCode::SideEffect,
                  "assignment into an array or object (in-place update) is not traced yet");
    default:
      return fail(AbortCode::UnsupportedBytecode,
                  fmt::format("bytecode {} is not traced yet", in.raw_name));
  }
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
  if (push_frame(func_, Source::fixed(func_, trace_.graph.name)) && bind_arguments()) {
    constexpr int kMaxSteps = 200000;  // unrolled loops and inlined calls; a runaway trace aborts
    int steps = 0;
    while (!returned_ && !abort_) {
      if (fr().pc < 0 || fr().pc >= static_cast<int>(fr().instrs.size())) {
        fail(AbortCode::ControlFlow, "ran past the end of the bytecode");
        break;
      }
      if (++steps > kMaxSteps) {
        fail(AbortCode::ControlFlow, "trace too long");
        break;
      }
      cur_ = &fr().instrs[static_cast<size_t>(fr().pc++)];
      loc_.line = cur_->line >= 0 ? cur_->line : loc_.line;
      step(*cur_);
    }
  }
  if (PyErr_Occurred()) PyErr_Clear();
  if (abort_) return std::move(*abort_);
  return std::move(trace_);
}

}  // namespace

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

TraceResult trace_function(PyObject* func, PyObject* const* args, Py_ssize_t nargs) {
  Tracer t(func, args, nargs);
  return t.run();
}

}  // namespace tracejit::tracer
