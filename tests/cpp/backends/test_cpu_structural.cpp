// Structural ops (reductions, argmax/argmin, matmul, views, concat, iota) and the rounding /
// classification / libm elementwise ops, against a whole-array reference evaluator.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <random>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "backend_test_util.h"
#include "backends/cpu/cpu_backend.h"
#include "backends/cpu/materialize.h"

namespace tracejit::backends::testing {
namespace {

using ir::Dim;
using ir::Type;
using ir::ValueId;

// ---- A whole-array reference: floats as double (f32 rounded after each op), ints as int64
// wrapped to their width (u64 as its bit pattern), bool as 0/1. ----
struct Arr {
  DType d = DType::F64;
  std::vector<int64_t> shape;
  std::vector<double> f;
  std::vector<int64_t> i;
  int64_t n() const { return numel_of(shape); }
  static int64_t numel_of(const std::vector<int64_t>& s) {
    int64_t k = 1;
    for (int64_t x : s) k *= x;
    return k;
  }
};

bool isf(DType d) { return ir::is_float(d); }

int64_t wrap(DType d, int64_t v) {
  if (d == DType::Bool) return v != 0;
  int bits = ir::dtype_size(d) * 8;
  if (bits == 64) return v;
  uint64_t m = (uint64_t{1} << bits) - 1, u = static_cast<uint64_t>(v) & m;
  if (ir::is_signed_int(d) && (u >> (bits - 1))) u |= ~m;
  return static_cast<int64_t>(u);
}

double round_to(DType d, double x) { return d == DType::F32 ? static_cast<double>(static_cast<float>(x)) : x; }

Arr make_arr(DType d, std::vector<int64_t> shape) {
  Arr a;
  a.d = d;
  a.shape = std::move(shape);
  if (isf(d)) a.f.assign(static_cast<size_t>(a.n()), 0.0);
  else a.i.assign(static_cast<size_t>(a.n()), 0);
  return a;
}

std::vector<int64_t> shape_of(const Type& t) {
  std::vector<int64_t> s;
  for (const Dim& d : t.shape) s.push_back(d.size);
  return s;
}

int64_t flat(const std::vector<int64_t>& idx, const std::vector<int64_t>& shape) {
  int64_t f = 0;
  for (size_t a = 0; a < shape.size(); ++a) f = f * shape[a] + idx[a];
  return f;
}

int64_t bcast_flat(const std::vector<int64_t>& idx, const std::vector<int64_t>& oshape) {
  size_t lead = idx.size() - oshape.size();
  int64_t f = 0;
  for (size_t a = 0; a < oshape.size(); ++a) f = f * oshape[a] + (oshape[a] == 1 ? 0 : idx[lead + a]);
  return f;
}

double ref_float_unary(Op op, double x) {
  switch (op) {
    case Op::Neg: return -x;
    case Op::Abs: return std::fabs(x);
    case Op::Sqrt: return std::sqrt(x);
    case Op::Exp: return std::exp(x);
    case Op::Log: return std::log(x);
    case Op::Floor: return std::floor(x);
    case Op::Ceil: return std::ceil(x);
    case Op::Trunc: return std::trunc(x);
    case Op::Rint: return std::nearbyint(x);
    case Op::Sign: return x > 0 ? 1.0 : x < 0 ? -1.0 : x == 0 ? 0.0 : x;
    default: ADD_FAILURE() << "no float reference for " << ir::op_name(op); return x;
  }
}

double ref_float_binary(Op op, double a, double b) {
  switch (op) {
    case Op::Add: return a + b;
    case Op::Sub: return a - b;
    case Op::Mul: return a * b;
    case Op::Div: return a / b;
    case Op::Maximum: return (a > b || std::isnan(a)) ? a : b;
    case Op::Minimum: return (a < b || std::isnan(a)) ? a : b;
    case Op::Fmax: return (a > b || std::isnan(b)) ? a : b;
    case Op::Fmin: return (a < b || std::isnan(b)) ? a : b;
    case Op::CopySign: return std::copysign(a, b);
    default: ADD_FAILURE() << "no float reference for " << ir::op_name(op); return a;
  }
}

int64_t ref_int_binary(Op op, DType d, int64_t a, int64_t b) {
  bool u = ir::is_unsigned_int(d) || d == DType::Bool;
  auto ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
  auto gt = [&] { return u ? ua > ub : a > b; };
  auto lt = [&] { return u ? ua < ub : a < b; };
  switch (op) {
    case Op::Add: return d == DType::Bool ? (a | b) : static_cast<int64_t>(ua + ub);
    case Op::Sub: return static_cast<int64_t>(ua - ub);
    case Op::Mul: return d == DType::Bool ? (a & b) : static_cast<int64_t>(ua * ub);
    case Op::Maximum: case Op::Fmax: return gt() ? a : b;
    case Op::Minimum: case Op::Fmin: return lt() ? a : b;
    default: ADD_FAILURE() << "no int reference for " << ir::op_name(op); return a;
  }
}

Arr ref_eval(const ir::Graph& g, const std::vector<Arr>& inputs, ValueId v, std::map<ValueId, Arr>& memo);

Arr ref_node(const ir::Graph& g, const std::vector<Arr>& inputs, ValueId v, std::map<ValueId, Arr>& memo) {
  const ir::Node& n = g.node(v);
  DType d = n.type.dtype;
  auto shape = shape_of(n.type);
  Arr r = make_arr(d, shape);
  auto op = [&](size_t k) { return ref_eval(g, inputs, n.operands[k], memo); };
  auto get_f = [](const Arr& a, int64_t k) { return isf(a.d) ? a.f[static_cast<size_t>(k)] : static_cast<double>(a.i[static_cast<size_t>(k)]); };
  auto for_each = [&](const std::vector<int64_t>& s, const std::function<void(const std::vector<int64_t>&)>& fn) {
    int64_t total = Arr::numel_of(s);
    for (int64_t k = 0; k < total; ++k) fn(unravel(k, s));
  };
  auto set = [&](Arr& a, int64_t k, const Arr& src, int64_t j) {
    if (isf(a.d)) a.f[static_cast<size_t>(k)] = src.f[static_cast<size_t>(j)];
    else a.i[static_cast<size_t>(k)] = src.i[static_cast<size_t>(j)];
  };
  switch (n.op) {
    case Op::Param: return inputs[static_cast<size_t>(n.ints[0])];
    case Op::Const:
      if (isf(d)) r.f[0] = round_to(d, n.fval);
      else r.i[0] = wrap(d, n.ints[0]);
      return r;
    case Op::Iota:
      for_each(shape, [&](const auto& idx) {
        int64_t k = flat(idx, shape), v2 = idx[static_cast<size_t>(n.ints[0])];
        if (isf(d)) r.f[static_cast<size_t>(k)] = static_cast<double>(v2);
        else r.i[static_cast<size_t>(k)] = wrap(d, v2);
      });
      return r;
    case Op::Broadcast: {
      Arr x = op(0);
      for_each(shape, [&](const auto& idx) { set(r, flat(idx, shape), x, bcast_flat(idx, x.shape)); });
      return r;
    }
    case Op::Transpose: {
      Arr x = op(0);
      for_each(shape, [&](const auto& idx) {
        std::vector<int64_t> j(idx.size());
        for (size_t a = 0; a < idx.size(); ++a) j[static_cast<size_t>(n.ints[a])] = idx[a];
        set(r, flat(idx, shape), x, flat(j, x.shape));
      });
      return r;
    }
    case Op::Slice: {
      Arr x = op(0);
      for_each(shape, [&](const auto& idx) {
        std::vector<int64_t> j(idx.size());
        for (size_t a = 0; a < idx.size(); ++a) j[a] = n.ints[2 * a] + idx[a] * n.ints[2 * a + 1];
        set(r, flat(idx, shape), x, flat(j, x.shape));
      });
      return r;
    }
    case Op::Reshape: {
      Arr x = op(0);
      x.shape = shape;
      return x;
    }
    case Op::Gather: {
      // ir/ops.def: the index as i64 (narrow unsigned zero-extended), mapped by the mode.
      Arr x = op(0), ix = op(1);
      const auto axis = static_cast<size_t>(n.ints[0]);
      const size_t ri = ix.shape.size();
      const int64_t len = x.shape[axis];
      for_each(shape, [&](const auto& idx) {
        std::vector<int64_t> j(idx.begin() + static_cast<std::ptrdiff_t>(axis),
                               idx.begin() + static_cast<std::ptrdiff_t>(axis + ri));
        int64_t k = ix.i[static_cast<size_t>(flat(j, ix.shape))];
        if (n.ints[1] == 1) k = ((k % len) + len) % len;
        else if (n.ints[1] == 2) k = std::clamp<int64_t>(k, 0, len - 1);
        else k = k < 0 ? k + len : k, k = k >= 0 && k < len ? k : 0;
        std::vector<int64_t> xi(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(axis));
        xi.push_back(k);
        xi.insert(xi.end(), idx.begin() + static_cast<std::ptrdiff_t>(axis + ri), idx.end());
        set(r, flat(idx, shape), x, flat(xi, x.shape));
      });
      return r;
    }
    case Op::Scatter: {
      // ir/ops.def: x, then v's elements in C order at their (mode-0 mapped) indices; an index
      // outside the axis writes nothing.
      Arr x = op(0), ix = op(1), v = op(2);
      const auto axis = static_cast<size_t>(n.ints[0]);
      const size_t ri = ix.shape.size();
      const int64_t len = x.shape[axis];
      for_each(shape, [&](const auto& idx) { set(r, flat(idx, shape), x, flat(idx, shape)); });
      for_each(v.shape, [&](const auto& idx) {
        std::vector<int64_t> j(idx.begin() + static_cast<std::ptrdiff_t>(axis),
                               idx.begin() + static_cast<std::ptrdiff_t>(axis + ri));
        int64_t k = ix.i[static_cast<size_t>(flat(j, ix.shape))];
        k = k < 0 ? k + len : k;
        if (k < 0 || k >= len) return;
        std::vector<int64_t> xi(idx.begin(), idx.begin() + static_cast<std::ptrdiff_t>(axis));
        xi.push_back(k);
        xi.insert(xi.end(), idx.begin() + static_cast<std::ptrdiff_t>(axis + ri), idx.end());
        const int64_t to = flat(xi, shape), from = flat(idx, v.shape);
        const int64_t how = n.ints.size() > 1 ? n.ints[1] : 0;
        if (how == 0) return set(r, to, v, from);
        const Op op = how == 1 ? Op::Add : how == 2 ? Op::Mul : how == 3 ? Op::Maximum : Op::Minimum;
        if (isf(d)) {
          double& o = r.f[static_cast<size_t>(to)];
          o = round_to(d, ref_float_binary(op, o, v.f[static_cast<size_t>(from)]));
        } else {
          int64_t& o = r.i[static_cast<size_t>(to)];
          o = wrap(d, ref_int_binary(op, d, o, v.i[static_cast<size_t>(from)]));
        }
      });
      return r;
    }
    case Op::Concat: {
      auto axis = static_cast<size_t>(n.ints[0]);
      int64_t off = 0;
      for (size_t k = 0; k < n.operands.size(); ++k) {
        Arr x = op(k);
        for_each(x.shape, [&](const auto& idx) {
          auto j = idx;
          j[axis] += off;
          set(r, flat(j, shape), x, flat(idx, x.shape));
        });
        off += x.shape[axis];
      }
      return r;
    }
    case Op::MatMul: {
      Arr a = op(0), b = op(1);
      size_t rank = shape.size();
      int64_t K = a.shape.back();
      for_each(shape, [&](const auto& idx) {
        std::vector<int64_t> ai(idx.begin(), idx.end() - 2), bi = ai;
        double fs = 0;
        int64_t is = 0;
        for (int64_t k = 0; k < K; ++k) {
          auto ia = ai, ib = bi;
          ia.push_back(idx[rank - 2]), ia.push_back(k);
          ib.push_back(k), ib.push_back(idx[rank - 1]);
          int64_t fa = bcast_flat(ia, a.shape), fb = bcast_flat(ib, b.shape);
          if (isf(d)) fs += get_f(a, fa) * get_f(b, fb);
          else is = d == DType::Bool ? (is | (a.i[static_cast<size_t>(fa)] & b.i[static_cast<size_t>(fb)]))
                                     : static_cast<int64_t>(static_cast<uint64_t>(is) + static_cast<uint64_t>(a.i[static_cast<size_t>(fa)]) * static_cast<uint64_t>(b.i[static_cast<size_t>(fb)]));
        }
        int64_t k2 = flat(idx, shape);
        if (isf(d)) r.f[static_cast<size_t>(k2)] = round_to(d, fs);
        else r.i[static_cast<size_t>(k2)] = wrap(d, is);
      });
      return r;
    }
    case Op::ArgMax:
    case Op::ArgMin: {
      Arr x = op(0);
      auto axis = static_cast<size_t>(n.ints[0]);
      for_each(shape, [&](const auto& idx) {
        auto j = idx;
        int64_t best = 0;
        for (int64_t k = 1; k < x.shape[axis]; ++k) {
          j[axis] = k;
          auto jb = idx;
          jb[axis] = best;
          bool upd;
          if (isf(x.d)) {
            double v2 = x.f[static_cast<size_t>(flat(j, x.shape))], b2 = x.f[static_cast<size_t>(flat(jb, x.shape))];
            upd = (n.op == Op::ArgMax ? v2 > b2 : v2 < b2) || (std::isnan(v2) && !std::isnan(b2));
          } else {
            int64_t v2 = x.i[static_cast<size_t>(flat(j, x.shape))], b2 = x.i[static_cast<size_t>(flat(jb, x.shape))];
            bool u = !ir::is_signed_int(x.d);
            bool gt = u ? static_cast<uint64_t>(v2) > static_cast<uint64_t>(b2) : v2 > b2;
            bool lt = u ? static_cast<uint64_t>(v2) < static_cast<uint64_t>(b2) : v2 < b2;
            upd = n.op == Op::ArgMax ? gt : lt;
          }
          if (upd) best = k;
        }
        r.i[static_cast<size_t>(flat(idx, shape))] = best;
      });
      return r;
    }
    case Op::ScanSum:
    case Op::ScanProd: {  // in order, each step rounded to the dtype (NumPy's accumulate)
      Arr x = op(0);
      auto axis = static_cast<size_t>(n.ints[0]);
      Op step = n.op == Op::ScanSum ? Op::Add : Op::Mul;
      for_each(shape, [&](const auto& idx) {  // C order: the previous step is done
        auto k = static_cast<size_t>(flat(idx, shape));
        auto p = idx;
        bool first = idx[axis] == 0;
        if (!first) p[axis] -= 1;
        auto pk = static_cast<size_t>(flat(p, shape));
        if (isf(d)) r.f[k] = first ? x.f[k] : round_to(d, ref_float_binary(step, r.f[pk], x.f[k]));
        else r.i[k] = first ? x.i[k] : wrap(d, ref_int_binary(step, d, r.i[pk], x.i[k]));
      });
      return r;
    }
    case Op::ReduceSum: case Op::ReduceProd: case Op::ReduceMax: case Op::ReduceMin:
    case Op::ReduceAny: case Op::ReduceAll: {
      Arr x = op(0);
      // Float sums in long double (the test then allows a small relative error).
      std::vector<long double> facc(static_cast<size_t>(r.n()));
      std::vector<int64_t> iacc(static_cast<size_t>(r.n()));
      std::vector<bool> nan(static_cast<size_t>(r.n()), false);
      bool mx = n.op == Op::ReduceMax;
      for (size_t k = 0; k < facc.size(); ++k) {
        switch (n.op) {
          case Op::ReduceSum: case Op::ReduceAny: facc[k] = 0, iacc[k] = 0; break;
          case Op::ReduceProd: case Op::ReduceAll: facc[k] = 1, iacc[k] = 1; break;
          default:
            facc[k] = mx ? -INFINITY : INFINITY;
            iacc[k] = d == DType::Bool ? !mx : ir::is_signed_int(d) ? (mx ? std::numeric_limits<int64_t>::min() : std::numeric_limits<int64_t>::max())
                                                                    : (mx ? 0 : -1);
        }
      }
      for_each(x.shape, [&](const auto& idx) {
        auto j = idx;
        for (int64_t a : n.ints) j[static_cast<size_t>(a)] = 0;
        auto o = static_cast<size_t>(flat(j, shape));
        int64_t k = flat(idx, x.shape);
        if (isf(d)) {
          double v2 = x.f[static_cast<size_t>(k)];
          if (std::isnan(v2)) nan[o] = true;
          if (n.op == Op::ReduceSum) facc[o] += v2;
          else if (n.op == Op::ReduceProd) facc[o] = round_to(d, static_cast<double>(facc[o] * v2));
          else if (!std::isnan(v2)) facc[o] = mx ? std::max<long double>(facc[o], v2) : std::min<long double>(facc[o], v2);
        } else {
          int64_t v2 = x.i[static_cast<size_t>(k)];
          bool u = !ir::is_signed_int(d);
          switch (n.op) {
            case Op::ReduceSum: iacc[o] = ref_int_binary(Op::Add, d, iacc[o], v2); break;
            case Op::ReduceProd: iacc[o] = ref_int_binary(Op::Mul, d, iacc[o], v2); break;
            case Op::ReduceAny: iacc[o] = iacc[o] | v2; break;
            case Op::ReduceAll: iacc[o] = iacc[o] & v2; break;
            default: {
              bool gt = u ? static_cast<uint64_t>(v2) > static_cast<uint64_t>(iacc[o]) : v2 > iacc[o];
              bool lt = u ? static_cast<uint64_t>(v2) < static_cast<uint64_t>(iacc[o]) : v2 < iacc[o];
              if (mx ? gt : lt) iacc[o] = v2;
            }
          }
        }
      });
      for (size_t k = 0; k < facc.size(); ++k) {
        if (isf(d)) {
          double v2 = static_cast<double>(facc[k]);
          if (nan[k] && (n.op == Op::ReduceMax || n.op == Op::ReduceMin)) v2 = NAN;
          r.f[k] = round_to(d, v2);
        } else {
          r.i[k] = wrap(d, iacc[k]);
        }
      }
      return r;
    }
    default: break;
  }
  // Elementwise.
  std::vector<Arr> xs;
  for (size_t k = 0; k < n.operands.size(); ++k) xs.push_back(op(k));
  for_each(shape, [&](const auto& idx) {
    int64_t k = flat(idx, shape);
    std::vector<int64_t> js;
    for (const Arr& x : xs) js.push_back(bcast_flat(idx, x.shape));
    DType in = xs[0].d;
    if (n.op == Op::Cast) {
      if (isf(d)) r.f[static_cast<size_t>(k)] = round_to(d, get_f(xs[0], js[0]));
      else r.i[static_cast<size_t>(k)] = wrap(d, isf(in) ? (d == DType::Bool ? xs[0].f[static_cast<size_t>(js[0])] != 0 : static_cast<int64_t>(xs[0].f[static_cast<size_t>(js[0])])) : xs[0].i[static_cast<size_t>(js[0])]);
      return;
    }
    if (n.op == Op::SignBit) {
      r.i[static_cast<size_t>(k)] = std::signbit(xs[0].f[static_cast<size_t>(js[0])]);
      return;
    }
    if (n.op == Op::IsNan || n.op == Op::IsInf || n.op == Op::IsFinite) {
      double x = xs[0].f[static_cast<size_t>(js[0])];
      r.i[static_cast<size_t>(k)] = n.op == Op::IsNan ? std::isnan(x) : n.op == Op::IsInf ? std::isinf(x) : std::isfinite(x);
      return;
    }
    if (isf(in)) {
      double v2 = xs.size() == 1 ? ref_float_unary(n.op, xs[0].f[static_cast<size_t>(js[0])])
                                 : ref_float_binary(n.op, xs[0].f[static_cast<size_t>(js[0])], xs[1].f[static_cast<size_t>(js[1])]);
      r.f[static_cast<size_t>(k)] = round_to(d, v2);
    } else if (xs.size() == 1 && n.op == Op::Sign) {
      int64_t x = xs[0].i[static_cast<size_t>(js[0])];
      r.i[static_cast<size_t>(k)] = ir::is_signed_int(in) ? (x > 0) - (x < 0) : x != 0;
    } else {
      r.i[static_cast<size_t>(k)] = wrap(d, ref_int_binary(n.op, d, xs[0].i[static_cast<size_t>(js[0])], xs[1].i[static_cast<size_t>(js[1])]));
    }
  });
  return r;
}

Arr ref_eval(const ir::Graph& g, const std::vector<Arr>& inputs, ValueId v, std::map<ValueId, Arr>& memo) {
  if (auto it = memo.find(v); it != memo.end()) return it->second;
  Arr a = ref_node(g, inputs, v, memo);
  memo[v] = a;
  return a;
}

Buffer to_buffer(const Arr& a) {
  Buffer b = make_buffer(a.d, a.shape);
  dispatch(a.d, [&](auto t) {
    using T = decltype(t);
    for (int64_t k = 0; k < a.n(); ++k) {
      if constexpr (std::is_floating_point_v<T>) b.set<T>(k, static_cast<T>(a.f[static_cast<size_t>(k)]));
      else if constexpr (std::is_same_v<T, bool>) b.set<T>(k, a.i[static_cast<size_t>(k)] != 0);
      else b.set<T>(k, static_cast<T>(a.i[static_cast<size_t>(k)]));
    }
  });
  return b;
}

Arr from_buffer(const Buffer& b) {
  Arr a = make_arr(b.dtype, b.shape);
  dispatch(b.dtype, [&](auto t) {
    using T = decltype(t);
    for (int64_t k = 0; k < a.n(); ++k) {
      if constexpr (std::is_floating_point_v<T>) a.f[static_cast<size_t>(k)] = b.get<T>(k);
      else if constexpr (std::is_same_v<T, bool>) a.i[static_cast<size_t>(k)] = b.get<T>(k);
      else a.i[static_cast<size_t>(k)] = static_cast<int64_t>(b.get<T>(k));
    }
  });
  return a;
}

Arr random_arr(DType d, std::vector<int64_t> shape, uint32_t seed, double nan_rate = 0.0) {
  std::mt19937 rng(seed);
  Arr a = make_arr(d, shape);
  std::uniform_int_distribution<int> small(-8, 8);
  std::uniform_real_distribution<double> u(0, 1);
  for (int64_t k = 0; k < a.n(); ++k) {
    if (isf(d)) a.f[static_cast<size_t>(k)] = u(rng) < nan_rate ? NAN : round_to(d, small(rng) * 0.25);
    else a.i[static_cast<size_t>(k)] = wrap(d, d == DType::Bool ? (small(rng) > 0) : small(rng) * 37);
  }
  return a;
}

// Compiles and runs `g`; compares with the reference (floats: rel_tol; ints exact; NaN == NaN;
// signed zeros distinguished when rel_tol == 0).
void check(const ir::Graph& g, const std::vector<Arr>& in, double rel_tol = 0.0, std::vector<Buffer>* strided = nullptr) {
  auto k = compile_cpu(g);
  ASSERT_TRUE(k) << k.status().message();
  std::vector<Buffer> bufs;
  if (strided) bufs = *strided;
  else for (const Arr& a : in) bufs.push_back(to_buffer(a));
  auto outs = run_kernel(g, **k, bufs);
  std::map<ValueId, Arr> memo;
  for (size_t r = 0; r < g.results.size(); ++r) {
    Arr want = ref_eval(g, in, g.results[r], memo);
    Arr got = from_buffer(outs[r]);
    ASSERT_EQ(want.n(), got.n());
    for (int64_t e = 0; e < want.n(); ++e) {
      auto i = static_cast<size_t>(e);
      if (isf(want.d)) {
        double w = want.f[i], h = got.f[i];
        if (std::isnan(w) || std::isnan(h)) {
          ASSERT_TRUE(std::isnan(w) && std::isnan(h)) << "result " << r << " element " << e << ": got " << h << " want " << w;
        } else if (rel_tol == 0.0) {
          ASSERT_TRUE(w == h && std::signbit(w) == std::signbit(h)) << "result " << r << " element " << e << ": got " << h << " want " << w;
        } else {
          ASSERT_LE(std::fabs(w - h), rel_tol * std::max(1.0, std::fabs(w))) << "result " << r << " element " << e << ": got " << h << " want " << w;
        }
      } else {
        ASSERT_EQ(want.i[i], got.i[i]) << "result " << r << " element " << e;
      }
    }
  }
}

Type T(DType d, std::vector<int64_t> s) { return Type::of(d, s); }

std::vector<int64_t> reduced_shape(std::vector<int64_t> s, const std::vector<int64_t>& axes) {
  for (int64_t a : axes) s[static_cast<size_t>(a)] = 1;
  return s;
}

// ---- Reductions ----

// One graph per op, dtype and shape holds the reduction over every subset of the axes (one
// result each, all reading the same input): a compile per shape, not per subset.
TEST(CpuStructural, ReductionsEveryAxisSubset) {
  const Op kOps[] = {Op::ReduceSum, Op::ReduceProd, Op::ReduceMax, Op::ReduceMin, Op::ReduceAny, Op::ReduceAll};
  const std::vector<std::vector<int64_t>> kShapes = {{}, {7}, {0}, {3, 5}, {2, 1, 130}, {3, 0, 4}, {2, 3, 4, 5}};
  for (Op op : kOps)
    for (DType d : {DType::Bool, DType::I8, DType::I32, DType::I64, DType::U8, DType::U64, DType::F32, DType::F64}) {
      bool boolop = op == Op::ReduceAny || op == Op::ReduceAll;
      if (boolop != (d == DType::Bool) && !(d == DType::Bool && (op == Op::ReduceMax || op == Op::ReduceMin))) continue;
      bool maxmin = op == Op::ReduceMax || op == Op::ReduceMin;
      for (size_t si = 0; si < kShapes.size(); ++si) {
        const auto& shape = kShapes[si];
        if (maxmin && Arr::numel_of(shape) == 0) continue;
        SCOPED_TRACE(fmt::format("{} {} {}", ir::op_name(op), ir::dtype_name(d), fmt::join(shape, "x")));
        ir::Graph g;
        ValueId x = g.add_param(T(d, shape), ir::ParamLayout::Contiguous);
        for (uint32_t mask = 0; mask < (1u << shape.size()); ++mask) {
          std::vector<int64_t> axes;
          for (size_t a = 0; a < shape.size(); ++a)
            if (mask >> a & 1) axes.push_back(static_cast<int64_t>(a));
          ValueId r = g.add_op(op, T(d, reduced_shape(shape, axes)), {x});
          g.node(r).ints = axes;
          g.results.push_back(r);
        }
        // Sums of quarter-integers are exact in any order; prod uses small values.
        check(g, {random_arr(d, shape, static_cast<uint32_t>(si) * 7 + 1, maxmin ? 0.05 : 0.0)},
              op == Op::ReduceProd && isf(d) ? 1e-6 : 0.0);
      }
    }
}

TEST(CpuStructural, MaxMinPropagateNaN) {
  for (DType d : {DType::F32, DType::F64})
    for (int64_t n : {1, 5, 64, 1000}) {
      for (int64_t pos : {int64_t{0}, n / 2, n - 1}) {
        Arr a = random_arr(d, {2, n}, 3);
        a.f[static_cast<size_t>(pos)] = NAN;
        for (Op op : {Op::ReduceMax, Op::ReduceMin})
          for (int64_t axis : {0, 1}) {
            ir::Graph g;
            ValueId x = g.add_param(T(d, {2, n}), ir::ParamLayout::Contiguous);
            ValueId r = g.add_op(op, T(d, reduced_shape({2, n}, {axis})), {x});
            g.node(r).ints = {axis};
            g.results = {r};
            check(g, {a});
          }
      }
    }
}

TEST(CpuStructural, Scans) {
  for (DType d : {DType::Bool, DType::I8, DType::U16, DType::I64, DType::F32, DType::F64})
    for (Op op : {Op::ScanSum, Op::ScanProd})
      for (int64_t axis : {0, 1, 2}) {
        std::vector<int64_t> shape = {3, 17, 9};
        Arr a = random_arr(d, shape, static_cast<uint32_t>(axis) + 21, 0.03);
        ir::Graph g;
        ValueId x = g.add_param(T(d, shape), ir::ParamLayout::Contiguous);
        ValueId r = g.add_op(op, T(d, shape), {x});
        g.node(r).ints = {axis};
        g.results = {r};
        SCOPED_TRACE(fmt::format("{} {} axis {}", ir::op_name(op), ir::dtype_name(d), axis));
        check(g, {a});
      }
  // A fused producer, a scan of a scan and a consumer: one buffer per scan.
  ir::Graph g;
  ValueId x = g.add_param(T(DType::F32, {40, 33}), ir::ParamLayout::Contiguous);
  ValueId two = g.add_const_float(DType::F32, 2.0);
  ValueId p = g.add_op(Op::Mul, T(DType::F32, {40, 33}), {x, two});
  ValueId s1 = g.add_op(Op::ScanSum, T(DType::F32, {40, 33}), {p});
  g.node(s1).ints = {1};
  ValueId s2 = g.add_op(Op::ScanSum, T(DType::F32, {40, 33}), {s1});
  g.node(s2).ints = {0};
  g.results = {g.add_op(Op::Sub, T(DType::F32, {40, 33}), {s2, x})};
  check(g, {random_arr(DType::F32, {40, 33}, 5)});
}

TEST(CpuStructural, SignBitAndCopySign) {
  for (DType d : {DType::F32, DType::F64}) {
    const double vals[] = {0.0, -0.0, 1.0, -1.0, NAN, -NAN, INFINITY, -INFINITY, 2.5, -1e-300};
    Arr a = make_arr(d, {10, 1}), b = make_arr(d, {1, 10});
    for (int i = 0; i < 10; ++i) a.f[static_cast<size_t>(i)] = b.f[static_cast<size_t>(i)] = vals[i];
    ir::Graph g;
    ValueId x = g.add_param(T(d, {10, 1}), ir::ParamLayout::Contiguous);
    ValueId y = g.add_param(T(d, {1, 10}), ir::ParamLayout::Contiguous);
    g.results = {g.add_op(Op::SignBit, T(DType::Bool, {10, 1}), {x}), g.add_op(Op::CopySign, T(d, {10, 10}), {x, y})};
    SCOPED_TRACE(ir::dtype_name(d));
    check(g, {a, b});
  }
}

TEST(CpuStructural, ArgMaxArgMin) {
  for (DType d : {DType::Bool, DType::I8, DType::U16, DType::I64, DType::F32, DType::F64})
    for (Op op : {Op::ArgMax, Op::ArgMin})
      for (int64_t axis : {0, 1, 2}) {
        std::vector<int64_t> shape = {3, 17, 9};
        Arr a = random_arr(d, shape, static_cast<uint32_t>(axis) + 11, 0.03);
        ir::Graph g;
        ValueId x = g.add_param(T(d, shape), ir::ParamLayout::Contiguous);
        ValueId r = g.add_op(op, T(DType::I64, reduced_shape(shape, {axis})), {x});
        g.node(r).ints = {axis};
        g.results = {r};
        SCOPED_TRACE(fmt::format("{} {} axis {}", ir::op_name(op), ir::dtype_name(d), axis));
        check(g, {a});
      }
  // First occurrence; the first NaN wins.
  ir::Graph g;
  ValueId x = g.add_param(T(DType::F64, {6}), ir::ParamLayout::Contiguous);
  ValueId r = g.add_op(Op::ArgMax, T(DType::I64, {1}), {x});
  g.node(r).ints = {0};
  ValueId r2 = g.add_op(Op::ArgMin, T(DType::I64, {1}), {x});
  g.node(r2).ints = {0};
  g.results = {r, r2};
  Arr a = make_arr(DType::F64, {6});
  a.f = {1.0, 3.0, NAN, 3.0, NAN, -1.0};
  check(g, {a});
  a.f = {1.0, 3.0, 0.0, 3.0, -1.0, -1.0};
  check(g, {a});
}

TEST(CpuStructural, SumAccuracy10M) {
  const int64_t n = 10'000'000;
  std::mt19937 rng(5);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  Buffer b = make_buffer(DType::F32, {n});
  auto* p = reinterpret_cast<float*>(b.data());
  long double exact = 0;
  for (int64_t k = 0; k < n; ++k) {
    p[k] = u(rng);
    exact += p[k];
  }
  ir::Graph g;
  ValueId x = g.add_param(T(DType::F32, {n}), ir::ParamLayout::Contiguous);
  ValueId r = g.add_op(Op::ReduceSum, T(DType::F32, {1}), {x});
  g.node(r).ints = {0};
  g.results = {r};
  auto k = compile_cpu(g);
  ASSERT_TRUE(k) << k.status().message();
  std::vector<Buffer> in = {b};
  auto outs = run_kernel(g, **k, in);
  double got = outs[0].get<float>(0);
  double rel = std::fabs(got - static_cast<double>(exact)) / static_cast<double>(exact);
  // Pairwise: O(log2(n/128)) roundings ~ 17 * 2^-24 worst case; naive would be ~1e-3 here.
  EXPECT_LT(rel, 17 * 6e-8) << got << " vs " << static_cast<double>(exact);
}

TEST(CpuStructural, ZeroSizeReductionGivesIdentity) {
  for (Op op : {Op::ReduceSum, Op::ReduceProd}) {
    ir::Graph g;
    ValueId x = g.add_param(T(DType::F32, {4, 0}), ir::ParamLayout::Contiguous);
    ValueId r = g.add_op(op, T(DType::F32, {4, 1}), {x});
    g.node(r).ints = {1};
    g.results = {r};
    check(g, {make_arr(DType::F32, {4, 0})});
  }
}

// ---- Matmul ----

void matmul_case(DType d, std::vector<int64_t> as, std::vector<int64_t> bs, bool transpose_b, bool slice_a) {
  SCOPED_TRACE(fmt::format("matmul {} {} x {} T={} S={}", ir::dtype_name(d), fmt::join(as, "x"), fmt::join(bs, "x"), transpose_b, slice_a));
  ir::Graph g;
  std::vector<int64_t> pa = as, pb = bs;
  if (slice_a) pa.back() *= 2;
  if (transpose_b) std::swap(pb[pb.size() - 1], pb[pb.size() - 2]);
  ValueId a = g.add_param(T(d, pa), ir::ParamLayout::Contiguous);
  ValueId b = g.add_param(T(d, pb), ir::ParamLayout::Contiguous);
  if (slice_a) {
    std::vector<int64_t> ints;
    for (size_t k = 0; k + 1 < as.size(); ++k) ints.push_back(0), ints.push_back(1);
    ints.push_back(pa.back() - 1), ints.push_back(-2);  // every other column, reversed
    a = g.add_op(Op::Slice, T(d, as), {a});
    g.node(a).ints = ints;
  }
  if (transpose_b) {
    std::vector<int64_t> perm;
    for (size_t k = 0; k < bs.size(); ++k) perm.push_back(static_cast<int64_t>(k));
    std::swap(perm[perm.size() - 1], perm[perm.size() - 2]);
    b = g.add_op(Op::Transpose, T(d, bs), {b});
    g.node(b).ints = perm;
  }
  std::vector<int64_t> ba(as.begin(), as.end() - 2), bb(bs.begin(), bs.end() - 2);
  std::vector<Dim> da, db;
  for (int64_t s : ba) da.push_back(Dim::fixed(s));
  for (int64_t s : bb) db.push_back(Dim::fixed(s));
  auto batch = *ir::broadcast_shapes(da, db);
  batch.push_back(Dim::fixed(as[as.size() - 2]));
  batch.push_back(Dim::fixed(bs.back()));
  g.results = {g.add_op(Op::MatMul, Type(d, batch), {a, b})};
  check(g, {random_arr(d, pa, 1), random_arr(d, pb, 2)}, isf(d) ? 1e-6 : 0.0);
}

TEST(CpuStructural, MatMul) {
  for (DType d : {DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool}) {
    matmul_case(d, {5, 7}, {7, 3}, false, false);
    matmul_case(d, {1, 1}, {1, 1}, false, false);
    matmul_case(d, {4, 0}, {0, 3}, false, false);
    matmul_case(d, {33, 64}, {64, 17}, true, false);
    matmul_case(d, {2, 3, 5, 7}, {3, 7, 4}, false, false);
    matmul_case(d, {2, 1, 5, 7}, {3, 7, 4}, true, true);
    matmul_case(d, {6, 8}, {2, 8, 5}, false, true);
  }
}

// `a`'s values stored with element strides `es` (negative: reversed, 0: broadcast) and the
// data pointer `misalign` bytes off element alignment. Where a zero stride aliases elements,
// `a` is updated to what the buffer then holds (the last value written).
Buffer laid_out(Arr& a, const std::vector<int64_t>& es, int64_t misalign = 0) {
  int64_t e = ir::dtype_size(a.d), lo = 0, hi = 0;
  for (size_t k = 0; k < es.size(); ++k) {
    int64_t span = std::max<int64_t>(a.shape[k] - 1, 0) * es[k];
    (span < 0 ? lo : hi) += span;
  }
  Buffer b = make_buffer(a.d, {hi - lo + 1});
  b.storage.resize(b.storage.size() + static_cast<size_t>(misalign));
  b.shape = a.shape;
  b.offset = -lo * e + misalign;
  b.strides.clear();
  for (int64_t s : es) b.strides.push_back(s * e);
  Buffer c = to_buffer(a);
  dispatch(a.d, [&](auto t) {
    using T = decltype(t);
    for (int64_t k = 0; k < a.n(); ++k) b.set<T>(k, c.get<T>(k));
  });
  a = from_buffer(b);
  return b;
}

// Element strides of `shape` for a named layout of its last two axes (leading axes C-order
// outside them): C, F (transposed), row step (ld > cols), column step, reversed rows,
// broadcast rows (stride 0).
std::vector<int64_t> layout_strides(const std::vector<int64_t>& shape, const std::string& layout) {
  size_t r = shape.size();
  int64_t rows = shape[r - 2], cols = shape[r - 1];
  int64_t rs = cols, cs = 1, mat = rows * cols;
  if (layout == "F") rs = 1, cs = rows;
  if (layout == "rowstep") rs = 2 * cols + 1, mat = rows * rs;
  if (layout == "colstep") rs = 2 * cols, cs = 2, mat = rows * rs;
  if (layout == "rev") rs = -cols;
  if (layout == "bcast") rs = 0, mat = cols;
  std::vector<int64_t> es(r);
  es[r - 2] = rs, es[r - 1] = cs;
  int64_t acc = mat + 3;  // batch matrices not adjacent
  for (size_t k = r - 2; k-- > 0;) es[k] = acc, acc *= shape[k];
  return es;
}

// Matmul of Strided params (strides known at run time): BLAS reads each operand in place or
// from a packed copy, depending on the strides of the call; integers use the loops.
TEST(CpuStructural, MatMulStridedOperands) {
  const std::vector<std::string> layouts = {"C", "F", "rowstep", "colstep", "rev", "bcast", "misalign"};
  struct Shapes { std::vector<int64_t> a, b; };
  const std::vector<Shapes> shapes = {{{5, 7}, {7, 3}}, {{1, 4}, {4, 1}}, {{2, 5, 7}, {7, 3}}, {{3, 7}, {2, 7, 4}},
                                      {{2, 1, 3, 4}, {3, 4, 2}}, {{4, 0}, {0, 3}}};
  for (DType d : {DType::F32, DType::F64, DType::I32}) {
    for (size_t si = 0; si < shapes.size(); ++si) {
      for (size_t la = 0; la < layouts.size(); ++la) {
        const std::string& lb = layouts[(la + si) % layouts.size()];
        SCOPED_TRACE(fmt::format("{} shapes {} A {} B {}", ir::dtype_name(d), si, layouts[la], lb));
        const auto& as = shapes[si].a;
        const auto& bs = shapes[si].b;
        ir::Graph g;
        ValueId a = g.add_param(T(d, as), ir::ParamLayout::Strided);
        ValueId b = g.add_param(T(d, bs), ir::ParamLayout::Strided);
        std::vector<Dim> da, db;
        for (size_t k = 0; k + 2 < as.size(); ++k) da.push_back(Dim::fixed(as[k]));
        for (size_t k = 0; k + 2 < bs.size(); ++k) db.push_back(Dim::fixed(bs[k]));
        auto rs = *ir::broadcast_shapes(da, db);
        rs.push_back(Dim::fixed(as[as.size() - 2]));
        rs.push_back(Dim::fixed(bs.back()));
        g.results = {g.add_op(Op::MatMul, Type(d, rs), {a, b})};
        Arr x = random_arr(d, as, 11 + static_cast<uint32_t>(la)), y = random_arr(d, bs, 23 + static_cast<uint32_t>(si));
        auto mis = [](const std::string& l) { return l == "misalign" ? int64_t{1} : int64_t{0}; };
        std::vector<Buffer> bufs = {laid_out(x, layout_strides(as, layouts[la] == "misalign" ? "C" : layouts[la]), mis(layouts[la])),
                                    laid_out(y, layout_strides(bs, lb == "misalign" ? "F" : lb), mis(lb))};
        check(g, {x, y}, isf(d) ? 1e-6 : 0.0, &bufs);
      }
    }
  }
}

// Views of Strided params as matmul operands: a transpose (x @ w.T), a stepped slice, a
// vector reshaped to a column (A @ v[::3]), and a broadcast batch.
TEST(CpuStructural, MatMulViewsOfStridedParams) {
  for (DType d : {DType::F32, DType::F64, DType::I64}) {
    SCOPED_TRACE(ir::dtype_name(d));
    ir::Graph g;
    ValueId x = g.add_param(T(d, {4, 6}), ir::ParamLayout::Strided);
    ValueId w = g.add_param(T(d, {5, 6}), ir::ParamLayout::Strided);
    ValueId v = g.add_param(T(d, {6}), ir::ParamLayout::Strided);
    ValueId wt = g.add_op(Op::Transpose, T(d, {6, 5}), {w});
    g.node(wt).ints = {1, 0};
    ValueId r1 = g.add_op(Op::MatMul, T(d, {4, 5}), {x, wt});
    ValueId xs = g.add_op(Op::Slice, T(d, {2, 6}), {x});  // rows 3, 1
    g.node(xs).ints = {3, -2, 0, 1};
    ValueId vc = g.add_op(Op::Reshape, T(d, {6, 1}), {v});
    ValueId r2 = g.add_op(Op::MatMul, T(d, {2, 1}), {xs, vc});
    ValueId xb = g.add_op(Op::Broadcast, T(d, {3, 4, 6}), {x});
    ValueId r3 = g.add_op(Op::MatMul, T(d, {3, 4, 5}), {xb, wt});
    g.results = {r1, r2, r3};
    Arr xa = random_arr(d, {4, 6}, 1), wa = random_arr(d, {5, 6}, 2), va = random_arr(d, {6}, 3);
    std::vector<Buffer> bufs = {laid_out(xa, {1, 4}), laid_out(wa, {1, 5}), laid_out(va, {-3})};
    check(g, {xa, wa, va}, isf(d) ? 1e-6 : 0.0, &bufs);
    // The same graph on C-ordered and stepped inputs (other strides, same kernel shape).
    std::vector<Buffer> bufs2 = {laid_out(xa, {6, 1}), laid_out(wa, {12, 2}), laid_out(va, {2})};
    check(g, {xa, wa, va}, isf(d) ? 1e-6 : 0.0, &bufs2);
  }
}

TEST(CpuStructural, MatMulEpilogueBiasRelu) {
  for (DType d : {DType::F32, DType::F64}) {
    ir::Graph g;
    ValueId x = g.add_param(T(d, {64, 32}), ir::ParamLayout::Contiguous);
    ValueId w = g.add_param(T(d, {32, 48}), ir::ParamLayout::Contiguous);
    ValueId bias = g.add_param(T(d, {48}), ir::ParamLayout::Contiguous);
    ValueId mm = g.add_op(Op::MatMul, T(d, {64, 48}), {x, w});
    ValueId add = g.add_op(Op::Add, T(d, {64, 48}), {mm, bias});
    ValueId zero = g.add_const_float(d, 0.0);
    g.results = {g.add_op(Op::Maximum, T(d, {64, 48}), {add, zero})};
    check(g, {random_arr(d, {64, 32}, 1), random_arr(d, {32, 48}, 2), random_arr(d, {48}, 3)}, 1e-6);
  }
}

// ---- Views, concat, iota ----

TEST(CpuStructural, ViewsFuseIntoElementwise) {
  for (DType d : {DType::I16, DType::F32, DType::F64}) {
    ir::Graph g;
    ValueId x = g.add_param(T(d, {4, 6}), ir::ParamLayout::Contiguous);
    ValueId y = g.add_param(T(d, {3, 8}), ir::ParamLayout::Contiguous);
    ValueId t = g.add_op(Op::Transpose, T(d, {6, 4}), {x});
    g.node(t).ints = {1, 0};
    ValueId s = g.add_op(Op::Slice, T(d, {3, 2}), {t});  // rows 5,3,1; cols 3,0
    g.node(s).ints = {5, -2, 3, -3};
    ValueId yr = g.add_op(Op::Reshape, T(d, {2, 12}), {y});
    ValueId ys = g.add_op(Op::Slice, T(d, {1, 12}), {yr});
    g.node(ys).ints = {1, 1, 0, 1};
    ValueId yrr = g.add_op(Op::Reshape, T(d, {6, 2}), {ys});
    ValueId bs = g.add_op(Op::Broadcast, T(d, {2, 3, 2}), {s});
    ValueId sum = g.add_op(Op::Add, T(d, {2, 3, 2}), {bs, g.add_op(Op::Reshape, T(d, {2, 3, 2}), {yrr})});
    ValueId io = g.add_op(Op::Iota, T(d, {2, 3, 2}), {});
    g.node(io).ints = {1};
    ValueId r1 = g.add_op(Op::Mul, T(d, {2, 3, 2}), {sum, io});
    ValueId cat = g.add_op(Op::Concat, T(d, {2, 5, 2}), {r1, g.add_op(Op::Slice, T(d, {2, 2, 2}), {r1})});
    g.node(cat).ints = {1};
    g.node(cat - 1).ints = {1, -1, 2, -1, 0, 1};
    g.results = {cat, s, t, io};
    check(g, {random_arr(d, {4, 6}, 1), random_arr(d, {3, 8}, 2)});
  }
}

// Gather in each mode and along each axis, fused into an elementwise consumer and with an
// elementwise producer, with negative and out-of-bounds indices (raise mode reads element 0 for
// those: the tracer's check re-runs the call eagerly), large enough to split across threads.
TEST(CpuStructural, GatherModesAxesAndFusion) {
  for (DType d : {DType::F32, DType::I16}) {
    for (int64_t mode : {0, 1, 2}) {
      for (int64_t axis : {0, 1}) {
        ir::Graph g;
        const std::vector<int64_t> xs = {37, 300};
        ValueId x = g.add_param(T(d, xs), ir::ParamLayout::Contiguous);
        ValueId ix = g.add_param(T(DType::I32, {50, 40}), ir::ParamLayout::Contiguous);
        ValueId sq = g.add_op(Op::Mul, T(d, xs), {x, x});  // a producer evaluated at the gathered index
        std::vector<int64_t> rs = axis == 0 ? std::vector<int64_t>{50, 40, 300} : std::vector<int64_t>{37, 50, 40};
        ValueId ga = g.add_op(Op::Gather, T(d, rs), {sq, ix});
        g.node(ga).ints = {axis, mode};
        ValueId plus = g.add_op(Op::Add, T(d, rs), {ga, g.add_op(Op::Gather, T(d, rs), {x, ix})});
        g.node(plus - 1).ints = {axis, mode};
        g.results = {plus};
        Arr xa = random_arr(d, xs, 3);
        Arr ia = make_arr(DType::I32, {50, 40});
        const int64_t len = xs[static_cast<size_t>(axis)];
        for (int64_t k = 0; k < ia.n(); ++k) ia.i[static_cast<size_t>(k)] = (k * 7919) % (4 * len) - 2 * len;
        check(g, {xa, ia});
      }
    }
  }
}

// Scatter (and ufunc.at combining) along each axis with repeated (the last one wins), negative and out-of-bounds indices
// (written nowhere: the tracer's check re-runs the call eagerly), x an expression copied in the
// threaded first pass, v an expression of a gather of the same x (`y[idx] += 1`), and the result
// read by a consumer; large enough to split across threads.
TEST(CpuStructural, ScatterAxesRepeatsAndFusion) {
  for (DType d : {DType::F32, DType::I16}) {
    for (int64_t axis : {0, 1}) {
     for (int64_t how : {0, 1, 2, 3, 4}) {  // assignment; ufunc.at's add, multiply, maximum, minimum
      ir::Graph g;
      const std::vector<int64_t> xs = {37, 3000};
      ValueId x = g.add_param(T(d, xs), ir::ParamLayout::Contiguous);
      ValueId ix = g.add_param(T(DType::I32, {5, 8}), ir::ParamLayout::Contiguous);
      ValueId sq = g.add_op(Op::Mul, T(d, xs), {x, x});
      std::vector<int64_t> vs = axis == 0 ? std::vector<int64_t>{5, 8, 3000} : std::vector<int64_t>{37, 5, 8};
      ValueId ga = g.add_op(Op::Gather, T(d, vs), {sq, ix});
      g.node(ga).ints = {axis, 0};
      // + the position along idx's first axis: the repeated indices below write different values.
      ValueId pos = g.add_op(Op::Iota, T(d, vs), {});
      g.node(pos).ints = {axis};
      ValueId v = g.add_op(Op::Add, T(d, vs), {ga, pos});
      ValueId sc = g.add_op(Op::Scatter, T(d, xs), {sq, ix, v});
      g.node(sc).ints = {axis, how};
      ValueId out = g.add_op(Op::Sub, T(d, xs), {sc, x});
      g.results = {out, sc};
      Arr xa = random_arr(d, xs, 5);
      Arr ia = make_arr(DType::I32, {5, 8});
      const int64_t len = xs[static_cast<size_t>(axis)];
      for (int64_t k = 0; k < ia.n(); ++k) ia.i[static_cast<size_t>(k)] = (k * 7919) % (3 * len / 2) - len / 2;
      ia.i[3] = ia.i[17] = 2;  // repeated
      ia.i[20] = len + 4;      // out of bounds
      check(g, {xa, ia});
     }
    }
  }
}

// A scatter-add whose index is a costly expression (np.histogram's bin index: a division, a
// cast and a gather of the edges), which the schedule evaluates into a buffer of its own before
// the one-thread scatter, and whose value is a cheap one (a mask as 0/1) fused into it: the
// counts of 200000 values in 50 bins, values outside the edges not counted.
TEST(CpuStructural, ScatterAddOfAComputedIndex) {
  for (DType d : {DType::F32, DType::F64}) {
    ir::Graph g;
    const int64_t n = 200000, nb = 50;
    ValueId x = g.add_param(T(d, {n}), ir::ParamLayout::Contiguous);
    ValueId edges = g.add_op(Op::Iota, T(d, {nb + 1}), {});
    g.node(edges).ints = {0};
    ValueId lo = g.add_const_float(d, 0.0), hi = g.add_const_float(d, static_cast<double>(nb));
    ValueId keep = g.add_op(Op::And, T(DType::Bool, {n}), {g.add_op(Op::Ge, T(DType::Bool, {n}), {x, lo}),
                                                           g.add_op(Op::Lt, T(DType::Bool, {n}), {x, hi})});
    ValueId v = g.add_op(Op::Where, T(d, {n}), {keep, x, lo});
    ValueId f = g.add_op(Op::Div, T(d, {n}), {g.add_op(Op::Mul, T(d, {n}), {v, g.add_const_float(d, 3.0)}), g.add_const_float(d, 3.0)});
    ValueId idx = g.add_op(Op::Cast, T(DType::I64, {n}), {f});
    ValueId at = g.add_op(Op::Gather, T(d, {n}), {edges, idx});
    g.node(at).ints = {0, 0};
    // one step down where the value is below its edge (never, here: an index that uses the gather)
    idx = g.add_op(Op::Sub, T(DType::I64, {n}), {idx, g.add_op(Op::Cast, T(DType::I64, {n}), {g.add_op(Op::Lt, T(DType::Bool, {n}), {v, at})})});
    ValueId zeros = g.add_op(Op::Broadcast, T(DType::I64, {nb}), {g.add_const_int(DType::I64, 0)});
    ValueId counts = g.add_op(Op::Scatter, T(DType::I64, {nb}), {zeros, idx, g.add_op(Op::Cast, T(DType::I64, {n}), {keep})});
    g.node(counts).ints = {0, 1};
    g.results = {counts};
    Arr xa = random_arr(d, {n}, 11);
    std::vector<int64_t> want(nb, 0);
    for (int64_t k = 0; k < n; ++k) {  // values in [-5, 55): some outside the edges
      const double u = round_to(d, static_cast<double>((k * 7919) % 60000) / 1000.0 - 5.0);
      xa.f[static_cast<size_t>(k)] = u;
      if (u >= 0 && u < static_cast<double>(nb)) ++want[static_cast<size_t>(std::floor(u))];
    }
    auto kern = compile_cpu(g);
    ASSERT_TRUE(kern) << kern.status().message();
    std::vector<Buffer> bufs = {to_buffer(xa)};
    auto outs = run_kernel(g, **kern, bufs);
    Arr got = from_buffer(outs[0]);
    ASSERT_EQ(got.n(), nb);
    for (int64_t b = 0; b < nb; ++b) EXPECT_EQ(got.i[static_cast<size_t>(b)], want[static_cast<size_t>(b)]) << "bin " << b;
  }
}

TEST(CpuStructural, StridedParamsAndReshapeOfTranspose) {
  ir::Graph g;
  ValueId x = g.add_param(T(DType::F64, {4, 6}), ir::ParamLayout::Strided);
  ValueId t = g.add_op(Op::Transpose, T(DType::F64, {6, 4}), {x});
  g.node(t).ints = {1, 0};
  ValueId r = g.add_op(Op::Reshape, T(DType::F64, {3, 8}), {t});
  ValueId s = g.add_op(Op::ReduceSum, T(DType::F64, {3, 1}), {r});
  g.node(s).ints = {1};
  g.results = {r, s};
  Arr a = random_arr(DType::F64, {4, 6}, 9);
  // Column-major storage of the same values.
  Buffer b = make_buffer(DType::F64, {4, 6});
  b.strides = {8, 32};
  for (int64_t k = 0; k < 24; ++k) b.set<double>(k, a.f[static_cast<size_t>(k)]);
  std::vector<Buffer> bufs = {b};
  check(g, {a}, 0.0, &bufs);
}

// ---- Fusion: producer -> reduction -> consumer (row softmax, layernorm). ----

TEST(CpuStructural, SoftmaxAndLayerNorm) {
  for (DType d : {DType::F32, DType::F64})
    // {300, 1027}: outputs over 1 MiB with rows of 1027 elements, so the non-temporal row
    // stores see every 64-byte misalignment (peel, aligned middle, tail).
    for (std::vector<int64_t> shape : {std::vector<int64_t>{7, 300}, std::vector<int64_t>{1, 5}, std::vector<int64_t>{64, 1024},
                                       std::vector<int64_t>{300, 1027}}) {
      ir::Graph g;
      std::vector<int64_t> rs = {shape[0], 1};
      ValueId x = g.add_param(T(d, shape), ir::ParamLayout::Contiguous);
      ValueId m = g.add_op(Op::ReduceMax, T(d, rs), {x});
      g.node(m).ints = {1};
      ValueId e = g.add_op(Op::Exp, T(d, shape), {g.add_op(Op::Sub, T(d, shape), {x, m})});
      ValueId s = g.add_op(Op::ReduceSum, T(d, rs), {e});
      g.node(s).ints = {1};
      ValueId sm = g.add_op(Op::Div, T(d, shape), {e, s});
      // layernorm (no eps/affine): (x - mean) / sqrt(var)
      ValueId n = g.add_const_float(d, static_cast<double>(shape[1]));
      ValueId sx = g.add_op(Op::ReduceSum, T(d, rs), {x});
      g.node(sx).ints = {1};
      ValueId mean = g.add_op(Op::Div, T(d, rs), {sx, n});
      ValueId xc = g.add_op(Op::Sub, T(d, shape), {x, mean});
      ValueId v = g.add_op(Op::ReduceSum, T(d, rs), {g.add_op(Op::Mul, T(d, shape), {xc, xc})});
      g.node(v).ints = {1};
      ValueId sd = g.add_op(Op::Sqrt, T(d, rs), {g.add_op(Op::Add, T(d, rs), {g.add_op(Op::Div, T(d, rs), {v, n}), g.add_const_float(d, 1.0)})});
      ValueId ln = g.add_op(Op::Div, T(d, shape), {xc, sd});
      g.results = {sm, ln, m};
      check(g, {random_arr(d, shape, 4)}, d == DType::F32 ? 2e-6 : 1e-13);
    }
}

// ---- The new elementwise ops. ----

// max_ulp 0: bit-exact with libm; the ops with inline vector math (vmath.cpp) are checked to
// within 1 ulp of libm (both are within ~0.5-1 ulp of the exact result), specials exactly.
template <class F>
void unary_vs(Op op, F ref, double max_ulp = 0) {
  for (DType d : {DType::F32, DType::F64}) {
    SCOPED_TRACE(fmt::format("{} {}", ir::op_name(op), ir::dtype_name(d)));
    const double vals[] = {0.0, -0.0, 0.5, -0.5, 1.5, 2.5, -2.5, 0.9, -0.9, 3.0, 1e-3, 100.0, -7.25, NAN, INFINITY, -INFINITY, 1.0, -1.0, 2.0};
    const int64_t n = sizeof(vals) / sizeof(vals[0]);
    ir::Graph g;
    ValueId x = g.add_param(T(d, {n}), ir::ParamLayout::Contiguous);
    // Through a reduction-free structural graph too: the scheduled path (reshape) and the
    // elementwise path must agree.
    ValueId y = g.add_op(op, T(d, {n}), {x});
    ValueId r = g.add_op(Op::Reshape, T(d, {1, n}), {y});
    g.results = {y, r};
    auto k = compile_cpu(g);
    ASSERT_TRUE(k) << k.status().message();
    Buffer b = make_buffer(d, {n});
    for (int64_t i = 0; i < n; ++i) {
      if (d == DType::F32) b.set<float>(i, static_cast<float>(vals[i]));
      else b.set<double>(i, vals[i]);
    }
    std::vector<Buffer> in = {b};
    auto outs = run_kernel(g, **k, in);
    for (int64_t i = 0; i < n; ++i) {
      double got = d == DType::F32 ? outs[0].get<float>(i) : outs[0].get<double>(i);
      double got2 = d == DType::F32 ? outs[1].get<float>(i) : outs[1].get<double>(i);
      double want = d == DType::F32 ? static_cast<double>(ref(static_cast<float>(vals[i]))) : ref(vals[i]);
      double ulp = d == DType::F32 ? std::fabs(std::nextafter(static_cast<float>(want), INFINITY) - static_cast<float>(want))
                                   : std::fabs(std::nextafter(want, INFINITY) - want);
      bool special = std::isnan(want) || std::isinf(want) || want == 0;
      auto ok = [&](double v) {
        if (special || max_ulp == 0)
          return (std::isnan(v) && std::isnan(want)) || (v == want && std::signbit(v) == std::signbit(want));
        return std::fabs(v - want) <= max_ulp * ulp;
      };
      EXPECT_TRUE(ok(got)) << "x=" << vals[i] << " got " << got << " want " << want;
      EXPECT_TRUE(ok(got2));
    }
  }
}

#define TJ_UNARY(OP, FN) unary_vs(Op::OP, [](auto v) { return FN(v); })
#define TJ_UNARY_VMATH(OP, FN) unary_vs(Op::OP, [](auto v) { return FN(v); }, 1.0)
TEST(CpuStructural, NewUnaryOps) {
  TJ_UNARY(Floor, std::floor);
  TJ_UNARY(Ceil, std::ceil);
  TJ_UNARY(Trunc, std::trunc);
  TJ_UNARY(Rint, std::nearbyint);
  TJ_UNARY_VMATH(Expm1, std::expm1);
  TJ_UNARY_VMATH(Log1p, std::log1p);
  TJ_UNARY_VMATH(Log2, std::log2);
  TJ_UNARY_VMATH(Log10, std::log10);
  TJ_UNARY_VMATH(Exp2, std::exp2);
  TJ_UNARY_VMATH(Cbrt, std::cbrt);
  TJ_UNARY_VMATH(Tan, std::tan);
  TJ_UNARY_VMATH(Asin, std::asin);
  TJ_UNARY_VMATH(Acos, std::acos);
  TJ_UNARY_VMATH(Atan, std::atan);
  TJ_UNARY_VMATH(Sinh, std::sinh);
  TJ_UNARY_VMATH(Cosh, std::cosh);
  TJ_UNARY_VMATH(Asinh, std::asinh);
  TJ_UNARY_VMATH(Acosh, std::acosh);
  TJ_UNARY_VMATH(Atanh, std::atanh);
  unary_vs(Op::Sign, [](auto v) { return v > 0 ? decltype(v)(1) : v < 0 ? decltype(v)(-1) : v == 0 ? decltype(v)(0) : v; });
}

TEST(CpuStructural, ClassifyAndSignInts) {
  for (DType d : {DType::F32, DType::F64})
    for (Op op : {Op::IsNan, Op::IsInf, Op::IsFinite}) {
      ir::Graph g;
      ValueId x = g.add_param(T(d, {18}), ir::ParamLayout::Contiguous);
      g.results = {g.add_op(op, T(DType::Bool, {18}), {x})};
      Arr a = random_arr(d, {18}, 1, 0.2);
      a.f[3] = INFINITY, a.f[4] = -INFINITY;
      check(g, {a});
    }
  for (DType d : {DType::I8, DType::I64, DType::U8, DType::U32}) {
    ir::Graph g;
    ValueId x = g.add_param(T(d, {18}), ir::ParamLayout::Contiguous);
    g.results = {g.add_op(Op::Sign, T(d, {18}), {x})};
    check(g, {random_arr(d, {18}, 2)});
  }
}

TEST(CpuStructural, BinaryNewOpsAndSignedZeros) {
  for (DType d : {DType::F32, DType::F64}) {
    const double vals[] = {0.0, -0.0, 1.0, -1.0, NAN, INFINITY, -INFINITY, 2.5};
    Arr a = make_arr(d, {8, 1}), b = make_arr(d, {1, 8});
    for (int i = 0; i < 8; ++i) a.f[static_cast<size_t>(i)] = b.f[static_cast<size_t>(i)] = vals[i];
    for (Op op : {Op::Maximum, Op::Minimum, Op::Fmax, Op::Fmin}) {
      SCOPED_TRACE(fmt::format("{} {}", ir::op_name(op), ir::dtype_name(d)));
      for (bool structural : {false, true}) {
        ir::Graph g;
        ValueId x = g.add_param(T(d, {8, 1}), ir::ParamLayout::Contiguous);
        ValueId y = g.add_param(T(d, {1, 8}), ir::ParamLayout::Contiguous);
        ValueId r = g.add_op(op, T(d, {8, 8}), {x, y});
        if (structural) r = g.add_op(Op::Transpose, T(d, {8, 8}), {r}), g.node(r).ints = {1, 0};
        g.results = {r};
        check(g, {a, b});
      }
    }
    for (Op op : {Op::Atan2, Op::Hypot}) {
      ir::Graph g;
      ValueId x = g.add_param(T(d, {8, 1}), ir::ParamLayout::Contiguous);
      ValueId y = g.add_param(T(d, {1, 8}), ir::ParamLayout::Contiguous);
      g.results = {g.add_op(op, T(d, {8, 8}), {x, y})};
      auto k = compile_cpu(g);
      ASSERT_TRUE(k) << k.status().message();
      std::vector<Buffer> in = {to_buffer(a), to_buffer(b)};
      auto outs = run_kernel(g, **k, in);
      for (int i = 0; i < 8; ++i)
        for (int j = 0; j < 8; ++j) {
          double got = d == DType::F32 ? outs[0].get<float>(i * 8 + j) : outs[0].get<double>(i * 8 + j);
          double want = d == DType::F32 ? static_cast<double>(op == Op::Atan2 ? std::atan2(static_cast<float>(vals[i]), static_cast<float>(vals[j])) : std::hypot(static_cast<float>(vals[i]), static_cast<float>(vals[j])))
                                        : (op == Op::Atan2 ? std::atan2(vals[i], vals[j]) : std::hypot(vals[i], vals[j]));
          // Bit-exact where an operand is +-0, +-inf or NaN (the C99 table); elsewhere the inline
          // vector code (vmath.cpp) may differ from libm by its rounding: within 1 ulp.
          bool special = vals[i] == 0 || vals[j] == 0 || !std::isfinite(vals[i]) || !std::isfinite(vals[j]);
          double ulp = d == DType::F32 ? std::nextafter(static_cast<float>(std::fabs(want)), INFINITY) - std::fabs(want)
                                       : std::nextafter(std::fabs(want), INFINITY) - std::fabs(want);
          EXPECT_TRUE((std::isnan(got) && std::isnan(want)) || (got == want && std::signbit(got) == std::signbit(want)) ||
                      (!special && std::fabs(got - want) <= ulp))
              << ir::op_name(op) << " " << ir::dtype_name(d) << " (" << vals[i] << ", " << vals[j] << "): " << got << " vs " << want;
        }
    }
  }
  for (DType d : {DType::I32, DType::U8})
    for (Op op : {Op::Fmax, Op::Fmin}) {
      ir::Graph g;
      ValueId x = g.add_param(T(d, {18}), ir::ParamLayout::Contiguous);
      ValueId y = g.add_param(T(d, {18}), ir::ParamLayout::Contiguous);
      g.results = {g.add_op(op, T(d, {18}), {x, y})};
      check(g, {random_arr(d, {18}, 1), random_arr(d, {18}, 2)});
    }
}

// ---- Materialization: shared inline values get buffers, cheap or single-use ones stay fused. ----

// The structural buffers of `g` (params, reductions, concat but along axis 0, results), as make_plan sees them,
// and how many values materialize_shared adds on top.
int materialized_count(const ir::Graph& g) {
  size_t nv = static_cast<size_t>(g.size());
  std::vector<bool> needed(nv, false), buffered(nv, false);
  for (ValueId r : g.results) needed[static_cast<size_t>(r)] = buffered[static_cast<size_t>(r)] = true;
  for (size_t v = nv; v-- > 0;)
    if (needed[v])
      for (ValueId o : g.nodes[v].operands) needed[static_cast<size_t>(o)] = true;
  for (size_t v = 0; v < nv; ++v) {
    Op op = g.nodes[v].op;
    bool row_concat = op == Op::Concat && g.nodes[v].ints[0] == 0;  // evaluated inline, as a view
    if (op == Op::Param || ir::has_trait(op, ir::kReduce) || (op == Op::Concat && !row_concat)) buffered[v] = true;
  }
  auto after = materialize_shared(g, needed, buffered);
  return static_cast<int>(std::count(after.begin(), after.end(), true) - std::count(buffered.begin(), buffered.end(), true));
}

// x[rows 0..4] + x[rows 1..5] of a [6, 8] value.
ValueId shifted_sum(ir::Graph& g, DType d, ValueId a) {
  ValueId top = g.add_op(Op::Slice, T(d, {5, 8}), {a});
  g.node(top).ints = {0, 1, 0, 1};
  ValueId bot = g.add_op(Op::Slice, T(d, {5, 8}), {a});
  g.node(bot).ints = {1, 1, 0, 1};
  return g.add_op(Op::Add, T(d, {5, 8}), {top, bot});
}

TEST(CpuStructural, MaterializesValueReadThroughTwoViews) {
  for (DType d : {DType::F32, DType::F64}) {
    ir::Graph g;
    ValueId x = g.add_param(T(d, {6, 8}), ir::ParamLayout::Contiguous);
    ValueId a = g.add_op(Op::Exp, T(d, {6, 8}), {g.add_op(Op::Mul, T(d, {6, 8}), {x, g.add_const_float(d, 0.5)})});
    g.results = {shifted_sum(g, d, a)};
    EXPECT_EQ(materialized_count(g), 1);  // exp(x * 0.5), read at two row offsets
    check(g, {random_arr(d, {6, 8}, 21)});
  }
}

TEST(CpuStructural, CheapSharedValueStaysInline) {
  ir::Graph g;
  ValueId x = g.add_param(T(DType::F64, {6, 8}), ir::ParamLayout::Contiguous);
  ValueId b = g.add_op(Op::Add, T(DType::F64, {6, 8}), {x, g.add_const_float(DType::F64, 1.0)});
  ValueId s = shifted_sum(g, DType::F64, b);
  // An expensive value used twice at the same index (one site) also stays inline.
  ValueId e = g.add_op(Op::Exp, T(DType::F64, {5, 8}), {s});
  g.results = {g.add_op(Op::Mul, T(DType::F64, {5, 8}), {e, e})};
  EXPECT_EQ(materialized_count(g), 0);
  check(g, {random_arr(DType::F64, {6, 8}, 22)});
}

TEST(CpuStructural, GatherChainOverOneDimTableStaysInline) {
  // A branch-free binary search (tracer/search.cpp): each step's position is both a gather's
  // index and a select's operand, read at the element's own index -- one site, so the twelve
  // steps fuse into one loop instead of a buffer per step.
  const int64_t n = 4096, m = 37;
  ir::Graph g;
  ValueId a = g.add_param(T(DType::F64, {n}), ir::ParamLayout::Contiguous);
  ValueId v = g.add_param(T(DType::F64, {m}), ir::ParamLayout::Contiguous);
  auto ci = [&](int64_t k) { return g.add_const_int(DType::I64, k); };
  ValueId base = g.add_op(Op::Broadcast, T(DType::I64, {m}), {ci(0)});
  for (int64_t len = n; len > 1; len -= len / 2) {
    const int64_t half = len / 2;
    ValueId at = g.add_op(Op::Add, T(DType::I64, {m}), {base, ci(half - 1)});
    ValueId up = g.add_op(Op::Add, T(DType::I64, {m}), {base, ci(half)});
    ValueId probe = g.add_op(Op::Gather, T(DType::F64, {m}), {a, at});
    g.node(probe).ints = {0, 2};
    ValueId below = g.add_op(Op::Lt, T(DType::Bool, {m}), {probe, v});
    base = g.add_op(Op::Where, T(DType::I64, {m}), {below, up, base});
  }
  ValueId last = g.add_op(Op::Gather, T(DType::F64, {m}), {a, base});
  g.node(last).ints = {0, 2};
  ValueId past = g.add_op(Op::Cast, T(DType::I64, {m}), {g.add_op(Op::Lt, T(DType::Bool, {m}), {last, v})});
  g.results = {g.add_op(Op::Add, T(DType::I64, {m}), {base, past})};
  EXPECT_EQ(materialized_count(g), 0);
  Arr table = random_arr(DType::F64, {n}, 24);
  std::sort(table.f.begin(), table.f.end());
  Arr keys = random_arr(DType::F64, {m}, 25);
  auto k = compile_cpu(g);
  ASSERT_TRUE(k) << k.status().message();
  std::vector<Buffer> bufs = {to_buffer(table), to_buffer(keys)};
  auto outs = run_kernel(g, **k, bufs);
  Arr got = from_buffer(outs[0]);
  for (int64_t e = 0; e < m; ++e) {
    const auto key = keys.f[static_cast<size_t>(e)];
    EXPECT_EQ(got.i[static_cast<size_t>(e)], std::lower_bound(table.f.begin(), table.f.end(), key) - table.f.begin()) << key;
  }
}

TEST(CpuStructural, ZeroTieMarkOnFloatMaxMin) {
  // reduce_max/min with fval 1 (ops.def): a row whose extreme is a zero of both signs gives the
  // mark; a row of one zero sign, a larger element or a NaN gives the plain answer; fval 0 never
  // marks. Rows of 5 (scalar loop), 40 (one lane chain) and 300 (four chains and a tail), the
  // zeros placed in the lanes, the tail and the first element.
  for (DType d : {DType::F32, DType::F64}) {
    const double mark = ir::zero_tie_mark(d == DType::F32);
    for (Op op : {Op::ReduceMax, Op::ReduceMin}) {
      const double sgn = op == Op::ReduceMax ? -1.0 : 1.0;  // the side the other elements are on
      for (int64_t n : {5, 40, 300}) {
        for (double fval : {0.0, 1.0}) {
          SCOPED_TRACE(fmt::format("{} {} n={} fval={}", ir::dtype_name(d), ir::op_name(op), n, fval));
          const int64_t rows = 7;
          ir::Graph g;
          ValueId x = g.add_param(T(d, {rows, n}), ir::ParamLayout::Contiguous);
          ValueId r = g.add_op(op, T(d, {rows, 1}), {x});
          g.node(r).ints = {1};
          g.node(r).fval = fval;
          g.results = {r};
          Arr a = make_arr(d, {rows, n});
          for (double& v : a.f) v = 3.0 * sgn;
          auto at = [&](int64_t row, int64_t k) -> double& { return a.f[static_cast<size_t>(row * n + k)]; };
          at(0, 1) = 0.0, at(0, n - 1) = -0.0;  // both: the mark
          at(1, 0) = -0.0, at(1, n / 2) = 0.0;  // both, the first element one of them
          at(2, 2) = 0.0, at(2, n - 2) = 0.0;   // +0 only
          at(3, 3) = -0.0, at(3, n - 1) = -0.0; // -0 only
          at(4, 1) = 0.0, at(4, 2) = -0.0, at(4, n - 1) = -2.0 * sgn;  // both, but not the extreme
          at(5, 1) = 0.0, at(5, 3) = -0.0, at(5, n - 1) = std::nan("");  // a NaN propagates
          std::vector<double> want = {mark, mark, 0.0, -0.0, -2.0 * sgn, std::nan(""), 3.0 * sgn};
          auto k = compile_cpu(g);
          ASSERT_TRUE(k) << k.status().message();
          std::vector<Buffer> bufs = {to_buffer(a)};
          Arr got = from_buffer(run_kernel(g, **k, bufs)[0]);
          for (int64_t row = 0; row < rows; ++row) {
            double w = want[static_cast<size_t>(row)], v = got.f[static_cast<size_t>(row)];
            if (fval == 0.0 && w == mark) {  // no check: some zero
              EXPECT_EQ(v, 0.0) << "row " << row;
              continue;
            }
            if (std::isnan(w)) EXPECT_TRUE(std::isnan(v)) << "row " << row;
            else EXPECT_TRUE(v == w && std::signbit(v) == std::signbit(w)) << "row " << row << ": " << v << " want " << w;
          }
        }
      }
    }
  }
}

// np.roll(z, 1, axis): concat(z[-1:], z[:-1]) along `axis` of a [n, n] value.
ValueId roll1(ir::Graph& g, ValueId z, int64_t n, int axis) {
  std::vector<int64_t> one = {n, n}, rest = {n, n};
  one[static_cast<size_t>(axis)] = 1, rest[static_cast<size_t>(axis)] = n - 1;
  ValueId last = g.add_op(Op::Slice, T(DType::F64, one), {z});
  g.node(last).ints = axis == 0 ? std::vector<int64_t>{n - 1, 1, 0, 1} : std::vector<int64_t>{0, 1, n - 1, 1};
  ValueId head = g.add_op(Op::Slice, T(DType::F64, rest), {z});
  g.node(head).ints = {0, 1, 0, 1};
  ValueId cat = g.add_op(Op::Concat, T(DType::F64, {n, n}), {last, head});
  g.node(cat).ints = {axis};
  return cat;
}

TEST(CpuStructural, UnrolledStencilStepsMaterializeOncePerStep) {
  // u = u + 0.1 * (roll0(u) + roll1(u) - 2u) * u, unrolled: each step reads the previous one
  // through four views and directly; inlined, the expression would double every step.
  const int64_t n = 8;
  const int steps = 60;
  ir::Graph g;
  ValueId u = g.add_param(T(DType::F64, {n, n}), ir::ParamLayout::Contiguous);
  auto c = [&](double v) { return g.add_const_float(DType::F64, v); };
  auto op = [&](Op o, ValueId a, ValueId b) { return g.add_op(o, T(DType::F64, {n, n}), {a, b}); };
  for (int k = 0; k < steps; ++k) {
    ValueId lap = op(Op::Sub, op(Op::Add, roll1(g, u, n, 0), roll1(g, u, n, 1)), op(Op::Mul, c(2.0), u));
    u = op(Op::Add, u, op(Op::Mul, op(Op::Mul, c(0.1), lap), u));
  }
  g.results = {u};
  // Every step's u but the last (a result, buffered anyway) gets one buffer; nothing else does.
  EXPECT_EQ(materialized_count(g), steps - 1);
  Arr in = random_arr(DType::F64, {n, n}, 23);
  for (double& v : in.f) v = 0.5 + 0.1 * v;  // keep the iteration bounded
  check(g, {in}, 1e-12);
}

}  // namespace
}  // namespace tracejit::backends::testing
