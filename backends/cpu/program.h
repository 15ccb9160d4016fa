// Internal: programs — graphs with loop regions, run as a sequence of compiled kernels.
//
// compile_program splits a graph at its `loop` nodes into straight-line segments (each an
// ordinary graph compiled by compile_kernel) and loop steps whose bodies are compiled the same
// way, recursively; a body is compiled once, whatever its trip count. Values that cross steps
// live in contiguous, 64-byte-aligned scratch buffers of a per-call frame (pooled), in the
// caller's output buffers when they are results, or in the caller's inputs when they are params.
//
// Contract with the graph (what a tracer may emit):
//  - loop: ints = [trip_count >= 0, num_carried, start, step]; its only uses are loop_result.
//  - Body params: param 0 is the i64 induction variable (a pointer to one i64, start + k*step in
//    iteration k); param 1 + j is operand j of the loop. Every body param is handed over as a
//    C-contiguous buffer (a pointer to one element for 0-d values) with C-contiguous strides,
//    whatever layout it declares (Contiguous, or Scalar for 0-d values, give the best code).
//  - Carried values are double-buffered: iteration 0 reads the initial values' buffers (never
//    written: they may be the caller's arrays), iteration k writes fresh buffers and iteration
//    k + 1 reads them. Body results may be any value of the body: computed values, body params
//    (pass-through, e.g. a swap), constants, one value several times.
//  - After the loop, loop_result k is the last value of carried k (after zero iterations: the
//    initial value); a loop_result that is a result of the graph is written straight into the
//    caller's output by the last iteration.
//  - Symbolic dims: every kernel gets the program's sym_dims; scratch buffers of runtime size
//    are laid out per call (the pooled frame's arena grows as needed). Trip counts are static.
#pragma once

#include <memory>

#include "backends/cpu/cpu_backend.h"
#include "ir/graph.h"
#include "ir/status.h"

namespace tracejit::backends {

// One kernel for a graph without regions (the compile path of compile_cpu).
Expected<std::unique_ptr<CompiledKernel>> compile_kernel(const ir::Graph& g, const CpuCompileOptions& opts);

// A program for a graph with loop regions.
Expected<std::unique_ptr<CompiledKernel>> compile_program(const ir::Graph& g, const CpuCompileOptions& opts);

// What a compiled program is made of (tests, diagnostics): null when `k` is a single kernel.
struct ProgramInfo {
  int kernels = 0;        // compiled kernels (segments and loop bodies' segments, each once)
  int loops = 0;          // loop steps, nested ones included
  int64_t frame_bytes = 0;  // scratch bytes per call
};
const ProgramInfo* program_info(const CompiledKernel& k);

}  // namespace tracejit::backends
