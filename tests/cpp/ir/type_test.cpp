// Type spelling and NumPy broadcasting, including symbolic dimensions.
#include <gtest/gtest.h>

#include "ir/type.h"

namespace tracejit::ir {
namespace {

std::vector<Dim> dims(std::initializer_list<Dim> d) { return d; }
Dim F(int64_t n) { return Dim::fixed(n); }
Dim S(int32_t s) { return Dim::symbol(s); }

TEST(Type, Spelling) {
  EXPECT_EQ(to_string(Type(DType::F32, {F(4), S(0)})), "f32[4,s0]");
  EXPECT_EQ(to_string(Type::scalar(DType::I64)), "i64[]");
}

TEST(Broadcast, StaticShapes) {
  EXPECT_EQ(broadcast_shapes(dims({F(3), F(1)}), dims({F(4)})), dims({F(3), F(4)}));
  EXPECT_EQ(broadcast_shapes(dims({}), dims({F(2), F(5)})), dims({F(2), F(5)}));
  EXPECT_EQ(broadcast_shapes(dims({F(0)}), dims({F(1)})), dims({F(0)}));
  EXPECT_FALSE(broadcast_shapes(dims({F(3)}), dims({F(4)})));
  EXPECT_FALSE(broadcast_shapes(dims({F(0)}), dims({F(2)})));
}

TEST(Broadcast, SymbolicDims) {
  EXPECT_EQ(broadcast_shapes(dims({S(0)}), dims({F(1)})), dims({S(0)}));
  EXPECT_EQ(broadcast_shapes(dims({F(1), S(0)}), dims({S(1), S(0)})), dims({S(1), S(0)}));
  EXPECT_EQ(broadcast_shapes(dims({S(0)}), dims({})), dims({S(0)}));
  // Different symbols, or a symbol against a size other than 1, are not provably equal.
  EXPECT_FALSE(broadcast_shapes(dims({S(0)}), dims({S(1)})));
  EXPECT_FALSE(broadcast_shapes(dims({S(0)}), dims({F(4)})));
}

}  // namespace
}  // namespace tracejit::ir
