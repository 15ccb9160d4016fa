// Constant folding and exact algebraic identities.
#pragma once

#include "ir/graph.h"

namespace tracejit::ir {

// Replaces ops whose operands are all 0-d consts with a const of the same type, but only where
// the result is bit-for-bit what NumPy computes: cast, neg, abs, not, add, sub, mul, div (in
// the node's own dtype: f32 math in float, integer wraparound), maximum, minimum, comparisons,
// and, or, xor, where. Transcendentals, pow, floordiv and mod are never folded (NumPy's SIMD
// math may differ from libm), nor is any float result that is NaN (its sign and payload depend
// on the hardware), nor a float->int cast out of range (undefined in C).
// Identities, for nodes of any shape: cast to the operand's own type, integer x*1, x+0, x-0,
// and where with a constant condition, each only when the kept operand has the node's type.
// Returns true if anything changed. Expects a verified graph.
bool fold(Graph& g);

}  // namespace tracejit::ir
