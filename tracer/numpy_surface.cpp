// Table of recognized NumPy callables and operator -> ufunc mapping.
#include "tracer/numpy_surface.h"

#include <cstring>

namespace tracejit::tracer {
namespace {

struct Entry {
  const char* name;
  ir::Op op;
  int nin;
};

// Each NumPy name the tracer records, with the IR op that computes it.
constexpr Entry kUfuncs[] = {
    {"add", ir::Op::Add, 2},
    {"subtract", ir::Op::Sub, 2},
    {"multiply", ir::Op::Mul, 2},
    {"true_divide", ir::Op::Div, 2},
    {"divide", ir::Op::Div, 2},
    {"floor_divide", ir::Op::FloorDiv, 2},
    {"remainder", ir::Op::Mod, 2},
    {"mod", ir::Op::Mod, 2},
    {"power", ir::Op::Pow, 2},
    {"float_power", ir::Op::Pow, 2},  // float64 loops only (NumPy's type resolution), npy_pow
    {"maximum", ir::Op::Maximum, 2},
    {"minimum", ir::Op::Minimum, 2},
    {"bitwise_and", ir::Op::And, 2},
    {"bitwise_or", ir::Op::Or, 2},
    {"bitwise_xor", ir::Op::Xor, 2},
    {"left_shift", ir::Op::Shl, 2},
    {"right_shift", ir::Op::Shr, 2},
    {"equal", ir::Op::Eq, 2},
    {"not_equal", ir::Op::Ne, 2},
    {"less", ir::Op::Lt, 2},
    {"less_equal", ir::Op::Le, 2},
    {"greater", ir::Op::Gt, 2},
    {"greater_equal", ir::Op::Ge, 2},
    {"negative", ir::Op::Neg, 1},
    {"square", ir::Op::Mul, 1},
    {"positive", ir::Op::Cast, 1},
    {"absolute", ir::Op::Abs, 1},
    {"fabs", ir::Op::Abs, 1},
    {"reciprocal", ir::Op::Div, 1},  // 1 / x (float loops only; see apply_ufunc)
    {"abs", ir::Op::Abs, 1},
    {"invert", ir::Op::Not, 1},
    {"exp", ir::Op::Exp, 1},
    {"log", ir::Op::Log, 1},
    {"sqrt", ir::Op::Sqrt, 1},
    {"tanh", ir::Op::Tanh, 1},
    {"sin", ir::Op::Sin, 1},
    {"cos", ir::Op::Cos, 1},
    {"expm1", ir::Op::Expm1, 1},
    {"log1p", ir::Op::Log1p, 1},
    {"log2", ir::Op::Log2, 1},
    {"log10", ir::Op::Log10, 1},
    {"exp2", ir::Op::Exp2, 1},
    {"cbrt", ir::Op::Cbrt, 1},
    {"tan", ir::Op::Tan, 1},
    {"arcsin", ir::Op::Asin, 1},
    {"arccos", ir::Op::Acos, 1},
    {"arctan", ir::Op::Atan, 1},
    {"sinh", ir::Op::Sinh, 1},
    {"cosh", ir::Op::Cosh, 1},
    {"arcsinh", ir::Op::Asinh, 1},
    {"arccosh", ir::Op::Acosh, 1},
    {"arctanh", ir::Op::Atanh, 1},
    {"floor", ir::Op::Floor, 1},
    {"ceil", ir::Op::Ceil, 1},
    {"trunc", ir::Op::Trunc, 1},
    {"rint", ir::Op::Rint, 1},
    {"sign", ir::Op::Sign, 1},
    {"isnan", ir::Op::IsNan, 1},
    {"isinf", ir::Op::IsInf, 1},
    {"isfinite", ir::Op::IsFinite, 1},
    {"fmax", ir::Op::Fmax, 2},
    {"fmin", ir::Op::Fmin, 2},
    {"arctan2", ir::Op::Atan2, 2},
    {"hypot", ir::Op::Hypot, 2},
    {"logical_and", ir::Op::And, 2},
    {"logical_or", ir::Op::Or, 2},
    {"logical_xor", ir::Op::Xor, 2},
    {"logical_not", ir::Op::Not, 1},
    // x * c with NumPy's own constant (pi/180, 180/pi in the loop dtype; see apply_ufunc)
    {"deg2rad", ir::Op::Mul, 1},
    {"radians", ir::Op::Mul, 1},
    {"rad2deg", ir::Op::Mul, 1},
    {"degrees", ir::Op::Mul, 1},
    {"heaviside", ir::Op::Where, 2},  // npy_heaviside's branches as selects (see apply_ufunc)
    // npy_logaddexp / npy_logaddexp2 from exp, exp2, log1p and selects (see apply_ufunc)
    {"logaddexp", ir::Op::Log1p, 2},
    {"logaddexp2", ir::Op::Log1p, 2},
    {"signbit", ir::Op::SignBit, 1},
    {"copysign", ir::Op::CopySign, 2},
};

// NumPy functions (not elementwise ufuncs) the tracer records; see numpy_arrays.cpp.
constexpr const char* kFunctions[] = {
    "sum", "prod", "mean", "max", "min", "amax", "amin", "any", "all", "std", "var", "argmax",
    "argmin", "matmul", "dot", "outer", "inner", "reshape", "ravel", "transpose", "swapaxes", "squeeze",
    "expand_dims", "broadcast_to", "concatenate", "stack", "hstack", "vstack", "split", "roll",
    "triu", "tril", "zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
    "full_like", "arange", "linspace", "eye", "clip", "round", "around", "linalg.norm", "copyto", "einsum", "tensordot", "cross", "tile",
    "repeat", "cumsum", "cumprod", "diff", "isclose", "allclose", "flip", "identity", "trace", "diag", "diagonal",
    "fliplr", "flipud", "nansum", "nanprod", "nanmax", "nanmin", "nanargmax", "nanargmin", "nanmean", "nanvar", "nanstd", "ptp", "count_nonzero", "average", "atleast_1d", "atleast_2d",
    "atleast_3d", "take", "take_along_axis", "put_along_axis", "array", "asarray", "asanyarray", "ascontiguousarray", "nan_to_num", "sort", "argsort", "median", "percentile", "quantile",
    "meshgrid", "moveaxis", "column_stack", "pad", "searchsorted", "digitize", "interp",
    "histogram",
};

}  // namespace

const NumpySurface* NumpySurface::get() {
  static NumpySurface* surface = nullptr;  // guarded by the GIL
  if (surface) return surface;
  PyObject* np = PyImport_ImportModule("numpy");
  if (!np) return nullptr;
  auto* s = new NumpySurface();
  s->numpy = np;  // kept for the life of the process
  for (const Entry& e : kUfuncs) {
    PyObject* f = PyObject_GetAttrString(np, e.name);
    if (!f) {
      PyErr_Clear();
      continue;
    }
    s->ufuncs.push_back({e.name, e.op, e.nin, f});
    Py_DECREF(f);  // the numpy module keeps it alive
  }
  for (const char* name : kFunctions) {
    PyObject* f = nullptr;
    if (const char* dot = std::strchr(name, '.')) {  // "linalg.norm": np.linalg.norm
      PyObject* sub = PyObject_GetAttrString(np, std::string(name, dot).c_str());
      f = sub ? PyObject_GetAttrString(sub, dot + 1) : nullptr;
      Py_XDECREF(sub);  // the numpy module keeps the submodule alive
    } else {
      f = PyObject_GetAttrString(np, name);
    }
    if (!f) {
      PyErr_Clear();
      continue;
    }
    s->functions.emplace_back(f, name);
    Py_DECREF(f);
  }
  s->where = PyObject_GetAttrString(np, "where");
  if (s->where) Py_DECREF(s->where);
  PyErr_Clear();
  if (!s->ufuncs.empty()) s->ufunc_type = Py_TYPE(s->ufuncs.front().ufunc);
  if (s->where) s->dispatcher_type = Py_TYPE(s->where);
  PyObject* builtins = PyEval_GetBuiltins();  // borrowed
  s->builtin_abs = builtins ? PyDict_GetItemString(builtins, "abs") : nullptr;
  surface = s;
  return surface;
}

const UfuncInfo* NumpySurface::find_ufunc(PyObject* callable) const {
  for (const UfuncInfo& u : ufuncs)
    if (u.ufunc == callable) return &u;
  return nullptr;
}

const char* NumpySurface::function_name(PyObject* callable) const {
  for (const auto& [f, name] : functions)
    if (f == callable) return name;
  return nullptr;
}

const UfuncInfo* NumpySurface::ufunc_named(const char* name) const {
  for (const UfuncInfo& u : ufuncs)
    if (std::strcmp(u.name, name) == 0) return &u;
  return nullptr;
}

const char* ufunc_for_binary_op(int nb) {
  if (nb >= 13) nb -= 13;  // in-place variants share the ufunc
  switch (nb) {
    case 0: return "add";
    case 1: return "bitwise_and";
    case 2: return "floor_divide";
    case 3: return "left_shift";
    case 5: return "multiply";
    case 6: return "remainder";
    case 7: return "bitwise_or";
    case 8: return "power";
    case 9: return "right_shift";
    case 10: return "subtract";
    case 11: return "true_divide";
    case 12: return "bitwise_xor";
    default: return nullptr;  // @
  }
}

const char* ufunc_for_compare_op(int cmp) {
  switch (cmp) {
    case Py_LT: return "less";
    case Py_LE: return "less_equal";
    case Py_EQ: return "equal";
    case Py_NE: return "not_equal";
    case Py_GT: return "greater";
    case Py_GE: return "greater_equal";
    default: return nullptr;
  }
}

const char* binary_op_symbol(int nb) {
  static const char* kSymbols[] = {"+",  "&",   "//",  "<<",  "@",   "*",   "%",   "|",  "**",
                                   ">>", "-",   "/",   "^",   "+=",  "&=",  "//=", "<<=", "@=",
                                   "*=", "%=",  "|=",  "**=", ">>=", "-=",  "/=",  "^="};
  return nb >= 0 && nb < 26 ? kSymbols[nb] : "?";
}

}  // namespace tracejit::tracer
