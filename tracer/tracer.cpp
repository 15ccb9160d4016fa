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
  enum class Kind : uint8_t { Null, Object, Tensor, Tuple };
  Kind kind = Kind::Null;
  PyObject* obj = nullptr;       // Object: the live object (a reference is held by the Tracer)
  ir::ValueId v = ir::kNoValue;  // Tensor
  ir::Type type;                 // Tensor
  Box box = Box::Array;          // Tensor
  int arg = -1;                  // Tensor: the argument it is, unchanged (for identity returns)
  std::vector<AValue> items;     // Tuple
  SourceRef source;

  bool is_tensor() const { return kind == Kind::Tensor; }
  bool is_object() const { return kind == Kind::Object; }
};

// Python scalars NumPy treats as "weak" (NEP 50) and the tracer can hold as constants.
bool is_py_scalar(PyObject* o) {
  return PyFloat_CheckExact(o) || PyLong_CheckExact(o) || PyBool_Check(o);
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
  PyObject* func_;
  PyObject* const* args_;
  Py_ssize_t nargs_;
  PyCodeObject* code_ = nullptr;
  PyObject* globals_ = nullptr;
  PyObject* builtins_ = nullptr;
  const NumpySurface* np_ = nullptr;
  std::vector<Instruction> instrs_;
  std::vector<AValue> locals_;
  std::vector<AValue> stack_;
  std::vector<PyObject*> keep_;
  Trace trace_;
  std::optional<Abort> abort_;
  const Instruction* cur_ = nullptr;
  ir::SourceLoc loc_;
  bool returned_ = false;
  int pc_ = 0;

  // --- helpers
  bool fail(AbortCode code, std::string message) {
    if (!abort_) {
      Abort a;
      a.code = code;
      a.message = std::move(message);
      a.file = PyUnicode_AsUTF8(code_->co_filename);
      a.line = cur_ && cur_->line >= 0 ? cur_->line : code_->co_firstlineno;
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
    AValue v = std::move(stack_.back());
    stack_.pop_back();
    return v;
  }
  void push(AValue v) { stack_.push_back(std::move(v)); }
  std::string local_name(int i) const {
    PyObject* names = PyCode_GetVarnames(code_);
    std::string out = "?";
    if (names && i < PyTuple_GET_SIZE(names)) out = PyUnicode_AsUTF8(PyTuple_GET_ITEM(names, i));
    Py_XDECREF(names);
    PyErr_Clear();
    return out;
  }
  std::string name_at(int i) const { return PyUnicode_AsUTF8(PyTuple_GET_ITEM(code_->co_names, i)); }
  std::string what(const AValue& v) const {
    if (v.is_tensor()) return v.source && v.source->kind == Source::Kind::Arg ? v.source->describe()
                                                                               : "an array";
    if (v.is_object()) return fmt::format("a {}", Py_TYPE(v.obj)->tp_name);
    return "a tuple";
  }

  // --- arguments and values
  bool bind_arguments();
  bool bind_argument(int i, PyObject* o);
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
  bool op_to_bool(const Instruction& in);
  bool op_return_value(const Instruction& in);
  std::optional<bool> truth(const AValue& v);
};

// ---------------------------------------------------------------------------------------------
// Arguments

bool Tracer::bind_arguments() {
  int argc = code_->co_argcount;
  if (code_->co_flags & (CO_VARARGS | CO_VARKEYWORDS) || code_->co_kwonlyargcount > 0)
    return fail(AbortCode::UnsupportedArgument,
                "functions with *args, **kwargs or keyword-only parameters are not traced yet");
  if (code_->co_flags & (CO_GENERATOR | CO_COROUTINE | CO_ASYNC_GENERATOR))
    return fail(AbortCode::UnsupportedBytecode, "generators and coroutines are not traced");
  if (nargs_ != argc) return fail(AbortCode::UnsupportedArgument, "argument count mismatch");
  locals_.assign(static_cast<size_t>(code_->co_nlocalsplus), AValue{});
  for (int i = 0; i < argc; ++i)
    if (!bind_argument(i, args_[i])) return false;
  return true;
}

bool Tracer::bind_argument(int i, PyObject* o) {
  std::string name = local_name(i);
  SourceRef src = Source::arg(i, name);
  ir::Graph& g = trace_.graph;
  Guard guard;
  guard.arg = i;
  guard.source = src;
  if (PyArray_CheckExact(o)) {
    auto* a = reinterpret_cast<PyArrayObject*>(o);
    auto dt = dtype_from_typenum(PyArray_TYPE(a));
    if (!dt) {
      return fail(AbortCode::UnsupportedDtype,
                  fmt::format("{} has dtype {}, which is not compiled (runs eagerly)",
                              src->describe(), PyArray_DESCR(a)->type));
    }
    if (!(PyArray_FLAGS(a) & NPY_ARRAY_ALIGNED) || !PyArray_ISNOTSWAPPED(a))
      return fail(AbortCode::UnsupportedArgument,
                  fmt::format("{} is unaligned or not in native byte order", src->describe()));
    bool contiguous = PyArray_IS_C_CONTIGUOUS(a);
    guard.kind = Guard::Kind::Array;
    guard.typenum = PyArray_TYPE(a);
    guard.dims.assign(PyArray_DIMS(a), PyArray_DIMS(a) + PyArray_NDIM(a));
    guard.contiguous = contiguous;
    trace_.guards.add(guard);
    ir::ValueId p = g.add_param(ir::Type::of(*dt, guard.dims),
                                contiguous ? ir::ParamLayout::Contiguous : ir::ParamLayout::Strided,
                                loc_);
    trace_.inputs.push_back({InputBinding::Kind::ArrayData, i, *dt});
    AValue v = tensor(p, Box::Array);
    v.arg = i;
    v.source = src;
    locals_[static_cast<size_t>(i)] = std::move(v);
    return true;
  }
  if (PyArray_Check(o))
    return fail(AbortCode::UnsupportedArgument,
                fmt::format("{} is an ndarray subclass ({})", src->describe(), Py_TYPE(o)->tp_name));
  if (PyFloat_CheckExact(o)) {
    // Python floats are runtime values: a changed learning rate does not recompile.
    guard.kind = Guard::Kind::Type;
    guard.type = &PyFloat_Type;
    trace_.guards.add(guard);
    ir::ValueId p = g.add_param(ir::Type::scalar(ir::DType::F64), ir::ParamLayout::Scalar, loc_);
    trace_.inputs.push_back({InputBinding::Kind::PyFloat, i, ir::DType::F64});
    AValue v = tensor(p, Box::PyFloat);
    v.arg = i;
    v.source = src;
    locals_[static_cast<size_t>(i)] = std::move(v);
    return true;
  }
  if (PyBool_Check(o) || o == Py_None) {
    guard.kind = Guard::Kind::Identity;
    guard.expected = o;
    trace_.guards.add(guard);
    locals_[static_cast<size_t>(i)] = object(o, src);
    return true;
  }
  if (PyLong_CheckExact(o) || PyUnicode_CheckExact(o)) {
    // Ints may decide shapes and trip counts: specialized by value.
    guard.kind = Guard::Kind::Value;
    guard.expected = o;
    trace_.guards.add(guard);
    locals_[static_cast<size_t>(i)] = object(o, src);
    return true;
  }
  if (PyArray_IsScalar(o, Generic)) {
    PyArray_Descr* d = PyArray_DescrFromScalar(o);
    auto dt = d ? dtype_from_typenum(d->type_num) : std::nullopt;
    Py_XDECREF(d);
    PyErr_Clear();
    if (!dt)
      return fail(AbortCode::UnsupportedDtype,
                  fmt::format("{} is a {} scalar, which is not compiled", src->describe(),
                              Py_TYPE(o)->tp_name));
    guard.kind = Guard::Kind::Type;
    guard.type = Py_TYPE(o);
    trace_.guards.add(guard);
    ir::ValueId p = g.add_param(ir::Type::scalar(*dt), ir::ParamLayout::Scalar, loc_);
    trace_.inputs.push_back({InputBinding::Kind::NpScalar, i, *dt});
    AValue v = tensor(p, Box::NpScalar);
    v.arg = i;
    v.source = src;
    locals_[static_cast<size_t>(i)] = std::move(v);
    return true;
  }
  return fail(AbortCode::UnsupportedArgument,
              fmt::format("{} is a {}, which the tracer does not handle yet", src->describe(),
                          Py_TYPE(o)->tp_name));
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

  // power with a constant scalar exponent: NumPy's loop takes fast paths (sqrt for 0.5,
  // square for 2) whose results differ from pow() at -0.0 and -inf; follow them.
  ir::Op op = u.op;
  std::vector<ir::ValueId> ins;
  if (op == ir::Op::Pow && operands[1].is_object()) {
    double e = PyFloat_Check(operands[1].obj) ? PyFloat_AsDouble(operands[1].obj)
                                              : PyLong_Check(operands[1].obj)
                                                    ? PyLong_AsDouble(operands[1].obj)
                                                    : NAN;
    PyErr_Clear();
    if (ir::is_float(out_dt) && (e == 0.5 || e == 2.0)) {
      auto x = to_ir(operands[0], loop[0]);
      if (!x) return false;
      ir::ValueId r = e == 0.5 ? trace_.graph.add_op(ir::Op::Sqrt, ir::Type(out_dt, shape), {*x}, loc_)
                               : trace_.graph.add_op(ir::Op::Mul, ir::Type(out_dt, shape), {*x, *x}, loc_);
      push(tensor(r, shape.empty() ? Box::NpScalar : Box::Array));
      return true;
    }
    if (!ir::is_float(out_dt) && !(e >= 0))
      return fail(AbortCode::UserError, "Integers to negative integer powers are not allowed.");
  } else if (op == ir::Op::Pow && !ir::is_float(out_dt)) {
    return fail(AbortCode::UnsupportedValue,
                "integer power with a runtime exponent (a negative one raises) is not traced");
  }
  for (size_t i = 0; i < operands.size(); ++i) {
    auto x = to_ir(operands[i], loop[i]);
    if (!x) return false;
    ins.push_back(*x);
  }
  ir::ValueId r;
  if (op == ir::Op::Cast) {  // np.positive: a copy in the loop dtype
    r = trace_.graph.add_op(ir::Op::Cast, ir::Type(out_dt, shape), {ins[0]}, loc_);
  } else {
    r = trace_.graph.add_op(op, ir::Type(out_dt, shape), ins, loc_);
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
      if (v.arg >= 0) {
        n.kind = OutputNode::Kind::Arg;
        n.index = v.arg;
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
    case AValue::Kind::Null:
      break;
  }
  return fail(AbortCode::UnsupportedValue, "returns an unsupported value");
}

// ---------------------------------------------------------------------------------------------
// Handlers

bool Tracer::op_load_fast(const Instruction& in) {
  const AValue& v = locals_[static_cast<size_t>(in.arg)];
  if (v.kind == AValue::Kind::Null)
    return fail(AbortCode::UserError,
                fmt::format("local variable '{}' referenced before assignment", local_name(in.arg)));
  push(v);
  return true;
}

bool Tracer::op_store_fast(const Instruction& in) {
  locals_[static_cast<size_t>(in.arg)] = pop();
  return true;
}

bool Tracer::op_load_const(const Instruction& in) {
  push(object(PyTuple_GET_ITEM(code_->co_consts, in.arg), Source::constant()));
  return true;
}

bool Tracer::op_load_global(const Instruction& in) {
  PyObject* name = PyTuple_GET_ITEM(code_->co_names, in.arg);
  std::string n = PyUnicode_AsUTF8(name);
  Guard g;
  g.name = name;
  PyObject* v = PyDict_GetItemWithError(globals_, name);
  if (v) {
    g.kind = Guard::Kind::GlobalIs;
    g.dict = globals_;
    g.source = Source::global(n);
  } else if (!PyErr_Occurred() && (v = PyDict_GetItemWithError(builtins_, name))) {
    g.kind = Guard::Kind::BuiltinIs;
    g.dict = globals_;
    g.dict2 = builtins_;
    g.source = Source::builtin(n);
  } else {
    PyErr_Clear();
    return fail(AbortCode::UserError, fmt::format("name '{}' is not defined", n));
  }
  if (PyArray_Check(v))
    return fail(AbortCode::UnsupportedValue,
                fmt::format("global array '{}' is not traced yet (pass it as an argument)", n));
  g.expected = v;
  trace_.guards.add(g);
  push(object(v, g.source));
  return true;
}

bool Tracer::op_load_attr(const Instruction& in, bool method) {
  AValue base = pop();
  std::string n = name_at(in.arg);
  if (!base.is_object())
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("attribute '.{}' of {} is not traced yet", n, what(base)));
  PyObject* name = PyTuple_GET_ITEM(code_->co_names, in.arg);
  PyObject* v = PyObject_GetAttr(base.obj, name);
  if (!v) return fail(AbortCode::UserError, exception_text());
  if (PyArray_Check(v)) {
    Py_DECREF(v);
    return fail(AbortCode::UnsupportedValue,
                fmt::format("array attribute '{}.{}' is not traced yet", base.source->expr(), n));
  }
  Guard g;
  g.kind = Guard::Kind::AttrIs;
  g.dict = base.obj;
  g.name = name;
  g.expected = v;
  g.source = Source::attr(base.source, n);
  trace_.guards.add(g);
  if (method) push(AValue{});  // NULL: a plain callable, not a bound method
  push(object(v, g.source));
  Py_DECREF(v);
  return true;
}

bool Tracer::op_call(const Instruction& in, bool kw) {
  Py_ssize_t nkw = 0;
  if (kw) {
    AValue names = pop();
    nkw = names.is_object() && PyTuple_Check(names.obj) ? PyTuple_GET_SIZE(names.obj) : 0;
  }
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
  if (!callable.is_object())
    return fail(AbortCode::UnsupportedCall, fmt::format("call of {}", what(callable)));
  PyObject* f = callable.obj;
  std::string fname = callable.source ? callable.source->expr() : callable_name(f);
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
  if (f == np_->builtin_abs && args.size() == 1) {
    const UfuncInfo* u = np_->ufunc_named("absolute");
    return apply_ufunc(*u, std::move(args), true);
  }
  if (PyCFunction_Check(f) && callable.source && callable.source->kind == Source::Kind::Builtin &&
      fname == "print")
    return fail(AbortCode::SideEffect, "print(...) is a side effect: the function runs eagerly");
  if (PyFunction_Check(f))
    return fail(AbortCode::UnsupportedCall,
                fmt::format("call to Python function {}() is not inlined yet", fname));
  return fail(AbortCode::UnsupportedCall, fmt::format("call to {}() is not traced yet", fname));
}

bool Tracer::op_binary_op(const Instruction& in) {
  AValue rhs = pop();
  AValue lhs = pop();
  if (in.arg >= 13 && lhs.is_tensor() && lhs.box == Box::Array)
    return fail(AbortCode::UnsupportedBytecode,
                fmt::format("in-place '{}' on an array is not traced yet", binary_op_symbol(in.arg)));
  const char* name = ufunc_for_binary_op(in.arg);
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
  if (jump) pc_ = in.target;
  return true;
}

bool Tracer::op_return_value(const Instruction& in) {
  AValue v = pop();
  returned_ = true;
  return emit_output(v);
}

bool Tracer::step(const Instruction& in) {
  switch (in.op) {
    case COp::PopTop: pop(); return true;
    case COp::PushNull: push(AValue{}); return true;
    case COp::Copy: push(stack_[stack_.size() - static_cast<size_t>(in.arg)]); return true;
    case COp::Swap:
      std::swap(stack_.back(), stack_[stack_.size() - static_cast<size_t>(in.arg)]);
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
    case COp::Jump: pc_ = in.target; return true;
    case COp::PopJumpIfFalse:
    case COp::PopJumpIfTrue:
    case COp::PopJumpIfNone:
    case COp::PopJumpIfNotNone: return op_pop_jump(in);
    case COp::ReturnValue: return op_return_value(in);
    case COp::GetIter:
    case COp::ForIter:
      return fail(AbortCode::UnsupportedBytecode, "loops are not traced yet");
    case COp::BinarySubscr:
    case COp::StoreSubscr:
    case COp::BuildSlice:
      return fail(AbortCode::UnsupportedBytecode, "indexing and slicing are not traced yet");
    default:
      return fail(AbortCode::UnsupportedBytecode,
                  fmt::format("bytecode {} is not traced yet", in.raw_name));
  }
}

TraceResult Tracer::run() {
  code_ = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(func_));
  globals_ = PyFunction_GET_GLOBALS(func_);
  builtins_ = PyEval_GetBuiltins();
  PyObject* fb = PyDict_GetItemString(globals_, "__builtins__");
  if (fb && PyModule_Check(fb)) fb = PyModule_GetDict(fb);
  if (fb && PyDict_Check(fb)) builtins_ = fb;
  np_ = NumpySurface::get();
  if (!np_) {
    PyErr_Clear();
    return Abort{AbortCode::UnsupportedValue, "numpy cannot be imported", "", -1};
  }
  trace_.graph.name = PyUnicode_AsUTF8(code_->co_qualname);
  loc_.file = trace_.graph.intern_file(PyUnicode_AsUTF8(code_->co_filename));
  loc_.line = code_->co_firstlineno;
  auto decoded = frontend::decode(code_);
  if (!decoded) {
    return Abort{AbortCode::UnsupportedBytecode, decoded.message(), PyUnicode_AsUTF8(code_->co_filename),
                 code_->co_firstlineno};
  }
  instrs_ = std::move(decoded.value());
  if (bind_arguments()) {
    constexpr int kMaxSteps = 100000;  // straight-line code only today; a runaway loop aborts
    int steps = 0;
    while (!returned_ && !abort_) {
      if (pc_ < 0 || pc_ >= static_cast<int>(instrs_.size())) {
        fail(AbortCode::ControlFlow, "ran past the end of the bytecode");
        break;
      }
      if (++steps > kMaxSteps) {
        fail(AbortCode::ControlFlow, "trace too long");
        break;
      }
      cur_ = &instrs_[static_cast<size_t>(pc_++)];
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
