// Methods of NumPy ufuncs: `np.add.reduce(x, axis)`, `np.maximum.reduce(...)`,
// `np.logical_and.reduce(...)`, `np.multiply.outer(a, b)`.
//  - reduce(array, axis=0, dtype=None, out=None, keepdims=False): the reduction the ufunc's
//    array method is (add: sum, multiply: prod, maximum: max, minimum: min, logical_and: all,
//    logical_or: any; fmax/fmin: nan_reductions.cpp; each with NumPy's reduction dtype), over
//    axis 0 by default (None: all axes). Other ufuncs, out=, initial= and where= run eagerly.
//  - outer(a, b): the ufunc of a reshaped to a.shape + (1,) * b.ndim and b, broadcast: the
//    result has shape a.shape + b.shape (NumPy's definition), with the ufunc's own dtype rules.
//  - at(a, indices, b) for add, subtract, multiply, maximum, minimum: NumPy's unbuffered
//    in-place update (a repeated index applies each time, in order), one index array along one
//    axis as for `a[indices] = b` (tracer/gather.cpp store_by_array), recorded as a combining
//    scatter; subtract adds -b (exact in IEEE and in wrapping integers). Only when the ufunc
//    computes in a's own dtype (np.result_type(a, b) is a.dtype) and a is not bool; returns None.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

bool Tracer::ufunc_at(const UfuncInfo& u, CallArgs args) {
  const std::string un = u.name;
  const int combine = un == "add" || un == "subtract" ? 1 : un == "multiply" ? 2 : un == "maximum" ? 3 : un == "minimum" ? 4 : 0;
  if (combine == 0 || args.pos.size() != 3 || !args.kw.empty())
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.at() with these arguments is not traced yet", u.name));
  const AValue& a = args.pos[0];
  const AValue& key = args.pos[1];
  const AValue& b = args.pos[2];
  if (!a.is_tensor() || a.box != Box::Array)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.at() on {} is not traced", u.name, what(a)));
  if (!(key.is_tensor() || key.kind == AValue::Kind::Tuple))
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.at() with indices that are not an array is not traced yet", u.name));
  if (!check_inplace_target(a) || !static_only(a)) return false;
  const ir::DType dt = a.type.dtype;
  if (dt == ir::DType::Bool) return fail(AbortCode::UnsupportedDtype, fmt::format("np.{}.at() on a bool array is not traced yet", u.name));
  PyObject* pa = probe(a);
  PyObject* pb = pa ? probe(b) : nullptr;
  if (!pa || !pb) {
    Py_XDECREF(pa);
    PyErr_Clear();
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.at() of {} is not traced yet", u.name, what(b)));
  }
  PyObject* rt = result_type({pa, pb});
  const bool same = rt && PyArray_DescrCheck(rt) && dtype_from_typenum(reinterpret_cast<PyArray_Descr*>(rt)->type_num) == dt;
  Py_XDECREF(rt);
  PyErr_Clear();
  if (!same)
    return fail(AbortCode::UnsupportedDtype,
                fmt::format("np.{}.at() computing in another dtype than the array's {} is not traced yet", u.name,
                            ir::dtype_numpy_name(dt)));
  AValue v = b;
  if (un == "subtract") {  // a - b == a + (-b), b in a's dtype first
    auto bv = stored_value(b, dt);
    if (!bv) return false;
    v = tensor(trace_.graph.add_op(ir::Op::Neg, trace_.graph.type(*bv), {*bv}, loc_), Box::Array);
  }
  if (!store_by_array(a, key, v, combine)) return false;
  push(object(Py_None, Source::constant()));
  return true;
}

bool Tracer::ufunc_method(const UfuncInfo& u, const std::string& method, CallArgs args) {
  const std::string un = u.name;
  std::string bad;
  if (method == "outer") {
    if (u.nin != 2 || args.pos.size() != 2 || !args.kw.empty())
      return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.outer() with these arguments is not traced yet", u.name));
    const AValue& a = args.pos[0];
    const AValue& b = args.pos[1];
    // Arrays, or scalars (0-d: nothing to reshape); lists and other objects run eagerly.
    for (const AValue* v : {&a, &b})
      if (!v->is_tensor() && !(v->is_object() && (PyFloat_Check(v->obj) || PyLong_Check(v->obj) || PyArray_IsScalar(v->obj, Generic))))
        return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.outer() of {} is not traced yet", u.name, what(*v)));
    if (!a.is_tensor() || a.type.rank() == 0 || !b.is_tensor() || b.type.rank() == 0)
      return apply_ufunc(u, {a, b}, false);
    if (!static_only(a) || !static_only(b)) return false;
    std::vector<int64_t> shape;
    for (const ir::Dim& d : a.type.shape) shape.push_back(d.size);
    for (int k = 0; k < b.type.rank(); ++k) shape.push_back(1);
    auto a2 = reshape_value(a, shape, true);
    if (!a2) return false;
    return apply_ufunc(u, {*a2, b}, false);
  }
  if (method == "at") return ufunc_at(u, std::move(args));
  // reduce
  const char* name = un == "add"           ? "sum"
                     : un == "multiply"    ? "prod"
                     : un == "maximum"     ? "max"
                     : un == "minimum"     ? "min"
                     : un == "logical_and" ? "all"
                     : un == "logical_or"  ? "any"
                     : un == "fmax"        ? "fmax"
                     : un == "fmin"        ? "fmin"
                                               : nullptr;
  if (!name) return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.reduce() is not traced yet", u.name));
  const bool has_dtype = un == "add" || un == "multiply";
  const AValue* x = args.get(0, "array");
  if (!args.only({"array", "axis", "dtype", "keepdims"}, bad) || args.pos.size() > 5 || !x ||
      (args.get(3, "out") && !(args.get(3, "out")->is_object() && args.get(3, "out")->obj == Py_None)) ||
      (!has_dtype && args.get(2, "dtype")))
    return fail(AbortCode::UnsupportedCall,
                fmt::format("np.{}.reduce() with '{}' is not traced yet", u.name, bad.empty() ? "these arguments" : bad));
  if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}.reduce() of {} is not traced yet", u.name, what(*x)));
  if (!static_only(*x)) return false;
  bool keepdims = false;
  if (const AValue* kd = args.get(4, "keepdims")) {
    int t = kd->is_object() ? PyObject_IsTrue(kd->obj) : -1;
    if (t < 0) {
      PyErr_Clear();
      return fail(AbortCode::UnsupportedValue, "keepdims= must be a constant");
    }
    keepdims = t == 1;
  }
  // The default axis is 0 (x.sum()'s is None); axis=None stays None.
  const AValue* axis = args.get(1, "axis");
  AValue zero;
  if (!axis) {
    if (x->type.rank() == 0)
      return fail(AbortCode::UserError, fmt::format("AxisError: axis 0 is out of bounds for array of dimension 0"));
    PyObject* z = PyLong_FromLong(0);
    keep(z);
    zero = object(z, Source::constant());
    axis = &zero;
  }
  if (un == "fmax" || un == "fmin")
    return nan_ignoring_reduce(un == "fmax", *x, axis, keepdims, "np." + un + ".reduce", false);
  return reduce(name, *x, axis, keepdims, has_dtype ? args.get(2, "dtype") : nullptr, 0);
}

}  // namespace tracejit::tracer::detail
