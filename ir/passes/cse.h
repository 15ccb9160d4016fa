// Common subexpression elimination: merge identical pure nodes.
#pragma once

#include "ir/graph.h"

namespace tracejit::ir {

// Redirects every use of a pure node to the first earlier node with the same op, type,
// operands (in sorted order for commutative ops), ints and fval bits — so 0.0 and -0.0, or two
// NaN payloads, stay apart. The duplicates are left dead for dce. Returns true if any use
// (operand or result) was redirected. Expects a verified graph.
bool cse(Graph& g);

}  // namespace tracejit::ir
