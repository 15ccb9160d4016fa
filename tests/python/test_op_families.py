"""Per-family differential tests of the NumPy surface (issue #3, Scope 1) against eager NumPy.

Each family (elementwise arithmetic, comparisons/logic, math functions, where/clip/astype,
reductions, the matmul family, shape ops, creation, attributes) draws a seeded sample of cases:
a small function (Python source, so that a failure prints it), random shapes with 0- and
1-sized dimensions and broadcasting, random dtypes out of all eleven supported ones, and inputs
laid out contiguously, with a step, transposed, reversed or broadcast (zero strides).
Each case runs eagerly and as `tracejit.jit(fn, hot=0, sync=True)` and must agree:

- when NumPy raises, the jitted call raises the same exception type with the same message;
- otherwise the same Python type, dtype and shape, and the same values:
  * integers and bools bit-exact;
  * floats bit-exact, NaN positions equal and the sign of zero equal, for the exactly rounded
    ops: + - * / // % and **0..2, sqrt, abs, negative, square, reciprocal, floor, ceil, trunc,
    rint, sign, maximum/minimum/fmax/fmin, clip, where, comparisons, casts, shape ops, creation;
  * transcendental functions and `**` with other exponents within ULP[name] ulp of NumPy's
    result (tracejit is <= 1 ulp from exact for exp/log/tanh/sin/cos, see
    test_math_accuracy.py; NumPy's own SIMD/SVML loops are documented at up to 4 ulp, and
    the C library tracejit calls for the others is within 1 ulp), NaN/inf positions equal;
  * float reductions (sum, mean, prod, var, std) within REDUCE_RTOL * eps of the condition
    scale (sum |x| along the axis for sums and means, the product's magnitude times the count
    for prod, mean x^2 for var), since NumPy's pairwise order is not ours;
    max/min/argmax/argmin are exact (NaN propagates; the sign of a zero maximum is NumPy's
    SIMD lane order, so signed zeros are not compared there);
  * float matmul within (k + 2) * eps * (|A| @ |B|) elementwise (two BLAS summation orders).

Every family also asserts how much compiled: each case that did not raise in NumPy must
compile unless every one of its fallback reasons matches one of the documented KNOWN_FALLBACKS
patterns (a gap in the JIT, not a wrong answer), and the compiled share of the family must
reach its threshold. `pytest -s` prints per family the compiled share and each fallback.

TRACEJIT_FAMILY_SEED changes the seed; TRACEJIT_FAMILY_SCALE multiplies the number of cases.
"""
import math
import os
import re
import time
import warnings
from dataclasses import dataclass, field

import numpy as np
import pytest

import tracejit

SEED = int(os.environ.get("TRACEJIT_FAMILY_SEED", "20250301"))
SCALE = float(os.environ.get("TRACEJIT_FAMILY_SCALE", "1"))
VERBOSE = os.environ.get("TRACEJIT_FAMILY_VERBOSE") == "1"  # print each case before running it

INTS = ["int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"]
FLOATS = ["float32", "float64"]
DTYPES = ["bool"] + INTS + FLOATS

# Max ulp difference from NumPy's result, per function (both dtypes). exp/log/tanh/sin/cos:
# the bounds of test_math_accuracy.py (float32 bounds, the larger). The others call the C
# library (<= 1 ulp) where NumPy may use SVML (documented <= 4 ulp).
ULP = {
    "exp": 3, "log": 4, "tanh": 3, "sin": 2, "cos": 2,
    "expm1": 5, "log1p": 5, "log2": 5, "log10": 5, "exp2": 5, "cbrt": 5, "tan": 5,
    "arcsin": 5, "arccos": 5, "arctan": 5, "sinh": 5, "cosh": 5, "arcsinh": 5, "arccosh": 5,
    "arctanh": 5, "arctan2": 5, "hypot": 5, "power": 5,
}
REDUCE_RTOL = 8  # in eps of the result dtype, times the condition scale

# Fallbacks that are known gaps of the JIT (the answer is still NumPy's: the call runs
# eagerly). A case that falls back for any other reason fails its family's test.
KNOWN_FALLBACKS = {
    r"computes in a dtype the JIT does not compile \(e\)|float16": "float16 results (NumPy computes int8/uint8/bool math in float16)",
    r"float to integer (astype|conversion) is not compiled for (uint32|a Python float)":
        "float -> uint32 (NumPy's out-of-range results depend on the array length) and np.int64(python float)",
    r"boolean matmul is not compiled": "bool @ bool (logical or-of-ands)",
    r"np\.dot of arrays with more than 2 dimensions": "np.dot with N-d operands (not matmul semantics)",
    r"mean of an empty slice": "mean/var/std over an empty axis (NumPy warns and returns NaN)",
    r"var with ddof >= count": "var/std with ddof >= count (NumPy warns, returns inf/NaN)",
    r"integer power with a negative or runtime exponent": "integer ** array exponent (may raise)",
    r"is a view of|returns a view|view of an argument|view": "a returned view of an argument runs eagerly (memory sharing)",
    r"with mixed loop dtypes": "ufunc loops with mixed input dtypes (e.g. ldexp-like loops)",
    r"comparison with a Python int outside the int64 range": "comparison with a huge Python int",
    r"negative Python int in an unsigned loop": "negative Python int with an unsigned array",
    r"does not convert exactly to": "Python int that does not convert exactly to the loop dtype",
    r"triu/tril of a 1-D array": "triu/tril of a 1-D array",
    r"argmax over several axes": "(NumPy raises for it)",
    r"clip bounds that change the array's kind": "clip whose bounds change the result kind",
    r"np\.arange with float values|call to np\.linspace\(\) is not traced": "float arange and linspace are not traced",
    r"unsupported cast f(32|64) -> u32": "float -> uint32 inside kernels, e.g. sum(dtype=np.uint32) (length-dependent in NumPy)",
    r"np\.reciprocal on (u?int|bool)": "integer reciprocal",
    r"with an order other than 'C'": "reshape/ravel/flatten with order='F'/'A'/'K'",
    r"roll along several axes": "np.roll with a tuple of axes",
    r"advanced \(array or boolean\) indexing": "boolean (mask) indexing such as a[True]",
    r"(dot|matmul|@) of a Python value": "np.dot with a Python float argument (NumPy makes it a float64 array)",
    r"start must be known Python ints": "np.arange with a float start and an integer dtype",
    r"AxisError in squeeze": "ndarray.squeeze(axis) of a 0-d array (NumPy accepts some out-of-range axes there)",
    r"np\.(maximum|minimum) raises OverflowError: Python integer": "np.clip with Python int bounds outside the array dtype's range (NumPy's clip accepts them; the ufunc probe raises)",
    r"zero-dimensional arrays cannot be concatenated": "hstack/vstack of 0-d arrays (atleast_1d)",
    r"with keyword arguments is not traced yet": "keyword arguments to ufuncs / astype",
}


# ---------------------------------------------------------------------------------------------
# Inputs

SIZES = [0, 1, 2, 3, 5]
SIZE_P = [0.08, 0.22, 0.25, 0.3, 0.15]
LAYOUTS = ["C", "step", "T", "neg", "bcast"]
LAYOUT_P = [0.4, 0.15, 0.2, 0.15, 0.1]


def rshape(r, rank, sizes=SIZES, p=SIZE_P):
    return tuple(int(r.choice(sizes, p=p)) for _ in range(rank))


def bshapes(r, n, max_rank=3):
    """n shapes that broadcast together (some shorter, some with 1s)."""
    rank = int(r.integers(0, max_rank + 1))
    base = rshape(r, rank)
    out = []
    for _ in range(n):
        k = int(r.integers(0, rank + 1)) if r.random() < 0.3 else rank
        s = [1 if r.random() < 0.15 else d for d in base[rank - k:]]
        out.append(tuple(s))
    return out


def fill(r, dt, n, kind="default"):
    """n values of dtype dt: small integers with some extremes, floats with NaN, +-inf, +-0."""
    dt = np.dtype(dt)
    if dt.kind == "b":
        return r.random(n) < 0.5
    if dt.kind in "iu":
        lo = -20 if dt.kind == "i" else 0
        v = r.integers(lo, 21, n).astype(dt)
        if kind == "default":
            info = np.iinfo(dt)
            ext = np.array([info.min, info.max, info.min + 1, info.max - 1], dtype=dt)
            pick = r.random(n) < 0.08
            v[pick] = ext[r.integers(0, 4, int(pick.sum()))]
        elif kind == "small":
            v = r.integers(-3 if dt.kind == "i" else 0, 4, n).astype(dt)
        return v
    if kind == "unit":  # well inside (-1, 1) x 4 scales, no specials
        return (r.uniform(-1, 1, n) * 4).astype(dt)
    if kind == "prod":
        return (r.uniform(0.5, 2.0, n) * r.choice([-1, 1], n)).astype(dt)
    if kind == "finite":
        return (r.standard_normal(n) * 3).astype(dt)
    if isinstance(kind, tuple):  # (lo, hi) domain
        v = r.uniform(kind[0], kind[1], n)
    else:
        v = r.standard_normal(n) * 4
    special = r.random(n)
    v[special < 0.03] = np.nan
    v[(special >= 0.03) & (special < 0.05)] = np.inf
    v[(special >= 0.05) & (special < 0.07)] = -np.inf
    v[(special >= 0.07) & (special < 0.10)] = 0.0
    v[(special >= 0.10) & (special < 0.12)] = -0.0
    return v.astype(dt)


def make_array(r, dt, shape, layout=None, kind="default"):
    """An array of `shape` and dtype `dt` in the given memory layout (random when None)."""
    shape = tuple(shape)
    nd = len(shape)
    if layout is None:
        layout = str(r.choice(LAYOUTS, p=LAYOUT_P)) if nd else "C"
    if nd == 0:
        layout = "C"
    ax = int(r.integers(nd)) if nd else 0
    if layout == "T":
        base_shape = shape[::-1]
    elif layout == "step":
        base_shape = tuple(2 * s if i == ax else s for i, s in enumerate(shape))
    elif layout == "bcast":
        base_shape = tuple(1 if i == ax else s for i, s in enumerate(shape))
    else:
        base_shape = shape
    n = int(np.prod(base_shape)) if base_shape else 1
    base = np.asarray(fill(r, dt, n, kind)).reshape(base_shape)
    idx = [slice(None)] * nd
    if layout == "T":
        return base.T
    if layout == "step":
        idx[ax] = slice(None, None, 2)
        return base[tuple(idx)]
    if layout == "neg":
        idx[ax] = slice(None, None, -1)
        return base[tuple(idx)]
    if layout == "bcast":
        return np.broadcast_to(base, shape)
    return base


def layout_of(a):
    if not isinstance(a, np.ndarray):
        return type(a).__name__
    if a.ndim and 0 in a.strides and a.size > 1:
        return "bcast"
    if a.flags.c_contiguous:
        return "C"
    if any(s < 0 for s in a.strides):
        return "neg"
    if a.flags.f_contiguous:
        return "T"
    return "strided"


def describe(args):
    out = []
    for a in args:
        if isinstance(a, np.ndarray):
            out.append(f"{a.dtype}{list(a.shape)}{'' if layout_of(a) == 'C' else ':' + layout_of(a)}")
        else:
            out.append(repr(a))
    return ", ".join(out)


# ---------------------------------------------------------------------------------------------
# Comparison


def _as_float_arrays(e, g):
    return np.asarray(e), np.asarray(g)


def compare(expected, got, tol, signed_zeros=True):
    """None when `got` matches `expected` under `tol`, else what differs.

    tol: None (bit-exact), ("ulp", n) or ("abs", bound_array) for float results."""
    if type(got) is not type(expected):
        return f"type {type(got).__name__} != {type(expected).__name__}"
    if isinstance(expected, (tuple, list)):
        if len(got) != len(expected):
            return f"length {len(got)} != {len(expected)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            d = compare(e, g, tol if not isinstance(tol, list) else tol[i], signed_zeros)
            if d:
                return f"item {i}: {d}"
        return None
    if isinstance(expected, np.dtype):
        return None if expected == got else f"dtype object {got} != {expected}"
    if not isinstance(expected, (np.ndarray, np.generic)):
        same = expected == got or (expected != expected and got != got)
        return None if same else f"{got!r} != {expected!r}"
    if got.dtype != expected.dtype:
        return f"dtype {got.dtype} != {expected.dtype}"
    if got.shape != expected.shape:
        return f"shape {got.shape} != {expected.shape}"
    e, g = np.asarray(expected), np.asarray(got)
    if e.dtype.kind != "f":
        return None if np.array_equal(e, g) else f"values differ:\n    want {e!r}\n    got  {g!r}"
    bad_nan = np.isnan(e) != np.isnan(g)
    if bad_nan.any():
        return f"NaN positions differ:\n    want {e!r}\n    got  {g!r}"
    if tol is None:
        ok = (e == g) | np.isnan(e)
        if signed_zeros:
            ok &= (np.signbit(e) == np.signbit(g)) | np.isnan(e)
    else:
        kind, bound = tol
        ok = (e == g) | np.isnan(e)
        inf = np.isinf(e) | np.isinf(g)
        if kind == "ulp":
            w = np.longdouble if e.dtype == np.float64 else np.float64
            with np.errstate(all="ignore"):
                d = np.abs(g.astype(w) - e.astype(w)) / np.spacing(np.abs(e)).astype(w)
            ok |= ~inf & (d <= bound)
            zeros = (e == 0) & (g == 0)
            ok &= ~zeros | (np.signbit(e) == np.signbit(g))
        else:  # absolute bound per element (a float64 array broadcast to e's shape)
            bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), e.shape)
            with np.errstate(all="ignore"):
                d = np.abs(g.astype(np.float64) - e.astype(np.float64))
            ok |= ~inf & np.isfinite(bound) & (d <= bound)
    if not np.all(ok):
        bad = np.argwhere(~np.asarray(ok))[:3].tolist()
        return (f"{int(np.size(ok) - np.count_nonzero(ok))} of {np.size(ok)} elements differ, "
                f"at {bad}:\n    want {e!r}\n    got  {g!r}")
    return None


# ---------------------------------------------------------------------------------------------
# Running cases


@dataclass
class Case:
    src: str  # the body: one expression over a, b, c (or a full def when it starts with "def")
    args: tuple
    tol: object = None  # None, ("ulp", n), ("abs", array) or a callable(args, expected) -> tol
    tag: str = ""  # op name for the fallback summary
    signed_zeros: bool = True
    empty_values: bool = False  # np.empty: only type/dtype/shape are compared


@dataclass
class Family:
    name: str
    cases: int = 0
    raised: int = 0
    compiled: int = 0
    failures: list = field(default_factory=list)
    fallbacks: dict = field(default_factory=dict)  # (tag, reason) -> count
    unexpected: list = field(default_factory=list)


def make_fn(src, nargs):
    if src.startswith("def "):
        text = src
    else:
        names = ", ".join("abcdefgh"[:nargs])
        text = f"def f({names}):\n    return {src}\n"
    ns = {"np": np}
    exec(compile(text, f"<{src[:40]}>", "exec"), ns)
    return ns["f"]


def run_case(fam, case):
    fn = make_fn(case.src, len(case.args))
    what = f"{case.src}  with ({describe(case.args)})"
    if VERBOSE:
        print("case:", what.replace("\n", " | "), flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with np.errstate(all="ignore"):
            try:
                want, want_exc = fn(*case.args), None
            except Exception as exc:  # noqa: BLE001 - every NumPy error must be mirrored
                want, want_exc = None, exc
            jf = tracejit.jit(fn, hot=0, sync=True)
            try:
                got, got_exc = jf(*case.args), None
            except Exception as exc:  # noqa: BLE001
                got, got_exc = None, exc
    fam.cases += 1
    st = jf.stats()
    assert st["calls"] == 1
    if want_exc is not None:
        fam.raised += 1
        if type(got_exc) is not type(want_exc) or str(got_exc) != str(want_exc):
            fam.failures.append(f"{what}\n  NumPy raised {want_exc!r}, jit gave "
                                f"{got_exc!r}" + ("" if got_exc else f" -> {got!r}"))
        return
    if got_exc is not None:
        fam.failures.append(f"{what}\n  jit raised {got_exc!r}; NumPy gave {want!r}")
        return
    if case.empty_values:
        diff = None if (type(got) is type(want) and got.dtype == want.dtype and got.shape == want.shape) \
            else f"np.empty: {type(got)} {got.dtype} {got.shape} != {type(want)} {want.dtype} {want.shape}"
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the bounds of empty reductions are NaN
            tol = case.tol(case.args, want) if callable(case.tol) else case.tol
        diff = compare(want, got, tol, case.signed_zeros)
    if diff:
        fam.failures.append(f"{what}\n  {diff}")
    if st["compiled_calls"]:
        fam.compiled += 1
        return
    reasons = [re.sub(r"^.*?:\d+: ", "", r) for r in st["fallback_reasons"]] or ["(no reason given)"]
    for reason in reasons:
        key = (case.tag or case.src, reason)
        fam.fallbacks[key] = fam.fallbacks.get(key, 0) + 1
    if not all(any(re.search(p, reason) for p in KNOWN_FALLBACKS) for reason in reasons):
        fam.unexpected.append(f"{what}\n  fell back: {reasons}")


def tanh_f32_9(case):
    a = case.args[0] if case.args else None
    return (case.src == "np.tanh(a)" and isinstance(a, np.ndarray) and a.dtype == np.float32
            and a.size == 9 and a.flags.c_contiguous)


# Cases that abort the process (an LLVM error in the backend): not run in-process; each gets an
# xfail(strict=True) test that runs it in a subprocess. None today (tanh_f32_9 was one until
# float32 tanh became native; test_tanh_float32_9_compiles keeps it in a subprocess).
KNOWN_CRASHES = []


def run_family(name, cases, min_compiled):
    fam = Family(name)
    t0 = time.perf_counter()
    for c in cases:
        crash = next((why for pred, why in KNOWN_CRASHES if pred(c)), None)
        if crash:
            print(f"\n  skipped (known crash, see test_known_crash_*): {c.src} with ({describe(c.args)}): {crash}")
            continue
        run_case(fam, c)
    dt = time.perf_counter() - t0
    ran = fam.cases - fam.raised
    share = fam.compiled / ran if ran else 1.0
    print(f"\n[{name}] {fam.cases} cases in {dt:.1f}s: {fam.compiled}/{ran} compiled ({share:.0%}), "
          f"{fam.raised} raised in NumPy (mirrored), {len(fam.failures)} mismatches")
    for (tag, reason), n in sorted(fam.fallbacks.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"  fallback x{n}: {tag}: {reason}")
    assert not fam.failures, f"{len(fam.failures)} mismatches in {name}:\n" + "\n".join(fam.failures[:12])
    assert not fam.unexpected, (f"{len(fam.unexpected)} unexpected fallbacks in {name}:\n"
                                + "\n".join(fam.unexpected[:12]))
    assert share >= min_compiled, f"{name}: only {share:.0%} compiled (threshold {min_compiled:.0%})"
    return fam


def n_of(k):
    return max(1, int(round(k * SCALE)))


def rng_for(name):
    return np.random.default_rng([SEED, sum(map(ord, name))])


def pick(r, seq):
    return seq[int(r.integers(len(seq)))]


# ---------------------------------------------------------------------------------------------
# Families

PY_INTS = [0, 1, 2, 3, -1, 7, 300, -129, 2**40]
PY_FLOATS = [0.5, -2.25, 0.0, -0.0, 3.0, 1e300]


def operand(r, dt, shape, kind="default"):
    """An array argument, a NumPy scalar argument or a Python constant (as source text)."""
    x = r.random()
    if x < 0.75:
        return make_array(r, dt, shape, kind=kind), None
    if x < 0.85:
        return np.asarray(fill(r, dt, 1, kind))[0], None  # a NumPy scalar
    return None, repr(pick(r, PY_INTS if r.random() < 0.6 else PY_FLOATS))


def binary_case(r, op_fmt, dts, kind="default", tol=None, tag=None, shapes=None):
    """op_fmt: e.g. '{0} + {1}' or 'np.arctan2({0}, {1})'."""
    shapes = shapes or bshapes(r, 2)
    args, names = [], []
    for i in range(2):
        arr, const = operand(r, dts[i], shapes[i], kind)
        if arr is None:
            names.append(const)
        else:
            names.append("abc"[len(args)])
            args.append(arr)
    if not args:  # keep one array operand
        args.append(make_array(r, dts[0], shapes[0], kind=kind))
        names[0] = "a"
    return Case(op_fmt.format(*names), tuple(args), tol, tag or op_fmt.format("x", "y"))


def gen_arithmetic(r):
    cases = []
    ops = ["+", "-", "*", "/", "//", "%"]
    for _ in range(n_of(120)):
        op = pick(r, ops)
        cases.append(binary_case(r, "{0} %s {1}" % op, (pick(r, DTYPES), pick(r, DTYPES)), tag=op))
    # ** : constant exponents (exact for 0, 1, 2 and 0.5; libm/SVML pow otherwise), arrays.
    for _ in range(n_of(40)):
        da = pick(r, DTYPES)
        a = make_array(r, da, rshape(r, int(r.integers(0, 3))), kind="default")
        e = pick(r, ["0", "1", "2", "3", "0.5", "2.0", "1.5", "-1", "-2.5", "b"])
        args = (a,)
        if e == "b":
            args = (a, make_array(r, pick(r, DTYPES), a.shape[-1:] if a.ndim else (), kind="small"))
        exact = e in ("0", "1", "2", "0.5", "2.0")
        cases.append(Case(f"a ** {e}", args, None if exact else ("ulp", ULP["power"]), tag=f"** {e}"))
    for _ in range(n_of(25)):
        f = pick(r, ["-a", "+a", "abs(a)", "np.negative(a)", "np.positive(a)", "np.absolute(a)",
                     "np.add(a, b)", "np.subtract(a, b)", "np.multiply(a, b)", "np.true_divide(a, b)",
                     "np.floor_divide(a, b)", "np.remainder(a, b)", "np.mod(a, b)", "np.power(a, 2)"])
        sa, sb = bshapes(r, 2)
        args = (make_array(r, pick(r, DTYPES), sa),)
        if "b" in f.replace("abs", ""):
            args += (make_array(r, pick(r, DTYPES), sb),)
        cases.append(Case(f, args, tag=f.split("(")[0]))
    return cases


def gen_compare_logic(r):
    cases = []
    for _ in range(n_of(50)):
        op = pick(r, ["<", "<=", "==", "!=", ">", ">="])
        cases.append(binary_case(r, "{0} %s {1}" % op, (pick(r, DTYPES), pick(r, DTYPES)), tag=op))
    for _ in range(n_of(45)):
        op = pick(r, ["&", "|", "^", "np.logical_and", "np.logical_or", "np.logical_xor",
                      "np.bitwise_and", "np.bitwise_or", "np.bitwise_xor"])
        fmt = "{0} %s {1}" % op if len(op) == 1 else op + "({0}, {1})"
        dts = [pick(r, ["bool"] + INTS + (FLOATS if r.random() < 0.3 else [])) for _ in range(2)]
        cases.append(binary_case(r, fmt, dts, tag=op))
    for _ in range(n_of(35)):
        f = pick(r, ["~a", "np.invert(a)", "np.logical_not(a)", "np.isnan(a)", "np.isinf(a)",
                     "np.isfinite(a)", "(a > 0) & (a < 3)", "~(a == b)", "(a != a) | (b >= 1)"])
        sa, sb = bshapes(r, 2)
        dt = pick(r, DTYPES) if "~a" not in f and "invert" not in f or r.random() < 0.3 else pick(r, ["bool"] + INTS)
        args = (make_array(r, dt, sa),)
        if "b" in f.replace("np.", "").replace("isnan", "").replace("isinf", ""):
            args += (make_array(r, pick(r, DTYPES), sb),)
        cases.append(Case(f, args, tag=f.split("(")[0]))
    return cases


UNARY_MATH = {  # name -> input domain (float kind for fill)
    "exp": "default", "expm1": "default", "exp2": "default", "log": (-1, 30), "log1p": (-2, 30),
    "log2": (-1, 30), "log10": (-1, 30), "sqrt": (-1, 30), "cbrt": "default", "square": "default",
    "reciprocal": "default", "sin": "default", "cos": "default", "tan": "default",
    "arcsin": (-1.2, 1.2), "arccos": (-1.2, 1.2), "arctan": "default", "sinh": "default",
    "cosh": "default", "tanh": "default", "arcsinh": "default", "arccosh": (0.5, 30),
    "arctanh": (-1.2, 1.2), "floor": "default", "ceil": "default", "trunc": "default",
    "rint": "default", "round": "default", "around": "default", "sign": "default", "abs": "default",
    "fabs": "default",
}
BINARY_MATH = ["arctan2", "hypot", "fmax", "fmin", "maximum", "minimum", "power"]


def gen_math(r):
    cases = []
    names = sorted(UNARY_MATH)
    for _ in range(n_of(150)):
        name = pick(r, names)
        # mostly floats (where the ulp bounds matter), some integers and bools
        dt = pick(r, FLOATS) if r.random() < 0.7 else pick(r, DTYPES)
        kind = UNARY_MATH[name]
        a = make_array(r, dt, rshape(r, int(r.integers(0, 4))), kind=kind)
        tol = ("ulp", ULP[name]) if name in ULP else None
        src = pick(r, [f"np.{name}(a)", f"a.round()"] if name == "round" else [f"np.{name}(a)"])
        cases.append(Case(src, (a,), tol, tag=f"{name} {dt}"))
    for _ in range(n_of(50)):
        name = pick(r, BINARY_MATH)
        dts = (pick(r, FLOATS + FLOATS + DTYPES), pick(r, FLOATS + FLOATS + DTYPES))
        kind = "small" if name == "power" else "default"
        tol = ("ulp", ULP[name]) if name in ULP else None
        c = binary_case(r, f"np.{name}({{0}}, {{1}})", dts, kind=kind, tol=tol, tag=name)
        cases.append(c)
    return cases


def gen_where_clip_cast(r):
    cases = []
    for _ in range(n_of(40)):
        sc, sx, sy = bshapes(r, 3)
        cond = pick(r, ["c", "c > 0", "c != c"])
        dc = "bool" if cond == "c" and r.random() < 0.7 else pick(r, DTYPES)
        args = [make_array(r, dc, sc)]
        names = []
        for s in (sx, sy):
            arr, const = operand(r, pick(r, DTYPES), s)
            if arr is None:
                names.append(const)
            else:
                names.append("ab"[len(args) - 1])
                args.append(arr)
        src = f"np.where({cond}, {names[0]}, {names[1]})"
        fn_args = ", ".join(["c"] + [n for n in ("a", "b") if n in names])
        cases.append(Case(f"def f({fn_args}):\n    return {src}\n", tuple(args), tag="where"))
    for _ in range(n_of(40)):
        dt = pick(r, DTYPES)
        a = make_array(r, dt, rshape(r, int(r.integers(0, 4))))
        lo, hi = pick(r, [(0, 5), (-1, 1), (None, 3), (2, None), (0.5, 2.5), (5, 0), (-3, 300)])
        form = pick(r, ["np.clip(a, {lo}, {hi})", "a.clip({lo}, {hi})", "np.clip(a, b, {hi})"])
        args = (a,)
        if "b" in form:
            b = make_array(r, dt, a.shape[-1:] if a.ndim else ())
            args = (a, b)
        cases.append(Case(form.format(lo=lo, hi=hi), args, tag=f"clip {dt}"))
    for _ in range(n_of(60)):
        src_dt, dst_dt = pick(r, DTYPES), pick(r, DTYPES)
        # "default" floats hold NaN, +-inf and signed zeros (float -> integer casts compile them)
        a = make_array(r, src_dt, rshape(r, int(r.integers(0, 4))), kind=pick(r, ["finite", "default"]))
        form = pick(r, ["a.astype(np.{d})", "a.astype('{d}')", "(a + a).astype(np.{d})"])
        cases.append(Case(form.format(d=dst_dt), (a,), tag=f"astype {src_dt}->{dst_dt}"))
    for _ in range(n_of(30)):
        src_dt, dst_dt = pick(r, DTYPES), pick(r, DTYPES)
        a = make_array(r, src_dt, rshape(r, int(r.integers(1, 3)), sizes=[1, 2, 3], p=[0.3, 0.4, 0.3]),
                       kind="finite")
        form = pick(r, ["np.{d}(a.max())", "np.{d}(a[0, ...].max())", "np.{d}(a.ravel()[-1])"])
        cases.append(Case(form.format(d=dst_dt), (a,), tag=f"np.{dst_dt}(scalar {src_dt})"))
    for _ in range(n_of(6)):
        dst_dt = pick(r, FLOATS + ["int64", "bool"])
        x = float(r.standard_normal())
        cases.append(Case(f"np.{dst_dt}(a) * 2" if dst_dt != "bool" else "np.bool_(a)", (x,),
                          tag=f"np.{dst_dt}(python float)"))
    return cases


REDUCTIONS = ["sum", "mean", "prod", "max", "min", "argmax", "argmin", "any", "all", "std", "var"]


def reduce_tol(op, axis, keepdims, ddof):
    """The float tolerance of a reduction: REDUCE_RTOL eps of its condition scale."""

    def tol(args, want):
        if not isinstance(want, (np.ndarray, np.floating)) or np.asarray(want).dtype.kind != "f":
            return None
        eps = float(np.finfo(np.asarray(want).dtype).eps)
        x = np.asarray(args[0]).astype(np.float64)
        ax = tuple(range(x.ndim)) if axis is None else axis
        n = int(np.prod([x.shape[i] for i in (ax if isinstance(ax, tuple) else (ax,))]))
        with np.errstate(all="ignore"):
            if op == "sum":
                scale = np.sum(np.abs(x), axis=ax, keepdims=keepdims)
            elif op == "mean":
                scale = np.mean(np.abs(x), axis=ax, keepdims=keepdims)
            elif op == "prod":
                scale = np.abs(np.asarray(want, dtype=np.float64)) * (n + 1)
            else:  # var, std: mean x^2 (times n / (n - ddof))
                scale = np.mean(x * x, axis=ax, keepdims=keepdims) * n / max(n - ddof, 1)
            bound = REDUCE_RTOL * eps * scale
            if op == "std":  # |sqrt(u) - sqrt(v)| <= sqrt(|u - v|)
                bound = np.sqrt(bound)
        return ("abs", bound)

    return tol


def rel_tol(k):
    """k eps of the result (relative), with an absolute floor of k eps."""

    def tol(args, want):
        if np.asarray(want).dtype.kind != "f":
            return None
        eps = float(np.finfo(np.asarray(want).dtype).eps)
        return ("abs", k * eps * (1 + np.abs(np.asarray(want, dtype=np.float64))))

    return tol


def gen_reductions(r):
    cases = []
    for _ in range(n_of(150)):
        op = pick(r, REDUCTIONS)
        rank = int(r.integers(0, 4))
        shape = rshape(r, rank)
        dt = pick(r, DTYPES)
        kind = "prod" if op == "prod" else ("default" if r.random() < 0.3 else "finite")
        a = make_array(r, dt, shape, kind=kind)
        x = r.random()
        if x < 0.3 or rank == 0:
            axis = None
        elif x < 0.75:
            axis = int(r.integers(-rank, rank))
        else:
            k = int(r.integers(1, rank + 1))
            axis = tuple(int(v) for v in r.choice(np.arange(-rank, 0) if r.random() < 0.3 else np.arange(rank), k, replace=False))
            if op in ("argmax", "argmin") and r.random() < 0.7:
                axis = None if rank == 0 else int(r.integers(rank))
        keepdims = bool(r.random() < 0.3)
        kw = []
        if axis is not None or r.random() < 0.2:
            kw.append(f"axis={axis!r}")
        if keepdims:
            kw.append("keepdims=True")
        ddof = 0
        if op in ("std", "var") and r.random() < 0.4:
            ddof = int(r.integers(0, 3))
            kw.append(f"ddof={ddof}")
        if op in ("sum", "prod", "mean") and r.random() < 0.15:
            kw.append(f"dtype=np.{pick(r, ['int64', 'float64', 'float32', 'uint32'])}")
        form = "a.{op}({kw})" if r.random() < 0.5 else "np.{op}(a{sep}{kw})"
        src = form.format(op=op, kw=", ".join(kw), sep=", " if kw else "")
        signed_zeros = op not in ("max", "min")
        cases.append(Case(src, (a,), reduce_tol(op, axis, keepdims, ddof), tag=f"{op} {dt}",
                          signed_zeros=signed_zeros))
    # Positional axis / keepdims, amax/amin, bad axes, and reductions inside expressions.
    specials = [
        ("np.sum(a, 0)", reduce_tol("sum", 0, False, 0)),
        ("np.mean(a, 1, None, None, True)", reduce_tol("mean", 1, True, 0)),
        ("np.max(a, 1, None, True)", None),
        ("np.amax(a, axis=0)", None),
        ("np.amin(a, axis=-1)", None),
        ("np.std(a, 0, None, None, 1)", reduce_tol("std", 0, False, 1)),
        ("a.argmax(axis=(0,))", None),
        ("a.max(axis=(0, 0))", None),
        ("a.sum(axis=2)", None),
        ("a.var(axis=1, ddof=3)", reduce_tol("var", 1, False, 3)),
        ("(a - a.mean(axis=1, keepdims=True)) / a.std(axis=1, keepdims=True)", rel_tol(64)),
        ("a.max(axis=1) - a.min(axis=1)", None),
        ("a.sum() / a.size", rel_tol(16)),
    ]
    for src, tol in specials:
        for dt in (pick(r, FLOATS), pick(r, INTS)):
            a = make_array(r, dt, (int(r.integers(1, 4)), 3), kind="finite")
            cases.append(Case(src, (a,), tol, tag=src, signed_zeros="max" not in src and "min" not in src))
    # Empty axes: NumPy raises for max/min/argmax (mirrored), mean/var warn and return NaN.
    for op in ["max", "argmin", "mean", "sum", "any", "var"]:
        a = make_array(r, pick(r, DTYPES), (0, 3))
        cases.append(Case(f"a.{op}(axis=0)", (a,), reduce_tol(op, 0, False, 0), tag=f"{op} empty axis"))
    return cases


def matmul_shapes(r):
    m, k, n = (int(r.choice([0, 1, 2, 3, 4], p=[0.1, 0.2, 0.2, 0.3, 0.2])) for _ in range(3))
    b1, b2 = int(r.choice([1, 2, 3])), int(r.choice([1, 2]))
    return pick(r, [
        ((k,), (k,)), ((m, k), (k,)), ((k,), (k, n)), ((m, k), (k, n)), ((m, k), (k, n)),
        ((b1, m, k), (k, n)), ((b1, m, k), (b1, k, n)), ((m, k), (b1, k, n)),
        ((b1, 1, m, k), (b2, k, n)), ((b1, m, k), (k,)),
    ])


def matmul_tol(src):
    def tol(args, want):
        if np.asarray(want).dtype.kind != "f":
            return None
        eps = float(np.finfo(np.asarray(want).dtype).eps)
        absargs = [np.abs(np.asarray(x).astype(np.float64)) for x in args]
        scale = make_fn(src, len(args))(*absargs)
        k = max([x.shape[-1] for x in absargs if x.ndim] or [1])
        return ("abs", (k + 2) * eps * np.asarray(scale))

    return tol


def gen_matmul(r):
    cases = []
    mm_dtypes = FLOATS * 3 + INTS + ["bool"]
    for _ in range(n_of(90)):
        sa, sb = matmul_shapes(r)
        da = pick(r, mm_dtypes)
        db = da if r.random() < 0.6 else pick(r, mm_dtypes)
        src = pick(r, ["a @ b", "np.matmul(a, b)", "np.dot(a, b)", "a.dot(b)"])
        if src.startswith(("np.dot", "a.dot")) and len(sa) > 2:
            src = "a @ b"
        a = make_array(r, da, sa, kind="finite" if da in FLOATS else "small")
        b = make_array(r, db, sb, kind="finite" if db in FLOATS else "small")
        cases.append(Case(src, (a, b), matmul_tol(src), tag=f"{src.split('(')[0]} {len(sa)}d@{len(sb)}d {da},{db}"))
    for _ in range(n_of(40)):
        da = pick(r, mm_dtypes)
        db = da if r.random() < 0.6 else pick(r, mm_dtypes)
        src = pick(r, ["np.outer(a, b)", "np.inner(a, b)"])
        if src.startswith("np.outer"):
            sa, sb = rshape(r, int(r.integers(0, 3))), rshape(r, int(r.integers(0, 3)))
        else:
            k = int(r.integers(0, 4))
            sa = rshape(r, int(r.integers(0, 3))) + (k,)
            sb = rshape(r, int(r.integers(0, 2))) + (k,)
            if r.random() < 0.2:
                sa = ()
        a = make_array(r, da, sa, kind="finite" if da in FLOATS else "small")
        b = make_array(r, db, sb, kind="finite" if db in FLOATS else "small")
        cases.append(Case(src, (a, b), matmul_tol(src), tag=f"{src.split('(')[0]} {len(sa)}d,{len(sb)}d {da},{db}"))
    # Errors NumPy raises: core-dimension mismatch, 0-d operands, batch mismatch.
    for sa, sb in [((2, 3), (4, 2)), ((3,), (4,)), ((), (3,)), ((2, 2, 3), (3, 3, 1))]:
        for src in ["a @ b", "np.dot(a, b)"]:
            a = make_array(r, "float64", sa, layout="C", kind="finite")
            b = make_array(r, "float64", sb, layout="C", kind="finite")
            cases.append(Case(src, (a, b), matmul_tol(src), tag=f"{src} error"))
    # Fused epilogues.
    for dt in FLOATS:
        a = make_array(r, dt, (3, 4), kind="finite")
        w = make_array(r, dt, (4, 5), kind="finite")
        bias = make_array(r, dt, (5,), kind="finite")
        src = "np.maximum(a @ b + c, 0)"
        cases.append(Case(src, (a, w, bias), lambda args, want: (
            "abs", 6 * np.finfo(want.dtype).eps * (np.abs(args[0]).astype(np.float64) @ np.abs(args[1]).astype(np.float64)
                                                  + np.abs(args[2]))), tag="mlp epilogue"))
    return cases


def reshape_targets(r, shape):
    n = int(np.prod(shape)) if shape else 1
    divs = [d for d in range(1, n + 1) if n % d == 0] or [1]
    d = pick(r, divs)
    return pick(r, [(n,), (-1,), (1, n), (n, 1), (-1, d), (d, -1, 1), (d, n // d if n else 0),
                    (n + 1,), (-1, -1), ()])


def random_slice(r, length):
    def bound():
        return pick(r, [None, 0, 1, -1, 2, -2, length, length + 3, -length - 2])
    step = pick(r, [None, 1, 2, -1, -2, 3, -3])
    return slice(bound(), bound(), step)


def slice_text(s):
    if isinstance(s, slice):
        t = f"{'' if s.start is None else s.start}:{'' if s.stop is None else s.stop}"
        return t + (f":{s.step}" if s.step is not None else "")
    return repr(s)


def gen_shape_ops(r):
    cases = []
    ops = ["reshape", "ravel", "transpose", "swapaxes", "squeeze", "expand_dims", "newaxis",
           "broadcast_to", "slice", "index", "concatenate", "stack", "hvstack", "split", "roll",
           "triu"]
    for _ in range(n_of(190)):
        op = pick(r, ops)
        dt = pick(r, DTYPES)
        rank = int(r.integers(0, 4))
        shape = rshape(r, rank)
        a = make_array(r, dt, shape)
        args = (a,)
        axis = int(r.integers(-rank - 1, rank + 1)) if rank else 0  # sometimes out of range
        if op == "reshape":
            t = reshape_targets(r, shape)
            src = pick(r, [f"a.reshape({t!r})", f"np.reshape(a, {t!r})"]
                       + ([f"a.reshape({', '.join(map(str, t))})"] if len(t) > 1 else []))
        elif op == "ravel":
            src = pick(r, ["a.ravel()", "np.ravel(a)", "a.flatten()", "a.flatten('F')", "np.ravel(a, 'F')",
                           "a.reshape(-1, order='F')"])
        elif op == "transpose":
            perm = tuple(int(p) for p in r.permutation(rank))
            if rank and r.random() < 0.15:
                perm = perm[:-1] + (perm[0],)  # a repeated axis: NumPy raises
            src = pick(r, ["a.T", "a.transpose()", "np.transpose(a)", f"np.transpose(a, {perm!r})",
                           f"a.transpose({perm!r})"] + ([f"a.transpose({', '.join(map(str, perm))})"] if rank > 1 else []))
        elif op == "swapaxes":
            i, j = (int(r.integers(-rank - 1, rank + 1)) if rank else 0 for _ in range(2))
            src = pick(r, [f"np.swapaxes(a, {i}, {j})", f"a.swapaxes({i}, {j})"])
        elif op == "squeeze":
            ones = [i for i, s in enumerate(shape) if s == 1]
            ax = pick(r, ones) if ones and r.random() < 0.6 else axis
            src = pick(r, ["a.squeeze()", "np.squeeze(a)", f"np.squeeze(a, axis={ax})", f"a.squeeze({ax})",
                           f"np.squeeze(a, axis={tuple(ones)!r})"])
        elif op == "expand_dims":
            ax2 = pick(r, [axis, (0, axis), (axis, axis), -1])
            src = f"np.expand_dims(a, {ax2!r})"
        elif op == "newaxis":
            src = pick(r, ["a[None]", "a[:, None]", "a[..., None]", "a[None, ..., None]", "a[np.newaxis, 1:]",
                           "a[None, ::-1]"])
        elif op == "broadcast_to":
            target = pick(r, [(2,) + shape, tuple(3 if s == 1 else s for s in shape), shape[1:], (4,) + shape[1:]])
            src = f"np.broadcast_to(a, {target!r})"
        elif op == "slice":
            idx = tuple(random_slice(r, s) for s in shape[:int(r.integers(0, rank + 1))])
            src = f"a[{', '.join(slice_text(s) for s in idx)}]" if idx else "a[...]"
        elif op == "index":
            if rank == 0:
                src = pick(r, ["a[()]", "a[...]", "a[None]"])
            else:
                ints = [int(r.integers(-s - 1, s + 1)) if s else 0 for s in shape]
                k = int(r.integers(1, rank + 1))
                src = pick(r, [f"a[{', '.join(map(str, ints[:k]))}]", f"a[{ints[0]}]",
                               f"a[{ints[0]}, ...]", f"a[..., {ints[-1]}]", f"a[{ints[0]}][{', '.join(map(str, ints[1:k])) or ':'}]",
                               f"a[{ints[0]}, ::-1]" if rank > 1 else "a[::-1]", "a[True]"])
        elif op in ("concatenate", "stack", "hvstack"):
            nparts = int(r.integers(1, 4))
            parts = []
            for _ in range(nparts):
                s = list(shape)
                if op == "concatenate" and rank and r.random() < 0.6:
                    s[axis % rank] = int(r.integers(0, 4))
                if r.random() < 0.05 and rank:
                    s[0] += 1  # mismatch: NumPy raises
                parts.append(make_array(r, dt if r.random() < 0.7 else pick(r, DTYPES), tuple(s)))
            names = ", ".join("abc"[:nparts])
            if op == "concatenate":
                src = pick(r, [f"np.concatenate(({names},), axis={axis})", f"np.concatenate([{names}])"])
            elif op == "stack":
                src = f"np.stack(({names},), axis={axis})"
            else:
                src = f"np.{pick(r, ['hstack', 'vstack'])}(({names},))"
            args = tuple(parts)
        elif op == "split":
            if rank == 0:
                a = make_array(r, dt, (4,))
                args, rank, shape = (a,), 1, (4,)
            ax = int(r.integers(-rank, rank))
            length = shape[ax]
            divs = [d for d in range(1, length + 1) if length % d == 0] or [1]
            how = pick(r, [str(pick(r, divs)), "3", "[1, 3]", "[-1]", "[2, 1]", "np.int64(2)"])
            nparts = eval(how) if how.isdigit() or how.startswith("np") else len(eval(how)) + 1
            i = int(r.integers(0, max(int(nparts), 1)))
            src = pick(r, [f"np.split(a, {how}, axis={ax})[{i}]", f"np.split(a, {how}, {ax})[{i}]"])
        elif op == "roll":
            shift = pick(r, [1, -1, 2, 7, -9, 0])
            ax = pick(r, ["None", str(axis), "(0, 1)", "-1"])
            src = pick(r, [f"np.roll(a, {shift})", f"np.roll(a, {shift}, axis={ax})", f"np.roll(a, {shift}, {ax})"])
        else:  # triu / tril
            if rank < 2:
                a = make_array(r, dt, rshape(r, 2 + int(r.random() < 0.3)))
                args = (a,)
            k = pick(r, [0, 1, -1, 2, -3])
            src = pick(r, [f"np.triu(a, {k})", f"np.tril(a, {k})", "np.triu(a)", "np.tril(a, k=1)"])
        # Returning a view of an argument runs eagerly: most cases return a copy of it.
        if r.random() < 0.85 and op not in ("concatenate", "stack", "hvstack", "roll", "triu"):
            src = f"({src}).copy()" if "a[True]" not in src else f"({src}) * 1"
        cases.append(Case(src, args, tag=op))
    return cases


def gen_creation(r):
    cases = []
    for _ in range(n_of(110)):
        op = pick(r, ["zeros", "ones", "empty", "full", "zeros_like", "ones_like", "empty_like",
                      "full_like", "arange", "linspace", "eye"])
        dt = pick(r, DTYPES)
        shape = rshape(r, int(r.integers(0, 4)))
        a = make_array(r, pick(r, DTYPES), shape)
        dtkw = pick(r, ["", f", dtype=np.{dt}", f", '{dt}'"])
        fill_v = pick(r, ["2", "-1", "0.5", "2.7", "True", "300", "np.nan", "np.float32(1.5)", "np.int8(-3)", "b"])
        args = (a,)
        if op in ("zeros", "ones", "empty"):
            s = pick(r, ["a.shape", repr(shape), str(shape[0]) if shape else "()"])
            src = f"np.{op}({s}{dtkw})"
        elif op == "full":
            s = pick(r, ["a.shape", repr(shape)])
            src = f"np.full({s}, {fill_v}{dtkw})"
        elif op.endswith("_like"):
            src = f"np.{op}(a{', ' + fill_v if op == 'full_like' else ''}{dtkw.replace(', ', ', dtype=') if dtkw.startswith(', ' + chr(39)) else dtkw})"
        elif op == "arange":
            n = int(r.integers(0, 7))
            form = pick(r, ["np.arange({n}{dtkw})", "np.arange(2, {n}{dtkw})", "np.arange({n}, -3, -2{dtkw})",
                            "np.arange(1, 3 * {n}, 3{dtkw})", "np.arange(b{dtkw})", "np.arange({n}, step=2)",
                            "np.arange(0.5, {n}{dtkw})", "np.arange(0, {n}, 0.5)", "np.arange(start=1, stop={n})"])
            src = form.format(n=n, dtkw=dtkw.replace(", '", ", dtype='"))
            args = (a, n)
        elif op == "linspace":
            n = int(r.integers(0, 7))
            form = pick(r, ["np.linspace(0, 1, {n})", "np.linspace(-2.5, 4, {n}, endpoint=False)",
                            "np.linspace(0, 10, {n}{dtkw})", "np.linspace(1, 0, b)"])
            src = form.format(n=n, dtkw=dtkw.replace(", '", ", dtype='"))
            args = (a, n)
        else:
            n = int(r.integers(0, 5))
            form = pick(r, ["np.eye({n})", "np.eye({n}, {m}, {k})", "np.eye({n}{dtkw})", "np.eye(b, k={k})"])
            src = form.format(n=n, m=int(r.integers(0, 5)), k=int(r.integers(-2, 3)),
                              dtkw=dtkw.replace(", '", ", dtype='"))
            args = (a, n)
        args = (a, int(r.integers(0, 5)))  # b: a Python int (specialized by value)
        cases.append(Case(src, args, tag=f"{op}", empty_values=op.startswith("empty")))
    return cases


def gram_tol(args, want):
    """a.T @ a for a 2-d float a (BLAS): as matmul_tol; anything else is exact."""
    a = args[0]
    if not (isinstance(want, np.ndarray) and want.dtype.kind == "f" and a.ndim == 2 and a.dtype.kind == "f"):
        return None
    x = np.abs(a.astype(np.float64))
    return ("abs", (a.shape[0] + 2) * float(np.finfo(want.dtype).eps) * (x.T @ x))


def gen_attributes(r):
    cases = []
    forms = ["a.shape", "a.ndim", "a.size", "a.dtype", "(a.shape, a.ndim, a.size)", "a.T * 2",
             "a.T.copy()", "a.sum(axis=a.ndim - 1) if a.ndim else a * 1", "np.zeros(a.shape, a.dtype) + a",
             "a.astype(a.dtype)", "a * a.size", "a.reshape(a.shape[::-1]).copy()", "len(a) + a.ndim",
             "np.ones_like(a) * a.shape[0] if a.ndim else a", "a.T @ a if a.dtype.kind == 'f' and a.ndim == 2 else a.T.copy()",
             "a.dtype == np.float32", "a.astype(np.float64) / a.size if a.size else a"]
    for _ in range(n_of(45)):
        src = pick(r, forms)
        shape = rshape(r, int(r.integers(0 if "len" not in src else 1, 4)))
        a = make_array(r, pick(r, DTYPES), shape, kind="finite")
        cases.append(Case(src, (a,), gram_tol if "@" in src else None, tag=src))
    return cases


FAMILIES = {
    # name: (generator, min compiled share of the cases NumPy did not raise for)
    "arithmetic": (gen_arithmetic, 0.9),
    "compare_logic": (gen_compare_logic, 0.9),
    "math": (gen_math, 0.75),
    "where_clip_cast": (gen_where_clip_cast, 0.85),
    "reductions": (gen_reductions, 0.9),
    "matmul": (gen_matmul, 0.85),
    "shape_ops": (gen_shape_ops, 0.75),
    "creation": (gen_creation, 0.8),
    "attributes": (gen_attributes, 0.8),
}


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_op_family(family):
    gen, min_compiled = FAMILIES[family]
    run_family(family, gen(rng_for(family)), min_compiled)


def test_compare_detects_differences():
    """The comparison itself: each kind of difference is reported."""
    f64 = np.array([1.0, -0.0, np.nan])
    assert compare(f64, f64.copy(), None) is None
    assert compare(f64, np.array([1.0, 0.0, np.nan]), None)  # sign of zero
    assert compare(f64, np.array([1.0, -0.0, 1.0]), None)  # NaN position
    assert compare(f64, np.array([np.nextafter(1.0, 2.0), -0.0, np.nan]), None)  # one ulp
    assert compare(f64, np.array([np.nextafter(1.0, 2.0), -0.0, np.nan]), ("ulp", 1)) is None
    assert compare(f64, np.array([1.0 + 8e-16, -0.0, np.nan]), ("ulp", 2))
    assert compare(f64, f64.astype(np.float32), None)  # dtype
    assert compare(f64, f64[:2], None)  # shape
    assert compare(np.float64(1.0), np.array(1.0), None)  # type
    assert compare(np.array([1, 2]), np.array([1, 3]), None)  # integers
    assert compare(f64, np.array([1.5, -0.0, np.nan]), ("abs", 0.4))
    assert compare(f64, np.array([1.3, -0.0, np.nan]), ("abs", 0.4)) is None


def test_fixed_tracer_bugs():
    """Wrong answers these tests found in the tracer (fixed): each must now match NumPy."""
    fam = Family("regressions")
    a = np.arange(12.0).reshape(3, 4)
    for src, args in [
        ("np.arange(b, step=2)", (a, 7)),  # step= keyword was ignored
        ("np.arange(start=1, stop=b)", (a, 6)),
        ("a[True] * 1", (a,)),  # a bool index is a mask, not the integer 1
        ("a[()].copy()", (np.array(2.5),)),  # a 0-d array's [()] is a NumPy scalar
        ("a[1, 2, ...].copy()", (a,)),  # ... keeps a 0-d array
        ("np.split(a, np.int64(2))[1].copy()", (np.arange(4.0),)),  # a NumPy int is a section count
        ("np.split(a, np.int64(2), axis=1)[0].copy()", (np.arange(15).reshape(3, 5),)),
        ("np.roll(a, 1, axis=(0, 1))", (a,)),  # every listed axis rolls
        ("np.roll(a, 1, axis=5)", (a,)),  # AxisError
        ("np.roll(a, 1, -1)", (np.array(2),)),  # 0-d: AxisError (was a crash)
        ("np.squeeze(a, axis=5) * 1", (a[:1],)),  # AxisError
        ("np.expand_dims(a, axis=5) * 1", (a,)),
        ("np.expand_dims(a, (0, 0)) * 1", (a,)),
        ("np.transpose(a, (0, 0)) * 1", (a,)),  # repeated axis (was a crash)
        ("a.reshape(4, 3, order='F') * 1", (a,)),  # F order was ignored
        ("np.ravel(a, 'F') * 1", (a,)),
        ("a.flatten('F')", (a,)),
        ("np.full(a.shape, 300, dtype=np.int8)", (a,)),  # NumPy raises OverflowError
        ("np.full_like(a, 300, dtype=np.int8)", (a,)),
        ("np.full(a.shape, -1, dtype=np.uint8)", (a,)),
        ("np.full(a.shape, 2.7, dtype=np.int16)", (a,)),
        ("np.full(a.shape, 300, dtype=bool)", (a,)),
        ("a.argmax(axis=(0,))", (a,)),  # NumPy raises TypeError
        ("(a + a).astype(np.float32)", (np.array(3, np.int16),)),  # a NumPy scalar stays one
        ("(a + a).copy()", (np.array(3, np.int16),)),
        ("np.isnan(a) | np.isinf(a) | ~np.isfinite(a)", (np.arange(5, dtype=np.int8),)),
        ("np.floor(a) + np.ceil(a) + np.trunc(a)", (np.arange(-3, 3, dtype=np.int16),)),
        ("np.reciprocal(a)", (np.array([0.0, -0.0, 2.0, np.inf, np.nan], np.float32),)),
        ("np.fabs(a)", (np.array([-0.0, -2.0, np.nan]),)),
        ("np.inner(a, b)", (a, np.arange(8.0).reshape(2, 4))),
        ("np.inner(a, b)", (np.arange(4, dtype=np.int32), np.arange(4, dtype=np.int8))),
        ("np.dot(a, b)", (np.arange(3, dtype=np.float32), 2.5)),  # float64, as NumPy (was float32)
        ("np.dot(b, a)", (np.arange(3, dtype=np.float32), 2.5)),
        ("a.round()", (np.array([True, False]),)),  # float16 in NumPy (was bool)
        ("np.around(a)", (np.array(2.5),)),  # a NumPy scalar (was a 0-d array)
        ("a.round()", (np.array(7, np.int32),)),
    ]:
        run_case(fam, Case(src, args, tag=src))
    assert not fam.failures, "\n".join(fam.failures)
    assert fam.raised >= 7, fam.raised
    assert not fam.unexpected, "\n".join(fam.unexpected)


FLOAT_TO_INT_SPECIALS = [np.nan, -np.nan, np.inf, -np.inf, 0.5, -0.5, -1.0, -0.0, 1.5, 127.9, 128.0, -129.0, 255.9,
                         256.0, 32768.0, -32769.0, 65536.0, 2.0**31, -2.0**31 - 1, 2.0**32, 1e10, -1e10, 2.0**63,
                         -2.0**63, 1.8e19, 2.0**64, 1e300, -1e300, 5e-324, -5e-324, 1e-45]


@pytest.mark.parametrize("src", FLOATS)
def test_float_to_int_casts_match_numpy(src):
    """Float -> integer casts compile and give NumPy's bits for NaN, +-inf, out-of-range values and
    denormals, at every position of arrays of several lengths (vector body and scalar tail), for
    contiguous, stepped and transposed inputs; through astype, np.int64(scalar) and sum(dtype=)."""
    with np.errstate(over="ignore"):
        base = np.array(FLOAT_TO_INT_SPECIALS, dtype=src)  # 1e300 -> inf in float32
    fns = {d: make_fn(f"a.astype(np.{d})", 1) for d in INTS}
    for n in (1, 3, 8, len(base), 4 * len(base) + 3):
        x = np.resize(np.roll(base, n), n)
        for arr in (x, np.resize(base, (2 * n,))[::2], np.resize(base, (3, n)).T):
            for d in INTS:
                jf = tracejit.jit(fns[d], hot=0, sync=True)
                with np.errstate(all="ignore"):
                    want, got = fns[d](arr), jf(arr)
                assert compare(want, got, None) is None, (d, n, arr.strides, compare(want, got, None))
                st = jf.stats()  # uint32: astype runs eagerly (at a graph break at its call)
                compiled = st["compiled_calls"] == 1 and not st["graph_breaks"]
                assert compiled == (d != "uint32"), (d, st["fallback_reasons"], st["graph_break_reasons"])
    for d in ("int8", "int64", "uint16", "uint64"):
        for v in base:
            a = np.array([v, 0.0], dtype=src)
            for body in (f"np.{d}(a.max())", f"np.{d}(a[0, ...].min()) * 1", f"a.sum(dtype=np.{d})"):
                f = make_fn(body, 1)
                jf = tracejit.jit(f, hot=0, sync=True)
                with np.errstate(all="ignore"):
                    want, got = f(a), jf(a)
                assert compare(want, got, None) is None, (body, v, want, got)
                # (max of -0.0 and 0.0 cast to an integer: either zero gives 0, no re-run)
                assert jf.stats()["compiled_calls"] == 1, (body, v, jf.stats()["fallback_reasons"])


@pytest.mark.parametrize("dt", FLOATS + ["int32"])
def test_matmul_non_contiguous_operands_compile(dt):
    """matmul/dot/inner of transposed, Fortran-ordered, stepped, reversed and broadcast inputs
    (whose strides the kernel reads at run time) compile and match NumPy, batched ones too."""
    r = np.random.default_rng(5)

    def arr(shape):
        return (r.standard_normal(shape) * 4).round().astype(dt)

    w = arr((6, 5))
    cases = [
        ("a @ b", (arr((4, 6)), w.T.copy().T)),
        ("a @ b", (arr((4, 6)), np.asfortranarray(w))),
        ("a @ b", (arr((4, 6)), arr((12, 5))[::2])),
        ("a @ b", (arr((4, 6)), arr((6, 10))[:, ::2])),
        ("a @ b", (arr((4, 6))[::-1], w[::-1])),
        ("a @ b", (np.broadcast_to(arr((6,)), (4, 6)), np.broadcast_to(arr((6, 1)), (6, 5)))),
        ("a @ b.T", (arr((4, 6)), np.asfortranarray(arr((5, 6))))),
        ("a @ b", (arr((3, 6, 4)).transpose(0, 2, 1), arr((3, 6, 10))[:, :, ::2])),
        ("a @ b", (np.broadcast_to(arr((4, 6)), (3, 4, 6)), arr((5, 6)).T)),
        ("np.dot(a, b)", (arr((4, 12))[:, ::2], arr((18,))[::3])),
        ("np.dot(a, b)", (arr((18,))[::-3], np.asfortranarray(w))),
        ("np.inner(a, b)", (np.asfortranarray(arr((4, 6))), arr((5, 12))[:, ::2])),
        ("np.maximum(a @ b + 1, 0)", (arr((4, 6)), w.T.copy().T)),
    ]
    for src, args in cases:
        f = make_fn(src, 2)
        jf = tracejit.jit(f, hot=0, sync=True)
        want, got = f(*args), jf(*args)
        tol = matmul_tol(src)(args, want) if dt != "int32" else None
        if src.startswith("np.maximum"):
            tol = ("abs", 1e-5 * (1 + np.abs(want)))
        assert compare(want, got, tol) is None, (src, describe(args), compare(want, got, tol))
        assert jf.stats()["compiled_calls"] == 1, (src, describe(args), jf.stats()["fallback_reasons"])


def test_tanh_float32_9_compiles():
    # Once aborted the process in LLVM instruction selection ('Cannot select: f32 =
    # extract_vector_elt (v2f64 extract_subvector (v8f64 fp_extend v8f32))'): run in a subprocess.
    import subprocess
    import sys
    code = ("import numpy as np, tracejit\n"
            "a = np.linspace(-2, 2, 9).astype(np.float32)\n"
            "f = tracejit.jit(lambda a: np.tanh(a), hot=0, sync=True)\n"
            "r = f(a)\n"
            "assert f.stats()['compiled_calls'] == 1\n"
            "assert np.allclose(r, np.tanh(a), rtol=1e-6, atol=0)\n")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
