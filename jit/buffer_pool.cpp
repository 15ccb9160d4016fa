// The result-buffer pool (see buffer_pool.h): a NEP 49 PyDataMem_Handler whose free() keeps the
// block in a small cache of recently freed blocks, most recent reused first; the handler is made
// current only around the allocation of a large result, so NumPy's own arrays never use it.
#include "jit/buffer_pool.h"

#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <vector>

namespace tracejit::jit {
namespace {

// Every block starts with this header; the array's data follows it at 64 + offset bytes, offset
// < 64 chosen per allocation (the 8 bytes before the data hold that distance).
struct alignas(64) Header {
  uint64_t magic;
  uint64_t capacity;  // bytes of the whole block, header included
};
constexpr size_t kLead = 2 * sizeof(Header);  // room for the header and the largest offset
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

void* take(size_t nbytes, size_t offset = 0) {
  offset &= 63;
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
  char* data = base + sizeof(Header) + offset;
  const uint64_t lead = sizeof(Header) + offset;
  std::memcpy(data - sizeof(lead), &lead, sizeof(lead));
  return data;
}

Header* header_of(void* data) {
  uint64_t lead;
  std::memcpy(&lead, static_cast<char*>(data) - sizeof(lead), sizeof(lead));
  return reinterpret_cast<Header*>(static_cast<char*>(data) - lead);
}

size_t usable_size(void* data) {
  Header* h = header_of(data);
  return h->capacity - static_cast<size_t>(static_cast<char*>(data) - reinterpret_cast<char*>(h));
}

// The offset (mod 64) the next allocation through the handler gets: set around one allocation.
thread_local size_t t_offset = 0;

void give(void* data) {
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

void* h_malloc(void*, size_t size) { return take(size, t_offset); }

void* h_calloc(void*, size_t nelem, size_t elsize) {
  if (elsize && nelem > SIZE_MAX / elsize) return nullptr;
  void* d = take(nelem * elsize);
  if (d) std::memset(d, 0, nelem * elsize);
  return d;
}

void* h_realloc(void*, void* ptr, size_t new_size) {
  if (!ptr) return take(new_size);
  size_t usable = usable_size(ptr);
  if (new_size <= usable) return ptr;
  void* d = take(new_size);
  if (!d) return nullptr;
  std::memcpy(d, ptr, usable);
  give(ptr);
  return d;
}

void h_free(void*, void* ptr, size_t) { give(ptr); }

PyDataMem_Handler g_handler = {
    "tracejit_result_pool",
    1,
    {nullptr, h_malloc, h_calloc, h_realloc, h_free},
};

// The handler as NumPy wants it: a "mem_handler" capsule (made with the GIL held, kept forever).
PyObject* handler_capsule() {
  static PyObject* cap = PyCapsule_New(&g_handler, "mem_handler", nullptr);
  return cap;
}

}  // namespace

PyObject* new_result_array(int nd, const npy_intp* dims, int typenum, size_t align_offset) {
  PyArray_Descr* descr = PyArray_DescrFromType(typenum);
  if (!descr) return nullptr;
  const size_t elsize = static_cast<size_t>(PyDataType_ELSIZE(descr));
  size_t nbytes = elsize;
  Py_DECREF(descr);
  for (int d = 0; d < nd; ++d) nbytes *= static_cast<size_t>(dims[d]);
  if (nbytes < kPoolMinBytes || pool().limit == 0)
    return PyArray_SimpleNew(nd, const_cast<npy_intp*>(dims), typenum);
  PyObject* cap = handler_capsule();
  if (!cap) return nullptr;
  // The handler is current only for this allocation (NumPy keeps it in a context variable).
  PyObject* previous = PyDataMem_SetHandler(cap);
  if (!previous) return nullptr;
  t_offset = elsize ? align_offset % 64 / elsize * elsize : 0;  // element-aligned
  PyObject* arr = PyArray_SimpleNew(nd, const_cast<npy_intp*>(dims), typenum);
  t_offset = 0;
  PyObject* mine = PyDataMem_SetHandler(previous);
  Py_DECREF(previous);
  if (!mine) {
    Py_XDECREF(arr);
    return nullptr;
  }
  Py_DECREF(mine);
  return arr;
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

}  // namespace tracejit::jit
