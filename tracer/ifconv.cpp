// Branches on runtime scalars (if-conversion), runtime Python ints, and min()/max() of runtime
// scalars: what scalar dynamic-programming code needs (`cost = 0 if a[i] == b[j] else 1`,
// `D[i, j] = min(D[i - 1, j] + 1, ...)`) to trace without a data-dependent branch.
//
// If-conversion: at a conditional jump on a runtime value both arms are traced, one after the
// other from the same state, up to the point where they meet; every local and stack slot that
// differs is then a `where(cond, then, else)`. That is exact only when nothing but those slots
// can tell which arm ran, so the arms must be pure — no stores into containers, no in-place
// updates, no deferred effects, no raises or loops, no return unless both arms return (then the
// returns are the join). A store into an array inside an arm is the exception: it stores
// where(arm's condition, new, old) (guarded_value), the other arm starts from the array it left
// and the join sees it, so both arms' stores land exactly as the one that ran would. Each
// merged pair
// must be scalars. A pair of the same kind and type (a Python int from both arms is a runtime
// Python int, NumPy scalars of one dtype) merges into a `where`; a pair whose Python type
// differs (`x[i] if c else 0.0`: a NumPy float64 or a Python float, NEP 50 makes them promote
// differently) is kept as a Select of both arms: operators apply to each arm and merge again,
// stores convert each arm as NumPy's __setitem__ would, and whatever would show the type (a
// return, type(), formatting, min()) aborts. Anything else aborts with the reason, as a
// branch on array data did before.
#include "tracer/tracer_impl.h"

#include <algorithm>
#include <functional>

namespace tracejit::tracer::detail {
namespace {

// The kind of a scalar as Python sees it, for merging and min()/max(): values of one kind and
// dtype can stand for each other; anything else would make the result's type data-dependent.
enum class ScalarKind : uint8_t { PyInt, PyFloat, NpScalar };
struct Kind {
  ScalarKind k;
  ir::DType dt;
  bool operator==(const Kind& o) const { return k == o.k && dt == o.dt; }
  bool operator!=(const Kind& o) const { return !(*this == o); }
};

std::optional<Kind> scalar_kind(const AValue& v) {
  if (v.is_tensor()) {
    if (!v.type.is_scalar() || !v.type.is_static()) return std::nullopt;
    switch (v.box) {
      case Box::PyInt: return Kind{ScalarKind::PyInt, ir::DType::I64};
      case Box::PyFloat: return Kind{ScalarKind::PyFloat, ir::DType::F64};
      case Box::NpScalar: return Kind{ScalarKind::NpScalar, v.type.dtype};
      case Box::Array: return std::nullopt;  // a 0-d array: an object with an identity
    }
    return std::nullopt;
  }
  if (!v.is_object()) return std::nullopt;
  PyObject* o = v.obj;
  if (PyLong_CheckExact(o)) {  // bool is not PyLong_CheckExact: True and 1 differ in type
    int overflow = 0;
    PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow || PyErr_Occurred()) {
      PyErr_Clear();
      return std::nullopt;
    }
    return Kind{ScalarKind::PyInt, ir::DType::I64};
  }
  if (PyFloat_CheckExact(o)) return Kind{ScalarKind::PyFloat, ir::DType::F64};
  if (PyArray_IsScalar(o, Generic)) {
    PyArray_Descr* d = PyArray_DescrFromScalar(o);
    auto dt = d ? dtype_from_typenum(d->type_num) : std::nullopt;
    Py_XDECREF(d);
    PyErr_Clear();
    if (dt) return Kind{ScalarKind::NpScalar, *dt};
  }
  return std::nullopt;
}

Box box_of(ScalarKind k) {
  return k == ScalarKind::PyInt ? Box::PyInt : k == ScalarKind::PyFloat ? Box::PyFloat : Box::NpScalar;
}

// Bounds of a Python int, constant or runtime (scalar_kind said PyInt).
std::pair<int64_t, int64_t> int_bounds(const AValue& v) {
  if (v.is_tensor()) return {v.lo, v.hi};
  int overflow = 0;
  long long x = PyLong_AsLongLongAndOverflow(v.obj, &overflow);
  return {x, x};
}

// Whether two abstract values are the same value (either may stand for both arms).
bool same_value(const AValue& a, const AValue& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case AValue::Kind::Null: return true;
    case AValue::Kind::Object:
      if (a.obj == b.obj) return true;
      // Immutable numbers computed in both arms are equal objects, not the same one.
      if (PyLong_CheckExact(a.obj) && PyLong_CheckExact(b.obj)) {
        int r = PyObject_RichCompareBool(a.obj, b.obj, Py_EQ);
        PyErr_Clear();
        return r == 1;
      }
      if (PyFloat_CheckExact(a.obj) && PyFloat_CheckExact(b.obj)) {
        double x = PyFloat_AS_DOUBLE(a.obj), y = PyFloat_AS_DOUBLE(b.obj);
        return std::memcmp(&x, &y, sizeof x) == 0;  // -0.0 and 0.0 differ
      }
      return false;
    case AValue::Kind::Tensor:
      return a.v == b.v && a.box == b.box && a.view_root == b.view_root && a.lo == b.lo && a.hi == b.hi;
    case AValue::Kind::LoopIndex:
      return a.arg == b.arg && a.ia == b.ia && a.ib == b.ib && a.method == b.method && a.length == b.length;
    case AValue::Kind::Host: return a.arg == b.arg;
    default:
      break;
  }
  // Tuple, Iterator, BoundMethod, TensorMethod, HostMethod: the same parts.
  if (a.obj != b.obj || a.arg != b.arg || a.is_list != b.is_list || a.length != b.length ||
      a.method != b.method || a.items.size() != b.items.size())
    return false;
  for (size_t i = 0; i < a.items.size(); ++i)
    if (!same_value(a.items[i], b.items[i])) return false;
  return true;
}

std::string describe_kind(const AValue& v) {
  if (v.kind == AValue::Kind::Select && v.items.empty()) return "a name that may be unbound";
  if (v.kind == AValue::Kind::Select && v.items[1].is_object() && v.items[1].obj == Py_True &&
      v.items[2].is_object() && v.items[2].obj == Py_False)
    return "a Python bool known only at run time";
  if (v.kind == AValue::Kind::Select)
    return fmt::format("{} or {}", describe_kind(v.items[1]), describe_kind(v.items[2]));
  if (auto k = scalar_kind(v)) {
    switch (k->k) {
      case ScalarKind::PyInt: return "a Python int";
      case ScalarKind::PyFloat: return "a Python float";
      case ScalarKind::NpScalar: return fmt::format("a NumPy {} scalar", ir::dtype_numpy_name(k->dt));
    }
  }
  switch (v.kind) {
    case AValue::Kind::Null: return "nothing (unbound)";
    case AValue::Kind::Tensor: return "an array";
    case AValue::Kind::Object: return fmt::format("a {}", Py_TYPE(v.obj)->tp_name);
    case AValue::Kind::Tuple: return v.is_list ? "a list" : "a tuple";
    case AValue::Kind::LoopIndex: return "the loop variable";
    default: return "a Python object";
  }
}

}  // namespace

std::string describe_scalar_kind(const AValue& v) { return describe_kind(v); }

std::optional<ir::ValueId> Tracer::runtime_truth(const AValue& v) {
  if (v.kind == AValue::Kind::Select && v.items.empty()) return std::nullopt;  // (unreadable)
  if (v.kind == AValue::Kind::Select && v.items[1].is_object() && v.items[1].obj == Py_True &&
      v.items[2].is_object() && v.items[2].obj == Py_False)
    return v.items[0].v;  // a runtime Python bool (python_bool)
  if (v.kind == AValue::Kind::Select) {  // the truth of whichever arm ran
    ir::ValueId t[2];
    for (int arm = 0; arm < 2; ++arm) {
      const AValue& x = v.items[static_cast<size_t>(1 + arm)];
      if (auto r = runtime_truth(x)) {
        t[arm] = *r;
      } else if (x.is_object()) {
        int b = PyObject_IsTrue(x.obj);
        if (b < 0) {
          PyErr_Clear();
          return std::nullopt;
        }
        t[arm] = trace_.graph.add_const_int(ir::DType::Bool, b, loc_);
      } else {
        return std::nullopt;
      }
    }
    return trace_.graph.add_op(ir::Op::Where, ir::Type::scalar(ir::DType::Bool), {v.items[0].v, t[0], t[1]}, loc_);
  }
  if (!v.is_tensor() || !v.type.is_scalar() || !v.type.is_static()) return std::nullopt;
  ir::Graph& g = trace_.graph;
  ir::DType dt = v.type.dtype;
  if (ir::is_bool(dt)) return v.v;
  // bool(x) is x != 0 for every number (NaN is true, -0.0 false).
  ir::ValueId zero = ir::is_float(dt) ? g.add_const_float(dt, 0.0, loc_) : g.add_const_int(dt, 0, loc_);
  return g.add_op(ir::Op::Ne, ir::Type::scalar(ir::DType::Bool), {v.v, zero}, loc_);
}

// cond ? a : b for scalars of different kinds, kept as a Select with one arm per kind: the
// leaves of a kind are merged into one `where` (so a value merged again in every unrolled
// iteration does not grow), and each kind gets the condition that it is the one held.
std::optional<AValue> Tracer::make_select(ir::ValueId cond, const AValue& a, const AValue& b, std::string& why) {
  ir::Graph& g = trace_.graph;
  const ir::Type bt = ir::Type::scalar(ir::DType::Bool);
  struct Part {
    Kind kind;
    ir::ValueId held;  // bool[]: this kind is the one held
    AValue value;      // its value (anything when not held)
  };
  std::vector<Part> parts;
  std::function<bool(const AValue&, ir::ValueId, bool)> add = [&](const AValue& v, ir::ValueId c, bool neg) -> bool {
    // `c` (negated when neg) is the condition under which v is the value held.
    if (v.kind == AValue::Kind::Select) {
      ir::ValueId ct = v.items[0].v;
      ir::ValueId cf = g.add_op(ir::Op::Not, bt, {ct}, loc_);
      ir::ValueId base = neg ? g.add_op(ir::Op::Not, bt, {c}, loc_) : c;
      return add(v.items[1], g.add_op(ir::Op::And, bt, {base, ct}, loc_), false) &&
             add(v.items[2], g.add_op(ir::Op::And, bt, {base, cf}, loc_), false);
    }
    ir::ValueId held = neg ? g.add_op(ir::Op::Not, bt, {c}, loc_) : c;
    auto k = scalar_kind(v);
    if (!k) {
      why = fmt::format("{} in one arm", describe_kind(v));
      return false;
    }
    for (Part& p : parts) {
      if (p.kind != *k) continue;
      auto m = merge_values(v, p.value, held, why);  // held ? v : the earlier leaves'
      if (!m) return false;
      p.value = std::move(*m);
      p.held = g.add_op(ir::Op::Or, bt, {p.held, held}, loc_);
      return true;
    }
    parts.push_back({*k, held, v});
    return true;
  };
  if (!add(a, cond, false) || !add(b, cond, true)) return std::nullopt;
  if (parts.size() == 1) return parts[0].value;
  if (parts.size() > 4) {
    why = fmt::format("{} in one arm and {} in the other (too many possible types)", describe_kind(a), describe_kind(b));
    return std::nullopt;
  }
  AValue r = parts.back().value;
  for (size_t i = parts.size() - 1; i-- > 0;) {
    AValue s;
    s.kind = AValue::Kind::Select;
    s.items = {tensor(parts[i].held, Box::NpScalar), parts[i].value, std::move(r)};
    s.source = Source::computed();
    r = std::move(s);
  }
  return r;
}

const char* Tracer::speculative_impurity(const Instruction& next) const {
  switch (next.op) {
    case COp::StoreSubscr: {
      // Into an array: the callers write where(condition, new, old) (guarded_value).
      const auto& st = fr().stack;
      if (st.size() >= 3 && st[st.size() - 2].is_tensor() && st[st.size() - 2].box == Box::Array) return nullptr;
      return "a store into a container";
    }
    case COp::DeleteSubscr: return "a deletion from a container";
    case COp::StoreAttr:
    case COp::StoreGlobal:
    case COp::StoreDeref:
    case COp::DeleteDeref: return "an assignment to an attribute, global or closure variable";
    case COp::GetIter:
    case COp::ForIter: return "a loop";
    case COp::RaiseVarargs: return "a raise";
    default: return nullptr;
  }
}

std::optional<AValue> Tracer::merge_values(const AValue& a, const AValue& b, ir::ValueId cond, std::string& why) {
  if (same_value(a, b)) return a;
  if (a.kind == AValue::Kind::Tuple && b.kind == AValue::Kind::Tuple && a.is_list == b.is_list &&
      a.items.size() == b.items.size()) {
    // Python containers built in both arms (`a, b = (x, y) if c else (y, x)`): item by item
    // (a list is a new object either way, so nothing can tell the two apart but the items).
    AValue t = a;
    for (size_t i = 0; i < a.items.size(); ++i) {
      auto m = merge_values(a.items[i], b.items[i], cond, why);
      if (!m) return std::nullopt;
      t.items[i] = std::move(*m);
    }
    return t;
  }
  auto ka = scalar_kind(a), kb = scalar_kind(b);
  const bool sa = a.kind == AValue::Kind::Select && !a.items.empty();
  const bool sb = b.kind == AValue::Kind::Select && !b.items.empty();
  if ((ka || sa) && (kb || sb) && (sa || sb || *ka != *kb)) {
    // Scalars whose Python types differ: which one the code holds depends on the data, so
    // both are kept (each use decides whether that matters).
    return make_select(cond, a, b, why);
  }
  if (!ka || !kb || *ka != *kb) {
    why = fmt::format("{} in one arm and {} in the other", describe_kind(a), describe_kind(b));
    return std::nullopt;
  }
  auto x = to_ir(a, ka->dt);
  auto y = x ? to_ir(b, ka->dt) : std::nullopt;
  if (!y) return std::nullopt;
  AValue r = tensor(trace_.graph.add_op(ir::Op::Where, ir::Type::scalar(ka->dt), {cond, *x, *y}, loc_), box_of(ka->k));
  if (ka->k == ScalarKind::PyInt) {
    auto [alo, ahi] = int_bounds(a);
    auto [blo, bhi] = int_bounds(b);
    r.lo = std::min(alo, blo);
    r.hi = std::max(ahi, bhi);
  }
  return r;
}

bool Tracer::select_ufunc(const UfuncInfo& u, std::vector<AValue>& operands, bool python_operator, bool& handled) {
  handled = false;
  size_t k = 0;
  while (k < operands.size() && operands[k].kind != AValue::Kind::Select) ++k;
  if (k == operands.size()) return true;
  handled = true;
  const AValue sel = operands[k];
  if (sel.items.empty()) return fail(AbortCode::ControlFlow, "branch on array data: a name that may be unbound");
  AValue r[2];
  for (int arm = 0; arm < 2; ++arm) {  // (further Select operands are split by the recursion)
    std::vector<AValue> ops = operands;
    ops[k] = sel.items[static_cast<size_t>(1 + arm)];
    if (!apply_ufunc(u, std::move(ops), python_operator)) return false;
    r[arm] = pop();
  }
  ir::Graph& g = trace_.graph;
  const ir::ValueId cond = sel.items[0].v;
  if (r[0].is_tensor() && r[1].is_tensor() && r[0].box == Box::Array && r[1].box == Box::Array &&
      r[0].type == r[1].type && r[0].type.is_static() && r[0].view_root == ir::kNoValue &&
      r[1].view_root == ir::kNoValue) {
    // New arrays of one dtype and shape either way (`x * v`): nothing but their values differ.
    AValue out = r[0];
    ir::ValueId c = g.add_op(ir::Op::Broadcast, ir::Type(ir::DType::Bool, r[0].type.shape), {cond}, loc_);
    out.v = g.add_op(ir::Op::Where, r[0].type, {c, r[0].v, r[1].v}, loc_);
    push(std::move(out));
    return true;
  }
  std::string why;
  auto m = merge_values(r[0], r[1], cond, why);
  if (!m) {
    if (abort_) return false;
    return fail(AbortCode::ControlFlow,
                fmt::format("branch on array data: '{}' of {} gives {}", u.name, describe_kind(sel),
                            why.empty() ? std::string("values of different types") : why));
  }
  push(std::move(*m));
  return true;
}

std::optional<ir::ValueId> Tracer::setitem_value(const AValue& value, ir::DType dt, std::string& why) {
  if (value.kind == AValue::Kind::Select && value.items.empty()) {
    why = "storing a name that may be unbound";
    return std::nullopt;
  }
  if (value.kind == AValue::Kind::Select) {
    auto a = setitem_value(value.items[1], dt, why);
    if (!a) return std::nullopt;
    auto b = setitem_value(value.items[2], dt, why);
    if (!b) return std::nullopt;
    return trace_.graph.add_op(ir::Op::Where, ir::Type::scalar(dt), {value.items[0].v, *a, *b}, loc_);
  }
  if (auto r = setitem_refusal(value, dt)) {
    why = std::move(*r);
    return std::nullopt;
  }
  return to_ir(value, dt);
}

bool Tracer::if_convert(const Instruction& in, ir::ValueId truth, bool keep_on_jump) {
  const size_t depth = frames_.size();
  const int fork_pc = fr().pc - 1;
  const int target = in.target;
  const int line = in.line;
  auto refuse = [&](const std::string& why) {
    cur_ = &in;  // the abort names the branch's line
    return fail(AbortCode::ControlFlow,
                fmt::format("branch on array data: {} (a branch on a runtime value is compiled only as a select: "
                            "both arms pure and meeting again)", why));
  };
  if (target <= fork_pc) return refuse("a backward conditional jump");
  // The state both arms start from.
  const std::vector<AValue> locals0 = fr().locals, stack0 = fr().stack;
  if (keep_on_jump) fr().stack.pop_back();  // the fall-through arm starts without the value
  std::vector<ir::ValueId> inputs0;
  for (const auto& [k, v] : inputs_by_source_) inputs0.push_back(v.v);
  // (effects in loop regions may stand in arms: performed under the arm's condition)
  const size_t effects0 = top_effect_count(), results0 = trace_.graph.results.size();
  const size_t checks0 = trace_.rerun_checks.size();
  const int64_t mutations0 = mutations_, guarded0 = guarded_mutations_;
  const size_t updates0 = arm_updates_.size();
  // Cond true selects the arm that runs when the branch's value is true.
  const bool fall_when_true = in.op == COp::PopJumpIfFalse || in.op == COp::JumpIfFalseOrPop;
  // Loop regions track which locals the body reads before writing them (a counter is read
  // first): after the branch a local counts as written only if both arms wrote it.
  std::vector<std::vector<int>> written0;
  for (const RegionFrame& r : regions_) written0.push_back(r.reads.written);

  // Instructions an arm may not run (checked before each one, in inlined callees too).
  std::string impure;
  auto forbidden = [&]() {
    int pc = fr().pc;
    if (pc < 0 || pc >= static_cast<int>(fr().instrs.size())) return false;  // interpret reports it
    const Instruction& next = fr().instrs[static_cast<size_t>(pc)];
    const char* why = nullptr;
    if (next.op == COp::ReturnValue) {
      if (frames_.size() > depth) return false;  // an inlined callee returning into the arm
      why = "a return";
    } else if (next.op == COp::StoreSubscr && !regions_.empty()) {
      // Into a plain dict or list inside a loop region: a deferred effect under the arm's
      // condition (effects.cpp), performed only in the iterations that take this arm.
      const auto& st = fr().stack;
      const bool deferred = st.size() >= 3 && st[st.size() - 2].is_object() &&
                            (PyDict_CheckExact(st[st.size() - 2].obj) || PyList_CheckExact(st[st.size() - 2].obj));
      if (!deferred) why = speculative_impurity(next);
    } else {
      why = speculative_impurity(next);
    }
    if (!why) return false;
    impure = fmt::format("an arm at line {} contains {}", next.line, why);
    return true;
  };
  auto check_pure = [&]() -> bool {
    if (!impure.empty()) return refuse(impure);
    // (Results the arm added for its rerun checks are fine: add_rerun_check conditions them on
    // the arm.)
    if (top_effect_count() != effects0 || !only_check_results(results0, checks0))
      return refuse(fmt::format("an arm of the branch at line {} has side effects", line));
    // Stores under the arm's condition are fine (and change the inputs they write); other
    // in-place updates are not.
    bool changed = mutations_ - mutations0 != guarded_mutations_ - guarded0;
    if (guarded_mutations_ == guarded0)
      for (size_t i = 0; i < inputs0.size(); ++i) changed |= inputs_by_source_[i].second.v != inputs0[i];
    if (changed) return refuse(fmt::format("an arm of the branch at line {} updates an array in place", line));
    return true;
  };

  // The fall-through arm: until it reaches the jump target or jumps past it or back (the join),
  // or returns. CPython copies a short tail ending in a return into both arms (`return a if c
  // else b`, 3.12's `y = a if c else b; return y`): when both arms return from this frame, the
  // returns are the join, and the merged value is returned once.
  auto is_return = [&](int pc) {
    return pc >= 0 && pc < static_cast<int>(fr().instrs.size()) &&
           fr().instrs[static_cast<size_t>(pc)].op == COp::ReturnValue;
  };
  // An array stored into in one arm is the stored-into value from then on (in the other arm's
  // starting state and at the join).
  auto renew = [&](std::vector<AValue>& values, size_t from, size_t to) {
    std::function<void(AValue&)> f = [&](AValue& v) {
      for (AValue& it : v.items) f(it);
      if (!v.is_tensor()) return;
      for (size_t k = from; k < to; ++k)
        if (v.v == arm_updates_[k].first) {
          v.v = arm_updates_[k].second;
          v.type = trace_.graph.type(v.v);
        }
    };
    for (AValue& v : values) f(v);
  };
  int join = -1;
  bool fall_returns = false;
  arm_conds_.emplace_back(truth, !fall_when_true);  // the fall-through arm's condition
  ++speculative_;  // both arms run in the compiled code: no while loop may start in one
  // Each arm sees the runtime ints narrowed by its side of the test (`if j > 0: s += a[j - 1]`),
  // clamped (both arms run); locals the arm leaves as they were get their value back.
  std::vector<std::pair<size_t, AValue>> refined_fall, refined_jump;
  refine_ranges(truth, fall_when_true, true, &refined_fall);
  const std::vector<AValue> fall_refined = fr().locals;
  interpret([&] {
    if (frames_.size() == depth) {
      int pc = fr().pc;
      if (pc >= target || pc <= fork_pc) return join = pc, true;
      if (is_return(pc)) return join = pc, fall_returns = true, true;
    }
    return forbidden();
  });
  arm_conds_.pop_back();
  --speculative_;
  if (abort_) return false;
  if (!check_pure()) return false;
  if (returned_ || join < 0 || frames_.size() != depth) return refuse("an arm leaves the function");
  undo_refine(fr().locals, refined_fall, fall_refined);
  const size_t updates1 = arm_updates_.size();
  std::vector<AValue> fall_locals = std::move(fr().locals), fall_stack = std::move(fr().stack);
  std::vector<std::vector<int>> fall_written;
  for (size_t r = 0; r < regions_.size(); ++r) {
    fall_written.push_back(std::move(regions_[r].reads.written));
    regions_[r].reads.written = written0[r];
  }

  // The jump arm, from the same state: it must arrive at the same join.
  fr().locals = locals0;
  fr().stack = stack0;
  renew(fr().locals, updates0, updates1);
  renew(fr().stack, updates0, updates1);
  fr().pc = target;
  bool stray = false;
  arm_conds_.emplace_back(truth, fall_when_true);  // the jump arm's condition
  ++speculative_;
  refine_ranges(truth, !fall_when_true, true, &refined_jump);
  const std::vector<AValue> jump_refined = fr().locals;
  interpret([&] {
    if (frames_.size() == depth) {
      int pc = fr().pc;
      if (fall_returns) {
        if (is_return(pc)) return join = pc, true;
        if (pc < target) return stray = true;
      } else {
        if (pc == join) return true;
        if (pc < target || (join >= target && pc > join)) return stray = true;
      }
    }
    return forbidden();
  });
  arm_conds_.pop_back();
  --speculative_;
  if (abort_) return false;
  if (!check_pure()) return false;
  if (returned_ || frames_.size() != depth) return refuse("an arm leaves the function");
  undo_refine(fr().locals, refined_jump, jump_refined);
  renew(fall_locals, updates1, arm_updates_.size());
  renew(fall_stack, updates1, arm_updates_.size());
  if (arm_conds_.empty()) arm_updates_.clear();  // (the outermost branch: nothing refers to them)
  if (stray) return refuse(fmt::format("the arms of the branch at line {} do not meet at one point", line));
  if (fall_returns) fall_locals = fr().locals;  // dead after the return: only the stack merges
  if (fall_stack.size() != fr().stack.size() || fall_locals.size() != fr().locals.size())
    return refuse(fmt::format("the arms of the branch at line {} leave different stack depths", line));

  for (size_t r = 0; r < regions_.size(); ++r) {
    std::vector<int> both = written0[r];
    for (int l : regions_[r].reads.written)
      if (std::count(fall_written[r].begin(), fall_written[r].end(), l)) both.push_back(l);
    regions_[r].reads.written = std::move(both);
  }
  // Merge: `cond` true selects the arm that runs when the branch's value is true.
  auto merge = [&](std::vector<AValue>& fall, std::vector<AValue>& jump, bool locals) -> bool {
    for (size_t i = 0; i < jump.size(); ++i) {
      std::string why;
      const AValue& t = fall_when_true ? fall[i] : jump[i];
      const AValue& e = fall_when_true ? jump[i] : fall[i];
      auto unbound = [](const AValue& v) {
        return v.kind == AValue::Kind::Null || (v.kind == AValue::Kind::Select && v.items.empty());
      };
      if (locals && (unbound(t) || unbound(e)) && !same_value(t, e)) {
        // Bound in one arm only (a temporary, `t = x[i]` of a swap): reading it later fails.
        jump[i] = AValue{};
        jump[i].kind = AValue::Kind::Select;  // (without items: see op_load_fast)
        continue;
      }
      auto m = merge_values(t, e, truth, why);
      if (!m) {
        if (abort_) return false;
        return refuse(fmt::format("after the branch at line {}, {} is {}", line,
                                  locals ? fmt::format("'{}'", local_name(static_cast<int>(i))) : "a stack value", why));
      }
      jump[i] = std::move(*m);
    }
    return true;
  };
  if (!merge(fall_locals, fr().locals, true) || !merge(fall_stack, fr().stack, false)) return false;
  fr().pc = join;
  return true;
}

bool Tracer::op_jump_or_pop(const Instruction& in) {
  // 3.11's `a and b` / `a or b` as values: jump keeping the value, or pop it and go on.
  const AValue v = fr().stack.back();
  if (auto c = runtime_truth(v)) return if_convert(in, *c, true);
  auto t = truth(v);
  if (!t) return false;
  if (in.op == COp::JumpIfTrueOrPop ? *t : !*t) fr().pc = in.target;
  else pop();
  return true;
}

bool Tracer::test_consumer() const {
  auto at = [&](int k) {
    int pc = fr().pc + k;
    return pc < static_cast<int>(fr().instrs.size()) ? fr().instrs[static_cast<size_t>(pc)].op : COp::Unsupported;
  };
  int k = at(0) == COp::ToBool ? 1 : 0;
  return at(k) == COp::PopJumpIfFalse || at(k) == COp::PopJumpIfTrue;
}

bool Tracer::pyint_fits(const AValue& v, ir::DType dt) {
  if (!v.is_tensor() || v.box != Box::PyInt || dt == ir::DType::I64 || ir::is_bool(dt)) return true;
  if (ir::is_float(dt)) {  // exactly representable: no rounding question at all
    const int64_t lim = dt == ir::DType::F32 ? int64_t{1} << 24 : int64_t{1} << 53;
    return v.lo >= -lim && v.hi <= lim;
  }
  return v.lo >= int_min(dt) && (v.hi < 0 || static_cast<unsigned long long>(v.hi) <= int_max(dt));
}

namespace {
// Python's floor division and modulo (toward -inf; the remainder has the divisor's sign).
__int128 py_floordiv(__int128 a, __int128 b) {
  __int128 q = a / b;
  if ((a % b != 0) && ((a < 0) != (b < 0))) --q;
  return q;
}
// a ** b for b >= 0, saturated to +-2^100 (far outside int64: only the bounds need it).
__int128 py_pow(__int128 a, __int128 b) {
  if (a == 0) return b == 0 ? 1 : 0;
  if (a == 1) return 1;
  if (a == -1) return b % 2 == 0 ? 1 : -1;
  const __int128 cap = static_cast<__int128>(1) << 100;
  __int128 r = 1;
  for (__int128 k = 0; k < b; ++k) {  // |a| >= 2: at most ~100 steps
    r *= a;
    if (r > cap) return cap;
    if (r < -cap) return -cap;
  }
  return r;
}
bool is_compare(ir::Op op) {
  return op == ir::Op::Eq || op == ir::Op::Ne || op == ir::Op::Lt || op == ir::Op::Le || op == ir::Op::Gt ||
         op == ir::Op::Ge;
}
}  // namespace

AValue Tracer::python_bool(ir::ValueId cond) {
  // A Python bool known only at run time: a Select of the two constants (ifconv.cpp), so its
  // truth, stores and arithmetic (True + 1 is 2) follow Python while its type never shows.
  AValue s;
  s.kind = AValue::Kind::Select;
  s.items = {tensor(cond, Box::NpScalar), object(Py_True, Source::constant()), object(Py_False, Source::constant())};
  s.source = Source::computed();
  return s;
}

bool Tracer::pyint_op(const UfuncInfo& u, std::vector<AValue>& operands, bool python_operator, bool& handled) {
  handled = false;
  bool any = false, python_only = true;
  for (const AValue& v : operands) {
    if (v.is_tensor()) {
      any |= v.box == Box::PyInt;
      python_only &= v.box == Box::PyInt || v.box == Box::PyFloat;
    } else {
      python_only &= v.is_object() && is_py_scalar(v.obj);
    }
  }
  // With a NumPy operand a runtime Python int is a weak scalar in NumPy's promotion
  // (apply_ufunc; to_ir checks that it converts exactly).
  if (!any || !python_only) return true;
  handled = true;
  if (!python_operator)
    return fail(AbortCode::UnsupportedValue, fmt::format("np.{} of a runtime Python int is not traced yet", u.name));
  ir::Graph& g = trace_.graph;
  ir::Op op = u.op;
  // Python's own int arithmetic: exact as long as the result stays in int64, which the bounds
  // decide at trace time; a divisor that may be 0 (ZeroDivisionError) is not compiled.
  std::vector<std::pair<__int128, __int128>> b;
  bool any_float = false;
  for (const AValue& v : operands) {
    auto k = scalar_kind(v);
    if (v.is_object() && PyBool_Check(v.obj)) k = Kind{ScalarKind::PyInt, ir::DType::I64};  // int + True
    if (k && k->k == ScalarKind::PyFloat) {
      any_float = true;
      b.emplace_back(0, 0);
      continue;
    }
    if (!k || k->k != ScalarKind::PyInt)
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("'{}' of a runtime Python int and {} is not traced yet", u.name, describe_kind(v)));
    auto [lo, hi] = int_bounds(v);
    b.emplace_back(lo, hi);
  }
  auto may_be_zero = [&](size_t i) {
    const AValue& v = operands[i];
    if (v.is_object() && PyFloat_CheckExact(v.obj)) return PyFloat_AS_DOUBLE(v.obj) == 0.0;
    if (v.is_tensor() && v.box == Box::PyFloat) return true;  // a runtime float may be 0
    return b[i].first <= 0 && b[i].second >= 0;
  };
  if (any_float || op == ir::Op::Div) {
    // With a Python float (or int / int): float arithmetic on the ints converted exactly
    // (to_ir refuses ints beyond 2**53); only the operators that cannot raise.
    bool ok = operands.size() == 2 &&
              (op == ir::Op::Add || op == ir::Op::Sub || op == ir::Op::Mul || is_compare(op) ||
               (op == ir::Op::Div && !may_be_zero(1)));
    if (!ok)
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("'{}' of a runtime Python int and a float{} is not traced yet", u.name,
                              op == ir::Op::Div ? " (a divisor that may be 0)" : ""));
    std::vector<ir::ValueId> ins;
    for (const AValue& v : operands) {
      auto x = to_ir(v, ir::DType::F64);
      if (!x) return false;
      ins.push_back(*x);
    }
    if (is_compare(op)) {
      push(python_bool(g.add_op(op, ir::Type::scalar(ir::DType::Bool), ins, loc_)));
      return true;
    }
    push(tensor(g.add_op(op, ir::Type::scalar(ir::DType::F64), ins, loc_), Box::PyFloat));
    return true;
  }
  std::vector<ir::ValueId> ins;
  for (const AValue& v : operands) {
    auto x = to_ir(v, ir::DType::I64);
    if (!x) return false;
    ins.push_back(*x);
  }
  if (operands.size() == 2 && is_compare(op)) {
    push(python_bool(g.add_op(op, ir::Type::scalar(ir::DType::Bool), ins, loc_)));
    return true;
  }
  __int128 lo = 0, hi = 0;
  auto corners = [&](auto&& f) {
    __int128 c[4];
    int n = 0;
    for (__int128 x : {b[0].first, b[0].second})
      for (__int128 y : {b[1].first, b[1].second}) c[n++] = f(x, y);
    lo = *std::min_element(c, c + 4);
    hi = *std::max_element(c, c + 4);
  };
  // The smallest k with -2**k <= every value < 2**k: bit operations stay in that range.
  auto bits = [&]() {
    int k = 0;
    for (auto [l, h] : b)
      while (l < -(static_cast<__int128>(1) << k) || h >= (static_cast<__int128>(1) << k)) ++k;
    return k;
  };
  if (operands.size() == 2 && (op == ir::Op::Add || op == ir::Op::Sub || op == ir::Op::Mul)) {
    corners([&](__int128 x, __int128 y) { return op == ir::Op::Add ? x + y : op == ir::Op::Sub ? x - y : x * y; });
  } else if (operands.size() == 2 && (op == ir::Op::FloorDiv || op == ir::Op::Mod)) {
    if (may_be_zero(1))
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("'{}' by a runtime Python int that may be 0 (ZeroDivisionError) is not compiled",
                              op == ir::Op::FloorDiv ? "//" : "%"));
    if (op == ir::Op::FloorDiv) {  // monotonic in each operand while the divisor keeps its sign
      corners([](__int128 x, __int128 y) { return py_floordiv(x, y); });
    } else if (b[1].first > 0) {  // the divisor's sign; a dividend within [0, divisor) is itself
      lo = 0, hi = b[1].second - 1;
      if (b[0].first >= 0) hi = std::min(hi, b[0].second);
    } else {
      lo = b[1].first + 1, hi = 0;
      if (b[0].second <= 0) lo = std::max(lo, b[0].first);
    }
  } else if (operands.size() == 2 && op == ir::Op::Pow) {
    if (b[1].first < 0)
      return fail(AbortCode::UnsupportedValue, "'**' of a runtime Python int with an exponent that may be negative (a float)");
    if (b[0].first < 0 && b[1].first != b[1].second)
      return fail(AbortCode::UnsupportedValue, "'**' of a runtime Python int that may be negative to a runtime power");
    if (b[0].first < 0) {  // a constant exponent e: x ** e is monotonic (odd e) or even
      const __int128 e = b[1].first, l = b[0].first, h = b[0].second;
      if (e == 0) {
        lo = hi = 1;
      } else if (e % 2 == 1) {
        lo = py_pow(l, e), hi = py_pow(h, e);
      } else {
        const __int128 al = -l, ah = h < 0 ? -h : h;  // |x| over the range: up to max(al, ah)
        hi = py_pow(std::max(al, ah), e);
        lo = h >= 0 ? 0 : py_pow(ah, e);
      }
    } else {  // monotonic in each operand for a >= 0
      corners([](__int128 x, __int128 y) { return py_pow(x, y); });
      if (b[0].first == 0 && b[1].first == 0) hi = std::max<__int128>(hi, 1);
    }
  } else if (operands.size() == 2 && (op == ir::Op::And || op == ir::Op::Or || op == ir::Op::Xor)) {
    int k = bits();  // two's complement in k + 1 bits: the result too
    lo = -(static_cast<__int128>(1) << k), hi = (static_cast<__int128>(1) << k) - 1;
    if (b[0].first >= 0 && b[1].first >= 0) lo = 0;
    if (op == ir::Op::And && b[0].first >= 0) hi = std::min(hi, b[0].second), lo = 0;
    if (op == ir::Op::And && b[1].first >= 0) hi = std::min(hi, b[1].second), lo = 0;
  } else if (operands.size() == 1 && op == ir::Op::Not) {  // ~x == -x - 1
    lo = -b[0].second - 1, hi = -b[0].first - 1;
  } else if (operands.size() == 1 && op == ir::Op::Neg) {
    lo = -b[0].second, hi = -b[0].first;
  } else if (operands.size() == 1 && op == ir::Op::Cast) {  // unary +
    lo = b[0].first, hi = b[0].second;
  } else if (operands.size() == 1 && op == ir::Op::Abs) {
    __int128 a = b[0].first < 0 ? -b[0].first : b[0].first, c = b[0].second < 0 ? -b[0].second : b[0].second;
    hi = std::max(a, c);
    lo = b[0].first <= 0 && b[0].second >= 0 ? 0 : std::min(a, c);
  } else {
    return fail(AbortCode::UnsupportedValue, fmt::format("'{}' on a runtime Python int is not traced yet", u.name));
  }
  if (lo < INT64_MIN || hi > INT64_MAX)
    return fail(AbortCode::UnsupportedValue, "a runtime Python int that may leave the int64 range");
  ir::ValueId r = op == ir::Op::Cast ? ins[0] : g.add_op(op, ir::Type::scalar(ir::DType::I64), ins, loc_);
  AValue out = tensor(r, Box::PyInt);
  out.lo = static_cast<int64_t>(lo);
  out.hi = static_cast<int64_t>(hi);
  push(std::move(out));
  return true;
}

bool Tracer::builtin_minmax(bool is_max, const std::string& fname, std::vector<AValue>& args) {
  std::vector<AValue> items = args;
  for (AValue& v : items)  // min(i, n - 1): the loop variable as a Python int
    if (!loop_index_as_int(v)) return false;
  if (args.size() == 1) {
    if (args[0].kind != AValue::Kind::Tuple)
      return fail(AbortCode::UnsupportedCall, fmt::format("{}() over the items of {} is not traced yet", fname, what(args[0])));
    items = args[0].items;
  }
  if (items.empty()) return fail(AbortCode::UserError, fmt::format("ValueError: {}() arg is an empty sequence", fname));
  bool all_objects = true;
  for (const AValue& v : items) all_objects &= v.is_object();
  if (all_objects) {  // min((1, 2)): constants, computed now
    PyObject* t = PyTuple_New(static_cast<Py_ssize_t>(items.size()));
    for (size_t i = 0; i < items.size(); ++i) {
      Py_INCREF(items[i].obj);
      PyTuple_SET_ITEM(t, static_cast<Py_ssize_t>(i), items[i].obj);
    }
    PyObject* f = PyDict_GetItemString(fr().builtins, is_max ? "max" : "min");  // call_builtin matched it
    PyObject* r = f ? PyObject_CallFunctionObjArgs(f, t, nullptr) : nullptr;
    Py_DECREF(t);
    if (!r) return fail(AbortCode::UserError, fmt::format("{}() raises {}", fname, exception_text()));
    push(object(r, Source::constant()));
    Py_DECREF(r);
    return true;
  }
  if (items.size() == 1) {  // min((x,)) is x itself
    push(items[0]);
    return true;
  }
  // Python's loop: the first item, replaced by each later one that compares less (greater).
  // The result is one of the items, so they must all be of one kind and dtype for its type not
  // to depend on the data (a NaN stays or is skipped exactly as the comparisons say).
  std::optional<Kind> k0;
  for (const AValue& v : items) {
    auto k = scalar_kind(v);
    if (!k)
      return fail(AbortCode::UnsupportedCall,
                  fmt::format("{}() of {} and runtime values is not traced yet (only scalars)", fname, describe_kind(v)));
    if (k0 && *k != *k0)
      return fail(AbortCode::UnsupportedCall,
                  fmt::format("{}() of {} and {} (which one it returns, and so the result's type, depends on the data)",
                              fname, describe_kind(items[0]), describe_kind(v)));
    k0 = k;
  }
  ir::Graph& g = trace_.graph;
  const ir::Type st = ir::Type::scalar(k0->dt);
  auto cur = to_ir(items[0], k0->dt);
  if (!cur) return false;
  int64_t lo = INT64_MAX, hi = INT64_MIN;
  for (size_t i = 0; i < items.size(); ++i) {
    if (k0->k == ScalarKind::PyInt) {
      auto [l, h] = int_bounds(items[i]);
      lo = std::min(lo, l), hi = std::max(hi, h);
    }
    if (i == 0) continue;
    auto x = to_ir(items[i], k0->dt);
    if (!x) return false;
    ir::ValueId c = g.add_op(is_max ? ir::Op::Gt : ir::Op::Lt, ir::Type::scalar(ir::DType::Bool), {*x, *cur}, loc_);
    cur = g.add_op(ir::Op::Where, st, {c, *x, *cur}, loc_);
  }
  AValue r = tensor(*cur, box_of(k0->k));
  if (k0->k == ScalarKind::PyInt) r.lo = lo, r.hi = hi;
  push(std::move(r));
  return true;
}

}  // namespace tracejit::tracer::detail
