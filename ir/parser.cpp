// Text -> Graph: a hand-written lexer and recursive-descent parser for the grammar in parser.h.
#include "ir/parser.h"

#include <fmt/format.h>

#include <bit>
#include <charconv>
#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace tracejit::ir {
namespace {

enum class Tok { Value, At, Word, String, Punct, End };

struct Token {
  Tok kind = Tok::End;
  std::string text;  // Word/String contents (unescaped), Punct char, At name
  int64_t value = 0;  // Value: the N of %N
  int line = 1, col = 1;
};

bool is_word_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '+' || c == '-';
}

std::string located(int line, int col, const std::string& msg) {
  return fmt::format("{}:{}: {}", line, col, msg);
}

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Splits the whole input up front; tokens remember where they started for error messages.
class Lexer {
 public:
  explicit Lexer(std::string_view s) : s_(s) {}

  Status run(std::vector<Token>& out) {
    while (true) {
      skip_space_and_comments();
      Token t;
      t.line = line_;
      t.col = col_;
      if (pos_ >= s_.size()) {
        out.push_back(t);
        return ok_status();
      }
      char c = s_[pos_];
      if (c == '%') {
        advance();
        size_t start = pos_;
        while (pos_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[pos_]))) advance();
        std::string_view digits = s_.substr(start, pos_ - start);
        int32_t n = 0;
        auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), n);
        if (digits.empty() || ec != std::errc() || p != digits.data() + digits.size())
          return Status::error(located(t.line, t.col, "expected a value number after '%'"));
        t.kind = Tok::Value;
        t.value = n;
      } else if (c == '"') {
        t.kind = Tok::String;
        if (Status st = lex_string(t.text); !st.ok()) return st;
      } else if (c == '@') {
        advance();
        t.kind = Tok::At;
        if (pos_ < s_.size() && s_[pos_] == '"') {
          if (Status st = lex_string(t.text); !st.ok()) return st;
        } else {
          while (pos_ < s_.size() && is_word_char(s_[pos_])) t.text += advance();
          if (t.text.empty()) return Status::error(located(t.line, t.col, "expected a name after '@'"));
        }
      } else if (is_word_char(c)) {
        t.kind = Tok::Word;
        while (pos_ < s_.size() && is_word_char(s_[pos_])) t.text += advance();
      } else if (std::string_view("(){}[],:=").find(c) != std::string_view::npos) {
        t.kind = Tok::Punct;
        t.text = std::string(1, advance());
      } else {
        return Status::error(located(t.line, t.col, fmt::format("unexpected character '\\x{:02x}'",
                                                                static_cast<unsigned char>(c))));
      }
      out.push_back(std::move(t));
    }
  }

 private:
  char advance() {
    char c = s_[pos_++];
    if (c == '\n') {
      ++line_;
      col_ = 1;
    } else {
      ++col_;
    }
    return c;
  }

  void skip_space_and_comments() {
    while (pos_ < s_.size()) {
      char c = s_[pos_];
      if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
        advance();
      } else if (c == '/' && pos_ + 1 < s_.size() && s_[pos_ + 1] == '/') {
        while (pos_ < s_.size() && s_[pos_] != '\n') advance();
      } else {
        return;
      }
    }
  }

  Status lex_string(std::string& out) {
    int line = line_, col = col_;
    advance();  // opening quote
    while (true) {
      if (pos_ >= s_.size() || s_[pos_] == '\n')
        return Status::error(located(line, col, "unterminated string"));
      char c = advance();
      if (c == '"') return ok_status();
      if (c != '\\') {
        out += c;
        continue;
      }
      if (pos_ >= s_.size()) return Status::error(located(line, col, "unterminated string"));
      char e = advance();
      if (e == '"' || e == '\\') {
        out += e;
      } else if (e == 'x' && pos_ + 1 < s_.size() && hex_digit(s_[pos_]) >= 0 && hex_digit(s_[pos_ + 1]) >= 0) {
        int hi = hex_digit(advance());
        int lo = hex_digit(advance());
        out += static_cast<char>(hi * 16 + lo);
      } else {
        return Status::error(located(line_, col_ - 1, "bad escape in string"));
      }
    }
  }

  std::string_view s_;
  size_t pos_ = 0;
  int line_ = 1, col_ = 1;
};

std::optional<int64_t> parse_int(const std::string& w) {
  int64_t v = 0;
  auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
  if (ec == std::errc() && p == w.data() + w.size()) return v;
  // Unsigned 64-bit values above INT64_MAX keep their bit pattern (see printer's u64 consts).
  uint64_t u = 0;
  auto [pu, ecu] = std::from_chars(w.data(), w.data() + w.size(), u);
  if (ecu == std::errc() && pu == w.data() + w.size()) return static_cast<int64_t>(u);
  return std::nullopt;
}

std::optional<double> parse_decimal(const std::string& w) {
  if (w.empty() || w == "inf" || w == "nan" || w.find_first_of("xX") != std::string::npos) {
    return w == "inf" ? std::optional<double>(std::numeric_limits<double>::infinity()) : std::nullopt;
  }
  double v = 0;
  auto [p, ec] = std::from_chars(w.data(), w.data() + w.size(), v, std::chars_format::general);
  if (ec == std::errc() && p == w.data() + w.size()) return v;
  return std::nullopt;
}

struct PendingRef {  // a %N use, checked once every node is known
  int64_t id;
  int line, col;
};

class Parser {
 public:
  explicit Parser(std::vector<Token> toks) : t_(std::move(toks)) {}

  Expected<Graph> run() {
    if (Status st = parse_func(); !st.ok()) return st;
    if (peek().kind != Tok::End) return error_here("expected end of input after the function");
    for (const PendingRef& r : refs_)
      if (r.id >= g_.size())
        return Status::error(located(r.line, r.col, fmt::format("use of undefined value %{}", r.id)));
    return std::move(g_);
  }

 private:
  const Token& peek() const { return t_[i_]; }
  const Token& next() { return i_ + 1 < t_.size() ? t_[i_++] : t_[i_]; }
  bool at_punct(char c) const { return peek().kind == Tok::Punct && peek().text[0] == c; }
  bool at_word(std::string_view w) const { return peek().kind == Tok::Word && peek().text == w; }

  Status error_here(const std::string& msg) const {
    const Token& t = peek();
    std::string found = t.kind == Tok::End ? "end of input" : fmt::format("'{}'", describe(t));
    return Status::error(located(t.line, t.col, fmt::format("{}, found {}", msg, found)));
  }
  static std::string describe(const Token& t) {
    if (t.kind == Tok::Value) return fmt::format("%{}", t.value);
    if (t.kind == Tok::At) return "@" + t.text;
    if (t.kind == Tok::String) return "\"" + t.text + "\"";
    return t.text;
  }

  Status expect_punct(char c) {
    if (!at_punct(c)) return error_here(fmt::format("expected '{}'", c));
    next();
    return ok_status();
  }
  Status expect_word(std::string_view w) {
    if (!at_word(w)) return error_here(fmt::format("expected '{}'", w));
    next();
    return ok_status();
  }

  Status parse_value_ref(ValueId& out) {
    if (peek().kind != Tok::Value) return error_here("expected a value like %0");
    const Token& t = next();
    refs_.push_back({t.value, t.line, t.col});
    out = static_cast<ValueId>(t.value);
    return ok_status();
  }

  // value (',' value)*, only if the next token is a value.
  Status parse_value_list(std::vector<ValueId>& out) {
    if (peek().kind != Tok::Value) return ok_status();
    while (true) {
      ValueId v = kNoValue;
      if (Status st = parse_value_ref(v); !st.ok()) return st;
      out.push_back(v);
      if (!at_punct(',')) return ok_status();
      next();
    }
  }

  Status parse_int_word(int64_t& out, const char* what) {
    if (peek().kind != Tok::Word) return error_here(fmt::format("expected {}", what));
    std::optional<int64_t> v = parse_int(peek().text);
    if (!v) return error_here(fmt::format("expected {}", what));
    next();
    out = *v;
    return ok_status();
  }

  Status parse_float(double& out) {
    if (peek().kind != Tok::Word) return error_here("expected a float");
    const std::string w = peek().text;
    if (w == "nan" || w == "-nan") {
      next();
      if (w == "nan" && at_punct('(')) {  // nan(0x<64-bit pattern>)
        next();
        const Token& h = peek();
        uint64_t bits = 0;
        bool ok = h.kind == Tok::Word && h.text.size() > 2 && h.text.size() <= 18 && h.text[0] == '0' &&
                  (h.text[1] == 'x' || h.text[1] == 'X');
        for (size_t k = 2; ok && k < h.text.size(); ++k) {
          int d = hex_digit(h.text[k]);
          ok = d >= 0;
          bits = bits * 16 + static_cast<uint64_t>(d < 0 ? 0 : d);
        }
        if (!ok) return error_here("expected a 64-bit hex NaN pattern like 0x7ff4000000000000");
        next();
        out = std::bit_cast<double>(bits);
        if (!std::isnan(out)) return error_here("nan(...) bit pattern is not a NaN");
        return expect_punct(')');
      }
      out = std::bit_cast<double>(w == "nan" ? 0x7ff8000000000000ull : 0xfff8000000000000ull);
      return ok_status();
    }
    if (w == "-inf") {
      next();
      out = -std::numeric_limits<double>::infinity();
      return ok_status();
    }
    std::optional<double> v = parse_decimal(w);
    if (!v) return error_here("expected a float");
    next();
    out = *v;
    return ok_status();
  }

  Status parse_type(Type& out) {
    if (peek().kind != Tok::Word) return error_here("expected a type like f32[4]");
    std::optional<DType> d = dtype_from_name(peek().text);
    if (!d) return error_here("unknown dtype");
    next();
    out.dtype = *d;
    out.shape.clear();
    if (Status st = expect_punct('['); !st.ok()) return st;
    while (!at_punct(']')) {
      if (!out.shape.empty())
        if (Status st = expect_punct(','); !st.ok()) return st;
      if (peek().kind != Tok::Word) return error_here("expected a dimension (N or sN)");
      const std::string& w = peek().text;
      bool sym = !w.empty() && w[0] == 's';
      std::optional<int64_t> n = parse_int(sym ? w.substr(1) : w);
      bool digits_only = w.find_first_not_of("0123456789", sym ? 1 : 0) == std::string::npos;
      if (!n || !digits_only || *n < 0 || (sym && *n > std::numeric_limits<int32_t>::max()))
        return error_here("expected a dimension (N or sN)");
      next();
      out.shape.push_back(sym ? Dim::symbol(static_cast<int32_t>(*n)) : Dim::fixed(*n));
    }
    return expect_punct(']');
  }

  Status parse_attrs(Node& n) {
    if (Status st = expect_punct('{'); !st.ok()) return st;
    if (Status st = expect_word("ints"); !st.ok()) return st;
    if (Status st = expect_punct('='); !st.ok()) return st;
    if (Status st = expect_punct('['); !st.ok()) return st;
    while (!at_punct(']')) {
      if (!n.ints.empty())
        if (Status st = expect_punct(','); !st.ok()) return st;
      int64_t v = 0;
      if (Status st = parse_int_word(v, "an integer"); !st.ok()) return st;
      n.ints.push_back(v);
    }
    next();
    if (Status st = expect_punct(','); !st.ok()) return st;
    if (Status st = expect_word("fval"); !st.ok()) return st;
    if (Status st = expect_punct('='); !st.ok()) return st;
    if (Status st = parse_float(n.fval); !st.ok()) return st;
    return expect_punct('}');
  }

  Status parse_param_body(Node& n) {
    int64_t index = 0;
    if (Status st = parse_int_word(index, "a param index"); !st.ok()) return st;
    int64_t layout = -1;
    if (at_word("contiguous")) layout = 0;
    if (at_word("strided")) layout = 1;
    if (at_word("scalar")) layout = 2;
    if (at_word("transposed")) {
      next();
      n.ints = {index, 3};
      return parse_axes(n.ints);
    }
    if (layout < 0) return error_here("expected a layout (contiguous, strided, scalar or transposed(...))");
    next();
    n.ints = {index, layout};
    return ok_status();
  }

  // "(a, b, ...)": appended to `out`.
  Status parse_axes(std::vector<int64_t>& out) {
    if (Status st = expect_punct('('); !st.ok()) return st;
    while (!at_punct(')')) {
      int64_t a = 0;
      if (Status st = parse_int_word(a, "an axis"); !st.ok()) return st;
      out.push_back(a);
      if (!at_punct(',')) break;
      next();
    }
    return expect_punct(')');
  }

  // "return %a, %b transposed(1, 0), ...".
  Status parse_results() {
    if (peek().kind != Tok::Value) return ok_status();
    while (true) {
      ValueId v = kNoValue;
      if (Status st = parse_value_ref(v); !st.ok()) return st;
      g_.results.push_back(v);
      if (at_word("transposed")) {
        next();
        g_.result_axes.resize(g_.results.size());
        if (Status st = parse_axes(g_.result_axes.back()); !st.ok()) return st;
      }
      if (!at_punct(',')) break;
      next();
    }
    if (!g_.result_axes.empty()) g_.result_axes.resize(g_.results.size());
    return ok_status();
  }

  // The constant's spelling depends on its dtype, which comes after it: read it now, decode it
  // once the type is known.
  Status decode_const(Node& n, const Token& v) {
    auto fail = [&](const std::string& msg) {
      return Status::error(located(v.line, v.col, fmt::format("{} '{}'", msg, describe(v))));
    };
    if (v.kind != Tok::Word) return fail("expected a constant value, found");
    if (is_float(n.type.dtype)) {
      if (v.text == "nan" || v.text == "-nan" || v.text == "-inf") return ok_status();  // read earlier
      std::optional<double> d = parse_decimal(v.text);
      if (!d) return fail("bad float constant");
      n.fval = *d;
      return ok_status();
    }
    if (is_bool(n.type.dtype)) {
      if (v.text != "true" && v.text != "false") return fail("bool constant must be true or false, not");
      n.ints = {v.text == "true" ? 1 : 0};
      return ok_status();
    }
    std::optional<int64_t> i = parse_int(v.text);
    if (!i) return fail("bad integer constant");
    n.ints = {*i};
    return ok_status();
  }

  Status parse_node(int index) {
    const Token& def = peek();
    if (def.value != index)
      return error_here(fmt::format("expected %{} (values are numbered in order)", index));
    next();
    if (Status st = expect_punct('='); !st.ok()) return st;
    if (peek().kind != Tok::Word) return error_here("expected an op name");
    std::optional<Op> op = op_from_name(peek().text);
    if (!op) return error_here("unknown op");
    next();
    Node n;
    n.op = *op;
    bool generic = peek().kind == Tok::Value || at_punct('{') || (*op != Op::Param && *op != Op::Const);
    Token const_tok;
    bool has_const = false;
    if (generic) {
      if (Status st = parse_value_list(n.operands); !st.ok()) return st;
      if (at_punct('{'))
        if (Status st = parse_attrs(n); !st.ok()) return st;
    } else if (*op == Op::Param) {
      if (Status st = parse_param_body(n); !st.ok()) return st;
    } else {
      const_tok = peek();
      has_const = true;
      if (const_tok.kind != Tok::Word) return error_here("expected a constant value");
      // Special floats may span tokens (nan(0x...)); read them now in float form.
      if (const_tok.text == "nan" || const_tok.text == "-nan" || const_tok.text == "-inf") {
        if (Status st = parse_float(n.fval); !st.ok()) return st;
      } else {
        next();
      }
    }
    if (Status st = expect_punct(':'); !st.ok()) return st;
    if (Status st = parse_type(n.type); !st.ok()) return st;
    if (has_const) {
      bool special = const_tok.text == "nan" || const_tok.text == "-nan" || const_tok.text == "-inf";
      if (special && !is_float(n.type.dtype))
        return Status::error(located(const_tok.line, const_tok.col, "special float constant needs a float type"));
      if (Status st = decode_const(n, const_tok); !st.ok()) return st;
    }
    if (at_word("loc"))
      if (Status st = parse_loc(n.loc); !st.ok()) return st;
    while (at_word("region")) {
      if (depth_ >= kMaxRegionDepth) return error_here("regions nested too deeply");
      next();
      ++depth_;
      // A nested function: parsed into its own graph with its own value numbering.
      Graph outer = std::move(g_);
      std::vector<PendingRef> outer_refs = std::move(refs_);
      g_ = Graph();
      refs_.clear();
      Status st = parse_func();
      for (const PendingRef& r : refs_)
        if (st.ok() && r.id >= g_.size())
          st = Status::error(located(r.line, r.col, fmt::format("use of undefined value %{}", r.id)));
      auto region = std::make_shared<Graph>(std::move(g_));
      g_ = std::move(outer);
      refs_ = std::move(outer_refs);
      --depth_;
      if (!st.ok()) return st;
      n.regions.push_back(std::move(region));
    }
    g_.add(std::move(n));
    return ok_status();
  }

  Status parse_loc(SourceLoc& loc) {
    next();
    if (Status st = expect_punct('('); !st.ok()) return st;
    if (peek().kind != Tok::String) return error_here("expected a quoted file name");
    std::string file = next().text;
    if (Status st = expect_punct(':'); !st.ok()) return st;
    int64_t line = 0;
    if (Status st = parse_int_word(line, "a line number"); !st.ok()) return st;
    if (line < std::numeric_limits<int32_t>::min() || line > std::numeric_limits<int32_t>::max())
      return error_here("line number out of range");
    loc.file = g_.intern_file(file);
    loc.line = static_cast<int32_t>(line);
    return expect_punct(')');
  }

  Status parse_func() {
    if (Status st = expect_word("func"); !st.ok()) return st;
    if (peek().kind != Tok::At) return error_here("expected the function name like @f");
    g_.name = next().text;
    if (Status st = expect_punct('('); !st.ok()) return st;
    if (Status st = parse_value_list(g_.params); !st.ok()) return st;
    if (Status st = expect_punct(')'); !st.ok()) return st;
    if (Status st = expect_punct('{'); !st.ok()) return st;
    while (peek().kind == Tok::Value)
      if (Status st = parse_node(g_.size()); !st.ok()) return st;
    if (Status st = expect_word("return"); !st.ok()) return st;
    if (Status st = parse_results(); !st.ok()) return st;
    return expect_punct('}');
  }

  std::vector<Token> t_;
  size_t i_ = 0;
  Graph g_;
  std::vector<PendingRef> refs_;
  static constexpr int kMaxRegionDepth = 64;
  int depth_ = 0;
};

}  // namespace

Expected<Graph> parse(std::string_view text) {
  std::vector<Token> toks;
  if (Status st = Lexer(text).run(toks); !st.ok()) return st;
  return Parser(std::move(toks)).run();
}

}  // namespace tracejit::ir
