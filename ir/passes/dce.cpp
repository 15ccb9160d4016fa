// Dead code elimination: mark from the results backwards, then compact.
#include "ir/passes/dce.h"

namespace tracejit::ir {

bool dce(Graph& g) {
  const size_t n = g.nodes.size();
  std::vector<char> live(n, 0);
  for (ValueId r : g.results) live[static_cast<size_t>(r)] = 1;
  // Operands precede their users, so one backward sweep reaches every transitive operand.
  for (size_t i = n; i-- > 0;) {
    const Node& node = g.nodes[i];
    if (has_side_effects(node)) live[i] = 1;
    if (!live[i]) continue;
    for (ValueId o : node.operands) live[static_cast<size_t>(o)] = 1;
  }
  std::vector<ValueId> remap(n, kNoValue);
  std::vector<Node> kept;
  kept.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!live[i]) continue;
    remap[i] = static_cast<ValueId>(kept.size());
    kept.push_back(std::move(g.nodes[i]));
  }
  if (kept.size() == n) {
    g.nodes = std::move(kept);
    return false;
  }
  for (Node& node : kept)
    for (ValueId& o : node.operands) o = remap[static_cast<size_t>(o)];
  for (ValueId& p : g.params) p = remap[static_cast<size_t>(p)];
  for (ValueId& r : g.results) r = remap[static_cast<size_t>(r)];
  g.nodes = std::move(kept);
  return true;
}

}  // namespace tracejit::ir
