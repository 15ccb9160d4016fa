// Matrix-vector products of computed matrices become fused row (or column) reductions.
#pragma once

#include "ir/graph.h"

namespace tracejit::ir {

// `matmul A[n,k], v[k,1]` where A is computed by elementwise ops (not an input, a constant or a
// view of one) becomes `reduce_sum(A * transpose(v), axes [1])` : [n,1]; likewise
// `matmul u[1,k], A[k,m]` becomes `reduce_sum(A * transpose(u), axes [0])` : [1,m]. The BLAS
// call needs A in memory; the reduction lets the backend fuse A's producers into it, so A
// (n*k elements, for a vector result of n) is never written: `G * (dx * inv_r3) @ mass` reads
// its inputs once instead of writing and re-reading three n*n matrices. An inner product
// `matmul u[1,k], v[k,1]` becomes `reduce_sum(u * transpose(v), axes [1])` : [1,1] whatever its
// operands are (a vectorized, threaded, pairwise sum; BLAS would run a one-row gemv). Float dtypes of rank 2
// only (batched and integer/bool products keep matmul). The sum's rounding differs from the
// BLAS's only in order, which matmul never fixed. Returns true if anything changed.
bool matvec_to_reduce(Graph& g);

}  // namespace tracejit::ir
