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

// Whether the code at `pc` is a copy of the code at `exit` up to a return (3.13 copies a short
// exit block into a `break`): running it is leaving the loop.
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

bool Tracer::request_widen(const LoopKey& key, int local, ir::Type t, Box box) {
  for (const Widen& old : widen_)
    if (old.key == key && old.local == local) return false;
  widen_request_ = Widen{key, local, std::move(t), box};
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
      auto c = loop_test(in, truth, head, exit, back);
      if (!c) return false;
      regions_.back().cond_next = *c;
      fr().pc = head;  // region() stops here
      return true;
    }
  }
  // The test at the top of a while loop.
  int body = -1, back = -1, last = -1;
  // One arm enters the body or leaves; a copy of the exit block counts only opposite the body,
  // and so does a block ending in a return when nothing follows the loop (`while True:` in
  // 3.12+ has no exit of its own: the `break` runs its return in place).
  int exit = -1;
  auto reaches = [&](int b, int j) {
    const int e = j + 1;
    if (e < static_cast<int>(ins.size())) {
      exit = e;
      return fall == b || fall == e || jump == b || jump == e || (exit_copy(ins, fall, e) && jump == b) ||
             (exit_copy(ins, jump, e) && fall == b);
    }
    if (jump == b && return_block(ins, fall)) return exit = fall, true;
    if (fall == b && return_block(ins, jump)) return exit = jump, true;
    return false;
  };
  if (find_back_edge(ins, pc, body, back) && ins[static_cast<size_t>(body)].op != COp::ForIter &&
      reaches(body, back)) {
    last = body - 1;  // the test code lies before the body
  } else if (find_enclosing_loop(ins, pc, body, back) && ins[static_cast<size_t>(body)].op != COp::ForIter &&
             reaches(body, back)) {
    // A test at the end of a loop body (`while True: ...; if done: break`): the iterations so
    // far were traced as they ran; the rest is a while region from the loop's head, whose body
    // ends at this same test.
    last = back;
  } else {
    return true;
  }
  handled = true;
  if (speculative_ > 0) {
    cur_ = &in;
    return fail(AbortCode::ControlFlow,
                "a while loop on runtime data inside a branch on runtime data or a loop test (both sides of those "
                "are traced to run, and a loop eager code would not reach need not end)");
  }
  auto c = loop_test(in, truth, body, exit, last);
  if (!c) return false;
  fr().pc = body;
  loc_.line = in.line >= 0 ? in.line : loc_.line;
  return while_region(pc, body, back, exit, *c);
}

std::optional<ir::ValueId> Tracer::loop_test(const Instruction& in, ir::ValueId cond, int head, int exit,
                                             int last_pc) {
  const size_t depth = frames_.size();
  const int first_pc = fr().pc - 1;
  const std::vector<AValue> locals0 = fr().locals, stack0 = fr().stack;
  const size_t effects0 = effect_count(), results0 = trace_.graph.results.size();
  const int64_t mutations0 = mutations_;
  ir::Graph& g = trace_.graph;  // the graph does not change during the test (no regions start)
  const ir::Type bool_t = ir::Type::scalar(ir::DType::Bool);
  bool refused = false;
  auto refuse = [&](const std::string& why) {
    cur_ = &in;
    refused = true;
    fail(AbortCode::ControlFlow,
         fmt::format("while loop: the branch on runtime data at line {} leaves the loop, but the code from it to the "
                     "loop's next test or exit {} (a loop test, or a break or return on runtime data at the very end "
                     "of the body, is compiled; one followed by more of the body is not)",
                     in.line, why));
  };
  // An outcome: a constant (known 0/1) or a runtime bool[] value.
  struct Outcome {
    int known = -1;
    ir::ValueId v = ir::kNoValue;
  };
  auto value = [&](const Outcome& o) {
    return o.known >= 0 ? g.add_const_int(ir::DType::Bool, o.known, loc_) : o.v;
  };
  auto not_of = [&](ir::ValueId t) { return g.add_op(ir::Op::Not, bool_t, {t}, loc_); };
  // `yes` where t holds, else `no`, kept small for the common `and`/`or` shapes.
  auto select = [&](ir::ValueId t, const Outcome& yes, const Outcome& no) -> Outcome {
    if (yes.known >= 0 && yes.known == no.known) return yes;
    if (yes.known == 1 && no.known == 0) return {-1, t};
    if (yes.known == 0 && no.known == 1) return {-1, not_of(t)};
    if (no.known == 0) return {-1, g.add_op(ir::Op::And, bool_t, {t, value(yes)}, loc_)};
    if (yes.known == 1) return {-1, g.add_op(ir::Op::Or, bool_t, {t, value(no)}, loc_)};
    if (yes.known == 0) return {-1, g.add_op(ir::Op::And, bool_t, {not_of(t), value(no)}, loc_)};
    if (no.known == 1) return {-1, g.add_op(ir::Op::Or, bool_t, {not_of(t), value(yes)}, loc_)};
    return {-1, g.add_op(ir::Op::Where, bool_t, {t, value(yes), value(no)}, loc_)};
  };
  std::function<std::optional<Outcome>(int)> from;
  // Both arms of the conditional jump `j` (its operand popped, runtime truth t), from this state.
  auto fork = [&](const Instruction& j, ir::ValueId t, int fall_pc) -> std::optional<Outcome> {
    const std::vector<AValue> stack = fr().stack;
    auto taken = from(j.target);
    if (!taken) return std::nullopt;
    fr().stack = stack;
    fr().locals = locals0;
    auto fell = from(fall_pc);
    if (!fell) return std::nullopt;
    fr().stack = stack;
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
      bool changed = mutations_ != mutations0 || effect_count() != effects0 || trace_.graph.results.size() != results0;
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
  fr().locals = locals0;
  fr().stack = stack0;
  cur_ = &in;
  if (!out || refused || abort_) return std::nullopt;
  return value(*out);
}

}  // namespace tracejit::tracer::detail
