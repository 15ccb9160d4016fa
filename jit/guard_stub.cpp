// GuardStub: emits a GuardSet as straight-line x86-64 compares with asmjit's Compiler.
#include "jit/guard_stub.h"

#include <asmjit/x86.h>
#include <fmt/format.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace tracejit::jit {
namespace {

using namespace asmjit;
using tracer::Guard;

// The NumPy fields the stub reads, at the offsets of the headers we compile against. type_num
// and byteorder sit at the same offsets in NumPy 1.x and 2.x (2.x kept `_former_flags` as a
// char for exactly this), so a build against 2.x headers stays right on a 1.x runtime.
constexpr int32_t kArrNd = offsetof(PyArrayObject_fields, nd);
constexpr int32_t kArrDims = offsetof(PyArrayObject_fields, dimensions);
constexpr int32_t kArrDescr = offsetof(PyArrayObject_fields, descr);
constexpr int32_t kArrFlags = offsetof(PyArrayObject_fields, flags);
constexpr int32_t kArrStrides = offsetof(PyArrayObject_fields, strides);
constexpr int32_t kDescrTypeNum = offsetof(PyArray_Descr, type_num);
constexpr int32_t kDescrByteorder = offsetof(PyArray_Descr, byteorder);
constexpr int32_t kObType = offsetof(PyObject, ob_type);
static_assert(kDescrTypeNum == 28 && kDescrByteorder == 26, "NumPy descr layout moved");
static_assert(sizeof(npy_intp) == 8 && sizeof(int) == 4);

asmjit::JitRuntime& runtime() {
  static auto* rt = new asmjit::JitRuntime();  // never destroyed: stubs may outlive statics
  return *rt;
}

bool log_enabled(const char* what) {
  const char* v = std::getenv("TRACEJIT_LOG");
  return v && std::strstr(v, what);
}

Imm ptr_imm(const void* p) { return Imm(static_cast<int64_t>(reinterpret_cast<intptr_t>(p))); }

bool fits_i32(int64_t v) { return v >= INT32_MIN && v <= INT32_MAX; }

// Helpers the stub calls for guards it cannot express inline: the interpreted logic itself.
int eval_guard(const tracer::GuardSet* one, PyObject* const* args) noexcept {
  return one->check(args) ? 1 : 0;
}

#if PY_VERSION_HEX < 0x030C0000
uint64_t dict_tag(PyObject* d) { return reinterpret_cast<PyDictObject*>(d)->ma_version_tag; }

// Re-evaluates a dict-backed guard after one of its dicts changed; remembers the versions it
// held at (read before evaluating, so a lookup that mutates the dict is never cached).
int refresh_dict_guard(GuardStub::DictCache* c, PyObject* const* args) noexcept {
  uint64_t t1 = dict_tag(c->dict1);
  uint64_t t2 = c->dict2 ? dict_tag(c->dict2) : 0;
  if (!c->guard->check(args)) return 0;
  c->tag1 = t1;
  c->tag2 = t2;
  return 1;
}
constexpr int32_t kDictVersion = offsetof(PyDictObject, ma_version_tag);
#endif

// Exact ints of up to four digits are compared inline: size (3.11) or tag (3.12+) and digits.
constexpr size_t kMaxInlineDigits = 4;
bool inline_int(PyObject* v) {
  if (!PyLong_CheckExact(v) || PyLong_SHIFT != 30) return false;
#if PY_VERSION_HEX < 0x030C0000
  Py_ssize_t n = Py_SIZE(v);
  return static_cast<size_t>(n < 0 ? -n : n) <= kMaxInlineDigits;
#else
  return (reinterpret_cast<PyLongObject*>(v)->long_value.lv_tag >> 3) <= kMaxInlineDigits;
#endif
}

class ErrorCollector : public ErrorHandler {
 public:
  void handleError(Error err, const char* message, BaseEmitter*) override {
    if (first.empty()) first = fmt::format("asmjit error {}: {}", err, message);
  }
  std::string first;
};

class Emitter {
 public:
  Emitter(x86::Compiler& cc, x86::Gp args, Label fail) : cc_(cc), args_(args), fail_(fail) {}

  x86::Gp load_arg(int i) {
    x86::Gp o = cc_.newIntPtr("o");
    cc_.mov(o, x86::qword_ptr(args_, i * 8));
    return o;
  }
  // Fails unless the 8-byte memory `m` holds `p`.
  void expect_ptr(const x86::Mem& m, const void* p) {
    x86::Gp t = cc_.newIntPtr("t");
    cc_.mov(t, ptr_imm(p));
    cc_.cmp(m, t);
    cc_.jne(fail_);
  }
  void expect_i64(const x86::Mem& m, int64_t v) {
    if (fits_i32(v)) {
      cc_.cmp(m, Imm(v));
    } else {
      x86::Gp t = cc_.newInt64("t");
      cc_.mov(t, Imm(v));
      cc_.cmp(m, t);
    }
    cc_.jne(fail_);
  }
  void expect_type(int arg, const void* type) {
    expect_ptr(x86::qword_ptr(load_arg(arg), kObType), type);
  }
  void expect_identity(int arg, const void* obj) {
    x86::Gp o = load_arg(arg);
    x86::Gp t = cc_.newIntPtr("t");
    cc_.mov(t, ptr_imm(obj));
    cc_.cmp(o, t);
    cc_.jne(fail_);
  }

  // The ndarray fields after the type check: ndim, each dim, dtype, flags, byte order.
  void array_fields(const Guard& g) {
    x86::Gp o = load_arg(g.arg);
    cc_.cmp(x86::dword_ptr(o, kArrNd), static_cast<int>(g.dims.size()));
    cc_.jne(fail_);
    if (!g.dims.empty()) {
      x86::Gp d = cc_.newIntPtr("dims");
      cc_.mov(d, x86::qword_ptr(o, kArrDims));
      for (size_t i = 0; i < g.dims.size(); ++i) {
        if (g.dims[i] < 0) {  // a dynamic dimension: any size >= 2
          cc_.cmp(x86::qword_ptr(d, static_cast<int32_t>(8 * i)), 2);
          cc_.jl(fail_);
        } else {
          expect_i64(x86::qword_ptr(d, static_cast<int32_t>(8 * i)), g.dims[i]);
        }
      }
    }
    x86::Gp descr = cc_.newIntPtr("descr");
    cc_.mov(descr, x86::qword_ptr(o, kArrDescr));
    cc_.cmp(x86::dword_ptr(descr, kDescrTypeNum), g.typenum);
    cc_.jne(fail_);
    int mask = NPY_ARRAY_ALIGNED | (g.contiguous ? NPY_ARRAY_C_CONTIGUOUS : 0);
    int want = mask;
    if (g.not_fortran) mask |= NPY_ARRAY_F_CONTIGUOUS;  // set: fails
    x86::Gp f = cc_.newInt32("flags");
    cc_.mov(f, x86::dword_ptr(o, kArrFlags));
    cc_.and_(f, mask);
    cc_.cmp(f, want);
    cc_.jne(fail_);
    if (!g.memory_order.empty()) {  // a transposed contiguous array (tracer::compact_in)
      x86::Gp d = cc_.newIntPtr("dims");
      x86::Gp s = cc_.newIntPtr("strides");
      x86::Gp expected = cc_.newInt64("expected");
      x86::Gp n = cc_.newInt64("n");
      cc_.mov(d, x86::qword_ptr(o, kArrDims));
      cc_.mov(s, x86::qword_ptr(o, kArrStrides));
      cc_.mov(expected, Imm(g.itemsize));
      for (size_t i = g.memory_order.size(); i-- > 0;) {
        auto off = static_cast<int32_t>(8 * g.memory_order[i]);
        Label skip = cc_.newLabel();
        cc_.mov(n, x86::qword_ptr(d, off));
        cc_.cmp(n, 1);
        cc_.je(skip);
        cc_.cmp(x86::qword_ptr(s, off), expected);
        cc_.jne(fail_);
        cc_.bind(skip);
        cc_.imul(expected, n);
      }
    }
    // PyArray_ISNOTSWAPPED(a) is PyArray_ISNBO(descr->byteorder): byteorder != NPY_OPPBYTE.
    cc_.cmp(x86::byte_ptr(descr, kDescrByteorder), static_cast<int>(NPY_OPPBYTE));
    cc_.je(fail_);
  }

  // The value of an exact int after its type check (see inline_int).
  void int_value(int arg, PyObject* v) {
    x86::Gp o = load_arg(arg);
    auto* l = reinterpret_cast<PyLongObject*>(v);
#if PY_VERSION_HEX < 0x030C0000
    Py_ssize_t n = Py_SIZE(v);
    expect_i64(x86::qword_ptr(o, offsetof(PyVarObject, ob_size)), n);
    size_t ndigits = static_cast<size_t>(n < 0 ? -n : n);
    constexpr int32_t digits = offsetof(PyLongObject, ob_digit);
    const digit* dv = l->ob_digit;
#else
    // lv_tag: ndigits << 3 | sign (0 +, 1 zero, 2 -); bit 2 is reserved (immortality), ignored.
    uintptr_t tag = l->long_value.lv_tag;
    x86::Gp t = cc_.newIntPtr("tag");
    cc_.mov(t, x86::qword_ptr(o, offsetof(PyLongObject, long_value.lv_tag)));
    cc_.and_(t, Imm(-5));
    cc_.cmp(t, Imm(static_cast<int64_t>(tag & ~uintptr_t{4})));
    cc_.jne(fail_);
    size_t ndigits = tag >> 3;
    constexpr int32_t digits = offsetof(PyLongObject, long_value.ob_digit);
    const digit* dv = l->long_value.ob_digit;
#endif
    for (size_t i = 0; i < ndigits; ++i) {
      cc_.cmp(x86::dword_ptr(o, digits + static_cast<int32_t>(4 * i)),
              Imm(static_cast<int64_t>(dv[i])));
      cc_.jne(fail_);
    }
  }

  // Calls fn(ctx, args) and fails when it returns 0.
  void call_out(const void* fn, const void* ctx) {
    x86::Gp c = cc_.newIntPtr("ctx");
    cc_.mov(c, ptr_imm(ctx));
    x86::Gp r = cc_.newInt32("ok");
    InvokeNode* call = nullptr;
    cc_.invoke(&call, ptr_imm(fn),
               FuncSignatureT<int, const void*, const void*>(CallConvId::kHost));
    call->setArg(0, c);
    call->setArg(1, args_);
    call->setRet(0, r);
    cc_.test(r, r);
    cc_.jz(fail_);
  }

#if PY_VERSION_HEX < 0x030C0000
  // Unchanged dict versions mean the guard still holds; otherwise re-evaluate it.
  void cached_dict_guard(GuardStub::DictCache* cache, PyObject* module) {
    Label slow = cc_.newLabel(), done = cc_.newLabel();
    if (module) {
      x86::Gp t = cc_.newIntPtr("t");
      cc_.mov(t, ptr_imm(module));
      x86::Gp ty = cc_.newIntPtr("ty");
      cc_.mov(ty, ptr_imm(&PyModule_Type));
      cc_.cmp(x86::qword_ptr(t, kObType), ty);  // __class__ assignment bypasses the dict
      cc_.jne(slow);
    }
    auto same_version = [&](PyObject* d, const uint64_t* tag) {
      x86::Gp dp = cc_.newIntPtr("dict"), v = cc_.newInt64("ver"), tp = cc_.newIntPtr("tagp");
      cc_.mov(dp, ptr_imm(d));
      cc_.mov(v, x86::qword_ptr(dp, kDictVersion));
      cc_.mov(tp, ptr_imm(tag));
      cc_.cmp(v, x86::qword_ptr(tp));
      cc_.jne(slow);
    };
    same_version(cache->dict1, &cache->tag1);
    if (cache->dict2) same_version(cache->dict2, &cache->tag2);
    cc_.jmp(done);
    cc_.bind(slow);
    call_out(reinterpret_cast<const void*>(&refresh_dict_guard), cache);
    cc_.bind(done);
  }
#endif

 private:
  x86::Compiler& cc_;
  x86::Gp args_;
  Label fail_;
};

std::unique_ptr<tracer::GuardSet> one_guard(const Guard& g) {
  auto s = std::make_unique<tracer::GuardSet>();
  s->add(g);
  return s;
}

}  // namespace

bool guard_stubs_enabled() {
  const char* v = std::getenv("TRACEJIT_GUARD_STUBS");
  return !(v && std::strcmp(v, "0") == 0);
}

GuardStub::~GuardStub() {
  if (fn_) runtime().release(fn_);
  for (PyObject* o : refs_) Py_DECREF(o);
}

Expected<std::unique_ptr<GuardStub>> GuardStub::build(const tracer::GuardSet& guards) {
  std::unique_ptr<GuardStub> stub(new GuardStub());
  ErrorCollector errors;
  StringLogger logger;
  bool logging = log_enabled("stubs");
  CodeHolder code;
  if (Error err = code.init(runtime().environment()))
    return Status::error(fmt::format("asmjit: CodeHolder init failed ({})", err));
  code.setErrorHandler(&errors);
  if (logging) code.setLogger(&logger);

  x86::Compiler cc(&code);
  FuncNode* fn = cc.addFunc(FuncSignatureT<int, const void*>(CallConvId::kHost));
  x86::Gp args = cc.newIntPtr("args");
  fn->setArg(0, args);
  Label fail = cc.newLabel();
  Emitter em(cc, args, fail);
  auto keep = [&](PyObject* o) {
    Py_INCREF(o);
    stub->refs_.push_back(o);
  };

  const std::vector<Guard>& gs = guards.guards();
  std::vector<bool> done(gs.size(), false);
  // 1. Argument identities and type pointers: one load and one compare each; they reject most
  //    mismatching calls before any field is read.
  for (size_t i = 0; i < gs.size(); ++i) {
    const Guard& g = gs[i];
    switch (g.kind) {
      case Guard::Kind::Type:
        keep(reinterpret_cast<PyObject*>(g.type));
        em.expect_type(g.arg, g.type);
        done[i] = true;
        break;
      case Guard::Kind::Array:
        em.expect_type(g.arg, &PyArray_Type);
        break;
      case Guard::Kind::Identity:
        keep(g.expected);
        em.expect_identity(g.arg, g.expected);
        done[i] = true;
        break;
      case Guard::Kind::Value:
        keep(g.expected);
        if (PyBool_Check(g.expected)) {  // bools are singletons: equal and same type is identity
          em.expect_identity(g.arg, g.expected);
          done[i] = true;
        } else {
          em.expect_type(g.arg, Py_TYPE(g.expected));
        }
        break;
      default:
        break;
    }
  }
  // 2. ndarray fields, and small exact int values.
  for (size_t i = 0; i < gs.size(); ++i) {
    const Guard& g = gs[i];
    if (done[i]) continue;
    if (g.kind == Guard::Kind::Array) {
      em.array_fields(g);
      done[i] = true;
    } else if (g.kind == Guard::Kind::Value && inline_int(g.expected)) {
      em.int_value(g.arg, g.expected);
      done[i] = true;
    }
  }
  for (bool d : done) stub->inlined_ += d;
  // 3. The rest call out to the interpreted logic, one guard each, in the set's order.
  for (size_t i = 0; i < gs.size(); ++i) {
    if (done[i]) continue;
    const Guard& g = gs[i];
    stub->helpers_.push_back(one_guard(g));
    const tracer::GuardSet* one = stub->helpers_.back().get();
    ++stub->called_;
#if PY_VERSION_HEX < 0x030C0000
    // 3.11: skip the lookups while the dicts they read are unchanged (3.12+ gets dict watchers).
    auto cache = std::make_unique<DictCache>();
    cache->guard = one;
    PyObject* module = nullptr;
    const Guard& h = one->guards().front();  // the helper's own references
    if (g.kind == Guard::Kind::GlobalIs && PyDict_CheckExact(h.dict)) {
      cache->dict1 = h.dict;
    } else if (g.kind == Guard::Kind::BuiltinIs && PyDict_CheckExact(h.dict) &&
               PyDict_CheckExact(h.dict2)) {
      cache->dict1 = h.dict;
      cache->dict2 = h.dict2;
    } else if (g.kind == Guard::Kind::AttrIs && PyModule_CheckExact(h.dict) &&
               PyUnicode_CheckExact(h.name)) {
      module = h.dict;
      cache->dict1 = PyModule_GetDict(module);  // a module's __dict__ cannot be rebound
    }
    if (cache->dict1) {
      em.cached_dict_guard(cache.get(), module);
      stub->caches_.push_back(std::move(cache));
      continue;
    }
#endif
    em.call_out(reinterpret_cast<const void*>(&eval_guard), one);
  }

  x86::Gp r = cc.newInt32("r");
  cc.mov(r, 1);
  cc.ret(r);
  cc.bind(fail);
  cc.xor_(r, r);
  cc.ret(r);
  cc.endFunc();
  if (Error err = cc.finalize())
    return Status::error(errors.first.empty() ? fmt::format("asmjit finalize failed ({})", err)
                                              : errors.first);
  if (!errors.first.empty()) return Status::error(errors.first);
  stub->code_size_ = code.codeSize();
  if (Error err = runtime().add(&stub->fn_, &code))
    return Status::error(fmt::format("asmjit: JitRuntime::add failed ({})", err));
  if (logging) {
    stub->asm_ = logger.data();
    fmt::print(stderr, "[tracejit] guard stub: {} bytes, {} guards inline, {} called out\n{}",
               stub->code_size_, stub->inlined_, stub->called_, stub->asm_);
  }
  return stub;
}

}  // namespace tracejit::jit
