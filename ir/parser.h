// The textual IR: parse the text ir/printer.h prints back into a Graph.
#pragma once

#include <string_view>

#include "ir/graph.h"
#include "ir/status.h"

namespace tracejit::ir {

// Parses one function. Errors are "LINE:COL: message" (1-based). The parser checks syntax and
// that every referenced %N is defined somewhere; semantic rules (SSA order, dtypes, shapes) are
// the verifier's job, so a parsed graph may still fail ir::verify. Never crashes on garbage.
//
// Grammar (`//` starts a comment that runs to the end of the line):
//   func    := 'func' '@' (IDENT | STRING) '(' [value (',' value)*] ')' '{' node* return '}'
//   node    := value '=' OPNAME body ':' type [loc] region*  value N must be the Nth node
//   region  := 'region' func                                  a nested graph (loop bodies)
//   body    := INT LAYOUT                                      param: index, layout
//            | CONST                                           const: value of the type's dtype
//            | [value (',' value)*] [attrs]                    every other op
//   attrs   := '{' 'ints' '=' '[' [INT (',' INT)*] ']' ',' 'fval' '=' FLOAT '}'
//   type    := DTYPE '[' [dim (',' dim)*] ']'                  dim := INT | 's' INT
//   loc     := 'loc' '(' STRING ':' INT ')'
//   return  := 'return' [value (',' value)*]
//   LAYOUT  := 'contiguous' | 'strided' | 'scalar'
//   CONST   := 'true' | 'false' | INT | FLOAT
//   FLOAT   := decimal | 'inf' | '-inf' | 'nan' | '-nan' | 'nan' '(' HEX64 ')'
Expected<Graph> parse(std::string_view text);

}  // namespace tracejit::ir
