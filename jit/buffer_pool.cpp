// The result-buffer pool (see buffer_pool.h): a NEP 49 PyDataMem_Handler over the backend's block
// pool (backends/cpu/block_pool.h), whose free() keeps the block for reuse; the handler is made
// current only around the allocation of a large result, so NumPy's own arrays never use it.
#include "jit/buffer_pool.h"

#include <cstring>

#include "backends/cpu/block_pool.h"

namespace tracejit::jit {
namespace {

// The page offset the next allocation through the handler gets: set around one allocation.
thread_local size_t t_offset = 0;

void* h_malloc(void*, size_t size) { return backends::pool_take(size, t_offset); }

void* h_calloc(void*, size_t nelem, size_t elsize) {
  if (elsize && nelem > SIZE_MAX / elsize) return nullptr;
  void* d = backends::pool_take(nelem * elsize);
  if (d) std::memset(d, 0, nelem * elsize);
  return d;
}

void* h_realloc(void*, void* ptr, size_t new_size) {
  if (!ptr) return backends::pool_take(new_size);
  size_t usable = backends::pool_usable_size(ptr);
  if (new_size <= usable) return ptr;
  void* d = backends::pool_take(new_size);
  if (!d) return nullptr;
  std::memcpy(d, ptr, usable);
  backends::pool_give(ptr);
  return d;
}

void h_free(void*, void* ptr, size_t) { backends::pool_give(ptr); }

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

PyObject* new_result_array(int nd, const npy_intp* dims, int typenum, size_t align_offset, const npy_intp* strides) {
  // `strides`: those of a permutation of a C-contiguous array (NumPy allocates the same bytes).
  auto make = [&] {
    return PyArray_New(&PyArray_Type, nd, const_cast<npy_intp*>(dims), typenum, const_cast<npy_intp*>(strides),
                       nullptr, 0, 0, nullptr);
  };
  PyArray_Descr* descr = PyArray_DescrFromType(typenum);
  if (!descr) return nullptr;
  const size_t elsize = static_cast<size_t>(PyDataType_ELSIZE(descr));
  size_t nbytes = elsize;
  Py_DECREF(descr);
  for (int d = 0; d < nd; ++d) nbytes *= static_cast<size_t>(dims[d]);
  if (nbytes < kPoolMinBytes || backends::pool_limit() == 0)
    return make();
  PyObject* cap = handler_capsule();
  if (!cap) return nullptr;
  // The handler is current only for this allocation (NumPy keeps it in a context variable).
  PyObject* previous = PyDataMem_SetHandler(cap);
  if (!previous) return nullptr;
  t_offset = elsize ? align_offset % 4096 / elsize * elsize : 0;  // element-aligned
  PyObject* arr = make();
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

}  // namespace tracejit::jit
