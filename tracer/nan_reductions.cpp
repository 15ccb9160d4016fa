// np.nansum, np.nanprod, np.ptp, np.count_nonzero: recorded as the NumPy operations
// numpy/lib/_nanfunctions_impl.py, numpy/_core/fromnumeric.py and numpy/_core/numeric.py
// write them as, so dtypes, shapes, wrapping and errors are NumPy's by construction:
//  - nansum/nanprod(a, axis, dtype, keepdims): a float `a` with its NaNs replaced by 0 (or 1),
//    then sum/prod; other dtypes have no NaN and are summed as they are.
//  - ptp(a, axis, keepdims): subtract(max(a, axis), min(a, axis)) (integers wrap; bool raises
//    NumPy's TypeError from the subtract).
//  - count_nonzero(a, axis, keepdims): a.astype(bool).sum(axis, dtype=intp) (a NaN counts).
// out=, initial= and where= run eagerly.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

bool Tracer::nan_reduction(const std::string& name, CallArgs args) {
  const bool nan = name == "nansum" || name == "nanprod";
  std::string bad;
  const bool known = nan ? args.only({"a", "axis", "dtype", "keepdims"}, bad) : args.only({"a", "axis", "keepdims"}, bad);
  const size_t max_pos = nan ? 5 : name == "ptp" ? 4 : 2;  // ptp(a, axis, out, keepdims); count_nonzero(a, axis, *, ...)
  const AValue* x = args.get(0, "a");
  if (!known || args.pos.size() > max_pos || (name == "ptp" && args.get(2, "out")) || (nan && args.get(3, "out")))
    return fail(AbortCode::UnsupportedCall,
                fmt::format("np.{}() with '{}' is not traced yet", name, bad.empty() ? "these arguments" : bad));
  if (!x) return fail(AbortCode::UserError, fmt::format("TypeError: {}() missing required argument 'a'", name));
  if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() of {} is not traced yet", name, what(*x)));
  if (!static_only(*x)) return false;
  const AValue* axis = args.get(1, "axis");
  const AValue* kd = args.get(nan ? 4 : name == "ptp" ? 3 : 99, "keepdims");
  bool keepdims = false;
  if (kd) {
    int t = kd->is_object() ? PyObject_IsTrue(kd->obj) : -1;
    if (t < 0) {
      PyErr_Clear();
      return fail(AbortCode::UnsupportedValue, "keepdims= must be a constant");
    }
    keepdims = t == 1;
  }
  ir::Graph& g = trace_.graph;
  if (nan) {
    AValue a = *x;
    if (ir::is_float(x->type.dtype)) {
      const ir::Type& t = x->type;
      ir::ValueId isnan = g.add_op(ir::Op::IsNan, t.with_dtype(ir::DType::Bool), {x->v}, loc_);
      ir::ValueId fill = g.add_const_float(t.dtype, name == "nansum" ? 0.0 : 1.0, loc_);
      a = tensor(g.add_op(ir::Op::Where, t, {isnan, fill, x->v}, loc_), Box::Array);
    }
    return reduce(name == "nansum" ? "sum" : "prod", a, axis, keepdims, args.get(2, "dtype"), 0);
  }
  if (name == "ptp") {
    if (!reduce("max", *x, axis, keepdims, nullptr, 0)) return false;
    AValue hi = pop();
    if (!reduce("min", *x, axis, keepdims, nullptr, 0)) return false;
    AValue lo = pop();
    return apply_ufunc(*np_->ufunc_named("subtract"), {hi, lo}, false);
  }
  // count_nonzero
  AValue b = tensor(cast(x->v, ir::DType::Bool), Box::Array);
  PyObject* intp = reinterpret_cast<PyObject*>(PyArray_DescrFromType(NPY_INTP));
  if (!intp) return fail(AbortCode::UserError, exception_text());
  keep(intp);
  AValue dtype = object(intp, Source::constant());
  return reduce("sum", b, axis, keepdims, &dtype, 0);
}

}  // namespace tracejit::tracer::detail
