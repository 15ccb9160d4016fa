"""np.nan_to_num (tracer/nan_reductions.cpp) and np.average with weights (numpy_arrays.cpp)
against NumPy; np.isinf of a NaN raises no floating-point flag (the compiled call is not re-run)."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array

SPECIALS = [np.nan, np.inf, -np.inf, 1.5, -0.0, 0.0, -2.5, 3e38, -np.nan]


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=str)
@pytest.mark.parametrize("n", [1, 3, 9, 100], ids=lambda n: f"n{n}")
@pytest.mark.parametrize("fn", [
    lambda a: np.nan_to_num(a),
    lambda a: np.nan_to_num(a, nan=-1.0),
    lambda a: np.nan_to_num(a, nan=5, posinf=7.0, neginf=-7.0),
    lambda a: np.nan_to_num(a, copy=True, nan=0.5, posinf=1e30),
    lambda a: np.nan_to_num(a * 2) + 1,
    lambda a: np.nan_to_num(a[0]),
    lambda a: np.nan_to_num(a.sum()),
    lambda a: np.where(np.isinf(a), a.dtype.type(1), a),
], ids=["default", "nan", "all", "posinf", "fused", "scalar", "reduction", "isinf"])
def test_nan_to_num(fn, n, dtype):
    x = np.resize(np.array(SPECIALS, dtype), n)
    with warnings.catch_warnings(record=True) as warned, np.errstate(all="warn"):
        warnings.simplefilter("always")
        want = fn(x)
        jf = jit_now(fn)
        got = jf(x)
    assert_same(want, got)
    if warned:  # 3e38 * 2 overflows float32, inf - inf in a sum: NumPy warns (values compared)
        return
    assert_compiled(jf)
    assert jf.stats()["fp_reruns"] == 0


@pytest.mark.parametrize("dtype", [np.int64, np.int8, np.uint8, np.bool_], ids=str)
def test_nan_to_num_of_integers_is_a_copy(dtype):
    def f(a):
        y = np.nan_to_num(a)
        y[0] = 0  # a copy: a unchanged
        return y

    x = random_array(dtype, (7,), seed=2, span=50)
    xe, xj = x.copy(), x.copy()
    want = f(xe)
    jf = jit_now(f)
    assert_same(want, jf(xj))
    assert_same(xe, xj)
    assert_compiled(jf)


@pytest.mark.parametrize("fn", [
    lambda a: np.nan_to_num(a, posinf=1e300),  # overflows float32 in NumPy's copyto: eager
    lambda a: np.nan_to_num(a, copy=False),
    lambda a: np.nan_to_num(a, nan=None),  # NumPy raises TypeError
], ids=["overflow", "in-place", "none"])
def test_nan_to_num_other_forms_give_numpy_results(fn):
    for dtype in (np.float32, np.float64):
        xe, xj = np.array(SPECIALS, dtype), np.array(SPECIALS, dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                want = fn(xe)
            except TypeError:
                with pytest.raises(TypeError):
                    jit_now(fn)(xj)
                continue
            got = jit_now(fn)(xj)
        assert_same(want, got)
        assert_same(xe, xj)


RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 5))
W = np.abs(RNG.standard_normal((6, 5)))


@pytest.mark.parametrize("dtypes", [(np.float64, np.float64), (np.float32, np.float32), (np.float32, np.float64),
                                    (np.int64, np.int64), (np.int32, np.float32), (np.bool_, np.int8),
                                    (np.float32, np.int64)], ids=str)
@pytest.mark.parametrize("fn, wshape", [
    (lambda a, w: np.average(a, weights=w), (6, 5)),
    (lambda a, w: np.average(a, axis=0, weights=w), (6, 5)),
    (lambda a, w: np.average(a, axis=1, weights=w), (5,)),
    (lambda a, w: np.average(a, axis=-2, weights=w), (6,)),
    (lambda a, w: np.average(a, axis=1, weights=w, keepdims=True), (5,)),
    (lambda a, w: np.average(a, weights=w, returned=True), (6, 5)),
    (lambda a, w: np.average(a, axis=0, weights=w, returned=True), (6,)),
    (lambda a, w: np.average(a * 2, axis=(0, 1), weights=w + 1), (6, 5)),
], ids=["all", "axis0", "axis1-1d", "neg-axis-1d", "keepdims", "returned", "returned-1d", "tuple-axis"])
def test_weighted_average(fn, wshape, dtypes):
    da, dw = dtypes
    a = random_array(da, (6, 5), seed=1, span=20)
    w = random_array(dw, wshape, seed=2, span=20)
    w = np.abs(w) + (w.dtype != np.bool_) if w.dtype != np.bool_ else w | True  # no zero sums
    want = fn(a, w)
    jf = jit_now(fn)
    got = jf(a, w)
    rtol = 1e-5 if np.result_type(a.dtype, w.dtype) == np.float32 else 1e-12
    if isinstance(want, tuple):
        assert isinstance(got, tuple) and len(got) == 2
        for e, g in zip(want, got):
            assert_same(e, g, rtol=rtol)
    else:
        assert_same(want, got, rtol=rtol)
    assert_compiled(jf)


@pytest.mark.parametrize("fn, w, exc", [
    (lambda a, w: np.average(a, weights=w), W * 0, ZeroDivisionError),
    (lambda a, w: np.average(a, axis=1, weights=w - w), W[0], ZeroDivisionError),
    (lambda a, w: np.average(a, weights=w), W[0], TypeError),
    (lambda a, w: np.average(a, axis=0, weights=w), W[0], ValueError),
], ids=["zero-sum", "zero-sum-axis", "no-axis", "bad-shape"])
def test_weighted_average_raises_as_numpy(fn, w, exc):
    with pytest.raises(exc):
        fn(X, w)
    with pytest.raises(exc):
        jit_now(fn)(X, w)


def test_weighted_average_zero_sum_in_one_call_only():
    fn = lambda a, w: np.average(a, axis=1, weights=w)  # noqa: E731
    jf = jit_now(fn)
    w = np.abs(W[0]) + 0.1
    assert_same(fn(X, w), jf(X, w), rtol=1e-12)
    with pytest.raises(ZeroDivisionError):
        jf(X, np.zeros(5))
    assert_same(fn(X, w), jf(X, w), rtol=1e-12)
    assert jf.stats()["compiled_calls"] >= 2
