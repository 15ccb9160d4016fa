// Memory layouts of inputs and results: arrays that are transposes of contiguous buffers
// (F-ordered matrices, `x.T` passed in) are read as such, and elementwise results computed from
// them come back in their layout, as NumPy's own ufuncs return them.
#pragma once

#include "ir/graph.h"

namespace tracejit::ir {

// Every param with ParamLayout::Transposed (ints [index, 3, axes...], type S) becomes a
// contiguous param of the buffer's shape B (B[axes[i]] = S[i]) read through `transpose(., axes)`:
// later passes see the transpose (transpose_reduce reduces the buffer in its own order; the
// backend tiles transposed reads). Returns true if anything changed.
bool expand_transposed_params(Graph& g);

// A result whose elementwise cone reads its full-shape operands through one transpose
// (`np.exp(x.T) * 2`, with x.T a transposed param or a transpose in the code) is computed in
// the untransposed order instead and returned as that transpose (Graph::result_axes): one
// straight pass over memory where a C-ordered result would transpose every element. NumPy
// returns the same layout (its K order follows the operands' strides). Only for results used
// nowhere else, whose cone's interior is used only inside it and holds no `.copy()`
// (is_c_order_copy: NumPy returns that C-ordered), and that reads no strided param through the
// transpose. Top-level graphs only. Returns true if
// anything changed.
bool results_in_memory_order(Graph& g);

// Every C-order copy (is_c_order_copy) becomes a plain cast, which fold then removes: the last
// step of the pipeline, once no pass needs to know. Returns true if anything changed.
bool drop_c_order_marks(Graph& g);

}  // namespace tracejit::ir
