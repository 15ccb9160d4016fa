// The textual IR: print a graph in the one spelling the parser (ir/parser.h) reads back.
#pragma once

#include <string>

#include "ir/graph.h"

namespace tracejit::ir {

// Prints `g` as text. Total: never crashes on an invalid graph (the verifier prints the IR
// around a fault), so out-of-range ids, ops and dtypes are printed as-is rather than trusted.
//
//   func @f(%0, %1) {
//     %0 = param 0 contiguous : f32[4,s0]  loc("x.py":3)
//     %1 = param 1 scalar : f32[]
//     %2 = const 1.5 : f32[]
//     %3 = mul %0, %2 : f32[4,s0]  loc("x.py":4)
//     return %3
//   }
std::string print(const Graph& g);

// One node's line without indentation or newline: `%3 = mul %0, %2 : f32[4,s0]`.
std::string print_node(const Graph& g, ValueId v);

// A float constant's spelling: the shortest decimal that round-trips (`1.5`, `-0.0`, `1e+300`),
// `inf`, `-inf`, `nan`, `-nan`, or `nan(0x7ff4000000000000)` for any other NaN bit pattern.
std::string print_float(double v);

}  // namespace tracejit::ir
