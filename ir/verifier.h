// The IR verifier: checks a graph against the rules in ir/ops.def and ir/graph.h.
#pragma once

#include "ir/graph.h"
#include "ir/status.h"

namespace tracejit::ir {

// Checks SSA order, operand counts, dtype and broadcast-shape rules, constants, params and
// results. The error names the faulty node (`%7 = add %3, %5 : f32[4]: ...`) and shows the
// printed IR around it. Safe on any graph, however corrupt.
Status verify(const Graph& g);

}  // namespace tracejit::ir
