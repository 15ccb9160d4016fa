// Which BLAS the kernels call, and matrix-vector products through gemv. See blas.h.
//
// NumPy wheels bundle their own OpenBLAS (scipy-openblas, ILP64 with a `scipy_` prefix and a
// `64_` suffix, or the LP64 build without the suffix), loaded privately (RTLD_LOCAL) when NumPy
// is imported. Finding it among the loaded objects and calling it makes every compiled matmul
// run NumPy's kernels and thread count; Debian's OpenBLAS 0.3.21, which we link, is several
// times slower on matrix-vector products. Processes without NumPy (the C++ tests) use the
// linked library.
#include "backends/cpu/blas.h"

#include <dlfcn.h>
#include <link.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>

extern "C" {
// The system OpenBLAS (LP64: blasint is int).
void cblas_sgemm(int order, int transa, int transb, int m, int n, int k, float alpha, const float* a, int lda,
                 const float* b, int ldb, float beta, float* c, int ldc);
void cblas_dgemm(int order, int transa, int transb, int m, int n, int k, double alpha, const double* a, int lda,
                 const double* b, int ldb, double beta, double* c, int ldc);
void cblas_sgemv(int order, int trans, int m, int n, float alpha, const float* a, int lda, const float* x,
                 int incx, float beta, float* y, int incy);
void cblas_dgemv(int order, int trans, int m, int n, double alpha, const double* a, int lda, const double* x,
                 int incx, double beta, double* y, int incy);
}

namespace tracejit::backends {
namespace {

constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;

// One BLAS: gemm and gemv for one element type, with 32- or 64-bit integer arguments.
template <typename T>
struct Blas {
  using Gemm32 = void (*)(int, int, int, int, int, int, T, const T*, int, const T*, int, T, T*, int);
  using Gemv32 = void (*)(int, int, int, int, T, const T*, int, const T*, int, T, T*, int);
  using Gemm64 = void (*)(int, int, int, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*,
                          int64_t);
  using Gemv64 = void (*)(int, int, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, int64_t);
  Gemm32 gemm32 = nullptr;
  Gemv32 gemv32 = nullptr;
  Gemm64 gemm64 = nullptr;  // set: use these
  Gemv64 gemv64 = nullptr;

  void gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, T* c,
            int64_t ldc) const {
    if (gemm64) gemm64(kRowMajor, ta, tb, m, n, k, T(1), a, lda, b, ldb, T(0), c, ldc);
    else gemm32(kRowMajor, ta, tb, int(m), int(n), int(k), T(1), a, int(lda), b, int(ldb), T(0), c, int(ldc));
  }
  void gemv(int t, int64_t m, int64_t n, const T* a, int64_t lda, const T* x, int64_t incx, T* y, int64_t incy) const {
    if (gemv64) gemv64(kRowMajor, t, m, n, T(1), a, lda, x, incx, T(0), y, incy);
    else gemv32(kRowMajor, t, int(m), int(n), T(1), a, int(lda), x, int(incx), T(0), y, int(incy));
  }
};

struct Libraries {
  Blas<float> s;
  Blas<double> d;
  std::string name = "system OpenBLAS";
};

int find_numpy_blas(dl_phdr_info* info, size_t, void* out) {
  if (info->dlpi_name && std::strstr(info->dlpi_name, "scipy_openblas")) {
    *static_cast<std::string*>(out) = info->dlpi_name;
    return 1;
  }
  return 0;
}

// Resolved at the first matmul (NumPy is loaded by then in a Python process).
const Libraries& libraries() {
  static const Libraries libs = [] {
    Libraries l;
    l.s.gemm32 = ::cblas_sgemm;
    l.s.gemv32 = ::cblas_sgemv;
    l.d.gemm32 = ::cblas_dgemm;
    l.d.gemv32 = ::cblas_dgemv;
    std::string path;
    dl_iterate_phdr(find_numpy_blas, &path);
    if (path.empty()) return l;
    void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD | RTLD_LOCAL);  // a reference to the loaded one
    if (!h) return l;
    auto sym = [&](const char* name) { return dlsym(h, name); };
    if (void* dg = sym("scipy_cblas_dgemm64_"); dg && sym("scipy_cblas_dgemv64_") && sym("scipy_cblas_sgemm64_") &&
                                                 sym("scipy_cblas_sgemv64_")) {
      l.d.gemm64 = reinterpret_cast<Blas<double>::Gemm64>(dg);
      l.d.gemv64 = reinterpret_cast<Blas<double>::Gemv64>(sym("scipy_cblas_dgemv64_"));
      l.s.gemm64 = reinterpret_cast<Blas<float>::Gemm64>(sym("scipy_cblas_sgemm64_"));
      l.s.gemv64 = reinterpret_cast<Blas<float>::Gemv64>(sym("scipy_cblas_sgemv64_"));
      l.name = "numpy: " + path;
    } else if (void* dg32 = sym("scipy_cblas_dgemm"); dg32 && sym("scipy_cblas_dgemv") && sym("scipy_cblas_sgemm") &&
                                                       sym("scipy_cblas_sgemv")) {
      l.d.gemm32 = reinterpret_cast<Blas<double>::Gemm32>(dg32);
      l.d.gemv32 = reinterpret_cast<Blas<double>::Gemv32>(sym("scipy_cblas_dgemv"));
      l.s.gemm32 = reinterpret_cast<Blas<float>::Gemm32>(sym("scipy_cblas_sgemm"));
      l.s.gemv32 = reinterpret_cast<Blas<float>::Gemv32>(sym("scipy_cblas_sgemv"));
      l.name = "numpy: " + path;
    }
    return l;  // the handle stays open: NumPy never unloads its BLAS
  }();
  return libs;
}

// Kernels always pass row-major, alpha 1, beta 0. A matrix-vector product (n == 1 or m == 1)
// goes to gemv (much faster than a one-column gemm); its output is zeroed first, since beta = 0
// must not read it (scratch may hold NaN bits and some BLAS builds propagate them).
template <typename T>
void gemm_or_gemv(const Blas<T>& blas, int ta, int tb, int m, int n, int k, const T* a, int lda, const T* b, int ldb,
                  T* c, int ldc) {
  if (k > 0 && m > 0 && n > 0 && (n == 1 || m == 1)) {
    if (n == 1) {  // c[i * ldc] = sum_k op(A)[i, k] * op(B)[k, 0]
      for (int i = 0; i < m; ++i) c[static_cast<int64_t>(i) * ldc] = T(0);
      const bool at = ta == kTrans;  // A stored k x m
      blas.gemv(ta, at ? k : m, at ? m : k, a, lda, b, tb == kTrans ? 1 : ldb, c, ldc);
    } else {  // c[j] = sum_k op(A)[0, k] * op(B)[k, j]: the vector op(B)^T op(A)^T
      for (int j = 0; j < n; ++j) c[j] = T(0);
      const bool bt = tb == kTrans;  // B stored n x k: op(B)^T is B itself
      blas.gemv(bt ? kNoTrans : kTrans, bt ? n : k, bt ? k : n, b, ldb, a, ta == kTrans ? lda : 1, c, 1);
    }
    return;
  }
  blas.gemm(ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
}

void tj_sgemm(int order, int ta, int tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
              int ldb, float beta, float* c, int ldc) {
  if (order != kRowMajor || alpha != 1.0f || beta != 0.0f) {  // not what kernels emit
    ::cblas_sgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  gemm_or_gemv(libraries().s, ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
}

void tj_dgemm(int order, int ta, int tb, int m, int n, int k, double alpha, const double* a, int lda,
              const double* b, int ldb, double beta, double* c, int ldc) {
  if (order != kRowMajor || alpha != 1.0 || beta != 0.0) {
    ::cblas_dgemm(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  gemm_or_gemv(libraries().d, ta, tb, m, n, k, a, lda, b, ldb, c, ldc);
}

}  // namespace

void for_each_blas_host_symbol(const std::function<void(const char*, void*)>& fn) {
  fn("cblas_sgemm", reinterpret_cast<void*>(&tj_sgemm));
  fn("cblas_dgemm", reinterpret_cast<void*>(&tj_dgemm));
}

const char* blas_library() { return libraries().name.c_str(); }

}  // namespace tracejit::backends
