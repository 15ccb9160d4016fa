// Where an abstract value came from: the same Source names its guard and words its messages.
#pragma once

#include <memory>
#include <string>

namespace tracejit::tracer {

struct Source;
using SourceRef = std::shared_ptr<const Source>;

struct Source {
  enum class Kind { Arg, Global, Builtin, Attr, Constant, Computed };
  Kind kind = Kind::Computed;
  int arg_index = -1;  // Arg
  std::string name;    // Arg: parameter name; Global/Builtin/Attr: the name read
  SourceRef base;      // Attr: the object the attribute was read from

  static SourceRef arg(int index, std::string name);
  static SourceRef global(std::string name);
  static SourceRef builtin(std::string name);
  static SourceRef attr(SourceRef base, std::string name);
  static SourceRef constant();
  static SourceRef computed();

  // "arg 'x'", "global 'np'", "np.tanh", "builtin 'abs'"
  std::string describe() const;
  // "x", "np", "np.tanh": the Python expression the user wrote
  std::string expr() const;
};

}  // namespace tracejit::tracer
