// np.nansum, np.nanprod, np.nanmean, np.nanvar, np.nanstd, np.ptp, np.count_nonzero: recorded as the NumPy operations
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
//  - nanvar/nanstd(a, axis, ddof, keepdims): that mean (kept dims), the deviations with 0 at the
//    NaNs, their squares summed, over cnt - ddof (NaN where that is <= 0: NumPy warns "Degrees
//    of freedom <= 0 for slice.", a re-run as above); nanstd its sqrt. Other dtypes: np.var/std.
//  - nanmax/nanmin(a, axis, keepdims) and np.fmax/np.fmin.reduce(a, axis=0, keepdims): NumPy's
//    fmax.reduce, the extreme of the numbers (a NaN only where a slice has none). For floats:
//    max of `a` with its NaNs replaced by -inf (min: +inf); a slice whose result is that
//    infinity is all NaN (NumPy's NaN, and for nanmax/nanmin its "All-NaN slice encountered"
//    warning) or holds nothing above -inf: either way the call runs again eagerly. Other
//    dtypes: max/min. Zero ties are max/min's (Tracer::reduce).
//  - nanargmax/nanargmin(a, axis, keepdims): NumPy's steps: a slice of NaNs only raises
//    ValueError (the call runs again eagerly, which raises it), else argmax/argmin of `a` with
//    its NaNs replaced by -inf (+inf): the first index of the extreme.
// out=, initial=, where=, mean=, correction= and the nan-moments' dtype= run eagerly.
#include "tracer/tracer_impl.h"

#include <limits>

namespace tracejit::tracer::detail {

// The array `a` of np.<name>(a, ...), or null with the abort recorded: arguments tracing does
// not take (`supported` false; `bad` names the first, else "these arguments"), a missing `a`
// (NumPy's TypeError), `a` not an array, or `a` of runtime shape.
const AValue* Tracer::nan_operand(const std::string& name, const CallArgs& args, bool supported, const std::string& bad) {
  if (!supported) {
    fail(AbortCode::UnsupportedCall,
         fmt::format("np.{}() with '{}' is not traced yet", name, bad.empty() ? "these arguments" : bad));
    return nullptr;
  }
  const AValue* x = args.get(0, "a");
  if (!x) {
    fail(AbortCode::UserError, fmt::format("TypeError: {}() missing required argument 'a'", name));
    return nullptr;
  }
  if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt) {
    fail(AbortCode::UnsupportedCall, fmt::format("np.{}() of {} is not traced yet", name, what(*x)));
    return nullptr;
  }
  return static_only(*x) ? x : nullptr;
}

bool Tracer::nan_moment(const std::string& name, CallArgs args) {
  const bool mean = name == "nanmean";
  std::string bad;
  const AValue* dtype = args.get(2, "dtype");
  const bool known = mean ? args.only({"a", "axis", "dtype", "keepdims"}, bad)
                          : args.only({"a", "axis", "dtype", "ddof", "keepdims"}, bad);
  const AValue* x = nan_operand(name, args,
                                known && args.pos.size() <= (mean ? 5u : 6u) && !args.get(3, "out") &&
                                    (!dtype || (dtype->is_object() && dtype->obj == Py_None)),
                                bad);
  if (!x) return false;
  const AValue* axis = args.get(1, "axis");
  const std::optional<bool> kd = keepdims_arg(args.get(mean ? 4 : 5, "keepdims"));
  if (!kd) return false;
  const bool keepdims = *kd;
  int64_t ddof = 0;
  if (const AValue* dd = mean ? nullptr : args.get(4, "ddof")) {
    auto l = int_list(*dd, "ddof");
    if (!l || l->size() != 1) return false;
    ddof = (*l)[0];
  }
  const std::string plain = mean ? "mean" : name == "nanvar" ? "var" : "std";
  if (!ir::is_float(x->type.dtype)) return reduce(plain, *x, axis, keepdims, nullptr, ddof);
  if (!regions_.empty())
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() of floats inside a compiled loop is not traced yet", name));
  ir::Graph& g = trace_.graph;
  const ir::Type& t = x->type;
  ir::ValueId isnan = g.add_op(ir::Op::IsNan, t.with_dtype(ir::DType::Bool), {x->v}, loc_);
  ir::ValueId zero = g.add_const_float(t.dtype, 0.0, loc_);
  AValue arr = tensor(g.add_op(ir::Op::Where, t, {isnan, zero, x->v}, loc_), Box::Array);
  AValue numbers = tensor(g.add_op(ir::Op::Not, t.with_dtype(ir::DType::Bool), {isnan}, loc_), Box::Array);
  const std::optional<AValue> intp = intp_dtype();
  if (!intp) return false;
  // NumPy's _divide_by_count(a, b): a / b in the loop the dtypes pick (float64 for float32),
  // cast back to a's dtype, under errstate(ignore). Here b is 1 where `zero_at` holds (no
  // flag); the caller replaces those results.
  auto divide_by_count = [&](const AValue& a, const AValue& b, ir::ValueId zero_at) -> std::optional<AValue> {
    AValue divisor = tensor(g.add_op(ir::Op::Where, b.type, {zero_at, g.add_const_int(b.type.dtype, 1, loc_), b.v}, loc_), b.box);
    if (!apply_ufunc(*np_->ufunc_named("true_divide"), {a, divisor}, false)) return std::nullopt;
    AValue q = pop();
    return tensor(q.type.dtype == t.dtype ? q.v : cast(q.v, t.dtype), a.box);
  };
  // The numbers' count and sum, kept as NumPy keeps them (keepdims for the variance's mean).
  if (!reduce("sum", numbers, axis, mean ? keepdims : true, &*intp, 0)) return false;
  AValue cnt = pop();
  if (!reduce("sum", arr, axis, mean ? keepdims : true, nullptr, 0)) return false;
  AValue tot = pop();
  ir::ValueId no_numbers = g.add_op(ir::Op::Eq, cnt.type.with_dtype(ir::DType::Bool),
                                    {cnt.v, g.add_const_int(cnt.type.dtype, 0, loc_)}, loc_);
  auto avg = divide_by_count(tot, cnt, no_numbers);
  if (!avg) return false;
  ir::ValueId result = ir::kNoValue, bad_slice = ir::kNoValue;
  Box box = Box::Array;
  std::string warning;
  if (mean) {
    // NaN where there is no number, as x86's 0.0 / 0.0 gives it (sign bit set).
    ir::ValueId nan = g.add_const_float(t.dtype, -std::numeric_limits<double>::quiet_NaN(), loc_);
    result = g.add_op(ir::Op::Where, tot.type, {no_numbers, nan, avg->v}, loc_);
    bad_slice = no_numbers;
    box = tot.box;
    warning = "Mean of empty slice";
  } else {
    // Deviations from the mean (0 at the NaNs), their squares summed, over count - ddof.
    if (!apply_ufunc(*np_->ufunc_named("subtract"), {arr, *avg}, false)) return false;
    AValue d = pop();
    AValue dz = tensor(g.add_op(ir::Op::Where, d.type, {isnan, zero, d.v}, loc_), Box::Array);
    if (!apply_ufunc(*np_->ufunc_named("multiply"), {dz, dz}, false)) return false;
    AValue sqr = pop();
    if (!reduce("sum", sqr, axis, keepdims, nullptr, 0)) return false;
    AValue var = pop();
    ir::ValueId c = cnt.v;
    if (var.type.rank() != cnt.type.rank()) c = g.add_op(ir::Op::Reshape, ir::Type(cnt.type.dtype, var.type.shape), {c}, loc_);
    AValue dof = tensor(g.add_op(ir::Op::Sub, ir::Type(cnt.type.dtype, var.type.shape), {c, g.add_const_int(cnt.type.dtype, ddof, loc_)}, loc_),
                        Box::Array);
    bad_slice = g.add_op(ir::Op::Le, dof.type.with_dtype(ir::DType::Bool), {dof.v, g.add_const_int(cnt.type.dtype, 0, loc_)}, loc_);
    auto v = divide_by_count(var, dof, bad_slice);
    if (!v) return false;
    result = v->v;
    if (name == "nanstd") result = g.add_op(ir::Op::Sqrt, var.type, {result}, loc_);
    result = g.add_op(ir::Op::Where, var.type, {bad_slice, g.add_const_float(t.dtype, std::numeric_limits<double>::quiet_NaN(), loc_), result}, loc_);
    box = var.box;
    warning = "Degrees of freedom <= 0 for slice.";
  }
  if (!rerun_if_any(bad_slice,
                    fmt::format("{}:{}: np.{}() met a slice with {} (NumPy warns \"{}\")",
                                PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, name,
                                mean ? "no numbers" : "no degrees of freedom", warning),
                    false))
    return false;
  push(tensor(result, box));
  return true;
}

bool Tracer::nan_ignoring_reduce(bool is_max, const AValue& x, const AValue* axis, bool keepdims, const std::string& name,
                                 bool warns) {
  const char* plain = is_max ? "max" : "min";
  if (!ir::is_float(x.type.dtype)) return reduce(plain, x, axis, keepdims, nullptr, 0);
  ir::Graph& g = trace_.graph;
  const ir::Type t = x.type;
  const double inf = is_max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  const ir::ValueId isnan = g.add_op(ir::Op::IsNan, t.with_dtype(ir::DType::Bool), {x.v}, loc_);
  const ir::ValueId fill = g.add_const_float(t.dtype, inf, loc_);
  AValue a = tensor(g.add_op(ir::Op::Where, t, {isnan, fill, x.v}, loc_), Box::Array);
  if (!reduce(plain, a, axis, keepdims, nullptr, 0)) return false;
  AValue r = pop();
  const ir::ValueId none = g.add_op(ir::Op::Eq, r.type.with_dtype(ir::DType::Bool), {r.v, g.add_const_float(t.dtype, inf, loc_)}, loc_);
  if (!rerun_if_any(none,
                  fmt::format("{}:{}: {}() met a slice with no number {} {}inf ({})", PyUnicode_AsUTF8(fr().code->co_filename),
                              loc_.line, name, is_max ? "above" : "below", is_max ? "-" : "+",
                              warns ? "NumPy warns \"All-NaN slice encountered\" when it is all NaN"
                                    : "NumPy's answer is NaN when it is all NaN"),
                  false, !warns))
    return false;
  // Keeping the last axis NumPy folds rows with fmax's loop, whose tie of two zeros keeps the
  // first in its scalar columns and the second in its SIMD ones: a zero result re-runs (a
  // reduced last axis is checked exactly, by reduce's zero-tie mark).
  bool last_reduced = !axis || (axis->is_object() && axis->obj == Py_None) || t.rank() == 0;
  if (!last_reduced) {
    auto l = int_list(*axis, "axis");
    if (!l) return false;
    for (int64_t k : *l) last_reduced = last_reduced || k == -1 || k == t.rank() - 1;
  }
  if (!last_reduced) {
    const ir::ValueId zero = g.add_op(ir::Op::Eq, r.type.with_dtype(ir::DType::Bool), {r.v, g.add_const_float(t.dtype, 0.0, loc_)}, loc_);
    if (!rerun_if_any(zero,
                    fmt::format("{}:{}: {}() keeping the last axis met a zero {} (which zero, -0.0 or 0.0, is NumPy's "
                                "algorithm's)", PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, name,
                                is_max ? "maximum" : "minimum"),
                    false, true))
      return false;
  }
  push(r);
  return true;
}

bool Tracer::nan_extreme(const std::string& name, CallArgs args) {
  // np.nanmax(a, axis=None, out=None, keepdims=<no value>, initial=<no value>, where=<no value>)
  // np.nanargmax(a, axis=None, out=None, *, keepdims=<no value>)
  const bool arg = name == "nanargmax" || name == "nanargmin";
  std::string bad;
  const bool known = args.only({"a", "axis", "out", "keepdims"}, bad);
  const AValue* out = args.get(2, "out");
  if (known && !is_none(out)) bad = "out";
  const AValue* x = nan_operand(name, args, known && bad.empty() && args.pos.size() <= (arg ? 3u : 4u), bad);
  if (!x) return false;
  const std::optional<bool> kd = keepdims_arg(args.get(3, "keepdims"));
  if (!kd) return false;
  const AValue* axis = args.get(1, "axis");
  if (!arg) return nan_ignoring_reduce(name == "nanmax", *x, axis, *kd, "np." + name, true);
  // NumPy's own steps: argmax of `a` with its NaNs replaced by -inf (nanargmin: +inf), after
  // raising ValueError for a slice of NaNs only (np.all of the NaN mask along the axis).
  const bool is_max = name == "nanargmax";
  if (!ir::is_float(x->type.dtype)) return reduce(is_max ? "argmax" : "argmin", *x, axis, *kd, nullptr, 0);
  ir::Graph& g = trace_.graph;
  const ir::Type t = x->type;
  const ir::ValueId isnan = g.add_op(ir::Op::IsNan, t.with_dtype(ir::DType::Bool), {x->v}, loc_);
  if (!reduce("all", tensor(isnan, Box::Array), axis, false, nullptr, 0)) return false;
  if (!rerun_if_any(pop().v,
                    fmt::format("{}:{}: np.{}() met a slice of NaNs only (NumPy raises ValueError)",
                                PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, name),
                    true))
    return false;
  const double inf = is_max ? -std::numeric_limits<double>::infinity() : std::numeric_limits<double>::infinity();
  AValue a = tensor(g.add_op(ir::Op::Where, t, {isnan, g.add_const_float(t.dtype, inf, loc_), x->v}, loc_), Box::Array);
  return reduce(is_max ? "argmax" : "argmin", a, axis, *kd, nullptr, 0);
}

bool Tracer::nan_reduction(const std::string& name, CallArgs args) {
  const bool nan = name == "nansum" || name == "nanprod";
  std::string bad;
  const bool known = nan ? args.only({"a", "axis", "dtype", "keepdims"}, bad) : args.only({"a", "axis", "keepdims"}, bad);
  const size_t max_pos = nan ? 5 : name == "ptp" ? 4 : 2;  // ptp(a, axis, out, keepdims); count_nonzero(a, axis, *, ...)
  const AValue* x = nan_operand(name, args,
                                known && args.pos.size() <= max_pos && !(name == "ptp" && args.get(2, "out")) &&
                                    !(nan && args.get(3, "out")),
                                bad);
  if (!x) return false;
  const AValue* axis = args.get(1, "axis");
  const std::optional<bool> kd = keepdims_arg(args.get(nan ? 4 : name == "ptp" ? 3 : 99, "keepdims"));
  if (!kd) return false;
  const bool keepdims = *kd;
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
  const std::optional<AValue> intp = intp_dtype();
  return intp && reduce("sum", b, axis, keepdims, &*intp, 0);
}

bool Tracer::nan_to_num(CallArgs args) {
  // np.nan_to_num(x, copy=True, nan=0.0, posinf=None, neginf=None) (numpy/lib/_type_check_impl.py):
  // a copy of x with NaN, +inf and -inf replaced (np.copyto of each value into x's dtype: the
  // replacement is computed by NumPy at trace time, and one that NumPy's copyto would warn
  // about or reject runs eagerly); +inf/-inf default to the dtype's largest/smallest finite
  // value. Integers and bools come back unchanged (a copy); a 0-d result is a NumPy scalar
  // (x[()]). copy=False (in place), runtime replacement values and complex run eagerly.
  std::string bad;
  if (!args.only({"x", "copy", "nan", "posinf", "neginf"}, bad) || args.pos.size() > 5)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.nan_to_num() with '{}' is not traced yet", bad.empty() ? "these arguments" : bad));
  const AValue* x = args.get(0, "x");
  if (!x) return fail(AbortCode::UserError, "TypeError: nan_to_num() missing required argument 'x'");
  if (!x->is_tensor()) return fail(AbortCode::UnsupportedCall, fmt::format("np.nan_to_num() of {} is not traced yet", what(*x)));
  if (const AValue* c = args.get(1, "copy"); c && !(c->is_object() && c->obj == Py_True))
    return fail(AbortCode::UnsupportedCall, "np.nan_to_num() with copy= other than True (in place) is not traced yet");
  ir::Graph& g = trace_.graph;
  const ir::Type& t = x->type;
  const Box box = t.rank() == 0 ? Box::NpScalar : Box::Array;
  if (!ir::is_float(t.dtype)) {
    push(tensor(g.add_op(ir::Op::Cast, t, {x->v}, loc_), box));
    return true;
  }
  // The replacement for NaN (index 2), +inf (3), -inf (4) in x's dtype, as np.copyto makes it.
  auto replacement = [&](size_t index, const char* name, double otherwise) -> std::optional<ir::ValueId> {
    const AValue* v = args.get(index, name);
    if (!v || (v->is_object() && v->obj == Py_None && index != 2)) return g.add_const_float(t.dtype, otherwise, loc_);
    if (!v->is_object()) {
      fail(AbortCode::UnsupportedValue, fmt::format("np.nan_to_num() with a runtime {}= is not traced", name));
      return std::nullopt;
    }
    PyArray_Descr* d = PyArray_DescrFromType(typenum_from_dtype(t.dtype));
    PyObject* zero = PyArray_Zeros(0, nullptr, d, 0);  // steals d
    if (!zero) {
      fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    PyObject* warnings = PyImport_ImportModule("warnings");
    PyObject* cw = warnings ? PyObject_CallMethod(warnings, "catch_warnings", nullptr) : nullptr;
    PyObject* entered = cw ? PyObject_CallMethod(cw, "__enter__", nullptr) : nullptr;
    PyObject* filt = entered ? PyObject_CallMethod(warnings, "simplefilter", "s", "error") : nullptr;
    PyObject* copyto = filt ? PyObject_GetAttrString(np_->numpy, "copyto") : nullptr;
    PyObject* done = copyto ? PyObject_CallFunctionObjArgs(copyto, zero, v->obj, nullptr) : nullptr;
    PyObject *et = nullptr, *ev = nullptr, *tb = nullptr;
    PyErr_Fetch(&et, &ev, &tb);
    PyObject* exited = cw ? PyObject_CallMethod(cw, "__exit__", "OOO", Py_None, Py_None, Py_None) : nullptr;
    Py_XDECREF(exited);
    PyErr_Clear();
    PyErr_Restore(et, ev, tb);
    Py_XDECREF(done);
    Py_XDECREF(copyto);
    Py_XDECREF(filt);
    Py_XDECREF(entered);
    Py_XDECREF(cw);
    Py_XDECREF(warnings);
    double r = done ? PyFloat_AsDouble(zero) : 0.0;
    Py_DECREF(zero);
    if (!done || PyErr_Occurred()) {
      fail(AbortCode::UnsupportedValue, fmt::format("np.nan_to_num() with {}={}: NumPy converts it with a warning or an error ({})",
                                                    name, what(*v), exception_text()));
      return std::nullopt;
    }
    return g.add_const_float(t.dtype, r, loc_);
  };
  const double big = t.dtype == ir::DType::F32 ? static_cast<double>(std::numeric_limits<float>::max()) : std::numeric_limits<double>::max();
  auto cnan = replacement(2, "nan", 0.0);
  auto cpos = cnan ? replacement(3, "posinf", big) : std::nullopt;
  auto cneg = cpos ? replacement(4, "neginf", -big) : std::nullopt;
  if (!cneg) return false;
  const ir::Type bt = t.with_dtype(ir::DType::Bool);
  // isinf and signbit rather than x == +-inf: no compare that LLVM may turn into a signaling
  // one (a spurious invalid flag would re-run the call eagerly).
  ir::ValueId is_nan = g.add_op(ir::Op::IsNan, bt, {x->v}, loc_);
  ir::ValueId is_inf = g.add_op(ir::Op::IsInf, bt, {x->v}, loc_);
  ir::ValueId neg = g.add_op(ir::Op::SignBit, bt, {x->v}, loc_);
  ir::ValueId r = g.add_op(ir::Op::Where, t, {is_inf, g.add_op(ir::Op::Where, t, {neg, *cneg, *cpos}, loc_), x->v}, loc_);
  r = g.add_op(ir::Op::Where, t, {is_nan, *cnan, r}, loc_);
  push(tensor(r, box));
  return true;
}

std::optional<bool> Tracer::keepdims_arg(const AValue* kd) {
  if (!kd) return false;
  int t = kd->is_object() ? PyObject_IsTrue(kd->obj) : -1;
  if (t < 0) {
    PyErr_Clear();
    fail(AbortCode::UnsupportedValue, "keepdims= must be a constant");
    return std::nullopt;
  }
  return t == 1;
}

std::optional<AValue> Tracer::intp_dtype() {
  PyObject* intp = reinterpret_cast<PyObject*>(PyArray_DescrFromType(NPY_INTP));
  if (!intp) {
    fail(AbortCode::UserError, exception_text());
    return std::nullopt;
  }
  keep(intp);
  return object(intp, Source::constant());
}

}  // namespace tracejit::tracer::detail
