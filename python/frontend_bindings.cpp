// Python entry points for the frontend decoder: TypeError for non-code, RuntimeError on failure.
#include "python/frontend_bindings.h"

#include <string_view>

#include "frontend/decoder.h"

namespace {

namespace fe = tracejit::frontend;

PyObject* int_or_none(int32_t v, bool present) {
  if (!present) Py_RETURN_NONE;
  return PyLong_FromLong(v);
}

PyObject* str_of(std::string_view s) {
  return PyUnicode_FromStringAndSize(s.data(), static_cast<Py_ssize_t>(s.size()));
}

PyCodeObject* as_code(PyObject* obj) {
  if (!PyCode_Check(obj)) {
    PyErr_Format(PyExc_TypeError, "expected a code object, got %.200s", Py_TYPE(obj)->tp_name);
    return nullptr;
  }
  return reinterpret_cast<PyCodeObject*>(obj);
}

// Builds a list with one tuple per item; `make` returns a new reference or nullptr.
template <typename T, typename F>
PyObject* list_of(const std::vector<T>& items, F make) {
  PyObject* list = PyList_New(static_cast<Py_ssize_t>(items.size()));
  if (list == nullptr) return nullptr;
  for (size_t i = 0; i < items.size(); ++i) {
    PyObject* t = make(items[i]);
    if (t == nullptr) {
      Py_DECREF(list);
      return nullptr;
    }
    PyList_SET_ITEM(list, static_cast<Py_ssize_t>(i), t);
  }
  return list;
}

}  // namespace

PyObject* tracejit_py_decode_raw(PyObject* /*self*/, PyObject* code) {
  PyCodeObject* co = as_code(code);
  if (co == nullptr) return nullptr;
  auto raw = fe::decode_raw(co);
  if (!raw) {
    PyErr_SetString(PyExc_RuntimeError, raw.message().c_str());
    return nullptr;
  }
  const fe::OpcodeTable& table = fe::compiled_opcode_table();
  return list_of(*raw, [&](const fe::RawInstruction& r) -> PyObject* {
    const bool has_arg = table.ops[static_cast<uint8_t>(r.opcode)].has_arg;
    return Py_BuildValue("(iNNNN)", r.offset, str_of(r.opname), int_or_none(r.arg, has_arg),
                         int_or_none(r.jump_target, r.jump_target >= 0),
                         int_or_none(r.line, r.line >= 0));
  });
}

PyObject* tracejit_py_decode(PyObject* /*self*/, PyObject* code) {
  PyCodeObject* co = as_code(code);
  if (co == nullptr) return nullptr;
  auto ins = fe::decode(co);
  if (!ins) {
    PyErr_SetString(PyExc_RuntimeError, ins.message().c_str());
    return nullptr;
  }
  return list_of(*ins, [](const fe::Instruction& i) -> PyObject* {
    return Py_BuildValue("(NiNiNN)", str_of(fe::cop_name(i.op)), i.arg,
                         int_or_none(i.target, i.target >= 0), i.offset,
                         int_or_none(i.line, i.line >= 0), str_of(i.raw_name));
  });
}
