// np.nansum, np.nanprod, np.ptp, np.count_nonzero: recorded as the NumPy operations
// numpy/lib/_nanfunctions_impl.py, numpy/_core/fromnumeric.py and numpy/_core/numeric.py
// write them as, so dtypes, shapes, wrapping and errors are NumPy's by construction:
//  - nansum/nanprod(a, axis, dtype, keepdims): a float `a` with its NaNs replaced by 0 (or 1),
//    then sum/prod; other dtypes have no NaN and are summed as they are.
//  - ptp(a, axis, keepdims): subtract(max(a, axis), min(a, axis)) (integers wrap; bool raises
//    NumPy's TypeError from the subtract).
//  - count_nonzero(a, axis, keepdims): a.astype(bool).sum(axis, dtype=intp) (a NaN counts).
//  - nanmean(a, axis, keepdims): for a float `a`, tot = sum of `a` with its NaNs replaced by 0,
//    cnt = count of the others (intp), and tot / cnt divided in the loop NumPy picks (float64
//    for float32) and cast back to a's dtype, NaN where cnt == 0 with no floating-point flag
//    (NumPy divides under errstate(ignore)). A slice with no numbers makes NumPy warn "Mean of
//    empty slice" through warnings.warn: any such slice makes the call run again eagerly
//    (Trace::rerun_checks). Other dtypes: np.mean.
// out=, initial=, where= and nanmean's dtype= run eagerly.
#include "tracer/tracer_impl.h"

#include <limits>

namespace tracejit::tracer::detail {

bool Tracer::nanmean(CallArgs args) {
  std::string bad;
  const AValue* x = args.get(0, "a");
  if (!args.only({"a", "axis", "dtype", "keepdims"}, bad) || args.pos.size() > 5 || args.get(3, "out") ||
      (args.get(2, "dtype") && !(args.get(2, "dtype")->is_object() && args.get(2, "dtype")->obj == Py_None)))
    return fail(AbortCode::UnsupportedCall,
                fmt::format("np.nanmean() with '{}' is not traced yet", bad.empty() ? "these arguments" : bad));
  if (!x) return fail(AbortCode::UserError, "TypeError: nanmean() missing required argument 'a'");
  if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.nanmean() of {} is not traced yet", what(*x)));
  if (!static_only(*x)) return false;
  const AValue* axis = args.get(1, "axis");
  bool keepdims = false;
  if (const AValue* kd = args.get(4, "keepdims")) {
    int t = kd->is_object() ? PyObject_IsTrue(kd->obj) : -1;
    if (t < 0) {
      PyErr_Clear();
      return fail(AbortCode::UnsupportedValue, "keepdims= must be a constant");
    }
    keepdims = t == 1;
  }
  if (!ir::is_float(x->type.dtype)) return reduce("mean", *x, axis, keepdims, nullptr, 0);
  if (!regions_.empty())
    return fail(AbortCode::UnsupportedCall, "np.nanmean() of floats inside a compiled loop is not traced yet");
  ir::Graph& g = trace_.graph;
  const ir::Type& t = x->type;
  ir::ValueId isnan = g.add_op(ir::Op::IsNan, t.with_dtype(ir::DType::Bool), {x->v}, loc_);
  AValue arr = tensor(g.add_op(ir::Op::Where, t, {isnan, g.add_const_float(t.dtype, 0.0, loc_), x->v}, loc_), Box::Array);
  AValue numbers = tensor(g.add_op(ir::Op::Not, t.with_dtype(ir::DType::Bool), {isnan}, loc_), Box::Array);
  PyObject* intp = reinterpret_cast<PyObject*>(PyArray_DescrFromType(NPY_INTP));
  if (!intp) return fail(AbortCode::UserError, exception_text());
  keep(intp);
  AValue intp_dtype = object(intp, Source::constant());
  if (!reduce("sum", numbers, axis, keepdims, &intp_dtype, 0)) return false;
  AValue cnt = pop();
  if (!reduce("sum", arr, axis, keepdims, nullptr, 0)) return false;
  AValue tot = pop();
  // tot / cnt where cnt > 0 (the divisor 1 elsewhere: no 0/0 flag), NaN where cnt == 0.
  ir::ValueId empty = g.add_op(ir::Op::Eq, cnt.type.with_dtype(ir::DType::Bool),
                               {cnt.v, g.add_const_int(cnt.type.dtype, 0, loc_)}, loc_);
  AValue divisor = tensor(g.add_op(ir::Op::Where, cnt.type, {empty, g.add_const_int(cnt.type.dtype, 1, loc_), cnt.v}, loc_), cnt.box);
  if (!apply_ufunc(*np_->ufunc_named("true_divide"), {tot, divisor}, false)) return false;
  AValue q = pop();
  ir::ValueId avg = q.type.dtype == t.dtype ? q.v : cast(q.v, t.dtype);
  // NaN as x86's 0.0 / 0.0 gives it (sign bit set), NumPy's result there.
  ir::ValueId nan = g.add_const_float(t.dtype, -std::numeric_limits<double>::quiet_NaN(), loc_);
  avg = g.add_op(ir::Op::Where, tot.type, {empty, nan, avg}, loc_);
  AValue any_empty;
  if (cnt.type.rank() == 0) {
    any_empty = tensor(empty, Box::Array);
  } else {
    if (!reduce("any", tensor(empty, Box::Array), nullptr, false, nullptr, 0)) return false;
    any_empty = pop();
  }
  trace_.rerun_checks.emplace_back(result_index(any_empty.v),
                                   fmt::format("{}:{}: np.nanmean() met a slice with no numbers (NumPy warns \"Mean of empty slice\")",
                                               PyUnicode_AsUTF8(fr().code->co_filename), loc_.line));
  push(tensor(avg, tot.box));
  return true;
}

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
