// A `return` inside a loop region's body (`for i in ...: if x[i] > t: return i`): region_break
// (while_loops.cpp) takes it as an exit of the region that also leaves the function, and the
// region carries out whether the loop returned (a bool) and the value it returned. Here the
// loop is left: a return from a nested loop is an exit of the enclosing region at the same
// frame as well (it leaves that loop too); otherwise the code after the loop runs only where
// no return happened — it is traced as the arm of that condition (as an if-conversion's arm:
// pure code, stores into arrays guarded, no loops) up to the frame's own return, whose value
// becomes where(returned, the loop's value, its value). Returned arrays must be fresh arrays of
// one type from both; scalars of two Python types (np.float64 from the loop, a Python int
// after it) are returned as the one that ran (a Select: OutputNode::Kind::Choice). Between the
// loop's own returns the values must be of one type (the loop carries one value out).
#include "tracer/tracer_impl.h"

#include <algorithm>
#include <functional>

namespace tracejit::tracer::detail {
namespace {

bool has_select(const AValue& v) {
  if (v.kind == AValue::Kind::Select) return true;
  for (const AValue& item : v.items)
    if (has_select(item)) return true;
  return false;
}

// An array nothing outside this call can hold (no argument, input, view or pristine value).
bool fresh_array(const AValue& v) {
  return v.is_tensor() && v.box == Box::Array && !v.pristine && v.input < 0 && v.arg < 0 &&
         v.view_root == ir::kNoValue && v.type.is_static();
}

}  // namespace

std::optional<AValue> Tracer::merge_returns(ir::ValueId cond, const AValue& a, const AValue& b, std::string& why,
                                            bool mixed) {
  if (a.kind == AValue::Kind::Tuple && b.kind == AValue::Kind::Tuple) {
    if (a.is_list != b.is_list || a.items.size() != b.items.size()) {
      why = "containers of different lengths";
      return std::nullopt;
    }
    AValue t = a;
    for (size_t i = 0; i < a.items.size(); ++i) {
      auto m = merge_returns(cond, a.items[i], b.items[i], why, mixed);
      if (!m) return std::nullopt;
      t.items[i] = std::move(*m);
    }
    return t;
  }
  if (a.is_tensor() && b.is_tensor() && (a.box == Box::Array || b.box == Box::Array)) {
    if (a.v == b.v && a.box == b.box && a.view_root == b.view_root && a.pristine == b.pristine && a.arg == b.arg &&
        a.input == b.input)
      return a;
    if (!fresh_array(a) || !fresh_array(b) || a.type != b.type) {
      why = "an array that is not a new array of one type from both (its identity or type could differ)";
      return std::nullopt;
    }
    ir::Graph& g = trace_.graph;
    AValue r = a;
    ir::ValueId c = g.add_op(ir::Op::Broadcast, ir::Type(ir::DType::Bool, a.type.shape), {cond}, loc_);
    r.v = g.add_op(ir::Op::Where, a.type, {c, a.v, b.v}, loc_);
    r.source = Source::computed();
    return r;
  }
  auto m = merge_values(a, b, cond, why);
  if (!m) return std::nullopt;
  if (!mixed && has_select(*m)) {
    why = fmt::format("{} or {} (the returned type would depend on the data)", describe_scalar_kind(a),
                      describe_scalar_kind(b));
    return std::nullopt;
  }
  return m;
}

bool Tracer::loop_returned(ir::ValueId flag, AValue value) {
  const size_t depth = frames_.size();
  if (!regions_.empty() && regions_.back().depth == depth) {
    // A nested loop returned: the enclosing loop is left at this point too.
    RegionFrame& rf = regions_.back();
    if (!rf.exits_ok || (!rf.is_while && !rf.for_exit) || speculative_ != rf.spec_base + static_cast<int>(rf.exits.size()) ||
        arm_conds_.size() != rf.arm_base + rf.exits.size())
      return region_fail("a return from a nested loop inside a branch on runtime data");
    if (rf.exits.empty()) rf.mutations_at_exit = mutations_ - guarded_mutations_;
    rf.exits.push_back({flag, fr().locals, true, std::move(value)});
    arm_conds_.emplace_back(flag, true);  // the rest of the body: stores guarded, as after a break
    ++speculative_;
    return true;
  }
  // The code after the loop, where no return happened, up to this frame's return.
  const Instruction* const at = cur_;
  const int line = at ? at->line : loc_.line;
  auto refuse = [&](const std::string& why) {
    return fail(AbortCode::ControlFlow,
                fmt::format("a return inside the loop at line {}: {} (the code after a loop that may return is "
                            "compiled only when it is pure and the returned types agree)",
                            line, why));
  };
  const size_t effects0 = top_effect_count(), results0 = trace_.graph.results.size();
  const int64_t mutations0 = mutations_, guarded0 = guarded_mutations_;
  std::vector<ir::ValueId> inputs0;
  for (const auto& [k, v] : inputs_by_source_) inputs0.push_back(v.v);
  std::string impure;
  const int start_pc = fr().pc;  // (a for loop's FOR_ITER, its iterator exhausted: it leaves)
  arm_conds_.emplace_back(flag, true);
  ++speculative_;
  interpret([&] {
    if (frames_.size() < depth) return impure = "it leaves the function", true;
    const int pc = fr().pc;
    if (pc < 0 || pc >= static_cast<int>(fr().instrs.size())) return false;  // interpret reports it
    const Instruction& next = fr().instrs[static_cast<size_t>(pc)];
    if (frames_.size() == depth && next.op == COp::ReturnValue) return true;  // (before it runs)
    if (next.op == COp::ForIter && frames_.size() == depth && pc == start_pc) return false;
    const char* why = speculative_impurity(next);  // (ifconv.cpp)
    if (!why) return false;
    impure = fmt::format("the code after the loop contains {} at line {}", why, next.line);
    return true;
  });
  arm_conds_.pop_back();
  --speculative_;
  if (arm_conds_.empty()) arm_updates_.clear();
  if (abort_) return false;
  if (!impure.empty()) return refuse(impure);
  if (returned_ || frames_.size() != depth || fr().stack.empty()) return refuse("the code after it does not return");
  if (top_effect_count() != effects0 || trace_.graph.results.size() != results0)
    return refuse("the code after the loop has side effects");
  bool changed = mutations_ - mutations0 != guarded_mutations_ - guarded0;
  if (guarded_mutations_ == guarded0)
    for (size_t i = 0; i < inputs0.size(); ++i) changed |= inputs_by_source_[i].second.v != inputs0[i];
  if (changed) return refuse("the code after the loop updates an array in place");
  std::string why;
  AValue after = fr().stack.back();
  if (!loop_index_as_int(after)) return false;
  auto m = merge_returns(flag, value, after, why, true);
  if (!m) {
    if (abort_) return false;
    return refuse(fmt::format("it returns {}", why));
  }
  fr().stack.back() = std::move(*m);
  return true;  // (RETURN_VALUE runs next)
}

}  // namespace tracejit::tracer::detail
