// Large memory blocks kept for reuse instead of given back to the OS: the result arrays of
// compiled calls (jit/buffer_pool.cpp hands these blocks to NumPy through a NEP 49 handler) and
// the scratch buffers of scheduled kernels (intermediates such as a matrix computed for a
// matmul) share one cache.
//
// Why: a fresh block of a few MiB costs one page fault and a kernel zero-fill per 4 KiB page
// whenever glibc gives its memory back (blocks of 32 MiB and more are always mmap'd, smaller ones
// when glibc trims its heap, which NumPy's temporaries make it do all the time). On this
// project's 2-core VM that was more time than the kernel itself: `(a - b) @ w` on 2048^2 float64
// spent ~60 ms per call faulting in its 32 MiB intermediate. The caching allocators of PyTorch
// and JAX keep device memory for the same reason.
#pragma once

#include <cstddef>
#include <cstdint>

namespace tracejit::backends {

// A block of at least `nbytes` whose data lies at `offset` (mod 4096) past a page boundary;
// nullptr when the system has no memory. Blocks are recycled (most recently freed first, among
// those that fit without wasting more than a quarter) while at most pool_limit() bytes are kept
// free; a block too large for the pool (more than half the limit) goes back to the system.
void* pool_take(size_t nbytes, size_t offset = 0);
// Frees a block from pool_take (nullptr is ignored); aborts on a pointer it did not make.
void pool_give(void* data);
// Bytes usable from `data` (a block from pool_take) to its end.
size_t pool_usable_size(void* data);

struct PoolInfo {
  int64_t hits = 0;           // blocks handed out again
  int64_t misses = 0;         // blocks allocated from the system
  int64_t cached_bytes = 0;   // held now, free for reuse
  int64_t cached_blocks = 0;
  int64_t live_bytes = 0;     // held now by live arrays and running kernels
  int64_t limit_bytes = 0;    // most bytes kept free (TRACEJIT_POOL_MB, default 256; 0: no pool)
};
PoolInfo pool_info();
int64_t pool_limit();  // PoolInfo::limit_bytes, without taking the lock

// Gives every cached (free) block back to the system; blocks in use are not affected.
void pool_release();

// Scratch memory of compiled kernels (host symbols tracejit_scratch_alloc / _free): 64-byte
// aligned blocks from the pool.
void* scratch_alloc(int64_t align, int64_t nbytes);
void scratch_free(void* p);

}  // namespace tracejit::backends
