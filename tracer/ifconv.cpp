// Branches on runtime scalars (if-conversion), runtime Python ints, and min()/max() of runtime
// scalars: what scalar dynamic-programming code needs (`cost = 0 if a[i] == b[j] else 1`,
// `D[i, j] = min(D[i - 1, j] + 1, ...)`) to trace without a data-dependent branch.
//
// If-conversion: at a conditional jump on a runtime value both arms are traced, one after the
// other from the same state, up to the point where they meet; every local and stack slot that
// differs is then a `where(cond, then, else)`. That is exact only when nothing but those slots
// can tell which arm ran, so the arms must be pure — no stores into arrays or containers, no
// in-place updates, no deferred effects, no raises or loops, no return unless both arms return
// (then the returns are the join) — and each merged pair
// must have the same kind and type (a Python int from both arms is a runtime Python int, a
// NumPy scalar only merges with one of the same dtype): the result's type may not depend on
// the data. Anything else aborts with the reason, as a branch on array data did before.
#include "tracer/tracer_impl.h"

#include <algorithm>

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

std::optional<ir::ValueId> Tracer::runtime_truth(const AValue& v) {
  if (!v.is_tensor() || !v.type.is_scalar() || !v.type.is_static()) return std::nullopt;
  ir::Graph& g = trace_.graph;
  ir::DType dt = v.type.dtype;
  if (ir::is_bool(dt)) return v.v;
  // bool(x) is x != 0 for every number (NaN is true, -0.0 false).
  ir::ValueId zero = ir::is_float(dt) ? g.add_const_float(dt, 0.0, loc_) : g.add_const_int(dt, 0, loc_);
  return g.add_op(ir::Op::Ne, ir::Type::scalar(ir::DType::Bool), {v.v, zero}, loc_);
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
  const size_t effects0 = effect_count(), results0 = trace_.graph.results.size();
  const int64_t mutations0 = mutations_;
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
    switch (next.op) {
      case COp::StoreSubscr:
      case COp::DeleteSubscr: impure = "a store into an array or container"; break;
      case COp::StoreAttr:
      case COp::StoreGlobal:
      case COp::StoreDeref: impure = "an assignment to an attribute, global or closure variable"; break;
      case COp::GetIter:
      case COp::ForIter: impure = "a loop"; break;
      case COp::RaiseVarargs: impure = "a raise"; break;
      case COp::ReturnValue:
        if (frames_.size() > depth) return false;  // an inlined callee returning into the arm
        impure = "a return";
        break;
      default: return false;
    }
    impure = fmt::format("an arm at line {} contains {}", next.line, impure);
    return true;
  };
  auto check_pure = [&]() -> bool {
    if (!impure.empty()) return refuse(impure);
    if (effect_count() != effects0 || trace_.graph.results.size() != results0)
      return refuse(fmt::format("an arm of the branch at line {} has side effects", line));
    bool changed = mutations_ != mutations0;
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
  int join = -1;
  bool fall_returns = false;
  ++speculative_;  // both arms run in the compiled code: no while loop may start in one
  interpret([&] {
    if (frames_.size() == depth) {
      int pc = fr().pc;
      if (pc >= target || pc <= fork_pc) return join = pc, true;
      if (is_return(pc)) return join = pc, fall_returns = true, true;
    }
    return forbidden();
  });
  --speculative_;
  if (abort_) return false;
  if (!check_pure()) return false;
  if (returned_ || join < 0 || frames_.size() != depth) return refuse("an arm leaves the function");
  std::vector<AValue> fall_locals = std::move(fr().locals), fall_stack = std::move(fr().stack);
  std::vector<std::vector<int>> fall_written;
  for (size_t r = 0; r < regions_.size(); ++r) {
    fall_written.push_back(std::move(regions_[r].reads.written));
    regions_[r].reads.written = written0[r];
  }

  // The jump arm, from the same state: it must arrive at the same join.
  fr().locals = locals0;
  fr().stack = stack0;
  fr().pc = target;
  bool stray = false;
  ++speculative_;
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
  --speculative_;
  if (abort_) return false;
  if (!check_pure()) return false;
  if (returned_ || frames_.size() != depth) return refuse("an arm leaves the function");
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
  const bool fall_when_true = in.op == COp::PopJumpIfFalse || in.op == COp::JumpIfFalseOrPop;
  auto merge = [&](std::vector<AValue>& fall, std::vector<AValue>& jump, bool locals) -> bool {
    for (size_t i = 0; i < jump.size(); ++i) {
      std::string why;
      const AValue& t = fall_when_true ? fall[i] : jump[i];
      const AValue& e = fall_when_true ? jump[i] : fall[i];
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
  // Python's own int arithmetic: exact as long as the result stays in int64, which the bounds
  // decide at trace time.
  std::vector<std::pair<__int128, __int128>> b;
  for (const AValue& v : operands) {
    auto k = scalar_kind(v);
    if (!k || k->k != ScalarKind::PyInt)
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("'{}' of a runtime Python int and {} is not traced yet", u.name, describe_kind(v)));
    auto [lo, hi] = int_bounds(v);
    b.emplace_back(lo, hi);
  }
  __int128 lo = 0, hi = 0;
  ir::Op op = u.op;
  if (operands.size() == 2 && ir::has_trait(op, ir::kCompare)) {
    // A comparison makes a Python bool, which only a conditional jump may consume here (a
    // loop test, an if-converted branch): as a value it would be a NumPy bool instead.
    if (!test_consumer())
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("'{}' of a runtime Python int kept as a value is not traced yet (only as a branch's test)", u.name));
    auto x = to_ir(operands[0], ir::DType::I64);
    auto y = x ? to_ir(operands[1], ir::DType::I64) : std::nullopt;
    if (!y) return false;
    push(tensor(trace_.graph.add_op(op, ir::Type::scalar(ir::DType::Bool), {*x, *y}, loc_), Box::NpScalar));
    return true;
  }
  if (operands.size() == 2 && (op == ir::Op::Add || op == ir::Op::Sub || op == ir::Op::Mul)) {
    __int128 c[4];
    int n = 0;
    for (__int128 x : {b[0].first, b[0].second})
      for (__int128 y : {b[1].first, b[1].second})
        c[n++] = op == ir::Op::Add ? x + y : op == ir::Op::Sub ? x - y : x * y;
    lo = *std::min_element(c, c + 4);
    hi = *std::max_element(c, c + 4);
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
  std::vector<ir::ValueId> ins;
  for (const AValue& v : operands) {
    auto x = to_ir(v, ir::DType::I64);
    if (!x) return false;
    ins.push_back(*x);
  }
  ir::ValueId r = op == ir::Op::Cast ? ins[0] : trace_.graph.add_op(op, ir::Type::scalar(ir::DType::I64), ins, loc_);
  AValue out = tensor(r, Box::PyInt);
  out.lo = static_cast<int64_t>(lo);
  out.hi = static_cast<int64_t>(hi);
  push(std::move(out));
  return true;
}

bool Tracer::builtin_minmax(bool is_max, const std::string& fname, std::vector<AValue>& args) {
  std::vector<AValue> items = args;
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
