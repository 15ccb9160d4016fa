// Dead code elimination: drop pure nodes that no result depends on.
#pragma once

#include "ir/graph.h"

namespace tracejit::ir {

// Removes every pure node not reachable from g.results; params (and any other impure node) are
// always kept. Survivors keep their order and are renumbered densely; params and results are
// remapped. Returns true if any node was removed. Expects a verified graph.
bool dce(Graph& g);

}  // namespace tracejit::ir
