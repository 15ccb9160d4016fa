// Result buffers that outlive their arrays: large results come from a NumPy memory handler
// (NEP 49) that keeps freed blocks for the next call instead of giving them back to the OS.
//
// Why: a fresh 16 MB result costs ~4000 page faults and the kernel's zero-fill of every page
// (about as much time as the fused kernel that fills it) whenever glibc has trimmed its heap —
// which NumPy's own temporaries make it do all the time. The pool keeps the pages mapped, like
// the caching allocators of PyTorch and JAX. The arrays it makes are ordinary arrays that own
// their data (flags.owndata, resize() and pickling behave as for any NumPy array); only the
// memory behind them is recycled, once NumPy frees them.
#pragma once

#include <cstdint>

#include "backends/cpu/block_pool.h"
#include "tracer/npy.h"

namespace tracejit::jit {

// A new C-contiguous array (new reference, or nullptr with a Python error set). Arrays of at
// least kPoolMinBytes take their data from the pool when it is enabled; smaller ones come from
// NumPy's current allocator, as PyArray_SimpleNew. A pooled array's data lies at align_offset
// (mod 4096, rounded down to whole elements) past a page boundary; pass the page offset of the
// largest input's data (glibc's large blocks sit at 16). The kernel aligns its stores to the
// output, so an output at the same offset within a cache line as its inputs keeps their vector
// loads within cache lines; at the same offset within a page, no load of the input falsely
// depends on a store to the output still in flight (4 KiB aliasing: the CPU matches loads to
// earlier stores by the low 12 address bits first; the output used to sit 128 bytes ahead).
PyObject* new_result_array(int nd, const npy_intp* dims, int typenum, size_t align_offset = 0,
                           const npy_intp* strides = nullptr);

inline constexpr size_t kPoolMinBytes = size_t{1} << 20;

// The pool's figures and release live with the pool itself, in the backend (block_pool.h),
// which the scheduled kernels' scratch buffers share.
using backends::PoolInfo;
using backends::pool_info;
using backends::pool_release;

}  // namespace tracejit::jit
