// CPython code objects -> raw instructions (exactly as `dis` lists them) -> canonical instructions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "frontend/instruction.h"
#include "frontend/opcode_table.h"
#include "ir/status.h"

struct PyCodeObject;  // CPython's; kept out of this header so the core needs no Python.h

namespace tracejit::frontend {

// --- Python-independent core -------------------------------------------------------------

// Decodes a bytecode buffer (2-byte units) the way `dis.get_instructions` does: EXTENDED_ARG
// prefixes are listed and folded into the next argument, CACHE units are skipped, jump targets
// are byte offsets. Lines are left at -1.
Expected<std::vector<RawInstruction>> decode_raw_bytes(const uint8_t* code, size_t n,
                                                        const OpcodeTable& table);

// Maps raw instructions (from decode_raw_bytes with the same table) to the canonical set,
// following the conventions at the top of canonical.def. `code_size` is the bytecode length.
Expected<std::vector<Instruction>> canonicalize(const std::vector<RawInstruction>& raw,
                                                const OpcodeTable& table, size_t code_size);

// decode_raw_bytes + canonicalize.
Expected<std::vector<Instruction>> decode_bytes(const uint8_t* code, size_t n,
                                                const OpcodeTable& table);

// --- On live code objects (the running interpreter, compiled_opcode_table()) --------------

// From PyCode_GetCode (never the adaptive bytecode); lines from PyCode_Addr2Line. Needs the GIL.
Expected<std::vector<RawInstruction>> decode_raw(PyCodeObject* code);
Expected<std::vector<Instruction>> decode(PyCodeObject* code);

// Compares compiled_opcode_table() with the running interpreter's `opcode` module (version,
// opmap names/numbers, inline cache counts, relative jumps). Needs the GIL. A failure means the
// extension was built for another interpreter: the JIT must stay off.
Status check_opcode_table();

}  // namespace tracejit::frontend
