// np.meshgrid, np.moveaxis and np.column_stack as NumPy writes them
// (numpy/lib/_function_base_impl.py, numpy/_core/numeric.py, numpy/lib/_shape_base_impl.py), on
// the tracer's reshape, broadcast, transpose and concatenate:
//
// - meshgrid(*xi, copy=True, sparse=False, indexing='xy'): input i flattened and reshaped to
//   (1, ..., -1, ..., 1) with -1 at axis i ('xy' swaps the first two), broadcast against the
//   others unless sparse, and copied: a tuple of new arrays. copy=False (read-only broadcast
//   views of the inputs) runs eagerly.
// - moveaxis(a, source, destination): the transpose NumPy builds (a view of a).
// - column_stack(tup): 1-d parts as columns (shape (n, 1)), then np.concatenate along axis 1.
#include "tracer/tracer_impl.h"

#include <algorithm>
#include <numeric>

namespace tracejit::tracer::detail {

namespace {

bool is_value(const AValue* v, PyObject* o) { return v && v->is_object() && v->obj == o; }

}  // namespace

bool Tracer::meshgrid(CallArgs args) {
  ir::Graph& g = trace_.graph;
  std::string bad;
  if (!args.only({"copy", "sparse", "indexing"}, bad))
    return fail(AbortCode::UnsupportedCall, fmt::format("np.meshgrid() with '{}' is not traced yet", bad));
  const AValue* copy = nullptr;
  const AValue* sparse = nullptr;
  const AValue* indexing = nullptr;
  for (const auto& [k, v] : args.kw) (k == "copy" ? copy : k == "sparse" ? sparse : indexing) = &v;
  if (copy && !is_value(copy, Py_True))
    return fail(AbortCode::UnsupportedCall, "np.meshgrid(copy=False) (read-only views of the inputs) runs eagerly");
  if (sparse && !is_value(sparse, Py_True) && !is_value(sparse, Py_False))
    return fail(AbortCode::UnsupportedCall, "np.meshgrid() with a non-bool sparse= runs eagerly");
  bool xy = true;
  if (indexing) {
    if (!indexing->is_object() || !PyUnicode_Check(indexing->obj))
      return fail(AbortCode::UnsupportedCall, "np.meshgrid() with a computed indexing= runs eagerly");
    const std::string ix = PyUnicode_AsUTF8(indexing->obj);
    if (ix != "xy" && ix != "ij") return fail(AbortCode::UserError, "ValueError: Valid values for `indexing` are 'xy' and 'ij'.");
    xy = ix == "xy";
  }
  const bool sp = is_value(sparse, Py_True);
  const size_t n = args.pos.size();
  for (const AValue& a : args.pos) {
    if (!a.is_tensor() || a.box != Box::Array)
      return fail(AbortCode::UnsupportedValue, fmt::format("np.meshgrid() of {} is not traced yet", what(a)));
    if (!static_only(a)) return false;
  }
  // Each input flattened along its own axis (the first two swapped for 'xy').
  std::vector<AValue> out;
  std::vector<int64_t> full(n, 1);
  for (size_t i = 0; i < n; ++i) {
    size_t ax = i;
    if (xy && n > 1 && i < 2) ax = 1 - i;
    std::vector<int64_t> shape(n, 1);
    shape[ax] = -1;
    auto r = reshape_value(args.pos[i], shape, false);
    if (!r) return false;
    full[ax] = r->type.shape[ax].size;
    out.push_back(std::move(*r));
  }
  AValue t;
  t.kind = AValue::Kind::Tuple;
  t.source = Source::computed();
  for (AValue& o : out) {
    const ir::Type type = sp ? o.type : ir::Type::of(o.type.dtype, full);
    const ir::ValueId b = sp ? o.v : g.add_op(ir::Op::Broadcast, type, {o.v}, loc_);
    t.items.push_back(tensor(g.add_op(ir::Op::Cast, type, {b}, loc_), Box::Array));  // the copy
  }
  push(std::move(t));
  return true;
}

bool Tracer::moveaxis(CallArgs args) {
  std::string bad;
  if (!args.only({"a", "source", "destination"}, bad) || args.pos.size() > 3)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.moveaxis() with '{}' is not traced yet", bad));
  const AValue* x = args.get(0, "a");
  const AValue* src_v = args.get(1, "source");
  const AValue* dst_v = args.get(2, "destination");
  if (!x || !src_v || !dst_v) return fail(AbortCode::UserError, "TypeError: moveaxis() missing required arguments");
  if (!x->is_tensor() || x->box != Box::Array)
    return fail(AbortCode::UnsupportedValue, fmt::format("np.moveaxis() of {} is not traced yet", what(*x)));
  const int64_t rank = x->type.rank();
  auto src = int_list(*src_v, "source");
  auto dst = src ? int_list(*dst_v, "destination") : std::nullopt;
  if (!dst) return false;
  // normalize_axis_tuple for each, then the order NumPy builds.
  auto normalize = [&](std::vector<int64_t>& axes, const char* argname) {
    std::vector<bool> seen(static_cast<size_t>(rank), false);
    for (int64_t& a : axes) {
      if (a < -rank || a >= rank) {
        fail(AbortCode::UserError, fmt::format("AxisError: {}: axis {} is out of bounds for array of dimension {}", argname, a, rank));
        return false;
      }
      a = a < 0 ? a + rank : a;
      if (seen[static_cast<size_t>(a)]) {
        fail(AbortCode::UserError, fmt::format("ValueError: repeated axis in `{}` argument", argname));
        return false;
      }
      seen[static_cast<size_t>(a)] = true;
    }
    return true;
  };
  if (!normalize(*src, "source") || !normalize(*dst, "destination")) return false;
  if (src->size() != dst->size())
    return fail(AbortCode::UserError, "ValueError: `source` and `destination` arguments must have the same number of elements");
  std::vector<int64_t> order;
  for (int64_t k = 0; k < rank; ++k)
    if (std::find(src->begin(), src->end(), k) == src->end()) order.push_back(k);
  std::vector<std::pair<int64_t, int64_t>> moves;
  for (size_t k = 0; k < src->size(); ++k) moves.push_back({(*dst)[k], (*src)[k]});
  std::sort(moves.begin(), moves.end());
  for (auto [d, s] : moves) order.insert(order.begin() + d, s);
  // The transpose NumPy calls (a view of a): the tracer's own np.transpose(a, order).
  PyObject* axes = PyTuple_New(static_cast<Py_ssize_t>(order.size()));
  for (size_t k = 0; k < order.size(); ++k) PyTuple_SET_ITEM(axes, static_cast<Py_ssize_t>(k), PyLong_FromLongLong(order[k]));
  CallArgs t;
  t.pos.push_back(*x);
  t.pos.push_back(object(axes, Source::constant()));
  Py_DECREF(axes);
  bool handled = false;
  return call_numpy("transpose", std::move(t), false, handled);
}

bool Tracer::column_stack(CallArgs args) {
  std::string bad;
  if (!args.only({"tup"}, bad) || args.pos.size() != 1)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.column_stack() with '{}' is not traced yet", bad.empty() ? "these arguments" : bad));
  auto parts = tensors_of(args.pos[0]);
  if (!parts) return false;
  AValue cols;
  cols.kind = AValue::Kind::Tuple;
  cols.source = Source::computed();
  for (const AValue& p : *parts) {
    if (p.type.rank() >= 2) {
      cols.items.push_back(p);
      continue;
    }
    // array(v, copy=None, subok=True, ndmin=2).T: a 0-d or 1-d part as one column.
    auto c = reshape_value(p, {-1, 1}, false);
    if (!c) return false;
    cols.items.push_back(std::move(*c));
  }
  CallArgs cat;
  cat.pos.push_back(std::move(cols));
  PyObject* one = PyLong_FromLong(1);
  cat.pos.push_back(object(one, Source::constant()));
  Py_DECREF(one);
  bool handled = false;
  return call_numpy("concatenate", std::move(cat), false, handled);
}

}  // namespace tracejit::tracer::detail
