// GuardStub: a GuardSet compiled (asmjit) into one machine-code function checked before each call.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "ir/status.h"
#include "tracer/guards.h"
#include "tracer/npy.h"

namespace tracejit::jit {

// Same answer as GuardSet::check on every input (tests/cpp/jit checks this on random inputs);
// GuardSet::explain stays the way to word a failure. Argument type pointers, ndarray fields,
// identities and small exact ints are inlined; other guards call out to a one-guard GuardSet.
// Built and called with the GIL held; keeps its own references, so it does not borrow from
// the GuardSet it was built from.
class GuardStub {
 public:
  using Fn = int (*)(PyObject* const* args);  // 1 when every guard holds

  static Expected<std::unique_ptr<GuardStub>> build(const tracer::GuardSet& guards);
  ~GuardStub();
  GuardStub(const GuardStub&) = delete;
  GuardStub& operator=(const GuardStub&) = delete;

  bool check(PyObject* const* args) const { return fn_(args) != 0; }
  Fn fn() const { return fn_; }
  size_t code_size() const { return code_size_; }
  int inlined() const { return inlined_; }              // guards checked entirely in machine code
  int called() const { return called_; }                // guards evaluated by a helper call
  const std::string& assembly() const { return asm_; }  // filled when TRACEJIT_LOG has "stubs"

  // One cache slot per dictionary-backed guard on 3.11: the guard is re-evaluated only when one
  // of its dicts' ma_version_tag moved since it last held. Public for the emitter only.
  struct DictCache {
    PyObject* dict1 = nullptr;  // borrowed from the guard's own references
    PyObject* dict2 = nullptr;
    uint64_t tag1 = 0;  // 0: no dict has this version; forces the first evaluation
    uint64_t tag2 = 0;
    const tracer::GuardSet* guard = nullptr;
  };

 private:
  GuardStub() = default;
  Fn fn_ = nullptr;
  size_t code_size_ = 0;
  int inlined_ = 0;
  int called_ = 0;
  std::string asm_;
  std::vector<PyObject*> refs_;                             // strong: objects the code embeds
  std::vector<std::unique_ptr<tracer::GuardSet>> helpers_;  // one guard each
  std::vector<std::unique_ptr<DictCache>> caches_;
};

// False when TRACEJIT_GUARD_STUBS=0: compiled versions keep the interpreted check (debugging).
bool guard_stubs_enabled();

}  // namespace tracejit::jit
