// The typed SSA graph: every node defines exactly one value, identified by its index.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/ops.h"
#include "ir/type.h"

namespace tracejit::ir {

using ValueId = int32_t;
inline constexpr ValueId kNoValue = -1;

// Where in the user's code an op came from: file (index into Graph::files) and line.
struct SourceLoc {
  int32_t file = -1;
  int32_t line = 0;
  bool known() const { return file >= 0; }
  bool operator==(const SourceLoc& o) const { return file == o.file && line == o.line; }
};

struct Graph;

// How an input array lies in memory. Transposed: ints = [index, 3, axes...]: the array is
// `transpose(B, axes)` of a C-contiguous buffer B (an F-ordered matrix is axes (1, 0)); the
// pipeline's first pass (ir/passes/layout.h) makes B the param and reads the array through a
// transpose, so no later pass or backend sees this layout.
enum class ParamLayout : int64_t { Contiguous = 0, Strided = 1, Scalar = 2, Transposed = 3 };

struct Node {
  Op op = Op::Const;
  Type type;
  std::vector<ValueId> operands;
  std::vector<int64_t> ints;  // op-specific integer attributes (see ir/ops.def)
  double fval = 0.0;          // op-specific float attribute (float constants)
  SourceLoc loc;
  // Ops with nested regions (kRegion: loop): each region is a graph whose params are the
  // region's block arguments (see ir/ops.def). Shared, so copying a node is cheap; a pass that
  // rewrites a region first makes it unique (Graph::mutable_region).
  std::vector<std::shared_ptr<Graph>> regions;
};

// Integer add/sub/mul/neg/abs with ints = [1]: NumPy scalar arithmetic (np.int64(a) + b, -s,
// abs(s)), which reports a result that wraps as an overflow (RuntimeWarning, or
// FloatingPointError under np.errstate(over="raise")) where array arithmetic wraps silently.
// The backend notes the overflow flag; fold leaves a constant operation that would wrap to run.
inline bool checks_scalar_overflow(const Node& n) {
  return (n.op == Op::Add || n.op == Op::Sub || n.op == Op::Mul || n.op == Op::Neg || n.op == Op::Abs) &&
         n.ints.size() == 1 && n.ints[0] == 1;
}

// Cast with ints = [1]: `ndarray.copy()`, a copy NumPy returns C-ordered whatever its operand's
// layout. Fold keeps it and ir/passes/layout.h does not return a value computed through it in
// another order; the pipeline's last step makes it a plain cast (then folded away).
inline bool is_c_order_copy(const Node& n) { return n.op == Op::Cast && n.ints.size() == 1 && n.ints[0] == 1; }

// Nodes appear in definition order: every operand index is smaller than its user's index.
struct Graph {
  std::string name;
  std::vector<Node> nodes;
  std::vector<ValueId> params;   // param nodes, in input order
  std::vector<ValueId> results;  // returned values, in output order
  // Empty, or one entry per result: empty for a C-contiguous result, else the axes A of a result
  // returned as `transpose(B, A)` of the C-contiguous buffer B the graph computes (an F-ordered
  // matrix: the layout NumPy gives `f(x.T)`; ir/passes/layout.h). Top-level graphs only.
  std::vector<std::vector<int64_t>> result_axes;
  std::vector<std::string> files;

  const Node& node(ValueId v) const { return nodes[static_cast<size_t>(v)]; }
  Node& node(ValueId v) { return nodes[static_cast<size_t>(v)]; }
  const Type& type(ValueId v) const { return node(v).type; }
  int size() const { return static_cast<int>(nodes.size()); }

  ValueId add(Node n) {
    nodes.push_back(std::move(n));
    return static_cast<ValueId>(nodes.size() - 1);
  }
  ValueId add_param(Type t, ParamLayout layout, SourceLoc loc = {});
  ValueId add_const_float(DType d, double v, SourceLoc loc = {});
  ValueId add_const_int(DType d, int64_t v, SourceLoc loc = {});  // ints and bools (0/1)
  ValueId add_op(Op op, Type t, std::vector<ValueId> operands, SourceLoc loc = {});
  ValueId add_op(Op op, Type t, std::vector<ValueId> operands, std::vector<int64_t> ints, SourceLoc loc);
  int32_t intern_file(const std::string& file);
  // Region r of node v, copied first if another node shares it.
  Graph& mutable_region(ValueId v, size_t r);
  // Does this graph (or any nested region) contain an op with regions?
  bool has_regions() const;
  // Does this graph (or any nested region) contain an `effect` op (a host callback)?
  bool has_effects() const;
  // ... one that is not a stopping effect (a print or append; not a bounds check)?
  bool has_nonstopping_effects() const;
};

// Whether `n` is a stopping effect (ir/ops.def: effect, ints [id, has_cond, 1]).
inline bool effect_stops(const Node& n) { return n.op == Op::Effect && n.ints.size() == 3 && n.ints[2] == 1; }

// Whether node `n` must be kept although nothing reads it: a non-pure op, or a region op whose
// body performs effects (ir/ops.def: effect).
bool has_side_effects(const Node& n);

}  // namespace tracejit::ir
