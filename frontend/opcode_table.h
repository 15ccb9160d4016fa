// One interpreter version's opcode numbering, as the decoder needs it (built at build time).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace tracejit::frontend {

struct OpcodeInfo {
  std::string_view name;  // empty for unused numbers
  uint8_t caches = 0;     // inline CACHE units that follow the instruction
  bool has_arg = false;   // `dis` reports an argument (otherwise its arg is None)
  bool jrel = false;      // relative jump: target = offset + 2 + 2*caches +/- 2*arg
  bool jabs = false;      // absolute jump: target = 2*arg (none in 3.11-3.13)
  bool backward = false;  // relative jump that goes backward
};

struct OpcodeTable {
  int py_major = 3;
  int py_minor = 0;
  std::array<OpcodeInfo, 256> ops{};

  // True for this table's interpreter version or later (3.12 -> at_least(12)).
  bool at_least(int minor) const { return py_major > 3 || (py_major == 3 && py_minor >= minor); }
  // The opcode number for `name`, or -1.
  int find(std::string_view name) const;
};

// The table generated from the interpreter tracejit was built for (gen_opcodes.py).
const OpcodeTable& compiled_opcode_table();

}  // namespace tracejit::frontend
