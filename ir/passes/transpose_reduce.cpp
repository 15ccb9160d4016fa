// Reductions of transposed operands -> reductions of the untransposed array (see
// transpose_reduce.h).
#include "ir/passes/transpose_reduce.h"

#include "ir/passes/transpose_cone.h"

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

}  // namespace

bool reduce_through_transpose(Graph& g) {
  const std::vector<int> uses = count_uses(g);

  // Plans: reduction -> its cone, when the rewrite applies.
  std::map<ValueId, TransposeCone> plans;
  for (size_t i = 0; i < g.nodes.size(); ++i) {
    const Node& n = g.nodes[i];
    if (!is_reduction(n.op) || n.operands.size() != 1) continue;
    ValueId y = n.operands[0];
    const int rank = g.type(y).rank();
    if (rank < 2 || (uses[static_cast<size_t>(y)] != 1 && g.node(y).op != Op::Transpose)) continue;
    auto cone = find_transpose_cone(g, y, uses);
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
    const TransposeCone& c = it->second;
    const std::vector<int64_t>& p = c.perm;
    ValueId y = old[i].operands[0];
    ValueId moved_y = emit_untransposed(g, old, remap, c, y, n.loc);
    Node red = n;
    red.operands = {moved_y};
    std::vector<int64_t> axes;
    for (int64_t a : n.ints) axes.push_back(p[static_cast<size_t>(a)]);
    std::sort(axes.begin(), axes.end());
    red.ints = axes;
    red.type = Type(n.type.dtype, untransposed_shape(n.type.shape, p));
    ValueId r = g.add(std::move(red));
    remap[i] = g.type(r) == n.type ? r : g.add_op(Op::Reshape, n.type, {r}, n.loc);
  }
  for (ValueId& p : g.params) p = remap[static_cast<size_t>(p)];
  for (ValueId& r : g.results) r = remap[static_cast<size_t>(r)];
  return true;
}

}  // namespace tracejit::ir
