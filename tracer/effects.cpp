// Deferred effects and host values: the statements a graph cannot hold — print(...), an item
// assignment into a plain dict or list, lst.append(x), d.update(...) — are recorded in program
// order (Trace::effects) instead of aborting the trace; the runtime performs them after the
// kernel with the real values. Strings formatted from runtime values (f-strings, str(), repr(),
// format(), "...".format()) are host values: slots the runtime fills in the same pass, which
// can only flow into other host values and effects.
//
// What keeps this exact:
// - The graph is functional: a tensor operand is the SSA value at the effect's point, made a
//   graph result. Input arrays not updated in place are passed as themselves (their contents
//   are still the caller's when the effects run: write-backs come after them).
// - Stores keep object identity: an input array, a container or an object reached by a source
//   is stored as itself; a computed array is the result array the caller may also get back
//   (one Python object per result); a computed array stored somewhere may not be updated in
//   place later (the stored object would have to change too), and views are never stored.
// - A container written by an effect is not read again by the trace (the write has not
//   happened at trace time); containers of the same kind read after the write must be other
//   objects at call time (Trace::effect_distinct, checked before the kernel), a list the trace
//   iterates is never written, and namespaces (globals, builtins, an object's __dict__) are
//   never targets.
// - Only values whose formatting is NumPy's or Python's own code are formatted or printed
//   (numbers, strings, None, arrays, NumPy scalars, tuples of these); objects whose
//   __str__/__format__ could run user code abort the trace.
#include "tracer/tracer_impl.h"

#include <algorithm>

namespace tracejit::tracer::detail {
namespace {

// Objects whose str/repr/format is Python's or NumPy's own code and cannot change: safe to
// format at trace time and to pass to an effect as a constant.
bool immutable_value(PyObject* o) {
  if (o == Py_None || PyBool_Check(o) || PyLong_CheckExact(o) || PyFloat_CheckExact(o) ||
      PyUnicode_CheckExact(o) || PyBytes_CheckExact(o) || PyComplex_CheckExact(o) ||
      PyArray_DescrCheck(o) || o == Py_Ellipsis)
    return true;
  if (PyArray_IsScalar(o, Generic)) return !PyArray_IsScalar(o, Object) && !PyArray_IsScalar(o, Void);
  if (PyTuple_CheckExact(o)) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); ++i)
      if (!immutable_value(PyTuple_GET_ITEM(o, i))) return false;
    return true;
  }
  return false;
}

bool path_has_dict_attr(const SourceRef& s) {
  for (const Source* p = s.get(); p; p = p->base.get())
    if (p->kind == Source::Kind::Attr && p->name == "__dict__") return true;
  return false;
}

// The __dict__ an object already has (never creating one), or nullptr.
PyObject* instance_dict(PyObject* o) {
  if (PyModule_Check(o)) return PyModule_GetDict(o);
  if (PyType_Check(o)) return nullptr;  // a mappingproxy, never a plain dict
  PyTypeObject* t = Py_TYPE(o);
#ifdef Py_TPFLAGS_MANAGED_DICT
  // 3.11-3.13 keep a managed dict pointer three words before the object (3.12 tags it when it
  // holds inline values instead: then it never equals a dict object, which is what we ask).
  if (t->tp_flags & Py_TPFLAGS_MANAGED_DICT) return reinterpret_cast<PyObject**>(o)[-3];
#endif
  if (t->tp_dictoffset == 0) return nullptr;
  PyObject** p = _PyObject_GetDictPtr(o);  // no managed dict: only computes the address
  return p ? *p : nullptr;
}

// A sample of what a tensor is boxed as at run time (zeros of its dtype; arrays of rank r as
// shape (1,)*r): formatting it raises exactly when formatting the real value would (the spec
// and the type decide, not the value).
PyObject* sample_of(const AValue& v) {
  if (v.box == Box::PyFloat) return PyFloat_FromDouble(0.0);
  if (v.box == Box::PyInt) return PyLong_FromLong(0);
  int typenum = typenum_from_dtype(v.type.dtype);
  if (v.box == Box::NpScalar) {
    PyArray_Descr* d = PyArray_DescrFromType(typenum);
    alignas(16) char zero[16] = {};
    PyObject* s = PyArray_Scalar(zero, d, nullptr);
    Py_DECREF(d);
    return s;
  }
  std::vector<npy_intp> dims(static_cast<size_t>(v.type.rank()), 1);
  return PyArray_ZEROS(v.type.rank(), dims.data(), typenum, 0);
}


}  // namespace

bool builtin_hashable(PyObject* o) {
  if (PyTuple_CheckExact(o)) {
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); ++i)
      if (!builtin_hashable(PyTuple_GET_ITEM(o, i))) return false;
    return true;
  }
  return immutable_value(o) && !PyArray_DescrCheck(o);
}

// ---------------------------------------------------------------------------------------------
// Operands

void Tracer::locate_effect(Effect& e) const {
  e.file = PyUnicode_AsUTF8(fr().code->co_filename);
  e.line = cur_ && cur_->line >= 0 ? cur_->line : fr().code->co_firstlineno;
  e.function = PyUnicode_AsUTF8(fr().code->co_name);
}

bool Tracer::result_discarded() const {
  size_t pc = static_cast<size_t>(fr().pc);
  return pc < fr().instrs.size() && fr().instrs[pc].op == COp::PopTop;
}

std::optional<EffectOperand> Tracer::effect_operand(const AValue& v, bool store) {
  EffectOperand op;
  auto by_source = [&](const SourceRef& s, int arg) {
    if (arg >= 0) {
      op.kind = EffectOperand::Kind::Arg;
      op.index = arg;
      return;
    }
    op.kind = EffectOperand::Kind::Fetch;
    std::string key = s->expr();
    for (size_t i = 0; i < trace_.effect_fetches.size(); ++i)
      if (trace_.effect_fetches[i]->expr() == key) {
        op.index = static_cast<int>(i);
        return;
      }
    trace_.effect_fetches.push_back(s);
    op.index = static_cast<int>(trace_.effect_fetches.size() - 1);
  };
  switch (v.kind) {
    case AValue::Kind::LoopIndex: {  // the loop variable: this iteration's Python int
      AValue c = v;
      if (!loop_index_as_int(c)) return std::nullopt;
      return effect_operand(c, store);
    }
    case AValue::Kind::Tensor: {
      const auto& params = trace_.graph.params;
      // (In a loop body an input unchanged so far may be updated later in the iteration, so
      // changed in the next one: its value is recorded instead.)
      bool unchanged = regions_.empty() && v.pristine && v.input >= 0 && static_cast<size_t>(v.input) < params.size() &&
                       v.v == params[static_cast<size_t>(v.input)];
      if (v.pristine && (store || unchanged) && v.source && v.source->evaluable()) {
        // The object itself: an input array updated in place before a store is still that
        // object (and the caller's write-back gives it its final contents, as eagerly).
        by_source(v.source, v.arg);
        return op;
      }
      if (store && v.view_root != ir::kNoValue) {
        fail(AbortCode::SideEffect,
             "stores a view of another array (eager NumPy shares its memory): runs eagerly");
        return std::nullopt;
      }
      if (!regions_.empty()) {
        // In a loop body: this iteration's value, recorded by the body's `effect` node and
        // boxed as a new object per iteration (never written afterwards: a copy).
        if (store && v.box == Box::Array) {
          auto& stored = regions_.back().stored;
          if (std::count(stored.begin(), stored.end(), v.v))
            return fail(AbortCode::SideEffect,
                        "loop region: effects store one computed array twice in an iteration (eager code stores "
                        "one object; per-iteration copies would be two): runs eagerly"),
                   std::nullopt;
          stored.push_back(v.v);
          escaped_.push_back(v.v);
        }
        op.kind = EffectOperand::Kind::Recorded;
        op.index = record_value(v.v, v.box);
        op.box = v.box;
        return op;
      }
      op.kind = EffectOperand::Kind::Result;
      op.index = result_index(v.v);
      op.box = v.box;
      if (store && v.box == Box::Array) escaped_.push_back(v.v);
      return op;
    }
    case AValue::Kind::Host:
      op.kind = EffectOperand::Kind::Host;
      op.index = v.arg;
      return op;
    case AValue::Kind::Tuple: {
      if (!v.method.empty()) {  // a dict's keys/values/items view held as a tuple
        fail(AbortCode::SideEffect, fmt::format("passes a {} view to a deferred effect: runs eagerly", v.method));
        return std::nullopt;
      }
      if (v.is_list && store) {
        fail(AbortCode::SideEffect,
             "stores a list built in the traced code (a fresh list per store would change identity): runs eagerly");
        return std::nullopt;
      }
      op.kind = v.is_list ? EffectOperand::Kind::List : EffectOperand::Kind::Tuple;
      for (const AValue& it : v.items) {
        auto o = effect_operand(it, store);
        if (!o) return std::nullopt;
        op.items.push_back(std::move(*o));
      }
      return op;
    }
    case AValue::Kind::Object: {
      if (v.lazy && v.source && v.source->evaluable()) {  // an int not guarded by value: read again
        by_source(v.source, v.source->kind == Source::Kind::Arg ? v.source->arg_index : -1);
        return op;
      }
      if (immutable_value(v.obj)) {  // constants, or guarded by value
        op.kind = EffectOperand::Kind::Constant;
        op.constant = PyRef::borrow(v.obj);
        return op;
      }
      if (store && v.source && v.source->evaluable()) {
        // A mutable object stored as itself (its identity is what eager code stores; effects
        // run in order, so one written by an earlier effect is already up to date).
        by_source(v.source, v.source->kind == Source::Kind::Arg ? v.source->arg_index : -1);
        return op;
      }
      fail(AbortCode::SideEffect,
           fmt::format("passes {} to a deferred effect ({}): runs eagerly",
                       what(v), store ? "an object that cannot be fetched again at call time"
                                      : "its str()/format() may run user code or change"));
      return std::nullopt;
    }
    default:
      break;
  }
  fail(AbortCode::SideEffect, fmt::format("passes {} to a deferred effect: runs eagerly", what(v)));
  return std::nullopt;
}

// In-place state of the input arrays at this point: what the caller must see if this effect
// raises (the kernel computed everything; only write-backs are visible to the caller).
void Tracer::snapshot_writebacks(Effect& e) {
  const auto& params = trace_.graph.params;
  for (const auto& [key, v] : inputs_by_source_) {
    if (v.input < 0 || static_cast<size_t>(v.input) >= params.size() ||
        v.v == params[static_cast<size_t>(v.input)])
      continue;
    if (trace_.inputs[static_cast<size_t>(v.input)].kind != InputBinding::Kind::ArrayData) continue;
    e.writebacks.emplace_back(v.input, result_index(v.v));
  }
}

int Tracer::record_value(ir::ValueId v, Box box) {
  for (size_t j = 0; j < pending_recorded_.size(); ++j)
    if (pending_recorded_[j].first == v && pending_recorded_[j].second == box) return static_cast<int>(j);
  pending_recorded_.emplace_back(v, box);
  return static_cast<int>(pending_recorded_.size() - 1);
}

bool Tracer::root_unchanged(ir::ValueId v, int input) const {
  for (size_t l = regions_.size(); l-- > 0;) {  // innermost body first, out to the root graph
    ir::ValueId outer = ir::kNoValue;
    for (const auto& [o, p] : regions_[l].captures)
      if (p == v) outer = o;
    if (outer == ir::kNoValue) return false;  // computed in that body
    v = outer;
  }
  const ir::Graph& root = regions_.empty() ? trace_.graph : regions_[0].outer;
  return input >= 0 && static_cast<size_t>(input) < root.params.size() && v == root.params[static_cast<size_t>(input)];
}

// An effect inside a loop region: an `effect` node of the body (under the branch arms'
// condition when in one) hands the runtime this iteration's values; the runtime performs the
// effect (Trace::loop_effects[id]) per iteration, in order with every other effect (Replay).
bool Tracer::record_region_effect(Effect e, bool may_raise, ir::ValueId when) {
  locate_effect(e);
  if (may_raise) {
    // In-place state of the input arrays at this point in this iteration: recorded with the
    // effect, written back if it raises.
    for (const auto& [key, v] : inputs_by_source_) {
      if (!v.is_tensor() || v.input < 0) continue;
      if (trace_.inputs[static_cast<size_t>(v.input)].kind != InputBinding::Kind::ArrayData) continue;
      // (An index check records every input as it stands: it hands its values over only when
      // it fails, and one in a nested loop would otherwise be refused while an enclosing loop
      // updates the input later in its body.)
      if (root_unchanged(v.v, v.input) && e.kind != Effect::Kind::IndexCheck) {
        // Unchanged so far in this iteration: still the caller's unless a loop carries it (an
        // update later in the body shows in the next iteration), which its back edge settles.
        ir::ValueId p = v.v;
        for (size_t l = regions_.size(); l-- > 0;) {
          regions_[l].assumed.push_back({static_cast<int>(trace_.loop_effects.size()), v.input, p,
                                         l + 1 == regions_.size()});
          for (const auto& [o, q] : regions_[l].captures)
            if (q == p) {
              p = o;
              break;
            }
        }
        continue;
      }
      e.recorded_writebacks.emplace_back(v.input, record_value(v.v, Box::Array));
    }
  }
  ir::ValueId cond = arm_condition();
  if (when != ir::kNoValue)
    cond = cond == ir::kNoValue ? when
                                : trace_.graph.add_op(ir::Op::And, ir::Type::scalar(ir::DType::Bool), {cond, when}, loc_);
  ir::Node n;
  n.op = ir::Op::Effect;
  n.type = ir::Type::scalar(ir::DType::Bool);
  n.ints = {static_cast<int64_t>(trace_.loop_effects.size()), cond != ir::kNoValue ? 1 : 0};
  if (e.kind == Effect::Kind::IndexCheck) n.ints.push_back(1);  // it raises whenever it runs: stops
  if (cond != ir::kNoValue) n.operands.push_back(cond);
  for (const auto& [v, box] : pending_recorded_) {
    if (trace_.graph.type(v).has_extent_symbols()) {
      pending_recorded_.clear();
      return fail(AbortCode::SideEffect,
                  fmt::format("loop region: {} reads a window of runtime extent: runs eagerly", e.what));
    }
    n.operands.push_back(v);
    e.recorded.emplace_back(trace_.graph.type(v), box);
  }
  n.loc = loc_;
  pending_recorded_.clear();
  trace_.graph.add(std::move(n));
  trace_.loop_effects.push_back(std::move(e));
  return true;
}

void Tracer::drop_loop_effects(size_t from) {
  if (trace_.loop_effects.size() <= from) return;
  trace_.loop_effects.resize(from);
  for (ir::ValueId v = 0; v < trace_.graph.size(); ++v) {
    ir::Node& n = trace_.graph.node(v);
    if (n.op != ir::Op::Effect || n.ints.empty() || n.ints[0] < static_cast<int64_t>(from)) continue;
    n.op = ir::Op::Const;
    n.operands.clear();
    n.ints = {0};
  }
  for (RegionFrame& r : regions_)
    r.assumed.erase(std::remove_if(r.assumed.begin(), r.assumed.end(),
                                   [&](const RegionFrame::Assumed& a) { return a.effect >= static_cast<int>(from); }),
                    r.assumed.end());
}

bool Tracer::record_effect(Effect e, bool may_raise) {
  // Performed after the kernel (or by the program), an exception would pass the user's handler:
  // one that may raise inside a try block runs eagerly instead (a graph break at a call).
  if (may_raise && inside_try_block())
    return fail(AbortCode::SideEffect,
                fmt::format("{} may raise inside a try block: runs eagerly, where its exception meets the handler", e.what));
  // In a loop region: performed per iteration (record_region_effect).
  if (!regions_.empty()) return record_region_effect(std::move(e), may_raise);
  pending_recorded_.clear();
  locate_effect(e);
  if (may_raise) snapshot_writebacks(e);
  trace_.effects.push_back(std::move(e));
  return true;
}

AValue Tracer::host_value(Effect e) {
  e.slot = trace_.host_slots++;
  int slot = e.slot;
  record_effect(std::move(e), true);  // formatting can fail for some values ('c' of a big int)
  // (false: the trace aborted; the caller's push is harmless, the interpreter stops)
  AValue h;
  h.kind = AValue::Kind::Host;
  h.arg = slot;
  h.source = Source::computed();
  return h;
}

// ---------------------------------------------------------------------------------------------
// Containers written by effects

bool Tracer::note_container_read(const AValue& c, bool iterated) {
  if (!c.is_object() || !(PyDict_Check(c.obj) || PyList_Check(c.obj))) return true;
  if (iterated) iterated_.push_back(c.obj);
  read_containers_.push_back(c.obj);
  for (const DeferredTarget& t : deferred_targets_)
    if (t.obj == c.obj)
      return fail(AbortCode::SideEffect,
                  fmt::format("reads {} after the deferred {} ({}:{}), which only happens after "
                              "the compiled graph: runs eagerly",
                              c.source && c.source->evaluable() ? c.source->expr() : what(c), t.what,
                              t.file, t.line));
  bool evaluable = c.source && c.source->evaluable();
  for (const DeferredTarget& t : deferred_targets_) {
    if (Py_TYPE(t.obj) != Py_TYPE(c.obj)) continue;
    if (!evaluable)
      return fail(AbortCode::SideEffect,
                  fmt::format("reads {} that cannot be told apart from the {} written by a deferred "
                              "effect ({}:{}): runs eagerly", what(c), Py_TYPE(c.obj)->tp_name, t.file, t.line));
    // It must not be the written container at call time (else the call runs eagerly).
    bool seen = false;
    for (const auto& [a, b] : trace_.effect_distinct)
      seen |= a->expr() == t.source->expr() && b->expr() == c.source->expr();
    if (!seen) trace_.effect_distinct.emplace_back(t.source, c.source);
  }
  return true;
}

bool Tracer::check_inplace_target(const AValue& x) {
  if (!regions_.empty() && x.is_tensor()) regions_.back().inplace.push_back(x.v);
  if (!x.is_tensor() || x.pristine) return true;
  for (ir::ValueId v : escaped_)
    if (v == x.v)
      return fail(AbortCode::SideEffect,
                  "updates in place an array a deferred effect stored (the stored object would "
                  "change too): runs eagerly");
  return true;
}

// The container an effect writes: a plain dict or list fetched again at call time, never a
// namespace, never a list being iterated.
std::optional<EffectOperand> Tracer::effect_target(const AValue& c, const char* what_text) {
  if (!c.is_object() || !(PyDict_CheckExact(c.obj) || PyList_CheckExact(c.obj))) {
    fail(AbortCode::SideEffect,
         fmt::format("{} on {} is not deferred (only plain dicts and lists): runs eagerly", what_text, what(c)));
    return std::nullopt;
  }
  if (!c.source || !c.source->evaluable()) {
    fail(AbortCode::SideEffect,
         fmt::format("{} on a {} that cannot be fetched again at call time: runs eagerly", what_text,
                     Py_TYPE(c.obj)->tp_name));
    return std::nullopt;
  }
  bool ns = path_has_dict_attr(c.source) || c.obj == PyEval_GetBuiltins();
  for (const auto& f : frames_) ns |= c.obj == f->globals || c.obj == f->builtins;
  for (PyObject* o : keep_) ns |= c.obj == instance_dict(o);
  if (ns) {
    fail(AbortCode::SideEffect,
         fmt::format("{} writes a namespace (globals or an object's __dict__) that the trace reads "
                     "through guards: runs eagerly", what_text));
    return std::nullopt;
  }
  for (PyObject* o : iterated_)
    if (o == c.obj) {
      fail(AbortCode::SideEffect,
           fmt::format("{} writes a list the traced code iterates: runs eagerly", what_text));
      return std::nullopt;
    }
  if (!regions_.empty()) {
    // In a loop body, a read earlier in the body comes after the write of the iteration before:
    // the written container may not be read in the loop at all, and others of its kind read
    // there must be other objects at call time.
    for (size_t i = regions_[0].reads_at_entry; i < read_containers_.size(); ++i) {
      PyObject* o = read_containers_[i];
      if (o == c.obj) {
        fail(AbortCode::SideEffect,
             fmt::format("loop region: {} writes a container the loop also reads (a later iteration would read "
                         "the write): runs eagerly", what_text));
        return std::nullopt;
      }
    }
    for (size_t i = regions_[0].reads_at_entry; i < read_containers_.size(); ++i)
      if (Py_TYPE(read_containers_[i]) == Py_TYPE(c.obj)) {
        fail(AbortCode::SideEffect,
             fmt::format("loop region: {} writes a {} and the loop reads another one (they might be one object): "
                         "runs eagerly", what_text, Py_TYPE(c.obj)->tp_name));
        return std::nullopt;
      }
  }
  // Earlier reads of other containers of this kind do not matter (eager read them before the
  // write too); later reads are checked by note_container_read.
  auto op = effect_operand(c, true);
  return op;
}

void Tracer::mark_written(const AValue& c, const std::string& what_text, bool grows) {
  DeferredTarget t;
  t.obj = c.obj;
  t.source = c.source;
  t.what = what_text;
  t.file = PyUnicode_AsUTF8(fr().code->co_filename);
  t.line = cur_ && cur_->line >= 0 ? cur_->line : fr().code->co_firstlineno;
  deferred_targets_.push_back(std::move(t));
  if (!grows || !PyList_CheckExact(c.obj)) return;
  // A list the trace never read: its length guard (taken when it was fetched) is not needed,
  // and would fail on the next call after every append. Keep only its type guard.
  for (PyObject* o : read_containers_)
    if (o == c.obj) return;
  std::string key = c.source->describe();
  GuardSet rebuilt;
  for (const Guard& g : trace_.guards.guards()) {
    Guard copy = g;
    bool len = g.kind == Guard::Kind::Len || (g.kind == Guard::Kind::Path && g.inner == Guard::Kind::Len);
    if (len && g.source && g.source->describe() == key) {
      if (copy.kind == Guard::Kind::Len) copy.kind = Guard::Kind::Type;
      else copy.inner = Guard::Kind::Type;
      copy.length = 0;
    }
    rebuilt.add(std::move(copy));
  }
  trace_.guards = std::move(rebuilt);
}

// ---------------------------------------------------------------------------------------------
// Statements

// container[key] = value on a plain dict or list.
bool Tracer::store_effect(const AValue& container, const AValue& key, const AValue& value) {
  std::string expr = container.source && container.source->evaluable() ? container.source->expr() : "a container";
  bool is_dict = container.is_object() && PyDict_CheckExact(container.obj);
  std::string what_text = fmt::format("{}[...] = ... ({} item assignment)", expr,
                                      is_dict ? "dict" : "list");
  if (!container.is_object() || !(PyDict_CheckExact(container.obj) || PyList_CheckExact(container.obj)))
    return fail(AbortCode::SideEffect,
                fmt::format("item assignment into {} (a Python object) is not traced yet", what(container)));
  auto target = effect_target(container, "item assignment");
  if (!target) return false;
  // The key: hashed by Python's own code (dicts), an int (lists).
  if (key.is_tensor() && key.box == Box::Array)
    return fail(AbortCode::UserError,
                is_dict ? "TypeError: unhashable type: 'numpy.ndarray'"
                        : "list indices must be integers or slices, not numpy.ndarray");
  if (key.is_object() && !(is_dict ? builtin_hashable(key.obj) : PyLong_CheckExact(key.obj) != 0))
    return fail(AbortCode::SideEffect,
                fmt::format("item assignment with a {} key is not deferred: runs eagerly", Py_TYPE(key.obj)->tp_name));
  if (!is_dict && !key.is_object())
    return fail(AbortCode::SideEffect, "list item assignment with a runtime index is not deferred: runs eagerly");
  auto k = effect_operand(key, true);
  if (!k) return false;
  auto v = effect_operand(value, true);
  if (!v) return false;
  Effect e;
  e.kind = Effect::Kind::SetItem;
  e.graph_break = true;
  e.what = what_text;
  e.operands = {std::move(*target), std::move(*k), std::move(*v)};
  if (!record_effect(std::move(e), !is_dict)) return false;  // a list index may be out of range
  mark_written(container, what_text, false);
  return true;
}

bool Tracer::load_host_method(const AValue& base, const std::string& name, bool method, bool& handled) {
  handled = false;
  if (base.kind == AValue::Kind::Dict) {  // a dict built here: dict_method (dicts.cpp)
    if (name != "get" && name != "keys" && name != "values" && name != "items")
      return fail(AbortCode::UnsupportedAttribute,
                  fmt::format("dict.{} of a dict built in the traced code is not traced yet", name));
    handled = true;
    push_method(AValue::Kind::HostMethod, base, name, method);
    return true;
  }
  if (!base.is_object()) return true;
  bool ok = (PyList_CheckExact(base.obj) && name == "append") ||
            (PyDict_CheckExact(base.obj) && name == "update") ||
            (PyUnicode_CheckExact(base.obj) && (name == "format" || name == "join"));
  if (!ok) return true;
  handled = true;
  push_method(AValue::Kind::HostMethod, base, name, method);
  return true;
}

// format(convert(v), spec): now when everything is known, else a host value.
bool Tracer::push_format(const AValue& v, int conversion, const AValue* spec) {
  if (v.kind == AValue::Kind::Host && conversion == 0 && !spec) {  // a str formats as itself
    push(v);
    return true;
  }
  bool known = v.is_object() && !v.lazy && (!spec || spec->is_object());
  if (spec && spec->is_object() && !PyUnicode_CheckExact(spec->obj))
    return fail(AbortCode::UnsupportedValue, "a format spec that is not a string");
  if (known) {
    if (!immutable_value(v.obj))
      return fail(AbortCode::SideEffect,
                  fmt::format("formats {} (its __str__/__format__ may run user code or change): runs eagerly", what(v)));
    PyObject* r = tracer::format_value(v.obj, conversion, spec ? spec->obj : nullptr);
    if (!r) return fail(AbortCode::UserError, exception_text());
    push(object(r, Source::constant()));
    Py_DECREF(r);
    return true;
  }
  if (v.is_tensor() && (!spec || spec->is_object())) {
    // Formatting fails for the type and spec, not the value: fail now, as eager code would.
    PyObject* sample = sample_of(v);
    PyObject* r = sample ? tracer::format_value(sample, conversion, spec ? spec->obj : nullptr) : nullptr;
    Py_XDECREF(sample);
    if (!r) return fail(AbortCode::UserError, exception_text());
    Py_DECREF(r);
  }
  auto x = effect_operand(v, false);
  if (!x) return false;
  Effect e;
  e.kind = Effect::Kind::Format;
  e.conversion = conversion;
  e.what = "formatting";
  e.operands.push_back(std::move(*x));
  if (spec) {
    auto s = effect_operand(*spec, false);
    if (!s) return false;
    e.operands.push_back(std::move(*s));
  }
  push(host_value(std::move(e)));
  return true;
}

bool Tracer::op_format_value(const Instruction& in) {
  std::optional<AValue> spec;
  if (in.arg & 4) spec = pop();
  AValue v = pop();
  return push_format(v, in.arg & 3, spec ? &*spec : nullptr);
}

bool Tracer::op_convert_value(const Instruction& in) {
  AValue v = pop();
  return push_format(v, in.arg & 3, nullptr);
}

bool Tracer::op_build_string(const Instruction& in) {
  std::vector<AValue> parts(static_cast<size_t>(in.arg));
  for (int i = in.arg - 1; i >= 0; --i) parts[static_cast<size_t>(i)] = pop();
  // Adjacent known pieces are joined now; the rest is joined at run time.
  std::vector<AValue> merged;
  std::string acc;
  bool have_acc = false;
  auto flush = [&]() {
    if (!have_acc) return;
    PyObject* s = PyUnicode_FromStringAndSize(acc.data(), static_cast<Py_ssize_t>(acc.size()));
    merged.push_back(object(s, Source::constant()));
    Py_DECREF(s);
    acc.clear();
    have_acc = false;
  };
  for (AValue& p : parts) {
    if (p.is_object() && PyUnicode_CheckExact(p.obj)) {
      Py_ssize_t n = 0;
      const char* c = PyUnicode_AsUTF8AndSize(p.obj, &n);
      if (!c) return fail(AbortCode::UnsupportedValue, exception_text());  // lone surrogates
      acc.append(c, static_cast<size_t>(n));
      have_acc = true;
    } else if (p.kind == AValue::Kind::Host) {
      flush();
      merged.push_back(std::move(p));
    } else {
      return fail(AbortCode::UnsupportedValue, fmt::format("an f-string part that is {}", what(p)));
    }
  }
  flush();
  if (merged.empty()) {
    PyObject* s = PyUnicode_FromString("");
    push(object(s, Source::constant()));
    Py_DECREF(s);
    return true;
  }
  if (merged.size() == 1) {
    push(std::move(merged[0]));
    return true;
  }
  Effect e;
  e.kind = Effect::Kind::Concat;
  e.what = "f-string";
  for (const AValue& p : merged) {
    auto o = effect_operand(p, false);
    if (!o) return false;
    e.operands.push_back(std::move(*o));
  }
  push(host_value(std::move(e)));
  return true;
}

// ---------------------------------------------------------------------------------------------
// Calls: print, container methods, str/repr/ascii/format, float() of a 0-d array; and the
// check that host values and written containers reach no other call.

bool Tracer::call_effect(const AValue& callable, std::vector<AValue>& args, PyObject* kwnames,
                         bool& handled) {
  handled = false;
  Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
  size_t npos = args.size() - static_cast<size_t>(nkw);
  auto kwname = [&](size_t i) { return std::string(PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, static_cast<Py_ssize_t>(i - npos)))); };

  if (callable.kind == AValue::Kind::HostMethod) {
    handled = true;
    const AValue& self = callable.items[0];
    const std::string& m = callable.method;
    if (self.kind == AValue::Kind::Dict) return dict_method(self, m, args, kwnames);  // dicts.cpp
    if (PyUnicode_CheckExact(self.obj)) {  // "...".format(...), ", ".join(parts): host values
      Effect e;
      e.kind = Effect::Kind::CallMethod;
      e.method = PyRef::steal(PyUnicode_FromString(m.c_str()));
      e.what = fmt::format("str.{}", m);
      e.kwnames = PyRef::borrow(kwnames);
      bool known = true;
      for (const AValue& a : args) known &= a.is_object() && immutable_value(a.obj);
      if (m == "join" && (args.size() != 1 || nkw))
        return fail(AbortCode::UnsupportedCall, "str.join with these arguments is not traced");
      if (m == "join" && args[0].kind == AValue::Kind::Tuple) {
        for (const AValue& it : args[0].items)
          if (!(it.kind == AValue::Kind::Host || (it.is_object() && PyUnicode_CheckExact(it.obj))))
            return fail(AbortCode::UnsupportedValue, fmt::format("str.join of {}", what(it)));
      } else if (m == "join" && !known) {
        return fail(AbortCode::UnsupportedValue, fmt::format("str.join of {}", what(args[0])));
      }
      if (known) {  // every argument known: compute now
        PyObject* meth = PyObject_GetAttrString(self.obj, m.c_str());
        std::vector<PyObject*> a;
        for (const AValue& x : args) a.push_back(x.obj);
        PyObject* r = meth ? PyObject_Vectorcall(meth, a.data(), npos, kwnames) : nullptr;
        Py_XDECREF(meth);
        if (!r) return fail(AbortCode::UserError, exception_text());
        push(object(r, Source::constant()));
        Py_DECREF(r);
        return true;
      }
      e.operands.push_back(*effect_operand(self, false));
      for (const AValue& a : args) {
        if (m == "format" && !a.is_object() && a.kind != AValue::Kind::Host && !a.is_tensor())
          return fail(AbortCode::UnsupportedValue, fmt::format("str.format of {}", what(a)));
        auto o = effect_operand(a, false);
        if (!o) return false;
        e.operands.push_back(std::move(*o));
      }
      push(host_value(std::move(e)));
      return true;
    }
    std::string expr = self.source && self.source->evaluable() ? self.source->expr() : what(self);
    std::string what_text = fmt::format("{}.{}(...)", expr, m);
    if (!result_discarded())
      return fail(AbortCode::SideEffect,
                  fmt::format("the result of {} is used: runs eagerly", what_text));
    auto target = effect_target(self, m == "append" ? "list.append" : "dict.update");
    if (!target) return false;
    Effect e;
    e.kind = Effect::Kind::CallMethod;
    e.graph_break = true;
    e.method = PyRef::steal(PyUnicode_FromString(m.c_str()));
    e.what = what_text;
    e.operands.push_back(std::move(*target));
    if (m == "append") {
      if (args.size() != 1 || nkw)
        return fail(AbortCode::UserError, fmt::format("TypeError: list.append() takes exactly one argument ({} given)", args.size()));
      auto v = effect_operand(args[0], true);
      if (!v) return false;
      e.operands.push_back(std::move(*v));
    } else {  // dict.update(other=(), **kw)
      if (npos > 1) return fail(AbortCode::UserError, "TypeError: update expected at most 1 argument");
      if (npos == 1) {
        const AValue& other = args[0];
        if (other.kind == AValue::Kind::Tuple) {
          // Pairs built here (a constant pair is an immutable tuple object).
          for (const AValue& pair : other.items) {
            bool ok = false;
            if (pair.kind == AValue::Kind::Tuple && pair.items.size() == 2) {
              const AValue& k = pair.items[0];
              ok = k.is_object() ? builtin_hashable(k.obj)
                                 : k.kind == AValue::Kind::Host || (k.is_tensor() && k.box != Box::Array);
            } else if (pair.is_object() && PyTuple_CheckExact(pair.obj) && PyTuple_GET_SIZE(pair.obj) == 2) {
              ok = builtin_hashable(pair.obj);
            }
            if (!ok)
              return fail(AbortCode::SideEffect,
                          "dict.update() with items that are not (key, value) pairs with keys hashed by "
                          "Python itself: runs eagerly");
          }
        } else if (!(other.is_object() && PyDict_CheckExact(other.obj))) {
          return fail(AbortCode::SideEffect,
                      fmt::format("dict.update() with {} is not deferred: runs eagerly", what(other)));
        }
        AValue as_tuple = other;
        as_tuple.is_list = false;  // an iterable of pairs: a tuple of them does the same
        auto o = effect_operand(as_tuple, true);
        if (!o) return false;
        e.operands.push_back(std::move(*o));
      }
      for (size_t i = npos; i < args.size(); ++i) {
        auto o = effect_operand(args[i], true);
        if (!o) return false;
        e.operands.push_back(std::move(*o));
      }
      e.kwnames = PyRef::borrow(kwnames);
    }
    if (!record_effect(std::move(e), false)) return false;  // append/update with Python-hashed keys cannot raise
    mark_written(self, what_text, m == "append");
    push(object(Py_None, Source::constant()));
    return true;
  }
  if (!callable.is_object()) return true;
  PyObject* f = callable.obj;
  PyObject* builtins = fr().builtins;
  auto is_builtin = [&](const char* name) { return f == PyDict_GetItemString(builtins, name); };

  if (is_builtin("print")) {
    handled = true;
    if (!result_discarded())
      return fail(AbortCode::SideEffect, "the result of print(...) is used: runs eagerly");
    Effect e;
    e.kind = Effect::Kind::Call;
    e.graph_break = true;
    e.what = "print(...)";
    EffectOperand fn;
    fn.constant = PyRef::borrow(f);  // guarded as the builtin it is
    e.operands.push_back(std::move(fn));
    for (size_t i = 0; i < args.size(); ++i) {
      const AValue& a = args[i];
      if (i >= npos) {
        std::string k = kwname(i);
        if (k == "file") {
          if (a.is_object() && a.obj == Py_None) {
          } else if (!a.is_object() || !a.source || !a.source->evaluable()) {
            return fail(AbortCode::SideEffect, "print(file=...) to a file that cannot be fetched again at call time: runs eagerly");
          } else {
            PyObject* w = PyObject_GetAttrString(reinterpret_cast<PyObject*>(Py_TYPE(a.obj)), "write");
            bool python_write = !w || PyFunction_Check(w);
            Py_XDECREF(w);
            PyErr_Clear();
            if (python_write)
              return fail(AbortCode::SideEffect,
                          "print(file=...) to an object whose write() is Python code: runs eagerly");
            auto o = effect_operand(a, true);  // the file object itself
            if (!o) return false;
            e.operands.push_back(std::move(*o));
            continue;
          }
        } else if (k == "flush") {
          if (!a.is_object()) return fail(AbortCode::SideEffect, "print(flush=<runtime value>): runs eagerly");
        } else if (k == "sep" || k == "end") {
          if (!(a.kind == AValue::Kind::Host || (a.is_object() && (a.obj == Py_None || PyUnicode_CheckExact(a.obj)))))
            return fail(AbortCode::UserError, fmt::format("TypeError: {} must be None or a string", k));
        } else {
          return fail(AbortCode::UserError, fmt::format("TypeError: '{}' is an invalid keyword argument for print()", k));
        }
      }
      auto o = effect_operand(a, false);
      if (!o) return false;
      e.operands.push_back(std::move(*o));
    }
    e.kwnames = PyRef::borrow(kwnames);
    if (!record_effect(std::move(e), true)) return false;  // writing to the file may fail
    push(object(Py_None, Source::constant()));
    return true;
  }
  int conversion = is_builtin("str") ? 1 : is_builtin("repr") ? 2 : is_builtin("ascii") ? 3
                   : is_builtin("format") ? 0 : -1;
  if (conversion >= 0 && nkw == 0) {
    bool is_format = conversion == 0;
    if (args.size() == 1 || (is_format && args.size() == 2)) {
      handled = true;
      return push_format(args[0], is_format ? 0 : conversion, args.size() == 2 ? &args[1] : nullptr);
    }
  }
  if (is_builtin("float") && args.size() == 1 && nkw == 0 && args[0].is_tensor()) {
    handled = true;
    const AValue& x = args[0];
    if (x.type.rank() != 0)
      return fail(AbortCode::UnsupportedCall,
                  "float() of an array with dimensions (NumPy deprecates it; only 0-d arrays are compiled)");
    // A new Python float: its own node (an in-place update of x must not change it).
    ir::ValueId c = trace_.graph.add_op(ir::Op::Cast, x.type.with_dtype(ir::DType::F64), {x.v}, loc_);
    push(tensor(c, Box::PyFloat));
    return true;
  }
  // Any other call: a callee that is not inlined must not see host values (their contents are
  // unknown here) and reads the containers it is given.
  bool inlined = (PyFunction_Check(f) && !np_->function_name(f)) ||
                 std::strcmp(Py_TYPE(f)->tp_name, "tracejit.JitFunction") == 0;
  if (inlined) return true;
  for (const AValue& a : args) {
    if (a.kind == AValue::Kind::Host)
      return fail(AbortCode::UnsupportedValue,
                  fmt::format("passes a string formatted from runtime values to {}(), which needs its "
                              "contents at trace time: runs eagerly", callable_name(f)));
    if (!note_container_read(a, false)) return false;
  }
  return true;
}

}  // namespace tracejit::tracer::detail

namespace tracejit::tracer {

PyObject* format_value(PyObject* v, int conversion, PyObject* spec) {
  PyObject* c = nullptr;
  switch (conversion) {
    case 1: c = PyObject_Str(v); break;
    case 2: c = PyObject_Repr(v); break;
    case 3: c = PyObject_ASCII(v); break;
    default: Py_INCREF(v); c = v;
  }
  if (!c) return nullptr;
  if (PyUnicode_CheckExact(c) && !spec) return c;
  PyObject* r = PyObject_Format(c, spec);
  Py_DECREF(c);
  return r;
}

std::string Effect::describe() const {
  if (kind == Kind::IndexCheck)
    return fmt::format("{}:{}: {} is checked in bounds at run time", file, line, what);
  if (kind == Kind::Replay)
    return fmt::format("{}:{}: {} are performed per iteration, in order, after the compiled program [graph-break]",
                       file, line, what);
  return fmt::format("{}:{}: {} runs eagerly after the compiled graph [graph-break]", file, line, what);
}

}  // namespace tracejit::tracer
