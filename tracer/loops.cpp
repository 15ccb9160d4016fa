// Loop regions: a `for` loop over a long range is traced once, as the body of an IR `loop` op,
// instead of being unrolled — so compile time does not grow with the trip count.
//
// At loop entry every live array value (locals and stacks of all frames, inputs read so far)
// becomes a param of the body graph ("captured"); the body is interpreted for one iteration with
// the loop variable as an unknown (LoopIndex); at the back edge the live values are compared with
// the entry: values that changed are loop-carried (their types must not change), values that
// did not are loop-invariant operands. Anything the region cannot express — the body reads the
// loop variable, rebinds a Python object (a counter), changes a dtype or shape, breaks out,
// returns, has side effects — fails the region: the trace starts over with that loop unrolled
// (trace_function), and the reason is kept as a loop note for diagnostics.
#include "tracer/tracer_impl.h"

#include <algorithm>
#include <map>

namespace tracejit::tracer::detail {
namespace {

// Whether a local holds the same value at a break and at the end of the body.
bool same_slot(const AValue& a, const AValue& b) {
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case AValue::Kind::Null: return true;
    case AValue::Kind::Object: return a.obj == b.obj;
    case AValue::Kind::Tensor: return a.v == b.v && a.type == b.type && a.box == b.box;
    case AValue::Kind::LoopIndex:
      return a.arg == b.arg && a.ia == b.ia && a.ib == b.ib && a.method == b.method && a.length == b.length &&
             a.sa == b.sa && a.sb == b.sb && a.stop_open == b.stop_open;
    case AValue::Kind::Iterator: return a.obj == b.obj && a.arg == b.arg;
    default: return false;
  }
}

// Every abstract value reachable from `vs`, depth first (containers before their items).
void flatten(std::vector<AValue>& vs, std::vector<AValue*>& out) {
  for (AValue& v : vs) {
    out.push_back(&v);
    flatten(v.items, out);
  }
}

// How the body could read a slot: through local `i` of the loop's frame (kLocal + i), input
// `j` read again by its source (kInput + j), or not at all (kUnreadable).
constexpr int64_t kUnreadable = -1, kLocal = 0, kInput = int64_t{1} << 32;
void tag(std::vector<AValue>& vs, int64_t t, std::vector<int64_t>& out, bool per_item) {
  for (size_t i = 0; i < vs.size(); ++i) {
    int64_t ti = per_item ? t + static_cast<int64_t>(i) : t;
    out.push_back(ti);
    std::vector<AValue*> items;
    flatten(vs[i].items, items);
    out.insert(out.end(), items.size(), ti);
  }
}

// Removes the param nodes not in `keep`, renumbering values; params become `keep`, in order.
void compact_params(ir::Graph& g, const std::vector<ir::ValueId>& keep) {
  std::vector<char> kept_param(static_cast<size_t>(g.size()), 0);
  for (ir::ValueId p : keep) kept_param[static_cast<size_t>(p)] = 1;
  std::vector<ir::ValueId> remap(static_cast<size_t>(g.size()), ir::kNoValue);
  std::vector<ir::Node> nodes;
  for (ir::ValueId v = 0; v < g.size(); ++v) {
    if (g.node(v).op == ir::Op::Param && !kept_param[static_cast<size_t>(v)]) continue;
    remap[static_cast<size_t>(v)] = static_cast<ir::ValueId>(nodes.size());
    nodes.push_back(std::move(g.node(v)));
  }
  for (ir::Node& n : nodes)
    for (ir::ValueId& o : n.operands) o = remap[static_cast<size_t>(o)];
  g.nodes = std::move(nodes);
  g.params.clear();
  for (ir::ValueId p : keep) {
    ir::ValueId np = remap[static_cast<size_t>(p)];
    g.node(np).ints[0] = static_cast<int64_t>(g.params.size());
    g.params.push_back(np);
  }
  for (ir::ValueId& r : g.results) r = remap[static_cast<size_t>(r)];
}

// A dual float: a Select (ifconv.cpp) of {still the Python float, that float, np.float64} over
// one float64 value — the two types hold the same double; only NEP 50 and `type()` tell them
// apart, and every use of a Select applies each arm with its own type.
bool is_dual_float(const AValue& v) {
  const ir::Type f64 = ir::Type::scalar(ir::DType::F64);
  return v.kind == AValue::Kind::Select && v.items.size() == 3 && v.items[0].is_tensor() &&
         v.items[0].type == ir::Type::scalar(ir::DType::Bool) && v.items[1].is_tensor() &&
         v.items[1].box == Box::PyFloat && v.items[1].type == f64 && v.items[2].is_tensor() &&
         v.items[2].box == Box::NpScalar && v.items[2].type == f64 && v.items[1].v == v.items[2].v;
}

// Whether v is a Python float or np.float64 (or a Select of only those): (is Python, value).
std::optional<std::pair<ir::ValueId, ir::ValueId>> dual_parts(ir::Graph& g, const AValue& v, const ir::SourceLoc& loc) {
  const ir::Type f64 = ir::Type::scalar(ir::DType::F64), bt = ir::Type::scalar(ir::DType::Bool);
  if (v.is_object() && PyFloat_CheckExact(v.obj))
    return std::make_pair(g.add_const_int(ir::DType::Bool, 1, loc), g.add_const_float(ir::DType::F64, PyFloat_AS_DOUBLE(v.obj), loc));
  if (v.is_tensor() && v.type == f64 && v.view_root == ir::kNoValue && (v.box == Box::PyFloat || v.box == Box::NpScalar))
    return std::make_pair(g.add_const_int(ir::DType::Bool, v.box == Box::PyFloat ? 1 : 0, loc), v.v);
  if (v.kind != AValue::Kind::Select || v.items.size() != 3 || !v.items[0].is_tensor()) return std::nullopt;
  auto a = dual_parts(g, v.items[1], loc);
  auto b = a ? dual_parts(g, v.items[2], loc) : std::nullopt;
  if (!b) return std::nullopt;
  const ir::ValueId c = v.items[0].v;
  return std::make_pair(g.add_op(ir::Op::Where, bt, {c, a->first, b->first}, loc),
                        g.add_op(ir::Op::Where, f64, {c, a->second, b->second}, loc));
}

AValue dual_float(ir::ValueId is_py, ir::ValueId value) {
  AValue s;
  s.kind = AValue::Kind::Select;
  AValue c, p, n;
  c.kind = p.kind = n.kind = AValue::Kind::Tensor;
  c.v = is_py, c.type = ir::Type::scalar(ir::DType::Bool), c.box = Box::NpScalar;
  p.v = n.v = value, p.type = n.type = ir::Type::scalar(ir::DType::F64);
  p.box = Box::PyFloat, n.box = Box::NpScalar;
  c.source = p.source = n.source = Source::computed();
  s.items = {c, p, n};
  s.source = Source::computed();
  return s;
}

const char* box_name(Box b) {
  switch (b) {
    case Box::Array: return "array";
    case Box::NpScalar: return "NumPy scalar";
    case Box::PyFloat: return "Python float";
    case Box::PyInt: return "Python int";
  }
  return "?";
}

}  // namespace

ir::ValueId Tracer::capture(size_t level, ir::ValueId v) {
  RegionFrame& r = regions_[level];
  for (const auto& [o, p] : r.captures)
    if (o == v) return p;
  ir::Graph& body = level + 1 < regions_.size() ? regions_[level + 1].outer : trace_.graph;
  const ir::Type t = r.outer.type(v);
  ir::ValueId p = body.add_param(t, t.is_scalar() ? ir::ParamLayout::Scalar : ir::ParamLayout::Contiguous,
                                 r.outer.node(v).loc);
  r.captures.emplace_back(v, p);
  return p;
}

ir::ValueId Tracer::new_input_param(ir::Type t, ir::ParamLayout layout, const std::vector<int64_t>& axes) {
  ir::Graph& top = regions_.empty() ? trace_.graph : regions_[0].outer;
  ir::ValueId v = top.add_param(std::move(t), layout, loc_);
  std::vector<int64_t>& ints = top.node(v).ints;
  ints.insert(ints.end(), axes.begin(), axes.end());  // ParamLayout::Transposed
  if (regions_.empty()) return v;
  for (size_t l = 0; l < regions_.size(); ++l) {
    v = capture(l, v);
    // The caller records the input next, at this index of inputs_by_source_.
    regions_[l].input_params.emplace_back(inputs_by_source_.size(), v);
  }
  return v;
}

void Tracer::note_read(int local, int input) {
  for (RegionFrame& r : regions_) {
    if (local >= 0 && r.depth == frames_.size()) {
      r.reads.locals.push_back(local);
      if (std::find(r.reads.written.begin(), r.reads.written.end(), local) == r.reads.written.end())
        r.reads.read_first.push_back(local);
    }
    if (input >= 0) r.reads.inputs.push_back(input);
  }
}

void Tracer::note_write(int local) {
  for (RegionFrame& r : regions_)
    if (r.depth == frames_.size()) r.reads.written.push_back(local);
}

bool Tracer::promote_float(AValue& v) {
  if (!v.is_tensor() || v.box != Box::PyFloat || v.input < 0 || !v.pristine || !v.source ||
      !v.source->evaluable())
    return false;
  const InputBinding& in = trace_.inputs[static_cast<size_t>(v.input)];
  if (in.kind != InputBinding::Kind::PyFloat) return false;
  // Still the input's own value (floats are immutable, but the name may have been rebound).
  bool original = false;
  for (const auto& [k, cur] : inputs_by_source_) original |= cur.input == v.input && cur.v == v.v;
  if (!original) return false;
  PyObject* o = v.source->eval(args_);
  if (!o) return false;
  if (!PyFloat_CheckExact(o)) {
    Py_DECREF(o);
    return false;
  }
  Guard g;
  g.expected = o;
  guard_object(Guard::Kind::Value, v.source, std::move(g));
  v = object(o, v.source);
  Py_DECREF(o);
  return true;
}

bool Tracer::region_fail(std::string why) {
  // Inside a region (the only place a LoopIndex exists) the innermost loop then fails and is
  // unrolled on the next trace.
  return fail(AbortCode::ControlFlow, "loop region: " + std::move(why));
}

bool Tracer::loop_region(int for_pc, AValue& it_ref) {
  RegionShape shape;
  shape.head_pc = for_pc;
  shape.line = fr().instrs[static_cast<size_t>(for_pc)].line;
  shape.it = &it_ref;
  return region(shape);
}

bool Tracer::while_region(int test_pc, int body_pc, int back_pc, int exit_pc, ir::ValueId cond0,
                          std::vector<SlotFact> facts) {
  RegionShape shape;
  shape.facts = std::move(facts);
  shape.is_while = true;
  shape.head_pc = body_pc;
  shape.back_pc = back_pc;
  shape.exit_pc = exit_pc;
  shape.line = fr().instrs[static_cast<size_t>(test_pc)].line;
  shape.cond0 = cond0;
  return region(shape);
}

bool Tracer::region(const RegionShape& shape) {
  const bool is_while = shape.is_while;
  const int for_pc = shape.head_pc;  // FOR_ITER, or the while body's first instruction
  LoopKey key = is_while ? while_key(fr().code, shape.head_pc) : LoopKey{fr().code, for_pc};
  const size_t depth = frames_.size();
  const size_t it_index = fr().stack.size() - 1;  // the iterator (stacks may reallocate)
  const int64_t trip = is_while ? 0 : shape.it->length;
  const ir::SourceLoc loop_loc = loc_;
  std::string where = fmt::format("{}:{}", PyUnicode_AsUTF8(fr().code->co_filename), shape.line);
  auto give_up = [&](const std::string& why) {
    if (is_while) {  // nothing to fall back to: the trace fails (the function runs eagerly)
      loop_notes_.push_back(fmt::format("{}: while loop not compiled: {}", where, why));
      return fail(AbortCode::ControlFlow, fmt::format("while loop at {}: {}", where, why));
    }
    loop_notes_.push_back(fmt::format("{}: loop of {} iterations unrolled: {}", where, trip, why));
    region_failed_ = key;
    return fail(AbortCode::ControlFlow, fmt::format("loop region: {}", why));
  };
  if (regions_.size() >= static_cast<size_t>(kMaxRegionDepth)) return give_up("loop regions nest too deeply");
  // After a break or return on runtime data the rest of an enclosing body runs under the exit's
  // condition, a value of that body's graph: a nested body could not guard its stores with it.
  if (!arm_conds_.empty()) return give_up("a loop after a break or return on runtime data in the enclosing loop's body");

  int64_t start = 0, step = 1;
  if (!is_while) {
    AValue& it_ref = *shape.it;
    PyObject* s = PyObject_GetAttrString(it_ref.obj, "start");
    PyObject* st = PyObject_GetAttrString(it_ref.obj, "step");
    int o1 = 0, o2 = 0;
    if (s) start = PyLong_AsLongLongAndOverflow(s, &o1);
    if (st) step = PyLong_AsLongLongAndOverflow(st, &o2);
    Py_XDECREF(s);
    Py_XDECREF(st);
    bool bad = !s || !st || o1 || o2 || PyErr_Occurred();
    PyErr_Clear();
    if (bad) return give_up("range bounds do not fit in 64 bits");
    // Keeps the loop variable's affine arithmetic (|a| <= 2^20, |b| <= 2^40) far from overflow.
    constexpr int64_t kMaxBound = int64_t{1} << 40;
    if (std::abs(start) > kMaxBound || std::abs(step) > kMaxBound || trip > kMaxBound ||
        (trip > 1 && std::abs(step) > (2 * kMaxBound) / (trip - 1)) ||
        std::abs(start + (trip - 1) * step) > kMaxBound)
      return give_up("range bounds beyond 2^40");
  }

  // Live state, remapped into the body: every frame's locals and stack, and the inputs.
  auto state = [&](std::vector<AValue*>& out) {
    for (size_t f = 0; f < depth; ++f) {
      flatten(frames_[f]->locals, out);
      flatten(frames_[f]->stack, out);
    }
    for (auto& [k, v] : inputs_by_source_) {
      out.push_back(&v);
      flatten(v.items, out);
    }
  };
  // Python numbers this loop turns into array values enter as values of that type. A while
  // loop's Python int counter enters with the bounds it has before the loop, each widened to
  // kWhileIntBound once the body was seen moving past it (Widen::sides); pre_bounds keeps the
  // bounds before the loop (after it, the counter holds its entry or a body's exit value).
  std::map<int, std::pair<int64_t, int64_t>> pre_bounds;
  std::map<int, int> sides_of;
  for (const Widen& w : widen_)
    if (w.key == key && w.box == Box::PyInt && w.local >= 0) sides_of[w.local] |= w.sides;
  std::vector<int> widened;
  std::vector<SlotFact> facts = shape.facts;
  for (const Widen& w : widen_)
    if (w.key == key) facts.insert(facts.end(), w.facts.begin(), w.facts.end());
  for (const Widen& w : widen_) {
    if (w.key != key || w.local < 0) continue;  // (local -1: forced_while's)
    if (std::find(widened.begin(), widened.end(), w.local) != widened.end()) continue;
    widened.push_back(w.local);
    AValue& slot = fr().locals[static_cast<size_t>(w.local)];
    if (w.dual) {
      auto parts = dual_parts(trace_.graph, slot, loop_loc);
      if (!parts) return give_up("a float local that is a Python float or np.float64 by the data enters as another kind");
      slot = dual_float(parts->first, parts->second);
      continue;
    }
    const int sides = sides_of.count(w.local) ? sides_of[w.local] : 3;
    auto widen_bounds = [&](AValue& v) {
      pre_bounds[w.local] = {v.lo, v.hi};
      if (sides & 1) v.lo = -kWhileIntBound;
      if (sides & 2) v.hi = kWhileIntBound;
      v.rel = -1;  // (the bounds above hold in every iteration; a relation to a loop variable need not)
    };
    if (w.box == Box::PyInt && slot.kind == AValue::Kind::LoopIndex && slot.method.empty()) {
      // An outer for loop's variable (`j = i` before `while j > 0: j -= 1`).
      if (!loop_index_as_int(slot)) return give_up("an outer loop variable cannot be a counter");
    }
    if (w.box == Box::PyInt && slot.is_tensor() && slot.box == Box::PyInt) {
      // A runtime Python int the loop counts with: see kWhileIntBound.
      if (slot.lo < -kWhileIntEntry || slot.hi > kWhileIntEntry)
        return give_up("a Python int the loop updates may start beyond 2^61");
      widen_bounds(slot);
      continue;
    }
    if (!slot.is_object() || !(PyFloat_CheckExact(slot.obj) || PyLong_CheckExact(slot.obj))) continue;
    ir::DType dt = w.type.dtype;
    ir::ValueId c;
    if (w.box == Box::PyInt) {  // (a counter: in a for region too, whose trip count is <= 2^40)
      int overflow = 0;
      long long iv = PyLong_CheckExact(slot.obj) ? PyLong_AsLongLongAndOverflow(slot.obj, &overflow) : 0;
      if (!PyLong_CheckExact(slot.obj) || overflow || iv < -kWhileIntEntry || iv > kWhileIntEntry) {
        PyErr_Clear();
        return give_up("a Python int the loop updates starts beyond 2^61 (or is not an int)");
      }
      slot = tensor(trace_.graph.add_const_int(ir::DType::I64, iv, loop_loc), Box::PyInt);
      slot.lo = slot.hi = iv;
      widen_bounds(slot);
      continue;
    }
    if (ir::is_float(dt)) {
      double d = PyFloat_Check(slot.obj) ? PyFloat_AsDouble(slot.obj) : PyLong_AsDouble(slot.obj);
      if (PyErr_Occurred() || (PyLong_Check(slot.obj) && std::abs(d) > 9007199254740992.0)) {
        PyErr_Clear();
        return give_up("a Python int too large to widen exactly");
      }
      if (dt == ir::DType::F32 && static_cast<double>(static_cast<float>(d)) != d && !std::isnan(d))
        return give_up("a Python float not exact in float32");
      c = trace_.graph.add_const_float(dt, d, loop_loc);
    } else if (!ir::is_bool(dt) && PyLong_CheckExact(slot.obj)) {
      int overflow = 0;
      long long iv = PyLong_AsLongLongAndOverflow(slot.obj, &overflow);
      if (overflow || iv < int_min(dt) || (iv > 0 && static_cast<unsigned long long>(iv) > int_max(dt)))
        return give_up("a Python int out of the array dtype's range");
      c = trace_.graph.add_const_int(dt, iv, loop_loc);
    } else {
      return give_up("a Python number becomes a value of another kind");
    }
    if (!w.type.is_scalar()) c = trace_.graph.add_op(ir::Op::Broadcast, w.type, {c}, loop_loc);
    slot = tensor(c, w.box);
  }
  // A for loop whose body may break out (a forward jump past the loop, or on 3.12+ the POP_TOP
  // of the iterator followed by a copy of the exit block ending in a return: exit_copy) is
  // traced as a while region: the iteration number k counts, the loop variable is
  // start + k * step (k is the body's param 0 then), and the loop runs while k < trip and no
  // break was taken.
  bool for_exit = false;
  if (!is_while) {
    const std::vector<Instruction>& ins = fr().instrs;
    const int after = ins[static_cast<size_t>(for_pc)].target;
    for (int k = for_pc + 1; k < after && !for_exit; ++k) {
      const Instruction& in = ins[static_cast<size_t>(k)];
      const bool jump = in.op == COp::Jump || in.op == COp::PopJumpIfFalse || in.op == COp::PopJumpIfTrue ||
                        in.op == COp::PopJumpIfNone || in.op == COp::PopJumpIfNotNone;
      // (a return in the body, of this loop or a nested one, leaves it too: loop_returns.cpp)
      for_exit = (jump && in.target >= after) || (in.op == COp::PopTop && exit_copy(ins, k + 1, after)) ||
                 in.op == COp::ReturnValue;
    }
  }
  regions_.push_back(RegionFrame{std::move(trace_.graph), {}, {}, depth, {}, for_exit ? 0 : start,
                                 for_exit ? trip - 1 : start + (trip - 1) * step, ++region_serial_});
  RegionFrame& rf = regions_.back();
  const size_t level = regions_.size() - 1;
  rf.reads_at_entry = read_containers_.size();
  const size_t loop_effects0 = trace_.loop_effects.size();
  const size_t escaped0 = escaped_.size();  // the body's stored arrays are body values
  rf.exits_ok = true;
  rf.for_exit = for_exit;
  rf.exit_at = is_while ? -1 : fr().instrs[static_cast<size_t>(for_pc)].target;
  rf.exit_stack = is_while ? fr().stack.size() : it_index;  // (a for loop's exit pops the iterator)
  rf.arm_base = arm_conds_.size();
  rf.spec_base = speculative_;
  if (is_while) {
    rf.is_while = true;
    rf.body_pc = shape.head_pc;
    rf.back_pc = shape.back_pc;
    rf.exit_pc = shape.exit_pc;
  }
  trace_.graph = ir::Graph();
  trace_.graph.files = rf.outer.files;
  trace_.graph.name = fmt::format("{}.{}{}", rf.outer.name, is_while ? "while" : "loop", shape.line);
  ir::ValueId index_param = trace_.graph.add_param(ir::Type::scalar(ir::DType::I64), ir::ParamLayout::Scalar, loop_loc);
  const ir::ValueId counter =
      for_exit ? trace_.graph.add_param(ir::Type::scalar(ir::DType::I64), ir::ParamLayout::Scalar, loop_loc) : ir::kNoValue;
  regions_.back().counter = counter;
  std::vector<AValue*> live;
  state(live);
  for (AValue* v : live) {
    if (!v->is_tensor()) continue;
    v->v = capture(level, v->v);
    if (v->view_root != ir::kNoValue) v->view_root = capture(level, v->view_root);
  }
  // The entry state, to compare with the state at the back edge.
  std::vector<std::vector<AValue>> entry_locals, entry_stacks;
  for (size_t f = 0; f < depth; ++f) {
    entry_locals.push_back(frames_[f]->locals);
    entry_stacks.push_back(frames_[f]->stack);
  }
  auto entry_inputs = inputs_by_source_;
  const int exit_pc = is_while ? shape.exit_pc : fr().instrs[static_cast<size_t>(for_pc)].target;
  // The body runs only while the test holds: its comparisons narrow the counters' bounds there.
  if (is_while) apply_slot_facts(facts);


  // One iteration.
  bool escaped = false, started = false, exits = false;
  if (is_while) {
    // From the body's first instruction to the loop test at its end (while_test_jump records
    // its value and comes back here), or straight back here or out when the test is static.
    interpret([&] {
      if (frames_.size() < depth) return escaped = true;
      if (frames_.size() > depth) return false;
      int pc = fr().pc;
      if (!started) return started = true, false;
      if (pc == for_pc) return true;
      if (pc == exit_pc) return exits = true;
      if (pc < for_pc || pc > shape.back_pc) return escaped = true;
      return false;
    });
  } else {
    AValue index;
    index.kind = AValue::Kind::LoopIndex;
    index.arg = static_cast<int>(level);
    if (for_exit) index.ia = step, index.ib = start;  // (of the iteration number k)
    push(std::move(index));
    interpret([&] {
      if (frames_.size() < depth) return escaped = true;
      if (frames_.size() > depth) return false;
      int pc = fr().pc;
      if (pc == for_pc) return true;
      if (pc < for_pc || pc >= exit_pc) return escaped = true;
      return false;
    });
  }

  // Back out of the arms the breaks opened.
  std::vector<RegionFrame::Exit> breaks = std::move(regions_.back().exits);
  const int64_t mutations_at_exit = regions_.back().mutations_at_exit;
  // The guarded stores of the body (old, new array value): after a break, the array a name
  // holds changes only through them (no other in-place update may follow the first break).
  const std::vector<std::pair<ir::ValueId, ir::ValueId>> body_updates = arm_updates_;
  arm_conds_.resize(std::min(arm_conds_.size(), regions_.back().arm_base));
  speculative_ = regions_.back().spec_base;
  if (arm_conds_.empty()) arm_updates_.clear();
  // The loop test at the end of a while body: recorded by the test, or static (a body that
  // came back to its start continues, one that reached the exit stops).
  ir::ValueId cond_next = ir::kNoValue;
  if (is_while && !abort_)
    cond_next = regions_.back().cond_next != ir::kNoValue
                    ? regions_.back().cond_next
                    : trace_.graph.add_const_int(ir::DType::Bool, exits ? 0 : 1, loop_loc);
  ir::ValueId counter_next = ir::kNoValue;
  if (for_exit && !abort_) {  // k + 1 < trip
    ir::Graph& g = trace_.graph;
    ir::ValueId k1 = g.add_op(ir::Op::Add, ir::Type::scalar(ir::DType::I64), {counter, g.add_const_int(ir::DType::I64, 1, loop_loc)}, loop_loc);
    counter_next = k1;
    cond_next = g.add_op(ir::Op::Lt, ir::Type::scalar(ir::DType::Bool), {k1, g.add_const_int(ir::DType::I64, trip, loop_loc)}, loop_loc);
  }
  ir::ValueId ret_flag = ir::kNoValue;  // bool[]: the loop left by a return (loop_returns.cpp)
  std::optional<AValue> ret_value;      // and the value it returned
  if (!breaks.empty() && !abort_ && !returned_ && !escaped) {
    // The state the loop leaves with: the body's end, or a break's (the first taken).
    ir::Graph& g = trace_.graph;
    const ir::Type bool_t = ir::Type::scalar(ir::DType::Bool);
    if (mutations_ - guarded_mutations_ != mutations_at_exit) {
      region_fail("an array is updated in place after a break (only `a[...] = v` stores are compiled there)");
    } else {
      std::vector<AValue>& locals = frames_[depth - 1]->locals;
      ir::ValueId exited = ir::kNoValue;
      bool any_return = false;
      for (const RegionFrame::Exit& x : breaks) any_return |= x.is_return;
      for (size_t b = breaks.size(); b-- > 0 && !abort_;) {
        const RegionFrame::Exit& x = breaks[b];
        exited = exited == ir::kNoValue ? x.cond : g.add_op(ir::Op::Or, bool_t, {x.cond, exited}, loop_loc);
        if (any_return) {
          // Whether the exit taken (the first in the body) returned, and the value it returned.
          ir::ValueId is_ret = g.add_const_int(ir::DType::Bool, x.is_return ? 1 : 0, loop_loc);
          ret_flag = ret_flag == ir::kNoValue ? g.add_op(ir::Op::And, bool_t, {x.cond, is_ret}, loop_loc)
                                              : g.add_op(ir::Op::Where, bool_t, {x.cond, is_ret, ret_flag}, loop_loc);
        }
        if (x.is_return) {  // (the function leaves: its locals are dead, only the value counts)
          std::string why;
          std::optional<AValue> m = ret_value ? merge_returns(x.cond, x.value, *ret_value, why) : x.value;
          if (!m) {
            if (!abort_) region_fail(fmt::format("the loop's returns give {}", why));
            break;
          }
          ret_value = std::move(*m);
          continue;
        }
        for (size_t k = 0; k < locals.size() && k < x.locals.size() && !abort_; ++k) {
          AValue end = locals[k], at = x.locals[k];
          if (same_slot(end, at)) continue;
          // An array the rest of the body only stored into (`out[i] = v` after the break): its
          // stores are guarded by no exit taken, so the body's end holds the break's contents
          // when the break was taken. It stays the one object every alias (an argument) holds;
          // a `where` of the two would be a new array per iteration.
          if (end.is_tensor() && at.is_tensor() && end.box == Box::Array && at.box == Box::Array &&
              end.type == at.type && end.view_root == at.view_root) {
            ir::ValueId cur = end.v;
            for (size_t u = body_updates.size(); u-- > 0 && cur != at.v;)
              if (body_updates[u].second == cur) cur = body_updates[u].first;
            if (cur == at.v) continue;
          }
          auto unbound = [](const AValue& v) {
            return v.kind == AValue::Kind::Null || (v.kind == AValue::Kind::Select && v.items.empty());
          };
          if (unbound(end) && unbound(at)) continue;
          if ((end.kind == AValue::Kind::LoopIndex && !loop_index_as_int(end)) ||
              (at.kind == AValue::Kind::LoopIndex && !loop_index_as_int(at)))
            break;
          // A Python number on one side (`idx = -1` before the loop, `idx = i; break`): a
          // runtime value of the other side's type (the loop then carries it: a retrace).
          auto number = [&](AValue& v, const AValue& other) {
            if (!v.is_object() || !other.is_tensor() || !other.type.is_scalar()) return;
            if (PyLong_CheckExact(v.obj) && other.box == Box::PyInt) {
              int overflow = 0;
              long long iv = PyLong_AsLongLongAndOverflow(v.obj, &overflow);
              if (overflow || iv < -kWhileIntEntry || iv > kWhileIntEntry) return PyErr_Clear();
              v = tensor(g.add_const_int(other.type.dtype, iv, loop_loc), Box::PyInt);
              v.lo = v.hi = iv;
            } else if (PyFloat_CheckExact(v.obj) && other.box == Box::PyFloat && other.type.dtype == ir::DType::F64) {
              v = tensor(g.add_const_float(ir::DType::F64, PyFloat_AsDouble(v.obj), loop_loc), Box::PyFloat);
            }
          };
          if (end.is_object() && at.is_object() &&
              ((PyLong_CheckExact(end.obj) && PyLong_CheckExact(at.obj)) ||
               (PyFloat_CheckExact(end.obj) && PyFloat_CheckExact(at.obj)))) {
            // Two Python numbers (a counter the loop has not widened yet): runtime values.
            AValue proto;
            proto.kind = AValue::Kind::Tensor;
            proto.box = PyLong_CheckExact(end.obj) ? Box::PyInt : Box::PyFloat;
            proto.type = ir::Type::scalar(PyLong_CheckExact(end.obj) ? ir::DType::I64 : ir::DType::F64);
            number(end, proto);
            number(at, proto);
          }
          number(end, at);
          number(at, end);
          if (!end.is_tensor() || !at.is_tensor() || end.type != at.type || end.box != at.box ||
              end.view_root != ir::kNoValue || at.view_root != ir::kNoValue || !end.type.is_static()) {
            region_fail(fmt::format("'{}' holds different kinds of values at a break and at the end of the body",
                                    local_name(static_cast<int>(k))));
            break;
          }
          ir::ValueId c = x.cond;
          if (!end.type.is_scalar()) c = g.add_op(ir::Op::Broadcast, ir::Type(ir::DType::Bool, end.type.shape), {c}, loop_loc);
          AValue m = end;
          m.v = g.add_op(ir::Op::Where, end.type, {c, at.v, end.v}, loop_loc);
          m.lo = std::min(end.lo, at.lo), m.hi = std::max(end.hi, at.hi);
          m.rel = -1;
          m.pristine = false, m.input = -1, m.arg = -1;
          m.source = Source::computed();
          locals[k] = std::move(m);
        }
      }
      if (!abort_) {
        ir::ValueId go = g.add_op(ir::Op::Not, bool_t, {exited}, loop_loc);
        cond_next = g.add_op(ir::Op::And, bool_t, {go, cond_next}, loop_loc);
      }
    }
  }
  // A float local entering as a dual scalar leaves as one (the next iteration's entry); one
  // that entered as a Python float and leaves as a Python float or np.float64 depending on the
  // data (`s = 0.0; for ...: if x[i] < 0: continue; s += x[i]`) enters dual on a retrace.
  if (!abort_ && !returned_ && !escaped) {
    std::vector<AValue>& locals = frames_[depth - 1]->locals;
    const std::vector<AValue>& entry = entry_locals[depth - 1];
    for (size_t k = 0; k < locals.size() && k < entry.size() && !abort_; ++k) {
      const bool was_dual = is_dual_float(entry[k]);
      const bool mixed = locals[k].kind == AValue::Kind::Select && !locals[k].items.empty();
      const bool py_entry = entry[k].is_object() && PyFloat_CheckExact(entry[k].obj);
      // (a while loop's Python float that becomes np.float64: after no iteration it is still
      // the Python float)
      const bool np_exit = is_while && locals[k].is_tensor() && locals[k].box == Box::NpScalar;
      if (!was_dual && !(py_entry && (mixed || np_exit))) continue;
      auto parts = dual_parts(trace_.graph, locals[k], loop_loc);
      if (!parts) {
        if (was_dual)
          region_fail(fmt::format("'{}' is a Python float or np.float64 by the data and the body makes it {}",
                                  local_name(static_cast<int>(k)), describe_scalar_kind(locals[k])));
        continue;  // (reported below)
      }
      if (was_dual) {
        locals[k] = dual_float(parts->first, parts->second);
        continue;
      }
      bool seen = false;
      for (const Widen& w : widen_) seen |= w.key == key && w.local == static_cast<int>(k) && w.dual;
      if (seen) continue;
      Widen w{key, static_cast<int>(k), ir::Type::scalar(ir::DType::F64), Box::PyFloat, 3, {}};
      w.dual = true;
      widen_request_ = w;
      region_failed_ = std::nullopt;
      fail(AbortCode::ControlFlow, "loop region: a Python float that may become np.float64 (retrace)");
    }
  }
  // Back to the enclosing graph whatever happened; `body` is the traced iteration.
  ir::Graph body = std::move(trace_.graph);
  RegionFrame& top = regions_.back();  // ours again (nested regions pushed and popped theirs;
                                       // `rf` may dangle: regions_ may have reallocated)
  std::vector<std::pair<ir::ValueId, ir::ValueId>> captures = std::move(top.captures);
  std::vector<std::pair<size_t, ir::ValueId>> input_params = std::move(top.input_params);
  RegionReads reads = std::move(top.reads);
  const std::vector<ir::ValueId> stored = std::move(top.stored), inplace = std::move(top.inplace);
  const std::vector<RegionFrame::Assumed> assumed = std::move(top.assumed);
  std::vector<SlotFact> next_facts = std::move(top.next_facts);
  trace_.graph = std::move(top.outer);
  regions_.pop_back();
  escaped_.resize(std::min(escaped_.size(), escaped0));  // (the back edge checks them: `stored`)
  trace_.graph.files = body.files;  // the body may have interned more files (inlined calls)
  if (abort_) {
    if (is_while) {
      if (!widen_request_) loop_notes_.push_back(fmt::format("{}: while loop not compiled: {}", where, abort_->describe()));
      return false;
    }
    if (!region_failed_ && !widen_request_) {
      region_failed_ = key;
      loop_notes_.push_back(fmt::format("{}: loop of {} iterations unrolled: {}", where, trip, abort_->describe()));
    }
    return false;
  }
  if (returned_ || escaped) return give_up("the body returns or breaks out of the loop");
  if (!body.results.empty()) return give_up("the body has side effects or outputs");

  // A local left holding a scalar whose type depends on the data (`v = x[i] if c else 0.0`)
  // is not carried: the next iteration (or the code after the loop) may not read it.
  for (size_t f = 0; f < depth; ++f)
    for (size_t k = 0; k < frames_[f]->locals.size(); ++k) {
      AValue& l = frames_[f]->locals[k];
      if (l.kind != AValue::Kind::Select) continue;
      if (f + 1 == depth && is_dual_float(l) && k < entry_locals[f].size() && is_dual_float(entry_locals[f][k]))
        continue;  // (carried: its parts are paired below)
      l.items.clear();
    }
  // Pair the entry and exit states.
  std::vector<AValue*> now;
  state(now);
  std::vector<int64_t> tags;
  for (size_t f = 0; f < depth; ++f) {
    tag(frames_[f]->locals, f + 1 == depth ? kLocal : kUnreadable, tags, f + 1 == depth);
    tag(frames_[f]->stack, kUnreadable, tags, false);
  }
  for (size_t j = 0; j < inputs_by_source_.size(); ++j) {
    tags.push_back(kInput + static_cast<int64_t>(j));
    std::vector<AValue*> items;
    flatten(inputs_by_source_[j].second.items, items);
    tags.insert(tags.end(), items.size(), kInput + static_cast<int64_t>(j));
  }
  std::vector<AValue*> before;
  for (size_t f = 0; f < depth; ++f) {
    flatten(entry_locals[f], before);
    flatten(entry_stacks[f], before);
  }
  for (auto& [k, v] : entry_inputs) {
    before.push_back(&v);
    flatten(v.items, before);
  }
  // Inputs first read inside the body: their entry value is their captured param.
  std::vector<AValue> new_inputs;
  for (size_t i = entry_inputs.size(); i < inputs_by_source_.size(); ++i) {
    AValue e = inputs_by_source_[i].second;
    e.v = ir::kNoValue;
    for (const auto& [index, p] : input_params)
      if (index == i) e.v = p;
    if (e.v == ir::kNoValue) return give_up("internal: an input read in the body has no param");
    new_inputs.push_back(std::move(e));
  }
  for (AValue& v : new_inputs) {
    before.push_back(&v);
    flatten(v.items, before);
  }
  if (now.size() != before.size())
    return give_up(fmt::format("the body changes the structure of live values ({} -> {})", before.size(), now.size()));

  struct Carried {
    ir::ValueId entry = ir::kNoValue;  // body param holding the value at iteration start
    ir::ValueId exit = ir::kNoValue;   // body value at the iteration's end
    ir::Type type;
  };
  std::vector<Carried> carried;
  std::map<ir::ValueId, size_t> carried_of_entry;
  std::vector<std::pair<AValue*, int>> slot_carried;  // (slot, carried index or -1)
  std::vector<int64_t> slot_tag;
  std::vector<const AValue*> slot_entry;
  if (tags.size() != now.size()) return give_up("internal: slot tags");
  for (size_t i = 0; i < now.size(); ++i) {
    AValue& x = *now[i];
    const AValue& e = *before[i];
    if (x.kind == AValue::Kind::Select && x.items.empty() &&
        (e.kind == AValue::Kind::Null || (e.kind == AValue::Kind::Select && e.items.empty())))
      continue;  // (reading it fails: op_load_fast)
    if (is_dual_float(x) && is_dual_float(e)) continue;  // (its parts follow)
    if (x.kind == AValue::Kind::Select || e.kind == AValue::Kind::Select)
      return give_up("a scalar whose type depends on the data (ifconv.cpp) is live across iterations");
    if (x.kind == AValue::Kind::LoopIndex) {
      if (e.is_tensor()) return give_up("an array local is rebound to the loop variable");
      if (x.arg != static_cast<int>(level) &&
          !(e.kind == AValue::Kind::LoopIndex && e.arg == x.arg && e.ia == x.ia && e.ib == x.ib)) {
        // `j = i; while j > 0: j -= 1`: j becomes a runtime Python int counter (retrace).
        if (is_while && e.kind == AValue::Kind::LoopIndex && e.method.empty() && x.method.empty() &&
            tags[i] >= kLocal && tags[i] < kInput &&
            request_widen(key, static_cast<int>(tags[i] - kLocal), ir::Type::scalar(ir::DType::I64), Box::PyInt, 0,
                          next_facts))
          return false;
        return give_up("the body rebinds a name to an outer loop's variable");
      }
      if (!x.method.empty()) return give_up("a loop-variable slice outlives the iteration");
      continue;
    }
    if (x.is_tensor() && e.is_tensor()) {
      if (x.v == e.v) {
        slot_carried.emplace_back(&x, -1);
        slot_tag.push_back(tags[i]);
        slot_entry.push_back(&e);
        continue;
      }
      if (x.type != e.type || x.box != e.box)
        return give_up(fmt::format("a value changes type in the body ({} {} -> {} {})", box_name(e.box), ir::to_string(e.type),
                                   box_name(x.box), ir::to_string(x.type)));
      // The body was traced for a runtime Python int within [e.lo, e.hi] (conversions and
      // overflow checks relied on it): that must hold in every iteration.
      if (e.rel >= 0)  // (the body relied on a relation to a loop variable at entry)
        return give_up("a runtime index bounded relative to a loop variable is carried");
      if ((x.box == Box::PyInt || x.box == Box::NpScalar) && (x.lo < e.lo || x.hi > e.hi)) {
        if (x.box != Box::PyInt) return give_up("a runtime Python int leaves its range in the body (a counter?)");
        // A while loop's counter: traced again with the bound it passes entering at
        // kWhileIntBound, where a change of at most kWhileIntStep per iteration is accepted.
        const bool lo_ok = x.lo >= e.lo || (e.lo == -kWhileIntBound && x.lo >= e.lo - kWhileIntStep);
        const bool hi_ok = x.hi <= e.hi || (e.hi == kWhileIntBound && x.hi <= e.hi + kWhileIntStep);
        const bool wide = e.lo == -kWhileIntBound && e.hi == kWhileIntBound;
        if (lo_ok && hi_ok) {
          // fine: see kWhileIntBound
        } else if (!wide && tags[i] >= kLocal && tags[i] < kInput) {
          if (!request_widen(key, static_cast<int>(tags[i] - kLocal), ir::Type::scalar(ir::DType::I64), Box::PyInt,
                             (lo_ok ? 0 : 1) | (hi_ok ? 0 : 2), next_facts))
            return give_up(fmt::format("the Python int '{}' changes by more than {} per iteration",
                                       local_name(static_cast<int>(tags[i] - kLocal)), kWhileIntStep));
          return false;
        } else {
          return give_up(wide ? "a Python int changes by more than 256 per iteration"
                              : "a runtime Python int outside a local changes in the body");
        }
      }
      auto [pos, fresh] = carried_of_entry.try_emplace(e.v, carried.size());
      if (fresh) carried.push_back({e.v, x.v, x.type});
      else if (carried[pos->second].exit != x.v)
        return give_up("two names for one array get different values in the body");
      slot_carried.emplace_back(&x, static_cast<int>(pos->second));
      slot_tag.push_back(tags[i]);
        slot_entry.push_back(&e);
      continue;
    }
    if (x.is_tensor() && e.is_object() && tags[i] >= kLocal && tags[i] < kInput &&
        (PyFloat_CheckExact(e.obj) || PyLong_CheckExact(e.obj)) && x.type.is_static()) {
      // `s = 0.0` before the loop, `s = s + x[i]` in it: the first iteration saw a Python
      // number, the rest see an array value. Trace again with s entering as a value of the
      // exit type (the same first-iteration result: NumPy converts a weak Python scalar to the
      // other operand's dtype, which is the exit dtype here).
      // A while loop may run no iteration: the name then still holds the Python number, where
      // the compiled code would give the exit kind (np.float64(0.0) for 0.0) — only a number that
      // stays a Python number of its kind is carried.
      const Box entry_box = PyLong_CheckExact(e.obj) ? Box::PyInt : Box::PyFloat;
      if (is_while && x.box != entry_box)
        return give_up(fmt::format("'{}' starts as a Python {} and the body makes it a NumPy scalar: after a "
                                   "while loop that ran no iteration it would still be the Python number",
                                   local_name(static_cast<int>(tags[i] - kLocal)),
                                   entry_box == Box::PyInt ? "int" : "float"));
      if (x.box == Box::PyInt && PyLong_CheckExact(e.obj) && x.type == ir::Type::scalar(ir::DType::I64)) {
        // (a counter merged at a break: widened bound by bound, as above)
        if (!request_widen(key, static_cast<int>(tags[i] - kLocal), x.type, Box::PyInt, 0, next_facts))
          return give_up("a Python int becomes a runtime value twice");
        return false;
      }
      Widen w{key, static_cast<int>(tags[i] - kLocal), x.type, x.box};
      for (const Widen& old : widen_)
        if (old.key == w.key && old.local == w.local) return give_up("a Python number becomes an array value");
      widen_request_ = w;
      region_failed_ = std::nullopt;
      return fail(AbortCode::ControlFlow, "loop region: a Python number becomes an array value (retrace)");
    }
    if (x.is_tensor() && e.kind == AValue::Kind::Null) {
      carried.push_back({ir::kNoValue, x.v, x.type});  // first defined in the body
      slot_carried.emplace_back(&x, static_cast<int>(carried.size() - 1));
      slot_tag.push_back(tags[i]);
        slot_entry.push_back(&e);
      continue;
    }
    // A Python object the body stores before reading it is the same in every iteration: it
    // comes from constants, guarded sources or invariant values (the loop variable and
    // carried arrays cannot make one). One the body reads first (a counter) is not.
    bool rebind_ok = tags[i] >= kLocal && tags[i] < kInput &&
                     std::count(reads.read_first.begin(), reads.read_first.end(), tags[i] - kLocal) == 0 &&
                     (x.kind == AValue::Kind::Object || x.kind == AValue::Kind::Null) &&
                     (e.kind == AValue::Kind::Object || e.kind == AValue::Kind::Null ||
                      e.kind == AValue::Kind::LoopIndex);
    if (rebind_ok) continue;
    if (is_while && x.kind == AValue::Kind::Object && e.kind == AValue::Kind::Object && x.obj != e.obj &&
        tags[i] >= kLocal && tags[i] < kInput &&
        ((PyLong_CheckExact(x.obj) && PyLong_CheckExact(e.obj)) || (PyFloat_CheckExact(x.obj) && PyFloat_CheckExact(e.obj)))) {
      // A Python number the body computes from itself (`it += 1`, `t = t * 0.5`): traced
      // again with it entering as a runtime value.
      const bool is_int = PyLong_CheckExact(x.obj);
      if (!request_widen(key, static_cast<int>(tags[i] - kLocal),
                         ir::Type::scalar(is_int ? ir::DType::I64 : ir::DType::F64), is_int ? Box::PyInt : Box::PyFloat,
                         is_int ? 0 : 3, next_facts))
        return give_up(fmt::format("the body rebinds the Python number '{}' and it cannot be carried",
                                   local_name(static_cast<int>(tags[i] - kLocal))));
      return false;
    }
    if (x.kind != e.kind) return give_up("a local changes kind in the body (e.g. a Python value becomes an array)");
    if (x.kind == AValue::Kind::Object && x.obj != e.obj)
      return give_up("the body rebinds a Python value it reads (a counter?); only arrays and floats may be carried");
    if (x.kind == AValue::Kind::Iterator && x.arg != e.arg) return give_up("the body advances an outer iterator");
  }
  // A body param that stands for a carried value's current value cannot also stand for the
  // value another name kept from before the loop — unless the body never reads that name (a
  // rebound local `x = x * 2` leaves the argument object x unchanged: fine while the body does
  // not read the argument again through another path).
  for (size_t i = 0; i < slot_carried.size(); ++i) {
    auto [slot, c] = slot_carried[i];
    if (c >= 0 || !carried_of_entry.count(slot->v)) continue;
    int64_t t = slot_tag[i];
    bool read = t >= kInput ? std::count(reads.inputs.begin(), reads.inputs.end(), t - kInput) > 0
                : t >= kLocal ? std::count(reads.locals.begin(), reads.locals.end(), t - kLocal) > 0
                              : false;
    if (read)
      return give_up("an array is both updated in the body and read there as it was before the loop");
  }
  for (const Carried& c : carried)
    if (c.entry != ir::kNoValue && body.node(c.entry).op != ir::Op::Param)
      return give_up("internal: carried entry is not a param");
  // An effect that may raise found an input unchanged at its point, but this loop carries it
  // (updated later in the body): from the second iteration on the caller would see the update,
  // so the effect records the value at its point too (its write-back if it raises).
  for (const RegionFrame::Assumed& a : assumed) {
    if (!carried_of_entry.count(a.p)) continue;
    if (!a.own)
      return give_up("an effect in a nested loop may raise while this loop updates an input array in place");
    ir::ValueId node = ir::kNoValue;
    for (ir::ValueId v = 0; v < body.size(); ++v)
      if (body.node(v).op == ir::Op::Effect && body.node(v).ints[0] == a.effect) node = v;
    if (node == ir::kNoValue) return give_up("internal: an effect node is missing");
    Effect& fx = trace_.loop_effects[static_cast<size_t>(a.effect)];
    body.node(node).operands.push_back(a.p);
    fx.recorded_writebacks.emplace_back(a.input, static_cast<int>(fx.recorded.size()));
    fx.recorded.emplace_back(body.type(a.p), Box::Array);
  }
  // A computed array an effect in the body stored is a new object per iteration (effects.cpp):
  // eager code would update that very object if the next iteration updates the name in place,
  // and the name would hold it after the loop. The first is refused; the second makes the name
  // unreadable after the loop (its identity is not kept).
  std::vector<AValue*> stored_slots;
  for (size_t i = 0; i < slot_carried.size(); ++i) {
    auto [slot, c] = slot_carried[i];
    if (c < 0 || !std::count(stored.begin(), stored.end(), carried[static_cast<size_t>(c)].exit)) continue;
    ir::ValueId entry = carried[static_cast<size_t>(c)].entry;
    if (entry != ir::kNoValue && std::count(inplace.begin(), inplace.end(), entry))
      return give_up("an array a deferred effect stored is updated in place by the next iteration");
    if (!(slot_tag[i] >= kLocal && slot_tag[i] < kInput))
      return give_up("an array a deferred effect stored stays live outside a local after the iteration");
    stored_slots.push_back(slot);
  }

  // A for region's int counter whose exit is its entry plus a constant in [dlo, dhi] (through
  // the arms of selects: `k = k + 1 if c else k`): after trip iterations it lies within trip
  // such steps of its value before the loop (loop_deltas[c]; others keep their traced bounds).
  std::vector<std::optional<std::pair<int64_t, int64_t>>> loop_deltas(carried.size());
  if (!is_while) {
    for (size_t c = 0; c < carried.size(); ++c) {
      const ir::ValueId p = carried[c].entry;
      if (p == ir::kNoValue || carried[c].type != ir::Type::scalar(ir::DType::I64)) continue;
      std::function<bool(ir::ValueId, int64_t&, int64_t&, int)> delta = [&](ir::ValueId v, int64_t& lo, int64_t& hi,
                                                                          int depth_left) -> bool {
        if (v == p) return lo = hi = 0, true;
        if (depth_left == 0) return false;
        const ir::Node& n = body.node(v);
        auto konst = [&](ir::ValueId x, int64_t& out) {
          const ir::Node& k = body.node(x);
          if (k.op != ir::Op::Const || k.ints.empty() || std::abs(k.ints[0]) > kWhileIntStep) return false;
          return out = k.ints[0], true;
        };
        int64_t k = 0;
        if (n.op == ir::Op::Add && n.operands.size() == 2 && konst(n.operands[1], k) &&
            delta(n.operands[0], lo, hi, depth_left - 1))
          return lo += k, hi += k, true;
        if (n.op == ir::Op::Add && n.operands.size() == 2 && konst(n.operands[0], k) &&
            delta(n.operands[1], lo, hi, depth_left - 1))
          return lo += k, hi += k, true;
        if (n.op == ir::Op::Sub && n.operands.size() == 2 && konst(n.operands[1], k) &&
            delta(n.operands[0], lo, hi, depth_left - 1))
          return lo -= k, hi -= k, true;
        if (n.op == ir::Op::Where && n.operands.size() == 3) {
          int64_t alo, ahi, blo, bhi;
          if (!delta(n.operands[1], alo, ahi, depth_left - 1) || !delta(n.operands[2], blo, bhi, depth_left - 1))
            return false;
          return lo = std::min(alo, blo), hi = std::max(ahi, bhi), true;
        }
        return false;
      };
      int64_t lo = 0, hi = 0;
      if (delta(carried[c].exit, lo, hi, 8) && lo >= -kWhileIntStep && hi <= kWhileIntStep) loop_deltas[c] = {lo, hi};
    }
  }

  // A return's flag and the runtime leaves of its value leave the loop as carried values (their
  // values at iteration start are never read: a return ends the loop).
  std::vector<AValue*> ret_leaves;
  const size_t ret_first = carried.size();
  if (ret_flag != ir::kNoValue) {
    std::vector<AValue*> all = {&*ret_value};
    flatten(ret_value->items, all);
    for (AValue* v : all) {
      if (v->kind == AValue::Kind::Tuple || v->is_object()) continue;
      if (!v->is_tensor() || !v->type.is_static() || v->view_root != ir::kNoValue)
        return give_up(fmt::format("a return in the body gives {}, which the loop cannot carry out",
                                   describe_scalar_kind(*v)));
      ret_leaves.push_back(v);
      carried.push_back({ir::kNoValue, v->v, v->type});
    }
    carried.push_back({ir::kNoValue, ret_flag, ir::Type::scalar(ir::DType::Bool)});
  }
  // Body params: [index, carried..., used invariants...]; unused invariants are dropped.
  std::vector<char> used(static_cast<size_t>(body.size()), 0);
  for (const ir::Node& n : body.nodes)
    for (ir::ValueId o : n.operands) used[static_cast<size_t>(o)] = 1;
  for (const Carried& c : carried) used[static_cast<size_t>(c.exit)] = 1;
  const bool as_while = is_while || for_exit;
  if (for_exit) {
    // The counter: k + 1 after the last iteration, for the loop variable after the loop.
    carried.push_back({counter, counter_next, ir::Type::scalar(ir::DType::I64)});
  }
  if (as_while) used[static_cast<size_t>(cond_next)] = 1;
  std::vector<ir::ValueId> keep = {index_param};
  std::vector<ir::ValueId> operands;
  if (is_while) operands.push_back(shape.cond0);
  if (for_exit) operands.push_back(trace_.graph.add_const_int(ir::DType::Bool, trip > 0 ? 1 : 0, loop_loc));
  for (Carried& c : carried) {
    if (for_exit && c.entry == counter) {
      operands.push_back(trace_.graph.add_const_int(ir::DType::I64, 0, loop_loc));
    } else if (c.entry == ir::kNoValue) {
      // Defined in the body before any read: its value at iteration start is never used; the
      // initial value only matters after zero iterations, which a for region never has (after
      // a while loop the name is then unbound: see below).
      c.entry = body.add_param(c.type, c.type.is_scalar() ? ir::ParamLayout::Scalar : ir::ParamLayout::Contiguous);
      ir::ValueId z = ir::is_float(c.type.dtype) ? trace_.graph.add_const_float(c.type.dtype, 0.0, loop_loc)
                                                 : trace_.graph.add_const_int(c.type.dtype, 0, loop_loc);
      if (!c.type.is_scalar()) z = trace_.graph.add_op(ir::Op::Broadcast, c.type, {z}, loop_loc);
      operands.push_back(z);
    } else {
      ir::ValueId outer = ir::kNoValue;
      for (const auto& [o, p] : captures)
        if (p == c.entry) outer = o;
      operands.push_back(outer);
    }
    keep.push_back(c.entry);
  }
  for (const auto& [o, p] : captures) {
    if (carried_of_entry.count(p) || !used[static_cast<size_t>(p)]) continue;
    keep.push_back(p);
    operands.push_back(o);
  }
  body.results.clear();
  for (const Carried& c : carried) body.results.push_back(c.exit);
  if (as_while) body.results.push_back(cond_next);
  compact_params(body, keep);
  ir::Node loop;
  loop.op = as_while ? ir::Op::While : ir::Op::Loop;
  loop.type = ir::Type::scalar(ir::DType::I64);
  loop.operands = operands;
  loop.ints = as_while ? std::vector<int64_t>{static_cast<int64_t>(carried.size())}
                       : std::vector<int64_t>{trip, static_cast<int64_t>(carried.size()), start, step};
  loop.loc = loop_loc;
  loop.regions.push_back(std::make_shared<ir::Graph>(std::move(body)));
  ir::ValueId loop_id = trace_.graph.add(std::move(loop));
  std::vector<ir::ValueId> results;
  for (size_t k = 0; k < carried.size(); ++k) {
    ir::Node r;
    r.op = ir::Op::LoopResult;
    r.type = carried[k].type;
    r.operands = {loop_id};
    r.ints = {static_cast<int64_t>(k)};
    r.loc = loop_loc;
    results.push_back(trace_.graph.add(std::move(r)));
  }
  std::map<ir::ValueId, ir::ValueId> to_outer;  // body value (pre-compaction) -> outer value
  for (const auto& [o, p] : captures)
    if (!carried_of_entry.count(p)) to_outer[p] = o;
  for (size_t k = 0; k < carried.size(); ++k) to_outer[carried[k].exit] = results[k];
  // Unchanged slots hold their entry param: the value from before the loop, even when that
  // param also carried another name's value (allowed above only if the body never read them).
  std::map<ir::ValueId, ir::ValueId> entry_outer;
  for (const auto& [o, p] : captures) entry_outer[p] = o;
  auto map_back = [&](ir::ValueId v, bool unchanged) {
    if (unchanged) {
      auto f = entry_outer.find(v);
      if (f != entry_outer.end()) return f->second;
    }
    auto f = to_outer.find(v);
    return f == to_outer.end() ? ir::kNoValue : f->second;
  };
  for (auto& [slot, c] : slot_carried) {
    if (map_back(slot->v, c < 0) == ir::kNoValue && c < 0) return give_up("internal: unmapped slot");
    if (slot->view_root != ir::kNoValue && map_back(slot->view_root, c < 0) == ir::kNoValue)
      return give_up("a view's base is a temporary of the body");
  }
  // Update the live state (nothing below fails).
  for (size_t i = 0; i < slot_carried.size(); ++i) {
    auto [slot, c] = slot_carried[i];
    slot->v = c >= 0 ? results[static_cast<size_t>(c)] : map_back(slot->v, true);
    slot->type = trace_.graph.type(slot->v);
    if (slot->view_root != ir::kNoValue) slot->view_root = map_back(slot->view_root, c < 0);
    if (c < 0) {
      // (bounds the loop test narrowed in the body do not hold after it)
      if (slot->is_tensor() && slot_entry[i]->is_tensor()) slot->lo = slot_entry[i]->lo, slot->hi = slot_entry[i]->hi;
      continue;
    }
    slot->arg = -1;
    // Still the same Python object only when updated in place every iteration (`x += ...`);
    // a name rebound in the body (`a, b = b, a + b`) holds a new object after the loop.
    const AValue& e = *slot_entry[i];
    if (!is_while && slot->box == Box::PyInt && e.is_tensor()) {
      // A for region's counter (the loop runs trip >= 1 times) that moves by a constant step in
      // [dlo, dhi] per iteration (loop_deltas) ends within 1 to trip such steps of its value
      // before the loop (`k = k + 1 if c else k` over 20 iterations ends in [k0, k0 + 20]);
      // any other keeps the bounds it was traced with.
      int64_t plo = e.lo, phi = e.hi;
      const int64_t t = slot_tag[i];
      if (t >= kLocal && t < kInput && pre_bounds.count(static_cast<int>(t - kLocal)))
        std::tie(plo, phi) = pre_bounds[static_cast<int>(t - kLocal)];
      if (loop_deltas[static_cast<size_t>(c)]) {
        // (1 to trip steps: a break may end the loop early)
        const auto [dlo, dhi] = *loop_deltas[static_cast<size_t>(c)];
        if (e.lo == -kWhileIntBound) slot->lo = plo + std::min(dlo, trip * dlo);
        if (e.hi == kWhileIntBound) slot->hi = phi + std::max(dhi, trip * dhi);
      }
    } else if (is_while) {
      if (e.kind == AValue::Kind::Null) {
        // Bound only if the loop ran: reading it after the loop fails the trace (op_load_fast).
        *slot = AValue{};
        slot->method = fmt::format("a name first bound in the body of the while loop at {} (unbound if the loop "
                                   "runs zero times)", where);
        continue;
      }
      if (slot->box == Box::PyInt) {
        // The entry value (zero iterations) or an exit value of the body.
        int64_t plo = e.lo, phi = e.hi;
        const int64_t t = slot_tag[i];
        if (t >= kLocal && t < kInput && pre_bounds.count(static_cast<int>(t - kLocal)))
          std::tie(plo, phi) = pre_bounds[static_cast<int>(t - kLocal)];
        slot->lo = std::min(slot->lo, plo), slot->hi = std::max(slot->hi, phi);
      }
    }
    if (!(slot->pristine && slot->input >= 0 && e.pristine && e.input == slot->input)) {
      slot->pristine = false;
      slot->input = -1;
      slot->source = Source::computed();
    }
  }
  for (AValue* slot : stored_slots) {
    *slot = AValue{};
    slot->method = fmt::format("the array a deferred effect in the loop at {} stored (each iteration stores a "
                               "copy, so the name would not be the stored object)", where);
  }
  // Effects of the body: performed per iteration, here in program order.
  if (regions_.empty() && trace_.loop_effects.size() > loop_effects0) {
    Effect r;
    r.kind = Effect::Kind::Replay;
    r.replay_lo = static_cast<int>(loop_effects0);
    r.replay_hi = static_cast<int>(trace_.loop_effects.size());
    // (Bounds checks are no side effect the user wrote: a loop with only those has no break.)
    std::vector<std::string> whats;
    for (size_t k = loop_effects0; k < trace_.loop_effects.size(); ++k) {
      const std::string& w = trace_.loop_effects[k].what;
      if (trace_.loop_effects[k].kind == Effect::Kind::IndexCheck) continue;
      if (std::find(whats.begin(), whats.end(), w) == whats.end()) whats.push_back(w);
    }
    r.graph_break = !whats.empty();
    if (whats.empty()) whats.push_back("index checks");
    std::string list = whats[0];
    for (size_t k = 1; k < whats.size() && k < 4; ++k) list += ", " + whats[k];
    if (whats.size() > 4) list += ", ...";
    r.what = fmt::format("the effects in the loop's body ({})", list);
    locate_effect(r);
    r.line = shape.line;
    trace_.effects.push_back(std::move(r));
  }
  // Tensors inside containers that were not paired as slots (there are none: every tensor is a
  // slot) and the loop variable, which ends holding the last value.
  for (AValue* x : now) {
    if (x->rel >= static_cast<int>(level)) x->rel = -1;  // relations to this loop's variable end here
    if (x->kind != AValue::Kind::LoopIndex || x->arg != static_cast<int>(level)) continue;  // ours only
    if (for_exit) {  // ia * k + ib for the last iteration's k (where a break left, or trip - 1)
      ir::Graph& g = trace_.graph;
      const ir::Type i64 = ir::Type::scalar(ir::DType::I64);
      ir::ValueId v = results.back();  // (the counter after it: k + 1)
      if (x->ia != 1) v = g.add_op(ir::Op::Mul, i64, {v, g.add_const_int(ir::DType::I64, x->ia, loop_loc)}, loop_loc);
      if (x->ib - x->ia != 0) v = g.add_op(ir::Op::Add, i64, {v, g.add_const_int(ir::DType::I64, x->ib - x->ia, loop_loc)}, loop_loc);
      const int64_t a = x->ib, b = x->ia * (trip - 1) + x->ib;
      *x = tensor(v, Box::PyInt);
      x->lo = std::min(a, b), x->hi = std::max(a, b);
      continue;
    }
    PyObject* last = PyLong_FromLongLong(x->ia * (start + (trip - 1) * step) + x->ib);
    *x = object(last, Source::constant());
    Py_DECREF(last);
  }
  loc_ = loop_loc;
  ir::ValueId returned = ir::kNoValue;  // (the carried return flag and value, outside the loop)
  if (ret_flag != ir::kNoValue) {
    for (size_t i = 0; i < ret_leaves.size(); ++i) {
      AValue& v = *ret_leaves[i];
      v.v = results[ret_first + i];
      v.type = trace_.graph.type(v.v);
      v.rel = -1;
      v.pristine = false, v.input = -1, v.arg = -1;
      v.source = Source::computed();
    }
    returned = results[ret_first + ret_leaves.size()];
  }
  if (is_while) {
    fr().pc = exit_pc;
  } else {
    AValue& it = fr().stack[it_index];
    it.arg = static_cast<int>(trip);
    fr().pc = for_pc;  // FOR_ITER again: the iterator is exhausted, so it exits the loop
  }
  if (returned != ir::kNoValue) return loop_returned(returned, std::move(*ret_value));
  return true;
}

}  // namespace tracejit::tracer::detail

// ---------------------------------------------------------------------------------------------
// The loop variable inside a region body: an affine value a*i + b of the induction variable i
// (a LoopIndex), usable in integer arithmetic with constants and as an index or slice start
// (`x[i]`, `X[:, t]`, `A[i - 1]`, `A[i:i + K]`, `u[t] = v`, `D[i, 0] = i`): reads become
// dyn_slice ops, stores dyn_update ops. Every index is checked in bounds for every iteration at trace time (the
// trip count is specialized, so the range of i is known). Any other use unrolls the loop.
namespace tracejit::tracer::detail {

namespace {
bool is_int_const(const AValue& v, int64_t& out) {
  if (!v.is_object() || !PyLong_CheckExact(v.obj)) return false;
  int overflow = 0;
  out = PyLong_AsLongLongAndOverflow(v.obj, &overflow);
  if (overflow || (out == -1 && PyErr_Occurred())) {
    PyErr_Clear();
    return false;
  }
  return std::abs(out) < (int64_t{1} << 40);
}
}  // namespace

bool Tracer::loop_index_affine(int nb, const AValue& lhs, const AValue& rhs) {
  const bool li = lhs.kind == AValue::Kind::LoopIndex, ri = rhs.kind == AValue::Kind::LoopIndex;
  if (li == ri) return li && (!lhs.method.empty() || !rhs.method.empty());  // (i + j: reported there)
  const AValue& idx = li ? lhs : rhs;
  int64_t c = 0;
  if (!idx.method.empty()) return true;  // a slice object: loop_index_arith reports it
  if (!is_int_const(li ? rhs : lhs, c)) return false;
  return nb == 0 || nb == 13 || nb == 10 || nb == 23 || nb == 5 || nb == 18;
}

bool Tracer::loop_index_as_int(AValue& v) {
  if (v.kind != AValue::Kind::LoopIndex) return true;
  if (!v.method.empty()) return region_fail("a loop-variable slice used as a number");
  int64_t lo = 0, hi = 0;
  ir::ValueId iv = loop_index_value(v, 0, &lo, &hi);
  if (iv == ir::kNoValue) return false;
  const int level = v.arg;
  const int64_t a = v.ia, b = v.ib;
  v = tensor(iv, Box::PyInt);
  v.lo = lo, v.hi = hi;
  v.rel = level, v.rla = v.rha = a, v.rlb = v.rhb = b;
  return true;
}

bool Tracer::loop_index_arith(int nb, const AValue& lhs, const AValue& rhs) {
  const bool li = lhs.kind == AValue::Kind::LoopIndex;
  const AValue& idx = li ? lhs : rhs;
  const AValue& other = li ? rhs : lhs;
  int64_t c = 0;
  if (!idx.method.empty() || !is_int_const(other, c))
    return region_fail("the loop variable is used in arithmetic other than with integer constants");
  AValue r = idx;
  switch (nb) {
    case 0: case 13: r.ib += c; break;                                   // +
    case 10: case 23:                                                     // -
      if (li) r.ib -= c;
      else r.ia = -r.ia, r.ib = c - r.ib;
      break;
    case 5: case 18: r.ia *= c, r.ib *= c; break;                        // *
    default: return region_fail("the loop variable is used in an operator other than + - *");
  }
  if (std::abs(r.ia) > (int64_t{1} << 20) || std::abs(r.ib) > (int64_t{1} << 40))
    return region_fail("loop-variable arithmetic out of range");
  push(std::move(r));
  return true;
}

bool Tracer::loop_index_slice(std::vector<AValue>& parts) {
  int64_t c = 0;
  if (parts.size() == 3 && !(parts[2].is_object() && (parts[2].obj == Py_None || (is_int_const(parts[2], c) && c == 1))))
    return region_fail("a slice with a step and a loop-variable bound");
  const AValue& a = parts[0];
  const AValue& b = parts[1];
  auto index = [](const AValue& v) { return v.kind == AValue::Kind::LoopIndex && v.method.empty(); };
  // start:stop with the same multiple of the loop variable in both: a window of static length.
  if (index(a) && index(b) && a.ia == b.ia && a.arg == b.arg && b.ib >= a.ib) {
    AValue s = a;
    s.method = "slice";
    s.length = b.ib - a.ib;
    push(std::move(s));
    return true;
  }
  // Otherwise a window whose extent is affine in the loop variable (`k + 1:`, `:j`, `k + 1:n`,
  // `i:2 * i`): bounds are loop-variable values, nonnegative integer constants, or omitted (the
  // axis's ends); dyn_index_plan proves it in bounds and never negative over the whole range.
  AValue s;
  s.kind = AValue::Kind::LoopIndex;
  s.method = "dslice";
  s.arg = -1;
  s.ia = 0, s.ib = 0;
  for (const AValue* p : {&a, &b}) {
    if (index(*p) && s.arg >= 0 && p->arg != s.arg) return region_fail("a slice bounded by two different loops' variables");
    if (index(*p)) s.arg = p->arg;
  }
  if (s.arg < 0) return region_fail("a loop-variable slice without a loop-variable bound");
  if (index(a)) {
    s.ia = a.ia, s.ib = a.ib;
  } else if (!(a.is_object() && a.obj == Py_None) && !(is_int_const(a, c) && c >= 0 && (s.ib = c, true))) {
    return region_fail("a loop-variable slice whose start is not an int >= 0, None or the loop variable");
  }
  if (index(b)) {
    s.sa = b.ia, s.sb = b.ib;
  } else if (b.is_object() && b.obj == Py_None) {
    s.stop_open = true;
  } else if (is_int_const(b, c) && c >= 0) {
    s.sa = 0, s.sb = c;
  } else {
    return region_fail("a loop-variable slice whose stop is not an int >= 0, None or the loop variable");
  }
  push(std::move(s));
  return true;
}

std::optional<int64_t> Tracer::least_extent(int32_t sym) const {
  for (const auto& [key, s] : extent_symbols_) {
    if (s != sym) continue;
    auto [serial, a, b] = key;
    for (const RegionFrame& rf : regions_)
      if (rf.serial == serial) return std::min(a * rf.first, a * rf.last) + b;
  }
  return std::nullopt;
}

std::optional<int64_t> Tracer::greatest_extent(int32_t sym) const {
  for (const auto& [key, s] : extent_symbols_) {
    if (s != sym) continue;
    auto [serial, a, b] = key;
    for (const RegionFrame& rf : regions_)
      if (rf.serial == serial) return std::max(a * rf.first, a * rf.last) + b;
  }
  return std::nullopt;
}

ir::ValueId Tracer::affine_value(int level, int64_t a, int64_t b) {
  if (a == 0) return trace_.graph.add_const_int(ir::DType::I64, b, loc_);
  AValue p;
  p.kind = AValue::Kind::LoopIndex;
  p.arg = level;
  p.ia = a, p.ib = b;
  return loop_index_value(p, 0);
}

bool Tracer::has_loop_index(const AValue& key) const {
  // (a runtime Python int computed from loop variables, `x[i // 2]`, indexes the same way)
  auto runtime = [&](const AValue& k) { return k.kind == AValue::Kind::LoopIndex || bounded_int(k) || checkable_index(k); };
  if (runtime(key)) return true;
  if (key.kind == AValue::Kind::Tuple)
    for (const AValue& k : key.items)
      if (runtime(k)) return true;
  return false;
}

// Per axis of x: the runtime start (an i64[] value), the extent, the step, whether the axis is
// dropped (an integer index). Fails for anything it cannot prove in bounds.
bool Tracer::dyn_index_plan(const AValue& x, const AValue& key, std::vector<ir::ValueId>& starts,
                            std::vector<ir::Dim>& extents, std::vector<ir::ValueId>& ext_values,
                            std::vector<int64_t>& steps, std::vector<bool>& drop) {
  if (!x.is_tensor() || !x.type.is_static()) return region_fail("indexing a non-array with the loop variable");
  std::vector<AValue> parts = key.kind == AValue::Kind::Tuple ? key.items : std::vector<AValue>{key};
  int rank = x.type.rank();
  if (static_cast<int>(parts.size()) > rank) return fail(AbortCode::UserError, "IndexError: too many indices for array");
  ir::Graph& g = trace_.graph;
  std::vector<IndexCheckPart> checks;  // indices not proved in bounds: checked at run time
  for (int d = 0; d < rank; ++d) {
    int64_t n = x.type.shape[static_cast<size_t>(d)].size;
    ir::ValueId start;
    int64_t extent = n, step = 1;
    bool dropped = false;
    if (d >= static_cast<int>(parts.size())) {
      start = g.add_const_int(ir::DType::I64, 0, loc_);
    } else {
      const AValue& p = parts[static_cast<size_t>(d)];
      int64_t c = 0;
      if (p.kind == AValue::Kind::LoopIndex && p.method == "dslice") {
        if (p.arg < 0 || p.arg >= static_cast<int>(regions_.size())) return region_fail("a stale loop variable");
        const RegionFrame& rf = regions_[static_cast<size_t>(p.arg)];
        const int64_t sa = p.stop_open ? 0 : p.sa, sb = p.stop_open ? n : p.sb;
        // NumPy clips and wraps slice bounds; compiled, every start and stop must lie in
        // [0, n] and the extent stop - start must be >= 0 at both ends of the range (all are
        // affine in the loop variable, so then everywhere in between).
        for (int64_t i : {rf.first, rf.last}) {
          int64_t lo = p.ia * i + p.ib, hi = sa * i + sb;
          if (lo < 0 || lo > n || hi < 0 || hi > n)
            return region_fail(fmt::format("a loop-variable slice {}:{} that NumPy would clip or wrap (axis size {})", lo, hi, n));
          if (hi < lo) return region_fail(fmt::format("a loop-variable slice whose extent goes negative ({}:{})", lo, hi));
        }
        start = affine_value(p.arg, p.ia, p.ib);
        if (start == ir::kNoValue) return false;
        const int64_t ea = sa - p.ia, eb = sb - p.ib;
        if (ea == 0) {
          starts.push_back(start);
          extents.push_back(ir::Dim::fixed(eb));
          ext_values.push_back(ir::kNoValue);
        } else {
          auto key = std::make_tuple(rf.serial, ea, eb);
          auto it = extent_symbols_.find(key);
          if (it == extent_symbols_.end())
            it = extent_symbols_.emplace(key, kFirstExtentSymbol + static_cast<int32_t>(extent_symbols_.size())).first;
          ir::ValueId ev = affine_value(p.arg, ea, eb);
          if (ev == ir::kNoValue) return false;
          starts.push_back(start);
          extents.push_back(ir::Dim::symbol(it->second));
          ext_values.push_back(ev);
        }
        steps.push_back(1);
        drop.push_back(false);
        continue;
      }
      if (p.kind == AValue::Kind::LoopIndex) {
        if (p.arg < 0 || p.arg >= static_cast<int>(regions_.size())) return region_fail("a stale loop variable");
        const RegionFrame& rf = regions_[static_cast<size_t>(p.arg)];
        int64_t lo = std::min(p.ia * rf.first, p.ia * rf.last) + p.ib;
        int64_t hi = std::max(p.ia * rf.first, p.ia * rf.last) + p.ib;
        int64_t len = p.method == "slice" ? p.length : 1;
        int64_t shift = 0;
        if (p.method.empty() && lo >= -n && hi < 0) shift = n;  // x[i - n]: negative indices
        if (lo + shift < 0 || hi + shift + len > n) {
          if (!p.method.empty()) return region_fail("a loop-variable slice would be clipped at the array's edge");
          // Out of bounds in some iteration (or of both signs): as a runtime int, wrapped or
          // checked at run time (eager raises in the first iteration that is out of bounds).
          AValue q = p;
          if (!loop_index_as_int(q)) return false;
          start = runtime_index(q, d, n, checks);
          if (start == ir::kNoValue) return false;
        } else {
          start = loop_index_value(p, shift);
        }
        extent = len;
        dropped = p.method.empty();
      } else if (bounded_int(p) || checkable_index(p)) {
        // A runtime Python int (`x[i // 2]`, `A[j, k]` with j from a branch, a counter) or
        // NumPy int (a pivot row `argmax() + k`, a label read from an array `counts[y[i]]`).
        start = runtime_index(p, d, n, checks);
        if (start == ir::kNoValue) return false;
        extent = 1;
        dropped = true;
      } else if (is_int_const(p, c)) {
        if (c < -n || c >= n)
          return fail(AbortCode::UserError, fmt::format("IndexError: index {} is out of bounds for axis {} with size {}", c, d, n));
        start = g.add_const_int(ir::DType::I64, c < 0 ? c + n : c, loc_);
        extent = 1;
        dropped = true;
      } else if (p.is_object() && PySlice_Check(p.obj)) {
        Py_ssize_t a, b, s;
        if (PySlice_Unpack(p.obj, &a, &b, &s) < 0) return fail(AbortCode::UserError, exception_text());
        Py_ssize_t cnt = PySlice_AdjustIndices(static_cast<Py_ssize_t>(n), &a, &b, s);
        start = g.add_const_int(ir::DType::I64, cnt > 0 ? a : 0, loc_);
        extent = cnt;
        step = cnt > 0 ? s : 1;
      } else {
        return region_fail("an index other than ints, slices and the loop variable");
      }
    }
    starts.push_back(start);
    extents.push_back(ir::Dim::fixed(extent));
    ext_values.push_back(ir::kNoValue);
    steps.push_back(step);
    drop.push_back(dropped);
  }
  return emit_index_checks(checks, x);
}

ir::ValueId Tracer::runtime_index(const AValue& p, int axis, int64_t n, std::vector<IndexCheckPart>& checks) {
  ir::Graph& g = trace_.graph;
  const ir::Type i64 = ir::Type::scalar(ir::DType::I64);
  // Proved by its bounds: all negative (counted from the end) or all not.
  const bool bounded = bounded_int(p);
  int64_t shift = bounded && p.lo >= -n && p.hi < 0 ? n : 0;
  bool in = bounded && p.lo + shift >= 0 && p.hi + shift < n;
  if (bounded && !in && p.rel >= 0 && p.rel < static_cast<int>(regions_.size())) {  // affine bounds
    const RegionFrame& rf = regions_[static_cast<size_t>(p.rel)];
    in = true;
    for (int64_t i : {rf.first, rf.last}) in &= p.rla * i + p.rlb >= 0 && p.rha * i + p.rhb < n;
    shift = 0;
  }
  // Either sign within [-n, n): Python's wraparound as a select on the sign.
  const bool wrap = bounded && !in && p.lo >= -n && p.hi < n;
  if (!in && !wrap) {
    if (!checkable_index(p))
      return region_fail(fmt::format("a runtime index in {}..{} may be out of bounds for size {}", p.lo, p.hi, n)),
             ir::kNoValue;
    return checked_index(p, axis, n, checks);
  }
  ir::ValueId start = cast(p.v, ir::DType::I64);
  if (shift) start = g.add_op(ir::Op::Add, i64, {start, g.add_const_int(ir::DType::I64, shift, loc_)}, loc_);
  if (wrap) {
    const ir::ValueId zero = g.add_const_int(ir::DType::I64, 0, loc_);
    const ir::ValueId neg = g.add_op(ir::Op::Lt, ir::Type::scalar(ir::DType::Bool), {start, zero}, loc_);
    const ir::ValueId up = g.add_op(ir::Op::Add, i64, {start, g.add_const_int(ir::DType::I64, n, loc_)}, loc_);
    start = g.add_op(ir::Op::Where, i64, {neg, up, start}, loc_);
  }
  return start;
}

ir::ValueId Tracer::checked_index(const AValue& p, int axis, int64_t n, std::vector<IndexCheckPart>& checks) {
  if (n == 0) {  // every index raises; the program's clamped start could not even be read
    region_fail("an index known only at run time into an axis of size 0");
    return ir::kNoValue;
  }
  ir::Graph& g = trace_.graph;
  // Checked before (an effect still in the body: a loop test's may have been dropped), under
  // the same arms or fewer: in bounds here too.
  for (const RegionFrame::Checked& c : regions_.back().checked)
    if (c.raw == p.v && c.size == n && c.arms.size() <= arm_conds_.size() &&
        std::equal(c.arms.begin(), c.arms.end(), arm_conds_.begin()) && g.node(c.effect).op == ir::Op::Effect)
      return c.start;
  const ir::DType dt = p.type.dtype;
  const ir::Type i64 = ir::Type::scalar(ir::DType::I64), b = ir::Type::scalar(ir::DType::Bool);
  const ir::ValueId size_u = g.add_const_int(ir::DType::U64, n, loc_);
  ir::ValueId w = ir::kNoValue, oob = ir::kNoValue;
  if (ir::is_unsigned_int(dt)) {
    // Never negative: out of bounds from n on (a uint64 of 2**63 or more too: NumPy raises
    // OverflowError converting it to intp, which the effect tells apart).
    oob = g.add_op(ir::Op::Ge, b, {cast(p.v, ir::DType::U64), size_u}, loc_);
    w = cast(p.v, ir::DType::I64);
  } else {
    // Negative indices count from the end; what is still outside [0, n) is out of bounds
    // (one unsigned compare).
    const ir::ValueId s = cast(p.v, ir::DType::I64);
    const ir::ValueId neg = g.add_op(ir::Op::Lt, b, {s, g.add_const_int(ir::DType::I64, 0, loc_)}, loc_);
    const ir::ValueId up = g.add_op(ir::Op::Add, i64, {s, g.add_const_int(ir::DType::I64, n, loc_)}, loc_);
    w = g.add_op(ir::Op::Where, i64, {neg, up, s}, loc_);
    oob = g.add_op(ir::Op::Ge, b, {cast(w, ir::DType::U64), size_u}, loc_);
  }
  // The program stops at the check when it fails; the clamp keeps every read and write in
  // bounds whatever the backend runs before it stops (and where a branch arm's condition
  // keeps the check from running: the arm's store is discarded then).
  const ir::ValueId start = g.add_op(ir::Op::Where, i64, {oob, g.add_const_int(ir::DType::I64, 0, loc_), w}, loc_);
  checks.push_back({p.v, p.box, axis, n, oob, start});
  return start;
}

bool Tracer::emit_index_checks(const std::vector<IndexCheckPart>& checks, const AValue& x) {
  if (checks.empty()) return true;
  // The check stops the program when it fails; it must be the first effect the runtime
  // performs after the program started (performed live), and no handler may catch it.
  for (const Effect& e : trace_.effects)
    if (e.kind != Effect::Kind::Replay)
      return region_fail(fmt::format("an index not proved in bounds after a deferred effect outside the loop ({}): "
                                     "a failed check could not stop the program there", e.what));
  if (inside_try_block())
    return region_fail("an index not proved in bounds inside a try block (its IndexError would pass the handler)");
  ir::Graph& g = trace_.graph;
  Effect e;
  e.kind = Effect::Kind::IndexCheck;
  e.what = fmt::format("an index into an array of shape {}", shape_text(x.type.shape));
  ir::ValueId when = ir::kNoValue;
  for (const IndexCheckPart& c : checks) {
    EffectOperand op;
    op.kind = EffectOperand::Kind::Recorded;
    op.index = record_value(c.raw, c.box);
    op.box = c.box;
    e.operands.push_back(std::move(op));
    e.checked.emplace_back(c.axis, c.size);
    when = when == ir::kNoValue ? c.oob : g.add_op(ir::Op::Or, ir::Type::scalar(ir::DType::Bool), {when, c.oob}, loc_);
  }
  if (!record_region_effect(std::move(e), true, when)) return false;
  const ir::ValueId node = g.size() - 1;  // the effect (record_region_effect adds it last)
  for (const IndexCheckPart& c : checks) regions_.back().checked.push_back({c.raw, c.size, arm_conds_, c.start, node});
  return true;
}

ir::ValueId Tracer::loop_index_value(const AValue& p, int64_t extra, int64_t* lo, int64_t* hi) {
  if (p.arg < 0 || p.arg >= static_cast<int>(regions_.size())) {
    region_fail("a stale loop variable");
    return ir::kNoValue;
  }
  const RegionFrame& rf = regions_[static_cast<size_t>(p.arg)];
  if (lo) *lo = std::min(p.ia * rf.first, p.ia * rf.last) + p.ib + extra;
  if (hi) *hi = std::max(p.ia * rf.first, p.ia * rf.last) + p.ib + extra;
  // The induction variable of region p.arg, captured into the innermost body if needed.
  ir::Graph& g = trace_.graph;
  auto level = static_cast<size_t>(p.arg);
  ir::ValueId v = regions_[level].for_exit ? regions_[level].counter
                 : level + 1 < regions_.size() ? regions_[level + 1].outer.params[0]
                                               : trace_.graph.params[0];
  for (size_t l = level + 1; l < regions_.size(); ++l) v = capture(l, v);
  // The same value as a recent one (`j > 0` compared the value the loop test narrows again).
  auto recent = [&](ir::Op op, ir::ValueId x, int64_t c) {
    for (ir::ValueId k = g.size() - 1; k >= 0 && k >= g.size() - 64; --k) {
      const ir::Node& n = g.node(k);
      if (n.op != op || n.operands.size() != 2 || n.operands[0] != x) continue;
      const ir::Node& cn = g.node(n.operands[1]);
      if (cn.op == ir::Op::Const && !cn.ints.empty() && cn.ints[0] == c && cn.type == ir::Type::scalar(ir::DType::I64))
        return k;
    }
    return ir::kNoValue;
  };
  auto make = [&](ir::Op op, ir::ValueId x, int64_t c) {
    ir::ValueId r = recent(op, x, c);
    return r != ir::kNoValue ? r
                             : g.add_op(op, ir::Type::scalar(ir::DType::I64), {x, g.add_const_int(ir::DType::I64, c, loc_)}, loc_);
  };
  if (p.ia != 1) v = make(ir::Op::Mul, v, p.ia);
  if (p.ib + extra != 0) v = make(ir::Op::Add, v, p.ib + extra);
  return v;
}

bool Tracer::dyn_subscr(const AValue& x, const AValue& key) {
  std::vector<ir::ValueId> starts, ext_values;
  std::vector<ir::Dim> extents, kept;
  std::vector<int64_t> steps;
  std::vector<bool> drop;
  if (!dyn_index_plan(x, key, starts, extents, ext_values, steps, drop)) return false;
  bool runtime = false;
  for (ir::ValueId e : ext_values) runtime |= e != ir::kNoValue;
  ir::Node n;
  n.op = runtime ? ir::Op::DynWindow : ir::Op::DynSlice;
  n.type = ir::Type(x.type.dtype, extents);
  n.operands = {x.v};
  n.operands.insert(n.operands.end(), starts.begin(), starts.end());
  if (runtime)
    for (size_t d = 0; d < extents.size(); ++d)
      n.operands.push_back(ext_values[d] != ir::kNoValue ? ext_values[d]
                                                         : trace_.graph.add_const_int(ir::DType::I64, extents[d].size, loc_));
  n.ints = steps;
  n.loc = loc_;
  ir::ValueId s = trace_.graph.add(std::move(n));
  for (size_t d = 0; d < extents.size(); ++d)
    if (!drop[d]) kept.push_back(extents[d]);
  if (kept.size() != extents.size())
    s = trace_.graph.add_op(ir::Op::Reshape, ir::Type(x.type.dtype, kept), {s}, loc_);
  // An element is a NumPy scalar (a copy); anything bigger is a view of x.
  push(kept.empty() ? tensor(s, Box::NpScalar) : view_of(x, s, Box::Array));
  return true;
}

bool Tracer::dyn_store(const AValue& x, const AValue& key, const AValue& value) {
  // A dyn_update: the window at the runtime starts replaced by the value (the backend updates
  // the array in place; the loop carries it).
  std::vector<ir::ValueId> starts, ext_values;
  std::vector<ir::Dim> extents;
  std::vector<int64_t> steps;
  std::vector<bool> drop;
  if (!dyn_index_plan(x, key, starts, extents, ext_values, steps, drop)) return false;
  ir::Graph& g = trace_.graph;
  ir::DType dt = x.type.dtype;
  // The value converted as NumPy's __setitem__ converts it; anything where that could raise or
  // differ from a plain cast unrolls (or runs eagerly) instead.
  std::optional<ir::ValueId> v;
  if (value.kind == AValue::Kind::LoopIndex) {
    // `D[i, 0] = i`: the loop variable is a Python int; NumPy raises when it does not fit.
    if (!value.method.empty()) return region_fail("storing a loop-variable slice object");
    int64_t lo = 0, hi = 0;
    ir::ValueId iv = loop_index_value(value, 0, &lo, &hi);
    if (iv == ir::kNoValue) return false;
    if (!int_range_fits(dt, lo, hi))
      return region_fail(fmt::format("storing the loop variable ({}..{}) into a {} array", lo, hi, ir::dtype_numpy_name(dt)));
    v = cast(iv, dt);
  } else {
    std::string why;
    v = setitem_value(value, dt, why);
    if (!v && !abort_) return region_fail(why);
  }
  if (!v) return false;
  // The value is broadcast to the window without its integer-indexed axes (NumPy's rule), then
  // those axes come back as size 1: v's shape is the window's extents.
  const ir::Type vt = g.type(*v);  // (a copy: nodes are added below)
  std::vector<ir::Dim> full, region;
  bool empty = false, element = true;
  for (size_t d = 0; d < extents.size(); ++d) {
    if (!drop[d]) region.push_back(extents[d]);
    full.push_back(extents[d]);
    empty |= extents[d] == ir::Dim::fixed(0);
    element &= extents[d] == ir::Dim::fixed(1);
  }
  ir::ValueId val = *v;
  // Inside a branch's arm the window keeps its old contents unless the arm's condition holds.
  auto old_window = [&](const std::vector<ir::Dim>& shape) {
    ir::Node r;
    bool runtime = false;
    for (ir::ValueId e : ext_values) runtime |= e != ir::kNoValue;
    r.op = runtime ? ir::Op::DynWindow : ir::Op::DynSlice;
    r.type = ir::Type(dt, shape);
    r.operands = {x.v};
    r.operands.insert(r.operands.end(), starts.begin(), starts.end());
    if (runtime)
      for (size_t d = 0; d < extents.size(); ++d)
        r.operands.push_back(ext_values[d] != ir::kNoValue ? ext_values[d]
                                                           : g.add_const_int(ir::DType::I64, extents[d].size, loc_));
    r.ints = steps;
    r.loc = loc_;
    return g.add(std::move(r));
  };
  if (vt.is_scalar() && element)  // one element: the select on the 0-d values
    val = guarded_value(val, [&] { return g.add_op(ir::Op::Reshape, ir::Type::scalar(dt), {old_window(extents)}, loc_); });
  if (!vt.is_scalar()) {
    auto b = ir::broadcast_shapes(vt.shape, region);
    if (!b || *b != region)
      return fail(AbortCode::UserError, "ValueError: could not broadcast input array into the indexed shape");
    val = g.add_op(ir::Op::Broadcast, ir::Type(dt, region), {val}, loc_);
    val = g.add_op(ir::Op::Reshape, ir::Type(dt, full), {val}, loc_);
  } else {
    // An element store writes a reshaped 0-d value (what the backend's scalar loops store).
    val = g.add_op(element ? ir::Op::Reshape : ir::Op::Broadcast, ir::Type(dt, full), {val}, loc_);
  }
  if (empty) return true;  // an empty window: nothing is written
  if (!(g.type(*v).is_scalar() && element)) val = guarded_value(val, [&] { return old_window(full); });
  ir::Node n;
  n.op = ir::Op::DynUpdate;
  n.type = x.type;
  n.operands = {x.v, val};
  n.operands.insert(n.operands.end(), starts.begin(), starts.end());
  bool runtime = false;
  for (ir::ValueId e : ext_values) runtime |= e != ir::kNoValue;
  if (runtime)
    for (size_t d = 0; d < extents.size(); ++d)
      n.operands.push_back(ext_values[d] != ir::kNoValue ? ext_values[d] : g.add_const_int(ir::DType::I64, extents[d].size, loc_));
  n.ints = steps;
  n.loc = loc_;
  return store_inplace(x, g.add(std::move(n)));
}

}  // namespace tracejit::tracer::detail
