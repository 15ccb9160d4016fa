// fold, cse, dce and the pipeline, on small graphs built from text.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>

#include "ir/parser.h"
#include "ir/passes/cse.h"
#include "ir/passes/dce.h"
#include "ir/passes/fold.h"
#include "ir/passes/matvec.h"
#include "ir/passes/split_reduce.h"
#include "ir/passes/transpose_reduce.h"
#include "ir/pipeline.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace tracejit::ir {
namespace {

Graph parse_ok(const std::string& body, const std::string& params = "") {
  Expected<Graph> g = parse("func @f(" + params + ") {\n" + body + "}\n");
  EXPECT_TRUE(g.ok()) << g.message();
  if (!g.ok()) return Graph{};
  Status st = verify(*g);
  EXPECT_TRUE(st.ok()) << st.message();
  return std::move(*g);
}

// Folds `a op b` (both consts of `dtype`) and returns the printed result const, or the
// unfolded node's line.
std::string fold_binary(const std::string& op, const std::string& dtype, const std::string& a,
                        const std::string& b, const std::string& result_dtype = "") {
  std::string r = result_dtype.empty() ? dtype : result_dtype;
  Graph g = parse_ok("%0 = const " + a + " : " + dtype + "[]\n%1 = const " + b + " : " + dtype + "[]\n%2 = " + op +
                     " %0, %1 : " + r + "[]\nreturn %2\n");
  fold(g);
  EXPECT_TRUE(verify(g).ok()) << print(g);
  return print_node(g, 2);
}

std::string fold_unary(const std::string& op, const std::string& from, const std::string& a, const std::string& to) {
  Graph g = parse_ok("%0 = const " + a + " : " + from + "[]\n%1 = " + op + " %0 : " + to + "[]\nreturn %1\n");
  fold(g);
  EXPECT_TRUE(verify(g).ok()) << print(g);
  return print_node(g, 1);
}

TEST(Fold, IntegerArithmeticWraps) {
  EXPECT_EQ(fold_binary("add", "i8", "127", "1"), "%2 = const -128 : i8[]");
  EXPECT_EQ(fold_binary("sub", "u8", "0", "1"), "%2 = const 255 : u8[]");
  EXPECT_EQ(fold_binary("mul", "i32", "65536", "65536"), "%2 = const 0 : i32[]");
  EXPECT_EQ(fold_binary("add", "u64", "18446744073709551615", "2"), "%2 = const 1 : u64[]");
  EXPECT_EQ(fold_unary("neg", "i16", "-32768", "i16"), "%1 = const -32768 : i16[]");
  EXPECT_EQ(fold_unary("abs", "i8", "-128", "i8"), "%1 = const -128 : i8[]");
  EXPECT_EQ(fold_unary("not", "u16", "0", "u16"), "%1 = const 65535 : u16[]");
}

TEST(Fold, ScalarOverflowCheckedOpsThatWrapStay) {
  // ints = [1]: NumPy scalar arithmetic, which reports a wrap (ir::checks_scalar_overflow).
  auto checked = [](const std::string& op, const std::string& d, const std::string& a, const std::string& b) {
    Graph g = parse_ok("%0 = const " + a + " : " + d + "[]\n%1 = const " + b + " : " + d + "[]\n%2 = " + op +
                       " %0, %1 {ints = [1], fval = 0.0} : " + d + "[]\nreturn %2\n");
    fold(g);
    EXPECT_TRUE(verify(g).ok()) << print(g);
    return print_node(g, 2);
  };
  EXPECT_EQ(checked("add", "i8", "127", "1"), "%2 = add %0, %1 {ints = [1], fval = 0.0} : i8[]");
  EXPECT_EQ(checked("add", "i8", "126", "1"), "%2 = const 127 : i8[]");
  EXPECT_EQ(checked("sub", "u8", "0", "1"), "%2 = sub %0, %1 {ints = [1], fval = 0.0} : u8[]");
  EXPECT_EQ(checked("mul", "u64", "18446744073709551615", "18446744073709551615"),
            "%2 = mul %0, %1 {ints = [1], fval = 0.0} : u64[]");
  EXPECT_EQ(checked("mul", "i64", "-3037000499", "3037000499"), "%2 = const -9223372030926249001 : i64[]");
  // Unchecked (array or ufunc arithmetic): wraps silently, folds.
  EXPECT_EQ(fold_binary("add", "i8", "127", "1"), "%2 = const -128 : i8[]");
}

TEST(Fold, Float32ComputesInFloat) {
  // 16777216 + 1 rounds back to 16777216 in float32 (it would be exact in double).
  EXPECT_EQ(fold_binary("add", "f32", "16777216.0", "1.0"), "%2 = const 16777216.0 : f32[]");
  // 1/3 in f32 differs from (double)(1/3).
  EXPECT_EQ(fold_binary("div", "f32", "1.0", "3.0"), "%2 = const 0.3333333432674408 : f32[]");
  EXPECT_EQ(fold_binary("div", "f64", "1.0", "3.0"), "%2 = const 0.3333333333333333 : f64[]");
  EXPECT_EQ(fold_binary("div", "f64", "1.0", "0.0"), "%2 = const inf : f64[]");
  EXPECT_EQ(fold_binary("mul", "f64", "-0.0", "5.0"), "%2 = const -0.0 : f64[]");
}

TEST(Fold, LeavesNaNResultsAndSignedZeroMaxToRunTime) {
  EXPECT_EQ(fold_binary("sub", "f64", "inf", "inf"), "%2 = sub %0, %1 : f64[]");
  EXPECT_EQ(fold_binary("add", "f32", "nan", "1.0"), "%2 = add %0, %1 : f32[]");
  EXPECT_EQ(fold_binary("maximum", "f64", "nan", "1.0"), "%2 = maximum %0, %1 : f64[]");
  EXPECT_EQ(fold_binary("maximum", "f64", "-0.0", "0.0"), "%2 = maximum %0, %1 : f64[]");
  EXPECT_EQ(fold_binary("maximum", "f64", "-2.0", "1.5"), "%2 = const 1.5 : f64[]");
  EXPECT_EQ(fold_binary("minimum", "i8", "-2", "1"), "%2 = const -2 : i8[]");
  EXPECT_EQ(fold_binary("maximum", "u8", "200", "1"), "%2 = const 200 : u8[]");
  // neg/abs only flip the sign bit: even NaN folds exactly.
  EXPECT_EQ(fold_unary("neg", "f64", "nan", "f64"), "%1 = const -nan : f64[]");
  EXPECT_EQ(fold_unary("abs", "f64", "-nan", "f64"), "%1 = const nan : f64[]");
}

TEST(Fold, NeverFoldsTranscendentalsOrIntegerDivision) {
  EXPECT_EQ(fold_unary("exp", "f64", "1.0", "f64"), "%1 = exp %0 : f64[]");
  EXPECT_EQ(fold_unary("sqrt", "f64", "4.0", "f64"), "%1 = sqrt %0 : f64[]");
  EXPECT_EQ(fold_binary("pow", "f64", "2.0", "3.0"), "%2 = pow %0, %1 : f64[]");
  EXPECT_EQ(fold_binary("floordiv", "i32", "7", "2"), "%2 = floordiv %0, %1 : i32[]");
  EXPECT_EQ(fold_binary("mod", "i32", "7", "2"), "%2 = mod %0, %1 : i32[]");
}

TEST(Fold, Comparisons) {
  EXPECT_EQ(fold_binary("lt", "u32", "4294967295", "1", "bool"), "%2 = const false : bool[]");
  EXPECT_EQ(fold_binary("lt", "i32", "-1", "1", "bool"), "%2 = const true : bool[]");
  EXPECT_EQ(fold_binary("eq", "f64", "nan", "nan", "bool"), "%2 = const false : bool[]");
  EXPECT_EQ(fold_binary("ne", "f64", "nan", "nan", "bool"), "%2 = const true : bool[]");
  EXPECT_EQ(fold_binary("eq", "f64", "-0.0", "0.0", "bool"), "%2 = const true : bool[]");
}

TEST(Fold, BoolLogic) {
  EXPECT_EQ(fold_binary("add", "bool", "true", "true"), "%2 = const true : bool[]");
  EXPECT_EQ(fold_binary("xor", "bool", "true", "true"), "%2 = const false : bool[]");
  EXPECT_EQ(fold_binary("sub", "bool", "true", "true"), "%2 = sub %0, %1 : bool[]");
  EXPECT_EQ(fold_unary("not", "bool", "true", "bool"), "%1 = const false : bool[]");
}

TEST(Fold, Casts) {
  EXPECT_EQ(fold_unary("cast", "f64", "0.1", "f32"), "%1 = const 0.10000000149011612 : f32[]");
  EXPECT_EQ(fold_unary("cast", "f64", "-2.7", "i32"), "%1 = const -2 : i32[]");
  EXPECT_EQ(fold_unary("cast", "f64", "nan", "bool"), "%1 = const true : bool[]");
  EXPECT_EQ(fold_unary("cast", "i32", "300", "u8"), "%1 = const 44 : u8[]");
  EXPECT_EQ(fold_unary("cast", "u64", "18446744073709551615", "f64"), "%1 = const 1.8446744073709552e+19 : f64[]");
  EXPECT_EQ(fold_unary("cast", "i64", "16777217", "f32"), "%1 = const 16777216.0 : f32[]");
  // Out of range float -> int is undefined behaviour in C: left alone.
  EXPECT_EQ(fold_unary("cast", "f64", "300.0", "u8"), "%1 = cast %0 : u8[]");
  EXPECT_EQ(fold_unary("cast", "f64", "inf", "i64"), "%1 = cast %0 : i64[]");
  EXPECT_EQ(fold_unary("cast", "f64", "nan", "f32"), "%1 = cast %0 : f32[]");
}

TEST(Fold, Where) {
  Graph g = parse_ok("%0 = const false : bool[]\n%1 = const 1 : i32[]\n%2 = const 2 : i32[]\n%3 = where %0, %1, %2 : i32[]\nreturn %3\n");
  EXPECT_TRUE(fold(g));
  EXPECT_EQ(print_node(g, 3), "%3 = const 2 : i32[]");
}

TEST(Fold, IdentitiesKeepTypes) {
  Graph g = parse_ok(
      "%0 = param 0 contiguous : i32[4]\n%1 = const 1 : i32[]\n%2 = mul %1, %0 : i32[4]\n"
      "%3 = const 0 : i32[]\n%4 = add %2, %3 : i32[4]\n%5 = cast %4 : i32[4]\n"
      "%6 = param 1 contiguous : i32[]\n%7 = mul %6, %1 : i32[]\n%8 = add %7, %6 : i32[]\n"
      "return %5, %8\n",
      "%0, %6");
  EXPECT_TRUE(fold(g));
  EXPECT_EQ(g.results[0], 0);
  EXPECT_EQ(g.node(8).operands, (std::vector<ValueId>{6, 6}));
  EXPECT_TRUE(verify(g).ok());
  EXPECT_FALSE(fold(g)) << "a second fold must reach a fixed point";
}

TEST(Fold, NoIdentityThatWouldChangeShapeOrFloats) {
  // x (0-d) * ones-shaped? No: mul of f32 by 1.0 is not folded, and a broadcasting x*1 keeps
  // the node because x's type differs from the result's.
  Graph g = parse_ok("%0 = param 0 contiguous : f32[4]\n%1 = const 1.0 : f32[]\n%2 = mul %0, %1 : f32[4]\n"
                     "%3 = param 1 contiguous : i32[]\n%4 = param 2 contiguous : i32[3]\n"
                     "return %2\n",
                     "%0, %3, %4");
  EXPECT_FALSE(fold(g));
  Graph h = parse_ok("%0 = param 0 scalar : i32[]\n%1 = param 1 contiguous : i32[3]\n%2 = const 0 : i32[]\n"
                     "%3 = add %0, %2 : i32[]\n%4 = add %3, %1 : i32[3]\n%5 = cast %1 : i32[3]\n%6 = mul %4, %5 : i32[3]\n"
                     "return %6\n",
                     "%0, %1");
  EXPECT_TRUE(fold(h));
  EXPECT_EQ(h.node(4).operands, (std::vector<ValueId>{0, 1}));
  EXPECT_EQ(h.node(6).operands, (std::vector<ValueId>{4, 1}));
}

TEST(Cse, MergesCommutedOperandsButNotSub) {
  Graph g = parse_ok("%0 = param 0 contiguous : f32[4]\n%1 = param 1 contiguous : f32[4]\n"
                     "%2 = add %0, %1 : f32[4]\n%3 = add %1, %0 : f32[4]\n%4 = sub %0, %1 : f32[4]\n"
                     "%5 = sub %1, %0 : f32[4]\n%6 = mul %3, %5 : f32[4]\n%7 = mul %2, %4 : f32[4]\nreturn %6, %7\n",
                     "%0, %1");
  EXPECT_TRUE(cse(g));
  EXPECT_EQ(g.node(6).operands, (std::vector<ValueId>{2, 5}));
  EXPECT_EQ(g.node(7).operands, (std::vector<ValueId>{2, 4}));
  EXPECT_FALSE(cse(g));
}

TEST(Cse, ConstsMergeOnlyWithIdenticalBits) {
  Graph g = parse_ok("%0 = const 0.0 : f64[]\n%1 = const -0.0 : f64[]\n%2 = const 0.0 : f64[]\n"
                     "%3 = const nan : f64[]\n%4 = const nan(0x7ff8000000000001) : f64[]\n%5 = const 0.0 : f32[]\n"
                     "return %0, %1, %2, %3, %4, %5\n");
  EXPECT_TRUE(cse(g));
  EXPECT_EQ(g.results, (std::vector<ValueId>{0, 1, 0, 3, 4, 5}));
}

TEST(Cse, ParamsNeverMerge) {
  Graph g = parse_ok("%0 = param 0 contiguous : f32[4]\n%1 = param 1 contiguous : f32[4]\nreturn %0, %1\n", "%0, %1");
  EXPECT_FALSE(cse(g));
}

TEST(Dce, RemovesDeadAndRenumbers) {
  Graph g = parse_ok("%0 = param 0 contiguous : f32[4]\n%1 = const 2.0 : f32[]\n%2 = param 1 contiguous : f32[4]\n"
                     "%3 = exp %0 : f32[4]\n%4 = mul %0, %1 : f32[4]\nreturn %4\n",
                     "%0, %2");
  EXPECT_TRUE(dce(g));
  EXPECT_EQ(print(g),
            "func @f(%0, %2) {\n"
            "  %0 = param 0 contiguous : f32[4]\n"
            "  %1 = const 2.0 : f32[]\n"
            "  %2 = param 1 contiguous : f32[4]\n"
            "  %3 = mul %0, %1 : f32[4]\n"
            "  return %3\n"
            "}\n");
  EXPECT_FALSE(dce(g));
}

TEST(Dce, EmptyResultsKeepOnlyParams) {
  Graph g = parse_ok("%0 = const 2.0 : f32[]\n%1 = param 0 contiguous : f32[4]\n%2 = neg %1 : f32[4]\nreturn\n", "%1");
  EXPECT_TRUE(dce(g));
  EXPECT_EQ(g.size(), 1);
  EXPECT_EQ(g.params, (std::vector<ValueId>{0}));
}

// matvec_to_reduce: the rewritten form, or "" when the graph is left alone.
std::string matvec(const std::string& body, const std::string& params) {
  Graph g = parse_ok(body, params);
  bool changed = matvec_to_reduce(g);
  EXPECT_TRUE(verify(g).ok()) << print(g);
  return changed ? print(g) : "";
}

TEST(Matvec, ComputedMatrixTimesColumnBecomesRowSum) {
  EXPECT_EQ(matvec("%0 = param 0 contiguous : f64[8,5]\n%1 = param 1 contiguous : f64[5,1]\n"
                   "%2 = exp %0 : f64[8,5]\n%3 = matmul %2, %1 : f64[8,1]\n%4 = neg %3 : f64[8,1]\nreturn %4\n",
                   "%0, %1"),
            "func @f(%0, %1) {\n"
            "  %0 = param 0 contiguous : f64[8,5]\n"
            "  %1 = param 1 contiguous : f64[5,1]\n"
            "  %2 = exp %0 : f64[8,5]\n"
            "  %3 = transpose %1 {ints = [1, 0], fval = 0.0} : f64[1,5]\n"
            "  %4 = mul %2, %3 : f64[8,5]\n"
            "  %5 = reduce_sum %4 {ints = [1], fval = 0.0} : f64[8,1]\n"
            "  %6 = neg %5 : f64[8,1]\n"
            "  return %6\n"
            "}\n");
}

TEST(Matvec, RowTimesComputedMatrixBecomesColumnSum) {
  std::string out = matvec("%0 = param 0 contiguous : f32[5,8]\n%1 = param 1 contiguous : f32[1,5]\n"
                           "%2 = mul %0, %0 : f32[5,8]\n%3 = matmul %1, %2 : f32[1,8]\nreturn %3\n",
                           "%0, %1");
  EXPECT_NE(out.find("transpose %1 {ints = [1, 0], fval = 0.0} : f32[5,1]"), std::string::npos) << out;
  EXPECT_NE(out.find("reduce_sum %4 {ints = [0], fval = 0.0} : f32[1,8]"), std::string::npos) << out;
  EXPECT_EQ(out.find("matmul"), std::string::npos) << out;
}

TEST(Matvec, InnerProductOfInputsBecomesASum) {
  EXPECT_EQ(matvec("%0 = param 0 contiguous : f32[1,5]\n%1 = param 1 contiguous : f32[5,1]\n"
                   "%2 = matmul %0, %1 : f32[1,1]\nreturn %2\n", "%0, %1"),
            "func @f(%0, %1) {\n"
            "  %0 = param 0 contiguous : f32[1,5]\n"
            "  %1 = param 1 contiguous : f32[5,1]\n"
            "  %2 = transpose %1 {ints = [1, 0], fval = 0.0} : f32[1,5]\n"
            "  %3 = mul %0, %2 : f32[1,5]\n"
            "  %4 = reduce_sum %3 {ints = [1], fval = 0.0} : f32[1,1]\n"
            "  return %4\n"
            "}\n");
}

TEST(Matvec, LeavesBlasShapedProductsAlone) {
  // An input matrix (BLAS reads it as fast as a reduction would), a matrix result (N > 1),
  // integer dtypes, batched products, and a computed vector times a computed matrix.
  EXPECT_EQ(matvec("%0 = param 0 contiguous : f64[8,5]\n%1 = param 1 contiguous : f64[5,1]\n"
                   "%2 = matmul %0, %1 : f64[8,1]\nreturn %2\n", "%0, %1"), "");
  EXPECT_EQ(matvec("%0 = param 0 contiguous : f64[8,5]\n%1 = param 1 contiguous : f64[5,2]\n"
                   "%2 = exp %0 : f64[8,5]\n%3 = matmul %2, %1 : f64[8,2]\nreturn %3\n", "%0, %1"), "");
  EXPECT_EQ(matvec("%0 = param 0 contiguous : i64[8,5]\n%1 = param 1 contiguous : i64[5,1]\n"
                   "%2 = add %0, %0 : i64[8,5]\n%3 = matmul %2, %1 : i64[8,1]\nreturn %3\n", "%0, %1"), "");
  EXPECT_EQ(matvec("%0 = param 0 contiguous : f64[2,8,5]\n%1 = param 1 contiguous : f64[2,5,1]\n"
                   "%2 = exp %0 : f64[2,8,5]\n%3 = matmul %2, %1 : f64[2,8,1]\nreturn %3\n", "%0, %1"), "");
  EXPECT_EQ(matvec("%0 = param 0 contiguous : f64[8,5]\n%1 = param 1 contiguous : f64[5,1]\n"
                   "%2 = exp %0 : f64[8,5]\n%3 = exp %1 : f64[5,1]\n%4 = matmul %2, %3 : f64[8,1]\nreturn %4\n",
                   "%0, %1"), "");
}

// split_reductions at a threshold of 1024 elements: the rewritten form, or "" when left alone.
std::string split(const std::string& body) {
  Graph g = parse_ok(body, "%0");
  bool changed = split_reductions(g, 1024);
  Status st = verify(g);
  EXPECT_TRUE(st.ok()) << st.message() << "\n" << print(g);
  return changed ? print(g) : "";
}

TEST(SplitReduce, LongVectorBecomesChunkSumsThenTheirSum) {
  EXPECT_EQ(split("%0 = param 0 contiguous : f32[1048576]\n%1 = exp %0 : f32[1048576]\n"
                  "%2 = reduce_sum %1 {ints = [0], fval = 0.0} : f32[1]\n%3 = reshape %2 : f32[]\nreturn %3\n"),
            "func @f(%0) {\n"
            "  %0 = param 0 contiguous : f32[1048576]\n"
            "  %1 = exp %0 : f32[1048576]\n"
            "  %2 = reshape %1 : f32[64,16384]\n"
            "  %3 = reduce_sum %2 {ints = [1], fval = 0.0} : f32[64,1]\n"
            "  %4 = reshape %3 : f32[64]\n"
            "  %5 = reduce_sum %4 {ints = [0], fval = 0.0} : f32[1]\n"
            "  %6 = reshape %5 : f32[]\n"
            "  return %6\n"
            "}\n");
}

TEST(SplitReduce, MatrixReducesItsRowsFirst) {
  std::string out = split("%0 = param 0 contiguous : f64[4096,256]\n"
                          "%1 = reduce_max %0 {ints = [0, 1], fval = 0.0} : f64[1,1]\nreturn %1\n");
  EXPECT_NE(out.find("%1 = reduce_max %0 {ints = [1], fval = 0.0} : f64[4096,1]"), std::string::npos) << out;
  EXPECT_NE(out.find("%2 = reshape %1 : f64[4096]"), std::string::npos) << out;
  EXPECT_NE(out.find("%3 = reduce_max %2 {ints = [0], fval = 0.0} : f64[1]"), std::string::npos) << out;
  EXPECT_NE(out.find("%4 = reshape %3 : f64[1,1]"), std::string::npos) << out;
}

TEST(SplitReduce, ZeroTieCheckMarksBothStages) {
  // A checked float max (fval 1, ops.def): each chunk row is checked, and the 1-d second stage
  // checks the partials again and keeps a partial that is the mark (fval 2).
  std::string out = split("%0 = param 0 contiguous : f64[4096,256]\n"
                          "%1 = reduce_max %0 {ints = [0, 1], fval = 1.0} : f64[1,1]\nreturn %1\n");
  EXPECT_NE(out.find("%1 = reduce_max %0 {ints = [1], fval = 1.0} : f64[4096,1]"), std::string::npos) << out;
  EXPECT_NE(out.find("%3 = reduce_max %2 {ints = [0], fval = 2.0} : f64[1]"), std::string::npos) << out;
  // A second stage along axis 0 of partial rows would not see a tie between two chunks.
  EXPECT_EQ(split("%0 = param 0 contiguous : f32[4096,1,256]\n"
                  "%1 = reduce_min %0 {ints = [0, 2], fval = 1.0} : f32[1,1,1]\nreturn %1\n"), "");
  EXPECT_NE(split("%0 = param 0 contiguous : f32[4096,1,256]\n"
                  "%1 = reduce_min %0 {ints = [0, 2], fval = 0.0} : f32[1,1,1]\nreturn %1\n"), "");
}

TEST(SplitReduce, TallMatrixColumnsInChunksOfRows) {
  // axis 0 of [n, 3]: rows in 64 chunks (each chunk's start stays 16-element aligned), then
  // the 64 partial rows.
  std::string out = split("%0 = param 0 contiguous : i64[65536,3]\n"
                          "%1 = reduce_sum %0 {ints = [0], fval = 0.0} : i64[1,3]\nreturn %1\n");
  EXPECT_NE(out.find("%1 = reshape %0 : i64[64,1024,3]"), std::string::npos) << out;
  EXPECT_NE(out.find("%2 = reduce_sum %1 {ints = [1], fval = 0.0} : i64[64,1,3]"), std::string::npos) << out;
  EXPECT_NE(out.find("%3 = reduce_sum %2 {ints = [0], fval = 0.0} : i64[1,1,3]"), std::string::npos) << out;
  EXPECT_NE(out.find("%4 = reshape %3 : i64[1,3]"), std::string::npos) << out;
}

TEST(SplitReduce, LeadingUnitAxesAreDropped) {
  // A [1, n] row reduced along axis 1 (an inner product after matvec_to_reduce) splits as [n].
  std::string out = split("%0 = param 0 contiguous : f32[1,65536]\n"
                          "%1 = reduce_sum %0 {ints = [1], fval = 0.0} : f32[1,1]\nreturn %1\n");
  EXPECT_NE(out.find("%1 = reshape %0 : f32[64,1024]"), std::string::npos) << out;
  EXPECT_NE(out.find("%2 = reduce_sum %1 {ints = [1], fval = 0.0} : f32[64,1]"), std::string::npos) << out;
  EXPECT_NE(out.find("%4 = reduce_sum %3 {ints = [0], fval = 0.0} : f32[1]"), std::string::npos) << out;
  EXPECT_NE(out.find("%5 = reshape %4 : f32[1,1]"), std::string::npos) << out;
}

TEST(SplitReduce, LeavesParallelSmallAndIndivisibleReductionsAlone) {
  // Axis 0 kept (the backend's rows), below the threshold, a prime length, a kept middle axis.
  EXPECT_EQ(split("%0 = param 0 contiguous : f32[4096,256]\n%1 = reduce_sum %0 {ints = [1], fval = 0.0} : f32[4096,1]\nreturn %1\n"), "");
  EXPECT_EQ(split("%0 = param 0 contiguous : f32[1000]\n%1 = reduce_sum %0 {ints = [0], fval = 0.0} : f32[1]\nreturn %1\n"), "");
  EXPECT_EQ(split("%0 = param 0 contiguous : f32[1000003]\n%1 = reduce_sum %0 {ints = [0], fval = 0.0} : f32[1]\nreturn %1\n"), "");
  EXPECT_EQ(split("%0 = param 0 contiguous : f32[4096,8,64]\n"
                  "%1 = reduce_sum %0 {ints = [0, 2], fval = 0.0} : f32[1,8,1]\nreturn %1\n"), "");
}

// reduce_through_transpose: the rewritten form, or "" when left alone.
std::string untranspose(const std::string& body) {
  Graph g = parse_ok(body, "%0, %1");
  bool changed = reduce_through_transpose(g);
  Status st = verify(g);
  EXPECT_TRUE(st.ok()) << st.message() << "\n" << print(g);
  return changed ? print(g) : "";
}

TEST(TransposeReduce, ColumnSumsOfATransposeReduceRowsOfTheArray) {
  // (X.T * w).sum(axis=1): X read row by row, w (along X.T's columns) as a [k, 1] view.
  std::string out = untranspose("%0 = param 0 contiguous : f32[64,32]\n%1 = param 1 contiguous : f32[64]\n"
                                "%2 = transpose %0 {ints = [1, 0], fval = 0.0} : f32[32,64]\n"
                                "%3 = mul %2, %1 : f32[32,64]\n"
                                "%4 = reduce_sum %3 {ints = [1], fval = 0.0} : f32[32,1]\nreturn %4\n");
  EXPECT_NE(out.find("%4 = reshape %1 : f32[1,64]"), std::string::npos) << out;
  EXPECT_NE(out.find("%5 = transpose %4 {ints = [1, 0], fval = 0.0} : f32[64,1]"), std::string::npos) << out;
  EXPECT_NE(out.find("%6 = mul %0, %5 : f32[64,32]"), std::string::npos) << out;
  EXPECT_NE(out.find("%7 = reduce_sum %6 {ints = [0], fval = 0.0} : f32[1,32]"), std::string::npos) << out;
  EXPECT_NE(out.find("%8 = reshape %7 : f32[32,1]\n  return %8"), std::string::npos) << out;
  // A reduction of the transpose itself.
  out = untranspose("%0 = param 0 contiguous : f64[8,16]\n%1 = param 1 contiguous : f64[]\n"
                    "%2 = transpose %0 {ints = [1, 0], fval = 0.0} : f64[16,8]\n"
                    "%3 = reduce_max %2 {ints = [1], fval = 0.0} : f64[16,1]\nreturn %3\n");
  EXPECT_NE(out.find("reduce_max %0 {ints = [0], fval = 0.0} : f64[1,16]"), std::string::npos) << out;
}

TEST(TransposeReduce, LeavesStraightOperandsSharedValuesAndReorderedResultsAlone) {
  // X.T - Y (Y full shape, read straight) would read Y transposed.
  EXPECT_EQ(untranspose("%0 = param 0 contiguous : f32[64,32]\n%1 = param 1 contiguous : f32[32,64]\n"
                        "%2 = transpose %0 {ints = [1, 0], fval = 0.0} : f32[32,64]\n%3 = sub %2, %1 : f32[32,64]\n"
                        "%4 = reduce_sum %3 {ints = [1], fval = 0.0} : f32[32,1]\nreturn %4\n"), "");
  // The product is also a result: it would be computed twice.
  EXPECT_EQ(untranspose("%0 = param 0 contiguous : f32[64,32]\n%1 = param 1 contiguous : f32[]\n"
                        "%2 = transpose %0 {ints = [1, 0], fval = 0.0} : f32[32,64]\n%3 = mul %2, %1 : f32[32,64]\n"
                        "%4 = reduce_sum %3 {ints = [1], fval = 0.0} : f32[32,1]\nreturn %4, %3\n"), "");
  // Kept axes 0 and 2 of a [2,1,0] transpose would come out reversed: a transpose, not a reshape.
  EXPECT_EQ(untranspose("%0 = param 0 contiguous : f32[4,5,6]\n%1 = param 1 contiguous : f32[]\n"
                        "%2 = transpose %0 {ints = [2, 1, 0], fval = 0.0} : f32[6,5,4]\n"
                        "%3 = reduce_sum %2 {ints = [1], fval = 0.0} : f32[6,1,4]\nreturn %3\n"), "");
}

TEST(Pipeline, FoldsMergesAndCleansUp) {
  Graph g = parse_ok("%0 = param 0 contiguous : f32[4]\n%1 = const 1.0 : f32[]\n%2 = const 2.0 : f32[]\n"
                     "%3 = add %1, %2 : f32[]\n%4 = const 3.0 : f32[]\n%5 = mul %0, %3 : f32[4]\n"
                     "%6 = mul %4, %0 : f32[4]\n%7 = add %5, %6 : f32[4]\nreturn %7\n",
                     "%0");
  ASSERT_TRUE(run_pipeline(g).ok());
  EXPECT_EQ(print(g),
            "func @f(%0) {\n"
            "  %0 = param 0 contiguous : f32[4]\n"
            "  %1 = const 3.0 : f32[]\n"
            "  %2 = mul %0, %1 : f32[4]\n"
            "  %3 = add %2, %2 : f32[4]\n"
            "  return %3\n"
            "}\n");
}

TEST(Pipeline, RejectsInvalidInputWhenVerifying) {
  setenv("TRACEJIT_VERIFY", "1", 1);
  Graph g;
  g.add_const_float(DType::F32, 1.0);
  g.add_op(Op::Neg, Type::scalar(DType::F64), {0});
  g.results = {1};
  Status st = run_pipeline(g);
  unsetenv("TRACEJIT_VERIFY");
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("before the pipeline"), std::string::npos) << st.message();
}

TEST(Pipeline, LogsEachPass) {
  setenv("TRACEJIT_LOG", "jit,ir", 1);
  Graph g = parse_ok("%0 = const 1 : i32[]\n%1 = neg %0 : i32[]\nreturn %1\n");
  testing::internal::CaptureStderr();
  Status st = run_pipeline(g);
  std::string log = testing::internal::GetCapturedStderr();
  unsetenv("TRACEJIT_LOG");
  ASSERT_TRUE(st.ok());
  EXPECT_NE(log.find("IR after fold ["), std::string::npos) << log;
  EXPECT_NE(log.find("IR after cse ["), std::string::npos) << log;
  EXPECT_NE(log.find("(unchanged)"), std::string::npos) << log;
  EXPECT_NE(log.find("%0 = const -1 : i32[]"), std::string::npos) << log;
}

}  // namespace
}  // namespace tracejit::ir
