// The NumPy surface of the tracer: operands as IR values, NumPy's own dtype resolution,
// ufuncs, np.where, builtins, and array attributes and methods.
#include "tracer/tracer_impl.h"

#include <cstring>

namespace tracejit::tracer::detail {

ir::ValueId Tracer::cast(ir::ValueId v, ir::DType dt) {
  const ir::Type& t = trace_.graph.type(v);
  if (t.dtype == dt) return v;
  return trace_.graph.add_op(ir::Op::Cast, t.with_dtype(dt), {v}, loc_);
}

// An operand as an IR value of dtype `dt` (NumPy's resolved loop dtype).
std::optional<ir::ValueId> Tracer::to_ir(const AValue& v, ir::DType dt) {
  ir::Graph& g = trace_.graph;
  if (v.is_tensor()) {
    if (!pyint_fits(v, dt)) {  // NumPy raises for a Python int out of the loop dtype's range
      fail(AbortCode::UnsupportedValue,
           fmt::format("a runtime Python int that may not convert exactly to {}", ir::dtype_numpy_name(dt)));
      return std::nullopt;
    }
    return cast(v.v, dt);
  }
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

// NumPy broadcasting of the tensor operands' shapes (Python scalars are 0-d).
std::optional<std::vector<ir::Dim>> Tracer::broadcast_operands(const std::vector<AValue>& operands) {
  std::vector<ir::Dim> shape;
  for (const AValue& v : operands) {
    if (!v.is_tensor()) continue;
    auto b = ir::broadcast_shapes(shape, v.type.shape);
    if (!b && (!v.type.is_static() || !ir::Type(ir::DType::F64, shape).is_static())) {
      // The dims that do not broadcast (right-aligned) and involve a runtime size.
      std::vector<ir::Dim> bad;
      size_t na = shape.size(), nb = v.type.shape.size();
      for (size_t k = 0; k < std::min(na, nb); ++k) {
        const ir::Dim &x = shape[na - 1 - k], &y = v.type.shape[nb - 1 - k];
        if (x != y && !(x.is_static() && x.size == 1) && !(y.is_static() && y.size == 1)) bad.push_back(x), bad.push_back(y);
      }
      fail_specialize(bad, "dynamic and static sizes meet in broadcasting");
      return std::nullopt;
    }
    if (!b) {
      fail(AbortCode::UserError, fmt::format("operands could not be broadcast together with shapes {} {}",
                                             shape_text(shape), shape_text(v.type.shape)));
      return std::nullopt;
    }
    shape = *b;
  }
  return shape;
}

PyObject* Tracer::dtype_spec(const AValue& v) {
  if (v.is_tensor()) {
    if (v.box == Box::PyFloat) {
      Py_INCREF(&PyFloat_Type);
      return reinterpret_cast<PyObject*>(&PyFloat_Type);
    }
    if (v.box == Box::PyInt) {  // weak, as a Python int operand is
      Py_INCREF(&PyLong_Type);
      return reinterpret_cast<PyObject*>(&PyLong_Type);
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

// np.errstate(<category>="raise") for each of `categories` the user does not ignore, entered for
// as long as this lives: a floating-point warning the call inside would emit at trace time (once,
// where NumPy warns on every call) becomes a FloatingPointError the tracer turns into a refusal.
// The destructor leaves a pending exception in place.
class RaisingErrstate {
 public:
  RaisingErrstate(PyObject* numpy, std::initializer_list<const char*> categories) {
    PyObject* cur = PyObject_CallMethod(numpy, "geterr", nullptr);
    PyObject* kw = cur && PyDict_Check(cur) ? PyDict_New() : nullptr;
    for (const char* c : categories) {
      PyObject* mode = kw ? PyDict_GetItemString(cur, c) : nullptr;  // borrowed
      if (mode && PyUnicode_Check(mode) && PyUnicode_CompareWithASCIIString(mode, "ignore") != 0) {
        PyObject* raise = PyUnicode_FromString("raise");
        if (raise) PyDict_SetItemString(kw, c, raise);
        Py_XDECREF(raise);
      }
    }
    if (kw && PyDict_Size(kw) > 0) {
      PyObject* errstate = PyObject_GetAttrString(numpy, "errstate");
      PyObject* args0 = PyTuple_New(0);
      state_ = errstate && args0 ? PyObject_Call(errstate, args0, kw) : nullptr;
      Py_XDECREF(errstate);
      Py_XDECREF(args0);
      entered_ = state_ ? PyObject_CallMethod(state_, "__enter__", nullptr) : nullptr;
    }
    Py_XDECREF(kw);
    Py_XDECREF(cur);
    PyErr_Clear();
  }
  ~RaisingErrstate() {
    if (entered_) {
      PyObject *et, *ev, *tb;
      PyErr_Fetch(&et, &ev, &tb);
      PyObject* ex = PyObject_CallMethod(state_, "__exit__", "OOO", Py_None, Py_None, Py_None);
      Py_XDECREF(ex);
      PyErr_Clear();
      PyErr_Restore(et, ev, tb);
    }
    Py_XDECREF(entered_);
    Py_XDECREF(state_);
  }
  RaisingErrstate(const RaisingErrstate&) = delete;
  RaisingErrstate& operator=(const RaisingErrstate&) = delete;
  bool active() const { return entered_ != nullptr; }

 private:
  PyObject* state_ = nullptr;
  PyObject* entered_ = nullptr;
};

PyObject* Tracer::probe(const AValue& v) {
  if (v.is_tensor()) {
    if (v.box == Box::PyFloat) return PyFloat_FromDouble(1.0);
    if (v.box == Box::PyInt) return PyLong_FromLong(1);
    npy_intp zero = 0;
    PyArray_Descr* d = PyArray_DescrFromType(typenum_from_dtype(v.type.dtype));
    return PyArray_Empty(1, &zero, d, 0);  // steals d
  }
  Py_INCREF(v.obj);
  return v.obj;
}

PyObject* Tracer::result_type(std::vector<PyObject*> probes) {
  PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(probes.size()));
  bool complete = t != nullptr;
  for (size_t i = 0; i < probes.size(); ++i) {
    complete = complete && probes[i] != nullptr;
    if (t && probes[i]) PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), probes[i]);  // steals
    else Py_XDECREF(probes[i]);
  }
  if (!complete) {
    Py_XDECREF(t);
    if (!PyErr_Occurred()) PyErr_NoMemory();
    return nullptr;
  }
  PyObject* fn = PyObject_GetAttrString(np_->numpy, "result_type");
  PyObject* rt = fn ? PyObject_Call(fn, t, nullptr) : nullptr;
  Py_XDECREF(fn);
  Py_DECREF(t);
  return rt;
}

PyObject* Tracer::empty_probe(ir::DType dt) {
  npy_intp zero = 0;
  return PyArray_Empty(1, &zero, PyArray_DescrFromType(typenum_from_dtype(dt)), 0);  // steals the descr
}

std::optional<ir::DType> Tracer::arrays_result_dtype(const std::vector<ir::DType>& dts, const std::string& what) {
  std::vector<PyObject*> probes;
  for (ir::DType dt : dts) probes.push_back(empty_probe(dt));
  PyObject* rt = result_type(std::move(probes));
  if (!rt) {
    fail(AbortCode::UserError, exception_text());
    return std::nullopt;
  }
  auto dt = dtype_from_typenum(reinterpret_cast<PyArray_Descr*>(rt)->type_num);
  Py_DECREF(rt);
  if (!dt) fail(AbortCode::UnsupportedDtype, fmt::format("{}: a result dtype the JIT does not compile", what));
  return dt;
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
  // A Python float beyond a float32 operand's range warns "overflow encountered in cast" when
  // NumPy converts it, even on empty probes: the probe runs with that error raising (unless the
  // user ignores it), so the warning is not emitted here at trace time, and such a call runs
  // eagerly, which warns once, as NumPy does.
  bool cast_overflow = false;
  PyObject* r = nullptr;
  {
    RaisingErrstate raising(np_->numpy, {"over"});
    r = PyObject_Call(u.ufunc, probes, nullptr);
    cast_overflow = !r && raising.active() && PyErr_ExceptionMatches(PyExc_FloatingPointError);
  }
  Py_DECREF(probes);
  if (cast_overflow) {
    Py_DECREF(specs);
    PyErr_Clear();
    return fail(AbortCode::UnsupportedValue,
                fmt::format("np.{}: a Python float beyond the array dtype's range (NumPy warns \"overflow "
                            "encountered in cast\" and uses inf) is not compiled", u.name));
  }
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
    // Constants (or value-guarded ints): compute now, in Python or NumPy itself -- unless NumPy
    // warns (np.reciprocal(0.0), np.float64(1e308) * 10): a constant folded now would warn at
    // trace time only, so such a call runs eagerly (warning on every call, as NumPy does).
    PyObject* r = nullptr;
    bool numpy_math = !python_operator;  // Python numbers among themselves raise, never warn
    for (const AValue& v : operands) numpy_math |= PyArray_IsScalar(v.obj, Generic);
    std::optional<RaisingErrstate> raising;
    if (numpy_math) raising.emplace(np_->numpy, std::initializer_list<const char*>{"divide", "over", "under", "invalid"});
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
        case ir::Op::Shl: r = PyNumber_Lshift(a, b); break;
        case ir::Op::Shr: r = PyNumber_Rshift(a, b); break;
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
    if (!r && raising && raising->active() && PyErr_ExceptionMatches(PyExc_FloatingPointError)) {
      std::string text = exception_text();
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("{} of constants warns ({}): runs eagerly, warning on every call", u.name, text));
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

// The constant c of a ufunc NumPy computes as x * c (np.deg2rad: pi/180 rounded to the loop
// dtype), read from NumPy itself as u(1) and checked on values whose products round differently
// for nearby constants or for a two-step x * pi / 180; nullopt (refused) when they disagree.
std::optional<double> Tracer::angle_factor(const UfuncInfo& u, ir::DType dt) {
  static const double kProbe[] = {1.0, 3.0, 0.1, 123.456, 97.3, 5e-5, 1e30, -7.25, 359.9, 1e-38, 2.0e-310};
  const bool f32 = dt == ir::DType::F32;
  if (!f32 && dt != ir::DType::F64) {
    fail(AbortCode::UnsupportedDtype, fmt::format("np.{} in {} is not compiled", u.name, ir::dtype_numpy_name(dt)));
    return std::nullopt;
  }
  const npy_intp n = sizeof(kProbe) / sizeof(kProbe[0]);
  PyObject* x = PyArray_SimpleNew(1, const_cast<npy_intp*>(&n), f32 ? NPY_FLOAT32 : NPY_FLOAT64);
  if (!x) {
    PyErr_Clear();
    fail(AbortCode::UnsupportedValue, fmt::format("np.{}: no probe array", u.name));
    return std::nullopt;
  }
  for (npy_intp i = 0; i < n; ++i) {
    if (f32) static_cast<float*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(x)))[i] = static_cast<float>(kProbe[i]);
    else static_cast<double*>(PyArray_DATA(reinterpret_cast<PyArrayObject*>(x)))[i] = kProbe[i];
  }
  PyObject* y = PyObject_CallFunctionObjArgs(u.ufunc, x, nullptr);
  Py_DECREF(x);
  bool same = y && PyArray_Check(y) && PyArray_TYPE(reinterpret_cast<PyArrayObject*>(y)) == (f32 ? NPY_FLOAT32 : NPY_FLOAT64);
  double c = 0;
  if (same) {
    const void* d = PyArray_DATA(reinterpret_cast<PyArrayObject*>(y));
    c = f32 ? static_cast<const float*>(d)[0] : static_cast<const double*>(d)[0];
    for (npy_intp i = 1; same && i < n; ++i) {
      if (f32) {
        volatile float p = static_cast<float>(kProbe[i]) * static_cast<float>(c);  // one rounding
        same = p == static_cast<const float*>(d)[i];
      } else {
        volatile double p = kProbe[i] * c;
        same = p == static_cast<const double*>(d)[i];
      }
    }
  }
  Py_XDECREF(y);
  PyErr_Clear();
  if (!same) {
    fail(AbortCode::UnsupportedCall, fmt::format("np.{} is not a single multiplication in this NumPy", u.name));
    return std::nullopt;
  }
  return c;
}

bool Tracer::apply_ufunc(const UfuncInfo& u, std::vector<AValue> operands, bool python_operator) {
  for (AValue& v : operands)  // `i > j`, `abs(i - 5)`: the loop variable as a Python int
    if (v.kind == AValue::Kind::LoopIndex && !loop_index_as_int(v)) return false;
  for (const AValue& v : operands)
    if (!v.is_tensor() && !v.is_object())
      if (v.kind != AValue::Kind::Select)
        return fail(AbortCode::UnsupportedValue, fmt::format("np.{} of {}", u.name, what(v)));
  bool select = false;  // an operand whose type depends on the data: per arm (ifconv.cpp)
  if (!select_ufunc(u, operands, python_operator, select)) return false;
  if (select) return true;
  if (python_scalar_op(u, operands, python_operator)) return true;
  if (abort_) return false;
  bool pyint = false;  // among runtime Python ints: Python's int arithmetic (ifconv.cpp)
  if (!pyint_op(u, operands, python_operator, pyint)) return false;
  if (pyint) return true;
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
  // x / c with a constant c != 0 cannot raise either (IEEE division, as Python's float).
  bool safe_div = u.op == ir::Op::Div && operands.size() == 2 && operands[1].is_object() &&
                  PyObject_IsTrue(operands[1].obj) == 1;
  if (python_float_math && operands.size() == 2 && ir::has_trait(u.op, ir::kCompare) && u.op != ir::Op::IsNan) {
    // Comparisons of Python floats (IEEE, never raising): a runtime Python bool.
    std::vector<ir::ValueId> ins;
    for (const AValue& v : operands) {
      auto x = to_ir(v, ir::DType::F64);
      if (!x) return false;
      ins.push_back(*x);
    }
    push(python_bool(trace_.graph.add_op(u.op, ir::Type::scalar(ir::DType::Bool), ins, loc_)));
    return true;
  }
  if (python_float_math && u.op != ir::Op::Add && u.op != ir::Op::Sub && u.op != ir::Op::Mul &&
      u.op != ir::Op::Neg && u.op != ir::Op::Cast && u.op != ir::Op::Abs && !safe_div) {
    // Operators that may raise (x / 0, overflow in x ** y, a negative base ...): specialize the
    // runtime floats by value (guarded) and let Python compute it now, exactly.
    for (AValue& v : operands)
      if (v.is_tensor() && !promote_float(v))
        return fail(AbortCode::UnsupportedValue,
                    fmt::format("Python float '{}' on a computed float is not traced yet", u.name));
    return python_scalar_op(u, operands, python_operator) || fail(AbortCode::UnsupportedValue, "float op");
  }

  if (u.op == ir::Op::SignBit && operands[0].is_tensor() && !ir::is_float(operands[0].type.dtype)) {
    // np.signbit of integers and bools: NumPy casts to a float loop (float16 for 8-bit ones),
    // where the sign bit is that of the integer (no integer converts to -0.0 or NaN).
    const AValue& x = operands[0];
    ir::Graph& g = trace_.graph;
    ir::Type bt(ir::DType::Bool, x.type.shape);
    ir::ValueId r = ir::is_signed_int(x.type.dtype)
                        ? g.add_op(ir::Op::Lt, bt, {x.v, g.add_const_int(x.type.dtype, 0, loc_)}, loc_)
                        : g.add_op(ir::Op::Broadcast, bt, {g.add_const_int(ir::DType::Bool, 0, loc_)}, loc_);
    push(tensor(r, x.type.shape.empty() ? Box::NpScalar : Box::Array));
    return true;
  }
  std::vector<ir::DType> loop;
  if (!resolve_loop(u, operands, loop)) return false;
  auto bshape = broadcast_operands(operands);
  if (!bshape) return false;
  std::vector<ir::Dim> shape = std::move(*bshape);
  ir::DType out_dt = loop.back();
  ir::Graph& g = trace_.graph;
  ir::Op op = u.op;
  if (std::strncmp(u.name, "logical_", 8) == 0) {
    // NumPy's logical_* take the truth value of each operand, whatever the loop dtype.
    for (size_t i = 0; i + 1 < loop.size(); ++i) loop[i] = ir::DType::Bool;
    out_dt = ir::DType::Bool;
  }
  // The integer and bool loops NumPy has for float ops: isnan/isinf are all False and
  // isfinite all True; floor/ceil/trunc of an integer loop are the values themselves.
  if (operands.size() == 1 && !ir::is_float(loop[0])) {
    bool classify = op == ir::Op::IsNan || op == ir::Op::IsInf || op == ir::Op::IsFinite;
    bool identity = (op == ir::Op::Floor || op == ir::Op::Ceil || op == ir::Op::Trunc) && loop.back() == loop[0];
    if (classify || identity) {
      auto x = to_ir(operands[0], loop[0]);
      if (!x) return false;
      ir::Type rt(out_dt, shape);
      ir::ValueId r = identity ? g.add_op(ir::Op::Cast, rt, {*x}, loc_)
                               : g.add_op(op == ir::Op::IsFinite ? ir::Op::Eq : ir::Op::Ne, rt, {*x, *x}, loc_);
      push(tensor(r, shape.empty() ? Box::NpScalar : Box::Array));
      return true;
    }
  }
  if (has_trait(op, ir::kFloatOnly))
    for (size_t i = 0; i + 1 < loop.size(); ++i)
      if (!ir::is_float(loop[i]))
        return fail(AbortCode::UnsupportedDtype,
                    fmt::format("np.{} on {} is not compiled", u.name, ir::dtype_numpy_name(loop[i])));

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

  // (np.float_power's loops call npy_pow for every exponent: no sqrt or x*x shortcut.)
  if (op == ir::Op::Pow && std::strcmp(u.name, "float_power") != 0) {
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
  } else if (op == ir::Op::Mul && ins.size() == 1 && std::strcmp(u.name, "square") != 0) {
    // np.deg2rad/radians/rad2deg/degrees: NumPy's loops compute x * c in the loop dtype.
    auto c = angle_factor(u, out_dt);
    if (!c) return false;
    r = g.add_op(ir::Op::Mul, ir::Type(out_dt, shape), {ins[0], g.add_const_float(out_dt, *c, loc_)}, loc_);
  } else if (op == ir::Op::Where && ins.size() == 2) {
    // np.heaviside(x, h0) as npy_heaviside: NaN for NaN x, h0 at 0, 0 below, 1 above (the
    // compares are quiet: a NaN raises no flag, as the C branches do not).
    ir::Type rt(out_dt, shape), bt(ir::DType::Bool, shape);
    ir::ValueId zero = g.add_const_float(out_dt, 0.0, loc_);
    ir::ValueId below = g.add_op(ir::Op::Lt, bt, {ins[0], zero}, loc_);
    ir::ValueId step = g.add_op(ir::Op::Where, rt, {below, zero, g.add_const_float(out_dt, 1.0, loc_)}, loc_);
    ir::ValueId at0 = g.add_op(ir::Op::Eq, bt, {ins[0], zero}, loc_);
    ir::ValueId mid = g.add_op(ir::Op::Where, rt, {at0, ins[1], step}, loc_);
    ir::ValueId nan = g.add_op(ir::Op::IsNan, bt, {ins[0]}, loc_);
    r = g.add_op(ir::Op::Where, rt, {nan, g.add_const_float(out_dt, std::nan(""), loc_), mid}, loc_);
  } else if (op == ir::Op::Log1p && ins.size() == 2) {
    // np.logaddexp(x, y) as npy_logaddexp: x + ln2 where x == y (equal infinities), else
    // max + log1p(exp(-|x - y|)) with the max the operand the sign of x - y picks, and x - y
    // itself where it is NaN. logaddexp2: x + 1, exp2, and log1p(v) * log2(e) (npy_log2_1p).
    // Values of the branches NumPy does not take are made from zeros where they could raise a
    // flag NumPy's code does not (inf - inf, exp of NaN); the one it does raise is noted below.
    const bool two = std::strcmp(u.name, "logaddexp2") == 0;
    const bool f32 = out_dt == ir::DType::F32;  // NumPy's LOGE2 / LOG2E in the loop's type
    const double ln2 = f32 ? static_cast<double>(0.693147180559945309417232121458176568f) : 0.693147180559945309417232121458176568;
    const double log2e = f32 ? static_cast<double>(1.442695040888963407359924681001892137f) : 1.442695040888963407359924681001892137;
    ir::Type rt(out_dt, shape), bt(ir::DType::Bool, shape);
    ir::ValueId x = ins[0], y = ins[1];
    ir::ValueId zero = g.add_const_float(out_dt, 0.0, loc_);
    ir::ValueId eq = g.add_op(ir::Op::Eq, bt, {x, y}, loc_);
    // x == y (equal infinities: inf - inf is invalid) subtracts from 0 instead of x. One select
    // only: LLVM folds (c ? 0 : x) - (c ? 0 : y) into c ? 0 : x - y, computing inf - inf again.
    ir::ValueId xs = g.add_op(ir::Op::Where, rt, {eq, zero, x}, loc_);
    ir::ValueId tmp = g.add_op(ir::Op::Sub, rt, {xs, y}, loc_);
    ir::ValueId nan = g.add_op(ir::Op::IsNan, bt, {tmp}, loc_);
    ir::ValueId ts = g.add_op(ir::Op::Where, rt, {nan, zero, tmp}, loc_);
    // -|t| is -t for t > 0 and t itself for t <= 0 (exp(-0) == exp(+0)): the argument of both
    // branches.
    ir::ValueId neg = g.add_op(ir::Op::Neg, rt, {g.add_op(ir::Op::Abs, rt, {ts}, loc_)}, loc_);
    ir::ValueId e = g.add_op(two ? ir::Op::Exp2 : ir::Op::Exp, rt, {neg}, loc_);
    ir::ValueId l = g.add_op(ir::Op::Log1p, rt, {e}, loc_);
    if (two) l = g.add_op(ir::Op::Mul, rt, {l, g.add_const_float(out_dt, log2e, loc_)}, loc_);
    ir::ValueId base = g.add_op(ir::Op::Where, rt, {g.add_op(ir::Op::Gt, bt, {tmp, zero}, loc_), x, y}, loc_);
    ir::ValueId main = g.add_op(ir::Op::Add, rt, {base, l}, loc_);
    ir::ValueId same = g.add_op(ir::Op::Add, rt, {x, g.add_const_float(out_dt, two ? 1.0 : ln2, loc_)}, loc_);
    // NumPy's `tmp > 0` on a NaN is an ordered (signaling) compare: "invalid value encountered
    // in logaddexp". Our compares are quiet; the float -> int64 cast of the NaN (0 elsewhere)
    // notes that flag, and its value enters the NaN result as tmp + float(int) * 0 == tmp.
    ir::ValueId probe = g.add_op(ir::Op::Cast, ir::Type(ir::DType::I64, shape),
                                 {g.add_op(ir::Op::Where, rt, {nan, tmp, zero}, loc_)}, loc_);
    ir::ValueId nanr = g.add_op(ir::Op::Add, rt,
                                {tmp, g.add_op(ir::Op::Mul, rt, {g.add_op(ir::Op::Cast, rt, {probe}, loc_), zero}, loc_)}, loc_);
    r = g.add_op(ir::Op::Where, rt, {eq, same, g.add_op(ir::Op::Where, rt, {nan, nanr, main}, loc_)}, loc_);
  } else if (op == ir::Op::Mul && ins.size() == 1) {  // np.square
    r = g.add_op(ir::Op::Mul, ir::Type(out_dt, shape), {ins[0], ins[0]}, loc_);
  } else if (op == ir::Op::Div && ins.size() == 1) {  // np.reciprocal (float loops: 1 / x)
    r = g.add_op(ir::Op::Div, ir::Type(out_dt, shape), {g.add_const_float(out_dt, 1.0, loc_), ins[0]}, loc_);
  } else {
    r = g.add_op(op, ir::Type(out_dt, shape), ins, loc_);
  }
  Box box = python_float_math ? Box::PyFloat : shape.empty() ? Box::NpScalar : Box::Array;
  if (box == Box::NpScalar && python_operator && ir::is_integer(out_dt) && !ir::is_bool(out_dt) &&
      (op == ir::Op::Add || op == ir::Op::Sub || op == ir::Op::Mul || op == ir::Op::Neg || op == ir::Op::Abs))
    g.node(r).ints = {1};  // NumPy scalar math reports overflow (ir::checks_scalar_overflow)
  AValue out = tensor(r, box);
  if (box == Box::NpScalar && ir::is_integer(out_dt) && operands.size() == 2 && (op == ir::Op::Add || op == ir::Op::Sub)) {
    // A NumPy int plus or minus bounded ints (`argmax() + k`): bounded too while the result
    // cannot wrap in its dtype (then it may index: dyn_index_plan).
    std::optional<std::pair<__int128, __int128>> bnd[2];
    for (size_t i = 0; i < 2; ++i) {
      const AValue& v = operands[i];
      int64_t c = 0;
      if (bounded_int(v)) bnd[i] = std::make_pair(static_cast<__int128>(v.lo), static_cast<__int128>(v.hi));
      else if (v.is_object() && PyLong_CheckExact(v.obj) && (c = PyLong_AsLongLong(v.obj), !PyErr_Occurred()))
        bnd[i] = std::make_pair(static_cast<__int128>(c), static_cast<__int128>(c));
      PyErr_Clear();
    }
    if (bnd[0] && bnd[1]) {
      __int128 lo = op == ir::Op::Add ? bnd[0]->first + bnd[1]->first : bnd[0]->first - bnd[1]->second;
      __int128 hi = op == ir::Op::Add ? bnd[0]->second + bnd[1]->second : bnd[0]->second - bnd[1]->first;
      if (lo >= INT64_MIN && hi <= INT64_MAX && int_range_fits(out_dt, static_cast<int64_t>(lo), static_cast<int64_t>(hi))) {
        out.lo = static_cast<int64_t>(lo), out.hi = static_cast<int64_t>(hi);
        // Affine bounds in one loop variable add up too (constants are 0 * i + c).
        auto affine = [&](const AValue& v, int64_t (&f)[4]) {
          if (v.is_tensor()) {
            f[0] = v.rla, f[1] = v.rlb, f[2] = v.rha, f[3] = v.rhb;
            return v.rel;
          }
          f[0] = f[2] = 0, f[1] = f[3] = PyLong_AsLongLong(v.obj);
          return -2;  // any loop
        };
        int64_t a[4], b[4];
        int ra = affine(operands[0], a), rb = affine(operands[1], b);
        int rel = ra == -2 ? rb : rb == -2 || rb == ra ? ra : -1;
        const int64_t lim = int64_t{1} << 40;
        bool small = true;
        for (int64_t x : {a[0], a[1], a[2], a[3], b[0], b[1], b[2], b[3]}) small &= x > -lim && x < lim;
        if (rel >= 0 && small) {
          out.rel = rel;
          if (op == ir::Op::Add) {
            out.rla = a[0] + b[0], out.rlb = a[1] + b[1], out.rha = a[2] + b[2], out.rhb = a[3] + b[3];
          } else {  // lower - upper, upper - lower
            out.rla = a[0] - b[2], out.rlb = a[1] - b[3], out.rha = a[2] - b[0], out.rhb = a[3] - b[1];
          }
        }
      }
    }
  }
  push(std::move(out));
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
  auto bshape = broadcast_operands(operands);
  if (!bshape) return false;
  std::vector<ir::Dim> shape = std::move(*bshape);
  auto c = to_ir(operands[0], ir::DType::Bool);
  auto x = c ? to_ir(operands[1], *dt) : std::nullopt;
  auto y = x ? to_ir(operands[2], *dt) : std::nullopt;
  if (!y) return false;
  ir::ValueId w = trace_.graph.add_op(ir::Op::Where, ir::Type(*dt, shape), {*c, *x, *y}, loc_);
  push(tensor(w, Box::Array));  // np.where returns an ndarray, 0-d included
  return true;
}

bool Tracer::tensor_attribute(const AValue& base, const std::string& name, bool method) {
  const ir::Type& t = base.type;
  static const char* kMethods[] = {"astype", "copy", "sum", "prod", "mean", "max", "min", "any",
                                   "all", "std", "var", "argmax", "argmin", "reshape", "ravel",
                                   "flatten", "transpose", "swapaxes", "squeeze", "clip", "dot",
                                   "round", "fill", "repeat", "cumsum", "cumprod", "trace", "take", "diagonal",
                                   "sort", "argsort", "conj", "conjugate", "searchsorted"};
  bool known = false;
  for (const char* m : kMethods) known |= name == m;
  if (name == "T" && !method) {
    bool handled = false;
    CallArgs a;
    a.pos.push_back(base);
    return call_numpy("T", std::move(a), true, handled);
  }
  if (known) {
    push_method(AValue::Kind::TensorMethod, base, name, method);
    return true;
  }
  if (method)
    return fail(AbortCode::UnsupportedAttribute,
                fmt::format("method '.{}()' of an array is not traced yet", name));
  // x.shape / x.size of runtime sizes: Python ints of this call's sizes. Retraced with those
  // dimensions static (guarded by value); other dimensions stay dynamic.
  if (name != "ndim" && name != "dtype" && base.is_tensor() && !t.is_static())
    return fail_specialize(t.shape, fmt::format("x.{} of an array with a runtime size", name));
  if (name != "ndim" && name != "dtype" && !static_only(base)) return false;
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
  if ((is_builtin("min") || is_builtin("max")) && !all_objects && !args.empty())
    return builtin_minmax(is_builtin("max"), fname, args);  // ifconv.cpp
  if (is_builtin("sum") && (args.size() == 1 || args.size() == 2) && !all_objects) {
    // sum(xs[, start]) over arrays and NumPy scalars: start + xs[0] + xs[1] + ..., what
    // CPython's generic path computes (Python ints fold now; Python floats, runtime or not,
    // are refused: CPython 3.12+ adds runs of them with compensated summation).
    auto items = items_of(args[0]);
    if (!items) return false;
    AValue acc = args.size() == 2 ? args[1] : object(keep(PyLong_FromLong(0)), Source::constant());
    auto py_int = [](const AValue& v) { return v.is_object() && PyLong_CheckExact(v.obj); };
    auto numpy_value = [](const AValue& v) {
      return (v.is_tensor() && (v.box == Box::Array || v.box == Box::NpScalar)) ||
             (v.is_object() && (PyArray_IsScalar(v.obj, Number) || PyArray_IsScalar(v.obj, Bool)));
    };
    if (!py_int(acc) && !numpy_value(acc))
      return fail(AbortCode::UnsupportedCall, fmt::format("sum() starting from {} is not traced yet", describe_scalar_kind(acc)));
    for (AValue& it : *items) {
      materialize(it);  // an int read through a source: its value guard, now that it is used
      if (py_int(acc) && py_int(it)) {  // Python ints: exact, now
        PyObject* r = PyNumber_Add(acc.obj, it.obj);
        if (!r) return fail(AbortCode::UserError, exception_text());
        acc = object(keep(r), Source::computed());
        continue;
      }
      if (!numpy_value(it) && !py_int(it))
        return fail(AbortCode::UnsupportedCall, fmt::format("sum() of {} is not traced yet", describe_scalar_kind(it)));
      if (!apply_ufunc(*np_->ufunc_named("add"), {std::move(acc), std::move(it)}, true)) return false;
      acc = pop();
    }
    push(std::move(acc));
    return true;
  }
  if ((is_builtin("list") || is_builtin("tuple")) && args.size() == 1 && !args[0].is_object()) {
    // list(x), tuple(x) of what the tracer holds items of (tuples and lists built here, a
    // dict's keys, its keys/values/items views): a new list (or tuple) of those items.
    if (args[0].kind != AValue::Kind::Tuple && args[0].kind != AValue::Kind::Dict)
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() of {} is not traced yet", fname, what(args[0])));
    auto items = items_of(args[0]);
    if (!items) return false;
    AValue t;
    t.kind = AValue::Kind::Tuple;
    t.is_list = is_builtin("list");
    t.source = Source::computed();
    t.items = std::move(*items);
    push(std::move(t));
    return true;
  }
  if (is_builtin("len") && args.size() == 1) {
    const AValue& a = args[0];
    if (a.is_tensor() && a.type.rank() > 0 && !a.type.shape[0].is_static())
      return fail_specialize({a.type.shape[0]}, "len() of an array with a runtime size");
    if (!static_only(a)) return false;
    Py_ssize_t n = -1;
    if (a.kind == AValue::Kind::Tuple) n = static_cast<Py_ssize_t>(a.items.size());
    else if (a.kind == AValue::Kind::Dict) n = static_cast<Py_ssize_t>(a.items.size() / 2);
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
    // Over arrays only: their rows, made as the loop takes them (Tracer::iter_rows).
    const bool arrays = std::all_of(args.begin(), args.end(), [](const AValue& a) { return a.is_tensor() && a.box == Box::Array; });
    if (arrays && (is_builtin("zip") || args.size() == 1)) return iter_rows(args, is_builtin("enumerate"));
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
    if (!pyint_fits(args[0], *dt))  // np.int8(300) raises for a Python int
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("{}() of a runtime Python int that may not fit", fname));
    // np.int64(x) of a Python float goes through Python's int (raising for NaN, inf and out of
    // range); of a NumPy float it is NumPy's cast, which the backend compiles except to uint32.
    if (ir::is_float(args[0].type.dtype) && ir::is_integer(*dt) && args[0].box == Box::PyFloat)
      return fail(AbortCode::UnsupportedCall, "float to integer conversion is not compiled for a Python float (NumPy converts it with Python's int())");
    if (ir::is_float(args[0].type.dtype) && *dt == ir::DType::U32)
      return fail(AbortCode::UnsupportedCall, "float to integer conversion is not compiled for uint32 (NumPy's out-of-range results depend on the array length)");
    push(tensor(trace_.graph.add_op(ir::Op::Cast, args[0].type.with_dtype(*dt), {args[0].v}, loc_),
                Box::NpScalar));
    return true;
  }
  // What NumPy answers from dtypes alone (np.finfo(x.dtype).eps, np.iinfo(np.int32).max,
  // np.result_type(x, np.float64)): evaluated now, an array by an empty array of its dtype (the
  // trace is specialized on dtypes). A runtime Python number (a weak scalar whose value NumPy
  // may check) is not traced.
  for (const char* name : {"finfo", "iinfo", "result_type", "promote_types", "min_scalar_type"}) {
    PyObject* nf = PyObject_GetAttrString(np_->numpy, name);
    PyErr_Clear();
    const bool match = nf && nf == f;
    Py_XDECREF(nf);
    if (!match) continue;
    PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(args.size()));
    for (size_t i = 0; i < args.size(); ++i) {
      const AValue& a = args[i];
      if (a.is_tensor() && a.box != Box::Array && a.box != Box::NpScalar) {
        Py_DECREF(t);
        return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() of a runtime Python number is not traced yet", name));
      }
      PyObject* o = a.is_tensor() ? empty_probe(a.type.dtype) : a.is_object() ? (Py_INCREF(a.obj), a.obj) : nullptr;
      if (!o) {
        Py_DECREF(t);
        return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() of {} is not traced yet", name, what(a)));
      }
      PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), o);
    }
    PyObject* r = PyObject_Call(f, t, nullptr);
    Py_DECREF(t);
    if (!r) return fail(AbortCode::UserError, exception_text());
    push(object(r, Source::constant()));
    Py_DECREF(r);
    return true;
  }
  // Pure builtins on Python values: evaluate now.
  static const char* kPure[] = {"abs", "min", "max", "float", "int", "bool", "round", "range",
                                "tuple", "divmod", "pow", "isinstance", "sum", "slice"};
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
  // x.conj() of a real array is x itself (PyArray_Conjugate returns self; every dtype compiled
  // is real).
  if ((m.method == "conj" || m.method == "conjugate") && args.empty()) {
    push(x);
    return true;
  }
  // A NumPy scalar's .copy() and .astype() are NumPy scalars too.
  Box box = x.box == Box::NpScalar ? Box::NpScalar : Box::Array;
  if (m.method == "copy" && args.empty()) {  // C-ordered, whatever x's layout (ir::is_c_order_copy)
    std::vector<int64_t> c_order;
    if (x.type.rank() >= 2) c_order = {1};
    push(tensor(trace_.graph.add_op(ir::Op::Cast, x.type, {x.v}, c_order, loc_), box));
    return true;
  }
  if (m.method == "astype" && args.size() == 1 && args[0].is_object()) {
    PyArray_Descr* d = nullptr;
    if (!PyArray_DescrConverter(args[0].obj, &d)) return fail(AbortCode::UserError, exception_text());
    auto dt = dtype_from_typenum(d->type_num);
    Py_DECREF(d);
    if (!dt) return fail(AbortCode::UnsupportedDtype, "astype to a dtype the JIT does not compile");
    if (ir::is_float(x.type.dtype) && *dt == ir::DType::U32)
      return fail(AbortCode::UnsupportedCall, "float to integer astype is not compiled for uint32 (NumPy's out-of-range results depend on the array length)");
    push(tensor(trace_.graph.add_op(ir::Op::Cast, x.type.with_dtype(*dt), {x.v}, loc_), box));
    return true;
  }
  return fail(AbortCode::UnsupportedCall, fmt::format("array .{}() with these arguments", m.method));
}

}  // namespace tracejit::tracer::detail
