// Internal: native scalar loop nests — a `loop` whose body (nested loops included) works on 0-d
// values and on whole arrays only through element reads and element stores, lowered to ONE LLVM
// function with real nested loops instead of a program that runs a kernel per iteration.
//
// The unit is a *loop graph* (native_loop_graph): params = the loop's operands, the loop, and as
// results every carried value's loop_result. Its kernel has the ordinary KernelFn ABI: it copies
// each carried initial value into its output buffer (outputs never alias inputs), then runs the
// nest with every carried array updated in place in that buffer and 0-d carried values in
// registers (phis), and stores the final 0-d values. So a loop graph compiled natively computes
// exactly what the program would, and the program uses it as one segment.
//
// What is accepted (anything else is refused with a reason; the program path then runs it):
//  - values of one element (static numel 1, any rank): params, consts, elementwise ops
//    (backends/cpu/scalar_ops.h semantics: NumPy-exact), reshape/broadcast between one-element
//    types, loop_result of 0-d-like carried values;
//  - arrays: loop params only, read through dyn_slice / slice windows of one element and written
//    through dyn_update windows of one element, or handed to a nested loop;
//  - window updates: a dyn_update of a runtime-extent window (operands with extents) whose value
//    is a tree of elementwise ops, broadcasts, size-1 reshapes and window reads (dyn_window or
//    dyn_slice of loop params): a loop nest over the window computes the tree per element, the
//    innermost loop vectorized. A window of the array being written is read only if it is
//    exactly the element being written or, for every iteration of the enclosing loop (starts and
//    extents affine in its induction variable), disjoint from the written window; otherwise the
//    value is computed into a stack temporary first (arrays up to 128 KiB), then stored;
//  - reduce_sum / reduce_max / reduce_min / argmax / argmin of such a tree to one element (the
//    tracer's `L[i, :i] @ x[:i]`, `A[i, :j].sum()`, `np.abs(A[k:, k]).argmax()`): a sequential
//    loop nest (sums accumulate in the dtype; max/min/argmax follow NumPy's NaN rules), its
//    reads at the reduction's place in the graph; the float sum of a single window along one
//    axis calls tracejit_window_sum_f64/f32 below: NumPy's pairwise order, bit for bit;
//  - stopping effects (ir `effect` with ints [id, has_cond, 1]: the tracer's failed bounds
//    checks): a cold block hands their values to tracejit_loop_stop (one-element values through
//    stack slots, arrays as their buffers, read at the effect's place) and the kernel returns;
//    other host effects (print, append) are refused;
//  - every array version (a param, a dyn_update, a nested loop's loop_result) has at most one
//    writer (the dyn_update or nested loop that consumes it into the next version), every other
//    reader of it comes before that writer in graph order (what makes in-place exact), and the
//    body's result for a carried array is the last version of that array's param. Arrays that
//    are not carried are never written.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ir/graph.h"
#include "ir/status.h"

namespace llvm {
class LLVMContext;
class Module;
}  // namespace llvm

namespace tracejit::backends {

// The loop graph of loop node `loop` of `g` (see above). Params are C-contiguous (Scalar for
// 0-d values): the caller hands contiguous buffers.
ir::Graph native_loop_graph(const ir::Graph& g, ir::ValueId loop, const std::string& name);

// Empty when `g` is a loop graph that lower_scalar_loop accepts; else why not.
std::string scalar_loop_rejection(const ir::Graph& g);

// The kernel `symbol` (KernelFn ABI) for a loop graph scalar_loop_rejection accepts.
Expected<std::unique_ptr<llvm::Module>> lower_scalar_loop(const ir::Graph& g, llvm::LLVMContext& ctx,
                                                          const std::string& symbol);

}  // namespace tracejit::backends

// NumPy's pairwise sum (plus the identity 0) of n elements `stride` elements apart: what a
// native nest calls for the float sum of one window (bound into the JIT by jit.cpp).
extern "C" double tracejit_window_sum_f64(const double* a, int64_t n, int64_t stride);
extern "C" float tracejit_window_sum_f32(const float* a, int64_t n, int64_t stride);
// A native nest's stopping effect (a failed bounds check, ir/ops.def: effect): hands the calling
// thread's EffectSink effect `id`'s n values and marks the program stopped (program.cpp); the
// nest returns right after.
extern "C" void tracejit_loop_stop(int64_t id, const void* const* values, int64_t n);
