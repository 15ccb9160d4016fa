// Tensor types: a dtype and a shape whose dimensions are static sizes or symbols.
#pragma once

#include <cstdint>
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "ir/dtype.h"

namespace tracejit::ir {

// One dimension. Static: size >= 0, sym == -1. Symbolic: sym >= 0 names the runtime size
// "s<sym>" (shared by every dimension that must be equal), size == -1.
struct Dim {
  int64_t size = 0;
  int32_t sym = -1;

  static Dim fixed(int64_t n) { return Dim{n, -1}; }
  static Dim symbol(int32_t s) { return Dim{-1, s}; }
  bool is_static() const { return sym < 0; }
  bool operator==(const Dim& o) const { return size == o.size && sym == o.sym; }
  bool operator!=(const Dim& o) const { return !(*this == o); }
};

// Symbols of loop-body windows whose extent is a runtime value (dyn_window; bound inside the
// body, per iteration) are numbered from here; smaller ones are the call's runtime sizes
// (automatic dynamic shapes), passed to kernels in sym_dims.
constexpr int32_t kFirstExtentSymbol = 1000;
inline bool is_extent_symbol(const Dim& d) { return d.sym >= kFirstExtentSymbol; }

struct Type {
  DType dtype = DType::F64;
  std::vector<Dim> shape;  // empty: a 0-d value (scalar)

  Type() = default;
  Type(DType d, std::vector<Dim> s) : dtype(d), shape(std::move(s)) {}
  static Type of(DType d, const std::vector<int64_t>& sizes);
  static Type scalar(DType d) { return Type(d, {}); }

  int rank() const { return static_cast<int>(shape.size()); }
  bool is_scalar() const { return shape.empty(); }
  bool is_static() const;
  bool has_extent_symbols() const {  // a loop-body window of runtime extent
    for (const Dim& d : shape)
      if (is_extent_symbol(d)) return true;
    return false;
  }
  std::optional<int64_t> static_numel() const;  // nullopt if any dimension is symbolic
  Type with_dtype(DType d) const { return Type(d, shape); }
  bool operator==(const Type& o) const { return dtype == o.dtype && shape == o.shape; }
  bool operator!=(const Type& o) const { return !(*this == o); }
};

// A product of dimensions: a constant factor times symbols (sorted, with repeats), e.g. the
// element count 4*s0*s1 of f32[4,s0,s1] or a stride in bytes. Backends compare such products
// to tell whether two layouts agree for every value of the symbols, and evaluate them at run
// time from the symbols' sizes.
struct DimProduct {
  int64_t factor = 1;
  std::vector<int32_t> syms;  // sorted

  static DimProduct of(const Dim& d) { return d.is_static() ? DimProduct{d.size, {}} : DimProduct{1, {d.sym}}; }
  static DimProduct numel(const Type& t) {
    DimProduct m;
    for (const Dim& d : t.shape) m = m * of(d);
    return m;
  }
  bool is_static() const { return syms.empty(); }
  DimProduct operator*(const DimProduct& o) const {
    if (factor * o.factor == 0) return DimProduct{0, {}};
    DimProduct r{factor * o.factor, syms};
    r.syms.insert(r.syms.end(), o.syms.begin(), o.syms.end());
    std::sort(r.syms.begin(), r.syms.end());
    return r;
  }
  bool operator==(const DimProduct& o) const { return factor == o.factor && syms == o.syms; }
};

// "f32[4,s0]", "i64[]" — the spelling the printer and parser share.
std::string to_string(const Type& t);
std::string to_string(const Dim& d);

// NumPy broadcasting of two shapes; nullopt when they do not broadcast. A symbolic dimension
// broadcasts with 1 and with the same symbol only.
std::optional<std::vector<Dim>> broadcast_shapes(const std::vector<Dim>& a, const std::vector<Dim>& b);

}  // namespace tracejit::ir
