// Tensor type helpers: printing and NumPy broadcasting.
#include "ir/type.h"

#include <fmt/format.h>

namespace tracejit::ir {

Type Type::of(DType d, const std::vector<int64_t>& sizes) {
  std::vector<Dim> s;
  s.reserve(sizes.size());
  for (int64_t n : sizes) s.push_back(Dim::fixed(n));
  return Type(d, std::move(s));
}

bool Type::is_static() const {
  for (const Dim& d : shape)
    if (!d.is_static()) return false;
  return true;
}

std::optional<int64_t> Type::static_numel() const {
  int64_t n = 1;
  for (const Dim& d : shape) {
    if (!d.is_static()) return std::nullopt;
    n *= d.size;
  }
  return n;
}

std::string to_string(const Dim& d) {
  return d.is_static() ? fmt::format("{}", d.size) : fmt::format("s{}", d.sym);
}

std::string to_string(const Type& t) {
  std::string out = fmt::format("{}[", dtype_name(t.dtype));
  for (size_t i = 0; i < t.shape.size(); ++i) {
    if (i) out += ",";
    out += to_string(t.shape[i]);
  }
  out += "]";
  return out;
}

std::optional<std::vector<Dim>> broadcast_shapes(const std::vector<Dim>& a, const std::vector<Dim>& b) {
  size_t n = std::max(a.size(), b.size());
  std::vector<Dim> out(n);
  for (size_t i = 0; i < n; ++i) {
    // Align from the right.
    const Dim* da = i < n - a.size() ? nullptr : &a[i - (n - a.size())];
    const Dim* db = i < n - b.size() ? nullptr : &b[i - (n - b.size())];
    if (!da) { out[i] = *db; continue; }
    if (!db) { out[i] = *da; continue; }
    if (*da == *db) { out[i] = *da; continue; }
    if (da->is_static() && da->size == 1) { out[i] = *db; continue; }
    if (db->is_static() && db->size == 1) { out[i] = *da; continue; }
    return std::nullopt;
  }
  return out;
}

}  // namespace tracejit::ir
