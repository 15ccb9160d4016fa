// np.sort, np.argsort, ndarray.sort (in place), ndarray.argsort and np.median on the `sort` op
// (ir/ops.def: rows along the last axis; another axis is moved last and back, axis=None sorts
// the flattened array).
//
// Exactness: the op sorts each row with NumPy's own sort function for the dtype and kind (the
// ArrFuncs entry np.sort / np.argsort call; registered by python/module.cpp), so ties in an
// argsort, -0.0 next to +0.0 and NaNs of other bits come out as eager NumPy leaves them.
// np.median partitions instead of sorting (np.partition: which of -0.0 / +0.0 lands in the
// middle, which NaN is last, is that algorithm's): a median whose sorted data has -0.0 next to
// +0.0 or a NaN with its sign bit set (the NaN x86 arithmetic makes) re-runs eagerly
// (Trace::rerun_checks).
//
// np.median(a, axis, keepdims) is NumPy's: the middle element, or the mean of the middle two
// (np.mean: float64 for integers and bools, the float dtype itself otherwise), NaN when the
// slice holds a NaN. Empty slices (NumPy warns), axis tuples, out= and overwrite_input=True
// (which reorders the caller's array) run eagerly, as do order= and sorts inside compiled loops.
#include "tracer/tracer_impl.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace tracejit::tracer::detail {


// The rows a sort reads: x flattened (`flat`), or x with `axis_v` (one int) moved last.
std::optional<Tracer::SortRows> Tracer::sort_rows(const AValue& x, const AValue* axis_v, bool flat, const std::string& fn) {
  ir::Graph& g = trace_.graph;
  const int rank = x.type.rank();
  SortRows r{x, {}, -1};
  if (!flat && axis_v) {
    auto l = int_list(*axis_v, "axis");
    if (!l) return std::nullopt;
    if (l->size() != 1 || !PyLong_Check(axis_v->obj)) {
      fail(AbortCode::UnsupportedCall, fmt::format("{} with a tuple axis is not traced yet", fn));
      return std::nullopt;
    }
    r.axis = (*l)[0];
  }
  if (flat) {
    auto y = reshape_value(x, {-1}, false);
    if (!y) return std::nullopt;
    r.y = *y;
    return r;
  }
  if (r.axis < -rank || r.axis >= rank) {
    fail(AbortCode::UserError, fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", r.axis, rank));
    return std::nullopt;
  }
  r.axis = (r.axis + rank) % rank;
  if (r.axis != rank - 1) {
    for (int d = 0; d < rank; ++d)
      if (d != r.axis) r.perm.push_back(d);
    r.perm.push_back(r.axis);
    std::vector<ir::Dim> s;
    for (int64_t d : r.perm) s.push_back(x.type.shape[static_cast<size_t>(d)]);
    r.y = tensor(g.add_op(ir::Op::Transpose, ir::Type(x.type.dtype, s), {x.v}, r.perm, loc_), Box::Array);
  }
  return r;
}

// A partition (the `sort` op's mode 2) of float rows y leaves -0.0 / +0.0 and NaNs of other bits
// where its own algorithm does, not where np.partition's does: data holding both signed zeros, or
// a NaN with its sign bit set (the NaN x86 arithmetic makes), re-runs the call eagerly.
bool Tracer::partition_rerun_check(const AValue& y, const std::string& fn) {
  ir::Graph& g = trace_.graph;
  const ir::Type bt = y.type.with_dtype(ir::DType::Bool);
  const ir::ValueId zero = g.add_op(ir::Op::Eq, bt, {y.v, g.add_const_float(y.type.dtype, 0.0, loc_)}, loc_);
  const ir::ValueId neg = g.add_op(ir::Op::SignBit, bt, {y.v}, loc_);
  auto nz = any_of(g.add_op(ir::Op::And, bt, {zero, neg}, loc_));
  auto pz = nz ? any_of(g.add_op(ir::Op::And, bt, {zero, g.add_op(ir::Op::Not, bt, {neg}, loc_)}, loc_)) : std::nullopt;
  auto nn = pz ? any_of(g.add_op(ir::Op::And, bt, {g.add_op(ir::Op::IsNan, bt, {y.v}, loc_), neg}, loc_)) : std::nullopt;
  if (!nn) return false;
  const ir::Type st = ir::Type::scalar(ir::DType::Bool);
  add_rerun_check(g.add_op(ir::Op::Or, st, {g.add_op(ir::Op::And, st, {*nz, *pz}, loc_), *nn}, loc_),
                  fmt::format("{}:{}: {} met both -0.0 and 0.0, or a NaN with its sign bit set (which one "
                              "np.partition leaves where is its algorithm's)",
                              PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, fn),
                  false, true);
  return true;
}

bool Tracer::sort_call(const std::string& name, CallArgs args, bool method) {
  ir::Graph& g = trace_.graph;
  const bool median = name == "median";
  const bool arg = name == "argsort";
  const bool inplace = method && name == "sort";
  const std::string fn = method ? fmt::format("ndarray.{}()", name) : fmt::format("np.{}()", name);
  std::string bad;
  const bool ok = median ? args.only({"a", "axis", "out", "overwrite_input", "keepdims"}, bad) && args.pos.size() <= 5
                         : args.only({"a", "axis", "kind", "order", "stable"}, bad) && args.pos.size() <= 4;
  if (!ok) return fail(AbortCode::UnsupportedCall, fmt::format("{} with '{}' is not traced yet", fn, bad.empty() ? "these arguments" : bad));
  if (!regions_.empty()) return fail(AbortCode::UnsupportedCall, fmt::format("{} inside a compiled loop is not traced yet", fn));
  const AValue* xp = args.get(0, "a");
  if (!xp || !xp->is_tensor() || xp->box != Box::Array)
    return fail(AbortCode::UnsupportedValue, fmt::format("{} of {} is not traced yet", fn, xp ? what(*xp) : "nothing"));
  const AValue x = *xp;
  if (!static_only(x)) return false;
  for (size_t i = 1; i < args.pos.size(); ++i)
    if (!args.pos[i].is_object()) return fail(AbortCode::UnsupportedValue, fmt::format("{} with a runtime argument", fn));
  for (const auto& kv : args.kw)
    if (!kv.second.is_object()) return fail(AbortCode::UnsupportedValue, fmt::format("{} with a runtime '{}='", fn, kv.first));
  int64_t kind = 0;  // NPY_QUICKSORT; 1 heapsort, 2 stable
  bool keepdims = false;
  if (median) {
    if (!is_none(args.get(2, "out"))) return fail(AbortCode::UnsupportedCall, "np.median(out=) is not traced yet");
    if (const AValue* o = args.get(3, "overwrite_input"); o && PyObject_IsTrue(o->obj) != 0)
      return fail(AbortCode::UnsupportedCall, "np.median(overwrite_input=True) (it reorders the array) runs eagerly");
    if (const AValue* k = args.get(4, "keepdims")) {
      const int t = PyObject_IsTrue(k->obj);
      if (t < 0) return fail(AbortCode::UserError, exception_text());
      keepdims = t == 1;
    }
  } else {
    if (!is_none(args.get(3, "order"))) return fail(AbortCode::UnsupportedCall, fmt::format("{} with order= is not traced", fn));
    if (const AValue* k = args.get(2, "kind"); !is_none(k)) {
      const char* s = PyUnicode_Check(k->obj) ? PyUnicode_AsUTF8(k->obj) : nullptr;
      if (!s) {
        PyErr_Clear();
        return fail(AbortCode::UnsupportedCall, fmt::format("{} with kind={}", fn, what(*k)));
      }
      const std::string k_name(s);
      if (k_name != "quicksort" && k_name != "mergesort" && k_name != "heapsort" && k_name != "stable")
        return fail(AbortCode::UserError, fmt::format("ValueError: sort kind must be one of 'quick', 'heap', or 'stable' (got '{}')", k_name));
      kind = k_name == "heapsort" ? 1 : k_name == "mergesort" || k_name == "stable" ? 2 : 0;
      if (kind == 1) {
        // NumPy 2.4 and 2.5 sort kind='heapsort' as the default quicksort (bit for bit, ties
        // of argsort too); what older versions do is not known here: eager there.
        PyObject* ver = PyObject_GetAttrString(np_->numpy, "__version__");
        const char* vs = ver && PyUnicode_Check(ver) ? PyUnicode_AsUTF8(ver) : nullptr;
        int major = 0, minor = 0;
        const bool known = vs && std::sscanf(vs, "%d.%d", &major, &minor) == 2 && (major > 2 || (major == 2 && minor >= 4));
        Py_XDECREF(ver);
        PyErr_Clear();
        if (!known) return fail(AbortCode::UnsupportedCall, fmt::format("{} with kind='heapsort' is not traced for this NumPy", fn));
        kind = 0;
      }
    }
    if (const AValue* s = args.get(99, "stable"); !is_none(s)) {
      if (s->obj != Py_True && s->obj != Py_False) return fail(AbortCode::UnsupportedCall, fmt::format("{} with stable={}", fn, what(*s)));
      if (!is_none(args.get(2, "kind"))) return fail(AbortCode::UserError, "ValueError: `kind` and `stable` parameters can't be provided at the same time. Use only one of them.");
      kind = s->obj == Py_True ? 2 : 0;
    }
  }
  // The rows: axis None flattens (not for ndarray.sort), an int is moved last.
  const int rank = x.type.rank();
  const AValue* axis_v = args.get(1, "axis");
  const bool flat = median ? is_none(axis_v) : axis_v && axis_v->obj == Py_None;
  if (flat && inplace) return fail(AbortCode::UserError, "TypeError: 'NoneType' object cannot be interpreted as an integer");
  auto rows = sort_rows(x, axis_v, flat, fn);
  if (!rows) return false;
  const AValue y = rows->y;
  const std::vector<int64_t>& perm = rows->perm;
  const int64_t axis = rows->axis;
  const int64_t n = y.type.shape.back().size;
  if (median && n == 0)
    return fail(AbortCode::UnsupportedValue, "np.median() of an empty slice (NumPy warns \"Mean of empty slice\") runs eagerly");
  const bool flt = ir::is_float(x.type.dtype);
  auto sorted = [&](int64_t mode) {
    std::vector<int64_t> ints = {mode, kind};
    if (mode == 2) {  // np.median's partition: the middle one or two
      if (n % 2 == 0) ints.push_back(n / 2 - 1);
      ints.push_back(n / 2);
    }
    return tensor(g.add_op(ir::Op::Sort, y.type.with_dtype(mode == 1 ? ir::DType::I64 : y.type.dtype), {y.v}, ints, loc_), Box::Array);
  };
  const AValue s = median ? AValue() : sorted(0);
  // y[..., key] (a Python slice or int) through the tracer's own indexing.
  auto along = [&](const AValue& v, PyObject* key) -> std::optional<AValue> {
    PyObject* k = PyTuple_Pack(2, Py_Ellipsis, key);
    Py_DECREF(key);
    if (!k || !index_tensor(v, k)) {
      Py_XDECREF(k);
      if (!abort_) fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    Py_DECREF(k);
    return pop();
  };
  auto slice = [](int64_t start, int64_t stop, bool has_start, bool has_stop) -> PyObject* {
    PyObject* a = has_start ? PyLong_FromLongLong(start) : nullptr;
    PyObject* b = has_stop ? PyLong_FromLongLong(stop) : nullptr;
    PyObject* sl = PySlice_New(a, b, nullptr);
    Py_XDECREF(a);
    Py_XDECREF(b);
    return sl;
  };
  if (median && flt && !partition_rerun_check(y, fn)) return false;

  // The result, back in x's axis order.
  auto unpermute = [&](const AValue& r) -> AValue {
    if (perm.empty()) return r;
    std::vector<int64_t> inv(perm.size());
    for (size_t k = 0; k < perm.size(); ++k) inv[static_cast<size_t>(perm[k])] = static_cast<int64_t>(k);
    std::vector<ir::Dim> sh;
    for (int64_t d : inv) sh.push_back(r.type.shape[static_cast<size_t>(d)]);
    return tensor(g.add_op(ir::Op::Transpose, ir::Type(r.type.dtype, sh), {r.v}, inv, loc_), Box::Array);
  };
  if (!median) {
    AValue r = unpermute(arg ? sorted(1) : s);
    if (!inplace) {
      push(r);
      return true;
    }
    if (!check_inplace_target(x) || !store_subscr(x, Py_Ellipsis, r)) return false;
    push(object(Py_None, Source::constant()));
    return true;
  }
  // np.median: the mean of the middle one or two of the partitioned rows, NaN where the row has
  // a NaN.
  const AValue part = sorted(2);
  auto mid = along(part, slice(n % 2 ? n / 2 : n / 2 - 1, n / 2 + 1, true, true));
  if (!mid) return false;
  PyObject* minus_one = PyLong_FromLong(-1);
  const AValue last_axis = object(minus_one, Source::constant());
  Py_DECREF(minus_one);
  if (!reduce("mean", *mid, &last_axis, false, nullptr, 0)) return false;
  AValue m = pop();
  if (flt) {
    const ir::ValueId isn = g.add_op(ir::Op::IsNan, y.type.with_dtype(ir::DType::Bool), {y.v}, loc_);
    const AValue row_nan = tensor(isn, Box::Array);
    if (!reduce("any", row_nan, &last_axis, false, nullptr, 0)) return false;
    const AValue has_nan = pop();
    const ir::ValueId nan = g.add_const_float(m.type.dtype, std::numeric_limits<double>::quiet_NaN(), loc_);
    m = tensor(g.add_op(ir::Op::Where, m.type, {has_nan.v, nan, m.v}, loc_), m.box);
  }
  if (keepdims) {
    std::vector<int64_t> kshape;
    for (int d = 0; d < rank; ++d) kshape.push_back(flat || d == axis ? 1 : x.type.shape[static_cast<size_t>(d)].size);
    auto r = reshape_value(tensor(m.v, Box::Array), kshape, false);
    if (!r) return false;
    push(*r);
    return true;
  }
  push(m);
  return true;
}

}  // namespace tracejit::tracer::detail

namespace tracejit::tracer::detail {

// np.percentile(a, q, axis, ..., keepdims) / np.quantile with method='linear', as
// numpy/lib/_function_base_impl.py computes them: the rows partitioned at the positions read
// (the `sort` op's mode 2), for each q the virtual index (n - 1) * q (q / 100 for percentile, in float64), its
// floor and the next index (both the last element at or above n - 1), gamma = index - floor,
// and _lerp: a + (b - a) * gamma, or b - (b - a) * (1 - gamma) when gamma >= 0.5; a Python
// number q is a weak scalar there (float32 data gives float32), a list of them a float64 array
// (float64 results, stacked on a new first axis). A row holding a NaN gives its last element.
// Data with both signed zeros or a negative NaN re-runs eagerly, as np.median. Integer
// virtual indexes (np.quantile(a, 1) or of a list of ints), bool data, weights=, out=,
// overwrite_input=True and other methods run eagerly.
bool Tracer::quantile_call(const std::string& name, CallArgs args) {
  ir::Graph& g = trace_.graph;
  const bool pct = name == "percentile";
  const std::string fn = fmt::format("np.{}()", name);
  std::string bad;
  if (!args.only({"a", "q", "axis", "out", "overwrite_input", "method", "keepdims", "weights", "interpolation"}, bad) || args.pos.size() > 7)
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with '{}' is not traced yet", fn, bad.empty() ? "these arguments" : bad));
  if (!regions_.empty()) return fail(AbortCode::UnsupportedCall, fmt::format("{} inside a compiled loop is not traced yet", fn));
  const AValue* xp = args.get(0, "a");
  const AValue* qv = args.get(1, "q");
  if (!xp || !qv || !xp->is_tensor() || xp->box != Box::Array)
    return fail(AbortCode::UnsupportedValue, fmt::format("{} of {} is not traced yet", fn, xp ? what(*xp) : "nothing"));
  const AValue x = *xp;
  if (!static_only(x)) return false;
  if (!ir::is_float(x.type.dtype) && !ir::is_integer(x.type.dtype))
    return fail(AbortCode::UnsupportedDtype, fmt::format("{} of {} data runs eagerly", fn, ir::dtype_numpy_name(x.type.dtype)));
  for (size_t i = 2; i < args.pos.size(); ++i)
    if (!args.pos[i].is_object()) return fail(AbortCode::UnsupportedValue, fmt::format("{} with a runtime argument", fn));
  for (const auto& kv : args.kw)
    if (kv.first != "q" && !kv.second.is_object()) return fail(AbortCode::UnsupportedValue, fmt::format("{} with a runtime '{}='", fn, kv.first));
  if (!is_none(args.get(3, "out")) || !is_none(args.get(99, "weights")) || !is_none(args.get(99, "interpolation")))
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with out=, weights= or interpolation= is not traced yet", fn));
  if (const AValue* o = args.get(4, "overwrite_input"); o && PyObject_IsTrue(o->obj) != 0)
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with overwrite_input=True (it reorders the array) runs eagerly", fn));
  if (const AValue* m = args.get(5, "method"); m && !(PyUnicode_Check(m->obj) && PyUnicode_CompareWithASCIIString(m->obj, "linear") == 0))
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with a method other than 'linear' is not traced yet", fn));
  bool keepdims = false;
  if (const AValue* k = args.get(6, "keepdims")) {
    const int t = PyObject_IsTrue(k->obj);
    if (t < 0) return fail(AbortCode::UserError, exception_text());
    keepdims = t == 1;
  }
  // q: a Python int or float (weak), or a list/tuple of them (a float64 array).
  std::vector<double> qs;
  bool weak = false;
  auto number = [&](const AValue& v, bool& is_int) -> std::optional<double> {
    if (!v.is_object() || (!PyFloat_CheckExact(v.obj) && !PyLong_CheckExact(v.obj))) return std::nullopt;
    is_int = PyLong_CheckExact(v.obj);
    const double d = PyFloat_AsDouble(v.obj);
    if (PyErr_Occurred()) {
      PyErr_Clear();
      return std::nullopt;
    }
    return d;
  };
  bool all_int = true;
  if (qv->is_object() && (PyFloat_CheckExact(qv->obj) || PyLong_CheckExact(qv->obj))) {
    bool is_int = false;
    auto d = number(*qv, is_int);
    if (!d) return fail(AbortCode::UnsupportedValue, fmt::format("{} with q={}", fn, what(*qv)));
    AValue qq = *qv;
    materialize(qq);
    qs.push_back(*d);
    weak = true;
    all_int = is_int;
  } else {
    std::vector<AValue> items;
    if (qv->kind == AValue::Kind::Tuple) {
      auto it = items_of(*qv);
      if (!it) return false;
      items = *it;
    } else if (qv->is_object() && (PyTuple_CheckExact(qv->obj) || PyList_CheckExact(qv->obj)) &&
               (!qv->source || qv->source->kind == Source::Kind::Constant)) {
      for (Py_ssize_t i = 0; i < PySequence_Size(qv->obj); ++i) {
        PyObject* o = PySequence_GetItem(qv->obj, i);
        items.push_back(object(o, Source::constant()));
        Py_DECREF(o);
      }
    } else {
      return fail(AbortCode::UnsupportedValue, fmt::format("{} with q={} is not traced yet (Python numbers or a list of them)", fn, what(*qv)));
    }
    if (items.empty() || items.size() > 64) return fail(AbortCode::UnsupportedValue, fmt::format("{} with {} quantiles", fn, items.size()));
    for (AValue& it : items) {
      bool is_int = false;
      auto d = number(it, is_int);
      if (!d) return fail(AbortCode::UnsupportedValue, fmt::format("{} with a q item {} is not traced yet", fn, what(it)));
      materialize(it);
      all_int = all_int && is_int;
      qs.push_back(*d);
    }
  }
  if (!pct && all_int)
    return fail(AbortCode::UnsupportedCall, "np.quantile() with integer q (NumPy takes elements, not interpolations) is not traced yet");
  for (double& q : qs) {
    if (pct) q = q / 100.0;  // np.true_divide(q, 100) in float64
    if (!(q >= 0.0 && q <= 1.0))
      return fail(AbortCode::UserError, pct ? "ValueError: Percentiles must be in the range [0, 100]" : "ValueError: Quantiles must be in the range [0, 1]");
  }
  // The rows: axis None flattens, an int is moved last.
  const int rank = x.type.rank();
  const AValue* axis_v = args.get(2, "axis");
  const bool flat = is_none(axis_v);
  auto rows = sort_rows(x, axis_v, flat, fn);
  if (!rows) return false;
  const AValue y = rows->y;
  const int64_t axis = rows->axis;
  const int64_t n = y.type.shape.back().size;
  if (n == 0) return fail(AbortCode::UnsupportedValue, fmt::format("{} of an empty slice runs eagerly", fn));
  const bool flt = ir::is_float(x.type.dtype);
  // The row partitioned at every position the q's read (and the last, for the NaN check).
  std::vector<int64_t> kth;
  for (double q : qs) {
    const double vi = static_cast<double>(n - 1) * q;
    const double prev = std::floor(vi);
    if (vi >= static_cast<double>(n - 1)) kth.push_back(n - 1);
    else if (vi < 0) kth.push_back(0);
    else kth.insert(kth.end(), {static_cast<int64_t>(prev), static_cast<int64_t>(prev) + 1});
  }
  if (flt) kth.push_back(n - 1);
  std::sort(kth.begin(), kth.end());
  kth.erase(std::unique(kth.begin(), kth.end()), kth.end());
  std::vector<int64_t> ints = {2, 0};
  ints.insert(ints.end(), kth.begin(), kth.end());
  const AValue part = tensor(g.add_op(ir::Op::Sort, y.type, {y.v}, ints, loc_), Box::Array);
  auto at = [&](int64_t k) -> std::optional<AValue> {
    PyObject* key = Py_BuildValue("(OL)", Py_Ellipsis, static_cast<long long>(k));
    if (!key) return std::nullopt;
    const bool ok = index_tensor(part, key);
    Py_DECREF(key);
    if (!ok) return std::nullopt;
    return pop();
  };
  if (flt && !partition_rerun_check(y, fn)) return false;  // as np.median
  const UfuncInfo& sub = *np_->ufunc_named("subtract");
  const UfuncInfo& mul = *np_->ufunc_named("multiply");
  const UfuncInfo& add = *np_->ufunc_named("add");
  // t: a Python float (weak q) or a float64 0-d array.
  auto weight = [&](double t) -> AValue {
    if (weak) {
      PyObject* f = PyFloat_FromDouble(t);
      AValue v = object(f, Source::constant());
      Py_DECREF(f);
      return v;
    }
    return tensor(g.add_const_float(ir::DType::F64, t, loc_), Box::Array);
  };
  std::optional<AValue> last;
  std::optional<AValue> has_nan;
  if (flt) {
    last = at(-1);
    if (!last) return false;
    has_nan = tensor(g.add_op(ir::Op::IsNan, last->type.with_dtype(ir::DType::Bool), {last->v}, loc_), Box::Array);
  }
  AValue results;
  results.kind = AValue::Kind::Tuple;
  for (double q : qs) {
    const double vi = static_cast<double>(n - 1) * q;
    double prev = std::floor(vi), next = prev + 1.0;
    if (vi >= static_cast<double>(n - 1)) prev = next = -1.0;
    if (vi < 0) prev = next = 0.0;
    const double gamma = vi - prev;
    auto a = at(static_cast<int64_t>(prev));
    auto b = a ? at(static_cast<int64_t>(next)) : std::nullopt;
    if (!b) return false;
    if (!apply_ufunc(sub, {*b, *a}, false)) return false;
    const AValue diff = pop();
    if (gamma >= 0.5) {
      if (!apply_ufunc(mul, {diff, weight(1.0 - gamma)}, false) || !apply_ufunc(sub, {*b, pop()}, false)) return false;
    } else {
      if (!apply_ufunc(mul, {diff, weight(gamma)}, false) || !apply_ufunc(add, {*a, pop()}, false)) return false;
    }
    AValue r = pop();
    if (flt) r = tensor(g.add_op(ir::Op::Where, r.type, {has_nan->v, cast(last->v, r.type.dtype), r.v}, loc_), r.box);
    results.items.push_back(r);
  }
  AValue r = results.items[0];
  if (!weak) {
    CallArgs s;
    s.pos = {results};
    bool handled = false;
    if (!call_numpy("stack", std::move(s), false, handled)) return false;
    r = pop();
  }
  if (keepdims) {
    std::vector<int64_t> kshape;
    if (!weak) kshape.push_back(static_cast<int64_t>(qs.size()));
    for (int d = 0; d < rank; ++d) kshape.push_back(flat || d == axis ? 1 : x.type.shape[static_cast<size_t>(d)].size);
    auto k = reshape_value(tensor(r.v, Box::Array), kshape, false);
    if (!k) return false;
    r = *k;
  }
  push(r);
  return true;
}

}  // namespace tracejit::tracer::detail
