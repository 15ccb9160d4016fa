// Integer-array indexing along one axis: x[idx], x[:, idx], x[..., idx] (one integer array among
// constant slices), np.take(a, indices, axis, mode) / a.take(...) and np.take_along_axis (a
// gather from the flattened array at computed flat indices), recorded as a `gather`
// (ir/ops.def) that fuses into its consumers (`x - c[labels]` reads each centroid row in place).
// Integers known only at run time (`x[np.argmax(s)]`, `m[:, k]` with k computed) are gathers of
// 0-d indices: NumPy's integer indexing, a view of x (in-place writes through it or to x while
// it lives stay eager, as for every view) or, when every axis is taken, an element.
//
// NumPy's rules kept: the result has a's dtype and shape a[:axis] + idx.shape + a[axis+1:] and
// is a copy; a negative index counts from the end (the indices converted to intp first: a uint64
// of 2**64 - 1 is -1); an index out of bounds raises IndexError
// (mode='raise', the default): the kernel reads element 0 for it, and a check computed
// alongside (any index outside [-n, n)) makes the runtime drop the result and run the call again
// eagerly, which raises NumPy's own exception at the user's line (Trace::rerun_checks).
// mode='wrap' takes the index modulo n, mode='clip' clamps it into [0, n).
//
// Left to eager (a graph break or fallback, with the reason): boolean masks (the result's size
// depends on the data), several arrays or an array with integers or None in one key (NumPy's
// broadcast and axis-moving rules), an axis of runtime or zero size, out=, and indexing inside a
// compiled loop (loop regions check their runtime integer indices themselves: loops.cpp).
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

bool Tracer::gather(const AValue& x, const AValue& idx, int axis, int mode) {
  std::optional<ir::ValueId> r = gather_value(x, idx, axis, mode);
  if (!r) return false;
  push(tensor(*r, Box::Array));
  return true;
}

std::optional<ir::ValueId> Tracer::gather_value(const AValue& x, const AValue& idx, int axis, int mode) {
  if (!regions_.empty()) {
    fail(AbortCode::UnsupportedCall, "indexing by an array inside a compiled loop is not traced yet");
    return std::nullopt;
  }
  if (!static_only(x) || !static_only(idx)) return std::nullopt;
  const ir::Type& xt = x.type;
  const ir::Type& it = idx.type;
  if (!ir::is_integer(it.dtype)) {
    fail(AbortCode::UnsupportedValue, fmt::format("an index array of dtype {}", ir::dtype_name(it.dtype)));
    return std::nullopt;
  }
  const ir::Dim& len = xt.shape[static_cast<size_t>(axis)];
  if (len.size == 0) {
    fail(AbortCode::UnsupportedValue, "indexing an axis of size 0 by an array");
    return std::nullopt;
  }
  const int64_t n = len.size;
  std::vector<ir::Dim> shape(xt.shape.begin(), xt.shape.begin() + axis);
  shape.insert(shape.end(), it.shape.begin(), it.shape.end());
  shape.insert(shape.end(), xt.shape.begin() + axis + 1, xt.shape.end());
  ir::Graph& g = trace_.graph;
  const ir::ValueId r = g.add_op(ir::Op::Gather, ir::Type(xt.dtype, shape), {x.v, idx.v}, {axis, mode}, loc_);
  if (mode == 0 && !index_bounds_check(idx, axis, n)) return std::nullopt;
  return r;
}

bool Tracer::index_bounds_check(const AValue& idx, int axis, int64_t n) {
  ir::Graph& g = trace_.graph;
  const ir::Type& it = idx.type;
  const ir::Type b = it.with_dtype(ir::DType::Bool);
  ir::ValueId oob;
  if (ir::is_unsigned_int(it.dtype) && it.dtype != ir::DType::U64) {  // never negative
    oob = g.add_op(ir::Op::Ge, b, {cast(idx.v, ir::DType::U64), g.add_const_int(ir::DType::U64, n, loc_)}, loc_);
  } else {
    const ir::ValueId w = cast(idx.v, ir::DType::I64);  // uint64 wraps, as NumPy's intp conversion
    const ir::ValueId lo = g.add_op(ir::Op::Lt, b, {w, g.add_const_int(ir::DType::I64, -n, loc_)}, loc_);
    const ir::ValueId hi = g.add_op(ir::Op::Ge, b, {w, g.add_const_int(ir::DType::I64, n, loc_)}, loc_);
    oob = g.add_op(ir::Op::Or, b, {lo, hi}, loc_);
  }
  return rerun_if_any(oob,
                      fmt::format("{}:{}: an index out of bounds for axis {} with size {} (NumPy raises IndexError)",
                                  PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, axis, n),
                      true);
}

bool Tracer::index_by_array(const AValue& x, const AValue& key) {
  // The key's parts: constant slices and Ellipsis around either one integer array (a gather:
  // a copy) or integers known only at run time (`x[np.argmax(s)]`, `m[:, k]`: NumPy's integer
  // indexing, a view, or an element when every axis is taken).
  std::vector<const AValue*> parts;
  if (key.kind == AValue::Kind::Tuple)
    for (const AValue& p : key.items) parts.push_back(&p);
  else
    parts.push_back(&key);
  int ellipsis_at = -1;
  std::vector<int> arrays, scalars;
  for (size_t k = 0; k < parts.size(); ++k) {
    const AValue& p = *parts[k];
    if (p.is_tensor()) {
      if (!ir::is_integer(p.type.dtype)) return index_from_arrays();
      if (p.type.rank() == 0) scalars.push_back(static_cast<int>(k));
      else if (p.box == Box::Array) arrays.push_back(static_cast<int>(k));
      else return index_from_arrays();
    } else if (p.is_object() && p.obj == Py_Ellipsis && ellipsis_at < 0) {
      ellipsis_at = static_cast<int>(k);
    } else if (!(p.is_object() && PySlice_Check(p.obj))) {
      return index_from_arrays();
    }
  }
  if (!(arrays.size() == 1 && scalars.empty()) && !(arrays.empty() && !scalars.empty())) return index_from_arrays();
  const int rank = x.type.rank();
  const int consumed = static_cast<int>(parts.size()) - (ellipsis_at >= 0 ? 1 : 0);
  if (consumed > rank)
    return fail(AbortCode::UserError, fmt::format("IndexError: too many indices for array: array is {}-dimensional, "
                                                  "but {} were indexed", rank, consumed));
  // An index's axis: its position, or counted from the end after an Ellipsis before it.
  auto axis_of = [&](int at) {
    return ellipsis_at >= 0 && ellipsis_at < at ? rank - (static_cast<int>(parts.size()) - at) : at;
  };
  // The slices first (a view; each runtime index's place taken by `:`), then the gathers.
  AValue base = x;
  if (parts.size() > 1) {
    PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(parts.size()));
    for (size_t k = 0; k < parts.size(); ++k) {
      const bool runtime = parts[k]->is_tensor();
      PyObject* o = runtime ? PySlice_New(nullptr, nullptr, nullptr) : parts[k]->obj;
      if (!runtime) Py_INCREF(o);
      PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(k), o);
    }
    const bool ok = index_tensor(x, t);
    Py_DECREF(t);
    if (!ok) return false;
    base = pop();
    if (base.type.rank() != rank) return index_from_arrays();
  }
  if (!arrays.empty()) return gather(base, *parts[static_cast<size_t>(arrays[0])], axis_of(arrays[0]), 0);
  // Integers: each drops its axis, the last first so the earlier axes keep their positions.
  AValue cur = base;
  for (auto it = scalars.rbegin(); it != scalars.rend(); ++it) {
    std::optional<ir::ValueId> r = gather_value(cur, *parts[static_cast<size_t>(*it)], axis_of(*it), 0);
    if (!r) return false;
    cur = tensor(*r, Box::Array);
  }
  // Every axis taken (no Ellipsis, no slice): an element, a NumPy scalar; else a view of x.
  if (consumed == rank && ellipsis_at < 0 && scalars.size() == parts.size()) {
    push(tensor(cur.v, Box::NpScalar));
    return true;
  }
  push(view_of(base, cur.v, Box::Array));
  return true;
}

namespace {
constexpr int kMaxScatterChain = 8;  // scatters into one array, one after another
}  // namespace

bool Tracer::store_by_array(const AValue& x, const AValue& key, const AValue& value, int combine) {
  // x[key] = value with one integer array (or one integer known only at run time) among full
  // slices and an Ellipsis: NumPy's assignment through integer-array indexing along one axis,
  // recorded as a scatter (ir/ops.def): the value converted as setitem does and broadcast to
  // the indexing result's shape x[:axis] + idx.shape + x[axis+1:] (leading length-1 axes of the
  // value dropped first, as NumPy), each selected element written in the index's C order so a
  // repeated index keeps the last value, an index out of bounds re-run eagerly for NumPy's
  // IndexError. `x[idx] += v` reads x[idx] (a gather) and stores it back the same way: NumPy's
  // buffered semantics (a repeated index adds once).
  if (!regions_.empty()) return index_from_arrays();  // loop regions check their own indices (loops.cpp)
  std::vector<const AValue*> parts;
  if (key.kind == AValue::Kind::Tuple)
    for (const AValue& p : key.items) parts.push_back(&p);
  else
    parts.push_back(&key);
  int ellipsis_at = -1, at = -1;
  for (size_t k = 0; k < parts.size(); ++k) {
    const AValue& p = *parts[k];
    if (p.is_tensor() && ir::is_integer(p.type.dtype) && (p.type.rank() == 0 || p.box == Box::Array) && at < 0) {
      at = static_cast<int>(k);
    } else if (p.is_object() && p.obj == Py_Ellipsis && ellipsis_at < 0) {
      ellipsis_at = static_cast<int>(k);
    } else if (p.is_object() && PySlice_Check(p.obj)) {
      auto* sl = reinterpret_cast<PySliceObject*>(p.obj);
      if (sl->start != Py_None || sl->stop != Py_None || sl->step != Py_None)
        return fail(AbortCode::UnsupportedValue, "assignment through an index array next to a partial slice is not traced yet");
    } else {
      return fail(AbortCode::UnsupportedValue,
                  "assignment through several index arrays, or an index array next to integers or None, is not traced yet");
    }
  }
  if (at < 0) return index_from_arrays();
  // Each scatter copies its array once: a chain of them (a loop unrolled, `for i in ...:
  // counts[lab[i]] += 1`) would copy it once per iteration where eager writes one element.
  int chain = 0;
  for (ir::ValueId c = x.v; trace_.graph.node(c).op == ir::Op::Scatter; c = trace_.graph.node(c).operands[0]) ++chain;
  if (chain >= kMaxScatterChain) return index_from_arrays();
  const AValue& idx = *parts[static_cast<size_t>(at)];
  if (!static_only(x) || !static_only(idx) || !static_only(value)) return false;
  const int rank = x.type.rank();
  const int consumed = static_cast<int>(parts.size()) - (ellipsis_at >= 0 ? 1 : 0);
  if (consumed > rank)
    return fail(AbortCode::UserError, fmt::format("IndexError: too many indices for array: array is {}-dimensional, "
                                                  "but {} were indexed", rank, consumed));
  const int axis = ellipsis_at >= 0 && ellipsis_at < at ? rank - (static_cast<int>(parts.size()) - at) : at;
  const int64_t n = x.type.shape[static_cast<size_t>(axis)].size;
  if (n == 0) return fail(AbortCode::UnsupportedValue, "assignment through an index array into an axis of size 0");
  ir::Graph& g = trace_.graph;
  const ir::DType dt = x.type.dtype;
  auto v = stored_value(value, dt);
  if (!v) return false;
  std::vector<ir::Dim> ishape(x.type.shape.begin(), x.type.shape.begin() + axis);
  ishape.insert(ishape.end(), idx.type.shape.begin(), idx.type.shape.end());
  ishape.insert(ishape.end(), x.type.shape.begin() + axis + 1, x.type.shape.end());
  std::vector<ir::Dim> vshape = g.type(*v).shape;
  size_t drop = 0;
  while (vshape.size() - drop > ishape.size() && vshape[drop].size == 1) ++drop;
  auto b = ir::broadcast_shapes(std::vector<ir::Dim>(vshape.begin() + static_cast<std::ptrdiff_t>(drop), vshape.end()), ishape);
  if (!b || *b != ishape) {
    auto text = [](const std::vector<ir::Dim>& s) {
      std::string t = "(";
      for (size_t k = 0; k < s.size(); ++k) t += fmt::format("{}{}", k ? "," : "", s[k].size);
      return t + (s.size() == 1 ? ",)" : ")");
    };
    return fail(AbortCode::UserError, fmt::format("ValueError: shape mismatch: value array of shape {} could not be "
                                                  "broadcast to indexing result of shape {}", text(vshape), text(ishape)));
  }
  ir::ValueId vv = *v;
  if (drop > 0)
    vv = g.add_op(ir::Op::Reshape, ir::Type(dt, std::vector<ir::Dim>(vshape.begin() + static_cast<std::ptrdiff_t>(drop), vshape.end())),
                  {vv}, loc_);
  if (g.type(vv).shape != ishape) vv = g.add_op(ir::Op::Broadcast, ir::Type(dt, ishape), {vv}, loc_);
  if (!index_bounds_check(idx, axis, n)) return false;
  ir::ValueId now = combine == 0 ? g.add_op(ir::Op::Scatter, x.type, {x.v, idx.v, vv}, {axis}, loc_)
                                 : g.add_op(ir::Op::Scatter, x.type, {x.v, idx.v, vv}, {axis, combine}, loc_);
  now = guarded_value(now, [&] { return x.v; });
  return store_inplace(x, now);
}

bool Tracer::take_along_axis(CallArgs args) { return along_axis(std::move(args), false); }

bool Tracer::put_along_axis(CallArgs args) { return along_axis(std::move(args), true); }

bool Tracer::along_axis(CallArgs args, bool put) {
  // np.take_along_axis(arr, indices, axis): out[..., j, ...] = arr[..., indices[..., j, ...], ...]
  // along `axis`, indices of arr's rank broadcast against arr on the other axes (NumPy's
  // definition). Recorded as one gather from the flattened arr at the flat index sum_d
  // coord_d * stride_d (coord_axis = the index, negative from the end; a broadcast axis of
  // arr contributes 0), clip mode: the bounds check on the indices along `axis` (an index out of
  // bounds re-runs the call eagerly for NumPy's IndexError) keeps it in bounds.
  // np.put_along_axis(arr, indices, values, axis): the same flat indices, a scatter into the
  // flattened arr (values broadcast to the indices' broadcast shape; a repeated position keeps
  // the last value, as NumPy's fancy assignment), arr updated in place; returns None.
  std::string bad;
  const char* fname = put ? "put_along_axis" : "take_along_axis";
  const AValue* arr = args.get(0, "arr");
  const AValue* idx = args.get(1, "indices");
  const AValue* vals = put ? args.get(2, "values") : nullptr;
  const AValue* axis_v = args.get(put ? 3 : 2, "axis");
  if (!(put ? args.only({"arr", "indices", "values", "axis"}, bad) : args.only({"arr", "indices", "axis"}, bad)) ||
      args.pos.size() > (put ? 4u : 3u))
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() with '{}' is not traced yet", fname, bad));
  if (!arr || !idx || !axis_v || (put && !vals))
    return fail(AbortCode::UserError, fmt::format("TypeError: {}() missing a required argument", fname));
  if (put && (!check_inplace_target(*arr) || !static_only(*vals))) return false;
  if (!regions_.empty()) return index_from_arrays();
  if (!arr->is_tensor() || arr->box != Box::Array || !idx->is_tensor() || idx->box != Box::Array)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() of constants or Python numbers is not traced yet", fname));
  if (!ir::is_integer(idx->type.dtype)) return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() indices that are not integers", fname));
  if (!static_only(*arr) || !static_only(*idx)) return false;
  AValue a = *arr;
  int64_t axis = 0;
  if (axis_v->is_object() && axis_v->obj == Py_None) {
    if (idx->type.rank() != 1) return fail(AbortCode::UnsupportedValue, "np.take_along_axis(axis=None) with indices that are not 1-d");
    auto flat = reshape_value(a, {static_cast<int64_t>(*a.type.static_numel())}, false);
    if (!flat) return false;
    a = *flat;
  } else {
    auto l = int_list(*axis_v, "axis");
    if (!l || l->size() != 1) return l ? fail(AbortCode::UnsupportedValue, "np.take_along_axis() with several axes") : false;
    axis = (*l)[0];
  }
  const int rank = a.type.rank();
  if (idx->type.rank() != rank || rank == 0)
    return fail(AbortCode::UnsupportedValue, "np.take_along_axis() with indices of another rank than the array");
  if (axis < -rank || axis >= rank)
    return fail(AbortCode::UserError, fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", axis, rank));
  if (axis < 0) axis += rank;
  const auto ax = static_cast<size_t>(axis);
  const int64_t m = a.type.shape[ax].size;
  if (m == 0) return fail(AbortCode::UnsupportedValue, "np.take_along_axis() along an axis of size 0");
  std::vector<int64_t> out, as, is;
  for (int d = 0; d < rank; ++d) {
    const int64_t x = a.type.shape[static_cast<size_t>(d)].size, k = idx->type.shape[static_cast<size_t>(d)].size;
    as.push_back(x), is.push_back(k);
    if (static_cast<size_t>(d) == ax) {
      out.push_back(k);
    } else if (x == k || x == 1 || k == 1) {
      out.push_back(x == 1 ? k : x);
    } else {
      return fail(AbortCode::UserError, "ValueError: shape mismatch: indexing arrays could not be broadcast together");
    }
  }
  if (!index_bounds_check(*idx, static_cast<int>(axis), m)) return false;
  ir::Graph& g = trace_.graph;
  const ir::Type ot = ir::Type::of(ir::DType::I64, out);
  ir::ValueId i = cast(idx->v, ir::DType::I64);  // NumPy's intp conversion (uint64 wraps)
  const ir::Type it = g.type(i);
  ir::ValueId neg = g.add_op(ir::Op::Lt, it.with_dtype(ir::DType::Bool), {i, g.add_const_int(ir::DType::I64, 0, loc_)}, loc_);
  i = g.add_op(ir::Op::Where, it, {neg, g.add_op(ir::Op::Add, it, {i, g.add_const_int(ir::DType::I64, m, loc_)}, loc_), i}, loc_);
  if (is != out) i = g.add_op(ir::Op::Broadcast, ot, {i}, loc_);
  int64_t stride = 1;
  ir::ValueId flat = ir::kNoValue;
  for (int d = rank; d-- > 0;) {
    const auto du = static_cast<size_t>(d);
    ir::ValueId coord = ir::kNoValue;
    if (du == ax) coord = i;
    else if (as[du] != 1) coord = g.add_op(ir::Op::Iota, ot, {}, {d}, loc_);
    if (coord != ir::kNoValue) {
      ir::ValueId term = stride == 1 ? coord : g.add_op(ir::Op::Mul, ot, {coord, g.add_const_int(ir::DType::I64, stride, loc_)}, loc_);
      flat = flat == ir::kNoValue ? term : g.add_op(ir::Op::Add, ot, {flat, term}, loc_);
    }
    stride *= as[du];
  }
  auto av = reshape_value(a, {stride}, false);
  if (!av) return false;
  if (!put) {
    const ir::ValueId r = g.add_op(ir::Op::Gather, ir::Type(a.type.dtype, ot.shape), {av->v, flat}, {0, 2}, loc_);
    push(tensor(r, Box::Array));
    return true;
  }
  if (axis_v->is_object() && axis_v->obj == Py_None)
    return fail(AbortCode::UnsupportedValue, "np.put_along_axis(axis=None) is not traced yet");
  const ir::DType dt = a.type.dtype;
  auto v = stored_value(*vals, dt);
  if (!v) return false;
  auto b = ir::broadcast_shapes(g.type(*v).shape, ot.shape);
  if (!b || *b != ot.shape)
    return fail(AbortCode::UserError, "ValueError: shape mismatch: value array could not be broadcast to indexing result");
  ir::ValueId vv = g.type(*v).shape == ot.shape ? *v : g.add_op(ir::Op::Broadcast, ir::Type(dt, ot.shape), {*v}, loc_);
  ir::ValueId sc = g.add_op(ir::Op::Scatter, av->type, {av->v, flat, vv}, {0}, loc_);
  ir::ValueId now = g.add_op(ir::Op::Reshape, a.type, {sc}, loc_);
  now = guarded_value(now, [&] { return a.v; });
  if (!store_inplace(*arr, now)) return false;
  push(object(Py_None, Source::constant()));
  return true;
}

bool Tracer::np_take(CallArgs args) {
  // np.take(a, indices, axis=None, out=None, mode='raise'); a.take(indices, axis, out, mode).
  std::string bad;
  const AValue* x = args.get(0, "a");
  const AValue* idx = args.get(1, "indices");
  const AValue* axis_v = args.get(2, "axis");
  const AValue* out = args.get(3, "out");
  const AValue* mode_v = args.get(4, "mode");
  if (!args.only({"a", "indices", "axis", "out", "mode"}, bad) || args.pos.size() > 5 ||
      (out && !(out->is_object() && out->obj == Py_None)))
    return fail(AbortCode::UnsupportedCall,
                fmt::format("np.take() with '{}' is not traced yet", bad.empty() ? "out" : bad));
  if (!x || !idx) return fail(AbortCode::UserError, "TypeError: take() missing a required argument");
  if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt || !idx->is_tensor() ||
      idx->box != Box::Array)
    return fail(AbortCode::UnsupportedCall, "np.take() of constants or Python numbers is not traced yet");
  int mode = 0;
  if (mode_v) {
    const char* m = mode_v->is_object() && PyUnicode_Check(mode_v->obj) ? PyUnicode_AsUTF8(mode_v->obj) : nullptr;
    if (!m) return fail(AbortCode::UnsupportedValue, "np.take() with a mode that is not a constant string");
    std::string s = m;
    if (s == "raise") mode = 0;
    else if (s == "wrap") mode = 1;
    else if (s == "clip") mode = 2;
    else return fail(AbortCode::UnsupportedValue, fmt::format("np.take() with mode={}", s));  // NumPy raises
  }
  AValue a = *x;
  int axis = 0;
  if (!axis_v || (axis_v->is_object() && axis_v->obj == Py_None)) {
    // axis=None: the flattened array (C order).
    if (!static_only(a)) return false;
    int64_t total = 1;
    for (const ir::Dim& d : a.type.shape) total *= d.size;
    if (a.type.rank() != 1) {
      auto flat = reshape_value(a, {total}, false);
      if (!flat) return false;
      a = *flat;
    }
  } else {
    auto l = int_list(*axis_v, "axis");
    if (!l || l->size() != 1) return l ? fail(AbortCode::UnsupportedValue, "np.take() with several axes") : false;
    const int rank = a.type.rank();
    int64_t ax = (*l)[0];
    if (ax < -rank || ax >= rank)
      return fail(AbortCode::UserError,
                  fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", ax, rank));
    axis = static_cast<int>(ax < 0 ? ax + rank : ax);
  }
  if (a.type.rank() - 1 + idx->type.rank() == 0)
    return fail(AbortCode::UnsupportedValue, "np.take() giving one element (a NumPy scalar) is not traced yet");
  return gather(a, *idx, axis, mode);
}

}  // namespace tracejit::tracer::detail
