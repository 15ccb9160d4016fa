// The decoder on live code objects, and the import-time check of the compiled opcode table.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <fmt/format.h>

#include <string>

#include "frontend/decoder.h"

namespace tracejit::frontend {

namespace {

// Owns one reference.
struct PyRef {
  PyObject* p = nullptr;
  explicit PyRef(PyObject* o) : p(o) {}
  PyRef(const PyRef&) = delete;
  PyRef& operator=(const PyRef&) = delete;
  ~PyRef() { Py_XDECREF(p); }
  explicit operator bool() const { return p != nullptr; }
};

// The pending Python error as text (cleared), for a Status message.
std::string take_py_error() {
  PyObject *type, *value, *tb;
  PyErr_Fetch(&type, &value, &tb);
  std::string text = "unknown Python error";
  if (value != nullptr) {
    PyRef s(PyObject_Str(value));
    const char* c = s ? PyUnicode_AsUTF8(s.p) : nullptr;
    if (c != nullptr) text = c;
  }
  PyErr_Clear();
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return text;
}

Expected<std::vector<RawInstruction>> raw_with_lines(PyCodeObject* code, size_t* code_size) {
  if (code == nullptr || !PyCode_Check(reinterpret_cast<PyObject*>(code))) {
    return Status::error("not a code object");
  }
  PyRef bytes(PyCode_GetCode(code));  // unspecialized: no adaptive, instrumented or quickened ops
  if (!bytes) return Status::error("PyCode_GetCode failed: " + take_py_error());
  if (!PyBytes_Check(bytes.p)) return Status::error("PyCode_GetCode did not return bytes");
  const auto* data = reinterpret_cast<const uint8_t*>(PyBytes_AS_STRING(bytes.p));
  const auto n = static_cast<size_t>(PyBytes_GET_SIZE(bytes.p));
  auto raw = decode_raw_bytes(data, n, compiled_opcode_table());
  if (!raw) return raw;
  for (RawInstruction& r : *raw) {
    const int line = PyCode_Addr2Line(code, r.offset);
    r.line = line < 0 ? -1 : line;
  }
  if (code_size != nullptr) *code_size = n;
  return raw;
}

// Cache entries for `name` / `num` from the live `opcode._inline_cache_entries`: a dict keyed by
// name (3.13+) or a list indexed by opcode (3.11/3.12). -1 on error.
long live_cache_entries(PyObject* entries, const char* name, int num) {
  if (PyDict_Check(entries)) {
    PyObject* v = PyDict_GetItemString(entries, name);  // borrowed
    return v == nullptr ? 0 : PyLong_AsLong(v);
  }
  PyObject* v = PySequence_GetItem(entries, num);
  if (v == nullptr) return -1;
  const long c = PyLong_AsLong(v);
  Py_DECREF(v);
  return c;
}

Status check_opcode_table_impl(PyObject* opcode_module) {
  const OpcodeTable& table = compiled_opcode_table();
  PyObject* version = PySys_GetObject("version_info");  // borrowed
  if (version == nullptr) return Status::error("sys.version_info missing");
  PyRef major(PySequence_GetItem(version, 0));
  PyRef minor(PySequence_GetItem(version, 1));
  if (!major || !minor) return Status::error(take_py_error());
  const long live_major = PyLong_AsLong(major.p), live_minor = PyLong_AsLong(minor.p);
  if (live_major != table.py_major || live_minor != table.py_minor) {
    return Status::error(fmt::format("built for Python {}.{}, running on {}.{}", table.py_major,
                                     table.py_minor, live_major, live_minor));
  }
  PyRef opmap(PyObject_GetAttrString(opcode_module, "opmap"));
  PyRef entries(PyObject_GetAttrString(opcode_module, "_inline_cache_entries"));
  PyRef hasjrel(PyObject_GetAttrString(opcode_module, "hasjrel"));
  if (!opmap || !entries || !hasjrel || !PyDict_Check(opmap.p)) {
    return Status::error("opcode module lacks opmap/_inline_cache_entries/hasjrel: " +
                         take_py_error());
  }
  int live_count = 0;
  PyObject *key, *value;
  Py_ssize_t pos = 0;
  while (PyDict_Next(opmap.p, &pos, &key, &value)) {
    const long num = PyLong_AsLong(value);
    const char* name = PyUnicode_AsUTF8(key);
    if (name == nullptr || num < 0) return Status::error(take_py_error());
    if (num >= 256) continue;  // pseudo-ops never appear in bytecode
    ++live_count;
    const OpcodeInfo& info = table.ops[num];
    if (info.name != name) {
      return Status::error(fmt::format("opcode {} is {} here but {} in the build table", num,
                                       name, info.name));
    }
    const long caches = live_cache_entries(entries.p, name, static_cast<int>(num));
    if (caches < 0) return Status::error(take_py_error());
    if (caches != info.caches) {
      return Status::error(fmt::format("{} has {} inline caches here but {} in the build table",
                                       name, caches, info.caches));
    }
    PyRef num_obj(PyLong_FromLong(num));
    const int jrel = num_obj ? PySequence_Contains(hasjrel.p, num_obj.p) : -1;
    if (jrel < 0) return Status::error(take_py_error());
    if ((jrel == 1) != info.jrel) {
      return Status::error(fmt::format("{} relative-jump flag differs from the build table", name));
    }
  }
  int table_count = 0;
  for (const OpcodeInfo& info : table.ops) table_count += info.name.empty() ? 0 : 1;
  if (table_count != live_count) {
    return Status::error(fmt::format("build table has {} opcodes, interpreter {}", table_count,
                                     live_count));
  }
  return ok_status();
}

}  // namespace

Expected<std::vector<RawInstruction>> decode_raw(PyCodeObject* code) {
  return raw_with_lines(code, nullptr);
}

Expected<std::vector<Instruction>> decode(PyCodeObject* code) {
  size_t n = 0;
  auto raw = raw_with_lines(code, &n);
  if (!raw) return raw.status();
  return canonicalize(*raw, compiled_opcode_table(), n);
}

Status check_opcode_table() {
  PyRef opcode_module(PyImport_ImportModule("opcode"));
  if (!opcode_module) return Status::error("cannot import opcode: " + take_py_error());
  return check_opcode_table_impl(opcode_module.p);
}

}  // namespace tracejit::frontend
