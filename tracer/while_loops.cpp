// While loops with a data-dependent test (`while err > tol:`, `while it < maxit and err > tol:`)
// become `while` regions instead of making the whole function run eagerly.
//
// CPython 3.11-3.13 compile `while test: body` with the test twice:
//     test -> exit  |  body ...  |  test -> body (the back edge)  |  exit:
// At a conditional jump on runtime data whose arms go to the first instruction of a later back
// edge's target (the body) or just past that back edge (the exit), the test code is evaluated
// on both arms (it must be pure: loads, calls, comparisons, more conditional jumps) to one
// bool[] value, the loop's test before the first iteration. The body is then traced once as a
// region (region() in loops.cpp, shared with for loops), up to the copy of the test at its end,
// whose value (the same evaluation) becomes the body's last result. Anything else that leaves
// the body (a break, a continue, a return) fails the trace with the reason, as before.
#include "tracer/tracer_impl.h"

#include <algorithm>

namespace tracejit::tracer::detail {
namespace {

bool is_jump(COp op) {
  switch (op) {
    case COp::Jump:
    case COp::PopJumpIfFalse:
    case COp::PopJumpIfTrue:
    case COp::PopJumpIfNone:
    case COp::PopJumpIfNotNone:
    case COp::JumpIfFalseOrPop:
    case COp::JumpIfTrueOrPop: return true;
    default: return false;
  }
}

// Where control goes from `pc`, through unconditional jumps.
int resolve(const std::vector<Instruction>& ins, int pc) {
  for (int hops = 0; hops < 8 && pc >= 0 && pc < static_cast<int>(ins.size()) &&
                     ins[static_cast<size_t>(pc)].op == COp::Jump;
       ++hops)
    pc = ins[static_cast<size_t>(pc)].target;
  return pc;
}

// The loop whose body starts after `test_pc`: the nearest later target of a backward jump, and
// the last backward jump to it (the loop's last instruction).
bool find_back_edge(const std::vector<Instruction>& ins, int test_pc, int& body, int& back) {
  body = -1, back = -1;
  for (int j = test_pc + 1; j < static_cast<int>(ins.size()); ++j) {
    const Instruction& in = ins[static_cast<size_t>(j)];
    if (!is_jump(in.op) || in.target > j || in.target <= test_pc) continue;
    if (body < 0 || in.target < body) body = in.target, back = j;
    else if (in.target == body) back = j;
  }
  return body >= 0;
}

// Whether straight-line code from `pc` ends in a return.
bool return_block(const std::vector<Instruction>& ins, int pc) {
  for (int k = 0; k < 64 && pc + k < static_cast<int>(ins.size()); ++k) {
    const COp op = ins[static_cast<size_t>(pc + k)].op;
    if (op == COp::ReturnValue) return true;
    if (is_jump(op) || op == COp::ForIter || op == COp::RaiseVarargs) return false;
  }
  return false;
}

// The innermost loop around `pc`: the largest backward-jump target at or before it, jumped to
// from at or after it (the last such jump).
bool find_enclosing_loop(const std::vector<Instruction>& ins, int pc, int& head, int& back) {
  head = -1, back = -1;
  for (int j = pc; j < static_cast<int>(ins.size()); ++j) {
    const Instruction& in = ins[static_cast<size_t>(j)];
    if (!is_jump(in.op) || in.target > j || in.target > pc) continue;
    if (in.target > head) head = in.target, back = j;
    else if (in.target == head) back = j;
  }
  return head >= 0;
}

// What the test code may not do (at the loop's frame; inlined callees may store their locals).
const char* impure_in_test(COp op) {
  switch (op) {
    case COp::StoreFast:
    case COp::DeleteFast:
    case COp::LoadFastAndClear:
    case COp::StoreDeref:
    case COp::DeleteDeref:
    case COp::StoreGlobal:
    case COp::StoreAttr: return "it assigns a variable";
    case COp::StoreSubscr:
    case COp::DeleteSubscr: return "it stores into an array or container";
    case COp::ReturnValue: return "it returns";
    case COp::RaiseVarargs: return "it raises";
    case COp::GetIter:
    case COp::ForIter: return "it runs a loop";
    case COp::JumpIfFalseOrPop:
    case COp::JumpIfTrueOrPop: return "it computes an `and`/`or` value";
    default: return nullptr;
  }
}

}  // namespace

// (3.12+ copy a short exit block into a `break`; the same code from the same state is leaving the
// loop. The decoder makes LOAD_FAST_CHECK a LoadFast and splits 3.13's fused loads, so a copy
// matches the exit's canonical instructions exactly.)
bool exit_copy(const std::vector<Instruction>& ins, int pc, int exit) {
  if (pc == exit || pc < 0 || exit < 0) return false;
  for (int k = 0; k < 32; ++k) {
    if (pc + k >= static_cast<int>(ins.size()) || exit + k >= static_cast<int>(ins.size())) return false;
    const Instruction &a = ins[static_cast<size_t>(pc + k)], &b = ins[static_cast<size_t>(exit + k)];
    if (a.op != b.op || a.arg != b.arg) return false;
    if (a.op == COp::ReturnValue) return true;
    if (is_jump(a.op) || a.op == COp::ForIter || a.op == COp::RaiseVarargs) return false;
  }
  return false;
}

bool Tracer::forced_while(const Instruction& in, bool jump, bool& handled) {
  handled = false;
  bool any = false;
  for (const Widen& w : widen_) any |= w.local < 0;
  if (!any || speculative_ > 0) return true;
  const std::vector<Instruction>& ins = fr().instrs;
  const int pc = fr().pc - 1;
  int body = -1, back = -1;
  if (!find_back_edge(ins, pc, body, back) || ins[static_cast<size_t>(body)].op == COp::ForIter) return true;
  const LoopKey key = while_key(fr().code, body);
  bool forced = false;
  for (const Widen& w : widen_) forced |= w.local < 0 && w.key == key;
  if (!forced || back + 1 >= static_cast<int>(ins.size())) return true;
  const int fall = resolve(ins, pc + 1), target = resolve(ins, in.target), exit = back + 1;
  if (!((fall == body && target == exit) || (target == body && fall == exit))) return true;
  if ((jump ? target : fall) != body) return true;  // (the loop does not run: nothing to do)
  handled = true;
  fr().pc = body;
  loc_.line = in.line >= 0 ? in.line : loc_.line;
  return while_region(pc, body, back, exit, trace_.graph.add_const_int(ir::DType::Bool, 1, loc_));
}

bool Tracer::region_break(const Instruction& in, ir::ValueId truth, bool& handled) {
  handled = false;
  if (regions_.empty()) return true;
  const size_t ri = regions_.size() - 1;
  const size_t depth = frames_.size();
  {
    const RegionFrame& rf = regions_[ri];
    if (!rf.exits_ok || rf.depth != depth || speculative_ != rf.spec_base + static_cast<int>(rf.exits.size()) ||
        arm_conds_.size() != rf.arm_base + rf.exits.size())
      return true;
  }
  const std::vector<Instruction>& ins = fr().instrs;
  // The loop's exit, or a copy of its exit block (3.12+: `break` followed by the function's
  // return; a for loop's copy follows the POP_TOP of its iterator), reached at the exit's stack
  // size (`traced`: in the speculative trace of the arm; a look at the code does not know it).
  auto exits_at = [&](int pc, bool traced) {
    const RegionFrame& rf = regions_[ri];
    const int exit = rf.is_while ? rf.exit_pc : rf.exit_at;
    if (rf.is_while ? pc == exit : pc >= exit) return true;
    return exit_copy(ins, pc, exit) && (!traced || fr().stack.size() == rf.exit_stack);
  };
  // Straight-line code from pc (assignments, no branches) that reaches the loop's exit.
  auto breaks = [&](int pc) {
    for (int k = 0; k < 64; ++k) {
      if (pc < 0 || pc >= static_cast<int>(ins.size())) return false;
      if (exits_at(pc, false)) return true;
      const COp op = ins[static_cast<size_t>(pc)].op;
      if (op == COp::Jump) {
        if (ins[static_cast<size_t>(pc)].target <= pc) return false;  // (back to the loop's head)
        pc = ins[static_cast<size_t>(pc)].target;
        continue;
      }
      if (is_jump(op) || op == COp::ForIter || op == COp::ReturnValue || op == COp::RaiseVarargs) return false;
      ++pc;
    }
    return false;
  };
  // Straight-line code from pc (loads, pops of the loops' iterators) that returns from the
  // loop's frame: `return i`, `return x[i] * 2`, `return i, s` — an exit that also leaves the
  // function (its value carried out of the loop: loop_returns.cpp).
  auto returns = [&](int pc) {
    for (int k = 0; k < 64; ++k) {
      if (pc < 0 || pc >= static_cast<int>(ins.size())) return false;
      if (exits_at(pc, false)) return false;
      const COp op = ins[static_cast<size_t>(pc)].op;
      if (op == COp::ReturnValue) return true;
      if (op == COp::Jump) {
        if (ins[static_cast<size_t>(pc)].target <= pc) return false;
        pc = ins[static_cast<size_t>(pc)].target;
        continue;
      }
      if (is_jump(op) || op == COp::ForIter || op == COp::GetIter || op == COp::RaiseVarargs) return false;
      ++pc;
    }
    return false;
  };
  const int fall = fr().pc, taken = in.target;
  bool tb = breaks(taken), fb = breaks(fall);
  bool ret = false;  // the exit arm returns
  if (!tb && !fb) {
    const bool tr = returns(taken), fr_ = returns(fall);
    if (tr != fr_) tb = tr, fb = fr_, ret = true;
  }
  if (tb == fb) return true;
  handled = true;
  if (in.op != COp::PopJumpIfTrue && in.op != COp::PopJumpIfFalse) return true;  // (never: op_pop_jump's)
  ir::Graph& g = trace_.graph;
  const ir::Type bool_t = ir::Type::scalar(ir::DType::Bool);
  const bool jump_when_true = in.op == COp::PopJumpIfTrue;
  const bool exit_when_true = tb ? jump_when_true : !jump_when_true;
  const ir::ValueId e = exit_when_true ? truth : g.add_op(ir::Op::Not, bool_t, {truth}, loc_);
  // The exit arm: pure code up to the exit (`idx = i; break`).
  const std::vector<AValue> locals0 = fr().locals, stack0 = fr().stack;
  const size_t effects0 = effect_count(), results0 = g.results.size(), checks0 = trace_.rerun_checks.size();
  const int64_t mutations0 = mutations_, guarded0 = guarded_mutations_;
  std::vector<std::pair<size_t, AValue>> restore;
  refine_ranges(truth, exit_when_true, true, &restore);
  const std::vector<AValue> refined = fr().locals;
  std::string bad;
  bool at_return = false;
  ++speculative_;
  fr().pc = tb ? taken : fall;
  interpret([&] {
    if (frames_.size() < depth) return bad = "it leaves the function", true;
    if (frames_.size() > depth) return false;  // an inlined call
    const int p = fr().pc;
    if (!ret && exits_at(p, true)) return true;
    if (p < 0 || p >= static_cast<int>(fr().instrs.size())) return false;  // (interpret reports it)
    const COp op = fr().instrs[static_cast<size_t>(p)].op;
    if (ret && op == COp::ReturnValue) return at_return = true;  // (before it runs)
    if (is_jump(op) && op != COp::Jump) return bad = "it branches", true;
    if (op == COp::ReturnValue || op == COp::RaiseVarargs || op == COp::ForIter || op == COp::GetIter)
      return bad = "it returns, raises or runs a loop", true;
    return false;
  });
  --speculative_;
  if (abort_) return false;
  if (!bad.empty() || returned_ || mutations_ != mutations0 || guarded_mutations_ != guarded0 ||
      effect_count() != effects0 || !only_check_results(results0, checks0) || (ret && !at_return))
    return region_fail(fmt::format("the {} at line {}: the code before it {}", ret ? "return" : "break", in.line,
                                   bad.empty() ? "has side effects" : bad));
  AValue value;
  if (ret) {
    if (fr().stack.empty()) return region_fail("internal: a return without a value");
    value = fr().stack.back();
    // (`return i`: the loop variable as a runtime Python int)
    std::function<bool(AValue&)> as_int = [&](AValue& v) {
      for (AValue& item : v.items)
        if (!as_int(item)) return false;
      return loop_index_as_int(v);
    };
    if (!as_int(value)) return false;
  }
  std::vector<AValue> at_exit = std::move(fr().locals);
  undo_refine(at_exit, restore, refined);
  fr().locals = locals0;
  fr().stack = stack0;
  if (regions_[ri].exits.empty()) regions_[ri].mutations_at_exit = mutations_ - guarded_mutations_;
  regions_[ri].exits.push_back({e, std::move(at_exit), ret, std::move(value)});
  // The rest of the body runs in the compiled code whether or not the loop left: its stores
  // are guarded by the exit not taken, and no while loop may start in it.
  arm_conds_.emplace_back(e, true);
  ++speculative_;
  fr().pc = tb ? fall : taken;
  cur_ = &in;
  return true;
}

bool Tracer::request_widen(const LoopKey& key, int local, ir::Type t, Box box, int sides,
                           std::vector<SlotFact> facts) {
  bool seen = false;
  int had = 0;
  for (const Widen& old : widen_)
    if (old.key == key && old.local == local) seen = true, had |= old.sides;
  // A while loop's counter widens bound by bound (sides); anything else once.
  if (seen && (box != Box::PyInt || (had | sides) == had)) return false;
  widen_request_ = Widen{key, local, std::move(t), box, sides | had, std::move(facts)};
  region_failed_ = std::nullopt;
  fail(AbortCode::ControlFlow, "loop region: a Python number becomes a runtime value (retrace)");
  return true;
}

bool Tracer::while_test_jump(const Instruction& in, ir::ValueId truth, bool& handled) {
  handled = false;
  const std::vector<Instruction>& ins = fr().instrs;
  const int pc = fr().pc - 1;
  const int fall = resolve(ins, pc + 1), jump = resolve(ins, in.target);
  // The test at the end of the while body being traced.
  if (!regions_.empty() && regions_.back().is_while && regions_.back().depth == frames_.size()) {
    const int head = regions_.back().body_pc, back = regions_.back().back_pc, exit = regions_.back().exit_pc;
    if (pc >= head && pc <= back &&
        (fall == head || fall == exit || jump == head || jump == exit || exit_copy(ins, fall, exit) ||
         exit_copy(ins, jump, exit))) {
      handled = true;
      std::vector<SlotFact> facts;
      // Not a test when its code goes on with the body (a break in the middle of it).
      std::string refusal;
      const int after = fr().pc;
      const size_t loop_effects0 = trace_.loop_effects.size();
      test_refusal_ = &refusal;
      auto c = loop_test(in, truth, head, exit, back, &facts);
      test_refusal_ = nullptr;
      if (!c && !abort_ && !refusal.empty()) {
        drop_loop_effects(loop_effects0);  // (recorded while trying the code after it as a test)
        fr().pc = after;
        bool taken = false;
        if (!region_break(in, truth, taken)) return false;
        if (taken) return true;
        return fail(AbortCode::ControlFlow, refusal);
      }
      if (!c) return false;
      regions_.back().cond_next = *c;
      regions_.back().next_facts = std::move(facts);
      fr().pc = head;  // region() stops here
      return true;
    }
  }
  // The test at the top of a while loop.
  int body = -1, back = -1, last = -1;
  // One arm enters the body or leaves; a copy of the exit block counts only opposite the body
  // for a test before the loop (a return before a loop is no test of it), anywhere for one in
  // the loop's body (`if done: break` in 3.12+, whose exit block is a return: a copy of it), and
  // so does a block ending in a return when nothing follows the loop (`while True:` in 3.12+
  // has no exit of its own: the `break` runs its return in place).
  int exit = -1;
  auto reaches = [&](int b, int j, bool inside) {
    const int e = j + 1;
    if (e < static_cast<int>(ins.size())) {
      exit = e;
      if (fall == b || fall == e || jump == b || jump == e) return true;
      if (inside) return exit_copy(ins, fall, e) || exit_copy(ins, jump, e);
      return (exit_copy(ins, fall, e) && jump == b) || (exit_copy(ins, jump, e) && fall == b);
    }
    if (jump == b && return_block(ins, fall)) return exit = fall, true;
    if (fall == b && return_block(ins, jump)) return exit = jump, true;
    return false;
  };
  if (find_back_edge(ins, pc, body, back) && ins[static_cast<size_t>(body)].op != COp::ForIter &&
      reaches(body, back, false)) {
    last = body - 1;  // the test code lies before the body
  } else if (find_enclosing_loop(ins, pc, body, back) && ins[static_cast<size_t>(body)].op != COp::ForIter &&
             reaches(body, back, true)) {
    // A test at the end of a loop body (`while True: ...; if done: break`): the iterations so
    // far were traced as they ran; the rest is a while region from the loop's head, whose body
    // ends at this same test.
    last = back;
  } else {
    // A return on runtime data in the first iteration of a while loop whose test was static
    // (`i = 0; while i < n: if x[i] > t: return i`): traced again as a region from its test
    // (forced_while), where region_break takes the return.
    if (speculative_ == 0 && find_enclosing_loop(ins, pc, body, back) &&
        ins[static_cast<size_t>(body)].op != COp::ForIter && return_block(ins, fall) != return_block(ins, jump) &&
        !(!regions_.empty() && regions_.back().is_while && regions_.back().depth == frames_.size() &&
          regions_.back().body_pc == body)) {
      const LoopKey key = while_key(fr().code, body);
      for (const Widen& w : widen_)
        if (w.local < 0 && w.key == key) return true;
      handled = true;
      widen_request_ = Widen{key, -1, ir::Type(), Box::Array, 0, {}};
      region_failed_ = std::nullopt;
      return fail(AbortCode::ControlFlow, "while loop: a return in its first iteration (retrace as a region)");
    }
    return true;
  }
  handled = true;
  if (speculative_ > 0) {
    cur_ = &in;
    return fail(AbortCode::ControlFlow,
                "a while loop on runtime data inside a branch on runtime data or a loop test (both sides of those "
                "are traced to run, and a loop eager code would not reach need not end)");
  }
  std::vector<SlotFact> facts;
  std::string refusal;
  const bool first_iteration = last == back;
  if (first_iteration) test_refusal_ = &refusal;
  auto c = loop_test(in, truth, body, exit, last, &facts);
  test_refusal_ = nullptr;
  if (!c && !abort_ && !refusal.empty()) {
    // A break in the first iteration of a loop whose test was static: trace it again as a
    // region from its test (forced_while), where region_break takes the break.
    const LoopKey key = while_key(fr().code, body);
    for (const Widen& w : widen_)
      if (w.local < 0 && w.key == key) return fail(AbortCode::ControlFlow, refusal);
    widen_request_ = Widen{key, -1, ir::Type(), Box::Array, 0, {}};
    region_failed_ = std::nullopt;
    return fail(AbortCode::ControlFlow, "while loop: a break in its first iteration (retrace as a region)");
  }
  if (!c) return false;
  fr().pc = body;
  loc_.line = in.line >= 0 ? in.line : loc_.line;
  // (the body runs only while the test holds, on the state it was evaluated on: the facts hold
  // at the body's start, also for a test at the end of a body whose first iteration ran)
  return while_region(pc, body, back, exit, *c, std::move(facts));
}

std::optional<ir::ValueId> Tracer::loop_test(const Instruction& in, ir::ValueId cond, int head, int exit,
                                             int last_pc, std::vector<SlotFact>* facts_out) {
  const size_t depth = frames_.size();
  const int first_pc = fr().pc - 1;
  const std::vector<AValue> orig_locals = fr().locals;
  // An outer for loop's variable (`j = i` before the loop) is a bounded runtime int in the
  // test, so that the arms can narrow its bounds (refine_ranges).
  for (AValue& l : fr().locals)
    if (l.kind == AValue::Kind::LoopIndex && l.method.empty() && !regions_.empty() && !loop_index_as_int(l))
      return std::nullopt;
  const std::vector<AValue> locals0 = fr().locals, stack0 = fr().stack;
  const size_t effects0 = effect_count(), results0 = trace_.graph.results.size(), checks0 = trace_.rerun_checks.size();
  const int64_t mutations0 = mutations_;
  ir::Graph& g = trace_.graph;  // the graph does not change during the test (no regions start)
  const ir::Type bool_t = ir::Type::scalar(ir::DType::Bool);
  bool refused = false;
  auto refuse = [&](const std::string& why) {
    cur_ = &in;
    refused = true;
    std::string msg =
        fmt::format("while loop: the branch on runtime data at line {} leaves the loop, but the code from it to the "
                    "loop's next test or exit {} (a loop test, or a break on runtime data after pure code, is "
                    "compiled; one followed by more of the body than that is not)",
                    in.line, why);
    if (test_refusal_) *test_refusal_ = std::move(msg);  // (the caller tries it as a break)
    else fail(AbortCode::ControlFlow, std::move(msg));
  };
  // An outcome: a constant (known 0/1) or a runtime bool[] value.
  struct Outcome {
    int known = -1;
    ir::ValueId v = ir::kNoValue;
    std::vector<std::pair<ir::ValueId, bool>> facts;  // comparisons that hold when it is true
  };
  auto value = [&](const Outcome& o) {
    return o.known >= 0 ? g.add_const_int(ir::DType::Bool, o.known, loc_) : o.v;
  };
  auto not_of = [&](ir::ValueId t) { return g.add_op(ir::Op::Not, bool_t, {t}, loc_); };
  // `yes` where t holds, else `no`, kept small for the common `and`/`or` shapes.
  // (facts: when the result is true and one arm's outcome is false, the other arm was taken.)
  auto with = [](Outcome o, ir::ValueId t, bool holds, const Outcome& arm) {
    o.facts = arm.facts;
    o.facts.emplace_back(t, holds);
    return o;
  };
  auto select = [&](ir::ValueId t, const Outcome& yes, const Outcome& no) -> Outcome {
    if (yes.known >= 0 && yes.known == no.known) return yes;
    if (yes.known == 1 && no.known == 0) return with({-1, t}, t, true, yes);
    if (yes.known == 0 && no.known == 1) return with({-1, not_of(t)}, t, false, no);
    if (no.known == 0) return with({-1, g.add_op(ir::Op::And, bool_t, {t, value(yes)}, loc_)}, t, true, yes);
    if (yes.known == 1) return {-1, g.add_op(ir::Op::Or, bool_t, {t, value(no)}, loc_)};
    if (yes.known == 0) return with({-1, g.add_op(ir::Op::And, bool_t, {not_of(t), value(no)}, loc_)}, t, false, no);
    if (no.known == 1) return {-1, g.add_op(ir::Op::Or, bool_t, {not_of(t), value(yes)}, loc_)};
    return {-1, g.add_op(ir::Op::Where, bool_t, {t, value(yes), value(no)}, loc_)};
  };
  std::function<std::optional<Outcome>(int)> from;
  // Both arms of the conditional jump `j` (its operand popped, runtime truth t), from this state.
  // Each arm is traced with the runtime ints' bounds narrowed by its side of t (clamped: the
  // compiled code evaluates both arms), so that `j > 0 and a[j - 1] > key` reads in bounds.
  auto fork = [&](const Instruction& j, ir::ValueId t, int fall_pc) -> std::optional<Outcome> {
    const std::vector<AValue> stack = fr().stack, locals = fr().locals;
    refine_ranges(t, j.op == COp::PopJumpIfTrue, true);
    auto taken = from(j.target);
    if (!taken) return std::nullopt;
    fr().stack = stack;
    fr().locals = locals;
    refine_ranges(t, j.op != COp::PopJumpIfTrue, true);
    auto fell = from(fall_pc);
    if (!fell) return std::nullopt;
    fr().stack = stack;
    fr().locals = locals;
    return j.op == COp::PopJumpIfTrue ? select(t, *taken, *fell) : select(t, *fell, *taken);
  };
  from = [&](int pc) -> std::optional<Outcome> {
    for (;;) {
      fr().pc = pc;
      std::string bad;
      ++speculative_;
      interpret([&] {
        if (frames_.size() != depth) {  // an inlined callee: no loops in it either
          const int p = fr().pc;
          if (p < 0 || p >= static_cast<int>(fr().instrs.size())) return false;  // interpret reports it
          const COp op = fr().instrs[static_cast<size_t>(p)].op;
          if (op == COp::GetIter || op == COp::ForIter) return bad = "it runs a loop", true;
          return false;
        }
        const int p = fr().pc;
        if (p == head || p == exit || exit_copy(fr().instrs, p, exit)) return true;
        if (p < first_pc || p > last_pc) return bad = "it jumps into other code", true;
        const COp op = fr().instrs[static_cast<size_t>(p)].op;
        if (op == COp::PopJumpIfFalse || op == COp::PopJumpIfTrue) return true;
        if (const char* what = impure_in_test(op)) return bad = what, true;
        return false;
      });
      --speculative_;
      if (abort_) return std::nullopt;
      if (!bad.empty()) return refuse(bad), std::nullopt;
      bool changed = mutations_ != mutations0 || effect_count() != effects0 || !only_check_results(results0, checks0);
      if (changed) return refuse("it has side effects"), std::nullopt;
      const int p = fr().pc;
      if (p == head || p == exit || exit_copy(fr().instrs, p, exit)) {
        if (fr().stack.size() != stack0.size()) return refuse("it leaves values on the stack"), std::nullopt;
        return Outcome{p == head ? 1 : 0, ir::kNoValue};
      }
      const Instruction& j = fr().instrs[static_cast<size_t>(p)];
      cur_ = &j;
      loc_.line = j.line >= 0 ? j.line : loc_.line;
      AValue v = pop();
      if (auto t = runtime_truth(v)) {
        if (j.target <= p && resolve(fr().instrs, j.target) != head) return refuse("it jumps backward"), std::nullopt;
        return fork(j, *t, p + 1);
      }
      auto tv = truth(v);
      if (!tv) return std::nullopt;
      pc = (j.op == COp::PopJumpIfTrue ? *tv : !*tv) ? j.target : p + 1;
    }
  };
  auto out = fork(in, cond, first_pc + 1);
  if (out && facts_out && !refused && !abort_) {
    fr().locals = locals0;
    *facts_out = out->known == 1 ? std::vector<SlotFact>{} : slot_facts(out->facts);
  }
  fr().locals = orig_locals;
  fr().stack = stack0;
  cur_ = &in;
  if (!out || refused || abort_) return std::nullopt;
  return value(*out);
}

namespace {
// a op b for ints in [alo, ahi] and [blo, bhi]: the bounds narrowed (false: unchanged, or the
// comparison cannot hold: then nothing is narrowed).
bool narrow(ir::Op op, int64_t& alo, int64_t& ahi, int64_t& blo, int64_t& bhi) {
  auto dec = [](int64_t v) { return v == INT64_MIN ? v : v - 1; };
  auto inc = [](int64_t v) { return v == INT64_MAX ? v : v + 1; };
  int64_t al = alo, ah = ahi, bl = blo, bh = bhi;
  switch (op) {
    case ir::Op::Lt: ah = std::min(ah, dec(bh)), bl = std::max(bl, inc(al)); break;
    case ir::Op::Le: ah = std::min(ah, bh), bl = std::max(bl, al); break;
    case ir::Op::Gt: bh = std::min(bh, dec(ah)), al = std::max(al, inc(bl)); break;
    case ir::Op::Ge: bh = std::min(bh, ah), al = std::max(al, bl); break;
    case ir::Op::Eq: al = bl = std::max(al, bl), ah = bh = std::min(ah, bh); break;
    default: return false;
  }
  if (al > ah || bl > bh) return false;
  bool changed = al != alo || ah != ahi || bl != blo || bh != bhi;
  alo = al, ahi = ah, blo = bl, bhi = bh;
  return changed;
}

ir::Op negate(ir::Op op) {
  switch (op) {
    case ir::Op::Lt: return ir::Op::Ge;
    case ir::Op::Le: return ir::Op::Gt;
    case ir::Op::Gt: return ir::Op::Le;
    case ir::Op::Ge: return ir::Op::Lt;
    case ir::Op::Ne: return ir::Op::Eq;
    default: return ir::Op::Param;  // (nothing to narrow)
  }
}
}  // namespace

void Tracer::undo_refine(std::vector<AValue>& locals, const std::vector<std::pair<size_t, AValue>>& restore,
                         const std::vector<AValue>& refined) {
  for (const auto& [k, before] : restore)
    if (k < locals.size() && k < refined.size() && locals[k].is_tensor() && locals[k].v == refined[k].v)
      locals[k] = before;
}

void Tracer::refine_ranges(ir::ValueId t, bool holds, bool clamp, std::vector<std::pair<size_t, AValue>>* restore) {
  ir::Graph& g = trace_.graph;
  if (t == ir::kNoValue || t >= g.size()) return;
  const ir::Node& n = g.node(t);
  if (n.op == ir::Op::Not && n.operands.size() == 1 && ir::is_bool(g.type(t).dtype))
    return refine_ranges(n.operands[0], !holds, clamp, restore);
  if (n.op == ir::Op::And && holds && n.operands.size() == 2) {
    const ir::ValueId a = n.operands[0], b = n.operands[1];
    refine_ranges(a, true, clamp, restore);
    refine_ranges(b, true, clamp, restore);
    return;
  }
  ir::Op op = holds ? n.op : negate(n.op);
  if (op == ir::Op::Ne || n.operands.size() != 2 || !ir::is_integer(g.type(n.operands[0]).dtype) ||
      !g.type(n.operands[0]).is_scalar())
    return;
  std::vector<AValue>& locals = fr().locals;
  auto bounds = [&](ir::ValueId v, int64_t& lo, int64_t& hi) {
    const ir::Node& c = g.node(v);
    if (c.op == ir::Op::Const && !c.ints.empty()) return lo = hi = c.ints[0], true;
    for (const AValue& l : locals)
      if (bounded_int(l) && l.v == v) return lo = l.lo, hi = l.hi, true;
    return false;
  };
  const ir::ValueId a = n.operands[0], b = n.operands[1];
  int64_t alo = INT64_MIN, ahi = INT64_MAX, blo = INT64_MIN, bhi = INT64_MAX;
  const bool ka = bounds(a, alo, ahi), kb = bounds(b, blo, bhi);
  if (!ka && !kb) return;
  if (!narrow(op, alo, ahi, blo, bhi)) return;
  ir::ValueId cond = ir::kNoValue;
  auto update = [&](ir::ValueId v, int64_t lo, int64_t hi) {
    if (g.node(v).op == ir::Op::Const) return;
    ir::ValueId nv = v;
    bool done = false;
    for (size_t k = 0; k < locals.size(); ++k) {
      AValue& l = locals[k];
      if (!bounded_int(l) || l.v != v || (l.lo == lo && l.hi == hi)) continue;
      if (restore) restore->emplace_back(k, l);
      if (clamp && !done) {
        if (cond == ir::kNoValue) cond = holds ? t : g.add_op(ir::Op::Not, ir::Type::scalar(ir::DType::Bool), {t}, loc_);
        nv = g.add_op(ir::Op::Where, l.type, {cond, v, g.add_const_int(l.type.dtype, lo, loc_)}, loc_);
        done = true;
      }
      l.v = nv, l.lo = lo, l.hi = hi;
    }
  };
  if (ka) update(a, alo, ahi);
  if (kb) update(b, blo, bhi);
}

std::vector<Tracer::SlotFact> Tracer::slot_facts(const std::vector<std::pair<ir::ValueId, bool>>& facts) {
  std::vector<SlotFact> out;
  ir::Graph& g = trace_.graph;
  const std::vector<AValue>& locals = fr().locals;
  std::function<void(ir::ValueId, bool)> add = [&](ir::ValueId t, bool holds) {
    const ir::Node& n = g.node(t);
    if (n.op == ir::Op::Not && ir::is_bool(g.type(t).dtype)) return add(n.operands[0], !holds);
    if (n.op == ir::Op::And && holds) return add(n.operands[0], true), add(n.operands[1], true);
    ir::Op op = holds ? n.op : negate(n.op);
    if (n.operands.size() != 2 || op == ir::Op::Ne || op == ir::Op::Param) return;
    if (!ir::is_integer(g.type(n.operands[0]).dtype) || !g.type(n.operands[0]).is_scalar()) return;
    // (every local holding the value: `j = i` makes two names for one value)
    auto side = [&](ir::ValueId v, std::vector<std::pair<int, int64_t>>& opts) {
      const ir::Node& cn = g.node(v);
      if (cn.op == ir::Op::Const && !cn.ints.empty()) opts.emplace_back(-1, cn.ints[0]);
      for (size_t k = 0; k < locals.size(); ++k)
        if (bounded_int(locals[k]) && locals[k].box == Box::PyInt && locals[k].v == v) opts.emplace_back(static_cast<int>(k), 0);
    };
    std::vector<std::pair<int, int64_t>> as, bs;
    side(n.operands[0], as);
    side(n.operands[1], bs);
    for (const auto& [la, ca] : as)
      for (const auto& [lb, cb] : bs)
        if (la >= 0 || lb >= 0) out.push_back(SlotFact{op, la, lb, ca, cb});
  };
  for (const auto& [t, holds] : facts) add(t, holds);
  return out;
}

void Tracer::apply_slot_facts(const std::vector<SlotFact>& facts) {
  std::vector<AValue>& locals = fr().locals;
  for (int round = 0; round < 2; ++round)
    for (const SlotFact& f : facts) {
      auto get = [&](int l, int64_t c, int64_t& lo, int64_t& hi) {
        if (l < 0) return lo = hi = c, true;
        if (l >= static_cast<int>(locals.size())) return false;
        const AValue& v = locals[static_cast<size_t>(l)];
        if (!bounded_int(v) || v.box != Box::PyInt) return false;
        return lo = v.lo, hi = v.hi, true;
      };
      int64_t alo, ahi, blo, bhi;
      if (!get(f.la, f.ca, alo, ahi) || !get(f.lb, f.cb, blo, bhi)) continue;
      if (!narrow(f.op, alo, ahi, blo, bhi)) continue;
      if (f.la >= 0) locals[static_cast<size_t>(f.la)].lo = alo, locals[static_cast<size_t>(f.la)].hi = ahi;
      if (f.lb >= 0) locals[static_cast<size_t>(f.lb)].lo = blo, locals[static_cast<size_t>(f.lb)].hi = bhi;
    }
}

}  // namespace tracejit::tracer::detail
