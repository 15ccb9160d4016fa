// Graph breaks with resume (TorchDynamo's resume functions, on our tracer): a call the tracer
// cannot hold whose result is used, or a branch on runtime data whose arms cannot be
// if-converted, ends the trace of the outermost frame at that instruction. The trace's results
// then include the live frame state (locals and value stack, as effect operands); the runtime
// (jit/runtime.cpp) rebuilds it as Python objects, performs the instruction eagerly and goes on
// with a continuation: a trace that starts at the next instruction with the frame state as its
// arguments (TraceOptions::start_pc; bind_state below).
//
// Where a trace may end (anything else fails as before: the whole call runs eagerly):
// - in the outermost frame (a callee that cannot be inlined breaks at its call site), at the
//   top level of the trace: not inside a loop region or an if-conversion arm. Inside a try
//   block (an exception table entry covers it) the
//   rest of the function from the break instruction itself runs eagerly (Resume::in_try), so
//   that its exceptions meet the user's handlers and `finally` runs once, as eagerly.
// - at a `with` statement (BEFORE_WITH; op_before_with), around the whole statement
//   (Resume::Kind::With): the runtime runs it eagerly in a copy of the code entered at
//   BEFORE_WITH with the context manager on its stack (tracejit._resume.make_with_remainder),
//   so __enter__/__exit__ run once and exceptions in the block meet __exit__ exactly as eagerly
//   (suppression included); where the statement is left with an empty stack (the end of the
//   block, after a suppressing __exit__, a constant return: with_exits walks the stack depths;
//   3.12+ may lay out copies of the code after it per exit) the copy returns its locals and the
//   continuation starts there. np.errstate blocks take this path: their ops run eagerly under
//   the block's state, the compiled parts under the caller's. Refused inside a loop (a with
//   statement there, and the rest, then run eagerly), in inlined callees (the call site breaks),
//   loop regions and if-conversion arms; inside a try block it is a try break as above.
// - in code with cells or free variables too: the eager remainder turns cell and free slots into
//   plain locals holding the cell objects (LOAD_DEREF/STORE_DEREF read the slot as a cell). The
//   frame state holds the function's own closure cells (fetched from func.__closure__), one new
//   cell per abstract cell the trace made (EffectOperand::Cell) and the nested functions made
//   before the break again over those cells (EffectOperand::Function), so closures and the rest
//   share them: `nonlocal` writes are seen both ways. A continuation binds free variables
//   through bind_closure (guarded cell_contents), cell slots as the real cells (reads guarded;
//   STORE_DEREF / DELETE_DEREF there are refused: the rest runs eagerly) and nested functions
//   over those cells as functions the trace made (StateHint::Kind::Closure: the runtime checks
//   that their closure cells are the slots' objects before a compiled version runs). Code using
//   `__class__` (zero-argument super()) gets no eager remainder.
// - when every live local and the stack below the instruction's operands are values the
//   runtime can rebuild exactly: input arrays (as themselves), computed arrays (one object per
//   value, not views), runtime numbers, constants, objects re-fetched through their source,
//   tuples of these, and lists built in the traced code that nothing else refers to.
// - inside a loop (a backward jump spans the instruction; not inside a try block there, nor,
//   in a continuation, with a constant int local that the loop body stores other than a for
//   loop's variable: a counter would specialize the continuation per iteration). The frame state then holds the loops'
//   iterators: a range iterator is rebuilt as iter(range(next, end, step)) (exactly eager's
//   remaining items), a list or tuple iterator as iter(seq) set to its next index (the sequence
//   re-fetched through its source, or a tuple built by the trace rebuilt from its items). The
//   continuation binds such slots as runtime values (StateHint, part of its key): a range
//   iterator's next value and a loop variable that is a runtime int become int64 inputs behind
//   range guards, so the continuation — the rest of the iteration, FOR_ITER (its exhaustion
//   guarded), the next iteration up to the break again, where it ends with the same hints — is
//   reused by every iteration: a loop of N iterations compiles a constant number of versions
//   (the function's, the continuation entered from it, the one every later iteration reuses and
//   its version for the loop's exit). A list iterator's index is guarded by value (a version per
//   index, up to recompile_limit; the items' shapes usually differ anyway). The runtime runs the
//   segments one after another from a driver loop (JitFunction::drive), not nested; it reads
//   and rebuilds the iterators through their C structs (iterstate.h).
// - a scalar whose Python type depends on the data (a Select: `n = 0 ... if x[i] > 0: n += x[i]`
//   leaves a Python int or an np.int64) is rebuilt as the arm whose condition holds
//   (EffectOperand::Choice); inside a loop a Python int arm (within int64) makes the slot a
//   StateHint::IntOrScalar: the continuation binds an int as a runtime int in its bounds and a
//   NumPy scalar as any argument (a version each).
#include <fmt/format.h>

#include <algorithm>

#include "tracer/tracer_impl.h"

namespace tracejit::tracer::detail {
namespace {

// Builtins whose result depends on the calling frame: never run from the runtime.
bool frame_sensitive(PyObject* f) {
  if (!PyCFunction_Check(f)) return false;
  const char* name = reinterpret_cast<PyCFunctionObject*>(f)->m_ml->ml_name;
  PyObject* self = PyCFunction_GET_SELF(f);
  bool builtin = self && PyModule_Check(self) && std::strcmp(PyModule_GetName(self), "builtins") == 0;
  PyErr_Clear();
  bool sys = self && PyModule_Check(self) && std::strcmp(PyModule_GetName(self), "sys") == 0;
  PyErr_Clear();
  for (const char* n : {"locals", "vars", "eval", "exec", "dir", "globals", "breakpoint", "compile", "__import__"})
    if (builtin && std::strcmp(name, n) == 0) return true;
  return sys && (std::strcmp(name, "_getframe") == 0 || std::strcmp(name, "exc_info") == 0 ||
                 std::strcmp(name, "exception") == 0 || std::strcmp(name, "settrace") == 0);
}

// Whether an exception table entry covers byte offset `offset` (3.11+ varint format).
bool in_exception_block(PyCodeObject* code, int offset) {
  PyObject* table = code->co_exceptiontable;
  if (!table || !PyBytes_Check(table)) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(PyBytes_AS_STRING(table));
  const unsigned char* end = p + PyBytes_GET_SIZE(table);
  auto varint = [&](int64_t& v) {
    if (p >= end) return false;
    unsigned char b = *p++;
    v = b & 63;
    while (b & 64) {
      if (p >= end) return false;
      b = *p++;
      v = (v << 6) | (b & 63);
    }
    return true;
  };
  while (p < end) {
    int64_t start, size, target, depth;
    if (!varint(start) || !varint(size) || !varint(target) || !varint(depth)) return true;  // unreadable: refuse
    if (offset / 2 >= start && offset / 2 < start + size) return true;
  }
  return false;
}

// Structural identity of two abstract values (the same SSA value, object, items).
bool same_value(const AValue& a, const AValue& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case AValue::Kind::Tensor: return a.v == b.v;
    case AValue::Kind::Object: return a.obj == b.obj;
    case AValue::Kind::Tuple:
      if (a.is_list != b.is_list || a.items.size() != b.items.size()) return false;
      for (size_t i = 0; i < a.items.size(); ++i)
        if (!same_value(a.items[i], b.items[i])) return false;
      return true;
    default: return false;
  }
}

void collect_lists(const AValue& v, std::vector<const AValue*>& out) {
  if (v.kind != AValue::Kind::Tuple) return;
  if (v.is_list) out.push_back(&v);
  for (const AValue& it : v.items) collect_lists(it, out);
}

// Locals read on some path from instruction `from` before being stored (backward liveness);
// nullopt when the code has instructions whose use of locals is not known here.
std::optional<std::vector<bool>> live_locals(PyCodeObject* code, const std::vector<Instruction>& ins,
                                             size_t nlocals, int from) {
  // Exception handlers are reached through the exception table, not jumps: with any, every
  // local counts as live.
  PyObject* table = code->co_exceptiontable;
  if (table && PyBytes_Check(table) && PyBytes_GET_SIZE(table) > 0) return std::nullopt;
  const size_t n = ins.size();
  std::vector<std::vector<bool>> live(n + 1, std::vector<bool>(nlocals, false));
  for (const Instruction& in : ins)
    if (in.op == COp::Unsupported || in.op == COp::LoadDeref || in.op == COp::StoreDeref ||
        in.op == COp::LoadClosure || in.op == COp::MakeCell || in.op == COp::LoadName)
      return std::nullopt;
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t i = n; i-- > 0;) {
      const Instruction& in = ins[i];
      std::vector<bool> out(nlocals, false);
      auto join = [&](size_t s) {
        if (s > n) return;
        for (size_t k = 0; k < nlocals; ++k) out[k] = out[k] || live[s][k];
      };
      bool falls = in.op != COp::Jump && in.op != COp::ReturnValue && in.op != COp::RaiseVarargs;
      if (falls) join(i + 1);
      if (in.target >= 0) join(static_cast<size_t>(in.target));
      const auto a = static_cast<size_t>(in.arg);
      if ((in.op == COp::StoreFast || in.op == COp::DeleteFast) && a < nlocals) out[a] = false;
      if ((in.op == COp::LoadFast || in.op == COp::LoadFastAndClear) && a < nlocals) out[a] = true;
      if (out != live[i]) {
        live[i] = std::move(out);
        changed = true;
      }
    }
  }
  return live[static_cast<size_t>(from)];
}

// Why the trace may not end at instruction `idx` of this code, or nullptr.
const char* break_refusal(PyCodeObject* code, const std::vector<Instruction>& ins, int idx) {
  (void)code;
  return nullptr;
}

// An object value_from_object has no value for (see the end of it): bound opaque in a
// continuation's frame state.
bool opaque_local(PyObject* o) {
  auto* np = NumpySurface::get();
  if (!np) {
    PyErr_Clear();
    return false;
  }
  return !(PyArray_Check(o) || PyFloat_Check(o) || PyLong_Check(o) || PyArray_IsScalar(o, Generic) ||
           PyMethod_Check(o) || PyBool_Check(o) || o == Py_None || PyModule_Check(o) || PyType_Check(o) ||
           PyFunction_Check(o) || PyCFunction_Check(o) || PyArray_DescrCheck(o) || Py_TYPE(o) == np->ufunc_type ||
           Py_TYPE(o) == np->dispatcher_type || PyUnicode_Check(o) || PyTuple_Check(o) || PyList_Check(o) ||
           PyDict_Check(o) || PyType_HasFeature(Py_TYPE(o), Py_TPFLAGS_HEAPTYPE) || PyCell_Check(o) ||
           PyComplex_Check(o) || PyBytes_Check(o) || PySet_Check(o) || PyFrozenSet_Check(o));
}

// Whether function `f` was made from a code constant of `code` (a def or lambda inside it).
bool made_here(PyCodeObject* code, PyObject* f) {
  PyObject* c = PyFunction_GET_CODE(f);
  for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(code->co_consts); ++i)
    if (PyTuple_GET_ITEM(code->co_consts, i) == c) return true;
  return false;
}

// Whether a backward jump spans instruction `idx` (it is inside a loop).
bool inside_loop(const std::vector<Instruction>& ins, int idx) {
  for (size_t j = 0; j < ins.size(); ++j)
    if (ins[j].target >= 0 && ins[j].target <= idx && static_cast<int>(j) > idx) return true;
  return false;
}

}  // namespace

bool Tracer::inside_try_block() const {
  for (const auto& fp : frames_) {
    const int idx = fp->pc - 1;  // the instruction being traced (a caller's: its call)
    if (idx >= 0 && static_cast<size_t>(idx) < fp->instrs.size() &&
        in_exception_block(fp->code, fp->instrs[static_cast<size_t>(idx)].offset))
      return true;
  }
  return false;
}

void Tracer::request_break() {
  if (!abort_ || abort_->code == AbortCode::DynamicShape || outer_instr_ < 0 || frames_.empty()) return;
  const Frame& f = *frames_[0];
  if (static_cast<size_t>(outer_instr_) >= f.instrs.size()) return;
  const COp op = f.instrs[static_cast<size_t>(outer_instr_)].op;
  if (op != COp::Call && op != COp::CallKw && op != COp::PopJumpIfFalse && op != COp::PopJumpIfTrue &&
      op != COp::ToBool && op != COp::LoadMethod && op != COp::BinarySubscr)
    return;
  for (const auto& b : break_pcs_)
    if (b.first == outer_instr_) return;
  break_request_ = {outer_instr_, abort_->describe()};
}

bool Tracer::make_break(int idx, const std::string& reason) {
  Frame& f = fr();
  const Instruction& in = f.instrs[static_cast<size_t>(idx)];
  cur_ = &in;
  loc_.line = in.line >= 0 ? in.line : loc_.line;
  auto refuse = [&](const std::string& why) {
    return fail(AbortCode::ControlFlow, fmt::format("{}; no graph break there: {}", reason, why));
  };
  if (const char* why = break_refusal(f.code, f.instrs, idx)) return refuse(why);
  Resume r;
  r.in_loop = inside_loop(f.instrs, idx);
  const bool with = in.op == COp::Unsupported && in.raw_name == "BEFORE_WITH";
  if (with && r.in_loop)
    return refuse("it is inside a loop (the eager with statement cannot hand the loop back to compiled code)");
  if (with && f.stack.size() != 1) return refuse("values are on the stack below the with statement");
  if (r.in_loop && in_exception_block(f.code, in.offset))
    return refuse("it is inside a loop and a try block (the eager remainder cannot re-enter both)");
  r.pc = idx;
  r.next_pc = idx + 1;
  const bool call = in.op == COp::Call || in.op == COp::CallKw;
  if (call) {
    r.kind = Resume::Kind::Call;
    r.nargs = in.arg;
    r.kw = in.op == COp::CallKw;
  } else if (with) {
    r.kind = Resume::Kind::With;
    r.entry_offset = in.offset;
  } else if (in.op == COp::ToBool) {
    r.kind = Resume::Kind::Truth;
  } else if (in.op == COp::BinarySubscr) {
    r.kind = Resume::Kind::Subscr;
  } else if (in.op == COp::LoadMethod) {
    r.kind = Resume::Kind::Method;
    r.attr = name_at(in.arg);
    const auto next = static_cast<size_t>(idx) + 1;
    if (next < f.instrs.size() && f.instrs[next].op == COp::Call && f.instrs[next].arg == 0) {
      r.kind = Resume::Kind::MethodCall;  // x.tolist(): one break for the load and the call
      r.next_pc = idx + 2;
    }
  } else {
    r.kind = Resume::Kind::Branch;
    r.jump_if = in.op == COp::PopJumpIfTrue;
    r.target_pc = in.target;
  }
  const size_t operands = r.operands();
  if (f.stack.size() < operands) return refuse("the value stack is not as expected");
  if (in_exception_block(f.code, in.offset)) {
    // Entered at the break instruction (a CallKw: at the load of its names, which 3.11/3.12's
    // KW_NAMES keeps off the stack and 3.13's LOAD_CONST pushes again).
    r.in_try = true;
    const int entry = r.kind == Resume::Kind::Call && r.kw ? idx - 1 : idx;
    const auto e = static_cast<size_t>(entry);
    if (entry <= 0 || f.instrs[e].offset == f.instrs[e - 1].offset ||
        (entry != idx && f.instrs[e].op != COp::LoadConst))
      return refuse("it is inside a try block and its instruction cannot be entered eagerly");
    r.entry_offset = f.instrs[e].offset;
  }
  // Resume points must start a raw instruction (the eager remainder enters the bytecode there).
  auto offset_of = [&](int pc) {
    if (pc <= 0 || static_cast<size_t>(pc) >= f.instrs.size()) return -1;
    const auto p = static_cast<size_t>(pc);
    return f.instrs[p].offset != f.instrs[p - 1].offset ? f.instrs[p].offset : -1;
  };
  r.next_offset = offset_of(r.next_pc);
  if (r.next_offset < 0) return refuse("no instruction follows it");
  if (r.kind == Resume::Kind::Branch) {
    r.target_offset = offset_of(r.target_pc);
    if (r.target_offset < 0) return refuse("the jump target is not an instruction start");
  }
  if (call) {
    const AValue& lower = f.stack[f.stack.size() - operands];
    const AValue& upper = f.stack[f.stack.size() - operands + 1];
    const AValue& callable = lower.kind == AValue::Kind::Null ? upper : lower;
    if (callable.is_object() && frame_sensitive(callable.obj))
      return refuse(fmt::format("{}() depends on the calling frame", callable_name(callable.obj)));
    r.what = callable.is_object()                            ? fmt::format("call to {}()", callable_name(callable.obj))
             : callable.kind == AValue::Kind::TensorMethod ? fmt::format("call to ndarray.{}()", callable.method)
                                                           : "call";
  } else if (r.kind == Resume::Kind::With) {
    r.what = fmt::format("with statement on {}", what(f.stack.back()));
  } else if (r.kind == Resume::Kind::Method || r.kind == Resume::Kind::MethodCall) {
    r.what = fmt::format("method .{}() of {}", r.attr, what(f.stack.back()));
  } else if (r.kind == Resume::Kind::Subscr) {
    r.what = fmt::format("indexing {} by {}", what(f.stack[f.stack.size() - 2]), what(f.stack.back()));
  } else {
    r.what = fmt::format("branch on {}", what(f.stack.back()));
  }
  if (!frame_state(r, operands, reason)) return false;
  r.file = PyUnicode_AsUTF8(f.code->co_filename);
  r.line = in.line >= 0 ? in.line : f.code->co_firstlineno;
  r.function = PyUnicode_AsUTF8(f.code->co_name);
  r.reason = reason;
  trace_.resume = std::move(r);
  returned_ = true;
  return true;
}

// BEFORE_WITH: a `with` statement of the outermost frame, at the top level of the trace (not
// in a loop, an inlined call, a loop region or an if-conversion arm), is a graph break around
// the whole statement (Resume::Kind::With).
bool Tracer::op_before_with(const Instruction& in) {
  (void)in;
  if (frames_.size() != 1)
    return fail(AbortCode::UnsupportedBytecode, "a with statement in an inlined function is not traced");
  if (step_depth_ != 1 || !regions_.empty())
    return fail(AbortCode::UnsupportedBytecode,
                "a with statement inside a compiled loop region or an if-converted branch is not traced");
  return make_break(fr().pc - 1, "a with statement runs eagerly, __enter__ to __exit__");
}

// The live frame state at the break (Resume::state): the locals live after it (dead ones are
// dropped: unbound in the continuation) and the value stack, each as the object the runtime
// rebuilds. False (an abort) when one cannot be rebuilt exactly.
bool Tracer::frame_state(Resume& r, size_t operands, const std::string& reason) {
  Frame& f = fr();
  auto refuse = [&](const std::string& why) {
    return fail(AbortCode::ControlFlow, fmt::format("{}; no graph break there: {}", reason, why));
  };
  auto live = live_locals(f.code, f.instrs, f.locals.size(), r.next_pc);
  if (live && r.kind == Resume::Kind::Branch) {
    auto at_target = live_locals(f.code, f.instrs, f.locals.size(), r.target_pc);
    for (size_t k = 0; k < live->size(); ++k) (*live)[k] = (*live)[k] || (*at_target)[k];
  }
  if (r.in_loop && options_.start_pc >= 0) {
    // In a continuation (the first trace runs iteration 0 with every int a constant: `j = i + 1`
    // becomes a runtime int in the continuations), a Python int local still constant here but
    // stored in the body of a loop around the break (a counter: `i += 1` in a while loop,
    // `n += 1`), other than a for loop's variable: the next continuation would be specialized
    // by its value, a new compile per iteration. Refused (the rest runs eagerly).
    const int idx = r.pc;
    for (size_t j = 0; j < f.instrs.size(); ++j) {
      const int t = f.instrs[j].target;
      if (t < 0 || t > idx || static_cast<int>(j) <= idx) continue;
      for (int s = t; s <= static_cast<int>(j); ++s) {
        const Instruction& st = f.instrs[static_cast<size_t>(s)];
        if (st.op != COp::StoreFast || st.arg < 0 || static_cast<size_t>(st.arg) >= f.locals.size()) continue;
        if (s > 0 && f.instrs[static_cast<size_t>(s) - 1].op == COp::ForIter) continue;  // a for loop's variable
        const AValue& v = f.locals[static_cast<size_t>(st.arg)];
        if ((!live || (*live)[static_cast<size_t>(st.arg)]) && v.is_object() && PyLong_CheckExact(v.obj))
          return refuse(fmt::format("the int local '{}' changes in the loop (continuations would be specialized "
                                    "per iteration)", local_name(st.arg)));
      }
    }
  }
  std::vector<const AValue*> lists;
  for (size_t k = 0; k < f.locals.size(); ++k)
    if (!live || (*live)[k]) collect_lists(f.locals[k], lists);
  for (const AValue& v : f.stack) collect_lists(v, lists);
  for (size_t a = 0; a < lists.size(); ++a)
    for (size_t b = a + 1; b < lists.size(); ++b)
      if (same_value(*lists[a], *lists[b]))
        return refuse("a list built in the traced code is referred to twice (its identity cannot be rebuilt)");
  if (!finish_writebacks()) return false;
  std::vector<int> building_cells;  // cells whose content is being made (a cycle is refused)
  std::function<std::optional<EffectOperand>(const AValue&, const std::string&, int)> operand =
      [&](const AValue& v, const std::string& name, int slot) -> std::optional<EffectOperand> {
    if (v.kind == AValue::Kind::Iterator) return iterator_operand(r, v, name, slot, reason);
    // A Python int in [lo, hi] at frame state slot `slot`: the continuation binds it as a
    // runtime value within these bounds, so that each iteration runs the same compiled
    // continuation.
    auto int_hint = [&](StateHint::Kind kind, int64_t lo, int64_t hi) {
      StateHint h;
      h.kind = kind;
      h.slot = slot;
      h.lo = lo;
      h.hi = hi;
      if (const StateHint* in = hint_for(slot); in && in->kind == kind && options_.start_pc >= 0) {
        // Bounds that moved since this continuation's own input (a counter under a branch:
        // n in [0, k] after k iterations) are widened, so that the next continuation's key
        // (which holds them) stops changing: the union, a side that grew taken to +-2^40.
        constexpr int64_t kBig = int64_t{1} << 40;
        // (the guard on the next continuation's input checks the bounds: past 2^40 it fails.)
        h.lo = lo >= in->lo ? in->lo : std::min(in->lo, -kBig);
        h.hi = hi <= in->hi ? in->hi : std::max(in->hi, kBig);
      }
      r.hints.push_back(h);
    };
    if (r.in_loop && slot >= 0 && v.is_tensor() && v.box == Box::PyInt && v.type == ir::Type::scalar(ir::DType::I64))
      int_hint(StateHint::Kind::Int, v.lo, v.hi);  // a loop variable, a counter
    if (v.kind == AValue::Kind::Select && v.items.size() == 3 && v.items[0].is_tensor()) {
      // A scalar whose Python type depends on the data (`if x[i] > 0: n += x[i]` with n a
      // Python int: np.int64 where it was added to, else still the int): rebuilt as the arm
      // whose condition holds. Inside a loop, a Python int arm makes the slot a runtime int
      // in its bounds when the int arrives (the other type: bound as any argument).
      EffectOperand op;
      op.kind = EffectOperand::Kind::Choice;
      AValue c = v.items[0];
      c.box = Box::NpScalar;
      auto cond = effect_operand(c, true);
      if (!cond) return std::nullopt;
      op.items.push_back(std::move(*cond));
      std::optional<std::pair<int64_t, int64_t>> pyint;  // the Python int arm's bounds
      for (size_t a = 1; a < 3; ++a) {
        const AValue& arm = v.items[a];
        if (arm.is_tensor() && arm.box == Box::PyInt && arm.type == ir::Type::scalar(ir::DType::I64)) {
          pyint = std::pair<int64_t, int64_t>(arm.lo, arm.hi);
        } else if (arm.is_object() && PyLong_CheckExact(arm.obj)) {
          int overflow = 0;
          const long long x = PyLong_AsLongLongAndOverflow(arm.obj, &overflow);
          if (overflow || (x == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            refuse(fmt::format("{} may be a Python int beyond int64", name));
            return std::nullopt;
          }
          pyint = std::pair<int64_t, int64_t>(x, x);
        } else if (!(arm.is_tensor() && arm.type.is_scalar()) && !arm.is_object()) {
          refuse(fmt::format("{} may be {}, which cannot be rebuilt", name, what(arm)));
          return std::nullopt;
        }
        auto o = operand(arm, name, -1);
        if (!o) return std::nullopt;
        op.items.push_back(std::move(*o));
      }
      if (r.in_loop && slot >= 0 && pyint) int_hint(StateHint::Kind::IntOrScalar, pyint->first, pyint->second);
      return op;
    }
    if (v.kind == AValue::Kind::Tuple && !v.method.empty()) {
      refuse(fmt::format("{} is a dict's {} view, which cannot be rebuilt", name, v.method));
      return std::nullopt;
    }
    if (v.kind == AValue::Kind::Tuple) {
      EffectOperand op;
      op.kind = v.is_list ? EffectOperand::Kind::List : EffectOperand::Kind::Tuple;
      for (const AValue& it : v.items) {
        auto o = operand(it, name, -1);
        if (!o) return std::nullopt;
        op.items.push_back(std::move(*o));
      }
      return op;
    }
    if (v.kind == AValue::Kind::Cell) {
      if (v.obj && v.source && v.source->evaluable()) return effect_operand(object(v.obj, v.source), true);  // a real cell
      if (v.arg < 0 || static_cast<size_t>(v.arg) >= cells_.size()) {
        refuse(fmt::format("{} is an unknown cell", name));
        return std::nullopt;
      }
      if (std::count(building_cells.begin(), building_cells.end(), v.arg)) {
        refuse(fmt::format("{} is a cell that holds a closure over itself (a recursive nested function)", name));
        return std::nullopt;
      }
      EffectOperand op;
      op.kind = EffectOperand::Kind::Cell;
      op.index = v.arg;
      const AValue& content = cells_[static_cast<size_t>(v.arg)];
      if (content.kind != AValue::Kind::Null) {
        building_cells.push_back(v.arg);
        auto o = operand(content, fmt::format("the closure variable of {}", name), -1);
        building_cells.pop_back();
        if (!o) return std::nullopt;
        op.items.push_back(std::move(*o));
      }
      return op;
    }
    if (v.kind == AValue::Kind::Closure) {
      // A function the traced code made: made again, over the same (new) cells.
      EffectOperand op;
      op.kind = EffectOperand::Kind::Function;
      op.constant = PyRef::steal(PyTuple_Pack(2, PyFunction_GET_CODE(v.obj), PyFunction_GET_GLOBALS(v.obj)));
      if (!op.constant) {
        PyErr_Clear();
        refuse("out of memory");
        return std::nullopt;
      }
      for (size_t i = 0; i < 2; ++i) {
        const AValue* part = i < v.items.size() ? &v.items[i] : nullptr;
        if (!part || part->kind == AValue::Kind::Null) {
          EffectOperand none;
          none.constant = PyRef::borrow(Py_None);
          op.items.push_back(std::move(none));
          continue;
        }
        auto o = operand(*part, name, -1);
        if (!o) return std::nullopt;
        op.items.push_back(std::move(*o));
      }
      return op;
    }
    if (v.kind == AValue::Kind::TensorMethod && v.items.size() == 1) {
      // x.method, loaded for a call that breaks: the attribute of the array rebuilt.
      EffectOperand op;
      op.kind = EffectOperand::Kind::Method;
      op.constant = PyRef::steal(PyUnicode_FromString(v.method.c_str()));
      if (!op.constant) {
        PyErr_Clear();
        refuse("out of memory");
        return std::nullopt;
      }
      auto self = operand(v.items[0], name, -1);
      if (!self) return std::nullopt;
      op.items.push_back(std::move(*self));
      return op;
    }
    if (v.is_tensor() && v.view_root != ir::kNoValue) {
      refuse(fmt::format("{} is a view of another array (its memory cannot be shared again)", name));
      return std::nullopt;
    }
    if (v.kind != AValue::Kind::Tensor && v.kind != AValue::Kind::Object && v.kind != AValue::Kind::Host) {
      refuse(fmt::format("{} is {}, which cannot be rebuilt", name, what(v)));
      return std::nullopt;
    }
    auto o = effect_operand(v, true);
    if (!o && abort_) abort_->message = fmt::format("{}; no graph break there: {}: {}", reason, name, abort_->message);
    return o;
  };
  r.nlocals = static_cast<int>(f.locals.size());
  const size_t nfree = static_cast<size_t>(f.code->co_nfreevars);
  PyObject* closure = PyFunction_GET_CLOSURE(f.func);
  for (size_t k = 0; k < f.locals.size(); ++k) {
    const AValue& v = f.locals[k];
    if (k + nfree >= f.locals.size()) {
      // A free variable of the function (a closure): its cell, fetched from func.__closure__
      // (the eager remainder reads and writes it; a continuation reads it again, guarded).
      const auto j = static_cast<Py_ssize_t>(k + nfree - f.locals.size());
      if (!closure || !PyTuple_Check(closure) || PyTuple_GET_SIZE(closure) <= j)
        return refuse("the function's closure does not match its free variables");
      PyObject* idx = PyLong_FromSsize_t(j);
      if (!idx) return refuse("out of memory");
      SourceRef src = Source::item(Source::attr(Source::fixed(func_, trace_.graph.name), "__closure__"), idx);
      Py_DECREF(idx);
      auto o = effect_operand(object(PyTuple_GET_ITEM(closure, j), src), true);
      if (!o) return false;
      r.state.emplace_back(std::move(*o));
      continue;
    }
    if (v.kind == AValue::Kind::Null || (live && !(*live)[k])) {
      r.state.emplace_back(std::nullopt);
      continue;
    }
    auto o = operand(v, fmt::format("local '{}'", local_name(static_cast<int>(k))), static_cast<int>(k));
    if (!o) return false;
    r.state.emplace_back(std::move(*o));
  }
  // Nested functions in locals whose cells are all cell slots of the frame: a continuation
  // binds them as functions the traced code made (StateHint::Kind::Closure).
  for (size_t k = 0; k < f.locals.size(); ++k) {
    const AValue& v = f.locals[k];
    if (v.kind != AValue::Kind::Closure || !r.state[k]) continue;
    StateHint h;
    h.kind = StateHint::Kind::Closure;
    h.slot = static_cast<int>(k);
    bool ok = v.items.size() == 2;
    if (ok && v.items[0].kind == AValue::Kind::Tuple) {
      for (const AValue& c : v.items[0].items) {
        int found = -1;
        for (size_t j = 0; j < f.locals.size() && found < 0; ++j)
          if (f.locals[j].kind == AValue::Kind::Cell && c.kind == AValue::Kind::Cell && f.locals[j].arg == c.arg)
            found = static_cast<int>(j);
        if (found < 0) ok = false;
        h.cells.push_back(found);
      }
    }
    if (ok) r.hints.push_back(std::move(h));
  }
  for (size_t j = 0; j < f.stack.size(); ++j) {
    const AValue& v = f.stack[j];
    const bool own = j >= f.stack.size() - operands;  // the instruction's own operands
    if (v.kind == AValue::Kind::Null) {  // the call protocol's NULL (where the interpreter has it)
      r.state.emplace_back(std::nullopt);
      continue;
    }
    // (the instruction's own operands are replaced by its result: no hint for them)
    auto o = operand(v, own ? "an operand of the instruction" : "a value on the stack",
                     own ? -1 : static_cast<int>(f.locals.size() + j));
    if (!o) return false;
    r.state.emplace_back(std::move(*o));
  }
  return true;
}

// A for loop's iterator in the frame state at a break inside the loop: iter(range(next, end,
// step)) with exactly eager's remaining items (a range unrolled at trace time, or the runtime
// iterator of a continuation); the continuation binds it as a runtime iterator (StateHint).
std::optional<EffectOperand> Tracer::iterator_operand(Resume& r, const AValue& v, const std::string& name, int slot,
                                                      const std::string& reason) {
  auto refuse = [&](const std::string& why) {
    fail(AbortCode::ControlFlow, fmt::format("{}; no graph break there: {}", reason, why));
    return std::nullopt;
  };
  if (slot < 0) return refuse(fmt::format("{} holds a loop iterator inside a container", name));
  if (v.rows) return refuse(fmt::format("{} is the iterator of a loop over an array's rows, which cannot be rebuilt yet", name));
  EffectOperand next;
  StateHint h;
  h.kind = StateHint::Kind::RangeIter;
  h.slot = slot;
  if (v.rt) {
    auto o = effect_operand(tensor(v.v, Box::PyInt), true);
    if (!o) return std::nullopt;
    next = std::move(*o);
    h.lo = v.lo, h.hi = v.hi, h.step = v.rstep, h.end = v.rend;
  } else if (v.obj && PyRange_Check(v.obj) && v.length >= 1 && v.arg >= 0 && v.arg <= v.length) {
    PyObject* start = PyObject_GetAttrString(v.obj, "start");
    PyObject* step = PyObject_GetAttrString(v.obj, "step");
    int o1 = 0, o2 = 0;
    const long long a = start ? PyLong_AsLongLongAndOverflow(start, &o1) : 0;
    const long long s = step ? PyLong_AsLongLongAndOverflow(step, &o2) : 0;
    Py_XDECREF(start);
    Py_XDECREF(step);
    const bool ok = start && step && !o1 && !o2 && !PyErr_Occurred() && s != 0;
    PyErr_Clear();
    const __int128 last = static_cast<__int128>(a) + static_cast<__int128>(v.length - 1) * s;
    const __int128 end = last + s;
    if (!ok || end < INT64_MIN + 1 || end > INT64_MAX - 1 || last < INT64_MIN + 1 || last > INT64_MAX - 1)
      return refuse(fmt::format("{} iterates over a range beyond int64", name));
    const int64_t nx = static_cast<int64_t>(a + static_cast<__int128>(v.arg) * s);
    next.kind = EffectOperand::Kind::Constant;
    next.constant = PyRef::steal(PyLong_FromLongLong(nx));
    h.step = s;
    h.end = static_cast<int64_t>(end);
    h.lo = static_cast<int64_t>(std::min<__int128>(a, last));
    h.hi = static_cast<int64_t>(std::max<__int128>(a, last));
  } else if (v.length < 0 && v.arg >= 0 && v.seq != 0 && v.arg <= static_cast<int>(v.items.size())) {
    // Over a list or tuple: iter(seq) set to the next index; the sequence re-fetched through
    // its source, or (a tuple built by the traced code) a new tuple of its items.
    EffectOperand seq;
    if (v.container && v.container->evaluable() && v.obj) {
      auto o = effect_operand(object(v.obj, v.container), true);
      if (!o) return std::nullopt;
      seq = std::move(*o);
    } else if (v.seq == 1) {
      seq.kind = EffectOperand::Kind::Tuple;
      for (const AValue& x : v.items) {
        if (x.is_tensor() && x.view_root != ir::kNoValue)
          return refuse(fmt::format("{} goes over a tuple holding a view of another array", name));
        if (x.kind != AValue::Kind::Tensor && x.kind != AValue::Kind::Object)
          return refuse(fmt::format("{} goes over a tuple holding {}", name, what(x)));
        auto o = effect_operand(x, true);
        if (!o) return std::nullopt;
        seq.items.push_back(std::move(*o));
      }
    } else {
      return refuse(fmt::format("{} is the iterator of a loop over a list built in the traced code, which cannot be "
                                "rebuilt (its identity)", name));
    }
    EffectOperand op;
    op.kind = EffectOperand::Kind::SeqIter;
    op.index = v.arg;
    op.items.push_back(std::move(seq));
    h.kind = StateHint::Kind::SeqIter;
    r.hints.push_back(h);
    return op;
  } else {
    return refuse(fmt::format("{} is the iterator of a loop over {}, which cannot be rebuilt yet (only range, list "
                              "and tuple iterators)",
                              name, v.obj ? fmt::format("a {}", Py_TYPE(v.obj)->tp_name) : "enumerate(), zip() or the like"));
  }
  if (!next.constant && next.kind == EffectOperand::Kind::Constant) return refuse("out of memory");
  EffectOperand op;
  op.kind = EffectOperand::Kind::RangeIter;
  op.constant = PyRef::steal(Py_BuildValue("(LL)", static_cast<long long>(h.end), static_cast<long long>(h.step)));
  if (!op.constant) {
    PyErr_Clear();
    return refuse("out of memory");
  }
  op.items.push_back(std::move(next));
  r.hints.push_back(h);
  return op;
}

// A hinted slot of a continuation's frame state (StateHint): a loop variable as a runtime int,
// a range iterator with a runtime next value. False (an abort) when the object does not fit.
bool Tracer::bind_hinted(int k, PyObject* o, const StateHint& h, AValue& v) {
  const int nlocals = options_.state_locals;
  std::string name = k < nlocals ? local_name(k) : fmt::format("<stack {}>", k - nlocals);
  SourceRef src = Source::arg(k, name);
  Guard g;
  const ir::Type i64 = ir::Type::scalar(ir::DType::I64);
  if (h.kind == StateHint::Kind::IntOrScalar && !PyLong_CheckExact(o)) {
    // (the NumPy scalar side: as any argument, its type in the continuation's signature)
    auto av = value_from_object(o, src);
    if (!av) return false;
    v = std::move(*av);
    return true;
  }
  if (h.kind == StateHint::Kind::Int || h.kind == StateHint::Kind::IntOrScalar) {
    if (!PyLong_CheckExact(o)) return fail(AbortCode::UnsupportedArgument, fmt::format("{} is not an int", name));
    g.dims = {h.lo, h.hi};
    guard_object(Guard::Kind::IntRange, src, std::move(g));
    ir::ValueId p = new_input_param(i64, ir::ParamLayout::Scalar);
    trace_.inputs.push_back({InputBinding::Kind::PyInt, k, ir::DType::I64, src});
    v = tensor(p, Box::PyInt);
    v.lo = h.lo;
    v.hi = h.hi;
    return true;
  }
  if (h.kind == StateHint::Kind::SeqIter) {
    Py_ssize_t index = 0;
    PyObject* seq = seq_iterator_state(o, index);
    if (!seq) return fail(AbortCode::UnsupportedArgument, fmt::format("{} is not the loop's list or tuple iterator", name));
    g.length = index;
    guard_object(Guard::Kind::SeqIndex, src, std::move(g));
    SourceRef seq_src = Source::iter_seq(src);
    AValue c = object(seq, seq_src);
    const bool is_list = PyList_CheckExact(seq);
    Py_DECREF(seq);
    auto items = items_of(c);  // guards its length and each item through seq_src
    if (!items) return false;
    v = AValue();
    v.kind = AValue::Kind::Iterator;
    v.items = std::move(*items);
    v.arg = static_cast<int>(std::min<Py_ssize_t>(index, static_cast<Py_ssize_t>(v.items.size())));
    v.source = Source::computed();
    v.seq = is_list ? 2 : 1;
    v.container = seq_src;
    v.obj = c.obj;
    return true;
  }
  int64_t next = 0, step = 0, left = 0;
  if (!range_iterator_state(o, next, step, left) || step != h.step || next + left * step != h.end)
    return fail(AbortCode::UnsupportedArgument, fmt::format("{} is not the loop's range iterator", name));
  g.dims = {h.step, h.end, h.lo, h.hi};
  guard_object(Guard::Kind::RangeIter, src, std::move(g));
  ir::ValueId p = new_input_param(i64, ir::ParamLayout::Scalar);
  trace_.inputs.push_back({InputBinding::Kind::RangeNext, k, ir::DType::I64, src});
  v = AValue();
  v.kind = AValue::Kind::Iterator;
  v.rt = true;
  v.v = p;
  v.type = i64;
  v.arg = k;
  v.length = left;
  v.lo = h.lo;
  v.hi = h.hi;
  v.rstep = h.step;
  v.rend = h.end;
  v.source = src;
  return true;
}

bool Tracer::bind_state() {
  const int nlocals = options_.state_locals;
  if (nlocals != static_cast<int>(fr().locals.size()) || nargs_ < nlocals)
    return fail(AbortCode::UnsupportedArgument, "continuation state does not match the frame");
  const int first_free = nlocals - fr().code->co_nfreevars;
  std::vector<std::pair<int, const StateHint*>> closures;  // bound last: after the cells
  for (int k = 0; k < static_cast<int>(nargs_); ++k) {
    PyObject* o = args_[k];
    if (k >= first_free && k < nlocals) continue;  // free variables: bound by bind_closure
    if (const StateHint* h = hint_for(k); h && o && h->kind == StateHint::Kind::Closure && k < nlocals) {
      closures.emplace_back(k, h);
      continue;
    }
    AValue v;  // NULL: an unbound local, or the NULL of a call protocol
    PyObject* self = o && PyCFunction_Check(o) ? PyCFunction_GET_SELF(o) : nullptr;
    if (k >= nlocals && self && !PyModule_Check(self)) {
      // A C method bound at a graph break (x.tolist): created anew each call, so guarded by
      // type only; the tracer knows no such object by identity: calling it is another break.
      std::string name = fmt::format("<stack {}>", k - nlocals);
      Guard g;
      g.type = Py_TYPE(o);
      guard_object(Guard::Kind::Type, Source::arg(k, name), std::move(g));
      v = object(o, Source::arg(k, name));
    } else if (o && k == static_cast<int>(nargs_) - 1 && k >= nlocals && options_.start_pc >= 0 &&
               static_cast<size_t>(options_.start_pc) < fr().instrs.size() &&
               fr().instrs[static_cast<size_t>(options_.start_pc)].raw_name == "BEFORE_WITH") {
      // The context manager of the with statement this continuation starts at: only handed
      // on to the eager statement, so any object will do (guarded by type).
      std::string name = fmt::format("<stack {}>", k - nlocals);
      Guard g;
      g.type = Py_TYPE(o);
      guard_object(Guard::Kind::Type, Source::arg(k, name), std::move(g));
      v = object(o, Source::arg(k, name));
    } else if (const StateHint* h = hint_for(k); h && o) {
      if (!bind_hinted(k, o, *h, v)) return false;
    } else if (o && k < nlocals && PyCell_Check(o) &&
               (static_cast<unsigned char>(PyBytes_AS_STRING(fr().code->co_localspluskinds)[k]) & 0x40)) {
      // A cell variable (CO_FAST_CELL): the frame's real cell, which closures made before the
      // break share. Read through it (guarded); assigning it is not traced (the store would have
      // to reach the real cell): the continuation then runs eagerly.
      SourceRef src = Source::arg(k, local_name(k));
      Guard g;
      g.type = &PyCell_Type;
      guard_object(Guard::Kind::Type, src, std::move(g));
      AValue content;
      if (PyObject* c = PyCell_GET(o)) {
        auto av = value_from_object(c, Source::attr(src, "cell_contents"));
        if (!av) return false;
        content = std::move(*av);
      }
      cells_.push_back(std::move(content));
      v.kind = AValue::Kind::Cell;
      v.arg = static_cast<int>(cells_.size() - 1);
      v.obj = o;
      v.source = src;
    } else if (o && k < nlocals && PyFunction_Check(o) && made_here(fr().code, o)) {
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("local '{}' is a nested function made before the graph break (not bound in a "
                              "continuation yet)",
                              local_name(k)));
    } else if (o && k < nlocals && opaque_local(o)) {
      // A local of a type the tracer has no value for (a file after `with open(...) as f`):
      // an object guarded by type; using it in the continuation goes through the generic
      // attribute and call paths (guarded reads, or a graph break).
      Guard g;
      g.type = Py_TYPE(o);
      guard_object(Guard::Kind::Type, Source::arg(k, local_name(k)), std::move(g));
      v = object(o, Source::arg(k, local_name(k)));
    } else if (o) {
      std::string name = k < nlocals ? local_name(k) : fmt::format("<stack {}>", k - nlocals);
      auto av = value_from_object(o, Source::arg(k, name));
      if (!av) return false;
      v = std::move(*av);
    }
    if (k < nlocals) fr().locals[static_cast<size_t>(k)] = std::move(v);
    else fr().stack.push_back(std::move(v));
  }
  for (const auto& [k, h] : closures)
    if (!bind_closure_value(k, args_[k], *h)) return false;
  fr().pc = options_.start_pc;
  return true;
}

// A nested function made before the break (StateHint::Kind::Closure): the function value the
// traced code would have made, over the frame's cell slots (the runtime checks, before a
// compiled continuation runs, that its closure cells are those slots' objects); its code is
// guarded by identity, its defaults by their paths.
bool Tracer::bind_closure_value(int k, PyObject* o, const StateHint& h) {
  const std::string name = local_name(k);
  auto refuse = [&](const char* why) {
    return fail(AbortCode::UnsupportedValue, fmt::format("local '{}' is {} (not bound in a continuation)", name, why));
  };
  if (!PyFunction_Check(o) || !made_here(fr().code, o)) return refuse("not a nested function of this code");
  if (PyFunction_GET_KW_DEFAULTS(o)) return refuse("a nested function with keyword-only defaults");
  PyObject* closure = PyFunction_GET_CLOSURE(o);
  const size_t ncells = closure ? static_cast<size_t>(PyTuple_GET_SIZE(closure)) : 0;
  if (ncells != h.cells.size()) return refuse("a nested function over other cells");
  SourceRef src = Source::arg(k, name);
  Guard g;
  g.type = &PyFunction_Type;
  guard_object(Guard::Kind::Type, src, std::move(g));
  Guard gc;
  gc.expected = PyFunction_GET_CODE(o);
  guard_object(Guard::Kind::Identity, Source::attr(src, "__code__"), std::move(gc));
  AValue fn;
  fn.kind = AValue::Kind::Closure;
  fn.obj = o;
  fn.source = Source::computed();
  fn.items.resize(2);
  if (ncells) {
    AValue cells;
    cells.kind = AValue::Kind::Tuple;
    cells.source = Source::computed();
    for (size_t i = 0; i < ncells; ++i) {
      const int j = h.cells[i];
      if (j < 0 || j >= static_cast<int>(fr().locals.size()) || args_[j] != PyTuple_GET_ITEM(closure, i) ||
          fr().locals[static_cast<size_t>(j)].kind != AValue::Kind::Cell)
        return refuse("a nested function over other cells");
      cells.items.push_back(fr().locals[static_cast<size_t>(j)]);
    }
    fn.items[0] = std::move(cells);
  }
  if (PyObject* defaults = PyFunction_GET_DEFAULTS(o)) {
    SourceRef dsrc = Source::attr(src, "__defaults__");
    Guard gl;
    gl.type = &PyTuple_Type;
    gl.length = PyTuple_GET_SIZE(defaults);
    guard_object(Guard::Kind::Len, dsrc, std::move(gl));
    AValue t;
    t.kind = AValue::Kind::Tuple;
    t.source = Source::computed();
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(defaults); ++i) {
      PyObject* idx = PyLong_FromSsize_t(i);
      if (!idx) return refuse("out of memory");
      SourceRef isrc = Source::item(dsrc, idx);
      Py_DECREF(idx);
      auto av = value_from_object(PyTuple_GET_ITEM(defaults, i), isrc);
      if (!av) return false;
      t.items.push_back(std::move(*av));
    }
    fn.items[1] = std::move(t);
  }
  fr().locals[static_cast<size_t>(k)] = std::move(fn);
  return true;
}

}  // namespace tracejit::tracer::detail

namespace tracejit::tracer {

std::string Resume::describe() const {
  if (in_try)
    return fmt::format("{}:{}: {} inside a try block: the rest of the function runs eagerly ({}) [graph-break]", file,
                       line, what, reason);
  return fmt::format("{}:{}: {} runs eagerly between compiled graphs ({}) [graph-break]", file, line, what, reason);
}

}  // namespace tracejit::tracer
