// Large reductions with nothing to split across threads -> two-stage reductions (see
// split_reduce.h).
#include "ir/passes/split_reduce.h"

#include <algorithm>
#include <cstddef>
#include <optional>
#include <vector>

namespace tracejit::ir {
namespace {

constexpr int64_t kMaxChunks = 64;
// Stage-1 rows shorter than this cost more in per-row setup than the threads save.
constexpr int64_t kMinRow = 256;

// How one reduction is split. The leading size-1 axes of the operand (`lead` of them) are
// dropped first: they are kept or reduced alike, and a kept one would be the backend's (size-1)
// outer axis. On the rest: `chunks` == 0 reduces along its own axis 0 first (option A);
// otherwise its axis 0 is viewed as [chunks, size / chunks] (option B).
struct Split {
  size_t lead = 0;
  int64_t chunks = 0;
};

std::optional<Split> plan_split(const Graph& g, const Node& n, int64_t min_elements) {
  if (!has_trait(n.op, kReduce) || n.operands.size() != 1 || n.ints.empty()) return std::nullopt;
  const Type& xt = g.type(n.operands[0]);
  if (!xt.is_static() || xt.rank() == 0 || !n.type.is_static()) return std::nullopt;
  const size_t rank = xt.shape.size();
  std::vector<bool> red(rank, false);
  for (int64_t a : n.ints) {
    if (a < 0 || static_cast<size_t>(a) >= rank) return std::nullopt;
    red[static_cast<size_t>(a)] = true;
  }
  size_t lead = 0;
  while (lead < rank && xt.shape[lead].size == 1) ++lead;
  if (lead == rank || !red[lead]) return std::nullopt;  // kept: the backend's rows already
  // The backend's outer (parallel) extent: the first kept axis when the last axis is reduced,
  // else axis 0 when kept. Anything above 1 is parallel already.
  if (red.back())
    for (size_t a = 0; a < rank; ++a)
      if (!red[a]) {
        if (xt.shape[a].size > 1) return std::nullopt;
        break;
      }
  int64_t numel = 1;
  for (const Dim& d : xt.shape) numel *= d.size;
  if (numel <= 0 || numel < min_elements) return std::nullopt;
  const int64_t s0 = xt.shape[lead].size;
  const int64_t rest = numel / s0;
  bool full = true;
  for (size_t a = lead; a < rank; ++a) full = full && red[a];
  // A zero-tie check (fval, ops.def) sees both zeros only within one slice: a split keeps it
  // whole when the second stage is a 1-d reduction of the partials (which checks them again),
  // not when it runs along axis 0 of partial rows.
  if (n.fval != 0.0 && !full) return std::nullopt;
  const bool rows_ok = full && rank - lead >= 2 && rest >= kMinRow;
  if (rows_ok && s0 >= 8) return Split{lead, 0};
  // Axis 0 in chunks: the largest divisor that keeps each chunk's start 16-element aligned,
  // else the largest divisor.
  for (int pass = 0; pass < 2; ++pass)
    for (int64_t c = std::min(kMaxChunks, s0 / 2); c >= 2; --c)
      if (s0 % c == 0 && (pass == 1 || (s0 / c * rest) % 16 == 0) && s0 / c * rest >= kMinRow) return Split{lead, c};
  if (rows_ok && s0 >= 2) return Split{lead, 0};
  return std::nullopt;
}

// Rewrites reduction `n` (operands already remapped) as two stages; returns the final value.
ValueId emit_split(Graph& g, const Node& n, const Split& sp) {
  ValueId x = n.operands[0];
  const Type xt = g.type(x);
  std::vector<Dim> shape(xt.shape.begin() + static_cast<std::ptrdiff_t>(sp.lead), xt.shape.end());
  std::vector<int64_t> axes;  // reduced axes of the operand without its leading size-1 axes
  for (int64_t a : n.ints)
    if (a >= static_cast<int64_t>(sp.lead)) axes.push_back(a - static_cast<int64_t>(sp.lead));
  const bool full = axes.size() == shape.size();
  std::vector<int64_t> axes1;  // stage-1 reduced axes
  if (sp.chunks == 0) {
    for (int64_t a : axes)
      if (a != 0) axes1.push_back(a);
  } else {
    int64_t s0 = shape[0].size;
    shape.erase(shape.begin());
    shape.insert(shape.begin(), {Dim::fixed(sp.chunks), Dim::fixed(s0 / sp.chunks)});
    for (int64_t a : axes) axes1.push_back(a + 1);  // axis 0 -> 1, the chunk's elements
  }
  ValueId src = shape == xt.shape ? x : g.add_op(Op::Reshape, Type(xt.dtype, shape), {x}, n.loc);
  std::vector<Dim> s1 = shape;
  for (int64_t a : axes1) s1[static_cast<size_t>(a)] = Dim::fixed(1);
  Node first = n;
  first.type = Type(n.type.dtype, s1);
  first.operands = {src};
  first.ints = axes1;
  ValueId partial = g.add(std::move(first));
  ValueId total;
  if (full) {
    // All partials in one row: a 1-d reduction, pairwise for float sums.
    ValueId flat = g.add_op(Op::Reshape, Type(n.type.dtype, {s1[0]}), {partial}, n.loc);
    Node second = n;
    second.type = Type(n.type.dtype, {Dim::fixed(1)});
    second.operands = {flat};
    second.ints = {0};
    if (n.fval != 0.0) second.fval = 2.0;  // a partial that is the mark keeps it
    total = g.add(std::move(second));
  } else {
    Node second = n;
    std::vector<Dim> s2 = s1;
    s2[0] = Dim::fixed(1);
    second.type = Type(n.type.dtype, s2);
    second.operands = {partial};
    second.ints = {0};
    total = g.add(std::move(second));
  }
  if (g.type(total).shape != n.type.shape) total = g.add_op(Op::Reshape, n.type, {total}, n.loc);
  return total;
}

}  // namespace

bool split_reductions(Graph& g, int64_t min_elements) {
  std::vector<std::optional<Split>> plan(g.nodes.size());
  bool any = false;
  for (size_t i = 0; i < g.nodes.size(); ++i)
    if ((plan[i] = plan_split(g, g.nodes[i], min_elements))) any = true;
  if (!any) return false;
  std::vector<Node> old = std::move(g.nodes);
  g.nodes.clear();
  g.nodes.reserve(old.size() + 8);
  std::vector<ValueId> remap(old.size(), kNoValue);
  for (size_t i = 0; i < old.size(); ++i) {
    Node n = std::move(old[i]);
    for (ValueId& o : n.operands) o = remap[static_cast<size_t>(o)];
    remap[i] = plan[i] ? emit_split(g, n, *plan[i]) : g.add(std::move(n));
  }
  for (ValueId& p : g.params) p = remap[static_cast<size_t>(p)];
  for (ValueId& r : g.results) r = remap[static_cast<size_t>(r)];
  return true;
}

}  // namespace tracejit::ir
