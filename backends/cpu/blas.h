// The BLAS that compiled matmuls call: the OpenBLAS NumPy itself ships and has loaded (so a
// compiled matmul is never slower than NumPy's own), else the system's OpenBLAS we link.
#pragma once

#include <functional>

namespace tracejit::backends {

// The entry points kernels call under the names "cblas_sgemm" / "cblas_dgemm" (CBLAS, LP64
// arguments, always row-major with beta 0): matrix-vector shapes go to gemv.
void for_each_blas_host_symbol(const std::function<void(const char*, void*)>& fn);

// "numpy: <path>" or "system OpenBLAS": which library the kernels' BLAS calls use (diagnostics).
const char* blas_library();

}  // namespace tracejit::backends
