// np.searchsorted, ndarray.searchsorted, np.digitize and np.interp on a sorted 1-d array, as a
// fixed sequence of gathers: a branch-free binary search whose steps depend only on the array's
// (static) length n, so every element of the keys runs the same ceil(log2 n) probes, fused into
// one elementwise loop with whatever computes the keys and uses the positions.
//
// - searchsorted(a, v, side='left'|'right'): NumPy's answer for a sorted `a` is unique (the
//   first position whose element is not below the key -- or above it, for 'right' -- in NumPy's
//   order with NaNs last), so any correct search gives it. For an unsorted `a` NumPy's answer is
//   its own algorithm's; a compiled check (an adjacent pair out of order) re-runs such a call
//   eagerly. Keys and array are compared in the dtype NumPy does (the promotion of both).
//   sorter= runs eagerly.
// - digitize(x, bins, right=False): searchsorted(bins, x, side='right'|'left') for bins that
//   do not decrease and hold no NaN; other bins (decreasing ones, NaNs, or NumPy's ValueError
//   for unordered bins) re-run the call eagerly.
// - interp(x, xp, fp, left=None, right=None): arr_interp in numpy/_core/src/multiarray/
//   compiled_base.c, in float64: the last j with xp[j] <= x (its binary search with a guess
//   finds the same j whenever xp does not decrease), then fp[j] at xp[j] == x and at the last
//   point, else slope * (x - xp[j]) + fp[j] with slope = (fp[j+1] - fp[j]) / (xp[j+1] - xp[j]),
//   retried from the right end when that is NaN, and fp[j] when both are NaN and fp[j] ==
//   fp[j+1]; left/right outside; NaN keys stay NaN (one sample point: NumPy's three-way choice,
//   where a NaN key gives fp[0]). xp holding a NaN or a decrease re-runs eagerly, and so does data
//   that raises floating-point flags NumPy's loop ignores (an infinite fp, a repeated xp: the
//   branch-free code computes every lane's slope). period= and complex fp run eagerly.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

namespace {

bool is_str(const AValue* v, const char* s) {
  return v && v->is_object() && PyUnicode_Check(v->obj) && PyUnicode_CompareWithASCIIString(v->obj, s) == 0;
}

}  // namespace

// `x` as an ndarray value (np.asarray of a list, a scalar or a runtime number).
std::optional<AValue> Tracer::as_array_value(const AValue& x) {
  if (x.is_tensor() && x.box == Box::Array) return x;
  CallArgs a;
  a.pos.push_back(x);
  if (!array_ctor("asarray", std::move(a))) return std::nullopt;
  return pop();
}

// NumPy's order for sorting and searching (npy::*_tag::less): NaNs after every number.
ir::ValueId Tracer::sort_less(ir::ValueId a, ir::ValueId b) {
  ir::Graph& g = trace_.graph;
  const ir::Type ta = g.type(a), tb = g.type(b);
  std::vector<ir::Dim> shape = ta.rank() >= tb.rank() ? ta.shape : tb.shape;
  const ir::Type bt(ir::DType::Bool, shape);
  const ir::ValueId lt = g.add_op(ir::Op::Lt, bt, {a, b}, loc_);
  if (!ir::is_float(ta.dtype)) return lt;
  // a < b || (b != b && a == a)
  const ir::ValueId bnan = g.add_op(ir::Op::IsNan, tb.with_dtype(ir::DType::Bool), {b}, loc_);
  const ir::ValueId anum = g.add_op(ir::Op::Not, ta.with_dtype(ir::DType::Bool),
                                    {g.add_op(ir::Op::IsNan, ta.with_dtype(ir::DType::Bool), {a}, loc_)}, loc_);
  return g.add_op(ir::Op::Or, bt, {lt, g.add_op(ir::Op::And, bt, {bnan, anum}, loc_)}, loc_);
}

// The position of each key of `v` (any shape, a's dtype) in the sorted 1-d `a` (static length):
// i64 of v's shape. right: the first element above the key, else the first not below it.
// plain: plain comparisons, for an `a` without NaNs and keys whose NaN lanes are not used.
ir::ValueId Tracer::binary_search(ir::ValueId a, ir::ValueId v, bool right, bool plain) {
  ir::Graph& g = trace_.graph;
  const int64_t n = g.type(a).shape[0].size;
  const ir::Type it = g.type(v).with_dtype(ir::DType::I64);
  if (n == 0) return g.add_op(ir::Op::Broadcast, it, {g.add_const_int(ir::DType::I64, 0, loc_)}, loc_);
  // The answer lies in [base, base + len]: a probe at base + half - 1 below the key (right: not
  // above it) moves base up by half. len goes n, n - n/2, ... the same for every key.
  auto past = [&](ir::ValueId elem) {  // the key goes after elem
    if (plain) return g.add_op(right ? ir::Op::Le : ir::Op::Lt, it.with_dtype(ir::DType::Bool), {elem, v}, loc_);
    if (!right) return sort_less(elem, v);
    return g.add_op(ir::Op::Not, it.with_dtype(ir::DType::Bool), {sort_less(v, elem)}, loc_);
  };
  auto probe = [&](ir::ValueId at) {
    return g.add_op(ir::Op::Gather, g.type(v).with_dtype(g.type(a).dtype), {a, at}, {0, 2}, loc_);
  };
  ir::ValueId base = g.add_op(ir::Op::Broadcast, it, {g.add_const_int(ir::DType::I64, 0, loc_)}, loc_);
  for (int64_t len = n; len > 1; len -= len / 2) {
    const int64_t half = len / 2;
    const ir::ValueId at = g.add_op(ir::Op::Add, it, {base, g.add_const_int(ir::DType::I64, half - 1, loc_)}, loc_);
    const ir::ValueId up = g.add_op(ir::Op::Add, it, {base, g.add_const_int(ir::DType::I64, half, loc_)}, loc_);
    base = g.add_op(ir::Op::Where, it, {past(probe(at)), up, base}, loc_);
  }
  return g.add_op(ir::Op::Add, it, {base, cast(past(probe(base)), ir::DType::I64)}, loc_);
}

// A rerun check: some element of the 1-d `a` comes before the one ahead of it in NumPy's order
// (or, with no_nan, `a` holds a NaN).
bool Tracer::unsorted_rerun_check(const AValue& a, bool no_nan, const std::string& why) {
  ir::Graph& g = trace_.graph;
  const int64_t n = a.type.shape[0].size;
  std::optional<ir::ValueId> flag;
  auto or_any = [&](ir::ValueId f) -> bool {
    const std::optional<ir::ValueId> r = any_of(f);
    if (!r) return false;
    flag = flag ? g.add_op(ir::Op::Or, ir::Type::scalar(ir::DType::Bool), {*flag, *r}, loc_) : *r;
    return true;
  };
  if (n >= 2) {
    const ir::Type st = ir::Type::of(a.type.dtype, {n - 1});
    const ir::ValueId lo = g.add_op(ir::Op::Slice, st, {a.v}, {0, 1}, loc_);
    const ir::ValueId hi = g.add_op(ir::Op::Slice, st, {a.v}, {1, 1}, loc_);
    if (!or_any(sort_less(hi, lo))) return false;
  }
  if (no_nan && ir::is_float(a.type.dtype) && n >= 1)
    if (!or_any(g.add_op(ir::Op::IsNan, a.type.with_dtype(ir::DType::Bool), {a.v}, loc_))) return false;
  if (flag) add_rerun_check(*flag, why, false, true);
  return true;
}

bool Tracer::searchsorted_call(const std::string& name, CallArgs args) {
  ir::Graph& g = trace_.graph;
  const bool digitize = name == "digitize";
  const std::string fn = name == "ndarray.searchsorted" ? "ndarray.searchsorted()" : fmt::format("np.{}()", name);
  std::string bad;
  const bool ok = digitize ? args.only({"x", "bins", "right"}, bad) && args.pos.size() <= 3
                           : args.only({"a", "v", "side", "sorter"}, bad) && args.pos.size() <= 4;
  if (!ok) return fail(AbortCode::UnsupportedCall, fmt::format("{} with '{}' is not traced yet", fn, bad.empty() ? "these arguments" : bad));
  if (!regions_.empty()) return fail(AbortCode::UnsupportedCall, fmt::format("{} inside a compiled loop is not traced yet", fn));
  const AValue* av = digitize ? args.get(1, "bins") : args.get(0, "a");
  const AValue* vv = digitize ? args.get(0, "x") : args.get(1, "v");
  if (!av || !vv) return fail(AbortCode::UnsupportedCall, fmt::format("{} needs two arguments", fn));
  bool right = false;
  if (digitize) {
    if (const AValue* r = args.get(2, "right")) {
      if (!r->is_object()) return fail(AbortCode::UnsupportedValue, fmt::format("{} with a runtime right=", fn));
      const int t = PyObject_IsTrue(r->obj);
      if (t < 0) return fail(AbortCode::UserError, exception_text());
      right = t == 0;  // right=False searches with side='right'
    } else {
      right = true;
    }
  } else {
    if (const AValue* s = args.get(2, "side")) {
      if (is_str(s, "right")) right = true;
      else if (!is_str(s, "left"))
        return fail(AbortCode::UnsupportedValue, fmt::format("{} with side other than 'left' or 'right' runs eagerly", fn));
    }
    if (!is_none(args.get(3, "sorter"))) return fail(AbortCode::UnsupportedCall, fmt::format("{} with sorter= is not traced yet", fn));
  }
  auto a = as_array_value(*av);
  if (!a) return false;
  auto v = as_array_value(*vv);
  if (!v) return false;
  if (!static_only(*a) || !static_only(*v)) return false;
  if (a->type.rank() != 1)
    return fail(AbortCode::UnsupportedValue, fmt::format("{} of a {}-d array runs eagerly", fn, a->type.rank()));
  for (const AValue* x : {&*a, &*v})
    if (!ir::is_float(x->type.dtype) && !ir::is_integer(x->type.dtype) && !ir::is_bool(x->type.dtype))
      return fail(AbortCode::UnsupportedDtype, fmt::format("{} of {} data runs eagerly", fn, ir::dtype_numpy_name(x->type.dtype)));
  // NumPy compares in the dtype both convert to (PyArray_DescrFromObject(v, a.dtype)).
  auto dt = arrays_result_dtype({a->type.dtype, v->type.dtype}, fn);
  if (!dt) return false;
  const AValue ac = tensor(cast(a->v, *dt), Box::Array);
  const ir::ValueId vc = cast(v->v, *dt);
  if (!unsorted_rerun_check(digitize ? *a : ac, digitize,
                            digitize ? fmt::format("{}:{}: {} of bins that decrease or hold a NaN", PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, fn)
                                     : fmt::format("{}:{}: {} of an array that is not sorted (NumPy's answer is then its algorithm's)",
                                                   PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, fn)))
    return false;
  const ir::ValueId r = binary_search(ac.v, vc, right);
  push(tensor(r, g.type(r).rank() == 0 ? Box::NpScalar : Box::Array));
  return true;
}

bool Tracer::interp_call(CallArgs args) {
  ir::Graph& g = trace_.graph;
  const std::string fn = "np.interp()";
  std::string bad;
  if (!args.only({"x", "xp", "fp", "left", "right", "period"}, bad) || args.pos.size() > 6)
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with '{}' is not traced yet", fn, bad.empty() ? "these arguments" : bad));
  if (!regions_.empty()) return fail(AbortCode::UnsupportedCall, fmt::format("{} inside a compiled loop is not traced yet", fn));
  const AValue* xv = args.get(0, "x");
  const AValue* xpv = args.get(1, "xp");
  const AValue* fpv = args.get(2, "fp");
  if (!xv || !xpv || !fpv) return fail(AbortCode::UserError, "TypeError: interp() missing required arguments");
  if (!is_none(args.get(5, "period"))) return fail(AbortCode::UnsupportedCall, fmt::format("{} with period= is not traced yet", fn));
  auto x = as_array_value(*xv);
  if (!x) return false;
  auto xp = as_array_value(*xpv);
  if (!xp) return false;
  auto fp = as_array_value(*fpv);
  if (!fp) return false;
  if (!static_only(*x) || !static_only(*xp) || !static_only(*fp)) return false;
  for (const AValue* t : {&*x, &*xp, &*fp})
    if (!ir::is_float(t->type.dtype) && !ir::is_integer(t->type.dtype) && !ir::is_bool(t->type.dtype))
      return fail(AbortCode::UnsupportedDtype, fmt::format("{} of {} data runs eagerly", fn, ir::dtype_numpy_name(t->type.dtype)));
  // NumPy's own errors (xp and fp 1-d, non-empty, of one length) from an eager run.
  if (xp->type.rank() != 1 || fp->type.rank() != 1 || xp->type.shape[0].size == 0 ||
      xp->type.shape[0].size != fp->type.shape[0].size)
    return fail(AbortCode::UnsupportedValue, fmt::format("{} with xp and fp not 1-d of one nonzero length runs eagerly", fn));
  const ir::DType f64 = ir::DType::F64;
  auto element = [&](ir::ValueId arr, int64_t i) {  // arr[i] of a 1-d arr, 0-d
    const ir::DType d = g.type(arr).dtype;
    const ir::ValueId s = g.add_op(ir::Op::Slice, ir::Type::of(d, {1}), {arr}, {i, 1}, loc_);
    return g.add_op(ir::Op::Reshape, ir::Type::scalar(d), {s}, loc_);
  };
  // left= / right=: PyFloat_AsDouble of a number, or fp's end points.
  auto bound = [&](const AValue* b, int64_t at) -> std::optional<ir::ValueId> {
    if (is_none(b)) return element(cast(fp->v, f64), at);
    if (b->is_object() && (PyFloat_Check(b->obj) || PyLong_Check(b->obj))) {
      const double d = PyFloat_AsDouble(b->obj);
      if (PyErr_Occurred()) {
        fail(AbortCode::UserError, exception_text());
        return std::nullopt;
      }
      return g.add_const_float(f64, d, loc_);
    }
    if (b->is_tensor() && b->type.rank() == 0 && (ir::is_float(b->type.dtype) || ir::is_integer(b->type.dtype)))
      return cast(b->v, f64);
    fail(AbortCode::UnsupportedValue, fmt::format("{} with left=/right= {} is not traced yet", fn, what(*b)));
    return std::nullopt;
  };
  const int64_t n = xp->type.shape[0].size;
  auto lval = bound(args.get(3, "left"), 0);
  if (!lval) return false;
  auto rval = bound(args.get(4, "right"), n - 1);
  if (!rval) return false;
  const AValue dx = tensor(cast(xp->v, f64), Box::Array);
  const ir::ValueId dy = cast(fp->v, f64);
  const ir::ValueId z = cast(x->v, f64);
  const ir::Type rt = g.type(z);
  const ir::Type bt = rt.with_dtype(ir::DType::Bool);
  const ir::Type it = rt.with_dtype(ir::DType::I64);
  auto at = [&](ir::ValueId arr, ir::ValueId idx) {
    return g.add_op(ir::Op::Gather, rt, {arr, idx}, {0, 2}, loc_);
  };
  auto where = [&](ir::ValueId c, ir::ValueId a, ir::ValueId b) { return g.add_op(ir::Op::Where, rt, {c, a, b}, loc_); };
  ir::ValueId res;
  if (n == 1) {
    const ir::ValueId x0 = element(dx.v, 0);
    res = where(g.add_op(ir::Op::Lt, bt, {z, x0}, loc_), *lval,
                where(g.add_op(ir::Op::Gt, bt, {z, x0}, loc_), *rval, element(dy, 0)));
  } else {
    if (!unsorted_rerun_check(dx, true,
                              fmt::format("{}:{}: {} with sample points xp that decrease or hold a NaN",
                                          PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, fn)))
      return false;
    // j: the last index with xp[j] <= x, clipped into [0, n - 2] for the slope's two points.
    // (xp holds no NaN when this result is used; a NaN key's lanes are replaced below.)
    const ir::ValueId pos = binary_search(dx.v, z, true, true);
    const ir::ValueId j = g.add_op(ir::Op::Sub, it, {pos, g.add_const_int(ir::DType::I64, 1, loc_)}, loc_);
    const ir::ValueId jc = g.add_op(ir::Op::Minimum, it, {g.add_op(ir::Op::Maximum, it, {j, g.add_const_int(ir::DType::I64, 0, loc_)}, loc_),
                                                         g.add_const_int(ir::DType::I64, n - 2, loc_)}, loc_);
    const ir::ValueId j1 = g.add_op(ir::Op::Add, it, {jc, g.add_const_int(ir::DType::I64, 1, loc_)}, loc_);
    const ir::ValueId xj = at(dx.v, jc), xj1 = at(dx.v, j1), yj = at(dy, jc), yj1 = at(dy, j1);
    // (A repeated sample point divides by zero in lanes whose slope is not used -- and LLVM
    // would fold a guard on the divisor into a select after the division -- so the flag makes
    // such a call re-run eagerly; NumPy's own loop divides the same way, silently.)
    const ir::ValueId slope = g.add_op(ir::Op::Div, rt, {g.add_op(ir::Op::Sub, rt, {yj1, yj}, loc_),
                                                         g.add_op(ir::Op::Sub, rt, {xj1, xj}, loc_)}, loc_);
    auto line = [&](ir::ValueId x0, ir::ValueId y0) {
      return g.add_op(ir::Op::Add, rt, {g.add_op(ir::Op::Mul, rt, {slope, g.add_op(ir::Op::Sub, rt, {z, x0}, loc_)}, loc_), y0}, loc_);
    };
    auto isnan = [&](ir::ValueId a) { return g.add_op(ir::Op::IsNan, bt, {a}, loc_); };
    const ir::ValueId r1 = line(xj, yj);
    const ir::ValueId r2 = line(xj1, yj1);
    const ir::ValueId flat = g.add_op(ir::Op::And, bt, {isnan(r2), g.add_op(ir::Op::Eq, bt, {yj, yj1}, loc_)}, loc_);
    ir::ValueId inner = where(isnan(r1), where(flat, yj, r2), r1);
    inner = where(g.add_op(ir::Op::Eq, bt, {xj, z}, loc_), yj, inner);  // at a sample point
    // j == n - 1 (x equals the last point): fp[n - 1].
    inner = where(g.add_op(ir::Op::Eq, bt, {j, g.add_const_int(ir::DType::I64, n - 1, loc_)}, loc_), element(dy, n - 1), inner);
    res = where(g.add_op(ir::Op::Lt, bt, {z, element(dx.v, 0)}, loc_), *lval,
                where(g.add_op(ir::Op::Gt, bt, {z, element(dx.v, n - 1)}, loc_), *rval, inner));
    res = where(isnan(z), z, res);
  }
  push(tensor(res, rt.rank() == 0 ? Box::NpScalar : Box::Array));
  return true;
}

}  // namespace tracejit::tracer::detail
