// The block pool (see block_pool.h): a small cache of recently freed blocks, each with a header
// in front of its data.
#include "backends/cpu/block_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace tracejit::backends {
namespace {

// Every block starts with this header; the array's data follows it at the first address past
// it that lies `offset` (< 4096, chosen per allocation) past a page boundary; the 8 bytes before
// the data hold the distance from the header.
struct alignas(64) Header {
  uint64_t magic;
  uint64_t capacity;  // bytes of the whole block, header included
};
constexpr size_t kPage = 4096;
constexpr size_t kLead = sizeof(Header) + kPage;  // room for the header and the largest offset
constexpr uint64_t kMagic = 0x7472616365706f6fULL;  // "tracepoo"
constexpr size_t kGranule = size_t{64} << 10;        // block sizes are multiples of 64 KiB
constexpr size_t kHugeAlign = size_t{2} << 20;

struct FreeBlock {
  char* base;
  uint64_t capacity;
  uint64_t seq;  // when it was freed: the oldest goes first when the pool is full
};

struct Pool {
  std::mutex mu;
  std::vector<FreeBlock> free_blocks;
  uint64_t seq = 0;
  int64_t limit = 0;
  int64_t cached = 0;
  int64_t live = 0;
  int64_t hits = 0;
  int64_t misses = 0;
};

Pool& pool() {
  // Never destroyed: arrays may be freed after static destructors would have run.
  static Pool* p = [] {
    auto* q = new Pool;
    int64_t mb = 256;
    if (const char* env = std::getenv("TRACEJIT_POOL_MB"); env && *env) mb = std::max<int64_t>(0, std::atoll(env));
    q->limit = mb << 20;
    return q;
  }();
  return *p;
}

char* system_block(size_t capacity) {
  void* base = nullptr;
  size_t align = capacity >= 2 * kHugeAlign ? kHugeAlign : 64;
  if (posix_memalign(&base, align, capacity) != 0) return nullptr;
#ifdef MADV_HUGEPAGE
  if (align == kHugeAlign) madvise(base, capacity & ~(kHugeAlign - 1), MADV_HUGEPAGE);
#endif
  return static_cast<char*>(base);
}

}  // namespace

void* pool_take(size_t nbytes, size_t offset) {
  offset &= kPage - 1;
  size_t want = (kLead + std::max<size_t>(nbytes, 1) + kGranule - 1) / kGranule * kGranule;
  Pool& p = pool();
  char* base = nullptr;
  uint64_t capacity = want;
  {
    std::lock_guard<std::mutex> lock(p.mu);
    // The most recently freed block that fits without wasting more than a quarter of it.
    auto best = p.free_blocks.end();
    for (auto it = p.free_blocks.begin(); it != p.free_blocks.end(); ++it)
      if (it->capacity >= want && it->capacity - want <= want / 4 && (best == p.free_blocks.end() || it->seq > best->seq))
        best = it;
    if (best != p.free_blocks.end()) {
      base = best->base;
      capacity = best->capacity;
      p.cached -= static_cast<int64_t>(capacity);
      *best = p.free_blocks.back();
      p.free_blocks.pop_back();
      ++p.hits;
    } else {
      ++p.misses;
    }
    p.live += static_cast<int64_t>(capacity);
  }
  if (!base) {
    base = system_block(want);
    if (!base) {
      std::lock_guard<std::mutex> lock(p.mu);
      p.live -= static_cast<int64_t>(capacity);
      return nullptr;
    }
  }
  auto* h = reinterpret_cast<Header*>(base);
  h->magic = kMagic;
  h->capacity = capacity;
  const uint64_t first = reinterpret_cast<uintptr_t>(base) + sizeof(Header);
  const uint64_t lead = sizeof(Header) + ((offset - first) & (kPage - 1));
  char* data = base + lead;
  std::memcpy(data - sizeof(lead), &lead, sizeof(lead));
  return data;
}

namespace {

Header* header_of(void* data) {
  uint64_t lead;
  std::memcpy(&lead, static_cast<char*>(data) - sizeof(lead), sizeof(lead));
  return reinterpret_cast<Header*>(static_cast<char*>(data) - lead);
}

}  // namespace

size_t pool_usable_size(void* data) {
  Header* h = header_of(data);
  return h->capacity - static_cast<size_t>(static_cast<char*>(data) - reinterpret_cast<char*>(h));
}

void pool_give(void* data) {
  if (!data) return;
  Header* h = header_of(data);
  if (h->magic != kMagic) std::abort();  // not ours: freeing it would corrupt the heap
  char* base = reinterpret_cast<char*>(h);
  uint64_t capacity = h->capacity;
  std::vector<char*> drop;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    p.live -= static_cast<int64_t>(capacity);
    if (static_cast<int64_t>(capacity) * 2 > p.limit) {
      drop.push_back(base);
    } else {
      p.free_blocks.push_back({base, capacity, ++p.seq});
      p.cached += static_cast<int64_t>(capacity);
      while (p.cached > p.limit) {
        auto oldest = std::min_element(p.free_blocks.begin(), p.free_blocks.end(),
                                       [](const FreeBlock& a, const FreeBlock& b) { return a.seq < b.seq; });
        drop.push_back(oldest->base);
        p.cached -= static_cast<int64_t>(oldest->capacity);
        *oldest = p.free_blocks.back();
        p.free_blocks.pop_back();
      }
    }
  }
  for (char* b : drop) {
    reinterpret_cast<Header*>(b)->magic = 0;
    std::free(b);
  }
}

PoolInfo pool_info() {
  Pool& p = pool();
  std::lock_guard<std::mutex> lock(p.mu);
  PoolInfo i;
  i.hits = p.hits;
  i.misses = p.misses;
  i.cached_bytes = p.cached;
  i.cached_blocks = static_cast<int64_t>(p.free_blocks.size());
  i.live_bytes = p.live;
  i.limit_bytes = p.limit;
  return i;
}

void pool_release() {
  std::vector<FreeBlock> drop;
  Pool& p = pool();
  {
    std::lock_guard<std::mutex> lock(p.mu);
    drop.swap(p.free_blocks);
    p.cached = 0;
  }
  for (const FreeBlock& b : drop) {
    reinterpret_cast<Header*>(b.base)->magic = 0;
    std::free(b.base);
  }
}

int64_t pool_limit() { return pool().limit; }

void* scratch_alloc(int64_t, int64_t nbytes) { return pool_take(static_cast<size_t>(std::max<int64_t>(nbytes, 1))); }
void scratch_free(void* p) { pool_give(p); }

}  // namespace tracejit::backends
