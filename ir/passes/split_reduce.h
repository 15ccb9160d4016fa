// Large reductions with nothing to split across threads become two-stage reductions.
#pragma once

#include <cstdint>

#include "ir/graph.h"

namespace tracejit::ir {

// A backend parallelizes a reduction over its kept outer axis. A reduction that keeps none
// (`x.sum()`, `x.max()`, `x.sum(axis=0)` of a tall array: axis 0 reduced and no kept axis
// before the reduced ones) is one sequential loop however large it is. For such a reduction
// of an operand of static shape with at least `min_elements` elements, axis 0 (size n) is
// split into C chunks (the operand viewed as [C, n / C, ...], C dividing n, at most 64),
// each chunk is reduced on its own (`stage 1`, C independent rows) and the C partial results
// are reduced again (`stage 2`, a 1-d reduction of C values, or along axis 0 when axes stay).
// When the operand has rank >= 2 and its rows are long enough, axis 0 itself is the split
// (stage 1 reduces the other axes). Leading size-1 axes are dropped first (a [1, n] row
// reduced along axis 1 splits as [n] does).
//
// Float sums stay at least as accurate as NumPy's: each stage-1 row is summed pairwise and the
// partials are summed pairwise again (full reductions), or C sequential partials replace n
// sequential additions (axis-0 reductions, which NumPy also adds row by row). Integer results
// are exact in any order; max/min/any/all do not depend on it. The rounding of float sums and
// products changes in order only, as any reassociation would. Returns true if anything changed.
bool split_reductions(Graph& g, int64_t min_elements);

}  // namespace tracejit::ir
