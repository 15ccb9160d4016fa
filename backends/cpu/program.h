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
//
// Two ways a loop avoids copying whole arrays per iteration:
//  - Native nests (backends/cpu/scalar_loop.h): a loop whose body, nested loops included, only
//    reads and writes single elements of its arrays is one native kernel over its loop graph,
//    run as a segment; its carried arrays are updated in place in their output buffer (a copy of
//    the initial value, or the initial value's own scratch buffer when nothing reads it later).
//    ProgramInfo::native_rejections says why other loops are not.
//  - In-place carried values: on the kernel-per-iteration path, a carried array whose body result
//    is a chain of dyn_updates of its param, every reader of each version coming before the
//    update that replaces it, lives in one buffer for the whole loop (the initial value is
//    copied in once per loop execution) and each dyn_update writes only its window.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "ir/graph.h"
#include "ir/status.h"

namespace tracejit::backends {

// Host effects inside loop bodies (the ir `effect` op): at each one whose condition holds the
// program calls the calling thread's sink with the effect's id and pointers to its values
// (C-contiguous buffers of the node's operand types, condition excluded), in program order.
// The pointers are valid only during the call. No sink (null): effects are skipped. A sink that
// returns false stops the program there (the rest is skipped; its outputs are undefined).
class EffectSink {
 public:
  virtual ~EffectSink() = default;
  virtual bool effect(int64_t id, const void* const* values, size_t n) = 0;
};
// Sets the calling thread's sink (null: none); returns the previous one.
EffectSink* set_effect_sink(EffectSink* sink);

// One kernel for a graph without regions (the compile path of compile_cpu).
Expected<std::unique_ptr<CompiledKernel>> compile_kernel(const ir::Graph& g, const CpuCompileOptions& opts);

// A program for a graph with loop regions.
Expected<std::unique_ptr<CompiledKernel>> compile_program(const ir::Graph& g, const CpuCompileOptions& opts);

// What a compiled program is made of (tests, diagnostics): null when `k` is a single kernel.
struct ProgramInfo {
  int kernels = 0;        // compiled kernels (segments and loop bodies' segments, each once)
  int loops = 0;          // loop steps, nested ones included
  int64_t frame_bytes = 0;  // scratch bytes per call
  int in_place_carried = 0;  // carried arrays of kernel-per-iteration loops updated in place
  int donated_buffers = 0;  // native nests run in their initial value's buffer (dead after them)
  int effects = 0;          // host effect steps (ir `effect`), nested bodies included
  int native_loops = 0;     // loops run as one native scalar nest (backends/cpu/scalar_loop.h)
  std::vector<std::string> native_rejections;  // why each other loop is not one (outermost first)
};
const ProgramInfo* program_info(const CompiledKernel& k);

}  // namespace tracejit::backends
