// The materialization rule (see materialize.h): count each inline value's sites, consumers
// before producers, and buffer the shared, non-trivial ones.
#include "backends/cpu/materialize.h"

#include <algorithm>
#include <cstdint>

#include "ir/ops.h"

namespace tracejit::backends {
namespace {

using ir::Op;
using ir::ValueId;

// A value's sites as hashed keys; past kMaxSites the set only says "many".
constexpr size_t kMaxSites = 16;

struct Sites {
  std::vector<uint64_t> keys;
  bool many = false;
  size_t count() const { return many ? kMaxSites + 1 : keys.size(); }
  void add(uint64_t k) {
    if (many || std::find(keys.begin(), keys.end(), k) != keys.end()) return;
    if (keys.size() == kMaxSites) {
      many = true;
      keys.clear();
      return;
    }
    keys.push_back(k);
  }
};

uint64_t mix(uint64_t a, uint64_t b) {
  uint64_t h = a ^ (b + 0x9e3779b97f4a7c15ULL + (a << 6) + (a >> 2));
  h ^= h >> 31;
  h *= 0xbf58476d1ce4e5b9ULL;
  return h ^ (h >> 29);
}

// Ops whose operands are read at other indices than their own: views and an inline concat.
bool remaps_index(Op op) { return ir::has_trait(op, ir::kView) || op == Op::Concat || op == Op::Gather; }

int op_cost(Op op) {
  switch (op) {
    case Op::Add: case Op::Sub: case Op::Mul: case Op::Neg: case Op::Abs: case Op::Not: case Op::Cast:
    case Op::And: case Op::Or: case Op::Xor: case Op::Shl: case Op::Shr: case Op::Eq: case Op::Ne: case Op::Lt: case Op::Le:
    case Op::Gt: case Op::Ge: case Op::Where: case Op::Maximum: case Op::Minimum: case Op::Fmax:
    case Op::Fmin: case Op::Floor: case Op::Ceil: case Op::Trunc: case Op::Rint: case Op::Sign:
    case Op::IsNan: case Op::IsInf: case Op::IsFinite: case Op::SignBit: case Op::CopySign:
      return 1;
    case Op::Div: case Op::Sqrt: case Op::FloorDiv: case Op::Mod:
    case Op::Concat:  // inline (along axis 0): clamps and selects
    case Op::Gather:  // an index load, its mapping and the indirect load
      return 2;
    default:
      return ir::has_trait(op, ir::kElementwise) ? kTranscendentalCost : 0;
  }
}

}  // namespace

// Cost of evaluating `v` inline (each op of its inline DAG once), saturating above `bound`.
int inline_cost(const ir::Graph& g, const std::vector<bool>& buffered, ValueId v, int bound) {
  std::vector<ValueId> stack{v}, seen;
  int cost = 0;
  while (!stack.empty() && cost <= bound) {
    ValueId u = stack.back();
    stack.pop_back();
    if (std::find(seen.begin(), seen.end(), u) != seen.end()) continue;
    seen.push_back(u);
    if (u != v && buffered[static_cast<size_t>(u)]) continue;
    const ir::Node& n = g.node(u);
    cost += op_cost(n.op);
    for (ValueId o : n.operands) stack.push_back(o);
  }
  return cost;
}

std::vector<bool> materialize_shared(const ir::Graph& g, const std::vector<bool>& needed,
                                     std::vector<bool> buffered) {
  size_t nv = static_cast<size_t>(g.size());
  std::vector<Sites> sites(nv);
  // Reverse topological order: every consumer of v is decided before v.
  for (size_t i = nv; i-- > 0;) {
    if (!needed[i]) continue;
    const ir::Node& n = g.nodes[i];
    auto v = static_cast<ValueId>(i);
    bool computed = ir::has_trait(n.op, ir::kElementwise) || n.op == Op::Concat || n.op == Op::Gather;
    if (!buffered[i] && computed && sites[i].count() > 1 &&
        inline_cost(g, buffered, v, kInlineCostBound) > kInlineCostBound)
      buffered[i] = true;
    if (n.op == Op::Param) continue;
    for (size_t k = 0; k < n.operands.size(); ++k) {
      Sites& s = sites[static_cast<size_t>(n.operands[k])];
      if (buffered[i]) {
        // A nest rooted here (a concat: one per operand; a scatter: x in one, idx and v in the
        // next) reads its operands once each.
        s.add(mix(static_cast<uint64_t>(i), n.op == Op::Concat ? k : n.op == Op::Scatter ? (k > 0 ? 1 : 0) : 0));
      } else if (sites[i].many) {
        s.many = true, s.keys.clear();
      } else {
        // A gather from a 1-d x along axis 0 reads its index array at its own index (a binary
        // search's probes: each step's position feeds the next gather and the next select).
        const bool same_index = n.op == Op::Gather && k == 1 && n.ints[0] == 0 && g.type(n.operands[0]).rank() == 1;
        for (uint64_t key : sites[i].keys) s.add(remaps_index(n.op) && !same_index ? mix(mix(key, static_cast<uint64_t>(i) + 1), k) : key);
      }
    }
  }
  return buffered;
}

}  // namespace tracejit::backends
