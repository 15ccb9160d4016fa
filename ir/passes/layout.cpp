// Layouts of inputs and results (see layout.h).
#include "ir/passes/layout.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <vector>

#include "ir/passes/transpose_cone.h"

namespace tracejit::ir {

bool expand_transposed_params(Graph& g) {
  bool any = false;
  for (ValueId p : g.params) any = any || g.node(p).ints.size() > 2;
  if (!any) return false;
  std::vector<Node> old = std::move(g.nodes);
  g.nodes.clear();
  g.nodes.reserve(old.size() + g.params.size());
  std::vector<ValueId> remap(old.size(), kNoValue);
  std::vector<ValueId> param_node(old.size(), kNoValue);  // old param -> its new param node
  for (size_t i = 0; i < old.size(); ++i) {
    Node n = old[i];
    for (ValueId& o : n.operands) o = remap[static_cast<size_t>(o)];
    if (n.op != Op::Param || n.ints.size() <= 2 || n.ints[1] != static_cast<int64_t>(ParamLayout::Transposed)) {
      remap[i] = param_node[i] = g.add(std::move(n));
      continue;
    }
    std::vector<int64_t> axes(n.ints.begin() + 2, n.ints.end());
    const Type t = n.type;
    n.type = Type(t.dtype, untransposed_shape(t.shape, axes));
    n.ints.resize(2);
    n.ints[1] = static_cast<int64_t>(ParamLayout::Contiguous);
    SourceLoc loc = n.loc;
    param_node[i] = g.add(std::move(n));
    remap[i] = g.add_op(Op::Transpose, t, {param_node[i]}, axes, loc);
  }
  for (ValueId& p : g.params) p = param_node[static_cast<size_t>(p)];
  for (ValueId& r : g.results) r = remap[static_cast<size_t>(r)];
  return true;
}

bool results_in_memory_order(Graph& g) {
  const std::vector<int> uses = count_uses(g);
  std::map<ValueId, std::pair<size_t, TransposeCone>> plans;  // result value -> (index, cone)
  for (size_t k = 0; k < g.results.size(); ++k) {
    ValueId r = g.results[k];
    const Node& n = g.node(r);
    if (k < g.result_axes.size() && !g.result_axes[k].empty()) continue;
    if (n.type.rank() < 2 || uses[static_cast<size_t>(r)] != 1) continue;
    if (n.op != Op::Transpose && !has_trait(n.op, kElementwise)) continue;
    auto cone = find_transpose_cone(g, r, uses);
    if (!cone || std::any_of(cone->interior.begin(), cone->interior.end(),
                             [&](ValueId u) { return is_c_order_copy(g.node(u)); }))
      continue;
    // An input of unknown strides (broadcast, stepped, reversed) keeps the C order: NumPy's
    // choice for those depends on the strides, and reading them in their order gains nothing sure.
    if (std::any_of(cone->transposed.begin(), cone->transposed.end(), [&](ValueId t) {
          const Node& x = g.node(g.node(t).operands[0]);
          return x.op == Op::Param && x.ints[1] == static_cast<int64_t>(ParamLayout::Strided);
        }))
      continue;
    // Only a permutation of the axes longer than 1 changes the memory order.
    if (moves_memory(n.type.shape, cone->perm)) plans.emplace(r, std::make_pair(k, std::move(*cone)));
  }
  if (plans.empty()) return false;

  std::vector<Node> old = std::move(g.nodes);
  g.nodes.clear();
  g.nodes.reserve(old.size() + 8 * plans.size());
  std::vector<ValueId> remap(old.size(), kNoValue);
  g.result_axes.resize(g.results.size());
  std::vector<ValueId> results = g.results;
  for (size_t i = 0; i < old.size(); ++i) {
    Node n = old[i];
    for (ValueId& o : n.operands) o = remap[static_cast<size_t>(o)];
    remap[i] = g.add(std::move(n));
    auto it = plans.find(static_cast<ValueId>(i));
    if (it == plans.end()) continue;
    const auto& [k, c] = it->second;
    // The old root stays (dce removes it): nothing but this result read it.
    results[k] = emit_untransposed(g, old, remap, c, static_cast<ValueId>(i), old[i].loc);
    g.result_axes[k] = c.perm;
  }
  for (ValueId& p : g.params) p = remap[static_cast<size_t>(p)];
  for (size_t k = 0; k < g.results.size(); ++k)
    g.results[k] = plans.count(g.results[k]) ? results[k] : remap[static_cast<size_t>(g.results[k])];
  return true;
}

bool drop_c_order_marks(Graph& g) {
  bool changed = false;
  for (Node& n : g.nodes)
    if (is_c_order_copy(n)) {
      n.ints.clear();
      changed = true;
    }
  return changed;
}

}  // namespace tracejit::ir
