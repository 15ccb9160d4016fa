// Reductions of transposed operands -> reductions of the untransposed array (see
// transpose_reduce.h).
#include "ir/passes/transpose_reduce.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <vector>

namespace tracejit::ir {
namespace {

bool is_reduction(Op op) {
  switch (op) {
    case Op::ReduceSum: case Op::ReduceProd: case Op::ReduceMax: case Op::ReduceMin: case Op::ReduceAny:
    case Op::ReduceAll: return true;
    default: return false;
  }
}

// The elementwise cone of one reduction's operand: its interior nodes (elementwise, of the
// operand's shape, used only inside the cone), the transposes it reads through (one
// permutation), and its other leaves.
struct Cone {
  std::vector<int64_t> perm;
  std::vector<ValueId> interior;    // in graph order after sorting
  std::vector<ValueId> transposed;  // transpose nodes read as leaves
  std::vector<ValueId> others;      // everything else read as a leaf (broadcast or scalar)
};

std::optional<Cone> find_cone(const Graph& g, ValueId y, const std::vector<int>& uses) {
  const Type& yt = g.type(y);
  Cone c;
  bool ok = true;
  auto leaf = [&](ValueId o) {
    const Node& n = g.node(o);
    const Type& t = n.type;
    if (n.op == Op::Transpose && t.shape == yt.shape) {
      if (c.perm.empty()) c.perm = n.ints;
      if (n.ints != c.perm) ok = false;
      c.transposed.push_back(o);
      return;
    }
    // A full-shape operand read straight: after the rewrite it would be read transposed.
    bool broadcast = t.rank() < yt.rank();
    for (int d = 0; d < t.rank() && !broadcast; ++d) broadcast = t.shape[static_cast<size_t>(d)] == Dim::fixed(1) && !(yt.shape[static_cast<size_t>(yt.rank() - t.rank() + d)] == Dim::fixed(1));
    if (!broadcast && t.rank() > 0) ok = false;
    c.others.push_back(o);
  };
  std::vector<ValueId> stack{y};
  while (!stack.empty() && ok) {
    ValueId u = stack.back();
    stack.pop_back();
    const Node& n = g.node(u);
    if (u == y && n.op == Op::Transpose) {
      leaf(u);
      continue;
    }
    if (!has_trait(n.op, kElementwise) || n.type.shape != yt.shape || !n.regions.empty()) return std::nullopt;
    c.interior.push_back(u);
    for (ValueId o : n.operands) {
      const Node& on = g.node(o);
      if (has_trait(on.op, kElementwise) && on.type.shape == yt.shape && uses[static_cast<size_t>(o)] == 1 && on.op != Op::Const)
        stack.push_back(o);
      else
        leaf(o);
    }
  }
  if (!ok || c.transposed.empty()) return std::nullopt;
  std::sort(c.interior.begin(), c.interior.end());
  c.interior.erase(std::unique(c.interior.begin(), c.interior.end()), c.interior.end());
  return c;
}

}  // namespace

bool reduce_through_transpose(Graph& g) {
  std::vector<int> uses(g.nodes.size(), 0);
  for (const Node& n : g.nodes)
    for (ValueId o : n.operands) ++uses[static_cast<size_t>(o)];
  for (ValueId r : g.results) ++uses[static_cast<size_t>(r)];

  // Plans: reduction -> its cone, when the rewrite applies.
  std::map<ValueId, Cone> plans;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!is_reduction(n.op) || n.operands.size() != 1) continue;
    ValueId y = n.operands[0];
    const int rank = g.type(y).rank();
    if (rank < 2 || (uses[static_cast<size_t>(y)] != 1 && g.node(y).op != Op::Transpose)) continue;
    auto cone = find_cone(g, y, uses);
    if (!cone) continue;
    const std::vector<int64_t>& p = cone->perm;
    bool identity = true;
    for (int d = 0; d < rank; ++d) identity = identity && p[static_cast<size_t>(d)] == d;
    if (identity) continue;
    std::vector<bool> red(static_cast<size_t>(rank), false);
    for (int64_t a : n.ints) red[static_cast<size_t>(a)] = true;
    int64_t prev = -1;
    bool in_order = true;
    for (int d = 0; d < rank; ++d) {
      if (red[static_cast<size_t>(d)] || g.type(y).shape[static_cast<size_t>(d)] == Dim::fixed(1)) continue;
      in_order = in_order && p[static_cast<size_t>(d)] > prev;
      prev = p[static_cast<size_t>(d)];
    }
    if (in_order) plans.emplace(static_cast<ValueId>(i), std::move(*cone));
  }
  if (plans.empty()) return false;

  std::vector<Node> old = std::move(g.nodes);
  g.nodes.clear();
  g.nodes.reserve(old.size() + 8 * plans.size());
  std::vector<ValueId> remap(old.size(), kNoValue);
  for (size_t i = 0; i < old.size(); ++i) {
    Node n = old[i];
    for (ValueId& o : n.operands) o = remap[static_cast<size_t>(o)];
    auto it = plans.find(static_cast<ValueId>(i));
    if (it == plans.end()) {
      remap[i] = g.add(std::move(n));
      continue;
    }
    const Cone& c = it->second;
    const std::vector<int64_t>& p = c.perm;
    const auto rank = static_cast<int>(p.size());
    std::vector<int64_t> inv(p.size());
    for (int d = 0; d < rank; ++d) inv[static_cast<size_t>(p[static_cast<size_t>(d)])] = d;
    auto permuted = [&](const std::vector<Dim>& s) {  // an I-space shape in x's axis order
      std::vector<Dim> out(s.size());
      for (int e = 0; e < rank; ++e) out[static_cast<size_t>(e)] = s[static_cast<size_t>(inv[static_cast<size_t>(e)])];
      return out;
    };
    std::map<ValueId, ValueId> moved;  // old cone value -> its value in x's axis order
    for (ValueId t : c.transposed) moved[t] = remap[static_cast<size_t>(old[static_cast<size_t>(t)].operands[0])];
    for (ValueId o : c.others) {
      const Type& ot = old[static_cast<size_t>(o)].type;
      ValueId v = remap[static_cast<size_t>(o)];
      if (ot.rank() == 0) {
        moved[o] = v;
        continue;
      }
      std::vector<Dim> full(static_cast<size_t>(rank - ot.rank()), Dim::fixed(1));
      full.insert(full.end(), ot.shape.begin(), ot.shape.end());
      if (ot.rank() < rank) v = g.add_op(Op::Reshape, Type(ot.dtype, full), {v}, n.loc);
      moved[o] = g.add_op(Op::Transpose, Type(ot.dtype, permuted(full)), {v}, inv, n.loc);
    }
    for (ValueId u : c.interior) {  // graph order: operands first
      Node e = old[static_cast<size_t>(u)];
      for (ValueId& o : e.operands) o = moved.at(o);
      e.type = Type(e.type.dtype, permuted(e.type.shape));
      moved[u] = g.add(std::move(e));
    }
    ValueId y = old[i].operands[0];
    Node red = n;
    red.operands = {moved.at(y)};
    std::vector<int64_t> axes;
    for (int64_t a : n.ints) axes.push_back(p[static_cast<size_t>(a)]);
    std::sort(axes.begin(), axes.end());
    red.ints = axes;
    red.type = Type(n.type.dtype, permuted(n.type.shape));
    ValueId r = g.add(std::move(red));
    remap[i] = g.type(r) == n.type ? r : g.add_op(Op::Reshape, n.type, {r}, n.loc);
  }
  for (ValueId& p : g.params) p = remap[static_cast<size_t>(p)];
  for (ValueId& r : g.results) r = remap[static_cast<size_t>(r)];
  return true;
}

}  // namespace tracejit::ir
