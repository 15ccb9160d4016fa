// np.flip(m, axis=None), np.fliplr(m), np.flipud(m): NumPy writes each as basic indexing with a
// ::-1 slice on the flipped axes (numpy/lib/_function_base_impl.py, _twodim_base_impl.py), so
// they are recorded through the same indexing path as m[::-1, :] and return a view of `m` as
// NumPy's do (a 0-d flip, m[()], is an element there as it is in NumPy).
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

bool Tracer::flip(const std::string& name, CallArgs args) {
  const AValue* x = args.get(0, "m");
  const AValue* axis_v = name == "flip" ? args.get(1, "axis") : nullptr;
  std::string bad;
  const bool known = name == "flip" ? args.only({"m", "axis"}, bad) : args.only({"m"}, bad);
  if (!x || !known || args.pos.size() > (name == "flip" ? 2u : 1u))
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() with these arguments is not traced yet{}", name, bad.empty() ? "" : " (" + bad + ")"));
  if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() of {} is not traced yet", name, what(*x)));
  const int64_t rank = x->type.rank();
  std::vector<bool> flipped(static_cast<size_t>(rank), false);
  if (name == "fliplr") {
    if (rank < 2) return fail(AbortCode::UserError, "ValueError: Input must be >= 2-d.");
    flipped[1] = true;
  } else if (name == "flipud") {
    if (rank < 1) return fail(AbortCode::UserError, "ValueError: Input must be >= 1-d.");
    flipped[0] = true;
  } else if (!axis_v || (axis_v->is_object() && axis_v->obj == Py_None)) {
    flipped.assign(static_cast<size_t>(rank), true);
  } else {
    // normalize_axis_tuple(axis, m.ndim): an int or a sequence of ints, in range, no repeats.
    auto axes = int_list(*axis_v, "axis");
    if (!axes) return false;
    for (int64_t a : *axes)  // all in range first, then repeats, as NumPy checks them
      if (a < -rank || a >= rank)
        return fail(AbortCode::UserError, fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", a, rank));
    for (int64_t a : *axes) {
      auto k = static_cast<size_t>(a < 0 ? a + rank : a);
      if (flipped[k]) return fail(AbortCode::UserError, "ValueError: repeated axis");
      flipped[k] = true;
    }
  }
  // The same key NumPy builds: (::-1 or :) per axis.
  PyObject* key = keep(PyTuple_New(static_cast<Py_ssize_t>(rank)));
  for (int64_t k = 0; k < rank; ++k) {
    PyObject* step = flipped[static_cast<size_t>(k)] ? PyLong_FromLong(-1) : nullptr;
    PyTuple_SET_ITEM(key, static_cast<Py_ssize_t>(k), PySlice_New(nullptr, nullptr, step));
    Py_XDECREF(step);
  }
  return index_tensor(*x, key);
}

}  // namespace tracejit::tracer::detail
