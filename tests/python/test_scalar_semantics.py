"""Scalar work inside loop bodies (issue #5): merges of scalars whose Python type differs
(`x[i] if c else 0.0`), Python int arithmetic on the loop variable (`i // 2`, `i % 2 == 0`),
branches whose arms store into arrays, reductions over windows of runtime extent. Every case
is compared with eager NumPy (type, dtype, bits, in-place updates of arguments), runs several
times, and is asserted compiled (or, where the answer would depend on the data's type, to fall
back with the reason)."""
import re

import numpy as np
import pytest

import tracejit
from conftest import assert_same


def jit(f, **kw):
    return tracejit.jit(f, hot=0, sync=True, **kw)


def copies(args):
    return [a.copy() if isinstance(a, np.ndarray) else a for a in args]


def check(f, *args, compiled=True, calls=3, native=None):
    """f eagerly and jitted (`calls` times): same results and same in-place updates of array
    arguments. compiled: every call ran compiled (or, False, none did and a reason is given).
    native: how many loop regions must be native loop nests."""
    want_args = copies(args)
    want = f(*want_args)
    jf = jit(f)
    for _ in range(calls):
        got_args = copies(args)
        got = jf(*got_args)
        assert_same(want, got)
        for w, g in zip(want_args, got_args):
            if isinstance(w, np.ndarray):
                assert_same(w, g)
    st = jf.stats()
    if compiled:
        assert st["compiled_calls"] == calls and st["fallback_calls"] == 0, st
    else:
        assert st["compiled_calls"] == 0 and st["fallback_reasons"], st
    if native is not None:
        (entry,) = jf.cache_info()
        loops = entry["loops"]
        assert loops["native"] == native and loops["not_native"] == [], loops
    return jf


def reasons(jf):
    return " ".join(jf.stats()["fallback_reasons"])


RNG = np.random.default_rng(11)


# --- 1. merges of scalars of different kinds


def relu_expr(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        v = x[i] if x[i] > 0 else 0.0  # a NumPy scalar or a Python float
        out[i] = v
    return out


def relu_scaled(x):
    out = np.zeros_like(x)
    for i in range(x.shape[0]):
        v = x[i] if x[i] > 0 else 0.0
        out[i] = v * 2.0 + 1.0  # weak Python floats: x's dtype either way (NEP 50)
    return out


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_numpy_scalar_or_python_float_flows_into_stores(dtype):
    x = RNG.standard_normal(300).astype(dtype)
    x[5] = np.nan  # NaN > 0 is False: the Python float arm
    x[7] = -0.0
    check(relu_expr, x, native=1)
    check(relu_scaled, x, native=1)


def test_int_element_or_python_number_stored_into_arrays():
    def int_or_float(a):
        out = np.zeros(a.shape[0])  # float64
        for i in range(a.shape[0]):
            out[i] = a[i] if a[i] > 3 else 0.5  # NumPy int64 or a Python float
        return out

    def int_or_int(a):
        out = np.zeros(a.shape[0], dtype=a.dtype)
        for i in range(a.shape[0]):
            v = a[i] if a[i] > 3 else 0  # NumPy int or a Python int
            out[i] = v + 1
        return out

    def narrow_or_float(a):
        out = np.zeros(a.shape[0], dtype=np.float32)
        for i in range(a.shape[0]):
            v = a[i] if a[i] > 3 else 0.25
            out[i] = v * 2  # int16 * 2 is int16, 0.25 * 2 a Python float: both stored as float32
        return out

    a = RNG.integers(-9, 9, 200)
    check(int_or_float, a, native=1)
    for dt in (np.int64, np.int32, np.uint8):
        check(int_or_int, np.abs(a).astype(dt), native=1)
    check(narrow_or_float, a.astype(np.int16), native=1)


def test_mixed_scalar_times_an_array_merges_arrays_of_one_dtype():
    def scale(x):
        v = x[0] if x[0] > 0 else 0.5
        return x * v  # float32 array times np.float32 or a weak Python float: float32 both

    for x in (np.array([1.5, 2.0], np.float32), np.array([-1.5, 2.0], np.float32), np.array([-1.5, 2.0])):
        check(scale, x)


def test_conditions_and_negation_of_mixed_scalars():
    def f(x):
        out = np.zeros_like(x)
        for i in range(x.shape[0]):
            v = x[i] if x[i] > 0 else 0
            out[i] = -v + 1 if v else v * 3  # the truth of whichever arm ran
        return out

    check(f, RNG.integers(-3, 3, 100).astype(np.float64))


def test_mixed_scalars_whose_type_shows_fall_back_with_the_right_answer():
    def returned(x):
        return x[0] if x[0] > 0 else 0.0

    def formatted(x):
        v = x[0] if x[0] > 0 else 0.0
        return f"{v}"

    def typed(x):
        v = x[0] if x[0] > 0 else 0.0
        return isinstance(v, float)

    def promoted(x, y):
        v = y[0] if y[0] > 0 else 0.5  # np.float64 is strong against a float32 array, 0.5 weak
        return x * v

    def summed(x):
        s = 0.0
        for i in range(x.shape[0]):
            s = s + (x[i] if x[i] > 0 else 0.0)  # stays a Python float while every x[i] <= 0
        return s

    for x in (np.array([1.5, 2.0]), np.array([-1.5, 2.0])):
        jf = check(returned, x, compiled=False)
        assert "branch on array data" in reasons(jf) and "Python float" in reasons(jf), reasons(jf)
        check(formatted, x, compiled=False)
        check(typed, x, compiled=False)
        jf = check(promoted, np.ones(3, np.float32), x, compiled=False)
        assert "float32" in reasons(jf) or "array in one arm" in reasons(jf), reasons(jf)
    jf = check(summed, -np.ones(20), compiled=False)
    assert "depending on the data" in reasons(jf), reasons(jf)
