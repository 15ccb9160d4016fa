// np.histogram(a, bins=<int>, range=None | (lo, hi)) with weights=None and density None/False:
// NumPy's equal-bins algorithm (numpy/lib/_histograms_impl.py, the same in NumPy 2.4 and 2.5),
// step by step and in NumPy's dtypes, so every count and every edge is NumPy's:
//
//  - The outer edges: range's two numbers (lo == hi widened by 0.5 each way, as Python
//    arithmetic), else the data's min and max as NumPy scalars of a's dtype (a non-finite one:
//    NumPy raises ValueError, and the call re-runs eagerly to raise it; an empty a: 0 and 1).
//  - bin_type: a's float dtype, float64 for integer data. The edges are np.linspace(first, last,
//    bins + 1) cast to bin_type: computed in a's float dtype when the edges are its scalars,
//    in float64 otherwise (Python numbers, integer scalars); its step == 0 branch (tiny ranges)
//    included, and the last edge set to `last`.
//  - keep = (a >= first) & (a <= last), compared as NumPy compares a with those scalars (all of
//    a when the edges are its own min and max). The kept values cast to bin_type give
//    f = ((v - first) / norm) * bins, with norm = _unsigned_subtract(last, first) (integer edges:
//    their difference as unsigned); its dtype follows NumPy's promotion (a float32 array over
//    range's float64 norm computes in float64).
//  - idx = int(f), idx == bins -> bins - 1, then one step down where v < edges[idx] and one up
//    where v >= edges[idx + 1] (not in the last bin), and the counts a scatter-add of keep at idx
//    (np.bincount's sum): int64 counts, NumPy's intp.
// Other forms (bins as edges or a string, weights=, density=True, runtime range=, bool, float16
// and complex data) run eagerly.
#include "tracer/tracer_impl.h"

#include <cmath>

namespace tracejit::tracer::detail {

namespace {

// A Python number of range=: a static int (exact, in int64) or float, or a runtime Python float
// (`v`, a float64 0-d value: floats are not specialized by value).
struct Bound {
  bool is_int = false;
  int64_t i = 0;
  double f = 0.0;
  ir::ValueId v = -1;
  double as_double() const { return is_int ? static_cast<double>(i) : f; }
};

}  // namespace

bool Tracer::histogram_call(CallArgs args) {
  ir::Graph& g = trace_.graph;
  const std::string fn = "np.histogram()";
  std::string bad;
  if (!args.only({"a", "bins", "range", "density", "weights"}, bad) || args.pos.size() > 5)
    return fail(AbortCode::UnsupportedCall, fmt::format("{} with '{}' is not traced yet", fn, bad.empty() ? "these arguments" : bad));
  if (!regions_.empty()) return fail(AbortCode::UnsupportedCall, fmt::format("{} inside a compiled loop is not traced yet", fn));
  const AValue* av = args.get(0, "a");
  if (!av) return fail(AbortCode::UserError, "TypeError: histogram() missing required argument 'a'");
  if (!is_none(args.get(4, "weights"))) return fail(AbortCode::UnsupportedCall, fmt::format("{} with weights= is not traced yet", fn));
  if (const AValue* d = args.get(3, "density"); !is_none(d)) {
    if (!d->is_object() || !PyBool_Check(d->obj) || d->obj == Py_True)
      return fail(AbortCode::UnsupportedCall, fmt::format("{} with density= other than False is not traced yet", fn));
  }
  // bins: a Python int (NumPy's default 10); edges or a method name run eagerly.
  int64_t nb = 10;
  if (const AValue* b = args.get(1, "bins")) {
    if (!b->is_object() || !PyLong_Check(b->obj) || PyBool_Check(b->obj))
      return fail(AbortCode::UnsupportedCall, fmt::format("{} with bins= other than an int is not traced yet", fn));
    int overflow = 0;
    nb = PyLong_AsLongLongAndOverflow(b->obj, &overflow);
    if (overflow || nb < 1 || nb >= (int64_t{1} << 24))  // NumPy raises ValueError below 1
      return fail(AbortCode::UnsupportedValue, fmt::format("{} with bins={} runs eagerly", fn, overflow ? -1 : nb));
  }
  // range: None or two static Python numbers.
  std::optional<std::pair<Bound, Bound>> range;
  if (const AValue* r = args.get(2, "range"); !is_none(r)) {
    std::vector<const AValue*> items;  // null: a static object, in `objs`
    std::vector<PyObject*> objs;
    if (r->is_object() && (PyTuple_Check(r->obj) || PyList_Check(r->obj))) {
      for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(r->obj); ++i) {
        items.push_back(nullptr);
        objs.push_back(PySequence_Fast_GET_ITEM(r->obj, i));
      }
    } else if (r->kind == AValue::Kind::Tuple) {
      for (const AValue& it : r->items) {
        items.push_back(it.is_object() ? nullptr : &it);
        objs.push_back(it.is_object() ? it.obj : nullptr);
      }
    }
    auto number = [&](size_t k) -> std::optional<Bound> {
      Bound b;
      if (const AValue* t = items[k]) {
        if (!t->is_tensor() || t->box != Box::PyFloat || t->type.rank() != 0 || t->type.dtype != ir::DType::F64) return std::nullopt;
        b.v = t->v;
        return b;
      }
      PyObject* o = objs[k];
      if (!o || PyBool_Check(o)) return std::nullopt;
      if (PyLong_Check(o)) {
        int overflow = 0;
        b.is_int = true;
        b.i = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow || std::llabs(b.i) >= (int64_t{1} << 53)) return std::nullopt;
        return b;
      }
      if (PyFloat_Check(o)) {
        b.f = PyFloat_AS_DOUBLE(o);
        return b;
      }
      return std::nullopt;
    };
    std::optional<Bound> lo = items.size() == 2 ? number(0) : std::nullopt;
    std::optional<Bound> hi = items.size() == 2 ? number(1) : std::nullopt;
    if (!lo || !hi)
      return fail(AbortCode::UnsupportedValue, fmt::format("{} with range= other than two Python numbers is not traced yet", fn));
    // NumPy's ValueErrors (lo > hi, a bound not finite) from an eager run.
    if (lo->v < 0 && hi->v < 0 &&
        (lo->as_double() > hi->as_double() || !std::isfinite(lo->as_double()) || !std::isfinite(hi->as_double())))
      return fail(AbortCode::UnsupportedValue, fmt::format("{} with range=({}, {}) runs eagerly (NumPy raises ValueError)", fn,
                                                           lo->as_double(), hi->as_double()));
    range = std::make_pair(*lo, *hi);
  }
  auto arr = as_array_value(*av);
  if (!arr) return false;
  if (!static_only(*arr)) return false;
  const ir::DType dt = arr->type.dtype;
  if (!(dt == ir::DType::F32 || dt == ir::DType::F64 || (ir::is_integer(dt) && !ir::is_bool(dt))))
    return fail(AbortCode::UnsupportedDtype, fmt::format("{} of {} data runs eagerly", fn, ir::dtype_numpy_name(dt)));
  auto flat = reshape_value(*arr, {-1}, false);
  if (!flat) return false;
  const ir::ValueId x = flat->v;
  const int64_t n = flat->type.shape[0].size;
  if (n == 0 && !range) range = std::make_pair(Bound{true, 0, 0.0}, Bound{true, 1, 0.0});  // NumPy's edges for no data

  const bool is_float = ir::is_float(dt);
  const ir::DType f64 = ir::DType::F64, i64 = ir::DType::I64, bt = is_float ? dt : f64;  // bt: bin_type
  const ir::Type st64 = ir::Type::scalar(f64);
  auto op = [&](ir::Op o, ir::Type t, ir::ValueId a, ir::ValueId b) { return g.add_op(o, t, {a, b}, loc_); };
  auto fconst = [&](ir::DType d, double v) { return g.add_const_float(d, v, loc_); };
  const ir::Type xt = ir::Type::of(bt, {n});
  const ir::Type bool_t = ir::Type::of(ir::DType::Bool, {n});
  const ir::Type idx_t = ir::Type::of(i64, {n});

  // first/last as linspace sees them (dtype lin), first as the subtraction in f sees it
  // (bin_type), norm (dtype norm_t), and keep (null: every element).
  ir::DType lin = f64;
  ir::ValueId first = -1, last = -1, first_bt = -1, norm = -1, keep = -1;
  ir::DType norm_t = f64;
  if (!range) {
    if (!reduce("min", *flat, nullptr, false, nullptr, 0)) return false;
    const ir::ValueId mn = pop().v;
    if (!reduce("max", *flat, nullptr, false, nullptr, 0)) return false;
    const ir::ValueId mx = pop().v;
    const ir::Type sdt = ir::Type::scalar(dt);
    const ir::ValueId eq = op(ir::Op::Eq, ir::Type::scalar(ir::DType::Bool), mn, mx);
    auto where = [&](ir::Type t, ir::ValueId c, ir::ValueId a, ir::ValueId b) { return g.add_op(ir::Op::Where, t, {c, a, b}, loc_); };
    if (is_float) {
      // NumPy raises ValueError for an autodetected range that is not finite (a NaN or an inf).
      const ir::ValueId fin = op(ir::Op::And, ir::Type::scalar(ir::DType::Bool),
                                 g.add_op(ir::Op::IsFinite, ir::Type::scalar(ir::DType::Bool), {mn}, loc_),
                                 g.add_op(ir::Op::IsFinite, ir::Type::scalar(ir::DType::Bool), {mx}, loc_));
      if (!rerun_if_any(g.add_op(ir::Op::Not, ir::Type::scalar(ir::DType::Bool), {fin}, loc_),
                        fmt::format("{}:{}: {} of data holding a NaN or an inf (NumPy raises ValueError)",
                                    PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, fn),
                        true))
        return false;
      // np.float32 scalars: first - 0.5 stays float32; linspace and norm compute in a's dtype.
      lin = dt;
      first = where(sdt, eq, op(ir::Op::Sub, sdt, mn, fconst(dt, 0.5)), mn);
      last = where(sdt, eq, op(ir::Op::Add, sdt, mx, fconst(dt, 0.5)), mx);
      first_bt = first;
      norm_t = dt;
      norm = op(ir::Op::Sub, sdt, last, first);
    } else {
      // Integer scalars: widened ones are float64; linspace computes in float64; norm is their
      // difference as unsigned (np.subtract in uintK; last >= first, so exact in uint64).
      const ir::ValueId mnf = cast(mn, f64), mxf = cast(mx, f64);
      first = where(st64, eq, op(ir::Op::Sub, st64, mnf, fconst(f64, 0.5)), mnf);
      last = where(st64, eq, op(ir::Op::Add, st64, mxf, fconst(f64, 0.5)), mxf);
      first_bt = first;
      const ir::Type su = ir::Type::scalar(ir::DType::U64);
      const ir::ValueId diff = cast(op(ir::Op::Sub, su, cast(mx, ir::DType::U64), cast(mn, ir::DType::U64)), f64);
      norm = where(st64, eq, op(ir::Op::Sub, st64, last, first), diff);
    }
  } else if (range->first.v >= 0 || range->second.v >= 0) {
    // A runtime Python float among the bounds: float64 arithmetic, as Python's; NumPy's
    // ValueErrors (lo > hi, a bound not finite) re-run eagerly.
    const ir::Type sb = ir::Type::scalar(ir::DType::Bool);
    auto value = [&](const Bound& b) { return b.v >= 0 ? b.v : fconst(f64, b.as_double()); };
    const ir::ValueId lo = value(range->first), hi = value(range->second);
    const ir::ValueId finite = op(ir::Op::And, sb, g.add_op(ir::Op::IsFinite, sb, {lo}, loc_), g.add_op(ir::Op::IsFinite, sb, {hi}, loc_));
    if (!rerun_if_any(op(ir::Op::Or, sb, op(ir::Op::Gt, sb, lo, hi), g.add_op(ir::Op::Not, sb, {finite}, loc_)),
                      fmt::format("{}:{}: {} with range=(lo, hi) where lo > hi or a bound is not finite (NumPy raises ValueError)",
                                  PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, fn),
                      true))
      return false;
    const ir::ValueId eq = op(ir::Op::Eq, sb, lo, hi);
    first = g.add_op(ir::Op::Where, st64, {eq, op(ir::Op::Sub, st64, lo, fconst(f64, 0.5)), lo}, loc_);
    last = g.add_op(ir::Op::Where, st64, {eq, op(ir::Op::Add, st64, hi, fconst(f64, 0.5)), hi}, loc_);
    first_bt = cast(first, bt);
    norm = op(ir::Op::Sub, st64, last, first);
    // a compared with Python floats (and ints below 2^53, which float64 compares exactly): a
    // float array in its dtype, an integer array in float64.
    const ir::ValueId xc = is_float ? x : cast(x, f64);
    const ir::DType cd = is_float ? dt : f64;
    keep = op(ir::Op::And, bool_t, op(ir::Op::Ge, bool_t, xc, cd == f64 ? first : cast(first, cd)),
              op(ir::Op::Le, bool_t, xc, cd == f64 ? last : cast(last, cd)));
  } else {
    Bound lo = range->first, hi = range->second;
    if (lo.as_double() == hi.as_double()) {  // Python's lo - 0.5, hi + 0.5
      lo = Bound{false, 0, lo.as_double() - 0.5};
      hi = Bound{false, 0, hi.as_double() + 0.5};
    }
    // linspace of Python numbers computes in float64 (ints as int64 arrays, cast exactly).
    first = fconst(f64, lo.as_double());
    last = fconst(f64, hi.as_double());
    first_bt = fconst(bt, lo.as_double());  // np.subtract(v, lo, dtype=bin_type)
    // norm = _unsigned_subtract(hi, lo): two ints -> their difference in uint64, else float64.
    norm = lo.is_int && hi.is_int ? fconst(f64, static_cast<double>(static_cast<uint64_t>(hi.i - lo.i)))
                                  : fconst(f64, hi.as_double() - lo.as_double());
    // keep: a compared with Python numbers: a float array in its dtype (the number cast to it),
    // an integer array against an int exactly, against a float in float64.
    auto side = [&](const Bound& b, ir::Op cmp) -> ir::ValueId {
      if (is_float) return op(cmp, bool_t, x, fconst(dt, b.as_double()));
      if (!b.is_int) return op(cmp, bool_t, cast(x, f64), fconst(f64, b.f));
      if (dt == ir::DType::U64) {
        if (b.i < 0) return g.add_op(ir::Op::Broadcast, bool_t, {g.add_const_int(ir::DType::Bool, cmp == ir::Op::Ge, loc_)}, loc_);
        return op(cmp, bool_t, x, g.add_const_int(ir::DType::U64, b.i, loc_));
      }
      return op(cmp, bool_t, cast(x, i64), g.add_const_int(i64, b.i, loc_));
    };
    keep = op(ir::Op::And, bool_t, side(lo, ir::Op::Ge), side(hi, ir::Op::Le));
  }

  // bin_edges = np.linspace(first, last, nb + 1) in dtype `lin`, then cast to bin_type.
  const ir::Type lt = ir::Type::scalar(lin);
  const ir::Type et_lin = ir::Type::of(lin, {nb + 1});
  const ir::ValueId iota = g.add_op(ir::Op::Iota, et_lin, {}, {0}, loc_);
  const ir::ValueId delta = op(ir::Op::Sub, lt, last, first);
  const ir::ValueId div = fconst(lin, static_cast<double>(nb));
  const ir::ValueId step = op(ir::Op::Div, lt, delta, div);
  const ir::ValueId step_zero = op(ir::Op::Eq, ir::Type::scalar(ir::DType::Bool), step, fconst(lin, 0.0));
  ir::ValueId y = g.add_op(ir::Op::Where, et_lin,
                           {step_zero, op(ir::Op::Mul, et_lin, op(ir::Op::Div, et_lin, iota, div), delta), op(ir::Op::Mul, et_lin, iota, step)},
                           loc_);
  y = op(ir::Op::Add, et_lin, y, first);
  const ir::ValueId at_end = op(ir::Op::Eq, ir::Type::of(ir::DType::Bool, {nb + 1}), iota, fconst(lin, static_cast<double>(nb)));
  y = g.add_op(ir::Op::Where, et_lin, {at_end, last, y}, loc_);
  const ir::ValueId edges = lin == bt ? y : cast(y, bt);
  const ir::Type et = ir::Type::of(bt, {nb + 1});
  // NumPy raises ValueError ("Too many bins for data range") when two edges do not increase.
  if (nb >= 1) {
    const ir::Type pt = ir::Type::of(bt, {nb});
    const ir::ValueId lower = g.add_op(ir::Op::Slice, pt, {edges}, {0, 1}, loc_);
    const ir::ValueId upper = g.add_op(ir::Op::Slice, pt, {edges}, {1, 1}, loc_);
    if (!rerun_if_any(op(ir::Op::Ge, ir::Type::of(ir::DType::Bool, {nb}), lower, upper),
                      fmt::format("{}:{}: {} of {} bins over a range too narrow for them (NumPy raises ValueError)",
                                  PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, fn, nb),
                      true))
      return false;
  }

  // The kept values in bin_type (others replaced by first: their index is not counted).
  ir::ValueId v = cast(x, bt);
  if (keep >= 0) v = g.add_op(ir::Op::Where, xt, {keep, v, first_bt}, loc_);
  // f = ((v - first) / norm) * nb: the difference in bin_type, the rest in its promotion with norm.
  const ir::DType fdt = bt == norm_t ? bt : f64;
  const ir::Type ft = ir::Type::of(fdt, {n});
  ir::ValueId f = op(ir::Op::Sub, xt, v, first_bt);
  f = op(ir::Op::Mul, ft, op(ir::Op::Div, ft, cast(f, fdt), cast(norm, fdt)), fconst(fdt, static_cast<double>(nb)));
  ir::ValueId idx = cast(f, i64);
  auto iconst = [&](int64_t k) { return g.add_const_int(i64, k, loc_); };
  idx = g.add_op(ir::Op::Where, idx_t, {op(ir::Op::Eq, bool_t, idx, iconst(nb)), iconst(nb - 1), idx}, loc_);
  auto edge_at = [&](ir::ValueId i) { return g.add_op(ir::Op::Gather, xt, {edges, i}, {0, 0}, loc_); };
  idx = op(ir::Op::Sub, idx_t, idx, cast(op(ir::Op::Lt, bool_t, v, edge_at(idx)), i64));
  const ir::ValueId up = op(ir::Op::And, bool_t, op(ir::Op::Ge, bool_t, v, edge_at(op(ir::Op::Add, idx_t, idx, iconst(1)))),
                            op(ir::Op::Ne, bool_t, idx, iconst(nb - 1)));
  idx = op(ir::Op::Add, idx_t, idx, cast(up, i64));
  // np.bincount(idx[keep], minlength=nb): a scatter-add of keep (1 or 0) at idx.
  const ir::Type ct = ir::Type::of(i64, {nb});
  const ir::ValueId zeros = g.add_op(ir::Op::Broadcast, ct, {iconst(0)}, loc_);
  const ir::ValueId ones = keep >= 0 ? cast(keep, i64) : g.add_op(ir::Op::Broadcast, idx_t, {iconst(1)}, loc_);
  const ir::ValueId counts = g.add_op(ir::Op::Scatter, ct, {zeros, idx, ones}, {0, 1}, loc_);

  AValue t;
  t.kind = AValue::Kind::Tuple;
  t.source = Source::computed();
  t.items.push_back(tensor(counts, Box::Array));
  t.items.push_back(tensor(g.add_op(ir::Op::Cast, et, {edges}, loc_), Box::Array));
  push(std::move(t));
  return true;
}

}  // namespace tracejit::tracer::detail
