// The array side of the NumPy surface: reductions, matmul, reshapes and views, basic indexing,
// joining and creation — each recorded with NumPy's own dtype rules (asked of NumPy on probes).
#include "tracer/tracer_impl.h"

#include "ir/passes/transpose_cone.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

namespace tracejit::tracer::detail {
namespace {

std::vector<int64_t> static_shape(const ir::Type& t) {
  std::vector<int64_t> s;
  for (const ir::Dim& d : t.shape) s.push_back(d.size);
  return s;
}

int64_t numel(const std::vector<int64_t>& s) {
  return std::accumulate(s.begin(), s.end(), int64_t{1}, std::multiplies<>());
}

// The dtype NumPy gives `np.empty(1, dt).<method>(**kwargs)`: asked of NumPy, never guessed.
std::optional<ir::DType> probe_method_dtype(ir::DType dt, const char* method, PyObject* kwargs) {
  npy_intp one = 1;
  PyObject* a = PyArray_Zeros(1, &one, PyArray_DescrFromType(typenum_from_dtype(dt)), 0);
  if (!a) return std::nullopt;
  PyObject* m = PyObject_GetAttrString(a, method);
  PyObject* r = nullptr;
  if (m) {
    PyObject* empty = PyTuple_New(0);
    r = PyObject_Call(m, empty, kwargs);
    Py_DECREF(empty);
    Py_DECREF(m);
  }
  Py_DECREF(a);
  if (!r) {
    PyErr_Clear();
    return std::nullopt;
  }
  std::optional<ir::DType> out;
  if (PyArray_Check(r)) out = dtype_from_typenum(PyArray_TYPE(reinterpret_cast<PyArrayObject*>(r)));
  else if (PyArray_IsScalar(r, Generic)) {
    PyArray_Descr* d = PyArray_DescrFromScalar(r);
    if (d) out = dtype_from_typenum(d->type_num);
    Py_XDECREF(d);
  }
  Py_DECREF(r);
  PyErr_Clear();
  return out;
}


// A 1-D float sequence as NumPy computes it: y[i] = i * a + b rounded in `compute` precision
// (two roundings, no fma), some elements stored instead (arange's first two, linspace's
// endpoint), floored for an integer result, then cast to the result dtype.
struct FloatSeq {
  ir::DType compute = ir::DType::F64;
  double a = 0, b = 0;
  std::vector<std::pair<int64_t, double>> fixed;
  bool floor = false;
};

double sample_at(PyArrayObject* s, npy_intp i) {
  PyObject* o = PyArray_GETITEM(s, static_cast<const char*>(PyArray_GETPTR1(s, i)));
  double v = o ? PyFloat_AsDouble(o) : std::nan("");
  Py_XDECREF(o);
  PyErr_Clear();
  return v;
}

// True when `seq` reproduces every element of `sample` (dtype `out`) bit for bit.
template <typename F>
bool seq_reproduces(const FloatSeq& seq, PyArrayObject* sample, ir::DType out) {
  const npy_intp n = PyArray_DIM(sample, 0);
  if (!ir::is_float(out) && !ir::is_integer(out)) return false;
  for (npy_intp i = 0; i < n; ++i) {
    F y = static_cast<F>(static_cast<F>(i) * static_cast<F>(seq.a));
    y = static_cast<F>(y + static_cast<F>(seq.b));
    for (const auto& [k, v] : seq.fixed)
      if (k == i) y = static_cast<F>(v);
    if (seq.floor) y = std::floor(y);
    double want = sample_at(sample, i);
    double got;
    if (out == ir::DType::F32) got = static_cast<float>(y);
    else if (out == ir::DType::F64) got = static_cast<double>(y);
    else if (std::isfinite(y) && std::fabs(y) < 0x1p31) got = static_cast<double>(static_cast<int64_t>(y));
    else return false;
    if (std::memcmp(&got, &want, sizeof got) != 0) return false;  // NaN, -0 included
  }
  return true;
}

bool seq_reproduces(const FloatSeq& seq, PyArrayObject* sample, ir::DType out) {
  return seq.compute == ir::DType::F32 ? seq_reproduces<float>(seq, sample, out)
                                       : seq_reproduces<double>(seq, sample, out);
}

// Float arange: NumPy stores start and start + step, then its dtype's fill loop computes
// buffer[i] = start + i * (buffer[1] - buffer[0]) in the array's own precision.
std::optional<FloatSeq> arange_sequence(PyArrayObject* sample, ir::DType dt) {
  if (dt != ir::DType::F32 && dt != ir::DType::F64) return std::nullopt;
  const npy_intp n = PyArray_DIM(sample, 0);
  FloatSeq seq;
  seq.compute = dt;
  if (n > 0) {
    double y0 = sample_at(sample, 0), y1 = n > 1 ? sample_at(sample, 1) : y0;
    seq.a = dt == ir::DType::F32 ? static_cast<double>(static_cast<float>(y1) - static_cast<float>(y0)) : y1 - y0;
    seq.b = y0;
    seq.fixed = {{0, y0}};
    if (n > 1) seq.fixed.push_back({1, y1});
  }
  if (!seq_reproduces(seq, sample, dt)) return std::nullopt;
  return seq;
}

// linspace(start, stop, num, endpoint) with scalar ends: y = i * step + start with step =
// (stop - start) / div in the computing precision (float64, or float32 for float32 ends), the
// endpoint stored, floored for an integer dtype (numpy/_core/function_base.py).
std::optional<FloatSeq> linspace_sequence(PyArrayObject* sample, ir::DType dt, PyObject* start, PyObject* stop,
                                          PyObject* endpoint) {
  if (!start || !stop || PyArray_Check(start) || PyArray_Check(stop)) return std::nullopt;
  const double s = PyFloat_AsDouble(start), e = PyFloat_AsDouble(stop);
  int ep = endpoint ? PyObject_IsTrue(endpoint) : 1;
  if (PyErr_Occurred() || ep < 0) {
    PyErr_Clear();
    return std::nullopt;
  }
  const npy_intp num = PyArray_DIM(sample, 0);
  const npy_intp div = ep ? num - 1 : num;
  for (ir::DType compute : {ir::DType::F64, ir::DType::F32}) {
    FloatSeq seq;
    seq.compute = compute;
    seq.floor = ir::is_integer(dt);
    const bool f32 = compute == ir::DType::F32;
    const double sc = f32 ? static_cast<float>(s) : s, ec = f32 ? static_cast<float>(e) : e;
    if (div > 0) {
      double delta = f32 ? static_cast<float>(static_cast<float>(ec) - static_cast<float>(sc)) : ec - sc;
      seq.a = f32 ? static_cast<float>(static_cast<float>(delta) / static_cast<float>(div)) : delta / static_cast<double>(div);
      if (seq.a == 0) continue;  // NumPy divides first (denormal steps): not this formula
    } else {
      seq.a = std::nan("");  // y * delta with no step: only num <= 1, where y = [0] or []
      if (num == 1) seq.a = 0;  // 0 * delta + start (a NaN or inf delta: the check below decides)
    }
    seq.b = sc;
    if (ep && num > 1) seq.fixed = {{num - 1, ec}};
    if (seq_reproduces(seq, sample, dt)) return seq;
  }
  return std::nullopt;
}
// The axes A for which NumPy lays `v` out as transpose(B, A) of a C-ordered buffer B (its K
// order: a transposed param, a transpose of a C-ordered value, elementwise results whose
// full-shape operands share one such layout); the identity for C-ordered values; nullopt when
// the tracer does not know (strided params, views, other ops): callers then use C order.
std::optional<std::vector<int64_t>> memory_axes(const ir::Graph& g, ir::ValueId v, int depth = 0) {
  const ir::Node& n = g.node(v);
  const int rank = n.type.rank();
  std::vector<int64_t> identity(static_cast<size_t>(rank));
  for (int d = 0; d < rank; ++d) identity[static_cast<size_t>(d)] = d;
  if (depth > 32) return std::nullopt;
  if (n.op == ir::Op::Param) {
    if (n.ints.size() < 2) return std::nullopt;
    if (n.ints[1] == static_cast<int64_t>(ir::ParamLayout::Contiguous)) return identity;
    if (n.ints[1] == static_cast<int64_t>(ir::ParamLayout::Transposed) && n.ints.size() == static_cast<size_t>(rank) + 2)
      return std::vector<int64_t>(n.ints.begin() + 2, n.ints.end());
    return std::nullopt;
  }
  if (n.op == ir::Op::Transpose) {
    auto q = memory_axes(g, n.operands[0], depth + 1);
    if (!q || q->size() != n.ints.size()) return std::nullopt;
    std::vector<int64_t> r(n.ints.size());
    for (size_t d = 0; d < r.size(); ++d) r[d] = (*q)[static_cast<size_t>(n.ints[d])];
    return r;
  }
  if (!ir::has_trait(n.op, ir::kElementwise) || !n.regions.empty()) return std::nullopt;
  std::optional<std::vector<int64_t>> axes;
  for (ir::ValueId o : n.operands) {
    const ir::Type& t = g.type(o);
    if (t.shape != n.type.shape) {  // a broadcast operand (a scalar, a row): not a layout source
      if (t.rank() > rank) return std::nullopt;
      continue;
    }
    auto a = memory_axes(g, o, depth + 1);
    if (!a || (axes && *a != *axes)) return std::nullopt;
    axes = std::move(a);
  }
  return axes ? axes : std::optional<std::vector<int64_t>>(identity);
}

}  // namespace

const AValue* Tracer::CallArgs::get(size_t index, const char* name) const {
  if (index < pos.size()) return &pos[index];
  for (const auto& [k, v] : kw)
    if (k == name) return &v;
  return nullptr;
}

bool Tracer::CallArgs::only(std::initializer_list<const char*> names, std::string& bad) const {
  for (const auto& [k, v] : kw) {
    bool known = false;
    for (const char* n : names) known |= k == n;
    if (!known) {
      bad = k;
      return false;
    }
  }
  return true;
}

AValue Tracer::view_of(const AValue& base, ir::ValueId v, Box box) {
  AValue out = tensor(v, box);
  out.view_root = base.view_root != ir::kNoValue ? base.view_root : base.v;
  return out;
}

std::optional<std::vector<int64_t>> Tracer::int_list(const AValue& v, const char* what) {
  std::vector<int64_t> out;
  auto one = [&](PyObject* o) {
    if (!PyLong_Check(o) && !PyArray_IsScalar(o, Integer)) return false;
    long long x = PyLong_AsLongLong(o);
    if (x == -1 && PyErr_Occurred()) {
      PyErr_Clear();
      return false;
    }
    out.push_back(x);
    return true;
  };
  if (v.kind == AValue::Kind::Tuple) {
    for (const AValue& it : v.items)
      if (!it.is_object() || !one(it.obj)) {
        fail(AbortCode::UnsupportedValue, fmt::format("{} must be Python ints", what));
        return std::nullopt;
      }
    return out;
  }
  if (v.is_object() && (PyTuple_Check(v.obj) || PyList_Check(v.obj))) {
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(v.obj); ++i)
      if (!one(PySequence_Fast_GET_ITEM(v.obj, i))) {
        fail(AbortCode::UnsupportedValue, fmt::format("{} must be Python ints", what));
        return std::nullopt;
      }
    return out;
  }
  if (v.is_object() && one(v.obj)) return out;
  fail(AbortCode::UnsupportedValue, fmt::format("{} must be known Python ints", what));
  return std::nullopt;
}

std::optional<ir::DType> Tracer::dtype_arg(const AValue* v, ir::DType fallback) {
  if (!v || (v->is_object() && v->obj == Py_None)) return fallback;
  if (!v->is_object()) {
    fail(AbortCode::UnsupportedValue, "dtype must be a constant");
    return std::nullopt;
  }
  PyArray_Descr* d = nullptr;
  if (!PyArray_DescrConverter(v->obj, &d)) {
    fail(AbortCode::UserError, exception_text());
    return std::nullopt;
  }
  auto dt = dtype_from_typenum(d->type_num);
  Py_DECREF(d);
  if (!dt) fail(AbortCode::UnsupportedDtype, "a dtype the JIT does not compile");
  return dt;
}

std::optional<std::vector<AValue>> Tracer::tensors_of(const AValue& seq) {
  auto items = items_of(seq);
  if (!items) return std::nullopt;
  for (const AValue& it : *items)
    if (!it.is_tensor()) {
      fail(AbortCode::UnsupportedValue, "a sequence of arrays was expected");
      return std::nullopt;
    }
  return items;
}

std::optional<AValue> Tracer::reshape_value(const AValue& x, const std::vector<int64_t>& shape,
                                            bool view) {
  if (!x.type.is_static() && !x.type.has_extent_symbols()) return reshape_symbolic(x, shape, view);
  if (!x.type.is_static()) {
    // A loop body's runtime-extent window: only reshapes that add or drop size-1 axes
    // (`np.outer` of a window column: [s] -> [s, 1]) — one axis of other size, given as -1.
    std::vector<ir::Dim> big;
    for (const ir::Dim& d : x.type.shape)
      if (d != ir::Dim::fixed(1)) big.push_back(d);
    std::vector<ir::Dim> out;
    int inferred = 0;
    for (int64_t d : shape) {
      if (d == -1 && big.size() == 1) out.push_back(big[0]), ++inferred;
      else if (d == 1) out.push_back(ir::Dim::fixed(1));
      else inferred = 99;
    }
    if (inferred != static_cast<int>(big.size()) || big.size() > 1) {
      fail(AbortCode::UnsupportedValue, "reshaping an array whose extent is a runtime value is not compiled");
      return std::nullopt;
    }
    ir::ValueId r = x.v;
    if (out != x.type.shape) r = trace_.graph.add_op(ir::Op::Reshape, ir::Type(x.type.dtype, out), {x.v}, loc_);
    else if (!view) r = trace_.graph.add_op(ir::Op::Cast, x.type, {x.v}, loc_);
    return view ? view_of(x, r, Box::Array) : tensor(r, Box::Array);
  }
  std::vector<int64_t> s = shape;
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == -1 && infer < 0) infer = static_cast<int>(i);
    else if (s[i] < 0) {
      fail(AbortCode::UserError, "ValueError: negative dimensions not allowed in reshape");
      return std::nullopt;
    } else known *= s[i];
  }
  int64_t n = *x.type.static_numel();
  if (infer >= 0) {
    if (known == 0 || n % known != 0) {
      fail(AbortCode::UserError, "ValueError: cannot reshape array");
      return std::nullopt;
    }
    s[static_cast<size_t>(infer)] = n / known;
  }
  if (numel(s) != n) {
    fail(AbortCode::UserError, fmt::format("ValueError: cannot reshape array of size {} into the given shape", n));
    return std::nullopt;
  }
  ir::ValueId r = x.v;
  if (static_shape(x.type) != s)
    r = trace_.graph.add_op(ir::Op::Reshape, ir::Type::of(x.type.dtype, s), {x.v}, loc_);
  else if (!view)
    r = trace_.graph.add_op(ir::Op::Cast, x.type, {x.v}, loc_);  // a copy
  return view ? view_of(x, r, Box::Array) : tensor(r, Box::Array);
}

// reshape of an array with runtime sizes: exact when the -1 entry takes exactly one runtime size
// (x.reshape(-1, 12) of [s0, 3, 4], x.reshape(-1) of [s0]); anything else depends on the sizes
// of this call (DynamicShape: traced static).
std::optional<AValue> Tracer::reshape_symbolic(const AValue& x, const std::vector<int64_t>& shape, bool view) {
  int64_t factor = 1;
  std::vector<int32_t> syms;
  for (const ir::Dim& d : x.type.shape) {
    if (d.is_static()) factor *= d.size;
    else syms.push_back(d.sym);
  }
  int64_t known = 1;
  int infer = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1 && infer < 0) infer = static_cast<int>(i);
    else if (shape[i] < 0) {
      fail(AbortCode::UserError, "ValueError: negative dimensions not allowed in reshape");
      return std::nullopt;
    } else known *= shape[i];
  }
  if (infer < 0 || syms.size() != 1 || known == 0 || factor % known != 0 || factor / known != 1) {
    fail(AbortCode::DynamicShape, "reshape of an array with a runtime size to sizes that depend on it");
    return std::nullopt;
  }
  std::vector<ir::Dim> s;
  for (size_t i = 0; i < shape.size(); ++i)
    s.push_back(static_cast<int>(i) == infer ? ir::Dim::symbol(syms[0]) : ir::Dim::fixed(shape[i]));
  ir::ValueId r = x.v;
  if (x.type.shape != s) r = trace_.graph.add_op(ir::Op::Reshape, ir::Type(x.type.dtype, s), {x.v}, loc_);
  else if (!view) r = trace_.graph.add_op(ir::Op::Cast, x.type, {x.v}, loc_);  // a copy
  return view ? view_of(x, r, Box::Array) : tensor(r, Box::Array);
}

std::optional<AValue> Tracer::full_of(const std::vector<int64_t>& shape, ir::DType dt, const AValue& fill) {
  if (fill.is_tensor() && ir::is_float(fill.type.dtype) && dt == ir::DType::U32) {
    fail(AbortCode::UnsupportedCall, "float to integer conversion is not compiled for uint32 (NumPy's out-of-range results depend on the array length)");
    return std::nullopt;
  }
  if (fill.is_object()) {
    // A constant: let NumPy convert it (np.full((), v, dtype)), raising where NumPy raises.
    PyObject* full = PyObject_GetAttrString(np_->numpy, "full");
    PyObject* descr = reinterpret_cast<PyObject*>(PyArray_DescrFromType(typenum_from_dtype(dt)));
    PyObject* shape0 = PyTuple_New(0);
    PyObject* arr = full ? PyObject_CallFunctionObjArgs(full, shape0, fill.obj, descr, nullptr) : nullptr;
    Py_XDECREF(full);
    Py_DECREF(descr);
    Py_DECREF(shape0);
    if (!arr) {
      fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    // The array's element as a NumPy scalar of exactly that dtype.
    PyObject* scalar = PyArray_Check(arr) ? PyArray_ToScalar(PyArray_DATA(reinterpret_cast<PyArrayObject*>(arr)),
                                                             reinterpret_cast<PyArrayObject*>(arr))
                                          : nullptr;
    Py_DECREF(arr);
    if (!scalar) {
      PyErr_Clear();
      fail(AbortCode::UnsupportedValue, "fill value");
      return std::nullopt;
    }
    AValue sv = object(scalar, Source::constant());
    Py_DECREF(scalar);
    auto c = to_ir(sv, dt);
    if (!c) return std::nullopt;
    ir::Type t = ir::Type::of(dt, shape);
    return tensor(trace_.graph.add_op(ir::Op::Broadcast, t, {*c}, loc_), Box::Array);
  }
  auto c = to_ir(fill, dt);
  if (!c) return std::nullopt;
  if (!trace_.graph.type(*c).is_scalar()) {
    fail(AbortCode::UnsupportedValue, "a fill value that is an array");
    return std::nullopt;
  }
  ir::Type t = ir::Type::of(dt, shape);
  return tensor(trace_.graph.add_op(ir::Op::Broadcast, t, {*c}, loc_), Box::Array);
}

// Whether the sign of a zero that reduction `r` returns can reach the call's results. Forward
// from r over the graph: an op whose result then differs at most in the sign of a zero passes
// the difference on (negation, +, -, *, a numerator, odd functions, rounding, max/min, moves,
// sums, matmul); one that maps -0.0 and 0.0 alike absorbs it (exp, cos, abs, log, comparisons,
// casts to integers): softmax's exp(x - x.max()) cannot tell the zeros apart. A divisor, a
// where condition, anything else, or a result reached, can.
bool Tracer::zero_sign_reaches_results(ir::ValueId r, ir::ValueId check) const {
  using ir::Op;
  const ir::Graph& g = trace_.graph;
  std::vector<char> differs(g.nodes.size(), 0);
  differs[static_cast<size_t>(r)] = 1;
  for (size_t v = static_cast<size_t>(r) + 1; v < g.nodes.size(); ++v) {
    if (static_cast<ir::ValueId>(v) == check) continue;
    const ir::Node& n = g.nodes[v];
    bool reached = false;
    for (ir::ValueId o : n.operands) reached = reached || differs[static_cast<size_t>(o)];
    if (!reached) continue;
    switch (n.op) {
      case Op::Exp: case Op::Exp2: case Op::Cos: case Op::Cosh: case Op::Abs: case Op::Log: case Op::Log2:
      case Op::Log10: case Op::Acos: case Op::Hypot: case Op::IsNan: case Op::IsInf: case Op::IsFinite:
      case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le: case Op::Gt: case Op::Ge:
        continue;
      case Op::Cast:
        differs[v] = ir::is_float(n.type.dtype);
        continue;
      case Op::Div:
        if (differs[static_cast<size_t>(n.operands[1])]) return true;
        differs[v] = 1;
        continue;
      case Op::Where:
        if (differs[static_cast<size_t>(n.operands[0])]) return true;
        differs[v] = 1;
        continue;
      case Op::Neg: case Op::Add: case Op::Sub: case Op::Mul: case Op::Sqrt: case Op::Cbrt: case Op::Sin:
      case Op::Tan: case Op::Tanh: case Op::Sinh: case Op::Asin: case Op::Atan: case Op::Asinh: case Op::Atanh:
      case Op::Expm1: case Op::Log1p: case Op::Floor: case Op::Ceil: case Op::Trunc: case Op::Rint:
      case Op::Maximum: case Op::Minimum: case Op::Fmax: case Op::Fmin: case Op::Reshape: case Op::Transpose:
      case Op::Slice: case Op::Broadcast: case Op::Concat: case Op::ReduceSum: case Op::ReduceMax:
      case Op::ReduceMin: case Op::MatMul:
        differs[v] = 1;
        continue;
      default:
        return true;
    }
  }
  for (ir::ValueId res : g.results)
    if (differs[static_cast<size_t>(res)]) return true;
  return false;
}

void Tracer::relax_zero_tie_checks() {
  for (const auto& [r, check] : zero_ties_)
    if (!zero_sign_reaches_results(r, check)) trace_.graph.node(r).fval = 0.0;
}

// x.sum(axis, keepdims), np.mean, ..., following NumPy's _methods.py step by step.
bool Tracer::reduce(const std::string& name, const AValue& x, const AValue* axis_v, bool keepdims,
                    const AValue* dtype_v, int64_t ddof) {
  ir::Graph& g = trace_.graph;
  int rank = x.type.rank();
  std::vector<int64_t> axes;
  if (!axis_v || (axis_v->is_object() && axis_v->obj == Py_None)) {
    for (int d = 0; d < rank; ++d) axes.push_back(d);
  } else {
    auto l = int_list(*axis_v, "axis");
    if (!l) return false;
    for (int64_t a : *l) {
      if (a < -rank || a >= rank)
        return fail(AbortCode::UserError, fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", a, rank));
      axes.push_back(a < 0 ? a + rank : a);
    }
    std::sort(axes.begin(), axes.end());
    if (std::adjacent_find(axes.begin(), axes.end()) != axes.end())
      return fail(AbortCode::UserError, "ValueError: duplicate value in 'axis'");
  }
  // The element count: count (static factor) times the runtime sizes of count_syms (each >= 2).
  int64_t count = 1;
  std::vector<int32_t> count_syms;
  for (int64_t a : axes) {
    const ir::Dim& dim = x.type.shape[static_cast<size_t>(a)];
    if (dim.is_static()) count *= dim.size;
    else count_syms.push_back(dim.sym);
  }
  if (count == 0) count_syms.clear();
  if (name == "max" || name == "min" || name == "argmax" || name == "argmin") {
    // A window of runtime extent (`A[k:, k].max()`) must hold an element in every iteration:
    // NumPy raises for an empty one.
    for (int32_t sym : count_syms) {
      if (sym < kFirstExtentSymbol) continue;
      auto least = least_extent(sym);
      if (!least || *least < 1)
        return region_fail(fmt::format("{}() over a window that is empty in some iteration (NumPy raises ValueError)", name));
    }
  }
  std::vector<ir::Dim> kept_shape;  // keepdims shape
  for (int d = 0; d < rank; ++d)
    kept_shape.push_back(std::find(axes.begin(), axes.end(), d) != axes.end() ? ir::Dim::fixed(1) : x.type.shape[static_cast<size_t>(d)]);
  std::vector<ir::Dim> out_shape;
  for (int d = 0; d < rank; ++d)
    if (keepdims || std::find(axes.begin(), axes.end(), d) == axes.end()) out_shape.push_back(kept_shape[static_cast<size_t>(d)]);

  auto finish = [&](ir::ValueId kept) {
    ir::ValueId r = kept;
    if (!keepdims && out_shape != kept_shape)
      r = g.add_op(ir::Op::Reshape, ir::Type(g.type(kept).dtype, out_shape), {kept}, loc_);
    push(tensor(r, out_shape.empty() ? Box::NpScalar : Box::Array));
    return true;
  };
  auto raw = [&](ir::Op op, ir::ValueId in) {
    ir::Node n;
    n.op = op;
    n.type = ir::Type(g.type(in).dtype, kept_shape);
    n.operands = {in};
    n.ints = axes;
    n.loc = loc_;
    return g.add(std::move(n));
  };

  PyObject* dtype_kw = nullptr;
  if (dtype_v && !(dtype_v->is_object() && dtype_v->obj == Py_None)) {
    if (!dtype_v->is_object()) return fail(AbortCode::UnsupportedValue, "dtype must be a constant");
    dtype_kw = Py_BuildValue("{s:O}", "dtype", dtype_v->obj);
  }
  auto resolved = probe_method_dtype(x.type.dtype, name == "std" || name == "var" ? "mean" : name.c_str(), dtype_kw);
  Py_XDECREF(dtype_kw);
  if (!resolved) return fail(AbortCode::UnsupportedDtype, fmt::format("{}() computes in a dtype the JIT does not compile", name));
  ir::DType rdt = *resolved;
  // NumPy's var/std subtract the integer mean from the float array itself (not from its
  // integer cast), which the steps below do not model.
  if ((name == "var" || name == "std") && ir::is_float(x.type.dtype) && ir::is_integer(rdt))
    return fail(AbortCode::UnsupportedCall, fmt::format("float to integer conversion is not compiled for {} with an integer dtype", name));
  // NumPy divides by the count as an intp scalar (a strong int64): the quotient is computed in
  // float64 and cast back to the result dtype.
  // With runtime sizes the count is their product (exact in float64 below 2^53) times the static
  // factor, minus ddof: computed in the kernel from the sizes the runtime passes in.
  auto divide = [&](ir::ValueId s, int64_t n) -> std::optional<ir::ValueId> {
    ir::ValueId wide = cast(s, ir::DType::F64);
    ir::ValueId den;
    if (count_syms.empty()) {
      den = g.add_const_float(ir::DType::F64, static_cast<double>(n), loc_);
    } else {
      std::optional<ir::ValueId> c;
      for (int32_t k : count_syms) {
        auto v = sym_size_value(k);
        if (!v) return std::nullopt;
        c = c ? g.add_op(ir::Op::Mul, ir::Type::scalar(ir::DType::F64), {*c, *v}, loc_) : *v;
      }
      if (count != 1)
        c = g.add_op(ir::Op::Mul, ir::Type::scalar(ir::DType::F64), {*c, g.add_const_float(ir::DType::F64, static_cast<double>(count), loc_)}, loc_);
      if (n != count)  // n = count - ddof
        c = g.add_op(ir::Op::Sub, ir::Type::scalar(ir::DType::F64), {*c, g.add_const_float(ir::DType::F64, static_cast<double>(count - n), loc_)}, loc_);
      den = *c;
    }
    ir::ValueId q = g.add_op(ir::Op::Div, g.type(wide), {wide, den}, loc_);
    return cast(q, rdt);
  };

  if (name == "sum" || name == "prod") {
    return finish(raw(name == "sum" ? ir::Op::ReduceSum : ir::Op::ReduceProd, cast(x.v, rdt)));
  }
  if (name == "max" || name == "min") {
    if (count == 0)
      return fail(AbortCode::UserError, "ValueError: zero-size array to reduction operation which has no identity");
    const ir::ValueId r = raw(name == "max" ? ir::Op::ReduceMax : ir::Op::ReduceMin, x.v);
    if (ir::is_float(x.type.dtype) && regions_.empty() && rank > 0 && axes.back() == rank - 1 && !skip_zero_tie_check_) {
      // Which zero NumPy returns for a slice whose extreme is a zero of both signs is its SIMD
      // order's along the row (and NumPy 2.4's differs from 2.5's): the kernel marks such a
      // slice (ops.def, fval 1) and the call re-runs eagerly. A reduction that keeps the last
      // axis folds rows elementwise in order, as NumPy does; loop bodies (windows) keep the
      // in-order fold too.
      g.nodes[static_cast<size_t>(r)].fval = 1.0;
      const ir::DType dt = x.type.dtype;
      const ir::Type rt = g.type(r);
      const ir::ValueId marked = g.add_op(ir::Op::Eq, rt.with_dtype(ir::DType::Bool),
                                          {r, g.add_const_float(dt, ir::zero_tie_mark(dt == ir::DType::F32), loc_)}, loc_);
      if (!rerun_if_any(marked, fmt::format("{}:{}: {}() of a slice holding both -0.0 and 0.0 as its extreme (which zero "
                                        "is NumPy's algorithm's)",
                                        PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, name),
                        false, true))
        return false;
      zero_ties_.emplace_back(r, marked);
    }
    return finish(r);
  }
  if (name == "any" || name == "all") {
    return finish(raw(name == "any" ? ir::Op::ReduceAny : ir::Op::ReduceAll, cast(x.v, ir::DType::Bool)));
  }
  if (name == "argmax" || name == "argmin") {
    if (count == 0) return fail(AbortCode::UserError, "ValueError: attempt to get argmax of an empty sequence");
    ir::ValueId in = x.v;
    int64_t axis;
    if (axes.size() == static_cast<size_t>(rank) && (!axis_v || (axis_v->is_object() && axis_v->obj == Py_None))) {
      if (!x.type.is_static() && rank > 1)
        return fail(AbortCode::DynamicShape, "argmax of a flattened array with a runtime size");
      if (rank != 1) in = g.add_op(ir::Op::Reshape, ir::Type::of(x.type.dtype, {*x.type.static_numel()}), {x.v}, loc_);
      axis = 0;
      kept_shape = {ir::Dim::fixed(1)};
      out_shape = keepdims ? std::vector<ir::Dim>(static_cast<size_t>(rank), ir::Dim::fixed(1)) : std::vector<ir::Dim>{};
    } else {
      if (axes.size() != 1) return fail(AbortCode::UnsupportedValue, "argmax over several axes");
      axis = axes[0];
    }
    ir::Node n;
    n.op = name == "argmax" ? ir::Op::ArgMax : ir::Op::ArgMin;
    n.type = ir::Type(ir::DType::I64, kept_shape);
    n.operands = {in};
    n.ints = {axis};
    n.loc = loc_;
    ir::ValueId r = g.add(std::move(n));
    if (g.type(r).shape != out_shape)
      r = g.add_op(ir::Op::Reshape, ir::Type(ir::DType::I64, out_shape), {r}, loc_);
    AValue res = tensor(r, out_shape.empty() ? Box::NpScalar : Box::Array);
    const ir::Dim& len = g.type(in).shape[static_cast<size_t>(axis)];
    std::optional<int64_t> most = len.is_static() ? std::optional<int64_t>(len.size)
                                  : len.sym >= kFirstExtentSymbol ? greatest_extent(len.sym) : std::nullopt;
    if (out_shape.empty() && most && *most >= 1) res.lo = 0, res.hi = *most - 1;  // an index: bounded
    if (out_shape.empty() && !len.is_static() && len.sym >= kFirstExtentSymbol) {
      // ... by the window's extent a * i + b, affine in a loop variable: [0, a * i + b - 1].
      for (const auto& [key, sym] : extent_symbols_) {
        if (sym != len.sym) continue;
        for (size_t l = 0; l < regions_.size(); ++l)
          if (regions_[l].serial == std::get<0>(key))
            res.rel = static_cast<int>(l), res.rla = 0, res.rlb = 0, res.rha = std::get<1>(key), res.rhb = std::get<2>(key) - 1;
      }
    }
    push(std::move(res));
    return true;
  }
  // mean / var / std: NumPy sums in the resolved dtype (float64 for integers), then divides by
  // the count as a (weak) Python int.
  if (name == "mean" || name == "var" || name == "std") {
    if (count == 0) return fail(AbortCode::UserError, "mean of an empty slice (NumPy warns and returns nan)");
    ir::ValueId xs = cast(x.v, rdt);
    ir::ValueId s = raw(ir::Op::ReduceSum, xs);
    auto mean = divide(s, count);
    if (!mean) return false;
    if (name == "mean") return finish(*mean);
    ir::ValueId d = g.add_op(ir::Op::Sub, g.type(xs), {xs, *mean}, loc_);
    ir::ValueId sq = g.add_op(ir::Op::Mul, g.type(d), {d, d}, loc_);
    ir::ValueId ss = raw(ir::Op::ReduceSum, sq);
    if (!count_syms.empty()) {
      // The smallest count the runtime sizes allow (each >= 2) must stay above ddof.
      int64_t least = count;
      for (size_t k = 0; k < count_syms.size() && least <= ddof; ++k) least *= 2;
      if (least <= ddof || ddof < 0) return fail(AbortCode::DynamicShape, "var/std whose ddof may reach the runtime count");
    }
    int64_t denom = std::max<int64_t>(count - ddof, 0);
    if (count_syms.empty() && denom == 0) return fail(AbortCode::UserError, "var with ddof >= count (NumPy warns and returns inf/nan)");
    auto var = divide(ss, count - ddof);
    if (!var) return false;
    if (name == "var") return finish(*var);
    return finish(g.add_op(ir::Op::Sqrt, g.type(*var), {*var}, loc_));
  }
  return fail(AbortCode::UnsupportedCall, fmt::format("reduction {}", name));
}

bool Tracer::matmul(const AValue& a0, const AValue& b0, const std::string& name) {
  if (a0.is_tensor() && b0.is_tensor() && (a0.type.has_extent_symbols() || b0.type.has_extent_symbols()) && a0.type.rank() == 1 &&
      b0.type.rank() == 1 && a0.type == b0.type && !ir::is_bool(a0.type.dtype) && a0.box == Box::Array &&
      b0.box == Box::Array) {
    // The dot product of two loop-body windows of one runtime extent (`L[i, :i] @ x[:i]`): a sum
    // of products, a NumPy scalar (0 for empty windows). Floats summed in order, not as BLAS does;
    // integers wrap as NumPy's do, in any order.
    ir::Graph& g = trace_.graph;
    ir::DType dt = a0.type.dtype;
    ir::ValueId p = g.add_op(ir::Op::Mul, a0.type, {a0.v, b0.v}, loc_);
    ir::ValueId s = g.add_op(ir::Op::ReduceSum, ir::Type(dt, {ir::Dim::fixed(1)}), {p}, loc_);
    g.node(s).ints = {0};
    push(tensor(g.add_op(ir::Op::Reshape, ir::Type::scalar(dt), {s}, loc_), Box::NpScalar));
    return true;
  }
  // A Python float or int (a runtime value) is a strong 0-d array to np.dot, not a weak scalar.
  auto py = [](const AValue& v) { return v.box == Box::PyFloat || v.box == Box::PyInt; };
  if (!a0.is_tensor() || !b0.is_tensor() || py(a0) || py(b0))
    return fail(AbortCode::UnsupportedValue, fmt::format("{} of a Python value", name));
  const UfuncInfo* mm = nullptr;
  PyObject* uf = PyObject_GetAttrString(np_->numpy, "matmul");
  if (!uf) return fail(AbortCode::UnsupportedCall, exception_text());
  Py_DECREF(uf);  // kept alive by the numpy module
  UfuncInfo info{"matmul", ir::Op::MatMul, 2, uf};
  mm = &info;
  std::vector<AValue> ops = {a0, b0};
  std::vector<ir::DType> loop;
  if (a0.type.rank() == 0 || b0.type.rank() == 0) {
    if (name == "matmul" || name == "@")
      return fail(AbortCode::UserError, "ValueError: matmul: Input operand does not have enough dimensions");
    return apply_ufunc(*np_->ufunc_named("multiply"), ops, false);  // np.dot with a scalar
  }
  if (!resolve_loop(*mm, ops, loop)) return false;
  ir::DType dt = loop.back();
  if (ir::is_bool(dt)) return fail(AbortCode::UnsupportedDtype, "boolean matmul is not compiled");
  if (name == "dot" && (a0.type.rank() > 2 || b0.type.rank() > 2))
    return fail(AbortCode::UnsupportedCall, "np.dot of arrays with more than 2 dimensions");
  ir::Graph& g = trace_.graph;
  ir::ValueId a = cast(a0.v, dt), b = cast(b0.v, dt);
  // Dims may be symbolic (runtime sizes): they must then match exactly (the same symbol), else
  // the sizes of this call decide and the function is traced static.
  std::vector<ir::Dim> as = a0.type.shape, bs = b0.type.shape;
  bool a_vec = as.size() == 1, b_vec = bs.size() == 1;
  if (a_vec) {
    as.insert(as.begin(), ir::Dim::fixed(1));
    a = g.add_op(ir::Op::Reshape, ir::Type(dt, as), {a}, loc_);
  }
  if (b_vec) {
    bs.push_back(ir::Dim::fixed(1));
    b = g.add_op(ir::Op::Reshape, ir::Type(dt, bs), {b}, loc_);
  }
  const ir::Dim &ka = as.back(), &kb = bs[bs.size() - 2];
  if (ka != kb) {
    if (!ka.is_static() || !kb.is_static())
      return fail_specialize({ka, kb}, "matmul: a runtime size meets another size in the core dimension");
    return fail(AbortCode::UserError,
                fmt::format("ValueError: matmul: mismatch in core dimension ({} vs {})", ka.size, kb.size));
  }
  std::vector<ir::Dim> ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  auto batch = ir::broadcast_shapes(ba, bb);
  if (!batch) {
    if (!ir::Type(dt, ba).is_static() || !ir::Type(dt, bb).is_static()) {
      std::vector<ir::Dim> all = ba;
      all.insert(all.end(), bb.begin(), bb.end());
      return fail_specialize(all, "matmul: runtime batch sizes meet other sizes");
    }
    return fail(AbortCode::UserError, "ValueError: matmul batch dimensions do not broadcast");
  }
  std::vector<ir::Dim> rs = *batch;
  rs.push_back(as[as.size() - 2]);
  rs.push_back(bs.back());
  ir::ValueId r = g.add_op(ir::Op::MatMul, ir::Type(dt, rs), {a, b}, loc_);
  std::vector<ir::Dim> final_shape = rs;
  if (b_vec) final_shape.pop_back();
  if (a_vec) final_shape.erase(final_shape.end() - (b_vec ? 1 : 2));
  if (final_shape != rs) r = g.add_op(ir::Op::Reshape, ir::Type(dt, final_shape), {r}, loc_);
  push(tensor(r, final_shape.empty() ? Box::NpScalar : Box::Array));
  return true;
}

// Basic indexing: ints, slices, None and Ellipsis (a tuple of them). One slice op, then a
// reshape that drops integer-indexed axes and inserts new ones.
bool Tracer::index_tensor(const AValue& x, PyObject* key) {
  std::vector<PyObject*> parts;
  if (PyTuple_Check(key))
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); ++i) parts.push_back(PyTuple_GET_ITEM(key, i));
  else
    parts.push_back(key);
  int rank = x.type.rank();
  int consumed = 0, ellipses = 0;
  for (PyObject* p : parts) {
    if (p == Py_Ellipsis) ++ellipses;
    else if (p != Py_None) {
      if (PyBool_Check(p) || (!PyLong_Check(p) && !PySlice_Check(p) && !PyArray_IsScalar(p, Integer)))
        return fail(AbortCode::UnsupportedValue, "advanced (array or boolean) indexing is not traced yet");
      ++consumed;
    }
  }
  if (ellipses > 1) return fail(AbortCode::UserError, "IndexError: an index can only have a single ellipsis ('...')");
  if (consumed > rank)
    return fail(AbortCode::UserError, fmt::format("IndexError: too many indices for array: array is {}-dimensional, but {} were indexed", rank, consumed));
  // A runtime-sized (symbolic) axis can only be taken whole (`:`); other indices on it depend on
  // the size (DynamicShape: traced static).
  std::vector<int64_t> starts, steps;
  std::vector<ir::Dim> counts, out_shape;
  bool all_ints = true;
  int d = 0;
  auto full_axis = [&](int axis) {
    starts.push_back(0);
    steps.push_back(1);
    counts.push_back(x.type.shape[static_cast<size_t>(axis)]);
    out_shape.push_back(counts.back());
    all_ints = false;
  };
  for (PyObject* p : parts) {
    if (p == Py_Ellipsis) {
      for (int k = 0; k < rank - consumed; ++k) full_axis(d++);
      all_ints = false;  // x[0, ...] is a 0-d array, not a scalar
      continue;
    }
    if (p == Py_None) {
      out_shape.push_back(ir::Dim::fixed(1));
      all_ints = false;
      continue;
    }
    if (!x.type.shape[static_cast<size_t>(d)].is_static()) {
      auto* sl = reinterpret_cast<PySliceObject*>(p);
      bool whole = PySlice_Check(p) && sl->start == Py_None && sl->stop == Py_None &&
                   (sl->step == Py_None || (PyLong_Check(sl->step) && PyLong_AsLong(sl->step) == 1));
      PyErr_Clear();
      if (!whole) return fail(AbortCode::DynamicShape, "an index or a partial slice along a runtime-sized axis");
      full_axis(d++);
      continue;
    }
    int64_t len = x.type.shape[static_cast<size_t>(d)].size;
    if (PySlice_Check(p)) {
      Py_ssize_t start, stop, step;
      if (PySlice_Unpack(p, &start, &stop, &step) < 0) return fail(AbortCode::UserError, exception_text());
      Py_ssize_t cnt = PySlice_AdjustIndices(static_cast<Py_ssize_t>(len), &start, &stop, step);
      starts.push_back(cnt > 0 ? start : 0);
      steps.push_back(step);
      counts.push_back(ir::Dim::fixed(cnt));
      out_shape.push_back(ir::Dim::fixed(cnt));
      all_ints = false;
    } else {
      long long i = PyLong_AsLongLong(p);
      if (PyErr_Occurred()) return fail(AbortCode::UserError, exception_text());
      if (i < -len || i >= len)
        return fail(AbortCode::UserError, fmt::format("IndexError: index {} is out of bounds for axis {} with size {}", i, d, len));
      starts.push_back(i < 0 ? i + len : i);
      steps.push_back(1);
      counts.push_back(ir::Dim::fixed(1));
    }
    ++d;
  }
  while (d < rank) full_axis(d++);
  ir::Graph& g = trace_.graph;
  ir::ValueId r = x.v;
  bool identity = true;
  for (int k = 0; k < rank; ++k)
    identity &= starts[static_cast<size_t>(k)] == 0 && steps[static_cast<size_t>(k)] == 1 &&
                counts[static_cast<size_t>(k)] == x.type.shape[static_cast<size_t>(k)];
  if (!identity) {
    ir::Node n;
    n.op = ir::Op::Slice;
    n.type = ir::Type(x.type.dtype, counts);
    n.operands = {x.v};
    for (int k = 0; k < rank; ++k) {
      n.ints.push_back(starts[static_cast<size_t>(k)]);
      n.ints.push_back(steps[static_cast<size_t>(k)]);
    }
    n.loc = loc_;
    r = g.add(std::move(n));
  }
  if (counts != out_shape) r = g.add_op(ir::Op::Reshape, ir::Type(x.type.dtype, out_shape), {r}, loc_);
  if (all_ints && consumed == rank && (!parts.empty() || rank == 0)) {  // x0d[()] is a scalar too
    push(tensor(r == x.v ? g.add_op(ir::Op::Cast, x.type, {x.v}, loc_) : r, Box::NpScalar));  // an element
    return true;
  }
  push(view_of(x, r == x.v ? g.add_op(ir::Op::Cast, x.type, {x.v}, loc_) : r, Box::Array));
  return true;
}

std::optional<ir::ValueId> Tracer::diagonal_slice(const AValue& x, int64_t offset) {
  // The elements (i, i + offset) of a 2-d (n, m) x: the slice of the flattened matrix from
  // offset (or -offset * m) with step m + 1 (empty when the offset leaves no diagonal).
  if (!static_only(x)) return std::nullopt;
  const int64_t n = x.type.shape[0].size, m = x.type.shape[1].size;
  const int64_t count = std::max<int64_t>(offset >= 0 ? std::min(n, m - offset) : std::min(n + offset, m), 0);
  auto flat = reshape_value(x, {n * m}, false);
  if (!flat) return std::nullopt;
  ir::Node d;
  d.op = ir::Op::Slice;
  d.type = ir::Type::of(x.type.dtype, {count});
  d.operands = {flat->v};
  d.ints = {count == 0 ? 0 : offset >= 0 ? offset : -offset * m, m + 1};
  d.loc = loc_;
  return trace_.graph.add(std::move(d));
}

bool Tracer::diagonal_view(const AValue& x, int64_t offset) {
  // NumPy's a.diagonal(offset): a read-only view of diagonal_slice. As every view here, writes
  // through it or to `a` while it lives, and returning it, run eagerly (where NumPy raises for
  // the read-only view or returns it).
  auto d = diagonal_slice(x, offset);
  if (!d) return false;
  if (trace_.graph.type(*d).shape[0].size == 0) return fail(AbortCode::UnsupportedValue, "an empty diagonal is not traced yet");
  push(view_of(x, *d, Box::Array));
  return true;
}

bool Tracer::call_numpy(const std::string& name, CallArgs args, bool method, bool& handled) {
  handled = true;
  // Calls that reason about runtime (symbolic) sizes exactly; every other call needs static
  // shapes (DynamicShape: the function is traced static).
  static const char* kDynamicOk[] = {"sum", "prod", "mean", "max", "min", "amax", "amin", "any", "all", "std",
                                     "var", "argmax", "argmin", "matmul", "dot", "transpose", "swapaxes",
                                     "T", "reshape", "ravel", "flatten", "roll", "concatenate", "stack",
                                     "hstack", "vstack"};
  bool dynamic_ok = false;
  for (const char* n : kDynamicOk) dynamic_ok |= name == n;
  // np.outer of loop-body windows with runtime extents is elementwise: reshapes that add a
  // size-1 axis and a broadcast multiply carry the extents' symbols.
  const bool runtime_outer = name == "outer" && args.pos.size() == 2 && args.kw.empty() &&
                             args.pos[0].is_tensor() && args.pos[1].is_tensor() &&
                             args.pos[0].type.rank() == 1 && args.pos[1].type.rank() == 1 &&
                             (args.pos[0].type.has_extent_symbols() || args.pos[1].type.has_extent_symbols());
  if (!dynamic_ok && !runtime_outer) {
    for (const AValue& a : args.pos)
      if (!static_only(a)) return false;
    for (const auto& kv : args.kw)
      if (!static_only(kv.second)) return false;
  }
  if (name == "take") return np_take(std::move(args));  // gather.cpp
  if (name == "take_along_axis" && !method) return take_along_axis(std::move(args));  // gather.cpp
  if (name == "put_along_axis" && !method) return put_along_axis(std::move(args));  // gather.cpp
  ir::Graph& g = trace_.graph;
  std::string bad;
  auto x_of = [&](size_t i) -> const AValue* {
    const AValue* v = args.get(i, "a");
    return v && v->is_tensor() ? v : nullptr;
  };
  auto bool_kw = [&](size_t i, const char* kname, bool dflt) -> std::optional<bool> {
    const AValue* v = args.get(i, kname);
    if (!v) return dflt;
    if (v->is_object()) {
      int t = PyObject_IsTrue(v->obj);
      if (t >= 0) return t == 1;
      PyErr_Clear();
    }
    fail(AbortCode::UnsupportedValue, fmt::format("{}= must be a constant", kname));
    return std::nullopt;
  };
  // x.sum(axis=None, dtype=None, out=None, keepdims=False), np.sum(a, axis, dtype, out, keepdims)
  static const char* kReductions[] = {"sum", "prod", "mean", "max", "min", "amax", "amin", "any",
                                      "all", "std", "var", "argmax", "argmin"};
  for (const char* r : kReductions) {
    if (name != r) continue;
    std::string rname = name == "amax" ? "max" : name == "amin" ? "min" : name;
    const AValue* x = x_of(0);
    if (!x) {
      handled = false;
      return true;
    }
    bool has_dtype = rname == "sum" || rname == "prod" || rname == "mean" || rname == "std" || rname == "var";
    bool is_arg = rname == "argmax" || rname == "argmin";
    // where=: sum/prod/any/all reduce the elements where it is True, which is the reduction of
    // where(mask, a, identity) (mean/std/var warn on an empty selection, max/min need initial=:
    // eager).
    const bool has_where = rname == "sum" || rname == "prod" || rname == "any" || rname == "all";
    const AValue* where_v = has_where ? args.get(99, "where") : nullptr;  // keyword only here
    // Positional arguments up to keepdims (std/var: ddof, keepdims), an `out` that is None:
    // a positional initial, where or out array would change the result, so it runs eagerly.
    const size_t out_pos = has_dtype ? 3 : 2;
    // (ndarray.any/all take (axis, dtype, out, keepdims) positionally, np.any (a, axis, out,
    // keepdims): past axis, the method form runs eagerly.)
    const size_t max_pos = rname == "std" || rname == "var" ? 6 : has_dtype ? 5 : is_arg ? 3
                           : method && (rname == "any" || rname == "all") ? 2 : 4;
    const AValue* out_v = args.get(out_pos, "out");
    // initial= (keyword) of max/min: np.maximum(initial, the reduction) -- NumPy folds the
    // elements into the initial value, so it is the first operand (which one of two equal
    // zeros a tie keeps). A constant the dtype holds exactly; an empty axis runs eagerly.
    const bool extremum = rname == "max" || rname == "min";
    const AValue* initial = extremum ? args.get(99, "initial") : nullptr;
    if (initial) {
      const ir::DType dt = x->type.dtype;
      bool exact = false;
      if (initial->is_object() && (PyFloat_CheckExact(initial->obj) || PyLong_CheckExact(initial->obj)) &&
          (ir::is_float(dt) || ir::is_integer(dt))) {
        if (ir::is_float(dt)) {
          const double d = PyFloat_AsDouble(initial->obj);
          // A float converts as NumPy's setitem does (rounded to float32: a cast), an int only
          // where float64 holds it exactly.
          exact = !PyErr_Occurred() && (!PyLong_CheckExact(initial->obj) || std::fabs(d) < 9007199254740992.0) &&
                  (dt != ir::DType::F32 || !std::isfinite(d) || std::fabs(d) <= 3.4028234663852886e38);  // no overflow
        } else if (PyLong_CheckExact(initial->obj)) {
          int overflow = 0;
          const long long v = PyLong_AsLongLongAndOverflow(initial->obj, &overflow);
          exact = !overflow && !PyErr_Occurred() && v >= int_min(dt) &&
                  (v < 0 || static_cast<unsigned long long>(v) <= int_max(dt));
        }
        PyErr_Clear();
      }
      // A runtime Python float (a global, `np.nan`) for float data: cast as well.
      exact |= initial->is_tensor() && initial->box == Box::PyFloat && ir::is_float(dt);
      if (!exact)
        return fail(AbortCode::UnsupportedCall, fmt::format("{}() with initial={} is not traced yet", name, what(*initial)));
    }
    if (!args.only({"a", "axis", "dtype", "keepdims", "ddof", "out", "where", extremum ? "initial" : "out"}, bad) || args.pos.size() > max_pos ||
        (out_v && !(out_v->is_object() && out_v->obj == Py_None)) || (!has_where && args.get(99, "where")))
      return fail(AbortCode::UnsupportedCall,
                  fmt::format("{}() with '{}' is not traced yet", name, bad.empty() ? "out, initial or where" : bad));
    const AValue* axis = args.get(1, "axis");
    if (is_arg && axis && (axis->kind == AValue::Kind::Tuple || (axis->is_object() && (PyTuple_Check(axis->obj) || PyList_Check(axis->obj)))))
      return fail(AbortCode::UserError, "TypeError: argmax/argmin take one integer axis");
    const AValue* dtype = has_dtype ? args.get(2, "dtype") : nullptr;
    size_t kd_pos = has_dtype ? 4 : is_arg ? 3 : 3;
    auto keepdims = bool_kw(kd_pos, "keepdims", false);
    if (!keepdims) return false;
    int64_t ddof = 0;
    if (const AValue* dd = args.get(rname == "std" || rname == "var" ? 4 : 99, "ddof")) {
      auto l = int_list(*dd, "ddof");
      if (!l || l->size() != 1) return false;
      ddof = (*l)[0];
      keepdims = bool_kw(5, "keepdims", false);
      if (!keepdims) return false;
    }
    if (where_v && !(where_v->is_object() && where_v->obj == Py_True)) {
      // The mask broadcasts to a's shape (not the other way: NumPy raises then, eagerly).
      if (!where_v->is_tensor() || where_v->box == Box::PyFloat || where_v->box == Box::PyInt ||
          where_v->type.dtype != ir::DType::Bool || !static_only(*where_v))
        return fail(AbortCode::UnsupportedCall, fmt::format("{}() with where= of {} is not traced yet", name, what(*where_v)));
      auto b = ir::broadcast_shapes(where_v->type.shape, x->type.shape);
      if (!b || *b != x->type.shape)
        return fail(AbortCode::UnsupportedCall, fmt::format("{}() with a where= mask that does not broadcast to the array", name));
      auto m = to_ir(*where_v, ir::DType::Bool);
      if (!m) return false;
      const ir::DType dt = x->type.dtype;
      const bool one = rname == "prod" || rname == "all";
      ir::ValueId ident = ir::is_float(dt) ? g.add_const_float(dt, one ? 1.0 : 0.0, loc_) : g.add_const_int(dt, one ? 1 : 0, loc_);
      AValue masked = tensor(g.add_op(ir::Op::Where, x->type, {*m, x->v, ident}, loc_), Box::Array);
      return reduce(rname, masked, axis, *keepdims, dtype, ddof);
    }
    if (initial) {
      if (!x->type.is_static() || x->type.static_numel() == 0)
        return fail(AbortCode::UnsupportedValue, fmt::format("{}() with initial= of an array that may be empty runs eagerly", name));
      // (The reduction's own zero-tie check is folded into the one below: a tie under a
      // larger initial value decides nothing.)
      skip_zero_tie_check_ = true;
      const bool reduced = reduce(rname, *x, axis, *keepdims, dtype, ddof);
      skip_zero_tie_check_ = false;
      if (!reduced) return false;
      AValue r = pop();
      const ir::DType dt = x->type.dtype;
      const ir::ValueId c = initial->is_tensor()  ? cast(initial->v, dt)
                            : ir::is_float(dt)    ? g.add_const_float(dt, PyFloat_AsDouble(initial->obj), loc_)
                                                  : g.add_const_int(dt, PyLong_AsLongLong(initial->obj), loc_);
      PyErr_Clear();
      const ir::ValueId m = g.add_op(rname == "max" ? ir::Op::Maximum : ir::Op::Minimum, r.type, {c, r.v}, loc_);
      if (ir::is_float(dt)) {
        // Which zero a result of zero is (-0.0 or 0.0, from the data or the initial value) is
        // NumPy's algorithm's (its SIMD lanes start from the initial value): eager decides.
        // So is a zero-tie mark of the reduction (ops.def) unless the initial value is beyond
        // zero (then it is the result).
        const ir::Type bt = r.type.with_dtype(ir::DType::Bool);
        const ir::ValueId beyond = g.add_op(rname == "max" ? ir::Op::Gt : ir::Op::Lt, ir::Type::scalar(ir::DType::Bool),
                                            {c, g.add_const_float(dt, 0.0, loc_)}, loc_);
        const ir::ValueId tie = g.add_op(ir::Op::Eq, bt, {r.v, g.add_const_float(dt, ir::zero_tie_mark(dt == ir::DType::F32), loc_)}, loc_);
        const ir::ValueId undecided = g.add_op(ir::Op::And, bt, {tie, g.add_op(ir::Op::Not, ir::Type::scalar(ir::DType::Bool), {beyond}, loc_)}, loc_);
        const ir::ValueId zero = g.add_op(ir::Op::Or, bt, {g.add_op(ir::Op::Eq, bt, {m, g.add_const_float(dt, 0.0, loc_)}, loc_), undecided}, loc_);
        if (!rerun_if_any(zero, fmt::format("{}:{}: {}(initial=) of zero (which zero, -0.0 or 0.0, is NumPy's algorithm's)",
                                            PyUnicode_AsUTF8(fr().code->co_filename), loc_.line, name),
                          false, true))
          return false;
      }
      push(tensor(m, r.box));
      return true;
    }
    return reduce(rname, *x, axis, *keepdims, dtype, ddof);
  }
  if (name == "matmul" || name == "dot") {
    if (args.pos.size() != 2 || !args.kw.empty())
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() with out= or extra arguments", name));
    return matmul(args.pos[0], args.pos[1], name);
  }
  if (name == "inner" && args.pos.size() == 2 && args.kw.empty() && args.pos[0].is_tensor() &&
      args.pos[1].is_tensor() && args.pos[0].box != Box::PyFloat && args.pos[1].box != Box::PyFloat &&
      args.pos[0].box != Box::PyInt && args.pos[1].box != Box::PyInt) {
    // np.inner: a product with a 0-d operand; else the sum over both last axes, that is
    // a.reshape(M, k) @ b.reshape(N, k).T reshaped to a.shape[:-1] + b.shape[:-1].
    const AValue& a0 = args.pos[0];
    const AValue& b0 = args.pos[1];
    if (!static_only(a0) || !static_only(b0)) return false;
    if (a0.type.rank() == 0 || b0.type.rank() == 0)
      return apply_ufunc(*np_->ufunc_named("multiply"), {a0, b0}, false);
    std::vector<int64_t> as = static_shape(a0.type), bs = static_shape(b0.type);
    int64_t k = as.back();
    if (bs.back() != k) return fail(AbortCode::UserError, "ValueError: shapes not aligned in np.inner");
    std::vector<int64_t> out(as.begin(), as.end() - 1);
    out.insert(out.end(), bs.begin(), bs.end() - 1);
    int64_t m = numel(std::vector<int64_t>(as.begin(), as.end() - 1));
    int64_t n = numel(std::vector<int64_t>(bs.begin(), bs.end() - 1));
    auto a2 = reshape_value(a0, {m, k}, true);
    auto b2 = a2 ? reshape_value(b0, {n, k}, true) : std::nullopt;
    if (!b2) return false;
    ir::Node t;
    t.op = ir::Op::Transpose;
    t.type = ir::Type::of(b0.type.dtype, {k, n});
    t.operands = {b2->v};
    t.ints = {1, 0};
    t.loc = loc_;
    AValue bt = tensor(g.add(std::move(t)), Box::Array);
    if (!matmul(*a2, bt, "inner")) return false;
    AValue r = pop();
    ir::ValueId rv = r.v;
    if (static_shape(r.type) != out) rv = g.add_op(ir::Op::Reshape, ir::Type::of(r.type.dtype, out), {rv}, loc_);
    push(tensor(rv, out.empty() ? Box::NpScalar : Box::Array));
    return true;
  }
  if (name == "outer" && args.pos.size() == 2 && args.pos[0].is_tensor() && args.pos[1].is_tensor()) {
    auto a = reshape_value(args.pos[0], {-1, 1}, false);
    auto b = a ? reshape_value(args.pos[1], {1, -1}, false) : std::nullopt;
    if (!b) return false;
    return apply_ufunc(*np_->ufunc_named("multiply"), {*a, *b}, false);
  }
  const AValue* x = x_of(0);
  if ((name == "reshape" || name == "ravel" || name == "flatten") && x) {
    // order='C' only: F, A and K read the elements in another order.
    const AValue* order = args.get(name == "reshape" ? 99 : 1, "order");
    if (name == "reshape" && !method && args.pos.size() > 2) order = &args.pos[2];
    if (order && !(order->is_object() && PyUnicode_Check(order->obj) &&
                   std::strcmp(PyUnicode_AsUTF8(order->obj), "C") == 0))
      return fail(AbortCode::UnsupportedValue, fmt::format("{}() with an order other than 'C' is not traced yet", name));
  }
  if (name == "reshape" && x) {
    std::vector<int64_t> shape;
    if (method && args.pos.size() > 2) {
      for (size_t i = 1; i < args.pos.size(); ++i) {
        auto l = int_list(args.pos[i], "shape");
        if (!l) return false;
        if (l->size() != 1) return fail(AbortCode::UserError, "TypeError: reshape() dimensions must be integers");
        shape.push_back((*l)[0]);
      }
    } else {
      const AValue* s = args.get(1, "newshape");
      if (!s) s = args.get(1, "shape");
      if (!s) return fail(AbortCode::UnsupportedCall, "reshape() without a shape");
      auto l = int_list(*s, "shape");
      if (!l) return false;
      shape = *l;
    }
    auto r = reshape_value(*x, shape, true);
    if (!r) return false;
    push(std::move(*r));
    return true;
  }
  if ((name == "ravel" || name == "flatten") && x) {
    auto r = reshape_value(*x, {-1}, name == "ravel");
    if (!r) return false;
    push(std::move(*r));
    return true;
  }
  if ((name == "transpose" || name == "swapaxes" || name == "T") && x) {
    int rank = x->type.rank();
    std::vector<int64_t> perm(static_cast<size_t>(rank));
    std::iota(perm.rbegin(), perm.rend(), 0);
    if (name == "swapaxes") {
      auto a1 = args.get(1, "axis1") ? int_list(*args.get(1, "axis1"), "axis1") : std::nullopt;
      auto a2 = args.get(2, "axis2") ? int_list(*args.get(2, "axis2"), "axis2") : std::nullopt;
      if (!a1 || !a2) return fail(AbortCode::UnsupportedCall, "swapaxes needs two axes");
      std::iota(perm.begin(), perm.end(), 0);
      int64_t i = (*a1)[0] < 0 ? (*a1)[0] + rank : (*a1)[0], j = (*a2)[0] < 0 ? (*a2)[0] + rank : (*a2)[0];
      if (i < 0 || j < 0 || i >= rank || j >= rank) return fail(AbortCode::UserError, "AxisError in swapaxes");
      std::swap(perm[static_cast<size_t>(i)], perm[static_cast<size_t>(j)]);
    } else if (args.pos.size() > 1 || args.get(1, "axes")) {
      std::vector<int64_t> p;
      if (method && args.pos.size() > 2) {
        for (size_t i = 1; i < args.pos.size(); ++i) {
          auto l = int_list(args.pos[i], "axes");
          if (!l) return false;
          p.push_back((*l)[0]);
        }
      } else {
        const AValue* a = args.get(1, "axes");
        if (!(a->is_object() && a->obj == Py_None)) {
          auto l = int_list(*a, "axes");
          if (!l) return false;
          p = *l;
        }
      }
      if (!p.empty()) {
        if (static_cast<int>(p.size()) != rank) return fail(AbortCode::UserError, "ValueError: axes don't match array");
        std::vector<bool> seen(static_cast<size_t>(rank), false);
        for (int64_t& v : p) {
          if (v < -rank || v >= rank) return fail(AbortCode::UserError, "AxisError: bad transpose axes");
          v = v < 0 ? v + rank : v;
          if (seen[static_cast<size_t>(v)]) return fail(AbortCode::UserError, "ValueError: repeated axis in transpose");
          seen[static_cast<size_t>(v)] = true;
        }
        perm = p;
      }
    }
    std::vector<ir::Dim> shape;  // symbolic dims move with their axes
    bool ident = true;
    for (int k = 0; k < rank; ++k) {
      int64_t pk = perm[static_cast<size_t>(k)];
      if (pk < 0 || pk >= rank) return fail(AbortCode::UserError, "AxisError: bad transpose axes");
      shape.push_back(x->type.shape[static_cast<size_t>(pk)]);
      ident &= pk == k;
    }
    ir::ValueId r;
    if (ident) {
      r = g.add_op(ir::Op::Cast, x->type, {x->v}, loc_);
    } else {
      ir::Node n;
      n.op = ir::Op::Transpose;
      n.type = ir::Type(x->type.dtype, shape);
      n.operands = {x->v};
      n.ints = perm;
      n.loc = loc_;
      r = g.add(std::move(n));
    }
    push(view_of(*x, r, Box::Array));
    return true;
  }
  if ((name == "squeeze" || name == "expand_dims") && x) {
    std::vector<int64_t> shape = static_shape(x->type);
    const AValue* axis = args.get(1, "axis");
    if (name == "squeeze") {
      std::vector<int64_t> out;
      std::vector<int64_t> axes;
      if (axis && !(axis->is_object() && axis->obj == Py_None)) {
        auto l = int_list(*axis, "axis");
        if (!l) return false;
        int64_t rank = static_cast<int64_t>(shape.size());
        for (int64_t a : *l) {
          if (a < -rank || a >= rank) return fail(AbortCode::UserError, "AxisError in squeeze");
          a = a < 0 ? a + rank : a;
          if (std::find(axes.begin(), axes.end(), a) != axes.end()) return fail(AbortCode::UserError, "ValueError: repeated axis");
          axes.push_back(a);
        }
      }
      for (size_t d = 0; d < shape.size(); ++d) {
        bool listed = std::find(axes.begin(), axes.end(), static_cast<int64_t>(d)) != axes.end();
        if (listed && shape[d] != 1) return fail(AbortCode::UserError, "ValueError: cannot select an axis to squeeze out which has size not equal to one");
        if ((axes.empty() && shape[d] == 1) || listed) continue;
        out.push_back(shape[d]);
      }
      shape = out;
    } else {
      if (!axis) return fail(AbortCode::UnsupportedCall, "expand_dims needs an axis");
      auto l = int_list(*axis, "axis");
      if (!l) return false;
      int64_t out_rank = static_cast<int64_t>(shape.size() + l->size());
      std::vector<int64_t> axes;
      for (int64_t a : *l) {
        if (a < -out_rank || a >= out_rank) return fail(AbortCode::UserError, "AxisError in expand_dims");
        a = a < 0 ? a + out_rank : a;
        if (std::find(axes.begin(), axes.end(), a) != axes.end()) return fail(AbortCode::UserError, "ValueError: repeated axis");
        axes.push_back(a);
      }
      std::vector<int64_t> out;
      size_t src = 0;
      for (int64_t d = 0; d < out_rank; ++d)
        out.push_back(std::find(axes.begin(), axes.end(), d) != axes.end() ? 1 : shape[src++]);
      shape = out;
    }
    auto r = reshape_value(*x, shape, true);
    if (!r) return false;
    push(std::move(*r));
    return true;
  }
  if (name == "broadcast_to" && x) {
    const AValue* s = args.get(1, "shape");
    auto l = s ? int_list(*s, "shape") : std::nullopt;
    if (!l) return false;
    auto b = ir::broadcast_shapes(x->type.shape, ir::Type::of(x->type.dtype, *l).shape);
    if (!b || *b != ir::Type::of(x->type.dtype, *l).shape)
      return fail(AbortCode::UserError, "ValueError: operands could not be broadcast together");
    push(view_of(*x, g.add_op(ir::Op::Broadcast, ir::Type::of(x->type.dtype, *l), {x->v}, loc_), Box::Array));
    return true;
  }
  if (name == "concatenate" || name == "stack" || name == "hstack" || name == "vstack") {
    // out=, dtype= and casting= change the result: eager (they used to be dropped).
    // (The sequence's keyword is `arrays` for concatenate/stack, `tup` for hstack/vstack.)
    const bool stacks = name == "hstack" || name == "vstack";
    if (!(stacks ? args.only({"tup"}, bad) : args.only({"arrays", "axis"}, bad)) || args.pos.size() > (stacks ? 1u : 2u))
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() with '{}' is not traced yet", name, bad.empty() ? "out" : bad));
    const AValue* seq = args.get(0, stacks ? "tup" : "arrays");
    if (!seq) return fail(AbortCode::UnsupportedCall, fmt::format("{}() needs a sequence", name));
    auto parts = tensors_of(*seq);
    if (!parts) return false;
    if (parts->empty()) return fail(AbortCode::UserError, "ValueError: need at least one array to concatenate");
    int64_t axis = name == "vstack" ? 0 : 0;
    if (const AValue* a = args.get(1, "axis")) {
      auto l = int_list(*a, "axis");
      if (!l) return false;
      axis = (*l)[0];
    }
    // Result dtype: NumPy's result_type of the parts, each an array.
    std::vector<ir::DType> dts;
    for (const AValue& p : *parts) dts.push_back(p.type.dtype);
    const auto dt = arrays_result_dtype(dts, fmt::format("np.{}()", name));
    if (!dt) return false;
    std::vector<AValue> ps = *parts;
    if (name == "stack") {
      int64_t r = ps[0].type.rank() + 1;
      if (axis < 0) axis += r;
      for (AValue& p : ps) {
        std::vector<ir::Dim> s = p.type.shape;  // runtime sizes stay where they are
        if (axis < 0 || axis > static_cast<int64_t>(s.size())) return fail(AbortCode::UserError, "AxisError in stack");
        s.insert(s.begin() + axis, ir::Dim::fixed(1));
        p = view_of(p, g.add_op(ir::Op::Reshape, ir::Type(p.type.dtype, s), {p.v}, loc_), Box::Array);
      }
    } else if (name == "hstack") {
      axis = ps[0].type.rank() == 1 ? 0 : 1;
    } else if (name == "vstack") {
      for (AValue& p : ps)
        if (p.type.rank() == 1) {
          auto rv = reshape_value(p, {1, -1}, true);
          if (!rv) return false;
          p = *rv;
        }
    }
    int rank = ps[0].type.rank();
    if (rank == 0) return fail(AbortCode::UserError, "ValueError: zero-dimensional arrays cannot be concatenated");
    if (axis < 0) axis += rank;
    if (axis < 0 || axis >= rank) return fail(AbortCode::UserError, "AxisError in concatenate");
    // Runtime sizes: allowed off the concatenation axis, where they must be the same symbol.
    std::vector<ir::Dim> shape = ps[0].type.shape;
    shape[static_cast<size_t>(axis)] = ir::Dim::fixed(0);
    ir::Node n;
    n.op = ir::Op::Concat;
    for (const AValue& p : ps) {
      const std::vector<ir::Dim>& s = p.type.shape;
      if (static_cast<int>(s.size()) != rank) return fail(AbortCode::UserError, "ValueError: all the input array dimensions must match");
      for (int k = 0; k < rank; ++k)
        if (k != axis && s[static_cast<size_t>(k)] != shape[static_cast<size_t>(k)]) {
          if (!s[static_cast<size_t>(k)].is_static() || !shape[static_cast<size_t>(k)].is_static())
            return fail_specialize({s[static_cast<size_t>(k)], shape[static_cast<size_t>(k)]}, "concatenate: a runtime size meets another size");
          return fail(AbortCode::UserError, "ValueError: all the input array dimensions except for the concatenation axis must match exactly");
        }
      if (!s[static_cast<size_t>(axis)].is_static())
        return fail(AbortCode::DynamicShape, "concatenate along a runtime-sized axis");
      shape[static_cast<size_t>(axis)].size += s[static_cast<size_t>(axis)].size;
      n.operands.push_back(cast(p.v, *dt));
    }
    n.type = ir::Type(*dt, shape);
    n.ints = {axis};
    n.loc = loc_;
    push(tensor(g.add(std::move(n)), Box::Array));
    return true;
  }
  if (name == "split" && x) {
    const AValue* ios = args.get(1, "indices_or_sections");
    int64_t axis = 0;
    if (const AValue* a = args.get(2, "axis")) {
      auto l = int_list(*a, "axis");
      if (!l) return false;
      axis = (*l)[0];
    }
    int rank = x->type.rank();
    if (axis < 0) axis += rank;
    if (!ios || axis < 0 || axis >= rank) return fail(AbortCode::UnsupportedCall, "split arguments");
    int64_t len = x->type.shape[static_cast<size_t>(axis)].size;
    std::vector<int64_t> bounds;
    if (ios->is_object() && (PyLong_Check(ios->obj) || PyArray_IsScalar(ios->obj, Integer))) {  // sections
      int64_t n = PyLong_AsLongLong(ios->obj);
      if (n == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        return fail(AbortCode::UnsupportedValue, "split sections");
      }
      if (n <= 0 || len % n != 0) return fail(AbortCode::UserError, "ValueError: array split does not result in an equal division");
      for (int64_t i = 0; i <= n; ++i) bounds.push_back(i * (len / n));
    } else {
      auto l = int_list(*ios, "indices");
      if (!l) return false;
      bounds.push_back(0);
      for (int64_t v : *l) bounds.push_back(std::clamp<int64_t>(v < 0 ? v + len : v, 0, len));
      bounds.push_back(len);
    }
    AValue list;
    list.kind = AValue::Kind::Tuple;
    list.is_list = true;
    list.source = Source::computed();
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      int64_t lo = bounds[i], hi = std::max(bounds[i], bounds[i + 1]);
      std::vector<int64_t> counts = static_shape(x->type);
      counts[static_cast<size_t>(axis)] = hi - lo;
      ir::Node n;
      n.op = ir::Op::Slice;
      n.type = ir::Type::of(x->type.dtype, counts);
      n.operands = {x->v};
      for (int k = 0; k < rank; ++k) {
        n.ints.push_back(k == axis ? (hi > lo ? lo : 0) : 0);
        n.ints.push_back(1);
      }
      n.loc = loc_;
      list.items.push_back(view_of(*x, g.add(std::move(n)), Box::Array));
    }
    push(std::move(list));
    return true;
  }
  if ((name == "triu" || name == "tril") && x) {
    int64_t k = 0;
    if (const AValue* kv = args.get(1, "k")) {
      auto l = int_list(*kv, "k");
      if (!l) return false;
      k = (*l)[0];
    }
    int rank = x->type.rank();
    if (rank < 2) return fail(AbortCode::UnsupportedCall, "triu/tril of a 1-D array");
    ir::Type it = ir::Type::of(ir::DType::I64, static_shape(x->type));
    auto iota = [&](int64_t axis) {
      ir::Node n;
      n.op = ir::Op::Iota;
      n.type = it;
      n.ints = {axis};
      n.loc = loc_;
      return g.add(std::move(n));
    };
    ir::ValueId rows = iota(rank - 2), cols = iota(rank - 1);
    ir::ValueId diff = g.add_op(ir::Op::Sub, it, {cols, rows}, loc_);
    ir::ValueId kc = g.add_const_int(ir::DType::I64, k, loc_);
    ir::Type bt = it.with_dtype(ir::DType::Bool);
    ir::ValueId keep = g.add_op(name == "triu" ? ir::Op::Ge : ir::Op::Le, bt, {diff, kc}, loc_);
    ir::ValueId zero = ir::is_float(x->type.dtype) ? g.add_const_float(x->type.dtype, 0.0, loc_)
                                                   : g.add_const_int(x->type.dtype, 0, loc_);
    push(tensor(g.add_op(ir::Op::Where, x->type, {keep, x->v, zero}, loc_), Box::Array));
    return true;
  }
  if (name == "roll" && x) {
    const AValue* sh = args.get(1, "shift");
    auto sl = sh ? int_list(*sh, "shift") : std::nullopt;
    if (!sl || sl->size() != 1) return fail(AbortCode::UnsupportedCall, "roll with several shifts");
    const AValue* ax = args.get(2, "axis");
    AValue src = *x;
    int64_t axis = 0;
    bool flat = !ax || (ax->is_object() && ax->obj == Py_None);
    if (flat) {
      auto r = reshape_value(*x, {-1}, true);
      if (!r) return false;
      src = *r;
    } else {
      auto l = int_list(*ax, "axis");
      if (!l) return false;
      if (l->size() != 1) return fail(AbortCode::UnsupportedCall, "roll along several axes");
      if ((*l)[0] < -x->type.rank() || (*l)[0] >= x->type.rank()) return fail(AbortCode::UserError, "AxisError in roll");
      axis = (*l)[0] < 0 ? (*l)[0] + x->type.rank() : (*l)[0];
    }
    int rank = src.type.rank();
    if (!src.type.shape[static_cast<size_t>(axis)].is_static())
      return fail(AbortCode::DynamicShape, "roll along a runtime-sized axis");
    int64_t len = src.type.shape[static_cast<size_t>(axis)].size;
    int64_t s = len ? (((*sl)[0] % len) + len) % len : 0;
    ir::ValueId r;
    if (s == 0) {
      r = g.add_op(ir::Op::Cast, src.type, {src.v}, loc_);
    } else {
      auto part = [&](int64_t lo, int64_t cnt) {
        std::vector<ir::Dim> counts = src.type.shape;  // other axes may have runtime sizes
        counts[static_cast<size_t>(axis)] = ir::Dim::fixed(cnt);
        ir::Node n;
        n.op = ir::Op::Slice;
        n.type = ir::Type(src.type.dtype, counts);
        n.operands = {src.v};
        for (int k = 0; k < rank; ++k) {
          n.ints.push_back(k == axis ? lo : 0);
          n.ints.push_back(1);
        }
        n.loc = loc_;
        return g.add(std::move(n));
      };
      ir::Node c;
      c.op = ir::Op::Concat;
      c.type = src.type;
      c.operands = {part(len - s, s), part(0, len - s)};
      c.ints = {axis};
      c.loc = loc_;
      r = g.add(std::move(c));
    }
    if (flat && x->type.shape != g.type(r).shape) r = g.add_op(ir::Op::Reshape, x->type, {r}, loc_);
    push(tensor(r, Box::Array));
    return true;
  }
  // An `out` array (positional or keyword) or another keyword (clip's dtype=, casting=) would
  // change the result: such calls run eagerly.
  auto none_or_absent = [](const AValue* v) { return !v || (v->is_object() && v->obj == Py_None); };
  if ((name == "round" || name == "around") && x &&
      (!args.only({"a", "decimals", "out"}, bad) || args.pos.size() > 3 || !none_or_absent(args.get(2, "out"))))
    return fail(AbortCode::UnsupportedCall, fmt::format("{}() with '{}' is not traced yet", name, bad.empty() ? "out" : bad));
  if (name == "clip" && x &&
      (!args.only({"a", "a_min", "a_max", "min", "max", "out"}, bad) || args.pos.size() > 4 || !none_or_absent(args.get(3, "out"))))
    return fail(AbortCode::UnsupportedCall, fmt::format("clip() with '{}' is not traced yet", bad.empty() ? "out" : bad));
  if ((name == "round" || name == "around") && x) {
    int64_t decimals = 0;
    if (const AValue* dec = args.get(1, "decimals")) {
      auto l = int_list(*dec, "decimals");
      if (!l) return false;
      if (l->size() != 1) return fail(AbortCode::UnsupportedCall, "round with a sequence of decimals");
      decimals = (*l)[0];
    }
    if (ir::is_bool(x->type.dtype)) return fail(AbortCode::UnsupportedDtype, "round of a bool array (NumPy gives float16)");
    // NumPy's round of a 0-d array is a NumPy scalar.
    const Box box = x->type.is_scalar() ? Box::NpScalar : Box::Array;
    const bool flt = ir::is_float(x->type.dtype);
    if (decimals == 0 || (!flt && decimals > 0)) {
      push(tensor(g.add_op(flt ? ir::Op::Rint : ir::Op::Cast, x->type, {x->v}, loc_), box));
      return true;
    }
    if (!flt || decimals > 400 || decimals < -400)
      return fail(AbortCode::UnsupportedCall, "round of an integer array to decimals < 0 (or |decimals| > 400) is not traced yet");
    // PyArray_Round: x * 10^d, rint, / 10^d (d < 0: / then *), with 10^d a Python float (a weak
    // scalar: float32 arrays round in float32) from NumPy's power_of_ten (1e9 times 10 ... above 8).
    const int64_t n = decimals > 0 ? decimals : -decimals;
    static const double kP10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8};
    double p = n < 9 ? kP10[n] : 1e9;
    for (int64_t k = n; k > 9; --k) p *= 10.;
    PyObject* po = PyFloat_FromDouble(p);
    if (!po) return fail(AbortCode::UnsupportedValue, exception_text());
    AValue pv = object(po, Source::constant());
    Py_DECREF(po);
    if (!apply_ufunc(*np_->ufunc_named(decimals > 0 ? "multiply" : "true_divide"), {*x, pv}, false)) return false;
    AValue scaled = pop();
    AValue rounded = tensor(g.add_op(ir::Op::Rint, scaled.type, {scaled.v}, loc_), Box::Array);
    if (!apply_ufunc(*np_->ufunc_named(decimals > 0 ? "true_divide" : "multiply"), {rounded, pv}, false)) return false;
    AValue out = pop();
    out.box = box;
    push(std::move(out));
    return true;
  }
  if ((name == "cumsum" || name == "cumprod") && x) {
    // np.cumsum(a, axis=None, dtype=None, out=None) and the methods: add/multiply.accumulate
    // along one axis (of the flattened array for axis None; a 0-d array is one element), in
    // the dtype NumPy accumulates in, asked of NumPy (int64 for bool and signed ints, uint64
    // for unsigned ones, or dtype=), then one scan in order: NumPy's roundings exactly.
    if (!args.only({"a", "axis", "dtype", "out"}, bad))
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() with '{}' is not traced yet", name, bad));
    if (const AValue* out = args.get(3, "out"); out && !(out->is_object() && out->obj == Py_None))
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() with out= is not traced yet", name));
    if (x->box == Box::PyFloat || x->box == Box::PyInt)
      return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() of a Python number is not traced", name));
    const AValue* axis_v = args.get(1, "axis");
    const bool flat = !axis_v || (axis_v->is_object() && axis_v->obj == Py_None);
    const int rank = x->type.rank();
    int64_t axis = 0;
    if (!flat) {
      if (axis_v->is_object() && PyBool_Check(axis_v->obj))
        return fail(AbortCode::UserError, "TypeError: an integer is required for the axis");
      if (axis_v->kind == AValue::Kind::Tuple || (axis_v->is_object() && !PyLong_Check(axis_v->obj) &&
                                                   !PyArray_IsScalar(axis_v->obj, Integer)))
        return fail(AbortCode::UserError, fmt::format("TypeError: {}() takes one integer axis", name));
      auto l = int_list(*axis_v, "axis");
      if (!l) return false;
      axis = (*l)[0];
      const int64_t r = std::max(rank, 1);  // a 0-d array scans as one element
      if (axis < -r || axis >= r)
        return fail(AbortCode::UserError, fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", axis, r));
      if (axis < 0) axis += r;
    }
    PyObject* dtype_kw = nullptr;
    if (const AValue* dt = args.get(2, "dtype"); dt && !(dt->is_object() && dt->obj == Py_None)) {
      if (!dt->is_object()) return fail(AbortCode::UnsupportedValue, "dtype must be a constant");
      dtype_kw = Py_BuildValue("{s:O}", "dtype", dt->obj);
    }
    auto resolved = probe_method_dtype(x->type.dtype, name.c_str(), dtype_kw);
    Py_XDECREF(dtype_kw);
    if (!resolved) return fail(AbortCode::UnsupportedDtype, fmt::format("{}() accumulates in a dtype the JIT does not compile", name));
    AValue src = *x;
    if (flat || rank == 0) {
      auto r = reshape_value(*x, {-1}, true);
      if (!r) return false;
      src = *r;
    }
    ir::ValueId in = cast(src.v, *resolved);
    ir::Node n;
    n.op = name == "cumsum" ? ir::Op::ScanSum : ir::Op::ScanProd;
    n.type = g.type(in);
    n.operands = {in};
    n.ints = {axis};
    n.loc = loc_;
    push(tensor(g.add(std::move(n)), Box::Array));
    return true;
  }
  if (name == "diff" && x && !method) {
    // np.diff(a, n=1, axis=-1, prepend, append) as numpy/lib/_function_base_impl.py writes it:
    // the parts concatenated (a 0-d prepend/append broadcast to one slice along the axis, all
    // in their result_type), then n times a[1:] - a[:-1] along the axis (not_equal for bool).
    if (!args.only({"a", "n", "axis", "prepend", "append"}, bad) || args.pos.size() > 5)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.diff() with '{}' is not traced yet", bad.empty() ? "extra arguments" : bad));
    if (x->box == Box::PyFloat || x->box == Box::PyInt)
      return fail(AbortCode::UnsupportedValue, "np.diff() of a Python number is not traced");
    int64_t order = 1, axis = -1;
    if (const AValue* nv = args.get(1, "n")) {
      auto l = int_list(*nv, "n");
      if (!l || l->size() != 1) return l ? fail(AbortCode::UserError, "TypeError: np.diff() takes one integer n") : false;
      order = (*l)[0];
    }
    if (order == 0) {  // NumPy returns `a` itself
      push(*x);
      return true;
    }
    if (order < 0) return fail(AbortCode::UserError, fmt::format("ValueError: order must be non-negative but got {}", order));
    const int rank = x->type.rank();
    if (rank == 0) return fail(AbortCode::UserError, "ValueError: diff requires input that is at least one dimensional");
    if (const AValue* av = args.get(2, "axis")) {
      if (av->kind == AValue::Kind::Tuple || (av->is_object() && !PyLong_Check(av->obj) && !PyArray_IsScalar(av->obj, Integer)))
        return fail(AbortCode::UserError, "TypeError: np.diff() takes one integer axis");
      auto l = int_list(*av, "axis");
      if (!l) return false;
      axis = (*l)[0];
    }
    if (axis < -rank || axis >= rank)
      return fail(AbortCode::UserError, fmt::format("AxisError: axis {} is out of bounds for array of dimension {}", axis, rank));
    if (axis < 0) axis += rank;
    const auto ax = static_cast<size_t>(axis);
    // The parts: prepend, a, append (np._NoValue when not given; None is a value: an object array).
    std::vector<std::pair<AValue, ir::DType>> parts;
    auto add_part = [&](const AValue* v) -> bool {
      if (!v) return true;
      if (v->is_tensor()) {
        ir::DType dt = v->box == Box::PyFloat ? ir::DType::F64 : v->box == Box::PyInt ? ir::DType::I64 : v->type.dtype;
        parts.push_back({*v, dt});
        return true;
      }
      if (!v->is_object() || !is_py_scalar(v->obj))
        return fail(AbortCode::UnsupportedValue, fmt::format("np.diff() with a prepend/append of {} is not traced", what(*v)));
      PyObject* arr = PyArray_FromAny(v->obj, nullptr, 0, 0, 0, nullptr);  // np.asanyarray
      std::optional<ir::DType> dt;
      if (arr) dt = dtype_from_typenum(PyArray_TYPE(reinterpret_cast<PyArrayObject*>(arr)));
      Py_XDECREF(arr);
      PyErr_Clear();
      if (!dt) return fail(AbortCode::UnsupportedDtype, "np.diff() with a prepend/append of a dtype the JIT does not compile");
      parts.push_back({*v, *dt});
      return true;
    };
    if (!add_part(args.get(3, "prepend"))) return false;
    parts.push_back({*x, x->type.dtype});
    if (!add_part(args.get(4, "append"))) return false;
    AValue cur = *x;
    if (parts.size() > 1) {
      std::vector<ir::DType> dts;
      for (const auto& part : parts) dts.push_back(part.second);
      const auto dt = arrays_result_dtype(dts, "np.diff()");
      if (!dt) return false;
      std::vector<ir::Dim> shape = x->type.shape;
      ir::Node n;
      n.op = ir::Op::Concat;
      int64_t total = 0;
      for (auto& [p, pdt] : parts) {
        auto v = to_ir(p, pdt);
        if (!v) return false;
        ir::ValueId pv = cast(*v, *dt);
        const ir::Type& pt = g.type(pv);
        if (pt.rank() == 0) {  // broadcast to one slice along the axis
          std::vector<ir::Dim> s = x->type.shape;
          s[ax] = ir::Dim::fixed(1);
          pv = g.add_op(ir::Op::Broadcast, ir::Type(*dt, s), {pv}, loc_);
        } else {
          if (pt.rank() != rank)
            return fail(AbortCode::UserError, "ValueError: all the input arrays must have same number of dimensions");
          for (int k = 0; k < rank; ++k)
            if (k != axis && pt.shape[static_cast<size_t>(k)] != shape[static_cast<size_t>(k)])
              return fail(AbortCode::UserError, "ValueError: all the input array dimensions except for the concatenation axis must match exactly");
        }
        total += g.type(pv).shape[ax].size;
        n.operands.push_back(pv);
      }
      shape[ax] = ir::Dim::fixed(total);
      n.type = ir::Type(*dt, shape);
      n.ints = {axis};
      n.loc = loc_;
      cur = tensor(g.add(std::move(n)), Box::Array);
    }
    const UfuncInfo& op = *np_->ufunc_named(ir::is_bool(cur.type.dtype) ? "not_equal" : "subtract");
    for (int64_t k = 0; k < order; ++k) {
      const int64_t len = cur.type.shape[ax].size, cnt = std::max<int64_t>(len - 1, 0);
      AValue sl[2];
      for (int which = 0; which < 2; ++which) {  // a[1:], a[:-1]
        ir::Node n;
        n.op = ir::Op::Slice;
        std::vector<ir::Dim> s = cur.type.shape;
        s[ax] = ir::Dim::fixed(cnt);
        n.type = ir::Type(cur.type.dtype, s);
        n.operands = {cur.v};
        for (int d = 0; d < rank; ++d) {
          n.ints.push_back(d == axis && which == 0 && cnt > 0 ? 1 : 0);
          n.ints.push_back(1);
        }
        n.loc = loc_;
        sl[which] = tensor(g.add(std::move(n)), Box::Array);
      }
      if (!apply_ufunc(op, {sl[0], sl[1]}, false)) return false;
      cur = pop();
    }
    cur.box = Box::Array;
    push(std::move(cur));
    return true;
  }
  if (name == "diag" && !method) {
    // np.diag(v, k) of a 1-d v: NumPy fills zeros((n, n)) with n = len(v) + |k| and stores v on
    // the k-th diagonal. Recorded as select(col - row == k, v padded with |k| zeros and
    // broadcast along the rows (k >= 0: res[i, i + k] = v[i]) or the columns (k < 0:
    // res[j - k, j] = v[j]), 0). A 2-d v gives the view of its k-th diagonal (diagonal_view).
    const AValue* x = args.get(0, "v");
    if (!x || !args.only({"v", "k"}, bad) || args.pos.size() > 2)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.diag() with '{}' is not traced yet", bad.empty() ? "these arguments" : bad));
    if (!x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt)
      return fail(AbortCode::UnsupportedValue, fmt::format("np.diag() of {} is not traced", what(*x)));
    if (x->type.rank() != 1 && x->type.rank() != 2) return fail(AbortCode::UserError, "ValueError: Input must be 1- or 2-d.");
    int64_t k = 0;
    if (const AValue* kv = args.get(1, "k")) {
      if (!(kv->is_object() && (PyLong_Check(kv->obj) || PyArray_IsScalar(kv->obj, Integer))))
        return fail(AbortCode::UnsupportedValue, "np.diag() k must be a constant integer");
      auto l = int_list(*kv, "k");
      if (!l) return false;
      k = (*l)[0];
    }
    if (x->type.rank() == 2) return diagonal_view(*x, k);  // NumPy: a.diagonal(k)
    const ir::DType dt = x->type.dtype;
    const int64_t len = x->type.shape[0].size, pad = k < 0 ? -k : k, n = len + pad;
    auto zero = [&] { return ir::is_float(dt) ? g.add_const_float(dt, 0.0, loc_) : g.add_const_int(dt, 0, loc_); };
    ir::ValueId v = x->v;
    if (pad > 0) {
      ir::Node c;
      c.op = ir::Op::Concat;
      c.type = ir::Type::of(dt, {n});
      c.operands = {v, g.add_op(ir::Op::Broadcast, ir::Type::of(dt, {pad}), {zero()}, loc_)};
      c.ints = {0};
      c.loc = loc_;
      v = g.add(std::move(c));
    }
    v = g.add_op(ir::Op::Reshape, ir::Type::of(dt, k >= 0 ? std::vector<int64_t>{n, 1} : std::vector<int64_t>{1, n}), {v}, loc_);
    v = g.add_op(ir::Op::Broadcast, ir::Type::of(dt, {n, n}), {v}, loc_);
    ir::Type it = ir::Type::of(ir::DType::I64, {n, n});
    ir::Node r0, c0;
    r0.op = c0.op = ir::Op::Iota;
    r0.type = c0.type = it;
    r0.ints = {0};
    c0.ints = {1};
    r0.loc = c0.loc = loc_;
    ir::ValueId rows = g.add(std::move(r0)), cols = g.add(std::move(c0));
    ir::ValueId diff = g.add_op(ir::Op::Sub, it, {cols, rows}, loc_);
    ir::ValueId on = g.add_op(ir::Op::Eq, it.with_dtype(ir::DType::Bool), {diff, g.add_const_int(ir::DType::I64, k, loc_)}, loc_);
    push(tensor(g.add_op(ir::Op::Where, ir::Type::of(dt, {n, n}), {on, v, zero()}, loc_), Box::Array));
    return true;
  }
  if (name == "average") {
    // np.average(a, axis=None, weights=None, returned=False, *, keepdims) as
    // numpy/lib/_function_base_impl.py computes it. No weights: a.mean(axis, keepdims) (and
    // with returned=True the count, as a.dtype's result of mean / mean... eager). Weights:
    // result_dtype = result_type(a, w) (with float64 for integer or bool a); weights of another
    // shape than a's need axis= and the shape of a along it (one axis here: eager for several),
    // reshaped to broadcast; scl = w.sum(axis, dtype=result_dtype); a weight sum of zero
    // re-runs the call eagerly for NumPy's ZeroDivisionError; avg = multiply(a, w,
    // dtype=result_dtype).sum(axis) / scl; returned=True adds scl broadcast to avg's shape.
    const AValue* x = args.get(0, "a");
    const AValue* w = args.get(2, "weights");
    if (w && w->is_object() && w->obj == Py_None) w = nullptr;
    if (!x || !args.only({"a", "axis", "weights", "returned", "keepdims"}, bad) || args.pos.size() > 4)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.average() with '{}' is not traced yet", bad.empty() ? "these arguments" : bad));
    if (!x->is_tensor() || x->box != Box::Array)
      return fail(AbortCode::UnsupportedValue, fmt::format("np.average() of {} is not traced", what(*x)));
    auto keepdims = bool_kw(99, "keepdims", false);
    if (!keepdims) return false;
    auto returned = bool_kw(3, "returned", false);
    if (!returned) return false;
    const AValue* axis_v = args.get(1, "axis");
    if (axis_v && axis_v->is_object() && axis_v->obj == Py_None) axis_v = nullptr;
    if (!w) {
      if (!reduce("mean", *x, axis_v, *keepdims, nullptr, 0)) return false;
      if (!*returned) return true;
      // scl = avg.dtype.type(a.size / avg.size), broadcast to avg's shape (a copy) unless 0-d.
      AValue avg = pop();
      if (!x->type.is_static() || !avg.type.is_static())
        return fail(AbortCode::DynamicShape, "np.average(returned=True) of a runtime shape");
      int64_t asize = 1, vsize = 1;
      for (const ir::Dim& d : x->type.shape) asize *= d.size;
      for (const ir::Dim& d : avg.type.shape) vsize *= d.size;
      if (vsize == 0) return fail(AbortCode::UserError, "ZeroDivisionError: division by zero");
      const ir::ValueId q = g.add_const_float(avg.type.dtype, static_cast<double>(asize) / static_cast<double>(vsize), loc_);
      AValue scl = avg.type.rank() == 0 ? tensor(q, Box::NpScalar)
                                        : tensor(g.add_op(ir::Op::Broadcast, avg.type, {q}, loc_), Box::Array);
      AValue pair;
      pair.kind = AValue::Kind::Tuple;
      pair.items = {avg, scl};
      push(pair);
      return true;
    }
    if (!w->is_tensor() || w->box != Box::Array)
      return fail(AbortCode::UnsupportedValue, fmt::format("np.average() with weights {} is not traced", what(*w)));
    if (!static_only(*x) || !static_only(*w)) return false;
    std::vector<PyObject*> probes = {empty_probe(x->type.dtype), empty_probe(w->type.dtype)};
    if (!ir::is_float(x->type.dtype)) probes.push_back(reinterpret_cast<PyObject*>(PyArray_DescrFromType(NPY_DOUBLE)));
    PyObject* rt = result_type(std::move(probes));
    if (!rt) return fail(AbortCode::UserError, exception_text());
    keep(rt);  // (steals the reference)
    auto rd = dtype_from_typenum(reinterpret_cast<PyArray_Descr*>(rt)->type_num);
    if (!rd) return fail(AbortCode::UnsupportedDtype, "np.average() result dtype");
    const AValue rd_v = object(rt, Source::constant());
    AValue wgt = *w;
    if (w->type.shape != x->type.shape) {
      if (!axis_v) return fail(AbortCode::UserError, "TypeError: Axis must be specified when shapes of a and weights differ.");
      auto l = int_list(*axis_v, "axis");
      if (!l) return false;
      if (l->size() != 1) return fail(AbortCode::UnsupportedCall, "np.average() with weights along several axes is not traced yet");
      int64_t ax = (*l)[0];
      const int64_t rank = x->type.rank();
      if (ax < -rank || ax >= rank) return fail(AbortCode::UserError, "AxisError: axis out of bounds");
      if (ax < 0) ax += rank;
      if (w->type.rank() != 1 || w->type.shape[0] != x->type.shape[static_cast<size_t>(ax)])
        return fail(AbortCode::UserError, "ValueError: Shape of weights must be consistent with shape of a along specified axis.");
      std::vector<int64_t> bshape(static_cast<size_t>(rank), 1);
      bshape[static_cast<size_t>(ax)] = w->type.shape[0].size;
      auto r = reshape_value(*w, bshape, true);
      if (!r) return false;
      wgt = *r;
    }
    if (!reduce("sum", wgt, axis_v, *keepdims, &rd_v, 0)) return false;
    AValue scl = pop();
    {
      ir::ValueId zero = g.add_op(ir::Op::Eq, scl.type.with_dtype(ir::DType::Bool), {scl.v, g.add_const_float(*rd, 0.0, loc_)}, loc_);
      if (!rerun_if_any(zero,
                        fmt::format("{}:{}: np.average() weights sum to zero (NumPy raises ZeroDivisionError)",
                                    PyUnicode_AsUTF8(fr().code->co_filename), loc_.line),
                        true))
        return false;
    }
    AValue xa = tensor(cast(x->v, *rd), Box::Array);
    AValue wa = tensor(cast(wgt.v, *rd), Box::Array);
    if (!apply_ufunc(*np_->ufunc_named("multiply"), {xa, wa}, false)) return false;
    AValue prod = pop();
    if (!reduce("sum", prod, axis_v, *keepdims, nullptr, 0)) return false;
    AValue total = pop();
    if (!apply_ufunc(*np_->ufunc_named("divide"), {total, scl}, false)) return false;
    if (!*returned) return true;
    AValue avg = pop();
    if (scl.type.shape != avg.type.shape) {
      if (!avg.type.is_static()) return fail(AbortCode::DynamicShape, "np.average(returned=True) of a runtime shape");
      scl = tensor(g.add_op(ir::Op::Broadcast, avg.type.with_dtype(scl.type.dtype), {scl.v}, loc_), Box::Array);
    }
    AValue pair;
    pair.kind = AValue::Kind::Tuple;
    pair.items = {avg, scl};
    push(pair);
    return true;
  }
  if (name == "atleast_1d" || name == "atleast_2d" || name == "atleast_3d") {
    // One array: itself when it has the rank, else NumPy's view with size-1 axes added
    // (0-d: all ones; 1-d [n]: [1, n] or [1, n, 1]; 2-d [m, n]: [m, n, 1]). Several
    // arrays (a tuple) run eagerly.
    const AValue* x = args.pos.size() == 1 && args.kw.empty() ? &args.pos[0] : nullptr;
    if (!x || !x->is_tensor() || x->box == Box::PyFloat || x->box == Box::PyInt)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() of these arguments is not traced yet", name));
    const int want = name[8] - '0';
    const int r = x->type.rank();
    if (r >= want) {
      push(*x);
      return true;
    }
    std::vector<int64_t> s;
    for (const ir::Dim& d : x->type.shape) s.push_back(d.size);
    if (r == 0) s.assign(static_cast<size_t>(want), 1);
    else if (r == 1) s = want == 2 ? std::vector<int64_t>{1, s[0]} : std::vector<int64_t>{1, s[0], 1};
    else s.push_back(1);
    auto v = reshape_value(*x, s, true);
    if (!v) return false;
    push(*v);
    return true;
  }
  if (name == "diagonal" || (name == "trace" && !method)) {
    // np.diagonal(a, offset=0) / a.diagonal(offset) of a 2-d array: diagonal_view.
    // np.trace(a, offset=0, axis1=0, axis2=1, dtype=None) of a 2-d array is
    // add.reduce(a.diagonal(offset), -1, dtype): the diagonal slice summed with NumPy's sum
    // dtype rules. Other axes, other ranks and out= run eagerly.
    const bool tr = name == "trace";
    const char* fn = tr ? "np.trace()" : "diagonal()";
    const AValue* x = args.get(0, "a");
    if (!x || !(tr ? args.only({"a", "offset", "dtype"}, bad) : args.only({"a", "offset"}, bad)) || args.pos.size() > 2)
      return fail(AbortCode::UnsupportedCall, fmt::format("{} with '{}' is not traced yet", fn, bad.empty() ? "these arguments" : bad));
    if (!x->is_tensor() || (tr ? x->box == Box::PyFloat || x->box == Box::PyInt : x->box != Box::Array))
      return fail(AbortCode::UnsupportedValue, fmt::format("{} of {} is not traced", fn, what(*x)));
    if (x->type.rank() < 2) return fail(AbortCode::UserError, "ValueError: diag requires an array of at least two dimensions");
    if (x->type.rank() != 2) return fail(AbortCode::UnsupportedCall, fmt::format("{} of an array with more than 2 dimensions is not traced yet", fn));
    int64_t offset = 0;
    if (const AValue* ov = args.get(1, "offset")) {
      if (!(ov->is_object() && (PyLong_Check(ov->obj) || PyArray_IsScalar(ov->obj, Integer))))
        return fail(AbortCode::UnsupportedValue, fmt::format("{} offset must be a constant integer", fn));
      auto l = int_list(*ov, "offset");
      if (!l) return false;
      offset = (*l)[0];
    }
    if (!tr) return diagonal_view(*x, offset);
    auto d = diagonal_slice(*x, offset);
    if (!d) return false;
    return reduce("sum", tensor(*d, Box::Array), nullptr, false, args.get(99, "dtype"), 0);
  }
  if (name == "isclose" || name == "allclose") {
    // numpy/_core/numeric.py: y made inexact (result_type(y, 1.0); a Python int becomes a
    // float), then less_equal(abs(x - y), atol + rtol * abs(y)) & isfinite(y) | (x == y),
    // | isnan(x) & isnan(y) with equal_nan; `result[()]` (a NumPy bool for 0-d). allclose is
    // bool(all(isclose(...))). NumPy ignores the invalid flag there (inf - inf, 0 * inf): the
    // first term is computed on y with its non-finite elements replaced by 0 (it is masked by
    // isfinite(y) there), which raises no flag NumPy would report.
    if (!args.only({"a", "b", "rtol", "atol", "equal_nan"}, bad) || args.pos.size() > 5)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.{}() with '{}' is not traced yet", name, bad.empty() ? "extra arguments" : bad));
    const AValue* av = args.get(0, "a");
    const AValue* bv = args.get(1, "b");
    if (!av || !bv) return fail(AbortCode::UserError, fmt::format("TypeError: {}() missing a required argument", name));
    if (!av->is_tensor() && !bv->is_tensor())
      return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() of two constants is not traced", name));
    for (const AValue* v : {av, bv})
      if (!v->is_tensor() && !(v->is_object() && (PyFloat_Check(v->obj) || PyLong_Check(v->obj) || PyArray_IsScalar(v->obj, Generic))))
        return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() of {} is not traced", name, what(*v)));
    auto tolerance = [&](size_t i, const char* kname, double dflt) -> std::optional<AValue> {
      const AValue* v = args.get(i, kname);
      PyObject* o = nullptr;
      if (!v) {
        o = PyFloat_FromDouble(dflt);
      } else if (v->is_object() && (PyFloat_Check(v->obj) || (PyLong_Check(v->obj) && !PyBool_Check(v->obj)))) {
        double d = PyFloat_AsDouble(v->obj);
        if (PyErr_Occurred() || !std::isfinite(d)) {  // NumPy warns or raises (errstate): eagerly
          PyErr_Clear();
          fail(AbortCode::UnsupportedValue, fmt::format("np.{}() with a non-finite {}", name, kname));
          return std::nullopt;
        }
        return *v;
      } else {
        fail(AbortCode::UnsupportedValue, fmt::format("np.{}() with a {} other than a constant Python float or int", name, kname));
        return std::nullopt;
      }
      AValue r = object(o, Source::constant());
      Py_DECREF(o);
      return r;
    };
    auto rtol = tolerance(2, "rtol", 1e-05);
    if (!rtol) return false;
    auto atol = tolerance(3, "atol", 1e-08);
    if (!atol) return false;
    auto equal_nan = bool_kw(4, "equal_nan", false);
    if (!equal_nan) return false;
    AValue xv = *av, yv = *bv;
    // y inexact: an array (or NumPy scalar) to result_type(y, 1.0), a Python int to float.
    if (yv.is_tensor() && yv.box != Box::PyFloat && yv.box != Box::PyInt) {
      if (!ir::is_float(yv.type.dtype)) {
        ir::Type t = yv.type;
        t.dtype = ir::DType::F64;
        yv = tensor(g.add_op(ir::Op::Cast, t, {yv.v}, loc_), yv.box);
      }
    } else if (yv.is_tensor() && yv.box == Box::PyInt) {
      yv = tensor(g.add_op(ir::Op::Cast, ir::Type::scalar(ir::DType::F64), {yv.v}, loc_), Box::PyFloat);
    } else if (yv.is_object() && PyLong_Check(yv.obj) && !PyArray_IsScalar(yv.obj, Generic)) {
      PyObject* f = PyNumber_Float(yv.obj);
      if (!f) return fail(AbortCode::UserError, exception_text());
      yv = object(f, Source::constant());
      Py_DECREF(f);
    } else if (yv.is_object() && PyArray_IsScalar(yv.obj, Generic)) {
      return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() of a constant NumPy scalar b is not traced", name));
    }
    // y with its non-finite elements as 0, for the masked first term.
    AValue ys = yv;
    if (yv.is_tensor()) {
      ir::Type bt(ir::DType::Bool, yv.type.shape);
      ir::ValueId fin = g.add_op(ir::Op::IsFinite, bt, {yv.v}, loc_);
      ys = tensor(g.add_op(ir::Op::Where, yv.type, {fin, yv.v, g.add_const_float(yv.type.dtype, 0.0, loc_)}, loc_), yv.box);
    } else if (!std::isfinite(PyFloat_AsDouble(yv.obj))) {
      PyObject* z = PyFloat_FromDouble(0.0);
      ys = object(z, Source::constant());
      Py_DECREF(z);
    }
    auto call = [&](const char* uname, std::vector<AValue> ops) -> std::optional<AValue> {
      if (!apply_ufunc(*np_->ufunc_named(uname), std::move(ops), false)) return std::nullopt;
      return pop();
    };
    auto d = call("subtract", {xv, ys});
    auto ad = d ? call("absolute", {*d}) : std::nullopt;
    auto ay = ad ? call("absolute", {ys}) : std::nullopt;
    auto rt = ay ? call("multiply", {*rtol, *ay}) : std::nullopt;
    auto tol = rt ? call("add", {*atol, *rt}) : std::nullopt;
    auto le = tol ? call("less_equal", {*ad, *tol}) : std::nullopt;
    auto fin = le ? call("isfinite", {yv}) : std::nullopt;
    auto t1 = fin ? call("bitwise_and", {*le, *fin}) : std::nullopt;
    auto eq = t1 ? call("equal", {xv, yv}) : std::nullopt;
    auto res = eq ? call("bitwise_or", {*t1, *eq}) : std::nullopt;
    if (res && *equal_nan) {
      auto nx = call("isnan", {xv});
      auto ny = nx ? call("isnan", {yv}) : std::nullopt;
      auto both = ny ? call("bitwise_and", {*nx, *ny}) : std::nullopt;
      res = both ? call("bitwise_or", {*res, *both}) : std::nullopt;
    }
    if (!res) return false;
    if (!res->is_tensor()) return fail(AbortCode::UnsupportedValue, fmt::format("np.{}() folded to a constant", name));
    if (name == "isclose") {
      res->box = res->type.shape.empty() ? Box::NpScalar : Box::Array;
      push(std::move(*res));
      return true;
    }
    if (!reduce("all", *res, nullptr, false, nullptr, 0)) return false;
    AValue all = pop();
    push(python_bool(all.v));
    return true;
  }
  if (name == "linalg.norm" && x && !method) {
    // np.linalg.norm(x, ord=None, axis=None, keepdims=False) with ord None (the 2-norm of a
    // vector, Frobenius of a matrix, along any axes): NumPy's formula sqrt(add.reduce(x * x,
    // axis)) (numpy/linalg/_linalg.py; with axis None it takes sqrt(x.ravel().dot(...)), the same
    // sum), integers first cast to float64. Other ords are not traced yet.
    if (!args.only({"x", "ord", "axis", "keepdims"}, bad))
      return fail(AbortCode::UnsupportedCall, fmt::format("np.linalg.norm() with '{}' is not traced yet", bad));
    const AValue* ord = args.get(1, "ord");
    if (ord && !(ord->is_object() && ord->obj == Py_None))
      return fail(AbortCode::UnsupportedCall, "np.linalg.norm() with an ord is not traced yet");
    if (x->box == Box::PyFloat || x->box == Box::PyInt)
      return fail(AbortCode::UnsupportedValue, "np.linalg.norm() of a Python number is not traced");
    auto keepdims = bool_kw(3, "keepdims", false);
    if (!keepdims) return false;
    if (x->type.rank() == 0) return fail(AbortCode::UnsupportedValue, "np.linalg.norm() of a 0-d value is not traced");
    AValue v = *x;
    if (v.type.dtype != ir::DType::F32 && v.type.dtype != ir::DType::F64) {
      if (ir::is_float(v.type.dtype))
        return fail(AbortCode::UnsupportedDtype, "np.linalg.norm() of this float dtype is not traced");
      ir::Type t = v.type;
      t.dtype = ir::DType::F64;
      v = tensor(g.add_op(ir::Op::Cast, t, {v.v}, loc_), Box::Array);
    }
    if (!apply_ufunc(*np_->ufunc_named("multiply"), {v, v}, false)) return false;
    AValue sq = pop();
    if (!reduce("sum", sq, args.get(2, "axis"), *keepdims, nullptr, 0)) return false;
    AValue s = pop();
    return apply_ufunc(*np_->ufunc_named("sqrt"), {s}, false);
  }
  if (name == "clip" && x) {
    const AValue* lo = args.get(1, "a_min");
    if (!lo) lo = args.get(1, "min");
    const AValue* hi = args.get(2, "a_max");
    if (!hi) hi = args.get(2, "max");
    AValue cur = *x;
    if (lo && !(lo->is_object() && lo->obj == Py_None)) {
      if (!apply_ufunc(*np_->ufunc_named("maximum"), {cur, *lo}, false)) return false;
      cur = pop();
    }
    if (hi && !(hi->is_object() && hi->obj == Py_None)) {
      if (!apply_ufunc(*np_->ufunc_named("minimum"), {cur, *hi}, false)) return false;
      cur = pop();
    }
    if (cur.type.dtype != x->type.dtype && ir::is_float(cur.type.dtype) != ir::is_float(x->type.dtype))
      return fail(AbortCode::UnsupportedDtype, "clip bounds that change the array's kind");
    if (cur.v == x->v) cur = tensor(g.add_op(ir::Op::Cast, x->type, {x->v}, loc_), Box::Array);
    push(std::move(cur));
    return true;
  }
  // Creation.
  if (name == "zeros" || name == "ones" || name == "empty" || name == "full") {
    const AValue* s = args.get(0, "shape");
    auto shape = s ? int_list(*s, "shape") : std::nullopt;
    if (!shape) return false;
    AValue fill;
    ir::DType dflt = ir::DType::F64;
    if (name == "full") {
      const AValue* f = args.get(1, "fill_value");
      if (!f) return fail(AbortCode::UserError, "full() needs a fill value");
      fill = *f;
      if (fill.is_tensor()) dflt = fill.box == Box::PyFloat ? ir::DType::F64 : fill.type.dtype;
      else if (PyBool_Check(fill.obj)) dflt = ir::DType::Bool;
      else if (PyLong_CheckExact(fill.obj)) dflt = ir::DType::I64;
      else if (PyArray_IsScalar(fill.obj, Generic)) {
        PyArray_Descr* d = PyArray_DescrFromScalar(fill.obj);
        auto sd = dtype_from_typenum(d->type_num);
        Py_DECREF(d);
        if (!sd) return fail(AbortCode::UnsupportedDtype, "fill value dtype");
        dflt = *sd;
      }
    } else {
      PyObject* v = PyLong_FromLong(name == "ones" ? 1 : 0);
      fill = object(v, Source::constant());
      Py_DECREF(v);
    }
    auto dt = dtype_arg(args.get(name == "full" ? 2 : 1, "dtype"), dflt);
    if (!dt) return false;
    auto r = full_of(*shape, *dt, fill);
    if (!r) return false;
    push(std::move(*r));
    return true;
  }
  if ((name == "zeros_like" || name == "ones_like" || name == "empty_like" || name == "full_like") && x) {
    // shape= (another shape than a's) runs eagerly; it used to be dropped.
    const AValue* shape_v = args.get(name == "full_like" ? 5 : 4, "shape");
    if (!args.only({"a", "fill_value", "dtype", "order", "subok", "shape"}, bad) ||
        (shape_v && !(shape_v->is_object() && shape_v->obj == Py_None)))
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() with '{}' is not traced yet", name, bad.empty() ? "shape" : bad));
    AValue fill;
    if (name == "full_like") {
      const AValue* f = args.get(1, "fill_value");
      if (!f) return fail(AbortCode::UserError, "full_like() needs a fill value");
      fill = *f;
    } else {
      PyObject* v = PyLong_FromLong(name == "ones_like" ? 1 : 0);
      fill = object(v, Source::constant());
      Py_DECREF(v);
    }
    auto dt = dtype_arg(args.get(name == "full_like" ? 2 : 1, "dtype"), x->type.dtype);
    if (!dt) return false;
    // The result's layout (NumPy's PyArray_NewLikeArray): order='K' (the default) follows a's,
    // 'A' is F for an F-contiguous a, 'F' is F, 'C' is C. Another layout than C is a fill in
    // the buffer's order read through a transpose, which the pipeline returns in that order
    // (ir/passes/layout.h); an a whose layout the tracer does not know gets C.
    std::string order = "K";
    if (const AValue* ov = args.get(name == "full_like" ? 3 : 2, "order")) {
      if (!ov->is_object() || !PyUnicode_Check(ov->obj))
        return fail(AbortCode::UnsupportedValue, fmt::format("{}() with a non-string order", name));
      order = PyUnicode_AsUTF8(ov->obj);
      if (order != "C" && order != "F" && order != "A" && order != "K")
        return fail(AbortCode::UnsupportedValue, fmt::format("{}() with order={}", name, order));
    }
    const int rank = x->type.rank();
    std::vector<int64_t> fortran(static_cast<size_t>(rank));
    for (int d = 0; d < rank; ++d) fortran[static_cast<size_t>(d)] = rank - 1 - d;
    std::optional<std::vector<int64_t>> axes;
    if (order == "F") {
      axes = fortran;
    } else if (order == "K" || order == "A") {
      axes = memory_axes(trace_.graph, x->v);
      if (axes && order == "A") {
        // F-contiguous: the axes longer than 1 in reverse order.
        int64_t prev = rank;
        bool f_order = true;
        for (int d = 0; d < rank; ++d) {
          if (x->type.shape[static_cast<size_t>(d)] == ir::Dim::fixed(1)) continue;
          f_order = f_order && (*axes)[static_cast<size_t>(d)] < prev;
          prev = (*axes)[static_cast<size_t>(d)];
        }
        axes = f_order ? std::optional<std::vector<int64_t>>(fortran) : std::nullopt;
      }
    }
    std::vector<int64_t> shape = static_shape(x->type);
    if (!axes || !ir::moves_memory(x->type.shape, *axes)) {
      auto r = full_of(shape, *dt, fill);
      if (!r) return false;
      push(std::move(*r));
      return true;
    }
    std::vector<int64_t> buffer(shape.size());
    for (size_t d = 0; d < shape.size(); ++d) buffer[static_cast<size_t>((*axes)[d])] = shape[d];
    auto r = full_of(buffer, *dt, fill);
    if (!r) return false;
    const ir::Type bt = trace_.graph.type(r->v);
    std::vector<ir::Dim> dims(shape.size());
    for (size_t d = 0; d < dims.size(); ++d) dims[d] = bt.shape[static_cast<size_t>((*axes)[d])];
    push(tensor(trace_.graph.add_op(ir::Op::Transpose, ir::Type(*dt, dims), {r->v}, *axes, loc_), Box::Array));
    return true;
  }
  if (name == "arange" || name == "linspace" || name == "eye" || name == "identity") {
    // Ask NumPy for the length and dtype with the same arguments; only values are computed here.
    PyObject* pos = PyTuple_New(static_cast<Py_ssize_t>(args.pos.size()));
    PyObject* kw = PyDict_New();
    bool ok = true;
    for (size_t i = 0; i < args.pos.size(); ++i) {
      ok &= args.pos[i].is_object();
      PyObject* o = args.pos[i].is_object() ? args.pos[i].obj : Py_None;
      Py_INCREF(o);
      PyTuple_SET_ITEM(pos, static_cast<Py_ssize_t>(i), o);
    }
    for (const auto& [k, v] : args.kw) {
      ok &= v.is_object();
      if (v.is_object()) PyDict_SetItemString(kw, k.c_str(), v.obj);
    }
    PyObject* fn = ok ? PyObject_GetAttrString(np_->numpy, name.c_str()) : nullptr;
    PyObject* sample = fn ? PyObject_Call(fn, pos, kw) : nullptr;
    Py_XDECREF(fn);
    Py_DECREF(pos);
    Py_DECREF(kw);
    if (!ok) return fail(AbortCode::UnsupportedValue, fmt::format("np.{} with runtime arguments", name));
    if (!sample) return fail(AbortCode::UserError, exception_text());
    if (!PyArray_Check(sample)) {  // linspace(..., retstep=True): (array, step)
      Py_DECREF(sample);
      return fail(AbortCode::UnsupportedCall, fmt::format("np.{} returning a tuple is not traced yet", name));
    }
    auto* sa = reinterpret_cast<PyArrayObject*>(sample);
    auto dt = dtype_from_typenum(PyArray_TYPE(sa));
    std::vector<int64_t> shape(PyArray_DIMS(sa), PyArray_DIMS(sa) + PyArray_NDIM(sa));
    // The values are a pure function of constants: small results become a constant-free IR
    // recomputation only for arange/eye; linspace values are taken from NumPy's own result.
    if (!dt) {
      Py_DECREF(sample);
      return fail(AbortCode::UnsupportedDtype, fmt::format("np.{} dtype", name));
    }
    ir::ValueId r;
    if (name == "eye" || name == "identity") {  // np.identity(n, dtype) is eye(n, dtype=dtype)
      int64_t k = 0;
      if (const AValue* kv = name == "eye" ? args.get(2, "k") : nullptr) {
        auto l = int_list(*kv, "k");
        if (!l) {
          Py_DECREF(sample);
          return false;
        }
        k = (*l)[0];
      }
      ir::Type it = ir::Type::of(ir::DType::I64, shape);
      ir::Node r0, c0;
      r0.op = c0.op = ir::Op::Iota;
      r0.type = c0.type = it;
      r0.ints = {0};
      c0.ints = {1};
      ir::ValueId rows = g.add(std::move(r0)), cols = g.add(std::move(c0));
      ir::ValueId diff = g.add_op(ir::Op::Sub, it, {cols, rows}, loc_);
      ir::ValueId on = g.add_op(ir::Op::Eq, it.with_dtype(ir::DType::Bool), {diff, g.add_const_int(ir::DType::I64, k, loc_)}, loc_);
      r = cast(on, *dt);
    } else if (name == "arange" && !ir::is_float(*dt) && !ir::is_bool(*dt)) {
      // Integer arange: start + i * step, exactly. arange([start,] stop[, step]): a lone
      // start (positional or keyword) is the stop.
      const AValue* start_v = args.get(0, "start");
      const AValue* stop_v = args.get(1, "stop");
      const AValue* step_v = args.get(2, "step");
      auto is_none = [](const AValue* v) { return !v || (v->is_object() && v->obj == Py_None); };
      int64_t start = 0, step = 1;
      if (!is_none(start_v) && !is_none(stop_v)) {
        auto l = int_list(*start_v, "start");
        if (!l || l->size() != 1) { Py_DECREF(sample); return l ? fail(AbortCode::UnsupportedValue, "arange start") : false; }
        start = (*l)[0];
      }
      if (!is_none(step_v)) {
        auto l = int_list(*step_v, "step");
        if (!l || l->size() != 1) { Py_DECREF(sample); return l ? fail(AbortCode::UnsupportedValue, "arange step") : false; }
        step = (*l)[0];
      }
      ir::Node n;
      n.op = ir::Op::Iota;
      n.type = ir::Type::of(*dt, shape);
      n.ints = {0};
      n.loc = loc_;
      r = g.add(std::move(n));
      if (step != 1) r = g.add_op(ir::Op::Mul, g.type(r), {r, g.add_const_int(*dt, step, loc_)}, loc_);
      if (start != 0) r = g.add_op(ir::Op::Add, g.type(r), {r, g.add_const_int(*dt, start, loc_)}, loc_);
    } else {
      // Float values: NumPy's own formula (arange: its dtype's fill loop; linspace: i * step +
      // start, the endpoint stored), kept only when it reproduces NumPy's result bit for bit.
      std::optional<FloatSeq> seq;
      if (shape.size() == 1 && name == "arange") {
        seq = arange_sequence(sa, *dt);
      } else if (shape.size() == 1) {
        auto obj = [&](size_t i, const char* k) -> PyObject* {
          const AValue* v = args.get(i, k);
          return v ? v->obj : nullptr;
        };
        seq = linspace_sequence(sa, *dt, obj(0, "start"), obj(1, "stop"), obj(3, "endpoint"));
      }
      if (!seq) {
        Py_DECREF(sample);
        return fail(AbortCode::UnsupportedCall,
                    fmt::format("np.{} with these arguments is not traced yet (NumPy's values are not "
                                "reproduced exactly by i * step + start)", name));
      }
      ir::Type it = ir::Type::of(ir::DType::I64, shape);
      ir::Node io;
      io.op = ir::Op::Iota;
      io.type = it;
      io.ints = {0};
      io.loc = loc_;
      ir::ValueId idx = g.add(std::move(io));
      ir::Type ft = it.with_dtype(seq->compute);
      r = g.add_op(ir::Op::Cast, ft, {idx}, loc_);
      r = g.add_op(ir::Op::Mul, ft, {r, g.add_const_float(seq->compute, seq->a, loc_)}, loc_);
      r = g.add_op(ir::Op::Add, ft, {r, g.add_const_float(seq->compute, seq->b, loc_)}, loc_);
      for (const auto& [k, v] : seq->fixed) {
        ir::ValueId at = g.add_op(ir::Op::Eq, it.with_dtype(ir::DType::Bool), {idx, g.add_const_int(ir::DType::I64, k, loc_)}, loc_);
        r = g.add_op(ir::Op::Where, ft, {at, g.add_const_float(seq->compute, v, loc_), r}, loc_);
      }
      if (seq->floor) r = g.add_op(ir::Op::Floor, ft, {r}, loc_);
      if (*dt != seq->compute) r = cast(r, *dt);
    }
    Py_DECREF(sample);
    push(tensor(r, Box::Array));
    return true;
  }
  handled = false;
  return true;
}

}  // namespace tracejit::tracer::detail
