// Parser fuzzing: seeded random mutations of valid IR never crash, and whatever parses and
// verifies also prints, round-trips and survives the pipeline.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <random>

#include "ir/parser.h"
#include "ir/pipeline.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace tracejit::ir {
namespace {

const char* const kSeeds[] = {
    R"(func @f(%0, %1) {
  %0 = param 0 contiguous : f32[4,s0]  loc("x.py":3)
  %1 = param 1 scalar : f32[]
  %2 = const 2.0 : f32[]
  %3 = mul %0, %2 : f32[4,s0]  loc("x.py":4)
  %4 = gt %3, %1 : bool[4,s0]
  %5 = where %4, %3, %1 : f32[4,s0]
  return %5, %3
}
)",
    R"(func @"g h"() {
  %0 = const 127 : i8[]
  %1 = const 1 : i8[]
  %2 = add %0, %1 : i8[]
  %3 = const -nan : f64[]
  %4 = const nan(0x7ff4000000000001) : f64[]
  %5 = cast %2 : f64[]
  %6 = maximum %5, %3 : f64[]
  %7 = const true : bool[]
  %8 = where %7, %6, %4 : f64[]
  %9 = cast %8 : u8[]
  %10 = not %9 : u8[]
  return %10, %6
}
)",
    R"(func @k(%0) {
  %0 = param 0 strided : i64[s1,1]
  %1 = const 18446744073709551615 : u64[]
  %2 = cast %1 : i64[]
  %3 = mul %0, %2 : i64[s1,1]
  %4 = mul %2, %0 : i64[s1,1]
  %5 = sub %3, %4 : i64[s1,1]
  %6 = add {ints = [], fval = 0.0} : f32[]
  return %5
}
)",
};

const char* const kFragments[] = {"%",     "@",     "{",    "}",      "[",   "]",    "(",       ")",
                                  ",",     ":",     "=",    "\"",     "\\",  " ",    "\n",      "0",
                                  "9",     "-",     ".",    "e",      "s",   "nan",  "-inf",    "param",
                                  "const", "add",   "where", "cast",  "f32", "bool", "u64",     "99999999999999999999",
                                  "%1",    "%100",  "-1",   "loc(\"a\":1)", "//", "return", "ints", "{ints = [3], fval = nan}"};

std::string mutate(std::string s, std::mt19937_64& rng) {
  auto pick = [&](size_t n) { return n == 0 ? size_t{0} : static_cast<size_t>(rng() % n); };
  int count = 1 + static_cast<int>(rng() % 3);
  for (int k = 0; k < count; ++k) {
    size_t at = pick(s.size() + 1);
    switch (rng() % 5) {
      case 0: s.erase(std::min(at, s.size()), 1 + pick(6)); break;
      case 1: s.insert(at, kFragments[pick(std::size(kFragments))]); break;
      case 2:  // change one digit: renumbers values, indices, sizes, constants
        for (size_t i = at; i < s.size(); ++i)
          if (std::isdigit(static_cast<unsigned char>(s[i]))) {
            s[i] = static_cast<char>('0' + rng() % 10);
            break;
          }
        break;
      case 3: {  // duplicate a line
        size_t b = s.rfind('\n', at == 0 ? 0 : at - 1);
        b = b == std::string::npos ? 0 : b + 1;
        size_t e = s.find('\n', b);
        if (e != std::string::npos) s.insert(b, s.substr(b, e - b + 1));
        break;
      }
      default:  // random byte
        s.insert(at, 1, static_cast<char>(rng() % 256));
    }
  }
  return s;
}

TEST(ParserFuzz, MutationsNeverCrash) {
  // TRACEJIT_FUZZ_ITERS runs a longer campaign by hand; the default keeps CI fast.
  const char* env = std::getenv("TRACEJIT_FUZZ_ITERS");
  const int iters = env ? std::max(1, std::atoi(env)) : 4000;
  std::mt19937_64 rng(20240611);
  int parsed = 0, verified = 0;
  for (int iter = 0; iter < iters; ++iter) {
    std::string text = mutate(kSeeds[iter % std::size(kSeeds)], rng);
    Expected<Graph> g = parse(text);
    if (!g.ok()) {
      EXPECT_FALSE(g.message().empty());
      continue;
    }
    ++parsed;
    std::string printed = print(*g);  // must not crash, even on a graph the verifier rejects
    Status st = verify(*g);
    if (!st.ok()) {
      EXPECT_NE(st.message().find("verifier:"), std::string::npos) << st.message();
      continue;
    }
    ++verified;
    Expected<Graph> again = parse(printed);
    ASSERT_TRUE(again.ok()) << again.message() << "\n" << printed;
    EXPECT_EQ(print(*again), printed);
    Status piped = run_pipeline(*g);
    ASSERT_TRUE(piped.ok()) << piped.message() << "\ninput:\n" << text;
    Status after = verify(*g);
    ASSERT_TRUE(after.ok()) << after.message();
  }
  // The mutations must exercise both paths, or the test proves nothing.
  EXPECT_GT(parsed, 100);
  EXPECT_GT(verified, 50);
}

}  // namespace
}  // namespace tracejit::ir
