// _tracejit_frontend_test: the frontend bindings alone, for tests/python/test_decoder.py.
#include "python/frontend_bindings.h"

#include "frontend/decoder.h"

namespace {

PyMethodDef kMethods[] = {
    {"decode_raw", tracejit_py_decode_raw, METH_O, "code -> raw instructions, as dis lists them"},
    {"decode", tracejit_py_decode, METH_O, "code -> canonical instructions"},
    {nullptr, nullptr, 0, nullptr},
};

PyModuleDef kModule = {PyModuleDef_HEAD_INIT, "_tracejit_frontend_test", nullptr, -1, kMethods};

}  // namespace

PyMODINIT_FUNC PyInit__tracejit_frontend_test() {
  tracejit::Status s = tracejit::frontend::check_opcode_table();
  if (!s) {
    PyErr_Format(PyExc_ImportError, "opcode table mismatch: %s", s.message().c_str());
    return nullptr;
  }
  return PyModule_Create(&kModule);
}
