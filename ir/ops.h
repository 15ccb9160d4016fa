// The op enum, names and trait bits, all expanded from ir/ops.def.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace tracejit::ir {

enum OpTrait : uint32_t {
  kNone = 0,
  kPure = 1u << 0,         // no side effects: DCE may drop it, CSE may merge it
  kElementwise = 1u << 1,  // pointwise over broadcast operands: fusable into one loop
  kCommutative = 1u << 2,  // operands may be swapped (CSE canonicalizes the order)
  kCompare = 1u << 3,      // result dtype is bool
  kFloatOnly = 1u << 4,    // operands must be floating point
  kIntOrBool = 1u << 5,    // operands must be integer or bool
  kSource = 1u << 6,       // no operands: a graph input or constant
  kReduce = 1u << 7,       // reduce_*: ints are the reduced axes
  kView = 1u << 8,         // moves elements without computing: reshape, transpose, slice, broadcast
  kRegion = 1u << 9,       // holds nested graphs (Node::regions): CSE leaves it alone
};

enum class Op : uint16_t {
#define OP(e, name, arity, traits) e,
#include "ir/ops.def"
#undef OP
};

inline constexpr int kNumOps = 0
#define OP(e, name, arity, traits) +1
#include "ir/ops.def"
#undef OP
    ;

std::string_view op_name(Op op);
int op_arity(Op op);  // -1: variadic
uint32_t op_traits(Op op);
inline bool has_trait(Op op, OpTrait t) { return (op_traits(op) & t) != 0; }
std::optional<Op> op_from_name(std::string_view name);

// What a float reduce_max/min with fval 1 or 2 gives for a slice whose extreme is a zero of both
// signs (ops.def): an odd normal number no computation of ordinary data lands on, exact in
// float32 (is_f32) and float64. Data that holds it as the extreme only costs an eager re-run.
inline double zero_tie_mark(bool is_f32) { return is_f32 ? -0x1.5c2f8ep-100 : -0x1.5c2f8e3a9d7b1p-700; }

}  // namespace tracejit::ir
