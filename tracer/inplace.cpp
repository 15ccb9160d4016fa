// In-place updates (`x += y`, `x[1:-1] = v`, `w -= lr * g`) recorded functionally: the new
// value replaces every alias of the array in the trace, and input arrays get a write-back.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {
bool Tracer::assign_inplace(const AValue& x, ir::ValueId value) {
  if (x.view_root != ir::kNoValue)
    return fail(AbortCode::UnsupportedValue, "in-place update through a view is not traced yet");
  ir::ValueId old = x.v;
  ++mutations_;
  bool views_alive = false;
  auto check = [&](AValue& v) { views_alive |= v.is_tensor() && v.view_root == old; };
  for_each_live_value(check);  // (closures' cells hold values too: nonlocal, captured names)
  if (views_alive)
    return fail(AbortCode::UnsupportedValue,
                "in-place update of an array while a view of it is alive is not traced yet");
  auto replace = [&](AValue& v) {
    if (v.is_tensor() && v.v == old) {
      v.v = value;
      v.type = trace_.graph.type(value);
    }
  };
  for_each_live_value(replace);
  for (auto& [k, v] : inputs_by_source_) replace(v);
  return true;
}

ir::ValueId Tracer::arm_condition() {
  ir::Graph& g = trace_.graph;
  const ir::Type bt = ir::Type::scalar(ir::DType::Bool);
  ir::ValueId c = ir::kNoValue;
  for (auto [t, neg] : arm_conds_) {
    ir::ValueId a = neg ? g.add_op(ir::Op::Not, bt, {t}, loc_) : t;
    c = c == ir::kNoValue ? a : g.add_op(ir::Op::And, bt, {c, a}, loc_);
  }
  return c;
}

bool Tracer::store_inplace(const AValue& x, ir::ValueId value) {
  const ir::ValueId old = x.v;
  if (!assign_inplace(x, value)) return false;
  if (!arm_conds_.empty()) {
    ++guarded_mutations_;
    arm_updates_.emplace_back(old, value);
  }
  return true;
}

bool Tracer::augmented_subscript_store(const AValue& view) {
  // CPython compiles `A[key] op= y` to A, key, COPY 2, COPY 2, BINARY_SUBSCR, y, BINARY_OP,
  // SWAP 3, SWAP 2, STORE_SUBSCR: the view is a temporary nothing else holds, and the store
  // right after writes the result back into the array it was read from.
  const Frame& f = fr();
  auto at = [&](int k) -> const Instruction* {
    size_t i = static_cast<size_t>(f.pc + k);
    return i < f.instrs.size() ? &f.instrs[i] : nullptr;
  };
  auto is = [&](int k, COp op, int arg) {
    const Instruction* in = at(k);
    return in && in->op == op && (arg < 0 || in->arg == arg);
  };
  size_t below = 0;  // where the container sits under the stack top
  if (is(0, COp::Swap, 3) && is(1, COp::Swap, 2) && is(2, COp::StoreSubscr, -1)) {
    below = 2;
  } else if (is(0, COp::Swap, 4) && is(1, COp::Swap, 3) && is(2, COp::Swap, 2) && is(3, COp::BuildSlice, 2) &&
             is(4, COp::StoreSubscr, -1)) {
    // 3.12+: `A[a:b] op= y` is A, a, b, COPY 3 (x3), BINARY_SLICE, y, BINARY_OP, SWAP 4, SWAP 3,
    // SWAP 2, STORE_SLICE (decoded as BUILD_SLICE 2; STORE_SUBSCR).
    below = 3;
  } else {
    return false;
  }
  if (f.stack.size() < below) return false;
  const AValue& container = f.stack[f.stack.size() - below];
  return container.is_tensor() && container.v == view.view_root;
}

bool Tracer::inplace_binary(const AValue& x, const AValue& y, const char* ufunc) {
  return ufunc_into(*np_->ufunc_named(ufunc), {x, y}, x);
}

bool Tracer::ufunc_into(const UfuncInfo& u, std::vector<AValue> operands, const AValue& x) {
  // NumPy: ufunc(..., out=x) — computed in the loop dtype the inputs resolve to, the inputs
  // broadcast against x's shape (which must hold the result), cast to x's dtype under same_kind
  // casting; the call returns x itself. `x op= y` is ufunc(x, y, out=x).
  const char* ufunc = u.name;
  if (!apply_ufunc(u, std::move(operands), false)) return false;
  AValue r = pop();
  if (!r.is_tensor()) return fail(AbortCode::UnsupportedValue, fmt::format("np.{}(..., out=) of Python values", ufunc));
  ir::ValueId rv = r.v;
  if (r.type.shape != x.type.shape) {
    auto b = ir::broadcast_shapes(r.type.shape, x.type.shape);
    if (!b || *b != x.type.shape)
      return fail(AbortCode::UserError, "ValueError: non-broadcastable output operand");
    rv = trace_.graph.add_op(ir::Op::Broadcast, ir::Type{r.type.dtype, x.type.shape}, {rv}, loc_);
  }
  if (r.type.dtype != x.type.dtype) {
    PyArray_Descr* from = PyArray_DescrFromType(typenum_from_dtype(r.type.dtype));
    PyArray_Descr* to = PyArray_DescrFromType(typenum_from_dtype(x.type.dtype));
    bool ok = PyArray_CanCastTypeTo(from, to, NPY_SAME_KIND_CASTING);
    Py_DECREF(from);
    Py_DECREF(to);
    if (!ok)
      return fail(AbortCode::UserError,
                  fmt::format("UFuncTypeError: Cannot cast ufunc '{}' output from {} to {} with casting rule 'same_kind'",
                              ufunc, ir::dtype_numpy_name(r.type.dtype), ir::dtype_numpy_name(x.type.dtype)));
    if (ir::is_float(r.type.dtype) && !ir::is_float(x.type.dtype))
      return fail(AbortCode::UnsupportedDtype, "float to integer conversion is not compiled yet");
  }
  ir::ValueId nv = cast(rv, x.type.dtype);
  if (x.view_root != ir::kNoValue && augmented_subscript_store(x)) {
    // `A[key] op= y`: NumPy computes op(A[key], y, out=A[key]) (y as if evaluated first: a
    // ufunc copies overlapping inputs), then stores the view into A[key] again. The store that
    // follows writes the new value into A (a window update), which is the same thing.
    AValue out = x;
    out.v = nv;
    out.type = trace_.graph.type(nv);
    push(std::move(out));
    return true;
  }
  if (!assign_inplace(x, nv)) return false;
  AValue out = x;  // the same object (and alias of every reference to it), new contents
  out.v = nv;
  push(std::move(out));
  return true;
}

bool Tracer::copyto(CallArgs args) {
  // np.copyto(dst, src): src (an array: Python scalars follow rules of their own and run
  // eagerly) broadcast to dst's shape, cast under same_kind casting (the default; casting= and
  // where= run eagerly), written into dst; returns None.
  const AValue* dst = args.get(0, "dst");
  const AValue* src = args.get(1, "src");
  if (!dst || !src || args.pos.size() + args.kw.size() != 2)
    return fail(AbortCode::UnsupportedCall, "np.copyto() other than copyto(dst, src) is not traced yet");
  if (!dst->is_tensor() || dst->box != Box::Array)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.copyto() into {} is not traced", what(*dst)));
  if (!src->is_tensor() || (src->box != Box::Array && src->box != Box::NpScalar))
    return fail(AbortCode::UnsupportedCall, fmt::format("np.copyto() from {} is not traced yet", what(*src)));
  if (!static_only(*dst) || !static_only(*src) || !check_inplace_target(*dst)) return false;
  const ir::DType from = src->type.dtype, to = dst->type.dtype;
  if (from != to) {
    PyArray_Descr* a = PyArray_DescrFromType(typenum_from_dtype(from));
    PyArray_Descr* b = PyArray_DescrFromType(typenum_from_dtype(to));
    bool ok = PyArray_CanCastTypeTo(a, b, NPY_SAME_KIND_CASTING);
    Py_DECREF(a);
    Py_DECREF(b);
    if (!ok)
      return fail(AbortCode::UserError,
                  fmt::format("TypeError: Cannot cast array data from dtype('{}') to dtype('{}') according to the rule 'same_kind'",
                              ir::dtype_numpy_name(from), ir::dtype_numpy_name(to)));
    if (ir::is_float(from) && !ir::is_float(to))
      return fail(AbortCode::UnsupportedDtype, "float to integer conversion is not compiled yet");
  }
  ir::ValueId v = src->v;
  if (src->type.shape != dst->type.shape) {
    auto b = ir::broadcast_shapes(src->type.shape, dst->type.shape);
    if (!b || *b != dst->type.shape)
      return fail(AbortCode::UserError, "ValueError: could not broadcast input array into the output's shape");
    v = trace_.graph.add_op(ir::Op::Broadcast, ir::Type(from, dst->type.shape), {v}, loc_);
  }
  if (!store_inplace(*dst, cast(v, to))) return false;
  push(object(Py_None, Source::constant()));
  return true;
}

// x[key] = value with a basic index: the new array is assembled from slices of the old one
// and the (broadcast) value, axis by axis.
namespace {
// Whether NumPy's element assignment of a NumPy scalar of dtype `from` into an array of dtype
// `to` is the IR's cast for every value. Float targets go through a C double (one rounding to
// float64, then one to float32: a single rounding when the double holds the value exactly);
// integer targets through a Python int with a range check (signed) or a wrap (unsigned), so
// only widening integer conversions are the same as a cast for every value.
bool setitem_is_cast(ir::DType from, ir::DType to) {
  if (from == to || ir::is_bool(from)) return true;
  if (ir::is_bool(to)) return false;
  if (ir::is_float(from)) return ir::is_float(to);
  const int bits = 8 * ir::dtype_size(from) - (ir::is_signed_int(from) ? 1 : 0);  // magnitude bits
  if (ir::is_float(to)) return to == ir::DType::F64 || bits <= 53;
  if (ir::is_signed_int(from) && !ir::is_signed_int(to)) return false;
  return 8 * ir::dtype_size(to) - (ir::is_signed_int(to) ? 1 : 0) >= bits;
}
}  // namespace

std::optional<std::string> Tracer::setitem_refusal(const AValue& value, ir::DType dt) {
  const std::string to(ir::dtype_numpy_name(dt));
  if (value.is_tensor() && value.box == Box::Array) {  // arrays: NumPy's unsafe cast
    if (ir::is_float(value.type.dtype) && !ir::is_float(dt) && !ir::is_bool(dt))
      return std::string("assigning floats into an integer array is not compiled yet");
    return std::nullopt;
  }
  if (value.is_tensor() && value.box == Box::PyInt) {
    if (int_range_fits(dt, value.lo, value.hi)) return std::nullopt;
    return fmt::format("a runtime Python int that may not fit a {} array", to);
  }
  if (value.is_tensor() && value.box == Box::PyFloat) {  // rounds to float32 as a cast does
    if (ir::is_float(dt)) return std::nullopt;
    return std::string("assigning a float into an integer array is not compiled yet");
  }
  if (value.is_tensor() || (value.is_object() && PyArray_IsScalar(value.obj, Generic))) {
    std::optional<ir::DType> from;
    if (value.is_tensor()) {
      from = value.type.dtype;
    } else {
      PyArray_Descr* d = PyArray_DescrFromScalar(value.obj);
      from = d ? dtype_from_typenum(d->type_num) : std::nullopt;
      Py_XDECREF(d);
      PyErr_Clear();
    }
    if (from && setitem_is_cast(*from, dt)) return std::nullopt;
    return fmt::format("storing a NumPy {} scalar into a {} array (NumPy's element assignment may raise or "
                       "convert it differently from a cast)", from ? ir::dtype_numpy_name(*from) : "?", to);
  }
  if (!value.is_object()) return fmt::format("assigning {} into an array", what(value));
  PyObject* o = value.obj;
  if (PyBool_Check(o)) return std::nullopt;
  if (PyFloat_CheckExact(o)) {
    if (ir::is_float(dt)) return std::nullopt;
    return std::string("assigning a float into an integer array is not compiled yet");
  }
  if (PyLong_CheckExact(o)) {  // into float arrays to_ir checks exactness
    int overflow = 0;
    long long iv = PyLong_AsLongLongAndOverflow(o, &overflow);
    PyErr_Clear();
    if (ir::is_float(dt) || (!overflow && int_range_fits(dt, iv, iv))) return std::nullopt;
    return fmt::format("OverflowError: Python integer out of bounds for {}", to);
  }
  return fmt::format("assigning a {} into an array is not traced yet", Py_TYPE(o)->tp_name);
}

std::optional<ir::ValueId> Tracer::stored_value(const AValue& value, ir::DType dt) {
  std::string why;
  auto v = setitem_value(value, dt, why);
  if (!v && !abort_)
    fail(why.rfind("OverflowError", 0) == 0 ? AbortCode::UserError : AbortCode::UnsupportedValue, why);
  return v;
}

bool Tracer::store_subscr(const AValue& x, PyObject* key, const AValue& value) {
  if (!static_only(x) || !static_only(value)) return false;
  ir::Graph& g = trace_.graph;
  int rank = x.type.rank();
  std::vector<PyObject*> parts;
  if (PyTuple_Check(key))
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); ++i) parts.push_back(PyTuple_GET_ITEM(key, i));
  else
    parts.push_back(key);
  int consumed = 0;
  for (PyObject* p : parts) {
    if (p == Py_None) continue;
    if (p == Py_Ellipsis) continue;
    if (!PyLong_Check(p) && !PySlice_Check(p))
      return fail(AbortCode::UnsupportedValue, "assignment through advanced indexing is not traced yet");
    ++consumed;
  }
  if (consumed > rank) return fail(AbortCode::UserError, "IndexError: too many indices for array");
  std::vector<int64_t> lo(static_cast<size_t>(rank), 0), cnt(static_cast<size_t>(rank));
  std::vector<int64_t> indexed_shape;  // the shape x[key] has (what `value` broadcasts to)
  for (int d = 0; d < rank; ++d) cnt[static_cast<size_t>(d)] = x.type.shape[static_cast<size_t>(d)].size;
  int d = 0;
  for (PyObject* p : parts) {
    if (p == Py_None) {
      indexed_shape.push_back(1);
      continue;
    }
    if (p == Py_Ellipsis) {
      for (int k = 0; k < rank - consumed; ++k, ++d) indexed_shape.push_back(cnt[static_cast<size_t>(d)]);
      continue;
    }
    int64_t len = x.type.shape[static_cast<size_t>(d)].size;
    if (PySlice_Check(p)) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(p, &start, &stop, &step) < 0) return fail(AbortCode::UserError, exception_text());
      Py_ssize_t n = PySlice_AdjustIndices(static_cast<Py_ssize_t>(len), &start, &stop, step);
      if (step != 1 && n > 1) return fail(AbortCode::UnsupportedValue, "assignment to a stepped slice is not traced yet");
      lo[static_cast<size_t>(d)] = n > 0 ? start : 0;
      cnt[static_cast<size_t>(d)] = n;
      indexed_shape.push_back(n);
    } else {
      long long i = PyLong_AsLongLong(p);
      if (PyErr_Occurred()) return fail(AbortCode::UserError, exception_text());
      if (i < -len || i >= len)
        return fail(AbortCode::UserError, fmt::format("IndexError: index {} is out of bounds for axis {} with size {}", i, d, len));
      lo[static_cast<size_t>(d)] = i < 0 ? i + len : i;
      cnt[static_cast<size_t>(d)] = 1;
    }
    ++d;
  }
  for (; d < rank; ++d) indexed_shape.push_back(cnt[static_cast<size_t>(d)]);

  // The value, converted as NumPy's setitem does (or not compiled: setitem_refusal).
  ir::DType dt = x.type.dtype;
  auto v = stored_value(value, dt);
  if (!v) return false;
  std::vector<ir::Dim> ishape;
  for (int64_t n : indexed_shape) ishape.push_back(ir::Dim::fixed(n));
  auto b = ir::broadcast_shapes(g.type(*v).shape, ishape);
  if (!b || *b != ishape)
    return fail(AbortCode::UserError, "ValueError: could not broadcast input array into the indexed shape");
  ir::ValueId region = g.add_op(ir::Op::Broadcast, ir::Type(dt, ishape), {*v}, loc_);
  region = g.add_op(ir::Op::Reshape, ir::Type::of(dt, cnt), {region}, loc_);
  region = guarded_value(region, [&] {  // inside a branch's arm: the old contents otherwise
    ir::Node n;
    n.op = ir::Op::Slice;
    n.type = ir::Type::of(dt, cnt);
    n.operands = {x.v};
    for (int k = 0; k < rank; ++k) {
      n.ints.push_back(cnt[static_cast<size_t>(k)] > 0 ? lo[static_cast<size_t>(k)] : 0);
      n.ints.push_back(1);
    }
    n.loc = loc_;
    return g.add(std::move(n));
  });

  // Assemble: for each axis (innermost first), [x before | region | x after] along that axis,
  // where the other axes are restricted to the region on the axes already handled.
  auto slice_of = [&](ir::ValueId src, const std::vector<int64_t>& start, const std::vector<int64_t>& count) {
    ir::Node n;
    n.op = ir::Op::Slice;
    n.type = ir::Type::of(dt, count);
    n.operands = {src};
    for (int k = 0; k < rank; ++k) {
      n.ints.push_back(count[static_cast<size_t>(k)] > 0 ? start[static_cast<size_t>(k)] : 0);
      n.ints.push_back(1);
    }
    n.loc = loc_;
    return g.add(std::move(n));
  };
  ir::ValueId cur = region;
  for (int axis = rank - 1; axis >= 0; --axis) {
    // Extent of the block built so far: full on axes > axis, the region on axes < axis.
    std::vector<int64_t> start(static_cast<size_t>(rank)), count(static_cast<size_t>(rank));
    for (int k = 0; k < rank; ++k) {
      bool full = k > axis;
      start[static_cast<size_t>(k)] = full ? 0 : lo[static_cast<size_t>(k)];
      count[static_cast<size_t>(k)] = full ? x.type.shape[static_cast<size_t>(k)].size : cnt[static_cast<size_t>(k)];
    }
    int64_t len = x.type.shape[static_cast<size_t>(axis)].size;
    int64_t a = lo[static_cast<size_t>(axis)], n = cnt[static_cast<size_t>(axis)];
    std::vector<ir::ValueId> pieces;
    if (a > 0) {
      auto s0 = start, c0 = count;
      s0[static_cast<size_t>(axis)] = 0;
      c0[static_cast<size_t>(axis)] = a;
      pieces.push_back(slice_of(x.v, s0, c0));
    }
    pieces.push_back(cur);
    if (a + n < len) {
      auto s1 = start, c1 = count;
      s1[static_cast<size_t>(axis)] = a + n;
      c1[static_cast<size_t>(axis)] = len - a - n;
      pieces.push_back(slice_of(x.v, s1, c1));
    }
    if (pieces.size() > 1) {
      auto full = count;
      full[static_cast<size_t>(axis)] = len;
      ir::Node c;
      c.op = ir::Op::Concat;
      c.type = ir::Type::of(dt, full);
      c.operands = pieces;
      c.ints = {axis};
      c.loc = loc_;
      cur = g.add(std::move(c));
    }
  }
  if (g.type(cur).shape != x.type.shape) return fail(AbortCode::UnsupportedValue, "slice assignment shape");
  return store_inplace(x, cur);
}

bool Tracer::store_mask(const AValue& x, const AValue& mask, const AValue& value) {
  // x[mask] = v with a boolean array mask over x's leading axes and a v that broadcasts to
  // every selected element alike (a scalar, or a value shaped like x's trailing axes): the same
  // as x[...] = where(mask, v, x), which needs no data-dependent shape. A v with one value per
  // selected element (its shape depends on how many are true) is not compiled.
  if (!static_only(x) || !static_only(mask) || !static_only(value)) return false;
  ir::Graph& g = trace_.graph;
  const int rank = x.type.rank(), k = mask.type.rank();
  if (k == 0) return fail(AbortCode::UnsupportedValue, "assignment through a 0-d boolean index is not traced yet");
  if (k > rank)
    return fail(AbortCode::UserError, fmt::format("IndexError: too many indices for array: array is {}-dimensional, but {} were indexed", rank, k));
  for (int d = 0; d < k; ++d) {
    int64_t n = x.type.shape[static_cast<size_t>(d)].size, m = mask.type.shape[static_cast<size_t>(d)].size;
    if (n != m)
      return fail(AbortCode::UserError,
                  fmt::format("IndexError: boolean index did not match indexed array along axis {}; size of axis is {} "
                              "but size of corresponding boolean axis is {}", d, n, m));
  }
  ir::DType dt = x.type.dtype;
  auto v = stored_value(value, dt);
  if (!v) return false;
  // v broadcasts to (count, *x.shape[k:]): its shape may have at most rank - k + 1 axes, the
  // first of them (the count's) 1.
  std::vector<ir::Dim> vshape = g.type(*v).shape;
  const int tail = rank - k;
  if (static_cast<int>(vshape.size()) > tail) {
    if (static_cast<int>(vshape.size()) > tail + 1 || vshape[0].size != 1)
      return fail(AbortCode::UnsupportedValue,
                  "assigning one value per selected element through a boolean index (the count depends on the data) "
                  "is not traced yet");
    vshape.erase(vshape.begin());
    *v = g.add_op(ir::Op::Reshape, ir::Type(dt, vshape), {*v}, loc_);
  }
  std::vector<ir::Dim> tail_shape(x.type.shape.begin() + k, x.type.shape.end());
  auto b = ir::broadcast_shapes(vshape, tail_shape);
  if (!b || *b != tail_shape) return fail(AbortCode::UserError, "ValueError: shape mismatch: value array cannot be broadcast to indexing result");
  ir::ValueId val = g.add_op(ir::Op::Broadcast, x.type, {*v}, loc_);
  std::vector<ir::Dim> mshape = mask.type.shape;
  mshape.resize(static_cast<size_t>(rank), ir::Dim::fixed(1));
  ir::ValueId m = mask.v;
  if (tail > 0) m = g.add_op(ir::Op::Reshape, ir::Type(ir::DType::Bool, mshape), {m}, loc_);
  if (mshape != x.type.shape) m = g.add_op(ir::Op::Broadcast, ir::Type(ir::DType::Bool, x.type.shape), {m}, loc_);
  ir::ValueId now = g.add_op(ir::Op::Where, x.type, {m, val, x.v}, loc_);
  now = guarded_value(now, [&] { return x.v; });
  return store_inplace(x, now);
}

// Input arrays updated in place: their final values become graph results copied back.
bool Tracer::finish_writebacks() {
  for (const auto& [key, v] : inputs_by_source_) {
    if (v.input < 0 || v.v == trace_.graph.params[static_cast<size_t>(v.input)]) continue;
    if (trace_.inputs[static_cast<size_t>(v.input)].kind != InputBinding::Kind::ArrayData) continue;
    trace_.writebacks.emplace_back(v.input, result_index(v.v));
  }
  return true;
}

}  // namespace tracejit::tracer::detail
