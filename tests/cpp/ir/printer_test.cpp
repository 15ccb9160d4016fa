// Printer: exact text of nodes, constants, locations and names.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <limits>

#include "ir/parser.h"
#include "ir/printer.h"

namespace tracejit::ir {
namespace {

TEST(Printer, WholeFunction) {
  Graph g;
  g.name = "f";
  int32_t file = g.intern_file("x.py");
  ValueId a = g.add_param(Type(DType::F32, {Dim::fixed(4), Dim::symbol(0)}), ParamLayout::Contiguous, {file, 3});
  ValueId b = g.add_param(Type::scalar(DType::F32), ParamLayout::Scalar);
  ValueId c = g.add_const_float(DType::F32, 1.5);
  ValueId m = g.add_op(Op::Mul, g.type(a), {a, c}, {file, 4});
  ValueId s = g.add_op(Op::Add, g.type(a), {m, b});
  g.results = {s, m};
  EXPECT_EQ(print(g),
            "func @f(%0, %1) {\n"
            "  %0 = param 0 contiguous : f32[4,s0]  loc(\"x.py\":3)\n"
            "  %1 = param 1 scalar : f32[]\n"
            "  %2 = const 1.5 : f32[]\n"
            "  %3 = mul %0, %2 : f32[4,s0]  loc(\"x.py\":4)\n"
            "  %4 = add %3, %1 : f32[4,s0]\n"
            "  return %4, %3\n"
            "}\n");
}

TEST(Printer, FloatSpellings) {
  EXPECT_EQ(print_float(1.0), "1.0");
  EXPECT_EQ(print_float(-0.0), "-0.0");
  EXPECT_EQ(print_float(0.1), "0.1");
  EXPECT_EQ(print_float(1e300), "1e+300");
  EXPECT_EQ(print_float(std::numeric_limits<double>::infinity()), "inf");
  EXPECT_EQ(print_float(-std::numeric_limits<double>::infinity()), "-inf");
  EXPECT_EQ(print_float(std::bit_cast<double>(0x7ff8000000000000ull)), "nan");
  EXPECT_EQ(print_float(std::bit_cast<double>(0xfff8000000000000ull)), "-nan");
  EXPECT_EQ(print_float(std::bit_cast<double>(0x7ff4000000000001ull)), "nan(0x7ff4000000000001)");
}

TEST(Printer, IntAndBoolConsts) {
  Graph g;
  g.add_const_int(DType::Bool, 1);
  g.add_const_int(DType::I8, -128);
  g.add_const_int(DType::U64, -1);  // bit pattern of 2^64-1
  std::string text = print(g);
  EXPECT_NE(text.find("%0 = const true : bool[]"), std::string::npos) << text;
  EXPECT_NE(text.find("%1 = const -128 : i8[]"), std::string::npos) << text;
  EXPECT_NE(text.find("%2 = const 18446744073709551615 : u64[]"), std::string::npos) << text;
}

TEST(Printer, QuotesOddNamesAndFiles) {
  Graph g;
  g.name = "my fn\"1";
  int32_t f = g.intern_file("dir/a \"b\".py");
  g.add_const_int(DType::I32, 7, {f, 12});
  std::string text = print(g);
  EXPECT_EQ(text.rfind("func @\"my fn\\\"1\"()", 0), 0u) << text;
  EXPECT_NE(text.find("loc(\"dir/a \\\"b\\\".py\":12)"), std::string::npos) << text;
}

TEST(Printer, MalformedNodesUseGenericForm) {
  Graph g;
  Node n;
  n.op = Op::Add;
  n.type = Type::scalar(DType::F32);
  n.operands = {5};
  n.ints = {9};
  g.add(n);
  EXPECT_EQ(print_node(g, 0), "%0 = add %5 {ints = [9], fval = 0.0} : f32[]");
  EXPECT_EQ(print_node(g, 3), "%3 = <undefined>");
}

TEST(Printer, SurvivesCorruptOpAndDtype) {
  Graph g;
  Node n;
  n.op = static_cast<Op>(999);
  n.type = Type::scalar(static_cast<DType>(200));
  n.loc = {42, 1};
  g.add(n);
  std::string text = print(g);
  EXPECT_NE(text.find("<invalid op 999>"), std::string::npos) << text;
  EXPECT_NE(text.find("<invalid dtype 200>"), std::string::npos) << text;
  EXPECT_NE(text.find("<invalid file 42>"), std::string::npos) << text;
}

TEST(Printer, RoundTripPreservesBits) {
  const double values[] = {0.1, -0.0, 5e-324, 1.7976931348623157e308, 3.4028234663852886e38,
                           std::bit_cast<double>(0xfff4000000000abcull)};
  for (double v : values) {
    Graph g;
    g.add_const_float(DType::F64, v);
    g.results = {0};
    Expected<Graph> back = parse(print(g));
    ASSERT_TRUE(back.ok()) << back.message();
    EXPECT_EQ(std::bit_cast<uint64_t>(back->node(0).fval), std::bit_cast<uint64_t>(v)) << print(g);
  }
}

}  // namespace
}  // namespace tracejit::ir
