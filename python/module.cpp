// The tracejit._tracejit extension: the JitFunction type (vectorcall, binds as a method) and
// module-level debugging entry points. No binding library on the call path.
#define TRACEJIT_NUMPY_IMPORT
#include "tracer/npy.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "frontend/decoder.h"
#include "ir/pipeline.h"
#include "ir/printer.h"
#include "backends/cpu/blas.h"
#include "backends/cpu/sort_rt.h"
#include "jit/buffer_pool.h"
#include "jit/runtime.h"
#include "python/frontend_bindings.h"

namespace {

using tracejit::jit::JitFunction;

struct JitFunctionObject {
  PyObject_HEAD
  vectorcallfunc vectorcall;
  PyObject* dict;
  PyObject* weakrefs;
  JitFunction* impl;
};

PyObject* jf_vectorcall(PyObject* self, PyObject* const* args, size_t nargsf, PyObject* kwnames) {
  return reinterpret_cast<JitFunctionObject*>(self)->impl->call(args, nargsf, kwnames);
}

int parse_options(PyObject* kwargs, tracejit::jit::Options& o) {
  if (!kwargs) return 0;
  PyObject* key;
  PyObject* value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(kwargs, &pos, &key, &value)) {
    const char* k = PyUnicode_AsUTF8(key);
    if (!k) return -1;
    long v = value == Py_None ? -1 : PyBool_Check(value) ? (value == Py_True) : PyLong_AsLong(value);
    if (v == -1 && PyErr_Occurred()) return -1;
    if (std::strcmp(k, "hot") == 0) {
      if (v < 0) {
        PyErr_SetString(PyExc_ValueError, "hot must be >= 0");
        return -1;
      }
      o.hot = static_cast<int>(v);
    } else if (std::strcmp(k, "hot_loop") == 0) {
      if (v < 0) {
        PyErr_SetString(PyExc_ValueError, "hot_loop must be >= 0");
        return -1;
      }
      o.hot_loop = static_cast<int64_t>(v);
    } else if (std::strcmp(k, "sync") == 0) {
      o.sync = v != 0;
    } else if (std::strcmp(k, "dynamic") == 0) {
      o.dynamic = static_cast<int>(v);
    } else if (std::strcmp(k, "fullgraph") == 0) {
      o.fullgraph = v > 0;
    } else if (std::strcmp(k, "recompile_limit") == 0) {
      if (v < 0) {
        PyErr_SetString(PyExc_ValueError, "recompile_limit must be >= 0");
        return -1;
      }
      o.recompile_limit = static_cast<int>(v);
    } else {
      PyErr_Format(PyExc_TypeError, "JitFunction() got an unexpected option '%s'", k);
      return -1;
    }
  }
  return 0;
}

PyObject* jf_new(PyTypeObject* type, PyObject* args, PyObject* kwargs) {
  PyObject* func;
  if (!PyArg_ParseTuple(args, "O:JitFunction", &func)) return nullptr;
  if (!PyCallable_Check(func)) {
    PyErr_Format(PyExc_TypeError, "tracejit.jit expects a callable, got %s",
                 Py_TYPE(func)->tp_name);
    return nullptr;
  }
  tracejit::jit::Options options;
  if (parse_options(kwargs, options) < 0) return nullptr;
  auto* self = reinterpret_cast<JitFunctionObject*>(type->tp_alloc(type, 0));
  if (!self) return nullptr;
  self->vectorcall = jf_vectorcall;
  self->dict = nullptr;
  self->weakrefs = nullptr;
  self->impl = new JitFunction(func, options);
  return reinterpret_cast<PyObject*>(self);
}

int jf_traverse(PyObject* self, visitproc visit, void* arg) {
  auto* o = reinterpret_cast<JitFunctionObject*>(self);
  Py_VISIT(o->dict);
  if (o->impl) Py_VISIT(o->impl->callable());
  return 0;
}

int jf_clear(PyObject* self) {
  auto* o = reinterpret_cast<JitFunctionObject*>(self);
  Py_CLEAR(o->dict);
  return 0;
}

void jf_dealloc(PyObject* self) {
  auto* o = reinterpret_cast<JitFunctionObject*>(self);
  PyObject_GC_UnTrack(self);
  if (o->weakrefs) PyObject_ClearWeakRefs(self);
  jf_clear(self);
  delete o->impl;
  o->impl = nullptr;
  Py_TYPE(self)->tp_free(self);
}

// A jitted function stored on a class binds like a plain function.
PyObject* jf_descr_get(PyObject* self, PyObject* obj, PyObject* type) {
  if (obj == nullptr || obj == Py_None) {
    Py_INCREF(self);
    return self;
  }
  return PyMethod_New(self, obj);
}

PyObject* jf_repr(PyObject* self) {
  auto* o = reinterpret_cast<JitFunctionObject*>(self);
  return PyUnicode_FromFormat("<tracejit.jit %R>", o->impl->callable());
}

PyObject* str_list(const std::vector<std::string>& v) {
  PyObject* l = PyList_New(static_cast<Py_ssize_t>(v.size()));
  if (!l) return nullptr;
  for (size_t i = 0; i < v.size(); ++i)
    PyList_SET_ITEM(l, static_cast<Py_ssize_t>(i), PyUnicode_FromString(v[i].c_str()));
  return l;
}

PyObject* jf_stats(PyObject* self, PyObject*) {
  const auto& s = reinterpret_cast<JitFunctionObject*>(self)->impl->stats();
  const auto& impl = *reinterpret_cast<JitFunctionObject*>(self)->impl;
  return Py_BuildValue(
      "{s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:L,s:n,s:d,s:d,s:n,s:N,s:N,s:N}", "calls", (long long)s.calls,
      "compiled_calls", (long long)s.compiled_calls, "fallback_calls", (long long)s.fallback_calls,
      "compiles", (long long)s.compiles, "recompiles", (long long)s.recompiles, "trace_aborts",
      (long long)s.trace_aborts, "compile_failures", (long long)s.compile_failures, "cache_hits",
      (long long)s.cache_hits, "graph_breaks", (long long)s.graph_breaks, "continuation_calls",
      (long long)s.continuation_calls, "continuation_fallbacks", (long long)s.continuation_fallbacks,
      "fp_reruns", (long long)s.fp_reruns, "with_blocks", (long long)s.with_blocks, "continuations", (Py_ssize_t)impl.continuations().size(), "trace_ms",
      s.trace_ms, "compile_ms", s.compile_ms, "cache_entries", (Py_ssize_t)impl.entries().size(),
      "fallback_reasons", str_list(s.fallback_reasons), "recompile_reasons",
      str_list(s.recompile_reasons), "graph_break_reasons", str_list(s.graph_break_reasons));
}

PyObject* jf_cache_info(PyObject* self, PyObject*) {
  const auto& impl = *reinterpret_cast<JitFunctionObject*>(self)->impl;
  PyObject* l = PyList_New(0);
  if (!l) return nullptr;
  // Top-level versions, then the versions of each continuation (after a graph break), with
  // "resume_at": the file:line of the break they continue after (None for top-level ones) and
  // "graph_break": the break a version ends at (None when it runs to the return).
  std::vector<const tracejit::jit::CacheEntry*> all;
  for (const auto& e : impl.entries()) all.push_back(e.get());
  for (const auto& [key, c] : impl.continuations())
    for (const auto& e : c->entries) all.push_back(e.get());
  for (const tracejit::jit::CacheEntry* e : all) {
    if (!e->settled) continue;  // still compiling
    PyObject* resume_at = e->resume_at.empty() ? Py_NewRef(Py_None) : PyUnicode_FromString(e->resume_at.c_str());
    PyObject* brk = e->resume ? PyUnicode_FromString(e->resume->describe().c_str()) : Py_NewRef(Py_None);
    PyObject* d = Py_BuildValue("{s:N,s:L,s:d,s:d,s:s,s:{s:i,s:i,s:N},s:N,s:N}", "guards", str_list(e->guards.describe()),
                                "hits", (long long)e->hits, "trace_ms", e->trace_ms, "compile_ms",
                                e->compile_ms, "ir", e->ir_text.c_str(), "loops", "regions", e->loops,
                                "native", e->native_loops, "not_native", str_list(e->native_rejections),
                                "resume_at", resume_at, "graph_break", brk);
    if (!d || PyList_Append(l, d) < 0) {
      Py_XDECREF(d);
      Py_DECREF(l);
      return nullptr;
    }
    Py_DECREF(d);
  }
  return l;
}

PyObject* jf_reset(PyObject* self, PyObject*) {
  reinterpret_cast<JitFunctionObject*>(self)->impl->reset();
  Py_RETURN_NONE;
}

PyMethodDef jf_methods[] = {
    {"stats", jf_stats, METH_NOARGS,
     "Counters of this function: calls, compiled_calls, fallback_calls, compiles, recompiles, "
     "trace_aborts, graph_breaks, fallback_reasons and graph_break_reasons (each naming "
     "file:line), ..."},
    {"cache_info", jf_cache_info, METH_NOARGS,
     "One dict per compiled version: its guards, hits, trace/compile time and IR."},
    {"reset", jf_reset, METH_NOARGS, "Drop every compiled version and counter."},
    {nullptr, nullptr, 0, nullptr},
};

PyGetSetDef jf_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, nullptr, nullptr},
    {nullptr, nullptr, nullptr, nullptr, nullptr},
};

PyTypeObject JitFunctionType = {
    PyVarObject_HEAD_INIT(nullptr, 0)
};

// Debugging: the optimized IR a call with these arguments would compile (or the abort reason).
PyObject* py_trace_ir(PyObject*, PyObject* const* args, Py_ssize_t nargs) {
  if (nargs < 1 || !PyFunction_Check(args[0])) {
    PyErr_SetString(PyExc_TypeError, "_trace_ir(func, *args)");
    return nullptr;
  }
  auto* code = reinterpret_cast<PyCodeObject*>(PyFunction_GET_CODE(args[0]));
  if (nargs - 1 != code->co_argcount) {
    PyErr_SetString(PyExc_TypeError, "_trace_ir needs exactly the positional arguments");
    return nullptr;
  }
  auto r = tracejit::tracer::trace_function(args[0], args + 1, nargs - 1);
  if (auto* a = std::get_if<tracejit::tracer::Abort>(&r))
    return Py_BuildValue("(Os)", Py_False, a->describe().c_str());
  auto& t = std::get<tracejit::tracer::Trace>(r);
  tracejit::Status st = tracejit::ir::run_pipeline(t.graph);
  if (!st.ok()) return Py_BuildValue("(Os)", Py_False, st.message().c_str());
  std::string text = tracejit::ir::print(t.graph);
  for (const auto& fx : t.effects)  // deferred side effects: the graph breaks of this trace
    if (fx.graph_break) text += "# graph break: " + fx.describe() + "\n";
  if (t.resume) text += "# graph break: " + t.resume->describe() + "\n";  // the trace ends there
  for (const std::string& note : t.loop_notes) text += "# " + note + "\n";  // unrolled loops
  return Py_BuildValue("(Os)", Py_True, text.c_str());
}

PyObject* py_set_disabled(PyObject*, PyObject* flag) {
  int v = PyObject_IsTrue(flag);
  if (v < 0) return nullptr;
  tracejit::jit::set_disabled(v != 0);
  Py_RETURN_NONE;
}

PyObject* py_wait_for_compiles(PyObject*, PyObject*) {
  tracejit::jit::wait_for_compiles();
  Py_RETURN_NONE;
}

PyObject* py_blas_library(PyObject*, PyObject*) {
  return PyUnicode_FromString(tracejit::backends::blas_library());
}

PyObject* py_memory_info(PyObject*, PyObject*) {
  tracejit::jit::PoolInfo i = tracejit::jit::pool_info();
  return Py_BuildValue("{s:L,s:L,s:L,s:L,s:L,s:L}", "pool_hits", static_cast<long long>(i.hits),
                       "pool_misses", static_cast<long long>(i.misses), "cached_bytes",
                       static_cast<long long>(i.cached_bytes), "cached_blocks",
                       static_cast<long long>(i.cached_blocks), "live_bytes",
                       static_cast<long long>(i.live_bytes), "limit_bytes",
                       static_cast<long long>(i.limit_bytes));
}

PyObject* py_release_memory(PyObject*, PyObject*) {
  tracejit::jit::pool_release();
  Py_RETURN_NONE;
}

PyMethodDef module_methods[] = {
    {"memory_info", py_memory_info, METH_NOARGS,
     "The result-buffer pool: blocks reused (pool_hits) and allocated (pool_misses), bytes kept "
     "free for reuse (cached_bytes, at most limit_bytes = TRACEJIT_POOL_MB) and held by live arrays."},
    {"release_memory", py_release_memory, METH_NOARGS,
     "Give the result-buffer pool's free blocks back to the system (live arrays keep theirs)."},
    {"blas_library", py_blas_library, METH_NOARGS,
     "Which BLAS compiled matmuls call: 'numpy: <path>' (the OpenBLAS NumPy ships) or 'system OpenBLAS'."},
    {"wait_for_compiles", py_wait_for_compiles, METH_NOARGS,
     "Block until every background compile has finished."},
    {"decode_raw", tracejit_py_decode_raw, METH_O, "Raw instructions of a code object, as dis."},
    {"decode", tracejit_py_decode, METH_O, "Canonical instructions of a code object."},
    {"_trace_ir", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(py_trace_ir)),
     METH_FASTCALL, "(ok, optimized IR text or abort reason) for func(*args)."},
    {"_set_disabled", py_set_disabled, METH_O, "Turn every jitted call eager (or back)."},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "_tracejit", "tracejit's native core.", -1, module_methods,
    nullptr, nullptr, nullptr, nullptr,
};

}  // namespace

// NumPy's own sort functions for the compiled `sort` op (backends/cpu/sort_rt.h): the same
// functions np.sort / np.argsort call for each row, so compiled sorts order ties, signed zeros
// and NaNs as eager NumPy does.
static void register_numpy_sorts() {
  for (int d = 0; d < tracejit::ir::kNumDTypes; ++d) {
    PyArray_Descr* descr = PyArray_DescrFromType(tracejit::typenum_from_dtype(static_cast<tracejit::ir::DType>(d)));
    if (!descr) {
      PyErr_Clear();
      continue;
    }
    PyArray_ArrFuncs* f = PyDataType_GetArrFuncs(descr);
    for (int kind = 0; kind < 3; ++kind)
      if (f && f->sort[kind] && f->argsort[kind])
        tracejit::backends::set_numpy_sort(d, kind, reinterpret_cast<tracejit::backends::NumpySortFn>(f->sort[kind]),
                                           reinterpret_cast<tracejit::backends::NumpyArgSortFn>(f->argsort[kind]));
    Py_DECREF(descr);
  }
}

PyMODINIT_FUNC PyInit__tracejit() {
  import_array();
  register_numpy_sorts();
  JitFunctionType.tp_name = "tracejit.JitFunction";
  JitFunctionType.tp_basicsize = sizeof(JitFunctionObject);
  JitFunctionType.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL |
                             Py_TPFLAGS_METHOD_DESCRIPTOR | Py_TPFLAGS_BASETYPE;
  JitFunctionType.tp_doc = "A function compiled by tracejit.jit.";
  JitFunctionType.tp_new = jf_new;
  JitFunctionType.tp_dealloc = jf_dealloc;
  JitFunctionType.tp_traverse = jf_traverse;
  JitFunctionType.tp_clear = jf_clear;
  JitFunctionType.tp_vectorcall_offset = offsetof(JitFunctionObject, vectorcall);
  JitFunctionType.tp_call = PyVectorcall_Call;
  JitFunctionType.tp_descr_get = jf_descr_get;
  JitFunctionType.tp_dictoffset = offsetof(JitFunctionObject, dict);
  JitFunctionType.tp_weaklistoffset = offsetof(JitFunctionObject, weakrefs);
  JitFunctionType.tp_methods = jf_methods;
  JitFunctionType.tp_getset = jf_getset;
  JitFunctionType.tp_repr = jf_repr;
  if (PyType_Ready(&JitFunctionType) < 0) return nullptr;

  PyObject* m = PyModule_Create(&module_def);
  if (!m) return nullptr;
  Py_INCREF(&JitFunctionType);
  if (PyModule_AddObject(m, "JitFunction", reinterpret_cast<PyObject*>(&JitFunctionType)) < 0)
    return nullptr;
  PyObject* warning = PyErr_NewExceptionWithDoc(
      "tracejit.TracejitWarning", "Warnings about compilation: limits reached, fallbacks.",
      PyExc_RuntimeWarning, nullptr);
  if (!warning || PyModule_AddObject(m, "TracejitWarning", warning) < 0) return nullptr;
  tracejit::jit::set_warning_category(warning);
  PyObject* graph_break = PyErr_NewExceptionWithDoc(
      "tracejit.GraphBreakError",
      "Raised by a jit(fullgraph=True) function that does not compile to one graph: the message "
      "lists every graph break and abort with its reason and the user's file:line.",
      PyExc_RuntimeError, nullptr);
  if (!graph_break || PyModule_AddObject(m, "GraphBreakError", graph_break) < 0) return nullptr;
  tracejit::jit::set_graph_break_error(graph_break);

  // The opcode table was generated for one interpreter; anything else means: JIT off.
  tracejit::Status st = tracejit::frontend::check_opcode_table();
  PyModule_AddObject(m, "_opcode_table_ok", PyBool_FromLong(st.ok()));
  if (!st.ok()) {
    tracejit::jit::set_disabled(true);
    std::string msg = fmt::format("tracejit: built for another Python ({}); every call runs eagerly",
                                  st.message());
    if (PyErr_WarnEx(warning, msg.c_str(), 1) < 0) return nullptr;
  }
  const char* dis = std::getenv("TRACEJIT_DISABLE");
  if (dis && *dis && std::strcmp(dis, "0") != 0) tracejit::jit::set_disabled(true);
  return m;
}
