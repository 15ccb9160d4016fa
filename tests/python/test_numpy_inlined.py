"""NumPy functions written in Python that the tracer inlines from their own source (np.sinc,
np.cov, ...), the dtype queries they and user code make at trace time (np.finfo, np.iinfo,
np.result_type), np.average(returned=True) without weights and x.conj() of real arrays, against
eager NumPy."""
import warnings

import numpy as np
import pytest

from conftest import assert_compiled, assert_same, jit_now, random_array


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32, np.uint8], ids=str)
def test_sinc(dtype):
    x = random_array(dtype, (4, 9), seed=1)
    if np.dtype(dtype).kind == "f":
        x.flat[::5] = 0.0
        x.flat[1] = np.inf
    fn = lambda a: np.sinc(a) * 2  # noqa: E731
    with np.errstate(all="ignore"):
        want = fn(x)
        jf = jit_now(fn)
        got = jf(x)
    assert_same(want, got, rtol=4e-16 if np.dtype(want.dtype) == np.float64 else 2e-7)
    assert_compiled(jf)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=str)
def test_dtype_queries(dtype):
    def f(x):
        eps = np.finfo(x.dtype).eps
        big = np.iinfo(np.int16).max
        rt = np.result_type(x, np.float16)
        return np.maximum(x, eps) * big, np.zeros(3, rt), np.finfo(x.dtype).tiny

    x = random_array(dtype, (5,), seed=2)
    jf = jit_now(f)
    assert_same(f(x), jf(x))
    assert_compiled(jf)
    with pytest.raises(ValueError):
        jit_now(lambda a: np.finfo(a.astype(np.int32).dtype))(x)


@pytest.mark.parametrize("shape,rowvar,ddof", [((6, 5), True, None), ((3, 8), True, 0), ((1, 7), True, None),
                                               ((4, 4), True, 2)], ids=str)
def test_cov(shape, rowvar, ddof):
    x = random_array(np.float64, shape, seed=3)
    fn = lambda a: np.cov(a, rowvar=rowvar, ddof=ddof) * 1.0  # noqa: E731
    jf = jit_now(fn)
    assert_same(fn(x), jf(x), rtol=1e-13)
    assert_compiled(jf)


@pytest.mark.parametrize("axis", [None, 0, 1, -1], ids=str)
@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int32], ids=str)
def test_average_returned_without_weights(axis, dtype):
    x = random_array(dtype, (4, 6), seed=4)
    fn = lambda a: np.average(a, axis=axis, returned=True)  # noqa: E731
    jf = jit_now(fn)
    assert_same(fn(x), jf(x), rtol=1e-6 if dtype == np.float32 else 1e-14)
    assert_compiled(jf)
    with pytest.raises(ZeroDivisionError):
        jit_now(lambda a: np.average(a, axis=0, returned=True))(np.ones((3, 0)))


def test_conj_of_real_arrays_is_the_array():
    def f(x):
        return x.conj() * 2, x.conjugate() @ x.T

    x = random_array(np.float64, (3, 4), seed=5)
    jf = jit_now(f)
    assert_same(f(x), jf(x), rtol=1e-15)
    assert_compiled(jf)


def test_fix():
    x = random_array(np.float64, (5, 6), seed=6) * 3
    x.flat[:3] = [-0.0, np.inf, np.nan]
    fn = lambda a: np.fix(a) * 1  # noqa: E731
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always")
        want = fn(x)
        jf = jit_now(fn)
        got = jf(x)
    assert_same(want, got)
    if warned:  # NumPy 2.5 deprecates np.fix (warnings.warn in its source): that call runs eagerly
        assert len(warned) == 2 and jf.stats()["graph_breaks"] == 1
    else:
        assert_compiled(jf)
