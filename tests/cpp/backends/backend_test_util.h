// Test helpers for backends/: buffers, a per-element NumPy-rules reference evaluator, comparison.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "backends/cpu/cpu_backend.h"
#include "ir/graph.h"
#include <map>

namespace tracejit::backends::testing {

using ir::DType;
using ir::Op;

inline const std::vector<DType> kAllDTypes = {DType::Bool, DType::I8,  DType::I16, DType::I32,
                                              DType::I64,  DType::U8,  DType::U16, DType::U32,
                                              DType::U64,  DType::F32, DType::F64};

template <class F>
decltype(auto) dispatch(DType d, F&& f) {
  switch (d) {
    case DType::Bool: return f(bool{});
    case DType::I8: return f(int8_t{});
    case DType::I16: return f(int16_t{});
    case DType::I32: return f(int32_t{});
    case DType::I64: return f(int64_t{});
    case DType::U8: return f(uint8_t{});
    case DType::U16: return f(uint16_t{});
    case DType::U32: return f(uint32_t{});
    case DType::U64: return f(uint64_t{});
    case DType::F32: return f(float{});
    default: return f(double{});
  }
}

// An array: dtype, shape, byte strides and a data pointer into owned storage.
struct Buffer {
  DType dtype = DType::F64;
  std::vector<int64_t> shape, strides;
  std::vector<uint8_t> storage;
  int64_t offset = 0;  // byte offset of element 0 in storage (negative-stride views)

  uint8_t* data() { return storage.data() + offset; }
  const uint8_t* data() const { return storage.data() + offset; }
  int64_t numel() const {
    int64_t n = 1;
    for (int64_t s : shape) n *= s;
    return n;
  }
  int64_t byte_offset(const std::vector<int64_t>& idx) const {
    int64_t o = 0;
    for (size_t i = 0; i < idx.size(); ++i) o += idx[i] * strides[i];
    return o;
  }
  template <class T>
  T get(int64_t flat) const;  // C-order element
  template <class T>
  void set(int64_t flat, T v);
};

inline std::vector<int64_t> c_strides(DType d, const std::vector<int64_t>& shape) {
  std::vector<int64_t> s(shape.size());
  int64_t acc = ir::dtype_size(d);
  for (size_t i = shape.size(); i-- > 0;) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

inline std::vector<int64_t> unravel(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t i = shape.size(); i-- > 0;) {
    idx[i] = shape[i] ? flat % shape[i] : 0;
    flat = shape[i] ? flat / shape[i] : 0;
  }
  return idx;
}

inline Buffer make_buffer(DType d, std::vector<int64_t> shape) {
  Buffer b;
  b.dtype = d;
  b.shape = shape;
  b.strides = c_strides(d, shape);
  b.storage.assign(static_cast<size_t>(std::max<int64_t>(b.numel(), 1) * ir::dtype_size(d)), 0xAB);
  return b;
}

template <class T>
T Buffer::get(int64_t flat) const {
  const uint8_t* p = data() + byte_offset(unravel(flat, shape));
  if constexpr (std::is_same_v<T, bool>) {
    return *p != 0;
  } else {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
}

template <class T>
void Buffer::set(int64_t flat, T v) {
  uint8_t* p = data() + byte_offset(unravel(flat, shape));
  if constexpr (std::is_same_v<T, bool>) {
    *p = v ? 1 : 0;
  } else {
    std::memcpy(p, &v, sizeof(T));
  }
}

// Fills `b` (C order) from doubles/int64 seeds converted with wraparound.
template <class T>
T from_seed(double f, int64_t i) {
  if constexpr (std::is_same_v<T, bool>) return i != 0;
  else if constexpr (std::is_floating_point_v<T>) return static_cast<T>(f);
  else return static_cast<T>(static_cast<uint64_t>(i));
}

// Interesting values per dtype: signed zeros, NaN, inf, extremes, values around rounding edges.
inline Buffer interesting(DType d, std::vector<int64_t> shape) {
  static const double kF[] = {0.0, -0.0, 1.0, -1.0, 2.5, -2.5, 3.0, -7.0, 0.5, NAN, INFINITY,
                              -INFINITY, 1e30, -1e-30, 7.25, 100.0, -0.75, 5.0};
  static const int64_t kI[] = {0, 1, -1, 2, -2, 3, -3, 7, -7, 100, -100,
                               std::numeric_limits<int64_t>::min(), std::numeric_limits<int64_t>::max(),
                               -128, 127, -32768, 0x7fffffff, -2147483648LL};
  Buffer b = make_buffer(d, shape);
  dispatch(d, [&](auto t) {
    using T = decltype(t);
    for (int64_t k = 0; k < b.numel(); ++k) {
      size_t j = static_cast<size_t>(k) % 18;
      int64_t iv = kI[j];
      // Narrow types: map the 64-bit extremes onto this type's extremes.
      if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        if (iv == std::numeric_limits<int64_t>::min()) iv = static_cast<int64_t>(std::numeric_limits<T>::min());
        if (iv == std::numeric_limits<int64_t>::max()) iv = static_cast<int64_t>(std::numeric_limits<T>::max());
      }
      b.set<T>(k, from_seed<T>(kF[j], iv));
    }
  });
  return b;
}

// ---- Reference semantics (NumPy rules), one element at a time. ----

template <class T>
T wrap_add(T a, T b) { return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b)); }
template <class T>
T wrap_sub(T a, T b) { return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b)); }
template <class T>
T wrap_mul(T a, T b) { return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b)); }

// NumPy's npy_divmod, verbatim.
template <class T>
T npy_divmod(T a, T b, T* modulus) {
  T mod = std::fmod(a, b);
  if (!b) {
    *modulus = mod;
    return a / b;
  }
  T div = (a - mod) / b;
  if (mod) {
    if (std::isless(b, T(0)) != std::isless(mod, T(0))) {
      mod += b;
      div -= T(1);
    }
  } else {
    mod = std::copysign(T(0), b);
  }
  T floordiv;
  if (div) {
    floordiv = std::floor(div);
    if (std::isgreater(div - floordiv, T(0.5))) floordiv += T(1);
  } else {
    floordiv = std::copysign(T(0), a / b);
  }
  *modulus = mod;
  return floordiv;
}

template <class T>
T ref_floordiv(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    T m;
    return npy_divmod(a, b, &m);
  } else if constexpr (std::is_signed_v<T>) {
    if (b == 0) return 0;
    if (a == std::numeric_limits<T>::min() && b == T(-1)) return a;
    T q = static_cast<T>(a / b), r = static_cast<T>(a % b);
    if (r != 0 && ((r < 0) != (b < 0))) --q;
    return q;
  } else {
    return b == 0 ? T(0) : static_cast<T>(a / b);
  }
}

template <class T>
T ref_mod(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    T m;
    npy_divmod(a, b, &m);
    return m;
  } else if constexpr (std::is_signed_v<T>) {
    if (b == 0) return 0;
    if (a == std::numeric_limits<T>::min() && b == T(-1)) return 0;
    T r = static_cast<T>(a % b);
    if (r != 0 && ((r < 0) != (b < 0))) r = static_cast<T>(r + b);
    return r;
  } else {
    return b == 0 ? T(0) : static_cast<T>(a % b);
  }
}

template <class T>
T ref_pow(T a, T b) {
  if constexpr (std::is_same_v<T, float>) {
    // glibc's powf misrounds exact ties (7.25f^5 = 20030.4189453125, halfway between two floats:
    // it gives the odd neighbour); NumPy rounds them to even, as the double pow rounded to float
    // does wherever the double result is exact (every case here).
    return static_cast<float>(std::pow(static_cast<double>(a), static_cast<double>(b)));
  } else if constexpr (std::is_floating_point_v<T>) {
    return std::pow(a, b);
  } else {
    T r = 1;
    auto e = static_cast<uint64_t>(b);
    while (e) {
      if (e & 1) r = wrap_mul(r, a);
      a = wrap_mul(a, a);
      e >>= 1;
    }
    return r;
  }
}

// Binary ops that keep the dtype (not comparisons).
template <class T>
T ref_binary(Op op, T a, T b) {
  constexpr bool kFloat = std::is_floating_point_v<T>;
  constexpr bool kBool = std::is_same_v<T, bool>;
  switch (op) {
    case Op::Add: if constexpr (kBool) return a || b; else if constexpr (kFloat) return a + b; else return wrap_add(a, b);
    case Op::Sub: if constexpr (kFloat) return a - b; else return wrap_sub(a, b);
    case Op::Mul: if constexpr (kBool) return a && b; else if constexpr (kFloat) return a * b; else return wrap_mul(a, b);
    case Op::Div: return a / b;
    case Op::FloorDiv: if constexpr (!kBool) return ref_floordiv(a, b); else return a;
    case Op::Mod: if constexpr (!kBool) return ref_mod(a, b); else return a;
    case Op::Pow: if constexpr (!kBool) return ref_pow(a, b); else return a;
    case Op::Maximum: if constexpr (kFloat) return (a > b || std::isnan(a)) ? a : b; else return a >= b ? a : b;
    case Op::Minimum: if constexpr (kFloat) return (a < b || std::isnan(a)) ? a : b; else return a <= b ? a : b;
    case Op::And: if constexpr (!kFloat) return static_cast<T>(a & b); else return a;
    case Op::Or: if constexpr (!kFloat) return static_cast<T>(a | b); else return a;
    case Op::Xor: if constexpr (!kFloat) return static_cast<T>(a ^ b); else return a;
    default: ADD_FAILURE() << "no reference for " << ir::op_name(op); return a;
  }
}

template <class T>
bool ref_compare(Op op, T a, T b) {
  switch (op) {
    case Op::Eq: return a == b;
    case Op::Ne: return a != b;
    case Op::Lt: return a < b;
    case Op::Le: return a <= b;
    case Op::Gt: return a > b;
    default: return a >= b;
  }
}

template <class T>
T ref_unary(Op op, T x) {
  if constexpr (std::is_same_v<T, bool>) {
    if (op == Op::Not) return !x;
    return x;  // abs
  } else if constexpr (std::is_floating_point_v<T>) {
    switch (op) {
      case Op::Neg: return -x;
      case Op::Abs: return std::fabs(x);
      case Op::Sqrt: return std::sqrt(x);
      case Op::Exp: return std::exp(x);
      case Op::Log: return std::log(x);
      case Op::Tanh: return std::tanh(x);
      case Op::Sin: return std::sin(x);
      case Op::Cos: return std::cos(x);
      default: ADD_FAILURE() << "no reference for " << ir::op_name(op); return x;
    }
  } else {
    switch (op) {
      case Op::Neg: return wrap_sub(T(0), x);
      case Op::Abs: if constexpr (std::is_signed_v<T>) return x < 0 ? wrap_sub(T(0), x) : x; else return x;
      case Op::Not: return static_cast<T>(~x);
      default: ADD_FAILURE() << "no reference for " << ir::op_name(op); return x;
    }
  }
}

// Runs a compiled graph. Inputs carry their own strides (read for Strided params).
inline std::vector<Buffer> run_kernel(const ir::Graph& g, const CompiledKernel& k, std::vector<Buffer>& inputs) {
  std::vector<Buffer> outs;
  for (ir::ValueId r : g.results) {
    std::vector<int64_t> shape;
    for (const ir::Dim& d : g.type(r).shape) shape.push_back(d.size);
    outs.push_back(make_buffer(g.type(r).dtype, shape));
  }
  std::vector<void*> in_ptrs, out_ptrs;
  std::vector<const int64_t*> in_strides;
  for (Buffer& b : inputs) {
    in_ptrs.push_back(b.data());
    in_strides.push_back(b.strides.data());
  }
  for (Buffer& b : outs) out_ptrs.push_back(b.data());
  k.run(in_ptrs.data(), in_strides.data(), out_ptrs.data(), nullptr);  // kernel or program
  return outs;
}

// The value of node `v` at result index `out_idx` (broadcast right-aligned).
struct RefValue {
  uint64_t bits = 0;  // the element's bytes (bool: 0/1)
  template <class T>
  T as() const {
    T v;
    std::memcpy(&v, &bits, sizeof(T));
    return v;
  }
  template <class T>
  static RefValue of(T v) {
    RefValue r;
    std::memcpy(&r.bits, &v, sizeof(T));
    return r;
  }
};

RefValue reference_eval(const ir::Graph& g, ir::ValueId v, const std::vector<int64_t>& out_idx,
                        const std::vector<Buffer>& inputs);

// Evaluates every result of `g` with the reference semantics.
std::vector<Buffer> reference(const ir::Graph& g, const std::vector<Buffer>& inputs);

// Element-wise equality: bit-exact (so -0.0 != 0.0), except any NaN equals any NaN.
::testing::AssertionResult same_values(const Buffer& got, const Buffer& want);

// Compiles `g`, runs it on `inputs` and compares every result with the reference.
void check_graph(const ir::Graph& g, std::vector<Buffer> inputs);

// IR-text test helpers shared by the loop test files.
// `text` with every "$KEY" replaced (keys never prefix one another).
std::string subst(std::string text, const std::map<std::string, std::string>& vars);
// The graph `text` parses to; a parse or verifier failure fails the calling test.
ir::Graph parse_ok(const std::string& text);
// Options without the on-disk cache; native_loops picks native loop functions or the program path.
CpuCompileOptions loop_options(bool native_loops = true);

}  // namespace tracejit::backends::testing
