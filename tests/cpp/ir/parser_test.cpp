// Parser: what it accepts, and that errors point at the right line:column.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>

#include "ir/parser.h"
#include "ir/printer.h"

namespace tracejit::ir {
namespace {

std::string error_of(std::string_view text) {
  Expected<Graph> g = parse(text);
  return g.ok() ? std::string("<parsed>") : g.message();
}

TEST(Parser, ParsesEveryNodeForm) {
  Expected<Graph> g = parse(R"(// leading comment
func @k(%0, %1) {
  %0 = param 0 strided : f64[s0,3]  loc("a.py":7)
  %1 = param 1 scalar : i32[]
  %2 = const nan(0x7ff0000000000001) : f64[]
  %3 = const -nan : f32[]
  %4 = const false : bool[]
  %5 = const 18446744073709551615 : u64[]
  %6 = add %0, %2 : f64[s0,3]  loc("a.py":8)
  return %6, %1
}
)");
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->name, "k");
  EXPECT_EQ(g->params, (std::vector<ValueId>{0, 1}));
  EXPECT_EQ(g->results, (std::vector<ValueId>{6, 1}));
  EXPECT_EQ(g->node(0).ints, (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(g->node(0).type, Type(DType::F64, {Dim::symbol(0), Dim::fixed(3)}));
  EXPECT_EQ(std::bit_cast<uint64_t>(g->node(2).fval), 0x7ff0000000000001ull);
  EXPECT_EQ(std::bit_cast<uint64_t>(g->node(3).fval), 0xfff8000000000000ull);
  EXPECT_EQ(g->node(4).ints, (std::vector<int64_t>{0}));
  EXPECT_EQ(g->node(5).ints, (std::vector<int64_t>{-1}));
  EXPECT_EQ(g->node(6).operands, (std::vector<ValueId>{0, 2}));
  ASSERT_EQ(g->files, (std::vector<std::string>{"a.py"}));
  EXPECT_EQ(g->node(6).loc, (SourceLoc{0, 8}));
}

TEST(Parser, ErrorsCarryLineAndColumn) {
  EXPECT_EQ(error_of("func @f() {\n  %0 = frob : f32[]\n  return\n}"), "2:8: unknown op, found 'frob'");
  EXPECT_EQ(error_of("func @f() {\n  %0 = const 1.0 : f33[]\n  return\n}"), "2:20: unknown dtype, found 'f33'");
  EXPECT_EQ(error_of("func @f() {\n  %1 = const 1.0 : f32[]\n  return\n}"),
            "2:3: expected %0 (values are numbered in order), found '%1'");
  EXPECT_EQ(error_of("func @f() {\n  return %4\n}"), "2:10: use of undefined value %4");
  EXPECT_EQ(error_of("func @f() {\n  return\n} x"), "3:3: expected end of input after the function, found 'x'");
}

TEST(Parser, RejectsBadConstants) {
  EXPECT_NE(error_of("func @f() {\n %0 = const 1.5 : i32[]\n return\n}").find("2:13: bad integer constant"),
            std::string::npos);
  EXPECT_NE(error_of("func @f() {\n %0 = const 1 : bool[]\n return\n}").find("bool constant must be true or false"),
            std::string::npos);
  EXPECT_NE(error_of("func @f() {\n %0 = const nan : i32[]\n return\n}").find("special float constant"),
            std::string::npos);
  EXPECT_NE(error_of("func @f() {\n %0 = const 1e999 : f64[]\n return\n}").find("bad float constant"),
            std::string::npos);
  EXPECT_NE(error_of("func @f() {\n %0 = const 99999999999999999999 : i64[]\n return\n}").find("bad integer"),
            std::string::npos);
}

TEST(Parser, RejectsLexicalGarbage) {
  EXPECT_EQ(error_of("func @f() {\n  %0 = param 0 contiguous : f32[4]  loc(\"x.py:1)\n"),
            "2:41: unterminated string");
  EXPECT_EQ(error_of("func @f() { # }"), "1:13: unexpected character '\\x23'");
  EXPECT_EQ(error_of("func @f() { %99999999999 = "), "1:13: expected a value number after '%'");
  EXPECT_EQ(error_of(""), "1:1: expected 'func', found end of input");
}

TEST(Parser, RejectsBadDims) {
  EXPECT_NE(error_of("func @f() {\n %0 = const 1.0 : f32[-1]\n return\n}").find("expected a dimension"),
            std::string::npos);
  EXPECT_NE(error_of("func @f() {\n %0 = const 1.0 : f32[sx]\n return\n}").find("expected a dimension"),
            std::string::npos);
}

TEST(Parser, ForwardReferencesParseButAreNotVerified) {
  // SSA order is the verifier's rule; the parser only needs every %N to exist.
  Expected<Graph> g = parse("func @f() {\n %0 = neg %1 : f32[]\n %1 = const 1.0 : f32[]\n return %0\n}");
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->node(0).operands, (std::vector<ValueId>{1}));
}

TEST(Parser, GenericAttributeFormRoundTrips) {
  std::string text =
      "func @f() {\n  %0 = add {ints = [1, -2], fval = -0.0} : f32[]\n  return %0\n}\n";
  Expected<Graph> g = parse(text);
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->node(0).ints, (std::vector<int64_t>{1, -2}));
  EXPECT_TRUE(std::signbit(g->node(0).fval));
  EXPECT_EQ(print(*g), text);
}

TEST(Parser, ScanRoundTrips) {
  std::string text =
      "func @f(%0) {\n  %0 = param 0 contiguous : u8[4,5]\n"
      "  %1 = scan_sum %0 {ints = [1], fval = 0.0} : u8[4,5]\n"
      "  %2 = scan_prod %1 {ints = [0], fval = 0.0} : u8[4,5]\n  return %2\n}\n";
  Expected<Graph> g = parse(text);
  ASSERT_TRUE(g.ok()) << g.message();
  EXPECT_EQ(g->node(1).op, Op::ScanSum);
  EXPECT_EQ(g->node(2).op, Op::ScanProd);
  EXPECT_EQ(g->node(1).ints, (std::vector<int64_t>{1}));
  EXPECT_EQ(print(*g), text);
}

}  // namespace
}  // namespace tracejit::ir
