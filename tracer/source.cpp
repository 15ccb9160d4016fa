// Source constructors and wording.
#include "tracer/source.h"

#include <fmt/format.h>

namespace tracejit::tracer {
namespace {
SourceRef make(Source s) { return std::make_shared<const Source>(std::move(s)); }
}  // namespace

SourceRef Source::arg(int index, std::string name) {
  Source s;
  s.kind = Kind::Arg;
  s.arg_index = index;
  s.name = std::move(name);
  return make(std::move(s));
}
SourceRef Source::global(std::string name) {
  Source s;
  s.kind = Kind::Global;
  s.name = std::move(name);
  return make(std::move(s));
}
SourceRef Source::builtin(std::string name) {
  Source s;
  s.kind = Kind::Builtin;
  s.name = std::move(name);
  return make(std::move(s));
}
SourceRef Source::attr(SourceRef base, std::string name) {
  Source s;
  s.kind = Kind::Attr;
  s.base = std::move(base);
  s.name = std::move(name);
  return make(std::move(s));
}
SourceRef Source::constant() { return make(Source{Kind::Constant}); }
SourceRef Source::computed() { return make(Source{Kind::Computed}); }

std::string Source::expr() const {
  switch (kind) {
    case Kind::Arg:
    case Kind::Global:
    case Kind::Builtin:
      return name;
    case Kind::Attr:
      return fmt::format("{}.{}", base ? base->expr() : "?", name);
    case Kind::Constant:
      return "<constant>";
    case Kind::Computed:
      return "<computed>";
  }
  return "?";
}

std::string Source::describe() const {
  switch (kind) {
    case Kind::Arg:
      return fmt::format("arg '{}'", name);
    case Kind::Global:
      return fmt::format("global '{}'", name);
    case Kind::Builtin:
      return fmt::format("builtin '{}'", name);
    default:
      return expr();
  }
}

}  // namespace tracejit::tracer
