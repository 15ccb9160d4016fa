// Graph -> text, in the grammar documented in ir/parser.h.
#include "ir/printer.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <bit>
#include <cmath>
#include <cstring>

namespace tracejit::ir {
namespace {

constexpr uint64_t kCanonicalNaN = 0x7ff8000000000000ull;
constexpr uint64_t kSignBit = 0x8000000000000000ull;

bool valid_op(Op op) { return static_cast<int>(op) < kNumOps; }
bool valid_dtype(DType d) { return static_cast<int>(d) < kNumDTypes; }

std::string op_spelling(Op op) {
  if (!valid_op(op)) return fmt::format("<invalid op {}>", static_cast<int>(op));
  return std::string(op_name(op));
}

// Like to_string(Type), but survives a corrupt dtype so invalid graphs can still be shown.
std::string type_spelling(const Type& t) {
  if (valid_dtype(t.dtype)) return to_string(t);
  Type copy = t;
  copy.dtype = DType::Bool;
  std::string s = to_string(copy);
  return fmt::format("<invalid dtype {}>{}", static_cast<int>(t.dtype), s.substr(4));
}

bool is_identifier(const std::string& s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.')) return false;
  return true;
}

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  return out + "\"";
}

const char* layout_name(int64_t layout) {
  switch (layout) {
    case 0: return "contiguous";
    case 1: return "strided";
    case 2: return "scalar";
    default: return nullptr;
  }
}

// The value of a well-formed constant, or "" when the node does not fit the short form (then
// the generic attribute block carries ints/fval verbatim).
std::string const_value(const Node& n) {
  if (!valid_dtype(n.type.dtype)) return "";
  uint64_t fbits = std::bit_cast<uint64_t>(n.fval);
  if (is_float(n.type.dtype)) return n.ints.empty() ? print_float(n.fval) : "";
  if (n.ints.size() != 1 || fbits != 0) return "";
  if (is_bool(n.type.dtype)) {
    if (n.ints[0] == 0) return "false";
    if (n.ints[0] == 1) return "true";
    return "";
  }
  // u64 values above INT64_MAX are stored as their bit pattern; print the number they mean.
  if (n.type.dtype == DType::U64) return fmt::format("{}", static_cast<uint64_t>(n.ints[0]));
  return fmt::format("{}", n.ints[0]);
}

std::string attr_block(const Node& n) {
  std::string out = " {ints = [";
  for (size_t i = 0; i < n.ints.size(); ++i) out += fmt::format("{}{}", i ? ", " : "", n.ints[i]);
  return out + fmt::format("], fval = {}}}", print_float(n.fval));
}

}  // namespace

std::string print_float(double v) {
  uint64_t bits = std::bit_cast<uint64_t>(v);
  if (std::isnan(v)) {
    if (bits == kCanonicalNaN) return "nan";
    if (bits == (kCanonicalNaN | kSignBit)) return "-nan";
    return fmt::format("nan(0x{:016x})", bits);
  }
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::string s = fmt::format("{}", v);
  // Keep floats visibly floats: "1" -> "1.0", "-0" -> "-0.0".
  if (s.find_first_of(".e") == std::string::npos) s += ".0";
  return s;
}

std::string print_node(const Graph& g, ValueId v) {
  if (v < 0 || v >= g.size()) return fmt::format("%{} = <undefined>", v);
  const Node& n = g.node(v);
  std::string out = fmt::format("%{} = {}", v, op_spelling(n.op));
  bool short_form = false;
  if (n.op == Op::Param) {
    const char* layout = n.ints.size() == 2 ? layout_name(n.ints[1]) : nullptr;
    if (layout && std::bit_cast<uint64_t>(n.fval) == 0 && n.operands.empty()) {
      out += fmt::format(" {} {}", n.ints[0], layout);
      short_form = true;
    } else if (n.ints.size() > 2 && n.ints[1] == 3 && std::bit_cast<uint64_t>(n.fval) == 0 && n.operands.empty()) {
      out += fmt::format(" {} transposed({})", n.ints[0], fmt::join(n.ints.begin() + 2, n.ints.end(), ", "));
      short_form = true;
    }
  } else if (n.op == Op::Const) {
    std::string value = const_value(n);
    if (!value.empty() && n.operands.empty()) {
      out += " " + value;
      short_form = true;
    }
  } else {
    for (size_t i = 0; i < n.operands.size(); ++i)
      out += fmt::format("{}%{}", i ? ", " : " ", n.operands[i]);
    short_form = n.ints.empty() && std::bit_cast<uint64_t>(n.fval) == 0;
  }
  if (!short_form) {
    // Generic form, for malformed nodes only: operands (if any) and the raw attributes.
    if (n.op == Op::Param || n.op == Op::Const)
      for (size_t i = 0; i < n.operands.size(); ++i)
        out += fmt::format("{}%{}", i ? ", " : " ", n.operands[i]);
    out += attr_block(n);
  }
  out += " : " + type_spelling(n.type);
  if (n.loc.known()) {
    std::string file = static_cast<size_t>(n.loc.file) < g.files.size()
                           ? quote(g.files[static_cast<size_t>(n.loc.file)])
                           : fmt::format("\"<invalid file {}>\"", n.loc.file);
    out += fmt::format("  loc({}:{})", file, n.loc.line);
  }
  return out;
}

namespace {

void print_graph(const Graph& g, const std::string& indent, std::string& out) {
  out += "func @" + (is_identifier(g.name) ? g.name : quote(g.name)) + "(";
  for (size_t i = 0; i < g.params.size(); ++i) out += fmt::format("{}%{}", i ? ", " : "", g.params[i]);
  out += ") {\n";
  for (ValueId v = 0; v < g.size(); ++v) {
    out += indent + "  " + print_node(g, v) + "\n";
    // Nested regions follow their op, indented: `region func @body(...) { ... }`.
    for (const auto& r : g.node(v).regions) {
      out += indent + "    region ";
      if (r) print_graph(*r, indent + "    ", out);
      else out += "<null>\n";
    }
  }
  out += indent + "  return";
  for (size_t i = 0; i < g.results.size(); ++i) {
    out += fmt::format("{}%{}", i ? ", " : " ", g.results[i]);
    if (i < g.result_axes.size() && !g.result_axes[i].empty())
      out += fmt::format(" transposed({})", fmt::join(g.result_axes[i], ", "));
  }
  out += "\n" + indent + "}\n";
}

}  // namespace

std::string print(const Graph& g) {
  std::string out;
  print_graph(g, "", out);
  return out;
}

}  // namespace tracejit::ir
