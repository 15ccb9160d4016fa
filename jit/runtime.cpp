// Dispatch: guards -> compiled version, or count hotness, trace, compile, or fall back eagerly.
#include "jit/runtime.h"
#include "jit/buffer_pool.h"

#include "backends/cpu/fp_flags.h"
#include "backends/cpu/program.h"
#include "backends/cpu/stream_copy.h"

#include <fmt/format.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <tuple>
#include <thread>

#include "frontend/decoder.h"
#include "ir/passes/dce.h"
#include "ir/pipeline.h"
#include "ir/printer.h"

#if PY_VERSION_HEX >= 0x030D0000
// Exported by CPython 3.11+ (declared in cpython/traceback.h up to 3.12, internal in 3.13).
extern "C" PyAPI_FUNC(void) _PyTraceback_Add(const char*, const char*, int);
#endif

namespace tracejit::jit {
namespace {

bool g_disabled = false;
PyObject* g_warning = nullptr;
PyObject* g_graph_break = nullptr;

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

bool log_enabled(const char* what) {
  const char* v = std::getenv("TRACEJIT_LOG");
  return v && std::strstr(v, what);
}

uint64_t mix(uint64_t h, uint64_t v) {
  h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
  return h;
}

// Whether `a` fills its bytes exactly: C-contiguous, or a transpose of a C-contiguous array.
bool compact(PyArrayObject* a) {
  if (PyArray_IS_C_CONTIGUOUS(a)) return true;
  npy_intp end = PyArray_ITEMSIZE(a);
  for (int d = 0; d < PyArray_NDIM(a); ++d) {
    if (PyArray_STRIDES(a)[d] < 0) return false;
    end += (PyArray_DIMS(a)[d] - 1) * PyArray_STRIDES(a)[d];
  }
  return end == PyArray_NBYTES(a);  // no gaps; a permutation when the strides also differ
}

// An in-place update's final value (`src`, the kernel's fresh result: C-contiguous, or a
// transpose of a C-contiguous buffer) into the caller's array. When both have one layout,
// dtype and shape, the copy is a streaming one split over the pool (backends/cpu/stream_copy.h),
// without the GIL: it moves a third less memory than NumPy's copy and uses both cores, and for
// `w -= lr * g` it was the larger half of the call. Anything else (views, casts, broadcasts)
// goes through PyArray_CopyInto.
int write_back(PyArrayObject* dst, PyArrayObject* src) {
  size_t bytes = static_cast<size_t>(PyArray_NBYTES(src));
  bool same = compact(src) && PyArray_ISWRITEABLE(dst) && PyArray_NDIM(dst) == PyArray_NDIM(src) &&
              PyArray_CompareLists(PyArray_DIMS(dst), PyArray_DIMS(src), PyArray_NDIM(src)) &&
              PyArray_CompareLists(PyArray_STRIDES(dst), PyArray_STRIDES(src), PyArray_NDIM(src)) &&
              PyArray_EquivTypes(PyArray_DESCR(dst), PyArray_DESCR(src)) && PyArray_ISNBO(PyArray_DESCR(dst)->byteorder);
  if (!same || bytes < backends::kStreamCopyMinBytes) return PyArray_CopyInto(dst, src);
  void* d = PyArray_DATA(dst);
  const void* from = PyArray_DATA(src);
  Py_BEGIN_ALLOW_THREADS
  backends::stream_copy(d, from, bytes);
  Py_END_ALLOW_THREADS
  return 0;
}

// A scatter write-back (CacheEntry::scatter_backs): values (C-contiguous, dst's dtype, shape
// dst.shape[:axis] + idx.shape + dst.shape[axis+1:]) written into dst at the int64 indices idx
// along `axis`, in C order (a repeated index keeps the last value, as NumPy). The indices were
// checked (Trace::rerun_checks: a call with one out of bounds re-ran eagerly); a negative one
// counts from the end.
void scatter_back(PyArrayObject* dst, PyArrayObject* idx, PyArrayObject* values, int axis) {
  const int nd = PyArray_NDIM(dst);
  const npy_intp* dims = PyArray_DIMS(dst);
  const npy_intp* st = PyArray_STRIDES(dst);
  const npy_intp isz = PyArray_ITEMSIZE(dst);
  const auto a = static_cast<size_t>(axis);
  npy_intp pre = 1, post = 1;
  for (size_t d = 0; d < a; ++d) pre *= dims[d];
  for (auto d = static_cast<size_t>(nd); d-- > a + 1;) post *= dims[d];
  // The trailing axes one block of post elements in dst (a row of `w`): one memcpy per index.
  bool block = true;
  npy_intp want = isz;
  for (auto d = static_cast<size_t>(nd); d-- > a + 1;) {
    if (dims[d] != 1 && st[d] != want) block = false;
    want *= dims[d];
  }
  const npy_intp n = dims[a], m = PyArray_SIZE(idx);
  const auto* ip = static_cast<const int64_t*>(PyArray_DATA(idx));
  const auto* vp = static_cast<const char*>(PyArray_DATA(values));
  auto* base = static_cast<char*>(PyArray_DATA(dst));
  for (npy_intp i = 0; i < pre; ++i) {
    npy_intp off = 0;
    for (npy_intp rem = i, d = static_cast<npy_intp>(a); d-- > 0;) {
      off += (rem % dims[d]) * st[d];
      rem /= dims[d];
    }
    for (npy_intp j = 0; j < m; ++j) {
      int64_t k = ip[j] < 0 ? ip[j] + n : ip[j];
      if (k < 0 || k >= n) continue;  // (checked before: never)
      char* row = base + off + k * st[a];
      const char* src = vp + (i * m + j) * post * isz;
      if (block) {
        std::memcpy(row, src, static_cast<size_t>(post * isz));
        continue;
      }
      for (npy_intp b = 0; b < post; ++b) {
        npy_intp o = 0;
        for (npy_intp rem = b, d = nd; d-- > static_cast<npy_intp>(a) + 1;) {
          o += (rem % dims[d]) * st[d];
          rem /= dims[d];
        }
        std::memcpy(row + o, src + b * isz, static_cast<size_t>(isz));
      }
    }
  }
}

// An input updated by one scatter alone, whose updated value nothing else reads (`w[idx] -=
// lr * g`, `counts[lab] = 1`): its write-back result becomes the indices (as int64: NumPy's
// intp conversion) and a new result the values, which scatter_back writes into the caller's
// array, instead of the kernel copying the whole array and the write-back copying it again
// (50000 x 64 float32 rows, 4096 of them updated: 1.1 ms -> ~0.1). Not with effects or a graph
// break (they may read the updated array at other points).
void plan_scatter_backs(CacheEntry& e, ir::Graph& graph) {
  if (!e.effects.empty() || !e.loop_effects.empty() || e.resume) return;
  for (const auto& [w, k] : e.writebacks) {
    const ir::ValueId s = graph.results[static_cast<size_t>(k)];
    const ir::Node& n = graph.node(s);
    if (n.op != ir::Op::Scatter || !n.type.is_static() || (n.ints.size() > 1 && n.ints[1] != 0)) continue;
    // x is the input as the caller sees it: the param, or its transpose (a transposed or
    // F-ordered input's param holds the buffer's order); scatter_back uses the array's strides.
    const ir::Node* x = &graph.node(n.operands[0]);
    if (x->op == ir::Op::Transpose) x = &graph.node(x->operands[0]);
    if (x->op != ir::Op::Param || x->ints[0] != w) continue;
    if (std::count(graph.results.begin(), graph.results.end(), s) != 1) continue;
    bool used = false;
    for (const ir::Node& u : graph.nodes) used |= std::find(u.operands.begin(), u.operands.end(), s) != u.operands.end();
    for (const tracer::OutputNode& o : e.outputs) used |= o.kind == tracer::OutputNode::Kind::Result && o.index == k;
    for (const tracer::RerunCheck& c : e.rerun_checks) used |= c.result == k;
    if (used) continue;
    const ir::ValueId idx = n.operands[1], values = n.operands[2];
    const int axis = static_cast<int>(n.ints[0]);
    const ir::SourceLoc loc = n.loc;
    const ir::Type it = graph.type(idx);
    const ir::ValueId i64 = it.dtype == ir::DType::I64
                                ? idx
                                : graph.add_op(ir::Op::Cast, it.with_dtype(ir::DType::I64), {idx}, loc);
    graph.results[static_cast<size_t>(k)] = i64;
    if (static_cast<size_t>(k) < graph.result_axes.size()) graph.result_axes[static_cast<size_t>(k)].clear();
    e.scatter_backs[k] = {k, static_cast<int>(graph.results.size()), axis};
    graph.results.push_back(values);
    if (!graph.result_axes.empty()) graph.result_axes.resize(graph.results.size());
  }
  if (!e.scatter_backs.empty()) ir::dce(graph);  // the scatters (the IR cache_info() shows)
}

// The pending Python exception as "Type: message" (cleared).
std::string error_text() {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  PyErr_NormalizeException(&type, &value, &tb);
  std::string out = type ? reinterpret_cast<PyTypeObject*>(type)->tp_name : "exception";
  PyObject* str = value ? PyObject_Str(value) : nullptr;
  if (str && PyUnicode_Check(str)) out += std::string(": ") + PyUnicode_AsUTF8(str);
  Py_XDECREF(str);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  PyErr_Clear();
  return out;
}

constexpr size_t kMaxReasons = 64;
// A Python loop iteration of scalar NumPy work, for the hotness of while loops (whose iterations
// are not known before they run): a cold call whose while loops ran hot_loop of these is hot.
constexpr double kEagerIterationSeconds = 1e-6;
constexpr const char* kRunsEagerly =
    "this call cannot use its compiled version (an array updated in place overlaps another "
    "argument, or an object the trace reads no longer exists): it would run eagerly [fallback]";
// Releasing and re-taking the GIL costs ~0.1 us: worth it only for kernels that run longer.
constexpr int64_t kReleaseGilElements = 1 << 15;
// Automatic dynamic shapes: a size change makes that dimension symbolic (the CPU backend takes
// runtime sizes through sym_dims; graphs it cannot compile dynamic fall back to static).
constexpr bool kAutoDynamic = true;
// A version re-run eagerly for floating-point flags this many calls in a row runs eagerly
// directly, trying its compiled code again every kFpRetry calls (the data may change).
constexpr int kFpStreak = 8;
constexpr int64_t kFpRetry = 64;

}  // namespace

// ---------------------------------------------------------------------------------------------
// NumPy's floating-point error state (np.errstate / np.seterr). NumPy 2 keeps it in the context
// variable numpy._core._ufunc_config._extobj_contextvar: a capsule "numpy.ufunc.extobj" whose
// struct starts with `int errmask` (numpy/_core/src/umath/extobj.h), 3 bits per category at
// shifts 0 (divide), 3 (over), 6 (under), 9 (invalid): 0 ignore, 1 warn, 2 raise, 3 call,
// 4 print, 5 log. Read only when it matters (flags raised, or an entry that needs it).

namespace fperr {

constexpr int kShift[4] = {0, 3, 6, 9};  // fp::kDivide, kOverflow, kUnderflow, kInvalid
constexpr const char* kWhat[4] = {"divide by zero", "overflow", "underflow", "invalid value"};
constexpr int kUnknown = -1;  // the state could not be read: assume every category raises

PyObject* g_extobj_var = nullptr;  // the context variable (strong, never freed)

// The current errmask, or kUnknown (no exception left set).
int errmask() {
  if (!g_extobj_var) {
    PyObject* mod = PyImport_ImportModule("numpy._core._ufunc_config");
    g_extobj_var = mod ? PyObject_GetAttrString(mod, "_extobj_contextvar") : nullptr;
    Py_XDECREF(mod);
    if (!g_extobj_var || !PyContextVar_CheckExact(g_extobj_var)) {
      Py_CLEAR(g_extobj_var);
      PyErr_Clear();
      return kUnknown;
    }
  }
  PyObject* v = nullptr;
  if (PyContextVar_Get(g_extobj_var, nullptr, &v) < 0 || !v) {
    PyErr_Clear();
    return kUnknown;
  }
  auto* p = static_cast<const int*>(PyCapsule_GetPointer(v, "numpy.ufunc.extobj"));
  Py_DECREF(v);
  if (!p) {
    PyErr_Clear();
    return kUnknown;
  }
  return *p;
}

int mode(int mask, int category) { return mask == kUnknown ? 2 : (mask >> kShift[category]) & 7; }

// The flags in `flags` whose category NumPy does not ignore under `mask`.
uint32_t acted_on(uint32_t flags, int mask) {
  uint32_t out = 0;
  for (int c = 0; c < 4; ++c)
    if ((flags >> c & 1) && mode(mask, c) != 0) out |= 1u << c;
  return out;
}

// Some category is set to 'raise', 'call', 'print' or 'log' (more than a warning).
bool beyond_warn(int mask) {
  for (int c = 0; c < 4; ++c)
    if (mode(mask, c) >= 2) return true;
  return false;
}

std::string names(uint32_t flags) {
  std::string out;
  for (int c = 0; c < 4; ++c)
    if (flags >> c & 1) out += (out.empty() ? "" : ", ") + std::string(kWhat[c]);
  return out;
}

// The warnings eager NumPy would have given, where the call cannot run again eagerly (a loop's
// effects were already performed live): one RuntimeWarning per category NumPy warns about,
// worded as NumPy's with the place instead of the ufunc's name. False: a warning filter raised.
bool warn_after_effects(uint32_t flags, int mask, const std::string& where) {
  for (int c = 0; c < 4; ++c) {
    if (!(flags >> c & 1) || mode(mask, c) == 0) continue;
    std::string msg = fmt::format("{} encountered in compiled code ({}; tracejit could not re-run it "
                                  "eagerly: the loop's effects had already been performed)",
                                  kWhat[c], where);
    if (PyErr_WarnEx(PyExc_RuntimeWarning, msg.c_str(), 1) < 0) return false;
  }
  return true;
}

}  // namespace fperr

void set_disabled(bool d) { g_disabled = d; }
bool disabled() { return g_disabled; }
void set_warning_category(PyObject* category) { g_warning = category; }
void set_graph_break_error(PyObject* type) { g_graph_break = type; }

// ---------------------------------------------------------------------------------------------
// Deferred effects (tracer::Effect), performed after the kernel with the GIL held.

namespace {


struct EffectContext {
  PyObject* const* bound;
  const std::vector<PyObject*>& fetched;   // CacheEntry::effect_fetches, evaluated
  std::vector<PyObject*>& host;            // host slots (new references)
  std::function<PyObject*(int, tracer::Box)> box;  // graph result as Python sees it (new ref)
  // An effect of a loop region: recorded value k as Python sees it (new ref; one object per
  // value and iteration).
  std::function<PyObject*(int)> recorded = nullptr;
  // A graph break's frame state: the cells made so far, by EffectOperand::index (strong refs,
  // released by whoever made the context).
  std::map<int, PyObject*>* cells = nullptr;
};

// Bytes of a recorded value of type `t` (symbolic dims resolved by `sym`).
size_t recorded_bytes(const ir::Type& t, const int64_t* sym) {
  int64_t n = ir::dtype_size(t.dtype);
  for (const ir::Dim& d : t.shape) n *= d.is_static() ? d.size : sym[d.sym];
  return static_cast<size_t>(n);
}

// A value a loop body's effect recorded, as a new Python object of box `b`.
PyObject* box_recorded(const char* p, const ir::Type& t, tracer::Box b, const int64_t* sym) {
  int typenum = typenum_from_dtype(t.dtype);
  switch (b) {
    case tracer::Box::Array: {
      std::vector<npy_intp> dims;
      for (const ir::Dim& d : t.shape) dims.push_back(d.is_static() ? d.size : sym[d.sym]);
      PyObject* a = PyArray_SimpleNew(t.rank(), dims.data(), typenum);
      if (!a) return nullptr;
      std::memcpy(PyArray_DATA(reinterpret_cast<PyArrayObject*>(a)), p, recorded_bytes(t, sym));
      return a;
    }
    case tracer::Box::NpScalar: {
      PyArray_Descr* d = PyArray_DescrFromType(typenum);
      alignas(16) char buf[16] = {};
      std::memcpy(buf, p, static_cast<size_t>(ir::dtype_size(t.dtype)));
      PyObject* s = PyArray_Scalar(buf, d, nullptr);
      Py_DECREF(d);
      return s;
    }
    case tracer::Box::PyInt: {
      int64_t x;
      std::memcpy(&x, p, sizeof x);
      return PyLong_FromLongLong(x);
    }
    case tracer::Box::PyFloat: {
      double x;
      std::memcpy(&x, p, sizeof x);
      return PyFloat_FromDouble(x);
    }
  }
  PyErr_SetString(PyExc_SystemError, "tracejit: unknown box");
  return nullptr;
}

bool perform(const tracer::Effect& fx, EffectContext& cx);

// What loop bodies' effects hand over while the program runs. A live effect (every effect
// before it in program order is one of a loop too) is performed right then, with the GIL taken
// for it: output appears as the loop runs, and if it raises the program stops there, the
// arguments get their in-place state at that point and the call raises. Any other is recorded
// (bytes only, no GIL) and performed after the program, in order (Replay).
class Recorder final : public backends::EffectSink {
 public:
  Recorder(const std::vector<tracer::Effect>& fx, const int64_t* sym) : fx_(fx), sym_(sym) {}
  struct Live {
    std::vector<char> ids;  // per loop effect: performed live
    PyObject* const* bound = nullptr;
    const std::vector<PyObject*>* fetched = nullptr;
    std::vector<PyObject*>* host = nullptr;
    const std::vector<PyObject*>* input_objs = nullptr;
  } live;
  bool failed = false;  // a live effect raised (the exception is set)
  // Floating-point flags NumPy acts on were raised before the first live effect: the program
  // stopped there with nothing performed (no exception set); the call runs again eagerly.
  bool fp_abort = false;
  uint32_t fp_flags = 0;  // fp_abort: the flags
  bool performed = false;  // a live effect was performed
  std::string where;       // "file:line" of the function, for warn_after_effects
  bool effect(int64_t id, const void* const* values, size_t n) override {
    const tracer::Effect& e = fx_[static_cast<size_t>(id)];
    // (A failed index check is always live: the tracer refuses one after any effect that is
    // not a loop's, and it stops the program.)
    if ((static_cast<size_t>(id) < live.ids.size() && live.ids[static_cast<size_t>(id)]) ||
        e.kind == tracer::Effect::Kind::IndexCheck)
      return perform_live(e, values, n);
    records.emplace_back(id, data.size());
    for (size_t j = 0; j < n && j < e.recorded.size(); ++j) {
      size_t bytes = recorded_bytes(e.recorded[j].first, sym_);
      const char* p = static_cast<const char*>(values[j]);
      data.insert(data.end(), p, p + bytes);
    }
    return true;
  }
  std::vector<std::pair<int64_t, size_t>> records;  // (effect id, offset into data)
  std::vector<char> data;

 private:
  bool perform_live(const tracer::Effect& lf, const void* const* values, size_t n) {
    PyGILState_STATE gil = PyGILState_Ensure();
    // The kernel's flags so far; the effect's own Python code must neither see nor change them.
    const uint32_t saved = backends::fp::save_and_clear();
    struct RestoreFlags {
      uint32_t m;
      ~RestoreFlags() { backends::fp::restore(m); }
    } restore_flags{saved};
    if (uint32_t flags = backends::fp::from_saved(saved)) {
      int mask = fperr::errmask();
      if (uint32_t acted = fperr::acted_on(flags, mask)) {
        if (!performed) {  // nothing performed yet: stop, run it again eagerly
          fp_abort = true;
          fp_flags = acted;
          PyGILState_Release(gil);
          return false;
        }
        if (!fperr::warn_after_effects(acted, mask, where)) {
          failed = true;
          PyGILState_Release(gil);
          return false;
        }
        restore_flags.m = backends::fp::without_flags(saved);  // warned: not again
      }
    }
    performed = true;
    std::vector<PyObject*> objs(lf.recorded.size(), nullptr);
    EffectContext cx{live.bound, *live.fetched, *live.host, [](int, tracer::Box) -> PyObject* {
                       PyErr_SetString(PyExc_SystemError, "tracejit: a graph result in a loop effect");
                       return nullptr;
                     }};
    cx.recorded = [&](int k) -> PyObject* {
      if (static_cast<size_t>(k) >= n) {
        PyErr_SetString(PyExc_SystemError, "tracejit: a loop effect's value is missing");
        return nullptr;
      }
      PyObject*& o = objs[static_cast<size_t>(k)];
      if (!o) {
        const auto& [t, b] = lf.recorded[static_cast<size_t>(k)];
        o = box_recorded(static_cast<const char*>(values[k]), t, b, sym_);
        if (!o) return nullptr;
      }
      Py_INCREF(o);
      return o;
    };
    bool ok = perform(lf, cx);
    if (!ok) {
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      for (const auto& [w, k] : lf.recorded_writebacks) {
        PyObject* v = cx.recorded(k);
        if (!v || PyArray_CopyInto(reinterpret_cast<PyArrayObject*>((*live.input_objs)[static_cast<size_t>(w)]),
                                   reinterpret_cast<PyArrayObject*>(v)) < 0)
          PyErr_Clear();
        Py_XDECREF(v);
      }
      PyErr_Restore(type, value, tb);
      _PyTraceback_Add(lf.function.c_str(), lf.file.c_str(), lf.line);
      failed = true;
    }
    for (PyObject* o : objs) Py_XDECREF(o);
    PyGILState_Release(gil);
    return ok;
  }

  const std::vector<tracer::Effect>& fx_;
  const int64_t* sym_;
};

struct SinkScope {
  backends::EffectSink* old;
  explicit SinkScope(backends::EffectSink* s) : old(backends::set_effect_sink(s)) {}
  ~SinkScope() { backends::set_effect_sink(old); }
};

// What run() returns for a version that ends at a graph break (JitFunction::drive goes on), and
// the break with its frame state (owned references), on a stack per thread: a call made while
// one is pending (a __del__, another thread while the GIL is free) pushes and pops its own.
PyObject* const kResumePending = reinterpret_cast<PyObject*>(&_Py_NoneStruct) + 1;
struct PendingResume {
  std::shared_ptr<CacheEntry> entry;
  std::vector<PyObject*> state;
};
thread_local std::vector<PendingResume> t_pending;

// The object an operand stands for: a new reference, or nullptr with an exception set.
PyObject* operand_value(const tracer::EffectOperand& op, EffectContext& cx) {
  using K = tracer::EffectOperand::Kind;
  switch (op.kind) {
    case K::Constant:
      Py_INCREF(op.constant.get());
      return op.constant.get();
    case K::Arg:
      Py_INCREF(cx.bound[op.index]);
      return cx.bound[op.index];
    case K::Fetch:
      Py_INCREF(cx.fetched[static_cast<size_t>(op.index)]);
      return cx.fetched[static_cast<size_t>(op.index)];
    case K::Result:
      return cx.box(op.index, op.box);
    case K::Recorded:
      if (!cx.recorded) {
        PyErr_SetString(PyExc_SystemError, "tracejit: a recorded value outside a loop effect");
        return nullptr;
      }
      return cx.recorded(op.index);
    case K::Host: {
      PyObject* h = cx.host[static_cast<size_t>(op.index)];
      if (!h) {
        PyErr_SetString(PyExc_SystemError, "tracejit: a host value was used before it was computed");
        return nullptr;
      }
      Py_INCREF(h);
      return h;
    }
    case K::Tuple:
    case K::List: {
      auto n = static_cast<Py_ssize_t>(op.items.size());
      PyObject* t = op.kind == K::Tuple ? PyTuple_New(n) : PyList_New(n);
      if (!t) return nullptr;
      for (Py_ssize_t i = 0; i < n; ++i) {
        PyObject* x = operand_value(op.items[static_cast<size_t>(i)], cx);
        if (!x) {
          Py_DECREF(t);
          return nullptr;
        }
        if (op.kind == K::Tuple) PyTuple_SET_ITEM(t, i, x);
        else PyList_SET_ITEM(t, i, x);
      }
      return t;
    }
    case K::RangeIter: {  // iter(range(next, end, step)): the loop's remaining items
      PyObject* t = op.constant.get();
      if (op.items.empty() || !t || !PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) break;
      PyObject* next = operand_value(op.items[0], cx);
      if (!next) return nullptr;
      int o1 = 0, o2 = 0, o3 = 0;
      const long long n = PyLong_AsLongLongAndOverflow(next, &o1);
      const long long end = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 0), &o2);
      const long long step = PyLong_AsLongLongAndOverflow(PyTuple_GET_ITEM(t, 1), &o3);
      const __int128 span = static_cast<__int128>(end) - n;
      if (!PyErr_Occurred() && !o1 && !o2 && !o3 && step != 0 && span % step == 0 && span / step >= 0 &&
          span / step <= INT64_MAX) {  // (the tracer made end = next + left * step, within int64)
        Py_DECREF(next);
        return tracer::new_range_iterator(n, step, static_cast<int64_t>(span / step));
      }
      PyErr_Clear();
      PyObject* rng = PyObject_CallFunctionObjArgs(reinterpret_cast<PyObject*>(&PyRange_Type), next,
                                                   PyTuple_GET_ITEM(t, 0), PyTuple_GET_ITEM(t, 1), nullptr);
      Py_DECREF(next);
      if (!rng) return nullptr;
      PyObject* it = PyObject_GetIter(rng);
      Py_DECREF(rng);
      return it;
    }
    case K::Choice: {  // the arm whose condition holds (a scalar whose type depends on the data)
      if (op.items.size() != 3) break;
      PyObject* c = operand_value(op.items[0], cx);
      if (!c) return nullptr;
      const int holds = PyObject_IsTrue(c);
      Py_DECREF(c);
      if (holds < 0) return nullptr;
      return operand_value(op.items[holds ? 1 : 2], cx);
    }
    case K::SeqIter: {  // iter(seq) at index `index`: the loop's remaining items, read live
      if (op.items.empty()) break;
      PyObject* seq = operand_value(op.items[0], cx);
      if (!seq) return nullptr;
      PyObject* it = tracer::seq_iterator_at(seq, static_cast<Py_ssize_t>(op.index));
      Py_DECREF(seq);
      return it;
    }
    case K::Cell: {  // one new cell per index and frame state
      if (!cx.cells) break;
      auto found = cx.cells->find(op.index);
      if (found != cx.cells->end()) return Py_NewRef(found->second);
      PyObject* content = op.items.empty() ? nullptr : operand_value(op.items[0], cx);
      if (!op.items.empty() && !content) return nullptr;
      found = cx.cells->find(op.index);  // (the content cannot hold this cell: the tracer refuses cycles)
      if (found != cx.cells->end()) {
        Py_XDECREF(content);
        return Py_NewRef(found->second);
      }
      PyObject* cell = PyCell_New(content);
      Py_XDECREF(content);
      if (!cell) return nullptr;
      cx.cells->emplace(op.index, Py_NewRef(cell));
      return cell;
    }
    case K::Function: {  // a nested function the traced code made, made again
      PyObject* t = op.constant.get();
      if (op.items.size() != 2 || !t || !PyTuple_Check(t) || PyTuple_GET_SIZE(t) != 2) break;
      PyObject* f = PyFunction_New(PyTuple_GET_ITEM(t, 0), PyTuple_GET_ITEM(t, 1));
      if (!f) return nullptr;
      for (int i = 0; i < 2; ++i) {
        PyObject* part = operand_value(op.items[static_cast<size_t>(i)], cx);
        const int rc = !part ? -1
                       : part == Py_None ? 0
                       : i == 0          ? PyFunction_SetClosure(f, part)
                                         : PyFunction_SetDefaults(f, part);
        Py_XDECREF(part);
        if (rc < 0) {
          Py_DECREF(f);
          return nullptr;
        }
      }
      return f;
    }
    case K::Method: {
      if (op.items.size() != 1 || !op.constant) break;
      PyObject* self = operand_value(op.items[0], cx);
      if (!self) return nullptr;
      PyObject* m = PyObject_GetAttr(self, op.constant.get());
      Py_DECREF(self);
      return m;
    }
  }
  PyErr_SetString(PyExc_SystemError, "tracejit: unknown effect operand");
  return nullptr;
}

// Performs one effect. False with the exception set when it raised (as the statement would).
bool perform(const tracer::Effect& fx, EffectContext& cx) {
  std::vector<PyObject*> ops;
  struct Release {
    std::vector<PyObject*>& v;
    ~Release() {
      for (PyObject* o : v) Py_XDECREF(o);
    }
  } release{ops};
  for (const tracer::EffectOperand& op : fx.operands) {
    PyObject* o = operand_value(op, cx);
    if (!o) return false;
    ops.push_back(o);
  }
  PyObject* r = nullptr;
  size_t nkw = fx.kwnames ? static_cast<size_t>(PyTuple_GET_SIZE(fx.kwnames.get())) : 0;
  switch (fx.kind) {
    case tracer::Effect::Kind::Call:
      r = PyObject_Vectorcall(ops[0], ops.data() + 1, ops.size() - 1 - nkw,
                              nkw ? fx.kwnames.get() : nullptr);
      break;
    case tracer::Effect::Kind::CallMethod:
      r = PyObject_VectorcallMethod(fx.method.get(), ops.data(), ops.size() - nkw,
                                    nkw ? fx.kwnames.get() : nullptr);
      break;
    case tracer::Effect::Kind::SetItem:
      if (PyObject_SetItem(ops[0], ops[1], ops[2]) < 0) return false;
      Py_INCREF(Py_None);
      r = Py_None;
      break;
    case tracer::Effect::Kind::Format:
      r = tracer::format_value(ops[0], fx.conversion, ops.size() > 1 ? ops[1] : nullptr);
      break;
    case tracer::Effect::Kind::Replay:
      PyErr_SetString(PyExc_SystemError, "tracejit: a nested replay");
      return false;
    case tracer::Effect::Kind::IndexCheck: {
      // As NumPy indexes: every index converted to intp first (PyArray_PyIntAsIntp: Python's
      // OverflowError past C long, a uint64 of 2**63 or more), then checked axis by axis.
      std::vector<long> idx;
      for (PyObject* o : ops) {
        PyObject* i = PyNumber_Index(o);
        if (!i) return false;
        long v = PyLong_AsLong(i);
        Py_DECREF(i);
        if (v == -1 && PyErr_Occurred()) return false;
        idx.push_back(v);
      }
      for (size_t k = 0; k < idx.size() && k < fx.checked.size(); ++k) {
        const auto [axis, size] = fx.checked[k];
        if (idx[k] < -size || idx[k] >= size) {
          PyErr_Format(PyExc_IndexError, "index %ld is out of bounds for axis %d with size %ld", idx[k], axis,
                       static_cast<long>(size));
          return false;
        }
      }
      PyErr_SetString(PyExc_SystemError, "tracejit: an index check failed with every index in bounds");
      return false;
    }
    case tracer::Effect::Kind::Concat: {
      PyObject* parts = PyTuple_New(static_cast<Py_ssize_t>(ops.size()));
      if (!parts) return false;
      for (size_t i = 0; i < ops.size(); ++i) {
        PyTuple_SET_ITEM(parts, static_cast<Py_ssize_t>(i), ops[i]);
        ops[i] = nullptr;  // the tuple owns it now
      }
      PyObject* empty = PyUnicode_FromString("");
      r = empty ? PyUnicode_Join(empty, parts) : nullptr;
      Py_XDECREF(empty);
      Py_DECREF(parts);
      break;
    }
  }
  if (!r) return false;
  if (fx.slot >= 0) {
    Py_XDECREF(cx.host[static_cast<size_t>(fx.slot)]);
    cx.host[static_cast<size_t>(fx.slot)] = r;
  } else {
    Py_DECREF(r);
  }
  return true;
}

}  // namespace

CacheEntry::~CacheEntry() {
  for (tracer::OutputNode& n : outputs) Py_XDECREF(n.constant);
}

Continuation::~Continuation() {
  Py_XDECREF(remainder);
  Py_XDECREF(code);
}

JitFunction::JitFunction(PyObject* callable, Options options)
    : callable_(callable), options_(options) {
  Py_INCREF(callable_);
  if (PyFunction_Check(callable)) {
    func_ = callable;
  } else if (PyMethod_Check(callable) && PyFunction_Check(PyMethod_GET_FUNCTION(callable))) {
    func_ = PyMethod_GET_FUNCTION(callable);
    self_ = PyMethod_GET_SELF(callable);
  } else if (!PyType_Check(callable)) {
    // A callable object: trace type(obj).__call__ with the object as `self`.
    PyObject* call = _PyType_Lookup(Py_TYPE(callable), PyUnicode_InternFromString("__call__"));
    if (call && PyFunction_Check(call)) {
      func_ = call;
      self_ = callable;
    }
  }
  Py_XINCREF(func_);
  Py_XINCREF(self_);
  if (func_) {
    code_ = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(func_));
    name_ = PyUnicode_AsUTF8(code_->co_qualname);
    nparams_ = code_->co_argcount + code_->co_kwonlyargcount + ((code_->co_flags & CO_VARARGS) ? 1 : 0) +
               ((code_->co_flags & CO_VARKEYWORDS) ? 2 : 0);
  } else {
    name_ = Py_TYPE(callable)->tp_name;
    stats_.fallback_reasons.push_back(fmt::format(
        "{} is not a Python function or an object with a Python __call__: it runs eagerly "
        "[unsupported-callable]", name_));
  }
}

JitFunction::~JitFunction() {
  entries_.clear();
  for (auto& [key, op] : break_ops_) Py_DECREF(op);
  Py_XDECREF(self_);
  Py_XDECREF(func_);
  Py_DECREF(callable_);
}

void JitFunction::reset() {
  entries_.clear();
  continuations_.clear();
  for (auto& [key, op] : break_ops_) Py_DECREF(op);
  break_ops_.clear();
  continuation_signatures_.clear();
  signatures_.clear();
  hot_seen_.clear();
  std::vector<std::string> keep = func_ ? std::vector<std::string>{} : stats_.fallback_reasons;
  stats_ = Stats{};
  stats_.fallback_reasons = keep;
  warned_limit_ = false;
}

void JitFunction::add_reason(std::vector<std::string>& list, std::string reason) {
  for (const std::string& r : list)
    if (r == reason) return;
  if (list.size() < kMaxReasons) list.push_back(std::move(reason));
}

PyObject* JitFunction::eager(PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  ++stats_.fallback_calls;
  return PyObject_Vectorcall(callable_, args, nargsf, kwnames);
}

// Binds positional and keyword arguments to the code's parameters (see runtime.h), defaults
// and keyword-only defaults applied. False when Python would raise: the eager call raises.
bool JitFunction::bind(PyObject* const* args, Py_ssize_t nargs, PyObject* kwnames,
                       std::vector<PyObject*>& bound, std::vector<PyObject*>& owned) const {
  const int argc = code_->co_argcount, kwonly = code_->co_kwonlyargcount, posonly = code_->co_posonlyargcount;
  const bool varargs = code_->co_flags & CO_VARARGS, varkw = code_->co_flags & CO_VARKEYWORDS;
  const int named = argc + kwonly;
  if (nargs > argc && !varargs) return false;
  bound.assign(static_cast<size_t>(nparams_), nullptr);
  auto own = [&](PyObject* o) {
    owned.push_back(o);
    return o;
  };
  for (Py_ssize_t i = 0; i < std::min<Py_ssize_t>(nargs, argc); ++i) bound[static_cast<size_t>(i)] = args[i];
  if (varargs) {
    PyObject* rest = PyTuple_New(std::max<Py_ssize_t>(nargs - argc, 0));
    if (!rest) {
      PyErr_Clear();
      return false;
    }
    for (Py_ssize_t i = argc; i < nargs; ++i) {
      Py_INCREF(args[i]);
      PyTuple_SET_ITEM(rest, i - argc, args[i]);
    }
    bound[static_cast<size_t>(named)] = own(rest);
  }
  PyObject* kwargs = nullptr;
  std::vector<PyObject*> kwkeys;
  if (varkw) {
    kwargs = PyDict_New();
    if (!kwargs) {
      PyErr_Clear();
      return false;
    }
    bound[static_cast<size_t>(named + (varargs ? 1 : 0))] = own(kwargs);
  }
  if (kwnames) {
    PyObject* varnames = PyCode_GetVarnames(code_);
    if (!varnames) {
      PyErr_Clear();
      return false;
    }
    bool ok = true;
    for (Py_ssize_t k = 0; ok && k < PyTuple_GET_SIZE(kwnames); ++k) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, k);
      int slot = -1;
      for (int i = posonly; i < named; ++i)
        if (PyUnicode_Compare(key, PyTuple_GET_ITEM(varnames, i)) == 0) {
          slot = i;
          break;
        }
      if (slot >= 0) {
        if (bound[static_cast<size_t>(slot)]) ok = false;
        else bound[static_cast<size_t>(slot)] = args[nargs + k];
      } else if (kwargs && !PyDict_Contains(kwargs, key)) {
        ok = PyDict_SetItem(kwargs, key, args[nargs + k]) == 0;
        kwkeys.push_back(key);
      } else {
        ok = false;
      }
    }
    Py_DECREF(varnames);
    PyErr_Clear();
    if (!ok) return false;
  }
  if (varkw) {
    PyObject* keys = PyTuple_New(static_cast<Py_ssize_t>(kwkeys.size()));
    if (!keys) {
      PyErr_Clear();
      return false;
    }
    for (size_t i = 0; i < kwkeys.size(); ++i) {
      Py_INCREF(kwkeys[i]);
      PyTuple_SET_ITEM(keys, static_cast<Py_ssize_t>(i), kwkeys[i]);
    }
    bound[static_cast<size_t>(named + (varargs ? 1 : 0) + 1)] = own(keys);
  }
  PyObject* defaults = PyFunction_GET_DEFAULTS(func_);
  Py_ssize_t ndef = defaults ? PyTuple_GET_SIZE(defaults) : 0;
  for (int i = 0; i < argc; ++i) {
    if (bound[static_cast<size_t>(i)]) continue;
    Py_ssize_t d = i - (argc - ndef);
    if (d < 0) return false;
    PyObject* v = PyTuple_GET_ITEM(defaults, d);
    Py_INCREF(v);
    bound[static_cast<size_t>(i)] = own(v);
  }
  if (kwonly > 0) {
    PyObject* kwdefaults = PyFunction_GET_KW_DEFAULTS(func_);
    PyObject* varnames = PyCode_GetVarnames(code_);
    if (!varnames) {
      PyErr_Clear();
      return false;
    }
    bool ok = true;
    for (int i = argc; ok && i < named; ++i) {
      if (bound[static_cast<size_t>(i)]) continue;
      PyObject* v = kwdefaults && PyDict_Check(kwdefaults) ? PyDict_GetItem(kwdefaults, PyTuple_GET_ITEM(varnames, i)) : nullptr;
      if (!v) {
        ok = false;
        break;
      }
      Py_INCREF(v);
      bound[static_cast<size_t>(i)] = own(v);
    }
    Py_DECREF(varnames);
    PyErr_Clear();
    if (!ok) return false;
  }
  return true;
}

// A cheap key for hotness counting (never for correctness: the guards decide that).
uint64_t JitFunction::signature_of(PyObject* const* bound, bool int_values) const {
  uint64_t h = 1469598103934665603ull;
  for (int i = 0; i < code_->co_argcount; ++i) {
    PyObject* o = bound[i];
    h = mix(h, reinterpret_cast<uintptr_t>(Py_TYPE(o)));
    if (PyArray_Check(o)) {
      auto* a = reinterpret_cast<PyArrayObject*>(o);
      h = mix(h, static_cast<uint64_t>(PyArray_TYPE(a)));
      h = mix(h, static_cast<uint64_t>(PyArray_NDIM(a)));
      for (int d = 0; d < PyArray_NDIM(a); ++d) {
        bool dynamic = options_.dynamic == 1 && PyArray_DIMS(a)[d] >= 2;
        for (const auto& [da, dd] : dynamic_dims_) dynamic |= da == i && dd == d && PyArray_DIMS(a)[d] >= 2;
        for (const auto& [sa, sd] : static_dims_) dynamic &= !(sa == i && sd == d);  // specialized
        h = mix(h, dynamic ? ~0ull : static_cast<uint64_t>(PyArray_DIMS(a)[d]));
      }
      h = mix(h, PyArray_IS_C_CONTIGUOUS(a) ? 1 : 0);
    } else if ((int_values && PyLong_CheckExact(o)) || PyUnicode_CheckExact(o) || PyBool_Check(o)) {
      Py_hash_t ph = PyObject_Hash(o);
      if (ph == -1) PyErr_Clear();
      h = mix(h, static_cast<uint64_t>(ph));
    }
  }
  return h;
}

namespace {

// Ops NumPy's loops may raise floating-point flags for (besides float arithmetic): the
// transcendentals, float powers, integer // and % (by zero), float -> int casts.
bool fp_flag_op(const ir::Graph& g, const ir::Node& n) {
  using ir::Op;
  if (ir::checks_scalar_overflow(n)) return true;
  switch (n.op) {
    case Op::Exp: case Op::Log: case Op::Tanh: case Op::Sin: case Op::Cos: case Op::Expm1:
    case Op::Log1p: case Op::Log2: case Op::Log10: case Op::Exp2: case Op::Cbrt: case Op::Tan:
    case Op::Asin: case Op::Acos: case Op::Atan: case Op::Sinh: case Op::Cosh: case Op::Asinh:
    case Op::Acosh: case Op::Atanh: case Op::Atan2: case Op::Hypot:
      return true;
    case Op::Pow:
      return ir::is_float(n.type.dtype);
    case Op::FloorDiv: case Op::Mod:
      return !ir::is_float(n.type.dtype);
    case Op::Cast:
      return !n.operands.empty() && ir::is_float(g.type(n.operands[0]).dtype) && !ir::is_float(n.type.dtype) &&
             !ir::is_bool(n.type.dtype);
    default:
      return false;
  }
}

// Ops that can raise a flag NumPy reports (arithmetic on floats, casts, reductions, matmul, the
// ones above), as (op, file, line): one the pipeline removed or folded (dead code,
// constants) raises nothing at run time although eager NumPy computes it.
using FlagOpKey = std::tuple<int, std::string, int32_t>;
void collect_flag_ops(const ir::Graph& g, std::set<FlagOpKey>& out) {
  using ir::Op;
  for (const ir::Node& n : g.nodes) {
    for (const auto& r : n.regions) collect_flag_ops(*r, out);
    bool flt = ir::is_float(n.type.dtype) || (!n.operands.empty() && ir::is_float(g.type(n.operands[0]).dtype));
    bool raises = fp_flag_op(g, n);
    // A cast of a constant folds only when it raises nothing (ir/passes/fold.cpp keeps an
    // out-of-range float -> int and an overflowing double -> float for run time).
    if (n.op == Op::Cast && !n.operands.empty() && g.node(n.operands[0]).op == Op::Const) continue;
    switch (n.op) {
      case Op::Cast:  // float -> int (above), float64 -> float32 (overflow)
        raises = raises || (n.type.dtype == ir::DType::F32 && !n.operands.empty() &&
                            g.type(n.operands[0]).dtype == ir::DType::F64);
        break;
      case Op::Sqrt: case Op::Div: case Op::Add: case Op::Sub: case Op::Mul:
      case Op::FloorDiv: case Op::Mod: case Op::Pow: case Op::ReduceSum: case Op::ReduceProd:
      case Op::MatMul: case Op::ScanSum: case Op::ScanProd:
        raises = raises || flt;
        break;
      default: break;
    }
    if (!raises) continue;
    std::string file = n.loc.known() && static_cast<size_t>(n.loc.file) < g.files.size() ? g.files[static_cast<size_t>(n.loc.file)] : "?";
    out.emplace(static_cast<int>(n.op), std::move(file), n.loc.line);
  }
}

}  // namespace

// Everything LLVM: optimize the graph and compile it. Touches no Python object, so it runs on
// the compile thread as well as on the caller's; publishes the result through `state`.
void build_kernel(CacheEntry& e, ir::Graph graph) {
  auto t1 = std::chrono::steady_clock::now();
  std::set<FlagOpKey> flag_ops;
  collect_flag_ops(graph, flag_ops);
  Status st = ir::run_pipeline(graph);
  if (st.ok()) {
    // Floating-point flags (NumPy's errstate): flag-raising ops the pipeline removed or folded
    // raise nothing at run time (every op that runs raises at least NumPy's flags: hardware
    // arithmetic, or flags noted by the backend, scalar_ops.cpp note_numpy_fp_flags).
    std::set<FlagOpKey> kept;
    collect_flag_ops(graph, kept);
    for (const FlagOpKey& k : flag_ops) {
      if (!e.fp_inexact_where.empty()) break;
      // A matrix-vector or inner product the pipeline rewrote as a sum of products
      // (ir/passes/matvec.h) raises its flags from that reduce_sum, at the same line.
      if (std::get<0>(k) == static_cast<int>(ir::Op::MatMul) &&
          kept.count(FlagOpKey{static_cast<int>(ir::Op::ReduceSum), std::get<1>(k), std::get<2>(k)}))
        continue;
      if (!kept.count(k))
        e.fp_inexact_where = fmt::format("{}:{}: {} (removed or folded when optimized)", std::get<1>(k), std::get<2>(k),
                                         ir::op_name(static_cast<ir::Op>(std::get<0>(k))));
    }
    e.fp_inexact = !e.fp_inexact_where.empty();
    plan_scatter_backs(e, graph);
    // Results that are just a parameter are copied by the runtime; the kernel computes the rest.
    ir::Graph kernel_graph = graph;
    kernel_graph.results.clear();
    kernel_graph.result_axes.clear();
    for (size_t k = 0; k < graph.results.size(); ++k) {
      ir::ValueId r = graph.results[k];
      const ir::Node& n = graph.node(r);
      e.result_types.push_back(n.type);
      e.result_axes.push_back(k < graph.result_axes.size() ? graph.result_axes[k] : std::vector<int64_t>{});
      e.result_param_raw.push_back(n.op == ir::Op::Param && n.ints[1] == static_cast<int64_t>(ir::ParamLayout::Contiguous));
      if (n.op == ir::Op::Param) {
        e.result_param.push_back(static_cast<int>(n.ints[0]));
        e.kernel_slot.push_back(-1);
      } else {
        e.result_param.push_back(-1);
        e.kernel_slot.push_back(static_cast<int>(kernel_graph.results.size()));
        kernel_graph.results.push_back(r);
        if (!graph.result_axes.empty()) {
          kernel_graph.result_axes.resize(kernel_graph.results.size());
          kernel_graph.result_axes.back() = e.result_axes.back();
        }
      }
    }
    e.ir_text = ir::print(kernel_graph);
    auto k = backends::compile_cpu(kernel_graph);
    if (k) {
      e.kernel = std::move(k.value());
      const backends::ProgramInfo* program = backends::program_info(*e.kernel);
      e.has_loops = program && program->loops > 0;
      if (program) {
        e.loops = program->loops;
        e.native_loops = program->native_loops;
        e.native_rejections = program->native_rejections;
      }
    } else {
      st = k.status();
    }
  }
  e.compile_ms = ms_since(t1);
  if (!st.ok()) e.error = st.message();
  e.state.store(st.ok() ? CacheEntry::kReady : CacheEntry::kFailed, std::memory_order_release);
}

// One background thread compiles queued kernels in order; calls run eagerly meanwhile.
class CompileQueue {
 public:
  static CompileQueue& get() {
    static auto* q = new CompileQueue();  // never destroyed: the thread may outlive main()
    return *q;
  }
  // Waits until every queued compile has finished (the interpreter must not tear LLVM down
  // under a running compile at exit).
  void drain() {
    std::unique_lock<std::mutex> lock(mu_);
    idle_cv_.wait(lock, [this] { return jobs_.empty() && !busy_; });
  }
  void push(std::function<void()> job) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      jobs_.push_back(std::move(job));
      if (!started_) {
        started_ = true;
        std::thread([this] { loop(); }).detach();
      }
    }
    cv_.notify_one();
  }

 private:
  void loop() {
    for (;;) {
      std::function<void()> job;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return !jobs_.empty(); });
        job = std::move(jobs_.front());
        jobs_.pop_front();
        busy_ = true;
      }
      job();
      {
        std::lock_guard<std::mutex> lock(mu_);
        busy_ = false;
      }
      idle_cv_.notify_all();
    }
  }
  std::mutex mu_;
  std::condition_variable cv_;
  std::condition_variable idle_cv_;
  bool busy_ = false;
  std::deque<std::function<void()>> jobs_;
  bool started_ = false;
};

void JitFunction::log(const char* channel, const std::string& message) const {
  if (!log_enabled(channel)) return;
  PyObject* logging = PyImport_ImportModule("logging");
  PyObject* logger = logging ? PyObject_CallMethod(logging, "getLogger", "s", "tracejit") : nullptr;
  PyObject* r = logger ? PyObject_CallMethod(logger, "info", "s", message.c_str()) : nullptr;
  Py_XDECREF(r);
  Py_XDECREF(logger);
  Py_XDECREF(logging);
  PyErr_Clear();
}

tracer::TraceResult JitFunction::trace(PyObject* const* bound) {
  auto t0 = std::chrono::steady_clock::now();
  learn_dynamic_dims(bound);
  tracer::TraceOptions topts = trace_options(bound);
  tracer::TraceResult tr = tracer::trace_function(func_, bound, nparams_, topts);
  // A runtime size that met a static size: retrace with those dimensions static (guarded by
  // value), keeping the others dynamic; a few rounds at most.
  for (int round = 0; round < 4; ++round) {
    auto* a = std::get_if<tracer::Abort>(&tr);
    if (!a || a->code != tracer::AbortCode::DynamicShape || a->specialize.empty()) break;
    bool added = false;
    for (const auto& p : a->specialize)
      if (std::find(static_dims_.begin(), static_dims_.end(), p) == static_dims_.end()) {
        static_dims_.push_back(p);
        added = true;
        log("recompiles", fmt::format("{}: arg {} dim {} is specialized: {}", name_, p.first, p.second, a->describe()));
      }
    if (!added) break;
    topts = trace_options(bound);
    tr = tracer::trace_function(func_, bound, nparams_, topts);
  }
  if (auto* a = std::get_if<tracer::Abort>(&tr); a && a->code == tracer::AbortCode::DynamicShape) {
    // The code needs these sizes (shape arithmetic, slicing, ...): compile it static from now on.
    log("recompiles", fmt::format("{}: dynamic shapes off: {}", name_, a->describe()));
    dynamic_failed_ = true;
    tr = tracer::trace_function(func_, bound, nparams_, tracer::TraceOptions{});
  }
  last_trace_ms_ = ms_since(t0);
  stats_.trace_ms += last_trace_ms_;
  return tr;
}

bool JitFunction::code_has_loops() {
  PyObject* code = PyFunction_GET_CODE(func_);
  if (code == loops_code_) return has_loops_;
  loops_code_ = code;
  has_loops_ = false;
  auto instrs = frontend::decode(reinterpret_cast<PyCodeObject*>(code));
  if (!instrs) return false;  // the tracer will say why when it runs
  for (size_t i = 0; i < instrs->size(); ++i)
    if ((*instrs)[i].target >= 0 && static_cast<size_t>((*instrs)[i].target) < i) has_loops_ = true;
  return has_loops_;
}

std::shared_ptr<CacheEntry> JitFunction::compile(PyObject* const* bound, uint64_t sig_key,
                                                 SignatureInfo& sig, tracer::TraceResult* traced) {
  tracer::TraceResult tr = traced ? std::move(*traced) : trace(bound);
  double trace_ms = last_trace_ms_;
  if (auto* a = std::get_if<tracer::Abort>(&tr)) {
    ++stats_.trace_aborts;
    sig.eager_only = true;
    add_reason(stats_.fallback_reasons, a->describe());
    log("aborts", fmt::format("{}: trace aborted: {}", name_, a->describe()));
    if (options_.fullgraph) {
      sig.fullgraph_lines = a->graph_breaks;
      sig.fullgraph_lines.push_back(a->describe());
      raise_graph_break(sig.fullgraph_lines);
      return nullptr;
    }
    return nullptr;
  }
  tracer::Trace& t = std::get<tracer::Trace>(tr);
  // Deferred effects and a resume break are graph breaks: counted, or under fullgraph=True an error.
  if (!count_breaks(t, &sig)) return nullptr;
  if (t.resume) {
    std::string why;
    if (!prepare_resume(*t.resume, why)) {
      ++stats_.trace_aborts;
      sig.eager_only = true;
      add_reason(stats_.fallback_reasons, why);
      log("aborts", fmt::format("{}: {}", name_, why));
      return nullptr;
    }
  }
  auto e = make_entry(t, sig_key, trace_ms);

  // Recompile accounting: why the nearest existing version did not match, in the user's words.
  if (!entries_.empty()) {
    ++stats_.recompiles;
    std::vector<std::string> why = entries_.back()->guards.explain(bound);
    std::string line = fmt::format("{}: {}", name_, why.empty() ? "new signature" : why.front());
    for (size_t i = 1; i < why.size(); ++i) line += "; " + why[i];
    line += caller_location();
    log("recompiles", fmt::format("recompile {}", line));
    add_reason(stats_.recompile_reasons, std::move(line));
  }
  if (log_enabled("guards")) {
    std::string text = fmt::format("{}: guards of version {}", name_, entries_.size());
    for (const std::string& g : e->guards.describe()) text += "\n  " + g;
    log("guards", text);
  }
  entries_.push_back(e);
  if (options_.sync) {
    build_kernel(*e, std::move(t.graph));
    return settle(entries_.size() - 1) ? e : nullptr;
  }
  sig.compiling = true;
  CompileQueue::get().push([e, g = std::move(t.graph)]() mutable {
    build_kernel(*e, std::move(g));
    // The function may have dropped this entry meanwhile (reset, deallocation): the entry holds
    // Python references, so the compile thread lets go of it only with the GIL.
    PyGILState_STATE gil = PyGILState_Ensure();
    e.reset();
    PyGILState_Release(gil);
  });
  return nullptr;  // this call runs eagerly; later calls pick the kernel up when it is ready
}

bool JitFunction::count_breaks(const tracer::Trace& t, SignatureInfo* sig) {
  std::vector<std::string> breaks;
  for (const tracer::Effect& fx : t.effects)
    if (fx.graph_break) breaks.push_back(fx.describe());
  if (t.resume) breaks.push_back(t.resume->describe());
  if (options_.fullgraph && !breaks.empty()) {
    if (sig) {
      sig->eager_only = true;
      sig->fullgraph_lines = breaks;
    }
    raise_graph_break(breaks);
    return false;
  }
  stats_.graph_breaks += static_cast<int64_t>(breaks.size());
  for (std::string& b : breaks) {
    log("graph_breaks", fmt::format("{}: {}", name_, b));
    add_reason(stats_.graph_break_reasons, std::move(b));
  }
  return true;
}

std::shared_ptr<CacheEntry> JitFunction::make_entry(tracer::Trace& t, uint64_t sig_key, double trace_ms) {
  auto e = std::make_shared<CacheEntry>();
  e->trace_ms = trace_ms;
  e->signature = sig_key;
  e->guards = std::move(t.guards);
  if (guard_stubs_enabled()) {  // TRACEJIT_GUARD_STUBS=0: interpreted guards only
    auto stub = GuardStub::build(e->guards);
    if (stub) e->guard_stub = std::move(stub.value());
    else log("guards", fmt::format("{}: guards stay interpreted: {}", name_, stub.message()));
  }
  e->inputs = std::move(t.inputs);
  e->outputs = std::move(t.outputs);
  e->writebacks = std::move(t.writebacks);
  e->rerun_checks = std::move(t.rerun_checks);
  e->symbols = t.symbols;
  e->effects = std::move(t.effects);
  e->loop_effects = std::move(t.loop_effects);
  e->effect_fetches = std::move(t.effect_fetches);
  e->effect_distinct = std::move(t.effect_distinct);
  e->host_slots = t.host_slots;
  e->resume = std::move(t.resume);
  t.outputs.clear();  // the entry owns the constants' references now
  return e;
}

// " (called from file.py:12)": the Python frame that called the jitted function.
std::string JitFunction::caller_location() const {
  PyFrameObject* frame = PyEval_GetFrame();  // borrowed: the caller's frame
  if (!frame) return "";
  PyCodeObject* code = PyFrame_GetCode(frame);
  std::string out = fmt::format(" (called from {}:{})", PyUnicode_AsUTF8(code->co_filename),
                                PyFrame_GetLineNumber(frame));
  Py_DECREF(code);
  return out;
}

// When a recompile is due to sizes alone (same dtype and rank), those dimensions become dynamic
// (Dynamo's policy: the first compile is static, a changed size makes that dimension symbolic).
void JitFunction::learn_dynamic_dims(PyObject* const* bound) {
  if (!kAutoDynamic || options_.dynamic != -1 || dynamic_failed_ || entries_.empty()) return;
  for (const tracer::Guard& g : entries_.back()->guards.guards()) {
    if (g.kind != tracer::Guard::Kind::Array || g.arg < 0) continue;
    PyObject* o = bound[g.arg];
    if (!PyArray_CheckExact(o)) continue;
    auto* a = reinterpret_cast<PyArrayObject*>(o);
    if (PyArray_TYPE(a) != g.typenum || PyArray_NDIM(a) != static_cast<int>(g.dims.size())) continue;
    for (size_t d = 0; d < g.dims.size(); ++d) {
      if (g.dims[d] < 0 || PyArray_DIMS(a)[d] == g.dims[d]) continue;
      std::pair<int, int> p(g.arg, static_cast<int>(d));
      if (std::find(dynamic_dims_.begin(), dynamic_dims_.end(), p) == dynamic_dims_.end()) {
        dynamic_dims_.push_back(p);
        log("recompiles", fmt::format("{}: arg {} dim {} is dynamic from now on", name_, g.arg, d));
      }
    }
  }
}

tracer::TraceOptions JitFunction::trace_options(PyObject* const* bound) {
  tracer::TraceOptions o;
  if (options_.dynamic == 0 || dynamic_failed_) return o;
  if (options_.dynamic == 1) {
    for (int i = 0; i < code_->co_argcount; ++i)
      if (PyArray_CheckExact(bound[i]))
        for (int d = 0; d < PyArray_NDIM(reinterpret_cast<PyArrayObject*>(bound[i])); ++d)
          if (std::find(static_dims_.begin(), static_dims_.end(), std::pair<int, int>(i, d)) == static_dims_.end())
            o.dynamic_dims.emplace_back(i, d);
    return o;
  }
  o.dynamic_dims = dynamic_dims_;
  auto drop_static = [&]() {
    o.dynamic_dims.erase(std::remove_if(o.dynamic_dims.begin(), o.dynamic_dims.end(), [&](const std::pair<int, int>& p) {
                           return std::find(static_dims_.begin(), static_dims_.end(), p) != static_dims_.end();
                         }), o.dynamic_dims.end());
  };
  // tracejit.mark_dynamic(array, dim): the package keeps {id(array): dims} for live arrays.
  PyObject* mod = PyImport_ImportModule("tracejit");
  PyObject* marks = mod ? PyObject_GetAttrString(mod, "_dynamic_marks") : nullptr;
  if (marks && PyDict_Check(marks)) {
    for (int i = 0; i < code_->co_argcount; ++i) {
      PyObject* key = PyLong_FromVoidPtr(bound[i]);
      PyObject* dims = key ? PyDict_GetItem(marks, key) : nullptr;  // borrowed
      Py_XDECREF(key);
      if (!dims || !PyTuple_Check(dims)) continue;
      for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(dims); ++k) {
        long d = PyLong_AsLong(PyTuple_GET_ITEM(dims, k));
        if (d >= 0) o.dynamic_dims.emplace_back(i, static_cast<int>(d));
      }
    }
  }
  Py_XDECREF(marks);
  Py_XDECREF(mod);
  PyErr_Clear();
  drop_static();
  return o;
}

// A finished compile is accounted on the calling thread (stats and logs need the GIL); a
// failed one leaves the cache and its signature runs eagerly from then on.
bool JitFunction::settle(size_t i) {
  CacheEntry& e = *entries_[i];
  if (e.settled) return true;
  int state = e.state.load(std::memory_order_acquire);
  if (state == CacheEntry::kCompiling) return false;
  signatures_[e.signature].compiling = false;
  if (state == CacheEntry::kFailed) {
    ++stats_.compile_failures;
    if (!e.symbols.empty()) {
      dynamic_failed_ = true;  // the backend could not compile it dynamic: the next call retraces static
      signatures_.erase(e.signature);
    } else {
      signatures_[e.signature].eager_only = true;
    }
    std::string why = fmt::format("{}:{}: compile failed: {} [compile-error]",
                                  PyUnicode_AsUTF8(code_->co_filename), code_->co_firstlineno, e.error);
    if (signatures_.count(e.signature)) signatures_[e.signature].fullgraph_lines = {why};
    add_reason(stats_.fallback_reasons, why);
    entries_.erase(entries_.begin() + static_cast<std::ptrdiff_t>(i));
    return false;
  }
  e.settled = true;
  ++stats_.compiles;
  if (e.kernel && e.kernel->from_cache()) ++stats_.cache_hits;
  stats_.compile_ms += e.compile_ms;
  log("ir", fmt::format("{}: compiled in {:.1f} ms\n{}", name_, e.compile_ms, e.ir_text));
  return true;
}

void JitFunction::note_rerun(CacheEntry& e, const std::string& reason) {
  fp_eager_ = true;
  ++stats_.fp_reruns;
  ++e.fp_streak;
  add_reason(stats_.fallback_reasons, reason);
}

void JitFunction::note_fp_rerun(CacheEntry& e, uint32_t flags) {
  std::string where = !e.resume_at.empty()
                          ? "continuation at " + e.resume_at
                          : fmt::format("{}:{}", PyUnicode_AsUTF8(code_->co_filename), code_->co_firstlineno);
  note_rerun(e, fmt::format("{}: floating-point error flags ({}) raised in compiled code; re-ran eagerly for "
                            "NumPy's warning/exception [fp-rerun]",
                            where, fperr::names(flags)));
}

PyObject* JitFunction::run(CacheEntry& e, PyObject* const* bound) {
  // NumPy's errstate. A version missing a flag-raising op of the eager code (removed or folded
  // by the pipeline) does not run under a state that raises (or calls, prints, logs); loops
  // whose effects would be performed live record them instead under such a state (nothing is
  // performed before the flags are read, so the call can still run again eagerly).
  int errmask = fperr::kUnknown;
  const bool live_effects = !e.loop_effects.empty();
  if (e.fp_inexact || live_effects) errmask = fperr::errmask();
  if (e.fp_inexact && fperr::beyond_warn(errmask)) {
    fp_eager_ = true;
    add_reason(stats_.fallback_reasons,
               fmt::format("{}: an operation eager NumPy performs does not run in the compiled code, so its "
                           "floating-point errors cannot be detected; under np.errstate/np.seterr with 'raise', "
                           "'call', 'print' or 'log' the call runs eagerly [fp-errstate]",
                           e.fp_inexact_where));
    return nullptr;
  }
  size_t nin = e.inputs.size();
  std::vector<PyObject*> fetched;  // inputs reached through a source path (new references)
  struct Release {
    std::vector<PyObject*>& v;
    ~Release() {
      for (PyObject* o : v) Py_DECREF(o);
    }
  } release{fetched};
  std::vector<void*> in_ptrs(nin);
  npy_intp largest_input = 0;
  size_t align_offset = 16;  // no array input: where glibc puts large blocks
  std::vector<PyObject*> input_objs(nin);  // borrowed: from `bound` or `fetched`
  std::vector<const int64_t*> in_strides(nin, nullptr);
  std::vector<uint64_t> scalars(nin);  // storage for scalar params (8 bytes fits every dtype)
  // Sizes of the symbolic dimensions, read from the arguments (guards made them >= 2 and equal
  // where they share a symbol).
  std::vector<int64_t> sym(e.symbols.size());
  for (size_t k = 0; k < e.symbols.size(); ++k)
    sym[k] = PyArray_DIMS(reinterpret_cast<PyArrayObject*>(bound[e.symbols[k].first]))[e.symbols[k].second];
  for (size_t i = 0; i < nin; ++i) {
    const tracer::InputBinding& b = e.inputs[i];
    if (b.kind == tracer::InputBinding::Kind::SymSize) {  // a runtime size as float64 (a count)
      double d = static_cast<double>(sym[static_cast<size_t>(b.sym)]);
      std::memcpy(&scalars[i], &d, sizeof d);
      in_ptrs[i] = &scalars[i];
      input_objs[i] = Py_None;
      continue;
    }
    PyObject* o;
    if (b.arg >= 0) {
      o = bound[b.arg];
    } else {
      o = b.source->eval(bound);  // guarded a moment ago
      if (!o) return nullptr;
      fetched.push_back(o);
    }
    input_objs[i] = o;
    switch (b.kind) {
      case tracer::InputBinding::Kind::ArrayData: {
        auto* a = reinterpret_cast<PyArrayObject*>(o);
        in_ptrs[i] = PyArray_DATA(a);
        if (PyArray_NBYTES(a) > largest_input) {  // results get its offset within a page
          largest_input = PyArray_NBYTES(a);
          align_offset = reinterpret_cast<uintptr_t>(PyArray_DATA(a)) & 4095;
        }
        static_assert(sizeof(npy_intp) == sizeof(int64_t));
        in_strides[i] = reinterpret_cast<const int64_t*>(PyArray_STRIDES(a));
        break;
      }
      case tracer::InputBinding::Kind::PyFloat: {
        double d = PyFloat_AS_DOUBLE(o);
        std::memcpy(&scalars[i], &d, sizeof d);
        in_ptrs[i] = &scalars[i];
        break;
      }
      case tracer::InputBinding::Kind::NpScalar:
        PyArray_ScalarAsCtype(o, &scalars[i]);
        in_ptrs[i] = &scalars[i];
        break;
      case tracer::InputBinding::Kind::PyInt: {  // its guard checked that it fits
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (overflow || (v == -1 && PyErr_Occurred())) {
          PyErr_Clear();
          return nullptr;
        }
        int64_t x = v;
        std::memcpy(&scalars[i], &x, sizeof x);
        in_ptrs[i] = &scalars[i];
        break;
      }
      case tracer::InputBinding::Kind::RangeNext: {
        int64_t next = 0, step = 0, left = 0;
        if (!tracer::range_iterator_state(o, next, step, left)) return nullptr;
        std::memcpy(&scalars[i], &next, sizeof next);
        in_ptrs[i] = &scalars[i];
        break;
      }
      case tracer::InputBinding::Kind::SymSize: break;  // handled above
    }
  }
  // Objects the deferred effects use, fetched now while nothing has run: a path that no longer
  // resolves, or a container an effect writes that is also read under another name, runs the
  // call eagerly.
  std::vector<PyObject*> effect_objs;  // new references
  struct ReleaseEffects {
    std::vector<PyObject*>& v;
    ~ReleaseEffects() {
      for (PyObject* o : v) Py_XDECREF(o);
    }
  } release_effects{effect_objs};
  for (const tracer::SourceRef& s : e.effect_fetches) {
    PyObject* o = s->eval(bound);
    if (!o) return nullptr;
    effect_objs.push_back(o);
  }
  for (const auto& [a, b] : e.effect_distinct) {
    PyObject* x = a->eval(bound);
    PyObject* y = x ? b->eval(bound) : nullptr;
    bool same = x == y;
    Py_XDECREF(x);
    Py_XDECREF(y);
    if (!x || !y || same) return nullptr;
  }
  // In-place updates: the written arrays must be writeable and share no memory with any other
  // input (f(a, a), two views of one base): otherwise the eager run gives NumPy's answer.
  if (!e.writebacks.empty()) {
    auto extent = [](PyArrayObject* a, char*& lo, char*& hi) {
      lo = hi = static_cast<char*>(PyArray_DATA(a));
      for (int d = 0; d < PyArray_NDIM(a); ++d) {
        npy_intp span = (PyArray_DIMS(a)[d] - 1) * PyArray_STRIDES(a)[d];
        if (PyArray_DIMS(a)[d] == 0) return false;
        (span < 0 ? lo : hi) += span;
      }
      hi += PyArray_ITEMSIZE(a);
      return true;
    };
    for (const auto& [w, k] : e.writebacks) {
      auto* wa = reinterpret_cast<PyArrayObject*>(input_objs[static_cast<size_t>(w)]);
      if (!PyArray_ISWRITEABLE(wa)) return nullptr;
      char *wl, *wh;
      if (!extent(wa, wl, wh)) continue;
      for (size_t j = 0; j < nin; ++j) {
        if (static_cast<int>(j) == w || e.inputs[j].kind != tracer::InputBinding::Kind::ArrayData) continue;
        char *jl, *jh;
        if (extent(reinterpret_cast<PyArrayObject*>(input_objs[j]), jl, jh) && jl < wh && wl < jh) return nullptr;
      }
    }
  }
  // Allocate every result (NumPy's own allocator): C-contiguous, or with the strides of a
  // transpose of its C-contiguous buffer (Graph::result_axes).
  size_t nres = e.result_types.size();
  std::vector<PyObject*> results(nres, nullptr);
  std::vector<PyObject*> scalars_boxed(nres * 3, nullptr);  // NpScalar / PyFloat / PyInt boxes made
  std::vector<void*> out_ptrs;
  auto cleanup = [&]() {
    for (PyObject* r : results) Py_XDECREF(r);
    for (PyObject* r : scalars_boxed) Py_XDECREF(r);
  };
  for (size_t k = 0; k < nres; ++k) {
    const ir::Type& t = e.result_types[k];
    std::vector<npy_intp> dims;
    for (const ir::Dim& d : t.shape) dims.push_back(d.is_static() ? d.size : sym[static_cast<size_t>(d.sym)]);
    const std::vector<int64_t>& axes = e.result_axes[k];
    if (axes.empty()) {
      results[k] = new_result_array(t.rank(), dims.data(), typenum_from_dtype(t.dtype), align_offset);
    } else {
      std::vector<npy_intp> cstrides(dims.size()), tdims(dims.size()), tstrides(dims.size());
      npy_intp step = ir::dtype_size(t.dtype);
      for (size_t d = dims.size(); d-- > 0;) {
        cstrides[d] = step;
        step *= dims[d];
      }
      for (size_t d = 0; d < dims.size(); ++d) {
        tdims[d] = dims[static_cast<size_t>(axes[d])];
        tstrides[d] = cstrides[static_cast<size_t>(axes[d])];
      }
      results[k] = new_result_array(t.rank(), tdims.data(), typenum_from_dtype(t.dtype), align_offset, tstrides.data());
    }
    if (!results[k]) {
      cleanup();
      return nullptr;
    }
    if (e.kernel_slot[k] >= 0) out_ptrs.push_back(PyArray_DATA(reinterpret_cast<PyArrayObject*>(results[k])));
  }
  // Host slots (strings formatted by effects), filled in program order.
  std::vector<PyObject*> host(static_cast<size_t>(e.host_slots), nullptr);
  struct ReleaseHost {
    std::vector<PyObject*>& v;
    ~ReleaseHost() {
      for (PyObject* o : v) Py_XDECREF(o);
    }
  } release_host{host};
  // Effects inside loop regions hand their values to `recorder` while the program runs; those
  // of the loops before any other effect are performed then (live).
  Recorder recorder(e.loop_effects, sym.data());
  std::optional<SinkScope> sink;
  if (!e.loop_effects.empty()) {
    recorder.live.ids.assign(e.loop_effects.size(), 0);
    recorder.where = fmt::format("{}:{}", PyUnicode_AsUTF8(code_->co_filename), code_->co_firstlineno);
    for (const tracer::Effect& fx : e.effects) {
      if (fperr::beyond_warn(errmask)) break;  // recorded: the call must stay re-runnable
      if (fx.kind != tracer::Effect::Kind::Replay) break;
      for (int id = fx.replay_lo; id < fx.replay_hi; ++id) recorder.live.ids[static_cast<size_t>(id)] = 1;
    }
    recorder.live.bound = bound;
    recorder.live.fetched = &effect_objs;
    recorder.live.host = &host;
    recorder.live.input_objs = &input_objs;
    sink.emplace(&recorder);
  }
  // The floating-point flags the kernel raises (on this thread, and through the thread pool on
  // its workers): cleared before, read after, and the caller's own put back.
  const uint32_t fp_saved = backends::fp::save_and_clear();
  uint32_t fp_flags = 0;
  if (!out_ptrs.empty() || !e.loop_effects.empty()) {
    int64_t work = 0;
    for (size_t k = 0; k < nres; ++k) work += PyArray_SIZE(reinterpret_cast<PyArrayObject*>(results[k]));
    const backends::CompiledKernel& kernel = *e.kernel;  // one kernel, or a program of several
    // Programs with loops may run long even on small arrays (many iterations): release too.
    if (work >= kReleaseGilElements || e.has_loops) {
      // Large kernels run without the GIL: other Python threads go on meanwhile.
      Py_BEGIN_ALLOW_THREADS
      kernel.run(in_ptrs.data(), in_strides.data(), out_ptrs.data(), sym.data());
      Py_END_ALLOW_THREADS
    } else {
      kernel.run(in_ptrs.data(), in_strides.data(), out_ptrs.data(), sym.data());
    }
  }
  fp_flags = backends::fp::test_and_restore(fp_saved);
  sink.reset();
  if (recorder.failed) {  // a live effect raised: the exception is set, write-backs done
    cleanup();
    return nullptr;
  }
  // Flags NumPy's errstate acts on: unless a live effect was performed, nothing the caller can
  // see has happened yet (effects and in-place write-backs come below), so the compiled result
  // is dropped and the call runs again eagerly, giving NumPy's own warnings or exception at
  // the user's line. Spurious flags (a vector lane of an unselected branch, a signaling
  // compare with NaN) only cost that re-run: eager decides what is reported.
  if (recorder.fp_abort) {
    note_fp_rerun(e, recorder.fp_flags);
    cleanup();
    return nullptr;
  }
  if (fp_flags) {
    int mask = fperr::errmask();
    if (uint32_t acted = fperr::acted_on(fp_flags, mask)) {
      if (!recorder.performed) {
        note_fp_rerun(e, acted);
        cleanup();
        return nullptr;
      }
      if (!fperr::warn_after_effects(acted, mask, recorder.where)) {
        cleanup();
        return nullptr;
      }
    }
  }
  // Conditions under which NumPy warns through `warnings.warn` (an all-NaN slice in
  // np.nanmean): the call runs again eagerly, which gives that warning.
  for (const tracer::RerunCheck& c : e.rerun_checks) {
    const auto k = static_cast<size_t>(c.result);
    const std::string& why = c.why;
    auto* flag = reinterpret_cast<PyArrayObject*>(results[k]);
    if (e.kernel_slot[k] < 0 || !*static_cast<const npy_bool*>(PyArray_DATA(flag))) continue;
    if (recorder.performed && c.raises) {  // loop effects already performed: raise here instead
      PyErr_SetString(PyExc_IndexError, fmt::format("{} (tracejit could not re-run it eagerly: the loop's effects had "
                                                    "already been performed)", why).c_str());
      cleanup();
      return nullptr;
    }
    if (recorder.performed) {  // loop effects already performed: warn here instead
      if (PyErr_WarnEx(PyExc_RuntimeWarning, fmt::format("{} (tracejit could not re-run it eagerly: the loop's "
                                                         "effects had already been performed)", why).c_str(), 1) < 0) {
        cleanup();
        return nullptr;
      }
      continue;
    }
    note_rerun(e, c.raises      ? fmt::format("{}; re-ran eagerly for NumPy's exception [error-rerun]", why)
                  : c.algorithm ? fmt::format("{}; re-ran eagerly for NumPy's own answer [algorithm-rerun]", why)
                                : fmt::format("{}; re-ran eagerly for NumPy's warning [warning-rerun]", why));
    cleanup();
    return nullptr;
  }
  e.fp_streak = 0;
  for (size_t k = 0; k < nres; ++k) {
    int p = e.result_param[k];
    if (p < 0) continue;
    auto* out = reinterpret_cast<PyArrayObject*>(results[k]);
    const tracer::InputBinding& b = e.inputs[static_cast<size_t>(p)];
    if (b.kind == tracer::InputBinding::Kind::ArrayData && e.result_param_raw[k]) {
      std::memcpy(PyArray_DATA(out), in_ptrs[static_cast<size_t>(p)], static_cast<size_t>(PyArray_NBYTES(out)));
    } else if (b.kind == tracer::InputBinding::Kind::ArrayData) {
      PyObject* src = input_objs[static_cast<size_t>(p)];
      // A result returned as transpose(B, axes) holds the param in B: copied through B's view.
      PyObject* dst = reinterpret_cast<PyObject*>(out);
      Py_INCREF(dst);
      if (const std::vector<int64_t>& axes = e.result_axes[k]; !axes.empty()) {
        std::vector<npy_intp> inv(axes.size());
        for (size_t d = 0; d < axes.size(); ++d) inv[static_cast<size_t>(axes[d])] = static_cast<npy_intp>(d);
        PyArray_Dims perm{inv.data(), static_cast<int>(inv.size())};
        Py_SETREF(dst, PyArray_Transpose(out, &perm));
      }
      int copied = dst ? PyArray_CopyInto(reinterpret_cast<PyArrayObject*>(dst), reinterpret_cast<PyArrayObject*>(src)) : -1;
      Py_XDECREF(dst);
      if (copied < 0) {
        cleanup();
        return nullptr;
      }
    } else {
      std::memcpy(PyArray_DATA(out), in_ptrs[static_cast<size_t>(p)],
                  static_cast<size_t>(ir::dtype_size(b.dtype)));
    }
  }
  // A result as Python sees it (new reference): one object per result and box in a call, so
  // a value an effect stored and the same value returned are the same object, as eagerly.
  auto box = [&](int k, tracer::Box b) -> PyObject* {
    auto* a = reinterpret_cast<PyArrayObject*>(results[static_cast<size_t>(k)]);
    if (b == tracer::Box::Array) {
      Py_INCREF(a);
      return reinterpret_cast<PyObject*>(a);
    }
    PyObject*& slot = scalars_boxed[static_cast<size_t>(k) * 3 + (b == tracer::Box::PyFloat ? 1 : b == tracer::Box::PyInt ? 2 : 0)];
    if (!slot) {
      if (b == tracer::Box::NpScalar) {
        slot = PyArray_Scalar(PyArray_DATA(a), PyArray_DESCR(a), reinterpret_cast<PyObject*>(a));
      } else if (b == tracer::Box::PyInt) {  // an int64 result
        int64_t x;
        std::memcpy(&x, PyArray_DATA(a), sizeof x);
        slot = PyLong_FromLongLong(x);
      } else {
        double d;
        std::memcpy(&d, PyArray_DATA(a), sizeof d);
        slot = PyFloat_FromDouble(d);
      }
      if (!slot) return nullptr;
    }
    Py_INCREF(slot);
    return slot;
  };
  // Deferred effects, in program order, with the GIL held. If one raises, the exception goes
  // to the caller as eager code would raise it at that statement. What differs from eager: the
  // array work after that statement has already run in the kernel; it is pure (nothing the
  // caller can see), except in-place updates of input arrays, so those are written back as
  // they stood at the failing statement (Effect::writebacks) — exactly what the caller would
  // see after the eager run raised there — and later ones are dropped.
  if (!e.effects.empty()) {
    EffectContext cx{bound, effect_objs, host, box};
    const tracer::Effect* failed = nullptr;
    size_t cursor = 0;  // into recorder.records
    for (const tracer::Effect& fx : e.effects) {
      if (fx.kind == tracer::Effect::Kind::Replay) {
        // The loop's effects, per iteration in the order they ran, each with its own values.
        for (; cursor < recorder.records.size(); ++cursor) {
          auto [id, offset] = recorder.records[cursor];
          if (id < fx.replay_lo || id >= fx.replay_hi) break;
          const tracer::Effect& lf = e.loop_effects[static_cast<size_t>(id)];
          std::vector<size_t> at;
          size_t pos = offset;
          for (const auto& [t, b] : lf.recorded) {
            at.push_back(pos);
            pos += recorded_bytes(t, sym.data());
          }
          std::vector<PyObject*> objs(lf.recorded.size(), nullptr);
          struct ReleaseObjs {
            std::vector<PyObject*>& v;
            ~ReleaseObjs() {
              for (PyObject* o : v) Py_XDECREF(o);
            }
          } release_objs{objs};
          EffectContext lcx{bound, effect_objs, host, box};
          lcx.recorded = [&](int k) -> PyObject* {
            PyObject*& o = objs[static_cast<size_t>(k)];
            if (!o) {
              const auto& [t, b] = lf.recorded[static_cast<size_t>(k)];
              o = box_recorded(recorder.data.data() + at[static_cast<size_t>(k)], t, b, sym.data());
              if (!o) return nullptr;
            }
            Py_INCREF(o);
            return o;
          };
          if (perform(lf, lcx)) continue;
          // Raised: the caller sees the in-place updates made up to this point of this
          // iteration (recorded with the effect), as after eager code that raised here.
          PyObject *type, *value, *tb;
          PyErr_Fetch(&type, &value, &tb);
          for (const auto& [w, k] : lf.recorded_writebacks) {
            PyObject* v = lcx.recorded(k);
            if (!v || PyArray_CopyInto(reinterpret_cast<PyArrayObject*>(input_objs[static_cast<size_t>(w)]),
                                       reinterpret_cast<PyArrayObject*>(v)) < 0)
              PyErr_Clear();
            Py_XDECREF(v);
          }
          PyErr_Restore(type, value, tb);
          _PyTraceback_Add(lf.function.c_str(), lf.file.c_str(), lf.line);
          cleanup();
          return nullptr;
        }
        continue;
      }
      if (!perform(fx, cx)) {
        failed = &fx;
        break;
      }
    }
    if (failed) {
      PyObject *type, *value, *tb;
      PyErr_Fetch(&type, &value, &tb);
      for (const auto& [w, k] : failed->writebacks)
        if (PyArray_CopyInto(reinterpret_cast<PyArrayObject*>(input_objs[static_cast<size_t>(w)]),
                             reinterpret_cast<PyArrayObject*>(results[static_cast<size_t>(k)])) < 0)
          PyErr_Clear();
      PyErr_Restore(type, value, tb);
      // The traceback names the user's statement, as the eager frame would.
      _PyTraceback_Add(failed->function.c_str(), failed->file.c_str(), failed->line);
      cleanup();
      return nullptr;
    }
  }
  for (const auto& [w, k] : e.writebacks) {
    if (auto sb = e.scatter_backs.find(k); sb != e.scatter_backs.end()) {
      scatter_back(reinterpret_cast<PyArrayObject*>(input_objs[static_cast<size_t>(w)]),
                   reinterpret_cast<PyArrayObject*>(results[static_cast<size_t>(sb->second.result)]),
                   reinterpret_cast<PyArrayObject*>(results[static_cast<size_t>(sb->second.values)]), sb->second.axis);
      continue;
    }
    if (write_back(reinterpret_cast<PyArrayObject*>(input_objs[static_cast<size_t>(w)]),
                   reinterpret_cast<PyArrayObject*>(results[static_cast<size_t>(k)])) < 0) {
      cleanup();
      return nullptr;
    }
  }
  if (e.resume) {
    // A graph break: the frame state as Python objects (the same object per graph result and
    // box as the effects used), then the break instruction and the rest of the function.
    std::map<int, PyObject*> cells;  // cells made for the frame state (shared by its closures)
    EffectContext cx{bound, effect_objs, host, box, nullptr, &cells};  // host values the effects computed
    std::vector<PyObject*> state;
    state.reserve(e.resume->state.size());
    for (const auto& op : e.resume->state) {
      PyObject* o = op ? operand_value(*op, cx) : nullptr;
      if (op && !o) {
        for (PyObject* x : state) Py_XDECREF(x);
        for (auto& c : cells) Py_DECREF(c.second);
        cleanup();
        return nullptr;
      }
      state.push_back(o);
    }
    for (auto& c : cells) Py_DECREF(c.second);
    cleanup();
    t_pending.push_back(PendingResume{e.shared_from_this(), std::move(state)});
    return kResumePending;
  }
  // Box the results as Python sees them and assemble the returned structure.
  size_t pos = 0;
  auto build = [&](auto&& self) -> PyObject* {
    const tracer::OutputNode& n = e.outputs[pos++];
    switch (n.kind) {
      case tracer::OutputNode::Kind::Tuple:
      case tracer::OutputNode::Kind::List: {
        bool list = n.kind == tracer::OutputNode::Kind::List;
        PyObject* t = list ? PyList_New(n.index) : PyTuple_New(n.index);
        if (!t) return nullptr;
        for (int i = 0; i < n.index; ++i) {
          PyObject* item = self(self);
          if (!item) {
            Py_DECREF(t);
            return nullptr;
          }
          if (list) PyList_SET_ITEM(t, i, item);
          else PyTuple_SET_ITEM(t, i, item);
        }
        return t;
      }
      case tracer::OutputNode::Kind::Dict: {
        PyObject* d = PyDict_New();
        if (!d) return nullptr;
        for (int i = 0; i < n.index; ++i) {
          PyObject* k = self(self);
          PyObject* v = k ? self(self) : nullptr;
          if (!v || PyDict_SetItem(d, k, v) < 0) {
            Py_XDECREF(k);
            Py_XDECREF(v);
            Py_DECREF(d);
            return nullptr;
          }
          Py_DECREF(k);
          Py_DECREF(v);
        }
        return d;
      }
      case tracer::OutputNode::Kind::Constant:
        Py_INCREF(n.constant);
        return n.constant;
      case tracer::OutputNode::Kind::Arg:
        Py_INCREF(bound[n.index]);
        return bound[n.index];
      case tracer::OutputNode::Kind::Fetch:
        return n.source->eval(bound);
      case tracer::OutputNode::Kind::Result:
        return box(n.index, n.box);
      case tracer::OutputNode::Kind::Choice: {
        PyObject* c = self(self);
        if (!c) return nullptr;
        const int holds = PyObject_IsTrue(c);
        Py_DECREF(c);
        PyObject* a = self(self);
        PyObject* b = a ? self(self) : nullptr;
        if (holds < 0 || !a || !b) {
          Py_XDECREF(a);
          Py_XDECREF(b);
          return nullptr;
        }
        Py_DECREF(holds ? b : a);
        return holds ? a : b;
      }
    }
    return nullptr;
  };
  PyObject* ret = build(build);
  cleanup();
  return ret;
}

PyObject* JitFunction::call(PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  ++stats_.calls;
  if (!g_disabled && !func_ && options_.fullgraph) return raise_graph_break(stats_.fallback_reasons);
  if (g_disabled || !func_) return eager(args, nargsf, kwnames);
  Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
  PyObject* const* call_args = args;
  std::vector<PyObject*> with_self;
  if (self_) {  // method self or the callable object: the traced function's first argument
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    with_self.reserve(static_cast<size_t>(total) + 1);
    with_self.push_back(self_);
    with_self.insert(with_self.end(), args, args + total);
    call_args = with_self.data();
    ++nargs;
  }
  PyObject* const* bound = call_args;
  std::vector<PyObject*> bound_vec, owned;
  struct Release {
    std::vector<PyObject*>& v;
    ~Release() {
      for (PyObject* o : v) Py_DECREF(o);
    }
  } release{owned};
  if (kwnames || nargs != code_->co_argcount || nparams_ != code_->co_argcount) {
    if (!bind(call_args, nargs, kwnames, bound_vec, owned)) return eager(args, nargsf, kwnames);  // raises
    bound = bound_vec.data();
  }
  for (size_t i = 0; i < entries_.size(); ++i) {
    if (!entries_[i]->settled && !settle(i)) {
      if (i < entries_.size() && !entries_[i]->settled) continue;  // still compiling
      --i;  // a failed compile left the cache: entry i is the next one now
      continue;
    }
    std::shared_ptr<CacheEntry> e = entries_[i];  // stays alive while its kernel runs
    if (e->guard_stub ? e->guard_stub->check(bound) : e->guards.check(bound)) {
      // A version whose runs keep raising floating-point flags NumPy acts on runs eagerly
      // directly (trying the compiled code again every kFpRetry calls).
      if (e->fp_streak >= kFpStreak && ++e->fp_skips % kFpRetry != 0) return eager(args, nargsf, kwnames);
      PyObject* r = run(*e, bound);
      if (!r && !PyErr_Occurred()) {
        if (options_.fullgraph && !fp_eager_) return raise_graph_break({kRunsEagerly});
        fp_eager_ = false;
        return eager(args, nargsf, kwnames);
      }
      ++e->hits;
      ++stats_.compiled_calls;
      return drive(r);
    }
  }
  uint64_t sig_key = signature_of(bound, true);
  SignatureInfo& sig = signatures_[sig_key];
  if (sig.eager_only && options_.fullgraph && !sig.fullgraph_lines.empty())
    return raise_graph_break(sig.fullgraph_lines);
  if (sig.eager_only || sig.compiling) return eager(args, nargsf, kwnames);
  // Per-loop hotness: a cold call of a function with loops is traced once (milliseconds); if it
  // runs hot_loop loop iterations or more it is worth compiling by itself (LuaJIT counts loop
  // iterations, not calls, for the same reason). The trace is reused for the compile.
  std::optional<tracer::TraceResult> probe;
  // Hotness ignores int values: an int the trace does not specialize on (an epoch counter that
  // is only printed) must not make every call a cold signature.
  if (++hot_seen_[signature_of(bound, false)] <= options_.hot && !sig.while_hot) {
    if (options_.hot_loop <= 0 || sig.loop_probed || !code_has_loops() ||
        static_cast<int>(entries_.size()) >= options_.recompile_limit)
      return eager(args, nargsf, kwnames);
    sig.loop_probed = true;
    probe = trace(bound);
    if (auto* t = std::get_if<tracer::Trace>(&*probe); t && t->loop_iterations < options_.hot_loop) {
      if (t->while_loops == 0) return eager(args, nargsf, kwnames);
      // A while loop's iterations are known only once it ran: the eager call is timed, and one
      // that took as long as hot_loop Python loop iterations (kEagerIterationSeconds each) makes
      // the signature hot: its next call compiles.
      const auto t0 = std::chrono::steady_clock::now();
      PyObject* r = eager(args, nargsf, kwnames);
      const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (secs >= kEagerIterationSeconds * static_cast<double>(options_.hot_loop)) {
        sig.while_hot = true;
        log("recompiles", fmt::format("{}: hot after its first call: while loops ran {:.0f} us (hot_loop={})", name_,
                                      secs * 1e6, options_.hot_loop));
      }
      return r;
    }
    if (auto* t = std::get_if<tracer::Trace>(&*probe))
      log("recompiles", fmt::format("{}: hot at its first call: {} loop iterations (hot_loop={})", name_,
                                    t->loop_iterations, options_.hot_loop));
  }
  if (static_cast<int>(entries_.size()) >= options_.recompile_limit) {
    sig.eager_only = true;
    if (options_.fullgraph) {
      sig.fullgraph_lines = {fmt::format("{}:{}: recompile_limit ({}) reached: new signatures run eagerly [recompile-limit]",
                                         PyUnicode_AsUTF8(code_->co_filename), code_->co_firstlineno,
                                         options_.recompile_limit)};
      return raise_graph_break(sig.fullgraph_lines);
    }
    if (!warned_limit_) {
      warned_limit_ = true;
      std::string last = stats_.recompile_reasons.empty() ? "" : stats_.recompile_reasons.back();
      std::string msg = fmt::format(
          "tracejit: {} reached recompile_limit={} compiled versions; new signatures now run "
          "eagerly. Last recompile: {}. If sizes vary, tracejit.mark_dynamic(array, dim) or "
          "jit(dynamic=True) compiles them once; otherwise pass fewer distinct dtypes/shapes or "
          "raise jit(recompile_limit=...).",
          name_, options_.recompile_limit, last.empty() ? "?" : last);
      add_reason(stats_.fallback_reasons,
                 fmt::format("{}:{}: recompile_limit ({}) reached [recompile-limit]",
                             PyUnicode_AsUTF8(code_->co_filename), code_->co_firstlineno,
                             options_.recompile_limit));
      if (PyErr_WarnEx(g_warning ? g_warning : PyExc_RuntimeWarning, msg.c_str(), 1) < 0)
        return nullptr;  // warnings turned into errors
    }
    return eager(args, nargsf, kwnames);
  }
  std::shared_ptr<CacheEntry> e = compile(bound, sig_key, sig, probe ? &*probe : nullptr);
  if (!e) {
    if (PyErr_Occurred()) return nullptr;  // fullgraph=True: GraphBreakError
    return eager(args, nargsf, kwnames);
  }
  PyObject* r = run(*e, bound);
  if (!r && !PyErr_Occurred()) {
    if (options_.fullgraph && !fp_eager_) return raise_graph_break({kRunsEagerly});
    fp_eager_ = false;
    return eager(args, nargsf, kwnames);
  }
  ++e->hits;
  ++stats_.compiled_calls;
  return drive(r);
}

PyObject* JitFunction::drive(PyObject* r) {
  while (r == kResumePending) {
    if (t_pending.empty()) {
      PyErr_SetString(PyExc_SystemError, "tracejit: a graph break without its frame state");
      return nullptr;
    }
    PendingResume p = std::move(t_pending.back());
    t_pending.pop_back();
    r = resume_from(*p.entry, p.state);  // releases the state
  }
  return r;
}

// ---------------------------------------------------------------------------------------------
// Graph breaks with resume (tracer::Resume)

std::string JitFunction::continuation_key(int pc, const std::vector<bool>& bound,
                                          const std::vector<tracer::StateHint>& hints) const {
  // The code object too: a function whose __code__ was replaced has other instructions there.
  std::string key = fmt::format("{}:{}:", static_cast<const void*>(PyFunction_GET_CODE(func_)), pc);
  for (bool b : bound) key += b ? '1' : '0';
  for (const tracer::StateHint& h : hints) key += "|" + h.key();  // a break inside a loop
  return key;
}

bool JitFunction::prepare_resume(const tracer::Resume& r, std::string& why) {
  const size_t nlocals = static_cast<size_t>(r.nlocals);
  const size_t operands = r.operands();
  if (r.state.size() < nlocals + operands) {
    why = fmt::format("{}:{}: graph break with a malformed frame state [graph-break]", r.file, r.line);
    return false;
  }
  const size_t pushed = r.kind == tracer::Resume::Kind::Branch ? 0 : r.kind == tracer::Resume::Kind::Method ? 2 : 1;
  const size_t nstack = r.state.size() - nlocals - operands + pushed;
  std::vector<bool> bound(nlocals);
  PyObject* unbound = PyList_New(0);
  if (!unbound) return false;
  for (size_t k = 0; k < nlocals; ++k) {
    bound[k] = r.state[k].has_value();
    if (!bound[k]) {
      PyObject* i = PyLong_FromSize_t(k);
      PyList_Append(unbound, i);
      Py_XDECREF(i);
    }
  }
  auto make = [&](int pc, int offset) {
    std::string key = continuation_key(pc, bound, r.hints);
    if (continuations_.count(key)) return true;
    auto c = std::make_unique<Continuation>();
    c->pc = pc;
    c->hints = r.hints;
    c->nlocals = static_cast<int>(nlocals);
    c->nstate = nlocals + nstack;
    c->bound = bound;
    c->where = fmt::format("{}:{}", r.file, r.line);
    c->code = Py_NewRef(PyFunction_GET_CODE(func_));
    // The eager remainder: built now, so a call that has run its first part can always finish.
    PyObject* mod = PyImport_ImportModule("tracejit._resume");
    PyObject* fn = mod ? PyObject_GetAttrString(mod, "make_remainder") : nullptr;
    // The call protocol's NULLs on the stack: below the break, and the one a Method break
    // pushes (see resume_from).
    PyObject* nulls = PyList_New(0);
    for (size_t j = 0; nulls && j + nlocals + operands < r.state.size(); ++j)
      if (!r.state[nlocals + j]) {
        PyObject* i = PyLong_FromSize_t(j);
        PyList_Append(nulls, i);
        Py_XDECREF(i);
      }
    if (nulls && r.kind == tracer::Resume::Kind::Method) {
      PyObject* i = PyLong_FromSize_t(nstack - (PY_VERSION_HEX >= 0x030D0000 ? 1 : 2));
      PyList_Append(nulls, i);
      Py_XDECREF(i);
    }
    c->remainder = fn && nulls ? PyObject_CallFunction(fn, "OiOnO", func_, offset, unbound,
                                                       static_cast<Py_ssize_t>(nstack), nulls)
                               : nullptr;
    Py_XDECREF(nulls);
    Py_XDECREF(fn);
    Py_XDECREF(mod);
    if (!c->remainder) {
      why = fmt::format("{}:{}: no eager remainder after the graph break: {} [graph-break]", r.file, r.line,
                        error_text());
      return false;
    }
    continuations_.emplace(key, std::move(c));
    return true;
  };
  if (r.kind == tracer::Resume::Kind::With && !r.in_try) {
    bool ok = prepare_with(r, bound, unbound, why);
    Py_DECREF(unbound);
    return ok;
  }
  if (r.in_try) {
    // Inside a try block: the eager remainder from the break instruction itself, the
    // instruction's operands on its stack (a CallKw's names tuple left out: see Resume).
    const size_t kwtop = r.kind == tracer::Resume::Kind::Call && r.kw ? 1 : 0;
    const size_t full = r.state.size() - nlocals - kwtop;
    std::string key = continuation_key(try_entry_pc(r), bound, r.hints);
    bool ok = true;
    if (!continuations_.count(key)) {
      auto c = std::make_unique<Continuation>();
      c->pc = try_entry_pc(r);
      c->nlocals = static_cast<int>(nlocals);
      c->nstate = nlocals + full;
      c->bound = bound;
      c->where = fmt::format("{}:{}", r.file, r.line);
      c->code = Py_NewRef(PyFunction_GET_CODE(func_));
      PyObject* mod = PyImport_ImportModule("tracejit._resume");
      PyObject* fn = mod ? PyObject_GetAttrString(mod, "make_remainder") : nullptr;
      PyObject* nulls = PyList_New(0);
      for (size_t j = 0; nulls && j < full; ++j)
        if (!r.state[nlocals + j]) {
          PyObject* i = PyLong_FromSize_t(j);
          PyList_Append(nulls, i);
          Py_XDECREF(i);
        }
      c->remainder = fn && nulls ? PyObject_CallFunction(fn, "OiOnO", func_, r.entry_offset, unbound,
                                                         static_cast<Py_ssize_t>(full), nulls)
                                 : nullptr;
      Py_XDECREF(nulls);
      Py_XDECREF(fn);
      Py_XDECREF(mod);
      if (!c->remainder) {
        why = fmt::format("{}:{}: no eager remainder after the graph break: {} [graph-break]", r.file, r.line,
                          error_text());
        ok = false;
      } else {
        continuations_.emplace(key, std::move(c));
      }
    }
    Py_DECREF(unbound);
    return ok;
  }
  bool ok = make(r.next_pc, r.next_offset);
  if (ok && r.kind == tracer::Resume::Kind::Branch) ok = make(r.target_pc, r.target_offset);
  Py_DECREF(unbound);
  return ok;
}

namespace {
PyObject* resume_attr(const char* name);
}  // namespace

PyObject* JitFunction::break_op(const tracer::Resume& r) {
  const char* kind = r.kind == tracer::Resume::Kind::Call         ? "call"
                     : r.kind == tracer::Resume::Kind::Subscr     ? "subscr"
                     : r.kind == tracer::Resume::Kind::MethodCall ? "method_call"
                                                                  : nullptr;
  if (!kind || !func_ || r.line < 1) return nullptr;
  const std::pair<int, int> key{static_cast<int>(r.kind), r.line};
  if (auto it = break_ops_.find(key); it != break_ops_.end()) return it->second;
  // Made once per (kind, line); should that fail, the instruction runs directly (its warnings
  // then name the caller's line) and the failure is not retried.
  PyObject* make = resume_attr("make_break_op");
  PyObject* op = make ? PyObject_CallFunction(make, "Ois", func_, r.line, kind) : nullptr;
  Py_XDECREF(make);
  if (!op) PyErr_Clear();
  else if (!PyCallable_Check(op)) Py_CLEAR(op);
  if (op) break_ops_.emplace(key, op);
  return op;
}

const std::string& JitFunction::resume_key(CacheEntry& e, int pc, const std::vector<bool>& bound) const {
  for (const auto& [p, b, key] : e.resume_keys)
    if (p == pc && b == bound) return key;
  e.resume_keys.emplace_back(pc, bound, continuation_key(pc, bound, e.resume->hints));
  return std::get<2>(e.resume_keys.back());
}

PyObject* JitFunction::resume_from(CacheEntry& e, std::vector<PyObject*>& st) {
  const tracer::Resume& r = *e.resume;
  struct Release {
    std::vector<PyObject*>& v;
    ~Release() {
      for (PyObject* o : v) Py_XDECREF(o);
    }
  } release{st};
  if (r.kind == tracer::Resume::Kind::With && !r.in_try) return resume_with(r, st);
  if (r.in_try) {
    // The break instruction and the rest of the function run eagerly, inside the user's try.
    std::vector<bool> bound;
    for (size_t k = 0; k < static_cast<size_t>(r.nlocals) && k < st.size(); ++k) bound.push_back(st[k] != nullptr);
    auto it = continuations_.find(resume_key(e, try_entry_pc(r), bound));
    if (it == continuations_.end()) {
      PyErr_SetString(PyExc_RuntimeError, "tracejit: the function was reset while a call was running past a graph break");
      return nullptr;
    }
    Continuation& c = *it->second;
    const size_t n = c.nstate;
    if (st.size() < n) {
      PyErr_SetString(PyExc_SystemError, "tracejit: frame state does not match its continuation");
      return nullptr;
    }
#if PY_VERSION_HEX >= 0x030D0000
    if (r.kind == tracer::Resume::Kind::Branch && n > 0 && st[n - 1] && !PyBool_Check(st[n - 1])) {
      // 3.13's POP_JUMP_IF_* takes only an exact bool (the TO_BOOL before it ran in the
      // trace, on a value held as a NumPy bool): its truth, which a scalar's cannot raise.
      const int t = PyObject_IsTrue(st[n - 1]);
      if (t < 0) return nullptr;
      Py_SETREF(st[n - 1], Py_NewRef(t ? Py_True : Py_False));
    }
#endif
    ++stats_.continuation_fallbacks;
    ++c.eager_calls;
    std::vector<PyObject*> args(n);
    for (size_t i = 0; i < n; ++i) args[i] = st[i] ? st[i] : Py_None;
    return PyObject_Vectorcall(c.remainder, args.data(), args.size(), nullptr);
  }
  int pc;
  if (r.kind == tracer::Resume::Kind::Call) {
    const size_t base = st.size() - r.operands();
    PyObject* kwnames = r.kw ? st.back() : nullptr;
    PyObject* lower = st[base];
    PyObject* upper = st[base + 1];
    std::vector<PyObject*> args;
    PyObject* callable = lower ? lower : upper;
    if (lower && upper) args.push_back(upper);  // a method and its self
    for (int i = 0; i < r.nargs; ++i) args.push_back(st[base + 2 + static_cast<size_t>(i)]);
    const size_t nkw = kwnames && PyTuple_Check(kwnames) ? static_cast<size_t>(PyTuple_GET_SIZE(kwnames)) : 0;
    PyObject* res = nullptr;
    PyObject* op = callable && args.size() >= nkw ? break_op(r) : nullptr;
    if (!callable || args.size() < nkw) {
      PyErr_SetString(PyExc_SystemError, "tracejit: malformed call at a graph break");
    } else if (op) {  // op(callable, args, kwargs): in a frame at the user's line
      const size_t npos = args.size() - nkw;
      PyObject* a = PyTuple_New(static_cast<Py_ssize_t>(npos));
      PyObject* k = PyDict_New();
      bool ok = a && k;
      for (size_t i = 0; ok && i < npos; ++i) PyTuple_SET_ITEM(a, static_cast<Py_ssize_t>(i), Py_NewRef(args[i]));
      for (size_t i = 0; ok && i < nkw; ++i)
        ok = PyDict_SetItem(k, PyTuple_GET_ITEM(kwnames, static_cast<Py_ssize_t>(i)), args[npos + i]) == 0;
      if (ok) {
        PyObject* op_args[3] = {callable, a, k};
        res = PyObject_Vectorcall(op, op_args, 3, nullptr);
      }
      Py_XDECREF(a);
      Py_XDECREF(k);
    } else {
      res = PyObject_Vectorcall(callable, args.data(), args.size() - nkw, nkw ? kwnames : nullptr);
    }
    for (size_t i = base; i < st.size(); ++i) Py_XDECREF(st[i]);
    st.resize(base);
    if (!res) {
      if (!op) _PyTraceback_Add(r.function.c_str(), r.file.c_str(), r.line);  // the user's statement
      return nullptr;
    }
    st.push_back(res);
    pc = r.next_pc;
  } else if (r.kind == tracer::Resume::Kind::MethodCall) {
    PyObject* v = st.back();
    st.pop_back();
    PyObject* name = PyUnicode_FromString(r.attr.c_str());
    PyObject* op = v && name ? break_op(r) : nullptr;
    PyObject* op_args[2] = {v, name};
    PyObject* res = op ? PyObject_Vectorcall(op, op_args, 2, nullptr)
                       : v && name ? PyObject_VectorcallMethod(name, &v, 1, nullptr) : nullptr;
    Py_XDECREF(name);
    Py_XDECREF(v);
    if (!res) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "tracejit: malformed method call at a graph break");
      if (!op) _PyTraceback_Add(r.function.c_str(), r.file.c_str(), r.line);
      return nullptr;
    }
    st.push_back(res);
    pc = r.next_pc;
  } else if (r.kind == tracer::Resume::Kind::Subscr) {
    PyObject* key = st.back();
    st.pop_back();
    PyObject* c = st.back();
    st.pop_back();
    PyObject* op = c && key ? break_op(r) : nullptr;
    PyObject* op_args[2] = {c, key};
    PyObject* res = op ? PyObject_Vectorcall(op, op_args, 2, nullptr) : c && key ? PyObject_GetItem(c, key) : nullptr;
    Py_XDECREF(c);
    Py_XDECREF(key);
    if (!res) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "tracejit: malformed subscript at a graph break");
      if (!op) _PyTraceback_Add(r.function.c_str(), r.file.c_str(), r.line);
      return nullptr;
    }
    st.push_back(res);
    pc = r.next_pc;
  } else if (r.kind == tracer::Resume::Kind::Method) {
    PyObject* v = st.back();
    st.pop_back();
    PyObject* a = v ? PyObject_GetAttrString(v, r.attr.c_str()) : nullptr;
    Py_XDECREF(v);
    if (!a) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "tracejit: malformed attribute at a graph break");
      _PyTraceback_Add(r.function.c_str(), r.file.c_str(), r.line);
      return nullptr;
    }
#if PY_VERSION_HEX >= 0x030D0000
    st.push_back(a);
    st.push_back(nullptr);
#else
    st.push_back(nullptr);
    st.push_back(a);
#endif
    pc = r.next_pc;
  } else {
    PyObject* v = st.back();
    st.pop_back();
    const int t = v ? PyObject_IsTrue(v) : -1;
    Py_XDECREF(v);
    if (t < 0) {
      if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "tracejit: malformed branch at a graph break");
      _PyTraceback_Add(r.function.c_str(), r.file.c_str(), r.line);
      return nullptr;
    }
    if (r.kind == tracer::Resume::Kind::Truth) {
      st.push_back(Py_NewRef(t == 1 ? Py_True : Py_False));
      pc = r.next_pc;
    } else {
      pc = (t == 1) == r.jump_if ? r.target_pc : r.next_pc;
    }
  }
  std::vector<bool> bound;
  for (size_t k = 0; k < static_cast<size_t>(r.nlocals) && k < st.size(); ++k) bound.push_back(st[k] != nullptr);
  auto it = continuations_.find(resume_key(e, pc, bound));
  if (it == continuations_.end()) {  // prepare_resume made it; only reset() from inside the call drops it
    PyErr_SetString(PyExc_RuntimeError, "tracejit: the function was reset while a call was running past a graph break");
    return nullptr;
  }
  return continue_at(*it->second, st);
}

namespace {
// tracejit._resume.<name> (a new reference), or nullptr with an exception set.
PyObject* resume_attr(const char* name) {
  PyObject* mod = PyImport_ImportModule("tracejit._resume");
  PyObject* a = mod ? PyObject_GetAttrString(mod, name) : nullptr;
  Py_XDECREF(mod);
  return a;
}

// Index of the first decoded instruction at byte `offset` of `code`, or -1.
int pc_at_offset(PyObject* code, int offset) {
  auto instrs = frontend::decode(reinterpret_cast<PyCodeObject*>(code));
  if (!instrs) return -1;
  for (size_t i = 0; i < instrs->size(); ++i)
    if ((*instrs)[i].offset == offset) return static_cast<int>(i);
  return -1;
}
}  // namespace

// A `with` statement at a graph break: its eager remainder (tracejit._resume.make_with_remainder)
// runs from BEFORE_WITH, the context manager the only value on the stack, and stops where the
// statement is left (one of with_exits), returning the locals there.
bool JitFunction::prepare_with(const tracer::Resume& r, const std::vector<bool>& bound, PyObject* unbound,
                               std::string& why) {
  const size_t nlocals = static_cast<size_t>(r.nlocals);
  const std::string key = continuation_key(try_entry_pc(r), bound, r.hints);
  if (continuations_.count(key)) return true;
  if (r.state.size() != nlocals + 1 || !r.state.back()) {
    why = fmt::format("{}:{}: with statement with a malformed frame state [graph-break]", r.file, r.line);
    return false;
  }
  auto c = std::make_unique<Continuation>();
  c->pc = try_entry_pc(r);
  c->nlocals = static_cast<int>(nlocals);
  c->nstate = nlocals + 1;
  c->bound = bound;
  c->where = fmt::format("{}:{}", r.file, r.line);
  c->code = Py_NewRef(PyFunction_GET_CODE(func_));
  PyObject* fn = resume_attr("make_with_remainder");
  PyObject* made = fn ? PyObject_CallFunction(fn, "OiOn()", func_, r.entry_offset, unbound, Py_ssize_t{1}) : nullptr;
  Py_XDECREF(fn);
  bool ok = made && PyTuple_Check(made) && PyTuple_GET_SIZE(made) == 2 && PyList_Check(PyTuple_GET_ITEM(made, 1));
  if (ok) {
    c->remainder = Py_NewRef(PyTuple_GET_ITEM(made, 0));
    PyObject* exits = PyTuple_GET_ITEM(made, 1);
    for (Py_ssize_t k = 0; ok && k < PyList_GET_SIZE(exits); ++k) {
      const int offset = static_cast<int>(PyLong_AsLong(PyList_GET_ITEM(exits, k)));
      const int pc = pc_at_offset(c->code, offset);
      if (pc < 0) {
        if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "an exit of the with statement is not an instruction");
        ok = false;
      }
      c->with_exits.push_back(pc);
      c->with_exit_offsets.push_back(offset);
    }
  }
  Py_XDECREF(made);
  if (!ok) {
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_ValueError, "make_with_remainder returned no (function, exits)");
    why = fmt::format("{}:{}: no eager run of the with statement: {} [graph-break]", r.file, r.line, error_text());
    return false;
  }
  continuations_.emplace(key, std::move(c));
  return true;
}

Continuation* JitFunction::plain_continuation(int pc, int offset, const std::vector<bool>& bound,
                                              const std::vector<tracer::StateHint>& hints, const std::string& where,
                                              std::string& why) {
  const std::string key = continuation_key(pc, bound, hints);
  auto it = continuations_.find(key);
  if (it != continuations_.end()) return it->second.get();
  auto c = std::make_unique<Continuation>();
  c->pc = pc;
  c->hints = hints;
  c->nlocals = static_cast<int>(bound.size());
  c->nstate = bound.size();
  c->bound = bound;
  c->where = where;
  c->code = Py_NewRef(PyFunction_GET_CODE(func_));
  PyObject* unbound = PyList_New(0);
  for (size_t k = 0; unbound && k < bound.size(); ++k)
    if (!bound[k]) {
      PyObject* i = PyLong_FromSize_t(k);
      if (!i || PyList_Append(unbound, i) < 0) Py_CLEAR(unbound);
      Py_XDECREF(i);
    }
  PyObject* fn = unbound ? resume_attr("make_remainder") : nullptr;
  c->remainder = fn ? PyObject_CallFunction(fn, "OiOn()", func_, offset, unbound, Py_ssize_t{0}) : nullptr;
  Py_XDECREF(fn);
  Py_XDECREF(unbound);
  if (!c->remainder) {
    why = error_text();
    return nullptr;
  }
  Continuation* out = c.get();
  continuations_.emplace(key, std::move(c));
  return out;
}

PyObject* JitFunction::resume_with(const tracer::Resume& r, std::vector<PyObject*>& st) {
  struct Release {
    std::vector<PyObject*>& v;
    ~Release() {
      for (PyObject* o : v) Py_XDECREF(o);
      v.clear();
    }
  } release{st};
  std::vector<bool> bound;
  for (size_t k = 0; k < static_cast<size_t>(r.nlocals) && k < st.size(); ++k) bound.push_back(st[k] != nullptr);
  auto it = continuations_.find(continuation_key(try_entry_pc(r), bound, r.hints));
  if (it == continuations_.end()) {
    PyErr_SetString(PyExc_RuntimeError, "tracejit: the function was reset while a call was running past a graph break");
    return nullptr;
  }
  Continuation& c = *it->second;
  if (st.size() != c.nstate) {
    PyErr_SetString(PyExc_SystemError, "tracejit: frame state does not match its continuation");
    return nullptr;
  }
  static PyObject* done = resume_attr("WITH_DONE");  // the module lives as long as the interpreter
  if (!done) return nullptr;
  ++stats_.with_blocks;
  ++c.eager_calls;
  std::vector<PyObject*> args(st.size());
  for (size_t i = 0; i < st.size(); ++i) args[i] = st[i] ? st[i] : Py_None;
  PyObject* res = PyObject_Vectorcall(c.remainder, args.data(), args.size(), nullptr);
  if (!res || !PyTuple_CheckExact(res) || PyTuple_GET_SIZE(res) != 3 || PyTuple_GET_ITEM(res, 0) != done)
    return res;  // raised, or returned from inside the block
  const long k = PyLong_AsLong(PyTuple_GET_ITEM(res, 1));
  PyObject* locals = PyTuple_GET_ITEM(res, 2);
  PyObject* names = reinterpret_cast<PyCodeObject*>(c.code)->co_localsplusnames;
  if (k < 0 || static_cast<size_t>(k) >= c.with_exits.size() || !PyDict_Check(locals) ||
      PyTuple_GET_SIZE(names) < c.nlocals) {
    Py_DECREF(res);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_SystemError, "tracejit: malformed state after a with statement");
    return nullptr;
  }
  std::vector<PyObject*> next(static_cast<size_t>(c.nlocals), nullptr);
  std::vector<bool> nbound(next.size());
  for (size_t i = 0; i < next.size(); ++i) {
    PyObject* v = PyDict_GetItemWithError(locals, PyTuple_GET_ITEM(names, static_cast<Py_ssize_t>(i)));
    next[i] = Py_XNewRef(v);
    nbound[i] = v != nullptr;
  }
  const int pc = c.with_exits[static_cast<size_t>(k)];
  const int offset = c.with_exit_offsets[static_cast<size_t>(k)];
  Py_DECREF(res);
  // Nested functions of this code over the frame's cells (as tracer::Tracer::frame_state).
  std::vector<tracer::StateHint> hints;
  auto* code = reinterpret_cast<PyCodeObject*>(c.code);
  for (size_t i = 0; i < next.size(); ++i) {
    PyObject* f = next[i];
    if (!f || !PyFunction_Check(f)) continue;
    bool ours = false;
    for (Py_ssize_t j = 0; j < PyTuple_GET_SIZE(code->co_consts); ++j)
      ours |= PyTuple_GET_ITEM(code->co_consts, j) == PyFunction_GET_CODE(f);
    if (!ours) continue;
    tracer::StateHint h;
    h.kind = tracer::StateHint::Kind::Closure;
    h.slot = static_cast<int>(i);
    PyObject* cl = PyFunction_GET_CLOSURE(f);
    for (Py_ssize_t j = 0; ours && cl && j < PyTuple_GET_SIZE(cl); ++j) {
      int found = -1;
      for (size_t s = 0; s < next.size() && found < 0; ++s)
        if (next[s] == PyTuple_GET_ITEM(cl, j)) found = static_cast<int>(s);
      ours = found >= 0;
      h.cells.push_back(found);
    }
    if (ours) hints.push_back(std::move(h));
  }
  std::string why;
  Continuation* after = PyErr_Occurred() ? nullptr : plain_continuation(pc, offset, nbound, hints, c.where, why);
  if (!after) {
    for (PyObject* o : next) Py_XDECREF(o);
    if (!PyErr_Occurred()) PyErr_SetString(PyExc_RuntimeError, ("tracejit: no continuation after a with statement: " + why).c_str());
    return nullptr;
  }
  PyObject* out = continue_at(*after, next);
  for (PyObject* o : next) Py_XDECREF(o);
  return out;
}

bool JitFunction::settle_continuation(Continuation& c, size_t i) {
  CacheEntry& e = *c.entries[i];
  if (e.settled) return true;
  int state = e.state.load(std::memory_order_acquire);
  if (state == CacheEntry::kCompiling) return false;
  SignatureInfo& sig = continuation_signatures_[e.signature];
  sig.compiling = false;
  if (state == CacheEntry::kFailed) {
    ++stats_.compile_failures;
    if (!e.symbols.empty()) {
      c.dynamic_failed = true;  // the backend could not compile it dynamic: retraced static
      continuation_signatures_.erase(e.signature);
    } else {
      sig.eager_only = true;
    }
    add_reason(stats_.fallback_reasons, fmt::format("{}: continuation: compile failed: {} [compile-error]", c.where, e.error));
    c.entries.erase(c.entries.begin() + static_cast<std::ptrdiff_t>(i));
    return false;
  }
  e.settled = true;
  ++stats_.compiles;
  if (e.kernel && e.kernel->from_cache()) ++stats_.cache_hits;
  stats_.compile_ms += e.compile_ms;
  log("ir", fmt::format("{}: continuation at {} compiled in {:.1f} ms\n{}", name_, c.where, e.compile_ms, e.ir_text));
  return true;
}

// A trace of continuation `c` for this frame state: array dimensions seen to change between its
// versions (or all, with jit(dynamic=True)) as runtime sizes, retraced with the ones the code
// needs static, or all static when that fails (as JitFunction::trace does for the function).
tracer::TraceResult JitFunction::trace_continuation(Continuation& c, PyObject* const* state, size_t n) {
  tracer::TraceOptions topts;
  topts.start_pc = c.pc;
  topts.state_locals = c.nlocals;
  topts.hints = c.hints;
  auto is_static = [&](int i, int d) {
    return std::find(c.static_dims.begin(), c.static_dims.end(), std::pair<int, int>(i, d)) != c.static_dims.end();
  };
  auto options = [&]() {
    topts.dynamic_dims.clear();
    if (options_.dynamic == 0 || c.dynamic_failed) return;
    for (size_t i = 0; i < n; ++i) {
      if (!state[i] || !PyArray_CheckExact(state[i])) continue;
      auto* a = reinterpret_cast<PyArrayObject*>(state[i]);
      for (int d = 0; d < PyArray_NDIM(a); ++d) {
        const std::pair<int, int> p(static_cast<int>(i), d);
        bool dynamic = options_.dynamic == 1 ||
                       std::find(c.dynamic_dims.begin(), c.dynamic_dims.end(), p) != c.dynamic_dims.end();
        if (dynamic && !is_static(p.first, d)) topts.dynamic_dims.push_back(p);
      }
    }
  };
  if (kAutoDynamic && options_.dynamic == -1 && !c.dynamic_failed && !c.entries.empty()) {
    for (const tracer::Guard& g : c.entries.back()->guards.guards()) {  // sizes that changed
      if (g.kind != tracer::Guard::Kind::Array || g.arg < 0 || static_cast<size_t>(g.arg) >= n) continue;
      PyObject* o = state[g.arg];
      if (!o || !PyArray_CheckExact(o)) continue;
      auto* a = reinterpret_cast<PyArrayObject*>(o);
      if (PyArray_TYPE(a) != g.typenum || PyArray_NDIM(a) != static_cast<int>(g.dims.size())) continue;
      for (size_t d = 0; d < g.dims.size(); ++d) {
        const std::pair<int, int> p(g.arg, static_cast<int>(d));
        if (g.dims[d] >= 0 && PyArray_DIMS(a)[d] != g.dims[d] &&
            std::find(c.dynamic_dims.begin(), c.dynamic_dims.end(), p) == c.dynamic_dims.end())
          c.dynamic_dims.push_back(p);
      }
    }
  }
  options();
  tracer::TraceResult tr = tracer::trace_function(func_, state, static_cast<Py_ssize_t>(n), topts);
  for (int round = 0; round < 4; ++round) {  // a runtime size met a static one: specialize it
    auto* a = std::get_if<tracer::Abort>(&tr);
    if (!a || a->code != tracer::AbortCode::DynamicShape || a->specialize.empty()) break;
    bool added = false;
    for (const auto& p : a->specialize)
      if (!is_static(p.first, p.second)) {
        c.static_dims.push_back(p);
        added = true;
      }
    if (!added) break;
    options();
    tr = tracer::trace_function(func_, state, static_cast<Py_ssize_t>(n), topts);
  }
  if (auto* a = std::get_if<tracer::Abort>(&tr); a && a->code == tracer::AbortCode::DynamicShape) {
    c.dynamic_failed = true;
    options();
    tr = tracer::trace_function(func_, state, static_cast<Py_ssize_t>(n), topts);
  }
  return tr;
}

// The rest of the function from continuation `c` with frame state `st` (owned references):
// a compiled version whose guards hold, else (after tracing and compiling one when hot) the
// eager remainder. Nothing of this part has run when a version turns out unusable.
PyObject* JitFunction::continue_at(Continuation& c, std::vector<PyObject*>& st) {
  if (st.size() != c.nstate) {
    PyErr_SetString(PyExc_SystemError, "tracejit: frame state does not match its continuation");
    return nullptr;
  }
  PyObject* const* state = st.data();
  // Nested functions bound as the traced code's own (StateHint::Kind::Closure): their closure
  // cells must be the frame's cell slots, else the rest runs eagerly.
  bool usable = true;
  for (const tracer::StateHint& h : c.hints) {
    if (h.kind != tracer::StateHint::Kind::Closure) continue;
    PyObject* f = static_cast<size_t>(h.slot) < st.size() ? st[static_cast<size_t>(h.slot)] : nullptr;
    PyObject* cl = f && PyFunction_Check(f) ? PyFunction_GET_CLOSURE(f) : nullptr;
    const size_t n = cl ? static_cast<size_t>(PyTuple_GET_SIZE(cl)) : 0;
    bool same = f && PyFunction_Check(f) && n == h.cells.size();
    for (size_t i = 0; same && i < n; ++i)
      same = h.cells[i] >= 0 && static_cast<size_t>(h.cells[i]) < st.size() &&
             PyTuple_GET_ITEM(cl, static_cast<Py_ssize_t>(i)) == st[static_cast<size_t>(h.cells[i])];
    usable = usable && same;
  }
  auto run_version = [&](const std::shared_ptr<CacheEntry>& e, bool& ran) -> PyObject* {
    PyObject* r = run(*e, state);
    fp_eager_ = false;  // flags NumPy acts on: the eager remainder runs it again from `state`
    ran = r || PyErr_Occurred();  // else nothing ran (an overlap of in-place inputs ...)
    if (ran) {  // counted also when it raised (at an effect or a later break), as it ran compiled
      ++e->hits;
      ++stats_.continuation_calls;
    }
    return r;
  };
  for (size_t i = 0; usable && i < c.entries.size(); ++i) {
    if (!c.entries[i]->settled && !settle_continuation(c, i)) {
      if (i < c.entries.size() && !c.entries[i]->settled) continue;  // still compiling
      --i;
      continue;
    }
    std::shared_ptr<CacheEntry> e = c.entries[i];
    if (e->guard_stub ? e->guard_stub->check(state) : e->guards.check(state)) {
      bool ran = false;
      PyObject* r = run_version(e, ran);
      if (ran) return r;
      usable = false;  // could not run (an overlap of in-place inputs ...): eagerly
      break;
    }
  }
  if (usable) {
    uint64_t key = std::hash<std::string>{}(continuation_key(c.pc, c.bound, c.hints));
    for (size_t k = 0; k < st.size(); ++k) {
      PyObject* o = st[k];
      key = mix(key, o ? reinterpret_cast<uintptr_t>(Py_TYPE(o)) : 0);
      bool hinted = false;  // a loop variable: a runtime value, not part of the signature
      for (const tracer::StateHint& h : c.hints) hinted |= h.slot == static_cast<int>(k);
      if (hinted) continue;
      if (o && PyArray_Check(o)) {
        auto* a = reinterpret_cast<PyArrayObject*>(o);
        key = mix(key, static_cast<uint64_t>(PyArray_TYPE(a)) * 131 + static_cast<uint64_t>(PyArray_NDIM(a)));
        for (int d = 0; d < PyArray_NDIM(a); ++d) key = mix(key, static_cast<uint64_t>(PyArray_DIMS(a)[d]));
        key = mix(key, PyArray_IS_C_CONTIGUOUS(a) ? 1 : 0);
      } else if (o && (PyLong_CheckExact(o) || PyUnicode_CheckExact(o) || PyBool_Check(o))) {
        Py_hash_t h = PyObject_Hash(o);
        if (h == -1) PyErr_Clear();
        key = mix(key, static_cast<uint64_t>(h));
      }
    }
    SignatureInfo& sig = continuation_signatures_[key];
    if (!sig.eager_only && !sig.compiling && static_cast<int>(c.entries.size()) < options_.recompile_limit &&
        ++sig.seen > options_.hot) {
      auto t0 = std::chrono::steady_clock::now();
      tracer::TraceResult tr = trace_continuation(c, state, st.size());
      const double trace_ms = ms_since(t0);
      stats_.trace_ms += trace_ms;
      std::string why;
      if (auto* a = std::get_if<tracer::Abort>(&tr)) {
        why = fmt::format("{} (continuation after {})", a->describe(), c.where);
      } else {
        tracer::Trace& t = std::get<tracer::Trace>(tr);
        if (!count_breaks(t, nullptr)) return nullptr;  // fullgraph=True never gets here
        if (t.resume) prepare_resume(*t.resume, why);
        if (why.empty()) {
          std::shared_ptr<CacheEntry> e = make_entry(t, key, trace_ms);
          e->resume_at = c.where;
          if (!c.entries.empty()) {  // why the last version did not match, in the user's words
            ++stats_.recompiles;
            std::vector<std::string> miss = c.entries.back()->guards.explain(state);
            std::string line = fmt::format("{} (continuation after {}): {}", name_, c.where,
                                           miss.empty() ? "new signature" : miss.front());
            log("recompiles", fmt::format("recompile {}", line));
            add_reason(stats_.recompile_reasons, std::move(line));
          }
          c.entries.push_back(e);
          log("graph_breaks", fmt::format("{}: continuation after {} traced ({} versions)", name_, c.where, c.entries.size()));
          if (options_.sync) {
            build_kernel(*e, std::move(t.graph));
            if (settle_continuation(c, c.entries.size() - 1)) {
              bool ran = false;
              PyObject* r = run_version(e, ran);
              if (ran) return r;
            }
          } else {
            sig.compiling = true;
            CompileQueue::get().push([e, g = std::move(t.graph)]() mutable {
              build_kernel(*e, std::move(g));
              PyGILState_STATE gil = PyGILState_Ensure();
              e.reset();
              PyGILState_Release(gil);
            });
          }
        }
      }
      if (!why.empty()) {
        ++stats_.trace_aborts;
        sig.eager_only = true;
        log("aborts", fmt::format("{}: continuation aborted: {}", name_, why));
        add_reason(stats_.fallback_reasons, std::move(why));
      }
    }
  }
  // The rest of the function, eagerly: its code entered at the continuation's instruction.
  ++stats_.continuation_fallbacks;
  ++c.eager_calls;
  std::vector<PyObject*> args(st.size());
  for (size_t i = 0; i < st.size(); ++i) args[i] = st[i] ? st[i] : Py_None;
  return PyObject_Vectorcall(c.remainder, args.data(), args.size(), nullptr);
}

PyObject* JitFunction::raise_graph_break(const std::vector<std::string>& lines) {
  std::string msg = fmt::format("tracejit: {} does not compile to one graph (fullgraph=True):", name_);
  for (const std::string& l : lines) msg += "\n  " + l;
  if (lines.empty()) msg += "\n  (no reason recorded)";
  PyErr_SetString(g_graph_break ? g_graph_break : PyExc_RuntimeError, msg.c_str());
  return nullptr;
}

void wait_for_compiles() {
  Py_BEGIN_ALLOW_THREADS
  CompileQueue::get().drain();
  Py_END_ALLOW_THREADS
}

}  // namespace tracejit::jit
