// Elementwise cones read through one transpose (see transpose_cone.h).
#include "ir/passes/transpose_cone.h"

#include <algorithm>
#include <cstddef>
#include <map>

namespace tracejit::ir {

std::vector<int> count_uses(const Graph& g) {
  std::vector<int> uses(g.nodes.size(), 0);
  for (const Node& n : g.nodes)
    for (size_t i = 0; i < n.operands.size(); ++i)  // a user reading a value twice (x * x) counts once
      if (std::find(n.operands.begin(), n.operands.begin() + static_cast<std::ptrdiff_t>(i), n.operands[i]) ==
          n.operands.begin() + static_cast<std::ptrdiff_t>(i))
        ++uses[static_cast<size_t>(n.operands[i])];
  for (ValueId r : g.results) ++uses[static_cast<size_t>(r)];
  return uses;
}

std::optional<TransposeCone> find_transpose_cone(const Graph& g, ValueId y, const std::vector<int>& uses) {
  const Type& yt = g.type(y);
  TransposeCone c;
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
    for (int d = 0; d < t.rank() && !broadcast; ++d)
      broadcast = t.shape[static_cast<size_t>(d)] == Dim::fixed(1) &&
                  !(yt.shape[static_cast<size_t>(yt.rank() - t.rank() + d)] == Dim::fixed(1));
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

bool moves_memory(const std::vector<Dim>& s, const std::vector<int64_t>& p) {
  int64_t prev = -1;
  for (size_t d = 0; d < p.size(); ++d) {
    if (s[d] == Dim::fixed(1)) continue;
    if (p[d] < prev) return true;
    prev = p[d];
  }
  return false;
}

std::vector<Dim> untransposed_shape(const std::vector<Dim>& s, const std::vector<int64_t>& p) {
  std::vector<Dim> out(s.size());
  for (size_t d = 0; d < p.size(); ++d) out[static_cast<size_t>(p[d])] = s[d];
  return out;
}

ValueId emit_untransposed(Graph& g, const std::vector<Node>& old, const std::vector<ValueId>& remap,
                          const TransposeCone& c, ValueId y, SourceLoc loc) {
  const std::vector<int64_t>& p = c.perm;
  const auto rank = static_cast<int>(p.size());
  std::vector<int64_t> inv(p.size());
  for (int d = 0; d < rank; ++d) inv[static_cast<size_t>(p[static_cast<size_t>(d)])] = d;
  std::map<ValueId, ValueId> moved;  // old cone value -> its value in the untransposed order
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
    if (ot.rank() < rank) v = g.add_op(Op::Reshape, Type(ot.dtype, full), {v}, loc);
    moved[o] = g.add_op(Op::Transpose, Type(ot.dtype, untransposed_shape(full, p)), {v}, inv, loc);
  }
  for (ValueId u : c.interior) {  // graph order: operands first
    Node e = old[static_cast<size_t>(u)];
    for (ValueId& o : e.operands) o = moved.at(o);
    e.type = Type(e.type.dtype, untransposed_shape(e.type.shape, p));
    moved[u] = g.add(std::move(e));
  }
  return moved.at(y);
}

}  // namespace tracejit::ir
