// Large copies with non-temporal stores, split across the kernel thread pool: the write-back of
// an in-place update (`w -= lr * g`, `u[1:-1] = ...`) from the kernel's result into the
// caller's array.
#pragma once

#include <cstddef>

namespace tracejit::backends {

// Copies less than this with memcpy on the calling thread (the pool and the cache bypass pay
// off only well past L2).
inline constexpr size_t kStreamCopyMinBytes = size_t{1} << 20;

// dst[0, bytes) = src[0, bytes); the ranges must not overlap. From kStreamCopyMinBytes on, the
// copy is split across the pool's threads (backends/cpu/thread_pool.h), and when dst is too
// large to stay cached (stream_output in backends/cpu/lower.h: half the last-level cache) its
// stores bypass the cache (no read-for-ownership of dst's lines); a fence makes them visible
// before it returns.
void stream_copy(void* dst, const void* src, size_t bytes) noexcept;

}  // namespace tracejit::backends
