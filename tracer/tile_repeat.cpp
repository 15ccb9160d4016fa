// np.tile(A, reps) and np.repeat(a, n, axis) / a.repeat(n, axis) with static integer counts:
// pure data movement, recorded as a reshape that opens a size-1 axis next to each repeated one,
// a broadcast along it, and a reshape that merges the pair. Both always return a new array, as
// NumPy's do. Per-element repeat counts (an array of repeats) run eagerly at a graph break.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

bool Tracer::tile_repeat(const std::string& name, CallArgs args) {
  const bool tile = name == "tile";
  const AValue* x = args.get(0, tile ? "A" : "a");
  const AValue* n = args.get(1, tile ? "reps" : "repeats");
  const AValue* axis_v = tile ? nullptr : args.get(2, "axis");
  std::string bad;
  const bool known = tile ? args.only({"A", "reps"}, bad) : args.only({"a", "repeats", "axis"}, bad);
  if (!x || !n || !known)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() with these arguments is not traced yet{}", name, bad.empty() ? "" : " (" + bad + ")"));
  if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() of {} is not traced yet", name, what(*x)));
  if (!static_only(*x)) return false;
  if (!tile && !(n->is_object() && PyLong_Check(n->obj)))  // per-element counts: eager
    return fail(AbortCode::UnsupportedCall, fmt::format("np.repeat() with {} counts is not traced yet", what(*n)));
  auto counts = int_list(*n, tile ? "reps" : "repeats");
  if (!counts) return false;
  for (int64_t c : *counts)
    if (c < 0) return fail(AbortCode::UserError, "ValueError: negative dimensions are not allowed");
  ir::Graph& g = trace_.graph;
  const ir::DType dt = x->type.dtype;
  std::vector<int64_t> shape;
  for (const ir::Dim& d : x->type.shape) shape.push_back(d.size);
  ir::ValueId v = x->v;
  std::vector<int64_t> reps;  // one count per axis of `shape`
  if (tile) {
    // Both padded on the left with 1s to the longer rank.
    size_t d = std::max(shape.size(), counts->size());
    shape.insert(shape.begin(), d - shape.size(), 1);
    reps = *counts;
    reps.insert(reps.begin(), d - reps.size(), 1);
  } else {
    if (!axis_v || (axis_v->is_object() && axis_v->obj == Py_None)) {
      int64_t total = 1;
      for (int64_t s : shape) total *= s;
      shape = {total};
      reps = {(*counts)[0]};
    } else {
      auto a = int_list(*axis_v, "axis");
      if (!a || a->size() != 1) return fail(AbortCode::UnsupportedCall, "np.repeat() with this axis is not traced");
      int64_t rank = static_cast<int64_t>(shape.size()), k = (*a)[0];
      if (k < -rank || k >= rank)
        return fail(AbortCode::UserError, fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", k, rank));
      reps.assign(shape.size(), 1);
      reps[static_cast<size_t>(k < 0 ? k + rank : k)] = (*counts)[0];
    }
  }
  // [.., s_i, ..] -> [.., s_i, 1, ..] (repeat: the copies follow each element) or [.., 1, s_i, ..]
  // (tile: whole blocks follow each other) -> broadcast the 1 to r_i -> merge the pair.
  std::vector<int64_t> open, wide, merged;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (tile) {
      open.insert(open.end(), {1, shape[i]});
      wide.insert(wide.end(), {reps[i], shape[i]});
    } else {
      open.insert(open.end(), {shape[i], 1});
      wide.insert(wide.end(), {shape[i], reps[i]});
    }
    merged.push_back(shape[i] * reps[i]);
  }
  v = g.add_op(ir::Op::Reshape, ir::Type::of(dt, open), {v}, loc_);
  v = g.add_op(ir::Op::Broadcast, ir::Type::of(dt, wide), {v}, loc_);
  v = g.add_op(ir::Op::Reshape, ir::Type::of(dt, merged), {v}, loc_);
  push(tensor(v, Box::Array));
  return true;
}

}  // namespace tracejit::tracer::detail
