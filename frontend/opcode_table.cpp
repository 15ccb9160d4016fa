// The build-time opcode table (opcode_table_gen.h) wrapped as an OpcodeTable.
#include "frontend/opcode_table.h"

#include "opcode_table_gen.h"

namespace tracejit::frontend {

int OpcodeTable::find(std::string_view name) const {
  if (name.empty()) return -1;
  for (size_t i = 0; i < ops.size(); ++i) {
    if (ops[i].name == name) return static_cast<int>(i);
  }
  return -1;
}

const OpcodeTable& compiled_opcode_table() {
  static const OpcodeTable table = [] {
    OpcodeTable t;
    t.py_major = generated::kPyMajor;
    t.py_minor = generated::kPyMinor;
    for (size_t i = 0; i < t.ops.size(); ++i) {
      const generated::GenOpcode& g = generated::kOpcodes[i];
      t.ops[i] = OpcodeInfo{g.name, g.caches, g.has_arg, g.jrel, g.jabs, g.backward};
    }
    return t;
  }();
  return table;
}

}  // namespace tracejit::frontend
