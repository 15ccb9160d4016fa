// Constant folding: evaluates 0-d constant expressions exactly as NumPy would, or not at all.
#include "ir/passes/fold.h"

#include <bit>
#include <cmath>
#include <optional>

namespace tracejit::ir {
namespace {

// A 0-d constant's value. Integers are held normalized for their dtype (sign- or zero-extended
// bit pattern; bools 0/1); floats as double (an f32 value is exactly representable).
struct Scalar {
  int64_t i = 0;
  double f = 0.0;
};

int64_t normalize(DType d, uint64_t u) {
  if (is_bool(d)) return u != 0;
  int bits = dtype_size(d) * 8;
  if (bits == 64) return static_cast<int64_t>(u);
  uint64_t mask = (uint64_t{1} << bits) - 1;
  u &= mask;
  if (is_signed_int(d) && (u >> (bits - 1))) u |= ~mask;  // sign-extend
  return static_cast<int64_t>(u);
}

std::optional<Scalar> const_value(const Graph& g, ValueId v) {
  const Node& n = g.node(v);
  if (n.op != Op::Const || !n.type.is_scalar()) return std::nullopt;
  if (is_float(n.type.dtype)) return Scalar{0, n.fval};
  if (n.ints.size() != 1) return std::nullopt;
  return Scalar{n.ints[0], 0.0};
}

bool int_less(DType d, int64_t a, int64_t b) {
  return is_unsigned_int(d) ? static_cast<uint64_t>(a) < static_cast<uint64_t>(b) : a < b;
}

std::optional<bool> compare(Op op, DType d, const Scalar& a, const Scalar& b) {
  if (is_float(d)) {
    switch (op) {
      case Op::Eq: return a.f == b.f;
      case Op::Ne: return a.f != b.f;
      case Op::Lt: return a.f < b.f;
      case Op::Le: return a.f <= b.f;
      case Op::Gt: return a.f > b.f;
      case Op::Ge: return a.f >= b.f;
      default: return std::nullopt;
    }
  }
  switch (op) {
    case Op::Eq: return a.i == b.i;
    case Op::Ne: return a.i != b.i;
    case Op::Lt: return int_less(d, a.i, b.i);
    case Op::Le: return !int_less(d, b.i, a.i);
    case Op::Gt: return int_less(d, b.i, a.i);
    case Op::Ge: return !int_less(d, a.i, b.i);
    default: return std::nullopt;
  }
}

// Float arithmetic in the dtype's own precision, so f32 rounds once, like NumPy's f32 loops.
template <typename F>
std::optional<double> float_binary(Op op, F x, F y) {
  F r;
  switch (op) {
    case Op::Add: r = x + y; break;
    case Op::Sub: r = x - y; break;
    case Op::Mul: r = x * y; break;
    case Op::Div: r = x / y; break;
    case Op::Maximum:
    case Op::Minimum:
      // max(-0.0, 0.0) depends on the operand order of NumPy's loop: leave it to run time.
      if (std::isnan(x) || std::isnan(y) || (x == y && std::signbit(x) != std::signbit(y))) return std::nullopt;
      r = (op == Op::Maximum) == (x > y) ? x : y;
      break;
    default: return std::nullopt;
  }
  if (std::isnan(r)) return std::nullopt;
  return static_cast<double>(r);
}

std::optional<int64_t> int_binary(Op op, DType d, int64_t a, int64_t b) {
  auto ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
  if (is_bool(d)) {  // NumPy's bool loops: add is or, mul is and; sub is an error.
    switch (op) {
      case Op::Add: case Op::Or: case Op::Maximum: return a | b;
      case Op::Mul: case Op::And: case Op::Minimum: return a & b;
      case Op::Xor: return a ^ b;
      default: return std::nullopt;
    }
  }
  switch (op) {
    case Op::Add: return normalize(d, ua + ub);
    case Op::Sub: return normalize(d, ua - ub);
    case Op::Mul: return normalize(d, ua * ub);
    case Op::And: return normalize(d, ua & ub);
    case Op::Or: return normalize(d, ua | ub);
    case Op::Xor: return normalize(d, ua ^ ub);
    case Op::Maximum: return int_less(d, a, b) ? b : a;
    case Op::Minimum: return int_less(d, a, b) ? a : b;
    default: return std::nullopt;
  }
}

std::optional<Scalar> fold_unary(Op op, DType d, const Scalar& a) {
  if (is_float(d)) {
    // neg and abs only touch the sign bit, so even NaNs fold exactly.
    if (op == Op::Neg) return Scalar{0, -a.f};
    if (op == Op::Abs) return Scalar{0, std::fabs(a.f)};
    return std::nullopt;
  }
  auto u = static_cast<uint64_t>(a.i);
  if (is_bool(d)) {
    if (op == Op::Abs) return a;
    if (op == Op::Not) return Scalar{1 - a.i, 0};
    return std::nullopt;  // NumPy rejects negative on bool
  }
  if (op == Op::Neg) return Scalar{normalize(d, 0 - u), 0};
  if (op == Op::Abs) return is_signed_int(d) && a.i < 0 ? Scalar{normalize(d, 0 - u), 0} : a;
  if (op == Op::Not) return Scalar{normalize(d, ~u), 0};
  return std::nullopt;
}

std::optional<Scalar> fold_cast(DType from, DType to, const Scalar& a) {
  if (is_bool(to)) return Scalar{is_float(from) ? a.f != 0.0 : a.i != 0, 0};  // NaN -> true
  if (!is_float(from)) {
    bool u64 = from == DType::U64;
    if (!is_float(to)) return Scalar{normalize(to, static_cast<uint64_t>(a.i)), 0};
    if (to == DType::F32)
      return Scalar{0, u64 ? static_cast<float>(static_cast<uint64_t>(a.i)) : static_cast<float>(a.i)};
    return Scalar{0, u64 ? static_cast<double>(static_cast<uint64_t>(a.i)) : static_cast<double>(a.i)};
  }
  if (std::isnan(a.f)) return std::nullopt;
  if (to == DType::F32) {
    // A finite double beyond float's range: NumPy's cast warns "overflow"; left to run time.
    float r = static_cast<float>(a.f);
    if (std::isinf(r) && !std::isinf(a.f)) return std::nullopt;
    return Scalar{0, static_cast<double>(r)};
  }
  if (to == DType::F64) return Scalar{0, a.f};
  // float -> int is undefined in C outside the target's range; NumPy's answer is then the
  // hardware's, so fold only in range.
  if (std::isinf(a.f)) return std::nullopt;
  double t = std::trunc(a.f);
  int bits = dtype_size(to) * 8;
  double lo = is_signed_int(to) ? -std::ldexp(1.0, bits - 1) : 0.0;
  double hi = std::ldexp(1.0, is_signed_int(to) ? bits - 1 : bits);
  if (t < lo || t >= hi) return std::nullopt;
  if (to == DType::U64) return Scalar{static_cast<int64_t>(static_cast<uint64_t>(t)), 0};
  return Scalar{normalize(to, static_cast<uint64_t>(static_cast<int64_t>(t))), 0};
}

std::optional<Scalar> evaluate(const Graph& g, const Node& n) {
  std::vector<Scalar> in;
  for (ValueId o : n.operands) {
    std::optional<Scalar> s = const_value(g, o);
    if (!s) return std::nullopt;
    in.push_back(*s);
  }
  if (in.empty()) return std::nullopt;
  DType d = g.type(n.operands[0]).dtype;
  if (n.op == Op::Cast) return fold_cast(d, n.type.dtype, in[0]);
  if (n.op == Op::Where) return in[0].i ? in[1] : in[2];
  if (in.size() == 1) return fold_unary(n.op, d, in[0]);
  if (in.size() != 2) return std::nullopt;
  if (has_trait(n.op, kCompare)) {
    std::optional<bool> c = compare(n.op, d, in[0], in[1]);
    return c ? std::optional<Scalar>(Scalar{*c, 0}) : std::nullopt;
  }
  std::optional<double> f;
  if (d == DType::F32) f = float_binary<float>(n.op, static_cast<float>(in[0].f), static_cast<float>(in[1].f));
  if (d == DType::F64) f = float_binary<double>(n.op, in[0].f, in[1].f);
  if (is_float(d)) return f ? std::optional<Scalar>(Scalar{0, *f}) : std::nullopt;
  std::optional<int64_t> i = int_binary(n.op, d, in[0].i, in[1].i);
  return i ? std::optional<Scalar>(Scalar{*i, 0}) : std::nullopt;
}

bool is_int_const(const Graph& g, ValueId v, int64_t value) {
  std::optional<Scalar> s = const_value(g, v);
  return s && is_integer(g.type(v).dtype) && s->i == value;
}

// Whether `n` is NumPy scalar arithmetic that checks overflow (checks_scalar_overflow) on
// constants whose exact result does not fit its dtype: left to run, so it reports the overflow.
bool wraps_checked(const Graph& g, const Node& n) {
  if (!checks_scalar_overflow(n) || !is_integer(n.type.dtype) || is_bool(n.type.dtype)) return false;
  std::vector<__int128> v;
  for (ValueId o : n.operands) {
    std::optional<Scalar> c = const_value(g, o);
    if (!c) return false;  // not foldable anyway
    v.push_back(n.type.dtype == DType::U64 ? static_cast<__int128>(static_cast<uint64_t>(c->i))
                                           : static_cast<__int128>(c->i));
  }
  __int128 r = 0;
  switch (n.op) {
    case Op::Add: r = v[0] + v[1]; break;
    case Op::Sub: r = v[0] - v[1]; break;
    case Op::Mul:
      if (__builtin_mul_overflow(v[0], v[1], &r)) return true;
      break;
    case Op::Neg: r = -v[0]; break;
    case Op::Abs: r = v[0] < 0 ? -v[0] : v[0]; break;
    default: return false;
  }
  const DType d = n.type.dtype;
  const int bits = 8 * static_cast<int>(dtype_size(d));
  if (is_signed_int(d)) {
    const __int128 lim = static_cast<__int128>(1) << (bits - 1);
    return r < -lim || r >= lim;
  }
  return r < 0 || r >= (static_cast<__int128>(1) << bits);
}

// The operand an exact identity reduces `n` to, or kNoValue.
ValueId identity_operand(const Graph& g, const Node& n) {
  auto keep = [&](ValueId v) { return g.type(v) == n.type ? v : kNoValue; };
  const std::vector<ValueId>& o = n.operands;
  if (n.op == Op::Cast) return is_c_order_copy(n) ? kNoValue : keep(o[0]);
  if (n.op == Op::Transpose) {
    for (size_t d = 0; d < n.ints.size(); ++d)
      if (n.ints[d] != static_cast<int64_t>(d)) return kNoValue;
    return keep(o[0]);
  }
  if (n.op == Op::Where) {
    std::optional<Scalar> c = const_value(g, o[0]);
    return c ? keep(c->i ? o[1] : o[2]) : kNoValue;
  }
  if (n.op == Op::DynUpdate) {
    // A window that covers every element in order (extent <= 1 or step 1 on each axis; in
    // bounds, so its starts are 0) replaces the whole operand.
    const Type& v = g.type(o[1]);
    if (v != n.type) return kNoValue;
    for (int d = 0; d < v.rank(); ++d)
      if (v.shape[static_cast<size_t>(d)].size > 1 && n.ints[static_cast<size_t>(d)] != 1) return kNoValue;
    return o[1];
  }
  if (!is_integer(n.type.dtype)) return kNoValue;  // float x*1, x+0 are not exact for -0.0/NaN
  if (n.op == Op::Mul || n.op == Op::Add) {
    int64_t unit = n.op == Op::Mul ? 1 : 0;
    if (is_int_const(g, o[1], unit)) return keep(o[0]);
    if (is_int_const(g, o[0], unit)) return keep(o[1]);
  }
  if (n.op == Op::Sub && is_int_const(g, o[1], 0)) return keep(o[0]);
  return kNoValue;
}

}  // namespace

bool fold(Graph& g) {
  std::vector<int> uses(g.nodes.size(), 0);
  for (const Node& n : g.nodes)
    for (ValueId o : n.operands) ++uses[static_cast<size_t>(o)];
  for (ValueId r : g.results) ++uses[static_cast<size_t>(r)];

  std::vector<ValueId> replace(g.nodes.size());
  bool changed = false;
  for (ValueId v = 0; v < g.size(); ++v) {
    replace[static_cast<size_t>(v)] = v;
    Node& n = g.node(v);
    for (ValueId& o : n.operands) o = replace[static_cast<size_t>(o)];
    if (has_trait(n.op, kSource) || !has_trait(n.op, kPure)) continue;
    if (has_trait(n.op, kRegion) || n.op == Op::LoopResult) continue;  // bodies: run_pipeline
    if (n.type.is_scalar() && !wraps_checked(g, n)) {
      if (std::optional<Scalar> s = evaluate(g, n)) {
        n.op = Op::Const;
        n.operands.clear();
        n.ints.clear();
        n.fval = 0.0;
        if (is_float(n.type.dtype)) {
          n.fval = s->f;
        } else {
          n.ints = {s->i};
        }
        changed = true;
        continue;
      }
    }
    // A node nobody uses is left for dce; rewriting it again would never reach a fixed point.
    if (uses[static_cast<size_t>(v)] == 0) continue;
    // transpose(transpose(x, p), q) = transpose(x, p[q]) (a transposed input read through `.T`).
    if (n.op == Op::Transpose && g.node(n.operands[0]).op == Op::Transpose) {
      const Node& inner = g.node(n.operands[0]);
      std::vector<int64_t> composed(n.ints.size());
      for (size_t i = 0; i < n.ints.size(); ++i) composed[i] = inner.ints[static_cast<size_t>(n.ints[i])];
      n.operands = {inner.operands[0]};
      n.ints = std::move(composed);
      changed = true;
    }
    ValueId keep = identity_operand(g, n);
    if (keep != kNoValue) {
      replace[static_cast<size_t>(v)] = keep;
      changed = true;
    }
  }
  for (ValueId& r : g.results) r = replace[static_cast<size_t>(r)];
  return changed;
}

}  // namespace tracejit::ir
