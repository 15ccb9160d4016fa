// GuardStub agrees with the interpreted GuardSet::check: directed cases, then thousands of
// random guard sets over random arguments (most differing from the traced ones in one property).
#define TRACEJIT_NUMPY_IMPORT
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "jit/guard_stub.h"
#include "tracer/npy.h"

namespace tracejit::jit {
namespace {

using tracer::Guard;
using tracer::GuardSet;
using tracer::Source;

// Python side of the generator: random values, one-property variants, environment changes.
constexpr const char* kHelpers = R"PY(
import numpy as np, types, random

class Sub(np.ndarray): pass
class F(float): pass
class I(int): pass
class ModSub(types.ModuleType):
    @property
    def add(self): return np.subtract

DTYPES = [np.bool_, np.int8, np.uint8, np.int16, np.uint16, np.int32, np.uint32, np.int64,
          np.uint64, np.float16, np.float32, np.float64, np.complex64]
LAYOUTS = 8
INTS = [0, 1, -1, 5, 255, 256, 1000, -1000, 2**30 - 1, 2**30, -2**30, 2**31, 2**40, -2**45,
        2**60 + 7, 2**62, 2**90 + 3, 2**200]

def make_array(dt, shape, layout):
    dt = np.dtype(dt)
    shape = tuple(shape)
    if layout == 1 and shape:  # every other element of the last axis
        return np.zeros(shape[:-1] + (shape[-1] * 2,), dt)[..., ::2]
    if layout == 2:
        return np.zeros(shape, dt.newbyteorder())
    if layout == 3:  # offset by one byte: unaligned unless the itemsize is 1
        n = int(np.prod(shape)) * dt.itemsize
        return np.zeros(n + 1, np.uint8)[1:].view(dt).reshape(shape)
    if layout == 4:
        return np.zeros(shape, dt).view(Sub)
    if layout == 5:
        return np.zeros(shape, dt, order='F')
    if layout == 6:
        a = np.zeros(shape, dt)
        a.flags.writeable = False
        return a
    if layout == 7:
        return np.zeros(shape[::-1], dt).T
    return np.zeros(shape, dt)

def random_shape(r):
    return [r.choice([0, 1, 1, 2, 3, 4, 5, 7, 16]) for _ in range(r.randint(0, 4))]

def random_value(r):
    k = r.randrange(14)
    if k < 6:
        layout = r.choice([0, 0, 0] + list(range(LAYOUTS)))
        return make_array(r.choice(DTYPES), random_shape(r), layout)
    if k == 6: return r.choice([0.5, -2.0, 1e300])
    if k == 7: return F(1.5)
    if k == 8: return int(str(r.choice(INTS)))  # a fresh object for big ints
    if k == 9: return I(3)
    if k == 10: return r.choice([True, False, None])
    if k == 11: return r.choice(['x', 'tanh', 'a longer string'])
    if k == 12: return r.choice([np.float32(1.0), np.float64(2.0), np.int64(3)])
    return [1, 2]

def array_props(a):
    lay = 0
    if not a.flags.c_contiguous: lay = 1
    if not a.dtype.isnative: lay = 2
    if not a.flags.aligned: lay = 3
    if type(a) is not np.ndarray: lay = 4
    return a.dtype.newbyteorder('=') if lay == 2 else a.dtype, list(a.shape), lay

def variant(v, r):
    """A value that differs from v in exactly one property (sometimes in none)."""
    if isinstance(v, np.ndarray):
        dt, shape, lay = array_props(v)
        k = r.randrange(6)
        if k == 0: dt = r.choice(DTYPES)
        elif k == 1 and shape: shape[r.randrange(len(shape))] = r.choice([0, 1, 2, 3, 8])
        elif k == 2 and shape and r.random() < 0.5: shape = shape[:-1]
        elif k == 2: shape = shape + [r.choice([1, 2])]
        elif k == 3: lay = r.randrange(LAYOUTS)
        return make_array(dt, shape, lay)  # k == 4, 5: same properties, a new object
    if type(v) is bool or v is None:
        return r.choice([True, False, None, 0, 1])
    if type(v) is int:
        return r.choice([v + 1, v - 1, int(str(v)), int(str(v)), I(v), float(v), -v])
    if type(v) is float:
        return r.choice([v, v + 1.0, F(v), np.float64(v), int(v) if abs(v) < 1e18 else 0])
    if type(v) is str:
        return r.choice([v, v + 'x', ''.join(list(v)), v.encode()])
    return random_value(r)

G = {}
B = {}
fakemod = types.ModuleType('fakemod')
class Holder: pass

def reset_env():
    G.clear(); G.update(np=np, x=1)
    B.clear(); B.update(abs=abs, len=len)
    fakemod.__class__ = types.ModuleType
    fakemod.add = np.add
    fakemod.mul = np.multiply
    Holder.attr = np.tanh

def mutate_env(r):
    k = r.randrange(9)
    if k == 0: G['np'] = r.choice([np, types, None])
    elif k == 1: G.pop('np', None)
    elif k == 2: G['abs'] = r.choice([abs, len])
    elif k == 3: G.pop('abs', None)
    elif k == 4: B['abs'] = r.choice([abs, len])
    elif k == 5: fakemod.__dict__['add'] = r.choice([np.add, np.subtract])
    elif k == 6: fakemod.__class__ = r.choice([ModSub, types.ModuleType])
    elif k == 7: Holder.attr = r.choice([np.tanh, np.exp])
    else: G['unrelated%d' % r.randrange(4)] = r.random()  # moves the dict version only
reset_env()
)PY";

PyObject* g_ns = nullptr;  // the helpers' globals

PyObject* ns(const char* name) { return PyDict_GetItemString(g_ns, name); }  // borrowed

class PythonEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    // The build's interpreter, so its virtual environment (and NumPy) is found.
    PyStatus st = PyConfig_SetBytesString(&config, &config.program_name, TRACEJIT_TEST_PYTHON);
    if (!PyStatus_Exception(st)) st = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    ASSERT_FALSE(PyStatus_Exception(st)) << "Python did not start";
    if (_import_array() < 0) {
      PyErr_Print();
      FAIL() << "numpy did not import";
    }
    g_ns = PyDict_New();
    PyDict_SetItemString(g_ns, "__builtins__", PyEval_GetBuiltins());
    PyObject* r = PyRun_String(kHelpers, Py_file_input, g_ns, g_ns);
    if (!r) PyErr_Print();
    ASSERT_NE(r, nullptr);
    Py_DECREF(r);
  }
};

// A new reference from calling a helper; aborts the test on a Python error.
PyObject* call(const char* fn, PyObject* a = nullptr, PyObject* b = nullptr,
               PyObject* c = nullptr) {
  PyObject* r = PyObject_CallFunctionObjArgs(ns(fn), a, b, c, nullptr);
  if (!r) {
    PyErr_Print();
    std::abort();
  }
  return r;
}

struct Refs {  // owns what a test creates
  std::vector<PyObject*> v;
  PyObject* operator()(PyObject* o) {
    v.push_back(o);
    return o;
  }
  ~Refs() {
    for (PyObject* o : v) Py_DECREF(o);
  }
};

Guard arg_guard(Guard::Kind k, int arg) {
  Guard g;
  g.kind = k;
  g.arg = arg;
  g.source = Source::arg(arg, fmt::format("a{}", arg));
  return g;
}

Guard array_guard(int arg, PyObject* a, bool contiguous) {
  auto* arr = reinterpret_cast<PyArrayObject*>(a);
  Guard g = arg_guard(Guard::Kind::Array, arg);
  g.typenum = PyArray_TYPE(arr);
  g.dims.assign(PyArray_DIMS(arr), PyArray_DIMS(arr) + PyArray_NDIM(arr));
  g.contiguous = contiguous;
  return g;
}

std::unique_ptr<GuardStub> must_build(const GuardSet& s) {
  auto r = GuardStub::build(s);
  EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.message());
  return r.ok() ? std::move(r.value()) : nullptr;
}

PyObject* make(Refs& refs, const char* dtype, std::vector<long> shape, int layout) {
  PyObject* np = PyImport_ImportModule("numpy");
  PyObject* dt = PyObject_GetAttrString(np, dtype);
  Py_DECREF(np);
  PyObject* sh = PyList_New(0);
  for (long d : shape) {
    PyObject* x = PyLong_FromLong(d);
    PyList_Append(sh, x);
    Py_DECREF(x);
  }
  PyObject* lay = PyLong_FromLong(layout);
  PyObject* a = call("make_array", dt, sh, lay);
  Py_DECREF(dt);
  Py_DECREF(sh);
  Py_DECREF(lay);
  return refs(a);
}

TEST(GuardStub, EmptySetHolds) {
  GuardSet s;
  auto stub = must_build(s);
  ASSERT_TRUE(stub);
  PyObject* none = Py_None;
  EXPECT_TRUE(stub->check(&none));
  EXPECT_EQ(stub->inlined(), 0);
  EXPECT_EQ(stub->called(), 0);
}

TEST(GuardStub, ArrayFieldsOneByOne) {
  Refs refs;
  PyObject* base = make(refs, "float32", {4, 3}, 0);
  GuardSet s;
  s.add(array_guard(0, base, true));
  auto stub = must_build(s);
  ASSERT_TRUE(stub);
  EXPECT_EQ(stub->inlined(), 1);
  EXPECT_EQ(stub->called(), 0);
  struct Case {
    const char* what;
    PyObject* arg;
    bool holds;
  } cases[] = {
      {"same array", base, true},
      {"new array, same properties", make(refs, "float32", {4, 3}, 0), true},
      {"read-only", make(refs, "float32", {4, 3}, 6), true},
      {"dtype", make(refs, "float64", {4, 3}, 0), false},
      {"ndim", make(refs, "float32", {4, 3, 1}, 0), false},
      {"dim 0", make(refs, "float32", {5, 3}, 0), false},
      {"dim 1", make(refs, "float32", {4, 2}, 0), false},
      {"strided", make(refs, "float32", {4, 3}, 1), false},
      {"byteswapped", make(refs, "float32", {4, 3}, 2), false},
      {"unaligned", make(refs, "float32", {4, 3}, 3), false},
      {"subclass", make(refs, "float32", {4, 3}, 4), false},
      {"fortran", make(refs, "float32", {4, 3}, 5), false},
      {"not an array", Py_None, false},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(s.check(&c.arg), c.holds) << c.what;
    EXPECT_EQ(stub->check(&c.arg), c.holds) << c.what;
  }
}

TEST(GuardStub, DimsBeyondInt32) {
  Refs refs;
  PyObject* a = make(refs, "int8", {3}, 0);
  GuardSet s;
  Guard g = array_guard(0, a, true);
  g.dims[0] = (int64_t{1} << 32) + 3;  // low 32 bits equal the real dim
  s.add(g);
  auto stub = must_build(s);
  ASSERT_TRUE(stub);
  EXPECT_FALSE(s.check(&a));
  EXPECT_FALSE(stub->check(&a));
}

TEST(GuardStub, IntValuesInlineAndCalledOut) {
  Refs refs;
  const char* values[] = {"0",
                          "1",
                          "-1",
                          "1073741823",
                          "1073741824",
                          "-1099511627776",
                          "1237940039285380274899124224",
                          "1606938044258990275541962092341162602522202993782792835301376"};
  for (const char* text : values) {
    PyObject* v = refs(PyLong_FromString(text, nullptr, 10));
    GuardSet s;
    Guard g = arg_guard(Guard::Kind::Value, 0);
    g.expected = v;
    s.add(g);
    auto stub = must_build(s);
    ASSERT_TRUE(stub);
    for (const char* other : values) {
      PyObject* o = refs(PyLong_FromString(other, nullptr, 10));  // a distinct object
      EXPECT_EQ(stub->check(&o), s.check(&o)) << text << " vs " << other;
      EXPECT_EQ(stub->check(&o), std::string(text) == other) << text << " vs " << other;
    }
    PyObject* f = refs(PyFloat_FromDouble(0.0));
    EXPECT_FALSE(stub->check(&f));
  }
}

TEST(GuardStub, StringValueCallsOut) {
  Refs refs;
  GuardSet s;
  Guard g = arg_guard(Guard::Kind::Value, 0);
  g.expected = refs(PyUnicode_FromString("tanh"));
  s.add(g);
  auto stub = must_build(s);
  ASSERT_TRUE(stub);
  EXPECT_EQ(stub->called(), 1);
  PyObject* same = refs(PyUnicode_FromString("tanh"));
  PyObject* other = refs(PyUnicode_FromString("exp"));
  EXPECT_TRUE(stub->check(&same));
  EXPECT_FALSE(stub->check(&other));
}

// ---- Randomized agreement -------------------------------------------------------------------

struct Generator {
  std::mt19937_64 rng;
  PyObject* r;  // random.Random driven by the same seed
  explicit Generator(uint64_t seed) : rng(seed) {
    PyObject* random = PyImport_ImportModule("random");
    PyObject* s = PyLong_FromUnsignedLongLong(seed);
    r = PyObject_CallMethod(random, "Random", "O", s);
    Py_DECREF(s);
    Py_DECREF(random);
  }
  ~Generator() { Py_DECREF(r); }
  bool coin(double p) { return std::uniform_real_distribution<>(0, 1)(rng) < p; }
  int below(int n) { return static_cast<int>(rng() % static_cast<uint64_t>(n)); }

  // The guard the tracer would put on this argument (with a few deliberate oddities).
  Guard guard_for(int arg, PyObject* v) {
    if (PyArray_Check(v)) {
      Guard g = array_guard(arg, v, coin(0.6));
      if (coin(0.05)) g.typenum = below(24);  // any legacy type number
      if (coin(0.05) && !g.dims.empty())
        g.dims[static_cast<size_t>(below(static_cast<int>(g.dims.size())))] += (int64_t{1} << 32);
      return g;
    }
    if (v == Py_None || (PyBool_Check(v) && coin(0.5))) {
      Guard g = arg_guard(Guard::Kind::Identity, arg);
      g.expected = v;
      return g;
    }
    if (PyLong_Check(v) || PyUnicode_Check(v)) {
      Guard g = arg_guard(Guard::Kind::Value, arg);
      g.expected = v;
      return g;
    }
    Guard g = arg_guard(Guard::Kind::Type, arg);
    g.type = Py_TYPE(v);
    return g;
  }

  // Guards on a fake globals/builtins pair and on attributes of a module and of a class.
  void add_env_guards(GuardSet& s, Refs& refs) {
    int n = 1 + below(3);
    for (int i = 0; i < n; ++i) {
      Guard g;
      int k = below(4);
      if (k == 0) {
        g.kind = Guard::Kind::GlobalIs;
        g.dict = ns("G");
        g.name = refs(PyUnicode_InternFromString("np"));
        g.expected = refs(PyImport_ImportModule("numpy"));
        g.source = Source::attr(Source::constant(), "G.np");
      } else if (k == 1) {
        g.kind = Guard::Kind::BuiltinIs;
        g.dict = ns("G");
        g.dict2 = ns("B");
        g.name = refs(PyUnicode_InternFromString("abs"));
        g.expected = PyDict_GetItemString(PyEval_GetBuiltins(), "abs");
        g.source = Source::attr(Source::constant(), "B.abs");
      } else {
        bool mod = k == 2;
        const char* attr = mod ? (coin(0.5) ? "add" : "mul") : "attr";
        g.kind = Guard::Kind::AttrIs;
        g.dict = ns(mod ? "fakemod" : "Holder");
        g.name = refs(PyUnicode_InternFromString(attr));
        g.expected = refs(PyObject_GetAttr(g.dict, g.name));
        g.source = Source::attr(Source::constant(),
                                fmt::format("{}.{}", mod ? "fakemod" : "Holder", attr));
      }
      s.add(g);  // takes its own references
    }
  }
};

TEST(GuardStub, RandomAgreesWithInterpreted) {
  const char* env = std::getenv("TRACEJIT_FUZZ_ITERS");
  int sets = env ? std::atoi(env) : 3000;
  constexpr int kCallsPerSet = 12;
  int64_t checks = 0, holds = 0, helper_sets = 0;
  for (int seed = 0; seed < sets; ++seed) {
    Generator gen(static_cast<uint64_t>(seed) * 7919 + 1);
    Refs refs;
    call("reset_env");
    int nargs = 1 + gen.below(5);
    std::vector<PyObject*> templ;
    for (int i = 0; i < nargs; ++i) templ.push_back(refs(call("random_value", gen.r)));
    GuardSet s;
    for (int i = 0; i < nargs; ++i)
      if (gen.coin(0.9)) s.add(gen.guard_for(i, templ[static_cast<size_t>(i)]));
    if (gen.coin(0.4)) gen.add_env_guards(s, refs);
    auto stub = must_build(s);
    ASSERT_TRUE(stub) << "seed " << seed;
    helper_sets += stub->called() > 0;
    for (int c = 0; c < kCallsPerSet; ++c) {
      std::vector<PyObject*> args = templ;
      int mode = gen.below(10);
      if (mode >= 4 && mode < 9) {  // one argument differs in one property
        size_t i = static_cast<size_t>(gen.below(nargs));
        args[i] = refs(call("variant", templ[i], gen.r));
      } else if (mode == 9) {
        for (auto& a : args)
          a = refs(gen.coin(0.5) ? call("variant", a, gen.r) : call("random_value", gen.r));
      }
      if (gen.coin(0.25))
        Py_DECREF(call("mutate_env", gen.r));
      else if (gen.coin(0.2))
        Py_DECREF(call("reset_env"));
      bool want = s.check(args.data());
      bool got = stub->check(args.data());
      ASSERT_FALSE(PyErr_Occurred());
      ++checks;
      holds += want;
      if (want != got) {
        std::string msg = fmt::format("seed {} call {}: interpreted {}, stub {}\n", seed, c,
                                      want ? "holds" : "fails", got ? "holds" : "fails");
        for (const std::string& d : s.describe()) msg += "  guard: " + d + "\n";
        for (const std::string& e : s.explain(args.data())) msg += "  explain: " + e + "\n";
        FAIL() << msg;
      }
    }
  }
  call("reset_env");
  std::printf("[guard stubs] %lld checks over %d guard sets (%lld with helper calls): %lld held\n",
              static_cast<long long>(checks), sets, static_cast<long long>(helper_sets),
              static_cast<long long>(holds));
  // Both answers must be common, or the test proves little.
  EXPECT_GT(holds, checks / 10);
  EXPECT_LT(holds, checks * 9 / 10);
}

}  // namespace
}  // namespace tracejit::jit

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  ::testing::AddGlobalTestEnvironment(new tracejit::jit::PythonEnv);
  return RUN_ALL_TESTS();
}
