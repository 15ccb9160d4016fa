// Elementwise cones read through one transpose, and their rewrite in the untransposed order:
// shared by transpose_reduce (reductions) and layout (results).
#pragma once

#include <optional>
#include <vector>

#include "ir/graph.h"

namespace tracejit::ir {

// The elementwise cone of a value y: its interior nodes (elementwise, of y's shape, each used
// only inside the cone; y itself whatever its uses), the transposes it reads through (one
// permutation, `perm`), and its other leaves (scalars, and operands of lower rank or with
// size-1 axes that the cone broadcasts).
struct TransposeCone {
  std::vector<int64_t> perm;
  std::vector<ValueId> interior;    // in graph order
  std::vector<ValueId> transposed;  // transpose nodes read as leaves
  std::vector<ValueId> others;      // every other leaf
};

// How many nodes read each value (a node reading it twice counts once), plus its uses as a result.
std::vector<int> count_uses(const Graph& g);

// y's cone, when every full-shape leaf is a transpose by one permutation (y may be that
// transpose itself); nullopt otherwise (a full-shape operand read straight, two permutations,
// a non-elementwise interior node).
std::optional<TransposeCone> find_transpose_cone(const Graph& g, ValueId y, const std::vector<int>& uses);

// Appends to `g` the cone of `y` (a node of `old`, the graph being rebuilt into `g`; `remap`
// maps old values already rebuilt) computed in the untransposed axis order, and returns y's
// value there: `transpose(result, c.perm)` is y. The transposes' operands are read straight;
// the other leaves reach the cone through a reshape to full rank and the inverse transpose.
ValueId emit_untransposed(Graph& g, const std::vector<Node>& old, const std::vector<ValueId>& remap,
                          const TransposeCone& c, ValueId y, SourceLoc loc);

// Whether transpose(B, p) of shape `s` lays its elements out other than C order: the axes
// longer than 1 are not in increasing order in p (a length-1 axis has any stride).
bool moves_memory(const std::vector<Dim>& s, const std::vector<int64_t>& p);

// The shape `s` (in the transposed order) in the untransposed axis order for permutation p.
std::vector<Dim> untransposed_shape(const std::vector<Dim>& s, const std::vector<int64_t>& p);

}  // namespace tracejit::ir
