// Python entry points for the frontend decoder (registered by module.cpp; both METH_O).
#pragma once

#define PY_SSIZE_T_CLEAN
#include <Python.h>

// code -> [(offset, opname, arg_or_None, jump_target_or_None, line_or_None), ...], as `dis`.
PyObject* tracejit_py_decode_raw(PyObject* self, PyObject* code);

// code -> [(canonical_name, arg, target_or_None, offset, line_or_None, raw_name), ...].
PyObject* tracejit_py_decode(PyObject* self, PyObject* code);
