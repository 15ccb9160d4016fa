// Matrix-vector products of computed matrices -> fused reductions (see matvec.h).
#include "ir/passes/matvec.h"

namespace tracejit::ir {
namespace {

// Whether v is computed by the graph's own arithmetic, i.e. not already in memory: an
// elementwise op (through views of one). Inputs, constants, matmul results and region results
// are in memory anyway, and BLAS reads them at least as fast.
bool computed(const Graph& g, ValueId v) {
  for (;;) {
    const Node& n = g.node(v);
    if (has_trait(n.op, kView) && n.operands.size() == 1) {
      v = n.operands[0];
      continue;
    }
    return has_trait(n.op, kElementwise) && !has_trait(n.op, kSource);
  }
}


bool is_vector_of(const Type& t, const Dim& k, int vector_axis) {
  // [k,1] (vector_axis 0: a column) or [1,k] (vector_axis 1: a row)
  if (t.rank() != 2) return false;
  const Dim& one = t.shape[static_cast<size_t>(1 - vector_axis)];
  return one.is_static() && one.size == 1 && t.shape[static_cast<size_t>(vector_axis)] == k;
}

}  // namespace

bool matvec_to_reduce(Graph& g) {
  // Which matmuls to rewrite, and on which side the matrix is (0: A @ v, 1: u @ A).
  std::vector<int> side(g.nodes.size(), -1);
  bool any = false;
  for (ValueId v = 0; v < g.size(); ++v) {
    const Node& n = g.node(v);
    if (n.op != Op::MatMul || n.type.rank() != 2 || !is_float(n.type.dtype)) continue;
    ValueId a = n.operands[0], b = n.operands[1];
    const Type& ta = g.type(a);
    const Type& tb = g.type(b);
    if (ta.rank() != 2 || tb.rank() != 2) continue;
    // An inner product [1,k] x [k,1] (np.dot / @ of two vectors) is a sum of products in any
    // case: as a reduction it is vectorized, split across threads (split_reduce) and summed
    // pairwise, and fuses its operands' producers; a one-row gemv is neither.
    bool inner = is_vector_of(ta, tb.shape[0], 1) && is_vector_of(tb, ta.shape[1], 0);
    if (inner || (is_vector_of(tb, ta.shape[1], 0) && computed(g, a) && !computed(g, b))) {
      side[static_cast<size_t>(v)] = 0;
      any = true;
    } else if (is_vector_of(ta, tb.shape[0], 1) && computed(g, b) && !computed(g, a)) {
      side[static_cast<size_t>(v)] = 1;
      any = true;
    }
  }
  if (!any) return false;

  // Rebuild in order: each rewritten matmul becomes transpose, mul, reduce_sum.
  std::vector<Node> old = std::move(g.nodes);
  g.nodes.clear();
  g.nodes.reserve(old.size() + 8);
  std::vector<ValueId> remap(old.size(), kNoValue);
  for (size_t i = 0; i < old.size(); ++i) {
    Node n = std::move(old[i]);
    for (ValueId& o : n.operands) o = remap[static_cast<size_t>(o)];
    if (side[i] < 0) {
      remap[i] = g.add(std::move(n));
      continue;
    }
    int s = side[i];
    ValueId mat = n.operands[static_cast<size_t>(s)], vec = n.operands[static_cast<size_t>(1 - s)];
    const Type& tv = g.type(vec);
    Type vt(tv.dtype, {tv.shape[1], tv.shape[0]});
    Node tr;
    tr.op = Op::Transpose;
    tr.type = vt;
    tr.operands = {vec};
    tr.ints = {1, 0};
    tr.loc = n.loc;
    ValueId t = g.add(std::move(tr));
    ValueId prod = g.add_op(Op::Mul, g.type(mat), {mat, t}, n.loc);
    Node red;
    red.op = Op::ReduceSum;
    red.type = n.type;
    red.operands = {prod};
    red.ints = {s == 0 ? 1 : 0};
    red.loc = n.loc;
    remap[i] = g.add(std::move(red));
  }
  for (ValueId& p : g.params) p = remap[static_cast<size_t>(p)];
  for (ValueId& r : g.results) r = remap[static_cast<size_t>(r)];
  return true;
}

}  // namespace tracejit::ir
