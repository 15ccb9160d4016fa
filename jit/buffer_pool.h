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

#include "tracer/npy.h"

namespace tracejit::jit {

// A new C-contiguous array (new reference, or nullptr with a Python error set). Arrays of at
// least kPoolMinBytes take their data from the pool when it is enabled; smaller ones come from
// NumPy's current allocator, as PyArray_SimpleNew. A pooled array's data lies at align_offset
// (rounded down to whole elements) past a 64-byte boundary: the kernel aligns its stores to the
// output, so an output at the same offset as its inputs keeps their vector loads within cache
// lines (pass the offset of the largest input's data; glibc's large blocks sit at 16).
PyObject* new_result_array(int nd, const npy_intp* dims, int typenum, size_t align_offset = 0);

inline constexpr size_t kPoolMinBytes = size_t{1} << 20;

struct PoolInfo {
  int64_t hits = 0;           // blocks handed out again
  int64_t misses = 0;         // blocks allocated from the system
  int64_t cached_bytes = 0;   // held now, free for reuse
  int64_t cached_blocks = 0;
  int64_t live_bytes = 0;     // held now by live arrays
  int64_t limit_bytes = 0;    // most bytes kept free (TRACEJIT_POOL_MB; 0: no pool)
};
PoolInfo pool_info();

// Gives every cached (free) block back to the system; live arrays are not affected.
void pool_release();

}  // namespace tracejit::jit
