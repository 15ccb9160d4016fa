// Replaces the one member of Debian's libasmjit.a that cannot go into a shared object.
//
// Debian builds libasmjit.a with -fPIE, not -fPIC. Everything in it links into _tracejit.so
// except core/globals.cpp.o, which reads glibc's `stderr` through a PC32 relocation ("recompile
// with -fPIC"). It defines only these three functions; defining them here keeps the linker from
// pulling that member. Drop this file when asmjit is built from source with -fPIC.
#include <asmjit/core.h>

#include <cstdio>
#include <cstdlib>

ASMJIT_BEGIN_NAMESPACE
namespace DebugUtils {

const char* errorAsString(Error err) noexcept {
  return err == kErrorOk ? "Ok" : "asmjit error (see asmjit/core/globals.h ErrorCode)";
}

void debugOutput(const char* str) noexcept { std::fputs(str, stderr); }

void assertionFailed(const char* file, int line, const char* msg) noexcept {
  std::fprintf(stderr, "[asmjit] assertion failed at %s:%d: %s\n", file, line, msg);
  std::abort();
}

}  // namespace DebugUtils
ASMJIT_END_NAMESPACE
