// np.cross(a, b) of 3-vectors along the last axis, as NumPy computes it (numpy/_core/numeric.py):
// c0 = a1 b2 - a2 b1, c1 = a2 b0 - a0 b2, c2 = a0 b1 - a1 b0 in the promoted dtype (each product
// rounded, then the difference: no fused multiply-add), the leading axes broadcast, the
// components stacked on a new last axis. 2-vectors (deprecated in NumPy 2), axisa/axisb/axisc/
// axis and bool inputs run eagerly.
#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {

bool Tracer::np_cross(CallArgs args) {
  if (args.pos.size() != 2 || !args.kw.empty())
    return fail(AbortCode::UnsupportedCall, "np.cross() other than cross(a, b) is not traced yet");
  const AValue& a = args.pos[0];
  const AValue& b = args.pos[1];
  for (const AValue* v : {&a, &b}) {
    if (!v->is_tensor() || v->box != Box::Array || v->type.rank() == 0)
      return fail(AbortCode::UnsupportedCall, fmt::format("np.cross() of {} is not traced yet", what(*v)));
    if (!static_only(*v)) return false;
    if (v->type.shape.back().size != 3)
      return fail(AbortCode::UnsupportedValue, "np.cross() of vectors that are not 3-vectors is not traced yet");
    if (v->type.dtype == ir::DType::Bool) return fail(AbortCode::UnsupportedDtype, "np.cross() of booleans is not traced yet");
  }
  auto component = [&](const AValue& x, long k) -> std::optional<AValue> {
    PyObject* key = Py_BuildValue("(Ol)", Py_Ellipsis, k);
    if (!key) return std::nullopt;
    const bool ok = index_tensor(x, key);
    Py_DECREF(key);
    if (!ok) return std::nullopt;
    return pop();
  };
  std::optional<AValue> ac[3], bc[3];
  for (long k = 0; k < 3; ++k) {
    ac[k] = component(a, k);
    bc[k] = ac[k] ? component(b, k) : std::nullopt;
    if (!bc[k]) return abort_ ? false : fail(AbortCode::UserError, exception_text());
  }
  const UfuncInfo& mul = *np_->ufunc_named("multiply");
  const UfuncInfo& sub = *np_->ufunc_named("subtract");
  AValue parts;
  parts.kind = AValue::Kind::Tuple;
  for (int k = 0; k < 3; ++k) {
    const int i = (k + 1) % 3, j = (k + 2) % 3;  // c_k = a_i b_j - a_j b_i
    if (!apply_ufunc(mul, {*ac[i], *bc[j]}, false)) return false;
    AValue p = pop();
    if (!apply_ufunc(mul, {*ac[j], *bc[i]}, false)) return false;
    AValue q = pop();
    if (!apply_ufunc(sub, {p, q}, false)) return false;
    parts.items.push_back(pop());
  }
  CallArgs s;
  s.pos = {parts};
  PyObject* minus_one = PyLong_FromLong(-1);
  s.kw.emplace_back("axis", object(minus_one, Source::constant()));
  Py_DECREF(minus_one);
  bool handled = false;
  return call_numpy("stack", std::move(s), false, handled);
}

}  // namespace tracejit::tracer::detail
