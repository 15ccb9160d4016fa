// One decoded instruction: raw (as `dis` shows it) and canonical (what the tracer reads).
#pragma once

#include <cstdint>
#include <string_view>

namespace tracejit::frontend {

enum class COp : uint8_t {
#define CANON(e) e,
#include "frontend/canonical.def"
#undef CANON
};

std::string_view cop_name(COp op);

// As `dis.get_instructions` reports it (EXTENDED_ARG included, CACHE entries skipped).
struct RawInstruction {
  int32_t offset = 0;       // byte offset
  int32_t opcode = 0;
  std::string_view opname;  // static storage (the generated opcode table)
  int32_t arg = 0;          // full argument, EXTENDED_ARG prefixes applied
  int32_t jump_target = -1; // byte offset of the jump target, -1 if not a jump
  int32_t line = -1;        // source line, -1 if none
};

struct Instruction {
  COp op = COp::Unsupported;
  int32_t arg = 0;
  int32_t target = -1;       // canonical index of the jump target, -1 if not a jump
  int32_t offset = 0;        // byte offset of the raw instruction it came from
  int32_t line = -1;         // source line of that raw instruction
  std::string_view raw_name; // opname of the raw instruction it came from
};

}  // namespace tracejit::frontend
