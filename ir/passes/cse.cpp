// Common subexpression elimination by hashing each pure node's full identity.
#include "ir/passes/cse.h"

#include <algorithm>
#include <bit>
#include <map>

namespace tracejit::ir {
namespace {

// Everything that makes two nodes compute the same value, flattened. Source locations are
// deliberately left out: the first occurrence's location wins.
std::vector<int64_t> identity(const Node& n) {
  std::vector<int64_t> key = {static_cast<int64_t>(n.op), static_cast<int64_t>(n.type.dtype), n.type.rank()};
  for (const Dim& d : n.type.shape) {
    key.push_back(d.size);
    key.push_back(d.sym);
  }
  std::vector<ValueId> ops = n.operands;
  if (has_trait(n.op, kCommutative)) std::sort(ops.begin(), ops.end());
  key.push_back(static_cast<int64_t>(ops.size()));
  key.insert(key.end(), ops.begin(), ops.end());
  key.push_back(static_cast<int64_t>(n.ints.size()));
  key.insert(key.end(), n.ints.begin(), n.ints.end());
  key.push_back(std::bit_cast<int64_t>(n.fval));
  return key;
}

}  // namespace

bool cse(Graph& g) {
  std::vector<ValueId> leader(g.nodes.size());
  std::map<std::vector<int64_t>, ValueId> seen;
  bool changed = false;
  for (ValueId v = 0; v < g.size(); ++v) {
    Node& n = g.node(v);
    for (ValueId& o : n.operands) {
      ValueId l = leader[static_cast<size_t>(o)];
      changed |= l != o;
      o = l;
    }
    leader[static_cast<size_t>(v)] = v;
    if (!has_trait(n.op, kPure) || has_trait(n.op, kRegion)) continue;
    auto [it, inserted] = seen.try_emplace(identity(n), v);
    if (!inserted) leader[static_cast<size_t>(v)] = it->second;
  }
  for (ValueId& r : g.results) {
    ValueId l = leader[static_cast<size_t>(r)];
    changed |= l != r;
    r = l;
  }
  return changed;
}

}  // namespace tracejit::ir
