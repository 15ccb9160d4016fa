// DType tables, generated from the one TRACEJIT_DTYPES list.
#include "ir/dtype.h"

namespace tracejit::ir {
namespace {
struct Info {
  std::string_view ir, np;
  int size;
  char kind;
};
constexpr Info kInfo[] = {
#define TRACEJIT_X(e, ir, np, size, kind) {ir, np, size, kind},
    TRACEJIT_DTYPES(TRACEJIT_X)
#undef TRACEJIT_X
};
}  // namespace

std::string_view dtype_name(DType t) { return kInfo[static_cast<int>(t)].ir; }
std::string_view dtype_numpy_name(DType t) { return kInfo[static_cast<int>(t)].np; }
int dtype_size(DType t) { return kInfo[static_cast<int>(t)].size; }
char dtype_kind(DType t) { return kInfo[static_cast<int>(t)].kind; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (kInfo[i].ir == name) return static_cast<DType>(i);
  return std::nullopt;
}

std::optional<DType> dtype_from_numpy_name(std::string_view name) {
  for (int i = 0; i < kNumDTypes; ++i)
    if (kInfo[i].np == name) return static_cast<DType>(i);
  return std::nullopt;
}

}  // namespace tracejit::ir
