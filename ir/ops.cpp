// Op name/arity/trait tables, generated from ir/ops.def.
#include "ir/ops.h"

namespace tracejit::ir {
namespace {
struct OpInfo {
  std::string_view name;
  int arity;
  uint32_t traits;
};
constexpr OpInfo kOps[] = {
#define OP(e, name, arity, traits) {name, arity, static_cast<uint32_t>(traits)},
#include "ir/ops.def"
#undef OP
};
}  // namespace

std::string_view op_name(Op op) { return kOps[static_cast<int>(op)].name; }
int op_arity(Op op) { return kOps[static_cast<int>(op)].arity; }
uint32_t op_traits(Op op) { return kOps[static_cast<int>(op)].traits; }

std::optional<Op> op_from_name(std::string_view name) {
  for (int i = 0; i < kNumOps; ++i)
    if (kOps[i].name == name) return static_cast<Op>(i);
  return std::nullopt;
}

}  // namespace tracejit::ir
