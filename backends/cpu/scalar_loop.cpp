// Native scalar loop nests (see scalar_loop.h): the acceptance analysis (array versions, their
// single writer and the reads that must precede it) and the lowering to one function.
#include "backends/cpu/scalar_loop.h"

#include <fmt/format.h>
#include <llvm/IR/Constants.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/MDBuilder.h>
#include <llvm/IR/Module.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <functional>
#include <map>

#include "backends/cpu/scalar_ops.h"

namespace tracejit::backends {
namespace {

using ir::DType;
using ir::Op;
using ir::ValueId;
using llvm::Value;

bool one_element(const ir::Type& t) {
  std::optional<int64_t> n = t.static_numel();
  return n && *n == 1;
}

// A loop or while node's carried values: how many, and the operand holding value k's initial
// value (a while's operand 0 is its test).
size_t carried_count(const ir::Node& l) { return static_cast<size_t>(l.op == Op::While ? l.ints[0] : l.ints[1]); }
size_t carried_operand(const ir::Node& l, size_t k) { return l.op == Op::While ? k + 1 : k; }

// ---- Window updates: a dyn_update of a runtime-extent window (`A[k+1:, k+1:] -= ...`) whose
// value is a tree of elementwise ops, broadcasts, size-1 reshapes and window reads, run as a
// loop nest over the window that computes the tree per element. ----

// An i64[] value of a body as a * iv + b (iv: the body's induction variable, params[0]).
struct Affine {
  bool ok = false;
  int64_t a = 0, b = 0;
};

Affine affine(const ir::Graph& g, ValueId v, int depth = 0) {
  const ir::Node& n = g.node(v);
  if (n.type != ir::Type::scalar(DType::I64) || depth > 16) return {};
  auto combine = [](Affine x, Affine y, int64_t sy) -> Affine {
    Affine r{true, 0, 0};
    if (!x.ok || !y.ok || __builtin_mul_overflow(y.a, sy, &y.a) || __builtin_mul_overflow(y.b, sy, &y.b) ||
        __builtin_add_overflow(x.a, y.a, &r.a) || __builtin_add_overflow(x.b, y.b, &r.b))
      return {};
    return r;
  };
  switch (n.op) {
    case Op::Const: return n.ints.empty() ? Affine{} : Affine{true, 0, n.ints[0]};
    case Op::Param: return !g.params.empty() && v == g.params[0] ? Affine{true, 1, 0} : Affine{};
    case Op::Add: return combine(affine(g, n.operands[0], depth + 1), affine(g, n.operands[1], depth + 1), 1);
    case Op::Sub: return combine(affine(g, n.operands[0], depth + 1), affine(g, n.operands[1], depth + 1), -1);
    case Op::Neg: return combine(Affine{true, 0, 0}, affine(g, n.operands[0], depth + 1), -1);
    case Op::Mul: {
      Affine x = affine(g, n.operands[0], depth + 1), y = affine(g, n.operands[1], depth + 1);
      if (!x.ok || !y.ok) return {};
      if (x.a != 0) std::swap(x, y);
      if (x.a != 0) return {};  // iv * iv
      Affine r{true, 0, 0};
      if (__builtin_mul_overflow(y.a, x.b, &r.a) || __builtin_mul_overflow(y.b, x.b, &r.b)) return {};
      return r;
    }
    default: return {};
  }
}

// A window read inside an update's value tree: leaf axis j reads start_j + step_j * i_{map[j]}
// (i_m: the nest's index along axis m of the written window) or start_j when map[j] < 0.
struct Leaf {
  ValueId node = ir::kNoValue;
  std::vector<int> map;
};

// The largest array whose window update values are staged in a stack temporary (per update).
constexpr int64_t kMaxStagedBytes = 128 * 1024;

bool is_window(const ir::Node& n) { return n.op == Op::DynWindow || n.op == Op::DynSlice; }
bool is_window_reduction(Op op) {
  return op == Op::ReduceSum || op == Op::ReduceMax || op == Op::ReduceMin || op == Op::ArgMax || op == Op::ArgMin;
}

// The leaves of the value tree of update `u` (one-element values are leaves computed before
// the nest, not listed); a reason when the tree has anything else.
std::string window_leaves(const ir::Graph& g, ValueId v, std::vector<int> map, std::vector<Leaf>& out) {
  const ir::Node& n = g.node(v);
  if (one_element(n.type)) return {};
  if (is_window(n)) {
    out.push_back({v, std::move(map)});
    return {};
  }
  const std::vector<ir::Dim>& rs = n.type.shape;
  if (n.op == Op::Reshape) {  // only size-1 axes come or go
    const std::vector<ir::Dim>& os = g.type(n.operands[0]).shape;
    std::vector<int> rbig;
    for (size_t d = 0; d < rs.size(); ++d)
      if (rs[d] != ir::Dim::fixed(1)) rbig.push_back(map[d]);
    std::vector<int> om;
    size_t k = 0;
    for (const ir::Dim& d : os) {
      if (d == ir::Dim::fixed(1)) {
        om.push_back(-1);
      } else {
        if (k >= rbig.size()) return "a reshape that moves elements between axes";
        om.push_back(rbig[k++]);
      }
    }
    std::vector<ir::Dim> a, b;
    for (const ir::Dim& d : os)
      if (d != ir::Dim::fixed(1)) a.push_back(d);
    for (const ir::Dim& d : rs)
      if (d != ir::Dim::fixed(1)) b.push_back(d);
    if (a != b) return "a reshape that moves elements between axes";
    return window_leaves(g, n.operands[0], std::move(om), out);
  }
  if (n.op == Op::Broadcast || ir::has_trait(n.op, ir::kElementwise)) {
    for (ValueId o : n.operands) {
      const std::vector<ir::Dim>& os = g.type(o).shape;
      if (os.size() > rs.size()) return "an operand of higher rank";
      size_t off = rs.size() - os.size();
      std::vector<int> om;
      for (size_t j = 0; j < os.size(); ++j)
        om.push_back(os[j] == ir::Dim::fixed(1) && rs[j + off] != ir::Dim::fixed(1) ? -1 : map[j + off]);
      if (std::string why = window_leaves(g, o, std::move(om), out); !why.empty()) return why;
    }
    return {};
  }
  return fmt::format("a {} of an array inside a window update's value", ir::op_name(n.op));
}

// The nest's axis map of update `u`'s value: axis d of the window, -1 where its extent is 1.
std::vector<int> update_map(const ir::Graph& g, const ir::Node& u) {
  const ir::Type& vt = g.type(u.operands[1]);
  std::vector<int> m;
  for (int d = 0; d < vt.rank(); ++d) m.push_back(vt.shape[static_cast<size_t>(d)] == ir::Dim::fixed(1) ? -1 : d);
  return m;
}

// How leaf `l` (a window of the array update `u` writes) relates to the written window, for
// every iteration iv in [lo, hi]: 1 when it reads exactly the element being written, 2 when it
// never reads a written element, 0 when neither is proved.
int leaf_relation(const ir::Graph& g, const ir::Node& u, const Leaf& l, int64_t lo, int64_t hi) {
  const ir::Node& w = g.node(l.node);
  const auto r = static_cast<size_t>(g.type(u.operands[0]).rank());
  const ir::Type& vt = g.type(u.operands[1]);
  std::vector<int> um = update_map(g, u);
  auto start_w = [&](size_t d) { return u.operands[2 + d]; };
  auto start_r = [&](size_t d) { return w.operands[1 + d]; };
  auto same_value = [&](ValueId a, ValueId b) {
    if (a == b) return true;
    Affine x = affine(g, a), y = affine(g, b);
    return x.ok && y.ok && x.a == y.a && x.b == y.b;
  };
  bool same = l.map.size() == r;
  for (size_t d = 0; same && d < r; ++d)
    same = l.map[d] == um[d] && same_value(start_r(d), start_w(d)) && (um[d] < 0 || w.ints[d] == u.ints[d]);
  if (same) return 1;
  // Disjoint along some axis d: the read and written index intervals (steps 1) never meet.
  auto extent = [&](size_t d) -> Affine {  // the written window's extent along axis d
    const ir::Dim& e = vt.shape[d];
    if (e.is_static()) return {true, 0, e.size};
    return u.operands.size() == 2 + 2 * r ? affine(g, u.operands[2 + r + d]) : Affine{};
  };
  for (size_t d = 0; d < r && l.map.size() == r; ++d) {
    if (u.ints[d] != 1 || w.ints[d] != 1) continue;
    Affine ws = affine(g, start_w(d)), we = extent(d), rs = affine(g, start_r(d));
    Affine re = l.map[d] < 0 ? Affine{true, 0, 1} : extent(static_cast<size_t>(l.map[d]));
    if (!ws.ok || !we.ok || !rs.ok || !re.ok) continue;
    auto at = [](Affine f, int64_t i) { return f.a * i + f.b; };
    bool below = true, above = true;  // read interval entirely before / after the written one
    for (int64_t i : {lo, hi}) {
      int64_t r0 = at(rs, i), r1 = r0 + at(re, i) - 1, w0 = at(ws, i), w1 = w0 + at(we, i) - 1;
      below &= r1 < w0;
      above &= w1 < r0;
    }
    if (below || above) return 2;
  }
  return 0;
}

// The acceptance analysis of one graph (a loop body, or a loop graph's top level). An array
// value is a *version* of a *family* (one buffer): a param starts a family; a dyn_update, or a
// nested loop carrying the version, makes the next version of the same family.
class Checker {
 public:
  // [lo, hi]: the range of the body's induction variable (for graphs that are loop bodies).
  Checker(const ir::Graph& g, std::vector<bool> writable_params, int64_t lo = 0, int64_t hi = 0)
      : g_(g), writable_params_(std::move(writable_params)), ver_(static_cast<size_t>(g.size()), -1),
        lazy_(static_cast<size_t>(g.size()), 0), lo_(lo), hi_(hi) {}

  // Empty when accepted. `body`: results[c] is the next value of params[c + 1] (a while body's
  // last result is its test, one element).
  std::string check(bool body, bool while_body = false) {
    for (ValueId v = 0; v < g_.size(); ++v) {
      const ir::Node& n = g_.node(v);
      if (n.op == Op::DynWindow || (n.op == Op::DynUpdate && n.operands.size() >= 2 && !g_.type(n.operands[1]).is_static()))
        if (std::string why = bind_extents(v); !why.empty()) return why;
    }
    for (ValueId v = 0; v < g_.size(); ++v)
      if (std::string why = node(v); !why.empty()) return why;
    for (const Version& x : vers_)
      if (x.writer >= 0 && x.last_read >= x.writer)
        return fail(x.last_read, fmt::format("reads an array version that %{} overwrites before it (in place would "
                                             "be wrong)", x.writer));
    if (!body) return {};
    size_t carried = g_.results.size();
    if (while_body) {
      if (carried == 0 || !one_element(g_.type(g_.results.back()))) return "a while body without its test";
      --carried;
      for (const ir::Node& n : g_.nodes)
        for (ValueId o : n.operands)
          if (o == g_.params[0]) return "a while body reads its iteration number";
    }
    for (size_t c = 0; c < carried; ++c) {
      ValueId r = g_.results[c], p = g_.params[c + 1];
      if (lazy(r)) return fail(r, "a carried value is a window of runtime extent");
      if (one_element(g_.type(p))) {
        if (!one_element(g_.type(r))) return fail(r, "a one-element carried value's next value is not one element");
        continue;
      }
      int rv = ver_[static_cast<size_t>(r)], pv = ver_[static_cast<size_t>(p)];
      if (rv < 0 || vers_[static_cast<size_t>(rv)].family != vers_[static_cast<size_t>(pv)].family)
        return fail(r, fmt::format("carried array {} is not updated in place (the result is another array)", c));
      if (vers_[static_cast<size_t>(rv)].writer >= 0)
        return fail(r, fmt::format("carried array {}'s result is overwritten later in the body", c));
    }
    return {};
  }

 private:
  struct Version {
    int family = 0;
    ValueId writer = ir::kNoValue;     // the node that turns it into the next version
    ValueId last_read = ir::kNoValue;  // the last other node that reads it
  };

  std::string fail(ValueId v, const std::string& why) const {
    return fmt::format("%{} ({}) in '{}': {}", v, ir::op_name(g_.node(v).op), g_.name, why);
  }
  bool scalar(ValueId v) const { return one_element(g_.type(v)); }
  int new_version(int family) {
    vers_.push_back({family});
    return static_cast<int>(vers_.size() - 1);
  }
  void read(ValueId a, ValueId at) {
    int x = ver_[static_cast<size_t>(a)];
    if (x >= 0) vers_[static_cast<size_t>(x)].last_read = std::max(vers_[static_cast<size_t>(x)].last_read, at);
  }
  // `at` consumes array `a` into a new version of its family; returns the version or -1 (why_).
  int write(ValueId a, ValueId at) {
    Version& x = vers_[static_cast<size_t>(ver_[static_cast<size_t>(a)])];
    if (!family_writable_[static_cast<size_t>(x.family)]) {
      why_ = fail(at, "writes an array that is not carried (its buffer is not the loop's)");
      return -1;
    }
    if (x.writer >= 0) {
      why_ = fail(at, fmt::format("writes an array version %{} already wrote", x.writer));
      return -1;
    }
    x.writer = at;
    return new_version(x.family);
  }

  // A window value or an elementwise tree over windows: computed per element inside the nest
  // of the window update that consumes it, never as an array.
  bool lazy(ValueId v) const { return lazy_[static_cast<size_t>(v)] != 0; }

  std::string window_update(ValueId v) {
    const ir::Node& n = g_.node(v);
    ValueId x = n.operands[0];
    const auto r = static_cast<size_t>(g_.type(x).rank());
    if (n.operands.size() != 2 + 2 * r) return fail(v, "writes a window of more than one element with static extents");
    for (size_t k = 2; k < n.operands.size(); ++k)
      if (!scalar(n.operands[k])) return fail(v, "start or extent is not one element");
    std::vector<Leaf> leaves;
    if (std::string why = window_leaves(g_, n.operands[1], update_map(g_, n), leaves); !why.empty()) return fail(v, why);
    int xv = ver_[static_cast<size_t>(x)];
    if (xv < 0) return fail(v, "writes a window of a one-element array");
    for (const Leaf& l : leaves) {
      ValueId a = g_.node(l.node).operands[0];
      if (ver_[static_cast<size_t>(a)] != xv) {
        read(a, v);  // read inside the nest, i.e. here
        continue;
      }
      // Otherwise the value is staged in a temporary of x's size on the stack (bounded).
      if (leaf_relation(g_, n, l, lo_, hi_) == 0 &&
          *g_.type(x).static_numel() * ir::dtype_size(g_.type(x).dtype) > kMaxStagedBytes)
        return fail(v, fmt::format("reads %{}, a window of the array it writes, that is neither the element being "
                                   "written nor provably disjoint from the written window, and the array is too "
                                   "large to stage the value on the stack", l.node));
    }
    ver_[static_cast<size_t>(v)] = write(x, v);
    return ver_[static_cast<size_t>(v)] < 0 ? why_ : std::string();
  }

  // Every op that introduces a symbol binds it to the same extent (the same value, or equal
  // affine forms of the induction variable), and a static axis's extent operand is that size:
  // the nest trusts the types for the extents of the windows it reads.
  std::string bind_extents(ValueId v) {
    const ir::Node& n = g_.node(v);
    const bool update = n.op == Op::DynUpdate;
    const ir::Type& wt = update ? g_.type(n.operands[1]) : n.type;
    const auto r = static_cast<size_t>(wt.rank());
    const size_t first = update ? 2 + r : 1 + r;
    if (n.operands.size() != first + r) return fail(v, "malformed window extents");
    for (size_t d = 0; d < r; ++d) {
      ValueId e = n.operands[first + d];
      const ir::Dim& dim = wt.shape[d];
      if (dim.is_static()) {
        Affine a = affine(g_, e);
        if (!a.ok || a.a != 0 || a.b != dim.size) return fail(v, "a static window axis whose extent operand differs");
        continue;
      }
      auto [it, fresh] = symbols_.emplace(dim.sym, e);
      if (fresh || it->second == e) continue;
      Affine a = affine(g_, e), b = affine(g_, it->second);
      if (!a.ok || !b.ok || a.a != b.a || a.b != b.b)
        return fail(v, fmt::format("symbol s{} is bound to different extents", dim.sym));
    }
    return {};
  }

  std::string node(ValueId v) {
    const ir::Node& n = g_.node(v);
    auto i = static_cast<size_t>(v);
    for (const ir::Dim& d : n.type.shape)
      if (!d.is_static() && !symbols_.count(d.sym))
        return fail(v, fmt::format("symbol s{} is not bound by a window of this body", d.sym));
    // Lazy values are consumed only by lazy values and as a window update's value.
    for (size_t k = 0; k < n.operands.size(); ++k) {
      if (!lazy(n.operands[k])) continue;
      bool ok = n.op == Op::Reshape || n.op == Op::Broadcast || ir::has_trait(n.op, ir::kElementwise) ||
                (n.op == Op::DynUpdate && k == 1) || is_window_reduction(n.op);
      if (!ok) return fail(v, "uses a window of runtime extent other than elementwise or as a stored value");
    }
    switch (n.op) {
      case Op::Param: {
        if (scalar(v)) return {};
        auto k = static_cast<size_t>(n.ints[0]);
        family_writable_.push_back(k < writable_params_.size() && writable_params_[k]);
        ver_[i] = new_version(static_cast<int>(family_writable_.size() - 1));
        return {};
      }
      case Op::Const: return {};
      case Op::DynWindow:
      case Op::DynSlice:
      case Op::Slice:
        for (size_t k = 1; k < n.operands.size(); ++k)
          if (!scalar(n.operands[k])) return fail(v, "start is not one element");
        if (!scalar(v)) {
          if (n.op == Op::Slice || ver_[static_cast<size_t>(n.operands[0])] < 0)
            return fail(v, "reads a window of more than one element");
          lazy_[i] = 1;  // read where a window update consumes it
          return {};
        }
        read(n.operands[0], v);
        return {};
      case Op::DynUpdate: {
        ValueId x = n.operands[0];
        if (lazy(n.operands[1])) return window_update(v);
        if (!scalar(n.operands[1])) return fail(v, "writes a window of more than one element");
        for (size_t k = 2; k < n.operands.size(); ++k)
          if (!scalar(n.operands[k])) return fail(v, "start is not one element");
        if (scalar(x)) return {};  // the whole (one-element) value is replaced
        ver_[i] = write(x, v);
        return ver_[i] < 0 ? why_ : std::string();
      }
      case Op::Reshape:
      case Op::Broadcast:
        if (!scalar(v) && (scalar(n.operands[0]) || lazy(n.operands[0]))) {
          lazy_[i] = 1;
          return {};
        }
        if (!scalar(v) || !scalar(n.operands[0])) return fail(v, "reshapes an array");
        return {};
      case Op::Loop:
      case Op::While: return loop(v);
      case Op::Effect: {
        // A stopping effect (a failed bounds check): its arrays are read at its place (the
        // buffer holds that version then); the nest returns right after it.
        if (!ir::effect_stops(n)) return fail(v, "a host effect that does not stop the program");
        const size_t first = n.ints[1] != 0 ? 1 : 0;
        if (first && !scalar(n.operands[0])) return fail(v, "an effect condition of more than one element");
        for (size_t k = first; k < n.operands.size(); ++k)
          if (!scalar(n.operands[k])) read(n.operands[k], v);
        return {};
      }
      case Op::ReduceSum:
      case Op::ReduceMax:
      case Op::ReduceMin:
      case Op::ArgMax:
      case Op::ArgMin: {
        ValueId o = n.operands[0];
        if (!lazy(o)) break;
        if (!scalar(v) || ir::is_bool(g_.type(o).dtype))
          return fail(v, "a reduction over a window that is not a single number");
        const ir::Type& ot = g_.type(o);
        std::vector<int> map;
        for (int d = 0; d < ot.rank(); ++d) map.push_back(ot.shape[static_cast<size_t>(d)] == ir::Dim::fixed(1) ? -1 : d);
        std::vector<Leaf> leaves;
        if (std::string why = window_leaves(g_, o, map, leaves); !why.empty()) return fail(v, why);
        for (const Leaf& l : leaves) read(g_.node(l.node).operands[0], v);  // all read here
        return {};
      }
      case Op::LoopResult: {
        if (scalar(v)) return {};
        auto it = loop_versions_.find({n.operands[0], n.ints[0]});
        if (it == loop_versions_.end()) return fail(v, "reads a carried array the analysis did not see");
        ver_[i] = it->second;
        return {};
      }
      default: break;
    }
    if (!ir::has_trait(n.op, ir::kElementwise)) return fail(v, "op has no native scalar form");
    if (!scalar(v)) {
      bool any = false;
      for (ValueId o : n.operands) {
        if (!scalar(o) && !lazy(o)) return fail(v, "elementwise op on an array operand");
        any |= lazy(o);
      }
      if (!any) return fail(v, "elementwise op on arrays");
      lazy_[i] = 1;
      return {};
    }
    for (ValueId o : n.operands)
      if (!scalar(o)) return fail(v, "elementwise op on an array operand");
    return {};
  }

  // A loop or a while (whose operand j is its body's param j: operand 0, the test, has none).
  std::string loop(ValueId v) {
    const ir::Node& n = g_.node(v);
    const bool is_while = n.op == Op::While;
    if (n.regions.size() != 1 || !n.regions[0] || n.ints.size() != (is_while ? 1u : 4u) ||
        (is_while && (n.operands.empty() || n.ints[0] < 0 || n.ints[0] >= static_cast<int64_t>(n.operands.size()))))
      return fail(v, "malformed loop");
    const ir::Graph& body = *n.regions[0];
    const size_t carried = carried_count(n), shift = is_while ? 0 : 1;  // operand j -> body param j + shift
    if (body.params.size() != n.operands.size() + shift || body.results.size() != carried + (is_while ? 1 : 0))
      return fail(v, "loop body does not match its operands");
    if (is_while && !scalar(n.operands[0])) return fail(v, "a while test of more than one element");
    std::vector<bool> writable(body.params.size(), false);
    for (size_t j = is_while ? 1 : 0; j < n.operands.size(); ++j) {
      ValueId o = n.operands[j];
      if (scalar(o)) continue;
      if (j >= carried + (is_while ? 1 : 0)) {
        read(o, v);
        continue;
      }
      if (std::count(n.operands.begin(), n.operands.end(), o) != 1)
        return fail(v, "an array is carried and also handed to the loop another way");
      int nv = write(o, v);
      if (nv < 0) return why_;
      loop_versions_[{v, static_cast<int64_t>(j + shift - 1)}] = nv;
      writable[j + shift] = true;
    }
    if (is_while) return Checker(body, std::move(writable)).check(true, true);
    const int64_t first = n.ints[2], last = n.ints[2] + (n.ints[0] > 0 ? n.ints[0] - 1 : 0) * n.ints[3];
    return Checker(body, std::move(writable), std::min(first, last), std::max(first, last)).check(true);
  }

  const ir::Graph& g_;
  std::vector<bool> writable_params_;
  std::vector<int> ver_;  // per value: its version, -1 for one-element values
  std::vector<Version> vers_;
  std::vector<bool> family_writable_;
  std::map<std::pair<ValueId, int64_t>, int> loop_versions_;  // (loop, carried k) -> version
  std::string why_;
  std::vector<char> lazy_;
  int64_t lo_ = 0, hi_ = 0;
  std::map<int32_t, ValueId> symbols_;  // symbol -> the extent it was first bound to
};

// The loop node of a loop graph and its structure; a reason when `g` is not one.
std::string loop_graph_shape(const ir::Graph& g, ValueId& loop) {
  loop = ir::kNoValue;
  for (ValueId v = 0; v < g.size(); ++v) {
    const ir::Node& n = g.node(v);
    if (n.op == Op::Loop || n.op == Op::While) {
      if (loop != ir::kNoValue) return "more than one loop";
      loop = v;
    } else if (n.op != Op::Param && n.op != Op::LoopResult) {
      return fmt::format("a {} outside the loop", ir::op_name(n.op));
    }
  }
  if (loop == ir::kNoValue) return "no loop";
  const ir::Node& l = g.node(loop);
  if (l.ints.size() != (l.op == Op::While ? 1u : 4u) || l.regions.size() != 1 || !l.regions[0]) return "malformed loop";
  if (l.op == Op::While && (l.ints[0] < 0 || l.ints[0] >= static_cast<int64_t>(l.operands.size()))) return "malformed loop";
  if (l.operands.size() != g.params.size()) return "loop operands are not the params";
  for (size_t j = 0; j < l.operands.size(); ++j)
    if (l.operands[j] != g.params[j]) return "loop operands are not the params";
  auto carried = carried_count(l);
  if (g.results.size() != carried) return "results are not the carried values";
  for (size_t k = 0; k < carried; ++k) {
    const ir::Node& r = g.node(g.results[k]);
    if (r.op != Op::LoopResult || r.operands[0] != loop || r.ints.size() != 1 || r.ints[0] != static_cast<int64_t>(k))
      return "results are not the carried values";
  }
  return {};
}

// ---- Lowering. ----

class Emitter {
 public:
  Emitter(llvm::IRBuilder<>& b, llvm::MDBuilder& md) : b_(b), md_(md), ctx_(b.getContext()) {}

  // One alias scope per buffer of the loop graph: carried arrays live in their own output
  // buffers and invariant arrays are only read, so accesses through different buffers never
  // conflict (two invariant inputs may share memory: both only read).
  void add_buffer(Value* base) {
    if (!domain_) domain_ = md_.createAnonymousAliasScopeDomain("tracejit.scalar_loop");
    scopes_[base] = md_.createAnonymousAliasScope(domain_);
  }

  Status graph(const ir::Graph& g, std::vector<Value*>& val) {
    std::map<ValueId, std::vector<Value*>> finals;  // nested loop -> its carried values' ends
    for (ValueId v = 0; v < g.size(); ++v) {
      const ir::Node& n = g.node(v);
      auto i = static_cast<size_t>(v);
      bool scalar = one_element(n.type);
      switch (n.op) {
        case Op::Param: continue;
        case Op::Const: {
          auto c = emit_const(b_, n);
          if (!c) return c.status();
          val[i] = *c;
          continue;
        }
        case Op::Loop:
        case Op::While: {
          auto f = n.op == Op::While ? while_loop(g, n, val) : loop(g, n, val);
          if (!f) return f.status();
          finals[v] = std::move(*f);
          continue;
        }
        case Op::LoopResult:
          val[i] = finals[n.operands[0]][static_cast<size_t>(n.ints[0])];
          continue;
        case Op::Reshape:
        case Op::Broadcast: val[i] = val[static_cast<size_t>(n.operands[0])]; continue;
        case Op::Effect: stopping_effect(g, n, val); continue;
        case Op::DynWindow:  // read inside the window update's nest; binds its extents' symbols
          for (size_t d = 0; d < n.type.shape.size(); ++d)
            if (!n.type.shape[d].is_static())
              symbol_extent_[n.type.shape[d].sym] = val[static_cast<size_t>(n.operands[1 + n.type.shape.size() + d])];
          continue;
        case Op::ReduceSum:
        case Op::ReduceMax:
        case Op::ReduceMin:
        case Op::ArgMax:
        case Op::ArgMin:
          if (!one_element(g.type(n.operands[0]))) {
            if (Status st = window_reduce(g, v, val); !st) return st;
            continue;
          }
          break;
        case Op::DynSlice:
        case Op::Slice: {
          if (!scalar) continue;  // a window of more elements: read inside a window update's nest
          ValueId a = n.operands[0];
          if (one_element(g.type(a))) {
            val[i] = val[static_cast<size_t>(a)];
            continue;
          }
          DType d = n.type.dtype;
          auto* ld = b_.CreateAlignedLoad(memory_type(ctx_, d), element(g, n, a, 1, val),
                                          llvm::Align(static_cast<uint64_t>(ir::dtype_size(d))));
          tag(ld, val[static_cast<size_t>(a)]);
          val[i] = from_memory(b_, ld, d);
          continue;
        }
        case Op::DynUpdate: {
          ValueId a = n.operands[0];
          if (!one_element(g.type(n.operands[1]))) {
            if (Status st = window_update(g, v, val); !st) return st;
            val[i] = val[static_cast<size_t>(a)];  // the same buffer, next version
            continue;
          }
          Value* x = val[static_cast<size_t>(n.operands[1])];
          if (scalar) {
            val[i] = x;
            continue;
          }
          DType d = n.type.dtype;
          auto* st = b_.CreateAlignedStore(to_memory(b_, x, d), element(g, n, a, 2, val),
                                           llvm::Align(static_cast<uint64_t>(ir::dtype_size(d))));
          tag(st, val[static_cast<size_t>(a)]);
          val[i] = val[static_cast<size_t>(a)];  // the same buffer, next version
          continue;
        }
        default: break;
      }
      if (!scalar) continue;  // an elementwise tree over windows: computed inside a nest
      std::vector<Value*> args;
      std::vector<DType> dts;
      for (ValueId o : n.operands) {
        args.push_back(val[static_cast<size_t>(o)]);
        dts.push_back(g.type(o).dtype);
      }
      auto r = emit_scalar_op(b_, n, dts, args);
      if (!r) return r.status();
      val[i] = *r;
    }
    return ok_status();
  }

 private:
  // `A[window] = tree`: a loop nest over the window's axes (static extent 1 axes have index 0),
  // the innermost one marked for vectorization; each element evaluates the value tree (window
  // reads at start + step * index) and stores. Reads proved disjoint from the written window get
  // their own alias scope (noalias with the store), so the vectorizer needs no runtime checks.
  Status window_update(const ir::Graph& g, ValueId u, std::vector<Value*>& val) {
    const ir::Node& n = g.node(u);
    ValueId x = n.operands[0];
    const ir::Type& xt = g.type(x);
    const ir::Type& vt = g.type(n.operands[1]);
    const auto r = static_cast<size_t>(xt.rank());
    Value* base = val[static_cast<size_t>(x)];
    std::vector<Value*> ext(r, nullptr);
    std::vector<int> axes;  // the nest's axes, outermost first
    for (size_t d = 0; d < r; ++d) {
      const ir::Dim& e = vt.shape[d];
      if (e == ir::Dim::fixed(1)) continue;
      ext[d] = e.is_static() ? static_cast<Value*>(b_.getInt64(e.size)) : val[static_cast<size_t>(n.operands[2 + r + d])];
      axes.push_back(static_cast<int>(d));
    }
    std::vector<Leaf> leaves;
    if (std::string why = window_leaves(g, n.operands[1], update_map(g, n), leaves); !why.empty())
      return Status::error("cpu backend: window update: " + why);
    // Reads of the written array that are neither the element being written nor disjoint from
    // the written window: the whole value goes to a temporary first (NumPy's semantics: the
    // right-hand side is evaluated before anything is written), then into the array.
    std::map<ValueId, bool> disjoint;
    bool staged = false;
    for (const Leaf& l : leaves) {
      if (g.node(l.node).operands[0] != x) continue;
      int rel = leaf_relation(g, n, l, lo_, hi_);
      disjoint[l.node] = rel == 2;
      staged |= rel == 0;
    }
    llvm::MDNode* dom = md_.createAnonymousAliasScopeDomain("tracejit.window_update");
    llvm::MDNode* rscope = md_.createAnonymousAliasScope(dom);
    llvm::MDNode* wscope = md_.createAnonymousAliasScope(dom);
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    const DType d = vt.dtype;
    llvm::Type* mt = memory_type(ctx_, d);
    const auto align = llvm::Align(static_cast<uint64_t>(ir::dtype_size(d)));

    std::vector<Value*> idx(r, nullptr);
    auto open_nest = [&]() {
      std::vector<Level> levels;
      for (size_t k = 0; k < r; ++k) idx[k] = b_.getInt64(0);
      for (int a : axes) {
        levels.push_back(open_level(ext[static_cast<size_t>(a)], "win"));
        idx[static_cast<size_t>(a)] = levels.back().i;
      }
      return levels;
    };
    // Closes the loops, innermost first; the innermost gets the vectorizer's hint.
    auto close_nest = [&](std::vector<Level>& levels) {
      for (size_t k = levels.size(); k-- > 0;) close_level(levels[k], k + 1 == levels.size());
    };
    auto target = [&]() {  // the written element's address
      Value* off = b_.getInt64(0);
      int64_t stride = 1;
      for (size_t a = r; a-- > 0;) {
        Value* pos = b_.CreateAdd(val[static_cast<size_t>(n.operands[2 + a])],
                                  b_.CreateMul(idx[a], b_.getInt64(n.ints[a]), "", true, true), "", true, true);
        off = b_.CreateAdd(off, b_.CreateMul(pos, b_.getInt64(stride), "", true, true), "", true, true);
        stride *= xt.shape[a].size;
      }
      return b_.CreateInBoundsGEP(mt, base, off);
    };
    llvm::AllocaInst* temp = nullptr;
    auto temp_slot = [&]() {  // row-major position in the window (at most x's size)
      Value* lin = b_.getInt64(0);
      for (int a : axes)
        lin = b_.CreateAdd(b_.CreateMul(lin, ext[static_cast<size_t>(a)], "", true, true), idx[static_cast<size_t>(a)], "",
                           true, true);
      return b_.CreateInBoundsGEP(mt, temp, lin);
    };
    if (staged) {
      llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
      temp = eb.CreateAlloca(mt, eb.getInt64(*xt.static_numel()));
      temp->setAlignment(llvm::Align(64));
    }
    std::vector<Level> levels = open_nest();
    Elem ctx{g, val, idx, staged ? nullptr : &disjoint, rscope, wscope, {}};
    auto value = eval(ctx, n.operands[1], update_map(g, n));
    if (!value) return value.status();
    if (staged) {
      b_.CreateAlignedStore(to_memory(b_, *value, d), temp_slot(), align);
      close_nest(levels);
      levels = open_nest();
      auto* ld = b_.CreateAlignedLoad(mt, temp_slot(), align);
      tag(b_.CreateAlignedStore(ld, target(), align), base);
    } else {
      tag(b_.CreateAlignedStore(to_memory(b_, *value, d), target(), align), base, wscope, rscope);
    }
    close_nest(levels);
    return ok_status();
  }

  // Evaluation of a window tree at one element: leaf axis j reads at start_j + step_j * idx[map[j]].
  struct Elem {
    const ir::Graph& g;
    const std::vector<Value*>& val;
    const std::vector<Value*>& idx;
    const std::map<ValueId, bool>* disjoint;  // window reads proved disjoint from the written window
    llvm::MDNode *rscope, *wscope;
    std::map<std::pair<ValueId, std::vector<int>>, Value*> memo;
  };

  Expected<Value*> eval(Elem& c, ValueId v, const std::vector<int>& map) {
      const ir::Node& m = c.g.node(v);
      if (one_element(m.type)) return c.val[static_cast<size_t>(v)];
      auto key = std::make_pair(v, map);
      if (auto it = c.memo.find(key); it != c.memo.end()) return it->second;
      Value* out = nullptr;
      const std::vector<ir::Dim>& rs = m.type.shape;
      if (is_window(m)) {
        ValueId a = m.operands[0];
        const ir::Type& at = c.g.type(a);
        Value* off = b_.getInt64(0);
        int64_t stride = 1;
        for (size_t j = at.shape.size(); j-- > 0;) {
          Value* pos = c.val[static_cast<size_t>(m.operands[1 + j])];
          if (map[j] >= 0)
            pos = b_.CreateAdd(pos, b_.CreateMul(c.idx[static_cast<size_t>(map[j])], b_.getInt64(m.ints[j]), "", true, true),
                               "", true, true);
          off = b_.CreateAdd(off, b_.CreateMul(pos, b_.getInt64(stride), "", true, true), "", true, true);
          stride *= at.shape[j].size;
        }
        DType d = m.type.dtype;
        auto* ld = b_.CreateAlignedLoad(memory_type(ctx_, d), b_.CreateInBoundsGEP(memory_type(ctx_, d), c.val[static_cast<size_t>(a)], off),
                                        llvm::Align(static_cast<uint64_t>(ir::dtype_size(d))));
        bool dj = c.disjoint && c.disjoint->count(v) && c.disjoint->at(v);
        tag(ld, c.val[static_cast<size_t>(a)], dj ? c.rscope : nullptr, c.wscope);
        out = from_memory(b_, ld, d);
      } else if (m.op == Op::Reshape) {
        const std::vector<ir::Dim>& os = c.g.type(m.operands[0]).shape;
        std::vector<int> rbig, om;
        for (size_t d = 0; d < rs.size(); ++d)
          if (rs[d] != ir::Dim::fixed(1)) rbig.push_back(map[d]);
        size_t k = 0;
        for (const ir::Dim& d : os) om.push_back(d == ir::Dim::fixed(1) ? -1 : rbig[k++]);
        auto e = eval(c, m.operands[0], om);
        if (!e) return e.status();
        out = *e;
      } else {
        std::vector<Value*> args;
        std::vector<DType> dts;
        for (ValueId o : m.operands) {
          const std::vector<ir::Dim>& os = c.g.type(o).shape;
          size_t off = rs.size() - os.size();
          std::vector<int> om;
          for (size_t j = 0; j < os.size(); ++j)
            om.push_back(os[j] == ir::Dim::fixed(1) && rs[j + off] != ir::Dim::fixed(1) ? -1 : map[j + off]);
          auto e = eval(c, o, om);
          if (!e) return e.status();
          args.push_back(*e);
          dts.push_back(c.g.type(o).dtype);
        }
        if (m.op == Op::Broadcast) {
          out = args[0];
        } else {
          auto e = emit_scalar_op(b_, m, dts, args);
          if (!e) return e.status();
          out = *e;
        }
      }
      c.memo[key] = out;
      return out;
    }

  // A reduction over a window tree to one number, its reads at the reduction's place:
  //  - sum (`L[i, :i] @ x[:i]`, `A[i, :j].sum()`): of one float window along one axis, NumPy's
  //    own pairwise order (tracejit_window_sum_*: bit for bit what `.sum()` returns); else a
  //    sequential loop nest accumulating in the dtype from 0 (integers wrap as NumPy's do, in
  //    any order; float trees such as the products of a dot are summed in order, as documented);
  //  - max/min: NumPy's maximum/minimum folded in order (NaN propagates);
  //  - argmax/argmin: the first index of the extreme, or of the first NaN (NumPy's rule).
  // The tracer proved windows under max/argmax non-empty in every iteration.
  Status window_reduce(const ir::Graph& g, ValueId v, std::vector<Value*>& val) {
    const ir::Node& n = g.node(v);
    ValueId o = n.operands[0];
    const ir::Type& ot = g.type(o);
    const auto r = static_cast<size_t>(ot.rank());
    DType d = ot.dtype;
    const bool fl = ir::is_float(d), sum = n.op == Op::ReduceSum;
    const bool arg = n.op == Op::ArgMax || n.op == Op::ArgMin;
    const bool greater = n.op == Op::ReduceMax || n.op == Op::ArgMax;
    if (sum && (d == DType::F64 || d == DType::F32)) {
      auto p = pairwise_sum(g, o, val);
      if (!p) return p.status();
      if (*p) {
        val[static_cast<size_t>(v)] = *p;
        return ok_status();
      }
    }
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
    llvm::Type* ty = register_type(ctx_, d);
    llvm::AllocaInst* acc = eb.CreateAlloca(ty);
    llvm::AllocaInst* pos = eb.CreateAlloca(b_.getInt64Ty());  // elements seen (flat index)
    llvm::AllocaInst* at = eb.CreateAlloca(b_.getInt64Ty());   // argmax/argmin: the index
    b_.CreateStore(fl ? llvm::ConstantFP::get(ty, 0.0) : llvm::ConstantInt::get(ty, 0), acc);
    b_.CreateStore(b_.getInt64(0), pos);
    b_.CreateStore(b_.getInt64(0), at);
    std::vector<Value*> idx(r, b_.getInt64(0));
    std::vector<int> map(r, -1);
    std::vector<Level> levels;
    for (size_t a = 0; a < r; ++a) {
      const ir::Dim& e = ot.shape[a];
      if (e == ir::Dim::fixed(1)) continue;
      auto bound = e.is_static() ? symbol_extent_.end() : symbol_extent_.find(e.sym);
      if (!e.is_static() && bound == symbol_extent_.end())
        return Status::error(fmt::format("cpu backend: a reduction over s{} before a window binds it", e.sym));
      Value* ext = e.is_static() ? static_cast<Value*>(b_.getInt64(e.size)) : bound->second;
      levels.push_back(open_level(ext, "red"));
      idx[a] = levels.back().i;
      map[a] = static_cast<int>(a);
    }
    Elem c{g, val, idx, nullptr, nullptr, nullptr, {}};
    auto xe = eval(c, o, map);
    if (!xe) return xe.status();
    Value* x = *xe;
    Value* cur = b_.CreateLoad(ty, acc);
    Value* k = b_.CreateLoad(b_.getInt64Ty(), pos);
    if (sum) {
      b_.CreateStore(fl ? b_.CreateFAdd(cur, x) : b_.CreateAdd(cur, x), acc);
    } else {
      // Whether x replaces the current value: always for the first element; then NumPy's
      // maximum (`cur > x || isnan(cur) ? cur : x`: a tie of two zeros takes the later one, as
      // NumPy's reduction of up to 8 doubles or 16 floats does; longer windows fold in SIMD
      // lanes there, whose zero ties this in-order fold does not reproduce) or argmax
      // (`!isnan(cur) && (x > cur || isnan(x))`, the first extreme staying), and their mirror
      // images.
      Value* take;
      if (fl) {
        Value* cur_nan = b_.CreateFCmpUNO(cur, cur);
        Value* x_nan = b_.CreateFCmpUNO(x, x);
        if (arg) {
          Value* better = quiet_fcmp(b_, greater ? llvm::CmpInst::FCMP_OGT : llvm::CmpInst::FCMP_OLT, x, cur);
          take = b_.CreateAnd(b_.CreateNot(cur_nan), b_.CreateOr(better, x_nan));
        } else {
          Value* keep = quiet_fcmp(b_, greater ? llvm::CmpInst::FCMP_OGT : llvm::CmpInst::FCMP_OLT, cur, x);
          take = b_.CreateNot(b_.CreateOr(keep, cur_nan));
        }
      } else {
        const bool sg = ir::is_signed_int(d);
        if (arg) take = greater ? (sg ? b_.CreateICmpSGT(x, cur) : b_.CreateICmpUGT(x, cur))
                                : (sg ? b_.CreateICmpSLT(x, cur) : b_.CreateICmpULT(x, cur));
        else take = greater ? (sg ? b_.CreateICmpSLT(cur, x) : b_.CreateICmpULT(cur, x))
                            : (sg ? b_.CreateICmpSGT(cur, x) : b_.CreateICmpUGT(cur, x));
      }
      take = b_.CreateOr(take, b_.CreateICmpEQ(k, b_.getInt64(0)));
      b_.CreateStore(b_.CreateSelect(take, x, cur), acc);
      if (arg) b_.CreateStore(b_.CreateSelect(take, k, b_.CreateLoad(b_.getInt64Ty(), at)), at);
    }
    b_.CreateStore(b_.CreateAdd(k, b_.getInt64(1), "", true, true), pos);
    for (size_t q = levels.size(); q-- > 0;) close_level(levels[q], false);
    val[static_cast<size_t>(v)] = arg ? static_cast<Value*>(b_.CreateLoad(b_.getInt64Ty(), at)) : b_.CreateLoad(ty, acc);
    return ok_status();
  }

  // NumPy's pairwise sum of a float window that is one array window along one axis (reshapes
  // aside): a call of tracejit_window_sum_f64/f32 (scalar_loop.h) on its first element, length
  // and stride. nullptr when the operand is not such a window (a tree: the caller sums it).
  Expected<Value*> pairwise_sum(const ir::Graph& g, ValueId o, const std::vector<Value*>& val) {
    while (g.node(o).op == Op::Reshape) o = g.node(o).operands[0];
    const ir::Node& m = g.node(o);
    if (!is_window(m) || m.op == Op::Slice) return static_cast<Value*>(nullptr);
    ValueId a = m.operands[0];
    const ir::Type& at = g.type(a);
    const size_t r = at.shape.size();
    Value* len = nullptr;
    Value* off = b_.getInt64(0);
    int64_t stride = 1, step = 0;
    for (size_t j = r; j-- > 0;) {
      off = b_.CreateAdd(off, b_.CreateMul(val[static_cast<size_t>(m.operands[1 + j])], b_.getInt64(stride), "", true, true), "", true, true);
      const ir::Dim& e = m.type.shape[j];
      if (e != ir::Dim::fixed(1)) {
        if (len) return static_cast<Value*>(nullptr);  // more than one axis: NumPy's order differs
        if (e.is_static()) {
          len = b_.getInt64(e.size);
        } else {
          auto bound = symbol_extent_.find(e.sym);
          if (bound == symbol_extent_.end())
            return Status::error(fmt::format("cpu backend: a sum over s{} before a window binds it", e.sym));
          len = bound->second;
        }
        step = m.ints[j] * stride;
      }
      stride *= at.shape[j].size;
    }
    if (!len) return static_cast<Value*>(nullptr);
    DType d = m.type.dtype;
    llvm::Type* ty = register_type(ctx_, d);
    Value* base = b_.CreateInBoundsGEP(memory_type(ctx_, d), val[static_cast<size_t>(a)], off);
    llvm::Module* mod = b_.GetInsertBlock()->getModule();
    auto callee = mod->getOrInsertFunction(d == DType::F64 ? "tracejit_window_sum_f64" : "tracejit_window_sum_f32",
                                           llvm::FunctionType::get(ty, {b_.getPtrTy(), b_.getInt64Ty(), b_.getInt64Ty()}, false));
    return static_cast<Value*>(b_.CreateCall(callee, {base, len, b_.getInt64(step)}));
  }

  // The address of the one element a window of `n` (starts from operand `first`) selects in
  // array `a`: C-contiguous, so the sum of start * stride (axes of size 1 have start 0).
  Value* element(const ir::Graph& g, const ir::Node& n, ValueId a, size_t first, const std::vector<Value*>& val) {
    const ir::Type& t = g.type(a);
    Value* off = b_.getInt64(0);
    int64_t stride = 1;
    for (size_t d = t.shape.size(); d-- > 0;) {
      int64_t len = t.shape[d].size;
      if (len != 1) {
        Value* s = n.op == Op::Slice ? static_cast<Value*>(b_.getInt64(n.ints[2 * d]))
                                     : val[static_cast<size_t>(n.operands[first + d])];
        off = b_.CreateAdd(off, b_.CreateMul(s, b_.getInt64(stride), "", true, true), "", true, true);
      }
      stride *= len;
    }
    return b_.CreateInBoundsGEP(memory_type(ctx_, t.dtype), val[static_cast<size_t>(a)], off);
  }

  // Buffer scopes; `extra` (a window update's read or write scope, its own domain) is added to
  // the access's scopes and `extra_noalias` to its noalias list when `extra` is set.
  void tag(llvm::Instruction* inst, Value* base, llvm::MDNode* extra = nullptr, llvm::MDNode* extra_noalias = nullptr) {
    auto it = scopes_.find(base);
    if (it == scopes_.end()) return;
    std::vector<llvm::Metadata*> others, mine{it->second};
    for (const auto& [b, s] : scopes_)
      if (b != base) others.push_back(s);
    if (extra) {
      mine.push_back(extra);
      others.push_back(extra_noalias);
    }
    inst->setMetadata(llvm::LLVMContext::MD_alias_scope, llvm::MDNode::get(ctx_, mine));
    if (!others.empty()) inst->setMetadata(llvm::LLVMContext::MD_noalias, llvm::MDNode::get(ctx_, others));
  }

  // One level of a loop nest over [0, extent): opened at the insert point (which moves into the
  // body), closed by close_level once the body is emitted; `vectorize` asks LLVM's loop
  // vectorizer for it (the innermost window loop).
  struct Level {
    llvm::PHINode* i;
    llvm::BasicBlock *head, *exit;
  };
  Level open_level(Value* extent, const char* name) {
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* head = llvm::BasicBlock::Create(ctx_, std::string(name) + ".head", f);
    auto* body = llvm::BasicBlock::Create(ctx_, std::string(name) + ".body", f);
    auto* exit = llvm::BasicBlock::Create(ctx_, std::string(name) + ".exit", f);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::PHINode* i = b_.CreatePHI(b_.getInt64Ty(), 2, name);
    i->addIncoming(b_.getInt64(0), pre);
    b_.CreateCondBr(b_.CreateICmpSLT(i, extent), body, exit);
    b_.SetInsertPoint(body);
    return {i, head, exit};
  }
  void close_level(const Level& lv, bool vectorize) {
    lv.i->addIncoming(b_.CreateAdd(lv.i, b_.getInt64(1), "", true, true), b_.GetInsertBlock());
    auto* br = b_.CreateBr(lv.head);
    if (vectorize) {
      llvm::MDNode* enable = llvm::MDNode::get(
          ctx_, {llvm::MDString::get(ctx_, "llvm.loop.vectorize.enable"),
                 llvm::ConstantAsMetadata::get(llvm::ConstantInt::getTrue(ctx_))});
      llvm::MDNode* id = llvm::MDNode::getDistinct(ctx_, {nullptr, enable});
      id->replaceOperandWith(0, id);
      br->setMetadata(llvm::LLVMContext::MD_loop, id);
    }
    b_.SetInsertPoint(lv.exit);
  }

  // A stopping effect (checker: the only kind here): when its condition holds, a cold block
  // hands its values to tracejit_loop_stop (one-element values through stack slots, arrays as
  // their buffers, which hold the version it reads right then) and the kernel returns; the code
  // after it runs only when the condition does not hold.
  void stopping_effect(const ir::Graph& g, const ir::Node& n, const std::vector<Value*>& val) {
    const size_t first = n.ints[1] != 0 ? 1 : 0;
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    auto* stop = llvm::BasicBlock::Create(ctx_, "fx.stop", f);
    auto* cont = llvm::BasicBlock::Create(ctx_, "fx.cont", f);
    if (first) {
      auto* br = b_.CreateCondBr(val[static_cast<size_t>(n.operands[0])], stop, cont);
      br->setMetadata(llvm::LLVMContext::MD_prof, md_.createBranchWeights(1, 1u << 20));
    } else {
      b_.CreateBr(stop);
    }
    b_.SetInsertPoint(stop);
    const size_t count = n.operands.size() - first;
    llvm::IRBuilder<> eb(&f->getEntryBlock(), f->getEntryBlock().begin());
    llvm::AllocaInst* table = eb.CreateAlloca(b_.getPtrTy(), eb.getInt64(std::max<size_t>(count, 1)));
    for (size_t j = 0; j < count; ++j) {
      ValueId o = n.operands[first + j];
      const ir::Type& t = g.type(o);
      Value* p = val[static_cast<size_t>(o)];
      if (one_element(t)) {
        llvm::AllocaInst* slot = eb.CreateAlloca(memory_type(ctx_, t.dtype));
        b_.CreateStore(to_memory(b_, p, t.dtype), slot);
        p = slot;
      }
      b_.CreateStore(p, b_.CreateConstInBoundsGEP1_64(b_.getPtrTy(), table, j));
    }
    llvm::Module* mod = f->getParent();
    auto callee = mod->getOrInsertFunction(
        "tracejit_loop_stop", llvm::FunctionType::get(b_.getVoidTy(), {b_.getInt64Ty(), b_.getPtrTy(), b_.getInt64Ty()}, false));
    b_.CreateCall(callee, {b_.getInt64(n.ints[0]), table, b_.getInt64(static_cast<int64_t>(count))});
    b_.CreateRetVoid();
    b_.SetInsertPoint(cont);
  }

  // A counted loop: 0-d carried values are phis of the header, arrays stay where they are.
  Expected<std::vector<Value*>> loop(const ir::Graph& g, const ir::Node& l, const std::vector<Value*>& val) {
    const ir::Graph& body = *l.regions[0];
    const int64_t trip = l.ints[0], start = l.ints[2], step = l.ints[3];
    const auto carried = static_cast<size_t>(l.ints[1]);
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* head = llvm::BasicBlock::Create(ctx_, "loop.head", f);
    auto* bb = llvm::BasicBlock::Create(ctx_, "loop.body", f);
    auto* exit = llvm::BasicBlock::Create(ctx_, "loop.exit", f);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::PHINode* k = b_.CreatePHI(b_.getInt64Ty(), 2, "k");
    k->addIncoming(b_.getInt64(0), pre);
    std::vector<Value*> ops, ends;
    std::vector<llvm::PHINode*> phis(carried, nullptr);
    for (size_t j = 0; j < l.operands.size(); ++j) {
      Value* o = val[static_cast<size_t>(l.operands[j])];
      if (j < carried && one_element(g.type(l.operands[j]))) {
        phis[j] = b_.CreatePHI(o->getType(), 2);
        phis[j]->addIncoming(o, pre);
        o = phis[j];
      }
      ops.push_back(o);
    }
    b_.CreateCondBr(b_.CreateICmpSLT(k, b_.getInt64(trip)), bb, exit);
    b_.SetInsertPoint(bb);
    const int64_t last = start + (trip > 0 ? trip - 1 : 0) * step;
    const int64_t saved_lo = lo_, saved_hi = hi_;
    lo_ = std::min(start, last), hi_ = std::max(start, last);
    std::vector<Value*> bv(static_cast<size_t>(body.size()), nullptr);
    // start + k * step in wrapping arithmetic, as the program runner computes it.
    bv[static_cast<size_t>(body.params[0])] = b_.CreateAdd(b_.getInt64(start), b_.CreateMul(k, b_.getInt64(step)), "iv");
    for (size_t j = 0; j < ops.size(); ++j) bv[static_cast<size_t>(body.params[j + 1])] = ops[j];
    if (Status s = graph(body, bv); !s) return s;
    lo_ = saved_lo, hi_ = saved_hi;
    llvm::BasicBlock* latch = b_.GetInsertBlock();
    for (size_t c = 0; c < carried; ++c)
      if (phis[c]) phis[c]->addIncoming(bv[static_cast<size_t>(body.results[c])], latch);
    k->addIncoming(b_.CreateAdd(k, b_.getInt64(1), "", true, true), latch);
    b_.CreateBr(head);
    b_.SetInsertPoint(exit);
    for (size_t c = 0; c < carried; ++c) ends.push_back(phis[c] ? static_cast<Value*>(phis[c]) : ops[c]);
    return ends;
  }

  // A while loop: its test and 0-d carried values are phis of the header, arrays stay where
  // they are; the body (which never reads its iteration number) computes the next test.
  Expected<std::vector<Value*>> while_loop(const ir::Graph& g, const ir::Node& l, const std::vector<Value*>& val) {
    const ir::Graph& body = *l.regions[0];
    const size_t carried = carried_count(l);
    llvm::Function* f = b_.GetInsertBlock()->getParent();
    llvm::BasicBlock* pre = b_.GetInsertBlock();
    auto* head = llvm::BasicBlock::Create(ctx_, "while.head", f);
    auto* bb = llvm::BasicBlock::Create(ctx_, "while.body", f);
    auto* exit = llvm::BasicBlock::Create(ctx_, "while.exit", f);
    b_.CreateBr(head);
    b_.SetInsertPoint(head);
    llvm::PHINode* test = b_.CreatePHI(b_.getInt1Ty(), 2, "test");
    test->addIncoming(val[static_cast<size_t>(l.operands[0])], pre);
    std::vector<Value*> ops(l.operands.size(), nullptr), ends;
    std::vector<llvm::PHINode*> phis(carried, nullptr);
    for (size_t j = 1; j < l.operands.size(); ++j) {
      Value* o = val[static_cast<size_t>(l.operands[j])];
      if (j <= carried && one_element(g.type(l.operands[j]))) {
        phis[j - 1] = b_.CreatePHI(o->getType(), 2);
        phis[j - 1]->addIncoming(o, pre);
        o = phis[j - 1];
      }
      ops[j] = o;
    }
    b_.CreateCondBr(test, bb, exit);
    b_.SetInsertPoint(bb);
    std::vector<Value*> bv(static_cast<size_t>(body.size()), nullptr);
    bv[static_cast<size_t>(body.params[0])] = b_.getInt64(0);  // never read (the checker refuses it)
    for (size_t j = 1; j < ops.size(); ++j) bv[static_cast<size_t>(body.params[j])] = ops[j];
    if (Status s = graph(body, bv); !s) return s;
    llvm::BasicBlock* latch = b_.GetInsertBlock();
    for (size_t c = 0; c < carried; ++c)
      if (phis[c]) phis[c]->addIncoming(bv[static_cast<size_t>(body.results[c])], latch);
    test->addIncoming(bv[static_cast<size_t>(body.results[carried])], latch);
    b_.CreateBr(head);
    b_.SetInsertPoint(exit);
    for (size_t c = 0; c < carried; ++c) ends.push_back(phis[c] ? static_cast<Value*>(phis[c]) : ops[c + 1]);
    return ends;
  }

  llvm::IRBuilder<>& b_;
  llvm::MDBuilder& md_;
  llvm::LLVMContext& ctx_;
  llvm::MDNode* domain_ = nullptr;
  std::map<Value*, llvm::MDNode*> scopes_;
  int64_t lo_ = 0, hi_ = 0;  // the induction variable's range in the body being emitted
  std::map<int32_t, Value*> symbol_extent_;  // runtime extents of the windows emitted so far
};

}  // namespace

ir::Graph native_loop_graph(const ir::Graph& g, ValueId loop, const std::string& name) {
  ir::Graph lg;
  lg.name = name;
  lg.files = g.files;
  ir::Node l = g.node(loop);
  for (ValueId& o : l.operands) {
    const ir::Node& on = g.node(o);
    o = lg.add_param(on.type, on.type.rank() == 0 ? ir::ParamLayout::Scalar : ir::ParamLayout::Contiguous, on.loc);
  }
  ir::SourceLoc loc = l.loc;
  const size_t carried = carried_count(l);
  std::vector<ir::Type> types;
  for (size_t k = 0; k < carried; ++k) types.push_back(lg.type(l.operands[carried_operand(l, k)]));
  ValueId lv = lg.add(std::move(l));
  for (size_t k = 0; k < carried; ++k) {
    ValueId r = lg.add_op(Op::LoopResult, types[k], {lv}, loc);
    lg.node(r).ints = {static_cast<int64_t>(k)};
    lg.results.push_back(r);
  }
  return lg;
}

std::string scalar_loop_rejection(const ir::Graph& g) {
  ValueId loop = ir::kNoValue;
  if (std::string why = loop_graph_shape(g, loop); !why.empty()) return why;
  const ir::Node& l = g.node(loop);
  for (const ir::Node& n : g.nodes)
    if (!n.type.is_static()) return "symbolic shapes";
  // A host callback per iteration (a deferred print/append): the program's loop steps make it.
  // (Stopping effects, failed bounds checks, return from the nest instead.)
  if (g.has_nonstopping_effects()) return "the body performs host effects (print, append, ...) per iteration";
  std::vector<bool> writable(g.params.size(), false);
  for (size_t k = 0; k < carried_count(l); ++k) writable[carried_operand(l, k)] = true;  // copied into the outputs
  return Checker(g, std::move(writable)).check(false);
}

Expected<std::unique_ptr<llvm::Module>> lower_scalar_loop(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                          const std::string& symbol) {
  if (std::string why = scalar_loop_rejection(g); !why.empty())
    return Status::error("cpu backend: not a native scalar loop: " + why);
  ValueId loop = ir::kNoValue;
  loop_graph_shape(g, loop);
  const ir::Node& l = g.node(loop);
  const size_t carried = carried_count(l), first_carried = carried_operand(l, 0);

  auto module = std::make_unique<llvm::Module>(symbol, ctx);
  llvm::IRBuilder<> b(ctx);
  llvm::MDBuilder md(ctx);
  llvm::Type* ptr = b.getPtrTy();
  auto* kty = llvm::FunctionType::get(b.getVoidTy(), {ptr, ptr, ptr, ptr}, false);
  auto* kernel = llvm::Function::Create(kty, llvm::Function::ExternalLinkage, symbol, *module);
  kernel->addFnAttr(llvm::Attribute::NoUnwind);
  b.SetInsertPoint(llvm::BasicBlock::Create(ctx, "entry", kernel));
  Emitter e(b, md);
  std::vector<Value*> val(static_cast<size_t>(g.size()), nullptr), outs;
  for (size_t j = 0; j < g.params.size(); ++j) {
    const ir::Type& t = g.type(g.params[j]);
    Value* in = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, kernel->getArg(0), j));
    Value* buf = in;
    if (j >= first_carried && j < first_carried + carried) {  // the loop works in the output buffer,
                                                              // from a copy of the initial value
      buf = b.CreateLoad(ptr, b.CreateConstInBoundsGEP1_64(ptr, kernel->getArg(2), j - first_carried));
      outs.push_back(buf);
      if (!one_element(t)) {
        int64_t bytes = *t.static_numel() * ir::dtype_size(t.dtype);
        // The program may hand the initial value's own buffer as the output when nothing reads
        // it afterwards (a donated buffer): then there is nothing to copy.
        if (bytes > 0) {
          auto* copy = llvm::BasicBlock::Create(ctx, "copy", kernel);
          auto* done = llvm::BasicBlock::Create(ctx, "copied", kernel);
          b.CreateCondBr(b.CreateICmpNE(buf, in), copy, done);
          b.SetInsertPoint(copy);
          b.CreateMemCpy(buf, llvm::MaybeAlign(1), in, llvm::MaybeAlign(1), bytes);
          b.CreateBr(done);
          b.SetInsertPoint(done);
        }
      }
    }
    if (one_element(t)) {
      val[static_cast<size_t>(g.params[j])] = from_memory(b, b.CreateLoad(memory_type(ctx, t.dtype), in), t.dtype);
    } else {
      val[static_cast<size_t>(g.params[j])] = buf;
      e.add_buffer(buf);
    }
  }
  if (Status s = e.graph(g, val); !s) return s;
  for (size_t c = 0; c < carried; ++c) {
    ValueId r = g.results[c];
    const ir::Type& t = g.type(r);
    if (one_element(t)) b.CreateStore(to_memory(b, val[static_cast<size_t>(r)], t.dtype), outs[c]);
  }
  b.CreateRetVoid();
  std::string err;
  llvm::raw_string_ostream os(err);
  if (llvm::verifyModule(*module, &os)) return Status::error("cpu backend: scalar loop module is invalid: " + os.str());
  return module;
}

}  // namespace tracejit::backends

// NumPy's pairwise summation (numpy/_core/src/umath/loops_utils.h.src, @TYPE@_pairwise_sum):
// under 8 elements in order; up to 128 with eight accumulators combined as a tree, then the
// rest in order; above that the two halves (the first a multiple of 8 long) recursively. A
// sum reduction adds that to its identity 0.0 (so -0.0 alone sums to 0.0).
namespace {
template <typename T>
T pairwise(const T* a, int64_t n, int64_t stride) {
  if (n < 8) {
    T res = 0;
    for (int64_t i = 0; i < n; ++i) res += a[i * stride];
    return res;
  }
  if (n <= 128) {
    T r[8];
    for (int j = 0; j < 8; ++j) r[j] = a[j * stride];
    int64_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += a[(i + j) * stride];
    T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += a[i * stride];
    return res;
  }
  int64_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise(a, n2, stride) + pairwise(a + n2 * stride, n - n2, stride);
}
}  // namespace

extern "C" double tracejit_window_sum_f64(const double* a, int64_t n, int64_t stride) {
  return 0.0 + pairwise(a, n, stride);
}
extern "C" float tracejit_window_sum_f32(const float* a, int64_t n, int64_t stride) {
  return 0.0f + pairwise(a, n, stride);
}
