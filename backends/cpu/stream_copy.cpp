// See stream_copy.h. SSE2 non-temporal stores (every x86-64 has them): a copy is bound by
// memory bandwidth, so wider stores gain nothing; what pays is skipping the read-for-ownership
// of each destination line (a third of a regular copy's traffic) and using every core's share
// of the bandwidth (np.copyto on one thread reaches ~60% of what two reach on the 2-core VM).
#include "backends/cpu/stream_copy.h"

#include <emmintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "backends/cpu/lower.h"
#include "backends/cpu/thread_pool.h"

namespace tracejit::backends {
namespace {

// Per pool chunk: a unit of this many bytes (the pool hands out runs of units).
constexpr int64_t kUnitBytes = int64_t{64} << 10;

void copy_nt(char* d, const char* s, size_t n) {
  size_t head = std::min(n, static_cast<size_t>((16 - reinterpret_cast<uintptr_t>(d) % 16) % 16));
  std::memcpy(d, s, head);
  d += head, s += head, n -= head;
  for (; n >= 64; d += 64, s += 64, n -= 64) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s));
    __m128i b = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 16));
    __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 32));
    __m128i e = _mm_loadu_si128(reinterpret_cast<const __m128i*>(s + 48));
    _mm_stream_si128(reinterpret_cast<__m128i*>(d), a);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 16), b);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 32), c);
    _mm_stream_si128(reinterpret_cast<__m128i*>(d + 48), e);
  }
  std::memcpy(d, s, n);
  _mm_sfence();  // the weakly ordered stores are visible before the chunk is reported done
}

struct Job {
  char* dst;
  const char* src;
  size_t bytes;
  bool nt;  // non-temporal stores (stream_output, lower.h)
};

void run(void* ctx, int64_t lo, int64_t hi) {
  const Job& j = *static_cast<const Job*>(ctx);
  size_t b = static_cast<size_t>(lo * kUnitBytes), e = std::min(static_cast<size_t>(hi * kUnitBytes), j.bytes);
  if (j.nt) copy_nt(j.dst + b, j.src + b, e - b);
  else std::memcpy(j.dst + b, j.src + b, e - b);
}

}  // namespace

void stream_copy(void* dst, const void* src, size_t bytes) noexcept {
  if (bytes < kStreamCopyMinBytes) {
    std::memcpy(dst, src, bytes);
    return;
  }
  // The destination is the caller's array, read next more often than not: it bypasses the
  // cache only when it could not stay there anyway (as kernel results, stream_output).
  const auto n = static_cast<int64_t>(bytes);
  Job j{static_cast<char*>(dst), static_cast<const char*>(src), bytes, stream_output(n, 2 * n, host_llc_bytes())};
  int64_t units = static_cast<int64_t>((bytes + kUnitBytes - 1) / kUnitBytes);
  tracejit_parallel_for(&run, &j, units, 1, static_cast<int64_t>(2 * bytes));  // ~1 unit per byte moved
}

}  // namespace tracejit::backends
