// Verifier: each rule, on an otherwise valid graph, and the shape of its message.
#include <gtest/gtest.h>

#include "ir/parser.h"
#include "ir/verifier.h"

namespace tracejit::ir {
namespace {

// The verifier's message for `body` (node lines and the return line) inside `func @f(params)`.
std::string verify_error(const std::string& params, const std::string& body) {
  std::string text = "func @f(" + params + ") {\n" + body + "}\n";
  Expected<Graph> g = parse(text);
  if (!g.ok()) return "parse error: " + g.message();
  Status st = verify(*g);
  return st.ok() ? "<ok>" : st.message();
}

void expect_fault(const std::string& params, const std::string& body, const std::string& needle) {
  std::string msg = verify_error(params, body);
  EXPECT_NE(msg.find(needle), std::string::npos) << "expected '" << needle << "' in:\n" << msg;
}

TEST(Verifier, AcceptsValidGraph) {
  EXPECT_EQ(verify_error("%0, %1",
                         "%0 = param 0 contiguous : f32[4,s0]\n"
                         "%1 = param 1 scalar : f32[]\n"
                         "%2 = const 2.0 : f32[]\n"
                         "%3 = mul %0, %2 : f32[4,s0]\n"
                         "%4 = gt %3, %1 : bool[4,s0]\n"
                         "%5 = where %4, %3, %1 : f32[4,s0]\n"
                         "%6 = cast %5 : i32[4,s0]\n"
                         "%7 = xor %6, %6 : i32[4,s0]\n"
                         "return %5, %7\n"),
            "<ok>");
}

TEST(Verifier, MessageNamesNodeAndShowsContext) {
  std::string msg = verify_error("", "%0 = const 1.0 : f32[]\n%1 = const 1.0 : f64[]\n%2 = add %0, %1 : f32[]\nreturn %2\n");
  EXPECT_NE(msg.find("verifier: %2 = add %0, %1 : f32[]: operand dtypes differ (f32 vs f64)"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find(">>   %2 = add %0, %1 : f32[]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("     %1 = const 1.0 : f64[]"), std::string::npos) << msg;
}

TEST(Verifier, SsaOrder) {
  expect_fault("", "%0 = neg %1 : f32[]\n%1 = const 1.0 : f32[]\nreturn %0\n", "operand %1 is used before it is defined");
  expect_fault("", "%0 = neg %0 : f32[]\nreturn %0\n", "operand %0 is used before it is defined");
}

TEST(Verifier, Arity) {
  expect_fault("", "%0 = const 1.0 : f32[]\n%1 = add %0 : f32[]\nreturn %1\n", "add takes 2 operands, not 1");
  expect_fault("", "%0 = const 1.0 : f32[]\n%1 = neg %0, %0 : f32[]\nreturn %1\n", "neg takes 1 operands, not 2");
}

TEST(Verifier, DtypeRules) {
  expect_fault("", "%0 = const 1.0 : f32[]\n%1 = neg %0 : f64[]\nreturn %1\n", "result dtype f64 differs");
  expect_fault("", "%0 = const 1.0 : f32[]\n%1 = lt %0, %0 : f32[]\nreturn %1\n", "comparison result must be bool");
  expect_fault("", "%0 = const 1 : i32[]\n%1 = exp %0 : i32[]\nreturn %1\n", "exp needs float operands");
  expect_fault("", "%0 = const 1 : i32[]\n%1 = div %0, %0 : i32[]\nreturn %1\n", "div needs float operands");
  expect_fault("", "%0 = const 1.0 : f32[]\n%1 = and %0, %0 : f32[]\nreturn %1\n", "and needs integer or bool");
  expect_fault("", "%0 = const 1 : i8[]\n%1 = const 1.0 : f32[]\n%2 = where %0, %1, %1 : f32[]\nreturn %2\n",
               "where condition must be bool, not i8");
  expect_fault("", "%0 = const true : bool[]\n%1 = const 1.0 : f32[]\n%2 = where %0, %1, %1 : f64[]\nreturn %2\n",
               "where operands f32 and f32 must match the result f64");
}

TEST(Verifier, BroadcastShapes) {
  expect_fault("%0, %1", "%0 = param 0 contiguous : f32[3]\n%1 = param 1 contiguous : f32[4]\n%2 = add %0, %1 : f32[4]\nreturn %2\n",
               "operand shapes do not broadcast");
  expect_fault("%0", "%0 = param 0 contiguous : f32[3,1]\n%1 = const 1.0 : f32[]\n%2 = add %0, %1 : f32[3]\nreturn %2\n",
               "result shape f32[3] is not the broadcast of its operands f32[3,1]");
  expect_fault("%0, %1", "%0 = param 0 contiguous : f32[s0]\n%1 = param 1 contiguous : f32[s1]\n%2 = add %0, %1 : f32[s0]\nreturn %2\n",
               "operand shapes do not broadcast");
}

TEST(Verifier, Scans) {
  const std::string x = "%0 = param 0 contiguous : f64[2,3]\n";
  EXPECT_EQ(verify_error("%0", x + "%1 = scan_sum %0 {ints = [1], fval = 0.0} : f64[2,3]\nreturn %1\n"), "<ok>");
  EXPECT_EQ(verify_error("%0", x + "%1 = scan_prod %0 {ints = [0], fval = 0.0} : f64[2,3]\nreturn %1\n"), "<ok>");
  expect_fault("%0", x + "%1 = scan_sum %0 : f64[2,3]\nreturn %1\n", "scan_sum/scan_prod need ints = [axis]");
  expect_fault("%0", x + "%1 = scan_sum %0 {ints = [-1], fval = 0.0} : f64[2,3]\nreturn %1\n", "need ints = [axis]");
  expect_fault("%0", x + "%1 = scan_prod %0 {ints = [0, 1], fval = 0.0} : f64[2,3]\nreturn %1\n", "need ints = [axis]");
  expect_fault("%0", x + "%1 = scan_sum %0 {ints = [0], fval = 0.0} : f32[2,3]\nreturn %1\n", "a scan keeps its operand's type");
  expect_fault("%0", x + "%1 = scan_sum %0 {ints = [0], fval = 0.0} : f64[1,3]\nreturn %1\n", "a scan keeps its operand's type");
}

TEST(Verifier, SignOps) {
  const std::string x = "%0 = param 0 contiguous : f64[3]\n";
  EXPECT_EQ(verify_error("%0", x + "%1 = signbit %0 : bool[3]\n%2 = copysign %0, %0 : f64[3]\nreturn %1, %2\n"), "<ok>");
  expect_fault("%0", x + "%1 = signbit %0 : f64[3]\nreturn %1\n", "comparison result must be bool");
  expect_fault("", "%0 = const 1 : i32[]\n%1 = signbit %0 : bool[]\nreturn %1\n", "signbit needs float operands");
  expect_fault("", "%0 = const 1 : i64[]\n%1 = copysign %0, %0 : i64[]\nreturn %1\n", "copysign needs float operands");
  expect_fault("%0", x + "%1 = copysign %0 : f64[3]\nreturn %1\n", "copysign takes 2 operands, not 1");
}

TEST(Verifier, Params) {
  expect_fault("", "%0 = param 0 contiguous : f32[4]\nreturn %0\n", "missing from the function's parameter list");
  expect_fault("%0, %1", "%0 = param 1 contiguous : f32[4]\n%1 = param 0 contiguous : f32[4]\nreturn %0\n",
               "param is listed at position 0 but has another index");
  expect_fault("%0, %0", "%0 = param 0 contiguous : f32[4]\nreturn %0\n", "has another index");
  expect_fault("%0", "%0 = const 1.0 : f32[]\nreturn %0\n", "params[0] is not a param node");
  expect_fault("%0", "%0 = param 0 scalar : f32[4]\nreturn %0\n", "scalar-layout param must be 0-d");
}

TEST(Verifier, Constants) {
  expect_fault("", "%0 = const 300 : u8[]\nreturn %0\n", "value 300 does not fit u8");
  expect_fault("", "%0 = const -129 : i8[]\nreturn %0\n", "value -129 does not fit i8");
  expect_fault("", "%0 = const 0.1 : f32[]\nreturn %0\n", "not representable in f32");
  expect_fault("", "%0 = const {ints = [2], fval = 0.0} : bool[]\nreturn %0\n", "bool const must be 0 or 1");
  expect_fault("", "%0 = const {ints = [], fval = 1.0} : i32[]\nreturn %0\n", "needs exactly one int");
  expect_fault("", "%0 = const 1.0 : f32[2]\nreturn %0\n", "const must be 0-d");
  expect_fault("", "%0 = const 1.0 : f32[]\n%1 = neg %0 {ints = [1], fval = 0.0} : f32[]\nreturn %1\n",
               "neg takes no integer attributes");
}

TEST(Verifier, CorruptGraphsAreReportedNotCrashed) {
  Graph g;
  g.add_const_float(DType::F32, 1.0);
  g.results = {7};
  EXPECT_NE(verify(g).message().find("result 0 (%7) is not defined"), std::string::npos);
  g.results = {0};
  g.node(0).loc = {3, 1};
  EXPECT_NE(verify(g).message().find("loc names file #3"), std::string::npos);
  g.node(0).loc = {};
  g.node(0).op = static_cast<Op>(500);
  EXPECT_NE(verify(g).message().find("unknown op 500"), std::string::npos);
  g.node(0).op = Op::Neg;
  g.node(0).operands = {-4};
  EXPECT_NE(verify(g).message().find("operand %-4 is not defined"), std::string::npos);
  g.params = {12};
  g.node(0) = Node{};
  g.node(0).type = Type::scalar(DType::F64);
  EXPECT_NE(verify(g).message().find("params[0] = %12 is not defined"), std::string::npos);
}

}  // namespace
}  // namespace tracejit::ir
