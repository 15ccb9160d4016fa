// np.pad(array, pad_width, mode='constant', constant_values=0) with modes constant, edge,
// reflect, symmetric and wrap, as numpy/lib/_arraypad_impl.py computes it: pad_width and
// constant_values read by NumPy's own _as_pairs at trace time (its errors included), each axis
// padded in turn on the array padded so far (so corners come from the later axes, as NumPy's
// in-place passes leave them), each pad a constant block, a broadcast edge, or a reversed or
// wrapped slice, joined by a concatenate. A constant is converted as NumPy's `padded[...] = v`
// converts it (a 0-d array of the array's dtype assigned at trace time: OverflowError,
// NaN-to-int ValueError). Reflections longer than the axis (NumPy pads those in several
// passes), reflect_type='odd', stat modes, callables and empty axes to extend run eagerly.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

bool Tracer::pad(CallArgs args) {
  std::string bad;
  if (!args.only({"array", "pad_width", "mode", "constant_values"}, bad) || args.pos.size() > 3)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.pad() with '{}' is not traced yet", bad.empty() ? "these arguments" : bad));
  const AValue* xp = args.get(0, "array");
  const AValue* pw = args.get(1, "pad_width");
  const AValue* mode_v = args.get(2, "mode");
  const AValue* cv = args.get(3, "constant_values");
  if (!xp || !pw) return fail(AbortCode::UserError, "TypeError: pad() missing required arguments");
  if (!xp->is_tensor() || xp->box != Box::Array)
    return fail(AbortCode::UnsupportedValue, fmt::format("np.pad() of {} is not traced yet", what(*xp)));
  if (!static_only(*xp)) return false;
  std::string mode = "constant";
  if (mode_v) {
    if (!mode_v->is_object() || !PyUnicode_Check(mode_v->obj))
      return fail(AbortCode::UnsupportedCall, "np.pad() with a mode that is not a string (a callable) runs eagerly");
    mode = PyUnicode_AsUTF8(mode_v->obj);
  }
  if (mode != "constant" && mode != "edge" && mode != "reflect" && mode != "symmetric" && mode != "wrap")
    return fail(AbortCode::UnsupportedCall, fmt::format("np.pad(mode='{}') is not traced yet", mode));
  if (cv && mode != "constant")
    return fail(AbortCode::UserError, fmt::format("ValueError: unsupported keyword arguments for mode '{}': {{'constant_values'}}", mode));
  // A runtime Python number as the constant (a float global, say): a float array takes it as
  // NumPy's setitem would, a cast; int arrays (int(), its ValueError/OverflowError) run eagerly.
  const bool runtime_value = cv && cv->is_tensor() && cv->type.rank() == 0 &&
                             (cv->box == Box::PyFloat || cv->box == Box::PyInt) && ir::is_float(xp->type.dtype);
  if (!pw->is_object() || (cv && !cv->is_object() && !runtime_value))
    return fail(AbortCode::UnsupportedValue, "np.pad() with pad widths or constants computed from arrays is not traced yet");
  const AValue x = *xp;
  const int rank = x.type.rank();
  // NumPy's own parsing: _as_pairs(pad_width, ndim, as_index=True), _as_pairs(values, ndim).
  PyObject* mod = PyImport_ImportModule("numpy.lib._arraypad_impl");
  PyObject* as_pairs = mod ? PyObject_GetAttrString(mod, "_as_pairs") : nullptr;
  Py_XDECREF(mod);
  if (!as_pairs) {
    PyErr_Clear();
    return fail(AbortCode::UnsupportedCall, "np.pad() of this NumPy version is not traced (no _as_pairs)");
  }
  auto pairs_of = [&](PyObject* v, bool as_index) -> PyObject* {
    PyObject* r = PyObject_CallFunction(as_pairs, "OiO", v, rank, as_index ? Py_True : Py_False);
    if (r) keep(r);
    return r;
  };
  PyObject* widths = pairs_of(pw->obj, true);
  PyObject* zero = PyLong_FromLong(0);
  PyObject* values = widths && mode == "constant" && !runtime_value ? pairs_of(cv ? cv->obj : zero, false) : nullptr;
  Py_DECREF(zero);
  Py_DECREF(as_pairs);
  if (!widths || (mode == "constant" && !values && !runtime_value)) return fail(AbortCode::UserError, exception_text());
  auto item = [](PyObject* pairs, int d, int k) -> PyObject* {  // borrowed through keep()
    PyObject* p = PySequence_GetItem(pairs, d);
    PyObject* v = p ? PySequence_GetItem(p, k) : nullptr;
    Py_XDECREF(p);
    return v;
  };
  // A constant as `padded[...] = v` stores it: a NumPy scalar of the array's dtype.
  auto constant = [&](PyObject* v) -> std::optional<AValue> {
    npy_intp none = 0;
    PyObject* a = PyArray_Empty(0, &none, PyArray_DescrFromType(typenum_from_dtype(x.type.dtype)), 0);
    if (!a || PyObject_SetItem(a, Py_Ellipsis, v) < 0) {
      Py_XDECREF(a);
      fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    PyObject* s = PyArray_Return(reinterpret_cast<PyArrayObject*>(a));  // steals a
    if (!s) {
      fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    AValue r = object(s, Source::constant());
    Py_DECREF(s);
    return r;
  };
  auto slice_along = [&](const AValue& v, int d, PyObject* sl) -> std::optional<AValue> {
    PyObject* key = PyTuple_New(rank);
    for (int k = 0; k < rank; ++k) {
      PyObject* part = k == d ? (Py_INCREF(sl), sl) : PySlice_New(nullptr, nullptr, nullptr);
      PyTuple_SET_ITEM(key, k, part);
    }
    Py_DECREF(sl);
    const bool ok = index_tensor(v, key);
    Py_DECREF(key);
    if (!ok) return std::nullopt;
    return pop();
  };
  auto py_slice = [](int64_t start, std::optional<int64_t> stop, int64_t step) {
    PyObject* a = PyLong_FromLongLong(start);
    PyObject* b = stop ? PyLong_FromLongLong(*stop) : nullptr;
    PyObject* c = PyLong_FromLongLong(step);
    PyObject* s = PySlice_New(a, b, c);
    Py_XDECREF(a);
    Py_XDECREF(b);
    Py_XDECREF(c);
    return s;
  };
  AValue cur = x;
  bool padded = false;
  for (int d = 0; d < rank; ++d) {
    PyObject* bo = item(widths, d, 0);
    PyObject* ao = item(widths, d, 1);
    const int64_t before = bo ? PyLong_AsLongLong(bo) : -1, after = ao ? PyLong_AsLongLong(ao) : -1;
    Py_XDECREF(bo);
    Py_XDECREF(ao);
    if (PyErr_Occurred() || before < 0 || after < 0) return fail(AbortCode::UserError, exception_text());
    if (before == 0 && after == 0) continue;
    const int64_t n = cur.type.shape[static_cast<size_t>(d)].size;
    if (mode != "constant" && n == 0)
      return fail(AbortCode::UserError,
                  fmt::format("ValueError: can't extend empty axis {} using modes other than 'constant' or 'empty'", d));
    const int64_t limit = mode == "reflect" ? n - 1 : n;
    if (mode != "constant" && mode != "edge" && (before > limit || after > limit || limit == 0))
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("np.pad(mode='{}') wider than the axis (NumPy pads in several passes) runs eagerly", mode));
    std::vector<AValue> parts;
    auto block = [&](int64_t width, int k) -> bool {  // the pad on side k (0 before, 1 after)
      if (width == 0) return true;
      std::optional<AValue> p;
      if (mode == "constant") {
        std::optional<AValue> c;
        if (runtime_value) {
          c = *cv;
        } else {
          PyObject* v = item(values, d, k);
          c = v ? constant(v) : std::nullopt;
          Py_XDECREF(v);
        }
        if (!c) return abort_ ? false : fail(AbortCode::UserError, exception_text());
        std::vector<int64_t> shape;
        for (const ir::Dim& dim : cur.type.shape) shape.push_back(dim.size);
        shape[static_cast<size_t>(d)] = width;
        p = full_of(shape, x.type.dtype, *c);
      } else if (mode == "edge") {
        auto e = slice_along(cur, d, k == 0 ? py_slice(0, 1, 1) : py_slice(n - 1, n, 1));
        if (!e) return false;
        std::vector<ir::Dim> shape = e->type.shape;
        shape[static_cast<size_t>(d)] = ir::Dim::fixed(width);
        p = tensor(trace_.graph.add_op(ir::Op::Broadcast, ir::Type(x.type.dtype, shape), {e->v}, loc_), Box::Array);
      } else if (mode == "reflect") {  // x[w], ..., x[1] | x[n-2], ..., x[n-1-w]
        p = k == 0 ? slice_along(cur, d, py_slice(width, 0, -1))
                   : slice_along(cur, d, py_slice(n - 2, n - 2 - width >= 0 ? std::optional<int64_t>(n - 2 - width) : std::nullopt, -1));
      } else if (mode == "symmetric") {  // x[w-1], ..., x[0] | x[n-1], ..., x[n-w]
        p = k == 0 ? slice_along(cur, d, py_slice(width - 1, std::nullopt, -1))
                   : slice_along(cur, d, py_slice(n - 1, n - 1 - width >= 0 ? std::optional<int64_t>(n - 1 - width) : std::nullopt, -1));
      } else {  // wrap: x[n-w:] | x[:w]
        p = k == 0 ? slice_along(cur, d, py_slice(n - width, std::nullopt, 1)) : slice_along(cur, d, py_slice(0, width, 1));
      }
      if (!p) return false;
      parts.push_back(std::move(*p));
      return true;
    };
    if (!block(before, 0)) return false;
    parts.push_back(cur);
    if (!block(after, 1)) return false;
    AValue seq;
    seq.kind = AValue::Kind::Tuple;
    seq.source = Source::computed();
    seq.items = std::move(parts);
    CallArgs cat;
    cat.pos.push_back(std::move(seq));
    PyObject* axis = PyLong_FromLong(d);
    cat.pos.push_back(object(axis, Source::constant()));
    Py_DECREF(axis);
    bool handled = false;
    if (!call_numpy("concatenate", std::move(cat), false, handled)) return false;
    cur = pop();
    padded = true;
  }
  if (!padded)  // a new array all the same
    cur = tensor(trace_.graph.add_op(ir::Op::Cast, x.type, {x.v}, loc_), Box::Array);
  push(std::move(cur));
  return true;
}

}  // namespace tracejit::tracer::detail
