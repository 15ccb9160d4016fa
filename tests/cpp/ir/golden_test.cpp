// Golden IR tests: every `// -----` case of tests/ir/*.ir, run as its own test, MLIR-lit style.
//
// Each file starts with `// RUN: <mode>`, where mode is `roundtrip`, `verify-error`,
// `parse-error`, or a comma list of passes (`fold`, `cse`, `dce`, `pipeline`). The output (the
// printed IR, or the error message) is matched by `// CHECK:` (substring on some later line),
// `// CHECK-NEXT:` (on the very next line) and `// CHECK-NOT:` (on no line before the next match).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "ir/parser.h"
#include "ir/passes/cse.h"
#include "ir/passes/dce.h"
#include "ir/passes/fold.h"
#include "ir/pipeline.h"
#include "ir/printer.h"
#include "ir/verifier.h"

namespace tracejit::ir {
namespace {

struct GoldenCase {
  std::string name;  // file stem + case index, a valid test name
  std::string file;
  int line = 0;      // first line of the case in its file
  std::string run;
  std::string text;
};

std::vector<std::string> split_lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

std::string trim(const std::string& s) {
  size_t b = s.find_first_not_of(" \t\r");
  size_t e = s.find_last_not_of(" \t\r");
  return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<GoldenCase> collect_cases() {
  std::vector<GoldenCase> cases;
  std::vector<std::filesystem::path> files;
  for (const auto& e : std::filesystem::directory_iterator(TRACEJIT_IR_TEST_DIR))
    if (e.path().extension() == ".ir") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& path : files) {
    std::ifstream in(path);
    std::stringstream buf;
    buf << in.rdbuf();
    std::vector<std::string> lines = split_lines(buf.str());
    std::string run;
    if (!lines.empty() && lines[0].rfind("// RUN:", 0) == 0) run = trim(lines[0].substr(7));
    GoldenCase current{"", path.string(), 1, run, ""};
    int index = 0;
    auto flush = [&] {
      if (trim(current.text).empty()) return;
      current.name = path.stem().string() + "_" + std::to_string(index++);
      // Pad with blank lines so parse errors report the line:column of the .ir file itself.
      current.text = std::string(static_cast<size_t>(current.line - 1), '\n') + current.text;
      cases.push_back(current);
    };
    for (size_t i = 0; i < lines.size(); ++i) {
      if (trim(lines[i]) == "// -----") {
        flush();
        current.text.clear();
        current.line = static_cast<int>(i) + 2;
        continue;
      }
      current.text += lines[i] + "\n";
    }
    flush();
  }
  return cases;
}

// FileCheck, simplified: substring matches, in order.
testing::AssertionResult match_checks(const std::string& text, const std::string& output) {
  std::vector<std::string> out = split_lines(output);
  size_t pos = 0;
  std::vector<std::string> nots;
  int checks = 0;
  auto check_nots = [&](size_t from, size_t to) -> std::optional<std::string> {
    for (const std::string& n : nots)
      for (size_t l = from; l < to && l < out.size(); ++l)
        if (out[l].find(n) != std::string::npos) return "CHECK-NOT: '" + n + "' found on line: " + out[l];
    nots.clear();
    return std::nullopt;
  };
  for (const std::string& raw : split_lines(text)) {
    std::string l = trim(raw);
    auto directive = [&](const char* d) { return l.rfind(d, 0) == 0 ? trim(l.substr(std::strlen(d))) : std::string("\x01"); };
    std::string pat;
    if ((pat = directive("// CHECK-NOT:")) != "\x01") {
      nots.push_back(pat);
      ++checks;
    } else if ((pat = directive("// CHECK-NEXT:")) != "\x01") {
      ++checks;
      if (pos >= out.size() || out[pos].find(pat) == std::string::npos)
        return testing::AssertionFailure() << "CHECK-NEXT: '" << pat << "' not on output line " << pos + 1
                                           << "\noutput:\n" << output;
      nots.clear();
      ++pos;
    } else if ((pat = directive("// CHECK:")) != "\x01") {
      ++checks;
      size_t found = pos;
      while (found < out.size() && out[found].find(pat) == std::string::npos) ++found;
      if (found >= out.size())
        return testing::AssertionFailure() << "CHECK: '" << pat << "' not found\noutput:\n" << output;
      if (auto err = check_nots(pos, found)) return testing::AssertionFailure() << *err << "\noutput:\n" << output;
      pos = found + 1;
    }
  }
  if (auto err = check_nots(pos, out.size())) return testing::AssertionFailure() << *err << "\noutput:\n" << output;
  if (checks == 0) return testing::AssertionFailure() << "case has no CHECK lines";
  return testing::AssertionSuccess();
}

// Keeps gtest from dumping the struct's bytes when a case fails.
void PrintTo(const GoldenCase& c, std::ostream* os) { *os << c.file << ":" << c.line; }

class Golden : public testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, Case) {
  const GoldenCase& c = GetParam();
  SCOPED_TRACE(c.file + ":" + std::to_string(c.line));
  ASSERT_FALSE(c.run.empty()) << "file has no // RUN: line";
  Expected<Graph> g = parse(c.text);
  std::string output;
  if (c.run == "parse-error") {
    ASSERT_FALSE(g.ok()) << "expected a parse error";
    output = g.message();
  } else {
    ASSERT_TRUE(g.ok()) << g.message();
    Status st = verify(*g);
    if (c.run == "verify-error") {
      ASSERT_FALSE(st.ok()) << "expected a verifier error for:\n" << print(*g);
      output = st.message();
    } else {
      ASSERT_TRUE(st.ok()) << st.message();
      std::stringstream passes(c.run);
      for (std::string pass; std::getline(passes, pass, ',');) {
        pass = trim(pass);
        if (pass == "roundtrip") continue;
        if (pass == "fold") fold(*g);
        else if (pass == "cse") cse(*g);
        else if (pass == "dce") dce(*g);
        else if (pass == "pipeline") ASSERT_TRUE(run_pipeline(*g).ok());
        else FAIL() << "unknown pass '" << pass << "'";
        Status after = verify(*g);
        ASSERT_TRUE(after.ok()) << "after " << pass << ": " << after.message();
      }
      output = print(*g);
      Expected<Graph> again = parse(output);
      ASSERT_TRUE(again.ok()) << again.message();
      EXPECT_EQ(print(*again), output) << "print/parse round trip differs";
    }
  }
  EXPECT_TRUE(match_checks(c.text, output));
}

INSTANTIATE_TEST_SUITE_P(IrFiles, Golden, testing::ValuesIn(collect_cases()),
                         [](const testing::TestParamInfo<GoldenCase>& info) { return info.param.name; });

}  // namespace
}  // namespace tracejit::ir
