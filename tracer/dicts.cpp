// Dicts built by the traced code: `{"loss": l, "acc": a}`, `{k: x * k for k in range(3)}`,
// `out = {}; out["y"] = y`. A dict is an abstract value (AValue::Kind::Dict) whose keys are
// hashable constants known at trace time (strings, ints, tuples of them: Python's own hash and
// equality, so a lookup at trace time is the lookup eager code makes) and whose values are any
// abstract values. Reads with a constant key, `in`, len(), iteration (keys), .keys()/.values()/
// .items()/.get() are resolved while tracing; a returned dict is rebuilt by the runtime from its
// keys and the kernel's results (OutputNode::Kind::Dict).
//
// Stores (`d[k] = v`) replace the dict in every place that holds it (all names of one dict share
// its dict_id), so aliases see them as in eager code. Refused, with a reason (the call then runs
// eagerly): a key known only at run time or not hashable by Python's own code, a store while an
// iterator or a keys/values/items view of the dict is alive, a store inside a compiled loop
// region or an arm of an if-conversion, and any use that would let the dict escape to code that
// runs eagerly (a graph break keeping it live, passing it to an effect such as print).
#include "tracer/tracer_impl.h"

#include <fmt/format.h>

namespace tracejit::tracer::detail {
namespace {

bool is_dict(const AValue& v) { return v.kind == AValue::Kind::Dict; }

}  // namespace

std::optional<int> Tracer::dict_find(const AValue& d, const AValue& key) {
  if (!key.is_object()) {
    if (key.is_tensor() && key.box == Box::Array)
      fail(AbortCode::UserError, "TypeError: unhashable type: 'numpy.ndarray'");
    else
      fail(AbortCode::UnsupportedValue, fmt::format("a dict key known only at run time ({})", what(key)));
    return std::nullopt;
  }
  if (!builtin_hashable(key.obj)) {
    fail(AbortCode::UnsupportedValue,
         fmt::format("a dict key of type {} (its hash or equality may be user code)", Py_TYPE(key.obj)->tp_name));
    return std::nullopt;
  }
  for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
    int eq = PyObject_RichCompareBool(d.items[i].obj, key.obj, Py_EQ);
    if (eq < 0) {
      fail(AbortCode::UserError, exception_text());
      return std::nullopt;
    }
    if (eq) return static_cast<int>(i + 1);
  }
  return -1;
}

bool Tracer::op_build_map(const Instruction& in) {
  AValue d;
  d.kind = AValue::Kind::Dict;
  d.dict_id = next_dict_id_++;
  d.source = Source::computed();
  std::vector<AValue> keys, values;
  if (in.op == COp::BuildConstKeyMap) {  // keys tuple on top, then arg values
    AValue kt = pop();
    std::vector<AValue> vals(static_cast<size_t>(in.arg));
    for (int i = in.arg - 1; i >= 0; --i) vals[static_cast<size_t>(i)] = pop();
    if (!kt.is_object() || !PyTuple_CheckExact(kt.obj) || PyTuple_GET_SIZE(kt.obj) != in.arg)
      return fail(AbortCode::UnsupportedValue, "BUILD_CONST_KEY_MAP without a constant tuple of keys");
    for (Py_ssize_t i = 0; i < in.arg; ++i) keys.push_back(object(PyTuple_GET_ITEM(kt.obj, i), Source::constant()));
    values = std::move(vals);
  } else {  // k0 v0 k1 v1 ... (the last pair on top)
    std::vector<AValue> flat(static_cast<size_t>(2 * in.arg));
    for (int i = 2 * in.arg - 1; i >= 0; --i) flat[static_cast<size_t>(i)] = pop();
    for (size_t i = 0; i < flat.size(); i += 2) {
      keys.push_back(std::move(flat[i]));
      values.push_back(std::move(flat[i + 1]));
    }
  }
  for (size_t i = 0; i < keys.size(); ++i) {  // later duplicates replace the value, keep the position
    auto at = dict_find(d, keys[i]);
    if (!at) return false;
    if (*at >= 0) {
      d.items[static_cast<size_t>(*at)] = std::move(values[i]);
    } else {
      d.items.push_back(std::move(keys[i]));
      d.items.push_back(std::move(values[i]));
    }
  }
  push(std::move(d));
  return true;
}

bool Tracer::op_map_add(const Instruction& in) {
  if (in.op == COp::MapAdd) {  // a dict comprehension: value on top, key below, the dict at -arg
    AValue value = pop();
    AValue key = pop();
    AValue& d = fr().stack[fr().stack.size() - static_cast<size_t>(in.arg)];
    if (!is_dict(d)) return fail(AbortCode::UnsupportedValue, "MAP_ADD into a dict not built here");
    auto at = dict_find(d, key);
    if (!at) return false;
    if (*at >= 0) {
      d.items[static_cast<size_t>(*at)] = std::move(value);
    } else {
      d.items.push_back(std::move(key));
      d.items.push_back(std::move(value));
    }
    return true;
  }
  // DICT_UPDATE / DICT_MERGE (`{**a, "k": v}`, f(**a)): the update must be a dict built here.
  AValue upd = pop();
  AValue& d = fr().stack[fr().stack.size() - static_cast<size_t>(in.arg)];
  if (!is_dict(d) || !is_dict(upd))
    return fail(AbortCode::UnsupportedValue, "merging a dict the traced code did not build is not traced yet");
  for (size_t i = 0; i + 1 < upd.items.size(); i += 2) {
    auto at = dict_find(d, upd.items[i]);
    if (!at) return false;
    if (*at >= 0 && in.op == COp::DictMerge) {
      PyObject* r = PyObject_Repr(upd.items[i].obj);
      std::string k = r ? PyUnicode_AsUTF8(r) : "?";
      Py_XDECREF(r);
      PyErr_Clear();
      return fail(AbortCode::UserError, fmt::format("TypeError: got multiple values for keyword argument {}", k));
    }
    if (*at >= 0) {
      d.items[static_cast<size_t>(*at)] = upd.items[i + 1];
    } else {
      d.items.push_back(upd.items[i]);
      d.items.push_back(upd.items[i + 1]);
    }
  }
  return true;
}

bool Tracer::dict_subscr(const AValue& d, const AValue& key) {
  auto at = dict_find(d, key);
  if (!at) return false;
  if (*at < 0) {
    PyObject* r = PyObject_Repr(key.obj);
    std::string k = r ? PyUnicode_AsUTF8(r) : "?";
    Py_XDECREF(r);
    PyErr_Clear();
    return fail(AbortCode::UserError, fmt::format("KeyError: {}", k));
  }
  push(d.items[static_cast<size_t>(*at)]);
  return true;
}

bool Tracer::dict_contains(const AValue& d, const AValue& key, bool invert) {
  auto at = dict_find(d, key);
  if (!at) return false;
  push(object((*at >= 0) != invert ? Py_True : Py_False, Source::computed()));
  return true;
}

bool Tracer::dict_store(const AValue& d, const AValue& key, const AValue& value) {
  if (!regions_.empty())
    return region_fail("a store into a dict built in the traced code inside a loop body");
  if (!arm_conds_.empty() || speculative_ > 0)
    return fail(AbortCode::ControlFlow, "branch on array data: a store into a dict in one arm");
  auto at = dict_find(d, key);
  if (!at) return false;
  const int64_t id = d.dict_id;
  bool viewed = false;
  auto check = [&](AValue& v) { viewed |= !is_dict(v) && v.dict_id == id; };
  for_each_live_value(check);
  if (viewed)
    return fail(AbortCode::UnsupportedValue,
                "a store into a dict while an iterator or a keys/values/items view of it is alive");
  AValue now = d;
  if (*at >= 0) {
    now.items[static_cast<size_t>(*at)] = value;
  } else {
    now.items.push_back(key);
    now.items.push_back(value);
  }
  ++mutations_;
  // Every holder of this dict (other names, containers holding it, closure cells) sees the
  // store. A dict that holds itself cannot be built here (its values are built before it).
  auto replace = [&](AValue& v) {
    if (is_dict(v) && v.dict_id == id) v = now;
  };
  for_each_live_value(replace);
  return true;
}

bool Tracer::dict_method(const AValue& d, const std::string& m, std::vector<AValue>& args, PyObject* kwnames) {
  if (kwnames && PyTuple_GET_SIZE(kwnames) > 0)
    return fail(AbortCode::UnsupportedCall, fmt::format("dict.{}() with keyword arguments", m));
  if (m == "get") {
    if (args.empty() || args.size() > 2)
      return fail(AbortCode::UserError, fmt::format("TypeError: get expected at most 2 arguments, got {}", args.size()));
    auto at = dict_find(d, args[0]);
    if (!at) return false;
    if (*at >= 0) push(d.items[static_cast<size_t>(*at)]);
    else if (args.size() == 2) push(args[1]);
    else push(object(Py_None, Source::constant()));
    return true;
  }
  if (!args.empty())
    return fail(AbortCode::UserError, fmt::format("TypeError: dict.{}() takes no arguments ({} given)", m, args.size()));
  // keys()/values()/items(): a view, held as a tuple of the current items; anything that would
  // show it is a tuple (returning or printing it) is refused (Tuple with `method` set).
  AValue t;
  t.kind = AValue::Kind::Tuple;
  t.dict_id = d.dict_id;
  t.method = "dict_" + m;
  t.source = Source::computed();
  for (size_t i = 0; i + 1 < d.items.size(); i += 2) {
    if (m == "keys") {
      t.items.push_back(d.items[i]);
    } else if (m == "values") {
      t.items.push_back(d.items[i + 1]);
    } else {
      AValue pair;
      pair.kind = AValue::Kind::Tuple;
      pair.source = Source::computed();
      pair.items = {d.items[i], d.items[i + 1]};
      t.items.push_back(std::move(pair));
    }
  }
  push(std::move(t));
  return true;
}

}  // namespace tracejit::tracer::detail
