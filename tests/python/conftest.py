"""Shared helpers for the end-to-end tests: compare a jitted result with eager NumPy's."""
import functools
import os
import tempfile
import warnings

import numpy as np
import pytest

# Tests import the installed package (`pip install .`), or the developer build with
# PYTHONPATH=python. Compilation is synchronous so that a compiled call is observable at once.
os.environ.setdefault("TRACEJIT_SYNC", "1")
# The persistent kernel cache of the test run lives in a fresh directory, not the user's.
os.environ.setdefault("TRACEJIT_CACHE_DIR", tempfile.mkdtemp(prefix="tracejit-test-cache-"))

# np.sort as a call the tracer does not hold (a functools.partial is not traced): the graph
# break of the resume tests, with np.sort's result (np.sort itself compiles).
eager_sort = functools.partial(np.sort)

# Tolerances for transcendental ops (exp/log/tanh/sin/cos/pow): a few ulp of the result dtype.
RTOL = {np.dtype(np.float32): 1e-6, np.dtype(np.float64): 1e-14}


def assert_same(expected, got, rtol=0.0, signed_zeros=True):
    """`got` equals `expected` as NumPy would return it: same Python type, same structure,
    same dtype and shape, same values (bit-exact when rtol == 0, NaN == NaN, and the sign of
    zero when signed_zeros)."""
    assert type(got) is type(expected), f"type {type(got).__name__} != {type(expected).__name__}"
    if isinstance(expected, tuple):
        assert len(got) == len(expected)
        for e, g in zip(expected, got):
            assert_same(e, g, rtol, signed_zeros)
        return
    if isinstance(expected, (np.ndarray, np.generic)):
        assert got.dtype == expected.dtype, f"dtype {got.dtype} != {expected.dtype}"
        assert got.shape == expected.shape, f"shape {got.shape} != {expected.shape}"
        e, g = np.asarray(expected), np.asarray(got)
        if e.dtype.kind in "fc":
            if rtol:
                np.testing.assert_allclose(g, e, rtol=rtol, atol=0, equal_nan=True)
            else:
                assert np.array_equal(e, g, equal_nan=True), f"{g!r} != {e!r}"
            if signed_zeros and e.dtype.kind == "f":
                zeros = (e == 0) & (g == 0)
                assert np.array_equal(np.signbit(e[zeros]), np.signbit(g[zeros])), "sign of zero differs"
        else:
            assert np.array_equal(e, g), f"{g!r} != {e!r}"
        return
    if isinstance(expected, float):
        if rtol:
            assert got == pytest.approx(expected, rel=rtol, nan_ok=True)
        else:
            assert (np.isnan(got) and np.isnan(expected)) or got == expected
        return
    assert got == expected


def random_array(dtype, shape, seed=0, span=1000):
    """Random data of `dtype`: standard normal floats, 0/1 bools, integers in [-span, span)
    clipped to the dtype's range."""
    rng = np.random.default_rng(seed)
    if np.dtype(dtype) == np.bool_:
        return rng.integers(0, 2, shape).astype(bool)
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    info = np.iinfo(dtype)
    return rng.integers(max(info.min, -span), min(info.max, span), shape, dtype=dtype)


@pytest.fixture
def same():
    return assert_same


@pytest.fixture
def quiet():
    """Silence the RuntimeWarnings eager NumPy raises for /0, overflow, invalid values."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with np.errstate(all="ignore"):
            yield


# ---------------------------------------------------------------------------------------------
# Helpers of the whole-program tests (graph breaks, closures, try blocks, loops): jit with
# synchronous compiles from the first call, and eager-vs-jitted comparison of returns, printed
# output, in-place updates and exceptions.

def jit_now(fn, **kw):
    """tracejit.jit compiling on the first call, synchronously (so stats() sees it at once)."""
    import tracejit
    kw.setdefault("hot", 0)
    kw.setdefault("sync", True)
    return tracejit.jit(fn, **kw)


def assert_compiled(jf, calls=1):
    """All `calls` calls of jitted `jf` ran compiled: no graph break, no eager fallback."""
    s = jf.stats()
    assert s["compiled_calls"] == calls and not s["graph_breaks"] and not s["fallback_reasons"], s


def run_compiled(fn, *args):
    """fn jitted (compiled on the first call) and called once; asserts that the call compiled."""
    jf = jit_now(fn)
    got = jf(*args)
    assert_compiled(jf)
    return got


def check_compiled(fn, *args):
    """The jitted call compiled and returns what eager fn(*args) returns (assert_same)."""
    want = fn(*args)
    got = run_compiled(fn, *args)
    assert_same(want, got)
    return got


def check_same_outcome(fn, *args):
    """fn(*args) eagerly and jitted (whether it compiles or not): the same exception type when
    NumPy raises, else the same result (assert_same). Returns the jitted function when NumPy
    returned (for assert_compiled), None when it raised."""
    try:
        want = fn(*args)
    except Exception as e:  # noqa: BLE001 - compare whatever NumPy raises
        with pytest.raises(type(e)):
            jit_now(fn)(*args)
        return None
    jf = jit_now(fn)
    assert_same(want, jf(*args))
    return jf


def same_nested(expected, got, rtol=1e-12):
    """assert_same through lists, tuples and dicts (of arrays, numbers, lists); floats within rtol
    (compiled tanh/sqrt may differ from NumPy's by an ulp)."""
    if isinstance(expected, (list, tuple)):
        assert type(got) is type(expected) and len(got) == len(expected), (got, expected)
        for e, g in zip(expected, got):
            same_nested(e, g, rtol)
    elif type(expected) is dict:
        assert type(got) is dict and list(got) == list(expected), (got, expected)  # keys, in order
        for k in expected:
            same_nested(expected[k], got[k], rtol)
    else:
        assert_same(expected, got, rtol=rtol)


def record(fn, *args):
    """(result, (exception type, message) or None, [(category, message, lineno)]) of fn(*args):
    what a call returned or raised (FloatingPointError under np.errstate(...='raise')) and
    every warning it emitted, so an eager and a jitted call can be compared whole."""
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            r, exc = fn(*args), None
        except FloatingPointError as e:
            r, exc = None, (type(e), str(e))
    return r, exc, [(x.category, str(x.message), x.lineno) for x in w]


def random_args(*shapes, seed=0):
    """make_args for compare_eager / run_both: call k gets standard normal arrays of `shapes`
    drawn with seed + k."""
    def make(k):
        r = np.random.default_rng(seed + k)
        return tuple(r.standard_normal(s) for s in shapes)
    return make


def compare_eager(fn, make_args, capsys, calls=3, **jit_kw):
    """Runs fn eagerly and jitted `calls` times each on fresh arguments (make_args(k) for call
    k): the same returns, printed output and arguments afterwards (in-place updates; lists keep
    their length). Returns the jitted function, for stats()."""
    ref = []
    for k in range(calls):
        args = make_args(k)
        ref.append((fn(*args), args, capsys.readouterr().out))
    jf = jit_now(fn, **jit_kw)
    for k in range(calls):
        args = make_args(k)
        got = jf(*args)
        out = capsys.readouterr().out
        want, want_args, want_out = ref[k]
        same_nested(want, got)
        assert out == want_out, (out, want_out)
        for wa, ga in zip(want_args, args):
            if isinstance(wa, np.ndarray):
                assert_same(wa, ga, rtol=1e-12)
            elif isinstance(wa, list):
                assert len(wa) == len(ga)
    return jf
