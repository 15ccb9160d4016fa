// np.array, np.asarray, np.asanyarray, np.ascontiguousarray: the array a value already is, a
// copy, a conversion, or an array built from a list of scalars and arrays, with NumPy 2's rules
// (numpy/_core/_asarray.py, numpy/_core/src/multiarray/array_coercion.c):
//
// - an ndarray: asarray returns it (the same object: writes through either name are seen by
//   both), np.array copies it (copy=True) or returns it (copy=None/False) unless a dtype change
//   needs a copy (copy=False then raises: eager); ascontiguousarray returns an argument that is
//   C-contiguous and copies any other (a computed array of rank >= 2, whose layout in eager
//   NumPy is not known here, runs eagerly);
// - a scalar (NumPy's, a runtime Python float or int): a new 0-d array of its dtype (Python
//   float: float64, int: int64);
// - a list or tuple: each item converted the same way ("discovered": a Python float is float64
//   here, not a weak scalar), all of one shape (else NumPy's ValueError, eagerly), the dtype
//   np.result_type of the items or dtype=, the items stacked on a new first axis. Constant items
//   convert through NumPy itself at trace time (np.asarray(item, dtype): OverflowError for 300
//   into int8, as eager);
// - a constant (a tuple of numbers): NumPy builds it at trace time; the trace holds the array
//   and each call gets a fresh copy of it (writes into the result never reach the constant).
//
// ndmin= prepends length-1 axes; order='F' (of rank >= 2), like=, device= other than "cpu" and
// anything else run eagerly.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {
namespace {

constexpr size_t kMaxListItems = 4096;  // a longer literal list runs eagerly (each item is a node)

}  // namespace

bool Tracer::array_ctor(const std::string& name, CallArgs args) {
  ir::Graph& g = trace_.graph;
  const std::string fn = fmt::format("np.{}()", name);
  const bool is_array = name == "array";
  const bool contiguous = name == "ascontiguousarray";
  std::string bad;
  const bool ok_args = is_array ? args.only({"object", "dtype", "copy", "order", "subok", "ndmin", "like"}, bad) && args.pos.size() <= 2
                       : contiguous ? args.only({"a", "dtype", "like"}, bad) && args.pos.size() <= 2
                                    : args.only({"a", "dtype", "order", "device", "copy", "like"}, bad) && args.pos.size() <= 3;
  if (!ok_args)
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with '{}' is not traced yet", fn, bad.empty() ? "these arguments" : bad));
  const AValue* a = args.get(0, is_array ? "object" : "a");
  if (!a) return fail(AbortCode::UnsupportedCall, fmt::format("{} needs an argument", fn));
  // The keyword arguments must be constants.
  for (const auto& kv : args.kw)
    if (!kv.second.is_object())
      return fail(AbortCode::UnsupportedValue, fmt::format("{} with a runtime '{}=' is not traced", fn, kv.first));
  for (size_t i = 1; i < args.pos.size(); ++i)
    if (!args.pos[i].is_object())
      return fail(AbortCode::UnsupportedValue, fmt::format("{} with a runtime argument {} is not traced", fn, i));
  for (auto& kv : args.kw) materialize(kv.second);
  for (size_t i = 1; i < args.pos.size(); ++i) materialize(args.pos[i]);
  if (!is_none(args.get(99, "like"))) return fail(AbortCode::UnsupportedCall, fmt::format("{} with like= is not traced", fn));
  if (const AValue* d = args.get(99, "device"); !is_none(d) &&
      !(PyUnicode_Check(d->obj) && PyUnicode_CompareWithASCIIString(d->obj, "cpu") == 0))
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with device= other than 'cpu' runs eagerly", fn));
  // dtype=
  std::optional<ir::DType> want;
  PyObject* want_descr = nullptr;  // borrowed from the argument
  if (const AValue* d = args.get(1, "dtype"); !is_none(d)) {
    PyArray_Descr* descr = nullptr;
    if (!PyArray_DescrConverter(d->obj, &descr)) return fail(AbortCode::UserError, exception_text());
    want = dtype_from_typenum(descr->type_num);
    Py_DECREF(descr);
    if (!want) return fail(AbortCode::UnsupportedDtype, fmt::format("{} with a dtype the JIT does not compile", fn));
    want_descr = d->obj;
  }
  // copy=: True (np.array's default), None (asarray's: only when needed), False (never: NumPy
  // raises where a copy is needed).
  int copy = is_array ? 1 : -1;  // 1 always, -1 if needed, 0 never
  if (const AValue* c = args.get(99, "copy"); c && !contiguous) {
    if (c->obj == Py_None) copy = -1;
    else if (c->obj == Py_True || c->obj == Py_False) copy = c->obj == Py_True ? 1 : 0;
    else return fail(AbortCode::UnsupportedCall, fmt::format("{} with copy={} is not traced", fn, what(*c)));
  }
  // order=: 'F' of a matrix changes the layout (observable through .strides and .flags): eager.
  bool c_order = contiguous;
  if (const AValue* o = args.get(is_array ? 99 : 2, "order"); !is_none(o)) {
    const char* s = PyUnicode_Check(o->obj) ? PyUnicode_AsUTF8(o->obj) : nullptr;
    if (!s) {
      PyErr_Clear();
      return fail(AbortCode::UnsupportedCall, fmt::format("{} with order={} is not traced", fn, what(*o)));
    }
    const std::string order(s);
    if (order == "C" || order == "c") c_order = true;
    else if (order != "K" && order != "k" && order != "A" && order != "a")
      return fail(AbortCode::UnsupportedCall, fmt::format("{} with order='{}' is not traced yet", fn, order));
  }
  int64_t ndmin = contiguous ? 1 : 0;
  if (const AValue* n = args.get(99, "ndmin"); n && is_array) {
    auto l = int_list(*n, "ndmin");
    if (!l || l->size() != 1) return l ? fail(AbortCode::UnsupportedCall, "ndmin= must be an int") : false;
    ndmin = (*l)[0];
    if (ndmin > 32) return fail(AbortCode::UserError, "ValueError: ndmin bigger than allowable number of dimensions");
  }
  // ndmin: length-1 axes in front (`view`: of the same memory when no copy was made).
  auto finish = [&](const AValue& r, bool view) -> bool {
    if (r.type.rank() >= ndmin) {
      push(r);
      return true;
    }
    std::vector<int64_t> shape(static_cast<size_t>(ndmin - r.type.rank()), 1);
    for (const ir::Dim& d : r.type.shape) {
      if (!d.is_static()) return fail(AbortCode::DynamicShape, fmt::format("{} with ndmin= of a runtime-sized array", fn));
      shape.push_back(d.size);
    }
    auto v = reshape_value(r, shape, view);
    if (!v) return false;
    push(*v);
    return true;
  };

  // 1. An array value.
  if (a->is_tensor() && a->box == Box::Array) {
    const ir::DType dt = want.value_or(a->type.dtype);
    if (ir::is_float(a->type.dtype) && dt == ir::DType::U32 && dt != a->type.dtype)
      return fail(AbortCode::UnsupportedCall, "float to uint32 conversion is not compiled (NumPy's out-of-range results depend on the array length)");
    bool needs_copy = dt != a->type.dtype;
    if (c_order && a->type.rank() >= 1) {
      // Is it C-contiguous in eager NumPy? Known for an argument (its layout is guarded) and for
      // a computed vector that is not a view (a stepped slice is not); not for other arrays.
      const bool arg = a->pristine && a->input >= 0;
      const ir::Node& p = g.node(a->v);
      if (!arg && a->type.rank() == 1 && a->view_root == ir::kNoValue) {
        // a new vector: contiguous
      } else if (!arg || p.op != ir::Op::Param || p.ints.size() < 2)
        return fail(AbortCode::UnsupportedValue,
                    fmt::format("{} of a computed array or view (whether eager NumPy copies it depends on its layout) is not traced yet", fn));
      else
        needs_copy |= static_cast<ir::ParamLayout>(p.ints[1]) != ir::ParamLayout::Contiguous;
    }
    if (copy == 0 && needs_copy)
      return fail(AbortCode::UserError, "ValueError: Unable to avoid copy while creating an array as requested.");
    if (copy == 1 || needs_copy) {
      std::vector<int64_t> flag;
      if (c_order && a->type.rank() >= 2) flag = {1};  // C-ordered whatever a's layout (ir::is_c_order_copy)
      AValue r = tensor(g.add_op(ir::Op::Cast, a->type.with_dtype(dt), {a->v}, flag, loc_), Box::Array);
      return finish(r, false);
    }
    return finish(*a, true);  // the array itself
  }
  if (copy == 0) return fail(AbortCode::UserError, "ValueError: Unable to avoid copy while creating an array as requested.");

  // 2. A list or tuple built by the traced code, or a scalar: items converted one by one.
  //    `item_array` converts one item (or the argument itself) to an array value, its dtype the
  //    discovered one, or `want` when given.
  std::function<std::optional<AValue>(const AValue&, int)> item_array = [&](const AValue& v, int depth) -> std::optional<AValue> {
    auto failed = [&](AbortCode code, std::string why) -> std::optional<AValue> {
      fail(code, std::move(why));
      return std::nullopt;
    };
    if (depth > 32) return failed(AbortCode::UnsupportedValue, fmt::format("{} of a list nested too deep", fn));
    if (v.is_tensor()) {
      if (v.box == Box::Array && depth > 0) {
        if (!static_only(v)) return std::nullopt;
        if (!want || *want == v.type.dtype) return v;
        if (ir::is_float(v.type.dtype) && *want == ir::DType::U32)
          return failed(AbortCode::UnsupportedCall, "float to uint32 conversion is not compiled");
        return tensor(g.add_op(ir::Op::Cast, v.type.with_dtype(*want), {v.v}, loc_), Box::Array);
      }
      if (v.type.rank() != 0) return failed(AbortCode::UnsupportedValue, fmt::format("{} of {}", fn, what(v)));
      // A scalar: NumPy's or a runtime Python float (float64) or int (int64).
      const ir::DType dt = want.value_or(v.type.dtype);
      if (ir::is_float(v.type.dtype) && dt == ir::DType::U32 && dt != v.type.dtype)
        return failed(AbortCode::UnsupportedCall, "float to uint32 conversion is not compiled");
      if (v.box == Box::PyInt && want && !ir::is_float(dt) && dt != ir::DType::I64 && dt != ir::DType::Bool)
        return failed(AbortCode::UnsupportedValue,
                      fmt::format("{}: a runtime Python int into {} (NumPy raises OverflowError out of range)", fn, ir::dtype_numpy_name(dt)));
      auto c = v.box == Box::PyInt && dt == ir::DType::Bool ? std::optional<ir::ValueId>(cast(v.v, dt)) : to_ir(v, dt);
      if (!c) return std::nullopt;
      ir::ValueId r = *c == v.v ? g.add_op(ir::Op::Cast, v.type.with_dtype(dt), {v.v}, loc_) : *c;  // a new array
      return tensor(r, Box::Array);
    }
    if (v.kind == AValue::Kind::Tuple) {
      if (v.items.size() > kMaxListItems)
        return failed(AbortCode::UnsupportedValue, fmt::format("{} of a list of {} items (more than {}) runs eagerly", fn, v.items.size(), kMaxListItems));
      auto items = items_of(v);
      if (!items) return std::nullopt;
      if (items->empty()) {
        auto e = full_of({0}, want.value_or(ir::DType::F64), object(Py_False, Source::constant()));
        return e;
      }
      std::vector<AValue> parts;
      for (const AValue& it : *items) {
        auto p = item_array(it, depth + 1);
        if (!p) return std::nullopt;
        parts.push_back(std::move(*p));
      }
      for (const AValue& p : parts)
        if (p.type.shape != parts[0].type.shape)
          return failed(AbortCode::UnsupportedValue,
                        fmt::format("{} of items with different shapes (NumPy raises ValueError: inhomogeneous shape)", fn));
      ir::DType dt = parts[0].type.dtype;
      if (!want) {
        std::vector<ir::DType> dts;
        for (const AValue& p : parts) dts.push_back(p.type.dtype);
        auto d = arrays_result_dtype(dts, fn);
        if (!d) return std::nullopt;
        dt = *d;
      }
      std::vector<ir::Dim> shape = parts[0].type.shape;
      shape.insert(shape.begin(), ir::Dim::fixed(1));
      ir::Node n;
      n.op = ir::Op::Concat;
      for (const AValue& p : parts) {
        ir::ValueId pv = p.v;
        if (p.type.dtype != dt) {
          if (ir::is_float(p.type.dtype) && dt == ir::DType::U32)
            return failed(AbortCode::UnsupportedCall, "float to uint32 conversion is not compiled");
          pv = cast(pv, dt);
        }
        n.operands.push_back(g.add_op(ir::Op::Reshape, ir::Type(dt, shape), {pv}, loc_));
      }
      shape[0] = ir::Dim::fixed(static_cast<int64_t>(parts.size()));
      n.type = ir::Type(dt, shape);
      n.ints = {0};
      n.loc = loc_;
      return tensor(g.add(std::move(n)), Box::Array);
    }
    if (!v.is_object()) return failed(AbortCode::UnsupportedValue, fmt::format("{} of {} is not traced", fn, what(v)));
    // A constant: NumPy converts it now (raising where eager raises).
    PyObject* o = v.obj;
    const bool scalar = PyFloat_Check(o) || PyLong_Check(o) || PyBool_Check(o) || PyArray_IsScalar(o, Generic);
    std::function<bool(PyObject*, int)> immutable = [&](PyObject* x, int d) {
      if (PyFloat_Check(x) || PyLong_Check(x) || PyBool_Check(x) || PyArray_IsScalar(x, Generic)) return true;
      if (!PyTuple_CheckExact(x) || d > 32) return false;
      for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(x); ++i)
        if (!immutable(PyTuple_GET_ITEM(x, i), d + 1)) return false;
      return true;
    };
    const bool constant = !v.source || v.source->kind == Source::Kind::Constant || v.lazy ||
                          (scalar && v.source->evaluable());  // guarded by value
    if (!constant || !immutable(o, 0))
      return failed(AbortCode::UnsupportedValue, fmt::format("{} of {} is not traced yet", fn, what(v)));
    AValue vv = v;
    materialize(vv);  // an int global: its value guard
    PyObject* asarray = PyObject_GetAttrString(np_->numpy, "asarray");
    PyObject* arr = asarray ? PyObject_CallFunctionObjArgs(asarray, o, want_descr ? want_descr : Py_None, nullptr) : nullptr;
    Py_XDECREF(asarray);
    if (!arr) return failed(AbortCode::UserError, fmt::format("{} raises {}", fn, exception_text()));
    auto* ar = reinterpret_cast<PyArrayObject*>(arr);
    auto dt = dtype_from_typenum(PyArray_TYPE(ar));
    if (!dt) {
      Py_DECREF(arr);
      return failed(AbortCode::UnsupportedDtype, fmt::format("{}: the constant's dtype is not compiled", fn));
    }
    if (PyArray_NDIM(ar) == 0) {
      PyObject* s = PyArray_ToScalar(PyArray_DATA(ar), ar);
      Py_DECREF(arr);
      if (!s) return failed(AbortCode::UserError, exception_text());
      AValue sv = object(s, Source::constant());
      Py_DECREF(s);
      auto c = to_ir(sv, *dt);
      if (!c) return std::nullopt;
      return tensor(g.add_op(ir::Op::Cast, ir::Type::of(*dt, {}), {*c}, loc_), Box::Array);
    }
    // The trace holds the array (a fixed input, guarded as any array); each call copies it.
    SourceRef src = Source::fixed(arr, fmt::format("<np.{} constant at {:p}>", name, static_cast<void*>(arr)));
    Py_DECREF(arr);
    auto in = value_from_object(src->dict, src);
    if (!in) return std::nullopt;
    return tensor(g.add_op(ir::Op::Cast, in->type, {in->v}, loc_), Box::Array);
  };
  auto r = item_array(*a, 0);
  if (!r) return false;
  return finish(*r, false);
}

}  // namespace tracejit::tracer::detail
