// np.einsum with one or two operands and letter subscripts, recorded as the transposes,
// reductions, products and matmuls it stands for. NumPy's own einsum loops sum in the operands'
// dtype (int8 wraps in int8, float32 accumulates in float32); so do these reductions, and a
// contraction with free indices on both sides goes to the matmul (BLAS for floats), whose sums
// differ from NumPy's loop within matmul's stated bound. Pure permutations are NumPy's views.
// np.tensordot(a, b, axes) is the einsum contracting the paired axes, a's free axes then b's in
// the result (NumPy's definition; its dot sums differ within the same bound), a 0-d array when
// every axis is contracted.
#include <algorithm>
#include <map>

#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {
namespace {

bool is_label(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

}  // namespace

bool Tracer::einsum(CallArgs args) {
  if (args.pos.empty() || !args.pos[0].is_object() || !PyUnicode_Check(args.pos[0].obj))
    return fail(AbortCode::UnsupportedCall, "np.einsum without a subscripts string is not traced yet");
  for (const auto& [k, v] : args.kw)
    if (k != "optimize")  // the recorded ops are the same whatever the contraction order
      return fail(AbortCode::UnsupportedCall, fmt::format("np.einsum(..., {}=) is not traced yet", k));
  std::string spec;
  for (const char* c = PyUnicode_AsUTF8(args.pos[0].obj); *c; ++c)
    if (*c != ' ') spec += *c;
  std::vector<AValue> ops(args.pos.begin() + 1, args.pos.end());
  if (ops.empty() || ops.size() > 2)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.einsum of {} operands is not traced yet", ops.size()));
  for (const AValue& o : ops)
    if (!o.is_tensor() || o.box == Box::PyFloat || o.box == Box::PyInt)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.einsum of {} is not traced yet", what(o)));
  for (const AValue& o : ops)
    if (!static_only(o)) return false;
  if (spec.find('.') != std::string::npos)
    return fail(AbortCode::UnsupportedCall, "np.einsum with an ellipsis is not traced yet");

  // Parse: terms per operand, the output term (explicit, or the labels used once, sorted).
  size_t arrow = spec.find("->");
  std::string lhs = spec.substr(0, arrow);
  std::vector<std::string> terms(1);
  for (char c : lhs) {
    if (c == ',') terms.emplace_back();
    else terms.back() += c;
  }
  if (terms.size() != ops.size())
    return fail(AbortCode::UserError, "ValueError: more operands provided to einstein sum function than specified in the subscripts string");
  std::string out;
  for (size_t i = 0; i < terms.size(); ++i) {
    const std::string& t = terms[i];
    for (char c : t)
      if (!is_label(c)) return fail(AbortCode::UserError, fmt::format("ValueError: invalid subscript '{}' in einstein sum subscripts string", c));
    if (static_cast<int>(t.size()) != ops[i].type.rank())
      return fail(AbortCode::UserError, fmt::format("ValueError: operand {} has {} dimensions, its subscripts {}", i, ops[i].type.rank(), t.size()));
    for (size_t a = 0; a < t.size(); ++a)
      if (t.find(t[a]) != a)
        return fail(AbortCode::UnsupportedCall, "np.einsum with a repeated subscript in one operand (a diagonal) is not traced yet");
  }
  auto count = [&](char c) {
    int n = 0;
    for (const std::string& t : terms) n += static_cast<int>(std::count(t.begin(), t.end(), c));
    return n;
  };
  if (arrow != std::string::npos) {
    out = spec.substr(arrow + 2);
    for (size_t a = 0; a < out.size(); ++a) {
      if (!is_label(out[a]) || count(out[a]) == 0 || out.find(out[a]) != a)
        return fail(AbortCode::UserError, fmt::format("ValueError: einstein sum subscripts string included output subscript '{}' which never appeared in an input, or twice, or is invalid", out[a]));
    }
  } else {
    for (const std::string& t : terms)
      for (char c : t)
        if (count(c) == 1) out += c;
    std::sort(out.begin(), out.end());
  }
  // Sizes agree per label (NumPy broadcasts size 1 against others: that case runs eagerly).
  std::map<char, int64_t> size;
  for (size_t i = 0; i < terms.size(); ++i)
    for (size_t a = 0; a < terms[i].size(); ++a) {
      int64_t n = ops[i].type.shape[a].size;
      auto [it, fresh] = size.emplace(terms[i][a], n);
      if (!fresh && it->second != n)
        return fail(AbortCode::UnsupportedCall, "np.einsum with sizes that differ for one subscript is not traced");
    }

  // The result dtype: NumPy's result_type of the operands; booleans (an or of ands) run eagerly.
  std::vector<PyObject*> probes;
  for (const AValue& o : ops) probes.push_back(probe(o));
  PyObject* rt = result_type(std::move(probes));
  if (!rt) return fail(AbortCode::UserError, exception_text());
  keep(rt);
  auto dt = dtype_from_typenum(reinterpret_cast<PyArray_Descr*>(rt)->type_num);
  if (!dt || ir::is_bool(*dt))
    return fail(AbortCode::UnsupportedDtype, "np.einsum of this dtype is not traced yet");
  for (AValue& o : ops)
    if (o.type.dtype != *dt) o = tensor(cast(o.v, *dt), Box::Array);
  AValue dtype_obj = object(rt, Source::constant());

  // Helpers over the tracer's own recording of NumPy calls: each pushes, we pop.
  auto int_tuple = [&](const std::vector<int64_t>& v) {
    PyObject* tup = PyTuple_New(static_cast<Py_ssize_t>(v.size()));
    for (size_t i = 0; i < v.size(); ++i) PyTuple_SET_ITEM(tup, static_cast<Py_ssize_t>(i), PyLong_FromLongLong(v[i]));
    keep(tup);  // steals the reference
    return object(tup, Source::constant());
  };
  auto transpose = [&](const AValue& x, const std::string& from, const std::string& to) -> std::optional<AValue> {
    std::vector<int64_t> perm;
    for (char c : to) perm.push_back(static_cast<int64_t>(from.find(c)));
    CallArgs a;
    a.pos = {x, int_tuple(perm)};
    bool handled = false;
    if (!call_numpy("transpose", std::move(a), false, handled) || !handled) return std::nullopt;
    return pop();
  };
  // Sum over the labels of `term` not in `keep`, in the einsum dtype; the kept labels stay in order.
  auto sum_out = [&](const AValue& x, std::string& term, const std::string& kept) -> std::optional<AValue> {
    std::vector<int64_t> axes;
    std::string rest;
    for (size_t a = 0; a < term.size(); ++a) {
      if (kept.find(term[a]) == std::string::npos) axes.push_back(static_cast<int64_t>(a));
      else rest += term[a];
    }
    if (axes.empty()) return x;
    AValue axis = int_tuple(axes);
    if (!reduce("sum", x, &axis, false, &dtype_obj, 0)) return std::nullopt;
    term = rest;
    return pop();
  };
  auto sizes_of = [&](const std::string& labels) {
    std::vector<int64_t> s;
    for (char c : labels) s.push_back(size.at(c));
    return s;
  };
  auto product = [&](const std::string& labels) {
    int64_t n = 1;
    for (char c : labels) n *= size.at(c);
    return n;
  };

  // The value laid out as `term`, as the output: a fresh result as it is (a NumPy scalar for a
  // 0-d one, as einsum returns), else the transpose (a view where nothing was computed, as
  // NumPy's einsum returns one).
  auto finish = [&](const AValue& x, const std::string& term, bool computed) {
    if (computed && term == out) {
      push(x);
      return true;
    }
    if (!computed) {
      auto r = transpose(x, term, out);
      if (!r) return false;
      push(std::move(*r));
      return true;
    }
    // A computed result in another order: a new array of its own (not a view of a temporary).
    ir::Node n;
    n.op = ir::Op::Transpose;
    for (char c : out) {
      int64_t k = static_cast<int64_t>(term.find(c));
      n.ints.push_back(k);
      n.type.shape.push_back(x.type.shape[static_cast<size_t>(k)]);
    }
    n.type.dtype = x.type.dtype;
    n.operands = {x.v};
    n.loc = loc_;
    push(tensor(trace_.graph.add(std::move(n)), Box::Array));
    return true;
  };
  if (ops.size() == 1) {
    std::string term = terms[0];
    auto s = sum_out(ops[0], term, out);
    if (!s) return false;
    return finish(*s, term, term != terms[0]);
  }

  // Two operands: labels only one side sums over first.
  std::string ta = terms[0], tb = terms[1];
  std::string keep_a, keep_b;
  for (char c : ta)
    if (out.find(c) != std::string::npos || tb.find(c) != std::string::npos) keep_a += c;
  for (char c : tb)
    if (out.find(c) != std::string::npos || ta.find(c) != std::string::npos) keep_b += c;
  auto a = sum_out(ops[0], ta, keep_a);
  auto b = a ? sum_out(ops[1], tb, keep_b) : std::nullopt;
  if (!b) return false;
  std::string batch, contr, fa, fb;
  for (char c : out) {
    bool in_a = ta.find(c) != std::string::npos, in_b = tb.find(c) != std::string::npos;
    (in_a && in_b ? batch : in_a ? fa : fb) += c;
  }
  for (char c : ta)
    if (tb.find(c) != std::string::npos && out.find(c) == std::string::npos) contr += c;

  if (fa.empty() || fb.empty() || contr.empty()) {
    // Broadcast product (and a sum over the contracted labels): both sides laid out in the order
    // batch + fa + fb + contr, with size-1 axes where a side lacks a label.
    std::string order = batch + fa + fb + contr;
    auto lay = [&](const AValue& x, const std::string& term) -> std::optional<AValue> {
      std::string mine;
      for (char c : order)
        if (term.find(c) != std::string::npos) mine += c;
      auto p = transpose(x, term, mine);
      if (!p) return std::nullopt;
      std::vector<int64_t> shape;
      for (char c : order) shape.push_back(term.find(c) != std::string::npos ? size.at(c) : 1);
      return reshape_value(*p, shape, false);
    };
    auto la = lay(*a, ta);
    auto lb = la ? lay(*b, tb) : std::nullopt;
    if (!lb) return false;
    if (!apply_ufunc(*np_->ufunc_named("multiply"), {*la, *lb}, false)) return false;
    AValue p = pop();
    std::string term = order;
    auto s = sum_out(p, term, batch + fa + fb);
    if (!s) return false;
    return finish(*s, term, true);
  }
  // Contraction with free labels on both sides: [Nb, Nfa, Nc] @ [Nb, Nc, Nfb].
  auto pa = transpose(*a, ta, batch + fa + contr);
  auto pb = pa ? transpose(*b, tb, batch + contr + fb) : std::nullopt;
  if (!pb) return false;
  int64_t nb = product(batch), nfa = product(fa), nfb = product(fb), nc = product(contr);
  auto ma = reshape_value(*pa, {nb, nfa, nc}, false);
  auto mb = ma ? reshape_value(*pb, {nb, nc, nfb}, false) : std::nullopt;
  if (!mb || !matmul(*ma, *mb, "matmul")) return false;
  AValue c = pop();
  auto shaped = reshape_value(c, sizes_of(batch + fa + fb), false);
  if (!shaped) return false;
  return finish(*shaped, batch + fa + fb, true);
}

bool Tracer::tensordot(CallArgs args) {
  std::string bad;
  const AValue* a = args.get(0, "a");
  const AValue* b = args.get(1, "b");
  const AValue* axes_v = args.get(2, "axes");
  if (!args.only({"a", "b", "axes"}, bad) || args.pos.size() > 3)
    return fail(AbortCode::UnsupportedCall, fmt::format("np.tensordot() with '{}' is not traced yet", bad));
  if (!a || !b) return fail(AbortCode::UserError, "TypeError: tensordot() missing a required argument");
  for (const AValue* v : {a, b})
    if (!v->is_tensor() || v->box != Box::Array)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.tensordot() of {} is not traced yet", what(*v)));
  const int ra = a->type.rank(), rb = b->type.rank();
  // The contracted axes: axes=N pairs a's last N with b's first N; a pair of sequences (or ints)
  // pairs them one by one.
  std::vector<int64_t> ia, ib;
  if (!axes_v || (axes_v->is_object() && PyLong_Check(axes_v->obj))) {
    const int64_t nax = axes_v ? PyLong_AsLongLong(axes_v->obj) : 2;
    if (nax < 0 || nax > ra || nax > rb)
      return fail(AbortCode::UnsupportedValue, fmt::format("np.tensordot(axes={}) of arrays of rank {} and {}", nax, ra, rb));
    for (int64_t k = 0; k < nax; ++k) ia.push_back(ra - nax + k), ib.push_back(k);
  } else {
    const AValue& ax = *axes_v;
    const bool pair = (ax.kind == AValue::Kind::Tuple && ax.items.size() == 2) ||
                      (ax.is_object() && PySequence_Check(ax.obj) && PySequence_Size(ax.obj) == 2);
    if (!pair) return fail(AbortCode::UnsupportedValue, "np.tensordot() axes that are not an int or a pair");
    for (int side = 0; side < 2; ++side) {
      AValue item;
      if (ax.kind == AValue::Kind::Tuple) {
        item = ax.items[static_cast<size_t>(side)];
      } else {
        PyObject* o = PySequence_GetItem(ax.obj, side);
        if (!o) return fail(AbortCode::UserError, exception_text());
        item = object(o, Source::constant());
        Py_DECREF(o);
      }
      std::vector<int64_t> list;
      if (item.is_object() && PyLong_Check(item.obj)) {
        list.push_back(PyLong_AsLongLong(item.obj));
      } else {
        auto l = int_list(item, "axes");
        if (!l) return false;
        list = *l;
      }
      (side == 0 ? ia : ib) = list;
    }
    if (ia.size() != ib.size()) return fail(AbortCode::UserError, "ValueError: shape-mismatch for sum");
    for (size_t k = 0; k < ia.size(); ++k) {
      if (ia[k] < -ra || ia[k] >= ra || ib[k] < -rb || ib[k] >= rb)
        return fail(AbortCode::UserError, "IndexError: tuple index out of range");
      if (ia[k] < 0) ia[k] += ra;
      if (ib[k] < 0) ib[k] += rb;
    }
  }
  if (ra + rb > 52) return fail(AbortCode::UnsupportedValue, "np.tensordot() of arrays with more than 52 axes in all");
  std::string la, lb, out;
  auto letter = [](int k) { return static_cast<char>(k < 26 ? 'a' + k : 'A' + (k - 26)); };
  for (int k = 0; k < ra; ++k) la += letter(k);
  lb.assign(static_cast<size_t>(rb), ' ');
  for (size_t k = 0; k < ia.size(); ++k) {
    if (lb[static_cast<size_t>(ib[k])] != ' ' || std::count(ia.begin(), ia.end(), ia[k]) > 1)
      return fail(AbortCode::UnsupportedValue, "np.tensordot() with an axis named twice");
    if (a->type.shape[static_cast<size_t>(ia[k])] != b->type.shape[static_cast<size_t>(ib[k])])
      return fail(AbortCode::UserError, "ValueError: shape-mismatch for sum");
    lb[static_cast<size_t>(ib[k])] = la[static_cast<size_t>(ia[k])];
  }
  int next = ra;
  for (char& c : lb)
    if (c == ' ') c = letter(next++);
  for (int k = 0; k < ra; ++k)
    if (std::find(ia.begin(), ia.end(), k) == ia.end()) out += la[static_cast<size_t>(k)];
  for (int k = 0; k < rb; ++k)
    if (std::find(ib.begin(), ib.end(), k) == ib.end()) out += lb[static_cast<size_t>(k)];
  PyObject* spec = PyUnicode_FromString((la + "," + lb + "->" + out).c_str());
  if (!spec) return fail(AbortCode::UserError, exception_text());
  CallArgs e;
  e.pos = {object(spec, Source::constant()), *a, *b};
  Py_DECREF(spec);
  if (!einsum(std::move(e))) return false;
  AValue r = pop();
  r.box = Box::Array;  // (NumPy's tensordot returns a 0-d array where einsum returns a scalar)
  push(std::move(r));
  return true;
}

}  // namespace tracejit::tracer::detail
